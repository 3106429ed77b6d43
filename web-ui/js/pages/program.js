// The partner program: each partner's tier, its health score with the explanation and what the
// next tier still lacks (progress bars); analytics for a chosen quarter, charted in the browser
// as inline SVG; a QBR pack per partner (the report opens in a new tab, its CSVs download); and
// the certification attestations this node issued (managers issue and revoke them).
import { api } from "../api.js";
import { h, add, set, title, table, empty, errorBox, field, notice, barChart, badge, money, num, confirmButton } from "../ui.js";

/** The last eight quarters, newest first (`2026-Q4`). */
function quarters(now = new Date()) {
  const out = [];
  let y = now.getUTCFullYear();
  let q = Math.floor(now.getUTCMonth() / 3) + 1;
  for (let i = 0; i < 8; i++) {
    out.push(`${y}-Q${q}`);
    q -= 1;
    if (q === 0) {
      q = 4;
      y -= 1;
    }
  }
  return out;
}

export async function render(view, ctx) {
  const msg = h("div", { id: "program-msg", "aria-live": "polite" });
  let standings = null;
  try {
    standings = await api("/program/partners");
  } catch (e) {
    if (e.status !== 404) throw e;
  }
  // Our own standing in the programs of the vendors we partner with (sent by them, signed).
  const received = (await api("/program/standing")).items;
  const standingsBox = h("div", { id: "program-standings" });
  async function loadStandings() {
    set(standingsBox, standingsTable((await api("/program/partners")).items, quarterSelect, msg));
  }
  const quarterSelect = h("select", { id: "program-quarter", name: "quarter" }, quarters().map((q) => h("option", { value: q }, q)));
  const analyticsBox = h("div", { id: "program-analytics" });
  const attestBox = h("div", { id: "program-attestations" });

  async function loadAnalytics() {
    const a = await api(`/analytics?quarter=${encodeURIComponent(quarterSelect.value)}`);
    set(analyticsBox, analytics(a));
  }
  quarterSelect.addEventListener("change", () => loadAnalytics().catch((e) => set(analyticsBox, errorBox(e))));
  // A certification issued or revoked can change what a partner lacks: standings follow.
  async function afterCertification() {
    await loadAttestations();
    if (standings) await loadStandings();
  }
  async function loadAttestations() {
    const list = await api("/attestations");
    set(attestBox, attestations(list.items, ctx, msg, afterCertification));
  }

  add(
    view,
    title("Partner program"),
    h("p", { class: "hint" }, "Each partner's tier as your program file says, what the next tier still needs, and a health score explained factor by factor. The numbers come from the deals, registrations and certifications this node holds."),
    msg,
    received.length ? [h("h2", {}, "Your standing with your vendors"), receivedTable(received)] : null,
    h("h2", {}, "Partners"),
    standings ? set(standingsBox, standingsTable(standings.items, quarterSelect, msg)) : empty("No partner program is set. An admin sets one with `cosell program set FILE` (the format is in policy/README.md, \"Partner program\")."),
    h("h2", {}, "Analytics"),
    h("div", { class: "filters" }, field("Quarter", quarterSelect)),
    analyticsBox,
    h("h2", {}, "Certifications"),
    attestBox,
    ctx.can("manager") ? issueForm(standings ? standings.items : [], msg, afterCertification) : null,
  );
  await Promise.all([loadAnalytics().catch((e) => set(analyticsBox, errorBox(e))), loadAttestations().catch((e) => set(attestBox, errorBox(e)))]);
  return {
    onEvent(event) {
      if (event.kind.startsWith("deal.") || event.kind.startsWith("program.") || event.kind === "lagged") loadAnalytics().catch((e) => set(analyticsBox, errorBox(e)));
      // A tier moved (published by the node when it recounts): show the partners' standings again.
      if (standings && (event.kind === "program.tier_changed" || event.kind === "lagged")) loadStandings().catch((e) => set(standingsBox, errorBox(e)));
    },
  };
}

/** Our tier in each vendor's program and what its next tier lacks, as the vendor sent it. */
function receivedTable(items) {
  const rows = items.map((s) =>
    h(
      "tr",
      { dataset: { vendor: s.vendor.id, tier: s.tier || "" } },
      h("td", {}, h("strong", {}, s.vendor.name)),
      h("td", { class: "tier" }, s.tier ? badge(s.tier, "ok") : h("span", { class: "hint" }, "below the first tier")),
      h("td", {}, s.next ? h("div", { class: "lacks" }, h("p", {}, `For ${s.next.tier}:`), s.next.lacks.length ? s.next.lacks.map((l) => lackBar(l)) : h("p", { class: "hint" }, "nothing lacking")) : h("span", { class: "hint" }, "top tier")),
      h("td", {}, h("span", { class: "hint" }, `updated ${s.updated_at}`)),
    ),
  );
  return table(["Vendor", "Your tier", "Next tier lacks", ""], rows, { id: "program-my-standing" });
}

function standingsTable(items, quarterSelect, msg) {
  if (!items.length) return empty("No active partner yet.");
  const rows = items.map((s) => {
    const next = s.next;
    const lacks = next
      ? h("div", { class: "lacks" }, h("p", {}, `For ${next.tier}:`), next.lacks.length ? next.lacks.map((l) => lackBar(l)) : h("p", { class: "hint" }, "nothing lacking"))
      : h("span", { class: "hint" }, "top tier");
    const score = s.health.score;
    return h(
      "tr",
      { dataset: { partner: s.partner.id, tier: s.tier || "" } },
      h("td", {}, h("strong", {}, s.partner.name), h("br"), h("span", { class: "hint" }, s.partner.type || "")),
      h("td", { class: "tier" }, s.tier ? badge(s.tier, "ok") : h("span", { class: "hint" }, "below the first tier")),
      h("td", { class: "health" }, h("strong", {}, score === null || score === undefined ? "—" : String(score)), h("br"), h("span", { class: "hint health-explanation" }, s.health.explanation)),
      h("td", {}, lacks),
      h("td", { class: "actions" }, h("button", { type: "button", dataset: { action: "qbr" }, onclick: (e) => openQbr(e.currentTarget, s.partner, quarterSelect.value, msg) }, `QBR pack for ${s.partner.name}`)),
    );
  });
  return table(["Partner", "Tier", "Health", "Next tier lacks", ""], rows, { id: "program-partners" });
}

/** One requirement not met, as a progress bar with its text. */
function lackBar(l) {
  const have = Number(l.have);
  const need = Number(l.need);
  const label = l.text;
  return h("div", { class: "lack", dataset: { metric: l.metric } }, h("span", {}, label), h("progress", { max: String(need > 0 ? need : 1), value: String(Math.max(0, Math.min(have, need))), "aria-label": label }));
}

/**
 * Fetches the partner's QBR pack and opens its HTML in a new tab (from a blob; the node's content
 * security policy travels with it, so the report's own stylesheet is applied through the CSSOM)
 * and offers its CSVs and the HTML file as downloads.
 */
async function openQbr(button, partner, quarter, msg) {
  button.disabled = true;
  // Opened now, within the click, so that no popup blocker stops it.
  const tab = window.open("", "_blank");
  try {
    const pack = await api(`/reports/qbr/${encodeURIComponent(partner.id)}?quarter=${encodeURIComponent(quarter)}`);
    const url = URL.createObjectURL(new Blob([pack.html], { type: "text/html" }));
    if (tab) {
      tab.location.href = url;
      tab.addEventListener?.("load", () => styled(tab));
      const poll = setInterval(() => {
        if (styled(tab)) clearInterval(poll);
      }, 100);
      setTimeout(() => clearInterval(poll), 10_000);
    }
    const file = (name, text, type) => h("li", {}, h("a", { href: URL.createObjectURL(new Blob([text], { type })), download: `${partner.name}-${quarter}-${name}` }, name));
    set(
      msg,
      h(
        "div",
        { class: "notice ok", role: "status", id: "qbr-files" },
        h("p", {}, `QBR pack for ${partner.name}, ${quarter}${tab ? ", opened in a new tab" : ""}. Files:`),
        h("ul", {}, file("qbr.html", pack.html, "text/html"), Object.entries(pack.files).map(([name, text]) => file(name, text, "text/csv"))),
      ),
    );
  } catch (e) {
    if (tab) tab.close();
    set(msg, errorBox(e));
  } finally {
    button.disabled = false;
  }
}

/** Applies the report's `<style>` to the opened tab once its document is the report. */
function styled(tab) {
  try {
    const doc = tab.document;
    const style = doc && doc.querySelector("style");
    if (!style || doc.adoptedStyleSheets.length) return Boolean(style);
    const sheet = new tab.CSSStyleSheet();
    sheet.replaceSync(style.textContent);
    doc.adoptedStyleSheets = [sheet];
    return true;
  } catch {
    return false;
  }
}

function analytics(a) {
  const cur = a.currency;
  const t = a.totals;
  const value = (text) => Number(text) || 0;
  const items = a.items;
  const totals = h(
    "dl",
    { class: "totals", id: "analytics-totals" },
    h("dt", {}, "Sourced pipeline"), h("dd", { dataset: { value: t.sourced_pipeline } }, money(t.sourced_pipeline, cur)),
    h("dt", {}, "Influenced pipeline"), h("dd", {}, money(t.influenced_pipeline, cur)),
    h("dt", {}, "Won revenue"), h("dd", { dataset: { value: t.won_revenue } }, money(t.won_revenue, cur)),
    h("dt", {}, "Deals won / lost"), h("dd", {}, `${num(t.deals_won)} / ${num(t.deals_lost)}`),
    h("dt", {}, "Win rate"), h("dd", {}, t.win_rate === null ? "—" : `${Math.round(t.win_rate * 100)}%`),
    h("dt", {}, "Registrations approved"), h("dd", {}, `${num(t.registrations_approved)} of ${num(t.registrations_submitted)}`),
  );
  if (!items.length) return add(h("div", {}), totals, empty("No active partner to count."));
  const fmt = (v) => money(v, cur);
  const stages = Object.entries(t.open_pipeline_by_stage || {});
  return h(
    "div",
    { class: "charts" },
    totals,
    t.unconverted_amounts ? notice(`${num(t.unconverted_amounts)} amounts in a currency without a rate in the program are not counted.`, "info") : null,
    barChart(`Sourced pipeline by partner (${cur}), ${a.period.from.slice(0, 10)} to ${a.period.to.slice(0, 10)}`, items.map((i) => ({ label: i.partner.name, value: value(i.numbers.sourced_pipeline) })), { format: fmt }),
    barChart(`Won revenue by partner (${cur})`, items.map((i) => ({ label: i.partner.name, value: value(i.numbers.won_revenue), note: `${i.numbers.deals_won} won` })), { format: fmt }),
    stages.length ? barChart(`Open pipeline by stage (${cur})`, stages.map(([s, v]) => ({ label: s.replace(/_/g, " "), value: value(v) })), { format: fmt }) : h("p", { class: "hint" }, "No open pipeline created in this quarter."),
  );
}

function attestations(items, ctx, msg, reload) {
  if (!items.length) return empty("No certification issued yet.");
  const rows = items.map((a) =>
    h(
      "tr",
      { dataset: { attestation: a.id } },
      h("td", {}, a.subject, a.company_name ? h("span", { class: "hint" }, ` (${a.company_name})`) : null),
      h("td", {}, `${a.certification}, ${a.level}`),
      h("td", {}, `${a.issued} – ${a.expires}`),
      h("td", {}, a.revoked ? badge(`revoked ${a.revoked.on}`, "bad") : badge("valid", "ok")),
      h(
        "td",
        { class: "actions" },
        ctx.can("manager") && !a.revoked
          ? confirmButton("Revoke", `Revoke ${a.subject}'s ${a.certification}?`, async () => {
              try {
                await api(`/attestations/${encodeURIComponent(a.id)}/revoke`, { method: "POST", json: {} });
                set(msg, notice(`Revoked ${a.subject}'s ${a.certification}.`));
                await reload();
              } catch (e) {
                set(msg, errorBox(e));
              }
            })
          : null,
      ),
    ),
  );
  return table(["Subject", "Certification", "Valid", "Status", ""], rows, { id: "attestations-table" });
}

function issueForm(standings, msg, reload) {
  const input = (name, attrs = {}) => h("input", { name, required: true, ...attrs });
  const subject = input("subject", { autocomplete: "name" });
  const certification = input("certification");
  const level = input("level");
  const expires = input("expires", { type: "date" });
  const partner = h("select", { name: "partner" }, h("option", { value: "" }, "No partner"), standings.map((s) => h("option", { value: s.partner.id }, s.partner.name)));
  const form = h(
    "form",
    { class: "card", id: "issue-attestation", "aria-labelledby": "issue-attestation-title" },
    h("h3", { id: "issue-attestation-title" }, "Issue a certification"),
    field("Person", subject),
    field("Partner", partner, "Counts toward the partner's certified people."),
    field("Certification", certification),
    field("Level", level),
    field("Valid until", expires),
    h("button", { type: "submit", class: "primary" }, "Issue"),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const a = await api("/attestations", {
        method: "POST",
        json: { subject: subject.value, certification: certification.value, level: level.value, expires: expires.value, ...(partner.value ? { partner: partner.value } : {}) },
      });
      set(msg, notice(`Issued ${a.certification} to ${a.subject}.`));
      form.reset();
      await reload();
    } catch (err) {
      set(msg, errorBox(err));
    }
  });
  return form;
}
