// One person: their photos and quality, add / remove photos, watchlists, export, delete, erase.
import { api, download, imageUrl } from "../api.js";
import { act, clear, errorBox, h, when } from "../ui.js";
import { dialog, qualityLine, sendPhotos } from "./photos.js";

const enc = encodeURIComponent;

function watchlistsOf(person) {
  const value = person.metadata?.watchlist;
  if (!value) return [];
  return Array.isArray(value) ? value.map(String) : String(value).split(",").map((s) => s.trim()).filter(Boolean);
}

export async function openPerson(name, onChange) {
  const gone = () => { box.close(); onChange(); };
  const stored = h("div", {}, h("p", { class: "muted" }, "Loading…")); // redrawn after each change
  const box = dialog(name, h("div", { dataset: { person: name } }, stored, photoAdder(name, () => refresh()), actions(name, gone)),
    h("div", { class: "actions" }, h("button", { type: "button", onclick: () => box.close() }, "Close")));
  async function refresh() {
    try {
      const [person, watchlists] = await Promise.all([api(`/subjects/${enc(name)}`), knownWatchlists()]);
      const faces = person.templates || [];
      clear(stored,
        h("p", { class: "muted" }, `Enrolled ${when(person.created_at)} · ${faces.length} photo${faces.length === 1 ? "" : "s"}`),
        h("div", { class: "photos" }, faces.map((face) => faceTile(face, refresh))),
        watchlistEditor(person, watchlists, refresh));
    } catch (error) {
      clear(stored, errorBox(error));
    }
  }
  await refresh();
}

// The watchlists the cameras use (a camera names one in the server's TOML file).
async function knownWatchlists() {
  const { cameras } = await api("/cameras");
  return [...new Set(cameras.map((c) => c.watchlist).filter(Boolean))].sort();
}

// Photos sent here keep their verdict (accepted with quality / refused with the reason) on
// screen while the stored photos above are redrawn.
function photoAdder(name, refresh) {
  const upload = h("input", { type: "file", accept: "image/*", multiple: true, name: "photos" });
  const results = h("div", { class: "photos", id: "added-photos" });
  const add = h("button", { type: "button" }, "Add photos");
  add.addEventListener("click", () => act(add, async () => {
    clear(results);
    const outcomes = await sendPhotos(name, [...upload.files], results, { creating: false });
    if (outcomes.some((o) => o.accepted)) await refresh();
  }));
  return h("div", { class: "section", dataset: { needs: "operate" } },
    h("h2", {}, "Add photos"), h("div", { class: "toolbar" }, upload, add), results);
}

function actions(name, gone) {
  return h("div", { class: "section toolbar", dataset: { needs: "operate" } },
    h("button", { type: "button", onclick: () => download(`/subjects/${enc(name)}/export`, {}, `${name}.json`) }, "Export data"),
    removeButton(name, "Remove from gallery", "DELETE", `/subjects/${enc(name)}`,
      `Remove ${name} from the gallery? Their templates are deleted; past alerts and sightings stay.`, gone),
    removeButton(name, "Erase everywhere", "POST", `/subjects/${enc(name)}/erase`,
      `Erase ${name} everywhere? Templates, photos, alerts and sightings are deleted; the audit log records the erasure.`, gone));
}

function faceTile(face, refresh) {
  const frame = h("div", { class: "frame" }, face.has_image ? "loading…" : "no photo kept");
  if (face.has_image) {
    imageUrl(`/faces/${face.id}/image.jpg`, { size: 320 })
      .then((url) => frame.replaceChildren(h("img", { src: url, alt: `photo ${face.id}` })))
      .catch((error) => (frame.textContent = error.message));
  }
  const remove = h("button", { type: "button", class: "danger", dataset: { needs: "operate" } }, "Remove photo");
  remove.addEventListener("click", () => {
    if (confirm("Remove this photo and its template?")) act(remove, () => api(`/faces/${face.id}`, { method: "DELETE" }), "Photo removed").then(refresh);
  });
  return h("div", { class: "card photo", dataset: { face: face.id } }, frame, qualityLine(face.quality_detail), remove);
}

function watchlistEditor(person, watchlists, refresh) {
  const member = new Set(watchlistsOf(person));
  const names = [...new Set([...watchlists, ...member])];
  const section = h("div", { class: "section" }, h("h2", {}, "Watchlists"));
  if (!names.length) return section.appendChild(h("p", { class: "muted" }, "No camera uses a watchlist: every enrolled person is watched.")).parentNode;
  const operate = document.body.classList.contains("can-operate");
  const boxes = names.map((name) => h("input", { type: "checkbox", value: name, checked: member.has(name), disabled: !operate }));
  const save = h("button", { type: "button", dataset: { needs: "operate" } }, "Save watchlists");
  save.addEventListener("click", () => act(save, () => api(`/subjects/${enc(person.name)}`, {
    method: "PATCH", json: { metadata: { watchlist: boxes.filter((b) => b.checked).map((b) => b.value) } },
  }), "Watchlists saved").then(refresh));
  section.append(h("div", { class: "toolbar" }, boxes.map((box) => h("label", { class: "inline" }, box, ` ${box.value} `)), save));
  return section;
}

function removeButton(name, label, method, path, question, gone) {
  const button = h("button", { type: "button", class: "danger" }, label);
  button.addEventListener("click", async () => {
    if (!confirm(question)) return;
    const done = await act(button, () => api(path, { method }), `${name}: ${label.toLowerCase()} done`);
    if (done !== undefined) gone();
  });
  return button;
}
