// Boot: who is logged in, which page this path names, then hand the <main> to that page's module.
import { session, whoAmI } from "./api.js";
import { errorBox, ready } from "./ui.js";

const PAGES = ["people", "live", "alerts", "timeline", "happiness", "access", "unknown"];
// Roles that may change things (issue 12): the buttons for it are hidden from the others, and
// the server refuses them anyway.
const OPERATING_ROLES = new Set(["admin", "operator"]);

function pageName() {
  const name = location.pathname.replace(/^\/ui\/?/, "").split("/")[0];
  return name || "people";
}

function showIdentity(me) {
  const role = me.role || "unknown";
  document.body.classList.add(`role-${role}`);
  document.body.classList.toggle("can-operate", OPERATING_ROLES.has(role));
  document.getElementById("who").textContent = me.name ? `${me.name} · ${role}` : role;
  const logout = document.getElementById("logout");
  logout.hidden = false;
  logout.addEventListener("click", () => {
    session.clear();
    location.assign("/ui/login");
  });
}

async function boot() {
  const name = pageName();
  const main = document.getElementById("main");
  if (name === "login") {
    document.body.classList.add("bare");
    const { render } = await import("./pages/login.js");
    return render(main);
  }
  if (!session.key) {
    location.replace(`/ui/login?next=${encodeURIComponent(location.pathname + location.search)}`);
    return undefined;
  }
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.page === name) link.setAttribute("aria-current", "page");
  }
  if (!PAGES.includes(name)) {
    main.append(errorBox(new Error(`no page named ${name}`)));
    return ready();
  }
  const [me, page] = await Promise.all([session.me ?? whoAmI(), import(`./pages/${name}.js`)]);
  showIdentity(me);
  return page.render(main, { me, canOperate: document.body.classList.contains("can-operate") });
}

boot().catch((error) => {
  document.getElementById("main").append(errorBox(error));
  ready();
});
