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

/** A scrollable table; `rows` are arrays of cells (nodes or text). */
export function table(headers, rows, attrs = {}) {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      attrs,
      h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))),
      h("tbody", {}, rows),
    ),
  );
}

/**
 * Marks a `table(...)` to show each row as a stacked card on a phone-width screen: every cell
 * gets its column's header as `data-label` (shown before it by the stylesheet).
 */
export function stacked(wrap) {
  const t = wrap.querySelector("table");
  const labels = [...t.querySelectorAll("thead th")].map((th) => th.textContent);
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
    h("tbody", {}, keys.map((k) => h("tr", { dataset: { field: k } }, h("th", { scope: "row" }, fieldLabel(k)), h("td", {}, String(fields[k]))))),
  );
}

const FIELD_ORDER = ["name", "stage", "amount", "currency", "close_date", "account.name", "account.domain"];
function fieldOrder(a, b) {
  const ia = FIELD_ORDER.indexOf(a);
  const ib = FIELD_ORDER.indexOf(b);
  if (ia !== -1 || ib !== -1) return (ia === -1 ? 99 : ia) - (ib === -1 ? 99 : ib);
  return a.localeCompare(b);
}

export function fieldLabel(key) {
  return key.replace(/_/g, " ").replace(/\./g, " · ");
}

export const STAGES = ["prospect", "qualified", "technical_validation", "business_validation", "committed", "launched", "closed_lost"];
export function stageLabel(stage) {
  return stage ? stage.replace(/_/g, " ") : "—";
}

export function badge(text, kind = "") {
  return h("span", { class: `badge ${kind}` }, text);
}

export function statusBadge(status) {
  const kind = { accepted: "ok", active: "ok", approved: "ok", invited: "warn", pending: "warn", declined: "bad", removed: "bad", rejected: "bad", expired: "bad" }[status] || "";
  return badge(status || "unknown", kind);
}

export function money(amount, currency) {
  if (amount === null || amount === undefined || amount === "") return "—";
  const n = Number(amount);
  if (!Number.isFinite(n)) return `${amount} ${currency || ""}`.trim();
  try {
    return new Intl.NumberFormat("en", { style: currency ? "currency" : "decimal", currency: currency || undefined, maximumFractionDigits: 0 }).format(n);
  } catch {
    return `${n.toLocaleString("en")} ${currency || ""}`.trim();
  }
}

export function compact(n) {
  return new Intl.NumberFormat("en", { notation: "compact", maximumFractionDigits: 1 }).format(n);
}

/** An RFC 3339 time (or ms) as a short local date and time, with the exact time in `title`. */
export function when(value) {
  if (value === null || value === undefined) return h("span", {}, "—");
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return h("span", {}, String(value));
  const text = d.toLocaleString("en-GB", { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
  return h("time", { datetime: d.toISOString(), title: d.toISOString() }, text);
}

export function shortId(id) {
  return id && id.length > 16 ? `${id.slice(0, 8)}…${id.slice(-6)}` : id || "";
}

/**
 * A horizontal bar chart as inline SVG: `bars` = [{label, value, note}]. Scales to its
 * container's width; the numbers are also in the SVG's text for screen readers.
 */
export function barChart(caption, bars, { unit = "" } = {}) {
  const max = Math.max(1, ...bars.map((b) => b.value));
  const rowH = 34;
  const labelW = 150;
  const width = 480;
  const barMax = width - labelW - 150;
  const height = bars.length * rowH + 8;
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": `${caption}: ${bars.map((b) => `${b.label} ${b.value}${unit}`).join(", ")}`, class: "chart" });
  bars.forEach((b, i) => {
    const y = i * rowH + 4;
    const w = Math.max(b.value > 0 ? 3 : 0, (b.value / max) * barMax);
    const label = b.label.length > 19 ? `${b.label.slice(0, 18)}…` : b.label;
    svg.append(
      s("text", { x: labelW - 8, y: y + rowH / 2 + 1, "text-anchor": "end", "dominant-baseline": "middle", class: "chart-label" }, label),
      s("rect", { x: labelW, y: y + 5, width: w, height: rowH - 12, rx: 3, class: "chart-bar" }, s("title", {}, `${b.label}: ${b.value}${unit}`)),
      s("text", { x: labelW + w + 6, y: y + rowH / 2 + 1, "dominant-baseline": "middle", class: "chart-value" }, `${b.value}${unit}${b.note ? ` · ${b.note}` : ""}`),
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
