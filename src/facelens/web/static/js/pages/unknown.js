// Unknown faces: the server clusters the faces that matched nobody (DBSCAN over their embeddings);
// an operator who recognises a cluster promotes it to a new person.
import { api } from "../api.js";
import { act, clear, errorBox, field, h, number, ready } from "../ui.js";

export async function render(main) {
  const out = h("div", { id: "clusters" });
  main.append(h("h1", {}, "Unknown faces"),
    h("p", { class: "muted" }, "Faces that matched nobody, grouped when they look like the same person."), out);

  async function load() {
    try {
      const { clusters } = await api("/unknowns/clusters");
      clear(out, clusters.length ? h("div", { class: "photos" }, clusters.map((cluster) => clusterCard(cluster, load)))
        : h("p", { class: "muted" }, "No clusters yet: unknown faces are kept when a camera's watchlist has report_unknown = true."));
    } catch (error) {
      clear(out, error.status === 404 && error.message === "Not Found"
        ? h("p", { class: "error" }, "This server does not offer the unknown-face clusters over its API yet (GET /api/v1/unknowns/clusters).")
        : errorBox(error));
    }
  }

  await load();
  ready();
}

function clusterCard(cluster, reload) {
  const name = h("input", { name: "name", placeholder: "new person's name", autocomplete: "off" });
  const promote = h("button", { type: "button", class: "primary" }, "Promote to person");
  promote.addEventListener("click", () => act(promote, async () => {
    const chosen = name.value.trim();
    if (!chosen) throw new Error("Give the new person a name");
    await api("/unknowns/promote", { method: "POST", json: { name: chosen, unknown_ids: cluster.unknown_ids } });
    await reload();
  }, `Promoted to ${name.value.trim()}`));
  return h("div", { class: "card photo", dataset: { cluster: cluster.cluster } },
    h("h2", {}, `Cluster ${cluster.cluster}`),
    h("span", {}, `${cluster.size} faces · cohesion ${number(cluster.cohesion, 3)}`),
    h("div", { dataset: { needs: "operate" } }, field("Name", name), promote));
}
