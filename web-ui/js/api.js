// Talking to the node's API. Two ways to be signed in: a browser session (HttpOnly cookie, and
// the session's CSRF token sent as `X-CSRF-Token` on every write), or an API token from a
// `#token=` link, kept in this tab's sessionStorage and sent as `Authorization: Bearer`.
const TOKEN_KEY = "cosell.token";
/**
 * Where this node's routes are: "" for a node of its own, `/w/NAME` for a workspace a host
 * serves (its UI is at `/w/NAME/`, its API at `/w/NAME/api/v1`).
 */
export const BASE = (location.pathname.match(/^\/w\/[a-z0-9-]+/) || [""])[0];
let csrfToken = null;

/** An answer other than 2xx: `message` is the API's own sentence. */
export class ApiError extends Error {
  constructor(status, message, details) {
    super(message);
    this.status = status;
    this.details = Array.isArray(details) ? details : [];
  }
}

export function bearerToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}
export function setBearerToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}
export function setCsrfToken(token) {
  csrfToken = token || null;
}

function headersFor(method, extra) {
  const headers = { ...extra };
  const token = bearerToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  else if (method !== "GET" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  return headers;
}

/**
 * `api("/deals")`, `api("/deals", {method: "POST", json: {...}})`, or a raw `body` with its
 * `contentType` (CSV, TOML). Resolves to the parsed JSON (or null for 204); rejects with ApiError.
 */
export async function api(path, { method = "GET", json, body, contentType, signal } = {}) {
  const extra = {};
  if (json !== undefined) {
    extra["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (contentType) {
    extra["Content-Type"] = contentType;
  }
  let response;
  try {
    response = await fetch(`${BASE}/api/v1${path}`, {
      method,
      headers: headersFor(method, extra),
      body,
      credentials: "same-origin",
      signal,
    });
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new ApiError(0, "The node cannot be reached. Is it still running?", []);
  }
  const text = await response.text();
  let parsed = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = null;
    }
  }
  if (!response.ok) {
    const sentence = parsed && parsed.error ? parsed.error : `The node answered ${response.status} ${response.statusText}.`;
    throw new ApiError(response.status, sentence, parsed && parsed.details);
  }
  return parsed;
}

/** Every item of a list route, following `next_cursor`, up to `max` items. */
export async function listAll(path, { max = 10000, limit = 1000 } = {}) {
  const items = [];
  let cursor = null;
  const sep = path.includes("?") ? "&" : "?";
  do {
    const page = await api(`${path}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && items.length < max);
  return { items, complete: !cursor };
}

/** Who is signed in: `{username, role, csrf_token}`, or null when nobody is. */
export async function whoAmI() {
  try {
    const me = await api("/session");
    setCsrfToken(me.csrf_token);
    return me;
  } catch (e) {
    // A workspace answers 404, not 401, to whoever it does not know.
    if (e.status === 401 || (BASE && e.status === 404)) {
      if (bearerToken()) setBearerToken(null);
      return null;
    }
    throw e;
  }
}

export async function signIn(username, password) {
  setBearerToken(null);
  const me = await api("/session", { method: "POST", json: { username, password } });
  setCsrfToken(me.csrf_token);
  return me;
}

/** The first user of a hosted workspace, with the code of its onboarding link. */
export async function onboard(code, username, password) {
  await api("/onboarding", { method: "POST", json: { code, username, password } });
  return signIn(username, password);
}

export async function signOut() {
  if (bearerToken()) {
    setBearerToken(null);
    return;
  }
  try {
    await api("/session", { method: "DELETE" });
  } finally {
    setCsrfToken(null);
  }
}

/** Headers for a streaming fetch of the SSE route when signed in with a token. */
export function streamHeaders() {
  return headersFor("GET", { Accept: "text/event-stream" });
}
