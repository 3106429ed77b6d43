// One shared deal: shared fields, participants, each company's section, the signed timeline,
// accept/decline for an invitee, and this node's own section. Refreshes live on deal events.
import { api, listAll } from "../api.js";
import { h, add, set, title, fieldsTable, errorBox, empty, statusBadge, stageLabel, when, field, badge, shortId, notice, STAGES } from "../ui.js";

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
  add(view, h("p", { class: "crumbs" }, h("a", { href: "#/deals" }, "Deals"), " / "), head, answer, live, editor);
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
    set(head, title(f.name || `Deal ${shortId(deal.id)}`, h("p", { class: "subtitle" }, stageLabel(deal.stage), " · created ", when(deal.created_at), " by ", nameOf(deal.origin))),
      deal.no_longer_shared ? h("p", { class: "notice", id: "deal-no-longer-shared" }, deal.no_longer_shared.note) : null,
      deal.closed ? h("p", { class: "notice", id: "deal-closed" }, deal.closed) : null);
    const mine = deal.participants.find((p) => p.id === me);
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
                p.role ? h("span", { class: "hint" }, p.role) : null,
                " ",
                statusBadge(p.status),
                deal.sections && deal.sections[p.id] && deal.sections[p.id].stage ? h("span", { class: "hint" }, ` their stage: ${stageLabel(deal.sections[p.id].stage)}`) : null,
              ),
            ),
          ),
          deal.registration && deal.registration.status ? h("p", {}, "Registration: ", statusBadge(deal.registration.status), deal.registration.registered_by ? ` by ${nameOf(deal.registration.registered_by)}` : "") : null,
        ),
      ),
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
                  h("dl", { class: "facts" }, h("dt", {}, "Next step"), h("dd", {}, sec.next_step || "—"), h("dt", {}, "Contribution"), h("dd", {}, sec.contribution || "—"), h("dt", {}, "Contacts"), h("dd", {}, sec.contacts && sec.contacts.length ? sec.contacts.join(", ") : "—")),
                  sec.notes && sec.notes.length ? h("ul", { class: "notes" }, sec.notes.map((n) => h("li", {}, typeof n === "string" ? n : n.text || JSON.stringify(n)))) : h("p", { class: "hint" }, "No notes."),
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
                h("span", { class: "when" }, when(c.at)),
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
    const note = h("textarea", { name: "note", id: "note", rows: 3 });
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
            if (note.value.trim()) body.note = note.value.trim();
            if (stage.value && stage.value !== (((deal.sections || {})[me] || {}).stage || "")) body.stage = stage.value;
            if (!Object.keys(body).length) {
              set(msg, notice("Nothing changed.", "info"));
              return;
            }
            try {
              deal = await api(`/deals/${encodeURIComponent(id)}`, { method: "PATCH", json: body });
              note.value = "";
              set(msg, notice("Saved and sent to the partners."));
              paint();
            } catch (err) {
              set(msg, errorBox(err));
            }
          },
        },
        field("Next step", nextStep),
        field("Add a note", note),
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
  async function respond(what) {
    try {
      await api(`/deals/${encodeURIComponent(id)}/${what}`, { method: "POST" });
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
      h("dl", { class: "facts" }, h("dt", {}, "Account"), h("dd", {}, item.account_domain || "—"), h("dt", {}, "Stage"), h("dd", {}, stageLabel(item.stage)), h("dt", {}, "Status"), h("dd", {}, statusBadge(item.status)), h("dt", {}, "Expires"), h("dd", {}, when(item.expires_at))),
      item.status === "invited" && ctx.can("manager")
        ? h("div", { class: "actions" }, h("button", { type: "button", class: "primary", id: "accept", onclick: () => respond("accept") }, "Accept"), " ", h("button", { type: "button", id: "decline", onclick: () => respond("decline") }, "Decline"))
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
