// Announcements, shown on the inbox page: the ones vendors sent this node (unread first, with a
// "Mark read" button whose signed step is the vendor's read receipt), the ones this node sent
// (how many partners read each), and, for managers, a form to send one to an audience.
import { api } from "../api.js";
import { h, add, set, table, stacked, empty, errorBox, field, badge, ago, showError } from "../ui.js";

export async function renderAnnouncements(view, ctx, msg) {
  const box = h("section", { id: "announcements", "aria-labelledby": "h-announcements" });
  add(view, box);
  async function load() {
    const list = await api("/announcements");
    const received = list.items.filter((a) => a.direction === "received");
    const sent = list.items.filter((a) => a.direction === "sent");
    received.sort((a, b) => Number(a.read) - Number(b.read));
    set(
      box,
      h("h2", { id: "h-announcements" }, "Announcements ", list.unread ? badge(`${list.unread} unread`, "warn") : null),
      received.length ? stacked(table(["Announcement", "From", "Sent", ""], received.map((a) => receivedRow(a)), { id: "announcements-received" })) : empty("No announcements from your vendors yet."),
      sent.length ? [h("h3", {}, "Sent"), stacked(table(["Announcement", "Audience", "Sent", "Read by"], sent.map(sentRow), { id: "announcements-sent" }))] : null,
      ctx.can("manager") ? sendForm() : null,
    );
  }
  function receivedRow(a) {
    return h(
      "tr",
      { dataset: { announcement: a.id, read: String(a.read) } },
      h("td", {}, h("strong", {}, a.title), " ", a.read ? null : badge("unread", "warn"), h("p", { class: "announcement-body" }, a.body)),
      h("td", {}, a.from ? a.from.name : "—"),
      h("td", {}, ago(a.sent_at)),
      h("td", { class: "actions" }, a.read ? h("span", { class: "hint" }, "read") : h("button", { type: "button", onclick: () => markRead(a) }, `Mark "${a.title}" read`)),
    );
  }
  function sentRow(a) {
    return h(
      "tr",
      { dataset: { announcement: a.id } },
      h("td", {}, h("strong", {}, a.title), h("p", { class: "announcement-body" }, a.body)),
      h("td", {}, a.audience),
      h("td", {}, ago(a.sent_at)),
      h("td", { class: "read-count" }, `${a.read_count} of ${a.recipients}`),
    );
  }
  async function markRead(a) {
    try {
      await api(`/announcements/${encodeURIComponent(a.id)}/read`, { method: "POST" });
      ctx.toast("Marked read");
      await load();
    } catch (e) {
      showError(msg, e);
    }
  }
  function sendForm() {
    const to = h("input", { type: "text", id: "announce-to", name: "to", required: true, value: "all", maxlength: 80 });
    const titleBox = h("input", { type: "text", id: "announce-title", name: "title", required: true, maxlength: 200 });
    const body = h("textarea", { id: "announce-body", name: "body", required: true, rows: 4, maxlength: 10000 });
    const out = h("div", { "aria-live": "polite" });
    const form = h(
      "form",
      { id: "announce-form", "aria-labelledby": "h-announce" },
      h("h3", { id: "h-announce" }, "Send an announcement"),
      field("To", to, "all, tier:gold, type:reseller or region:EMEA"),
      field("Title", titleBox),
      field("Text", body),
      h("button", { type: "submit", class: "primary" }, "Send"),
      out,
    );
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      try {
        const a = await api("/announcements", { method: "POST", json: { to: to.value, title: titleBox.value, body: body.value } });
        ctx.toast(`Sent to ${a.recipients} partner(s)`);
        await load();
      } catch (err) {
        set(out, errorBox(err));
      }
    });
    return form;
  }
  try {
    await load();
  } catch (e) {
    set(box, errorBox(e));
  }
  return load;
}
