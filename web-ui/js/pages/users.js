// Users and API tokens (admin): people who sign in to this web UI with a role, and tokens for
// scripts and integrations (shown once, revocable).
import { api } from "../api.js";
import { h, add, set, title, table, stacked, empty, errorBox, badge, when, field, confirmButton, copyText, formatDetail } from "../ui.js";

const ROLES = ["viewer", "manager", "admin"];
const ROLES_HINT = "A viewer reads; a manager also imports, shares and answers deals and registrations; an admin also manages policies, partners, users, tokens and webhooks.";

export async function render(view, ctx) {
  const [users, tokens] = await Promise.all([api("/users"), api("/tokens")]);
  add(view, title("Users and API tokens"), usersSection(users.items, ctx), tokensSection(tokens.items, ctx));
  return {};
}

function roleSelect(name) {
  return h("select", { name }, ROLES.map((v) => h("option", { value: v, selected: v === "viewer" }, v)));
}

function usersSection(users, ctx) {
  const msg = h("div", { id: "users-msg", "aria-live": "polite" });
  const rows = users.map((u) =>
    h(
      "tr",
      { dataset: { user: u.username } },
      h(
        "td",
        {},
        h("strong", {}, u.username),
        ctx.me.username === u.username ? h("span", { class: "hint" }, " (you)") : null,
        // Managed by the identity provider: signs in with single sign-on, provisioned over SCIM.
        u.source === "scim" ? h("span", { class: "hint" }, " (SCIM)") : u.source === "oidc" ? h("span", { class: "hint" }, " (single sign-on)") : null,
        u.active === false ? h("span", { class: "hint" }, " — deactivated, cannot sign in") : null,
      ),
      h("td", {}, badge(u.role)),
      h("td", {}, when(u.created_at_ms)),
      h(
        "td",
        { class: "actions" },
        ctx.me.username === u.username
          ? null
          : confirmButton("Remove", `Remove ${u.username}? Their sessions end now.`, async () => {
              try {
                await api(`/users/${encodeURIComponent(u.username)}`, { method: "DELETE" });
                ctx.toast(`${u.username} removed`);
                ctx.refresh();
              } catch (e) {
                set(msg, errorBox(e));
              }
            }),
      ),
    ),
  );
  const username = h("input", { name: "username", autocomplete: "off", required: true });
  const password = h("input", { name: "new-password", type: "password", autocomplete: "new-password", required: true });
  const role = roleSelect("role");
  const out = h("div", { id: "user-result", "aria-live": "polite" });
  const form = h(
    "form",
    {
      id: "user-form",
      onsubmit: async (e) => {
        e.preventDefault();
        try {
          const u = await api("/users", { method: "POST", json: { username: username.value.trim(), password: password.value, role: role.value } });
          ctx.toast(`${u.username} can now sign in as ${u.role}`);
          ctx.refresh();
        } catch (err) {
          set(out, errorBox(err, formatDetail));
        }
      },
    },
    h("h3", {}, "Add a user"),
    h("div", { class: "form-grid" }, field("Username", username), field("Password", password, "At least 10 characters. Give it to the person over a channel you trust."), field("Role", role)),
    h("p", { class: "hint" }, ROLES_HINT),
    h("button", { type: "submit", class: "primary" }, "Add user"),
    out,
  );
  return h(
    "section",
    { class: "card", id: "users", "aria-labelledby": "h-users" },
    h("h2", { id: "h-users" }, "Users"),
    msg,
    users.length ? stacked(table(["User", "Role", "Added", ""], rows, { id: "users-table" })) : empty("No users yet: only API tokens sign in. Add a user so people can sign in with a password."),
    form,
  );
}

function tokensSection(tokens, ctx) {
  const msg = h("div", { id: "tokens-msg", "aria-live": "polite" });
  const rows = tokens.map((t) =>
    h(
      "tr",
      { dataset: { token: t.id } },
      h("td", {}, h("strong", {}, t.name)),
      h("td", {}, badge(t.role)),
      h("td", {}, when(t.created_at_ms)),
      h(
        "td",
        { class: "actions" },
        confirmButton("Revoke", `Revoke the token "${t.name}"? Anything using it stops working now${t.name === "admin token from init" ? ", the cosell command on this node's data directory included" : ""}.`, async () => {
          try {
            await api(`/tokens/${encodeURIComponent(t.id)}`, { method: "DELETE" });
            ctx.toast(`Token ${t.name} revoked`);
            ctx.refresh();
          } catch (e) {
            set(msg, errorBox(e));
          }
        }),
      ),
    ),
  );
  const name = h("input", { name: "token-name", autocomplete: "off", required: true, maxlength: 200, placeholder: "CRM sync" });
  const role = roleSelect("token-role");
  const out = h("div", { id: "token-result", "aria-live": "polite" });
  const form = h(
    "form",
    {
      id: "token-form-create",
      onsubmit: async (e) => {
        e.preventDefault();
        try {
          const t = await api("/tokens", { method: "POST", json: { name: name.value.trim(), role: role.value } });
          const box = h("input", { id: "new-token", readonly: true, value: t.token, class: "token-box" });
          const copy = h("button", { type: "button", onclick: async () => { box.select(); const ok = await copyText(t.token); copy.textContent = ok ? "Copied" : "Select and copy"; } }, "Copy");
          set(
            out,
            h("div", { class: "notice ok", role: "status" }, h("p", {}, `Token "${name.value.trim()}" created with the ${t.role} role. Copy it now: it is not shown again.`), field("New API token", box), copy, " ", h("button", { type: "button", onclick: () => ctx.refresh() }, "Done")),
          );
          box.focus();
          box.select();
        } catch (err) {
          set(out, errorBox(err, formatDetail));
        }
      },
    },
    h("h3", {}, "Create an API token"),
    h("div", { class: "form-grid" }, field("Token name", name, "What it is for, so you know what to revoke."), field("Token role", role)),
    h("p", { class: "hint" }, ROLES_HINT),
    h("button", { type: "submit", class: "primary" }, "Create token"),
    out,
  );
  return h(
    "section",
    { class: "card", id: "tokens", "aria-labelledby": "h-tokens" },
    h("h2", { id: "h-tokens" }, "API tokens"),
    h("p", { class: "hint" }, "Sent as Authorization: Bearer TOKEN by scripts and integrations. The node keeps only a hash of each token."),
    msg,
    tokens.length ? stacked(table(["Name", "Role", "Created", ""], rows, { id: "tokens-table" })) : empty("No API tokens."),
    form,
  );
}
