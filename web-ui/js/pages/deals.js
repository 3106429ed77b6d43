// Shared deals: every deal this node takes part in, with each participant's status.
import { api, listAll } from "../api.js";
import { h, add, set, title, table, stacked, empty, statusBadge, stageLabel, ago, field, money } from "../ui.js";

export async function render(view, ctx) {
  const deals = await listAll("/deals");
  const me = ctx.node ? ctx.node.id : null;
  const mine = ctx.query.get("mine") || "";
  const myStatus = (d) => (d.participants.find((p) => p.id === me) || {}).status;
  const gone = (d) => d.status === "withdrawn";
  const when = (d) => String(gone(d) ? d.withdrawn.at : d.created_at);
  const keep = (d) => !mine || (mine === "withdrawn" ? gone(d) : !gone(d) && myStatus(d) === mine);
  const items = deals.items.filter(keep).sort((a, b) => when(b).localeCompare(when(a)));

  const filter = h("select", { name: "mine" }, [["", "All deals"], ["invited", "Waiting for my answer"], ["accepted", "Accepted"], ["declined", "Declined"], ["withdrawn", "Withdrawn"]].map(([v, l]) => h("option", { value: v, selected: v === mine }, l)));
  filter.addEventListener("change", () => ctx.navigate(filter.value ? `#/deals?mine=${filter.value}` : "#/deals"));

  // A withdrawn deal keeps only its tombstone: who withdrew it, when and why.
  const withdrawnRow = (d) =>
    h(
      "tr",
      { dataset: { deal: d.id }, class: "withdrawn" },
      h("td", {}, h("a", { href: `#/deals/${d.id}` }, `Deal ${d.id.slice(0, 8)}`)),
      h("td", { colspan: 4 }, d.note),
      h("td", {}, statusBadge("withdrawn")),
      h("td", {}, ago(d.withdrawn.at)),
    );
  const rows = items.map((d) => gone(d) ? withdrawnRow(d) :
    h(
      "tr",
      { dataset: { deal: d.id } },
      h("td", {}, h("a", { href: `#/deals/${d.id}` }, d.fields.name || `Deal ${d.id.slice(0, 8)}`)),
      h("td", {}, d.fields["account.name"] || d.fields["account.domain"] || "—"),
      h("td", {}, stageLabel(d.stage)),
      h("td", { class: "num" }, d.fields.amount ? money(d.fields.amount, d.fields.currency) : "—"),
      h("td", {}, d.participants.filter((p) => p.id !== me).map((p) => h("span", { class: "participant" }, p.name || p.id.slice(0, 12), " ", statusBadge(p.status)))),
      h("td", {}, myStatus(d) === "invited" ? h("a", { href: `#/deals/${d.id}`, class: "badge warn" }, "answer") : statusBadge(myStatus(d))),
      h("td", {}, ago(d.created_at)),
    ),
  );
  add(view, 
    title("Deals"),
    h("div", { class: "filters" }, field("Show", filter)),
    items.length
      ? stacked(table(["Deal", "Account", "Stage", "Amount", "Partners", "This node", "Created"], rows, { id: "deals-table" }))
      : empty(mine ? "No deal matches this filter." : "No shared deals yet. Open an opportunity and share it with a partner.", mine ? null : h("a", { href: "#/opportunities" }, "Go to opportunities")),
  );
  return {};
}
