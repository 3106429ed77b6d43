// Inbox: deal invitations waiting for this node (redacted until accepted), with accept/decline.
import { api, listAll } from "../api.js";
import { h, add, set, title, table, empty, errorBox, statusBadge, stageLabel, when, field } from "../ui.js";

export async function render(view, ctx) {
  const status = ctx.query.get("status") || "invited";
  const inbox = await listAll(`/inbox${status === "all" ? "" : `?status=${encodeURIComponent(status)}`}`);
  const msg = h("div", { "aria-live": "polite" });
  const select = h("select", { name: "status", id: "inbox-status" }, [["invited", "Waiting for an answer"], ["accepted", "Accepted"], ["declined", "Declined"], ["expired", "Expired"], ["all", "All"]].map(([v, l]) => h("option", { value: v, selected: v === status }, l)));
  select.addEventListener("change", () => ctx.navigate(`#/inbox?status=${select.value}`));
  async function respond(item, what) {
    try {
      await api(`/deals/${encodeURIComponent(item.deal_id)}/${what}`, { method: "POST" });
      ctx.toast(what === "accept" ? "Accepted" : "Declined");
      ctx.refresh();
    } catch (e) {
      set(msg, errorBox(e));
    }
  }
  const rows = inbox.items.map((item) =>
    h(
      "tr",
      { dataset: { deal: item.deal_id } },
      h("td", {}, h("a", { href: `#/deals/${item.deal_id}` }, item.title || "Invitation")),
      h("td", {}, item.from_name || item.from || "—"),
      h("td", {}, item.account_domain || "—"),
      h("td", {}, stageLabel(item.stage)),
      h("td", {}, statusBadge(item.status)),
      h("td", {}, when(item.expires_at)),
      h(
        "td",
        { class: "actions" },
        item.status === "invited" && ctx.can("manager")
          ? [h("button", { type: "button", class: "primary", onclick: () => respond(item, "accept") }, "Accept"), h("button", { type: "button", onclick: () => respond(item, "decline") }, "Decline")]
          : null,
      ),
    ),
  );
  add(
    view,
    title("Inbox"),
    h("div", { class: "filters" }, field("Show", select)),
    msg,
    inbox.items.length ? table(["Deal", "From", "Account", "Stage", "Status", "Expires", ""], rows, { id: "inbox-table" }) : empty(status === "invited" ? "No invitations waiting. Partners' deal invitations appear here." : "Nothing here."),
  );
  return {};
}
