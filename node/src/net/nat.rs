//! Reaching partners across NATs and firewalls, and what the operator sees of it.
//!
//! - **Relay (server)**: a node with `relay = true` runs libp2p circuit relay v2 for its active
//!   partners only: a reservation or a circuit from anyone else is denied by [`PartnersOnly`],
//!   whatever the relay's other limits say; circuits are limited in number, bytes and duration
//!   ([`RelayLimits`]). Never an open relay.
//! - **Relay (client)**: a node that is not known to be publicly reachable (AutoNAT says private,
//!   or has not decided) reserves a slot on every connected partner that offers relaying (its
//!   identify lists the hop protocol), and so listens on `/…/p2p/RELAY/p2p-circuit` too; invites
//!   and identify carry those addresses.
//! - **Hole punching**: DCUtR upgrades a relayed connection to a direct one where both NATs
//!   allow it (QUIC reuses the listen port, so a cone NAT keeps a predictable mapping); the
//!   relayed connection is closed once a direct one stands.
//! - **AutoNAT** (v1, servers = connected partners) decides public/private; identify's observed
//!   addresses are the candidates it probes.
//!
//! [`NetworkView`] is what `cosell network` and `GET /api/v1/network` show: listen, external
//! and observed addresses, NAT status, relays used and offered, and per partner the connection
//! type (direct, hole-punched, relayed), address, round-trip time and last error.

use libp2p::multiaddr::Protocol;
use libp2p::swarm::ConnectionId;
use libp2p::{autonat, relay, Multiaddr, PeerId};
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Reservations a relay holds at once (for all partners together).
pub const RELAY_RESERVATIONS_MAX: usize = 128;
/// How long a reservation lasts before the client renews it.
pub const RELAY_RESERVATION_DURATION: Duration = Duration::from_secs(3600);
/// Default circuits a relay carries at once.
pub const RELAY_CIRCUITS_DEFAULT: usize = 16;
/// Default bytes one circuit may carry (each way counted together) before the relay closes it.
pub const RELAY_CIRCUIT_BYTES_DEFAULT: u64 = 1024 * 1024 * 1024;
/// Default lifetime of one circuit; the partners reconnect (through it or directly) after.
pub const RELAY_CIRCUIT_DURATION_DEFAULT: Duration = Duration::from_secs(3600);
/// Observed addresses kept for the operator view.
const OBSERVED_MAX: usize = 8;

/// The limits of the relay a node offers its partners (`relay = true`).
#[derive(Debug, Clone)]
pub struct RelayLimits {
    /// Circuits at once.
    pub max_circuits: usize,
    /// Bytes per circuit.
    pub circuit_bytes: u64,
    /// Lifetime of a circuit.
    pub circuit_duration: Duration,
}

impl Default for RelayLimits {
    fn default() -> Self {
        RelayLimits {
            max_circuits: RELAY_CIRCUITS_DEFAULT,
            circuit_bytes: RELAY_CIRCUIT_BYTES_DEFAULT,
            circuit_duration: RELAY_CIRCUIT_DURATION_DEFAULT,
        }
    }
}

/// The active partners, shared with the relay's admission check; the event loop keeps it equal
/// to its partner set.
#[derive(Clone, Default)]
pub(super) struct PartnersOnly(Arc<RwLock<HashSet<PeerId>>>);

impl PartnersOnly {
    /// Whether `peer` may reserve or open a circuit.
    fn admits(&self, peer: &PeerId) -> bool {
        self.0
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains(peer)
    }

    /// Replaces the set when it differs.
    pub(super) fn set<'a>(&self, partners: impl Iterator<Item = &'a PeerId> + Clone) {
        let same = {
            let now = self.0.read().unwrap_or_else(|p| p.into_inner());
            partners.clone().count() == now.len() && partners.clone().all(|p| now.contains(p))
        };
        if !same {
            *self.0.write().unwrap_or_else(|p| p.into_inner()) = partners.copied().collect();
        }
    }
}

/// The relay server's configuration: libp2p's own rate limits, `limits`, and partners only.
pub(super) fn relay_config(limits: &RelayLimits, partners: &PartnersOnly) -> relay::Config {
    let mut config = relay::Config {
        max_reservations: RELAY_RESERVATIONS_MAX,
        max_reservations_per_peer: 2,
        reservation_duration: RELAY_RESERVATION_DURATION,
        max_circuits: limits.max_circuits,
        max_circuits_per_peer: limits.max_circuits,
        max_circuit_duration: limits.circuit_duration,
        max_circuit_bytes: limits.circuit_bytes,
        ..relay::Config::default()
    };
    let (a, b) = (partners.clone(), partners.clone());
    config.reservation_rate_limiters.push(Box::new(
        move |peer: PeerId, _: &Multiaddr, _: Instant| a.admits(&peer),
    ));
    config.circuit_src_rate_limiters.push(Box::new(
        move |peer: PeerId, _: &Multiaddr, _: Instant| b.admits(&peer),
    ));
    config
}

/// AutoNAT settings: partners are the servers; answers come within seconds of connecting, and
/// private test ranges count (a company LAN is one).
pub(super) fn autonat_config() -> autonat::Config {
    autonat::Config {
        timeout: Duration::from_secs(15),
        boot_delay: Duration::from_secs(3),
        retry_interval: Duration::from_secs(20),
        refresh_interval: Duration::from_secs(600),
        throttle_server_period: Duration::from_secs(10),
        confidence_max: 2,
        only_global_ips: false,
        ..autonat::Config::default()
    }
}

/// How a connection to a partner runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ConnKind {
    /// Through a partner's relay.
    Relayed,
    /// Direct, after a relayed connection was upgraded by hole punching (DCUtR).
    HolePunched,
    /// Direct: one side dialled the other's address.
    Direct,
}

impl ConnKind {
    /// The word the operator view and `partner list` use.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnKind::Relayed => "relayed",
            ConnKind::HolePunched => "hole-punched",
            ConnKind::Direct => "direct",
        }
    }
}

/// Whether an address runs through a relay.
pub fn is_relayed(addr: &Multiaddr) -> bool {
    addr.iter().any(|p| matches!(p, Protocol::P2pCircuit))
}

/// Whether an address can only be reached from the same host or LAN (loopback, private,
/// link-local, CGNAT, unspecified); names (`/dns4/…`) count as public.
pub fn is_private(addr: &Multiaddr) -> bool {
    let ip = match addr.iter().next() {
        Some(Protocol::Ip4(ip)) => IpAddr::V4(ip),
        Some(Protocol::Ip6(ip)) => IpAddr::V6(ip),
        _ => return false,
    };
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || (v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64)
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

/// Whether an address is the host's loopback.
pub fn is_loopback(addr: &Multiaddr) -> bool {
    match addr.iter().next() {
        Some(Protocol::Ip4(ip)) => ip.is_loopback(),
        Some(Protocol::Ip6(ip)) => ip.is_loopback(),
        _ => false,
    }
}

/// One partner's link, as the operator view shows it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PeerLink {
    /// `direct`, `hole-punched`, `relayed`, or `offline`.
    pub connection: String,
    /// The remote address of the connection in use.
    pub address: Option<String>,
    /// Last ping round trip, in milliseconds.
    pub rtt_ms: Option<f64>,
    /// The last dial, hole-punch or relay failure, in words.
    pub last_error: Option<String>,
    /// When it happened (ms since the epoch).
    pub last_error_ms: Option<u64>,
}

/// A relay this node holds (or asked for) a reservation on.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RelayUse {
    /// The relay's node id.
    pub relay: String,
    /// The circuit address partners dial through it.
    pub address: String,
    /// `requested`, `reserved`, or `failed`.
    pub state: String,
    /// Why it failed, when it did.
    pub last_error: Option<String>,
}

/// The relay this node offers its partners.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RelayServer {
    /// `relay = true`.
    pub enabled: bool,
    /// Circuits at once.
    pub max_circuits: usize,
    /// Bytes per circuit.
    pub circuit_bytes: u64,
    /// Seconds per circuit.
    pub circuit_seconds: u64,
    /// Partners holding a reservation now.
    pub reservations: usize,
    /// Circuits open now.
    pub circuits: usize,
    /// Reservations and circuits refused so far (non-partners, limits).
    pub denied: u64,
}

/// What the node knows about its own reachability and its partners' links; see the module
/// comment. Written by the swarm task, read by the API.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NetworkView {
    /// This node's id.
    pub peer_id: String,
    /// Addresses listened on (circuit addresses included).
    pub listen: Vec<String>,
    /// Addresses known to reach this node from outside: the `external` setting and those AutoNAT
    /// confirmed.
    pub external: Vec<String>,
    /// Addresses partners saw this node connect from (identify), newest first.
    pub observed: Vec<String>,
    /// `public`, `private`, or `unknown` (AutoNAT).
    pub nat: String,
    /// The address AutoNAT confirmed, when public.
    pub nat_address: Option<String>,
    /// Relays this node uses.
    pub relays: Vec<RelayUse>,
    /// The relay this node offers.
    pub relay_server: RelayServer,
    /// Per peer id: its link.
    pub partners: BTreeMap<String, PeerLink>,
}

impl NetworkView {
    /// The view of a node just started.
    pub(super) fn new(peer: &PeerId, relay: Option<&RelayLimits>, external: &[Multiaddr]) -> Self {
        NetworkView {
            peer_id: peer.to_base58(),
            external: external.iter().map(|a| a.to_string()).collect(),
            nat: "unknown".into(),
            relay_server: RelayServer {
                enabled: relay.is_some(),
                max_circuits: relay.map_or(0, |r| r.max_circuits),
                circuit_bytes: relay.map_or(0, |r| r.circuit_bytes),
                circuit_seconds: relay.map_or(0, |r| r.circuit_duration.as_secs()),
                ..RelayServer::default()
            },
            ..NetworkView::default()
        }
    }

    /// Whether AutoNAT found this node publicly reachable.
    pub fn is_public(&self) -> bool {
        self.nat == "public"
    }

    pub(super) fn set_nat(&mut self, status: &autonat::NatStatus) {
        let (nat, addr) = match status {
            autonat::NatStatus::Public(a) => ("public", Some(a.to_string())),
            autonat::NatStatus::Private => ("private", None),
            autonat::NatStatus::Unknown => ("unknown", None),
        };
        self.nat = nat.into();
        self.nat_address = addr;
    }

    pub(super) fn add_observed(&mut self, addr: &Multiaddr) {
        let text = addr.to_string();
        self.observed.retain(|a| *a != text);
        self.observed.insert(0, text);
        self.observed.truncate(OBSERVED_MAX);
    }

    pub(super) fn relay_mut(&mut self, relay: &PeerId) -> Option<&mut RelayUse> {
        let id = relay.to_base58();
        self.relays.iter_mut().find(|r| r.relay == id)
    }

    /// The link of `peer`, made on first use.
    pub(super) fn link_mut(&mut self, peer: &PeerId) -> &mut PeerLink {
        self.partners
            .entry(peer.to_base58())
            .or_insert_with(|| PeerLink {
                connection: "offline".into(),
                ..PeerLink::default()
            })
    }

    /// The addresses to give partners (invites): `external`, then listen addresses without
    /// loopback ones (kept when they are all there is: a node on 127.0.0.1), then, unless the
    /// node is publicly reachable, its relay circuit addresses. No `/p2p/` suffix of its own.
    pub fn advertised(&self) -> Vec<String> {
        let parsed = |list: &[String]| -> Vec<Multiaddr> {
            list.iter().filter_map(|a| a.parse().ok()).collect()
        };
        let listen = parsed(&self.listen);
        let direct: Vec<&Multiaddr> = listen.iter().filter(|a| !is_relayed(a)).collect();
        let outside = direct.iter().any(|a| !is_loopback(a));
        let mut out: Vec<String> = self.external.clone();
        for a in direct {
            if outside && is_loopback(a) {
                continue;
            }
            out.push(a.to_string());
        }
        if !self.is_public() {
            // A circuit listen address ends in this node's own id: invites name it apart.
            out.extend(listen.iter().filter(|a| is_relayed(a)).map(|a| {
                let mut a = a.clone();
                if matches!(a.iter().last(), Some(Protocol::P2p(_))) {
                    a.pop();
                }
                a.to_string()
            }));
        }
        let mut seen = HashSet::new();
        out.retain(|a| seen.insert(a.clone()));
        out
    }
}

impl NetworkView {
    /// A warning for whoever makes an invite now, when no one outside this node's network can
    /// use it: every address it carries is private and none is a relay's (a node on loopback
    /// only, a local test or demo, gets none).
    pub fn invite_warning(&self) -> Option<String> {
        let addrs: Vec<Multiaddr> = self
            .advertised()
            .iter()
            .filter_map(|a| a.parse().ok())
            .collect();
        let outside = addrs.iter().any(|a| !is_loopback(a));
        let reachable = addrs.iter().any(|a| is_relayed(a) || !is_private(a));
        if !outside || reachable {
            return None;
        }
        let private: Vec<String> = addrs
            .iter()
            .filter(|a| !is_loopback(a))
            .map(|a| a.to_string())
            .collect();
        Some(format!(
            "this invite names only private addresses ({}) and no relay: only nodes on the same \
             network can join with it. Set `external` (a forwarded port or a DNS name), or first \
             become a partner of a publicly reachable node with `relay = true` (its relay \
             address then goes into invites)",
            private.join(", ")
        ))
    }
}

/// Open connections per peer and how each runs.
#[derive(Default)]
pub(super) struct Links {
    conns: BTreeMap<PeerId, Vec<(ConnectionId, ConnKind, Multiaddr)>>,
    /// Connections hole punching reported before the swarm reported them open.
    punched_early: HashSet<ConnectionId>,
}

impl Links {
    pub(super) fn opened(
        &mut self,
        peer: PeerId,
        id: ConnectionId,
        remote: Multiaddr,
        relayed: bool,
    ) {
        let list = self.conns.entry(peer).or_default();
        // A direct connection that opens while a relayed one stands is the hole punch's work
        // (DCUtR may bring up one connection per side; it reports only one of them).
        let over_relay = list.iter().any(|(_, k, _)| *k == ConnKind::Relayed);
        let kind = if relayed {
            ConnKind::Relayed
        } else if self.punched_early.remove(&id) || over_relay {
            ConnKind::HolePunched
        } else {
            ConnKind::Direct
        };
        list.push((id, kind, remote));
    }

    pub(super) fn closed(&mut self, peer: &PeerId, id: ConnectionId) {
        if let Some(list) = self.conns.get_mut(peer) {
            list.retain(|(c, _, _)| *c != id);
            if list.is_empty() {
                self.conns.remove(peer);
            }
        }
    }

    /// Marks a connection as made by hole punching.
    pub(super) fn punched(&mut self, peer: &PeerId, id: ConnectionId) {
        let known = self
            .conns
            .get_mut(peer)
            .and_then(|list| list.iter_mut().find(|(c, _, _)| *c == id));
        match known {
            Some((_, kind, _)) => *kind = ConnKind::HolePunched,
            None => {
                if self.punched_early.len() < 1024 {
                    self.punched_early.insert(id);
                }
            }
        }
    }

    /// The best connection to `peer` (direct or hole-punched before relayed).
    pub(super) fn best(&self, peer: &PeerId) -> Option<(ConnKind, &Multiaddr)> {
        self.conns
            .get(peer)?
            .iter()
            .max_by_key(|(_, kind, _)| match kind {
                ConnKind::Relayed => 0,
                _ => 1,
            })
            .map(|(_, kind, addr)| (*kind, addr))
    }

    /// The relayed connections to `peer` while a direct one is open (to close them).
    pub(super) fn redundant_relayed(&self, peer: &PeerId) -> Vec<ConnectionId> {
        let Some(list) = self.conns.get(peer) else {
            return Vec::new();
        };
        if !list.iter().any(|(_, k, _)| *k != ConnKind::Relayed) {
            return Vec::new();
        }
        list.iter()
            .filter(|(_, k, _)| *k == ConnKind::Relayed)
            .map(|(c, _, _)| *c)
            .collect()
    }
}

/// The circuit address to listen on through `relay` reached at `addr`.
pub(super) fn circuit_listen_addr(addr: &Multiaddr, relay: &PeerId) -> Multiaddr {
    let mut a = addr.clone();
    if matches!(a.iter().last(), Some(Protocol::P2p(_))) {
        a.pop();
    }
    a.with(Protocol::P2p(*relay)).with(Protocol::P2pCircuit)
}

/// Why a join could not reach the inviter at `addrs`, for the operator: `dial` is what the
/// dial said, the rest explains the usual cause (a NAT with no relay).
pub fn unreachable_inviter(addrs: &[Multiaddr], dial: Option<&str>) -> String {
    let mut why = String::from("cannot reach the inviting node");
    if let Some(d) = dial {
        why.push_str(&format!(" ({d})"));
    }
    let relayed = addrs.iter().any(is_relayed);
    let all_private = !addrs.is_empty() && addrs.iter().all(is_private);
    if addrs.is_empty() {
        why.push_str(": the invite names no address");
    } else if all_private && !relayed {
        let list: Vec<String> = addrs.iter().map(|a| a.to_string()).collect();
        why.push_str(&format!(
            ": its invite names only private addresses ({}) and no relay, so it is behind a NAT \
             or firewall that lets nothing in; it needs a public address (the `external` setting \
             with a forwarded port) or a partner that relays for it (`relay = true` on a \
             publicly reachable partner that both nodes are partners of)",
            list.join(", ")
        ));
    } else if relayed {
        why.push_str(
            ": neither its direct addresses nor its relay answered; the relay serves only its \
             own partners, so this node must be a partner of the relaying node too",
        );
    }
    why
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ma(s: &str) -> Multiaddr {
        s.parse().expect("multiaddr")
    }

    #[test]
    fn invites_drop_loopback_beside_real_addresses_and_carry_relays_only_while_not_public() {
        let relay: PeerId = libp2p::identity::Keypair::generate_ed25519()
            .public()
            .to_peer_id();
        let circuit = circuit_listen_addr(&ma("/ip4/198.18.0.11/tcp/7601"), &relay);
        let mut view = NetworkView {
            listen: vec![
                "/ip4/127.0.0.1/tcp/7601".into(),
                "/ip4/10.2.0.2/tcp/7601".into(),
                circuit.to_string(),
            ],
            external: vec!["/dns4/node.example.com/tcp/7601".into()],
            nat: "private".into(),
            ..NetworkView::default()
        };
        assert_eq!(
            view.advertised(),
            [
                "/dns4/node.example.com/tcp/7601".to_string(),
                "/ip4/10.2.0.2/tcp/7601".into(),
                circuit.to_string(),
            ]
        );
        view.nat = "public".into();
        assert_eq!(view.advertised().len(), 2);
        // A node on loopback only keeps its loopback address.
        let alone = NetworkView {
            listen: vec!["/ip4/127.0.0.1/tcp/40000".into()],
            ..NetworkView::default()
        };
        assert_eq!(alone.advertised(), ["/ip4/127.0.0.1/tcp/40000".to_string()]);
    }

    #[test]
    fn an_invite_only_private_networks_can_use_is_flagged_and_a_relay_or_loopback_is_not() {
        let mut view = NetworkView {
            listen: vec![
                "/ip4/127.0.0.1/tcp/7601".into(),
                "/ip4/10.2.0.2/tcp/7601".into(),
            ],
            nat: "private".into(),
            ..NetworkView::default()
        };
        let w = view.invite_warning().expect("warned");
        assert!(
            w.contains("/ip4/10.2.0.2/tcp/7601") && !w.contains("127.0.0.1"),
            "{w}"
        );
        view.listen.push("/ip4/198.18.0.11/tcp/7601/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN/p2p-circuit".into());
        assert_eq!(view.invite_warning(), None, "a relay address reaches it");
        view.listen.pop();
        view.external.push("/dns4/node.example.com/tcp/7601".into());
        assert_eq!(view.invite_warning(), None, "a name reaches it");
        let local = NetworkView {
            listen: vec!["/ip4/127.0.0.1/tcp/40000".into()],
            ..NetworkView::default()
        };
        assert_eq!(local.invite_warning(), None, "a loopback test node");
    }

    #[test]
    fn the_relay_admits_partners_only() {
        let partner = libp2p::identity::Keypair::generate_ed25519()
            .public()
            .to_peer_id();
        let stranger = libp2p::identity::Keypair::generate_ed25519()
            .public()
            .to_peer_id();
        let only = PartnersOnly::default();
        only.set([partner].iter());
        let mut config = relay_config(&RelayLimits::default(), &only);
        let addr = ma("/ip4/198.18.0.12/tcp/7601");
        let now = Instant::now();
        let last = config.reservation_rate_limiters.len() - 1;
        assert!(config.reservation_rate_limiters[last].try_next(partner, &addr, now));
        assert!(!config.reservation_rate_limiters[last].try_next(stranger, &addr, now));
        let last = config.circuit_src_rate_limiters.len() - 1;
        assert!(!config.circuit_src_rate_limiters[last].try_next(stranger, &addr, now));
        // A partner that leaves is refused from then on.
        only.set([].iter());
        assert!(!config.circuit_src_rate_limiters[last].try_next(partner, &addr, now));
    }

    #[test]
    fn an_unreachable_inviter_behind_nat_is_explained() {
        let why = unreachable_inviter(&[ma("/ip4/10.2.0.2/tcp/7601")], Some("timed out"));
        assert!(why.contains("only private addresses"), "{why}");
        assert!(why.contains("relay = true"), "{why}");
        let why = unreachable_inviter(&[ma("/ip4/198.18.0.9/tcp/7601")], None);
        assert_eq!(why, "cannot reach the inviting node");
    }
}

/// Hands the swarm external address candidates this node works out itself: the IP address a
/// partner saw it at combined with each of its own listen ports. A TCP connection is observed
/// at its ephemeral source port, useless to dial back; the same NAT usually maps the listen
/// port (QUIC dials from it) to the same public IP, so these candidates are what hole punching
/// (DCUtR) and AutoNAT try.
#[derive(Default)]
pub(super) struct Candidates {
    queue: std::collections::VecDeque<Multiaddr>,
    waker: Option<std::task::Waker>,
    given: HashSet<Multiaddr>,
}

/// Most candidates handed over in a node's life (they only ever come from partners' reports).
const CANDIDATES_MAX: usize = 64;

impl Candidates {
    /// Offers `observed` translated to each of `listen` (non-loopback, non-relayed listen
    /// addresses); each candidate is handed over once.
    pub(super) fn offer(&mut self, observed: &Multiaddr, listen: &[Multiaddr]) {
        if is_relayed(observed) || is_loopback(observed) {
            return;
        }
        for l in listen.iter().filter(|l| !is_relayed(l) && !is_loopback(l)) {
            let Some(candidate) = libp2p::swarm::_address_translation(l, observed) else {
                continue;
            };
            if self.given.len() < CANDIDATES_MAX && self.given.insert(candidate.clone()) {
                self.queue.push_back(candidate);
            }
        }
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }
}

impl libp2p::swarm::NetworkBehaviour for Candidates {
    type ConnectionHandler = libp2p::swarm::dummy::ConnectionHandler;
    type ToSwarm = std::convert::Infallible;

    fn handle_established_inbound_connection(
        &mut self,
        _: ConnectionId,
        _: PeerId,
        _: &Multiaddr,
        _: &Multiaddr,
    ) -> Result<libp2p::swarm::THandler<Self>, libp2p::swarm::ConnectionDenied> {
        Ok(libp2p::swarm::dummy::ConnectionHandler)
    }

    fn handle_established_outbound_connection(
        &mut self,
        _: ConnectionId,
        _: PeerId,
        _: &Multiaddr,
        _: libp2p::core::Endpoint,
        _: libp2p::core::transport::PortUse,
    ) -> Result<libp2p::swarm::THandler<Self>, libp2p::swarm::ConnectionDenied> {
        Ok(libp2p::swarm::dummy::ConnectionHandler)
    }

    fn on_swarm_event(&mut self, _: libp2p::swarm::FromSwarm) {}

    fn on_connection_handler_event(
        &mut self,
        _: PeerId,
        _: ConnectionId,
        event: libp2p::swarm::THandlerOutEvent<Self>,
    ) {
        match event {}
    }

    fn poll(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<libp2p::swarm::ToSwarm<Self::ToSwarm, libp2p::swarm::THandlerInEvent<Self>>>
    {
        match self.queue.pop_front() {
            Some(a) => std::task::Poll::Ready(libp2p::swarm::ToSwarm::NewExternalAddrCandidate(a)),
            None => {
                self.waker = Some(cx.waker().clone());
                std::task::Poll::Pending
            }
        }
    }
}
