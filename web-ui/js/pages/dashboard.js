// Dashboard: pipeline by stage, shared pipeline by partner, partner and deal counts.
import { api, listAll } from "../api.js";
import { h, add, set, title, barChart, empty, STAGES, stageLabel, compact } from "../ui.js";

export async function render(view, ctx) {
  const [opps, partners, deals, registrations] = await Promise.all([
    listAll("/opportunities", { max: 20000 }),
    api("/partners?limit=1000"),
    listAll("/deals"),
    ctx.features.registrations ? listAll("/registrations").catch(() => null) : null,
  ]);
  const me = ctx.node ? ctx.node.id : null;
  const active = partners.items.filter((p) => p.status === "active");
  const connected = active.filter((p) => p.connected);

  // Pipeline by stage: count, with the amount when one currency covers the stage.
  const byStage = new Map(STAGES.map((s) => [s, { count: 0, amount: 0, currencies: new Set() }]));
  for (const o of opps.items) {
    const row = byStage.get(o.stage) || { count: 0, amount: 0, currencies: new Set() };
    row.count += 1;
    if (o.amount) {
      row.amount += Number(o.amount) || 0;
      if (o.currency) row.currencies.add(o.currency);
    }
    byStage.set(o.stage, row);
  }
  const stageBars = [...byStage].map(([stage, r]) => ({
    label: stageLabel(stage),
    value: r.count,
    note: r.amount && r.currencies.size === 1 ? `${compact(r.amount)} ${[...r.currencies][0]}` : "",
  }));

  // Shared pipeline by partner: deals each partner takes part in.
  const byPartner = new Map(active.map((p) => [p.id, { name: p.name, deals: 0, accepted: 0, invited: 0 }]));
  let inbox = 0;
  for (const d of deals.items) {
    for (const p of d.participants) {
      if (p.id === me) {
        if (p.status === "invited") inbox += 1;
        continue;
      }
      const row = byPartner.get(p.id) || { name: p.name || p.id, deals: 0, accepted: 0, invited: 0 };
      row.deals += 1;
      if (p.status === "accepted") row.accepted += 1;
      if (p.status === "invited") row.invited += 1;
      byPartner.set(p.id, row);
    }
  }
  const partnerBars = [...byPartner.values()]
    .sort((a, b) => b.deals - a.deals)
    .map((r) => ({ label: r.name, value: r.deals, note: r.deals ? `${r.accepted} accepted${r.invited ? `, ${r.invited} invited` : ""}` : "" }));

  const stat = (label, value, href, id) => h("a", { class: "stat", href, id }, h("span", { class: "stat-value" }, String(value)), h("span", { class: "stat-label" }, label));

  add(view, 
    title("Dashboard"),
    h(
      "div",
      { class: "stats" },
      stat("opportunities", opps.complete ? opps.items.length : `${opps.items.length}+`, "#/opportunities", "stat-opportunities"),
      stat("shared deals", deals.items.length, "#/deals", "stat-deals"),
      stat("waiting for your answer", inbox, "#/deals?mine=invited", "stat-inbox"),
      stat(`partners (${connected.length} connected)`, active.length, "#/partners", "stat-partners"),
      registrations ? stat("registrations to answer", registrations.items.filter((r) => r.vendor === me && r.status === "pending").length, "#/registrations?status=pending", "stat-registrations") : null,
    ),
    h(
      "div",
      { class: "grid-2" },
      h(
        "section",
        { class: "card", "aria-labelledby": "h-stage" },
        h("h2", { id: "h-stage" }, "Pipeline by stage"),
        opps.items.length
          ? barChart("Opportunities per stage", stageBars)
          : empty("No opportunities yet.", h("a", { href: "#/opportunities" }, "Import a CSV on the Opportunities page")),
        opps.complete ? null : h("p", { class: "hint" }, `Counted over the first ${opps.items.length} opportunities.`),
      ),
      h(
        "section",
        { class: "card", "aria-labelledby": "h-partner" },
        h("h2", { id: "h-partner" }, "Shared pipeline by partner"),
        partnerBars.length && partnerBars.some((b) => b.value)
          ? barChart("Deals shared with each partner", partnerBars)
          : empty(
              active.length ? "No deals shared yet." : "No partners yet.",
              active.length ? h("a", { href: "#/opportunities" }, "Open an opportunity to share it") : h("a", { href: "#/partners" }, "Invite a partner"),
            ),
      ),
    ),
  );
  return {};
}
