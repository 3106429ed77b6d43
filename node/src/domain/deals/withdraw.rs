//! Withdrawing a deal: the origin signs a `withdrawn` marker ([`WITHDRAWN_KEY`]: why, when) into
//! the deal and each of its invitations, in the same change that clears every shared field.
//! Every participant that applies it — a change the origin signed, verified like any other —
//! replaces its copy by a tombstone (who, when, why) and drops the content: the changes, their
//! key (stored changes are encrypted with a per-deal key, so what redb's freed pages still hold
//! is unreadable), the metadata and the sync states. The origin keeps its copy until every
//! partner that holds one has acknowledged the withdrawal (its sync state holds the document's
//! heads), so that it can still send it; then it drops its own. What a dishonest or removed
//! node keeps is in SECURITY.md ("Withdrawing a deal").

use super::projection::shared_update;
use super::{put_change, Deals, DealsError, DocKind, WITHDRAWN_KEY};
use super::{EXPIRES_KEY, FOR_DEAL_KEY, KIND_KEY};
use crate::domain::audit::{self, AuditKind};
use crate::domain::events::EventKind;
use crate::store::shared::{self, Tombstone};
use anyhow::{anyhow, Result};
use protocol::deal::{DealId, SharedFields, VerifiedChange};
use protocol::sync::PeerSync;
use serde_json::{json, Value};
use std::collections::HashSet;

/// Longest reason a withdrawal carries, in characters.
pub const WHY_CHARS_MAX: usize = 500;

/// What the engine tracks of withdrawals.
#[derive(Debug, Default)]
pub(crate) struct Withdrawals {
    /// Deals this node withdrew and still holds (waiting for acknowledgements).
    pending: HashSet<DealId>,
    /// Documents replaced by their tombstone: anything a peer still sends of them is dropped.
    gone: HashSet<DealId>,
}

impl Deals {
    /// Loads the tombstones and the withdrawals still waiting (at start).
    pub(super) fn load_withdrawals(&self) -> Result<()> {
        let mut gone = HashSet::new();
        for (id, _) in shared::tombstones(&self.store)? {
            if let Ok(id) = DealId::parse(&id) {
                gone.insert(id);
            }
        }
        let pending: HashSet<DealId> = {
            let inner = self.lock();
            inner
                .docs
                .iter()
                .filter(|(_, d)| d.origin() == Some(&self.me))
                .filter(|(_, d)| d.read_view().shared.other.contains_key(WITHDRAWN_KEY))
                .map(|(id, _)| *id)
                .collect()
        };
        let mut w = self.withdrawals();
        w.gone = gone;
        w.pending = pending;
        Ok(())
    }

    fn withdrawals(&self) -> std::sync::MutexGuard<'_, Withdrawals> {
        self.withdrawals.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `id` was replaced by its tombstone here.
    pub fn is_gone(&self, id: DealId) -> bool {
        self.withdrawals().gone.contains(&id)
    }

    /// The origin withdraws deal `id` with a reason every participant sees. Returns the
    /// documents changed (the deal and its invitations), to offer their participants.
    pub fn withdraw(&self, id: DealId, why: &str, now_ms: u64) -> Result<Vec<DealId>, DealsError> {
        // The length as given (spaces around count), as the API document states it.
        let long = why.chars().count() > WHY_CHARS_MAX;
        let why = why.trim();
        if why.is_empty() {
            return Err(DealsError::fields(vec![(
                "reason",
                "a withdrawal needs a reason the partners see".into(),
            )]));
        }
        if long {
            return Err(DealsError::fields(vec![(
                "reason",
                format!("is longer than {WHY_CHARS_MAX} characters"),
            )]));
        }
        if self.is_gone(id) {
            return Err(DealsError::Conflict(format!(
                "deal {id} was already withdrawn"
            )));
        }
        let mut inner = self.lock();
        let doc = inner
            .docs
            .get(&id)
            .filter(|_| inner.info.get(&id).map(|i| i.kind) == Some(DocKind::Deal))
            .ok_or_else(|| DealsError::NotFound(format!("no deal with id {id}")))?;
        if doc.origin() != Some(&self.me) {
            return Err(DealsError::Forbidden(format!(
                "deal {id} was shared by another node: only its origin withdraws it"
            )));
        }
        if doc.read_view().shared.other.contains_key(WITHDRAWN_KEY) {
            return Err(DealsError::Conflict(format!(
                "deal {id} is already being withdrawn"
            )));
        }
        let marker = json!({"why": why, "at": now_ms}).to_string();
        let mut targets = vec![id];
        targets.extend(
            Self::invitations_of(&inner, id)
                .into_iter()
                .map(|(inv, _)| inv)
                .filter(|inv| inner.docs.get(inv).and_then(|d| d.origin()) == Some(&self.me)),
        );
        let mut changes: Vec<(DealId, VerifiedChange)> = Vec::new();
        for doc_id in &targets {
            let Some(doc) = inner.docs.get_mut(doc_id) else {
                continue;
            };
            let current = doc.read_view().shared;
            // Everything goes but what says what the document is.
            let mut new = SharedFields::default();
            for key in [KIND_KEY, FOR_DEAL_KEY, EXPIRES_KEY] {
                if let Some(v) = current.other.get(key) {
                    new.other.insert(key.into(), Some(v.clone()));
                }
            }
            new.other.insert(WITHDRAWN_KEY.into(), Some(marker.clone()));
            let update = shared_update(&current, &new);
            let change = doc
                .set_shared(&self.signer, now_ms, &update)
                .map_err(|e| anyhow!("deal {doc_id}: {e}"))?;
            changes.push((*doc_id, change));
        }
        let txn = self.store.write()?;
        for (doc_id, change) in &changes {
            put_change(&txn, *doc_id, change)?;
        }
        audit::record_in(
            &txn,
            now_ms,
            AuditKind::Withdraw,
            None,
            format!("withdrew deal {id}: {why}"),
            json!({"deal": id.to_string(), "why": why, "documents": targets.iter().map(|d| d.to_string()).collect::<Vec<_>>()}),
        )?;
        txn.commit().map_err(anyhow::Error::from)?;
        for (doc_id, _) in &changes {
            self.refresh(&mut inner, *doc_id, true);
        }
        drop(inner);
        self.withdrawals().pending.insert(id);
        let ids: Vec<DealId> = changes.iter().map(|(d, _)| *d).collect();
        // Nobody may hold a copy (no invitee accepted yet): done at once.
        self.finish_withdrawals(now_ms)?;
        Ok(ids)
    }

    /// After changes from a peer were stored: each document whose withdrawal arrived (signed by
    /// its origin, verified) is replaced by its tombstone here. Returns the ids replaced.
    pub fn apply_withdrawals(&self, changed: &[DealId], now_ms: u64) -> Result<Vec<DealId>> {
        let mut done = Vec::new();
        let mut told: Vec<DealId> = Vec::new();
        for id in changed {
            let found = {
                let inner = self.lock();
                inner.docs.get(id).and_then(|doc| {
                    let view = doc.read_view();
                    let origin = view.origin.clone()?;
                    if origin == self.me {
                        return None;
                    }
                    let marker = view.shared.other.get(WITHDRAWN_KEY)?;
                    let parsed: Value = serde_json::from_str(marker).unwrap_or(Value::Null);
                    let by = view
                        .participants
                        .get(&origin)
                        .map(|p| p.name.clone())
                        .unwrap_or_default();
                    Some(Tombstone {
                        by,
                        by_node: origin.to_string(),
                        at_ms: parsed["at"].as_u64().unwrap_or(0),
                        why: parsed["why"].as_str().unwrap_or("").to_string(),
                        for_deal: view.shared.other.get(FOR_DEAL_KEY).cloned(),
                    })
                })
            };
            if let Some(tomb) = found {
                self.bury(*id, &tomb, now_ms)?;
                done.push(*id);
                // One `deal.withdrawn` per deal: for the deal, or for an invitation to a deal
                // this node never held (an invitee that had not accepted).
                let deal = tomb
                    .for_deal
                    .as_deref()
                    .and_then(|d| DealId::parse(d).ok())
                    .unwrap_or(*id);
                let held =
                    deal != *id && (self.lock().docs.contains_key(&deal) || self.is_gone(deal));
                if !held && !told.contains(&deal) {
                    told.push(deal);
                    self.publish(
                        EventKind::DealWithdrawn,
                        json!({"deal_id": deal.to_string(), "by": tomb.by,
                               "by_node": tomb.by_node, "at": audit::rfc3339(tomb.at_ms), "why": tomb.why}),
                    );
                }
            }
        }
        Ok(done)
    }

    /// On the origin: each withdrawn deal whose every partner holding a copy has acknowledged
    /// the withdrawal (its sync state holds the document's heads; a partner no longer active
    /// never will, SECURITY.md) is replaced by its tombstone here too.
    pub fn finish_withdrawals(&self, now_ms: u64) -> Result<Vec<DealId>> {
        let pending: Vec<DealId> = self.withdrawals().pending.iter().copied().collect();
        let mut done = Vec::new();
        for id in pending {
            let (targets, acked) = {
                let inner = self.lock();
                let mut targets = vec![id];
                targets.extend(Self::invitations_of(&inner, id).into_iter().map(|(i, _)| i));
                let mut acked = true;
                for doc_id in &targets {
                    let Some(doc) = inner.docs.get(doc_id) else {
                        continue;
                    };
                    let heads = doc.heads();
                    for peer in doc.read_view().participants.keys() {
                        if peer == &self.me {
                            continue;
                        }
                        let active = shared::partner(&self.store, peer.as_str())?
                            .is_some_and(|p| p.is_active());
                        if !active {
                            continue;
                        }
                        let state = match inner.peers.get(peer, doc_id) {
                            Some(s) => Some(s.shared_heads().to_vec()),
                            None => {
                                shared::sync_state(&self.store, &doc_id.to_string(), peer.as_str())?
                                    .and_then(|b| PeerSync::decode(&b).ok())
                                    .map(|s| s.shared_heads().to_vec())
                            }
                        };
                        // No state: the peer never held this document.
                        if let Some(shared_heads) = state {
                            let mut a = shared_heads;
                            let mut b = heads.clone();
                            a.sort();
                            b.sort();
                            if a != b {
                                acked = false;
                            }
                        }
                    }
                }
                (targets, acked)
            };
            if !acked {
                continue;
            }
            let tomb = {
                let inner = self.lock();
                let Some(doc) = inner.docs.get(&id) else {
                    continue;
                };
                let view = doc.read_view();
                let parsed: Value = view
                    .shared
                    .other
                    .get(WITHDRAWN_KEY)
                    .and_then(|m| serde_json::from_str(m).ok())
                    .unwrap_or(Value::Null);
                Tombstone {
                    by: self.name.clone(),
                    by_node: self.me.to_string(),
                    at_ms: parsed["at"].as_u64().unwrap_or(now_ms),
                    why: parsed["why"].as_str().unwrap_or("").to_string(),
                    for_deal: None,
                }
            };
            for doc_id in &targets {
                let mut t = tomb.clone();
                if doc_id != &id {
                    t.for_deal = Some(id.to_string());
                }
                self.bury(*doc_id, &t, now_ms)?;
            }
            self.withdrawals().pending.remove(&id);
            done.push(id);
        }
        Ok(done)
    }

    /// Replaces document `id` by its tombstone: in one transaction the content goes and the
    /// tombstone and its audit entry are written; then the engine forgets the document.
    fn bury(&self, id: DealId, tomb: &Tombstone, now_ms: u64) -> Result<()> {
        let txn = self.store.write()?;
        shared::put_tombstone_in(&txn, &id.to_string(), tomb)?;
        let what = match &tomb.for_deal {
            Some(deal) => format!("the invitation to deal {deal}"),
            None => format!("deal {id}"),
        };
        audit::record_in(
            &txn,
            now_ms,
            AuditKind::Withdraw,
            (tomb.by_node != self.me.as_str()).then_some(tomb.by_node.as_str()),
            format!(
                "{what} was withdrawn by {} on {}: {}; its content was dropped from this node",
                tomb.by,
                audit::rfc3339(tomb.at_ms),
                tomb.why
            ),
            json!({"document": id.to_string(), "for_deal": tomb.for_deal, "by": tomb.by, "by_node": tomb.by_node, "at_ms": tomb.at_ms, "why": tomb.why}),
        )?;
        txn.commit()?;
        let mut inner = self.lock();
        inner.docs.remove(&id);
        inner.info.remove(&id);
        inner.peers.retain_documents(|d| *d != id);
        inner.accepted_invites.retain(|(d, _)| *d != id);
        inner.touched.remove(&id);
        drop(inner);
        self.participation.remove(&id);
        self.withdrawals().gone.insert(id);
        Ok(())
    }

    /// A withdrawn deal as the API shows it: `{id, status: "withdrawn", withdrawn: {by,
    /// by_node, at, why}, note}` — from its tombstone, or (on the origin, until every partner
    /// acknowledged) from the signed marker. `None` when `id` was not withdrawn.
    pub fn withdrawn_view(&self, id: DealId) -> Result<Option<Value>> {
        let tomb = match shared::tombstone(&self.store, &id.to_string())? {
            Some(t) => Some(t),
            None => shared::tombstones(&self.store)?
                .into_iter()
                .find(|(_, t)| t.for_deal.as_deref() == Some(id.to_string().as_str()))
                .map(|(_, t)| t),
        };
        let (tomb, pending) = match tomb {
            Some(t) => (t, false),
            None => {
                let inner = self.lock();
                let Some(doc) = inner.docs.get(&id) else {
                    return Ok(None);
                };
                let view = doc.read_view();
                let Some(marker) = view.shared.other.get(WITHDRAWN_KEY) else {
                    return Ok(None);
                };
                let parsed: Value = serde_json::from_str(marker).unwrap_or(Value::Null);
                let origin = view.origin.clone();
                let by = origin
                    .as_ref()
                    .and_then(|o| view.participants.get(o))
                    .map(|p| p.name.clone())
                    .unwrap_or_default();
                (
                    Tombstone {
                        by,
                        by_node: origin.map(|o| o.to_string()).unwrap_or_default(),
                        at_ms: parsed["at"].as_u64().unwrap_or(0),
                        why: parsed["why"].as_str().unwrap_or("").to_string(),
                        for_deal: None,
                    },
                    true,
                )
            }
        };
        Ok(Some(tombstone_json(&id.to_string(), &tomb, pending)))
    }

    /// The withdrawn deals for the deal list: `(id, view)` of every deal tombstone here (not
    /// invitations), and of each deal this node withdrew that still waits for acknowledgements.
    pub(super) fn withdrawn_deals(&self) -> Result<Vec<(DealId, Value)>> {
        let mut out: Vec<(DealId, Value)> = shared::tombstones(&self.store)?
            .into_iter()
            .filter(|(_, t)| t.for_deal.is_none())
            .filter_map(|(id, t)| Some((DealId::parse(&id).ok()?, tombstone_json(&id, &t, false))))
            .collect();
        let pending: Vec<DealId> = self.withdrawals().pending.iter().copied().collect();
        for id in pending {
            if let Some(v) = self.withdrawn_view(id)? {
                out.push((id, v));
            }
        }
        Ok(out)
    }
}

/// A withdrawn deal as the API shows it, from its tombstone.
fn tombstone_json(id: &str, tomb: &Tombstone, pending: bool) -> Value {
    let at = audit::rfc3339(tomb.at_ms);
    json!({
        "id": id,
        "status": "withdrawn",
        "withdrawn": {"by": tomb.by, "by_node": tomb.by_node, "at": at, "why": tomb.why,
                      "pending_acknowledgements": pending},
        "note": format!("withdrawn by {} on {}: {}", tomb.by, at.get(..10).unwrap_or(&at), tomb.why),
    })
}
