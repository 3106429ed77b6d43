// Account mapping with one partner: run it now, the latest matrix (my populations × theirs, with
// counts and the level both policies allow), a cell's overlapping accounts with both sides'
// allowed fields, and "Propose a deal" from an overlap. Admins manage the custom populations.
import { api, ApiError, listAll } from "../api.js";
import { h, add, set, title, table, stacked, empty, errorBox, badge, when, field, notice, confirmButton, fieldLabel, stageLabel, STAGES, debounce } from "../ui.js";

// Shown under a matrix with a cell at `counts` (SECURITY.md, account mapping).
const COUNTS_WARNING = "Against a dishonest partner, counts reveals which accounts overlap, as overlaps does. To refuse counts with this partner, set counts = \"refused\" in the [accounts] section of its policy: such cells are then hidden.";
const LEVEL_KIND = { hidden: "", counts: "warn", overlaps: "ok", all: "ok" };
const STATUSES = ["customer", "prospect", "partner", "other"];

export async function render(view, ctx) {
  const [partners, populations] = await Promise.all([api("/partners?limit=1000"), api("/populations")]);
  const active = partners.items.filter((p) => p.status === "active");
  add(view, title("Account mapping"), h("p", { class: "hint" }, "Find the accounts you have in common with a partner without revealing the rest: each side learns at most what the other's policy allows (its [accounts] section)."));
  let controller = {};
  if (!active.length) {
    add(view, empty("No partners yet. Account mapping runs with a partner.", ctx.can("admin") ? h("a", { href: "#/partners" }, "Invite a partner or join one") : null));
  } else {
    const chosen = active.find((p) => p.id === ctx.query.get("partner")) || active[0];
    const section = await matrixSection(active, chosen, ctx);
    add(view, section.el);
    controller = section.controller;
  }
  add(view, populationsSection(populations.items, ctx));
  return controller;
}

// The pairings that matter most: accounts one side sells to and the other is still prospecting.
const KEY_PAIRS = new Set(["prospects\u0000customers", "customers\u0000prospects"]);
// Views this browser kept before they moved to the node (and where they stay when the UI is
// used with an API token, which has no user to keep them for).
const VIEWS_KEY = "cosell.mapping.views";

function localViews() {
  try {
    return JSON.parse(localStorage.getItem(VIEWS_KEY) || "[]").filter((v) => v && v.name);
  } catch {
    return [];
  }
}

const viewPath = (name) => `/me/mapping-views/${encodeURIComponent(name)}`;

/**
 * The user's saved views, kept on the node (GET /me/mapping-views), with `onServer` false when
 * the node keeps none for this caller (an API token: 403) and this browser's are used. Views
 * this browser kept move to the node once (one it refuses stays here).
 */
async function loadViews() {
  let answer;
  try {
    answer = await api("/me/mapping-views");
  } catch (e) {
    if (e instanceof ApiError && e.status === 403) return { items: localViews(), onServer: false };
    throw e;
  }
  const items = answer.items.map((x) => ({ ...x.view, name: x.name }));
  const local = localViews();
  if (local.length) {
    const kept = [];
    for (const v of local) {
      if (items.some((x) => x.name === v.name)) continue;
      const { name, ...rest } = v;
      try {
        await api(viewPath(name), { method: "PUT", json: { view: rest } });
        items.push(v);
      } catch {
        kept.push(v);
      }
    }
    if (kept.length) localStorage.setItem(VIEWS_KEY, JSON.stringify(kept));
    else localStorage.removeItem(VIEWS_KEY);
  }
  items.sort((a, b) => a.name.localeCompare(b.name));
  return { items, onServer: true };
}

async function matrixSection(partners, partner, ctx) {
  const select = h("select", { name: "partner", id: "mapping-partner" }, partners.map((p) => h("option", { value: p.id, selected: p.id === partner.id }, `${p.name}${p.connected ? "" : " (offline)"}`)));
  select.addEventListener("change", () => ctx.navigate(`#/mapping?partner=${encodeURIComponent(select.value)}`));
  const msg = h("div", { id: "mapping-msg", "aria-live": "polite" });
  const matrixBox = h("div", { id: "mapping-matrix" });
  const drill = h("div", { id: "mapping-drill", "aria-live": "polite" });
  const run = h("button", { type: "button", class: "primary", id: "mapping-run" }, "Run mapping now");
  // "Already in a deal or registration": the account domains this node's deals and
  // registrations name, read once.
  const [deals, registrations] = await Promise.all([
    listAll("/deals").catch(() => ({ items: [] })),
    ctx.features.registrations ? listAll("/registrations").catch(() => ({ items: [] })) : { items: [] },
  ]);
  const inFlight = new Map();
  for (const d of deals.items) {
    const dom = d.fields && d.fields["account.domain"];
    if (dom) inFlight.set(dom, { kind: "deal", href: `#/deals/${encodeURIComponent(d.id)}`, text: "in a deal" });
  }
  for (const r of registrations.items) {
    if (r.account_domain && !inFlight.has(r.account_domain) && (r.status === "pending" || r.status === "approved")) inFlight.set(r.account_domain, { kind: "registration", href: "#/registrations", text: `registered (${r.status})` });
  }
  const state = { matrix: null, cell: null, search: ctx.query.get("q") || "", sort: ctx.query.get("sort") || "name" };

  let running = false;
  run.addEventListener("click", async () => {
    run.disabled = true;
    running = true;
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
      running = false;
    }
  });

  function paint(matrix) {
    state.matrix = matrix;
    set(drill);
    if (!matrix) {
      set(matrixBox, empty(`No mapping with ${partner.name} yet.`, ctx.can("manager") ? h("p", {}, "Run one to see the accounts you have in common.") : null));
      return;
    }
    set(matrixBox, matrixTable(matrix, partner, (cell) => openCell(cell)));
    const wanted = state.cell || (ctx.query.get("mine") && { mine: ctx.query.get("mine"), theirs: ctx.query.get("theirs") });
    const again = wanted && matrix.cells.find((c) => c.mine === wanted.mine && c.theirs === wanted.theirs);
    if (again) openCell(again, { focus: false });
  }

  function openCell(cell, { focus = true } = {}) {
    state.cell = cell;
    for (const b of matrixBox.querySelectorAll(".cell-button")) b.setAttribute("aria-pressed", String(b.dataset.key === `${cell.mine}\u0000${cell.theirs}`));
    showCell(cell, partner, drill, ctx, { state, inFlight, focus, saveView });
  }

  // Saved views: on the node for the signed-in user, or in this browser (see loadViews).
  let views = { items: [], onServer: false };
  try {
    views = await loadViews();
  } catch (e) {
    set(msg, errorBox(e));
  }

  /** Saves the current view as `name`; whether it was saved (else the error is shown). */
  async function saveView(name) {
    const view = { partner: partner.id, mine: state.cell ? state.cell.mine : null, theirs: state.cell ? state.cell.theirs : null, q: state.search, sort: state.sort };
    try {
      if (views.onServer) await api(viewPath(name), { method: "PUT", json: { view } });
      else localStorage.setItem(VIEWS_KEY, JSON.stringify([...localViews().filter((v) => v.name !== name), { name, ...view }]));
    } catch (e) {
      set(msg, errorBox(e));
      return false;
    }
    views.items = [...views.items.filter((v) => v.name !== name), { name, ...view }].sort((a, b) => a.name.localeCompare(b.name));
    paintViews();
    return true;
  }

  async function deleteView(name) {
    try {
      if (views.onServer) await api(viewPath(name), { method: "DELETE" });
      else localStorage.setItem(VIEWS_KEY, JSON.stringify(localViews().filter((v) => v.name !== name)));
    } catch (e) {
      set(msg, errorBox(e));
      return;
    }
    views.items = views.items.filter((v) => v.name !== name);
    paintViews();
    ctx.toast(`View "${name}" deleted`);
  }

  const viewsBox = h("div", { id: "mapping-views" });
  function paintViews() {
    if (!views.items.length) {
      set(viewsBox);
      return;
    }
    // The view on screen, if it is a saved one: chosen in the list (and what Delete removes).
    const q = (k) => ctx.query.get(k) || "";
    const shown = views.items.find((v) => v.partner === partner.id && (v.mine || "") === q("mine") && (v.theirs || "") === q("theirs") && (v.q || "") === q("q") && (v.sort || "name") === (q("sort") || "name"));
    const pick = h("select", { id: "mapping-view" }, h("option", { value: "" }, "Choose a saved view"), views.items.map((v) => h("option", { value: v.name, selected: v === shown }, v.name)));
    pick.addEventListener("change", () => {
      const v = views.items.find((x) => x.name === pick.value);
      if (!v) return;
      const q = new URLSearchParams({ partner: v.partner });
      if (v.mine) q.set("mine", v.mine);
      if (v.theirs) q.set("theirs", v.theirs);
      if (v.q) q.set("q", v.q);
      if (v.sort) q.set("sort", v.sort);
      ctx.navigate(`#/mapping?${q}`);
    });
    const remove = h("button", { type: "button", id: "mapping-view-delete", onclick: () => { if (pick.value) deleteView(pick.value); else pick.focus(); } }, "Delete view");
    set(viewsBox, field("Saved views", pick), remove);
  }
  paintViews();

  let latest = null;
  try {
    latest = await api(`/partners/${encodeURIComponent(partner.id)}/map`);
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 404) set(msg, errorBox(e));
  }
  paint(latest);
  const el = h(
    "section",
    { class: "card", "aria-labelledby": "h-matrix" },
    h("h2", { id: "h-matrix" }, "Accounts in common"),
    h("div", { class: "filters" }, field("Partner", select), ctx.can("manager") ? run : null, h("a", { href: `#/partners/${encodeURIComponent(partner.id)}/policy`, class: "button-link" }, "What my policy shares"), viewsBox),
    msg,
    matrixBox,
    drill,
  );
  return {
    el,
    controller: {
      // Live: when the partner (or this node's schedule) maps with this partner, show the new
      // matrix without a reload, keeping the open cell.
      async onEvent(event) {
        if (event.kind !== "mapping.completed" && event.kind !== "lagged") return;
        if (event.data && event.data.partner && event.data.partner !== partner.id) return;
        // This page's own run shows its result itself.
        if (running) return;
        try {
          const matrix = await api(`/partners/${encodeURIComponent(partner.id)}/map`);
          if (state.matrix && matrix.computed_at === state.matrix.computed_at) return;
          paint(matrix);
          set(msg, notice(`Updated: a new mapping with ${partner.name} arrived.`, "info"));
        } catch (e) {
          set(msg, errorBox(e));
        }
      },
    },
  };
}

function matrixTable(matrix, partner, onCell) {
  const mine = unique(matrix.cells.map((c) => c.mine));
  const theirs = unique(matrix.cells.map((c) => c.theirs));
  const byKey = new Map(matrix.cells.map((c) => [`${c.mine}\u0000${c.theirs}`, c]));
  const known = (c) => (c && typeof c.count === "number" ? c.count : 0);
  const max = Math.max(1, ...matrix.cells.map(known));
  const rowTotal = (m) => theirs.reduce((a, t) => a + known(byKey.get(`${m}\u0000${t}`)), 0);
  const colTotal = (t) => mine.reduce((a, m) => a + known(byKey.get(`${m}\u0000${t}`)), 0);
  const rows = mine.map((m) =>
    h(
      "tr",
      {},
      h("th", { scope: "row" }, `My ${populationLabel(m)}`),
      theirs.map((t) => {
        const key = `${m}\u0000${t}`;
        const c = byKey.get(key);
        if (!c) return h("td", {}, "—");
        const label = c.count === null || c.count === undefined ? "hidden" : String(c.count);
        const isKey = KEY_PAIRS.has(key);
        const described = h("span", { class: "sr-only" }, ` accounts, my ${populationLabel(m)} and their ${populationLabel(t)}${isKey ? ", a key pairing" : ""}`);
        const content = [h("span", { class: "cell-count" }, label), described, " ", badge(c.level, LEVEL_KIND[c.level] || "")];
        const canOpen = (c.overlaps && c.overlaps.length) || (c.partner_accounts && c.partner_accounts.length);
        const heat = typeof c.count === "number" ? Math.round((c.count / max) * 45) : 0;
        return h(
          "td",
          { class: `cell${isKey ? " key" : ""}`, style: `--heat: ${heat}`, dataset: { mine: m, theirs: t, level: c.level, count: label, heat: String(heat), key: isKey ? "true" : null } },
          canOpen ? h("button", { type: "button", class: "cell-button", "aria-pressed": "false", dataset: { key }, onclick: () => onCell(c) }, content) : content,
        );
      }),
      h("td", { class: "total num", dataset: { total: m } }, String(rowTotal(m))),
    ),
  );
  return h(
    "div",
    {},
    h("p", { class: "hint" }, "Computed ", when(matrix.computed_at), matrix.initiated_by ? ` · started by ${matrix.initiated_by === "partner" ? partner.name : "this node"}` : "", ". Rows: my populations; columns: ", partner.name, "'s. A cell's level is the lesser of what both policies allow; darker cells hold more accounts. ", h("span", { class: "key-note", "aria-hidden": "true" }), " Key pairings: my prospects with their customers, and the other way round."),
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { id: "mapping-table", class: "matrix" },
        h("caption", { class: "sr-only" }, `Accounts in common with ${partner.name}`),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Mine ↓ · theirs →"), theirs.map((t) => h("th", { scope: "col" }, `Their ${populationLabel(t)}`)), h("th", { scope: "col" }, "Total"))),
        h("tbody", {}, rows),
        h("tfoot", {}, h("tr", {}, h("th", { scope: "row" }, "Total"), theirs.map((t) => h("td", { class: "total num", dataset: { total: t } }, String(colTotal(t)))), h("td", { class: "total num", id: "mapping-total" }, String(mine.reduce((a, m) => a + rowTotal(m), 0))))),
      ),
    ),
    matrix.cells.some((c) => c.level === "counts")
      ? h("p", { class: "hint", id: "counts-warning" }, COUNTS_WARNING)
      : null,
  );
}

function csvCell(v) {
  const t = v === null || v === undefined ? "" : Array.isArray(v) ? v.join(", ") : String(v);
  // A leading =, +, - or @ would be a formula in a spreadsheet: quote it as text.
  const safe = /^[=+\-@]/.test(t) ? `'${t}` : t;
  return /[",\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

function showCell(cell, partner, drill, ctx, { state, inFlight, focus, saveView }) {
  const heading = `My ${populationLabel(cell.mine)} × ${partner.name}'s ${populationLabel(cell.theirs)}`;
  const overlaps = cell.overlaps || [];
  const theirKeys = unique(overlaps.flatMap((o) => Object.keys(o.partner || {}))).sort();
  const out = h("div", { class: "propose-result", "aria-live": "polite" });
  const owners = new Map(); // account id -> my owner
  const search = h("input", { type: "search", id: "overlap-search", value: state.search, autocomplete: "off" });
  const sort = h("select", { id: "overlap-sort" }, [["name", "Name"], ["domain", "Domain"], ["owner", "My account owner"], ["flight", "Already in a deal first"]].map(([v, l]) => h("option", { value: v, selected: v === state.sort }, l)));
  const list = h("div", { id: "overlaps-list" });
  const count = h("span", { id: "overlaps-count" });
  const exportButton = h("button", { type: "button", id: "overlaps-export" }, "Export CSV");
  const viewName = h("input", { id: "view-name", autocomplete: "off", placeholder: "Prospects to work on" });
  const saveButton = h("button", { type: "button", id: "view-save", onclick: async () => { const name = viewName.value.trim(); if (!name) { viewName.focus(); return; } if (await saveView(name)) ctx.toast(`View "${name}" saved`); } }, "Save this view");

  function visible() {
    const q = state.search.trim().toLowerCase();
    const rows = overlaps.filter((o) => !q || [o.name, o.domain, owners.get(o.account_id), ...Object.values(o.partner || {})].some((v) => v && String(v).toLowerCase().includes(q)));
    const by = {
      name: (a, b) => String(a.name).localeCompare(String(b.name)),
      domain: (a, b) => String(a.domain).localeCompare(String(b.domain)),
      owner: (a, b) => String(owners.get(a.account_id) || "~").localeCompare(String(owners.get(b.account_id) || "~")),
      flight: (a, b) => Number(inFlight.has(b.domain)) - Number(inFlight.has(a.domain)) || String(a.name).localeCompare(String(b.name)),
    }[state.sort] || (() => 0);
    return rows.sort(by);
  }

  function paintList() {
    const rows = visible().map((o) => {
      const result = h("div", { class: "propose-out" });
      const flight = inFlight.get(o.domain);
      return h(
        "tr",
        { dataset: { domain: o.domain || "", flight: flight ? flight.kind : null } },
        h("td", {}, h("strong", {}, o.name), h("br"), h("span", { class: "hint" }, o.domain || ""), flight ? [h("br"), h("a", { href: flight.href, class: "badge in-flight" }, flight.text)] : null),
        h("td", { class: "owner" }, owners.get(o.account_id) || "—"),
        theirKeys.map((k) => h("td", {}, fmt(o.partner && o.partner[k]))),
        h(
          "td",
          { class: "actions" },
          ctx.can("manager") ? h("button", { type: "button", class: "propose", onclick: () => propose(o, partner, result, ctx) }, "Propose a deal") : null,
          result,
        ),
      );
    });
    count.textContent = `${rows.length} of ${overlaps.length}`;
    set(list, rows.length ? stacked(table(["My account", "My account owner (who to ask)", ...theirKeys.map((k) => `Their ${fieldLabel(k).toLowerCase()}`), ""], rows, { id: "overlaps-table" })) : h("p", { class: "hint" }, "No account matches the search."));
  }

  search.addEventListener("input", debounce(() => {
    state.search = search.value;
    paintList();
  }, 150));
  sort.addEventListener("change", () => {
    state.sort = sort.value;
    paintList();
  });
  exportButton.addEventListener("click", () => {
    const header = ["name", "domain", "my_owner", "in_deal_or_registration", ...theirKeys.map((k) => `their_${k}`)];
    const lines = [header.join(",")].concat(visible().map((o) => [o.name, o.domain, owners.get(o.account_id), inFlight.has(o.domain) ? inFlight.get(o.domain).text : "", ...theirKeys.map((k) => o.partner && o.partner[k])].map(csvCell).join(",")));
    const blob = new Blob([`${lines.join("\r\n")}\r\n`], { type: "text/csv" });
    const a = h("a", { href: URL.createObjectURL(blob), download: `overlaps-${partner.name.replace(/[^A-Za-z0-9]+/g, "-")}-${cell.mine}-${cell.theirs}.csv` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  });

  set(
    drill,
    h(
      "section",
      { class: "drill", id: "mapping-overlaps", "aria-labelledby": "h-drill", tabindex: "-1" },
      h("h3", { id: "h-drill" }, heading, ` · ${overlaps.length} account${overlaps.length === 1 ? "" : "s"}`),
      overlaps.length
        ? [h("div", { class: "filters" }, field("Search", search), field("Sort by", sort), exportButton, h("span", { class: "hint" }, "Showing ", count)), list, h("div", { class: "filters" }, field("Name this view", viewName), saveButton)]
        : h("p", { class: "hint" }, "No overlapping accounts at this level."),
      cell.partner_accounts && cell.partner_accounts.length ? partnerAccounts(cell.partner_accounts, partner) : null,
      out,
    ),
  );
  paintList();
  // My account owners: read once per account (the matrix holds only ids and names).
  Promise.all(overlaps.slice(0, 500).map(async (o) => {
    if (!o.account_id) return;
    try {
      const a = await api(`/accounts/${encodeURIComponent(o.account_id)}`);
      if (a.owner) owners.set(o.account_id, a.owner);
    } catch {
      // An account removed since the mapping: no owner to show.
    }
  })).then(() => {
    if (drill.isConnected && owners.size) paintList();
  });
  if (focus) drill.querySelector("#mapping-overlaps").focus();
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
