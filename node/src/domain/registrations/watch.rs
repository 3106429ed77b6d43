//! The registration workflow's background work: `registration.overdue` once per pending
//! registration past its response window, renewals of approved registrations on deal activity
//! (extend-on-activity), and `registration.changed_after_decision` once per decision and set of
//! terms. "Once" holds across restarts: it is recorded before it is published.

use super::decide::decide;
use super::views::terms_json;
use super::{records, Record};
use crate::clock::Clock;
use crate::domain::audit;
use crate::domain::deals::{Deals, DealsError, Windows};
use crate::domain::events::EventKind;
use crate::net::NetHandle;
use crate::store::tables::EVENTS_PUBLISHED;
use protocol::deal::{DealId, Decision};
use protocol::identity::NodeId;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// The registration workflow's background work, every quarter of the response window (within
/// 250 ms and 30 s): renews approved registrations whose deals saw activity (and offers the
/// renewals to the partners), and publishes `registration.overdue` once for each pending
/// registration past its response window (on the vendor, which owes the answer, and on the
/// partner, which waits). "Once" holds across restarts: it is recorded before it is published.
/// Each pass reads the time from `clock`.
pub async fn watch(deals: Arc<Deals>, network: NetHandle, clock: Clock) {
    loop {
        let sla = deals.windows().registration_sla_ms;
        let pause = Duration::from_millis((sla / 4).clamp(250, 30_000));
        tokio::time::sleep(pause).await;
        let engine = deals.clone();
        let now = clock.now_ms();
        let pass = tokio::task::spawn_blocking(move || {
            let renewed = extend_on_activity(&engine, now).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "cannot renew registrations");
                Vec::new()
            });
            let overdue = newly_overdue(&engine, now).unwrap_or_else(|e| {
                tracing::warn!(error = %format!("{e:#}"), "cannot report overdue registrations");
                Vec::new()
            });
            let changed = newly_changed_after_decision(&engine, now).unwrap_or_else(|e| {
                tracing::warn!(error = %format!("{e:#}"), "cannot report registrations changed after their decision");
                Vec::new()
            });
            (renewed, overdue, changed)
        })
        .await;
        let Ok((renewed, overdue, changed)) = pass else {
            continue;
        };
        if !renewed.is_empty() {
            let _ = network.sync(renewed).await;
        }
        for r in overdue {
            deals.publish(
                EventKind::RegistrationOverdue,
                json!({"id": r.id.to_string(), "partner": r.partner.to_string(),
                       "vendor": r.vendor.to_string(), "account_domain": r.domain,
                       "submitted_at": audit::rfc3339(r.submitted_at),
                       "respond_by": audit::rfc3339(r.respond_by)}),
            );
        }
        for (r, fields) in changed {
            deals.publish(
                EventKind::RegistrationChangedAfterDecision,
                json!({"id": r.id.to_string(), "partner": r.partner.to_string(),
                       "vendor": r.vendor.to_string(), "account_domain": r.domain,
                       "status": r.status, "fields": fields,
                       "decided_terms": r.decided_terms.as_ref().map(terms_json),
                       "terms": terms_json(&r.terms())}),
            );
        }
    }
}

/// The registrations whose terms changed after their decision and were not yet reported, each
/// with the fields that differ; each is recorded (once per decision and set of terms, across
/// restarts) with an audit entry in the same transaction, so the vendor's node keeps a trace of
/// terms its decision never covered, and the partner's of a change its vendor never decided on.
pub(super) fn newly_changed_after_decision(
    deals: &Deals,
    now: u64,
) -> anyhow::Result<Vec<(Record, Vec<String>)>> {
    let key = |r: &Record| {
        format!(
            "registration.changed_after_decision/{}/{}/{:016x}",
            r.id,
            r.decided_at.unwrap_or(0),
            fnv1a(&r.terms())
        )
    };
    let changed: Vec<Record> = records(deals, now)
        .into_iter()
        .filter(|r| r.changed_after_decision)
        .collect();
    let changed = not_yet_published(deals.store(), changed, key)?;
    if changed.is_empty() {
        return Ok(Vec::new());
    }
    let txn = deals.store().write()?;
    let mut fresh = Vec::new();
    {
        let mut table = txn.open_table(EVENTS_PUBLISHED)?;
        for r in changed {
            table.insert(key(&r).as_str(), now)?;
            let decided = r.decided_terms.clone().unwrap_or_default();
            let current = r.terms();
            let fields: Vec<String> = decided
                .keys()
                .chain(current.keys())
                .filter(|f| decided.get(*f) != current.get(*f))
                .cloned()
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            let me = deals.me();
            let summary = if &r.vendor == me {
                format!(
                    "{} changed registration {} ({}) after it was {}: {} — the decision covers the terms before the change; approve or reject again",
                    r.partner_name,
                    r.id,
                    r.domain.as_deref().unwrap_or("no domain"),
                    r.status,
                    fields.join(", ")
                )
            } else {
                format!(
                    "registration {} with {} changed after {} {} it: {} — the decision covers the terms before the change",
                    r.id,
                    r.vendor_name,
                    r.vendor_name,
                    r.status,
                    fields.join(", ")
                )
            };
            let peer = if &r.vendor == me {
                &r.partner
            } else {
                &r.vendor
            };
            audit::record_in(
                &txn,
                now,
                audit::AuditKind::Registration,
                Some(peer.as_str()),
                summary,
                json!({"registration": r.id.to_string(), "status": r.status, "fields": fields,
                       "decided_terms": decided, "terms": current}),
            )?;
            fresh.push((r, fields));
        }
    }
    txn.commit()?;
    Ok(fresh)
}

/// A stable 64-bit digest of a set of terms (FNV-1a), to record "reported" per set of terms.
fn fnv1a(terms: &BTreeMap<String, String>) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (field, text) in terms {
        for byte in field.bytes().chain([0]).chain(text.bytes()).chain([0]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

/// The overdue registrations not yet reported, recorded as reported.
fn newly_overdue(deals: &Deals, now: u64) -> anyhow::Result<Vec<Record>> {
    let key = |r: &Record| format!("registration.overdue/{}", r.id);
    let overdue: Vec<Record> = records(deals, now)
        .into_iter()
        .filter(|r| r.overdue)
        .collect();
    let fresh = not_yet_published(deals.store(), overdue, key)?;
    if !fresh.is_empty() {
        let txn = deals.store().write()?;
        {
            let mut table = txn.open_table(EVENTS_PUBLISHED)?;
            for r in &fresh {
                table.insert(key(r).as_str(), now)?;
            }
        }
        txn.commit()?;
    }
    Ok(fresh)
}

/// Those of `records` whose event `key` was not published yet (read only: a pass with nothing
/// new writes nothing).
fn not_yet_published(
    store: &crate::store::Store,
    records: Vec<Record>,
    key: impl Fn(&Record) -> String,
) -> anyhow::Result<Vec<Record>> {
    if records.is_empty() {
        return Ok(records);
    }
    let txn = store.read()?;
    let Some(table) = crate::store::open_table_if_exists(&txn, EVENTS_PUBLISHED)? else {
        return Ok(records);
    };
    let mut fresh = Vec::new();
    for r in records {
        if table.get(key(&r).as_str())?.is_none() {
            fresh.push(r);
        }
    }
    Ok(fresh)
}

/// How much later a renewal must move an approval's expiry: a busy deal renews its
/// registration at most about once per this step, not on every change (a thousandth of the
/// protection window, between one second and one hour).
fn renewal_step_ms(windows: &Windows) -> u64 {
    (windows.registration_protection_ms / 1000).clamp(1_000, 3_600_000)
}

/// Extend-on-activity, on the vendor: an approved, unexpired registration whose partner takes
/// part in a deal on the registered account domain that changed since the last pass is
/// approved again with its protection counted from that deal's latest signed change (never
/// later than now: change times are their authors' claims). Returns the registrations renewed.
pub(super) fn extend_on_activity(deals: &Deals, now: u64) -> Result<Vec<DealId>, DealsError> {
    let touched = deals.take_touched();
    if touched.is_empty() {
        return Ok(Vec::new());
    }
    let me = deals.me().clone();
    let approved: Vec<Record> = records(deals, now)
        .into_iter()
        .filter(|r| r.vendor == me && r.status == "approved")
        .collect();
    if approved.is_empty() {
        return Ok(Vec::new());
    }
    // The latest activity per (account domain, participant) among the touched deals.
    let mut activity: BTreeMap<(String, NodeId), u64> = BTreeMap::new();
    {
        let inner = deals.lock();
        for id in &touched {
            let Some(doc) = inner.docs.get(id).filter(|d| d.is_initialized()) else {
                continue;
            };
            let view = doc.read_view();
            let Some(domain) = view.shared.account_domain.as_ref() else {
                continue;
            };
            let latest = doc
                .heads()
                .iter()
                .filter_map(|h| doc.automerge().get_change_meta_by_hash(h))
                .map(|m| u64::try_from(m.timestamp).unwrap_or(0))
                .max()
                .unwrap_or(0)
                .min(now);
            for node in view.participants.keys() {
                let slot = activity
                    .entry((domain.as_str().to_string(), node.clone()))
                    .or_insert(0);
                *slot = (*slot).max(latest);
            }
        }
    }
    let windows = deals.windows();
    let mut renewed = Vec::new();
    for r in approved {
        let Some(domain) = r.domain.clone() else {
            continue;
        };
        let Some(&at) = activity.get(&(domain, r.partner.clone())) else {
            continue;
        };
        let expires_at_ms = at.saturating_add(windows.registration_protection_ms);
        let current = r.expires_at.unwrap_or(0);
        if expires_at_ms < current.saturating_add(renewal_step_ms(&windows)) {
            continue;
        }
        decide(
            deals,
            &r,
            Decision::Approved { expires_at_ms },
            r.terms_to_renew(),
            now,
        )?;
        tracing::info!(registration = %r.id, expires_at = %audit::rfc3339(expires_at_ms), "renewed on deal activity");
        renewed.push(r.id);
    }
    Ok(renewed)
}
