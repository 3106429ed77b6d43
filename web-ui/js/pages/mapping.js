// Account mapping with one partner: run it now, the latest matrix (my populations × theirs, with
// counts and the level both policies allow), a cell's overlapping accounts with both sides'
// allowed fields, and "Propose a deal" from an overlap. Admins manage the custom populations.
import { api, ApiError } from "../api.js";
import { h, add, set, title, table, stacked, empty, errorBox, badge, when, field, notice, confirmButton, fieldLabel, stageLabel, STAGES } from "../ui.js";

// Shown under a matrix with a cell at `counts` (SECURITY.md, account mapping).
const COUNTS_WARNING = "Against a dishonest partner, counts reveals which accounts overlap, as overlaps does. To refuse counts with this partner, set counts = \"refused\" in the [accounts] section of its policy: such cells are then hidden.";
const LEVEL_KIND = { hidden: "", counts: "warn", overlaps: "ok", all: "ok" };
const STATUSES = ["customer", "prospect", "partner", "other"];

export async function render(view, ctx) {
  const [partners, populations] = await Promise.all([api("/partners?limit=1000"), api("/populations")]);
  const active = partners.items.filter((p) => p.status === "active");
  add(view, title("Account mapping"), h("p", { class: "hint" }, "Find the accounts you have in common with a partner without revealing the rest: each side learns at most what the other's policy allows (its [accounts] section)."));
  if (!active.length) {
    add(view, empty("No partners yet. Account mapping runs with a partner.", ctx.can("admin") ? h("a", { href: "#/partners" }, "Invite a partner or join one") : null));
  } else {
    const chosen = active.find((p) => p.id === ctx.query.get("partner")) || active[0];
    add(view, await matrixSection(active, chosen, ctx));
  }
  add(view, populationsSection(populations.items, ctx));
  return {};
}

async function matrixSection(partners, partner, ctx) {
  const select = h("select", { name: "partner", id: "mapping-partner" }, partners.map((p) => h("option", { value: p.id, selected: p.id === partner.id }, `${p.name}${p.connected ? "" : " (offline)"}`)));
  select.addEventListener("change", () => ctx.navigate(`#/mapping?partner=${encodeURIComponent(select.value)}`));
  const msg = h("div", { id: "mapping-msg", "aria-live": "polite" });
  const matrixBox = h("div", { id: "mapping-matrix" });
  const drill = h("div", { id: "mapping-drill", "aria-live": "polite" });
  const run = h("button", { type: "button", class: "primary", id: "mapping-run" }, "Run mapping now");
  run.addEventListener("click", async () => {
    run.disabled = true;
    set(msg, notice(`Mapping with ${partner.name}…`, "info"));
    try {
      const matrix = await api(`/partners/${encodeURIComponent(partner.id)}/map`, { method: "POST" });
      set(msg, notice(`Mapped with ${partner.name}.`));
      paint(matrix);
      ctx.toast("Account mapping done");
    } catch (e) {
      set(msg, errorBox(e));
    } finally {
      run.disabled = false;
    }
  });

  function paint(matrix) {
    set(drill);
    if (!matrix) {
      set(matrixBox, empty(`No mapping with ${partner.name} yet.`, ctx.can("manager") ? h("p", {}, "Run one to see the accounts you have in common.") : null));
      return;
    }
    set(matrixBox, matrixTable(matrix, partner, (cell) => showCell(cell, partner, drill, ctx)));
  }

  let latest = null;
  try {
    latest = await api(`/partners/${encodeURIComponent(partner.id)}/map`);
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 404) set(msg, errorBox(e));
  }
  paint(latest);
  return h(
    "section",
    { class: "card", "aria-labelledby": "h-matrix" },
    h("h2", { id: "h-matrix" }, "Accounts in common"),
    h("div", { class: "filters" }, field("Partner", select), ctx.can("manager") ? run : null, h("a", { href: `#/partners/${encodeURIComponent(partner.id)}/policy`, class: "button-link" }, "What my policy shares")),
    msg,
    matrixBox,
    drill,
  );
}

function matrixTable(matrix, partner, onCell) {
  const mine = unique(matrix.cells.map((c) => c.mine));
  const theirs = unique(matrix.cells.map((c) => c.theirs));
  const byKey = new Map(matrix.cells.map((c) => [`${c.mine}\u0000${c.theirs}`, c]));
  const rows = mine.map((m) =>
    h(
      "tr",
      {},
      h("th", { scope: "row" }, populationLabel(m)),
      theirs.map((t) => {
        const c = byKey.get(`${m}\u0000${t}`);
        if (!c) return h("td", {}, "—");
        const label = c.count === null || c.count === undefined ? "hidden" : String(c.count);
        const content = [h("span", { class: "cell-count" }, label), " ", badge(c.level, LEVEL_KIND[c.level] || "")];
        const canOpen = (c.overlaps && c.overlaps.length) || (c.partner_accounts && c.partner_accounts.length);
        return h(
          "td",
          { class: "cell", dataset: { mine: m, theirs: t, level: c.level, count: label } },
          canOpen
            ? h("button", {
                type: "button", class: "cell-button", "aria-pressed": "false",
                "aria-label": `${label} accounts: my ${populationLabel(m)} × their ${populationLabel(t)} (${c.level}); show them`,
                onclick: (e) => {
                  for (const b of e.currentTarget.closest("table").querySelectorAll(".cell-button")) b.setAttribute("aria-pressed", String(b === e.currentTarget));
                  onCell(c);
                },
              }, content)
            : content,
        );
      }),
    ),
  );
  return h(
    "div",
    {},
    h("p", { class: "hint" }, "Computed ", when(matrix.computed_at), matrix.initiated_by ? ` · started by ${matrix.initiated_by === "partner" ? partner.name : "this node"}` : "", ". Rows: my populations; columns: ", partner.name, "'s. A cell's level is the lesser of what both policies allow."),
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { id: "mapping-table", class: "matrix" },
        h("caption", { class: "sr-only" }, `Accounts in common with ${partner.name}`),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Mine ↓ · theirs →"), theirs.map((t) => h("th", { scope: "col" }, populationLabel(t))))),
        h("tbody", {}, rows),
      ),
    ),
    matrix.cells.some((c) => c.level === "counts")
      ? h("p", { class: "hint", id: "counts-warning" }, COUNTS_WARNING)
      : null,
  );
}

function showCell(cell, partner, drill, ctx) {
  const heading = `My ${populationLabel(cell.mine)} × ${partner.name}'s ${populationLabel(cell.theirs)}`;
  const overlaps = cell.overlaps || [];
  const theirKeys = unique(overlaps.flatMap((o) => Object.keys(o.partner || {}))).sort();
  const out = h("div", { class: "propose-result", "aria-live": "polite" });
  const rows = overlaps.map((o) => {
    const result = h("div", { class: "propose-out" });
    return h(
      "tr",
      { dataset: { domain: o.domain || "" } },
      h("td", {}, h("strong", {}, o.name), h("br"), h("span", { class: "hint" }, o.domain || "")),
      theirKeys.map((k) => h("td", {}, fmt(o.partner && o.partner[k]))),
      h(
        "td",
        { class: "actions" },
        ctx.can("manager") ? h("button", { type: "button", class: "propose", onclick: () => propose(o, partner, result, ctx) }, "Propose a deal") : null,
        result,
      ),
    );
  });
  set(
    drill,
    h(
      "section",
      { class: "drill", id: "mapping-overlaps", "aria-labelledby": "h-drill", tabindex: "-1" },
      h("h3", { id: "h-drill" }, heading, ` · ${overlaps.length} account${overlaps.length === 1 ? "" : "s"}`),
      overlaps.length
        ? stacked(table(["My account", ...theirKeys.map((k) => `Their ${fieldLabel(k)}`), ""], rows, { id: "overlaps-table" }))
        : h("p", { class: "hint" }, "No overlapping accounts at this level."),
      cell.partner_accounts && cell.partner_accounts.length ? partnerAccounts(cell.partner_accounts, partner) : null,
      out,
    ),
  );
  drill.querySelector("#mapping-overlaps").focus();
}

function partnerAccounts(accounts, partner) {
  const keys = unique(accounts.flatMap((a) => Object.keys(a))).sort();
  return h(
    "div",
    {},
    h("h3", {}, `All of ${partner.name}'s accounts in this population (their policy shares them all)`),
    table(keys.map(fieldLabel), accounts.map((a) => h("tr", {}, keys.map((k) => h("td", {}, fmt(a[k])))))),
  );
}

// From an overlap: share one of my opportunities on that account with the partner (the share
// page, with the partner chosen), or say there is none.
async function propose(overlap, partner, out, ctx) {
  set(out, h("span", { class: "loading" }, "Looking for your opportunities…"));
  try {
    const page = await api(`/opportunities?account_id=${encodeURIComponent(overlap.account_id)}&limit=100`);
    const open = page.items.filter((o) => o.stage !== "closed_lost" && o.stage !== "launched");
    const candidates = open.length ? open : page.items;
    const shareLink = (o) => `#/opportunities/${encodeURIComponent(o.id)}?share=${encodeURIComponent(partner.id)}`;
    if (!candidates.length) {
      set(out, h("p", { class: "notice info", role: "status" }, `You have no opportunity on ${overlap.domain || overlap.name}. Create one in your CRM (or import it), then share it with ${partner.name}.`));
      return;
    }
    if (candidates.length === 1) {
      ctx.navigate(shareLink(candidates[0]));
      return;
    }
    set(out, h("p", { class: "hint" }, "Share which opportunity?"), h("ul", { class: "plain" }, candidates.map((o) => h("li", {}, h("a", { href: shareLink(o) }, o.name), ` (${stageLabel(o.stage)})`))));
  } catch (e) {
    set(out, errorBox(e));
  }
}

function populationsSection(items, ctx) {
  const admin = ctx.can("admin");
  const msg = h("div", { id: "populations-msg", "aria-live": "polite" });
  const list = (xs) => (xs && xs.length ? xs.map((x) => x.replace(/_/g, " ")).join(", ") : "any");
  const rows = items.map((p) =>
    h(
      "tr",
      { dataset: { population: p.name } },
      h("td", {}, h("strong", {}, populationLabel(p.name)), p.builtin ? [" ", badge("built-in")] : null),
      h("td", {}, list(p.statuses)),
      h("td", {}, list(p.stages)),
      h("td", {}, list(p.industries)),
      h("td", {}, list(p.countries)),
      h("td", {}, list(p.tags)),
      h(
        "td",
        { class: "actions" },
        admin && !p.builtin
          ? confirmButton("Remove", `Remove the population ${p.name}?`, async () => {
              try {
                await api(`/populations/${encodeURIComponent(p.name)}`, { method: "DELETE" });
                ctx.toast(`Population ${p.name} removed`);
                ctx.refresh();
              } catch (e) {
                set(msg, errorBox(e));
              }
            })
          : null,
      ),
    ),
  );
  return h(
    "section",
    { class: "card", id: "populations", "aria-labelledby": "h-populations" },
    h("h2", { id: "h-populations" }, "Populations"),
    h("p", { class: "hint" }, "The groups of your accounts a mapping compares. Empty criteria match every account; an account must meet every criterion given."),
    msg,
    stacked(table(["Name", "Statuses", "Opportunity stages", "Industries", "Countries", "Tags", ""], rows, { id: "populations-table" })),
    admin ? populationForm(ctx) : null,
  );
}

function populationForm(ctx) {
  const name = h("input", { name: "name", required: true, autocomplete: "off", pattern: "[a-z0-9_-]{1,40}", placeholder: "enterprise_de" });
  const checks = (legend, values, label) => {
    const boxes = values.map((v) => h("label", { class: "check" }, h("input", { type: "checkbox", value: v }), ` ${label(v)}`));
    return { el: h("fieldset", {}, h("legend", {}, legend), boxes), values: () => boxes.map((b) => b.querySelector("input")).filter((i) => i.checked).map((i) => i.value) };
  };
  const statuses = checks("Account statuses", STATUSES, (s) => s);
  const stages = checks("Has an opportunity in stage", STAGES, stageLabel);
  const industries = h("input", { name: "industries", autocomplete: "off" });
  const countries = h("input", { name: "countries", autocomplete: "off" });
  const tags = h("input", { name: "tags", autocomplete: "off" });
  const out = h("div", { id: "population-result", "aria-live": "polite" });
  const split = (input) => input.value.split(",").map((x) => x.trim()).filter(Boolean);
  return h(
    "form",
    {
      id: "population-form",
      onsubmit: async (e) => {
        e.preventDefault();
        try {
          const body = { name: name.value.trim(), statuses: statuses.values(), stages: stages.values(), industries: split(industries), countries: split(countries), tags: split(tags) };
          const p = await api(`/populations/${encodeURIComponent(body.name)}`, { method: "PUT", json: body });
          ctx.toast(`Population ${p.name} saved`);
          ctx.refresh();
        } catch (err) {
          set(out, errorBox(err));
        }
      },
    },
    h("h3", {}, "Add or replace a population"),
    field("Name", name, "a-z, 0-9, _ and -; partners see it in the matrix. Saving an existing name replaces it."),
    statuses.el,
    stages.el,
    h("div", { class: "form-grid" }, field("Industries", industries, "Comma-separated; any of them."), field("Countries", countries, "Comma-separated; any of them."), field("Tags", tags, "Comma-separated; at least one of them.")),
    h("button", { type: "submit", class: "primary" }, "Save population"),
    out,
  );
}

function populationLabel(name) {
  return name.replace(/_/g, " ");
}

function fmt(v) {
  if (v === null || v === undefined || v === "") return "—";
  return Array.isArray(v) ? v.join(", ") : String(v);
}

function unique(xs) {
  return [...new Set(xs)];
}
