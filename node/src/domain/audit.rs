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
            "program",
            "retention",
            "mdf",
            "lead",
            "plan",
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

/// How long one address's refused join attempts are gathered into one audit entry, and the
/// window of its rate limit: ten minutes.
pub const JOIN_ATTEMPT_WINDOW_MS: u64 = 10 * 60 * 1000;
/// Refused join attempts one address may make per window; beyond that its joins are refused
/// without being read (an honest joiner needs one, or a few after typos).
pub const JOIN_ATTEMPTS_PER_WINDOW_MAX: u32 = 20;
/// Addresses tracked at once; the oldest window is written out and dropped beyond it.
pub const JOIN_SOURCES_MAX: usize = 10_000;

/// Join attempts per source address (issue 19, low: unauthenticated join attempts flooded the
/// audit log). Every attempt counts toward the address's limit; the first refusal from an
/// address in a window is audited in full, the later ones are counted and written as one entry
/// ("N more refused join attempts from X between T1 and T2") once the window has passed, at the
/// next attempt from anyone.
#[derive(Debug, Default)]
pub struct JoinAttempts {
    windows: std::collections::HashMap<String, AttemptWindow>,
}

#[derive(Debug, Clone, Default)]
struct AttemptWindow {
    first_ms: u64,
    attempts: u32,
    /// Whether a refusal was audited in full in this window.
    audited: bool,
    /// Refusals after the audited one, with the time of the first and last.
    more: u32,
    more_first_ms: u64,
    more_last_ms: u64,
}

/// What an attempt may do.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct AttemptVerdict {
    /// The address is over its rate limit: refuse without reading the request.
    pub limited: bool,
    /// Entries for windows that ended: (source, count, first, last).
    pub summaries: Vec<(String, u32, u64, u64)>,
}

impl JoinAttempts {
    /// Counts a join attempt from `source` at `now_ms`, before its request is read.
    pub fn attempt(&mut self, source: &str, now_ms: u64) -> AttemptVerdict {
        let mut verdict = AttemptVerdict::default();
        let ended: Vec<String> = self
            .windows
            .iter()
            .filter(|(_, w)| now_ms >= w.first_ms.saturating_add(JOIN_ATTEMPT_WINDOW_MS))
            .map(|(s, _)| s.clone())
            .collect();
        for s in ended {
            self.close(&s, &mut verdict.summaries);
        }
        if !self.windows.contains_key(source) && self.windows.len() >= JOIN_SOURCES_MAX {
            let oldest = self
                .windows
                .iter()
                .min_by_key(|(_, w)| w.first_ms)
                .map(|(s, _)| s.clone());
            if let Some(s) = oldest {
                self.close(&s, &mut verdict.summaries);
            }
        }
        let w = self
            .windows
            .entry(source.to_string())
            .or_insert_with(|| AttemptWindow {
                first_ms: now_ms,
                ..AttemptWindow::default()
            });
        w.attempts += 1;
        verdict.limited = w.attempts > JOIN_ATTEMPTS_PER_WINDOW_MAX;
        verdict
    }

    /// A refused attempt from `source` at `now_ms`: whether to audit it in full (the first
    /// refusal in its window); the others are counted for the window's summary.
    pub fn refused(&mut self, source: &str, now_ms: u64) -> bool {
        let w = self
            .windows
            .entry(source.to_string())
            .or_insert_with(|| AttemptWindow {
                first_ms: now_ms,
                ..AttemptWindow::default()
            });
        if !w.audited {
            w.audited = true;
            return true;
        }
        if w.more == 0 {
            w.more_first_ms = now_ms;
        }
        w.more += 1;
        w.more_last_ms = now_ms;
        false
    }

    fn close(&mut self, source: &str, summaries: &mut Vec<(String, u32, u64, u64)>) {
        if let Some(w) = self.windows.remove(source) {
            if w.more > 0 {
                summaries.push((source.to_string(), w.more, w.more_first_ms, w.more_last_ms));
            }
        }
    }
}

/// Writes the summaries of ended windows (see [`JoinAttempts`]).
pub fn record_attempt_summaries(
    store: &Store,
    summaries: &[(String, u32, u64, u64)],
    now_ms: u64,
) -> Result<()> {
    if summaries.is_empty() {
        return Ok(());
    }
    let txn = store.write()?;
    for (source, count, first, last) in summaries {
        record_in(
            &txn,
            now_ms,
            AuditKind::Partner,
            None,
            format!(
                "{count} more refused join attempts from {source} between {} and {}",
                rfc3339(*first),
                rfc3339(*last)
            ),
            serde_json::json!({"event": "join_refused", "source": source, "count": count,
                               "first": rfc3339(*first), "last": rfc3339(*last)}),
        )?;
    }
    txn.commit()?;
    Ok(())
}

#[cfg(test)]
mod join_attempt_tests {
    use super::*;

    #[test]
    fn join_attempts_are_audited_once_per_address_and_window_then_limited_and_summed_up() {
        let mut log = JoinAttempts::default();
        let ip = "10.0.0.9";
        // An accepted join neither audits a refusal nor spends the one full entry.
        assert!(!log.attempt(ip, 1_000).limited);
        let mut limited_at = None;
        let mut audited = 0;
        for n in 2..=30u32 {
            let at = 1_000 + u64::from(n);
            let v = log.attempt(ip, at);
            if v.limited {
                limited_at.get_or_insert(n);
            } else if log.refused(ip, at) {
                audited += 1;
            }
        }
        assert_eq!(audited, 1);
        assert_eq!(limited_at, Some(JOIN_ATTEMPTS_PER_WINDOW_MAX + 1));
        // Another address is neither limited nor silenced by the first.
        assert!(!log.attempt("10.0.0.10", 2_000).limited);
        assert!(log.refused("10.0.0.10", 2_000));
        // After the window: one summary of the refusals not audited one by one, and the address
        // starts over.
        let later = log.attempt(ip, 1_000 + JOIN_ATTEMPT_WINDOW_MS);
        assert!(!later.limited);
        let refused_more = JOIN_ATTEMPTS_PER_WINDOW_MAX - 2;
        assert_eq!(
            later.summaries,
            vec![(
                ip.to_string(),
                refused_more,
                1_003,
                1_000 + u64::from(JOIN_ATTEMPTS_PER_WINDOW_MAX)
            )]
        );
        assert!(log.refused(ip, 1_000 + JOIN_ATTEMPT_WINDOW_MS));
    }
}
