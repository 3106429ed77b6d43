// Deal registrations: those this node made with a vendor partner and those made with this node as
// the vendor. The vendor sees conflicts (its own open opportunities on the account, other
// partners' earlier registrations) and approves or rejects with a reason; a partner registers.
import { api, listAll } from "../api.js";
import { h, showError, add, set, title, table, stacked, empty, errorBox, statusBadge, badge, when, ago, day, field, money, notice, shortId, stageLabel } from "../ui.js";

export async function render(view, ctx) {
  const [node, partners] = await Promise.all([api("/node"), api("/partners?limit=1000")]);
  const active = partners.items.filter((p) => p.status === "active");
  const listBox = h("div", { id: "registrations-list" });
  const msg = h("div", { id: "registrations-msg", "aria-live": "polite" });

  const status = ctx.query.get("status") || "all";
  const select = h("select", { name: "status", id: "registrations-status" }, [["all", "All"], ["pending", "Waiting for the vendor"], ["approved", "Approved"], ["rejected", "Rejected"], ["revoked", "Revoked"], ["expired", "Expired"], ["lapsed", "Lapsed"]].map(([v, l]) => h("option", { value: v, selected: v === status }, l)));
  select.addEventListener("change", () => ctx.navigate(`#/registrations${select.value === "all" ? "" : `?status=${select.value}`}`));

  async function loadList() {
    const page = await listAll("/registrations");
    const items = status === "all" ? page.items : page.items.filter((r) => r.status === status);
    set(listBox, items.length ? registrationsTable(items, node, ctx, msg, loadList) : empty(page.items.length ? "No registration with this status." : emptyText(ctx, active)));
  }
  await loadList();

  add(
    view,
    title("Deal registrations"),
    h("p", { class: "hint" }, "A partner registers an account with a vendor; the vendor approves it (the partner is protected for a while) or rejects it with a reason. Conflicts show only on the vendor's node."),
    h("div", { class: "filters" }, field("Show", select)),
    msg,
    listBox,
    // Registering is a partner's act towards its vendor: the form shows only where this node
    // has a partner of type vendor (not on the vendor's own node).
    ctx.can("manager") && active.some((p) => p.type === "vendor") ? submitForm(active.filter((p) => p.type === "vendor"), ctx, loadList) : null,
  );
  return {
    // Keep what the user is typing in the form: re-read the list only.
    onEvent(event) {
      if (event.kind.startsWith("registration.") || event.kind === "lagged") loadList().catch((e) => set(listBox, errorBox(e)));
    },
  };
}

function emptyText(ctx, active) {
  if (!ctx.can("manager")) return "No deal registrations yet.";
  if (!active.length) return "No deal registrations yet. Registrations are made with partners: add a partner first.";
  if (!active.some((p) => p.type === "vendor")) return "No deal registrations yet. Your partners register their deals with you here.";
  return "No deal registrations yet. Register a deal with a vendor partner below.";
}

function registrationsTable(items, node, ctx, msg, reload) {
  const decide = ctx.can("manager");
  const rows = items.map((r) => {
    const vendorHere = r.vendor === node.id;
    const detail = h("div", { class: "reg-detail" });
    const actions = h("td", { class: "actions" });
    if (!vendorHere && r.partner === node.id && decide && r.status === "pending") {
      add(actions, h("button", { type: "button", dataset: { action: "change" }, "aria-expanded": "false", onclick: (e) => changeForm(e.currentTarget, r, detail, reload, ctx) }, "Change…"));
    }
    // Terms the partner changed after the decision are not covered by it: the vendor decides again.
    const redecide = r.changed_after_decision === true;
    // Another partner's registration of the account first (or this partner's own earlier one)
    // blocks approving this one: the node would answer 409. Say why instead of offering it.
    const first = (r.conflicts || []).find((c) => c.kind !== "opportunity");
    if (vendorHere && decide && (r.status === "pending" || r.status === "approved" || redecide)) {
      add(
        actions,
        (r.status === "pending" || redecide) && first
          ? h("div", { class: "hint blocked", dataset: { blocked: "first" } }, `${first.kind === "duplicate" ? "A duplicate of an earlier registration" : `${first.partner_name || "Another partner"} registered it first`}: reject this one${first.kind === "duplicate" ? "" : ", or decide that one first"}.`)
          : null,
        (r.status === "pending" || redecide) && !first
          ? h("button", { type: "button", class: "primary", dataset: { action: "approve" }, onclick: () => approve(r, detail, reload, ctx) }, redecide ? "Approve new terms" : "Approve")
          : null,
        // An approved registration is revoked (its protection ends now), with a reason.
        r.status === "approved" && !redecide
          ? h("button", { type: "button", class: "danger", dataset: { action: "revoke" }, "aria-expanded": "false", onclick: (e) => rejectForm(e.currentTarget, r, detail, reload, ctx, "revoke") }, "Revoke…")
          : h("button", { type: "button", class: "danger", dataset: { action: "reject" }, "aria-expanded": "false", onclick: (e) => rejectForm(e.currentTarget, r, detail, reload, ctx) }, "Reject…"),
      );
    }
    return [
      h(
        "tr",
        { dataset: { registration: r.id, status: r.status } },
        h("td", {}, h("strong", {}, r.account_name || r.account_domain || "—"), h("br"), h("span", { class: "hint" }, r.account_domain || "")),
        h("td", {}, partyCell(r, node)),
        h(
          "td",
          { class: "reg-status" },
          statusBadge(r.status),
          r.overdue ? [" ", badge("overdue", "bad")] : null,
          redecide ? [" ", badge("changed after decision", "warn"), h("div", { class: "hint reg-decided" }, `The ${r.status === "rejected" ? "rejection" : "approval"} covers: `, decidedTerms(r.decided_terms))] : null,
          r.note ? h("div", { class: "hint reg-reason" }, r.note) : r.reason ? h("div", { class: "hint reg-reason" }, `Reason: ${r.reason}`) : null,
        ),
        h("td", {}, when(r.submitted_at), r.status === "pending" ? h("div", { class: "hint" }, "answer ", ago(r.respond_by)) : null),
        h("td", {}, r.expires_at ? when(r.expires_at) : "—"),
        h("td", {}, what(r)),
        h("td", { class: "reg-conflicts" }, conflictsCell(r)),
        actions,
      ),
      h("tr", { class: "detail-row" }, h("td", { colspan: 8 }, detail)),
    ];
  });
  return stacked(table(["Account", "Partner → vendor", "Status", "Submitted", "Protected until", "Deal", "Conflicts", ""], rows, { id: "registrations-table" }));
}

function partyCell(r, node) {
  const name = (id, fallback) => (id === node.id ? `${fallback || "this node"} (you)` : fallback || shortId(id));
  return [h("span", { title: r.partner }, name(r.partner, r.partner_name)), " → ", h("span", { title: r.vendor }, name(r.vendor, r.vendor_name))];
}

function what(r) {
  const parts = [];
  if (r.amount) parts.push(h("div", {}, money(r.amount, r.currency)));
  if (r.close_date) parts.push(h("div", { class: "hint" }, `closes ${day(r.close_date)}`));
  if (r.products && r.products.length) parts.push(h("div", { class: "hint" }, r.products.join(", ")));
  if (r.notes) parts.push(h("div", { class: "hint reg-notes" }, r.notes));
  return parts.length ? parts : "—";
}

// The terms a decision was made on, in one line.
function decidedTerms(t) {
  if (!t) return "—";
  const parts = [];
  if (t.amount) parts.push(money(t.amount, t.currency));
  if (t.close_date) parts.push(`closes ${day(t.close_date)}`);
  if (t.products && t.products.length) parts.push(t.products.join(", "));
  return parts.length ? parts.join(" · ") : "no amount, date or products";
}

function conflictsCell(r) {
  // The API answers `conflicts` only where this node is the vendor.
  if (!Array.isArray(r.conflicts)) return h("span", { class: "hint" }, "seen by the vendor only");
  if (!r.conflicts.length) return h("span", { class: "hint" }, "none");
  return h(
    "ul",
    { class: "plain conflicts" },
    r.conflicts.map((c) =>
      h(
        "li",
        { dataset: { kind: c.kind } },
        badge(c.kind === "opportunity" ? "your pipeline" : "registered first", "warn"),
        " ",
        c.kind === "opportunity"
          ? [h("a", { href: `#/opportunities/${encodeURIComponent(c.opportunity_id)}` }, c.name), ` (${stageLabel(c.stage)}${c.owner ? `, ${c.owner}` : ""})`]
          : `${c.partner_name || shortId(c.partner)} (${c.status}, ${day(c.submitted_at.slice(0, 10))})`,
      ),
    ),
  );
}

async function approve(r, detail, reload, ctx) {
  set(detail, notice("Approving…", "info"));
  // Where the keyboard goes next: the next registration's row (its first action, or the row).
  const row = detail.closest("tr")?.previousElementSibling;
  const rows = [...(row?.closest("tbody")?.querySelectorAll("tr[data-registration]") || [])];
  const next = rows[rows.indexOf(row) + 1];
  const nextId = next ? next.dataset.registration : null;
  try {
    await api(`/registrations/${encodeURIComponent(r.id)}/approve`, { method: "POST" });
    ctx.toast(`Registration for ${r.account_domain} approved`);
    await reload();
    focusRow(nextId || r.id);
  } catch (e) {
    showError(detail, e);
  }
}

/** Focus on a registration's row after the list was read again: its first button, or the row. */
function focusRow(id) {
  const tr = document.querySelector(`#registrations-table tr[data-registration="${CSS.escape(id)}"]`);
  if (!tr) return;
  const target = tr.querySelector("button") || tr;
  if (target === tr) tr.tabIndex = -1;
  target.focus();
}

// Rejects a registration, or revokes an approved one (`verb` "revoke"), with a reason the partner sees.
function rejectForm(button, r, detail, reload, ctx, verb = "reject") {
  const words = verb === "revoke" ? ["revoking", "revoked", "Revoke registration"] : ["rejecting", "rejected", "Reject registration"];
  if (button.getAttribute("aria-expanded") === "true") {
    button.setAttribute("aria-expanded", "false");
    set(detail);
    return;
  }
  button.setAttribute("aria-expanded", "true");
  const reason = h("input", { name: "reason", autocomplete: "off", size: 40 });
  const out = h("div", { "aria-live": "polite" });
  const form = h(
    "form",
    {
      class: "row reject-form",
      onsubmit: async (e) => {
        e.preventDefault();
        try {
          await api(`/registrations/${encodeURIComponent(r.id)}/${verb}`, { method: "POST", json: { reason: reason.value } });
          ctx.toast(`Registration for ${r.account_domain} ${words[1]}`);
          await reload();
        } catch (err) {
          set(out, errorBox(err));
          reason.focus();
        }
      },
    },
    field(`Reason for ${words[0]} ${r.account_domain} (the partner sees it)`, reason),
    h("button", { type: "submit", class: "danger" }, words[2]),
    h("button", { type: "button", onclick: () => { button.setAttribute("aria-expanded", "false"); set(detail); button.focus(); } }, "Cancel"),
  );
  set(detail, form, out);
  reason.focus();
}

// The partner corrects its pending registration: the fields it changed go in the PATCH (an
// emptied one as null, which clears it); the account's domain and the notes stay as registered.
function changeForm(button, r, detail, reload, ctx) {
  if (button.getAttribute("aria-expanded") === "true") {
    button.setAttribute("aria-expanded", "false");
    set(detail);
    return;
  }
  button.setAttribute("aria-expanded", "true");
  const was = {
    account_name: r.account_name || "",
    amount: r.amount || "",
    currency: r.amount ? r.currency || "" : "",
    close_date: r.close_date || "",
    products: (r.products || []).join(", "),
  };
  const inputs = {
    account_name: h("input", { name: "account_name", autocomplete: "off", value: was.account_name }),
    amount: h("input", { name: "amount", inputmode: "decimal", autocomplete: "off", value: was.amount }),
    currency: h("input", { name: "currency", autocomplete: "off", size: 4, maxlength: 3, value: was.currency }),
    close_date: h("input", { name: "close_date", type: "date", value: was.close_date }),
    products: h("input", { name: "products", autocomplete: "off", value: was.products }),
  };
  const out = h("div", { "aria-live": "polite" });
  const form = h(
    "form",
    {
      class: "change-form",
      onsubmit: async (e) => {
        e.preventDefault();
        const body = {};
        for (const [key, input] of Object.entries(inputs)) {
          const value = input.value.trim();
          if (value === was[key]) continue;
          if (key === "products") body.products = value.split(",").map((x) => x.trim()).filter(Boolean);
          else body[key] = value === "" ? null : value;
        }
        if (!Object.keys(body).length) {
          set(out, notice("Nothing changed.", "info"));
          return;
        }
        try {
          await api(`/registrations/${encodeURIComponent(r.id)}`, { method: "PATCH", json: body });
          ctx.toast(`Registration for ${r.account_domain} changed`);
          await reload();
        } catch (err) {
          set(out, errorBox(err));
        }
      },
    },
    h("div", { class: "form-grid" },
      field("Account name", inputs.account_name),
      field("Amount", inputs.amount, "Empty clears it."),
      field("Currency", inputs.currency),
      field("Close date", inputs.close_date, "Empty clears it."),
      field("Products", inputs.products, "Comma-separated."),
    ),
    h("p", { class: "hint" }, `The account's domain (${r.account_domain}) and the notes stay as registered; the vendor keeps seeing when you registered first.`),
    h("button", { type: "submit", class: "primary" }, "Save changes"),
    h("button", { type: "button", onclick: () => { button.setAttribute("aria-expanded", "false"); set(detail); button.focus(); } }, "Cancel"),
  );
  set(detail, form, out);
  inputs.amount.focus();
}

function submitForm(partners, ctx, reload) {
  const section = h("section", { class: "card", id: "register", "aria-labelledby": "h-register" }, h("h2", { id: "h-register" }, "Register a deal with a vendor"));
  if (!partners.length) {
    add(section, empty("No partners yet.", ctx.can("admin") ? h("a", { href: "#/partners" }, "Invite a partner or join one") : null));
    return section;
  }
  // Vendors first: a registration is normally made with a partner of type vendor.
  const sorted = [...partners].sort((a, b) => (b.type === "vendor") - (a.type === "vendor") || a.name.localeCompare(b.name));
  const vendor = h("select", { name: "vendor", required: true }, sorted.map((p) => h("option", { value: p.id }, p.type ? `${p.name} (${p.type})` : p.name)));
  const accountName = h("input", { name: "account_name", required: true, autocomplete: "off" });
  const accountDomain = h("input", { name: "account_domain", required: true, autocomplete: "off", placeholder: "example.com" });
  const amount = h("input", { name: "amount", inputmode: "decimal", autocomplete: "off", placeholder: "120000" });
  const currency = h("input", { name: "currency", autocomplete: "off", size: 4, maxlength: 3, placeholder: "USD" });
  const closeDate = h("input", { name: "close_date", type: "date" });
  const products = h("input", { name: "products", autocomplete: "off", placeholder: "platform, support" });
  const notes = h("textarea", { name: "notes", rows: 3 });
  const result = h("div", { id: "registration-result", "aria-live": "polite" });
  const button = h("button", { type: "submit", class: "primary" }, "Submit registration");
  const form = h(
    "form",
    {
      id: "registration-form",
      onsubmit: async (e) => {
        e.preventDefault();
        button.disabled = true;
        set(result, notice("Submitting…", "info"));
        const body = {
          vendor: vendor.value,
          account_name: accountName.value,
          account_domain: accountDomain.value,
          products: products.value.split(",").map((x) => x.trim()).filter(Boolean),
        };
        for (const [key, input] of [["amount", amount], ["currency", currency], ["close_date", closeDate], ["notes", notes]]) {
          if (input.value.trim()) body[key] = input.value.trim();
        }
        try {
          const r = await api("/registrations", { method: "POST", json: body });
          set(result, notice(`Registered ${r.account_domain} with ${r.vendor_name || "the vendor"}: waiting for the vendor's answer.`));
          ctx.toast("Registration submitted");
          for (const input of [accountName, accountDomain, amount, currency, closeDate, products, notes]) input.value = "";
          await reload();
        } catch (err) {
          set(result, errorBox(err));
        } finally {
          button.disabled = false;
        }
      },
    },
    h("div", { class: "form-grid" },
      field("Vendor", vendor),
      field("Account name", accountName),
      field("Account domain", accountDomain, "The account's web domain: how the vendor matches it."),
      field("Amount", amount, "Optional; an exact number."),
      field("Currency", currency, "Optional; ISO 4217, e.g. EUR. Empty: this node's default."),
      field("Close date", closeDate, "Optional."),
      field("Products", products, "Optional; comma-separated."),
    ),
    field("Notes", notes, "Optional; what the vendor should know."),
    button,
  );
  add(section, form, result);
  return section;
}
