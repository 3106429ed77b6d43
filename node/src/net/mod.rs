//! Partner connections over libp2p (TCP + Noise + Yamux, and QUIC v1 with libp2p's TLS 1.3
//! handshake, DNS names resolved at each dial; identify, ping, the co-sell request-response
//! protocol in [`codec`], and for partners behind NATs circuit relay v2, DCUtR hole punching
//! and AutoNAT, see [`nat`]).
//!
//! Both transports authenticate the node key (Noise on TCP, the libp2p certificate extension on
//! QUIC), so a `PeerId` seen here is the key the peer proved, whichever transport carried it.
//! A node listens on what `p2p` names (`/ip4/…/tcp/…` and `/ip4/…/udp/…/quic-v1`); invites and
//! identify carry every listen address, and a dial tries all of a partner's addresses at once.
//!
//! One task (the event loop) owns the `Swarm`; the rest of the node holds a cloneable
//! [`NetHandle`] that sends [`Command`]s over a bounded channel, with a oneshot for replies.
//!
//! Net never names the deal engine or the partnership code: what only they can decide or store
//! (a sync exchange, a round's messages, a join, an ended partnership, a refused message) goes up
//! as a [`PeerRequest`] over a bounded channel to the domain's peers service, which answers on a
//! oneshot where net waits for an answer; account-mapping requests go up the same way to the
//! mapping service ([`MapInbound`]). Who may connect net reads from the store itself (partners,
//! invites). Answers come back to the loop over a second bounded channel, as do reports of the
//! store work net runs on blocking threads.
//!
//! Invariant: only active partners stay connected. A stranger's connection is kept for
//! [`PROBATION`] only while this node has an invite on record (open, or used or expired so that
//! a late joiner learns why it cannot join), and only a join request is served in that time; a
//! refused join is answered with its reason and the connection then closed; anything else is
//! closed at once (ARCHITECTURE.md invariant 3).
//! Invariant: at most one sync round per partner is being generated or awaited at a time; local
//! and relayed changes that arrive meanwhile are queued and sent when the round ends.
//!
//! Files: this one holds the API ([`NetHandle`], [`PeerRequest`], [`start`]); `event_loop` the
//! swarm task and its dispatch of requests and answers; `sync_flow` rounds, the outbox and
//! requests in flight; `gate` who may connect (partners, joiners, probation) and reconnects;
//! [`wire`] the join messages and request sizing; `addrs` listen and dial addresses; [`nat`]
//! the relay offered to partners, AutoNAT, connection kinds and the operator's
//! [`NetworkView`]; `reach` the loop's side of them (reservations, hole punching, pings).

mod addrs;
pub mod codec;
mod event_loop;
mod gate;
mod link_budget;
pub mod nat;
mod reach;
mod sync_flow;
pub mod testing;
pub mod wire;

pub use addrs::{dial_addr, listen_addr, parse_addrs};
pub use nat::{NetworkView, RelayLimits};
pub use wire::{JoinAnswer, JoinRequest};

use crate::store::shared;
use crate::store::Store;
use anyhow::{anyhow, Context, Result};
pub use codec::WireBytes;
use codec::{FrameCodec, PROTOCOL, PROTOCOL_COMPRESSED};
pub use codec::{Refusal, RefusalCode};
use event_loop::EventLoop;
use libp2p::futures::StreamExt;
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{
    autonat, dcutr, identify, identity, noise, ping, relay, tcp, yamux, Multiaddr, PeerId,
};
use protocol::deal::DealId;
use protocol::identity::NodeId;
use protocol::wire::DocSync;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// Commands queued for the swarm task.
pub const COMMAND_QUEUE_MAX: usize = 256;
/// Reports queued for the swarm task: the domain's answers to [`PeerRequest`]s and the results
/// of net's own blocking store work.
pub const INTERNAL_QUEUE_MAX: usize = 1024;
/// [`PeerRequest`]s queued for the domain's peers service. The service only hands each request
/// to a blocking thread (or does a few microseconds of bookkeeping), so the queue stays short;
/// the room is for bursts (a reconnect of many partners, partners' requests in flight) so that
/// the event loop never waits. Should it fill (the service stalled), the loop keeps what the
/// event at hand asked, in order, and handles nothing else until the service took it: no
/// request is dropped (a lost reset or answer would stall a round).
pub const PEER_REQUEST_QUEUE_MAX: usize = 256;
/// How long a stranger may stay connected to present an invite.
pub const PROBATION: Duration = Duration::from_secs(10);
/// How long a stranger whose join was refused stays connected: time for the answer to reach
/// it (it closes the connection itself on reading it).
pub const REFUSED_GRACE: Duration = Duration::from_secs(1);
/// First reconnect delay; doubles per failure up to [`RECONNECT_DELAY_MAX`].
pub const RECONNECT_DELAY_MIN: Duration = Duration::from_millis(500);
/// Longest reconnect delay.
pub const RECONNECT_DELAY_MAX: Duration = Duration::from_secs(30);
/// Delay before a failed sync round is tried again.
pub const SYNC_RETRY_DELAY: Duration = Duration::from_secs(2);
/// Timeout of one request, by default (a sync request is sized to a share of it from the
/// partner's measured delivery rate: `link_budget`).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Most documents in one sync request.
pub const DOCS_PER_REQUEST_MAX: usize = 256;
/// Sync requests awaiting an answer per partner; the rest wait in an outbox. Bounds what a
/// round puts on the partner at once: a first sync of 10,000 deals sent in one go named more
/// unknown deals than the partner holds replicas for (the deal engine's
/// `UNKNOWN_DEALS_PER_PEER_MAX`; the domain's peers service checks the product at compile time),
/// and the ones it refused were never offered again in that connection.
pub const SYNC_REQUESTS_IN_FLIGHT_MAX: usize = 4;
/// Documents queued per partner beyond those in flight (a round of 100k deals is 100k).
pub const OUTBOX_DOCS_MAX: usize = 4096 * DOCS_PER_REQUEST_MAX;
/// Bytes of documents in one sync request before it is cut (well under the wire limit).
pub const REQUEST_BYTES_SOFT_MAX: usize = 2 * 1024 * 1024;
/// Largest reply to a sync request (the wire limit with headroom for framing).
pub const REPLY_BYTES_MAX: usize = protocol::limits::WIRE_MESSAGE_BYTES_MAX - 64 * 1024;
/// Addresses kept per partner.
pub const PARTNER_ADDRS_MAX: usize = 16;

/// How often a connected partner is pinged (its round-trip time in the operator view).
pub const PING_INTERVAL: Duration = Duration::from_secs(10);
/// How long one dial (all of a peer's addresses together) may take: an address behind a NAT
/// that drops the packets fails in this time instead of TCP's two minutes.
pub const DIAL_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(NetworkBehaviour)]
struct Behaviour {
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    rr: request_response::Behaviour<FrameCodec>,
    /// The relay offered to partners (`relay = true`), see [`nat`].
    relay: Toggle<relay::Behaviour>,
    relay_client: relay::client::Behaviour,
    dcutr: dcutr::Behaviour,
    autonat: autonat::Behaviour,
    /// External address candidates worked out from what partners observed (see `nat`).
    candidates: nat::Candidates,
}

/// What the rest of the node asks the swarm task to do.
pub enum Command {
    /// Dial an inviter and present a join request.
    Join {
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        request: JoinRequest,
        reply: oneshot::Sender<Result<JoinAnswer, String>>,
    },
    /// A partnership was removed: disconnect and refuse from now on.
    PartnerRemoved { peer: PeerId },
    /// These deals changed locally: offer them to connected participants.
    Sync { deals: Vec<DealId> },
    /// The connected partners.
    Connected {
        reply: oneshot::Sender<HashSet<PeerId>>,
    },
    /// Send one account-mapping request (kind [`codec::kind::MAP`]) to an active partner.
    Map {
        peer: PeerId,
        body: Vec<u8>,
        reply: oneshot::Sender<Result<Vec<u8>, Refusal>>,
    },
    /// Stop: close every connection and listener and end the network task (a hosted workspace
    /// suspended, deleted or moved out).
    Stop,
}

/// What net asks of the domain (the deal engine and the partnership records), in the order
/// things happened on the network. Requests with a `reply` are waited for; the others are
/// notices. The domain's peers service takes them from the receiver [`start`] returns.
///
/// Invariants the answers keep: a sync request is answered only once what it carried is stored
/// (durable before answering); a round's messages ([`PeerRequest::Generate`]) are the only ones
/// offered to that partner until the round ends.
pub enum PeerRequest {
    /// A partner's sync request (the frame body after the kind byte): store what it carries,
    /// then answer with the response frame (kind `SYNC`, or `REFUSED` with why).
    Sync {
        peer: NodeId,
        body: Vec<u8>,
        reply: oneshot::Sender<SyncServed>,
    },
    /// A partner's answer to one of this node's sync requests (the whole frame body, kind byte
    /// first): store what it carries; the reply holds the messages that follow up on it.
    Answer {
        peer: NodeId,
        response: Vec<u8>,
        reply: oneshot::Sender<SyncFollowUp>,
    },
    /// A sync round with `peer` starts: the messages to offer it about these deals (`None`: all
    /// deals). An empty reply ends the round.
    Generate {
        peer: NodeId,
        deals: Option<Vec<DealId>>,
        reply: oneshot::Sender<Vec<DocSync>>,
    },
    /// Messages prepared for `peer` about these deals were not sent: forget that they were, so
    /// a later round offers them again.
    Forget { peer: NodeId, deals: Vec<DealId> },
    /// The sync state with `peer` starts over from what is stored (it connected or went away,
    /// a request to it failed, or the partnership ended).
    PeerReset { peer: NodeId },
    /// A peer presented a join request (the frame body after the kind byte); `joiner` is the
    /// id its connection authenticated.
    Join {
        joiner: PeerId,
        /// The address the joiner's connection came from (joins are limited and audited per
        /// address), when known.
        from: Option<std::net::IpAddr>,
        body: Vec<u8>,
        reply: oneshot::Sender<JoinDecision>,
    },
    /// A join was accepted and `peer` is a partner now, connected.
    Joined { peer: PeerId, name: String },
    /// `peer` says it ended the partnership: record that. The reply is the partner's name, or
    /// `None` when it was no active partner (nothing ended).
    PartnerEnded {
        peer: PeerId,
        reply: oneshot::Sender<Option<String>>,
    },
    /// The partnership `peer` ended (see [`PeerRequest::PartnerEnded`]) is over here too: net
    /// forgot the partner and closes its connection.
    Left { peer: PeerId, name: String },
    /// A partner's message was refused for `why`: count it (the refusal is answered once
    /// `counted` is) and log it in the audit.
    Rejected {
        peer: PeerId,
        why: String,
        counted: oneshot::Sender<()>,
    },
}

/// The answer to [`PeerRequest::Sync`].
#[derive(Debug, Default)]
pub struct SyncServed {
    /// The response frame body (kind byte first).
    pub response: Vec<u8>,
    /// Deals that changed: relayed to the other participants connected.
    pub changed: Vec<DealId>,
    /// Deals this node changed itself in answer (an erasure request applied): offered to every
    /// participant, the sender too.
    pub written: Vec<DealId>,
}

/// The answer to [`PeerRequest::Answer`].
#[derive(Debug, Default)]
pub struct SyncFollowUp {
    /// Messages to send the partner next (ahead of new rounds).
    pub messages: Vec<DocSync>,
    /// Deals that changed: relayed to the other participants connected.
    pub changed: Vec<DealId>,
    /// Deals this node changed itself in answer: offered to every participant.
    pub written: Vec<DealId>,
}

/// The answer to [`PeerRequest::Join`].
#[derive(Debug)]
pub enum JoinDecision {
    /// The body is no join request this node reads: refused (kind `REFUSED`) with this sentence,
    /// and nothing else happens.
    Unreadable(String),
    /// The joiner is a partner now, named so and dialled at these addresses.
    Accepted {
        name: String,
        addrs: Vec<Multiaddr>,
        answer: JoinAnswer,
    },
    /// The join was refused; the answer says why.
    Refused { answer: JoinAnswer },
}

/// Account-mapping requests queued for the mapping service. When the queue is full a partner's
/// request is refused as busy (it may ask again), unlike a [`PeerRequest`].
pub const MAP_INBOUND_QUEUE_MAX: usize = 64;

/// An account-mapping request from an active partner, for the mapping service: answer with the
/// response body, or a refusal sentence.
pub struct MapInbound {
    /// The partner.
    pub peer: NodeId,
    /// The request body (after the kind byte).
    pub body: Vec<u8>,
    /// Where the answer goes.
    pub reply: oneshot::Sender<Result<Vec<u8>, Refusal>>,
}

/// Who takes part in which deal, as the domain knows it (net never names the deal engine): a
/// changed deal is offered only to the partners that take part in it, so a change to one deal
/// on a hub of 1,000 partners starts one sync round, not 1,000. It must answer at once (the
/// swarm task calls it) and never leave out a participant.
pub trait Participants: Send + Sync {
    /// The participants of `deal` (this node among them, maybe), or `None` when the domain does
    /// not know the deal: then every connected partner is offered it, and the domain's round
    /// for each sends only what that partner takes part in.
    fn of(&self, deal: &DealId) -> Option<Vec<NodeId>>;
}

/// No index: every changed deal goes to every connected partner.
struct NoIndex;

impl Participants for NoIndex {
    fn of(&self, _deal: &DealId) -> Option<Vec<NodeId>> {
        None
    }
}

/// A cloneable way to talk to the swarm task.
#[derive(Clone)]
pub struct NetHandle {
    commands: mpsc::Sender<Command>,
}

impl NetHandle {
    async fn send(&self, command: Command) -> Result<()> {
        self.commands
            .send(command)
            .await
            .map_err(|_| anyhow!("the network task has stopped"))
    }

    /// Presents a join request to an inviter; the answer says whether it was accepted.
    pub async fn join(
        &self,
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        request: JoinRequest,
    ) -> Result<Result<JoinAnswer, String>> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Join {
            peer,
            addrs,
            request,
            reply,
        })
        .await?;
        answer
            .await
            .map_err(|_| anyhow!("the network task dropped the join"))
    }

    /// Stops the network: listeners and connections close, the task ends. Later calls fail.
    pub async fn stop(&self) {
        let _ = self.send(Command::Stop).await;
    }

    /// Disconnects a removed partner and refuses it from now on.
    pub async fn partner_removed(&self, peer: PeerId) -> Result<()> {
        self.send(Command::PartnerRemoved { peer }).await
    }

    /// Offers changed deals to their connected participants.
    pub async fn sync(&self, deals: Vec<DealId>) -> Result<()> {
        if deals.is_empty() {
            return Ok(());
        }
        self.send(Command::Sync { deals }).await
    }

    /// Sends an account-mapping request to an active partner and waits for its answer body
    /// (`Err` with the partner's or the network's refusal).
    pub async fn map_request(
        &self,
        peer: PeerId,
        body: Vec<u8>,
    ) -> Result<Result<Vec<u8>, Refusal>> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Map { peer, body, reply }).await?;
        answer
            .await
            .map_err(|_| anyhow!("the network task dropped the mapping request"))
    }

    /// The partners connected now.
    pub async fn connected(&self) -> Result<HashSet<PeerId>> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Connected { reply }).await?;
        answer
            .await
            .map_err(|_| anyhow!("the network task dropped the question"))
    }
}

/// Network-side gauges for `/metrics`.
#[derive(Debug, Default)]
pub struct NetGauges {
    /// Partners with at least one connection.
    pub connected_partners: AtomicU64,
    /// Connections refused (strangers, removed partners).
    pub connections_refused: AtomicU64,
    /// Bytes of sync frames sent (requests and responses).
    pub sync_bytes_sent: AtomicU64,
    /// Bytes of sync frames received (requests and responses).
    pub sync_bytes_received: AtomicU64,
    /// Sync requests that got no answer within the request timeout.
    pub sync_request_timeouts: AtomicU64,
    /// Bytes of all frames as they crossed the wire (compressed where they were).
    pub wire: Arc<WireBytes>,
    /// Per partner (node id): when it was last known to hold everything this node had to send
    /// it, or `None` while it does. Written by the swarm task only.
    lag: Mutex<BTreeMap<String, Option<Instant>>>,
    /// Reachability and partner links (see [`nat`]). Written by the swarm task only.
    view: Mutex<NetworkView>,
}

impl NetGauges {
    /// Per partner: seconds since it was last caught up (0 while it is caught up).
    pub fn sync_lag_seconds(&self) -> Vec<(String, f64)> {
        let lag = self.lag.lock().unwrap_or_else(|p| p.into_inner());
        lag.iter()
            .map(|(p, since)| (p.clone(), since.map_or(0.0, |s| s.elapsed().as_secs_f64())))
            .collect()
    }

    fn set_lag(&self, peer: &PeerId, caught_up: bool) {
        let mut lag = self.lag.lock().unwrap_or_else(|p| p.into_inner());
        let slot = lag.entry(peer.to_base58()).or_insert(Some(Instant::now()));
        match (caught_up, *slot) {
            (true, _) => *slot = None,
            (false, None) => *slot = Some(Instant::now()),
            (false, Some(_)) => {}
        }
    }

    /// The operator view of the network now.
    pub fn network_view(&self) -> NetworkView {
        self.view.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The addresses partners should dial this node at (for invites); see
    /// [`NetworkView::advertised`].
    pub fn advertised(&self) -> Vec<String> {
        self.view
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .advertised()
    }

    fn view_mut(&self) -> std::sync::MutexGuard<'_, NetworkView> {
        self.view.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn forget_lag(&self, peer: &PeerId) {
        let mut lag = self.lag.lock().unwrap_or_else(|p| p.into_inner());
        lag.remove(&peer.to_base58());
    }
}

/// What [`start`] needs.
pub struct NetConfig {
    /// The node's ed25519 secret.
    pub secret: [u8; 32],
    /// Multiaddrs to listen on.
    pub listen: Vec<String>,
    /// Addresses partners reach this node at from outside (a forwarded port, a DNS name),
    /// announced in invites and identify; each passes [`dial_addr`].
    pub external: Vec<String>,
    /// The relay offered to partners, if any.
    pub relay: Option<RelayLimits>,
    /// How long a request may wait for its answer ([`REQUEST_TIMEOUT`] unless the operator
    /// set `sync_request_timeout_secs`); sync requests are sized to finish well within it.
    pub request_timeout: Duration,
}

/// The running network, as [`start`] hands it over.
pub struct Started {
    /// Talks to the swarm task.
    pub handle: NetHandle,
    /// This node's libp2p id.
    pub peer_id: PeerId,
    /// Listen addresses, each ending in `/p2p/<id>`.
    pub listen: Vec<String>,
    /// Gauges.
    pub gauges: Arc<NetGauges>,
    /// What net asks of the domain: for the peers service, which must take them (net waits for
    /// its answers).
    pub requests: mpsc::Receiver<PeerRequest>,
    /// Account-mapping requests from partners, for the mapping service.
    pub map_inbound: mpsc::Receiver<MapInbound>,
}

/// Builds the swarm, starts listening, spawns the event loop and waits for the listen addresses.
pub async fn start(
    config: NetConfig,
    store: Arc<Store>,
    participants: Arc<dyn Participants>,
) -> Result<Started> {
    let keypair = identity::Keypair::ed25519_from_bytes(config.secret)
        .map_err(|e| anyhow!("invalid node key: {e}"))?;
    let peer_id = keypair.public().to_peer_id();
    let external = config
        .external
        .iter()
        .map(|a| dial_addr(a))
        .collect::<Result<Vec<Multiaddr>>>()?;
    let partners_only = nat::PartnersOnly::default();
    let relay_limits = config.relay.clone();
    let request_timeout = config.request_timeout;
    let relay_partners = partners_only.clone();
    let gauges = Arc::new(NetGauges::default());
    let codec = FrameCodec {
        wire: gauges.wire.clone(),
    };
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .context("cannot set up the TCP transport")?
        .with_quic()
        .with_dns()
        .context("cannot set up name resolution (/etc/resolv.conf)")?
        .with_relay_client(noise::Config::new, yamux::Config::default)
        .context("cannot set up the relay client")?
        .with_behaviour(|key, relay_client| Behaviour {
            identify: identify::Behaviour::new(identify::Config::new(
                "/cosell/1".into(),
                key.public(),
            )),
            ping: ping::Behaviour::new(ping::Config::new().with_interval(PING_INTERVAL)),
            rr: request_response::Behaviour::with_codec(
                codec,
                // Compressed frames first; a node of `/cosell/sync/1` only gets plain ones.
                [
                    (PROTOCOL_COMPRESSED, ProtocolSupport::Full),
                    (PROTOCOL, ProtocolSupport::Full),
                ],
                request_response::Config::default()
                    .with_request_timeout(request_timeout)
                    .with_max_concurrent_streams(64),
            ),
            relay: relay_limits
                .as_ref()
                .map(|limits| {
                    relay::Behaviour::new(
                        key.public().to_peer_id(),
                        nat::relay_config(limits, &relay_partners),
                    )
                })
                .into(),
            relay_client,
            dcutr: dcutr::Behaviour::new(key.public().to_peer_id()),
            autonat: autonat::Behaviour::new(key.public().to_peer_id(), nat::autonat_config()),
            candidates: nat::Candidates::default(),
        })
        .map_err(|e| anyhow!("cannot build the network behaviour: {e}"))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3600)))
        .with_connection_timeout(DIAL_TIMEOUT)
        .build();
    for a in &external {
        swarm.add_external_address(a.clone());
    }
    let mut wanted = 0;
    for addr in &config.listen {
        let ma = listen_addr(addr)?;
        // libp2p's error repeats its cause in its own text and again as its source: say it once.
        swarm
            .listen_on(ma)
            .map_err(|e| anyhow!("cannot listen on {addr}: {}", addrs::innermost_cause(&e)))?;
        wanted += 1;
    }
    // Wait for the listen addresses before anything else uses the swarm.
    let mut listen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while listen.len() < wanted {
        let event = tokio::time::timeout_at(deadline, swarm.select_next_some())
            .await
            .map_err(|_| anyhow!("the p2p listener did not start within 10 s"))?;
        match event {
            SwarmEvent::NewListenAddr { address, .. } => listen.push(address),
            SwarmEvent::ListenerError { error, .. } => {
                return Err(anyhow!(
                    "cannot listen for partners: {}",
                    addrs::innermost_cause(&error)
                ))
            }
            SwarmEvent::ListenerClosed { reason, .. } => {
                return Err(anyhow!("the p2p listener closed: {reason:?}"))
            }
            _ => {}
        }
    }
    // A 0.0.0.0 listener reports one address per interface; collect the rest that are ready.
    while let Ok(Some(SwarmEvent::NewListenAddr { address, .. })) =
        tokio::time::timeout(Duration::from_millis(50), swarm.next()).await
    {
        listen.push(address);
    }
    let (commands, command_rx) = mpsc::channel(COMMAND_QUEUE_MAX);
    let (requests_tx, requests) = mpsc::channel(PEER_REQUEST_QUEUE_MAX);
    let (map_tx, map_inbound) = mpsc::channel(MAP_INBOUND_QUEUE_MAX);
    {
        let mut view = gauges.view_mut();
        *view = NetworkView::new(&peer_id, config.relay.as_ref(), &external);
        view.listen = listen.iter().map(|a| a.to_string()).collect();
    }
    let mut partners = HashMap::new();
    for p in shared::partners(&store)? {
        if !p.is_active() {
            continue;
        }
        if let Ok(peer) = p.id.parse::<PeerId>() {
            gauges.set_lag(&peer, false);
            partners.insert(peer, parse_addrs(&p.addrs));
        }
    }
    partners_only.set(partners.keys());
    let mut event_loop = EventLoop::new(
        swarm,
        command_rx,
        store,
        partners,
        gauges.clone(),
        requests_tx,
        map_tx,
    );
    event_loop.participants = participants;
    // The relay's admission check reads the set the loop keeps.
    event_loop.reach = reach::Reach::new(partners_only);
    event_loop.request_timeout = request_timeout;
    tokio::spawn(event_loop.run());
    let suffix = format!("/p2p/{peer_id}");
    Ok(Started {
        handle: NetHandle { commands },
        peer_id,
        listen: listen.iter().map(|a| format!("{a}{suffix}")).collect(),
        gauges,
        requests,
        map_inbound,
    })
}

fn now_ms() -> u64 {
    crate::clock::now_ms()
}

fn node_id(peer: &PeerId) -> Option<NodeId> {
    NodeId::parse(&peer.to_base58()).ok()
}
