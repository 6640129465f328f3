// What enrolment and "add photos" share: a dialog, a tile per photo, the quality the server
// measured, and sending photos one at a time so that each is accepted or refused on its own.
import { api } from "../api.js";
import { badge, h, number } from "../ui.js";

const enc = encodeURIComponent;

export function dialog(title, ...body) {
  const box = h("dialog", { "aria-label": title });
  box.append(h("div", { class: "card" }, h("h2", {}, title), ...body));
  box.addEventListener("close", () => box.remove());
  document.body.append(box);
  box.showModal();
  return box;
}

// The numbers the server measured on a face, and the problems it found (blur, pose, light, size).
export function qualityLine(quality) {
  if (!quality) return h("span", { class: "muted" }, "quality not measured");
  const problems = quality.problems || [];
  return h("span", { class: "quality" },
    `eyes ${number(quality.face_size, 0)} px · sharpness ${number(quality.sharpness, 0)} · yaw ${number(quality.yaw, 0)}°`,
    problems.length ? h("span", { class: "error" }, h("br"), `warning: ${problems.join("; ")}`) : null);
}

export function photoTile(file) {
  return h("div", { class: "card photo", dataset: { file: file.name } },
    h("img", { src: URL.createObjectURL(file), alt: file.name }),
    h("span", { class: "muted" }, file.name), h("span", { class: "verdict" }, "checking…"));
}

function setVerdict(tile, ...content) {
  tile.querySelector(".verdict").replaceChildren(...content);
}

// Before sending: /detect says how many faces each photo holds and how usable they are.
export async function preview(file, tile) {
  const form = new FormData();
  form.append("image", file, file.name);
  try {
    const { faces } = await api("/detect", { method: "POST", form });
    setVerdict(tile, faces.length === 1 ? qualityLine(faces[0].quality)
      : badge(faces.length ? `${faces.length} faces: the server will refuse it` : "no face found: the server will refuse it", "bad"));
  } catch (error) {
    setVerdict(tile, h("span", { class: "error" }, error.message));
  }
}

// Each photo is sent on its own, so one bad photo costs only itself: the server accepts it or
// refuses it with the reason (no face, several faces, blurred, turned, too small, unreadable,
// too large), shown beside it. `strict` asks the server to refuse faces with quality problems
// rather than store them with a warning. Whether the face crop is kept (for thumbnails) is the
// server's setting, keep_face_images. The first accepted photo creates the person
// (POST /subjects); later ones are added to them.
export async function sendPhotos(name, files, tiles, { creating }) {
  const outcomes = [];
  for (const [i, file] of files.entries()) {
    const tile = tiles.children[i] ?? tiles.appendChild(photoTile(file));
    const form = new FormData();
    form.append(creating ? "images" : "image", file, file.name);
    form.append("strict", "true");
    if (creating) form.append("name", name);
    try {
      await api(creating ? "/subjects" : `/subjects/${enc(name)}/faces`, { method: "POST", form });
      creating = false;
      tile.classList.add("accepted");
      outcomes.push({ file, tile, accepted: true });
    } catch (error) {
      if (error.status === 409 && creating) throw error; // the name is taken: nothing was sent
      tile.classList.add("refused");
      setVerdict(tile, badge("refused", "bad"), " ", h("span", { class: "error reason" }, error.message));
      outcomes.push({ file, tile, accepted: false });
    }
  }
  await showStoredQuality(name, outcomes.filter((o) => o.accepted));
  return outcomes;
}

// The accepted photos' templates are the person's newest ones, in the order sent.
async function showStoredQuality(name, accepted) {
  if (!accepted.length) return;
  const { templates } = await api(`/subjects/${enc(name)}`);
  const newest = templates.slice(-accepted.length);
  accepted.forEach((outcome, i) => setVerdict(outcome.tile, badge("accepted", "ok"), " ", qualityLine(newest[i]?.quality_detail)));
}
