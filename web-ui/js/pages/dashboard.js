// Dashboard: first what needs this user (GET /needs-me: invitations to answer, registrations to
// decide or waiting, overdue ones, new overlaps, deals partners changed since the last visit),
// then the counts, the open pipeline by stage (amounts per currency) and deals by partner.
import { api, listAll } from "../api.js";
import { h, add, title, barChart, empty, STAGES, stageLabel, compact, money, num, ago, LOCALE } from "../ui.js";

export async function render(view, ctx) {
  const [opps, partners, deals, needs] = await Promise.all([
    listAll("/opportunities", { max: 20000 }),
    api("/partners?limit=1000"),
    listAll("/deals"),
    api(`/needs-me?since=${ctx.since || 0}`),
  ]);
  const me = ctx.node ? ctx.node.id : null;
  const active = partners.items.filter((p) => p.status === "active");
  const connected = active.filter((p) => p.connected);

  // The open pipeline by stage, in money: one chart per currency (none is dropped), the
  // largest first. Closed-lost is not pipeline.
  const open = STAGES.filter((s) => s !== "closed_lost");
  const byCurrency = new Map();
  let noAmount = 0;
  for (const o of opps.items) {
    if (o.stage === "closed_lost") continue;
    const amount = Number(o.amount);
    if (!o.amount || !Number.isFinite(amount) || !o.currency) {
      noAmount += 1;
      continue;
    }
    if (!byCurrency.has(o.currency)) byCurrency.set(o.currency, new Map(open.map((s) => [s, { amount: 0, count: 0 }])));
    const row = byCurrency.get(o.currency).get(o.stage) || { amount: 0, count: 0 };
    row.amount += amount;
    row.count += 1;
    byCurrency.get(o.currency).set(o.stage, row);
  }
  const currencies = [...byCurrency].map(([currency, stages]) => ({ currency, stages, total: [...stages.values()].reduce((a, r) => a + r.amount, 0) })).sort((a, b) => b.total - a.total);
  const charts = currencies.map(({ currency, stages, total }) =>
    h(
      "div",
      { class: "pipeline-chart", dataset: { currency } },
      barChart(
        `Open pipeline in ${currency}: ${money(total, currency)}`,
        [...stages].map(([stage, r]) => ({ label: stageLabel(stage), value: r.amount, note: `${num(r.count)} ${r.count === 1 ? "opportunity" : "opportunities"}` })),
        { format: (v) => compact(v, currency) },
      ),
    ),
  );

  // Shared deals by partner.
  const byPartner = new Map(active.map((p) => [p.id, { name: p.name, deals: 0, accepted: 0, invited: 0 }]));
  for (const d of deals.items) {
    for (const p of d.participants) {
      if (p.id === me) continue;
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

  const stat = (label, value, href, id) => h("a", { class: "stat", href, id }, h("span", { class: "stat-value" }, typeof value === "number" ? num(value) : String(value)), h("span", { class: "stat-label" }, label));
  const c = needs.counts;

  add(
    view,
    title("Dashboard"),
    needsMe(needs, ctx),
    h(
      "div",
      { class: "stats" },
      stat("waiting for your answer", c.invitations, "#/inbox", "stat-inbox"),
      ctx.features.registrations ? stat("registrations to answer", c.registrations_to_decide, "#/registrations?status=pending", "stat-registrations") : null,
      stat("opportunities", opps.complete ? opps.items.length : `${num(opps.items.length)}+`, "#/opportunities", "stat-opportunities"),
      stat("shared deals", deals.items.length, "#/deals", "stat-deals"),
      stat(`partners (${connected.length} connected)`, active.length, "#/partners", "stat-partners"),
    ),
    h(
      "div",
      { class: "grid-2" },
      h(
        "section",
        { class: "card", "aria-labelledby": "h-stage" },
        h("h2", { id: "h-stage" }, "Open pipeline by stage"),
        charts.length ? charts : empty("No open opportunities with an amount yet.", h("a", { href: "#/opportunities" }, "Import a CSV on the Opportunities page")),
        noAmount ? h("p", { class: "hint", id: "pipeline-no-amount" }, `${num(noAmount)} open ${noAmount === 1 ? "opportunity has" : "opportunities have"} no amount and ${noAmount === 1 ? "is" : "are"} not in the chart.`) : null,
        opps.complete ? null : h("p", { class: "hint" }, `Counted over the first ${num(opps.items.length)} opportunities.`),
      ),
      h(
        "section",
        { class: "card", "aria-labelledby": "h-partner" },
        h("h2", { id: "h-partner" }, "Shared deals by partner"),
        partnerBars.length && partnerBars.some((b) => b.value)
          ? barChart("Deals shared with each partner", partnerBars)
          : empty(
              active.length ? "No deals shared yet." : "No partners yet.",
              active.length ? h("a", { href: "#/opportunities" }, "Open an opportunity to share it") : h("a", { href: "#/partners" }, "Invite a partner"),
            ),
      ),
    ),
  );
  return {
    // What needs me changes with every deal, registration and mapping event: read it again.
    onEvent(event) {
      if (/^(deal|registration|mapping|partner|import)\./.test(event.kind) || event.kind === "lagged") ctx.refresh();
    },
  };
}

/** The "Needs me" section: one card per kind of item, each with its count and the first few. */
function needsMe(needs, ctx) {
  const c = needs.counts;
  const since = new Date(needs.since);
  const card = (id, heading, count, items, more) =>
    h(
      "section",
      { class: "need", id, dataset: { count: String(count) }, "aria-labelledby": `${id}-h` },
      h("h3", { id: `${id}-h` }, h("span", {}, heading), h("span", { class: "count" }, num(count))),
      items.length ? h("ul", {}, items.slice(0, 5)) : h("p", { class: "hint" }, "Nothing."),
      count > 5 && more ? h("a", { href: more }, `All ${num(count)}`) : null,
    );
  const reg = (r, who) => h("li", {}, h("a", { href: `#/registrations?focus=${encodeURIComponent(r.id)}` }, r.account_name || r.account_domain), ` · ${who}`, r.overdue ? " · overdue" : [" · answer due ", ago(r.respond_by)]);
  const cards = [
    card("needs-invitations", "Invitations to answer", c.invitations, needs.invitations.map((i) => h("li", {}, h("a", { href: `#/deals/${encodeURIComponent(i.deal_id)}` }, i.title || "Deal invitation"), ` from ${i.from_name || "a partner"}`, i.expires_at ? [" · expires ", ago(i.expires_at)] : null)), "#/inbox"),
    ctx.features.registrations ? card("needs-decide", "Registrations to decide", c.registrations_to_decide, needs.registrations_to_decide.map((r) => reg(r, r.partner_name)), "#/registrations?status=pending") : null,
    ctx.features.registrations && c.registrations_waiting ? card("needs-waiting", "Your registrations waiting for the vendor", c.registrations_waiting, needs.registrations_waiting.map((r) => reg(r, r.vendor_name)), "#/registrations?status=pending") : null,
    ctx.features.registrations && c.overdue ? card("needs-overdue", "Overdue", c.overdue, needs.overdue.map((r) => reg(r, `${r.partner_name} → ${r.vendor_name}`)), "#/registrations?status=pending") : null,
    ctx.features.mapping ? card("needs-overlaps", "New accounts in common", c.new_overlaps, needs.new_overlaps.map((m) => h("li", {}, h("a", { href: `#/mapping?partner=${encodeURIComponent(m.partner)}` }, m.partner_name), ` · ${num(m.accounts)} ${m.accounts === 1 ? "account" : "accounts"} · `, ago(m.computed_at))), null) : null,
    card("needs-deals", "Deals partners changed", c.deals_changed, needs.deals_changed.map((d) => h("li", {}, h("a", { href: `#/deals/${encodeURIComponent(d.deal_id)}` }, d.name || "A deal"), ` · ${d.by.join(", ")}: ${d.last_change} · `, ago(d.last_change_at))), "#/deals"),
  ];
  return h(
    "section",
    { id: "needs-me", "aria-labelledby": "h-needs" },
    h("h2", { id: "h-needs" }, c.total ? `Needs you (${num(c.total)})` : "Nothing needs you right now"),
    h("p", { class: "hint" }, "New since your last visit, ", since.toLocaleString(LOCALE, { dateStyle: "medium", timeStyle: "short" }), "."),
    h("div", { class: "needs" }, cards),
  );
}
