//! Partner connections over libp2p (TCP + Noise + Yamux, and QUIC v1 with libp2p's TLS 1.3
//! handshake; identify, ping, and the co-sell request-response protocol in [`codec`]).
//!
//! Both transports authenticate the node key (Noise on TCP, the libp2p certificate extension on
//! QUIC), so a `PeerId` seen here is the key the peer proved, whichever transport carried it.
//! A node listens on what `p2p` names (`/ip4/…/tcp/…` and `/ip4/…/udp/…/quic-v1`); invites and
//! identify carry every listen address, and a dial tries all of a partner's addresses at once.
//!
//! One task ([`EventLoop`]) owns the `Swarm`; the rest of the node holds a cloneable
//! [`NetHandle`] that sends [`Command`]s over a bounded channel, with a oneshot for replies.
//! Work that touches redb or verifies signatures runs on blocking threads and reports back to the
//! loop over a second bounded channel.
//!
//! Invariant: only active partners stay connected. A stranger's connection is kept for
//! [`PROBATION`] only while this node has an invite on record (open, or used or expired so that
//! a late joiner learns why it cannot join), and only a join request is served in that time; a
//! refused join is answered with its reason and the connection then closed; anything else is
//! closed at once (DESIGN.md invariant 3).
//! Invariant: at most one sync round per partner is being generated or awaited at a time; local
//! and relayed changes that arrive meanwhile are queued and sent when the round ends.

pub mod codec;
pub mod testing;

use crate::domain::deals::Deals;
use crate::domain::partners::{self, JoinAnswer, JoinRequest};
use crate::store::shared;
use crate::store::Store;
use anyhow::{anyhow, Context, Result};
use codec::{frame, kind, FrameCodec, PROTOCOL};
use libp2p::futures::StreamExt;
use libp2p::request_response::{self, OutboundRequestId, ProtocolSupport, ResponseChannel};
use libp2p::swarm::dial_opts::DialOpts;
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{identify, identity, noise, ping, tcp, yamux, Multiaddr, PeerId, Swarm};
use protocol::deal::DealId;
use protocol::identity::NodeId;
use protocol::wire::{DocSync, WireMessage};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// Why a join was refused: the sentence, and [`partners::InviteError::spent_code`].
type JoinRefusal = (String, Option<&'static str>);

/// Commands queued for the swarm task.
pub const COMMAND_QUEUE_MAX: usize = 256;
/// Reports from blocking work queued for the swarm task.
pub const INTERNAL_QUEUE_MAX: usize = 1024;
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
/// Timeout of one request (a sync batch of a few MB on a slow link).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Most documents in one sync request.
pub const DOCS_PER_REQUEST_MAX: usize = 256;
/// Sync requests awaiting an answer per partner; the rest wait in an outbox. Bounds what a
/// round puts on the partner at once: a first sync of 10,000 deals sent in one go named more
/// unknown deals than the partner holds replicas for (`UNINITIALIZED_REPLICAS_MAX`), and the
/// ones it refused were never offered again in that connection.
pub const SYNC_REQUESTS_IN_FLIGHT_MAX: usize = 4;
const _: () = assert!(
    DOCS_PER_REQUEST_MAX * SYNC_REQUESTS_IN_FLIGHT_MAX
        < crate::domain::deals::UNINITIALIZED_REPLICAS_MAX
);
/// Requests queued per partner beyond those in flight (a round of 100k deals is ~400).
pub const OUTBOX_REQUESTS_MAX: usize = 4096;
/// Bytes of documents in one sync request before it is cut (well under the wire limit).
pub const REQUEST_BYTES_SOFT_MAX: usize = 2 * 1024 * 1024;
/// Largest reply to a sync request (the wire limit with headroom for framing).
pub const REPLY_BYTES_MAX: usize = protocol::limits::WIRE_MESSAGE_BYTES_MAX - 64 * 1024;
/// Addresses kept per partner.
pub const PARTNER_ADDRS_MAX: usize = 16;

#[derive(NetworkBehaviour)]
struct Behaviour {
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    rr: request_response::Behaviour<FrameCodec>,
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
    /// Send one account-mapping request (kind [`kind::MAP`]) to an active partner.
    Map {
        peer: PeerId,
        body: Vec<u8>,
        reply: oneshot::Sender<Result<Vec<u8>, String>>,
    },
}

/// Account-mapping requests queued for the mapping service.
pub const MAP_INBOUND_QUEUE_MAX: usize = 64;

/// An account-mapping request from an active partner, for the mapping service: answer with the
/// response body, or a refusal sentence.
pub struct MapInbound {
    /// The partner.
    pub peer: NodeId,
    /// The request body (after the kind byte).
    pub body: Vec<u8>,
    /// Where the answer goes.
    pub reply: oneshot::Sender<Result<Vec<u8>, String>>,
}

/// Reports from blocking work back to the loop.
enum Internal {
    Respond {
        channel: ResponseChannel<Vec<u8>>,
        bytes: Vec<u8>,
    },
    /// A round's messages for a peer are ready (maybe none): send them, or end the round.
    Send {
        peer: PeerId,
        /// The connection epoch the messages were prepared in: a step of a closed connection
        /// must not count against (or end) the rounds of the next one.
        epoch: u64,
        messages: Vec<DocSync>,
        /// The messages answer a reply to one of this node's requests: they go ahead of new
        /// rounds, and that request's slot is freed only now (see [`SYNC_REQUESTS_IN_FLIGHT_MAX`]).
        follow_up: bool,
    },
    /// A join was decided on the inviter's side.
    JoinDecided {
        peer: PeerId,
        channel: ResponseChannel<Vec<u8>>,
        /// The partner's name and addresses, or the refusal's sentence and
        /// [`partners::InviteError::spent_code`].
        outcome: Result<(String, Vec<Multiaddr>), JoinRefusal>,
    },
    /// Changes arrived from `from`: relay them to other participants.
    Changed { deals: Vec<DealId>, from: PeerId },
    /// `peer` ended the partnership and it is recorded so.
    Ended { peer: PeerId, name: String },
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
    ) -> Result<Result<Vec<u8>, String>> {
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
    /// Per partner (node id): when it was last known to hold everything this node had to send
    /// it, or `None` while it does. Written by the swarm task only.
    lag: Mutex<BTreeMap<String, Option<Instant>>>,
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

    fn forget_lag(&self, peer: &PeerId) {
        let mut lag = self.lag.lock().unwrap_or_else(|p| p.into_inner());
        lag.remove(&peer.to_base58());
    }
}

/// Everything the API needs of the network side.
pub struct Network {
    /// Talks to the swarm task.
    pub handle: NetHandle,
    /// The deal engine.
    pub deals: Arc<Deals>,
    /// This node's libp2p id.
    pub peer_id: PeerId,
    /// Listen addresses, each ending in `/p2p/<id>`.
    pub listen: Vec<String>,
    /// Gauges.
    pub gauges: Arc<NetGauges>,
    /// The node key, to sign invites.
    pub signing_key: ed25519_dalek::SigningKey,
    /// The company name.
    pub name: String,
    /// Account-mapping requests from partners, taken once by the mapping service.
    pub map_inbound: Mutex<Option<mpsc::Receiver<MapInbound>>>,
}

impl Network {
    /// Listen addresses without the `/p2p/` suffix, for invites.
    pub fn dial_addrs(&self) -> Vec<String> {
        let suffix = format!("/p2p/{}", self.peer_id);
        self.listen
            .iter()
            .map(|a| a.trim_end_matches(&suffix).to_string())
            .collect()
    }

    /// Prometheus text for the network and sync counters.
    pub fn metrics_text(&self) -> String {
        let c = &self.deals.counters;
        let g = &self.gauges;
        let mut lag = String::from("# HELP cosell_sync_lag_seconds Per partner: seconds since it last held every change this node had for it (0 = caught up).\n# TYPE cosell_sync_lag_seconds gauge\n");
        for (peer, seconds) in g.sync_lag_seconds() {
            lag.push_str(&format!(
                "cosell_sync_lag_seconds{{partner=\"{peer}\"}} {seconds:.3}\n"
            ));
        }
        let text = format!(
            "# HELP cosell_partners_connected Partners connected now.\n# TYPE cosell_partners_connected gauge\ncosell_partners_connected {}\n\
# HELP cosell_connections_refused_total Connections refused (not a partner).\n# TYPE cosell_connections_refused_total counter\ncosell_connections_refused_total {}\n\
# HELP cosell_sync_changes_total Signed changes sent, received (applied) and rejected.\n# TYPE cosell_sync_changes_total counter\n\
cosell_sync_changes_total{{direction=\"sent\"}} {}\ncosell_sync_changes_total{{direction=\"received\"}} {}\ncosell_sync_changes_total{{direction=\"rejected\"}} {}\n\
# HELP cosell_sync_bytes_total Bytes of sync frames sent and received.\n# TYPE cosell_sync_bytes_total counter\n\
cosell_sync_bytes_total{{direction=\"sent\"}} {}\ncosell_sync_bytes_total{{direction=\"received\"}} {}\n",
            g.connected_partners.load(Ordering::Relaxed),
            g.connections_refused.load(Ordering::Relaxed),
            c.changes_sent.load(Ordering::Relaxed),
            c.changes_received.load(Ordering::Relaxed),
            c.changes_rejected.load(Ordering::Relaxed),
            g.sync_bytes_sent.load(Ordering::Relaxed),
            g.sync_bytes_received.load(Ordering::Relaxed),
        );
        text + &lag
    }
}

/// What [`start`] needs.
pub struct NetConfig {
    /// The node's ed25519 secret.
    pub secret: [u8; 32],
    /// Multiaddrs to listen on.
    pub listen: Vec<String>,
    /// The company name.
    pub name: String,
}

/// Builds the swarm, starts listening, spawns the event loop and waits for the listen addresses.
pub async fn start(config: NetConfig, store: Arc<Store>, deals: Arc<Deals>) -> Result<Network> {
    let keypair = identity::Keypair::ed25519_from_bytes(config.secret)
        .map_err(|e| anyhow!("invalid node key: {e}"))?;
    let peer_id = keypair.public().to_peer_id();
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .context("cannot set up the TCP transport")?
        .with_quic()
        .with_behaviour(|key| Behaviour {
            identify: identify::Behaviour::new(identify::Config::new(
                "/cosell/1".into(),
                key.public(),
            )),
            ping: ping::Behaviour::default(),
            rr: request_response::Behaviour::with_codec(
                FrameCodec,
                [(PROTOCOL, ProtocolSupport::Full)],
                request_response::Config::default()
                    .with_request_timeout(REQUEST_TIMEOUT)
                    .with_max_concurrent_streams(64),
            ),
        })
        .map_err(|e| anyhow!("cannot build the network behaviour: {e}"))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3600)))
        .build();
    let mut wanted = 0;
    for addr in &config.listen {
        let ma = listen_addr(addr)?;
        // libp2p's error repeats its cause in its own text and again as its source: say it once.
        swarm
            .listen_on(ma)
            .map_err(|e| anyhow!("cannot listen on {addr}: {}", innermost_cause(&e)))?;
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
                    innermost_cause(&error)
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
    let (internal_tx, internal_rx) = mpsc::channel(INTERNAL_QUEUE_MAX);
    let (map_tx, map_rx) = mpsc::channel(MAP_INBOUND_QUEUE_MAX);
    let gauges = Arc::new(NetGauges::default());
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
    let me = NodeId::parse(&peer_id.to_base58()).map_err(|e| anyhow!("{e}"))?;
    let event_loop = EventLoop {
        swarm,
        commands: command_rx,
        internal_tx,
        internal: internal_rx,
        store,
        deals: deals.clone(),
        me,
        partners,
        joining: HashMap::new(),
        probation: HashMap::new(),
        pending_joins: HashMap::new(),
        sync_requests: HashMap::new(),
        outbox: HashMap::new(),
        in_flight: HashMap::new(),
        rounds: HashMap::new(),
        epochs: HashMap::new(),
        queued: HashMap::new(),
        retry_at: HashMap::new(),
        dial: HashMap::new(),
        gauges: gauges.clone(),
        map_inbound: map_tx,
        map_requests: HashMap::new(),
    };
    tokio::spawn(event_loop.run());
    let suffix = format!("/p2p/{peer_id}");
    let signing_key = ed25519_dalek::SigningKey::from_bytes(&config.secret);
    Ok(Network {
        handle: NetHandle { commands },
        deals,
        peer_id,
        listen: listen.iter().map(|a| format!("{a}{suffix}")).collect(),
        gauges,
        signing_key,
        name: config.name,
        map_inbound: Mutex::new(Some(map_rx)),
    })
}

/// Parses stored addresses, skipping bad ones and any `/p2p/` suffix.
pub fn parse_addrs(addrs: &[String]) -> Vec<Multiaddr> {
    addrs
        .iter()
        .filter_map(|a| a.parse::<Multiaddr>().ok())
        .map(|mut a| {
            if matches!(a.iter().last(), Some(libp2p::multiaddr::Protocol::P2p(_))) {
                a.pop();
            }
            a
        })
        .take(PARTNER_ADDRS_MAX)
        .collect()
}

/// Which deals a queued round covers.
#[derive(Debug)]
enum Scope {
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

struct DialState {
    next: Instant,
    delay: Duration,
}

struct EventLoop {
    swarm: Swarm<Behaviour>,
    commands: mpsc::Receiver<Command>,
    internal_tx: mpsc::Sender<Internal>,
    internal: mpsc::Receiver<Internal>,
    store: Arc<Store>,
    deals: Arc<Deals>,
    me: NodeId,
    /// Active partners and where to dial them.
    partners: HashMap<PeerId, Vec<Multiaddr>>,
    /// Inviters this node is joining (their connection is allowed).
    joining: HashMap<PeerId, Vec<Multiaddr>>,
    /// Strangers allowed until this instant to present an invite.
    probation: HashMap<PeerId, Instant>,
    pending_joins: HashMap<OutboundRequestId, oneshot::Sender<Result<JoinAnswer, String>>>,
    sync_requests: HashMap<OutboundRequestId, PeerId>,
    /// Per partner: sync requests (frame bodies) waiting for a free slot.
    outbox: HashMap<PeerId, std::collections::VecDeque<Vec<u8>>>,
    /// Per partner: sync requests sent and not yet answered.
    in_flight: HashMap<PeerId, usize>,
    /// Per partner: steps of the current sync round being generated, awaited or processed.
    rounds: HashMap<PeerId, usize>,
    /// Per partner, how many times its connection closed: tags work under way (see
    /// [`Internal::Send`]) so that late results of an earlier connection are dropped.
    epochs: HashMap<PeerId, u64>,
    /// Per partner: what to sync once the current round ends.
    queued: HashMap<PeerId, Scope>,
    /// Per partner: when to retry after a failed round.
    retry_at: HashMap<PeerId, Instant>,
    /// Per partner: reconnect schedule.
    dial: HashMap<PeerId, DialState>,
    gauges: Arc<NetGauges>,
    /// Inbound account-mapping requests go to the mapping service here.
    map_inbound: mpsc::Sender<MapInbound>,
    /// Outbound account-mapping requests awaiting an answer.
    map_requests: HashMap<OutboundRequestId, oneshot::Sender<Result<Vec<u8>, String>>>,
}

fn now_ms() -> u64 {
    crate::clock::now_ms()
}

fn node_id(peer: &PeerId) -> Option<NodeId> {
    NodeId::parse(&peer.to_base58()).ok()
}

impl EventLoop {
    async fn run(mut self) {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
                command = self.commands.recv() => match command {
                    Some(c) => self.on_command(c),
                    None => break,
                },
                Some(report) = self.internal.recv() => self.on_internal(report),
                _ = tick.tick() => self.on_tick(),
            }
        }
        tracing::info!("network task stopped");
    }

    fn spawn_blocking(&self, work: impl FnOnce() -> Option<Internal> + Send + 'static) {
        let tx = self.internal_tx.clone();
        tokio::task::spawn_blocking(move || {
            if let Some(report) = work() {
                let _ = tx.blocking_send(report);
            }
        });
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Join {
                peer,
                addrs,
                request,
                reply,
            } => {
                for a in &addrs {
                    self.swarm.add_peer_address(peer, a.clone());
                }
                self.joining.insert(peer, addrs);
                let bytes = match serde_json::to_vec(&request) {
                    Ok(b) => frame(kind::JOIN, &b),
                    Err(e) => {
                        let _ = reply.send(Err(e.to_string()));
                        return;
                    }
                };
                let id = self.swarm.behaviour_mut().rr.send_request(&peer, bytes);
                self.pending_joins.insert(id, reply);
            }
            Command::PartnerRemoved { peer } => {
                self.forget_partner(peer);
                if self.swarm.is_connected(&peer) {
                    self.tell_ended(peer);
                }
            }
            Command::Sync { deals } => self.push(&deals, None),
            Command::Connected { reply } => {
                let set = self
                    .partners
                    .keys()
                    .filter(|p| self.swarm.is_connected(p))
                    .copied()
                    .collect();
                let _ = reply.send(set);
            }
            Command::Map { peer, body, reply } => {
                if !self.partners.contains_key(&peer) {
                    let _ = reply.send(Err("not an active partner of this node".into()));
                    return;
                }
                let bytes = frame(kind::MAP, &body);
                self.gauges
                    .sync_bytes_sent
                    .fetch_add(bytes.len() as u64 + 4, Ordering::Relaxed);
                let id = self.swarm.behaviour_mut().rr.send_request(&peer, bytes);
                self.map_requests.insert(id, reply);
            }
        }
    }

    /// Offers `deals` to every connected partner except `except`.
    fn push(&mut self, deals: &[DealId], except: Option<PeerId>) {
        let peers: Vec<PeerId> = self
            .partners
            .keys()
            .filter(|p| Some(**p) != except && self.swarm.is_connected(p))
            .copied()
            .collect();
        for peer in peers {
            self.request_round(peer, Some(deals));
        }
    }

    /// Starts a sync round with `peer`, or queues it when one is under way.
    fn request_round(&mut self, peer: PeerId, deals: Option<&[DealId]>) {
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
        let engine = self.deals.clone();
        let epoch = self.epoch(&peer);
        self.spawn_blocking(move || {
            let messages = match engine.generate(&node, deals.as_deref()) {
                Ok(m) => m,
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "cannot prepare sync");
                    Vec::new()
                }
            };
            Some(Internal::Send {
                peer,
                epoch,
                messages,
                follow_up: false,
            })
        });
    }

    /// One step of a round finished; start a queued round when the last one did.
    fn step_done(&mut self, peer: PeerId) {
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
    fn send_sync(&mut self, peer: PeerId, messages: Vec<DocSync>, follow_up: bool) {
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
                    self.deals.forget(&n, &deals);
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
    fn request_done(&mut self, peer: PeerId) {
        if let Some(n) = self.in_flight.get_mut(&peer) {
            *n = n.saturating_sub(1);
        }
        self.pump(peer);
    }

    /// Drops what is queued for a partner that went away, and everything under way with it:
    /// answers to its requests that still arrive, and steps being prepared, belong to an
    /// earlier connection and are ignored (the deal engine forgets its sync state with the
    /// peer too, so nothing is lost: the next connection starts from the persisted state).
    fn clear_outbox(&mut self, peer: &PeerId) {
        self.outbox.remove(peer);
        self.in_flight.remove(peer);
        self.sync_requests.retain(|_, p| p != peer);
        *self.epochs.entry(*peer).or_default() += 1;
    }

    /// The current connection epoch of `peer` (see [`Internal::Send`]).
    fn epoch(&self, peer: &PeerId) -> u64 {
        self.epochs.get(peer).copied().unwrap_or(0)
    }

    fn on_internal(&mut self, report: Internal) {
        match report {
            Internal::Respond { channel, bytes } => {
                self.gauges
                    .sync_bytes_sent
                    .fetch_add(bytes.len() as u64 + 4, Ordering::Relaxed);
                let _ = self.swarm.behaviour_mut().rr.send_response(channel, bytes);
            }
            Internal::Send {
                peer,
                epoch,
                messages,
                follow_up,
            } => {
                if epoch != self.epoch(&peer) {
                    // Prepared for a closed connection: not sent, so the sync state that
                    // counted them as sent is dropped (the next round offers them again).
                    if let Some(n) = node_id(&peer) {
                        let deals: Vec<DealId> = messages.iter().map(|m| m.deal).collect();
                        self.deals.forget(&n, &deals);
                    }
                    return;
                }
                self.send_sync(peer, messages, follow_up);
                if follow_up {
                    self.request_done(peer);
                }
                self.step_done(peer);
            }
            Internal::JoinDecided {
                peer,
                channel,
                outcome,
            } => {
                let answer = match outcome {
                    Ok((name, addrs)) => {
                        self.probation.remove(&peer);
                        self.partners.insert(peer, addrs);
                        self.on_partner_connected(peer);
                        self.deals.publish(
                            "partner.joined",
                            serde_json::json!({"id": peer.to_base58(), "name": name}),
                        );
                        JoinAnswer {
                            error: None,
                            spent: None,
                            name: self.deals_name(),
                        }
                    }
                    Err((message, spent)) => {
                        if !self.partners.contains_key(&peer) {
                            // The stranger gets its answer and nothing else.
                            self.gauges
                                .connections_refused
                                .fetch_add(1, Ordering::Relaxed);
                            self.close_soon(peer);
                        }
                        JoinAnswer {
                            error: Some(message),
                            spent: spent.map(str::to_string),
                            name: self.deals_name(),
                        }
                    }
                };
                let bytes = frame(kind::JOIN, &serde_json::to_vec(&answer).unwrap_or_default());
                let _ = self.swarm.behaviour_mut().rr.send_response(channel, bytes);
            }
            Internal::Changed { deals, from } => self.push(&deals, Some(from)),
            Internal::Ended { peer, name } => {
                tracing::info!(%peer, %name, "the partner ended the partnership");
                self.forget_partner(peer);
                self.close_soon(peer);
                self.deals.publish(
                    "partner.removed",
                    serde_json::json!({"id": peer.to_base58(), "name": name, "by": "partner"}),
                );
            }
        }
    }

    fn deals_name(&self) -> String {
        self.deals.name().to_string()
    }

    fn on_tick(&mut self) {
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
        for (peer, addrs) in to_dial {
            let state = self.dial.entry(peer).or_insert(DialState {
                next: now,
                delay: RECONNECT_DELAY_MIN,
            });
            state.next = now + state.delay;
            state.delay = (state.delay * 2).min(RECONNECT_DELAY_MAX);
            let _ = self
                .swarm
                .dial(DialOpts::peer_id(peer).addresses(addrs).build());
        }
    }

    fn on_partner_connected(&mut self, peer: PeerId) {
        self.dial.remove(&peer);
        self.update_gauge();
        if let Some(n) = node_id(&peer) {
            self.deals.reset_peer(&n);
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

    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::ConnectionEstablished {
                peer_id,
                num_established,
                ..
            } => self.on_connection(peer_id, num_established.get()),
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established,
                ..
            } => self.on_closed(peer_id, num_established),
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!(%address, "listening for partners");
            }
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                ..
            })) => self.on_identified(peer_id, info.listen_addrs),
            SwarmEvent::Behaviour(BehaviourEvent::Rr(event)) => self.on_request_response(event),
            _ => {}
        }
    }

    fn on_closed(&mut self, peer: PeerId, remaining: u32) {
        if remaining > 0 || !self.partners.contains_key(&peer) {
            return;
        }
        self.rounds.remove(&peer);
        self.queued.remove(&peer);
        self.clear_outbox(&peer);
        self.gauges.set_lag(&peer, false);
        if let Some(n) = node_id(&peer) {
            self.deals.reset_peer(&n);
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
    fn on_identified(&mut self, peer: PeerId, listen_addrs: Vec<Multiaddr>) {
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
    fn on_connection(&mut self, peer: PeerId, established: u32) {
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

    fn on_request_response(&mut self, event: request_response::Event<Vec<u8>, Vec<u8>>) {
        use request_response::{Event, Message};
        match event {
            Event::Message {
                peer,
                message:
                    Message::Request {
                        request, channel, ..
                    },
                ..
            } => self.on_request(peer, request, channel),
            Event::Message {
                peer,
                message:
                    Message::Response {
                        request_id,
                        response,
                    },
                ..
            } => self.on_response(peer, request_id, response),
            Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                if let Some(reply) = self.map_requests.remove(&request_id) {
                    let _ = reply.send(Err(format!("cannot reach the partner ({error})")));
                } else if let Some(reply) = self.pending_joins.remove(&request_id) {
                    self.joining.remove(&peer);
                    let _ = reply.send(Err(format!("cannot reach the inviting node ({error})")));
                } else if self.sync_requests.remove(&request_id).is_some() {
                    tracing::debug!(%peer, %error, "sync request failed");
                    self.request_done(peer);
                    if let Some(n) = node_id(&peer) {
                        self.deals.reset_peer(&n);
                    }
                    self.step_done(peer);
                    if self.partners.contains_key(&peer) {
                        self.retry_at
                            .insert(peer, Instant::now() + SYNC_RETRY_DELAY);
                    }
                }
            }
            Event::InboundFailure { peer, error, .. } => {
                tracing::debug!(%peer, %error, "inbound request failed");
            }
            Event::ResponseSent { .. } => {}
        }
    }

    /// Stops everything this node does with `peer` as a partner (the partnership ended). A
    /// partner connected until now was last seen now (its closing connection no longer counts).
    fn forget_partner(&mut self, peer: PeerId) {
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
            self.deals.reset_peer(&n);
        }
        self.update_gauge();
    }

    /// Tells a connected former partner that this node ended the partnership ([`kind::ENDED`]),
    /// then closes the connection after [`REFUSED_GRACE`] (at once could cut the notice off).
    fn tell_ended(&mut self, peer: PeerId) {
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
    fn close_soon(&mut self, peer: PeerId) {
        let until = Instant::now() + REFUSED_GRACE;
        self.probation
            .entry(peer)
            .and_modify(|u| *u = (*u).min(until))
            .or_insert(until);
    }

    /// Logs a refused message from `peer` in the audit (on a blocking thread).
    fn audit_peer(&self, peer: PeerId, why: String) {
        tracing::info!(%peer, reason = %why, "refused a message");
        if !self.partners.contains_key(&peer) {
            // Strangers are disconnected; their noise does not go into the log.
            return;
        }
        self.deals
            .counters
            .changes_rejected
            .fetch_add(1, Ordering::Relaxed);
        let Some(node) = node_id(&peer) else { return };
        let store = self.store.clone();
        self.spawn_blocking(move || {
            audit_bad_message(&store, &node, &why);
            None
        });
    }

    fn refuse(&mut self, channel: ResponseChannel<Vec<u8>>, why: &str) {
        let _ = self
            .swarm
            .behaviour_mut()
            .rr
            .send_response(channel, frame(kind::REFUSED, why.as_bytes()));
    }

    fn on_request(&mut self, peer: PeerId, request: Vec<u8>, channel: ResponseChannel<Vec<u8>>) {
        let Some((&kind_byte, body)) = request.split_first() else {
            self.audit_peer(peer, "empty request".into());
            self.refuse(channel, "empty request");
            return;
        };
        self.gauges
            .sync_bytes_received
            .fetch_add(request.len() as u64 + 4, Ordering::Relaxed);
        match kind_byte {
            kind::JOIN => {
                let join = match partners::parse_join_request(body) {
                    Ok(join) => join,
                    Err(e) => {
                        self.refuse(channel, &e.to_string());
                        return;
                    }
                };
                let store = self.store.clone();
                let me = self.me.to_string();
                let joiner = peer.to_base58();
                self.spawn_blocking(move || {
                    let outcome = partners::accept_join(&store, &me, &joiner, &join, now_ms())
                        .map(|record| (record.name, parse_addrs(&record.addrs)))
                        .map_err(|e| {
                            let _ = crate::domain::audit::record(
                                &store,
                                now_ms(),
                                crate::domain::audit::kind::PARTNER,
                                Some(&joiner),
                                format!("refused a join from {joiner}: {e}"),
                                serde_json::json!({"event": "join_refused", "reason": e.to_string()}),
                            );
                            (e.to_string(), e.spent_code())
                        });
                    Some(Internal::JoinDecided {
                        peer,
                        channel,
                        outcome,
                    })
                });
            }
            kind::ENDED => {
                let _ = self
                    .swarm
                    .behaviour_mut()
                    .rr
                    .send_response(channel, frame(kind::ENDED, &[]));
                let store = self.store.clone();
                let id = peer.to_base58();
                self.spawn_blocking(move || match partners::ended_by_partner(&store, &id, now_ms()) {
                    Ok(Some(record)) => Some(Internal::Ended { peer, name: record.name }),
                    Ok(None) => None,
                    Err(e) => {
                        tracing::error!(error = %format!("{e:#}"), "cannot record an ended partnership");
                        None
                    }
                });
            }
            kind::SYNC => {
                if !self.partners.contains_key(&peer) {
                    self.refuse(channel, "not a partner of this node");
                    self.close_soon(peer);
                    return;
                }
                let Some(node) = node_id(&peer) else { return };
                let engine = self.deals.clone();
                let store = self.store.clone();
                let body = body.to_vec();
                let tx = self.internal_tx.clone();
                tokio::task::spawn_blocking(move || {
                    let (bytes, changed) = handle_sync(&engine, &store, &node, &body);
                    let _ = tx.blocking_send(Internal::Respond { channel, bytes });
                    if !changed.is_empty() {
                        let _ = tx.blocking_send(Internal::Changed {
                            deals: changed,
                            from: peer,
                        });
                    }
                });
            }
            kind::MAP => {
                if !self.partners.contains_key(&peer) {
                    self.refuse(channel, "not a partner of this node");
                    self.close_soon(peer);
                    return;
                }
                let Some(node) = node_id(&peer) else { return };
                let (reply, answer) = oneshot::channel();
                let inbound = MapInbound {
                    peer: node,
                    body: body.to_vec(),
                    reply,
                };
                if self.map_inbound.try_send(inbound).is_err() {
                    self.refuse(channel, "account mapping is busy or off on this node");
                    return;
                }
                let tx = self.internal_tx.clone();
                tokio::spawn(async move {
                    let bytes = match answer.await {
                        Ok(Ok(body)) => frame(kind::MAP, &body),
                        Ok(Err(why)) => frame(kind::REFUSED, why.as_bytes()),
                        Err(_) => frame(kind::REFUSED, b"account mapping failed on this node"),
                    };
                    let _ = tx.send(Internal::Respond { channel, bytes }).await;
                });
            }
            kind::TOO_LARGE => {
                let declared = <[u8; 4]>::try_from(body).map_or(0, u32::from_be_bytes);
                self.audit_peer(
                    peer,
                    format!(
                        "a request of {declared} bytes is over the {}-byte limit",
                        codec::FRAME_BYTES_MAX
                    ),
                );
                self.refuse(channel, "the request is over the size limit");
            }
            other => {
                self.audit_peer(peer, format!("unknown request kind {other}"));
                self.refuse(channel, "unknown request kind");
            }
        }
    }

    fn on_response(&mut self, peer: PeerId, request_id: OutboundRequestId, response: Vec<u8>) {
        if let Some(reply) = self.map_requests.remove(&request_id) {
            self.gauges
                .sync_bytes_received
                .fetch_add(response.len() as u64 + 4, Ordering::Relaxed);
            let answer = match response.split_first() {
                Some((&kind::MAP, body)) => Ok(body.to_vec()),
                Some((&kind::REFUSED, body)) => Err(String::from_utf8_lossy(body).into_owned()),
                _ => Err("the partner sent a malformed mapping answer".to_string()),
            };
            let _ = reply.send(answer);
            return;
        }
        if let Some(reply) = self.pending_joins.remove(&request_id) {
            let answer = match response.split_first() {
                Some((&kind::JOIN, body)) => serde_json::from_slice::<JoinAnswer>(body)
                    .map_err(|_| "the inviting node sent a malformed answer".to_string()),
                Some((&kind::REFUSED, body)) => Err(String::from_utf8_lossy(body).into_owned()),
                _ => Err("the inviting node sent a malformed answer".to_string()),
            };
            let addrs = self.joining.remove(&peer).unwrap_or_default();
            if let Ok(JoinAnswer { error: None, .. }) = &answer {
                self.partners.insert(peer, addrs);
                self.on_partner_connected(peer);
            } else {
                let _ = self.swarm.disconnect_peer_id(peer);
            }
            let _ = reply.send(answer);
            return;
        }
        if self.sync_requests.remove(&request_id).is_none() {
            return;
        }
        self.gauges
            .sync_bytes_received
            .fetch_add(response.len() as u64 + 4, Ordering::Relaxed);
        let Some(node) = node_id(&peer) else {
            self.request_done(peer);
            self.step_done(peer);
            return;
        };
        let engine = self.deals.clone();
        let store = self.store.clone();
        let tx = self.internal_tx.clone();
        let epoch = self.epoch(&peer);
        tokio::task::spawn_blocking(move || {
            let messages = match response.split_first() {
                Some((&kind::SYNC, body)) => match WireMessage::decode(body) {
                    Ok(WireMessage::Sync(docs)) => docs,
                    Err(e) => {
                        audit_bad_message(&store, &node, &e.to_string());
                        Vec::new()
                    }
                },
                Some((&kind::REFUSED, body)) => {
                    tracing::info!(peer = %node, reason = %String::from_utf8_lossy(body), "sync refused");
                    Vec::new()
                }
                _ => {
                    audit_bad_message(&store, &node, "malformed response");
                    Vec::new()
                }
            };
            let mut next = Vec::new();
            let mut changed = Vec::new();
            if !messages.is_empty() {
                match engine.receive(&node, messages, now_ms()) {
                    Ok(received) => {
                        next = received.reply;
                        changed = received.changed;
                    }
                    Err(e) => {
                        tracing::error!(error = %format!("{e:#}"), "cannot store received changes");
                    }
                }
            }
            let _ = tx.blocking_send(Internal::Send {
                peer,
                epoch,
                messages: next,
                follow_up: true,
            });
            if !changed.is_empty() {
                let _ = tx.blocking_send(Internal::Changed {
                    deals: changed,
                    from: peer,
                });
            }
        });
    }
}

fn audit_bad_message(store: &Store, peer: &NodeId, why: &str) {
    let _ = crate::domain::audit::record(
        store,
        now_ms(),
        crate::domain::audit::kind::REJECTED,
        Some(peer.as_str()),
        format!("refused a message from {peer}: {why}"),
        serde_json::json!({"reason": why}),
    );
}

/// Handles an inbound sync request: returns the response frame and the deals that changed.
fn handle_sync(
    engine: &Deals,
    store: &Store,
    node: &NodeId,
    body: &[u8],
) -> (Vec<u8>, Vec<DealId>) {
    let messages = match WireMessage::decode(body) {
        Ok(WireMessage::Sync(docs)) => docs,
        Err(e) => {
            audit_bad_message(store, node, &e.to_string());
            return (frame(kind::REFUSED, e.to_string().as_bytes()), Vec::new());
        }
    };
    match engine.receive(node, messages, now_ms()) {
        Ok(received) => {
            let (reply, dropped) = cap_reply(received.reply, REPLY_BYTES_MAX);
            if !dropped.is_empty() {
                engine.forget(node, &dropped);
            }
            let bytes = frame(kind::SYNC, &WireMessage::Sync(reply).encode());
            (bytes, received.changed)
        }
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "cannot store received changes");
            (
                frame(kind::REFUSED, b"the node could not store the changes"),
                Vec::new(),
            )
        }
    }
}

fn doc_bytes(d: &DocSync) -> usize {
    d.sync.len()
        + d.changes
            .iter()
            .map(|c| c.change_bytes().len() + 160)
            .sum::<usize>()
        + 64
}

/// Splits messages into requests of at most `docs_max` documents and about `bytes_max` bytes.
fn chunk_messages(messages: Vec<DocSync>, docs_max: usize, bytes_max: usize) -> Vec<Vec<DocSync>> {
    let mut out = Vec::new();
    let mut current = Vec::new();
    let mut bytes = 0;
    for m in messages {
        let b = doc_bytes(&m);
        if !current.is_empty() && (current.len() == docs_max || bytes + b > bytes_max) {
            out.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += b;
        current.push(m);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Keeps replies under `bytes_max`; returns the kept ones and the deals left out.
fn cap_reply(messages: Vec<DocSync>, bytes_max: usize) -> (Vec<DocSync>, Vec<DealId>) {
    let mut kept = Vec::new();
    let mut dropped = Vec::new();
    let mut bytes = 0;
    for m in messages {
        let b = doc_bytes(&m);
        if bytes + b > bytes_max {
            dropped.push(m.deal);
        } else {
            bytes += b;
            kept.push(m);
        }
    }
    (kept, dropped)
}

/// The address shapes the node listens on, for the errors of [`listen_addr`].
const LISTEN_SHAPES: &str =
    "use /ip4/ADDRESS/tcp/PORT or /ip4/ADDRESS/udp/PORT/quic-v1 (or /ip6/…)";

/// `addr` as an address this node can listen on for partners: `/ip4|ip6/…/tcp/PORT` or
/// `/ip4|ip6/…/udp/PORT/quic-v1`. The one rule for listen addresses (`--p2p`, `COSELL_P2P`,
/// `p2p` in cosell.toml). Any other text is refused here, before start-up, with one sentence
/// naming the address and what is wrong with it (a port out of range, the protocol the node
/// does not run, the old `/quic` spelling with the new one), never the multiaddr parser's own
/// words: the address is read part by part here and the multiaddr built from the parts.
pub fn listen_addr(addr: &str) -> Result<Multiaddr> {
    listen_addr_parts(addr).map_err(|why| anyhow!("'{addr}' is not a listen address: {why}"))
}

/// What is wrong with `addr` as a listen address, or its multiaddr (see [`listen_addr`]).
fn listen_addr_parts(addr: &str) -> std::result::Result<Multiaddr, String> {
    let port = |text: &str| {
        text.parse::<u16>()
            .map_err(|_| format!("{text} is not a port number (0 to 65535; 0 picks a free one)"))
    };
    // A bad port is named first, wherever it is: that is what its writer meant to give.
    let parts: Vec<&str> = addr.split('/').collect();
    for pair in parts.windows(2) {
        if matches!(pair[0], "tcp" | "udp") && !pair[1].is_empty() {
            port(pair[1])?;
        }
    }
    if addr.trim().is_empty() {
        return Err(format!("it is empty; {LISTEN_SHAPES}"));
    }
    let Some(rest) = addr.strip_prefix('/') else {
        return Err(format!("it must start with /; {LISTEN_SHAPES}"));
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty() {
        return Err(format!("it names no address; {LISTEN_SHAPES}"));
    }
    if rest.split('/').any(str::is_empty) {
        return Err(format!(
            "it has an empty part between two /; {LISTEN_SHAPES}"
        ));
    }
    let parts: Vec<&str> = rest.split('/').collect();
    let (ip, transport) = parts.split_at(parts.len().min(2));
    let ip = listen_ip(ip)?;
    let transport = listen_transport(transport, port)?;
    Ok(std::iter::once(ip).chain(transport).collect())
}

/// The IP part of a listen address (its first two parts), or what is wrong with it.
fn listen_ip(parts: &[&str]) -> std::result::Result<libp2p::multiaddr::Protocol<'static>, String> {
    use libp2p::multiaddr::Protocol;
    Ok(match parts {
        ["ip4", a] => Protocol::Ip4(
            a.parse()
                .map_err(|_| format!("{a} is not an IPv4 address (e.g. 0.0.0.0 or 127.0.0.1)"))?,
        ),
        ["ip6", a] => Protocol::Ip6(
            a.parse()
                .map_err(|_| format!("{a} is not an IPv6 address (e.g. :: or ::1)"))?,
        ),
        [ip @ ("ip4" | "ip6")] => {
            return Err(format!("{ip} needs an address after it; {LISTEN_SHAPES}"))
        }
        [dns @ ("dns" | "dns4" | "dns6" | "dnsaddr"), ..] => {
            return Err(format!(
                "a name ({dns}) cannot be listened on, only an IP address; {LISTEN_SHAPES}"
            ))
        }
        [transport @ ("tcp" | "udp"), ..] => {
            return Err(format!(
                "it has no IP address before /{transport}; {LISTEN_SHAPES}"
            ))
        }
        [other, ..] => {
            return Err(format!(
                "{other} is not a protocol the node listens on; {LISTEN_SHAPES}"
            ))
        }
        [] => return Err(format!("it names no address; {LISTEN_SHAPES}")),
    })
}

/// The transport part of a listen address (the parts after the IP), or what is wrong with it;
/// `port` reads a port number.
fn listen_transport(
    parts: &[&str],
    port: impl Fn(&str) -> std::result::Result<u16, String>,
) -> std::result::Result<Vec<libp2p::multiaddr::Protocol<'static>>, String> {
    use libp2p::multiaddr::Protocol;
    // An address copied from node.json or an invite ends in the node's id: say so.
    let after = |port: &str, more: &[&str]| match more {
        ["p2p", ..] => format!(
            "a listen address ends at the port, without the node's id (/{})",
            more.join("/")
        ),
        _ => format!(
            "/{} after /{port} is not something the node listens on; {LISTEN_SHAPES}",
            more.join("/")
        ),
    };
    Ok(match parts {
        [] => return Err("it has no port; add /tcp/PORT or /udp/PORT/quic-v1".to_string()),
        ["tcp", p] => vec![Protocol::Tcp(port(p)?)],
        ["udp", p, "quic-v1"] => vec![Protocol::Udp(port(p)?), Protocol::QuicV1],
        ["udp", p, "quic"] => {
            return Err(format!(
                "it uses the old QUIC draft; write /udp/{p}/quic-v1"
            ))
        }
        ["udp", p] => return Err(format!("UDP needs QUIC; write /udp/{p}/quic-v1")),
        [transport @ ("tcp" | "udp")] => {
            return Err(format!(
                "{transport} needs a port after it (0 picks a free one)"
            ))
        }
        ["tcp", p, more @ ..] => return Err(after(&format!("tcp/{p}"), more)),
        ["udp", p, "quic-v1", more @ ..] => return Err(after(&format!("udp/{p}/quic-v1"), more)),
        ["udp", p, more @ ..] => return Err(after(&format!("udp/{p}"), more)),
        [other, ..] => {
            return Err(format!(
                "{other} is not a transport the node listens on; {LISTEN_SHAPES}"
            ))
        }
    })
}

/// The deepest source of `error`: the sentence that says what went wrong (`Cannot assign
/// requested address (os error 99)`), without the wrappers that each repeat it.
fn innermost_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}
