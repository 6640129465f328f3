// Timeline: one person's sightings across cameras — a lane per camera on a time axis, then the list.
import { api } from "../api.js";
import { clear, errorBox, field, h, number, ready, when } from "../ui.js";
import { resizeWith } from "../charts.js";
import uPlot from "../../vendor/uplot/uPlot.esm.js";

const seconds = (iso) => Date.parse(iso) / 1000;

export async function render(main) {
  const params = new URLSearchParams(location.search);
  const person = h("input", { name: "person", list: "people-names", value: params.get("person") || "", placeholder: "name", required: true });
  const names = h("datalist", { id: "people-names" });
  const out = h("div", { id: "timeline" });
  const form = h("form", { class: "toolbar", onsubmit: (event) => { event.preventDefault(); show(); } },
    field("Person", person), names, h("button", { type: "submit" }, "Show"));
  main.append(h("h1", {}, "Timeline"), form, out);

  api("/subjects", { query: { limit: 100000 } })
    .then(({ identities }) => names.replaceChildren(...identities.map((p) => h("option", { value: p.name }))))
    .catch(() => {});

  async function show() {
    const name = person.value.trim();
    if (!name) return;
    history.replaceState(null, "", `?person=${encodeURIComponent(name)}`);
    try {
      const { sightings } = await api("/timeline", { query: { person: name, limit: 5000 } });
      clear(out, sightings.length ? [laneChart(sightings), sightingTable(sightings)] : h("p", { class: "muted" }, `No sightings of ${name} yet.`));
    } catch (error) {
      clear(out, errorBox(error));
    }
  }

  if (person.value) await show();
  else out.append(h("p", { class: "muted" }, "Choose a person to see where and when the cameras saw them."));
  ready();
}

// uPlot draws each sighting as a thick horizontal segment in its camera's lane: a series is
// defined at every x inside one of its sightings and null elsewhere, so segments do not join.
function laneChart(sightings) {
  const lanes = [...new Set(sightings.map((s) => s.camera_id))];
  const xs = [...new Set(sightings.flatMap((s) => [seconds(s.entered), seconds(s.left)]))].sort((a, b) => a - b);
  const series = lanes.map((camera, lane) => {
    const spans = sightings.filter((s) => s.camera_id === camera).map((s) => [seconds(s.entered), seconds(s.left)]);
    return xs.map((x) => (spans.some(([a, b]) => x >= a && x <= b) ? lane : null));
  });
  const holder = h("div", { class: "chart" });
  const colours = ["#1f5fbf", "#b3261e", "#1b7f3b", "#a86400", "#6a3fb5", "#0f7c8c"];
  const options = {
    height: 70 + 42 * lanes.length,
    width: 800,
    legend: { show: false },
    cursor: { y: false },
    scales: { y: { range: [-0.6, lanes.length - 0.4] } },
    axes: [{}, {
      splits: () => lanes.map((_, i) => i),
      values: (_, ticks) => ticks.map((t) => lanes[t] ?? ""),
      size: 110,
      grid: { show: false },
    }],
    series: [{}, ...lanes.map((camera, i) => ({
      label: camera, stroke: colours[i % colours.length], width: 12, spanGaps: false,
      points: { show: true, size: 12, fill: colours[i % colours.length] },
    }))],
  };
  const plot = new uPlot(options, [xs, ...series], holder);
  resizeWith(holder, plot);
  return holder;
}

function sightingTable(sightings) {
  return h("table", { class: "list" },
    h("thead", {}, h("tr", {}, ["Camera", "Location", "Entered", "Left", "Similarity"].map((t) => h("th", {}, t)))),
    h("tbody", {}, sightings.map((s) => h("tr", {},
      h("td", { "data-label": "Camera" }, s.camera_id), h("td", { "data-label": "Location" }, s.location || "—"),
      h("td", { "data-label": "Entered" }, when(s.entered)), h("td", { "data-label": "Left" }, when(s.left)),
      h("td", { class: "num", "data-label": "Similarity" }, number(s.similarity, 3))))));
}
