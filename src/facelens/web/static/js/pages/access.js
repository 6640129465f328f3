// Access: door decisions (granted / denied with the reasons and the liveness result), then the
// audit log with a button that asks the server to re-check its hash chain.
import { api } from "../api.js";
import { act, badge, clear, errorBox, h, number, pager, ready, when } from "../ui.js";

const PAGE_SIZE = 25;

export async function render(main) {
  const doors = h("div", { id: "door-events" });
  const audit = h("div", { id: "audit" });
  const verdict = h("span", { id: "chain", role: "status" });
  const verify = h("button", { type: "button", onclick: () => act(verify, async () => {
    const result = await api("/audit/verify", { method: "POST" });
    verdict.replaceChildren(result.ok
      ? badge(`chain intact · ${result.entries.toLocaleString()} entries`, "ok")
      : badge(`chain broken at #${result.first_bad_seq}: ${(result.problems || []).slice(0, 2).join("; ")}`, "bad"));
  }) }, "Verify chain");

  main.append(h("h1", {}, "Access"),
    h("section", {}, h("h2", {}, "Door events"), doors),
    h("section", { class: "section" }, h("div", { class: "toolbar" }, h("h2", { class: "grow" }, "Audit log"), verdict, verify), audit));
  await Promise.all([
    paged(doors, (offset) => api("/access/events", { query: { limit: PAGE_SIZE, offset } }), "events", doorTable),
    paged(audit, (offset) => api("/audit", { query: { limit: PAGE_SIZE, offset } }), "entries", auditTable),
  ]);
  ready();
}

async function paged(holder, fetchPage, listName, table, offset = 0) {
  try {
    const page = await fetchPage(offset);
    const items = page[listName];
    const total = page.total;
    clear(holder, items.length ? table(items) : h("p", { class: "muted" }, "Nothing yet."),
      pager({ offset, limit: PAGE_SIZE, total, shown: items.length, onChange: (next) => paged(holder, fetchPage, listName, table, next) }));
  } catch (error) {
    clear(holder, error.status === 403 ? h("p", { class: "muted" }, "Your role may not read this.") : errorBox(error));
  }
}

function doorTable(events) {
  return h("table", { class: "list" },
    h("thead", {}, h("tr", {}, ["Time", "Door", "Decision", "Person", "Similarity", "Liveness", "Reasons"].map((t) => h("th", {}, t)))),
    h("tbody", {}, events.map((e) => {
      const liveness = e.liveness || {};
      return h("tr", {},
        h("td", { "data-label": "Time" }, when(e.at || e.created_at)),
        h("td", { "data-label": "Door" }, e.door || "—"),
        h("td", { "data-label": "Decision" }, badge(e.granted ? "granted" : "denied")),
        h("td", { "data-label": "Person" }, e.identity || e.claim || "—"),
        h("td", { class: "num", "data-label": "Similarity" }, number(e.similarity, 3)),
        h("td", { "data-label": "Liveness" }, liveness.passed === undefined ? "—"
          : [badge(liveness.passed ? "live" : "not live", liveness.passed ? "ok" : "bad"), ` ${number(liveness.score, 2)}`]),
        h("td", { "data-label": "Reasons" }, (e.reasons || []).join("; ") || "—"));
    })));
}

function auditTable(entries) {
  return h("table", { class: "list" },
    h("thead", {}, h("tr", {}, ["#", "Time", "Event", "Subject", "By", "Hash"].map((t) => h("th", {}, t)))),
    h("tbody", {}, entries.map((e) => h("tr", {},
      h("td", { class: "num", "data-label": "#" }, e.seq),
      h("td", { "data-label": "Time" }, when(e.at)),
      h("td", { "data-label": "Event" }, e.event),
      h("td", { "data-label": "Subject" }, e.subject || "—"),
      h("td", { "data-label": "By" }, e.details?.by || e.details?.key || "—"),
      h("td", { class: "hash", "data-label": "Hash", title: e.hash }, (e.hash || "").slice(0, 12))))));
}
