//! Mutual account plans: one customer account planned by a vendor and its partners together, in
//! a shared document of the declared kind `plan` (`protocol::kinds::plan`) between the companies
//! that plan it. Each company keeps its own goals, stakeholders and tasks (item ids
//! `<its node id>/<ulid>`, so the declaration lets only the owner change them) and anyone adds
//! notes; the timeline is the signed history.
//!
//! Invariant: one plan per account domain per set of companies (a second is refused naming the
//! first). A stakeholder is a person: it is written only when this node's policy toward every
//! other company of the plan shares people (`owner`), and erasure (`domain::erase`) removes the
//! stakeholders this node added that name the person (a signed `stakeholder_removed` step; the
//! views stop showing them everywhere).
//! Invariant: a step a peer sends that the declaration refuses (another company's task) is never
//! applied and is audited by the deal engine's sync path.

mod views;
mod watch;

pub use views::{get, list, overdue_tasks, resolve};
pub use watch::{overdue_pass, watch};

use crate::domain::audit::AuditKind;
use crate::domain::deals::{DealErasure, Deals, DealsError};
use crate::domain::declared::{self, checked, StepAudit};
use crate::domain::erase::Needle;
use crate::domain::partners;
use policy::OpportunityField;
use protocol::deal::{DealDoc, DealId, Invite, Role, SharedFields};
use protocol::identity::NodeId;
use protocol::kind::StepValue;
use protocol::kinds::plan::PLAN;
use protocol::records::{Amount, Currency, Domain};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The declared kind's name.
pub const KIND: &str = "plan";
/// Most companies planning one account (the origin included).
pub const COMPANIES_MAX: usize = 16;

/// Opens a plan for the account `domain` with the partners `with` (ids or unique names).
pub fn create(
    deals: &Deals,
    domain: &str,
    account_name: Option<&str>,
    with: &[String],
    now: u64,
) -> Result<DealId, DealsError> {
    let domain = Domain::parse(domain.trim())
        .map_err(|e| DealsError::fields(vec![("account_domain", e.to_string())]))?;
    let mut invites: Vec<Invite> = Vec::new();
    for wanted in with.iter().map(|w| w.trim()).filter(|w| !w.is_empty()) {
        let p = partners::resolve(deals.store(), wanted)
            .map_err(|e| DealsError::fields(vec![("with", e.to_string())]))?;
        if !p.is_active() {
            return Err(DealsError::fields(vec![(
                "with",
                format!("{} is no longer a partner", p.name),
            )]));
        }
        let node = NodeId::parse(&p.id).map_err(|e| DealsError::Invalid(e.to_string()))?;
        if !invites.iter().any(|i| i.node == node) {
            invites.push(Invite {
                node,
                name: p.name.clone(),
                role: partners::role_of_type(p.partner_type.as_deref()),
            });
        }
    }
    if invites.is_empty() {
        return Err(DealsError::fields(vec![(
            "with",
            "name at least one partner to plan the account with".into(),
        )]));
    }
    if invites.len() + 1 > COMPANIES_MAX {
        return Err(DealsError::fields(vec![(
            "with",
            format!("at most {COMPANIES_MAX} companies plan one account"),
        )]));
    }
    let mut set: Vec<&str> = invites.iter().map(|i| i.node.as_str()).collect();
    set.push(deals.me().as_str());
    set.sort_unstable();
    if let Some(same) = declared::docs(deals, KIND).into_iter().find(|d| {
        let mut members: Vec<&str> = d.members.iter().map(|m| m.node.as_str()).collect();
        members.sort_unstable();
        d.text("account_domain") == Some(domain.as_str()) && members == set
    }) {
        return Err(DealsError::Conflict(format!(
            "plan {} already plans {} with these companies",
            same.id,
            domain.as_str()
        )));
    }
    let mut problems = Vec::new();
    let mut values = BTreeMap::new();
    checked(
        &PLAN,
        &mut problems,
        &mut values,
        "account_domain",
        Some(domain.as_str()),
    );
    checked(
        &PLAN,
        &mut problems,
        &mut values,
        "account_name",
        account_name.map(str::trim).filter(|n| !n.is_empty()),
    );
    if !problems.is_empty() {
        return Err(DealsError::fields(problems));
    }
    // The origin is the vendor unless it plans with a vendor.
    let role = if invites.iter().any(|i| i.role == Role::Vendor) {
        Role::Reseller
    } else {
        Role::Vendor
    };
    let shared = SharedFields {
        title: Some(format!("Account plan: {}", domain.as_str())),
        ..SharedFields::default()
    };
    let signer = deals.signer();
    let (mut doc, genesis) =
        DealDoc::create_kind(signer, now, (deals.name(), role), &invites, &shared, &PLAN)
            .map_err(|e| DealsError::Invalid(e.to_string()))?;
    let step = doc
        .take_step(signer, now, "create", &values)
        .map_err(|e| DealsError::Invalid(e.to_string()))?;
    let names: Vec<&str> = invites.iter().map(|i| i.name.as_str()).collect();
    let summary = format!(
        "opened an account plan for {} with {}",
        domain.as_str(),
        names.join(", ")
    );
    let details = json!({"event": "created", "plan": doc.id().to_string()});
    deals.add_document(
        doc,
        &[genesis, step],
        now,
        Some((AuditKind::Plan, None, summary, details)),
    )
}

/// A goal as given: a target with an optional amount (and its currency) and date.
#[derive(Debug, Clone, Default)]
pub struct Goal {
    pub title: String,
    pub amount: Option<String>,
    pub currency: Option<String>,
    pub due: Option<String>,
}

/// Adds one of this company's goals to plan `id`; answers the plan.
pub fn add_goal(deals: &Deals, id: DealId, g: &Goal, now: u64) -> Result<Value, DealsError> {
    let mut problems = Vec::new();
    let mut values = BTreeMap::new();
    let amount = g.amount.as_deref().map(str::trim).filter(|a| !a.is_empty());
    let currency = g.currency.as_deref().map(|c| c.trim().to_ascii_uppercase());
    let canonical = amount.map(|a| {
        Amount::parse(a)
            .map(|a| a.to_string())
            .map_err(|e| e.to_string())
    });
    match (&canonical, &currency) {
        (Some(Err(e)), _) => problems.push(("amount", e.clone())),
        (Some(Ok(a)), Some(_)) => checked(&PLAN, &mut problems, &mut values, "amount", Some(a)),
        (Some(Ok(_)), None) => problems.push(("currency", "an amount needs its currency".into())),
        (None, Some(_)) => problems.push(("amount", "a currency needs an amount".into())),
        (None, None) => {}
    }
    if let Some(c) = &currency {
        if Currency::parse(c).is_err() {
            problems.push((
                "currency",
                format!("'{c}' is not an ISO 4217 currency code"),
            ));
        } else {
            checked(&PLAN, &mut problems, &mut values, "currency", Some(c));
        }
    }
    checked(
        &PLAN,
        &mut problems,
        &mut values,
        "title",
        Some(g.title.trim()),
    );
    checked(
        &PLAN,
        &mut problems,
        &mut values,
        "due",
        g.due.as_deref().map(str::trim),
    );
    if !problems.is_empty() {
        return Err(DealsError::fields(problems));
    }
    let item = new_item(deals)?;
    values.insert("item".into(), StepValue::Text(item));
    step(
        deals,
        id,
        "goal",
        values,
        format!("added goal '{}'", g.title.trim()),
        now,
    )
}

/// Adds a stakeholder (a person on the account) to plan `id`, when this node's policy toward
/// every other company of the plan shares people; answers the plan.
pub fn add_stakeholder(
    deals: &Deals,
    id: DealId,
    name: &str,
    role: Option<&str>,
    company: Option<&str>,
    now: u64,
) -> Result<Value, DealsError> {
    let plan = declared::doc(deals, KIND, id, "account plan")?;
    for m in plan.members.iter().filter(|m| m.node != *deals.me()) {
        let policy = partners::policy_for(deals.store(), m.node.as_str())?;
        if !policy.opportunities().shares(OpportunityField::Owner) {
            return Err(DealsError::Forbidden(format!(
                "your policy toward {} does not share people (the owner field): a stakeholder \
                 would reach it; share owner with {} or keep the person off the plan",
                m.name, m.name
            )));
        }
    }
    let mut problems = Vec::new();
    let mut values = BTreeMap::new();
    checked(&PLAN, &mut problems, &mut values, "name", Some(name.trim()));
    let clean = |v: Option<&str>| {
        v.map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    checked(
        &PLAN,
        &mut problems,
        &mut values,
        "role",
        clean(role).as_deref(),
    );
    checked(
        &PLAN,
        &mut problems,
        &mut values,
        "company",
        clean(company).as_deref(),
    );
    if !problems.is_empty() {
        return Err(DealsError::fields(problems));
    }
    values.insert("item".into(), StepValue::Text(new_item(deals)?));
    step(
        deals,
        id,
        "stakeholder",
        values,
        "added a stakeholder".into(),
        now,
    )
}

/// Removes one of this company's stakeholders from plan `id`.
pub fn remove_stakeholder(
    deals: &Deals,
    id: DealId,
    item: &str,
    now: u64,
) -> Result<Value, DealsError> {
    let item = views::own_item(deals, id, "stakeholder", item)?;
    let values = BTreeMap::from([("item".to_string(), StepValue::Text(item))]);
    step(
        deals,
        id,
        "stakeholder_removed",
        values,
        "removed a stakeholder".into(),
        now,
    )
}

/// Adds one of this company's tasks to plan `id`: `owner` is the person who does it (this
/// company's; naming another company of the plan is refused: it adds its own tasks). Answers
/// the plan and the task's id.
pub fn add_task(
    deals: &Deals,
    id: DealId,
    title: &str,
    owner: Option<&str>,
    due: &str,
    now: u64,
) -> Result<(Value, String), DealsError> {
    let plan = declared::doc(deals, KIND, id, "account plan")?;
    let owner = owner.map(str::trim).filter(|o| !o.is_empty());
    if let Some(o) = owner {
        let other = plan.members.iter().find(|m| {
            m.node != *deals.me() && (m.node.as_str() == o || m.name.eq_ignore_ascii_case(o))
        });
        if let Some(m) = other {
            return Err(DealsError::Forbidden(format!(
                "a company adds only its own tasks: ask {} to add this one on its node",
                m.name
            )));
        }
    }
    let person =
        owner.filter(|o| !o.eq_ignore_ascii_case(deals.name()) && *o != deals.me().as_str());
    let mut problems = Vec::new();
    let mut values = BTreeMap::new();
    checked(
        &PLAN,
        &mut problems,
        &mut values,
        "title",
        Some(title.trim()),
    );
    checked(&PLAN, &mut problems, &mut values, "due", Some(due.trim()));
    checked(&PLAN, &mut problems, &mut values, "person", person);
    // The person is given as the task's owner.
    for (field, _) in problems.iter_mut().filter(|(f, _)| *f == "person") {
        *field = "owner";
    }
    if !problems.is_empty() {
        return Err(DealsError::fields(problems));
    }
    let item = new_item(deals)?;
    values.insert("item".into(), StepValue::Text(item.clone()));
    let view = step(
        deals,
        id,
        "task",
        values,
        format!("added task '{}'", title.trim()),
        now,
    )?;
    Ok((view, item))
}

/// Marks one of this company's tasks done.
pub fn complete_task(deals: &Deals, id: DealId, task: &str, now: u64) -> Result<Value, DealsError> {
    let item = views::own_item(deals, id, "task", task)?;
    let values = BTreeMap::from([("item".to_string(), StepValue::Text(item.clone()))]);
    step(
        deals,
        id,
        "task_done",
        values,
        format!("completed task {item}"),
        now,
    )
}

/// Adds a note to plan `id`'s timeline.
pub fn note(deals: &Deals, id: DealId, text: &str, now: u64) -> Result<Value, DealsError> {
    let mut problems = Vec::new();
    let mut values = BTreeMap::new();
    checked(&PLAN, &mut problems, &mut values, "text", Some(text.trim()));
    if !problems.is_empty() {
        return Err(DealsError::fields(problems));
    }
    step(deals, id, "note", values, "added a note".into(), now)
}

/// Takes one step on plan `id` as this node, audits it, answers the plan.
fn step(
    deals: &Deals,
    id: DealId,
    transition: &str,
    values: BTreeMap<String, StepValue>,
    what: String,
    now: u64,
) -> Result<Value, DealsError> {
    let plan = declared::doc(deals, KIND, id, "account plan")?;
    let entry = StepAudit {
        kind: AuditKind::Plan,
        peer: None,
        summary: format!(
            "account plan {id} ({}): {what}",
            plan.text("account_domain").unwrap_or("")
        ),
        details: json!({"event": transition, "plan": id.to_string()}),
    };
    declared::take(deals, id, transition, &values, now, entry)?;
    views::get(deals, id, now)
}

/// A new item id of this node: `<node id>/<ulid>`.
fn new_item(deals: &Deals) -> Result<String, DealsError> {
    Ok(format!(
        "{}/{}",
        deals.me(),
        ulid::Ulid::new().to_string().to_ascii_lowercase()
    ))
}

/// Erasure (`domain::erase`): removes every stakeholder this node added whose name, role or
/// company holds the person (unless `dry_run`) with a signed step; answers one entry per plan
/// where the person was found (`erased`: this node's stakeholders; `kept`: other companies',
/// with who added them: only they can remove them) and the plans changed.
pub fn erase(
    deals: &Deals,
    needle: &Needle,
    dry_run: bool,
    now: u64,
) -> Result<(Vec<DealErasure>, Vec<DealId>), DealsError> {
    let mut report = Vec::new();
    let mut changed = Vec::new();
    for plan in declared::docs(deals, KIND) {
        let mut e = DealErasure {
            id: plan.id,
            origin: plan.origin == *deals.me(),
            erased: Vec::new(),
            kept: Vec::new(),
            history: Vec::new(),
            request_sent: false,
        };
        let mut mine = Vec::new();
        for s in views::stakeholders(&plan) {
            let holds = [Some(&s.name), s.role.as_ref(), s.company.as_ref()]
                .into_iter()
                .flatten()
                .any(|t| needle.scrub(t).is_some());
            if !holds {
                continue;
            }
            let path = format!("stakeholders/{}", s.item);
            if protocol::kind::owns_item(deals.me().as_str(), &s.item) {
                e.erased.push(path);
                mine.push(s.item.clone());
            } else {
                let by = plan
                    .name_of(s.owner())
                    .unwrap_or_else(|| s.owner().to_string());
                e.kept.push((path, format!("{by} ({})", s.owner())));
            }
        }
        if e.erased.is_empty() && e.kept.is_empty() {
            continue;
        }
        if !dry_run && !mine.is_empty() {
            for item in mine {
                let values = BTreeMap::from([("item".to_string(), StepValue::Text(item))]);
                let entry = StepAudit {
                    kind: AuditKind::Plan,
                    peer: None,
                    summary: format!("account plan {}: removed a stakeholder (erasure)", plan.id),
                    details: json!({"event": "stakeholder_removed", "plan": plan.id.to_string()}),
                };
                declared::take(deals, plan.id, "stakeholder_removed", &values, now, entry)?;
            }
            changed.push(plan.id);
        }
        report.push(e);
    }
    Ok((report, changed))
}

#[cfg(test)]
mod tests;
