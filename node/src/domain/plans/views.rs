//! Account plans as the API shows them: each company's goals, stakeholders and tasks, read from
//! the plan's applied steps (an item's latest step wins), and its timeline.

use super::KIND;
use crate::domain::audit::rfc3339;
use crate::domain::deals::{Deals, DealsError};
use crate::domain::declared::{self, DeclaredDoc};
use protocol::deal::DealId;
use protocol::kind::{owns_item, Replayed, StepValue};
use protocol::records::Date;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// One stakeholder as read.
#[derive(Debug, Clone)]
pub(super) struct Stakeholder {
    pub item: String,
    pub name: String,
    pub role: Option<String>,
    pub company: Option<String>,
}

impl Stakeholder {
    /// The owning company's node id (the item id's prefix).
    pub fn owner(&self) -> &str {
        self.item.split('/').next().unwrap_or("")
    }
}

fn text(r: &Replayed, field: &str) -> Option<String> {
    r.step
        .values
        .get(field)
        .and_then(StepValue::text)
        .map(str::to_string)
}

fn applied(plan: &DeclaredDoc) -> impl Iterator<Item = &Replayed> {
    plan.steps.iter().filter(|r| r.stale.is_none())
}

/// The stakeholders a plan holds now (removed ones left out).
pub(super) fn stakeholders(plan: &DeclaredDoc) -> Vec<Stakeholder> {
    let mut out: BTreeMap<String, Option<Stakeholder>> = BTreeMap::new();
    for r in applied(plan) {
        let Some(item) = text(r, "item") else {
            continue;
        };
        match r.step.transition.as_str() {
            "stakeholder" => {
                out.insert(
                    item.clone(),
                    Some(Stakeholder {
                        name: text(r, "name").unwrap_or_default(),
                        role: text(r, "role"),
                        company: text(r, "company"),
                        item,
                    }),
                );
            }
            "stakeholder_removed" => {
                out.insert(item, None);
            }
            _ => {}
        }
    }
    out.into_values().flatten().collect()
}

/// Today (UTC) as a date.
fn today(now_ms: u64) -> Option<Date> {
    Date::from_days_since_epoch(i64::try_from(now_ms / 86_400_000).ok()?).ok()
}

/// The plan's JSON at time `now_ms` (which tasks are overdue).
fn plan_json(plan: &DeclaredDoc, now_ms: u64) -> Value {
    let owner_of = |item: &str| item.split('/').next().unwrap_or("").to_string();
    let who = |item: &str| {
        let o = owner_of(item);
        json!({"owner": o, "owner_name": plan.name_of(&o)})
    };
    let today = today(now_ms);
    let mut goals: BTreeMap<String, Value> = BTreeMap::new();
    let mut tasks: BTreeMap<String, Value> = BTreeMap::new();
    let mut timeline = Vec::new();
    for r in &plan.steps {
        let item = text(r, "item");
        let by = plan
            .name_of(&r.step.by)
            .unwrap_or_else(|| r.step.by.clone());
        let what = match (r.step.transition.as_str(), &item) {
            ("create", _) => format!(
                "{by} opened the plan for {}",
                text(r, "account_domain").unwrap_or_default()
            ),
            ("goal", Some(item)) => {
                let title = text(r, "title").unwrap_or_default();
                if r.stale.is_none() {
                    let mut g = who(item);
                    g["id"] = json!(item);
                    g["title"] = json!(title);
                    g["amount"] = json!(text(r, "amount"));
                    g["currency"] = json!(text(r, "currency"));
                    g["due"] = json!(text(r, "due"));
                    goals.insert(item.clone(), g);
                }
                format!("{by} set the goal '{title}'")
            }
            // A stakeholder is a person: the timeline does not repeat the name.
            ("stakeholder", Some(_)) => format!("{by} added a stakeholder"),
            ("stakeholder_removed", Some(_)) => format!("{by} removed a stakeholder"),
            ("task", Some(item)) => {
                let title = text(r, "title").unwrap_or_default();
                let due = text(r, "due").unwrap_or_default();
                if r.stale.is_none() {
                    let mut t = who(item);
                    t["id"] = json!(item);
                    t["title"] = json!(title);
                    t["person"] = json!(text(r, "person"));
                    t["due"] = json!(due);
                    t["status"] = json!("open");
                    t["done_at"] = Value::Null;
                    tasks.insert(item.clone(), t);
                }
                format!("{by} added the task '{title}' (due {due})")
            }
            ("task_done", Some(item)) => {
                let title = tasks
                    .get(item)
                    .and_then(|t| t["title"].as_str())
                    .unwrap_or("")
                    .to_string();
                if r.stale.is_none() {
                    if let Some(t) = tasks.get_mut(item) {
                        t["status"] = json!("done");
                        t["done_at"] = json!(rfc3339(r.step.at_ms));
                    }
                }
                format!("{by} completed the task '{title}'")
            }
            ("note", _) => format!("{by}: {}", text(r, "text").unwrap_or_default()),
            (other, _) => format!("{by}: {other}"),
        };
        timeline.push(json!({"at": rfc3339(r.step.at_ms), "by": r.step.by, "by_name": plan.name_of(&r.step.by),
                             "step": r.step.transition, "what": what,
                             "applied": r.stale.is_none(), "why_not": r.stale}));
    }
    for t in tasks.values_mut() {
        let due = t["due"].as_str().and_then(|d| Date::parse(d).ok());
        let overdue =
            t["status"] == "open" && matches!((due, today), (Some(d), Some(now)) if d < now);
        t["overdue"] = json!(overdue);
    }
    let stakeholders: Vec<Value> = stakeholders(plan)
        .into_iter()
        .map(|s| {
            let mut v = who(&s.item);
            v["id"] = json!(s.item);
            v["name"] = json!(s.name);
            v["role"] = json!(s.role);
            v["company"] = json!(s.company);
            v
        })
        .collect();
    let tasks: Vec<Value> = tasks.into_values().collect();
    let overdue = tasks.iter().filter(|t| t["overdue"] == true).count();
    json!({
        "id": plan.id.to_string(),
        "status": plan.status,
        "account_domain": plan.text("account_domain"),
        "account_name": plan.text("account_name"),
        "origin": plan.origin.to_string(),
        "origin_name": plan.name_of(plan.origin.as_str()),
        "companies": plan.members.iter().map(|m| json!({"node": m.node.to_string(), "name": m.name,
            "role": m.role.map(|r| r.as_str())})).collect::<Vec<_>>(),
        "goals": goals.into_values().collect::<Vec<_>>(),
        "stakeholders": stakeholders,
        "tasks": tasks,
        "overdue_tasks": overdue,
        "created_at": rfc3339(plan.created_at_ms),
        "timeline": timeline,
    })
}

/// Every plan held here, oldest first, as at `now` (which tasks are overdue).
pub fn list(deals: &Deals, now: u64) -> Vec<Value> {
    declared::docs(deals, KIND)
        .iter()
        .map(|p| plan_json(p, now))
        .collect()
}

/// Plan `id` as at `now`.
pub fn get(deals: &Deals, id: DealId, now: u64) -> Result<Value, DealsError> {
    let plan = declared::doc(deals, KIND, id, "account plan")?;
    Ok(plan_json(&plan, now))
}

/// Resolves a plan id or a unique prefix of one (at least 4 hex digits).
pub fn resolve(deals: &Deals, text: &str) -> Result<DealId, DealsError> {
    declared::resolve(deals, KIND, text, "account plan", |_| true)
}

/// Every open task past its due date, in every plan held here, at `now_ms`: `(plan, task)`.
pub fn overdue_tasks(deals: &Deals, now_ms: u64) -> Vec<(Value, Value)> {
    let mut out = Vec::new();
    for plan in declared::docs(deals, KIND) {
        let v = plan_json(&plan, now_ms);
        for t in v["tasks"].as_array().into_iter().flatten() {
            if t["overdue"] == true {
                out.push((v.clone(), t.clone()));
            }
        }
    }
    out
}

/// The item of plan `id` of `kind` (`task` or `stakeholder`) that `wanted` names — its full id,
/// the part after `/`, or a unique prefix of that part (at least 4 characters) — when it is this
/// node's; another company's is refused naming the owner.
pub(super) fn own_item(
    deals: &Deals,
    id: DealId,
    kind: &str,
    wanted: &str,
) -> Result<String, DealsError> {
    let plan = declared::doc(deals, KIND, id, "account plan")?;
    let v = plan_json(&plan, 0);
    let list = if kind == "task" {
        "tasks"
    } else {
        "stakeholders"
    };
    let want = wanted.trim();
    let lower = want.to_ascii_lowercase();
    let shown: String = want.chars().take(80).collect();
    let found: Vec<&str> = v[list]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["id"].as_str())
        .filter(|item| {
            let rest = item.split_once('/').map_or("", |(_, r)| r);
            *item == want || (lower.len() >= 4 && rest.starts_with(&lower))
        })
        .collect();
    let item = match found[..] {
        [one] => one.to_string(),
        [] => {
            return Err(DealsError::NotFound(format!(
                "plan {id} has no {kind} {shown}"
            )))
        }
        _ => {
            return Err(DealsError::Conflict(format!(
                "{} {kind}s of plan {id} start with {shown}: give more characters",
                found.len()
            )))
        }
    };
    if !owns_item(deals.me().as_str(), &item) {
        let owner = item.split('/').next().unwrap_or("");
        return Err(DealsError::Forbidden(format!(
            "{kind} {item} belongs to {}: only that company may change it",
            plan.name_of(owner).unwrap_or_else(|| owner.to_string())
        )));
    }
    Ok(item)
}
