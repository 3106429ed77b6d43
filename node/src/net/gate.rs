//! Who may stay connected: partners (and reconnecting to them), an inviter being joined, a
//! stranger on probation while an invite is on record, and the removed partners told that the
//! partnership ended (see the invariant in the module comment of `net`). Who is a partner and
//! which invites exist net reads from the store.

use super::codec::{frame, kind};
use super::event_loop::EventLoop;
use super::{
    node_id, now_ms, PeerRequest, PARTNER_ADDRS_MAX, PROBATION, RECONNECT_DELAY_MAX,
    RECONNECT_DELAY_MIN, REFUSED_GRACE,
};
use crate::store::shared;
use libp2p::swarm::dial_opts::DialOpts;
use libp2p::{Multiaddr, PeerId};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// When to dial a partner next, and the delay after that.
pub(super) struct DialState {
    next: Instant,
    delay: Duration,
}

/// The wait before the next dial: between half of `delay` and all of it, at random. Partners
/// that lost a hub at the same moment (it restarted) would otherwise redial it in lockstep,
/// all 1,000 at each doubling of the delay; spread over the window they arrive a few at a time,
/// and none waits longer than `delay`.
fn jittered(delay: Duration, rng: &mut impl rand::Rng) -> Duration {
    let half = delay / 2;
    half + Duration::from_micros(rng.gen_range(0..=half.as_micros() as u64))
}

impl EventLoop {
    /// Every tick: ends probations that ran out, retries failed rounds, dials partners that are
    /// due.
    pub(super) fn on_tick(&mut self) {
        let now = Instant::now();
        let expired: Vec<PeerId> = self
            .probation
            .iter()
            .filter(|(_, until)| **until <= now)
            .map(|(p, _)| *p)
            .collect();
        for peer in expired {
            self.probation.remove(&peer);
            if !self.partners.contains_key(&peer) {
                let _ = self.swarm.disconnect_peer_id(peer);
            }
        }
        let retry: Vec<PeerId> = self
            .retry_at
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(p, _)| *p)
            .collect();
        for peer in retry {
            self.retry_at.remove(&peer);
            self.request_round(peer, None);
        }
        let to_dial: Vec<(PeerId, Vec<Multiaddr>)> = self
            .partners
            .iter()
            .filter(|(p, addrs)| !addrs.is_empty() && !self.swarm.is_connected(p))
            .filter(|(p, _)| self.dial.get(*p).is_none_or(|d| d.next <= now))
            .map(|(p, a)| (*p, a.clone()))
            .collect();
        self.reach_tick();
        let mut rng = rand::thread_rng();
        for (peer, addrs) in to_dial {
            let state = self.dial.entry(peer).or_insert(DialState {
                next: now,
                delay: RECONNECT_DELAY_MIN,
            });
            state.next = now + jittered(state.delay, &mut rng);
            state.delay = (state.delay * 2).min(RECONNECT_DELAY_MAX);
            let _ = self
                .swarm
                .dial(DialOpts::peer_id(peer).addresses(addrs).build());
        }
    }

    /// The earliest instant a tick has work to do without a new event: a probation or a round
    /// retry running out, a partner's next dial, a relay deadline. None: nothing is pending, so
    /// an idle node (a hosted workspace with no partner online) does not wake up at all.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        let dials = self
            .partners
            .iter()
            .filter(|(p, addrs)| !addrs.is_empty() && !self.swarm.is_connected(p))
            .filter_map(|(p, _)| self.dial.get(p).map(|d| d.next));
        self.probation
            .values()
            .chain(self.retry_at.values())
            .copied()
            .chain(dials)
            .chain(self.reach_deadline())
            .min()
    }

    pub(super) fn on_partner_connected(&mut self, peer: PeerId) {
        self.dial.remove(&peer);
        self.update_gauge();
        if let Some(n) = node_id(&peer) {
            self.tell(PeerRequest::PeerReset { peer: n });
        }
        let store = self.store.clone();
        let id = peer.to_base58();
        self.spawn_blocking(move || {
            let _ = shared::touch_partner(&store, &id, now_ms(), None);
            None
        });
        self.request_round(peer, None);
    }

    fn update_gauge(&self) {
        let n = self
            .partners
            .keys()
            .filter(|p| self.swarm.is_connected(p))
            .count();
        self.gauges
            .connected_partners
            .store(n as u64, Ordering::Relaxed);
    }

    pub(super) fn on_closed(&mut self, peer: PeerId, remaining: u32) {
        if remaining > 0 || !self.partners.contains_key(&peer) {
            return;
        }
        self.rounds.remove(&peer);
        self.queued.remove(&peer);
        self.clear_outbox(&peer);
        self.gauges.set_lag(&peer, false);
        if let Some(n) = node_id(&peer) {
            self.tell(PeerRequest::PeerReset { peer: n });
        }
        self.update_gauge();
        let store = self.store.clone();
        let id = peer.to_base58();
        self.spawn_blocking(move || {
            let _ = shared::touch_partner(&store, &id, now_ms(), None);
            None
        });
    }

    /// Keeps a partner's current listen addresses, to dial it after a disconnect.
    pub(super) fn on_identified(&mut self, peer: PeerId, listen_addrs: Vec<Multiaddr>) {
        let addrs: Vec<Multiaddr> = listen_addrs.into_iter().take(PARTNER_ADDRS_MAX).collect();
        let Some(slot) = self.partners.get_mut(&peer) else {
            return;
        };
        if addrs.is_empty() {
            return;
        }
        *slot = addrs.clone();
        let store = self.store.clone();
        let id = peer.to_base58();
        let texts: Vec<String> = addrs.iter().map(|a| a.to_string()).collect();
        self.spawn_blocking(move || {
            let _ = shared::touch_partner(&store, &id, now_ms(), Some(texts));
            None
        });
    }

    /// Gating: partners stay; an inviter being joined stays; a stranger stays for
    /// [`PROBATION`] only while this node has an invite on record (open, used or expired: a
    /// joiner with a spent invite is told so by the join's answer); a removed partner is told
    /// the partnership ended and refused — unless an invite is open, which it may use to join
    /// again.
    pub(super) fn on_connection(&mut self, peer: PeerId, established: u32) {
        if self.partners.contains_key(&peer) {
            if established == 1 {
                self.on_partner_connected(peer);
            }
            return;
        }
        if self.joining.contains_key(&peer) || self.probation.contains_key(&peer) {
            return;
        }
        let open = shared::has_open_invite(&self.store, now_ms()).unwrap_or(false);
        let issued = open || shared::has_issued_invites(&self.store).unwrap_or(false);
        let removed = shared::partner(&self.store, &peer.to_base58())
            .ok()
            .flatten()
            .is_some_and(|p| !p.is_active());
        if removed {
            // A former partner learns that the partnership ended; with an open invite it may
            // join again within the probation, as a stranger would.
            if open {
                self.send_ended(peer);
                self.probation.insert(peer, Instant::now() + PROBATION);
            } else {
                tracing::info!(%peer, "refused a connection from a removed partner");
                self.gauges
                    .connections_refused
                    .fetch_add(1, Ordering::Relaxed);
                self.tell_ended(peer);
            }
        } else if issued {
            self.probation.insert(peer, Instant::now() + PROBATION);
        } else {
            tracing::info!(%peer, "refused a connection from a node that is not a partner");
            self.gauges
                .connections_refused
                .fetch_add(1, Ordering::Relaxed);
            let _ = self.swarm.disconnect_peer_id(peer);
        }
    }

    /// Stops everything this node does with `peer` as a partner (the partnership ended). A
    /// partner connected until now was last seen now (its closing connection no longer counts).
    pub(super) fn forget_partner(&mut self, peer: PeerId) {
        if self.partners.contains_key(&peer) && self.swarm.is_connected(&peer) {
            let store = self.store.clone();
            let id = peer.to_base58();
            self.spawn_blocking(move || {
                let _ = shared::touch_partner(&store, &id, now_ms(), None);
                None
            });
        }
        self.partners.remove(&peer);
        self.rounds.remove(&peer);
        self.queued.remove(&peer);
        self.dial.remove(&peer);
        self.retry_at.remove(&peer);
        self.clear_outbox(&peer);
        self.gauges.forget_lag(&peer);
        if let Some(n) = node_id(&peer) {
            self.tell(PeerRequest::PeerReset { peer: n });
        }
        self.update_gauge();
    }

    /// Tells a connected former partner that this node ended the partnership ([`kind::ENDED`]),
    /// then closes the connection after [`REFUSED_GRACE`] (at once could cut the notice off).
    pub(super) fn tell_ended(&mut self, peer: PeerId) {
        self.send_ended(peer);
        self.close_soon(peer);
    }

    fn send_ended(&mut self, peer: PeerId) {
        let _ = self
            .swarm
            .behaviour_mut()
            .rr
            .send_request(&peer, frame(kind::ENDED, &[]));
    }

    /// A peer that is no partner (a stranger whose join was refused, a former partner told the
    /// partnership ended, a non-partner refused a request) keeps its connection only until
    /// [`REFUSED_GRACE`] has passed: closing at once could cut off the answer on its way.
    pub(super) fn close_soon(&mut self, peer: PeerId) {
        let until = Instant::now() + REFUSED_GRACE;
        self.probation
            .entry(peer)
            .and_modify(|u| *u = (*u).min(until))
            .or_insert(until);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn redials_after_a_shared_failure_are_spread_and_never_later_than_the_delay() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(26);
        let delay = Duration::from_secs(8);
        let waits: Vec<Duration> = (0..1000).map(|_| jittered(delay, &mut rng)).collect();
        assert!(waits.iter().all(|w| *w >= delay / 2 && *w <= delay));
        // Spread over the window: each of its eight slices gets some of the 1,000 partners,
        // none more than a fair share and a half (in lockstep, one slice would get them all).
        let mut slices = [0usize; 8];
        for w in &waits {
            let i = ((*w - delay / 2).as_secs_f64() / (delay / 2).as_secs_f64() * 8.0) as usize;
            slices[i.min(7)] += 1;
        }
        assert!(slices.iter().all(|n| *n > 60 && *n < 190), "{slices:?}");
    }
}
