// Market development funds: requests this node proposed to a vendor and requests partners
// proposed to this node as vendor; the vendor approves (possibly less), rejects or asks for
// changes and records reimbursements, the partner proposes and claims with a proof attachment.
// The vendor also sees its allocations per partner and quarter with their exact balances.
import { api, listAll } from "../api.js";
import { h, add, set, title, table, empty, errorBox, statusBadge, field, notice, shortId } from "../ui.js";

export async function render(view, ctx) {
  const [node, partners] = await Promise.all([api("/node"), api("/partners?limit=1000")]);
  const active = partners.items.filter((p) => p.status === "active");
  const listBox = h("div", { id: "mdf-list" });
  const balancesBox = h("div", { id: "mdf-balances" });
  const msg = h("div", { id: "mdf-msg", "aria-live": "polite" });

  async function reload() {
    const [page, alloc] = await Promise.all([listAll("/mdf"), api("/mdf/allocations")]);
    set(listBox, page.items.length ? requestsTable(page.items, node, ctx, msg, reload) : empty("No MDF requests yet."));
    set(balancesBox, alloc.items.length ? balancesTable(alloc.items) : empty("No allocations set on this node."));
  }
  await reload();

  const vendors = active.filter((p) => p.type === "vendor");
  add(
    view,
    title("Market development funds"),
    h("p", { class: "hint" }, "A partner proposes a marketing activity; its vendor approves a budget (possibly lower), rejects it or asks for changes; the partner claims with proof of execution and the vendor records the reimbursement. Every step is signed by the node that took it."),
    msg,
    h("h2", {}, "Requests"),
    listBox,
    h("h2", {}, "Allocations and balances"),
    balancesBox,
    ctx.can("manager") && active.length ? allocateForm(active, msg, reload) : null,
    ctx.can("manager") && vendors.length ? proposeForm(vendors, msg, reload) : null,
  );
  return {
    onEvent(event) {
      if (event.kind.startsWith("mdf.") || event.kind === "lagged") reload().catch((e) => set(listBox, errorBox(e)));
    },
  };
}

function requestsTable(items, node, ctx, msg, reload) {
  const rows = items.map((r) => {
    const actions = h("td", { class: "actions" });
    const vendorHere = r.vendor === node.id;
    if (ctx.can("manager")) {
      if (vendorHere && r.status === "proposed") {
        const amount = h("input", { type: "text", inputmode: "decimal", value: r.requested || "", size: 10 });
        const reason = h("input", { type: "text", size: 18 });
        add(
          actions,
          field(`Approve amount (${r.currency})`, amount),
          h("button", { type: "button", class: "primary", onclick: () => step(`/mdf/${r.id}/approve`, { amount: amount.value.trim() || null }, msg, reload) }, "Approve"),
          field("Reason", reason),
          h("button", { type: "button", onclick: () => step(`/mdf/${r.id}/ask-changes`, { reason: reason.value }, msg, reload) }, "Ask for changes"),
          h("button", { type: "button", class: "danger", onclick: () => step(`/mdf/${r.id}/reject`, { reason: reason.value }, msg, reload) }, "Reject"),
        );
      }
      if (vendorHere && r.status === "claimed") {
        const amount = h("input", { type: "text", inputmode: "decimal", value: r.approved_amount || "", size: 10 });
        const reference = h("input", { type: "text", size: 14 });
        add(
          actions,
          h("a", { href: `/api/v1/mdf/${r.id}/proof`, download: r.proof ? r.proof.name : "proof" }, `Proof (${r.proof ? r.proof.bytes : 0} bytes)`),
          field(`Reimbursed (${r.currency})`, amount),
          field("Payment reference", reference),
          h("button", { type: "button", class: "primary", onclick: () => step(`/mdf/${r.id}/reimburse`, { amount: amount.value.trim(), reference: reference.value.trim() }, msg, reload) }, "Record reimbursement"),
        );
      }
      if (!vendorHere && r.status === "approved") {
        const file = h("input", { type: "file" });
        const results = h("input", { type: "text", size: 18 });
        add(
          actions,
          field("Proof of execution (at most 48 KiB)", file),
          field("Results", results),
          h("button", { type: "button", class: "primary", onclick: () => claim(r, file, results.value, msg, reload) }, "Claim"),
        );
      }
    }
    return h(
      "tr",
      { dataset: { mdf: r.id, status: r.status || "" } },
      h("td", {}, h("strong", {}, r.activity || "—"), h("br"), h("span", { class: "hint" }, shortId(r.id))),
      h("td", {}, `${r.partner_name} → ${r.vendor_name}`),
      h("td", {}, r.period || "—"),
      h("td", {}, `${r.requested || "—"} ${r.currency || ""}`),
      h("td", {}, r.approved_amount ? `${r.approved_amount} ${r.currency}` : "—"),
      h("td", {}, statusBadge(r.status), r.reason ? h("div", { class: "hint" }, r.reason) : null),
      actions,
    );
  });
  return table(["Activity", "Partner → vendor", "Quarter", "Requested", "Approved", "Status", ""], rows, { id: "mdf-table" });
}

function balancesTable(items) {
  const rows = items.map((a) =>
    h("tr", { dataset: { partner: a.partner, period: a.period } }, h("td", {}, a.partner_name || shortId(a.partner)), h("td", {}, a.period), h("td", {}, `${a.allocated} ${a.currency}`), h("td", {}, a.committed), h("td", {}, a.reimbursed), h("td", {}, a.available)),
  );
  return table(["Partner", "Quarter", "Allocated", "Committed", "Reimbursed", "Available"], rows, { id: "mdf-balances-table" });
}

async function step(path, json, msg, reload) {
  try {
    await api(path, { method: "POST", json });
    set(msg, notice("Done: signed and sent to the other side."));
    await reload();
  } catch (e) {
    set(msg, errorBox(e));
  }
}

async function claim(r, file, results, msg, reload) {
  const chosen = file.files && file.files[0];
  if (!chosen) {
    set(msg, errorBox(new Error("Choose a proof file first.")));
    return;
  }
  const bytes = new Uint8Array(await chosen.arrayBuffer());
  let binary = "";
  bytes.forEach((b) => { binary += String.fromCharCode(b); });
  await step(`/mdf/${r.id}/claim`, { proof_name: chosen.name, proof_base64: btoa(binary), results: results.trim() || null }, msg, reload);
}

function allocateForm(active, msg, reload) {
  const partner = h("select", {}, active.map((p) => h("option", { value: p.id }, p.name)));
  const period = h("input", { type: "text", placeholder: "2026-Q3", size: 8 });
  const amount = h("input", { type: "text", inputmode: "decimal", size: 10 });
  const currency = h("input", { type: "text", value: "EUR", size: 4 });
  const form = h("form", { class: "inline-form", id: "mdf-allocate" },
    h("h2", {}, "Set an allocation"),
    field("Partner", partner), field("Quarter", period), field("Amount", amount), field("Currency", currency),
    h("button", { type: "submit" }, "Set allocation"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    step("/mdf/allocations", { partner: partner.value, period: period.value.trim(), amount: amount.value.trim(), currency: currency.value.trim() }, msg, reload);
  });
  return form;
}

function proposeForm(vendors, msg, reload) {
  const vendor = h("select", {}, vendors.map((p) => h("option", { value: p.id }, p.name)));
  const activity = h("input", { type: "text", size: 30 });
  const amount = h("input", { type: "text", inputmode: "decimal", size: 10 });
  const currency = h("input", { type: "text", value: "EUR", size: 4 });
  const start = h("input", { type: "date" });
  const end = h("input", { type: "date" });
  const form = h("form", { class: "inline-form", id: "mdf-propose" },
    h("h2", {}, "Propose an activity"),
    field("Vendor", vendor), field("Activity", activity), field("Amount", amount), field("Currency", currency), field("Start", start), field("End", end),
    h("button", { type: "submit", class: "primary" }, "Propose"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await api("/mdf", { method: "POST", json: { vendor: vendor.value, activity: activity.value, amount: amount.value.trim(), currency: currency.value.trim(), start: start.value, end: end.value } });
      set(msg, notice("Proposed: sent to the vendor."));
      await reload();
    } catch (err) {
      set(msg, errorBox(err));
    }
  });
  return form;
}
