// Happiness: per location, the share of people seen happy per day or week (95 % Wilson interval)
// with the number of people behind each point; CSV and PNG come from the server as they are.
import { api, download } from "../api.js";
import { clear, errorBox, field, h, percent, ready } from "../ui.js";
import { resizeWith } from "../charts.js";
import uPlot from "../../vendor/uplot/uPlot.esm.js";

const seconds = (iso) => Date.parse(iso) / 1000;

export async function render(main) {
  const params = new URLSearchParams(location.search);
  const bucket = h("select", { name: "bucket" }, ["day", "week", "hour"].map((b) => h("option", { value: b, selected: (params.get("bucket") || "day") === b }, b)));
  const place = h("select", { name: "location" }, h("option", { value: "" }, "all locations"));
  const out = h("div", { id: "happiness" });
  const csv = h("button", { type: "button", onclick: () => download("/happiness", { ...query(), format: "csv" }, "happiness.csv") }, "Download CSV");
  const png = h("button", { type: "button", title: "the server's chart of one location",
    onclick: () => download("/happiness", { ...query(), format: "png" }, `happiness-${place.value}.png`) }, "Download PNG");
  const form = h("form", { class: "toolbar", onsubmit: (event) => { event.preventDefault(); load(); } },
    field("Location", place), field("Period", bucket), h("button", { type: "submit" }, "Show"), csv, png);
  main.append(h("h1", {}, "Happiness"), form, out);

  const query = () => ({ location: place.value, bucket: bucket.value });

  async function load() {
    png.disabled = !place.value;
    history.replaceState(null, "", `?${new URLSearchParams(Object.entries(query()).filter(([, v]) => v))}`);
    try {
      const report = await api("/happiness", { query: query() });
      const { rows } = report;
      fillLocations(place, rows, params.get("location"));
      const byPlace = Map.groupBy ? Map.groupBy(rows, (r) => r.location) : groupBy(rows);
      clear(out, rows.length ? [...byPlace].map(([name, stats]) => locationCard(name, stats, bucket.value))
        : h("p", { class: "muted" }, "No observations yet: cameras with happiness = true feed this page."));
    } catch (error) {
      clear(out, error.status === 404 ? h("p", { class: "muted" }, error.message) : errorBox(error));
    }
  }

  await load();
  ready();
}

function groupBy(rows) {
  const groups = new Map();
  for (const row of rows) groups.set(row.location, [...(groups.get(row.location) || []), row]);
  return groups;
}

function fillLocations(select, rows, wanted) {
  if (select.options.length > 1) return;
  for (const name of [...new Set(rows.map((r) => r.location))].sort()) {
    select.append(h("option", { value: name, selected: name === wanted }, name));
  }
}

function locationCard(name, stats, bucket) {
  const people = stats.reduce((sum, s) => sum + s.people, 0);
  const happy = stats.reduce((sum, s) => sum + s.happy, 0);
  const holder = h("div", { class: "chart", dataset: { location: name } });
  const card = h("section", { class: "section" },
    h("h2", {}, name),
    h("div", { class: "kpis" },
      h("div", { class: "card" }, h("div", { class: "muted" }, "Happy overall"), h("div", { class: "stat" }, percent(people ? happy / people : null))),
      h("div", { class: "card" }, h("div", { class: "muted" }, `People (${bucket}s summed)`), h("div", { class: "stat" }, people.toLocaleString())),
      h("div", { class: "card" }, h("div", { class: "muted" }, `${bucket[0].toUpperCase()}${bucket.slice(1)}s`), h("div", { class: "stat" }, stats.length))),
    holder, lazyTable(stats, bucket));
  const xs = stats.map((s) => seconds(s.bucket_start));
  const plot = new uPlot(chartOptions(bucket, xs[0], xs.at(-1)), [
    xs, stats.map((s) => s.people), stats.map((s) => s.index),
    stats.map((s) => s.ci_high), stats.map((s) => s.ci_low),
  ], holder);
  resizeWith(holder, plot);
  return card;
}

const BUCKET_SECONDS = { hour: 3600, day: 86400, week: 7 * 86400 };

// The x range comes from the data: for a lone point uPlot would otherwise span 1,000 days.
function chartOptions(bucket, first, last) {
  const pad = BUCKET_SECONDS[bucket] * 0.75;
  return {
    width: 800,
    height: 280,
    scales: { x: { time: true, range: () => [first - pad, last + pad] }, index: { range: [0, 1] }, people: { range: (_, __, max) => [0, Math.max(1, max * 1.15)] } },
    axes: [{}, { scale: "index", size: 56, values: (_, ticks) => ticks.map((t) => `${Math.round(t * 100)} %`) },
      { scale: "people", side: 1, grid: { show: false }, label: "people" }],
    // people first, so the bars sit behind the index line and its 95 % band
    bands: [{ series: [3, 4], fill: "rgba(31, 95, 191, 0.14)" }],
    series: [
      { value: (_, t) => (t === null ? "" : period(t * 1000, bucket)) },
      { label: "people", scale: "people", stroke: "rgba(168, 100, 0, 0.45)", fill: "rgba(168, 100, 0, 0.16)",
        paths: uPlot.paths.bars({ size: [0.6, 48] }), points: { show: false } },
      { label: "happy index", scale: "index", stroke: "#1f5fbf", width: 2, value: (_, v) => percent(v) },
      { label: "95 % high", scale: "index", stroke: "rgba(31,95,191,.3)", points: { show: false }, value: (_, v) => percent(v) },
      { label: "95 % low", scale: "index", stroke: "rgba(31,95,191,.3)", points: { show: false }, value: (_, v) => percent(v) },
    ],
  };
}

// The numbers behind the chart, built when first opened (hundreds of rows slow a page down).
function lazyTable(stats, bucket) {
  const box = h("details", {}, h("summary", {}, `Table (${stats.length} ${bucket}s)`));
  box.addEventListener("toggle", () => box.open && box.children.length === 1 && box.append(statTable(stats, bucket)));
  return box;
}

function period(time, bucket) {
  const date = new Date(time);
  return bucket === "hour" ? date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" })
    : date.toLocaleDateString(undefined, { dateStyle: "medium", timeZone: "UTC" }); // buckets are UTC days
}

function statTable(stats, bucket) {
  return h("table", { class: "list" },
    h("thead", {}, h("tr", {}, ["Period start", "People", "Happy", "Index", "95 % interval"].map((t) => h("th", {}, t)))),
    h("tbody", {}, stats.map((s) => h("tr", {},
      h("td", { "data-label": "Period start" }, period(s.bucket_start, bucket)),
      h("td", { class: "num", "data-label": "People" }, s.people), h("td", { class: "num", "data-label": "Happy" }, s.happy),
      h("td", { class: "num", "data-label": "Index" }, percent(s.index)),
      h("td", { class: "num", "data-label": "95 % interval" }, `${percent(s.ci_low)} – ${percent(s.ci_high)}`)))));
}

