// The audit log: what was shared with whom and when, policy and partnership changes, refusals.
import { api } from "../api.js";
import { h, add, set, title, table, empty, field, when, badge, shortId, errorBox } from "../ui.js";

const KINDS = [["", "All kinds"], ["share", "Shares"], ["share_update", "Share updates"], ["policy", "Policy changes"], ["partner", "Partnerships"], ["rejected", "Refused changes"], ["mapping", "Account mapping"], ["registration", "Registrations"]];

export async function render(view, ctx) {
  const kind = ctx.query.get("kind") || "";
  const partners = await api("/partners?limit=1000");
  const names = new Map(partners.items.map((p) => [p.id, p.name]));
  const select = h("select", { name: "kind", id: "audit-kind" }, KINDS.map(([v, l]) => h("option", { value: v, selected: v === kind }, l)));
  select.addEventListener("change", () => ctx.navigate(select.value ? `#/audit?kind=${select.value}` : "#/audit"));
  const body = h("tbody");
  const more = h("div", { class: "pager" });
  const list = h("div");

  async function load(cursor) {
    const p = new URLSearchParams({ limit: "100" });
    if (kind) p.set("kind", kind);
    if (cursor) p.set("cursor", cursor);
    const page = await api(`/audit?${p}`);
    for (const e of page.items) {
      add(body, h("tr", { dataset: { kind: e.kind } }, h("td", {}, when(e.at)), h("td", {}, badge(e.kind)), h("td", {}, e.peer ? names.get(e.peer) || shortId(e.peer) : "—"), h("td", {}, e.summary)));
    }
    set(more, 
      page.next_cursor
        ? h("button", { type: "button", onclick: async (ev) => { ev.target.disabled = true; try { await load(page.next_cursor); } catch (err) { set(more, errorBox(err)); } } }, "Load more")
        : null,
    );
    return page;
  }
  const first = await load(null);
  add(list, 
    first.items.length
      ? h("div", { class: "table-wrap" }, h("table", { id: "audit-table" }, h("thead", {}, h("tr", {}, ["Time", "Kind", "Partner", "What"].map((x) => h("th", { scope: "col" }, x)))), body))
      : empty(kind ? "No entries of this kind." : "Nothing recorded yet."),
    more,
  );
  add(view, title("Audit log"), h("div", { class: "filters" }, field("Kind", select)), list);
  return {};
}
