// Live: a tile per camera with its state (pushed by the server's "camera" events) and an annotated
// snapshot refreshed about once a second. The MJPEG stream would need the key in its URL (an
// <img> cannot send a header), so the tiles fetch snapshots with the key in the header instead.
import { api, imageUrl } from "../api.js";
import { subscribe } from "../events.js";
import { act, badge, clear, errorBox, h, ready, when } from "../ui.js";

const POLL_EVERY_MS = 5000; // frame and alert counters; state changes arrive at once as events
const SNAPSHOT_EVERY_MS = 1000;
const ACTIVE = new Set(["starting", "running", "backoff"]);
const enc = encodeURIComponent;

export async function render(main) {
  const tiles = h("div", { class: "tiles", id: "cameras" });
  const byId = new Map();
  main.append(h("h1", {}, "Live"), tiles);

  function update(camera) {
    if (!byId.has(camera.id)) {
      const tile = cameraTile(camera.id, refresh);
      byId.set(camera.id, tile);
      tiles.append(tile.element);
    }
    byId.get(camera.id).update(camera);
  }

  async function refresh() {
    try {
      const { cameras } = await api("/cameras");
      if (!cameras.length) clear(tiles, h("p", { class: "muted" }, "No cameras are configured (add [[cameras]] to the server's TOML file)."));
      cameras.forEach(update);
    } catch (error) {
      clear(tiles, errorBox(error));
    }
  }

  await refresh();
  ready();
  subscribe(["camera"], { camera: update });
  setInterval(refresh, POLL_EVERY_MS);
  setInterval(() => { if (!document.hidden) for (const tile of byId.values()) tile.snapshot(); }, SNAPSHOT_EVERY_MS);
}

function describeState(camera) {
  if (camera.state === "backoff") return `reconnecting${camera.retry_in_s ? ` in ${Math.round(camera.retry_in_s)} s` : ""}`;
  return camera.state;
}

function cameraTile(id, refresh) {
  const img = h("img", { alt: `camera ${id}` });
  const screen = h("div", { class: "frame screen" }, "no picture while stopped");
  const state = h("span", { class: "state" });
  const details = h("span", { class: "muted" });
  const problem = h("div", { class: "error", hidden: true });
  const start = h("button", { type: "button", dataset: { needs: "operate" } }, "Start");
  const stop = h("button", { type: "button", dataset: { needs: "operate" } }, "Stop");
  start.addEventListener("click", () => act(start, () => api(`/cameras/${enc(id)}/start`, { method: "POST" }), `${id} starting`).then(refresh));
  stop.addEventListener("click", () => act(stop, () => api(`/cameras/${enc(id)}/stop`, { method: "POST" }), `${id} stopped`).then(refresh));
  const element = h("div", { class: "card tile", dataset: { camera: id } },
    screen,
    h("div", { class: "row" }, h("strong", {}, id), state),
    h("div", { class: "row" }, details, h("span", {}, start, " ", stop)),
    problem);
  let active = false;
  let loading = false;
  let shownUrl;

  return {
    element,
    update(camera) {
      active = ACTIVE.has(camera.state);
      element.dataset.state = camera.state;
      state.replaceChildren(badge(describeState(camera), camera.state));
      details.textContent = [camera.location, `${camera.frames ?? 0} frames`, `${camera.alerts ?? 0} alerts`,
        camera.last_frame_at ? `last frame ${when(camera.last_frame_at)}` : null].filter(Boolean).join(" · ");
      problem.hidden = !camera.error;
      problem.textContent = camera.error || "";
      start.disabled = active;
      stop.disabled = !active;
      if (active && !shownUrl) this.snapshot();
    },
    async snapshot() {
      if (!active || loading) return;
      loading = true;
      try {
        const url = await imageUrl(`/cameras/${enc(id)}/snapshot.jpg`);
        img.src = url;
        if (!shownUrl) screen.replaceChildren(img);
        if (shownUrl) URL.revokeObjectURL(shownUrl);
        shownUrl = url;
      } catch {
        // no frame yet (the camera is warming up or reconnecting): keep the last one
      } finally {
        loading = false;
      }
    },
  };
}
