// One shared deal, as a deal room: shared fields, participants with their roles, the stages of
// each company's pipeline side by side, the comment feed (company, person, time, verified),
// @mentions, linking this node's opportunity, attribution, each company's section, the signed
// timeline, accept/decline for an invitee. Refreshes live on deal events.
import { api, listAll } from "../api.js";
import { h, add, set, title, table, fieldsTable, errorBox, showError, empty, statusBadge, stageLabel, when, ago, field, badge, shortId, notice, roleLabel, idLink, money, STAGES, confirmButton } from "../ui.js";

/** A comment's signature line: the UI appends it so every reader (CLI too) sees who wrote it. */
const SIGNATURE = /\n— ([^\n]{1,80})$/;

/** A note's text and the person who signed it (null for a note without a signature). */
export function splitNote(note) {
  const text = typeof note === "string" ? note : note && note.text ? note.text : JSON.stringify(note);
  const m = text.match(SIGNATURE);
  return m ? { text: text.slice(0, m.index), person: m[1] } : { text, person: null };
}

/** A comment's text with each @mention marked. */
function withMentions(text) {
  const parts = text.split(/(@[A-Za-z0-9._-]{1,40})/g);
  return parts.map((p) => (/^@[A-Za-z0-9._-]+$/.test(p) ? h("span", { class: "mention" }, p) : p));
}

export async function render(view, ctx) {
  const id = ctx.params[0];
  const me = ctx.node ? ctx.node.id : null;
  let deal;
  try {
    deal = await api(`/deals/${encodeURIComponent(id)}`);
  } catch (e) {
    // An invitation not answered yet: the deal itself arrives after accepting.
    if (e.status !== 404 || !ctx.features.inbox) throw e;
    return invitation(view, ctx, id, e);
  }
  // A withdrawn deal: only its tombstone is left (who, when, why).
  if (deal.status === "withdrawn") {
    add(view, h("p", { class: "crumbs" }, h("a", { href: "#/deals" }, "Deals"), " / "),
      title(`Deal ${shortId(deal.id)}`),
      h("section", { class: "card", id: "deal-withdrawn" }, h("p", {}, deal.note)));
    return;
  }

  const head = h("div");
  const answer = h("div", { id: "deal-answer" });
  const live = h("div", { id: "deal-live" });
  const editor = ctx.can("manager") ? sectionEditor() : null;
  // The origin withdraws the deal (made once: a live repaint keeps the reason being typed).
  const withdraw = deal.origin === me && ctx.can("manager") ? withdrawCard(deal, ctx) : null;
  add(view, h("p", { class: "crumbs" }, h("a", { href: "#/deals" }, "Deals"), " / "), head, answer, live, editor, withdraw);
  paint();

  function nameOf(nodeId) {
    const p = deal.participants.find((x) => x.id === nodeId);
    if (nodeId === me) return `${p ? p.name : "This node"} (you)`;
    return p && p.name ? p.name : shortId(nodeId);
  }

  function paint() {
    const f = deal.fields || {};
    if (deal.status === "withdrawn") {
      set(head, title(`Deal ${shortId(deal.id)}`), h("section", { class: "card", id: "deal-withdrawn" }, h("p", {}, deal.note)));
      set(answer);
      set(live);
      return;
    }
    const mine = deal.participants.find((p) => p.id === me);
    set(head, title(f.name || `Deal ${shortId(deal.id)}`, h("p", { class: "subtitle" }, stageLabel(deal.stage), f.amount ? [" · ", money(f.amount, f.currency)] : null, " · created ", ago(deal.created_at), " by ", nameOf(deal.origin), " · ", idLink(deal.id, `#/deals/${deal.id}`))),
      deal.no_longer_shared ? h("p", { class: "notice", id: "deal-no-longer-shared" }, deal.no_longer_shared.note) : null,
      deal.closed ? h("p", { class: "notice", id: "deal-closed" }, deal.closed) : null);
    set(answer);
    if (mine && mine.status === "invited") {
      add(answer, 
        h(
          "section",
          { class: "card invite", "aria-labelledby": "h-answer" },
          h("h2", { id: "h-answer" }, `${nameOf(deal.origin)} invites you to this deal`),
          ctx.can("manager")
            ? h("div", { class: "actions" }, h("button", { type: "button", class: "primary", id: "accept", onclick: () => respond("accept") }, "Accept"), " ", h("button", { type: "button", id: "decline", onclick: () => respond("decline") }, "Decline"))
            : h("p", { class: "hint" }, "A partner manager or admin can accept or decline."),
        ),
      );
    }
    const sections = Object.entries(deal.sections || {});
    // A live repaint keeps what the user is typing.
    const typing = document.getElementById("comment");
    const draft = typing ? typing.value : "";
    const hadFocus = typing && document.activeElement === typing;
    set(live, 
      h(
        "div",
        { class: "grid-2" },
        h("section", { class: "card", "aria-labelledby": "h-fields" }, h("h2", { id: "h-fields" }, "Shared fields"), fieldsTable(f, { id: "deal-fields" })),
        h(
          "section",
          { class: "card", "aria-labelledby": "h-participants" },
          h("h2", { id: "h-participants" }, "Participants"),
          h(
            "ul",
            { class: "participants", id: "participants" },
            deal.participants.map((p) =>
              h(
                "li",
                { dataset: { node: p.id, status: p.status || "" } },
                h("strong", {}, nameOf(p.id)),
                " ",
                p.role ? h("span", { class: "hint participant-role", dataset: { role: p.role } }, roleLabel(p.role)) : null,
                " ",
                statusBadge(p.status),
                p.status === "declined" ? h("p", { class: "hint decline-reason", dataset: { node: p.id } }, p.decline_reason ? `Declined by ${nameOf(p.id)}: ${p.decline_reason}` : `Declined by ${nameOf(p.id)} (no reason given)`) : null,
              ),
            ),
          ),
          deal.registration && deal.registration.status ? h("p", {}, "Registration: ", statusBadge(deal.registration.status), deal.registration.registered_by ? ` by ${nameOf(deal.registration.registered_by)}` : "") : null,
        ),
      ),
      stageMap(),
      feed(),
      ctx.can("manager") && mine && mine.status === "accepted" ? h("div", { class: "grid-2" }, linkCard(), attributionCard()) : attributionCard(),
      h(
        "section",
        { class: "card", "aria-labelledby": "h-sections" },
        h("h2", { id: "h-sections" }, "Each company's section"),
        sections.length
          ? h(
              "div",
              { class: "sections" },
              sections.map(([node, sec]) =>
                h(
                  "article",
                  { class: "section", dataset: { node } },
                  h("h3", {}, nameOf(node)),
                  h("dl", { class: "facts" }, h("dt", {}, "Next step"), h("dd", {}, sec.next_step || "—"), h("dt", {}, "Their stage"), h("dd", {}, stageLabel(sec.stage)), h("dt", {}, "Contribution"), h("dd", {}, sec.contribution || "—"), h("dt", {}, "Contacts"), h("dd", {}, sec.contacts && sec.contacts.length ? sec.contacts.join(", ") : "—"), h("dt", {}, "Linked opportunity"), h("dd", {}, sec.linked_opportunity ? (node === me ? h("a", { href: `#/opportunities/${encodeURIComponent(sec.linked_opportunity)}` }, "Open my opportunity") : "linked") : "—")),
                  h("p", { class: "hint" }, `${(sec.notes || []).length} ${(sec.notes || []).length === 1 ? "comment" : "comments"} in the feed above.`),
                ),
              ),
            )
          : empty("No company has written its section yet."),
      ),
      h(
        "section",
        { class: "card", "aria-labelledby": "h-timeline" },
        h("h2", { id: "h-timeline" }, "Timeline"),
        h(
          "ol",
          { class: "timeline", id: "timeline" },
          (deal.history || [])
            .slice()
            .reverse()
            .map((c) =>
              h(
                "li",
                { dataset: { change: c.change } },
                h("span", { class: "when" }, ago(c.at)),
                " ",
                h("strong", {}, c.author ? nameOf(c.author) : "unknown author"),
                " ",
                c.summary,
                " ",
                c.verified ? badge("✓ verified", "ok") : badge("✗ signature does not verify", "bad"),
              ),
            ),
        ),
      ),
    );
  }

  /** POST /deals/ID/`path`; the deal as answered is painted, a failure shown in `out`. */
  async function act(path, json, out, done) {
    try {
      deal = await api(`/deals/${encodeURIComponent(id)}/${path}`, { method: "POST", json });
      ctx.toast(done);
      paint();
    } catch (err) {
      showError(out, err);
    }
  }

  function restoreDraft(draft, hadFocus) {
    const box = document.getElementById("comment") || live.querySelector("#comment");
    if (box && draft) box.value = draft;
    if (box && hadFocus) box.focus();
  }

  // Each company's own stage beside the shared one: how their pipelines map onto each other.
  function stageMap() {
    const stages = deal.stages || {};
    const rows = deal.participants.map((p) =>
      h("tr", { dataset: { node: p.id } }, h("th", { scope: "row" }, nameOf(p.id)), h("td", {}, roleLabel(p.role)), h("td", { class: "their-stage" }, stageLabel(stages[p.id])), h("td", {}, stageLabel(deal.stage))),
    );
    return h(
      "section",
      { class: "card", "aria-labelledby": "h-stages" },
      h("h2", { id: "h-stages" }, "Stages side by side"),
      h("p", { class: "hint" }, "Each company's own pipeline stage for this deal (from its linked opportunity), next to the stage the deal shares."),
      table(["Company", "Role", "Their own stage", "Shared stage"], rows, { id: "stage-map", class: "stage-map" }),
    );
  }

  // The comment feed: every company's notes, newest first, each with the company (verified by
  // its signature on the change that added it), the person who signed it, and the time.
  function feed() {
    const history = deal.history || [];
    const items = [];
    for (const [node, sec] of Object.entries(deal.sections || {})) {
      const notes = sec.notes || [];
      const changes = history.filter((c) => c.author === node && /note/.test(c.summary || ""));
      // The k-th note of a company came with its k-th "added a note" change (aligned from the
      // newest: the history keeps only the latest changes).
      notes.forEach((n, i) => {
        const change = changes[changes.length - (notes.length - i)] || null;
        items.push({ node, ...splitNote(n), at: change ? change.at : null, verified: change ? change.verified : null, order: i });
      });
    }
    items.sort((a, b) => String(b.at || "").localeCompare(String(a.at || "")) || b.order - a.order);
    return h(
      "section",
      { class: "card", "aria-labelledby": "h-feed" },
      h("h2", { id: "h-feed" }, "Comments"),
      ctx.can("manager") && deal.participants.some((p) => p.id === me && (p.status === "accepted" || p.id === deal.origin)) ? commentForm() : null,
      items.length
        ? h(
            "ol",
            { class: "feed", id: "comment-feed" },
            items.map((c) =>
              h(
                "li",
                { dataset: { node: c.node } },
                h("div", { class: "meta" }, h("span", { class: "who" }, c.person ? `${c.person} · ` : "", nameOf(c.node)), " · ", c.at ? ago(c.at) : "earlier", " ", c.verified === true ? badge("✓ verified", "ok") : c.verified === false ? badge("✗ signature does not verify", "bad") : null),
                h("p", { class: "comment-text" }, withMentions(c.text)),
              ),
            ),
          )
        : h("p", { class: "hint", id: "comment-feed" }, "No comments yet."),
    );
  }

  function commentForm() {
    const text = h("textarea", { id: "comment", name: "comment", rows: 3, list: "mention-people" });
    const people = new Set();
    for (const sec of Object.values(deal.sections || {})) for (const n of sec.notes || []) { const p = splitNote(n).person; if (p) people.add(p); }
    if (ctx.me.username) people.add(ctx.me.username);
    const hint = h("small", { class: "hint", id: "comment-hint" }, "Type @ and a name to mention a person; they get an e-mail if they opted in. Known here: ", [...people].map((p) => `@${p}`).join(", ") || "nobody yet", ".");
    const msg = h("div", { "aria-live": "polite", id: "comment-msg" });
    const button = h("button", { type: "submit", class: "primary" }, "Post comment");
    return h(
      "form",
      {
        id: "comment-form",
        onsubmit: async (e) => {
          e.preventDefault();
          const body = text.value.trim();
          if (!body) {
            showError(msg, { message: "Write a comment first." });
            return;
          }
          button.disabled = true;
          try {
            const signed = ctx.me.username ? `${body}\n— ${ctx.me.username}` : body;
            deal = await api(`/deals/${encodeURIComponent(id)}`, { method: "PATCH", json: { note: signed } });
            text.value = "";
            ctx.toast("Comment posted");
            paint();
            document.getElementById("comment")?.focus();
          } catch (err) {
            showError(msg, err);
          } finally {
            button.disabled = false;
          }
        },
      },
      h("div", { class: "field" }, h("label", { for: "comment" }, "Add a comment"), text, hint),
      button,
      msg,
    );
  }

  // Link this node's own opportunity (its stage then shows beside the others'), or create one.
  function linkCard() {
    const sec = (deal.sections || {})[me] || {};
    const out = h("div", { id: "link-result", "aria-live": "polite" });
    const card = h("section", { class: "card", "aria-labelledby": "h-link" }, h("h2", { id: "h-link" }, "My opportunity"));
    if (sec.linked_opportunity) {
      add(card, h("p", { id: "linked" }, "Linked to ", h("a", { href: `#/opportunities/${encodeURIComponent(sec.linked_opportunity)}` }, "my opportunity"), ` (its stage: ${stageLabel(sec.stage)}).`));
      return card;
    }
    const pick = h("select", { id: "link-opportunity" }, h("option", { value: "" }, "Loading my opportunities…"));
    const domain = (deal.fields || {})["account.domain"];
    const q = domain ? `?q=${encodeURIComponent(domain)}&limit=100` : "?limit=100";
    api(`/opportunities${q}`).then((page) => {
      set(pick, page.items.length ? page.items.map((o) => h("option", { value: o.id }, `${o.name} (${stageLabel(o.stage)})`)) : h("option", { value: "" }, "None on this account"));
    }).catch(() => set(pick, h("option", { value: "" }, "Cannot read opportunities")));
    const link = (json) => act("link", json, out, "Opportunity linked");
    add(
      card,
      h("p", { class: "hint" }, "Link the deal to your own opportunity: your partners see its stage beside theirs, never its other fields."),
      h("div", { class: "filters" }, field("Opportunity", pick), h("button", { type: "button", id: "link-button", onclick: () => (pick.value ? link({ opportunity_id: pick.value }) : showError(out, { message: "Choose an opportunity first." })) }, "Link"), domain ? h("button", { type: "button", id: "link-create", onclick: () => link({ create: true }) }, "Create one from the deal") : null),
      out,
    );
    return card;
  }

  // Attribution: who sourced the deal and who influenced it, agreed between the companies.
  function attributionCard() {
    const a = deal.attribution || { proposals: [], agreed: null, disputed: false };
    const describe = (p) => [`${nameOf(p.by)} proposes: sourced by ${p.sourced_by ? nameOf(p.sourced_by) : "—"}`, p.influenced_by && p.influenced_by.length ? `, influenced by ${p.influenced_by.map(nameOf).join(", ")}` : "", p.accepted_by && p.accepted_by.length ? ` · accepted by ${p.accepted_by.map(nameOf).join(", ")}` : ""].join("");
    const out = h("div", { id: "attribution-result", "aria-live": "polite" });
    const card = h(
      "section",
      { class: "card", "aria-labelledby": "h-attr", id: "attribution" },
      h("h2", { id: "h-attr" }, "Attribution"),
      a.agreed ? h("p", { id: "attribution-agreed" }, badge("agreed", "ok"), " Sourced by ", a.agreed.sourced_by ? nameOf(a.agreed.sourced_by) : "—", a.agreed.influenced_by.length ? `, influenced by ${a.agreed.influenced_by.map(nameOf).join(", ")}` : "") : a.disputed ? h("p", {}, badge("disputed", "warn"), " The companies propose different attributions.") : null,
      a.proposals.length
        ? h("ul", { class: "plain", id: "attribution-proposals" }, a.proposals.map((p) => h("li", { dataset: { by: p.by } }, describe(p), " ", ctx.can("manager") && p.by !== me && !(p.accepted_by || []).includes(me) && !a.agreed ? h("button", { type: "button", class: "accept-attribution", onclick: () => act("attribution/accept", { proposer: p.by }, out, "Attribution accepted") }, "Accept") : null)))
        : h("p", { class: "hint" }, "Nobody has proposed an attribution yet."),
      out,
    );
    const members = deal.participants.filter((p) => p.id === deal.origin || p.status === "accepted");
    if (ctx.can("manager") && members.some((p) => p.id === me) && members.length > 1 && !a.agreed) {
      const sourced = h("select", { id: "sourced-by" }, members.map((p) => h("option", { value: p.id }, nameOf(p.id))));
      const influenced = members.map((p) => h("label", { class: "check" }, h("input", { type: "checkbox", value: p.id }), ` ${nameOf(p.id)}`));
      add(
        card,
        h(
          "form",
          { id: "attribution-form", onsubmit: (e) => { e.preventDefault(); act("attribution", { sourced_by: sourced.value, influenced_by: influenced.map((l) => l.querySelector("input")).filter((i) => i.checked).map((i) => i.value) }, out, "Attribution proposed"); } },
          field("Sourced by", sourced),
          h("fieldset", {}, h("legend", {}, "Influenced by"), influenced),
          h("button", { type: "submit" }, "Propose attribution"),
        ),
      );
    }
    return card;
  }

  async function respond(what) {
    try {
      deal = await api(`/deals/${encodeURIComponent(id)}/${what}`, { method: "POST" });
      ctx.toast(what === "accept" ? "Deal accepted" : "Deal declined");
      paint();
    } catch (e) {
      add(answer, errorBox(e));
    }
  }

  function sectionEditor() {
    const mineSec = (deal.sections || {})[me] || {};
    const nextStep = h("input", { name: "next_step", id: "next-step", value: mineSec.next_step || "" });
    const stage = h("select", { name: "stage", id: "my-stage" }, h("option", { value: "" }, "(unchanged)"), STAGES.map((s) => h("option", { value: s, selected: s === mineSec.stage }, stageLabel(s))));
    const msg = h("div", { "aria-live": "polite" });
    return h(
      "section",
      { class: "card", "aria-labelledby": "h-mine" },
      h("h2", { id: "h-mine" }, "Your section"),
      h("p", { class: "hint" }, "Only this node can write its section; partners see it, signed by this node."),
      h(
        "form",
        {
          id: "section-form",
          onsubmit: async (e) => {
            e.preventDefault();
            const body = {};
            if (nextStep.value.trim() !== (((deal.sections || {})[me] || {}).next_step || "")) body.next_step = nextStep.value.trim();
            if (stage.value && stage.value !== (((deal.sections || {})[me] || {}).stage || "")) body.stage = stage.value;
            if (!Object.keys(body).length) {
              set(msg, notice("Nothing changed.", "info"));
              return;
            }
            try {
              deal = await api(`/deals/${encodeURIComponent(id)}`, { method: "PATCH", json: body });
              set(msg, notice("Saved and sent to the partners."));
              paint();
            } catch (err) {
              set(msg, errorBox(err));
            }
          },
        },
        field("Next step", nextStep),
        field("Your stage", stage),
        h("button", { type: "submit", class: "primary" }, "Save my section"),
        msg,
      ),
    );
  }

  return {
    async onEvent(event) {
      if (!event.kind.startsWith("deal.") && event.kind !== "lagged") return;
      const about = event.data && (event.data.deal_id || event.data.deal || event.data.id);
      if (about && about !== id) return;
      try {
        deal = await api(`/deals/${encodeURIComponent(id)}`);
        paint();
      } catch (e) {
        live.prepend(errorBox(e));
      }
    },
  };
}

/** The redacted invitation (from the inbox) with accept/decline; the page reloads on events. */
async function invitation(view, ctx, id, notFound) {
  const inbox = await listAll("/inbox");
  const item = inbox.items.find((x) => x.deal_id === id);
  if (!item) throw notFound;
  const msg = h("div", { "aria-live": "polite", id: "deal-answer" });
  const reasonInput = h("input", { type: "text", id: "decline-reason", maxlength: 500 });
  async function respond(what) {
    try {
      const reason = what === "decline" ? reasonInput.value.trim() : "";
      await api(`/deals/${encodeURIComponent(id)}/${what}`, { method: "POST", json: reason ? { reason } : undefined });
      ctx.toast(what === "accept" ? "Deal accepted" : "Deal declined");
      set(msg, h("p", { class: "notice info", role: "status" }, what === "accept" ? "Accepted: the deal arrives from the partner's node in a moment." : "Declined."));
      if (what === "accept") waitForDeal();
    } catch (e) {
      set(msg, errorBox(e));
    }
  }
  // The deal itself comes from the inviting node after the answer: show it once it is here.
  async function waitForDeal() {
    for (let i = 0; i < 60 && view.isConnected; i += 1) {
      await new Promise((r) => setTimeout(r, 1000));
      try {
        await api(`/deals/${encodeURIComponent(id)}`);
        if (view.isConnected) ctx.refresh();
        return;
      } catch (e) {
        if (e.status !== 404) return;
      }
    }
  }
  add(
    view,
    h("p", { class: "crumbs" }, h("a", { href: "#/inbox" }, "Inbox"), " / "),
    title(item.title || "Deal invitation", h("p", { class: "subtitle" }, "An invitation: you see only this summary until you accept.")),
    h(
      "section",
      { class: "card invite", "aria-labelledby": "h-inv" },
      h("h2", { id: "h-inv" }, `${item.from_name || item.from || "A partner"} invites you to a deal`),
      item.message ? h("blockquote", { class: "invitation-message", id: "invitation-message" }, item.message) : null,
      item.decline_reason ? h("p", { class: "hint decline-reason" }, `You declined: ${item.decline_reason}`) : null,
      h("dl", { class: "facts" }, h("dt", {}, "Account"), h("dd", {}, item.account_domain || "—"), h("dt", {}, "Stage"), h("dd", {}, stageLabel(item.stage)), h("dt", {}, "Status"), h("dd", {}, statusBadge(item.status)), h("dt", {}, "Expires"), h("dd", {}, when(item.expires_at))),
      item.status === "invited" && ctx.can("manager")
        ? [field("Reason if you decline (optional; the inviter reads it)", reasonInput), h("div", { class: "actions" }, h("button", { type: "button", class: "primary", id: "accept", onclick: () => respond("accept") }, "Accept"), " ", h("button", { type: "button", id: "decline", onclick: () => respond("decline") }, "Decline"))]
        : null,
      msg,
    ),
  );
  return {
    onEvent(event) {
      if (event.kind.startsWith("deal.")) ctx.refresh();
    },
  };
}

/** The origin's "Withdraw this deal": a reason the partners read, then a confirmation. */
function withdrawCard(deal, ctx) {
  const reason = h("input", { name: "reason", id: "withdraw-reason", autocomplete: "off", size: 40, maxlength: 500 });
  const out = h("div", { "aria-live": "polite" });
  return h(
    "section",
    { class: "card", id: "deal-withdraw", "aria-labelledby": "h-withdraw" },
    h("h2", { id: "h-withdraw" }, "Withdraw this deal"),
    h("p", { class: "hint" }, "Every partner's node keeps only who withdrew it, when and why, and drops its content. This cannot be undone."),
    field("Why (the partners read it)", reason),
    confirmButton("Withdraw deal", "Withdraw this deal from every partner?", async () => {
      try {
        await api(`/deals/${encodeURIComponent(deal.id)}/withdraw`, { method: "POST", json: { reason: reason.value.trim() } });
        ctx.toast("Deal withdrawn");
        ctx.refresh();
      } catch (e) {
        showError(out, e);
      }
    }, { confirmLabel: "Yes, withdraw" }),
    out,
  );
}
