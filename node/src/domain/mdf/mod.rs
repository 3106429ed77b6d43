//! Market development funds: the vendor's allocations per partner and quarter (local), and MDF
//! requests — shared documents of the declared kind `mdf` (`protocol::kinds::mdf`) between one
//! partner (the origin) and its vendor: propose, approve (possibly lower) / reject / ask for
//! changes, claim with a proof attachment, reimburse.
//!
//! Invariant: every write is one step the declaration allows this node to take now; the vendor
//! node refuses an approval that would take the partner's quarter below zero, and an allocation
//! below what is already committed, so a balance is never negative. Amounts are exact decimals
//! (`protocol::records::Amount`, ten-thousandths).
//! Invariant: a step a peer sends that the declaration refuses is never applied and is audited
//! (the deal engine's sync path, as for a foreign section write).

mod allocations;
mod views;

pub use allocations::{allocate, allocations, Allocation};
pub use views::{get, list, proof, resolve};

use crate::domain::audit::{self, AuditKind};
use crate::domain::deals::{Deals, DealsError};
use crate::domain::partners;
use protocol::deal::{DealDoc, DealId, Invite, Role, SharedFields};
use protocol::kind::{check_value, sha256_hex, StepValue};
use protocol::kinds::mdf::{MDF, PROOF_BYTES_MAX};
use protocol::records::{Amount, Date};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The declared kind's name.
pub const KIND: &str = "mdf";

/// What a partner proposes (the API and CLI read it): each value as given.
#[derive(Debug, Clone, Default)]
pub struct Proposal {
    /// The vendor partner: node id or unique partner name (ignored by a revision).
    pub vendor: String,
    pub activity: String,
    pub activity_type: Option<String>,
    pub amount: String,
    pub currency: String,
    pub start: String,
    pub end: String,
    /// `YYYY-QN`; the quarter of `start` when absent.
    pub period: Option<String>,
    pub expected_leads: Option<String>,
    pub expected_pipeline: Option<String>,
}

/// A partner proposes an activity to a vendor partner: a new MDF request, its id.
pub fn propose(deals: &Deals, p: &Proposal, now: u64) -> Result<DealId, DealsError> {
    let vendor = partners::resolve(deals.store(), &p.vendor)
        .map_err(|e| DealsError::NotFound(e.to_string()))?;
    if !vendor.is_active() {
        return Err(DealsError::Invalid(format!(
            "{} is no longer a partner",
            vendor.name
        )));
    }
    let vendor_id = protocol::identity::NodeId::parse(&vendor.id)
        .map_err(|e| DealsError::Invalid(format!("partner id: {e}")))?;
    let values = proposal_values(p)?;
    let shared = SharedFields {
        title: Some(title_of(&p.activity)),
        ..SharedFields::default()
    };
    let invite = Invite {
        node: vendor_id,
        name: vendor.name.clone(),
        role: Role::Vendor,
    };
    let signer = deals.signer();
    let origin = (deals.name(), Role::Reseller);
    let (mut doc, genesis) = DealDoc::create_kind(signer, now, origin, &[invite], &shared, &MDF)
        .map_err(|e| DealsError::Invalid(e.to_string()))?;
    let step = doc
        .take_step(signer, now, "propose", &values)
        .map_err(|e| DealsError::Invalid(e.to_string()))?;
    let id = doc.id();
    let summary = format!(
        "proposed MDF request {id} to {}: {} {} for {}",
        vendor.name, p.amount, p.currency, p.activity
    );
    let details = json!({"event": "proposed", "mdf": id.to_string()});
    let entry = (AuditKind::Mdf, Some(vendor.id.as_str()), summary, details);
    deals.add_document(doc, &[genesis, step], now, Some(entry))
}

/// The partner revises a request the vendor asked changes to (same fields as a proposal).
pub fn revise(deals: &Deals, id: DealId, p: &Proposal, now: u64) -> Result<Value, DealsError> {
    let values = proposal_values(p)?;
    take(deals, id, Side::Partner, "revise", values, now)
}

/// The vendor approves `amount` (the requested amount when `None`; never more), within the
/// partner's allocation for the request's quarter.
pub fn approve(
    deals: &Deals,
    id: DealId,
    amount: Option<&str>,
    now: u64,
) -> Result<Value, DealsError> {
    let request = views::request(deals, id)?;
    may_take(deals, &request, Side::Vendor, "approve")?;
    let requested = request.decimal("requested").unwrap_or_default();
    let amount = match amount {
        None => requested,
        Some(a) => {
            Amount::parse(a).map_err(|e| DealsError::fields(vec![("amount", e.to_string())]))?
        }
    };
    if amount > requested {
        return Err(DealsError::fields(vec![(
            "amount",
            format!("{amount} is more than the {requested} requested"),
        )]));
    }
    let period = request.text("period").unwrap_or_default();
    let currency = request.text("currency").unwrap_or_default();
    allocations::check_room(deals, &request.partner, &period, &currency, amount, id)?;
    let values = BTreeMap::from([("approved_amount".into(), text(amount.to_string()))]);
    take(deals, id, Side::Vendor, "approve", values, now)
}

/// The vendor rejects a request, with a reason the partner sees.
pub fn reject(deals: &Deals, id: DealId, reason: &str, now: u64) -> Result<Value, DealsError> {
    let values = reason_values(reason)?;
    take(deals, id, Side::Vendor, "reject", values, now)
}

/// The vendor asks for changes, with a reason; the partner then revises.
pub fn ask_changes(deals: &Deals, id: DealId, reason: &str, now: u64) -> Result<Value, DealsError> {
    let values = reason_values(reason)?;
    take(deals, id, Side::Vendor, "ask_changes", values, now)
}

/// The partner claims an approved request: proof of execution (`name`, `bytes`: at most
/// `PROOF_BYTES_MAX`, its SHA-256 signed in the step) and optional results.
pub fn claim(
    deals: &Deals,
    id: DealId,
    name: &str,
    bytes: Vec<u8>,
    results: Option<&str>,
    now: u64,
) -> Result<Value, DealsError> {
    let mut problems = Vec::new();
    if bytes.is_empty() {
        problems.push(("proof", "is empty".to_string()));
    }
    if bytes.len() > PROOF_BYTES_MAX {
        problems.push((
            "proof",
            format!(
                "is {} bytes; a proof attachment is at most {PROOF_BYTES_MAX} bytes",
                bytes.len()
            ),
        ));
    }
    let name = name.trim();
    let mut values = BTreeMap::new();
    values.insert("proof_sha256".to_string(), text(sha256_hex(&bytes)));
    values.insert("proof".to_string(), StepValue::Bytes(bytes));
    checked(&mut problems, &mut values, "proof_name", Some(name));
    checked(
        &mut problems,
        &mut values,
        "results",
        results.map(str::trim),
    );
    if !problems.is_empty() {
        return Err(DealsError::fields(problems));
    }
    take(deals, id, Side::Partner, "claim", values, now)
}

/// The vendor records the reimbursement of a claimed request: never more than approved.
pub fn reimburse(
    deals: &Deals,
    id: DealId,
    amount: &str,
    reference: &str,
    paid_on: Option<&str>,
    now: u64,
) -> Result<Value, DealsError> {
    let request = views::request(deals, id)?;
    may_take(deals, &request, Side::Vendor, "reimburse")?;
    let mut problems = Vec::new();
    let mut values = BTreeMap::new();
    let today = today(now);
    checked(
        &mut problems,
        &mut values,
        "reimbursed_amount",
        Some(amount.trim()),
    );
    checked(
        &mut problems,
        &mut values,
        "reference",
        Some(reference.trim()),
    );
    checked(
        &mut problems,
        &mut values,
        "paid_on",
        Some(paid_on.unwrap_or(&today).trim()),
    );
    let approved = request.decimal("approved_amount").unwrap_or_default();
    if let Ok(a) = Amount::parse(amount.trim()) {
        if a > approved {
            problems.push((
                "amount",
                format!("{a} is more than the {approved} approved"),
            ));
        }
    }
    if !problems.is_empty() {
        return Err(rename_amount(problems));
    }
    take(deals, id, Side::Vendor, "reimburse", values, now)
}

/// Which side must take a step (checked before the protocol checks it, for a clear sentence).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Partner,
    Vendor,
}

/// Takes one step on request `id` as this node, audits it, and answers the request's view.
fn take(
    deals: &Deals,
    id: DealId,
    side: Side,
    transition: &str,
    values: BTreeMap<String, StepValue>,
    now: u64,
) -> Result<Value, DealsError> {
    let request = views::request(deals, id)?;
    let other = may_take(deals, &request, side, transition)?;
    let status = request.status.unwrap_or("none");
    let allowed = MDF
        .transition(transition)
        .is_some_and(|t| t.from.contains(&status));
    if !allowed {
        return Err(DealsError::Conflict(format!(
            "MDF request {id} is {status}: it cannot {} now",
            transition.replace('_', " ")
        )));
    }
    deals.edit(id, now, |doc, signer| {
        doc.take_step(signer, now, transition, &values)
    })?;
    audit::record(
        deals.store(),
        now,
        AuditKind::Mdf,
        Some(other.as_str()),
        format!("MDF request {id}: {}", transition.replace('_', " ")),
        json!({"event": transition, "mdf": id.to_string()}),
    )?;
    views::get(deals, id)?.ok_or_else(|| DealsError::NotFound(format!("no MDF request {id}")))
}

/// Refuses a step this node's side of `request` may not take (the sentence names who may);
/// answers the other side's node id.
fn may_take<'a>(
    deals: &Deals,
    request: &'a views::Request,
    side: Side,
    transition: &str,
) -> Result<&'a protocol::identity::NodeId, DealsError> {
    let (mine, other, who) = match side {
        Side::Partner => (
            &request.partner,
            &request.vendor,
            "the partner that proposed it",
        ),
        Side::Vendor => (&request.vendor, &request.partner, "its vendor"),
    };
    if mine != deals.me() {
        return Err(DealsError::Forbidden(format!(
            "only {who} may {} MDF request {}",
            transition.replace('_', " "),
            request.id
        )));
    }
    Ok(other)
}

fn proposal_values(p: &Proposal) -> Result<BTreeMap<String, StepValue>, DealsError> {
    let mut problems = Vec::new();
    let mut values = BTreeMap::new();
    let period = match &p.period {
        Some(period) => Some(period.trim().to_string()),
        None => Date::parse(p.start.trim()).ok().map(quarter_of),
    };
    if let Some(period) = &period {
        if !is_quarter(period) {
            problems.push(("period", format!("'{period}' is not a quarter YYYY-QN")));
        }
    }
    let amount = p.amount.trim();
    let canonical_amount = Amount::parse(amount).map(|a| a.to_string());
    checked(
        &mut problems,
        &mut values,
        "activity",
        Some(p.activity.trim()),
    );
    checked(
        &mut problems,
        &mut values,
        "activity_type",
        p.activity_type.as_deref(),
    );
    match canonical_amount {
        Ok(a) => checked(&mut problems, &mut values, "requested", Some(&a)),
        Err(e) => problems.push(("amount", e.to_string())),
    }
    let currency = p.currency.trim().to_ascii_uppercase();
    checked(&mut problems, &mut values, "currency", Some(&currency));
    checked(&mut problems, &mut values, "start", Some(p.start.trim()));
    checked(&mut problems, &mut values, "end", Some(p.end.trim()));
    checked(&mut problems, &mut values, "period", period.as_deref());
    checked(
        &mut problems,
        &mut values,
        "expected_leads",
        p.expected_leads.as_deref(),
    );
    let pipeline = p.expected_pipeline.as_deref().map(|x| {
        Amount::parse(x.trim())
            .map(|a| a.to_string())
            .unwrap_or(x.to_string())
    });
    checked(
        &mut problems,
        &mut values,
        "expected_pipeline",
        pipeline.as_deref(),
    );
    if let (Ok(s), Ok(e)) = (Date::parse(p.start.trim()), Date::parse(p.end.trim())) {
        if e < s {
            problems.push(("end", format!("{e} is before the start {s}")));
        }
    }
    if !problems.is_empty() {
        return Err(rename_amount(problems));
    }
    Ok(values)
}

fn reason_values(reason: &str) -> Result<BTreeMap<String, StepValue>, DealsError> {
    let mut problems = Vec::new();
    let mut values = BTreeMap::new();
    checked(&mut problems, &mut values, "reason", Some(reason.trim()));
    if !problems.is_empty() {
        return Err(DealsError::fields(problems));
    }
    Ok(values)
}

/// Checks one value against the declaration (absent optional values are skipped; a required
/// one is named by the declaration's check when the step is taken).
fn checked(
    problems: &mut Vec<(&'static str, String)>,
    values: &mut BTreeMap<String, StepValue>,
    field: &'static str,
    value: Option<&str>,
) {
    let Some(value) = value else { return };
    let Some(spec) = MDF.field(field) else {
        problems.push((field, "is not a field of an MDF request".into()));
        return;
    };
    let value = text(value.to_string());
    match check_value(spec.ty, &value) {
        Ok(()) => {
            values.insert(field.to_string(), value);
        }
        Err(rule) => problems.push((field, rule.to_string())),
    }
}

/// The API names the amounts `amount`; the declaration names them by what they are.
fn rename_amount(problems: Vec<(&'static str, String)>) -> DealsError {
    let renamed = problems
        .into_iter()
        .map(|(f, m)| match f {
            "requested" | "reimbursed_amount" | "approved_amount" => ("amount", m),
            other => (other, m),
        })
        .collect();
    DealsError::fields(renamed)
}

fn text(s: String) -> StepValue {
    StepValue::Text(s)
}

fn title_of(activity: &str) -> String {
    activity.trim().chars().take(200).collect()
}

/// `YYYY-QN` of a date.
pub fn quarter_of(date: Date) -> String {
    format!("{}-Q{}", date.year(), (date.month() - 1) / 3 + 1)
}

/// Whether `period` is `YYYY-QN`.
pub fn is_quarter(period: &str) -> bool {
    let b = period.as_bytes();
    b.len() == 7
        && b[..4].iter().all(u8::is_ascii_digit)
        && &b[4..6] == b"-Q"
        && (b'1'..=b'4').contains(&b[6])
}

/// Today (UTC) as YYYY-MM-DD.
fn today(now_ms: u64) -> String {
    let days = i64::try_from(now_ms / 86_400_000).unwrap_or(0);
    Date::from_days_since_epoch(days)
        .map(|d| d.to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
