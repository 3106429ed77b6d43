// Mutual account plans: one customer account planned with partners. Every company keeps its
// own goals, stakeholders and tasks (only it can change them: its node signs them), and the
// timeline is the plan's signed history. Overdue tasks are marked.
import { api, listAll } from "../api.js";
import { h, add, set, title, table, empty, errorBox, field, notice, shortId } from "../ui.js";

export async function render(view, ctx) {
  const [node, partners] = await Promise.all([api("/node"), api("/partners?limit=1000")]);
  const active = partners.items.filter((p) => p.status === "active");
  const listBox = h("div", { id: "plans-list" });
  const msg = h("div", { id: "plans-msg", "aria-live": "polite" });

  async function reload() {
    const page = await listAll("/plans");
    set(listBox, page.items.length ? page.items.map((p) => planCard(p, node, ctx, msg, reload)) : empty("No account plans yet."));
  }
  await reload();

  add(
    view,
    title("Account plans"),
    h("p", { class: "hint" }, "Plan one customer account with partners: each company sets its own goals, stakeholders and tasks, and only it can change them. Stakeholders are people: they are added only when your policy toward every company of the plan shares owner."),
    msg,
    ctx.can("manager") && active.length ? createForm(active, msg, reload) : null,
    listBox,
  );
  return {
    onEvent(event) {
      if (event.kind.startsWith("plan.") || event.kind === "lagged") reload().catch((e) => set(listBox, errorBox(e)));
    },
  };
}

async function step(path, json, msg, reload, done) {
  try {
    await api(path, { method: "POST", json });
    set(msg, notice(done));
    await reload();
  } catch (err) {
    set(msg, errorBox(err));
  }
}

function createForm(active, msg, reload) {
  const domain = h("input", { type: "text", placeholder: "acme.com", size: 20 });
  const boxes = active.map((p) => h("label", { class: "check" }, h("input", { type: "checkbox", value: p.id }), ` ${p.name}`));
  const form = h("form", { class: "inline-form", id: "plans-create" },
    h("h2", {}, "Open a plan"),
    field("Account domain", domain),
    h("fieldset", {}, h("legend", {}, "Plan with"), boxes),
    h("button", { type: "submit", class: "primary" }, "Open plan"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const withIds = boxes.map((b) => b.querySelector("input")).filter((i) => i.checked).map((i) => i.value);
    step("/plans", { account_domain: domain.value.trim(), with: withIds }, msg, reload, "Plan opened: sent to the partners.");
  });
  return form;
}

function planCard(p, node, ctx, msg, reload) {
  const headingId = `plan-${p.id.slice(0, 12)}`;
  const mine = (item) => item.owner === node.id;
  const companies = p.companies.map((c) => c.name).join(", ");
  const goals = p.goals.length
    ? table(["Company", "Goal", "Target", "By"], p.goals.map((g) => h("tr", {}, h("td", {}, g.owner_name || shortId(g.owner)), h("td", {}, g.title), h("td", {}, g.amount ? `${g.amount} ${g.currency}` : "—"), h("td", {}, g.due || "—"))))
    : empty("No goals yet.");
  const people = p.stakeholders.length
    ? table(["Company", "Stakeholder", "Role", "At", "Actions"], p.stakeholders.map((s) => h("tr", {}, h("td", {}, s.owner_name || shortId(s.owner)), h("td", {}, s.name), h("td", {}, s.role || "—"), h("td", {}, s.company || "—"),
        h("td", { class: "actions" }, ctx.can("manager") && mine(s) ? h("button", { type: "button", onclick: () => step(`/plans/${p.id}/stakeholders/remove`, { stakeholder: s.id }, msg, reload, "Stakeholder removed.") }, `Remove ${s.name}`) : null))))
    : empty("No stakeholders yet.");
  const tasks = p.tasks.length
    ? table(["Company", "Task", "Person", "Due", "Status", "Actions"], p.tasks.map((t) => h("tr", { dataset: { task: t.id, status: t.status, overdue: String(t.overdue) } },
        h("td", {}, t.owner_name || shortId(t.owner)), h("td", {}, t.title), h("td", {}, t.person || "—"), h("td", {}, t.due),
        h("td", {}, h("span", { class: `badge ${t.overdue ? "bad" : t.status === "done" ? "ok" : ""}` }, t.overdue ? "overdue" : t.status)),
        h("td", { class: "actions" }, ctx.can("manager") && mine(t) && t.status === "open" ? h("button", { type: "button", onclick: () => step(`/plans/${p.id}/tasks/done`, { task: t.id }, msg, reload, "Task done.") }, `Mark '${t.title}' done`) : null))))
    : empty("No tasks yet.");
  const taskTitle = h("input", { type: "text", size: 24 });
  const taskOwner = h("input", { type: "text", size: 14 });
  const taskDue = h("input", { type: "date" });
  const taskForm = h("form", { class: "inline-form" },
    field("Task", taskTitle), field("Person", taskOwner), field("Due", taskDue),
    h("button", { type: "submit" }, "Add task"));
  taskForm.addEventListener("submit", (e) => {
    e.preventDefault();
    step(`/plans/${p.id}/tasks`, { title: taskTitle.value, owner: taskOwner.value.trim() || null, due: taskDue.value }, msg, reload, "Task added.");
  });
  const goalTitle = h("input", { type: "text", size: 24 });
  const goalAmount = h("input", { type: "text", inputmode: "decimal", size: 10 });
  const goalCurrency = h("input", { type: "text", size: 4, value: "EUR" });
  const goalDue = h("input", { type: "date" });
  const goalForm = h("form", { class: "inline-form" },
    field("Goal", goalTitle), field("Target amount", goalAmount), field("Currency", goalCurrency), field("By", goalDue),
    h("button", { type: "submit" }, "Add goal"));
  goalForm.addEventListener("submit", (e) => {
    e.preventDefault();
    const amount = goalAmount.value.trim();
    step(`/plans/${p.id}/goals`, { title: goalTitle.value, amount: amount || null, currency: amount ? goalCurrency.value.trim() : null, due: goalDue.value || null }, msg, reload, "Goal added.");
  });
  const personName = h("input", { type: "text", size: 18 });
  const personRole = h("input", { type: "text", size: 12 });
  const personForm = h("form", { class: "inline-form" },
    field("Stakeholder name", personName), field("Role", personRole),
    h("button", { type: "submit" }, "Add stakeholder"));
  personForm.addEventListener("submit", (e) => {
    e.preventDefault();
    step(`/plans/${p.id}/stakeholders`, { name: personName.value, role: personRole.value.trim() || null }, msg, reload, "Stakeholder added.");
  });
  const timeline = h("ol", { class: "timeline" }, p.timeline.map((e) => h("li", {}, h("time", { datetime: e.at }, e.at.slice(0, 16).replace("T", " ")), ` ${e.what}`, e.applied ? null : h("span", { class: "hint" }, " (not applied)"))));
  return h(
    "section",
    { class: "card", "aria-labelledby": headingId, dataset: { plan: p.id } },
    h("h2", { id: headingId }, p.account_name ? `${p.account_name} (${p.account_domain})` : p.account_domain),
    h("p", { class: "hint" }, `With ${companies} · ${p.overdue_tasks} overdue · ${shortId(p.id)}`),
    h("h3", {}, "Goals"), goals,
    ctx.can("manager") ? goalForm : null,
    h("h3", {}, "Stakeholders"), people,
    ctx.can("manager") ? personForm : null,
    h("h3", {}, "Tasks"), tasks,
    ctx.can("manager") ? taskForm : null,
    h("h3", {}, "Timeline"), timeline,
  );
}
