//! The node's side of sync: which documents to offer a peer (only those it participates in and
//! may hold, ARCHITECTURE.md invariant 3), and what to do with what it sends (verified, then
//! durable before the answer, invariant 4).

use super::invitations::late_acceptance;
use super::{put_change, Deals, DocKind, Inner, Received};
use super::{AUDITED_REJECTIONS_PER_MESSAGE_MAX, UNINITIALIZED_REPLICAS_MAX};
use crate::domain::audit::{self, AuditKind};
use crate::store::shared::{self, DealMeta};
use anyhow::{Context, Result};
use protocol::deal::{DealDoc, DealId, ParticipantStatus};
use protocol::identity::NodeId;
use protocol::sync::{receive_batch_parallel, PeerSync};
use protocol::wire::DocSync;
use serde_json::json;
use std::sync::atomic::Ordering;

impl Deals {
    /// Forgets the in-memory sync state with a peer for some deals (their messages were not
    /// sent), so the next round offers them again.
    pub fn forget(&self, peer: &NodeId, deals: &[DealId]) {
        let mut inner = self.lock();
        for id in deals {
            inner.peers.remove(&(peer.clone(), *id));
        }
    }

    /// Forgets the in-memory sync state with a peer (after a disconnect or a failed request), so
    /// the next exchange starts from the persisted shared heads.
    pub fn reset_peer(&self, peer: &NodeId) {
        self.lock().peers.retain(|(p, _), _| p != peer);
    }

    /// Messages for `peer` about `only` these deals (or all), each a document it participates in.
    /// A round over all deals (a connect, a retry) leaves out the deals whose heads the peer is
    /// known to hold (the persisted shared heads): a reconnect costs what changed, not the store.
    pub fn generate(&self, peer: &NodeId, only: Option<&[DealId]>) -> Result<Vec<DocSync>> {
        let ids: Vec<DealId> = match only {
            Some(list) => list.to_vec(),
            None => self.lock().docs.keys().copied().collect(),
        };
        self.generate_where(peer, &ids, only.is_none(), |d| {
            d.is_initialized() && d.is_participant(peer)
        })
    }

    /// The answer to a peer's message: messages about the deals it named (a replica still
    /// waiting for its genesis asks for it).
    pub fn reply_for(&self, peer: &NodeId, deals: &[DealId]) -> Result<Vec<DocSync>> {
        self.generate_where(peer, deals, false, |d| {
            !d.is_initialized() || d.is_participant(peer)
        })
    }

    fn generate_where(
        &self,
        peer: &NodeId,
        ids: &[DealId],
        skip_in_sync: bool,
        offer: impl Fn(&DealDoc) -> bool,
    ) -> Result<Vec<DocSync>> {
        let mut inner = self.lock();
        let mut out = Vec::new();
        for &id in ids {
            let Some(doc) = inner.docs.get(&id) else {
                continue;
            };
            if !offer(doc) || (doc.is_initialized() && !Self::may_send(&inner, &id, peer)) {
                continue;
            }
            self.peer_state(&mut inner, peer, id)?;
            let Inner { docs, peers, .. } = &mut *inner;
            if let (Some(doc), Some(state)) = (docs.get(&id), peers.get_mut(&(peer.clone(), id))) {
                if skip_in_sync && in_sync(doc, state) {
                    continue;
                }
                if let Some(message) = doc.generate_sync(state) {
                    self.counters
                        .changes_sent
                        .fetch_add(message.changes.len() as u64, Ordering::Relaxed);
                    out.push(message);
                }
            }
        }
        Ok(out)
    }

    /// Whether `peer` may be sent document `id` now. A deal goes to a participant only once it
    /// has accepted (in the deal, or — for the origin — in the invitation this node made it);
    /// until then it has only its invitation's redacted summary. Invitations and registrations
    /// go to their participants. Nothing goes to a participant the origin removed.
    fn may_send(inner: &Inner, id: &DealId, peer: &NodeId) -> bool {
        let Some(info) = inner.info.get(id) else {
            return false;
        };
        if info.statuses.get(peer) == Some(&ParticipantStatus::Removed) {
            return false;
        }
        match info.kind {
            DocKind::Deal => {
                info.origin.as_ref() == Some(peer)
                    || info.statuses.get(peer) == Some(&ParticipantStatus::Accepted)
                    || info.writers.contains(peer)
                    || inner.accepted_invites.contains(&(*id, peer.clone()))
            }
            DocKind::Invitation { .. } | DocKind::Registration => true,
        }
    }

    /// Makes sure the in-memory sync state for (peer, deal) exists, loading it from redb.
    fn peer_state(&self, inner: &mut Inner, peer: &NodeId, id: DealId) -> Result<()> {
        let key = (peer.clone(), id);
        if inner.peers.contains_key(&key) {
            return Ok(());
        }
        let state = match shared::sync_state(&self.store, &id.to_string(), peer.as_str())? {
            Some(bytes) => PeerSync::decode(&bytes).unwrap_or_default(),
            None => PeerSync::new(),
        };
        inner.peers.insert(key, state);
        Ok(())
    }

    /// Handles one peer's sync messages: verifies and applies, persists, audits rejections, and
    /// answers. Durable before it returns (the caller then acknowledges).
    pub fn receive(&self, peer: &NodeId, messages: Vec<DocSync>, now_ms: u64) -> Result<Received> {
        let mut inner = self.lock();
        let mut refused: Vec<(Option<DealId>, String)> = Vec::new();
        let mut taken: Vec<(DealDoc, PeerSync, DocSync, bool)> = Vec::new();
        let uninitialized = inner.docs.values().filter(|d| !d.is_initialized()).count();
        let mut new_replicas = 0usize;
        for message in messages {
            let id = message.deal;
            if taken.iter().any(|(d, ..)| d.id() == id) {
                refused.push((Some(id), "the same deal twice in one message".into()));
                continue;
            }
            let known = inner.docs.contains_key(&id);
            if known {
                let doc = &inner.docs[&id];
                if doc.is_initialized() && !doc.is_participant(peer) {
                    refused.push((
                        Some(id),
                        "the peer is not a participant of this deal".into(),
                    ));
                    continue;
                }
                let removed = inner.info.get(&id).and_then(|i| i.statuses.get(peer))
                    == Some(&ParticipantStatus::Removed);
                if removed {
                    refused.push((
                        Some(id),
                        "the deal's origin removed the peer from this deal".into(),
                    ));
                    continue;
                }
            } else if uninitialized + new_replicas >= UNINITIALIZED_REPLICAS_MAX {
                refused.push((Some(id), "too many unknown deals".into()));
                continue;
            } else {
                new_replicas += 1;
            }
            self.peer_state(&mut inner, peer, id)?;
            let doc = inner
                .docs
                .remove(&id)
                .unwrap_or_else(|| DealDoc::replica(id));
            let state = inner.peers.remove(&(peer.clone(), id)).unwrap_or_default();
            let was_initialized = doc.is_initialized();
            taken.push((doc, state, message, was_initialized));
        }
        let processed: Vec<DealId> = taken.iter().map(|(d, ..)| d.id()).collect();
        // Deals are independent documents: verify, authorize and apply them on every core
        // (the outcome is the same as on one thread, in the same order).
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let outcomes = receive_batch_parallel(
            taken
                .iter_mut()
                .map(|(doc, state, message, _)| (doc, state, message.clone()))
                .collect(),
            threads,
        );
        let mut received = Received::default();
        let mut txn = self.store.write()?;
        let mut wrote_records = false;
        let mut audited = 0usize;
        let mut rejected_total = refused.len();
        for ((doc, state, _, was_initialized), outcome) in taken.into_iter().zip(outcomes) {
            let id = doc.id();
            let mut keep = true;
            if doc.is_initialized() && !doc.is_participant(&self.me) {
                refused.push((
                    Some(id),
                    "this node is not a participant of this deal".into(),
                ));
                keep = false;
            }
            for r in &outcome.rejected {
                rejected_total += 1;
                if audited < AUDITED_REJECTIONS_PER_MESSAGE_MAX {
                    audited += 1;
                    audit::record_in(
                        &txn,
                        now_ms,
                        AuditKind::Rejected,
                        Some(peer.as_str()),
                        format!("refused a change to deal {id} from {peer}: {}", r.reason),
                        json!({"deal": id.to_string(), "hash": r.hash.map(|h| h.to_string()),
                               "author": r.author.as_ref().map(|a| a.to_string()), "reason": r.reason.to_string()}),
                    )?;
                }
            }
            if !keep {
                continue;
            }
            if doc.is_initialized() {
                if !was_initialized || !outcome.applied.is_empty() {
                    wrote_records = true;
                    if !was_initialized {
                        shared::put_deal_meta_in(
                            &txn,
                            &DealMeta {
                                id: id.to_string(),
                                opportunity_id: None,
                                stored_ms: now_ms,
                            },
                        )?;
                    }
                    for change in &outcome.applied {
                        put_change(&txn, id, change)?;
                    }
                }
                shared::put_sync_state_in(&txn, &id.to_string(), peer.as_str(), &state.encode())?;
            }
            if !outcome.applied.is_empty() {
                self.counters
                    .changes_received
                    .fetch_add(outcome.applied.len() as u64, Ordering::Relaxed);
                received.changed.push(id);
            }
            inner.peers.insert((peer.clone(), id), state);
            inner.docs.insert(id, doc);
        }
        for (deal, reason) in refused.iter().skip(audited.min(refused.len())) {
            if audited >= AUDITED_REJECTIONS_PER_MESSAGE_MAX {
                break;
            }
            audited += 1;
            audit::record_in(
                &txn,
                now_ms,
                AuditKind::Rejected,
                Some(peer.as_str()),
                format!("refused a message from {peer}: {reason}"),
                json!({"deal": deal.map(|d| d.to_string()), "reason": reason}),
            )?;
        }
        if rejected_total > audited {
            audit::record_in(
                &txn,
                now_ms,
                AuditKind::Rejected,
                Some(peer.as_str()),
                format!(
                    "refused {} more changes from {peer} in the same message",
                    rejected_total - audited
                ),
                json!({"count": rejected_total - audited}),
            )?;
        }
        // A message that brought no change and nothing to audit only moved the peers' sync
        // state, which is an optimization (lost in a crash, it costs a re-offer on reconnect,
        // never a change): no fsync for it. It becomes durable with the next durable commit.
        let only_sync_state = rejected_total == 0 && received.changed.is_empty() && !wrote_records;
        if only_sync_state {
            let _ = txn.set_durability(redb::Durability::None);
        }
        txn.commit().context("cannot store received changes")?;
        self.counters
            .changes_rejected
            .fetch_add(rejected_total as u64, Ordering::Relaxed);
        // Drop documents that turned out not to be for this node.
        inner
            .docs
            .retain(|_, d| !d.is_initialized() || d.is_participant(&self.me));
        let mut answer_too: Vec<DealId> = Vec::new();
        let mut to_accept: Vec<DealId> = Vec::new();
        let mut auto_accept: Vec<DealId> = Vec::new();
        let mut late: Vec<(DealId, DealId, u64, u64)> = Vec::new();
        for id in &received.changed {
            let was = inner.info.get(id).cloned();
            self.refresh(&mut inner, *id, true);
            let Some(now) = inner.info.get(id) else {
                continue;
            };
            if let DocKind::Invitation { deal } = now.kind {
                let newly_accepted = now.statuses.get(peer) == Some(&ParticipantStatus::Accepted)
                    && was.as_ref().and_then(|w| w.statuses.get(peer))
                        != Some(&ParticipantStatus::Accepted);
                if now.origin.as_ref() == Some(&self.me) && newly_accepted {
                    if let Some((at, expires)) =
                        inner.docs.get(id).and_then(|d| late_acceptance(d, peer))
                    {
                        late.push((deal, *id, at, expires));
                    }
                }
            }
            match now.kind {
                // An invitee answered the invitation this node made: the deal itself may now
                // go to it, in this same exchange.
                DocKind::Invitation { deal }
                    if now.origin.as_ref() == Some(&self.me)
                        && inner.accepted_invites.contains(&(deal, peer.clone())) =>
                {
                    answer_too.push(deal);
                }
                // An invitation to this node, accepted at once when the node says so.
                DocKind::Invitation { deal }
                    if was.is_none()
                        && self.auto_accept.load(Ordering::Relaxed)
                        && now.statuses.get(&self.me) == Some(&ParticipantStatus::Invited) =>
                {
                    auto_accept.push(deal);
                }
                // The deal arrived after this node accepted its invitation: sign the
                // acceptance into the deal too.
                DocKind::Deal
                    if was.is_none()
                        && now.statuses.get(&self.me) == Some(&ParticipantStatus::Invited) =>
                {
                    let accepted = Self::invitations_of(&inner, *id)
                        .into_iter()
                        .any(|(inv, n)| {
                            n == self.me
                                && inner.info.get(&inv).and_then(|i| i.statuses.get(&self.me))
                                    == Some(&ParticipantStatus::Accepted)
                        });
                    if accepted {
                        to_accept.push(*id);
                    }
                }
                _ => {}
            }
        }
        drop(inner);
        for (deal, invitation, at, expires) in late {
            audit::record(
                &self.store,
                now_ms,
                AuditKind::Rejected,
                Some(peer.as_str()),
                format!(
                    "{peer} accepted the invitation to deal {deal} at {}, after it expired on {}: the deal is not sent",
                    audit::rfc3339(at),
                    audit::rfc3339(expires)
                ),
                json!({"deal": deal.to_string(), "invitation": invitation.to_string(),
                       "accepted_at": audit::rfc3339(at), "expired_at": audit::rfc3339(expires),
                       "reason": "invitation expired"}),
            )?;
        }
        for deal in auto_accept {
            match self.respond(deal, true, now_ms) {
                Ok(ids) => received.changed.extend(ids),
                Err(e) => tracing::warn!(deal = %deal, error = %e, "cannot accept the invitation"),
            }
        }
        for id in to_accept {
            match self.edit(id, now_ms, |doc, signer| doc.accept(signer, now_ms)) {
                Ok(()) => received.changed.push(id),
                Err(e) => tracing::warn!(deal = %id, error = %e, "cannot sign the acceptance"),
            }
        }
        let mut asked = processed;
        for d in answer_too {
            if !asked.contains(&d) {
                asked.push(d);
            }
        }
        received.reply = self.reply_for(peer, &asked)?;
        Ok(received)
    }
}

/// Whether the peer is known to hold every change of `doc`.
fn in_sync(doc: &DealDoc, state: &PeerSync) -> bool {
    let mut shared = state.shared_heads().to_vec();
    shared.sort();
    let mut heads = doc.heads();
    heads.sort();
    !heads.is_empty() && shared == heads
}
