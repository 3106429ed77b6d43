// Erasure (GDPR art. 17; admin): find one person's data on this node by e-mail address or name,
// look at what a dry run would erase where (records and their fields, stored tables, shared
// deals and what other writers keep), then confirm. `POST /erase` does both; the node and the
// partners' honest nodes do the rest (SECURITY.md, "Erasure").
import { api } from "../api.js";
import { h, add, set, title, table, field, showError, notice, empty, idLink, num, confirmButton, fieldLabel } from "../ui.js";

export async function render(view, ctx) {
  const by = h("select", { name: "by", id: "erase-by" }, h("option", { value: "email" }, "E-mail address"), h("option", { value: "name" }, "Name"));
  const text = h("input", { name: "value", id: "erase-value", required: true, autocomplete: "off", size: 40, maxlength: 254 });
  const report = h("div", { id: "erase-report", "aria-live": "polite" });
  const needle = () => ({ [by.value]: text.value.trim() });
  const form = h(
    "form",
    {
      id: "erase-form",
      class: "card",
      onsubmit: async (e) => {
        e.preventDefault();
        const asked = needle();
        try {
          const plan = await api("/erase", { method: "POST", json: { ...asked, dry_run: true } });
          set(report, ...planView(plan, asked, ctx, report));
          report.querySelector("h2").focus();
        } catch (err) {
          showError(report, err);
        }
      },
    },
    h("h2", {}, "Find a person's data"),
    field("Find by", by),
    field("E-mail address or name", text, "An e-mail address matches in any case; a name (at least 3 characters) matches as written, in any case."),
    h("button", { type: "submit", class: "primary" }, "Find (dry run)"),
  );
  add(
    view,
    title("Erase a person's data"),
    h("p", { class: "hint" }, "Erasure (GDPR art. 17) removes every local record field, audit detail, webhook delivery and notification holding the person's e-mail address or name, and what this node wrote in shared deals. For deals this node started, partners' honest nodes receive an erasure request (a digest, never the value) and apply it. A dry run shows what would go, changing nothing."),
    form,
    report,
  );
  return {};
}

/** The report's tables (a dry run's, then the erasure's) and, after a dry run, the confirmation. */
function planView(r, asked, ctx, report) {
  const what = asked.email ? `the e-mail address ${asked.email}` : `the name ${asked.name}`;
  const heading = h("h2", { tabindex: "-1" }, r.dry_run ? `What erasing ${what} would change` : `Erased ${what}`);
  if (!r.erased && !r.kept) {
    return [heading, empty(`Nothing on this node holds ${what}.`)];
  }
  const places = `${num(r.erased)} place${r.erased === 1 ? "" : "s"}`;
  const summary = r.dry_run
    ? notice(`${places} would be erased on this node; ${num(r.kept)} held by other writers would stay. Nothing has changed yet.`, "info")
    : notice(`${places} erased on this node${r.kept ? `; ${num(r.kept)} held by other writers stay (their nodes apply the erasure request)` : ""}. The database file is rewritten at the next start.`);
  const out = [heading, summary];
  if (r.records.length) {
    out.push(
      h("h3", {}, "Records"),
      table(
        ["Record", "Id", "Fields erased", "Kept"],
        r.records.map((x) =>
          h(
            "tr",
            { dataset: { record: x.id } },
            h("td", {}, x.kind === "opportunity" ? "Opportunity" : "Account"),
            h("td", {}, x.kind === "opportunity" ? idLink(x.id, `#/opportunities/${encodeURIComponent(x.id)}`) : h("code", {}, x.id)),
            h("td", { class: "erase-fields" }, (x.fields || []).map(fieldLabel).join(", ") || "—"),
            h("td", { class: "erase-kept" }, (x.kept || []).length ? `${x.kept.map(fieldLabel).join(", ")} (a typed value that cannot hold it erased: left as it was)` : "—"),
          ),
        ),
        { id: "erase-records" },
      ),
    );
  }
  const tables = Object.entries(r.tables || {});
  if (tables.length) {
    out.push(
      h("h3", {}, "Stored tables"),
      table(["Table", "Rows"], tables.map(([name, rows]) => h("tr", { dataset: { table: name } }, h("td", {}, h("code", {}, name)), h("td", {}, num(rows)))), { id: "erase-tables" }),
    );
  }
  if (r.deals.length) {
    out.push(
      h("h3", {}, "Shared deals"),
      table(
        ["Deal", "This node is", "Erased", "Kept by other writers", "Erasure request"],
        r.deals.map((d) =>
          h(
            "tr",
            { dataset: { deal: d.id } },
            h("td", {}, idLink(d.id, `#/deals/${encodeURIComponent(d.id)}`)),
            h("td", {}, d.role === "origin" ? "its origin" : "a participant"),
            h("td", { class: "erase-fields" }, (d.erased || []).map(place).join(", ") || "—"),
            h("td", { class: "erase-kept" }, (d.kept || []).length ? h("ul", {}, d.kept.map((k) => h("li", { title: k.path }, `${place(k.path)}, written by ${k.by}`))) : "—"),
            h("td", {}, d.request_sent || r.dry_run ? `${r.dry_run ? "would be sent" : "sent"} to ${d.role === "origin" ? "every participant" : "the origin"}` : "—"),
          ),
        ),
        { id: "erase-deals" },
      ),
    );
  }
  if (r.dry_run) {
    const msg = h("div", { id: "erase-msg", "aria-live": "polite" });
    out.push(
      h(
        "div",
        { class: "card", id: "erase-confirm" },
        h("p", {}, `Erasing cannot be undone. The audit log records that an erasure happened (its kind and counts), never ${asked.email ? "the address" : "the name"}.`),
        confirmButton("Erase now", `Erase ${what} from this node?`, async () => {
          try {
            const done = await api("/erase", { method: "POST", json: { ...asked, dry_run: false } });
            ctx.toast("Erased");
            set(report, ...planView(done, asked, ctx, report));
            report.querySelector("h2").focus();
          } catch (err) {
            showError(msg, err);
          }
        }, { confirmLabel: "Yes, erase" }),
        msg,
      ),
    );
  }
  return out;
}

/** A place in a deal in words: `shared/next_step` → "Next step (shared)", `sections/N/contacts` → "Contacts (a section)". */
function place(path) {
  const parts = String(path).split("/");
  if (parts[0] === "shared" && parts.length === 2) return `${fieldLabel(parts[1])} (shared)`;
  if (parts[0] === "sections" && parts.length >= 3) return `${fieldLabel(parts.slice(2).join("/"))} (section)`;
  return String(path);
}
