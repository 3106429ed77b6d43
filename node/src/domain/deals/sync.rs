//! The node's side of sync: which documents to offer a peer (only those it participates in and
//! may hold, ARCHITECTURE.md invariant 3), and what to do with what it sends (verified, then
//! durable before the answer, invariant 4).

use super::invitations::late_acceptance;
use super::{put_change, Deals, DocKind, Inner, Received};
use super::{
    AUDITED_REJECTIONS_PER_MESSAGE_MAX, UNKNOWN_DEALS_PER_PEER_MAX, UNKNOWN_DEAL_TTL_MS,
    UNKNOWN_PENDING_BYTES_MAX, UNKNOWN_PENDING_BYTES_PER_PEER_MAX,
};
use crate::domain::audit::{self, AuditKind};
use crate::store::shared::{self, DealMeta};
use anyhow::{Context, Result};
use automerge::ChangeHash;
use protocol::deal::{DealDoc, DealId, ParticipantStatus, VerifiedChange};
use protocol::identity::NodeId;
use protocol::sync::{receive_batch_parallel, PeerSync};
use protocol::wire::DocSync;
use serde_json::json;
use std::collections::HashSet;
use std::sync::atomic::Ordering;

impl Deals {
    /// Forgets the in-memory sync state with a peer for some deals (their messages were not
    /// sent), so the next round offers them again.
    pub fn forget(&self, peer: &NodeId, deals: &[DealId]) {
        let mut inner = self.lock();
        for id in deals {
            inner.peers.remove(peer, id);
        }
    }

    /// Forgets the in-memory sync state with a peer (after a disconnect or a failed request), so
    /// the next exchange starts from the persisted shared heads.
    pub fn reset_peer(&self, peer: &NodeId) {
        self.lock().peers.remove_peer(peer);
    }

    /// Messages for `peer` about `only` these deals (or all), each a document it participates in.
    /// A round over all deals (a connect, a retry) leaves out the deals whose heads the peer is
    /// known to hold (the persisted shared heads): a reconnect costs what changed, not the store.
    pub fn generate(&self, peer: &NodeId, only: Option<&[DealId]>) -> Result<Vec<DocSync>> {
        // All: the documents the peer takes part in (the index), not every document held.
        let ids: Vec<DealId> = match only {
            Some(list) => list.to_vec(),
            None => self.participation.documents_of(peer),
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
            if let (Some(doc), Some(state)) = (docs.get(&id), peers.get_mut(peer, &id)) {
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
        let status = info.statuses.get(peer);
        // A section proves the writer holds the deal only if it may hold it: an invitee that
        // has not accepted (or declined, or let its invitation expire) could write one blindly
        // (issue 19, low).
        let unanswered = matches!(
            status,
            Some(
                ParticipantStatus::Invited
                    | ParticipantStatus::Declined
                    | ParticipantStatus::Expired
            )
        );
        match info.kind {
            DocKind::Deal => {
                info.origin.as_ref() == Some(peer)
                    || status == Some(&ParticipantStatus::Accepted)
                    || (info.writers.contains(peer) && !unanswered)
                    || inner.accepted_invites.contains(&(*id, peer.clone()))
            }
            DocKind::Invitation { .. } | DocKind::Registration | DocKind::Declared(_) => true,
        }
    }

    /// Makes sure the in-memory sync state for (peer, deal) exists, loading it from redb.
    fn peer_state(&self, inner: &mut Inner, peer: &NodeId, id: DealId) -> Result<()> {
        if inner.peers.contains(peer, &id) {
            return Ok(());
        }
        let state = match shared::sync_state(&self.store, &id.to_string(), peer.as_str())? {
            Some(bytes) => PeerSync::decode(&bytes).unwrap_or_default(),
            None => PeerSync::new(),
        };
        inner.peers.insert(peer, id, state);
        Ok(())
    }

    /// Handles one peer's sync messages: verifies and applies, persists, audits rejections, and
    /// answers. Durable before it returns (the caller then acknowledges).
    ///
    /// The engine's lock is held only to copy the documents the message is about and, at the
    /// end, to store the outcome and put the copies in place: parsing, signature checks,
    /// authorization and Automerge's apply (the work a hostile message can make expensive) run
    /// without it, so one peer's message never stalls other calls or other peers' syncs. The
    /// documents stay in the engine's map throughout, so an error or a panic on the way loses
    /// none of them (issue 19, findings 1 and 3).
    pub fn receive(&self, peer: &NodeId, messages: Vec<DocSync>, now_ms: u64) -> Result<Received> {
        let mut refused: Vec<(Option<DealId>, String)> = Vec::new();
        let mut work = self.take_copies(peer, messages, now_ms, &mut refused)?;
        let processed: Vec<DealId> = work.iter().map(|w| w.doc.id()).collect();
        // Deals are independent documents: verify, authorize and apply them on every core
        // (the outcome is the same as on one thread, in the same order).
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let outcomes = receive_batch_parallel(
            work.iter_mut()
                .map(|w| (&mut w.doc, &mut w.state, w.message.clone()))
                .collect(),
            threads,
        );
        self.inject_fault()?;
        let mut inner = self.lock();
        let mut received = Received::default();
        let mut txn = self.store.write()?;
        let mut wrote_records = false;
        let mut audited = 0usize;
        let mut rejected_total = refused.len();
        let mut put_back: Vec<(Copy, Vec<VerifiedChange>)> = Vec::new();
        for (copy, outcome) in work.into_iter().zip(outcomes) {
            let id = copy.doc.id();
            let mut keep = true;
            if copy.doc.is_initialized() && !copy.doc.is_participant(&self.me) {
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
                // The empty replica made for it goes again.
                if inner.docs.get(&id).is_some_and(|d| !d.is_initialized()) {
                    inner.docs.remove(&id);
                    inner.unknown.remove(&id);
                }
                continue;
            }
            if !copy.doc.is_initialized() && copy.doc.pending_bytes() > 0 {
                let (mine, all) = unknown_pending(&inner, peer, id);
                let bytes = copy.doc.pending_bytes();
                if mine + bytes > UNKNOWN_PENDING_BYTES_PER_PEER_MAX
                    || all + bytes > UNKNOWN_PENDING_BYTES_MAX
                {
                    let mut copy = copy;
                    copy.doc.drop_pending();
                    refused.push((
                        Some(id),
                        "too many changes of unknown deals waiting for their dependencies".into(),
                    ));
                    rejected_total += 1;
                    put_back.push((copy, Vec::new()));
                    continue;
                }
            }
            // A document deleted here while the message was verified is not brought back.
            if !inner.docs.contains_key(&id) {
                continue;
            }
            if copy.doc.is_initialized() {
                if !copy.was_initialized || !outcome.applied.is_empty() {
                    wrote_records = true;
                    if !copy.was_initialized {
                        shared::put_deal_meta_in(
                            &txn,
                            &DealMeta {
                                id: id.to_string(),
                                opportunity_id: None,
                                stored_ms: now_ms,
                                redacted: Vec::new(),
                            },
                        )?;
                    }
                    for change in &outcome.applied {
                        put_change(&txn, id, change)?;
                    }
                }
                shared::put_sync_state_in(
                    &txn,
                    &id.to_string(),
                    peer.as_str(),
                    &copy.state.encode(),
                )?;
            }
            if !outcome.applied.is_empty() {
                self.counters
                    .changes_received
                    .fetch_add(outcome.applied.len() as u64, Ordering::Relaxed);
                received.changed.push(id);
            }
            put_back.push((copy, outcome.applied));
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
        for (copy, applied) in put_back {
            copy.put_back(&mut inner, peer, applied);
        }
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

/// A copy of one document a message is about, verified and applied without the engine's lock.
struct Copy {
    doc: DealDoc,
    state: PeerSync,
    message: DocSync,
    was_initialized: bool,
    /// The document's heads and waiting changes when it was copied: if the held document still
    /// has them, the copy replaces it.
    heads: Vec<ChangeHash>,
    pending: usize,
}

impl Copy {
    /// Puts the copy in place of the held document, or, if the held one changed meanwhile (an
    /// edit here, another peer's message), adds the changes the copy accepted to it: they are
    /// already stored, and verifying them again costs only what honest changes cost.
    fn put_back(self, inner: &mut Inner, peer: &NodeId, applied: Vec<VerifiedChange>) {
        let id = self.doc.id();
        let Some(held) = inner.docs.get_mut(&id) else {
            return;
        };
        if held.heads() == self.heads && held.pending_len() == self.pending {
            *held = self.doc;
        } else if !applied.is_empty() {
            let outcome = held.ingest(applied.into_iter().map(|c| c.envelope().clone()).collect());
            if !outcome.rejected.is_empty() {
                tracing::warn!(deal = %id, rejected = outcome.rejected.len(), "changes accepted on a copy were refused on the held document");
            }
        }
        inner.peers.insert(peer, id, self.state);
        if inner.docs.get(&id).is_some_and(|d| d.is_initialized()) {
            inner.unknown.remove(&id);
        }
    }
}

/// Drops the replicas of unknown deals whose genesis did not come within
/// [`UNKNOWN_DEAL_TTL_MS`] (and the changes waiting in them), and forgets those that arrived.
fn expire_unknown(inner: &mut Inner, now_ms: u64) {
    let Inner {
        docs,
        unknown,
        peers,
        ..
    } = inner;
    let mut expired = Vec::new();
    unknown.retain(|id, (_, since)| match docs.get(id) {
        Some(doc) if !doc.is_initialized() => {
            let keep = now_ms < since.saturating_add(UNKNOWN_DEAL_TTL_MS);
            if !keep {
                expired.push(*id);
            }
            keep
        }
        _ => false,
    });
    if expired.is_empty() {
        return;
    }
    for id in &expired {
        docs.remove(id);
    }
    let expired: HashSet<DealId> = expired.into_iter().collect();
    peers.retain_documents(|id| !expired.contains(id));
}

/// Bytes waiting in the replicas of unknown deals: those `peer` made and all of them, without
/// deal `except` (the one being judged).
fn unknown_pending(inner: &Inner, peer: &NodeId, except: DealId) -> (usize, usize) {
    let (mut mine, mut all) = (0, 0);
    for (id, (by, _)) in &inner.unknown {
        if *id == except {
            continue;
        }
        let bytes = inner.docs.get(id).map_or(0, DealDoc::pending_bytes);
        all += bytes;
        if by == peer {
            mine += bytes;
        }
    }
    (mine, all)
}

impl Deals {
    /// Checks each message against what is held and copies the documents (and sync states) it
    /// may change; a deal not held yet gets an empty replica in the map, so its budget counts
    /// it. Refusals go to `refused`.
    fn take_copies(
        &self,
        peer: &NodeId,
        messages: Vec<DocSync>,
        now_ms: u64,
        refused: &mut Vec<(Option<DealId>, String)>,
    ) -> Result<Vec<Copy>> {
        let mut inner = self.lock();
        expire_unknown(&mut inner, now_ms);
        let mut copies: Vec<Copy> = Vec::new();
        let mut unknown = inner.unknown.values().filter(|(p, _)| p == peer).count();
        for message in messages {
            let id = message.deal;
            if copies.iter().any(|c| c.doc.id() == id) {
                refused.push((Some(id), "the same deal twice in one message".into()));
                continue;
            }
            if let Some(doc) = inner.docs.get(&id) {
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
            } else if unknown >= UNKNOWN_DEALS_PER_PEER_MAX {
                refused.push((
                    Some(id),
                    format!("too many unknown deals from this peer (at most {UNKNOWN_DEALS_PER_PEER_MAX} wait for their first change)"),
                ));
                continue;
            } else {
                unknown += 1;
                inner.docs.insert(id, DealDoc::replica(id));
                inner.unknown.insert(id, (peer.clone(), now_ms));
            }
            self.peer_state(&mut inner, peer, id)?;
            let state = inner.peers.get(peer, &id).cloned().unwrap_or_default();
            let doc = inner.docs[&id].clone();
            copies.push(Copy {
                was_initialized: doc.is_initialized(),
                heads: doc.heads(),
                pending: doc.pending_len(),
                doc,
                state,
                message,
            });
        }
        Ok(copies)
    }

    /// Fails as a test asked (see `Deals::fault`); nothing outside tests.
    fn inject_fault(&self) -> Result<()> {
        #[cfg(test)]
        match self.fault.lock().unwrap_or_else(|p| p.into_inner()).take() {
            Some(super::Fault::Error) => anyhow::bail!("injected failure"),
            Some(super::Fault::Panic) => panic!("injected panic"),
            None => {}
        }
        Ok(())
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
