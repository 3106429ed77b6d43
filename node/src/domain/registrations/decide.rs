//! What the vendor does: approves the terms in front of it (the partner is protected for a
//! window) or rejects them with a reason. The first partner to register an account wins.

use super::conflicts::conflicts_of;
use super::views::get;
use super::{invalid, records, still_partners, Record};
use crate::domain::audit;
use crate::domain::deals::{Deals, DealsError};
use protocol::deal::{DealId, Decision};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The vendor approves the terms in front of it: the partner is protected for the protection
/// window from now. Approving an approved registration again renews the window (activity on the
/// deal), and approves terms the partner changed after the decision. A rejected registration is
/// approved only when its terms changed after the rejection. Refused while another partner's
/// earlier registration on the account holds: the first to register wins.
pub fn approve(deals: &Deals, id: DealId, now: u64) -> Result<Value, DealsError> {
    let (r, all) = vendor_record(deals, id, now)?;
    if matches!(r.status, "rejected" | "revoked") && !r.changed_after_decision {
        return Err(invalid(format!("registration {id} was {}", r.status)));
    }
    let windows = deals.windows();
    let earlier: Vec<Value> = conflicts_of(&r, &all, &BTreeMap::new(), &windows, now);
    if let Some(first) = earlier.first().filter(|c| c["kind"] == "duplicate") {
        return Err(DealsError::Conflict(format!(
            "{} already registered {} (registration {}, {}): this one is a duplicate; reject it",
            r.partner_name,
            r.domain.as_deref().unwrap_or("this account"),
            first["registration_id"].as_str().unwrap_or(""),
            first["status"].as_str().unwrap_or(""),
        )));
    }
    if let Some(held) = earlier
        .iter()
        .find(|c| c["first"] == false && c["status"] == "approved")
    {
        return Err(DealsError::Conflict(format!(
            "{} holds an approved registration of {} (registration {}): one partner holds an account at a time; reject this one, or wait until that one expires",
            held["partner_name"].as_str().unwrap_or("another partner"),
            r.domain.as_deref().unwrap_or("this account"),
            held["registration_id"].as_str().unwrap_or(""),
        )));
    }
    if let Some(first) = earlier.first() {
        return Err(DealsError::Conflict(format!(
            "{} registered {} first (registration {}, {}): the first to register wins; reject this one, or decide that one first",
            first["partner_name"].as_str().unwrap_or("another partner"),
            r.domain.as_deref().unwrap_or("this account"),
            first["registration_id"].as_str().unwrap_or(""),
            first["status"].as_str().unwrap_or(""),
        )));
    }
    let expires_at_ms = now.saturating_add(windows.registration_protection_ms);
    decide(
        deals,
        &r,
        Decision::Approved { expires_at_ms },
        r.terms(),
        now,
    )?;
    Ok(get(deals, id, now)?.unwrap_or(Value::Null))
}

/// The vendor rejects the terms in front of it, with a reason the partner sees (again only when
/// the partner changed the terms after a rejection).
pub fn reject(deals: &Deals, id: DealId, reason: &str, now: u64) -> Result<Value, DealsError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(invalid("a rejection needs a reason"));
    }
    let (r, _) = vendor_record(deals, id, now)?;
    if r.status == "rejected" && !r.changed_after_decision {
        return Err(invalid(format!("registration {id} was already rejected")));
    }
    let reason = reason.to_string();
    decide(deals, &r, Decision::Rejected { reason }, r.terms(), now)?;
    Ok(get(deals, id, now)?.unwrap_or(Value::Null))
}

/// Longest reason a revocation carries, in characters.
pub const REVOKE_REASON_CHARS_MAX: usize = 500;

/// The vendor revokes an approved registration, with a reason the partner sees ("revoked by
/// Vendorco: reason"): its protection ends now, and the account is free for other partners.
/// Signed like every decision; only the registration's vendor may (its partner's node refuses
/// a revocation signed by anyone else).
pub fn revoke(deals: &Deals, id: DealId, reason: &str, now: u64) -> Result<Value, DealsError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(DealsError::fields(vec![(
            "reason",
            "a revocation needs a reason the partner sees".into(),
        )]));
    }
    if reason.chars().count() > REVOKE_REASON_CHARS_MAX {
        return Err(DealsError::fields(vec![(
            "reason",
            format!("is longer than {REVOKE_REASON_CHARS_MAX} characters"),
        )]));
    }
    let (r, _) = vendor_record(deals, id, now)?;
    if r.status != "approved" {
        let what = match r.status {
            "pending" => "is pending: reject it instead",
            "revoked" => "was already revoked",
            "expired" => "has expired: its protection already ended",
            _ => "was not approved: only an approved registration is revoked",
        };
        return Err(DealsError::Conflict(format!("registration {id} {what}")));
    }
    let reason = reason.to_string();
    decide(deals, &r, Decision::Revoked { reason }, r.terms(), now)?;
    Ok(get(deals, id, now)?.unwrap_or(Value::Null))
}

fn vendor_record(deals: &Deals, id: DealId, now: u64) -> Result<(Record, Vec<Record>), DealsError> {
    let all = records(deals, now);
    let r = all
        .iter()
        .find(|r| r.id == id)
        .cloned()
        .ok_or_else(|| DealsError::NotFound(format!("no registration with id {id}")))?;
    if &r.vendor != deals.me() {
        return Err(DealsError::Forbidden(
            "only the vendor a registration was made with decides it".into(),
        ));
    }
    still_partners(deals, &r.partner, &r.partner_name, id)?;
    Ok((r, all))
}

/// Signs the vendor's `decision` on `r`'s claim, on `terms`.
pub(super) fn decide(
    deals: &Deals,
    r: &Record,
    decision: Decision,
    terms: BTreeMap<String, String>,
    now: u64,
) -> Result<(), DealsError> {
    deals.edit(r.id, now, |doc, signer| {
        doc.decide_registration(signer, now, &r.partner, &decision, &terms)
    })?;
    let account = r.domain.as_deref().unwrap_or("an account");
    let (summary, details) = match &decision {
        Decision::Approved { expires_at_ms } => (
            format!(
                "approved registration {} of {account} by {}",
                r.id, r.partner_name
            ),
            json!({"event": "approved", "registration": r.id.to_string(), "account_domain": r.domain, "expires_at_ms": expires_at_ms, "terms": terms}),
        ),
        Decision::Rejected { reason } => (
            format!(
                "rejected registration {} of {account} by {}: {reason}",
                r.id, r.partner_name
            ),
            json!({"event": "rejected", "registration": r.id.to_string(), "account_domain": r.domain, "reason": reason, "terms": terms}),
        ),
        Decision::Revoked { reason } => (
            format!(
                "revoked registration {} of {account} by {}: {reason}",
                r.id, r.partner_name
            ),
            json!({"event": "revoked", "registration": r.id.to_string(), "account_domain": r.domain, "reason": reason, "terms": terms}),
        ),
        other => (
            format!(
                "decided registration {} of {account} by {}",
                r.id, r.partner_name
            ),
            json!({"event": "decided", "registration": r.id.to_string(), "decision": format!("{other:?}")}),
        ),
    };
    audit::record(
        deals.store(),
        now,
        audit::AuditKind::Registration,
        Some(r.partner.as_str()),
        summary,
        details,
    )
    .map_err(DealsError::from)
}
