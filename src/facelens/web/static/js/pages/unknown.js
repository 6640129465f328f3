// Unknown faces: the server clusters the faces its cameras saw that matched nobody (DBSCAN over
// their embeddings); an operator who recognises a cluster promotes it to a new person.
import { api, imageUrl } from "../api.js";
import { act, clear, errorBox, field, h, number, ready, whenVisible } from "../ui.js";

export async function render(main) {
  const params = new URLSearchParams(location.search);
  const singles = h("input", { type: "checkbox", name: "singles", checked: params.get("min_size") === "1" });
  const out = h("div", { id: "clusters" });
  main.append(h("h1", {}, "Unknown faces"),
    h("p", { class: "muted" }, "Faces that matched nobody, grouped when they look like the same person."),
    h("div", { class: "toolbar" }, h("label", { class: "inline" }, singles, " Show faces seen only once")), out);
  singles.addEventListener("change", load);

  async function load() {
    const minSize = singles.checked ? 1 : 2;
    history.replaceState(null, "", singles.checked ? "?min_size=1" : location.pathname);
    try {
      const { clusters } = await api("/unknowns/clusters", { query: { min_size: minSize } });
      clear(out, clusters.length ? h("div", { class: "photos" }, clusters.map((cluster) => clusterCard(cluster, load)))
        : h("p", { class: "muted" }, singles.checked
          ? "No unknown faces are stored: a camera keeps them when its watchlist has record_unknowns = true."
          : "No face was seen twice yet. Tick “Show faces seen only once” to see the others."));
    } catch (error) {
      clear(out, errorBox(error));
    }
  }

  await load();
  ready();
}

// The cluster's pictures are the snapshots of the alerts its faces raised (when the camera's
// watchlist also has report_unknown = true), up to four, fetched when the card comes into view;
// without one the card says so.
const SHOWN = 4;

function pictures(cluster) {
  const ids = cluster.picture_ids.slice(0, SHOWN);
  const strip = h("div", { class: ids.length > 1 ? "faces several" : "faces" });
  if (!ids.length) return clear(strip, h("div", { class: "frame" }, "no picture kept"));
  for (const id of ids) {
    strip.append(whenVisible(h("div", { class: "frame", dataset: { unknown: id } }, "…"), (frame) => {
      imageUrl(`/unknowns/${id}/image.jpg`)
        .then((url) => frame.replaceChildren(h("img", { src: url, alt: `unknown face ${id}` })))
        .catch((error) => (frame.textContent = error.message));
    }));
  }
  return strip;
}

function clusterCard(cluster, reload) {
  const name = h("input", { name: "name", placeholder: "new person's name", autocomplete: "off" });
  const promote = h("button", { type: "button", class: "primary" }, "Promote to person");
  promote.addEventListener("click", () => act(promote, async () => {
    const chosen = name.value.trim();
    if (!chosen) throw new Error("Give the new person a name");
    // the faces shown, by id: a cluster number could name other faces once new ones arrive
    await api("/unknowns/promote", { method: "POST", json: { name: chosen, unknown_ids: cluster.unknown_ids } });
    await reload();
    return chosen;
  }, (chosen) => `${chosen} is now a person`));
  const faces = cluster.size === 1 ? "1 face" : `${cluster.size} faces · cohesion ${number(cluster.cohesion, 3)}`;
  return h("div", { class: "card photo", dataset: { cluster: cluster.cluster } },
    pictures(cluster),
    h("strong", {}, `Cluster ${cluster.cluster + 1}`), h("span", { class: "muted" }, faces),
    h("div", { dataset: { needs: "operate" } }, field("Name", name), promote));
}
