//! Sync flow control: rounds (one per partner at a time, later ones queued), the per-partner
//! outbox of requests, the requests in flight, and connection epochs.
//!
//! A round asks the domain for its messages ([`PeerRequest::Generate`]); they wait in the
//! partner's outbox and go out in requests of at most [`DOCS_PER_REQUEST_MAX`] documents and
//! at most [`SYNC_REQUESTS_IN_FLIGHT_MAX`] awaiting an answer, both further bounded by what
//! that partner's link was measured to carry (`link_budget`): requests are cut as they leave,
//! so a first sync over a slow uplink uses what its first answers taught. Each answer's
//! follow-up messages go ahead of new rounds. The round ends when its last step (a request, an
//! answer being stored, a follow-up) is done.

use super::codec::{frame, kind};
use super::event_loop::{EventLoop, Internal};
use super::wire::take_chunk;
use super::{
    node_id, PeerRequest, DOCS_PER_REQUEST_MAX, OUTBOX_DOCS_MAX, REQUEST_BYTES_SOFT_MAX,
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

    /// Queues `messages` for `peer` (ahead of the queue when they are a `follow_up`, so
    /// exchanges under way finish before new ones start) and sends what fits.
    pub(super) fn send_sync(&mut self, peer: PeerId, mut messages: Vec<DocSync>, follow_up: bool) {
        if !self.partners.contains_key(&peer) || !self.swarm.is_connected(&peer) {
            return;
        }
        let outbox = self.outbox.entry(peer).or_default();
        let queued: usize = outbox.iter().map(Vec::len).sum();
        let room = OUTBOX_DOCS_MAX.saturating_sub(queued);
        if messages.len() > room {
            // Forget what does not fit, so a later round offers it again.
            let rest = messages.split_off(room);
            tracing::warn!(%peer, "sync outbox full; the rest waits for the next round");
            if let Some(n) = node_id(&peer) {
                let deals: Vec<DealId> = rest.iter().map(|d| d.deal).collect();
                self.tell(PeerRequest::Forget { peer: n, deals });
            }
            self.retry_at
                .insert(peer, Instant::now() + SYNC_RETRY_DELAY);
        }
        if !messages.is_empty() {
            let outbox = self.outbox.entry(peer).or_default();
            if follow_up {
                outbox.push_front(messages);
            } else {
                outbox.push_back(messages);
            }
            // One step per request: a group counts one, and each request cut from it that
            // leaves some behind counts one more (`pump`).
            *self.rounds.entry(peer).or_default() += 1;
        }
        self.pump(peer);
    }

    /// Sends queued documents to `peer`, cut into requests the size its link budget allows,
    /// while fewer requests than the budget's window await an answer.
    fn pump(&mut self, peer: PeerId) {
        loop {
            let budget = self.budgets.entry(peer).or_default();
            let bytes_max = budget.request_bytes(self.request_timeout, REQUEST_BYTES_SOFT_MAX);
            let window =
                budget.window(self.request_timeout, bytes_max, SYNC_REQUESTS_IN_FLIGHT_MAX);
            let busy = self.in_flight.get(&peer).copied().unwrap_or(0);
            if busy >= window {
                return;
            }
            let Some(outbox) = self.outbox.get_mut(&peer) else {
                return;
            };
            let Some(group) = outbox.front_mut() else {
                return;
            };
            let chunk = take_chunk(group, DOCS_PER_REQUEST_MAX, bytes_max);
            if group.is_empty() {
                outbox.pop_front();
            } else {
                *self.rounds.entry(peer).or_default() += 1;
            }
            if chunk.is_empty() {
                continue;
            }
            let full = chunk.len() == DOCS_PER_REQUEST_MAX;
            let drained = outbox.is_empty();
            let bytes = frame(kind::SYNC, &WireMessage::Sync(chunk).encode());
            // Cut short by an empty outbox rather than by the budget: its answer's rate sample
            // says little about the link (`LinkBudget::answered`).
            let app_limited = drained && !full && bytes.len() < bytes_max / 2;
            self.gauges
                .sync_bytes_sent
                .fetch_add(bytes.len() as u64 + 4, Ordering::Relaxed);
            let sent = self.budgets.entry(peer).or_default().sent(
                bytes.len() + 4,
                Instant::now(),
                app_limited,
            );
            let id = self.swarm.behaviour_mut().rr.send_request(&peer, bytes);
            self.sync_requests.insert(id, (peer, sent));
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
        self.sync_requests.retain(|_, (p, _)| p != peer);
        *self.epochs.entry(*peer).or_default() += 1;
    }

    /// The current connection epoch of `peer` (see [`Internal::Send`]).
    pub(super) fn epoch(&self, peer: &PeerId) -> u64 {
        self.epochs.get(peer).copied().unwrap_or(0)
    }
}
