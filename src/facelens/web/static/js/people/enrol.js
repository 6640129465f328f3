// Enrol a person from one or more photos: each is checked (/detect) when chosen, then sent.
import { clear, errorBox, field, h, toast } from "../ui.js";
import { dialog, photoTile, preview, sendPhotos } from "./photos.js";

export function openEnrol(onDone) {
  const name = h("input", { name: "name", required: true, autocomplete: "off", maxlength: 200 });
  const files = h("input", { type: "file", name: "photos", accept: "image/*", multiple: true, required: true });
  const tiles = h("div", { class: "photos", id: "enrol-photos" });
  const status = h("p", { class: "muted", id: "enrol-status" }, "Choose one or more photos with one face each.");
  files.addEventListener("change", () => {
    clear(tiles, [...files.files].map(photoTile));
    [...files.files].forEach((file, i) => preview(file, tiles.children[i]));
  });
  const submit = h("button", { type: "submit", class: "primary" }, "Enrol");
  const box = dialog("Enrol a person", h("form", { onsubmit: enrol },
    h("div", { class: "toolbar" }, field("Name", name), field("Photos", files)), tiles, status,
    h("div", { class: "actions" }, h("button", { type: "button", onclick: () => box.close() }, "Close"), submit)));

  async function enrol(event) {
    event.preventDefault();
    const person = name.value.trim();
    const chosen = [...files.files];
    if (!person || !chosen.length) return toast("Give a name and at least one photo", "error");
    submit.disabled = true;
    try {
      const outcomes = await sendPhotos(person, chosen, tiles, { creating: true });
      const accepted = outcomes.filter((o) => o.accepted).length;
      status.textContent = accepted ? `${person} enrolled: ${accepted} of ${chosen.length} photo${chosen.length === 1 ? "" : "s"} accepted.`
        : `${person} was not enrolled: no photo was accepted.`;
      status.className = accepted ? "" : "error";
      if (accepted) {
        submit.hidden = true; // sent: a second click would only meet "name taken"
        toast(`${person} enrolled`, "ok");
        onDone();
      }
    } catch (error) {
      status.replaceChildren(errorBox(error));
    } finally {
      submit.disabled = false;
    }
  }
}
