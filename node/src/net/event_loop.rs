//! The swarm task: one loop owns the `Swarm` and everything net knows about its peers; it takes
//! [`Command`]s from the rest of the node, sends [`PeerRequest`]s up to the domain, and takes
//! their answers (and the results of its own blocking store work) back as [`Internal`] reports.

use super::codec::{self, frame, kind, Refusal};
use super::gate::DialState;
use super::link_budget::{LinkBudget, Sent};
use super::sync_flow::Scope;
use super::{
    node_id, Behaviour, BehaviourEvent, Command, JoinAnswer, JoinDecision, MapInbound, NetGauges,
    PeerRequest, SyncFollowUp, SyncServed, SYNC_RETRY_DELAY,
};
use crate::store::Store;
use libp2p::futures::StreamExt;
use libp2p::request_response::{self, OutboundRequestId, ResponseChannel};
use libp2p::swarm::SwarmEvent;
use libp2p::{identify, Multiaddr, PeerId, Swarm};
use protocol::deal::DealId;
use protocol::wire::DocSync;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot};

/// How soon after an event the loop's housekeeping (`on_tick`) runs, and how often at most.
const TICK: Duration = Duration::from_millis(250);

/// Reports back to the loop: answers of the domain, results of blocking work.
pub(super) enum Internal {
    Respond {
        channel: ResponseChannel<Vec<u8>>,
        bytes: Vec<u8>,
    },
    /// Refuse an inbound request with this sentence (a refused message, once counted).
    Refuse {
        channel: ResponseChannel<Vec<u8>>,
        why: String,
    },
    /// A round's messages for a peer are ready (maybe none): send them, or end the round.
    Send {
        peer: PeerId,
        /// The connection epoch the messages were prepared in: a step of a closed connection
        /// must not count against (or end) the rounds of the next one.
        epoch: u64,
        messages: Vec<DocSync>,
        /// The messages answer a reply to one of this node's requests: they go ahead of new
        /// rounds, and that request's slot is freed only now (see
        /// [`super::SYNC_REQUESTS_IN_FLIGHT_MAX`]).
        follow_up: bool,
    },
    /// A join was decided on the inviter's side.
    JoinDecided {
        peer: PeerId,
        channel: ResponseChannel<Vec<u8>>,
        decision: JoinDecision,
    },
    /// Changes arrived from `from`: relay them to other participants.
    Changed { deals: Vec<DealId>, from: PeerId },
    /// Deals this node changed itself while handling a peer's message: offered to everyone.
    Written { deals: Vec<DealId> },
    /// `peer` ended the partnership and it is recorded so.
    Ended { peer: PeerId, name: String },
}

/// Requests for the domain, kept in the order they were made: sent at once while the channel
/// has room, else held in `backlog` (and everything after them too) until it has. The loop
/// handles no further event while the backlog is not empty, so it holds at most what one event
/// asked.
pub(super) struct Upward {
    tx: mpsc::Sender<PeerRequest>,
    backlog: VecDeque<PeerRequest>,
}

impl Upward {
    fn send(&mut self, request: PeerRequest) {
        if !self.backlog.is_empty() {
            self.backlog.push_back(request);
            return;
        }
        match self.tx.try_send(request) {
            Ok(()) => {}
            Err(TrySendError::Full(request)) => self.backlog.push_back(request),
            // The domain stopped (the node is stopping): replies' senders drop with the request,
            // and their waiters see that.
            Err(TrySendError::Closed(_)) => {}
        }
    }
}

pub(super) struct EventLoop {
    pub(super) swarm: Swarm<Behaviour>,
    commands: mpsc::Receiver<Command>,
    internal_tx: mpsc::Sender<Internal>,
    internal: mpsc::Receiver<Internal>,
    pub(super) store: Arc<Store>,
    /// Requests for the domain's peers service.
    up: Upward,
    /// Active partners and where to dial them.
    pub(super) partners: HashMap<PeerId, Vec<Multiaddr>>,
    /// Inviters this node is joining (their connection is allowed).
    pub(super) joining: HashMap<PeerId, Vec<Multiaddr>>,
    /// Strangers allowed until this instant to present an invite.
    pub(super) probation: HashMap<PeerId, Instant>,
    /// The address each connected peer's last connection came from.
    remote_ip: HashMap<PeerId, std::net::IpAddr>,
    pending_joins: HashMap<OutboundRequestId, oneshot::Sender<Result<JoinAnswer, String>>>,
    /// Sync requests awaiting an answer: to whom, and when and how large (for the budget).
    pub(super) sync_requests: HashMap<OutboundRequestId, (PeerId, Sent)>,
    /// Per partner: documents to sync waiting for a free slot, in groups (a round's
    /// messages, an answer's follow-up), cut into requests as they go out.
    pub(super) outbox: HashMap<PeerId, VecDeque<Vec<DocSync>>>,
    /// Per partner: the request size and window learned from its answers.
    pub(super) budgets: HashMap<PeerId, LinkBudget>,
    /// How long a request may wait for its answer.
    pub(super) request_timeout: Duration,
    /// Per partner: sync requests sent and not yet answered.
    pub(super) in_flight: HashMap<PeerId, usize>,
    /// Per partner: steps of the current sync round being generated, awaited or processed.
    pub(super) rounds: HashMap<PeerId, usize>,
    /// Per partner, how many times its connection closed: tags work under way (see
    /// [`Internal::Send`]) so that late results of an earlier connection are dropped.
    pub(super) epochs: HashMap<PeerId, u64>,
    /// Per partner: what to sync once the current round ends.
    pub(super) queued: HashMap<PeerId, Scope>,
    /// Per partner: when to retry after a failed round.
    pub(super) retry_at: HashMap<PeerId, Instant>,
    /// Per partner: reconnect schedule.
    pub(super) dial: HashMap<PeerId, DialState>,
    pub(super) gauges: Arc<NetGauges>,
    /// Inbound account-mapping requests go to the mapping service here.
    map_inbound: mpsc::Sender<MapInbound>,
    /// Outbound account-mapping requests awaiting an answer.
    map_requests: HashMap<OutboundRequestId, oneshot::Sender<Result<Vec<u8>, Refusal>>>,
    /// NAT traversal: connections and their kinds, relay reservations (see `reach`).
    pub(super) reach: super::reach::Reach,
    /// Who takes part in which deal: changes go to their participants only.
    pub(super) participants: Arc<dyn super::Participants>,
}

impl EventLoop {
    pub(super) fn new(
        swarm: Swarm<Behaviour>,
        commands: mpsc::Receiver<Command>,
        store: Arc<Store>,
        partners: HashMap<PeerId, Vec<Multiaddr>>,
        gauges: Arc<NetGauges>,
        requests: mpsc::Sender<PeerRequest>,
        map_inbound: mpsc::Sender<MapInbound>,
    ) -> EventLoop {
        let (internal_tx, internal) = mpsc::channel(super::INTERNAL_QUEUE_MAX);
        EventLoop {
            swarm,
            commands,
            internal_tx,
            internal,
            store,
            up: Upward {
                tx: requests,
                backlog: VecDeque::new(),
            },
            partners,
            joining: HashMap::new(),
            probation: HashMap::new(),
            remote_ip: HashMap::new(),
            pending_joins: HashMap::new(),
            sync_requests: HashMap::new(),
            outbox: HashMap::new(),
            budgets: HashMap::new(),
            request_timeout: super::REQUEST_TIMEOUT,
            in_flight: HashMap::new(),
            rounds: HashMap::new(),
            epochs: HashMap::new(),
            queued: HashMap::new(),
            retry_at: HashMap::new(),
            dial: HashMap::new(),
            gauges,
            map_inbound,
            map_requests: HashMap::new(),
            // `start` replaces it with one sharing the relay's partner set.
            reach: super::reach::Reach::new(super::nat::PartnersOnly::default()),
            // `start` replaces it with the domain's index.
            participants: Arc::new(super::NoIndex),
        }
    }

    pub(super) async fn run(mut self) {
        // Housekeeping runs TICK after anything happened, and then only at the next deadline
        // it knows of (`next_deadline`): a node with no partner online sleeps until an event,
        // so a host with a thousand idle workspaces does no work for them.
        let mut tick_at = Some(Instant::now() + TICK);
        let sleep = tokio::time::sleep(TICK);
        tokio::pin!(sleep);
        loop {
            // While the domain is behind (requests of the last event did not fit its queue),
            // the loop only hands them over: nothing is lost, and nothing more piles up.
            let behind = !self.up.backlog.is_empty();
            let mut ticked = false;
            tokio::select! {
                event = self.swarm.select_next_some(), if !behind => self.on_swarm_event(event),
                command = self.commands.recv(), if !behind => match command {
                    Some(Command::Stop) | None => break,
                    Some(c) => self.on_command(c),
                },
                Some(report) = self.internal.recv(), if !behind => self.on_internal(report),
                permit = self.up.tx.clone().reserve_owned(), if behind => match permit {
                    Ok(permit) => {
                        if let Some(request) = self.up.backlog.pop_front() {
                            permit.send(request);
                        }
                    }
                    Err(_) => self.up.backlog.clear(),
                },
                _ = &mut sleep, if tick_at.is_some() && !behind => {
                    self.on_tick();
                    ticked = true;
                }
            }
            let now = Instant::now();
            let next = if ticked {
                self.next_deadline().map(|at| at.max(now + TICK))
            } else {
                Some(tick_at.map_or(now + TICK, |at| at.min(now + TICK)))
            };
            if next != tick_at {
                tick_at = next;
                if let Some(at) = next {
                    sleep.as_mut().reset(tokio::time::Instant::from_std(at));
                }
            }
        }
        tracing::info!("network task stopped");
    }

    /// Runs store work on a blocking thread; its report (if any) comes back to the loop.
    pub(super) fn spawn_blocking(&self, work: impl FnOnce() -> Option<Internal> + Send + 'static) {
        let tx = self.internal_tx.clone();
        tokio::task::spawn_blocking(move || {
            if let Some(report) = work() {
                let _ = tx.blocking_send(report);
            }
        });
    }

    /// Tells the domain something that needs no answer.
    pub(super) fn tell(&mut self, request: PeerRequest) {
        self.up.send(request);
    }

    /// Asks the domain `request`; once `answer` comes (`None`: the domain dropped the request),
    /// `then` turns it into the reports the loop acts on, in order.
    pub(super) fn ask<T: Send + 'static>(
        &mut self,
        request: PeerRequest,
        answer: oneshot::Receiver<T>,
        then: impl FnOnce(Option<T>) -> Vec<Internal> + Send + 'static,
    ) {
        self.up.send(request);
        let tx = self.internal_tx.clone();
        tokio::spawn(async move {
            for report in then(answer.await.ok()) {
                if tx.send(report).await.is_err() {
                    return;
                }
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
                    let _ = reply.send(Err(Refusal::other("not an active partner of this node")));
                    return;
                }
                let bytes = frame(kind::MAP, &body);
                self.gauges
                    .sync_bytes_sent
                    .fetch_add(bytes.len() as u64 + 4, Ordering::Relaxed);
                let id = self.swarm.behaviour_mut().rr.send_request(&peer, bytes);
                self.map_requests.insert(id, reply);
            }
            // Handled by `run`, which ends the loop.
            Command::Stop => {}
        }
    }

    fn on_internal(&mut self, report: Internal) {
        match report {
            Internal::Respond { channel, bytes } => {
                self.gauges
                    .sync_bytes_sent
                    .fetch_add(bytes.len() as u64 + 4, Ordering::Relaxed);
                let _ = self.swarm.behaviour_mut().rr.send_response(channel, bytes);
            }
            Internal::Refuse { channel, why } => self.refuse(channel, &why),
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
                        self.tell(PeerRequest::Forget { peer: n, deals });
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
                decision,
            } => {
                let answer = match decision {
                    JoinDecision::Unreadable(why) => {
                        self.refuse(channel, &why);
                        return;
                    }
                    JoinDecision::Accepted {
                        name,
                        addrs,
                        answer,
                    } => {
                        self.probation.remove(&peer);
                        self.partners.insert(peer, addrs);
                        self.on_partner_connected(peer);
                        self.tell(PeerRequest::Joined { peer, name });
                        answer
                    }
                    JoinDecision::Refused { answer } => {
                        if !self.partners.contains_key(&peer) {
                            // The stranger gets its answer and nothing else.
                            self.gauges
                                .connections_refused
                                .fetch_add(1, Ordering::Relaxed);
                            self.close_soon(peer);
                        }
                        answer
                    }
                };
                let bytes = frame(kind::JOIN, &serde_json::to_vec(&answer).unwrap_or_default());
                let _ = self.swarm.behaviour_mut().rr.send_response(channel, bytes);
            }
            Internal::Changed { deals, from } => self.push(&deals, Some(from)),
            Internal::Written { deals } => self.push(&deals, None),
            Internal::Ended { peer, name } => {
                tracing::info!(%peer, %name, "the partner ended the partnership");
                self.forget_partner(peer);
                self.close_soon(peer);
                self.tell(PeerRequest::Left { peer, name });
            }
        }
    }

    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::ConnectionEstablished {
                peer_id,
                num_established,
                connection_id,
                endpoint,
                ..
            } => {
                if let Some(ip) = ip_of(endpoint.get_remote_address()) {
                    self.remote_ip.insert(peer_id, ip);
                }
                self.on_link_opened(peer_id, connection_id, &endpoint);
                self.on_connection(peer_id, num_established.get())
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established,
                connection_id,
                ..
            } => {
                if num_established == 0 {
                    self.remote_ip.remove(&peer_id);
                }
                self.on_link_closed(peer_id, connection_id);
                self.on_closed(peer_id, num_established)
            }
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                connection_id,
            })) => {
                self.on_identified_reach(peer_id, connection_id, &info);
                self.on_identified(peer_id, info.listen_addrs)
            }
            SwarmEvent::Behaviour(BehaviourEvent::Rr(event)) => self.on_request_response(event),
            other => self.on_reach_event(other),
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
                    let _ = reply.send(Err(Refusal::other(format!(
                        "cannot reach the partner ({error})"
                    ))));
                } else if let Some(reply) = self.pending_joins.remove(&request_id) {
                    let addrs = self.joining.remove(&peer).unwrap_or_default();
                    let why = match error {
                        request_response::OutboundFailure::DialFailure => {
                            super::nat::unreachable_inviter(&addrs, self.reach.dial_error(&peer))
                        }
                        other => format!("cannot reach the inviting node ({other})"),
                    };
                    let _ = reply.send(Err(why));
                } else if self.sync_requests.remove(&request_id).is_some() {
                    tracing::debug!(%peer, %error, "sync request failed");
                    if matches!(error, request_response::OutboundFailure::Timeout) {
                        self.gauges
                            .sync_request_timeouts
                            .fetch_add(1, Ordering::Relaxed);
                        let timeout = self.request_timeout;
                        self.budgets.entry(peer).or_default().failed(timeout);
                    }
                    // The retry is set before the step ends, or a failed last request would
                    // read as "caught up" (`step_done`) until the retry starts.
                    if self.partners.contains_key(&peer) {
                        self.retry_at
                            .insert(peer, Instant::now() + SYNC_RETRY_DELAY);
                    }
                    self.request_done(peer);
                    if let Some(n) = node_id(&peer) {
                        self.tell(PeerRequest::PeerReset { peer: n });
                    }
                    self.step_done(peer);
                }
            }
            Event::InboundFailure { peer, error, .. } => {
                tracing::debug!(%peer, %error, "inbound request failed");
            }
            Event::ResponseSent { .. } => {}
        }
    }

    fn refuse(&mut self, channel: ResponseChannel<Vec<u8>>, why: &str) {
        let _ = self
            .swarm
            .behaviour_mut()
            .rr
            .send_response(channel, frame(kind::REFUSED, why.as_bytes()));
    }

    /// Refuses a message from `peer` with `refusal`; a partner's refused message is counted and
    /// logged in the audit with `why` first (strangers are disconnected: their noise does not go
    /// into the log).
    fn refuse_audited(
        &mut self,
        peer: PeerId,
        channel: ResponseChannel<Vec<u8>>,
        why: String,
        refusal: &str,
    ) {
        tracing::info!(%peer, reason = %why, "refused a message");
        if !self.partners.contains_key(&peer) {
            self.refuse(channel, refusal);
            return;
        }
        let (counted, done) = oneshot::channel();
        let refusal = refusal.to_string();
        self.ask(
            PeerRequest::Rejected { peer, why, counted },
            done,
            move |_| {
                vec![Internal::Refuse {
                    channel,
                    why: refusal,
                }]
            },
        );
    }

    fn on_request(&mut self, peer: PeerId, request: Vec<u8>, channel: ResponseChannel<Vec<u8>>) {
        let Some((&kind_byte, body)) = request.split_first() else {
            self.refuse_audited(peer, channel, "empty request".into(), "empty request");
            return;
        };
        self.gauges
            .sync_bytes_received
            .fetch_add(request.len() as u64 + 4, Ordering::Relaxed);
        match kind_byte {
            kind::JOIN => {
                let (reply, answer) = oneshot::channel();
                let join = PeerRequest::Join {
                    joiner: peer,
                    from: self.remote_ip.get(&peer).copied(),
                    body: body.to_vec(),
                    reply,
                };
                self.ask(join, answer, move |decision| {
                    decision
                        .map(|decision| Internal::JoinDecided {
                            peer,
                            channel,
                            decision,
                        })
                        .into_iter()
                        .collect()
                });
            }
            kind::ENDED => {
                let _ = self
                    .swarm
                    .behaviour_mut()
                    .rr
                    .send_response(channel, frame(kind::ENDED, &[]));
                let (reply, answer) = oneshot::channel();
                self.ask(
                    PeerRequest::PartnerEnded { peer, reply },
                    answer,
                    move |name| {
                        name.flatten()
                            .map(|name| Internal::Ended { peer, name })
                            .into_iter()
                            .collect()
                    },
                );
            }
            kind::SYNC => {
                if !self.partners.contains_key(&peer) {
                    self.refuse(channel, "not a partner of this node");
                    self.close_soon(peer);
                    return;
                }
                let Some(node) = node_id(&peer) else { return };
                let (reply, answer) = oneshot::channel();
                let sync = PeerRequest::Sync {
                    peer: node,
                    body: body.to_vec(),
                    reply,
                };
                self.ask(sync, answer, move |served| {
                    // No answer (the domain failed): the request goes unanswered.
                    let Some(SyncServed {
                        response,
                        changed,
                        written,
                    }) = served
                    else {
                        return Vec::new();
                    };
                    let mut reports = vec![Internal::Respond {
                        channel,
                        bytes: response,
                    }];
                    if !changed.is_empty() {
                        reports.push(Internal::Changed {
                            deals: changed,
                            from: peer,
                        });
                    }
                    if !written.is_empty() {
                        reports.push(Internal::Written { deals: written });
                    }
                    reports
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
                        Ok(Err(why)) => frame(kind::REFUSED, &why.encode()),
                        Err(_) => frame(kind::REFUSED, b"account mapping failed on this node"),
                    };
                    let _ = tx.send(Internal::Respond { channel, bytes }).await;
                });
            }
            kind::TOO_LARGE => {
                let declared = <[u8; 4]>::try_from(body).map_or(0, u32::from_be_bytes);
                self.refuse_audited(
                    peer,
                    channel,
                    format!(
                        "a request of {declared} bytes is over the {}-byte limit",
                        codec::FRAME_BYTES_MAX
                    ),
                    "the request is over the size limit",
                );
            }
            other => {
                self.refuse_audited(
                    peer,
                    channel,
                    format!("unknown request kind {other}"),
                    "unknown request kind",
                );
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
                Some((&kind::REFUSED, body)) => Err(Refusal::decode(body)),
                _ => Err(Refusal::other(
                    "the partner sent a malformed mapping answer",
                )),
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
        let Some((_, sent)) = self.sync_requests.remove(&request_id) else {
            return;
        };
        self.budgets
            .entry(peer)
            .or_default()
            .answered(sent, response.len() + 4, Instant::now());
        self.gauges
            .sync_bytes_received
            .fetch_add(response.len() as u64 + 4, Ordering::Relaxed);
        let Some(node) = node_id(&peer) else {
            self.request_done(peer);
            self.step_done(peer);
            return;
        };
        let epoch = self.epoch(&peer);
        let (reply, answer) = oneshot::channel();
        let request = PeerRequest::Answer {
            peer: node,
            response,
            reply,
        };
        self.ask(request, answer, move |follow_up| {
            // No answer (the domain failed): nothing follows, and the request's slot is freed.
            let SyncFollowUp {
                messages,
                changed,
                written,
            } = follow_up.unwrap_or_default();
            let mut reports = vec![Internal::Send {
                peer,
                epoch,
                messages,
                follow_up: true,
            }];
            if !changed.is_empty() {
                reports.push(Internal::Changed {
                    deals: changed,
                    from: peer,
                });
            }
            if !written.is_empty() {
                reports.push(Internal::Written { deals: written });
            }
            reports
        });
    }
}

/// The IP address in a multiaddr (`/ip4/…` or `/ip6/…`), if it has one.
fn ip_of(addr: &Multiaddr) -> Option<std::net::IpAddr> {
    addr.iter().find_map(|p| match p {
        libp2p::multiaddr::Protocol::Ip4(ip) => Some(std::net::IpAddr::V4(ip)),
        libp2p::multiaddr::Protocol::Ip6(ip) => Some(std::net::IpAddr::V6(ip)),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forget(n: usize) -> PeerRequest {
        let peer = protocol::identity::NodeKey::from_secret_bytes(&[1; 32])
            .node_id()
            .clone();
        PeerRequest::Forget {
            peer,
            deals: vec![DealId::from_bytes([0; 32]); n],
        }
    }

    fn number(request: PeerRequest) -> usize {
        match request {
            PeerRequest::Forget { deals, .. } => deals.len(),
            _ => unreachable!("only forgets are sent here"),
        }
    }

    #[test]
    fn requests_that_do_not_fit_wait_in_order_and_none_is_dropped() {
        let (tx, mut rx) = mpsc::channel(1);
        let mut up = Upward {
            tx,
            backlog: VecDeque::new(),
        };
        for n in 0..3 {
            up.send(forget(n));
        }
        assert_eq!(number(rx.try_recv().expect("the first")), 0);
        // The channel has room again, but the later requests stay behind the waiting ones.
        up.send(forget(3));
        assert!(rx.try_recv().is_err());
        let waiting: Vec<usize> = up.backlog.drain(..).map(number).collect();
        assert_eq!(waiting, [1, 2, 3]);
        // With nothing waiting, a request goes straight out.
        up.send(forget(4));
        assert_eq!(number(rx.try_recv().expect("sent at once")), 4);
    }
}
