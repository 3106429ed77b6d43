// The single-page app: sign-in, header and navigation, hash routing to one module per page,
// and live updates from the node's event stream.
import { api, whoAmI, signIn, signOut, onboard, setBearerToken, bearerToken, streamHeaders, BASE } from "./api.js";
import { h, add, set, errorBox, loading, field } from "./ui.js";

const ROLE_RANK = { viewer: 0, manager: 1, admin: 2 };

const state = {
  me: null, // {username, role, csrf_token}
  node: null, // GET /node
  features: { inbox: false, registrations: false, mapping: false },
  current: null, // the page's controller: {onEvent?}
  currentPage: null,
  renderSeq: 0,
  needs: null, // GET /needs-me: counts for the navigation's badges
  since: null, // this user's previous visit (ms): "new since your last visit"
};

// Pages: [pattern, module, nav key]. Module paths are relative to this file.
const ROUTES = [
  [/^\/?$/, "dashboard", "dashboard"],
  [/^\/opportunities$/, "opportunities", "opportunities"],
  [/^\/opportunities\/([^/]+)$/, "opportunity", "opportunities"],
  [/^\/inbox$/, "inbox", "inbox"],
  [/^\/deals$/, "deals", "deals"],
  [/^\/settings$/, "settings", "settings"],
  [/^\/deals\/([^/]+)$/, "deal", "deals"],
  [/^\/registrations$/, "registrations", "registrations"],
  [/^\/mdf$/, "mdf", "mdf"],
  [/^\/leads$/, "leads", "leads"],
  [/^\/plans$/, "plans", "plans"],
  [/^\/partners$/, "partners", "partners"],
  [/^\/mapping$/, "mapping", "mapping"],
  [/^\/users$/, "users", "users", "admin", "Users and API tokens"],
  [/^\/partners\/([^/]+)\/policy$/, "policy", "partners"],
  [/^\/audit$/, "audit", "audit"],
  [/^\/webhooks$/, "webhooks", "webhooks", "admin", "Webhooks"],
  [/^\/network$/, "network", "network"],
  [/^\/crm$/, "crm", "crm"],
  [/^\/program$/, "program", "program"],
  [/^\/erase$/, "erase", "erase", "admin", "Erase a person's data"],
];

const NAV = [
  ["dashboard", "#/", "Dashboard"],
  ["opportunities", "#/opportunities", "Opportunities"],
  ["inbox", "#/inbox", "Inbox", null, "inbox"],
  ["deals", "#/deals", "Deals"],
  ["registrations", "#/registrations", "Registrations", null, "registrations"],
  ["mdf", "#/mdf", "MDF"],
  ["leads", "#/leads", "Leads"],
  ["plans", "#/plans", "Plans"],
  ["partners", "#/partners", "Partners"],
  ["mapping", "#/mapping", "Mapping", null, "mapping"],
  ["audit", "#/audit", "Audit log"],
  ["users", "#/users", "Users", "admin"],
  ["webhooks", "#/webhooks", "Webhooks", "admin"],
  ["erase", "#/erase", "Erasure", "admin"],
  ["network", "#/network", "Network"],
  ["crm", "#/crm", "CRM"],
  ["program", "#/program", "Program"],
  ["settings", "#/settings", "My e-mail"],
];

// Which needs-me count each navigation entry shows as its badge.
const NAV_BADGE = {
  dashboard: ["total", "need your attention"],
  inbox: [["invitations", "announcements_unread"], "invitations to answer and unread announcements"],
  registrations: ["registrations_to_decide", "registrations to decide"],
  mapping: ["new_overlaps", "new mappings with overlaps"],
  deals: ["deals_changed", "deals changed by partners"],
};

export function can(role) {
  return Boolean(state.me) && ROLE_RANK[state.me.role] >= ROLE_RANK[role];
}

function parseHash() {
  const raw = location.hash.replace(/^#/, "");
  const [path, qs] = raw.split("?");
  return { path: path || "/", query: new URLSearchParams(qs || "") };
}

export function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

const main = document.getElementById("main");
const header = document.getElementById("site-header");
const live = document.getElementById("live-region");

/** Announces a short message to screen readers and shows it briefly. */
export function toast(text) {
  live.textContent = text;
  live.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => {
    live.hidden = true;
  }, 4000);
}

function navBadge(key) {
  const spec = NAV_BADGE[key];
  const keys = spec ? [].concat(spec[0]) : [];
  const n = state.needs ? keys.reduce((sum, k) => sum + (state.needs.counts[k] || 0), 0) : 0;
  if (!n) return null;
  return h("span", { class: "nav-badge", dataset: { badge: key, count: String(n) } }, String(n), h("span", { class: "sr-only" }, ` ${spec[1]}`));
}

function renderHeader(activeKey) {
  // The skip link to the navigation exists only where there is a navigation.
  const navSkip = document.querySelector('.skip[href="#site-nav"]');
  if (navSkip) navSkip.hidden = !state.me;
  if (!state.me) {
    set(header, h("div", { class: "brand" }, h("span", { class: "logo", "aria-hidden": "true" }, "◆"), " cosell", state.node ? h("span", { class: "node-name" }, state.node.name) : null));
    return;
  }
  const who = state.me.username ? state.me.username : "API token";
  const links = NAV.filter(([, , , role, feature]) => (!role || can(role)) && (!feature || state.features[feature])).map(([key, href, label]) =>
    h("li", {}, h("a", { href, "aria-current": key === activeKey ? "page" : null, dataset: { nav: key } }, label, navBadge(key))),
  );
  const menu = h(
    "div",
    { class: "site-menu", id: "site-menu", dataset: { open: "false" } },
    h("nav", { "aria-label": "Main", class: "site-nav", id: "site-nav", tabindex: "-1" }, h("ul", {}, links)),
    h(
      "div",
      { class: "user" },
      h("span", { id: "whoami" }, who, " ", h("span", { class: "role", id: "role" }, state.me.role)),
      h("button", { type: "button", id: "signout", onclick: doSignOut }, "Sign out"),
    ),
  );
  const total = state.needs ? state.needs.counts.total : 0;
  const toggle = h(
    "button",
    { type: "button", class: "menu-button", id: "menu-button", "aria-expanded": "false", "aria-controls": "site-menu" },
    "Menu",
    total ? h("span", { class: "nav-badge" }, String(total), h("span", { class: "sr-only" }, " need your attention")) : null,
  );
  toggle.addEventListener("click", () => {
    const open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    menu.dataset.open = String(open);
    if (open) menu.querySelector("a")?.focus();
  });
  set(header,
    h("div", { class: "brand" }, h("a", { href: "#/", class: "logo-link" }, h("span", { class: "logo", "aria-hidden": "true" }, "◆"), " cosell"), h("span", { class: "node-name", id: "node-name" }, state.node ? state.node.name : "")),
    h("span", { class: "live-dot", id: "live-dot", role: "img", title: "Live updates", "aria-label": streamState.connected ? "live updates on" : "live updates off", dataset: { on: String(streamState.connected) } }),
    toggle,
    menu,
  );
}

/** Reads what needs this user (GET /needs-me) and refreshes the navigation's badges. */
async function refreshNeeds() {
  if (!state.me) return;
  try {
    state.needs = await api(`/needs-me?since=${state.since}`);
  } catch {
    return;
  }
  for (const [key] of Object.entries(NAV_BADGE)) {
    const link = header.querySelector(`a[data-nav="${key}"]`);
    if (!link) continue;
    link.querySelector(".nav-badge")?.remove();
    const b = navBadge(key);
    if (b) link.append(b);
  }
  const toggle = header.querySelector("#menu-button");
  if (toggle) {
    toggle.querySelector(".nav-badge")?.remove();
    const total = state.needs.counts.total;
    if (total) toggle.append(h("span", { class: "nav-badge" }, String(total), h("span", { class: "sr-only" }, " need your attention")));
  }
}

async function doSignOut() {
  // A browser session on a node with single sign-on ends at auth/logout (under the
  // workspace's /w/NAME in a hosted one), which also sends
  // the browser to the identity provider's sign-out when the session came from it.
  if (!bearerToken()) {
    const methods = await api("/sign-in").catch(() => null);
    if (methods && methods.sso) {
      stopStream();
      window.location.assign(`${BASE}/auth/logout`);
      return;
    }
  }
  try {
    await signOut();
  } catch {
    // Signed out locally anyway.
  }
  stopStream();
  state.me = null;
  navigate("#/");
}

// An onboarding link (`cosell workspace create` prints it) carries a one-time code in the URL
// fragment: the workspace's first user sets a username and password with it.
const ONBOARDING_KEY = "cosell.onboarding";
function takeOnboardingFromHash() {
  const fragment = new URLSearchParams(location.hash.replace(/^#\/?/, ""));
  if (!fragment.get("onboarding")) return false;
  sessionStorage.setItem(ONBOARDING_KEY, fragment.get("onboarding"));
  history.replaceState(null, "", `${location.pathname}${location.search}#/`);
  return true;
}

function renderOnboarding(code) {
  renderHeader(null);
  const username = h("input", { name: "username", autocomplete: "username", required: true });
  const password = h("input", { name: "password", type: "password", autocomplete: "new-password", required: true, minlength: 10 });
  const msg = h("div", { id: "onboarding-error" });
  const form = h(
    "form",
    {
      id: "onboarding-form",
      class: "card",
      onsubmit: async (e) => {
        e.preventDefault();
        set(msg);
        try {
          state.me = await onboard(code, username.value.trim(), password.value);
          sessionStorage.removeItem(ONBOARDING_KEY);
          await start();
        } catch (err) {
          if (err.status === 404) sessionStorage.removeItem(ONBOARDING_KEY);
          set(msg, errorBox(err));
        }
      },
    },
    field("Username", username),
    field("Password", password, "At least 10 characters."),
    h("button", { type: "submit", class: "primary" }, "Create my account"),
  );
  set(main, h("section", { class: "signin" }, h("h1", { tabindex: "-1" }, "Set up your workspace"), h("p", {}, "You are the first user: you become its admin."), msg, form));
  username.focus();
}

function renderSignIn(error) {
  const onboarding = sessionStorage.getItem(ONBOARDING_KEY);
  if (onboarding) return renderOnboarding(onboarding);
  renderHeader(null);
  const username = h("input", { name: "username", autocomplete: "username", required: true });
  const password = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const token = h("input", { name: "token", type: "password", autocomplete: "off", required: true });
  const msg = h("div", { id: "signin-error" }, error ? errorBox(error) : null);
  const sso = h("div", { id: "sso-signin" });
  const form = h(
    "form",
    {
      id: "signin-form",
      class: "card",
      onsubmit: async (e) => {
        e.preventDefault();
        set(msg);
        try {
          state.me = await signIn(username.value.trim(), password.value);
          await start();
        } catch (err) {
          set(msg, errorBox(err));
          password.select();
        }
      },
    },
    field("Username", username),
    field("Password", password),
    h("button", { type: "submit", class: "primary" }, "Sign in"),
  );
  const tokenForm = h(
    "form",
    {
      id: "token-form",
      onsubmit: async (e) => {
        e.preventDefault();
        setBearerToken(token.value.trim());
        set(msg);
        await start();
      },
    },
    field("API token", token, "The admin token is in DATA/admin.token."),
    h("button", { type: "submit" }, "Sign in with the token"),
  );
  set(main, 
    h(
      "section",
      { class: "signin" },
      h("h1", { tabindex: "-1" }, "Sign in"),
      msg,
      sso,
      form,
      h("details", { class: "card" }, h("summary", {}, "Sign in with an API token instead"), tokenForm),
    ),
  );
  username.focus();
  // Single sign-on, when the node has an identity provider; no password form when local
  // passwords are off.
  api("/sign-in")
    .then((methods) => {
      if (methods.sso) {
        set(sso, h("p", {}, h("a", { class: "button-link primary", id: "sso-button", href: methods.sso.login_url }, `Sign in with ${methods.sso.name}`)));
      }
      if (!methods.local_passwords) form.hidden = true;
    })
    .catch(() => {});
}

async function route({ refresh = false } = {}) {
  const { path, query } = parseHash();
  if (!state.me) return renderSignIn();
  let match = null;
  for (const [pattern, module, nav, role, heading] of ROUTES) {
    const m = path.match(pattern);
    if (m) {
      match = { module, nav, role, heading, params: m.slice(1).map(decodeURIComponent) };
      break;
    }
  }
  renderHeader(match ? match.nav : null);
  const seq = ++state.renderSeq;
  if (!match) {
    set(main, h("h1", { tabindex: "-1" }, "Not found"), h("p", {}, "There is no page here. "), h("a", { href: "#/" }, "Go to the dashboard"));
    return;
  }
  if (!refresh) set(main, loading());
  const view = h("div", { class: `page page-${match.module}` });
  if (match.role && !can(match.role)) {
    // Not "Something went wrong": the page exists, this role may not use it.
    set(view, h("h1", { tabindex: "-1" }, match.heading), h("div", { class: "notice info", role: "status", id: "role-needed" }, h("p", {}, `Only an ${match.role} can open this page: this needs the ${match.role} role, and you are signed in as ${state.me.role}.`), h("a", { href: "#/" }, "Back to the dashboard")));
    set(main, view);
    state.current = {};
    state.currentPage = match.module;
    view.querySelector("h1").focus({ preventScroll: true });
    return;
  }
  let controller = null;
  try {
    const mod = await import(`./pages/${match.module}.js`);
    controller = (await mod.render(view, { params: match.params, query, me: state.me, node: state.node, features: state.features, can, navigate, toast, refresh: () => route({ refresh: true }), needs: () => state.needs, since: state.since, refreshNeeds })) || {};
  } catch (e) {
    if (seq !== state.renderSeq) return;
    set(view, h("h1", { tabindex: "-1" }, e.status === 403 ? "Not available for your role" : "Something went wrong"), errorBox(e));
    if (e.status === 401) {
      state.me = null;
      return renderSignIn(e);
    }
  }
  if (seq !== state.renderSeq) return;
  const scroll = window.scrollY;
  set(main, view);
  state.current = controller;
  state.currentPage = match.module;
  if (refresh) window.scrollTo(0, scroll);
  else if (state.loaded) {
    // After a navigation the page's heading takes the focus; on the first page after loading,
    // the focus stays at the top so the skip links come first.
    const h1 = view.querySelector("h1");
    if (h1) h1.focus({ preventScroll: true });
    window.scrollTo(0, 0);
  }
  state.loaded = true;
}

// ---- Live updates -------------------------------------------------------------------------

const EVENT_KINDS = [
  "deal.invited", "deal.accepted", "deal.declined", "deal.withdrawn", "deal.stage_changed", "deal.updated",
  "registration.submitted", "registration.approved", "registration.rejected", "registration.overdue",
  "registration.changed_after_decision", "partner.joined", "partner.removed", "import.completed", "mapping.completed",
  "mdf.proposed", "mdf.approved", "mdf.rejected", "mdf.changes_requested", "mdf.claimed", "mdf.reimbursed", "program.tier_changed",
  "lead.offered", "lead.accepted", "lead.rejected", "lead.withdrawn", "lead.expired", "lead.converted",
  "plan.updated", "plan.task_overdue", "announcement.received", "announcement.read", "lagged",
];
// Which pages refresh on which event kinds (prefixes), unless the page handles events itself.
const REFRESH_ON = {
  dashboard: ["deal.", "import.", "partner.", "registration."],
  opportunities: ["import."],
  deals: ["deal."],
  inbox: ["deal."],
  partners: ["partner."],
  audit: ["deal.", "partner.", "import."],
  network: ["partner."],
};

const streamState = { source: null, abort: null, connected: false, retry: null };

// Several events in a burst read the counts once.
let needsTimer = null;
function refreshNeedsSoon() {
  clearTimeout(needsTimer);
  needsTimer = setTimeout(refreshNeeds, 300);
}

function setLive(on) {
  streamState.connected = on;
  const dot = document.getElementById("live-dot");
  if (dot) {
    dot.dataset.on = String(on);
    dot.setAttribute("aria-label", on ? "live updates on" : "live updates off");
  }
}

function onEvent(kind, data) {
  let payload = null;
  try {
    payload = JSON.parse(data);
  } catch {
    payload = null;
  }
  const event = { kind, data: payload && payload.data ? payload.data : payload || {} };
  window.dispatchEvent(new CustomEvent("cosell:event", { detail: event }));
  refreshNeedsSoon();
  const controller = state.current;
  if (controller && typeof controller.onEvent === "function") {
    controller.onEvent(event);
    return;
  }
  const prefixes = REFRESH_ON[state.currentPage] || [];
  if (kind === "lagged" || prefixes.some((p) => kind.startsWith(p))) route({ refresh: true });
}

function startStream() {
  stopStream();
  if (bearerToken()) return startFetchStream();
  const source = new EventSource(`${BASE}/api/v1/events`);
  streamState.source = source;
  source.onopen = () => setLive(true);
  source.onerror = () => setLive(source.readyState === EventSource.OPEN);
  for (const kind of EVENT_KINDS) source.addEventListener(kind, (e) => onEvent(kind, e.data));
}

// EventSource cannot send an Authorization header: with a token, read the stream with fetch.
async function startFetchStream() {
  const abort = new AbortController();
  streamState.abort = abort;
  try {
    const response = await fetch(`${BASE}/api/v1/events`, { headers: streamHeaders(), signal: abort.signal });
    if (!response.ok || !response.body) throw new Error(`events: ${response.status}`);
    setLive(true);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let cut;
      while ((cut = buffer.indexOf("\n\n")) !== -1) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        let kind = "message";
        const data = [];
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) kind = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
        }
        if (data.length) onEvent(kind, data.join("\n"));
      }
    }
  } catch (e) {
    if (abort.signal.aborted) return;
  }
  setLive(false);
  if (!abort.signal.aborted && state.me) streamState.retry = setTimeout(startFetchStream, 3000);
}

function stopStream() {
  if (streamState.source) streamState.source.close();
  if (streamState.abort) streamState.abort.abort();
  clearTimeout(streamState.retry);
  streamState.source = null;
  streamState.abort = null;
  setLive(false);
}

// ---- Start-up -----------------------------------------------------------------------------

async function detectFeatures() {
  try {
    const doc = await api("/openapi.json");
    const paths = Object.keys((doc && doc.paths) || {});
    state.features.inbox = paths.some((p) => p.endsWith("/inbox"));
    state.features.registrations = paths.some((p) => p.endsWith("/registrations"));
    state.features.mapping = paths.some((p) => p.endsWith("/map"));
  } catch {
    // Without the description, show only the pages every node has.
  }
}

async function start() {
  try {
    state.me = await whoAmI();
  } catch (e) {
    state.me = null;
    return renderSignIn(e);
  }
  if (!state.me) {
    return renderSignIn(bearerToken() === null && start.triedToken ? { message: "That token is not valid.", details: [] } : null);
  }
  try {
    state.node = await api("/node");
    document.title = `${state.node.name} · cosell`;
  } catch {
    state.node = null;
  }
  await detectFeatures();
  // "New since your last visit": the previous visit of this user on this node, kept in this
  // browser; read once per tab, so reloading keeps showing what was new.
  const visitKey = `cosell.visit.${state.node ? state.node.id : ""}.${state.me.username || "token"}`;
  const tabKey = `${visitKey}.since`;
  if (sessionStorage.getItem(tabKey) === null) {
    sessionStorage.setItem(tabKey, localStorage.getItem(visitKey) || String(Date.now() - 7 * 24 * 3600 * 1000));
  }
  localStorage.setItem(visitKey, String(Date.now()));
  state.since = Number(sessionStorage.getItem(tabKey)) || 0;
  await refreshNeeds();
  startStream();
  await route();
}

// A sign-in link (`cosell demo` prints them) carries the token in the URL fragment, which never
// reaches a server: keep it for this tab and drop it from the address bar and the history, also
// when the link is opened in a tab that already shows the UI (a hash change, no reload).
function takeTokenFromHash() {
  const fragment = new URLSearchParams(location.hash.replace(/^#\/?/, ""));
  if (!fragment.get("token")) return false;
  setBearerToken(fragment.get("token"));
  start.triedToken = true;
  history.replaceState(null, "", `${location.pathname}${location.search}#/`);
  return true;
}
takeTokenFromHash();
takeOnboardingFromHash();
window.addEventListener("hashchange", () => {
  if (takeOnboardingFromHash()) {
    route();
    return;
  }
  if (takeTokenFromHash()) {
    stopStream();
    start();
    return;
  }
  route();
});
start();
// The skip links must not change the route.
for (const link of document.querySelectorAll(".skip")) {
  link.addEventListener("click", (e) => {
    e.preventDefault();
    const target = document.getElementById(link.getAttribute("href").slice(1));
    if (target) target.focus();
  });
}
