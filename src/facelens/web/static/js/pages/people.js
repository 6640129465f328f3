// People: the gallery's identities — list and search, enrol from photos, photos, watchlists, erase.
import { api, imageUrl } from "../api.js";
import { openEnrol } from "../people/enrol.js";
import { openPerson } from "../people/person.js";
import { clear, errorBox, h, pager, ready } from "../ui.js";

const PAGE_SIZE = 60;
const enc = encodeURIComponent;

// ---------------------------------------------------------------- thumbnails

// A person's thumbnail is the first stored face crop. It loads only when its card scrolls into
// view, so a page of 60 people costs no image request below the fold. Until a thumbnail arrives
// (or when the server has none) the card shows the person's initials. The first request goes
// alone: if the server has no thumbnail route, the other cards do not ask.
let firstThumbnail = null;
const thumbnailLoader = new IntersectionObserver((entries) => {
  for (const entry of entries) {
    if (!entry.isIntersecting) continue;
    thumbnailLoader.unobserve(entry.target);
    loadThumbnail(entry.target);
  }
}, { rootMargin: "200px" });

async function loadThumbnail(avatar) {
  if (!firstThumbnail) {
    firstThumbnail = fetchThumbnail(avatar);
    return;
  }
  if (await firstThumbnail) await fetchThumbnail(avatar);
}

// → false when the server has no such route ("Not Found" is the router's own answer; a person
// without a stored photo gets a sentence instead, and keeps the initials).
async function fetchThumbnail(avatar) {
  try {
    const url = await imageUrl(avatar.dataset.src);
    avatar.replaceChildren(h("img", { src: url, alt: "" }));
  } catch (error) {
    if (error.status === 404 && error.message === "Not Found") return false;
  }
  return true;
}

function avatar(name, path) {
  const initials = name.split(/[\s_.-]+/).filter(Boolean).slice(0, 2).map((w) => w[0].toUpperCase()).join("");
  const box = h("span", { class: "thumb", "aria-hidden": "true", dataset: { src: path } }, initials);
  thumbnailLoader.observe(box);
  return box;
}

// ---------------------------------------------------------------- the list

export async function render(main) {
  const state = { q: new URLSearchParams(location.search).get("q") || "", offset: 0, people: [] };
  const search = h("input", { type: "search", placeholder: "Search by name", value: state.q, "aria-label": "Search people", name: "q" });
  const count = h("span", { class: "muted", id: "people-count" });
  const list = h("div", { id: "people" });
  const enrolButton = h("button", { type: "button", class: "primary", dataset: { needs: "operate" }, onclick: () => openEnrol(reload) }, "Enrol person");

  let typing;
  search.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => { state.q = search.value.trim(); state.offset = 0; show(); }, 150);
  });

  // GET /subjects has no name filter: the whole list (about 150 bytes a person) comes once and
  // the search and the pages run here; thumbnails are fetched only for the cards shown.
  async function reload() {
    try {
      const { identities } = await api("/subjects", { query: { limit: 100000 } });
      state.people = identities;
      show();
    } catch (error) {
      clear(list, errorBox(error));
    }
  }

  function show() {
    const needle = state.q.toLowerCase();
    const found = needle ? state.people.filter((p) => p.name.toLowerCase().includes(needle)) : state.people;
    const page = found.slice(state.offset, state.offset + PAGE_SIZE);
    count.textContent = `${found.length.toLocaleString()} ${found.length === 1 ? "person" : "people"}`;
    history.replaceState(null, "", state.q ? `?q=${enc(state.q)}` : location.pathname);
    clear(list,
      page.length ? h("div", { class: "grid" }, page.map((person) => personCard(person, () => openPerson(person.name, reload))))
        : h("p", { class: "muted" }, state.q ? `Nobody matches “${state.q}”.` : "Nobody is enrolled yet."),
      pager({ offset: state.offset, limit: PAGE_SIZE, total: found.length, shown: page.length,
        onChange: (offset) => { state.offset = offset; show(); } }));
  }

  main.append(h("h1", {}, "People"),
    h("div", { class: "toolbar" }, h("div", { class: "grow" }, search), count, enrolButton), list);
  await reload();
  ready();
}

function personCard(person, onOpen) {
  const photos = person.templates ?? 0;
  return h("button", { type: "button", class: "card person", onclick: onOpen, dataset: { name: person.name } },
    avatar(person.name, `/subjects/${enc(person.name)}/thumbnail.jpg`),
    h("span", {},
      h("span", { class: "name" }, person.name), h("br"),
      h("span", { class: "muted" }, `${photos} photo${photos === 1 ? "" : "s"}`)));
}
