//! Audit retention (`audit_retention_days` in cosell.toml): entries older than the setting are
//! removed on a timer, always from the start of the log, so what stays is one contiguous tail.
//!
//! Removing entries must not make a later export look tampered with, nor let the start of the
//! log vanish unnoticed. Each removal therefore leaves a **checkpoint**, signed by the node key
//! and kept in the store: the first entry kept (`first_kept_seq`), the time before which entries
//! were removed, how many were removed in all, and a hash chain over every removed entry (each
//! removal continues the previous one's chain, in the export's line format). Every export made
//! afterwards carries the checkpoint in its header, and `cosell audit verify` checks its
//! signature and that a file whose period reaches back before the checkpoint starts exactly at
//! the first kept entry. The removal itself is an audit entry (`retention`) with the checkpoint.
//! Format and limits: SECURITY.md, "Audit retention".

use super::audit::{self, AuditKind};
use crate::clock::Clock;
use crate::store::shared;
use crate::store::Store;
use anyhow::{Context, Result};
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

/// Where the checkpoint is kept (the store's `meta` table).
const CHECKPOINT_KEY: &str = "audit_checkpoint";
/// The name in the signed message.
pub const FORMAT: &str = "cosell-audit-retention/1";
/// Most entries one removal takes (one transaction); a larger backlog takes several passes.
const ENTRIES_PER_PASS: usize = 50_000;

/// What the node signs when it removes old entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The first entry the log still holds.
    pub first_kept_seq: u64,
    /// Entries written before this time (ms since the epoch) may have been removed.
    pub before_ms: u64,
    /// Entries removed in all, over every removal.
    pub removed: u64,
    /// The hash chain over every removed entry, hex (see [`Checkpoint::message`]).
    pub head: String,
    /// When the last removal ran.
    pub at_ms: u64,
    /// ed25519 by the node key over [`Checkpoint::message`], hex.
    pub signature: String,
}

impl Checkpoint {
    /// The ASCII text the signature covers.
    pub fn message(&self) -> String {
        format!(
            "{FORMAT} first_kept {} before {} removed {} head {} at {}",
            self.first_kept_seq, self.before_ms, self.removed, self.head, self.at_ms
        )
    }

    /// Checks the signature against the node's public key.
    pub fn verify(&self, key: &VerifyingKey) -> Result<(), String> {
        let signature: [u8; 64] = hex::decode(&self.signature)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or("the retention checkpoint's signature is not 64 bytes of hex")?;
        key.verify(
            self.message().as_bytes(),
            &Signature::from_bytes(&signature),
        )
        .map_err(|_| "the retention checkpoint is not signed by this node's key".to_string())
    }
}

/// The checkpoint of the last removal, if entries were ever removed.
pub fn checkpoint(store: &Store) -> Result<Option<Checkpoint>> {
    shared::meta_get(store, CHECKPOINT_KEY)?
        .map(|bytes| serde_json::from_slice(&bytes).context("stored audit checkpoint"))
        .transpose()
}

/// `chain_i = SHA-256(chain_{i-1} ‖ line)`: the export's chain step.
fn chain_next(previous: &[u8; 32], line: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(previous);
    h.update(line);
    h.finalize().into()
}

/// Removes the entries written more than `keep` before `now_ms` (from the start of the log),
/// signs a new checkpoint with `secret` (the node key) and records the removal as an entry of
/// its own. Returns how many entries went.
pub fn prune(store: &Store, secret: &[u8; 32], keep: Duration, now_ms: u64) -> Result<u64> {
    let keep_ms = u64::try_from(keep.as_millis()).unwrap_or(u64::MAX);
    let before_ms = now_ms.saturating_sub(keep_ms);
    let mut total = 0;
    loop {
        let txn = store.write()?;
        let old = shared::audit_leading_before_in(&txn, before_ms, ENTRIES_PER_PASS)?;
        let Some(last) = old.last() else {
            return Ok(total);
        };
        let last_seq = last.seq;
        let previous: Option<Checkpoint> = shared::meta_get_in(&txn, CHECKPOINT_KEY)?
            .map(|b| serde_json::from_slice(&b).context("stored audit checkpoint"))
            .transpose()?;
        let mut chain = [0u8; 32];
        if let Some(p) = &previous {
            hex::decode_to_slice(&p.head, &mut chain).context("stored audit checkpoint head")?;
        }
        for entry in &old {
            chain = chain_next(&chain, audit::to_json(entry).to_string().as_bytes());
        }
        let mut cp = Checkpoint {
            // Entries are numbered one after another: the one after the last removed stays
            // (a newer entry, or the `retention` entry appended below).
            first_kept_seq: last_seq + 1,
            before_ms,
            removed: previous.as_ref().map_or(0, |p| p.removed) + old.len() as u64,
            head: hex::encode(chain),
            at_ms: now_ms,
            signature: String::new(),
        };
        let key = SigningKey::from_bytes(secret);
        cp.signature = hex::encode(key.sign(cp.message().as_bytes()).to_bytes());
        // Appended first, so the numbering goes on even when every entry is removed.
        audit::as_actor("this node".into(), || {
            audit::record_in(
                &txn,
                now_ms,
                AuditKind::Retention,
                None,
                format!(
                    "removed {} audit entries written before {} (retention {:.4} days); the log starts at entry {}",
                    old.len(),
                    audit::rfc3339(before_ms),
                    keep.as_secs_f64() / 86_400.0,
                    cp.first_kept_seq
                ),
                json!({"checkpoint": cp}),
            )
        })?;
        shared::audit_remove_through_in(&txn, last_seq)?;
        shared::meta_put_in(&txn, CHECKPOINT_KEY, &serde_json::to_vec(&cp)?)?;
        txn.commit()?;
        total += old.len() as u64;
    }
}

/// How often the timer looks for old entries: a tenth of the retention, between half a second
/// and an hour.
fn pause(keep: Duration) -> Duration {
    (keep / 10).clamp(Duration::from_millis(500), Duration::from_secs(3600))
}

/// The timer: removes old entries now and then every [`pause`], for as long as the node runs.
pub async fn run(store: Arc<Store>, secret: [u8; 32], keep: Duration, clock: Clock) {
    loop {
        let (store, now) = (store.clone(), clock.now_ms());
        let pass = tokio::task::spawn_blocking(move || prune(&store, &secret, keep, now)).await;
        match pass {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::info!(removed = n, "audit retention: old entries removed"),
            Ok(Err(e)) => tracing::warn!(error = %format!("{e:#}"), "audit retention failed"),
            Err(e) => tracing::warn!(error = %e, "audit retention task failed"),
        }
        tokio::time::sleep(pause(keep)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::audit_export;

    const DAY: u64 = 86_400_000;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        crate::store::ensure_tables(&store).unwrap();
        (dir, store)
    }

    fn entries(store: &Store) -> Vec<shared::AuditEntry> {
        shared::audit_page(store, 0, 1000).unwrap()
    }

    fn export(store: &Store, secret: &[u8; 32], from: u64, now: u64) -> String {
        let node = protocol::identity::NodeKey::from_secret_bytes(secret)
            .node_id()
            .to_string();
        let list: Vec<_> = entries(store)
            .into_iter()
            .filter(|e| e.at_ms >= from)
            .collect();
        audit_export::write(
            &list,
            node.as_str(),
            "Vendorco",
            secret,
            (from, now),
            now,
            checkpoint(store).unwrap().as_ref(),
        )
    }

    #[test]
    fn old_entries_go_under_a_signed_checkpoint_and_later_exports_still_verify() {
        let (_dir, store) = store();
        let secret = [9u8; 32];
        for day in 1..=10u64 {
            audit::record(
                &store,
                day * DAY,
                AuditKind::Policy,
                None,
                format!("day {day}"),
                json!({}),
            )
            .unwrap();
        }
        // Keep 3 days at day 10.5: days 1–7 go, 8–10 stay, after the removal's own entry.
        let now = 10 * DAY + DAY / 2;
        assert_eq!(
            prune(&store, &secret, Duration::from_millis(3 * DAY), now).unwrap(),
            7
        );
        let left = entries(&store);
        let seqs: Vec<u64> = left.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [8, 9, 10, 11], "the tail stays, numbered on");
        assert_eq!(left[3].kind, AuditKind::Retention);
        let cp = checkpoint(&store).unwrap().expect("a checkpoint");
        assert_eq!((cp.first_kept_seq, cp.removed), (8, 7));
        let key = SigningKey::from_bytes(&secret).verifying_key();
        cp.verify(&key).unwrap();
        // Nothing older is left: a second pass removes nothing and signs nothing new.
        assert_eq!(
            prune(&store, &secret, Duration::from_millis(3 * DAY), now).unwrap(),
            0
        );
        assert_eq!(checkpoint(&store).unwrap().unwrap(), cp);

        // An export of the whole history starts at the first kept entry and verifies.
        let text = export(&store, &secret, 0, now);
        let ok = audit_export::verify(&text).unwrap();
        assert_eq!(ok.entries, 4);
        assert_eq!(ok.retention.as_ref().map(|c| c.first_kept_seq), Some(8));
        // Dropping the first kept entry (and re-chaining, as a forger with only the file
        // would have to, but without the key) is caught: the header still names entry 8.
        let without_first: Vec<_> = entries(&store).into_iter().skip(1).collect();
        let node = protocol::identity::NodeKey::from_secret_bytes(&secret)
            .node_id()
            .to_string();
        let forged = audit_export::write(
            &without_first,
            node.as_str(),
            "Vendorco",
            &secret,
            (0, now),
            now,
            Some(&cp),
        );
        let err = audit_export::verify(&forged).unwrap_err();
        assert!(err.contains("first kept entry is 8"), "{err}");
        // A changed checkpoint breaks its signature.
        let mut changed = cp.clone();
        changed.first_kept_seq = 9;
        assert!(changed.verify(&key).is_err());
        // An export of a later period needs nothing before it and verifies too.
        let later = export(&store, &secret, 9 * DAY, now);
        assert_eq!(audit_export::verify(&later).unwrap().entries, 3);

        // A second removal continues the chain and the count; entries go on being numbered
        // even when every one is removed.
        let much_later = 40 * DAY;
        assert_eq!(
            prune(&store, &secret, Duration::from_millis(3 * DAY), much_later).unwrap(),
            4
        );
        let next = checkpoint(&store).unwrap().unwrap();
        assert_eq!((next.first_kept_seq, next.removed), (12, 11));
        assert_ne!(next.head, cp.head);
        let left = entries(&store);
        assert_eq!(left.iter().map(|e| e.seq).collect::<Vec<_>>(), [12]);
        audit::record(
            &store,
            much_later,
            AuditKind::Policy,
            None,
            "after",
            json!({}),
        )
        .unwrap();
        assert_eq!(entries(&store).last().unwrap().seq, 13);
        assert!(audit_export::verify(&export(&store, &secret, 0, much_later)).is_ok());
    }

    #[test]
    fn the_timer_looks_often_enough_for_short_settings_and_hourly_for_long_ones() {
        assert_eq!(pause(Duration::from_secs(5)), Duration::from_millis(500));
        assert_eq!(pause(Duration::from_secs(60)), Duration::from_secs(6));
        assert_eq!(
            pause(Duration::from_secs(90 * 86_400)),
            Duration::from_secs(3600)
        );
    }
}
