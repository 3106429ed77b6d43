//! The audit log: every share (which fields went to whom), policy change, partnership change and
//! rejected incoming change, with the peer and the reason. Entries are appended inside the same
//! write transaction as the action they describe, so the log never disagrees with the data.
//!
//! Every entry names its actor: the signed-in user or the API token (with its role) whose request
//! caused it, "partner node X" for a change that arrived from a partner, or "this node" for the
//! node's own background work. The HTTP layer sets the actor for the request's task
//! ([`acting_as`]); work moved to a blocking thread carries it along ([`carry`]), so the
//! functions that append entries need no extra parameter.

pub use crate::store::shared::AuditKind;
use crate::store::shared::{self, AuditEntry};
use crate::store::Store;
use anyhow::Result;
use redb::WriteTransaction;
use serde_json::Value;
use std::cell::RefCell;
use std::sync::Arc;

tokio::task_local! {
    /// The actor of the request this task serves.
    static TASK_ACTOR: Arc<str>;
}

thread_local! {
    /// The actor of the work this (blocking) thread runs now.
    static THREAD_ACTOR: RefCell<Option<Arc<str>>> = const { RefCell::new(None) };
}

/// Who acted, as an audit entry names it: `user 'ana' (admin)` or `token 'ci' (manager)`.
pub fn actor_name(kind: &str, name: &str, role: &str) -> String {
    format!("{kind} '{name}' ({role})")
}

/// Runs `fut` with `actor` as the actor of every audit entry it appends.
pub async fn acting_as<F: std::future::Future>(actor: String, fut: F) -> F::Output {
    TASK_ACTOR.scope(Arc::from(actor), fut).await
}

/// The actor set for the current thread or task, if any.
pub fn current_actor() -> Option<Arc<str>> {
    THREAD_ACTOR
        .with(|a| a.borrow().clone())
        .or_else(|| TASK_ACTOR.try_with(Arc::clone).ok())
}

/// Wraps `f` (about to run on another thread) so that it runs with the current actor.
pub fn carry<T>(f: impl FnOnce() -> T) -> impl FnOnce() -> T {
    let actor = current_actor();
    move || {
        let previous = THREAD_ACTOR.with(|a| a.replace(actor));
        let out = f();
        THREAD_ACTOR.with(|a| *a.borrow_mut() = previous);
        out
    }
}

/// Runs `f` on this thread with `actor` as the actor of every entry it appends.
pub fn as_actor<T>(actor: String, f: impl FnOnce() -> T) -> T {
    let previous = THREAD_ACTOR.with(|a| a.replace(Some(Arc::from(actor))));
    let out = f();
    THREAD_ACTOR.with(|a| *a.borrow_mut() = previous);
    out
}

/// How an entry names a partner node whose message caused it: `partner node Acme (12D3…)`.
pub fn partner_actor(store: &Store, peer: &str) -> String {
    match shared::partner(store, peer).ok().flatten() {
        Some(p) => format!("partner node {} ({peer})", p.name),
        None => format!("partner node {peer}"),
    }
}

/// The actor an entry names: the current one, else the node itself (background work).
fn actor_for() -> String {
    current_actor()
        .map(|a| a.to_string())
        .unwrap_or_else(|| "this node".to_string())
}

/// Appends one entry inside `txn`.
pub fn record_in(
    txn: &WriteTransaction,
    at_ms: u64,
    kind: AuditKind,
    peer: Option<&str>,
    summary: impl Into<String>,
    details: Value,
) -> Result<()> {
    shared::audit_in(
        txn,
        AuditEntry {
            seq: 0,
            at_ms,
            kind,
            peer: peer.map(str::to_string),
            actor: Some(actor_for()),
            summary: summary.into(),
            details,
        },
    )
}

/// Appends one entry in its own transaction.
pub fn record(
    store: &Store,
    at_ms: u64,
    kind: AuditKind,
    peer: Option<&str>,
    summary: impl Into<String>,
    details: Value,
) -> Result<()> {
    let txn = store.write()?;
    record_in(&txn, at_ms, kind, peer, summary, details)?;
    txn.commit()?;
    Ok(())
}

/// An entry as the API shows it (with an RFC 3339 time beside the milliseconds).
pub fn to_json(entry: &AuditEntry) -> Value {
    serde_json::json!({
        "seq": entry.seq,
        "at": rfc3339(entry.at_ms),
        "at_ms": entry.at_ms,
        "kind": entry.kind.as_str(),
        "peer": entry.peer,
        "actor": entry.actor,
        "summary": entry.summary,
        "details": entry.details,
    })
}

/// Milliseconds since the epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC).
pub fn rfc3339(ms: u64) -> String {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        ms % 1000
    )
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::{rfc3339, AuditKind};

    #[test]
    fn kinds_are_stored_and_shown_by_their_names() {
        let names = [
            "share",
            "share_update",
            "policy",
            "partner",
            "rejected",
            "mapping",
            "registration",
            "access",
            "record",
            "withdraw",
            "erasure",
        ];
        assert_eq!(AuditKind::NAMES, names);
        for (kind, name) in AuditKind::ALL.iter().zip(names) {
            assert_eq!(kind.as_str(), name);
            assert_eq!(serde_json::to_string(kind).unwrap(), format!("\"{name}\""));
            assert_eq!(
                serde_json::from_str::<AuditKind>(&format!("\"{name}\"")).unwrap(),
                *kind
            );
            assert_eq!(AuditKind::parse(name), Some(*kind));
        }
        assert_eq!(AuditKind::parse("deal"), None);
    }

    #[test]
    fn rfc3339_formats_utc_milliseconds() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }
}
