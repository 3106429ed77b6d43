//! A raw co-sell peer, for end-to-end tests of hostile behaviour and for benchmarks.
//!
//! [`RawPeer`] speaks the co-sell protocol name over the same transport (TCP + Noise + Yamux)
//! but writes the request bytes it is given verbatim, length prefix included, so a test can send
//! what an honest node never would: frames over the size limit, garbage, forged or unauthorized
//! changes. Its answers to inbound requests come from a caller-supplied function (which may run
//! a real deal engine through the domain's `peers::testing::answer_sync`, so the peer also
//! behaves honestly when asked). The node itself never uses this module.

use super::codec::{read_frame, write_frame, PROTOCOL};
use anyhow::{anyhow, Context, Result};
use libp2p::futures::{AsyncRead, AsyncWrite, AsyncWriteExt, StreamExt};
use libp2p::request_response::{self, OutboundRequestId, ProtocolSupport};
use libp2p::swarm::SwarmEvent;
use libp2p::{identity, noise, tcp, yamux, StreamProtocol};
/// The libp2p types a raw peer's caller names peers and addresses with.
pub use libp2p::{Multiaddr, PeerId};
use std::collections::HashMap;
use std::io;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// How long a raw request may take before it fails.
pub const RAW_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Requests queued for the raw peer's task.
pub const RAW_QUEUE_MAX: usize = 64;

/// Answers an inbound request (its frame body, kind byte first) with a frame body.
pub type Answer = Arc<dyn Fn(PeerId, Vec<u8>) -> Vec<u8> + Send + Sync>;

/// Prefixes `body` with its 4-byte big-endian length, as the co-sell codec frames it.
pub fn framed(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 4);
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// A co-sell peer that sends raw bytes; see the module comment.
pub struct RawPeer {
    /// This peer's libp2p id.
    pub peer_id: PeerId,
    commands: mpsc::Sender<Request>,
    _thread: std::thread::JoinHandle<()>,
}

struct Request {
    peer: PeerId,
    addr: Multiaddr,
    bytes: Vec<u8>,
    reply: oneshot::Sender<Result<Vec<u8>, String>>,
}

impl RawPeer {
    /// Starts the peer with node key `secret` on its own thread and runtime. It listens on
    /// nothing: it only dials.
    pub fn start(secret: [u8; 32], answer: Answer) -> Result<RawPeer> {
        let keypair = identity::Keypair::ed25519_from_bytes(secret)
            .map_err(|e| anyhow!("invalid node key: {e}"))?;
        let peer_id = keypair.public().to_peer_id();
        let (commands, rx) = mpsc::channel(RAW_QUEUE_MAX);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot build a runtime")?;
        let thread = std::thread::spawn(move || {
            runtime.block_on(async move {
                if let Err(e) = run(keypair, rx, answer).await {
                    tracing::error!(error = %format!("{e:#}"), "raw peer stopped");
                }
            })
        });
        Ok(RawPeer {
            peer_id,
            commands,
            _thread: thread,
        })
    }

    /// Sends `bytes` exactly as given (length prefix included) to `peer` at `addr` and waits
    /// for the answer's frame body; `Err` when the request failed (refused, reset, timed out).
    pub fn request(&self, peer: PeerId, addr: Multiaddr, bytes: Vec<u8>) -> Result<Vec<u8>> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .blocking_send(Request {
                peer,
                addr,
                bytes,
                reply,
            })
            .map_err(|_| anyhow!("the raw peer stopped"))?;
        answer
            .blocking_recv()
            .map_err(|_| anyhow!("the raw peer dropped the request"))?
            .map_err(|e| anyhow!("{e}"))
    }
}

async fn run(
    keypair: identity::Keypair,
    mut rx: mpsc::Receiver<Request>,
    answer: Answer,
) -> Result<()> {
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )?
        .with_behaviour(|_| {
            request_response::Behaviour::with_codec(
                RawCodec,
                [(PROTOCOL, ProtocolSupport::Full)],
                request_response::Config::default().with_request_timeout(RAW_REQUEST_TIMEOUT),
            )
        })
        .map_err(|e| anyhow!("{e}"))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3600)))
        .build();
    let mut pending: HashMap<OutboundRequestId, oneshot::Sender<Result<Vec<u8>, String>>> =
        HashMap::new();
    let (done_tx, mut done_rx) = mpsc::channel(RAW_QUEUE_MAX);
    loop {
        tokio::select! {
            request = rx.recv() => {
                let Some(r) = request else { return Ok(()) };
                swarm.add_peer_address(r.peer, r.addr);
                let id = swarm.behaviour_mut().send_request(&r.peer, r.bytes);
                pending.insert(id, r.reply);
            }
            Some((channel, bytes)) = done_rx.recv() => {
                let _ = swarm.behaviour_mut().send_response(channel, bytes);
            }
            event = swarm.select_next_some() => {
                use request_response::{Event, Message};
                match event {
                    SwarmEvent::Behaviour(Event::Message { peer, message: Message::Request { request, channel, .. }, .. }) => {
                        let answer = answer.clone();
                        let tx = done_tx.clone();
                        tokio::task::spawn_blocking(move || {
                            let bytes = answer(peer, request);
                            let _ = tx.blocking_send((channel, bytes));
                        });
                    }
                    SwarmEvent::Behaviour(Event::Message { message: Message::Response { request_id, response }, .. }) => {
                        if let Some(reply) = pending.remove(&request_id) {
                            let _ = reply.send(Ok(response));
                        }
                    }
                    SwarmEvent::Behaviour(Event::OutboundFailure { request_id, error, .. }) => {
                        if let Some(reply) = pending.remove(&request_id) {
                            let _ = reply.send(Err(error.to_string()));
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

/// Writes requests verbatim; reads frames as the co-sell codec does.
#[derive(Debug, Clone, Default)]
struct RawCodec;

impl request_response::Codec for RawCodec {
    type Protocol = StreamProtocol;
    type Request = Vec<u8>;
    type Response = Vec<u8>;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_frame(io).await
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_frame(io).await
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: Vec<u8>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        io.write_all(&req).await?;
        io.close().await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        res: Vec<u8>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, res).await
    }
}

/// What an outsider got from a relay: the reservation and the circuit it asked for, each
/// `Ok(address)` when granted or `Err(why)` when refused.
#[derive(Debug)]
pub struct RelayProbe {
    /// Asking the relay to listen for this peer (`/…/p2p/RELAY/p2p-circuit`).
    pub reservation: std::result::Result<String, String>,
    /// Asking the relay for a circuit to `target`.
    pub circuit: std::result::Result<String, String>,
}

/// How long [`relay_probe`] waits for each answer.
pub const RELAY_PROBE_TIMEOUT: Duration = Duration::from_secs(20);

/// Acts as a node that is nobody's partner (key `secret`): asks the relay at `relay_addr`
/// (whose id is `relay`) for a reservation, then for a circuit to `target`, and reports what it
/// got. Runs on the calling thread (its own runtime): call it from the namespace of the
/// outsider's host. A node's relay must refuse both.
pub fn relay_probe(
    secret: [u8; 32],
    relay: PeerId,
    relay_addr: Multiaddr,
    target: PeerId,
) -> Result<RelayProbe> {
    use libp2p::multiaddr::Protocol;
    use libp2p::swarm::NetworkBehaviour;

    #[derive(NetworkBehaviour)]
    struct Probe {
        relay_client: libp2p::relay::client::Behaviour,
        identify: libp2p::identify::Behaviour,
    }

    let keypair = identity::Keypair::ed25519_from_bytes(secret)
        .map_err(|e| anyhow!("invalid node key: {e}"))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot build a runtime")?;
    runtime.block_on(async move {
        let mut swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
            .with_tokio()
            .with_tcp(
                tcp::Config::default(),
                noise::Config::new,
                yamux::Config::default,
            )?
            .with_relay_client(noise::Config::new, yamux::Config::default)?
            .with_behaviour(|key, relay_client| Probe {
                relay_client,
                identify: libp2p::identify::Behaviour::new(libp2p::identify::Config::new(
                    "/cosell/1".into(),
                    key.public(),
                )),
            })
            .map_err(|e| anyhow!("{e}"))?
            .build();
        let circuit = relay_addr
            .clone()
            .with(Protocol::P2p(relay))
            .with(Protocol::P2pCircuit);
        let listener = swarm.listen_on(circuit.clone())?;
        let reservation = tokio::time::timeout(RELAY_PROBE_TIMEOUT, async {
            loop {
                match swarm.select_next_some().await {
                    SwarmEvent::NewListenAddr {
                        address,
                        listener_id,
                    } if listener_id == listener => return Ok(address.to_string()),
                    SwarmEvent::ListenerClosed {
                        listener_id,
                        reason,
                        ..
                    } if listener_id == listener => {
                        return Err(match reason {
                            Ok(()) => "the relay closed the listener".to_string(),
                            Err(e) => super::addrs::innermost_cause(&e),
                        })
                    }
                    SwarmEvent::ListenerError { listener_id, error } if listener_id == listener => {
                        return Err(super::addrs::innermost_cause(&error))
                    }
                    _ => {}
                }
            }
        })
        .await
        .unwrap_or_else(|_| Err("no answer in time".into()));
        let to_target = circuit.with(Protocol::P2p(target));
        swarm.dial(to_target)?;
        let circuit = tokio::time::timeout(RELAY_PROBE_TIMEOUT, async {
            loop {
                match swarm.select_next_some().await {
                    SwarmEvent::ConnectionEstablished {
                        peer_id, endpoint, ..
                    } if peer_id == target => return Ok(endpoint.get_remote_address().to_string()),
                    SwarmEvent::OutgoingConnectionError {
                        peer_id: Some(p),
                        error,
                        ..
                    } if p == target => return Err(super::addrs::innermost_cause(&error)),
                    _ => {}
                }
            }
        })
        .await
        .unwrap_or_else(|_| Err("no answer in time".into()));
        Ok(RelayProbe {
            reservation,
            circuit,
        })
    })
}
