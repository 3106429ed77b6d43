// The audit log, newest first: what was shared with whom and when, policy and partnership
// changes, refusals; each entry links to the deal, opportunity or partner it names.
import { listAll } from "../api.js";
import { api } from "../api.js";
import { h, add, set, title, table, stacked, empty, field, ago, when, badge, idLink, shortId } from "../ui.js";

const KINDS = [["", "All kinds"], ["share", "Shares"], ["share_update", "Share updates"], ["policy", "Policy changes"], ["partner", "Partnerships"], ["rejected", "Refused changes"], ["mapping", "Account mapping"], ["registration", "Registrations"]];
/** Entries shown per "Show older" step. */
const STEP = 100;

export async function render(view, ctx) {
  const kind = ctx.query.get("kind") || "";
  const [partners, log] = await Promise.all([api("/partners?limit=1000"), listAll(`/audit${kind ? `?kind=${encodeURIComponent(kind)}` : ""}`, { max: 100000 })]);
  const names = new Map(partners.items.map((p) => [p.id, p.name]));
  const select = h("select", { name: "kind", id: "audit-kind" }, KINDS.map(([v, l]) => h("option", { value: v, selected: v === kind }, l)));
  select.addEventListener("change", () => ctx.navigate(select.value ? `#/audit?kind=${select.value}` : "#/audit"));
  // The API pages oldest first: newest first here.
  const entries = log.items.slice().reverse();
  const list = h("div");
  const more = h("div", { class: "pager" });
  let shown = 0;

  function links(e) {
    const d = e.details || {};
    const out = [];
    const deal = d.deal || d.deal_id;
    if (deal) out.push(["deal ", idLink(deal, `#/deals/${encodeURIComponent(deal)}`)]);
    if (d.opportunity_id) out.push(["opportunity ", idLink(d.opportunity_id, `#/opportunities/${encodeURIComponent(d.opportunity_id)}`)]);
    if (e.kind === "policy" && e.peer) out.push([h("a", { href: `#/partners/${encodeURIComponent(e.peer)}/policy` }, "the policy")]);
    return out.length ? out.map((x, i) => [i ? " · " : "", ...x]) : "—";
  }
  function row(e) {
    return h(
      "tr",
      { dataset: { kind: e.kind, seq: String(e.seq) } },
      h("td", {}, ago(e.at), h("br"), h("span", { class: "hint" }, when(e.at))),
      h("td", {}, badge(e.kind.replace(/_/g, " "))),
      h("td", {}, e.peer ? (names.get(e.peer) ? h("a", { href: "#/partners", title: e.peer }, names.get(e.peer)) : shortId(e.peer)) : "—"),
      h("td", {}, e.summary),
      h("td", {}, links(e)),
    );
  }
  const body = h("tbody");
  function step() {
    const next = entries.slice(shown, shown + STEP);
    shown += next.length;
    add(body, next.map(row));
    set(more, shown < entries.length ? h("button", { type: "button", id: "audit-older", onclick: step }, `Show older (${entries.length - shown} more)`) : null);
  }
  if (entries.length) {
    const wrap = table(["When", "Kind", "Partner", "What", "Links"], [], { id: "audit-table" });
    wrap.querySelector("tbody").replaceWith(body);
    step();
    add(list, stacked(wrap), more);
    // `stacked` labels rows present at the time; label the later ones the same way.
    new MutationObserver(() => stacked(wrap)).observe(body, { childList: true });
  } else {
    add(list, empty(kind ? "No entries of this kind." : "Nothing recorded yet."));
  }
  add(view, title("Audit log"), h("p", { class: "hint" }, "Newest first."), h("div", { class: "filters" }, field("Kind", select)), list);
  return {};
}
