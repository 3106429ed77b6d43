//! Documents of a declared kind (`protocol::kind`) as every kind's domain reads and writes them:
//! the held documents of one kind with their participants and replayed steps, their signed
//! history as the API shows it, id resolution (a full id or a unique prefix), and taking one
//! step with its audit entry. MDF requests, lead offers and account plans all build on this;
//! each kind adds only its own rules and its JSON.

use crate::domain::audit::{self, rfc3339, AuditKind};
use crate::domain::deals::{Deals, DealsError, DocKind};
use protocol::deal::{DealId, Role};
use protocol::identity::NodeId;
use protocol::kind::{Replayed, StepValue};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// One participant of a declared document.
#[derive(Debug, Clone)]
pub struct Member {
    pub node: NodeId,
    pub name: String,
    pub role: Option<Role>,
}

/// One held document of a declared kind, replayed.
#[derive(Debug, Clone)]
pub struct DeclaredDoc {
    pub id: DealId,
    /// The node that created it.
    pub origin: NodeId,
    /// Every participant (the origin included), by node id.
    pub members: Vec<Member>,
    /// The replayed state (`None` before the creating step arrived).
    pub status: Option<&'static str>,
    /// Every field's latest applied value.
    pub fields: BTreeMap<String, StepValue>,
    pub created_at_ms: u64,
    /// Every step in list order, applied or stale.
    pub steps: Vec<Replayed>,
}

impl DeclaredDoc {
    /// A field's latest applied text.
    pub fn text(&self, field: &str) -> Option<&str> {
        self.fields.get(field).and_then(StepValue::text)
    }

    /// The company name of participant `node` (its id as text).
    pub fn name_of(&self, node: &str) -> Option<String> {
        self.members
            .iter()
            .find(|m| m.node.as_str() == node)
            .map(|m| m.name.clone())
    }

    /// The first participant other than the origin with `role` (any role when `None`).
    pub fn member_with(&self, role: Option<Role>) -> Option<&Member> {
        self.members
            .iter()
            .find(|m| m.node != self.origin && role.is_none_or(|r| m.role == Some(r)))
    }

    /// The signed history as the API shows it: each step, by whom, when, and whether it
    /// changed the document (`why_not` when it did not).
    pub fn history_json(&self) -> Vec<Value> {
        self.steps
            .iter()
            .map(|r| {
                json!({"step": r.step.transition, "by": r.step.by,
                       "by_name": self.name_of(&r.step.by), "at": rfc3339(r.step.at_ms),
                       "applied": r.stale.is_none(), "why_not": r.stale})
            })
            .collect()
    }
}

/// Every held document of declared kind `kind`, oldest first.
pub fn docs(deals: &Deals, kind: &'static str) -> Vec<DeclaredDoc> {
    let inner = deals.lock();
    let mut out: Vec<DeclaredDoc> = inner
        .info
        .iter()
        .filter(|(_, i)| i.kind == DocKind::Declared(kind))
        .filter_map(|(id, _)| {
            let doc = inner.docs.get(id)?;
            let view = doc.read_view();
            let declared = doc.kind_view()?;
            Some(DeclaredDoc {
                id: *id,
                origin: view.origin.clone()?,
                members: view
                    .participants
                    .iter()
                    .map(|(n, p)| Member {
                        node: n.clone(),
                        name: p.name.clone(),
                        role: p.role,
                    })
                    .collect(),
                status: declared.folded.state,
                fields: declared.folded.fields,
                created_at_ms: view.created_at_ms.unwrap_or(0),
                steps: declared.folded.history,
            })
        })
        .collect();
    out.sort_by_key(|d| (d.created_at_ms, d.id));
    out
}

/// The document of kind `kind` with id `id`; `what` names the kind in the error.
pub fn doc(
    deals: &Deals,
    kind: &'static str,
    id: DealId,
    what: &str,
) -> Result<DeclaredDoc, DealsError> {
    docs(deals, kind)
        .into_iter()
        .find(|d| d.id == id)
        .ok_or_else(|| DealsError::NotFound(format!("no {what} with id {id}")))
}

/// Resolves a full id or a unique prefix of at least 4 hex digits among the documents of kind
/// `kind` that `keep` admits; `what` names them in the error.
pub fn resolve(
    deals: &Deals,
    kind: &'static str,
    text: &str,
    what: &str,
    keep: impl Fn(&DeclaredDoc) -> bool,
) -> Result<DealId, DealsError> {
    let text = text.trim().to_ascii_lowercase();
    let shown: String = text.chars().take(80).collect();
    if text.len() < 4 || !text.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(DealsError::NotFound(format!(
            "no {what} with id {shown} (an id is 64 hex digits; a unique prefix of at least 4 will do)"
        )));
    }
    let found: Vec<DealId> = docs(deals, kind)
        .into_iter()
        .filter(|d| keep(d) && d.id.to_string().starts_with(&text))
        .map(|d| d.id)
        .collect();
    match found[..] {
        [one] => Ok(one),
        [] => Err(DealsError::NotFound(format!(
            "no {what} with an id starting {shown}"
        ))),
        _ => Err(DealsError::Conflict(format!(
            "{} of them ({what}) have ids starting {shown}: give more digits",
            found.len()
        ))),
    }
}

/// What one step's audit entry says.
pub struct StepAudit {
    pub kind: AuditKind,
    /// The other party the entry names (a partner's node id).
    pub peer: Option<String>,
    pub summary: String,
    pub details: Value,
}

/// Takes transition `transition` with `values` on document `id` as this node (one signed
/// change, durable before it returns) and records its audit entry.
pub fn take(
    deals: &Deals,
    id: DealId,
    transition: &str,
    values: &BTreeMap<String, StepValue>,
    now: u64,
    entry: StepAudit,
) -> Result<(), DealsError> {
    deals.edit(id, now, |doc, signer| {
        doc.take_step(signer, now, transition, values)
    })?;
    audit::record(
        deals.store(),
        now,
        entry.kind,
        entry.peer.as_deref(),
        entry.summary,
        entry.details,
    )?;
    Ok(())
}

/// Checks one value against the declaration of `spec`: a valid value goes into `values`, an
/// invalid one adds its field and rule to `problems`; an absent one is skipped (a required one
/// is named by the declaration's own check when the step is taken).
pub fn checked(
    spec: &protocol::kind::KindSpec,
    problems: &mut Vec<(&'static str, String)>,
    values: &mut BTreeMap<String, StepValue>,
    field: &'static str,
    value: Option<&str>,
) {
    let Some(value) = value else { return };
    let Some(f) = spec.field(field) else {
        problems.push((field, format!("is not a field of a {}", spec.name)));
        return;
    };
    let value = StepValue::Text(value.to_string());
    match protocol::kind::check_value(f.ty, &value) {
        Ok(()) => {
            values.insert(field.to_string(), value);
        }
        Err(rule) => problems.push((field, rule.to_string())),
    }
}
