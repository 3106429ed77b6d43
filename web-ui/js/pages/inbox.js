// Inbox: deal invitations waiting for this node (redacted until accepted), with accept/decline.
import { api, listAll } from "../api.js";
import { renderAnnouncements } from "./announcements.js";
import { h, showError, add, set, title, table, stacked, empty, errorBox, statusBadge, stageLabel, ago, field } from "../ui.js";

/** Where the focus goes after an answer: the next invitation's first button (or the heading). */
let focusAfter = null;

function applyFocus(view) {
  if (!focusAfter || Date.now() > focusAfter.until) return;
  const { deal } = focusAfter;
  setTimeout(() => {
    const row = deal && view.querySelector(`#inbox-table tr[data-deal="${CSS.escape(deal)}"]`);
    const target = (row && row.querySelector("button")) || view.querySelector("#inbox-table button") || view.querySelector("h1");
    if (target && view.isConnected) target.focus();
  }, 0);
}

export async function render(view, ctx) {
  const status = ctx.query.get("status") || "invited";
  const inbox = await listAll(`/inbox${status === "all" ? "" : `?status=${encodeURIComponent(status)}`}`);
  const msg = h("div", { "aria-live": "polite" });
  const select = h("select", { name: "status", id: "inbox-status" }, [["invited", "Waiting for an answer"], ["accepted", "Accepted"], ["declined", "Declined"], ["expired", "Expired"], ["all", "All"]].map(([v, l]) => h("option", { value: v, selected: v === status }, l)));
  select.addEventListener("change", () => ctx.navigate(`#/inbox?status=${select.value}`));
  // After an answer the keyboard goes to the next invitation's Accept (or the list); after a
  // failure, to the error.
  async function respond(item, what) {
    const ids = inbox.items.filter((x) => x.status === "invited").map((x) => x.deal_id);
    // Kept across the re-renders the answer causes (this one and the live event's).
    focusAfter = { deal: ids[ids.indexOf(item.deal_id) + 1] || null, until: Date.now() + 5000 };
    try {
      const reasonBox = view.querySelector(`#decline-reason-${CSS.escape(item.deal_id)}`);
      const reason = what === "decline" && reasonBox ? reasonBox.value.trim() : "";
      await api(`/deals/${encodeURIComponent(item.deal_id)}/${what}`, { method: "POST", json: reason ? { reason } : undefined });
      ctx.toast(what === "accept" ? "Accepted" : "Declined");
      await ctx.refresh();
    } catch (e) {
      focusAfter = null;
      showError(msg, e);
    }
  }
  const rows = inbox.items.map((item) =>
    h(
      "tr",
      { dataset: { deal: item.deal_id } },
      h(
        "td",
        {},
        h("a", { href: `#/deals/${item.deal_id}` }, item.title || "Invitation"),
        item.message ? h("p", { class: "invitation-message", dataset: { field: "message" } }, h("span", { class: "hint" }, "Message: "), item.message) : null,
        item.decline_reason ? h("p", { class: "hint decline-reason" }, `You declined: ${item.decline_reason}`) : null,
      ),
      h("td", {}, item.from_name || item.from || "—"),
      h("td", {}, item.account_domain || "—"),
      h("td", {}, stageLabel(item.stage)),
      h("td", {}, statusBadge(item.status)),
      h("td", {}, item.expires_at ? ago(item.expires_at) : "—"),
      h(
        "td",
        { class: "actions" },
        item.status === "invited" && ctx.can("manager")
          ? [
              h("button", { type: "button", class: "primary", onclick: () => respond(item, "accept") }, "Accept"),
              " ",
              h("button", { type: "button", onclick: () => respond(item, "decline") }, "Decline"),
              h("label", { class: "sr-only", for: `decline-reason-${item.deal_id}` }, `Reason for declining ${item.title || "this invitation"} (optional)`),
              h("input", { type: "text", class: "decline-reason-input", id: `decline-reason-${item.deal_id}`, maxlength: 500, placeholder: "Reason (optional)" }),
            ]
          : null,
      ),
    ),
  );
  add(
    view,
    title("Inbox"),
    h("div", { class: "filters" }, field("Show", select)),
    msg,
    inbox.items.length ? stacked(table(["Deal", "From", "Account", "Stage", "Status", "Expires", ""], rows, { id: "inbox-table" })) : empty(status === "invited" ? "No invitations waiting. Partners' deal invitations appear here." : "Nothing here."),
  );
  await renderHub(view, ctx, status, msg);
  const reloadAnnouncements = await renderAnnouncements(view, ctx, msg);
  applyFocus(view);
  return {
    onEvent(event) {
      if (event.kind.startsWith("announcement.")) reloadAnnouncements().catch(() => {});
      else if (event.kind.startsWith("deal.") || event.kind === "lagged") ctx.refresh();
    },
  };
}

// Invitations from AWS ACE and Microsoft Partner Center (docs/hubs.md): accepting creates the
// opportunity on this node.
async function renderHub(view, ctx, status, msg) {
  const known = ["invited", "accepted", "declined"];
  if (status !== "all" && !known.includes(status)) return;
  let hub;
  try {
    hub = await api(`/hub/invitations${status === "all" ? "" : `?status=${encodeURIComponent(status)}`}`);
  } catch (e) {
    return;
  }
  if (!hub.items.length) return;
  async function answer(item, what) {
    try {
      const done = await api(`/hub/invitations/${encodeURIComponent(item.id)}/${what}`, { method: "POST" });
      ctx.toast(what === "accept" ? `Accepted: opportunity ${done.opportunity_id}` : "Declined");
      await ctx.refresh();
    } catch (e) {
      showError(msg, e);
    }
  }
  const rows = hub.items.map((item) =>
    h(
      "tr",
      {},
      h("td", {}, item.title || "Invitation"),
      h("td", {}, `${item.from} (${item.hub === "ace" ? "AWS ACE" : "Microsoft"})`),
      h("td", {}, item.account_domain || item.account_name || "—"),
      h("td", {}, stageLabel(item.stage)),
      h("td", {}, statusBadge(item.status)),
      h("td", {}, item.expires_at || "—"),
      h(
        "td",
        { class: "actions" },
        item.status === "invited" && ctx.can("manager")
          ? [h("button", { type: "button", class: "primary", onclick: () => answer(item, "accept") }, "Accept"), " ", h("button", { type: "button", onclick: () => answer(item, "decline") }, "Decline")]
          : item.opportunity_id
            ? h("a", { href: `#/opportunities/${encodeURIComponent(item.opportunity_id)}` }, "Opportunity")
            : null,
      ),
    ),
  );
  add(view, h("h2", {}, "From AWS and Microsoft"), stacked(table(["Opportunity", "From", "Account", "Stage", "Status", "Expires", ""], rows, { id: "hub-invitations-table" })));
}
