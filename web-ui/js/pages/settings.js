// My e-mail: the signed-in user's notification choices (GET/PUT /api/v1/me/notifications):
// an address, which notifications to get, and a digest instead of one mail each.
import { api } from "../api.js";
import { h, showError, add, set, title, field, errorBox, notice } from "../ui.js";

export async function render(view, ctx) {
  add(view, title("My e-mail notifications"));
  if (!ctx.me.username) {
    add(view, h("p", { class: "notice info", role: "status" }, "You are signed in with an API token: e-mail notifications belong to a user. Sign in with a username to choose yours."));
    return {};
  }
  const s = await api("/me/notifications");
  const email = h("input", { type: "email", name: "email", autocomplete: "email", value: s.email || "", placeholder: "you@example.com" });
  const boxes = s.available.map((n) => h("label", { class: "check" }, h("input", { type: "checkbox", name: "events", value: n.name, checked: s.events.includes(n.name) }), ` ${n.description}`));
  const digest = h("input", { type: "checkbox", name: "digest", id: "digest", checked: s.digest });
  const out = h("div", { id: "settings-result", "aria-live": "polite" });
  const form = h(
    "form",
    {
      id: "notifications-form",
      class: "card",
      // The node checks the address and says what is wrong in its own words.
      novalidate: true,
      onsubmit: async (e) => {
        e.preventDefault();
        const body = { email: email.value.trim() || null, events: boxes.map((b) => b.querySelector("input")).filter((i) => i.checked).map((i) => i.value), digest: digest.checked };
        try {
          const saved = await api("/me/notifications", { method: "PUT", json: body });
          set(out, notice(saved.email && saved.events.length ? `Saved: ${saved.events.length} notification${saved.events.length === 1 ? "" : "s"} to ${saved.email}${saved.digest ? ", as a digest" : ""}.` : "Saved: no e-mail."));
          ctx.toast("Notification settings saved");
        } catch (err) {
          showError(out, err);
        }
      },
    },
    s.smtp_configured ? null : h("p", { class: "notice info", role: "status", id: "smtp-off" }, "This node has no mail server configured yet (smtp_url in cosell.toml): your choices are kept, and mails start once an admin sets one."),
    field("E-mail address", email, "Empty: no e-mail at all."),
    h("fieldset", {}, h("legend", {}, "E-mail me when"), boxes),
    h("label", { class: "check" }, digest, " Send one digest a day instead of a mail each time"),
    h("div", {}, h("button", { type: "submit", class: "primary" }, "Save")),
    out,
  );
  add(view, h("p", { class: "hint" }, "Each mail links to the page in this web UI where you can act on it."), form);
  return {};
}
