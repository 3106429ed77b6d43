// Lead distribution: leads this node routes to partners (with a preview of where the new ones
// would go, and a button to route them) and leads vendors offered to this node, which it
// accepts or rejects before their SLA ends, and converts once accepted (an opportunity, and
// optionally a deal shared with the vendor, attributed to it as source).
import { api, listAll } from "../api.js";
import { h, add, set, title, table, empty, errorBox, statusBadge, field, notice, shortId } from "../ui.js";

export async function render(view, ctx) {
  const outBox = h("div", { id: "leads-out" });
  const inBox = h("div", { id: "leads-in" });
  const previewBox = h("div", { id: "leads-preview", "aria-live": "polite" });
  const msg = h("div", { id: "leads-msg", "aria-live": "polite" });

  async function reload() {
    const page = await listAll("/leads");
    const outbound = page.items.filter((l) => l.direction === "outbound");
    const inbound = page.items.filter((l) => l.direction === "inbound");
    set(outBox, outbound.length ? outboundTable(outbound) : empty("No leads routed from this node."));
    set(inBox, inbound.length ? inboundTable(inbound, ctx, msg, reload) : empty("No leads offered to this node."));
  }
  await reload();

  async function routeNow(dryRun) {
    try {
      const r = await api(`/leads/route${dryRun ? "?dry_run=true" : ""}`, { method: "POST" });
      const verb = dryRun ? "would go" : "went";
      set(
        previewBox,
        h("p", {}, `These ${r.routed.length} leads ${verb} to: ` + (r.by_partner.map((p) => `${p.partner_name} (${p.count})`).join(", ") || "nobody") + (r.unroutable.length ? `; ${r.unroutable.length} not routable.` : ".")),
      );
      if (!dryRun) await reload();
    } catch (e) {
      set(previewBox, errorBox(e));
    }
  }

  add(
    view,
    title("Leads"),
    h("p", { class: "hint" }, "Inbound leads are routed by the rules file (cosell leads rules set FILE.toml) to one partner each, through that partner's policy. A partner accepts or rejects within the SLA; otherwise the lead goes to the next partner, and the first one gets no further updates."),
    msg,
    h("h2", {}, "Routed from this node"),
    ctx.can("manager")
      ? h(
          "div",
          { class: "actions" },
          h("button", { type: "button", onclick: () => routeNow(true) }, "Preview routing"),
          h("button", { type: "button", class: "primary", onclick: () => routeNow(false) }, "Route leads"),
        )
      : null,
    previewBox,
    outBox,
    h("h2", {}, "Offered to this node"),
    inBox,
  );
  return {
    onEvent(event) {
      if (event.kind.startsWith("lead.") || event.kind === "lagged") reload().catch((e) => set(outBox, errorBox(e)));
    },
  };
}

function outboundTable(items) {
  const rows = items.map((l) =>
    h(
      "tr",
      { dataset: { lead: l.id, status: l.status || "" } },
      h("td", {}, h("strong", {}, l.company || "—"), h("br"), h("span", { class: "hint" }, shortId(l.id))),
      h("td", {}, [l.country, l.region].filter(Boolean).join(" · ") || "—"),
      h("td", {}, (l.tags || []).join(", ") || "—"),
      h("td", {}, l.partner_name || "—", l.tried && l.tried.length ? h("div", { class: "hint" }, `before: ${l.tried.map((t) => t.partner_name || shortId(t.partner)).join(", ")}`) : null),
      h("td", {}, l.respond_by || "—"),
      h("td", {}, statusBadge(l.status), l.reason ? h("div", { class: "hint" }, l.reason) : null),
    ),
  );
  return table(["Company", "Where", "Tags", "Partner", "Answer by", "Status"], rows, { id: "leads-out-table" });
}

function inboundTable(items, ctx, msg, reload) {
  const rows = items.map((l) => {
    const actions = h("td", { class: "actions" });
    if (ctx.can("manager") && l.status === "offered") {
      const reason = h("input", { type: "text", size: 16 });
      add(
        actions,
        h("button", { type: "button", class: "primary", onclick: () => answer(`/leads/${l.id}/accept`, undefined, msg, reload) }, "Accept"),
        field("Reason", reason),
        h("button", { type: "button", class: "danger", onclick: () => answer(`/leads/${l.id}/reject`, { reason: reason.value.trim() || null }, msg, reload) }, "Reject"),
      );
    }
    if (ctx.can("manager") && l.status === "accepted") {
      add(
        actions,
        h("button", { type: "button", onclick: () => convert(l.id, false, msg, reload) }, "Convert"),
        h("button", { type: "button", class: "primary", onclick: () => convert(l.id, true, msg, reload) }, "Convert and share with vendor"),
      );
    }
    return h(
      "tr",
      { dataset: { lead: l.id, status: l.status || "" } },
      h("td", {}, h("strong", {}, l.company || "—"), h("br"), h("span", { class: "hint" }, shortId(l.id))),
      h("td", {}, l.vendor_name || shortId(l.vendor)),
      h("td", {}, [l.country, l.region].filter(Boolean).join(" · ") || "—"),
      h("td", {}, [l.contact_name, l.contact_email].filter(Boolean).join(" · ") || "—"),
      h("td", {}, l.respond_by || "—"),
      h("td", {}, statusBadge(l.status)),
      actions,
    );
  });
  return table(["Company", "From", "Where", "Contact", "Answer by", "Status", ""], rows, { id: "leads-in-table" });
}

async function answer(path, json, msg, reload) {
  try {
    await api(path, json === undefined ? { method: "POST" } : { method: "POST", json });
    set(msg, notice("Done: signed and sent to the vendor."));
    await reload();
  } catch (e) {
    set(msg, errorBox(e));
  }
}

async function convert(id, share, msg, reload) {
  try {
    const r = await api(`/leads/${id}/convert?share=${share}`, { method: "POST" });
    set(
      msg,
      notice(
        h("span", {}, "Converted: ", h("a", { href: `#/opportunities/${encodeURIComponent(r.opportunity_id)}` }, "opportunity"), r.deal_id ? h("span", {}, " and ", h("a", { href: `#/deals/${encodeURIComponent(r.deal_id)}` }, "deal"), " shared with the vendor (sourced by the vendor).") : "."),
      ),
    );
    await reload();
  } catch (e) {
    set(msg, errorBox(e));
  }
}
