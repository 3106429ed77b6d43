// The policy editor for one partner: TOML on the left with the API's validation messages inline,
// a live preview of what the partner would receive on the right, and save (admin).
import { api } from "../api.js";
import { h, add, set, title, errorBox, empty, field, notice, debounce, when, fieldsTable, formatDetail } from "../ui.js";

const TEMPLATE = `# Shared with this partner; everything not named here stays on this node.
[opportunities]
fields = ["name", "stage", "close_date", "account.name", "account.domain"]
# stages = ["qualified", "technical_validation", "business_validation", "committed"]
# amount = { round_to = 10000 }

[accounts]
sharing = "counts"   # hidden | counts | overlaps | all
`;

export async function render(view, ctx) {
  const id = ctx.params[0];
  const current = await api(`/partners/${encodeURIComponent(id)}/policy`);
  const admin = ctx.can("admin");
  const editor = h("textarea", { id: "policy-text", name: "policy", rows: 18, spellcheck: "false", readonly: !admin, "aria-describedby": "policy-errors" }, current.default_deny ? TEMPLATE : current.text);
  const errors = h("div", { id: "policy-errors", "aria-live": "polite" });
  const preview = h("div", { id: "policy-preview", "aria-live": "polite" });
  const saved = h("div", { id: "policy-saved", "aria-live": "polite" });
  const gutter = h("div", { class: "gutter", "aria-hidden": "true" });
  let seq = 0;

  function markLines(lines) {
    const count = editor.value.split("\n").length;
    set(gutter, ...Array.from({ length: count }, (_, i) => h("span", { class: lines.has(i + 1) ? "bad" : "" }, String(i + 1))));
    gutter.scrollTop = editor.scrollTop;
  }
  editor.addEventListener("scroll", () => {
    gutter.scrollTop = editor.scrollTop;
  });

  function showErrors(e) {
    const details = e.details || [];
    editor.setAttribute("aria-invalid", "true");
    markLines(new Set(details.map((d) => d.line).filter(Boolean)));
    set(errors, 
      h(
        "div",
        { class: "error", role: "alert" },
        h("p", {}, e.message),
        details.length
          ? h(
              "ul",
              { class: "details policy-errors" },
              details.map((d) =>
                h(
                  "li",
                  { dataset: { line: d.line ?? "", key: d.key ?? "" } },
                  d.line ? h("button", { type: "button", class: "linkish", onclick: () => goToLine(d.line) }, `line ${d.line}`) : null,
                  d.line ? ", " : null,
                  d.key ? `key ${d.key}: ` : "",
                  d.message || formatDetail(d),
                ),
              ),
            )
          : null,
      ),
    );
  }

  function goToLine(line) {
    const lines = editor.value.split("\n");
    const start = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0);
    editor.focus();
    editor.setSelectionRange(start, start + (lines[line - 1] || "").length);
  }

  async function check() {
    const mine = ++seq;
    try {
      const r = await api("/policy/preview?limit=20", { method: "POST", body: editor.value, contentType: "text/plain; charset=utf-8" });
      if (mine !== seq) return;
      editor.removeAttribute("aria-invalid");
      markLines(new Set());
      set(errors, notice("The policy is valid.", "ok"));
      set(preview, 
        h("p", { id: "preview-counts" }, h("strong", {}, String(r.shared)), ` opportunities shared, `, h("strong", {}, String(r.withheld)), " withheld."),
        r.items.length
          ? h("div", { class: "preview-items" }, r.items.slice(0, 3).map((item) => h("div", { class: "preview" }, fieldsTable(item))), r.shared > 3 ? h("p", { class: "hint" }, `…and ${r.shared - 3} more.`) : null)
          : empty("Under this policy the partner receives no opportunity data."),
        r.withheld_items && r.withheld_items.length
          ? h("details", { class: "withheld-reasons" }, h("summary", {}, "Why opportunities are withheld"),
              h("ul", {}, r.withheld_items.slice(0, 10).map((w) => h("li", {}, h("a", { href: `#/opportunities/${w.opportunity_id}` }, w.opportunity_id.slice(0, 10)), ": ", w.reason))))
          : null,
        // Account mapping can reveal more accounts than the deal policy suggests.
        r.mapping && r.mapping.length
          ? h("div", { id: "preview-mapping" }, h("h3", {}, "What account mapping reveals"),
              h("ul", {}, r.mapping.map((m) => h("li", {}, h("strong", {}, m.population), ` (${m.level}, ${m.accounts} accounts): `, m.reveals))))
          : null,
      );
      return true;
    } catch (e) {
      if (mine !== seq) return;
      showErrors(e);
      set(preview, h("p", { class: "hint" }, "Fix the errors to see the preview."));
      return false;
    }
  }
  const checkSoon = debounce(check, 350);
  editor.addEventListener("input", () => {
    markLines(new Set());
    checkSoon();
  });

  const save = admin
    ? h(
        "button",
        {
          type: "button",
          class: "primary",
          id: "policy-save",
          onclick: async () => {
            set(saved);
            try {
              const r = await api(`/partners/${encodeURIComponent(id)}/policy`, { method: "PUT", body: editor.value, contentType: "text/plain; charset=utf-8" });
              set(saved, notice(`Saved as version ${r.version}. ${current.name} receives exactly what the preview shows.`));
              ctx.toast("Policy saved");
            } catch (e) {
              if (e.details && e.details.length) showErrors(e);
              set(saved, errorBox({ message: e.message, details: [] }));
            }
          },
        },
        "Save policy",
      )
    : null;

  const versions = (current.versions || []).slice().reverse();
  add(view, 
    h("p", { class: "crumbs" }, h("a", { href: "#/partners" }, "Partners"), " / "),
    title(`Policy for ${current.name}`),
    current.default_deny ? notice("No policy yet: nothing is shared with this partner. The editor starts from a template.", "info") : h("p", { class: "hint" }, `Version ${current.version}.`),
    h(
      "div",
      { class: "policy-layout" },
      h(
        "section",
        { class: "card", "aria-labelledby": "h-edit" },
        h("h2", { id: "h-edit" }, admin ? "Edit" : "Policy"),
        h("div", { class: "field" }, h("label", { for: "policy-text" }, "Policy (TOML)"), h("div", { class: "editor" }, gutter, editor)),
        errors,
        save,
        saved,
        admin ? null : h("p", { class: "hint" }, "Only an admin can change policies."),
      ),
      h("section", { class: "card", "aria-labelledby": "h-preview" }, h("h2", { id: "h-preview" }, "What the partner would receive"), preview),
    ),
    versions.length
      ? h(
          "section",
          { class: "card", "aria-labelledby": "h-versions" },
          h("h2", { id: "h-versions" }, "Versions"),
          h("ul", { class: "versions plain" }, versions.map((v) => h("li", {}, h("details", {}, h("summary", {}, `Version ${v.version}, `, when(v.at), ` by ${v.by}`), h("pre", {}, v.diff || v.text))))),
        )
      : null,
  );
  markLines(new Set());
  await check();
  return {};
}
