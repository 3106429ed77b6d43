// Partners: list with status and last seen, invite (copyable token), join, remove.
import { api } from "../api.js";
import { h, add, set, title, table, stacked, empty, errorBox, statusBadge, when, ago, field, notice, confirmButton, copyText, roleLabel, LOCALE } from "../ui.js";

const TYPES = ["reseller", "distributor", "si", "isv", "msp", "referral", "vendor"];

/** A select of partner types: what the other company is to this one. */
function typeSelect(id, selected) {
  return h("select", { name: "type", id }, TYPES.map((t) => h("option", { value: t, selected: t === selected }, roleLabel(t))));
}

export async function render(view, ctx) {
  const partners = await api("/partners?limit=1000");
  const admin = ctx.can("admin");
  const msg = h("div", { id: "partners-msg", "aria-live": "polite" });
  const rows = partners.items.map((p) =>
    h(
      "tr",
      { dataset: { partner: p.id } },
      h("td", {}, h("strong", {}, p.name), h("br"), h("code", { class: "id", title: p.id }, p.id)),
      h("td", {}, statusBadge(p.status), h("div", { class: "hint partner-type", dataset: { type: p.type || "" } }, roleLabel(p.type)), p.removed_by === "partner" ? h("div", { class: "hint" }, "ended by the partner") : null),
      h("td", {}, p.status === "active" ? (p.connected ? h("span", { class: "badge ok" }, "connected") : h("span", { class: "badge" }, "offline")) : "—"),
      h("td", {}, p.connected ? "now" : ago(p.last_seen)),
      h("td", { class: "policy-summary" }, p.policy || "—"),
      h(
        "td",
        { class: "actions" },
        p.status === "active" ? h("a", { href: `#/partners/${encodeURIComponent(p.id)}/policy`, class: "button-link" }, admin ? "Edit policy" : "Policy") : null,
        p.status === "active" && ctx.features.mapping ? [" ", h("a", { href: `#/mapping?partner=${encodeURIComponent(p.id)}`, class: "button-link" }, "Account mapping")] : null,
        admin && p.status === "active"
          ? [" ", confirmButton("Remove", `Remove ${p.name}? They receive no further changes.`, async () => {
              try {
                await api(`/partners/${encodeURIComponent(p.id)}`, { method: "DELETE" });
                ctx.toast(`${p.name} removed`);
                ctx.refresh();
              } catch (e) {
                set(msg, errorBox(e));
              }
            })]
          : null,
      ),
    ),
  );
  add(view, 
    title("Partners"),
    msg,
    partners.items.length
      ? stacked(table(["Partner", "Status and type", "Connection", "Last seen", "What is shared", ""], rows, { id: "partners-table" }))
      : empty(admin ? "No partners yet. Invite a partner, or join one with the token they sent you." : "No partners yet."),
    admin ? h("div", { class: "grid-2" }, inviteCard(), joinCard(ctx)) : null,
  );
  return {};
}

function inviteCard() {
  const out = h("div", { id: "invite-result", "aria-live": "polite" });
  const days = h("input", { type: "number", min: 1, max: 90, value: 7, name: "expires_in_days" });
  const type = typeSelect("invite-type", "reseller");
  return h(
    "section",
    { class: "card", "aria-labelledby": "h-invite" },
    h("h2", { id: "h-invite" }, "Invite a partner"),
    h("p", { class: "hint" }, "Send the token to the partner over a channel you trust; it works once."),
    h(
      "form",
      {
        id: "invite-form",
        onsubmit: async (e) => {
          e.preventDefault();
          try {
            const r = await api("/partners/invites", { method: "POST", json: { type: type.value, expires_in_days: Number(days.value) || 7 } });
            const box = h("textarea", { id: "invite-token", readonly: true, rows: 4 }, r.token);
            const copy = h("button", { type: "button", onclick: async () => { box.select(); const ok = await copyText(r.token); copy.textContent = ok ? "Copied" : "Select and copy"; } }, "Copy");
            set(out, field("Invite token", box, `Valid until ${new Date(r.expires_at).toLocaleString(LOCALE, { dateStyle: "medium", timeStyle: "short" })}.`), copy);
            box.focus();
            box.select();
          } catch (err) {
            set(out, errorBox(err));
          }
        },
      },
      field("They will be your", type, "Their type decides their role in the deals you share with them."),
      field("Valid for (days)", days),
      h("button", { type: "submit", class: "primary" }, "Create invite"),
    ),
    out,
  );
}

function joinCard(ctx) {
  const token = h("textarea", { name: "token", id: "join-token", rows: 4, required: true });
  const type = typeSelect("join-type", "vendor");
  const out = h("div", { id: "join-result", "aria-live": "polite" });
  const button = h("button", { type: "submit", class: "primary" }, "Join");
  return h(
    "section",
    { class: "card", "aria-labelledby": "h-join" },
    h("h2", { id: "h-join" }, "Join a partner"),
    h(
      "form",
      {
        id: "join-form",
        onsubmit: async (e) => {
          e.preventDefault();
          button.disabled = true;
          set(out, notice("Connecting…", "info"));
          try {
            const p = await api("/partners/join", { method: "POST", json: { token: token.value.trim(), type: type.value } });
            ctx.toast(`${p.name} is now a partner`);
            ctx.refresh();
          } catch (err) {
            set(out, errorBox(err));
          } finally {
            button.disabled = false;
          }
        },
      },
      field("Invite token", token, "Paste the token the partner sent you."),
      field("They are your", type, "Usually the company that invites you is your vendor."),
      button,
    ),
    out,
  );
}
