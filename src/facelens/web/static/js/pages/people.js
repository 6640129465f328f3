// People: the gallery's identities — list and search, enrol from photos, photos, watchlists, erase.
import { api, imageUrl } from "../api.js";
import { openEnrol } from "../people/enrol.js";
import { openPerson } from "../people/person.js";
import { clear, errorBox, h, pager, ready, whenVisible } from "../ui.js";

const PAGE_SIZE = 60;
const enc = encodeURIComponent;

// ---------------------------------------------------------------- thumbnails

// A person's thumbnail is their first kept face crop (GET /subjects/{name}/thumbnail.jpg). It
// loads only when its card comes near the screen, so a page of 60 people costs no image request
// below the fold. Until it arrives, or when none is kept (404), the card shows the initials.
function loadThumbnail(box) {
  imageUrl(box.dataset.src)
    .then((url) => box.replaceChildren(h("img", { src: url, alt: "" })))
    .catch(() => {}); // no photo kept: the initials stay
}

function avatar(name, path) {
  const initials = name.split(/[\s_.-]+/).filter(Boolean).slice(0, 2).map((w) => w[0].toUpperCase()).join("");
  return whenVisible(h("span", { class: "thumb", "aria-hidden": "true", dataset: { src: path } }, initials), loadThumbnail);
}

// ---------------------------------------------------------------- the list

export async function render(main) {
  const state = { q: new URLSearchParams(location.search).get("q") || "", offset: 0 };
  const search = h("input", { type: "search", placeholder: "Search by name", value: state.q, "aria-label": "Search people", name: "q" });
  const count = h("span", { class: "muted", id: "people-count" });
  const list = h("div", { id: "people" });
  const enrolButton = h("button", { type: "button", class: "primary", dataset: { needs: "operate" }, onclick: () => openEnrol(show) }, "Enrol person");

  let typing;
  search.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => { state.q = search.value.trim(); state.offset = 0; show(); }, 150);
  });

  // The server searches and pages (GET /subjects?q=&limit=&offset=): one page of people comes
  // per request, whatever the size of the gallery. A slower earlier answer never replaces a
  // later one (the operator typing).
  let asked = 0;
  async function show() {
    const mine = ++asked;
    history.replaceState(null, "", state.q ? `?q=${enc(state.q)}` : location.pathname);
    try {
      const { identities, total } = await api("/subjects", { query: { q: state.q, limit: PAGE_SIZE, offset: state.offset } });
      if (mine !== asked) return;
      count.textContent = `${total.toLocaleString()} ${total === 1 ? "person" : "people"}`;
      clear(list,
        identities.length ? h("div", { class: "grid" }, identities.map((person) => personCard(person, () => openPerson(person.name, show))))
          : h("p", { class: "muted" }, state.q ? `Nobody matches “${state.q}”.` : "Nobody is enrolled yet."),
        pager({ offset: state.offset, limit: PAGE_SIZE, total, shown: identities.length,
          onChange: (offset) => { state.offset = offset; show(); } }));
    } catch (error) {
      if (mine === asked) clear(list, errorBox(error));
    }
  }

  main.append(h("h1", {}, "People"),
    h("div", { class: "toolbar" }, h("div", { class: "grow" }, search), count, enrolButton), list);
  await show();
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
