// The one way pages talk to the server: /api/v1 with the operator's key in X-API-Key.
// The key lives in sessionStorage (gone when the tab closes) unless the operator asked to be
// remembered on this computer (localStorage).

const KEY_NAME = "facelens.key";
const ME_NAME = "facelens.me"; // {name, role} of the key, kept beside it: one request less per page
const BASE = "/api/v1";

export class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export const session = {
  get key() {
    return sessionStorage.getItem(KEY_NAME) || localStorage.getItem(KEY_NAME);
  },
  get me() {
    const saved = sessionStorage.getItem(ME_NAME) || localStorage.getItem(ME_NAME);
    return saved ? JSON.parse(saved) : null;
  },
  save(key, me, remember) {
    const storage = remember ? localStorage : sessionStorage;
    storage.setItem(KEY_NAME, key);
    storage.setItem(ME_NAME, JSON.stringify(me));
  },
  clear() {
    for (const storage of [sessionStorage, localStorage]) {
      storage.removeItem(KEY_NAME);
      storage.removeItem(ME_NAME);
    }
  },
};

export function apiUrl(path, query = {}) {
  const url = new URL(BASE + path, location.origin);
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  return url;
}

export function authHeaders(key = session.key) {
  return key ? { "X-API-Key": key } : {};
}

async function errorFrom(response) {
  let body = {};
  try {
    body = await response.json();
  } catch {
    // a proxy's HTML error page: fall back to the status text
  }
  const detail = Array.isArray(body.detail) ? body.detail.map((d) => d.msg).join("; ") : body.detail;
  return new ApiError(response.status, body.error || detail || response.statusText || `HTTP ${response.status}`, body.code);
}

// api("/subjects", {query, json, form, method, key, raw}) → parsed JSON (or the Response when raw).
export async function api(path, { method = "GET", query, json, form, key, raw = false } = {}) {
  const headers = authHeaders(key);
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form; // FormData: the browser writes the multipart boundary
  }
  const response = await fetch(apiUrl(path, query), { method, headers, body });
  if (response.status === 401 && key === undefined && !location.pathname.endsWith("/login")) {
    session.clear();
    location.assign(`/ui/login?next=${encodeURIComponent(location.pathname + location.search)}`);
  }
  if (!response.ok) throw await errorFrom(response);
  if (raw) return response;
  if (response.status === 204) return null;
  const type = response.headers.get("Content-Type") || "";
  return type.includes("json") ? response.json() : response.text();
}

// Images behind the key cannot be plain <img src>: fetch them and hand back an object URL.
export async function imageUrl(path, query) {
  const response = await api(path, { query, raw: true });
  return URL.createObjectURL(await response.blob());
}

// Save a file the API produces (CSV, PNG, export JSON) under a name the operator sees.
export async function download(path, query, filename) {
  const response = await api(path, { query, raw: true });
  const href = URL.createObjectURL(await response.blob());
  const link = Object.assign(document.createElement("a"), { href, download: filename });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(href), 10_000);
}

// The key's name and role, as the server knows them (any valid key may ask).
export function whoAmI(key) {
  return api("/me", { key });
}
