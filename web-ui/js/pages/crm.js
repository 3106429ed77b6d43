// CRM connection (Salesforce or HubSpot): status (last sync, counts, next run, last error,
// refused records), the initial load's progress, "Sync now", and for admins connect and
// disconnect. The credential goes to the node once and is never shown again (the API never
// returns it).
import { api } from "../api.js";
import { can } from "../app.js";
import { h, add, title, table, field, errorBox, when, badge, num, confirmButton } from "../ui.js";

const POLL_MS = 1000;

export async function render(view, ctx) {
  const s = await api("/crm");
  let timer = null;
  const progress = h("div", { id: "crm-progress", "aria-live": "polite" }, progressOf(s));
  if (s.connected) {
    add(view, title("CRM"), statusCard(s, progress, ctx), failuresCard(s));
    if (s.state === "syncing") timer = poll(progress, ctx);
  } else {
    add(view, title("CRM"), h("section", { class: "card", "aria-labelledby": "h-crm-none" },
      h("h2", { id: "h-crm-none" }, "Not connected"),
      h("p", {}, "Connect Salesforce or HubSpot to load accounts and opportunities from it and keep them in step; the co-sell status of what you share can be written back to it."),
    ));
  }
  if (can("admin") && !s.connected) add(view, connectForm(ctx));
  return { stop: () => clearTimeout(timer) };
}

function progressOf(s) {
  if (!s.progress) return null;
  const { object, done, total } = s.progress;
  return h("div", {},
    h("label", { for: "crm-bar" }, `Loading ${object === "account" ? "accounts" : "opportunities"}: ${num(done)} of ${num(total)}`),
    h("progress", { id: "crm-bar", max: String(Math.max(total, 1)), value: String(done) }, `${done} of ${total}`));
}

function poll(box, ctx) {
  return setTimeout(async function tick() {
    // The page was left: stop following.
    if (!box.isConnected) return;
    try {
      const s = await api("/crm");
      if (s.state === "syncing") {
        box.replaceChildren(...[progressOf(s)].filter(Boolean));
        setTimeout(tick, POLL_MS);
      } else {
        ctx.refresh();
      }
    } catch (e) {
      box.replaceChildren(errorBox(e));
    }
  }, POLL_MS);
}

function statusCard(s, progress, ctx) {
  const c = s.counts;
  const stateBadge = s.state === "syncing" ? badge("syncing", "ok") : s.state === "backing_off" ? badge("backing off", "warn") : badge("idle");
  return h("section", { class: "card", "aria-labelledby": "h-crm" },
    h("h2", { id: "h-crm" }, s.vendor === "salesforce" ? "Salesforce" : "HubSpot"),
    h("dl", { class: "facts" },
      h("dt", {}, "Server"), h("dd", {}, h("code", {}, s.connection.base_url)),
      h("dt", {}, "Signs in with"), h("dd", {}, s.connection.auth.flow.replaceAll("_", " ")),
      h("dt", {}, "State"), h("dd", { id: "crm-state" }, stateBadge),
      h("dt", {}, "Last sync"), h("dd", {}, s.last_sync_at ? when(s.last_sync_at) : "not yet"),
      h("dt", {}, "Next run"), h("dd", {}, s.next_run_at ? when(s.next_run_at) : "—"),
      h("dt", {}, "Records"), h("dd", { id: "crm-counts" }, `${num(c.accounts)} accounts, ${num(c.opportunities)} opportunities, ${num(c.deleted)} deleted, ${num(c.failed)} refused, ${num(c.written_back)} written back`),
      s.last_error ? h("dt", {}, "Last error") : null,
      s.last_error ? h("dd", { id: "crm-error" }, s.last_error) : null,
    ),
    progress,
    can("manager")
      ? h("button", { type: "button", class: "primary", id: "crm-sync", onclick: async (e) => {
          e.target.disabled = true;
          try { await api("/crm/sync", { method: "POST" }); ctx.toast("Sync started"); setTimeout(() => ctx.refresh(), 300); } catch (err) { progress.replaceChildren(errorBox(err)); e.target.disabled = false; }
        } }, "Sync now")
      : null,
    " ",
    can("admin") ? confirmButton("Disconnect", "Disconnect the CRM? Its credential and sync state are forgotten; the records stay.", async () => { await api("/crm/connection", { method: "DELETE" }); ctx.refresh(); }) : null,
  );
}

function failuresCard(s) {
  if (!s.failures.length) return null;
  return h("section", { class: "card", "aria-labelledby": "h-crm-failures" },
    h("h2", { id: "h-crm-failures" }, "Refused records"),
    h("p", {}, "Each was left out and the others taken; fix it in the CRM and the next sync takes it."),
    table(["Object", "CRM id", "Field", "Why", "When"], s.failures.map((f) => h("tr", {},
      h("td", {}, f.object), h("td", {}, h("code", {}, f.crm_id)), h("td", {}, f.field ? h("code", {}, f.field) : "—"), h("td", {}, f.message), h("td", {}, when(f.at))))));
}

function connectForm(ctx) {
  const vendor = h("select", { name: "vendor" }, h("option", { value: "salesforce" }, "Salesforce"), h("option", { value: "hubspot" }, "HubSpot"));
  const baseUrl = h("input", { type: "url", name: "base_url", placeholder: "default: https://login.salesforce.com" });
  const clientId = h("input", { name: "client_id", autocomplete: "off" });
  const username = h("input", { name: "username", autocomplete: "off" });
  const secret = h("textarea", { name: "secret", rows: 4, autocomplete: "off", spellcheck: "false" });
  const writeBack = h("input", { name: "write_back", placeholder: "partner_stages=Partner_Stage__c" });
  const sfOnly = h("div", {}, field("Consumer key", clientId), field("Username", username, "JWT bearer flow: the user the connected app acts as."));
  const secretLabel = h("span", {}, "Private key (PEM)");
  const sync = () => {
    const hub = vendor.value === "hubspot";
    sfOnly.hidden = hub;
    baseUrl.placeholder = hub ? "default: https://api.hubapi.com" : "default: https://login.salesforce.com";
    secretLabel.textContent = hub ? "Private app token" : "Private key (PEM)";
  };
  vendor.addEventListener("change", sync);
  const out = h("div", { id: "crm-connect-result", "aria-live": "polite" });
  const secretField = field("Secret", secret);
  secretField.querySelector("label").replaceChildren(secretLabel);
  return h("form", { class: "card", id: "crm-connect", onsubmit: async (e) => {
      e.preventDefault();
      const hub = vendor.value === "hubspot";
      const fields = {};
      for (const pair of writeBack.value.split(",").map((x) => x.trim()).filter(Boolean)) {
        const [k, v] = pair.split("=");
        fields[(k || "").trim()] = (v || "").trim();
      }
      const body = {
        vendor: vendor.value,
        base_url: baseUrl.value.trim() || null,
        auth: hub ? { flow: "private_app_token", token: secret.value.trim() } : { flow: "jwt", client_id: clientId.value.trim(), username: username.value.trim(), private_key: secret.value.trim() },
        write_back: { fields, activity: false },
      };
      try {
        await api("/crm/connection", { method: "PUT", json: body });
        secret.value = "";
        ctx.toast("Connected: the initial load runs now");
        ctx.refresh();
      } catch (err) {
        out.replaceChildren(errorBox(err));
      }
    } },
    h("h2", {}, "Connect a CRM"),
    field("CRM", vendor),
    field("Server", baseUrl, "Leave empty for the vendor's own; a My Domain or sandbox login server for Salesforce."),
    sfOnly,
    secretField,
    field("Write back", writeBack, "Co-sell facts to CRM fields, comma-separated: partners, partner_status, partner_stages, attribution, registration."),
    h("button", { type: "submit", class: "primary" }, "Connect"),
    out,
  );
}
