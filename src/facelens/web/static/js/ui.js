// Small DOM helpers shared by the pages: element building, formatting, toasts, a pager.

// h("button", {class: "primary", onclick}, "Save") → element. Text children are escaped
// (text nodes), so names coming from the API can never inject markup.
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(element.dataset, value);
    else if (value === true) element.setAttribute(name, "");
    else element.setAttribute(name, value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

export function clear(element, ...children) {
  element.replaceChildren(...children.flat().filter(Boolean));
  return element;
}

export function when(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : date.toLocaleString(undefined, {
    year: "numeric", month: "short", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
  });
}

export function number(value, digits = 3) {
  return value === null || value === undefined || Number.isNaN(value) ? "—" : Number(value).toFixed(digits);
}

export function percent(value) {
  return value === null || value === undefined ? "—" : `${(100 * value).toFixed(1)} %`;
}

let toastTimer;
export function toast(message, kind = "info") {
  const box = document.getElementById("toast");
  box.textContent = message;
  box.className = `show ${kind}`;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (box.className = ""), kind === "error" ? 8000 : 4000);
}

// Run an API action from a button: disable it meanwhile, toast the outcome.
export async function act(button, action, done) {
  button.disabled = true;
  try {
    const result = await action();
    if (done) toast(typeof done === "function" ? done(result) : done, "ok");
    return result;
  } catch (error) {
    toast(error.message, "error");
    return undefined;
  } finally {
    button.disabled = false;
  }
}

export function errorBox(error) {
  return h("p", { class: "error", role: "alert" }, error.message || String(error));
}

// Newer / older over an offset-paginated list of `total` items; onChange(offset) loads a page.
export function pager({ offset, limit, total, shown, onChange }) {
  if (total <= limit && offset === 0) return null; // one page: no pager
  return h("div", { class: "pager" },
    h("button", { type: "button", disabled: offset <= 0, onclick: () => onChange(Math.max(0, offset - limit)) }, "‹ Newer"),
    h("span", {}, `${shown ? offset + 1 : 0}–${offset + shown} of ${total.toLocaleString()}`),
    h("button", { type: "button", disabled: offset + limit >= total, onclick: () => onChange(offset + limit) }, "Older ›"));
}

// Marks the moment a page shows its data: tests read it to measure the page load.
export function ready() {
  performance.mark("facelens-ready");
  document.body.dataset.ready = "1";
}

export function badge(text, kind) {
  return h("span", { class: `badge ${kind || text}` }, text);
}

export function field(label, control) {
  return h("label", { class: "field" }, h("span", {}, label), control);
}

// Run `load(element)` once the element comes near the screen: images behind the key are fetched
// for what the operator can see, not for a whole page of cards at once.
const pending = new WeakMap(); // element → its load function
const nearScreen = new IntersectionObserver((entries) => {
  for (const entry of entries) {
    if (!entry.isIntersecting) continue;
    nearScreen.unobserve(entry.target);
    const load = pending.get(entry.target);
    pending.delete(entry.target);
    load(entry.target);
  }
}, { rootMargin: "200px" });

export function whenVisible(element, load) {
  pending.set(element, load);
  nearScreen.observe(element);
  return element;
}
