//! Deal registration: a partner registers an account with a vendor partner; the vendor approves
//! (the partner is protected for a window) or rejects with a reason.
//!
//! A registration is a small signed document of its own (kind
//! [`KIND_REGISTRATION`](crate::domain::deals::KIND_REGISTRATION)), made by the partner with the
//! vendor as its one other participant: its shared fields hold what the partner registers
//! (account, amount, close date, products), its registration slot the partner's signed claim
//! (whose time decides who was first) and the vendor's signed decision. It travels and is
//! verified like any deal document.
//!
//! Invariant: conflicts (the vendor's own open opportunities on the account, other partners'
//! earlier registrations on it) are computed on the vendor's node when it reads a registration
//! and are never written into any document, so they never reach a partner: they name other
//! partners.
//!
//! The files of this folder: `submit` (what the partner registers and changes, from typed
//! inputs: the HTTP layer reads request bodies), `decide` (the vendor's approval or rejection),
//! `conflicts` (computed on the vendor's node), `views` (registrations in the API's shape) and
//! `watch` (the background work: overdue, renewals, changes after a decision).

mod conflicts;
mod decide;
mod submit;
mod views;
mod watch;

#[cfg(test)]
mod tests;

pub use decide::{approve, reject, revoke, REVOKE_REASON_CHARS_MAX};
pub use submit::{change, submit, RegistrationChange, RegistrationInput};
pub use views::{get, list, page, PageError};
pub use watch::watch;

use crate::domain::deals::{Deals, DealsError, DocKind, Windows};
use protocol::deal::{DealId, DealView, RegistrationStatus};
use protocol::identity::NodeId;
use std::collections::BTreeMap;

/// Shared-field key of the products registered (comma-separated).
pub const PRODUCTS_KEY: &str = "products";

/// One registration as read on this node.
#[derive(Debug, Clone)]
struct Record {
    id: DealId,
    partner: NodeId,
    partner_name: String,
    vendor: NodeId,
    vendor_name: String,
    account_name: Option<String>,
    domain: Option<String>,
    amount: Option<String>,
    currency: Option<String>,
    close_date: Option<String>,
    products: Vec<String>,
    notes: Option<String>,
    submitted_at: u64,
    status: &'static str,
    decided_at: Option<u64>,
    expires_at: Option<u64>,
    reason: Option<String>,
    overdue: bool,
    respond_by: u64,
    /// The terms the vendor decided on ([`terms_of`]), when its decision recorded them.
    decided_terms: Option<BTreeMap<String, String>>,
    /// The terms differ from those the vendor decided on: the partner changed them while the
    /// decision was on its way (offline, or a partition). The decision does not cover them; the
    /// vendor may decide again.
    changed_after_decision: bool,
}

impl Record {
    /// What the partner registered, as a decision records it: each term present, as text.
    fn terms(&self) -> BTreeMap<String, String> {
        let products = (!self.products.is_empty()).then(|| self.products.join(", "));
        [
            ("account_name", &self.account_name),
            ("amount", &self.amount),
            ("currency", &self.currency),
            ("close_date", &self.close_date),
            ("products", &products),
        ]
        .into_iter()
        .filter_map(|(field, value)| Some((field.to_string(), value.clone()?)))
        .collect()
    }

    /// The terms a renewal records: the ones decided before (a renewal is no new decision, so it
    /// must not cover a change made since), else — a decision without terms — the current ones.
    fn terms_to_renew(&self) -> BTreeMap<String, String> {
        self.decided_terms.clone().unwrap_or_else(|| self.terms())
    }
}

fn record_of(id: DealId, view: &DealView, windows: &Windows, now: u64) -> Option<Record> {
    let partner = view.origin.clone()?;
    let claim = view.registration.claims.get(&partner)?;
    let vendor = claim.vendor.clone()?;
    let submitted_at = claim.registered_at_ms.or(view.created_at_ms).unwrap_or(0);
    let decision = view
        .registration
        .decisions
        .get(&vendor)
        .filter(|d| d.registrant.as_ref() == Some(&partner));
    let (mut status, decided_at, expires_at, reason, decided_terms) = match decision {
        None => ("pending", None, None, None, None),
        Some(d) => (
            d.status.unwrap_or(RegistrationStatus::Pending).as_str(),
            d.decided_at_ms,
            d.expires_at_ms,
            d.reason.clone(),
            d.terms.clone(),
        ),
    };
    if status == "approved" && expires_at.is_some_and(|e| now >= e) {
        status = "expired";
    }
    let respond_by = submitted_at.saturating_add(windows.registration_sla_ms);
    let name_of = |n: &NodeId| {
        view.participants
            .get(n)
            .map(|p| p.name.clone())
            .unwrap_or_default()
    };
    let s = &view.shared;
    let mut record = Record {
        id,
        partner_name: name_of(&partner),
        vendor_name: name_of(&vendor),
        partner,
        vendor,
        account_name: s.account_name.clone(),
        domain: s.account_domain.as_ref().map(|d| d.as_str().to_string()),
        amount: s.amount.map(|a| a.to_string()),
        currency: s.currency.map(|c| c.as_str().to_string()),
        close_date: s.close_date.map(|d| d.to_string()),
        products: s
            .other
            .get(PRODUCTS_KEY)
            .map(|p| p.split(", ").map(str::to_string).collect())
            .unwrap_or_default(),
        notes: claim.notes.clone(),
        submitted_at,
        status,
        decided_at,
        expires_at,
        reason,
        overdue: status == "pending" && now >= respond_by,
        respond_by,
        decided_terms,
        changed_after_decision: false,
    };
    record.changed_after_decision = record
        .decided_terms
        .as_ref()
        .is_some_and(|decided| *decided != record.terms());
    Some(record)
}

/// Every registration held here (made here or made for this vendor), oldest first.
fn records(deals: &Deals, now: u64) -> Vec<Record> {
    let windows = deals.windows();
    let views: Vec<(DealId, DealView)> = {
        let inner = deals.lock();
        inner
            .info
            .iter()
            .filter(|(_, i)| i.kind == DocKind::Registration)
            .filter_map(|(id, _)| inner.docs.get(id).map(|d| (*id, d.read_view())))
            .collect()
    };
    let mut out: Vec<Record> = views
        .iter()
        .filter_map(|(id, v)| record_of(*id, v, &windows, now))
        .collect();
    // A registration with a node that is no partner any more lapses: it can be neither decided
    // nor changed (the other node would never learn of it), so it must not hold the account.
    let me = deals.me().clone();
    let mut ended: BTreeMap<NodeId, bool> = BTreeMap::new();
    for r in &mut out {
        let other = if r.partner == me {
            &r.vendor
        } else {
            &r.partner
        };
        let gone = *ended.entry(other.clone()).or_insert_with(|| {
            crate::store::shared::partner(deals.store(), other.as_str())
                .ok()
                .flatten()
                .is_some_and(|p| !p.is_active())
        });
        if gone && matches!(r.status, "pending" | "approved") {
            r.status = "lapsed";
            r.overdue = false;
        }
    }
    out.sort_by_key(|r| (r.submitted_at, r.id));
    out
}

/// Audits, once per registration, that the registrations with `other` (a partnership that just
/// ended) lapsed; returns their ids.
pub fn audit_lapsed(deals: &Deals, other: &NodeId, now: u64) -> anyhow::Result<Vec<DealId>> {
    let mut lapsed = Vec::new();
    for r in records(deals, now) {
        if r.status != "lapsed" || (&r.partner != other && &r.vendor != other) {
            continue;
        }
        let with = if &r.partner == other {
            &r.partner_name
        } else {
            &r.vendor_name
        };
        crate::domain::audit::record(
            deals.store(),
            now,
            crate::domain::audit::AuditKind::Registration,
            Some(other.as_str()),
            format!(
                "registration {} of {} lapsed: {with} is no longer a partner",
                r.id,
                r.domain.as_deref().unwrap_or("an account")
            ),
            serde_json::json!({"event": "lapsed", "registration": r.id.to_string(),
                               "account_domain": r.domain, "partner": with}),
        )?;
        lapsed.push(r.id);
    }
    Ok(lapsed)
}

/// Refuses to act on a registration with a node that is no partner any more: the decision or
/// change could not reach it, and the two nodes would disagree for good.
fn still_partners(deals: &Deals, other: &NodeId, name: &str, id: DealId) -> Result<(), DealsError> {
    let ended = crate::store::shared::partner(deals.store(), other.as_str())?
        .is_some_and(|p| !p.is_active());
    if ended {
        return Err(DealsError::Conflict(format!(
            "{name} is no longer a partner, so registration {id} cannot change any more"
        )));
    }
    Ok(())
}

fn invalid(m: impl Into<String>) -> DealsError {
    DealsError::Invalid(m.into())
}
