//! Sync flow control: rounds (one per partner at a time, later ones queued), the per-partner
//! outbox of requests, the requests in flight, and connection epochs.
//!
//! A round asks the domain for its messages ([`PeerRequest::Generate`]); they go out in
//! requests of at most [`DOCS_PER_REQUEST_MAX`] documents, at most
//! [`SYNC_REQUESTS_IN_FLIGHT_MAX`] awaiting an answer per partner; each answer's follow-up
//! messages go ahead of new rounds. The round ends when its last step (a request, an answer
//! being stored, a follow-up) is done.

use super::codec::{frame, kind};
use super::event_loop::{EventLoop, Internal};
use super::wire::chunk_messages;
use super::{
    node_id, PeerRequest, DOCS_PER_REQUEST_MAX, OUTBOX_REQUESTS_MAX, REQUEST_BYTES_SOFT_MAX,
    SYNC_REQUESTS_IN_FLIGHT_MAX, SYNC_RETRY_DELAY,
};
use libp2p::PeerId;
use protocol::deal::DealId;
use protocol::wire::{DocSync, WireMessage};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::time::Instant;
use tokio::sync::oneshot;

/// Which deals a queued round covers.
#[derive(Debug)]
pub(super) enum Scope {
    All,
    Some(HashSet<DealId>),
}

impl Scope {
    fn merge(&mut self, deals: Option<&[DealId]>) {
        match (self, deals) {
            (Scope::All, _) => {}
            (s @ Scope::Some(_), None) => *s = Scope::All,
            (Scope::Some(set), Some(d)) => set.extend(d.iter().copied()),
        }
    }
    fn into_list(self) -> Option<Vec<DealId>> {
        match self {
            Scope::All => None,
            Scope::Some(s) => Some(s.into_iter().collect()),
        }
    }
}

impl EventLoop {
    /// Offers `deals` to their participants connected, except `except`: each partner's round
    /// names only the deals it takes part in. A deal the domain does not know goes to every
    /// connected partner (its rounds then offer each only what it takes part in).
    pub(super) fn push(&mut self, deals: &[DealId], except: Option<PeerId>) {
        let mut per_peer: HashMap<PeerId, Vec<DealId>> = HashMap::new();
        let mut unknown: Vec<DealId> = Vec::new();
        for deal in deals {
            match self.participants.of(deal) {
                Some(nodes) => {
                    for node in nodes {
                        if let Ok(peer) = node.as_str().parse::<PeerId>() {
                            per_peer.entry(peer).or_default().push(*deal);
                        }
                    }
                }
                None => unknown.push(*deal),
            }
        }
        if !unknown.is_empty() {
            for peer in self.partners.keys() {
                per_peer.entry(*peer).or_default().extend(&unknown);
            }
        }
        for (peer, list) in per_peer {
            if Some(peer) == except || !self.partners.contains_key(&peer) {
                continue;
            }
            self.request_round(peer, Some(&list));
        }
    }

    /// Starts a sync round with `peer`, or queues it when one is under way.
    pub(super) fn request_round(&mut self, peer: PeerId, deals: Option<&[DealId]>) {
        if !self.partners.contains_key(&peer) || !self.swarm.is_connected(&peer) {
            return;
        }
        if self.rounds.get(&peer).copied().unwrap_or(0) > 0 {
            self.queued
                .entry(peer)
                .or_insert_with(|| Scope::Some(HashSet::new()))
                .merge(deals);
            return;
        }
        self.start_round(peer, deals.map(<[DealId]>::to_vec));
    }

    fn start_round(&mut self, peer: PeerId, deals: Option<Vec<DealId>>) {
        let Some(node) = node_id(&peer) else { return };
        self.gauges.set_lag(&peer, false);
        *self.rounds.entry(peer).or_default() += 1;
        let epoch = self.epoch(&peer);
        let (reply, answer) = oneshot::channel();
        let generate = PeerRequest::Generate {
            peer: node,
            deals,
            reply,
        };
        self.ask(generate, answer, move |messages| {
            // No answer (the domain failed): an empty step, which ends the round.
            vec![Internal::Send {
                peer,
                epoch,
                messages: messages.unwrap_or_default(),
                follow_up: false,
            }]
        });
    }

    /// One step of a round finished; start a queued round when the last one did.
    pub(super) fn step_done(&mut self, peer: PeerId) {
        let left = {
            let n = self.rounds.entry(peer).or_default();
            *n = n.saturating_sub(1);
            *n
        };
        if left == 0 {
            self.rounds.remove(&peer);
            match self.queued.remove(&peer) {
                Some(scope) => self.start_round(peer, scope.into_list()),
                None if self.swarm.is_connected(&peer) && !self.retry_at.contains_key(&peer) => {
                    self.gauges.set_lag(&peer, true)
                }
                None => {}
            }
        }
    }

    /// Queues `messages` for `peer` in requests (ahead of the queue when they are a
    /// `follow_up`, so exchanges under way finish before new ones start) and sends what fits.
    pub(super) fn send_sync(&mut self, peer: PeerId, messages: Vec<DocSync>, follow_up: bool) {
        if !self.partners.contains_key(&peer) || !self.swarm.is_connected(&peer) {
            return;
        }
        let chunks = chunk_messages(messages, DOCS_PER_REQUEST_MAX, REQUEST_BYTES_SOFT_MAX);
        let mut front = 0;
        for chunk in chunks {
            let outbox = self.outbox.entry(peer).or_default();
            if outbox.len() >= OUTBOX_REQUESTS_MAX {
                // Forget what was not sent, so a later round offers it again.
                tracing::warn!(%peer, "sync outbox full; the rest waits for the next round");
                if let Some(n) = node_id(&peer) {
                    let deals: Vec<DealId> = chunk.iter().map(|d| d.deal).collect();
                    self.tell(PeerRequest::Forget { peer: n, deals });
                }
                self.retry_at
                    .insert(peer, Instant::now() + SYNC_RETRY_DELAY);
                continue;
            }
            let bytes = frame(kind::SYNC, &WireMessage::Sync(chunk).encode());
            if follow_up {
                outbox.insert(front, bytes);
                front += 1;
            } else {
                outbox.push_back(bytes);
            }
            *self.rounds.entry(peer).or_default() += 1;
        }
        self.pump(peer);
    }

    /// Sends queued sync requests to `peer` while fewer than [`SYNC_REQUESTS_IN_FLIGHT_MAX`]
    /// are awaiting an answer.
    fn pump(&mut self, peer: PeerId) {
        loop {
            let busy = self.in_flight.get(&peer).copied().unwrap_or(0);
            if busy >= SYNC_REQUESTS_IN_FLIGHT_MAX {
                return;
            }
            let Some(bytes) = self.outbox.get_mut(&peer).and_then(|o| o.pop_front()) else {
                return;
            };
            self.gauges
                .sync_bytes_sent
                .fetch_add(bytes.len() as u64 + 4, Ordering::Relaxed);
            let id = self.swarm.behaviour_mut().rr.send_request(&peer, bytes);
            self.sync_requests.insert(id, peer);
            *self.in_flight.entry(peer).or_default() += 1;
        }
    }

    /// A sync request to `peer` was answered or failed: free its slot.
    pub(super) fn request_done(&mut self, peer: PeerId) {
        if let Some(n) = self.in_flight.get_mut(&peer) {
            *n = n.saturating_sub(1);
        }
        self.pump(peer);
    }

    /// Drops what is queued for a partner that went away, and everything under way with it:
    /// answers to its requests that still arrive, and steps being prepared, belong to an
    /// earlier connection and are ignored (the deal engine forgets its sync state with the
    /// peer too, so nothing is lost: the next connection starts from the persisted state).
    pub(super) fn clear_outbox(&mut self, peer: &PeerId) {
        self.outbox.remove(peer);
        self.in_flight.remove(peer);
        self.sync_requests.retain(|_, p| p != peer);
        *self.epochs.entry(*peer).or_default() += 1;
    }

    /// The current connection epoch of `peer` (see [`Internal::Send`]).
    pub(super) fn epoch(&self, peer: &PeerId) -> u64 {
        self.epochs.get(peer).copied().unwrap_or(0)
    }
}
