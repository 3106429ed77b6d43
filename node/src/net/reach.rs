//! The swarm task's side of NAT traversal (see [`super::nat`]): it tracks every connection's
//! kind, holds relay reservations on partners that offer relaying while this node is not known
//! to be public, closes a relayed connection once hole punching gave a direct one, and keeps
//! the operator view ([`super::NetworkView`]) current.

use super::event_loop::EventLoop;
use super::nat::{self, Links, PartnersOnly};
use super::{now_ms, BehaviourEvent};
use libp2p::core::transport::ListenerId;
use libp2p::core::ConnectedPoint;
use libp2p::swarm::{ConnectionId, DialError, SwarmEvent};
use libp2p::{autonat, dcutr, identify, ping, relay, Multiaddr, PeerId};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// Wait before a failed relay reservation is asked for again.
pub const RESERVATION_RETRY: Duration = Duration::from_secs(15);
/// How long a relayed connection stays once a direct one to the same partner stands: time for
/// what is under way on it (a join's answer, a sync batch) to finish.
pub const REDUNDANT_RELAY_GRACE: Duration = Duration::from_secs(10);

/// NAT traversal state of the swarm task.
pub(super) struct Reach {
    /// Who may use this node's relay (kept equal to the partner set).
    partners_only: PartnersOnly,
    links: Links,
    /// Per peer: the last address this node dialled it at directly (where its relay is).
    dialled: HashMap<PeerId, Multiaddr>,
    /// Partners whose identify lists the relay hop protocol.
    relay_capable: HashSet<PeerId>,
    /// Relay → the listener holding the reservation there.
    reservations: HashMap<PeerId, ListenerId>,
    /// Relay → when a failed reservation may be tried again.
    retry_at: HashMap<PeerId, Instant>,
    /// Per peer: what its last failed dial said.
    dial_errors: HashMap<PeerId, String>,
    /// Peers with a relayed connection made redundant by a direct one: check again then.
    redundant_at: HashMap<PeerId, Instant>,
    /// Partners holding a reservation on this node's relay.
    reserved_here: HashSet<PeerId>,
}

impl Reach {
    pub(super) fn new(partners_only: PartnersOnly) -> Reach {
        Reach {
            partners_only,
            links: Links::default(),
            dialled: HashMap::new(),
            relay_capable: HashSet::new(),
            reservations: HashMap::new(),
            retry_at: HashMap::new(),
            dial_errors: HashMap::new(),
            redundant_at: HashMap::new(),
            reserved_here: HashSet::new(),
        }
    }

    /// What the last failed dial of `peer` said.
    pub(super) fn dial_error(&self, peer: &PeerId) -> Option<&str> {
        self.dial_errors.get(peer).map(String::as_str)
    }
}

/// A dial error in one line: each address with the innermost cause of its failure.
fn describe(error: &DialError) -> String {
    match error {
        DialError::Transport(attempts) => attempts
            .iter()
            .map(|(addr, e)| format!("{addr}: {}", super::addrs::innermost_cause(e)))
            .collect::<Vec<_>>()
            .join("; "),
        DialError::NoAddresses => "no address to dial".into(),
        other => super::addrs::innermost_cause(other),
    }
}

impl EventLoop {
    pub(super) fn on_link_opened(
        &mut self,
        peer: PeerId,
        id: ConnectionId,
        endpoint: &ConnectedPoint,
    ) {
        let remote = endpoint.get_remote_address().clone();
        // An inbound circuit's remote address is only `/p2p/SOURCE`; its local address names
        // the relay.
        let relayed = endpoint.is_relayed();
        if endpoint.is_dialer() && !relayed {
            self.reach.dialled.insert(peer, remote.clone());
        }
        self.reach.dial_errors.remove(&peer);
        self.reach.links.opened(peer, id, remote, relayed);
        self.close_redundant_relayed(peer);
    }

    pub(super) fn on_link_closed(&mut self, peer: PeerId, id: ConnectionId) {
        self.reach.links.closed(&peer, id);
    }

    /// A direct connection stands: relayed ones to the same peer go after
    /// [`REDUNDANT_RELAY_GRACE`] (they cost the relay, and requests would be spread over both).
    fn close_redundant_relayed(&mut self, peer: PeerId) {
        if !self.reach.links.redundant_relayed(&peer).is_empty() {
            self.reach
                .redundant_at
                .entry(peer)
                .or_insert_with(|| Instant::now() + REDUNDANT_RELAY_GRACE);
        }
    }

    pub(super) fn on_identified_reach(
        &mut self,
        peer: PeerId,
        _connection: ConnectionId,
        info: &identify::Info,
    ) {
        if info.protocols.contains(&relay::HOP_PROTOCOL_NAME) {
            self.reach.relay_capable.insert(peer);
        } else {
            self.reach.relay_capable.remove(&peer);
        }
        self.gauges.view_mut().add_observed(&info.observed_addr);
        let listen: Vec<Multiaddr> = self.swarm.listeners().cloned().collect();
        self.swarm
            .behaviour_mut()
            .candidates
            .offer(&info.observed_addr, &listen);
        self.reach_tick();
    }

    /// Every tick (and after identify): the relay admits the current partners; reservations
    /// are held on connected partners that relay while this node is not known to be public and
    /// dropped on former partners; the partners' links in the view are brought up to date.
    pub(super) fn reach_tick(&mut self) {
        self.reach.partners_only.set(self.partners.keys());
        let now = Instant::now();
        let due: Vec<PeerId> = self
            .reach
            .redundant_at
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(p, _)| *p)
            .collect();
        for peer in due {
            self.reach.redundant_at.remove(&peer);
            for id in self.reach.links.redundant_relayed(&peer) {
                tracing::info!(%peer, "closing the relayed connection: a direct one stands");
                self.swarm.close_connection(id);
            }
        }
        let public = self.gauges.view_mut().is_public();
        let gone: Vec<PeerId> = self
            .reach
            .reservations
            .keys()
            .filter(|r| !self.partners.contains_key(r))
            .copied()
            .collect();
        for relay in gone {
            if let Some(listener) = self.reach.reservations.remove(&relay) {
                self.swarm.remove_listener(listener);
            }
            let id = relay.to_base58();
            self.gauges.view_mut().relays.retain(|r| r.relay != id);
        }
        let wanted: Vec<(PeerId, Multiaddr)> = self
            .reach
            .relay_capable
            .iter()
            .filter(|r| !public && self.partners.contains_key(r))
            .filter(|r| self.swarm.is_connected(r) && !self.reach.reservations.contains_key(r))
            .filter(|r| self.reach.retry_at.get(r).is_none_or(|at| *at <= now))
            .filter_map(|r| self.reach.dialled.get(r).map(|a| (*r, a.clone())))
            .collect();
        for (relay, addr) in wanted {
            let circuit = nat::circuit_listen_addr(&addr, &relay);
            match self.swarm.listen_on(circuit.clone()) {
                Ok(listener) => {
                    tracing::info!(%relay, %circuit, "asking a partner to relay for this node");
                    self.reach.reservations.insert(relay, listener);
                    let mut view = self.gauges.view_mut();
                    let id = relay.to_base58();
                    view.relays.retain(|r| r.relay != id);
                    view.relays.push(nat::RelayUse {
                        relay: id,
                        address: circuit.to_string(),
                        state: "requested".into(),
                        last_error: None,
                    });
                }
                Err(e) => {
                    self.reach.retry_at.insert(relay, now + RESERVATION_RETRY);
                    tracing::info!(%relay, error = %e, "cannot ask the partner to relay");
                }
            }
        }
        let mut view = self.gauges.view_mut();
        view.partners.retain(|id, _| {
            id.parse::<PeerId>()
                .is_ok_and(|p| self.partners.contains_key(&p))
        });
        for peer in self.partners.keys() {
            let best = self.reach.links.best(peer).map(|(k, a)| (k, a.to_string()));
            let link = view.link_mut(peer);
            match best {
                Some((kind, addr)) => {
                    link.connection = kind.as_str().into();
                    link.address = Some(addr);
                }
                None => {
                    link.connection = "offline".into();
                    link.rtt_ms = None;
                }
            }
        }
    }

    /// The earliest relay deadline a tick acts on (see [`EventLoop::next_deadline`]).
    /// A retry already due waits for its relay to be connected again, an event: it is no
    /// deadline (else an offline relay would keep the loop ticking).
    pub(super) fn reach_deadline(&self) -> Option<Instant> {
        let now = Instant::now();
        let retries = self
            .reach
            .relay_capable
            .iter()
            .filter(|r| self.partners.contains_key(r))
            .filter_map(|r| self.reach.retry_at.get(r))
            .filter(|at| **at > now);
        self.reach
            .redundant_at
            .values()
            .chain(retries)
            .min()
            .copied()
    }

    /// Swarm events about addresses, NAT status, relays, hole punching and pings.
    pub(super) fn on_reach_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!(%address, "listening for partners");
                let mut view = self.gauges.view_mut();
                let text = address.to_string();
                if !view.listen.contains(&text) {
                    view.listen.push(text);
                }
            }
            SwarmEvent::ExpiredListenAddr { address, .. } => {
                let text = address.to_string();
                self.gauges.view_mut().listen.retain(|a| *a != text);
            }
            SwarmEvent::ListenerClosed {
                listener_id,
                reason,
                addresses,
            } => {
                let mut view = self.gauges.view_mut();
                for a in addresses {
                    let text = a.to_string();
                    view.listen.retain(|l| *l != text);
                }
                let relay = self
                    .reach
                    .reservations
                    .iter()
                    .find(|(_, l)| **l == listener_id)
                    .map(|(r, _)| *r);
                if let Some(relay) = relay {
                    self.reach.reservations.remove(&relay);
                    self.reach
                        .retry_at
                        .insert(relay, Instant::now() + RESERVATION_RETRY);
                    let why = match reason {
                        Ok(()) => "the relay closed the reservation".to_string(),
                        Err(e) => super::addrs::innermost_cause(&e),
                    };
                    tracing::info!(%relay, %why, "relay reservation ended");
                    if let Some(r) = view.relay_mut(&relay) {
                        r.state = "failed".into();
                        r.last_error = Some(why);
                    }
                }
            }
            SwarmEvent::NewExternalAddrCandidate { address } => {
                self.gauges.view_mut().add_observed(&address);
            }
            SwarmEvent::ExternalAddrConfirmed { address } if nat::is_relayed(&address) => {
                // The relay client confirms its circuit addresses: shown under relays.
            }
            SwarmEvent::ExternalAddrConfirmed { address } => {
                let mut view = self.gauges.view_mut();
                let text = address.to_string();
                if !view.external.contains(&text) {
                    tracing::info!(%address, "reachable from outside at");
                    view.external.push(text);
                }
            }
            SwarmEvent::ExternalAddrExpired { address } => {
                let text = address.to_string();
                self.gauges.view_mut().external.retain(|a| *a != text);
            }
            SwarmEvent::OutgoingConnectionError {
                peer_id: Some(peer),
                error,
                ..
            } => {
                let why = describe(&error);
                tracing::debug!(%peer, %why, "dial failed");
                if self.partners.contains_key(&peer) {
                    let mut view = self.gauges.view_mut();
                    let link = view.link_mut(&peer);
                    link.last_error = Some(format!("dial failed: {why}"));
                    link.last_error_ms = Some(now_ms());
                }
                self.reach.dial_errors.insert(peer, why);
            }
            SwarmEvent::Behaviour(BehaviourEvent::Ping(ping::Event {
                peer,
                result: Ok(rtt),
                ..
            })) if self.partners.contains_key(&peer) => {
                self.gauges.view_mut().link_mut(&peer).rtt_ms =
                    Some((rtt.as_secs_f64() * 1e6).round() / 1e3);
            }
            SwarmEvent::Behaviour(BehaviourEvent::Ping(ping::Event {
                peer,
                connection,
                result: Err(e @ ping::Failure::Timeout),
            })) => {
                // A connection that stopped answering (a cut cable, a NAT that forgot the
                // mapping) is closed, so that the partner shows offline and is dialled again;
                // TCP alone would keep it for many minutes.
                tracing::info!(%peer, error = %e, "a connection stopped answering pings; closing it");
                if self.partners.contains_key(&peer) {
                    let mut view = self.gauges.view_mut();
                    let link = view.link_mut(&peer);
                    link.last_error = Some(format!("no answer to pings ({e}); reconnecting"));
                    link.last_error_ms = Some(now_ms());
                }
                self.swarm.close_connection(connection);
            }
            SwarmEvent::Behaviour(BehaviourEvent::Dcutr(dcutr::Event {
                remote_peer_id,
                result,
            })) => match result {
                Ok(id) => {
                    tracing::info!(peer = %remote_peer_id, "hole punching gave a direct connection");
                    self.reach.links.punched(&remote_peer_id, id);
                    self.close_redundant_relayed(remote_peer_id);
                }
                Err(e) => {
                    tracing::info!(peer = %remote_peer_id, error = %e, "hole punching failed; staying relayed");
                    let mut view = self.gauges.view_mut();
                    let link = view.link_mut(&remote_peer_id);
                    link.last_error = Some(format!(
                        "hole punching failed ({e}); the connection stays relayed"
                    ));
                    link.last_error_ms = Some(now_ms());
                }
            },
            SwarmEvent::Behaviour(BehaviourEvent::RelayClient(
                relay::client::Event::ReservationReqAccepted { relay_peer_id, .. },
            )) => {
                tracing::info!(relay = %relay_peer_id, "a partner relays for this node");
                if let Some(r) = self.gauges.view_mut().relay_mut(&relay_peer_id) {
                    r.state = "reserved".into();
                    r.last_error = None;
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Relay(event)) => self.on_relay_served(event),
            SwarmEvent::Behaviour(BehaviourEvent::Autonat(autonat::Event::StatusChanged {
                new,
                ..
            })) => {
                tracing::info!(status = ?new, "NAT status");
                self.gauges.view_mut().set_nat(&new);
            }
            _ => {}
        }
    }

    /// What the relay this node offers did: counts for the view, refusals in the log.
    fn on_relay_served(&mut self, event: relay::Event) {
        let mut view = self.gauges.view_mut();
        let server = &mut view.relay_server;
        match event {
            relay::Event::ReservationReqAccepted { src_peer_id, .. } => {
                self.reach.reserved_here.insert(src_peer_id);
                server.reservations = self.reach.reserved_here.len();
            }
            relay::Event::ReservationClosed { src_peer_id }
            | relay::Event::ReservationTimedOut { src_peer_id } => {
                self.reach.reserved_here.remove(&src_peer_id);
                server.reservations = self.reach.reserved_here.len();
            }
            relay::Event::ReservationReqDenied {
                src_peer_id,
                status,
            } => {
                server.denied += 1;
                tracing::info!(peer = %src_peer_id, ?status, "relay reservation refused");
            }
            relay::Event::CircuitReqDenied {
                src_peer_id,
                dst_peer_id,
                status,
            } => {
                server.denied += 1;
                tracing::info!(src = %src_peer_id, dst = %dst_peer_id, ?status, "relay circuit refused");
            }
            relay::Event::CircuitReqAccepted { .. } => server.circuits += 1,
            relay::Event::CircuitClosed { .. } => {
                server.circuits = server.circuits.saturating_sub(1);
            }
            _ => {}
        }
    }
}
