// Log in with an API key (`facelens keys create NAME --role ROLE` prints one): the server says
// whose key it is and its role; the key is then sent with every request.
import { session, whoAmI } from "../api.js";
import { h, ready } from "../ui.js";

function nextPage() {
  const next = new URLSearchParams(location.search).get("next") || "/ui/people";
  // only paths inside the dashboard: a crafted link must not send the key elsewhere
  return next.startsWith("/ui/") && !next.startsWith("/ui/login") ? next : "/ui/people";
}

export function render(main) {
  const keyInput = h("input", { type: "password", name: "key", id: "key", autocomplete: "current-password", required: true });
  const remember = h("input", { type: "checkbox", name: "remember", id: "remember" });
  const message = h("p", { class: "error", role: "alert", hidden: true });
  const submit = h("button", { type: "submit", class: "primary" }, "Log in");

  async function logIn(event) {
    event.preventDefault();
    submit.disabled = true;
    message.hidden = true;
    const key = keyInput.value.trim();
    try {
      session.save(key, await whoAmI(key), remember.checked);
      location.assign(nextPage());
    } catch (error) {
      message.textContent = error.status === 401 ? "This key is unknown or revoked." : error.message;
      message.hidden = false;
      submit.disabled = false;
    }
  }

  main.append(h("form", { class: "card login", onsubmit: logIn },
    h("h1", {}, "facelens"),
    h("p", { class: "muted" }, "Operator dashboard. Log in with your API key."),
    h("label", { for: "key" }, "API key"), keyInput,
    h("label", { class: "inline" }, remember, " Remember on this computer"),
    message, submit));
  keyInput.focus();
  ready();
}
