// Webhooks (admin): list, add, remove, and each one's recent deliveries.
import { api } from "../api.js";
import { h, add, set, title, table, stacked, empty, field, errorBox, when, confirmButton, copyText } from "../ui.js";

export async function render(view, ctx) {
  const hooks = await api("/webhooks");
  const msg = h("div", { "aria-live": "polite", id: "webhook-msg" });
  const rows = hooks.items.map((w) => {
    const deliveries = h("div", { class: "deliveries" });
    return [
      h(
        "tr",
        { dataset: { webhook: w.id } },
        h("td", {}, h("code", {}, w.url)),
        h("td", {}, (w.events || []).join(", ")),
        h("td", {}, when(w.created_at_ms)),
        h(
          "td",
          { class: "actions" },
          h("button", { type: "button", "aria-expanded": "false", onclick: (e) => toggle(e.target, w.id, deliveries) }, "Deliveries"),
          " ",
          confirmButton("Remove", `Remove the webhook to ${w.url}?`, async () => {
            try {
              await api(`/webhooks/${encodeURIComponent(w.id)}`, { method: "DELETE" });
              ctx.toast("Webhook removed");
              ctx.refresh();
            } catch (e) {
              set(msg, errorBox(e));
            }
          }),
        ),
      ),
      h("tr", { class: "detail-row" }, h("td", { colspan: 4 }, deliveries)),
    ];
  });

  const url = h("input", { type: "url", name: "url", required: true, placeholder: "https://crm.example.com/hooks/cosell" });
  const events = h("input", { name: "events", placeholder: "deal.*, import.completed" });
  const secret = h("input", { name: "secret", autocomplete: "off" });
  const form = h(
    "form",
    {
      id: "webhook-form",
      class: "card",
      onsubmit: async (e) => {
        e.preventDefault();
        try {
          const body = { url: url.value.trim(), events: events.value.split(",").map((x) => x.trim()).filter(Boolean) };
          if (secret.value.trim()) body.secret = secret.value.trim();
          const w = await api("/webhooks", { method: "POST", json: body });
          // The secret is shown once: it stays until the user says Done (no timed refresh).
          const box = h("input", { id: "webhook-secret", readonly: true, value: w.secret, class: "token-box" });
          const copy = h("button", { type: "button", onclick: async () => { box.select(); const ok = await copyText(w.secret); copy.textContent = ok ? "Copied" : "Select and copy"; } }, "Copy");
          view.querySelector("#webhook-created").replaceChildren(
            h("div", { class: "notice ok", role: "status" }, h("p", {}, `Added the webhook to ${w.url || url.value.trim()}. Copy its signing secret now: it is not shown again.`), field("Signing secret", box), copy, " ", h("button", { type: "button", id: "webhook-done", onclick: () => ctx.refresh() }, "Done")),
          );
          box.focus();
          box.select();
          ctx.toast("Webhook added");
        } catch (err) {
          view.querySelector("#webhook-created").replaceChildren(errorBox(err));
        }
      },
    },
    h("h2", {}, "Add a webhook"),
    field("URL", url),
    field("Events", events, "Comma-separated; empty means every event. deal.* matches all deal events."),
    field("Secret", secret, "Optional: a secret is generated when empty. Deliveries are signed with HMAC-SHA256."),
    h("button", { type: "submit", class: "primary" }, "Add webhook"),
    h("div", { id: "webhook-created", "aria-live": "polite" }),
  );
  add(view, 
    title("Webhooks"),
    msg,
    hooks.items.length ? stacked(table(["URL", "Events", "Added", ""], rows, { id: "webhooks-table" })) : empty("No webhooks. Add one to push deal and import events to another system."),
    form,
  );
  return {};
}

async function toggle(button, id, box) {
  if (button.getAttribute("aria-expanded") === "true") {
    button.setAttribute("aria-expanded", "false");
    set(box);
    return;
  }
  button.setAttribute("aria-expanded", "true");
  try {
    const r = await api(`/webhooks/${encodeURIComponent(id)}/deliveries`);
    if (!r.items.length) {
      set(box, empty("No deliveries yet."));
      return;
    }
    const keys = Object.keys(r.items[0]).filter((k) => typeof r.items[0][k] !== "object" || r.items[0][k] === null).slice(0, 7);
    set(box, table(keys, r.items.map((d) => h("tr", {}, keys.map((k) => h("td", {}, d[k] === null || d[k] === undefined ? "—" : String(d[k])))))));
  } catch (e) {
    set(box, errorBox(e));
  }
}
