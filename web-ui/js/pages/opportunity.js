// One opportunity, and "share with partners": per chosen partner exactly what their policy lets
// them receive (the API's own projection), the combined result, then the share itself.
import { api } from "../api.js";
import { h, add, set, title, fieldsTable, errorBox, empty, stageLabel, money, notice, fieldLabel, day, field } from "../ui.js";

export async function render(view, ctx) {
  const id = ctx.params[0];
  const opp = await api(`/opportunities/${encodeURIComponent(id)}`);
  const [account, partners] = await Promise.all([
    api(`/accounts/${encodeURIComponent(opp.account_id)}`).catch(() => null),
    api("/partners?limit=1000"),
  ]);
  const active = partners.items.filter((p) => p.status === "active");

  const dl = h("dl", { class: "facts" });
  const fact = (k, v) => add(dl, h("dt", {}, k), h("dd", {}, v || "—"));
  fact("Account", account ? `${account.name} (${account.domain})` : opp.account_id);
  fact("Stage", stageLabel(opp.stage));
  fact("Amount", money(opp.amount, opp.currency));
  fact("Close date", opp.close_date ? day(opp.close_date) : null);
  fact("Owner", opp.owner);
  fact("Next step", opp.next_step);
  fact("Description", opp.description);
  fact("External id", opp.external_id);
  if (opp.tags && opp.tags.length) fact("Tags", opp.tags.join(", "));

  add(view, 
    h("p", { class: "crumbs" }, h("a", { href: "#/opportunities" }, "Opportunities"), " / "),
    title(opp.name),
    h("section", { class: "card", "aria-labelledby": "h-facts" }, h("h2", { id: "h-facts" }, "On this node only"), h("p", { class: "hint" }, "Nothing here leaves this node unless a partner's policy names it."), dl),
  );
  if (ctx.can("manager")) add(view, shareSection(opp, active, ctx));
  if (ctx.query.get("share") && view.querySelector("#share")) {
    add(view.querySelector("#share h2"), " ", h("span", { class: "badge ok" }, "proposed from account mapping"));
    // After the app puts the page in place and focuses the heading, bring the share section in view.
    setTimeout(() => view.querySelector("#share")?.scrollIntoView({ block: "start" }), 0);
  }
  return {};
}

function shareSection(opp, partners, ctx) {
  const section = h("section", { class: "card share", id: "share", "aria-labelledby": "h-share" }, h("h2", { id: "h-share" }, "Share with partners"));
  if (!partners.length) {
    add(section, empty("No partners yet.", h("a", { href: "#/partners" }, "Invite a partner or join one")));
    return section;
  }
  const previews = new Map(); // partner id -> preview answer (or an Error)
  const combinedCache = new Map(); // sorted partner ids -> GET /share-preview answer (or an Error)
  let paintSeq = 0;
  const perPartner = h("div", { class: "previews", id: "share-previews", "aria-live": "polite" });
  const combined = h("div", { id: "share-combined", "aria-live": "polite" });
  const result = h("div", { id: "share-result" });
  const button = h("button", { type: "button", class: "primary", id: "share-button", disabled: true, onclick: share }, "Share");
  const message = h("textarea", { id: "share-message", name: "message", rows: 2, maxlength: 1000 });
  const boxes = partners.map((p) =>
    h("label", { class: "check" }, h("input", { type: "checkbox", name: "partner", value: p.id, onchange: update }), ` ${p.name} `, p.connected ? h("span", { class: "hint" }, "(connected)") : h("span", { class: "hint" }, "(offline)")),
  );
  add(section, 
    h("fieldset", {}, h("legend", {}, "Choose partners"), boxes),
    h("h3", {}, "What each partner would receive"),
    perPartner,
    h("h3", {}, "The shared deal"),
    combined,
    field("Message to the partners (optional)", message, "Signed in the invitation; the partners read it in their inbox."),
    button,
    result,
  );
  paint();
  // Arriving from "Propose a deal" (account mapping): that partner is already chosen.
  const proposed = boxes.map((b) => b.querySelector("input")).find((i) => i.value === ctx.query.get("share"));
  if (proposed) {
    proposed.checked = true;
    section.dataset.proposed = proposed.value;
    update();
  }

  function chosen() {
    return boxes.map((b) => b.querySelector("input")).filter((i) => i.checked).map((i) => i.value);
  }

  async function update() {
    const ids = chosen();
    await Promise.all(
      ids.filter((pid) => !previews.has(pid)).map(async (pid) => {
        try {
          previews.set(pid, await api(`/partners/${encodeURIComponent(pid)}/policy/preview?opportunity_id=${encodeURIComponent(opp.id)}`));
        } catch (e) {
          previews.set(pid, e);
        }
      }),
    );
    paint();
  }

  function paint() {
    const ids = chosen();
    if (!ids.length) {
      set(perPartner, h("p", { class: "hint" }, "Choose one or more partners to see exactly what they would receive."));
      set(combined);
      button.disabled = true;
      button.textContent = "Share";
      return;
    }
    const projections = [];
    set(perPartner, 
      ...ids.map((pid) => {
        const p = partners.find((x) => x.id === pid);
        const preview = previews.get(pid);
        const card = h("div", { class: "preview", dataset: { partner: pid } }, h("h4", {}, p ? p.name : pid));
        if (!preview) add(card, h("p", { class: "loading" }, "Loading…"));
        else if (preview instanceof Error) add(card, errorBox(preview));
        else if (!preview.shared || !preview.items.length) {
          const why = preview.withheld_items && preview.withheld_items[0] ? ` (${preview.withheld_items[0].reason})` : "";
          add(card, h("p", { class: "withheld" }, `Nothing: this partner's policy withholds this opportunity${why}.`));
          projections.push(null);
        } else {
          add(card, fieldsTable(preview.items[0]));
          projections.push(preview.items[0]);
        }
        return card;
      }),
    );
    // Every participant sees the same deal: the projection under the intersection of the chosen
    // partners' policies. The node computes it exactly as sharing will (GET /share-preview):
    // the preview is what is sent, never a guess made here.
    const ready = projections.length === ids.length;
    const all = projections.filter(Boolean);
    if (!ready) {
      set(combined, h("p", { class: "loading" }, "Loading…"));
      button.disabled = true;
      return;
    }
    if (all.length < ids.length) {
      set(combined, h("p", { class: "withheld" }, "Nothing can be shared with this choice: a chosen partner's policy withholds the opportunity."));
      button.disabled = true;
      return;
    }
    const key = ids.slice().sort().join(",");
    const seq = ++paintSeq;
    const show = (answer) => {
      if (seq !== paintSeq) return;
      if (answer instanceof Error) {
        set(combined, errorBox(answer));
        button.disabled = true;
        return;
      }
      const fields = answer.items && answer.items[0];
      if (!fields || !Object.keys(fields).length) {
        set(combined, h("p", { class: "withheld" }, "Nothing can be shared with this choice: the chosen partners' policies together withhold the opportunity."));
        button.disabled = true;
        return;
      }
      const differ = Object.keys(fields).filter((k) => all.some((x) => String(x[k]) !== String(fields[k])));
      set(combined,
        h("p", { class: "hint" }, ids.length > 1 ? "Only what every chosen partner may receive goes into the deal: exactly these fields are sent." : "The deal carries exactly these fields."),
        fieldsTable(fields, { id: "share-combined-fields" }),
        differ.length ? h("p", { class: "hint" }, `The policies treat ${differ.map(fieldLabel).join(", ")} differently; the deal carries the value every partner may receive.`) : null,
      );
      button.disabled = false;
      button.textContent = `Share with ${ids.length} partner${ids.length === 1 ? "" : "s"}`;
    };
    if (combinedCache.has(key)) {
      show(combinedCache.get(key));
      return;
    }
    set(combined, h("p", { class: "loading" }, "Loading…"));
    button.disabled = true;
    api(`/share-preview?opportunity_id=${encodeURIComponent(opp.id)}&partners=${encodeURIComponent(key)}`)
      .catch((e) => e)
      .then((answer) => {
        combinedCache.set(key, answer);
        show(answer);
      });
  }

  async function share() {
    button.disabled = true;
    set(result, notice("Sharing…", "info"));
    try {
      const deal = await api("/deals", { method: "POST", json: { opportunity_id: opp.id, partners: chosen(), message: message.value.trim() || null } });
      ctx.toast("Deal shared");
      ctx.navigate(`#/deals/${deal.id}`);
    } catch (e) {
      set(result, errorBox(e));
      button.disabled = false;
    }
  }
  return section;
}
