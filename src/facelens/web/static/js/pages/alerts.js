// Alerts: the live feed (server events) above the stored history — filtered, paginated — with the
// review buttons. "Wrong person" is what teaches the server to stop matching that stranger.
import { api, imageUrl } from "../api.js";
import { subscribe } from "../events.js";
import { act, badge, clear, errorBox, field, h, number, pager, ready, when } from "../ui.js";

const PAGE_SIZE = 25;
const FILTERS = ["camera", "identity", "status", "kind", "since", "until"];
const REVIEWS = [["confirmed", "Confirm"], ["wrong_person", "Wrong person"], ["dismissed", "Dismiss"]];
const enc = encodeURIComponent;

function filtersFromUrl() {
  const params = new URLSearchParams(location.search);
  return Object.fromEntries(FILTERS.map((name) => [name, params.get(name) || ""]));
}

// datetime-local inputs hold local wall time; the API wants an instant in UTC.
const instant = (local) => (local ? new Date(local).toISOString() : "");

// Would the list, as filtered now, hold this alert? (The live feed shows only those.)
function wanted(alert, filters) {
  const fields = { camera: alert.camera_id, identity: alert.identity, status: alert.status, kind: alert.kind };
  return Object.entries(fields).every(([name, value]) => !filters[name] || filters[name] === value) && !filters.until;
}

export async function render(main) {
  const filters = filtersFromUrl();
  let offset = 0;
  const feed = h("div", { class: "feed", id: "alerts" });
  const paging = h("div");
  const liveDot = h("span", { class: "live-dot", id: "live" }, "connecting");
  const cards = new Map();

  async function load() {
    try {
      const query = { ...filters, since: instant(filters.since), until: instant(filters.until), limit: PAGE_SIZE, offset };
      const { alerts, total } = await api("/alerts", { query });
      cards.clear();
      clear(feed, alerts.length ? alerts.map((alert) => card(alert)) : h("p", { class: "muted", id: "no-alerts" }, "No alerts match."));
      clear(paging, pager({ offset, limit: PAGE_SIZE, total, shown: alerts.length, onChange: (next) => { offset = next; load(); } }));
    } catch (error) {
      clear(feed, errorBox(error));
    }
  }

  function card(alert, fresh = false) {
    const view = alertCard(alert, fresh);
    cards.set(alert.id, view);
    return view.element;
  }

  const onAlert = (alert) => {
    if (offset !== 0 || cards.has(alert.id) || !wanted(alert, filters)) return;
    feed.querySelector("#no-alerts")?.remove();
    feed.prepend(card(alert, true));
  };
  const onReview = (review) => cards.get(review.id)?.setStatus(review.status);
  const onState = (text) => { liveDot.classList.toggle("on", text === "live"); liveDot.textContent = text; };

  const onFilter = (chosen) => {
    Object.assign(filters, chosen);
    offset = 0;
    history.replaceState(null, "", `?${new URLSearchParams(Object.entries(filters).filter(([, v]) => v))}`);
    load();
  };
  const [form] = await Promise.all([filterForm(filters, onFilter), load()]);
  main.append(h("div", { class: "toolbar" }, h("h1", { class: "grow" }, "Alerts"), liveDot), form, feed, paging);
  subscribe(["alert", "review"], { alert: onAlert, review: onReview }, onState);
  ready();
}

async function filterForm(filters, onApply) {
  const { cameras } = await api("/cameras").catch(() => ({ cameras: [] }));
  const select = (name, options) => h("select", { name }, h("option", { value: "" }, "any"),
    options.map(([value, label]) => h("option", { value, selected: filters[name] === value }, label)));
  const controls = {
    camera: select("camera", cameras.map((c) => [c.id, c.location ? `${c.id} (${c.location})` : c.id])),
    identity: h("input", { name: "identity", value: filters.identity, placeholder: "name", size: 12 }),
    status: select("status", [["new", "new"], ["confirmed", "confirmed"], ["wrong_person", "wrong person"], ["dismissed", "dismissed"]]),
    kind: select("kind", [["match", "watchlist match"], ["unknown", "unknown face"]]),
    since: h("input", { type: "datetime-local", name: "since", value: filters.since }),
    until: h("input", { type: "datetime-local", name: "until", value: filters.until }),
  };
  const apply = (event) => {
    event.preventDefault();
    onApply(Object.fromEntries(Object.entries(controls).map(([name, control]) => [name, control.value.trim()])));
  };
  return h("form", { class: "toolbar", onsubmit: apply },
    field("Camera", controls.camera), field("Person", controls.identity), field("Status", controls.status),
    field("Kind", controls.kind), field("From", controls.since), field("To", controls.until),
    h("button", { type: "submit" }, "Filter"));
}

function alertCard(alert, fresh) {
  const img = h("img", { alt: "snapshot", loading: "lazy" });
  if (alert.has_snapshot) imageUrl(`/alerts/${enc(alert.id)}/snapshot.jpg`).then((url) => (img.src = url)).catch(() => {});
  const status = h("span", { class: "status" });
  const reopen = h("button", { type: "button", class: "link", dataset: { needs: "operate" } }, "undo");
  const buttons = REVIEWS.map(([value, label]) => h("button", { type: "button", dataset: { needs: "operate", review: value } }, label));
  const element = h("article", { class: `card alert${fresh ? " fresh" : ""}`, dataset: { alert: alert.id, identity: alert.identity || "" } },
    img,
    h("div", {},
      h("div", { class: "who" }, alert.identity || (alert.kind === "unknown" ? "Unknown face" : "—"), " ", status),
      h("div", { class: "meta" },
        h("span", {}, `similarity ${number(alert.similarity, 3)}`),
        h("span", {}, `camera ${alert.camera_id}`),
        alert.location ? h("span", {}, alert.location) : null,
        h("span", {}, when(alert.first_seen_utc || alert.created_at)),
        alert.reviewed_by ? h("span", { class: "reviewer" }, `reviewed by ${alert.reviewed_by}`) : null)),
    h("div", { class: "review" }, buttons));

  const setStatus = (value) => {
    element.dataset.status = value;
    status.replaceChildren(badge(value.replace("_", " "), value), value === "new" ? "" : " ", value === "new" ? "" : reopen);
    buttons.forEach((b) => (b.disabled = b.dataset.review === value));
  };
  const review = (button, value, done) => act(button, () => (value === "new"
    ? api(`/alerts/${enc(alert.id)}/review`, { method: "DELETE" })
    : api(`/alerts/${enc(alert.id)}/review`, { method: "POST", json: { status: value } })), done)
    .then((result) => result && setStatus(value));
  buttons.forEach((button) => button.addEventListener("click", () => review(button, button.dataset.review, `Marked ${button.textContent.toLowerCase()}`)));
  reopen.addEventListener("click", () => review(reopen, "new", "Review undone"));
  setStatus(alert.status || "new");
  return { element, setStatus };
}
