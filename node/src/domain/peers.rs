//! The domain side of partner connections: the peers service answers what `net` asks
//! ([`PeerRequest`]) with the deal engine and the partnership records, and [`Network`] is what
//! the rest of the node holds of the network side.
//!
//! Net never names the domain. It sends its requests, in the order things happened, over one
//! bounded channel ([`crate::net::PEER_REQUEST_QUEUE_MAX`]); the service takes them one by one,
//! does the bookkeeping ones (a reset or forgotten sync state, a counted refusal, an event) at
//! once and so in that order, and hands the ones that touch redb or verify signatures (a sync
//! exchange, a round's messages, a join, an ended partnership) to blocking threads, which
//! answer on the request's oneshot. A sync request is answered only once what it carried is
//! stored (durable before answering).

use crate::clock::Clock;
use crate::domain::audit;
use crate::domain::deals::{Deals, UNKNOWN_DEALS_PER_PEER_MAX};
use crate::domain::events::EventKind;
use crate::domain::partners;
use crate::net::codec::{frame, kind};
use crate::net::{
    self, JoinAnswer, JoinDecision, MapInbound, NetConfig, NetGauges, NetHandle, PeerRequest,
    SyncFollowUp, SyncServed,
};
use crate::store::Store;
use anyhow::{anyhow, Result};
use libp2p::PeerId;
use protocol::identity::NodeId;
use protocol::wire::WireMessage;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

// A round may not name more unknown deals at once than a partner keeps replicas for (see
// `net::SYNC_REQUESTS_IN_FLIGHT_MAX`).
const _: () = assert!(
    net::DOCS_PER_REQUEST_MAX * net::SYNC_REQUESTS_IN_FLIGHT_MAX < UNKNOWN_DEALS_PER_PEER_MAX
);

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
    /// The addresses partners dial this node at, for invites: the `external` setting, listen
    /// addresses (loopback only when there is nothing else) and, while the node is not known
    /// to be publicly reachable, its relay circuit addresses (see `net::nat`).
    pub fn dial_addrs(&self) -> Vec<String> {
        self.gauges.advertised()
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
cosell_sync_bytes_total{{direction=\"sent\"}} {}\ncosell_sync_bytes_total{{direction=\"received\"}} {}\n\
# HELP cosell_sync_request_timeouts_total Sync requests a partner did not answer within the request timeout.\n# TYPE cosell_sync_request_timeouts_total counter\ncosell_sync_request_timeouts_total {}\n",
            g.connected_partners.load(Ordering::Relaxed),
            g.connections_refused.load(Ordering::Relaxed),
            c.changes_sent.load(Ordering::Relaxed),
            c.changes_received.load(Ordering::Relaxed),
            c.changes_rejected.load(Ordering::Relaxed),
            g.sync_bytes_sent.load(Ordering::Relaxed),
            g.sync_bytes_received.load(Ordering::Relaxed),
            g.sync_request_timeouts.load(Ordering::Relaxed),
        );
        text + &lag
    }
}

/// Starts the network (see [`net::start`]) and the peers service answering it with `deals`;
/// the company name is the deal engine's; `clock` times what the service records.
pub async fn start(
    config: NetConfig,
    store: Arc<Store>,
    deals: Arc<Deals>,
    clock: Clock,
) -> Result<Network> {
    let signing_key = ed25519_dalek::SigningKey::from_bytes(&config.secret);
    let participants = Arc::new(Routes(deals.participation()));
    let started = net::start(config, store.clone(), participants).await?;
    let me = NodeId::parse(&started.peer_id.to_base58()).map_err(|e| anyhow!("{e}"))?;
    spawn(me, store, deals.clone(), clock, started.requests);
    Ok(Network {
        handle: started.handle,
        name: deals.name().to_string(),
        deals,
        peer_id: started.peer_id,
        listen: started.listen,
        gauges: started.gauges,
        signing_key,
        map_inbound: Mutex::new(Some(started.map_inbound)),
    })
}

/// The engine's participant index, as net asks it (see [`net::Participants`]).
struct Routes(Arc<crate::domain::deals::Participation>);

impl net::Participants for Routes {
    fn of(&self, deal: &protocol::deal::DealId) -> Option<Vec<NodeId>> {
        self.0.of(deal)
    }
}

/// Runs the peers service for the node `me`: answers `requests` until net stops, each at the
/// time `clock` says when it arrives.
pub fn spawn(
    me: NodeId,
    store: Arc<Store>,
    deals: Arc<Deals>,
    clock: Clock,
    mut requests: mpsc::Receiver<PeerRequest>,
) {
    let service = Peers {
        me,
        store,
        deals,
        clock,
        join_attempts: Arc::new(Mutex::new(audit::JoinAttempts::default())),
    };
    tokio::spawn(async move {
        while let Some(request) = requests.recv().await {
            service.on_request(request);
        }
    });
}

/// The peers service; see the module comment.
struct Peers {
    /// This node's id (the id a join request must name).
    me: NodeId,
    store: Arc<Store>,
    deals: Arc<Deals>,
    clock: Clock,
    /// Refused join attempts per address: audited once per window, then limited.
    join_attempts: Arc<Mutex<audit::JoinAttempts>>,
}

impl Peers {
    /// Runs `work` on a blocking thread with the store and the engine.
    fn blocking(&self, work: impl FnOnce(&Store, &Deals) + Send + 'static) {
        let (store, deals) = (self.store.clone(), self.deals.clone());
        tokio::task::spawn_blocking(move || work(&store, &deals));
    }

    /// [`Peers::blocking`] for work a partner's message caused: its audit entries name that
    /// partner node as their actor.
    fn blocking_from(&self, peer: String, work: impl FnOnce(&Store, &Deals) + Send + 'static) {
        self.blocking(move |store, deals| {
            audit::as_actor(audit::partner_actor(store, &peer), || work(store, deals))
        });
    }

    fn on_request(&self, request: PeerRequest) {
        let now = self.clock.now_ms();
        match request {
            PeerRequest::Sync { peer, body, reply } => self.blocking_from(peer.as_str().to_string(), move |store, deals| {
                let _ = reply.send(serve_sync(deals, store, &peer, &body, now));
            }),
            PeerRequest::Answer {
                peer,
                response,
                reply,
            } => self.blocking_from(peer.as_str().to_string(), move |store, deals| {
                let _ = reply.send(follow_up(deals, store, &peer, &response, now));
            }),
            PeerRequest::Generate { peer, deals, reply } => {
                self.blocking(move |_, engine| {
                    let messages = match engine.generate(&peer, deals.as_deref()) {
                        Ok(m) => m,
                        Err(e) => {
                            tracing::error!(error = %format!("{e:#}"), "cannot prepare sync");
                            Vec::new()
                        }
                    };
                    let _ = reply.send(messages);
                })
            }
            PeerRequest::Forget { peer, deals } => self.deals.forget(&peer, &deals),
            PeerRequest::PeerReset { peer } => self.deals.reset_peer(&peer),
            PeerRequest::Join {
                joiner,
                from,
                body,
                reply,
            } => {
                let me = self.me.to_string();
                let source = from.map_or_else(|| joiner.to_base58(), |ip| ip.to_string());
                let attempts = self.join_attempts.clone();
                let verdict = attempts
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .attempt(&source, now);
                self.blocking_from(joiner.to_base58(), move |store, deals| {
                    if let Err(e) = audit::record_attempt_summaries(store, &verdict.summaries, now)
                    {
                        tracing::warn!(error = %format!("{e:#}"), "cannot audit join attempts");
                    }
                    let decision = if verdict.limited {
                        JoinDecision::Refused {
                            answer: JoinAnswer {
                                error: Some(format!(
                                    "too many join attempts from {source}; try again in {} minutes",
                                    audit::JOIN_ATTEMPT_WINDOW_MS / 60_000
                                )),
                                spent: None,
                                name: deals.name().to_string(),
                            },
                        }
                    } else {
                        let audit_refusal = || {
                            attempts
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .refused(&source, now)
                        };
                        decide_join(store, deals, &me, &joiner, &body, now, audit_refusal)
                    };
                    let _ = reply.send(decision);
                })
            }
            PeerRequest::Joined { peer, name } => self.deals.publish(
                EventKind::PartnerJoined,
                serde_json::json!({"id": peer.to_base58(), "name": name}),
            ),
            PeerRequest::PartnerEnded { peer, reply } => self.blocking_from(peer.to_base58(), move |store, deals| {
                let id = peer.to_base58();
                let name = match partners::ended_by_partner(store, &id, now) {
                    Ok(record) => {
                        if let (Some(_), Ok(node)) = (&record, NodeId::parse(&id)) {
                            if let Err(e) = crate::domain::registrations::audit_lapsed(deals, &node, now) {
                                tracing::error!(error = %format!("{e:#}"), "cannot audit lapsed registrations");
                            }
                        }
                        record.map(|r| r.name)
                    }
                    Err(e) => {
                        tracing::error!(error = %format!("{e:#}"), "cannot record an ended partnership");
                        None
                    }
                };
                let _ = reply.send(name);
            }),
            PeerRequest::Left { peer, name } => self.deals.publish(
                EventKind::PartnerRemoved,
                serde_json::json!({"id": peer.to_base58(), "name": name, "by": "partner"}),
            ),
            PeerRequest::Rejected {
                peer,
                why,
                counted,
            } => {
                self.deals
                    .counters
                    .changes_rejected
                    .fetch_add(1, Ordering::Relaxed);
                let _ = counted.send(());
                let Ok(node) = NodeId::parse(&peer.to_base58()) else {
                    return;
                };
                self.blocking_from(peer.to_base58(), move |store, _| audit_bad_message(store, &node, &why, now));
            }
        }
    }
}

/// The inviter's side of a join from `joiner` (the id its connection authenticated): reads the
/// request, and accepts it (recording the partnership) or refuses it (in the audit when
/// `audit_refusal` says so: the first refusal from its address in a window, see
/// [`audit::JoinAttempts`]).
fn decide_join(
    store: &Store,
    deals: &Deals,
    me: &str,
    joiner: &PeerId,
    body: &[u8],
    now_ms: u64,
    audit_refusal: impl FnOnce() -> bool,
) -> JoinDecision {
    let request = match partners::parse_join_request(body) {
        Ok(request) => request,
        Err(e) => return JoinDecision::Unreadable(e.to_string()),
    };
    let joiner = joiner.to_base58();
    match partners::accept_join(store, me, &joiner, &request, now_ms) {
        Ok(record) => JoinDecision::Accepted {
            name: record.name,
            addrs: net::parse_addrs(&record.addrs),
            answer: JoinAnswer {
                error: None,
                spent: None,
                name: deals.name().to_string(),
            },
        },
        Err(e) => {
            if audit_refusal() {
                let _ = audit::record(
                    store,
                    now_ms,
                    audit::AuditKind::Partner,
                    Some(&joiner),
                    format!("refused a join from {joiner}: {e}"),
                    serde_json::json!({"event": "join_refused", "reason": e.to_string()}),
                );
            }
            JoinDecision::Refused {
                answer: JoinAnswer {
                    error: Some(e.to_string()),
                    spent: e.spent_code().map(str::to_string),
                    name: deals.name().to_string(),
                },
            }
        }
    }
}

fn audit_bad_message(store: &Store, peer: &NodeId, why: &str, now_ms: u64) {
    let _ = audit::record(
        store,
        now_ms,
        audit::AuditKind::Rejected,
        Some(peer.as_str()),
        format!("refused a message from {peer}: {why}"),
        serde_json::json!({"reason": why}),
    );
}

/// After a peer's changes were stored: withdrawals that arrived replace their documents by
/// tombstones (and are no longer offered on), and the origin finishes the withdrawals its
/// partners have now all acknowledged.
/// Returns the deals this node changed itself (erasure requests applied), to offer to every
/// participant.
fn after_receive(
    engine: &Deals,
    changed: &mut Vec<protocol::deal::DealId>,
    now_ms: u64,
) -> Vec<protocol::deal::DealId> {
    match engine.apply_withdrawals(changed, now_ms) {
        Ok(gone) => changed.retain(|d| !gone.contains(d)),
        Err(e) => tracing::error!(error = %format!("{e:#}"), "cannot apply a withdrawal"),
    }
    if let Err(e) = engine.finish_withdrawals(now_ms) {
        tracing::error!(error = %format!("{e:#}"), "cannot finish a withdrawal");
    }
    // Erasure requests the origins signed: what this node wrote and stored goes too.
    crate::domain::erase::apply_requests(engine, changed, now_ms).unwrap_or_else(|e| {
        tracing::error!(error = %format!("{e:#}"), "cannot apply an erasure request");
        Vec::new()
    })
}

/// Answers a partner's sync request (`body`, after the kind byte): stores what it carries, then
/// returns the response frame and the deals that changed.
fn serve_sync(
    engine: &Deals,
    store: &Store,
    node: &NodeId,
    body: &[u8],
    now_ms: u64,
) -> SyncServed {
    let messages = match WireMessage::decode(body) {
        Ok(WireMessage::Sync(docs)) => docs,
        Err(e) => {
            audit_bad_message(store, node, &e.to_string(), now_ms);
            return SyncServed {
                response: frame(kind::REFUSED, e.to_string().as_bytes()),
                changed: Vec::new(),
                written: Vec::new(),
            };
        }
    };
    // A withdrawn deal is gone here: what a peer still sends of it is not stored again.
    let messages: Vec<_> = messages
        .into_iter()
        .filter(|m| !engine.is_gone(m.deal))
        .collect();
    match engine.receive(node, messages, now_ms) {
        Ok(mut received) => {
            let written = after_receive(engine, &mut received.changed, now_ms);
            let (reply, dropped) = net::wire::cap_reply(received.reply, net::REPLY_BYTES_MAX);
            if !dropped.is_empty() {
                engine.forget(node, &dropped);
            }
            SyncServed {
                response: frame(kind::SYNC, &WireMessage::Sync(reply).encode()),
                changed: received.changed,
                written,
            }
        }
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "cannot store received changes");
            SyncServed {
                response: frame(kind::REFUSED, b"the node could not store the changes"),
                changed: Vec::new(),
                written: Vec::new(),
            }
        }
    }
}

/// Takes a partner's answer to this node's sync request (the frame body, kind byte first):
/// stores what it carries, and returns the messages that follow up on it and the deals that
/// changed. A malformed answer is logged in the audit.
fn follow_up(
    engine: &Deals,
    store: &Store,
    node: &NodeId,
    response: &[u8],
    now_ms: u64,
) -> SyncFollowUp {
    let messages = match response.split_first() {
        Some((&kind::SYNC, body)) => match WireMessage::decode(body) {
            Ok(WireMessage::Sync(docs)) => docs,
            Err(e) => {
                audit_bad_message(store, node, &e.to_string(), now_ms);
                Vec::new()
            }
        },
        Some((&kind::REFUSED, body)) => {
            tracing::info!(peer = %node, reason = %String::from_utf8_lossy(body), "sync refused");
            Vec::new()
        }
        _ => {
            audit_bad_message(store, node, "malformed response", now_ms);
            Vec::new()
        }
    };
    let messages: Vec<_> = messages
        .into_iter()
        .filter(|m| !engine.is_gone(m.deal))
        .collect();
    let mut out = SyncFollowUp::default();
    if !messages.is_empty() {
        match engine.receive(node, messages, now_ms) {
            Ok(mut received) => {
                out.written = after_receive(engine, &mut received.changed, now_ms);
                out.messages = received.reply;
                out.changed = received.changed;
            }
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "cannot store received changes");
            }
        }
    }
    out
}

/// Helpers for tests and benchmarks that stand in for a peer.
pub mod testing {
    use super::*;

    /// What an honest node answers to a sync request body (the frame body after the kind
    /// byte): the response frame body. Lets a raw peer (`net::testing::RawPeer`) keep a real
    /// deal engine in step. `now_ms` is when the request arrived.
    pub fn answer_sync(
        engine: &Deals,
        store: &Store,
        peer: &NodeId,
        body: &[u8],
        now_ms: u64,
    ) -> Vec<u8> {
        serve_sync(engine, store, peer, body, now_ms).response
    }
}
