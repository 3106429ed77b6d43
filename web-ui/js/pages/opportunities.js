// Opportunities: search, stage filter, cursor paging, and CSV import with row errors.
import { api } from "../api.js";
import { h, add, set, title, table, stacked, field, empty, errorBox, notice, STAGES, stageLabel, money, day, formatDetail } from "../ui.js";

// Cursors of the pages before the current one, per filter (so "Previous page" works).
const trail = { key: null, cursors: [] };

export async function render(view, ctx) {
  const q = ctx.query.get("q") || "";
  const stage = ctx.query.get("stage") || "";
  const cursor = ctx.query.get("cursor") || "";
  const key = `${q}\u0000${stage}`;
  if (trail.key !== key || !cursor) {
    trail.key = key;
    trail.cursors = [];
  }
  // Rows per page: 50, or `?size=` (10 to 1000).
  const size = Math.min(1000, Math.max(10, Number(ctx.query.get("size")) || 50));
  const params = new URLSearchParams({ limit: String(size) });
  if (q) params.set("q", q);
  if (stage) params.set("stage", stage);
  if (cursor) params.set("cursor", cursor);

  const link = (extra) => {
    const p = new URLSearchParams();
    if (q) p.set("q", q);
    if (stage) p.set("stage", stage);
    if (size !== 50) p.set("size", String(size));
    for (const [k, v] of Object.entries(extra)) if (v) p.set(k, v);
    const s = p.toString();
    return `#/opportunities${s ? `?${s}` : ""}`;
  };

  const qInput = h("input", { type: "search", name: "q", value: q, placeholder: "name or a word of it, external id, owner…" });
  const stageSelect = h("select", { name: "stage" }, h("option", { value: "" }, "All stages"), STAGES.map((s) => h("option", { value: s, selected: s === stage }, stageLabel(s))));
  const filters = h(
    "form",
    {
      class: "filters",
      role: "search",
      onsubmit: (e) => {
        e.preventDefault();
        ctx.navigate(link({}).replace(/\?.*$/, "") + queryOf(qInput.value.trim(), stageSelect.value));
      },
    },
    field("Search", qInput),
    field("Stage", stageSelect),
    h("button", { type: "submit" }, "Search"),
    q || stage ? h("a", { href: "#/opportunities", class: "button-link" }, "Clear") : null,
  );
  stageSelect.addEventListener("change", () => filters.requestSubmit());

  const listBox = h("div", { id: "opportunities-list" });
  async function loadList() {
  const page = await api(`/opportunities?${params}`);
  const rows = page.items.map((o) =>
    h(
      "tr",
      {},
      h("td", {}, h("a", { href: `#/opportunities/${encodeURIComponent(o.id)}` }, o.name)),
      h("td", {}, stageLabel(o.stage)),
      h("td", { class: "num" }, money(o.amount, o.currency)),
      h("td", {}, o.close_date ? day(o.close_date) : "—"),
      h("td", {}, o.owner || "—"),
    ),
  );
  const pager = h(
    "nav",
    { class: "pager", "aria-label": "Pages" },
    trail.cursors.length || cursor
      ? h("a", { href: link({ cursor: trail.cursors[trail.cursors.length - 1] || "" }), onclick: () => trail.cursors.pop() && undefined, class: "button-link" }, "← Previous page")
      : null,
    page.next_cursor ? h("a", { href: link({ cursor: page.next_cursor }), id: "next-page", class: "button-link", onclick: () => { trail.cursors.push(cursor); } }, "Next page →") : null,
  );

  set(listBox, 
    page.items.length
      ? h("div", {}, stacked(table(["Name", "Stage", "Amount", "Close date", "Owner"], rows, { id: "opportunities-table" })), pager)
      : empty(q || stage ? "No opportunity matches this search." : "No opportunities yet. Import a CSV export from your CRM below."),
  );
  }
  await loadList();
  add(view, title("Opportunities"), filters, listBox, ctx.can("manager") ? importForm(ctx) : null);
  return {
    onEvent(event) {
      if (event.kind.startsWith("import.")) loadList().catch((e) => set(listBox, errorBox(e)));
    },
  };
}

function queryOf(q, stage) {
  const p = new URLSearchParams();
  if (q) p.set("q", q);
  if (stage) p.set("stage", stage);
  const s = p.toString();
  return s ? `?${s}` : "";
}

function importForm(ctx) {
  const kind = h("select", { name: "kind", id: "import-kind" }, h("option", { value: "opportunities" }, "Opportunities"), h("option", { value: "accounts" }, "Accounts"));
  const file = h("input", { type: "file", name: "file", id: "import-file", accept: ".csv,text/csv", required: true });
  const result = h("div", { id: "import-result", "aria-live": "polite" });
  const button = h("button", { type: "submit", class: "primary" }, "Import");
  return h(
    "section",
    { class: "card", "aria-labelledby": "h-import" },
    h("h2", { id: "h-import" }, "Import a CSV"),
    h("p", { class: "hint" }, "Salesforce and HubSpot export headers work too. All or nothing: a file with a bad row imports nothing."),
    h(
      "form",
      {
        id: "import-form",
        onsubmit: async (e) => {
          e.preventDefault();
          if (!file.files.length) return;
          button.disabled = true;
          set(result, notice("Importing…", "info"));
          try {
            const r = await api(`/import/${kind.value}`, { method: "POST", body: file.files[0], contentType: "text/csv" });
            // `updated` counts every matched row, `unchanged` those among them that changed
            // nothing: three parts that add up to the rows.
            set(result, notice(`Imported ${r.rows ?? r.inserted + r.updated} rows: ${r.inserted} new, ${r.updated - (r.unchanged || 0)} updated, ${r.unchanged || 0} unchanged.`));
            ctx.toast("Import done");
          } catch (err) {
            set(result, errorBox(err, formatDetail));
          } finally {
            button.disabled = false;
          }
        },
      },
      h("div", { class: "row" }, field("What the file holds", kind), field("CSV file", file)),
      button,
    ),
    result,
  );
}
