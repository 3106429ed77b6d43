// Small DOM helpers shared by the pages: element builder, errors, tables, charts, formatting.

/** `h("a", {href: "#/"}, "Home")`. `on*` attributes are listeners; null children are skipped. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key === "for") el.htmlFor = value;
    else if (key === "value") el.value = value;
    else if (key === "checked") el.checked = Boolean(value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

const SVG = "http://www.w3.org/2000/svg";
function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

/** A page heading that takes focus after navigation (keyboard and screen-reader users). */
export function title(text, ...extra) {
  return h("div", { class: "page-head" }, h("h1", { tabindex: "-1" }, text), ...extra);
}

/** The API's sentence (and its details, when there are any) as an alert. */
export function errorBox(error, format = formatDetail) {
  const details = (error && error.details) || [];
  return h(
    "div",
    { class: "error", role: "alert" },
    h("p", {}, error && error.message ? error.message : String(error)),
    details.length ? h("ul", { class: "details" }, details.map((d) => h("li", {}, format(d)))) : null,
  );
}

/** Shows `error` in `container` and moves the keyboard focus to it (after a failed action). */
export function showError(container, error) {
  const box = errorBox(error);
  box.tabIndex = -1;
  set(container, box);
  box.focus();
  return box;
}

/** One `details` entry of an API error as a sentence. */
export function formatDetail(d) {
  if (typeof d === "string") return d;
  if (d.text) return d.text;
  if (d.row !== undefined) {
    const where = d.line !== undefined && d.line !== null ? `row ${d.row} (line ${d.line})` : `row ${d.row}`;
    return `${where}, column ${d.column}: ${d.message}`;
  }
  if (d.field) return `${d.field}: ${d.message}`;
  return d.message || JSON.stringify(d);
}

export function notice(text, kind = "ok") {
  return h("p", { class: `notice ${kind}`, role: "status" }, text);
}

export function empty(text, ...extra) {
  return h("div", { class: "empty" }, h("p", {}, text), ...extra);
}

export function loading() {
  return h("p", { class: "loading", role: "status" }, "Loading…");
}

/** A label + control pair. */
export function field(label, control, hint) {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  return h("div", { class: "field" }, h("label", { for: id }, label), control, hint ? h("small", { class: "hint" }, hint) : null);
}

/** A table (scrolls in its own box; one card per row on a phone); `rows` are `tr` elements. */
export function table(headers, rows, attrs = {}) {
  return stacked(h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      attrs,
      h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x === "" ? h("span", { class: "sr-only" }, "Actions") : x)))),
      h("tbody", {}, rows),
    ),
  ));
}

/**
 * Marks a `table(...)` to show each row as a stacked card on a phone-width screen: every cell
 * gets its column's header as `data-label` (shown before it by the stylesheet).
 */
export function stacked(wrap) {
  const t = wrap.querySelector("table");
  const labels = [...t.querySelectorAll("thead th")].map((th) => (th.querySelector(".sr-only") ? "" : th.textContent));
  t.classList.add("stack");
  for (const tr of t.querySelectorAll("tbody tr")) {
    const cells = [...tr.children];
    if (cells.length !== labels.length) continue;
    cells.forEach((td, i) => {
      if (labels[i]) td.dataset.label = labels[i];
    });
  }
  return wrap;
}

/** A key/value table of shared fields; each row carries `data-field` (tests compare them). */
export function fieldsTable(fields, attrs = {}) {
  const keys = Object.keys(fields || {}).sort(fieldOrder);
  if (!keys.length) return empty("No fields.");
  return h(
    "table",
    { class: "kv", ...attrs },
    h("tbody", {}, keys.map((k) => h("tr", { dataset: { field: k } }, h("th", { scope: "row" }, fieldLabel(k)), h("td", { dataset: { value: String(fields[k]) } }, fieldValue(k, fields))))),
  );
}

const FIELD_ORDER = ["name", "stage", "amount", "currency", "close_date", "account.name", "account.domain"];
function fieldOrder(a, b) {
  const ia = FIELD_ORDER.indexOf(a);
  const ib = FIELD_ORDER.indexOf(b);
  if (ia !== -1 || ib !== -1) return (ia === -1 ? 99 : ia) - (ib === -1 ? 99 : ib);
  return a.localeCompare(b);
}

const FIELD_LABELS = {
  name: "Name", stage: "Stage", amount: "Amount", currency: "Currency", close_date: "Close date",
  "account.name": "Account", "account.domain": "Account domain", "account.industry": "Industry",
  "account.country": "Country", "account.status": "Account status", next_step: "Next step",
  owner: "Owner", tags: "Tags", products: "Products", description: "Description", domain: "Domain",
  status: "Status", industry: "Industry", country: "Country",
};

/** A field's name in words: `close_date` → "Close date", `account.name` → "Account". */
export function fieldLabel(key) {
  if (FIELD_LABELS[key]) return FIELD_LABELS[key];
  const words = key.replace(/^account\./, "account ").replace(/[_.]/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** A shared field's value for people: stages in words, amounts as money, dates per locale. */
export function fieldValue(key, fields) {
  const v = fields[key];
  if (v === null || v === undefined || v === "") return "—";
  if (Array.isArray(v)) return v.join(", ");
  if (key === "stage") return stageLabel(String(v));
  if (key === "amount") return money(v, fields.currency);
  if (key === "close_date") return day(v);
  return String(v);
}

export const STAGES = ["prospect", "qualified", "technical_validation", "business_validation", "committed", "launched", "closed_lost"];
const STAGE_LABELS = {
  prospect: "Prospect", qualified: "Qualified", technical_validation: "Technical validation",
  business_validation: "Business validation", committed: "Committed", launched: "Launched (won)", closed_lost: "Closed lost",
};
/** A stage in words: `technical_validation` → "Technical validation". */
export function stageLabel(stage) {
  if (!stage) return "—";
  if (STAGE_LABELS[stage]) return STAGE_LABELS[stage];
  const w = String(stage).replace(/_/g, " ");
  return w.charAt(0).toUpperCase() + w.slice(1);
}

const ROLE_LABELS = { vendor: "Vendor", reseller: "Reseller", distributor: "Distributor", si: "Systems integrator", services: "Services partner", isv: "Software vendor (ISV)", software: "Software partner", msp: "Managed service provider", referral: "Referral partner" };
/** A partner type or deal role in words. */
export function roleLabel(role) {
  return role ? ROLE_LABELS[role] || role : "type not set";
}

export function badge(text, kind = "") {
  return h("span", { class: `badge ${kind}` }, text);
}

export function statusBadge(status) {
  const kind = { accepted: "ok", active: "ok", approved: "ok", invited: "warn", pending: "warn", declined: "bad", removed: "bad", rejected: "bad", expired: "bad", ended: "bad", withdrawn: "bad", revoked: "bad" }[status] || "";
  const words = { invited: "invited", pending: "waiting for the vendor" }[status] || status || "unknown";
  return h("span", { class: `badge ${kind}`, dataset: { status: status || "" } }, words);
}

/** The reader's locale: every number and date on the page uses it. */
export const LOCALE = (typeof navigator !== "undefined" && navigator.language) || "en";

/**
 * The one money format: Intl, currency-aware (the currency's symbol and its own decimals; whole
 * amounts without cents). A range a policy made ("10000-20000") keeps both ends formatted.
 */
export function money(amount, currency) {
  if (amount === null || amount === undefined || amount === "") return "—";
  const text = String(amount).trim();
  const range = text.match(/^(\d+(?:\.\d+)?)\s*[-–]\s*(\d+(?:\.\d+)?)$/);
  if (range) return `${money(range[1], currency)}–${money(range[2], currency)}`;
  const n = Number(text);
  if (!Number.isFinite(n)) return `${text} ${currency || ""}`.trim();
  const whole = Number.isInteger(n);
  try {
    return new Intl.NumberFormat(LOCALE, currency
      ? { style: "currency", currency, ...(whole ? { minimumFractionDigits: 0, maximumFractionDigits: 0 } : {}) }
      : { maximumFractionDigits: 2 }).format(n);
  } catch {
    return `${new Intl.NumberFormat(LOCALE).format(n)} ${currency || ""}`.trim();
  }
}

export function compact(n, currency) {
  try {
    return new Intl.NumberFormat(LOCALE, { notation: "compact", maximumFractionDigits: 1, ...(currency ? { style: "currency", currency } : {}) }).format(n);
  } catch {
    return new Intl.NumberFormat(LOCALE, { notation: "compact", maximumFractionDigits: 1 }).format(n);
  }
}

/** A whole number in the reader's locale. */
export function num(n) {
  return new Intl.NumberFormat(LOCALE).format(n);
}

function asDate(value) {
  if (value === null || value === undefined || value === "") return null;
  const d = typeof value === "number" ? new Date(value) : new Date(/^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00` : value);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** An RFC 3339 time (or ms) as the locale's date and time, with the exact time in `title`. */
export function when(value) {
  const d = asDate(value);
  if (!d) return h("span", {}, value === null || value === undefined ? "—" : String(value));
  const text = d.toLocaleString(LOCALE, { dateStyle: "medium", timeStyle: "short" });
  return h("time", { datetime: d.toISOString(), title: d.toISOString() }, text);
}

/** A calendar date (`2027-03-15`) in the locale's format; other text (a quarter) as it is. */
export function day(value) {
  if (typeof value === "string" && !/^\d{4}-\d{2}-\d{2}$/.test(value)) return value;
  const d = asDate(value);
  return d ? d.toLocaleDateString(LOCALE, { dateStyle: "medium" }) : "—";
}

/** "2 h ago", "in 3 days": where people read times at a glance; the exact time in `title`. */
export function ago(value, now = Date.now()) {
  const d = asDate(value);
  if (!d) return h("span", {}, "—");
  const seconds = Math.round((d.getTime() - now) / 1000);
  const abs = Math.abs(seconds);
  const [n, unit] = abs < 60 ? [seconds, "second"] : abs < 3600 ? [Math.round(seconds / 60), "minute"] : abs < 86400 ? [Math.round(seconds / 3600), "hour"] : abs < 86400 * 45 ? [Math.round(seconds / 86400), "day"] : [Math.round(seconds / (86400 * 30)), "month"];
  const text = abs < 10 ? "just now" : new Intl.RelativeTimeFormat(LOCALE, { numeric: "auto", style: "short" }).format(n, unit);
  return h("time", { datetime: d.toISOString(), title: d.toLocaleString(LOCALE, { dateStyle: "full", timeStyle: "long" }) }, text);
}

export function shortId(id) {
  return id && id.length > 16 ? `${id.slice(0, 8)}…${id.slice(-6)}` : id || "";
}

/** An id as a short link, the whole id in `title` (and for screen readers). */
export function idLink(id, href) {
  return h("a", { href, class: "id-link", title: id }, h("code", {}, shortId(id)), h("span", { class: "sr-only" }, ` (${id})`));
}

/**
 * A horizontal bar chart as inline SVG: `bars` = [{label, value, note}]. Scales to its
 * container's width; the numbers are also in the SVG's text for screen readers.
 */
export function barChart(caption, bars, { format = (v) => num(v) } = {}) {
  const max = Math.max(1, ...bars.map((b) => b.value));
  const rowH = 34;
  // Room for the longest label (about 8 px a character at 14 px): never clipped.
  const labelW = Math.max(90, Math.min(260, 12 + 8 * Math.max(...bars.map((b) => b.label.length))));
  const width = 560;
  const barMax = width - labelW - 170;
  const height = bars.length * rowH + 8;
  const text = (b) => `${format(b.value)}${b.note ? ` · ${b.note}` : ""}`;
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": `${caption}: ${bars.map((b) => `${b.label} ${text(b)}`).join(", ")}`, class: "chart" });
  bars.forEach((b, i) => {
    const y = i * rowH + 4;
    const w = Math.max(b.value > 0 ? 3 : 0, (b.value / max) * barMax);
    svg.append(
      s("text", { x: labelW - 8, y: y + rowH / 2 + 1, "text-anchor": "end", "dominant-baseline": "middle", class: "chart-label" }, b.label),
      s("rect", { x: labelW, y: y + 5, width: w, height: rowH - 12, rx: 3, class: "chart-bar" }, s("title", {}, `${b.label}: ${text(b)}`)),
      s("text", { x: labelW + w + 6, y: y + rowH / 2 + 1, "dominant-baseline": "middle", class: "chart-value" }, text(b)),
    );
  });
  return h("figure", { class: "chart-figure" }, h("figcaption", {}, caption), svg);
}

/** A button that asks "are you sure?" inline before running `action`. */
export function confirmButton(label, question, action, { confirmLabel = `Yes, ${label.toLowerCase()}` } = {}) {
  const wrap = h("span", { class: "confirm" });
  const start = h("button", { type: "button", class: "danger", onclick: () => ask() }, label);
  function ask() {
    const yes = h("button", { type: "button", class: "danger", onclick: async () => { yes.disabled = true; try { await action(); } finally { reset(); } } }, confirmLabel);
    const no = h("button", { type: "button", onclick: () => { reset(); start.focus(); } }, "Cancel");
    wrap.replaceChildren(h("span", { role: "alert" }, question, " "), yes, " ", no);
    yes.focus();
  }
  function reset() {
    if (wrap.isConnected) wrap.replaceChildren(start);
  }
  wrap.append(start);
  return wrap;
}

/** Runs `fn` after `ms` of quiet. */
export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}

/** `el.append(...)` that skips null/false children (the DOM would print "null"). */
export function add(el, ...children) {
  append(el, children);
  return el;
}

/** `el.replaceChildren(...)` that skips null/false children. */
export function set(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}
