//! A run a partner starts: this node answers each request of it, keeping the run's state
//! between requests (for at most [`RUN_TTL`](super::RUN_TTL)), and stores its own view of the
//! matrix when the partner closes the run.

use super::exchange::{advance, decode_all, records_to_share, take_batch};
use super::matrix::{audit_details, build_cell, store_matrix, Matrix};
use super::populations::{evaluate, parse_level, psi_level, PopData};
use super::wire::{self, Header, Offer, SharedRecord};
use super::{Mapper, POPULATIONS_MAX, RUN_TTL};
use crate::domain::error::DomainError;
use crate::net::{MapInbound, Refusal, RefusalCode};
use crate::store::Store;
use anyhow::{anyhow, bail, Result};
use policy::{Policy, SharingLevel};
use protocol::psi::{PsiMessage, PsiSession};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

/// A run a partner started, kept by the responder between requests.
pub(super) struct ResponderRun {
    id: String,
    started: Instant,
    policy: Policy,
    mine: Vec<PopData>,
    opps: HashMap<String, Vec<String>>,
    theirs: Vec<Offer>,
    /// Index: their population × my population.
    cells: HashMap<usize, CellRun>,
}

impl Mapper {
    /// Answers partners' mapping requests until the network stops.
    pub fn spawn_responder(self: &Arc<Self>) {
        let rx = self
            .network
            .map_inbound
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let Some(mut rx) = rx else { return };
        let me = self.clone();
        tokio::spawn(async move {
            while let Some(MapInbound { peer, body, reply }) = rx.recv().await {
                let me = me.clone();
                tokio::spawn(async move {
                    let answer = me.respond(peer.as_str(), &body).await.map_err(|e| {
                        tracing::info!(partner = %peer, error = %format!("{e:#}"), "mapping request refused");
                        let limited = matches!(
                            e.downcast_ref::<DomainError>(),
                            Some(DomainError::RateLimited(_))
                        );
                        Refusal {
                            code: if limited {
                                RefusalCode::RateLimited
                            } else {
                                RefusalCode::Other
                            },
                            message: format!("{e:#}"),
                        }
                    });
                    let _ = reply.send(answer);
                });
            }
        });
    }

    /// Answers one request of a partner's run.
    async fn respond(&self, partner: &str, body: &[u8]) -> Result<Vec<u8>> {
        let (header, messages) = wire::decode(body)?;
        match header {
            Header::Open { run, populations } => {
                if populations.len() > POPULATIONS_MAX {
                    bail!("more than {POPULATIONS_MAX} populations");
                }
                for p in &populations {
                    parse_level(&p.level)?;
                }
                self.take_run(partner).await?;
                let pid = partner.to_string();
                let (policy, mine, opps) = self
                    .blocking(move |s| {
                        let policy = crate::domain::partners::policy_for(s, &pid)?;
                        let (mine, opps) = evaluate(s, &policy)?;
                        Ok((policy, mine, opps))
                    })
                    .await?;
                let offers = mine
                    .iter()
                    .map(|p| Offer {
                        name: p.name.clone(),
                        level: p.level.as_str().to_string(),
                    })
                    .collect();
                let mut runs = self.runs.lock().await;
                runs.retain(|_, r| r.started.elapsed() < RUN_TTL);
                runs.insert(
                    partner.to_string(),
                    ResponderRun {
                        id: run,
                        started: Instant::now(),
                        policy,
                        mine,
                        opps,
                        theirs: populations,
                        cells: HashMap::new(),
                    },
                );
                wire::encode(
                    &Header::Opened {
                        populations: offers,
                    },
                    &[],
                )
            }
            Header::Psi { run, cell } => {
                let mut runs = self.runs.lock().await;
                let r = current(&mut runs, partner, &run)?;
                let (mine_idx, level, _) = r.cell(cell)?;
                if level == SharingLevel::Hidden {
                    bail!("cell {cell} is hidden");
                }
                if !r.cells.contains_key(&cell) {
                    let pop = &r.mine[mine_idx];
                    let session = PsiSession::new(
                        pop.elements(),
                        psi_level(pop.level),
                        &mut rand::rngs::OsRng,
                    )
                    .map_err(|e| anyhow!("psi: {e}"))?;
                    let hello = session.hello().encode();
                    r.cells.insert(
                        cell,
                        CellRun {
                            session: Some(session),
                            outbox: VecDeque::from([hello]),
                            received: Vec::new(),
                        },
                    );
                }
                let c = r.cells.get_mut(&cell).expect("inserted");
                let session = c
                    .session
                    .as_mut()
                    .ok_or_else(|| anyhow!("cell {cell} is finished"))?;
                let next = advance(session, decode_all(messages)?).await?;
                c.outbox.extend(next.iter().map(PsiMessage::encode));
                let batch = take_batch(&mut c.outbox);
                let more = !c.outbox.is_empty();
                let done = session.outcome().is_some() && !more;
                wire::encode(&Header::PsiReply { done, more }, &batch)
            }
            Header::Records { run, cell, records } => {
                let mut runs = self.runs.lock().await;
                let r = current(&mut runs, partner, &run)?;
                let (mine_idx, level, _) = r.cell(cell)?;
                if level < SharingLevel::Overlaps {
                    bail!("cell {cell} shares no records");
                }
                let outcome = r
                    .cells
                    .get(&cell)
                    .and_then(|c| c.session.as_ref())
                    .and_then(|s| s.outcome().cloned());
                let share = records_to_share(&r.policy, &r.mine[mine_idx], level, outcome.as_ref());
                let c = r
                    .cells
                    .get_mut(&cell)
                    .ok_or_else(|| anyhow!("cell {cell} has not run"))?;
                c.received = records;
                wire::encode(&Header::RecordsReply { records: share }, &[])
            }
            Header::Close { run } => {
                let mut runs = self.runs.lock().await;
                current(&mut runs, partner, &run)?;
                let r = runs.remove(partner).expect("checked");
                drop(runs);
                let now = self.now_ms();
                let matrix = r.matrix(partner, &self.store, now)?;
                let key = self.network.signing_key.clone();
                let signer = self.network.peer_id.to_base58();
                self.blocking(move |s| {
                    let audit = audit_details(&matrix);
                    store_matrix(s, &key, &signer, &matrix, audit, now)
                })
                .await?;
                let name = crate::store::shared::partner(&self.store, partner)
                    .ok()
                    .flatten()
                    .map_or_else(|| partner.to_string(), |p| p.name);
                self.completed(partner, &name);
                wire::encode(&Header::Closed {}, &[])
            }
            _ => bail!("not a mapping request"),
        }
    }
}

fn current<'a>(
    runs: &'a mut HashMap<String, ResponderRun>,
    partner: &str,
    run: &str,
) -> Result<&'a mut ResponderRun> {
    match runs.get_mut(partner) {
        Some(r) if r.id == run && r.started.elapsed() < RUN_TTL => Ok(r),
        _ => bail!("no open mapping run {run}"),
    }
}

impl ResponderRun {
    /// (my population index, cell level, their population index) of a cell.
    fn cell(&self, cell: usize) -> Result<(usize, SharingLevel, usize)> {
        let n = self.mine.len();
        if n == 0 || cell >= n * self.theirs.len() {
            bail!("cell {cell} is out of range");
        }
        let (theirs, mine) = (cell / n, cell % n);
        let level = self.mine[mine]
            .level
            .min(parse_level(&self.theirs[theirs].level)?);
        Ok((mine, level, theirs))
    }

    fn matrix(self, partner: &str, store: &Store, now_ms: u64) -> Result<Matrix> {
        let name =
            crate::store::shared::partner(store, partner)?.map_or_else(String::new, |p| p.name);
        let mut cells = Vec::new();
        let mut runs = self.cells;
        for (mine_idx, p) in self.mine.iter().enumerate() {
            for (their_idx, t) in self.theirs.iter().enumerate() {
                let cell = their_idx * self.mine.len() + mine_idx;
                let level = p.level.min(parse_level(&t.level)?);
                let c = runs.remove(&cell);
                let (bucket, outcome, received) = match c {
                    Some(c) => {
                        let s = c.session.as_ref();
                        (
                            s.map_or((0, 0), |s| {
                                (s.set_points(), s.peer_set_points().unwrap_or(0))
                            }),
                            s.and_then(|s| s.outcome().cloned()),
                            c.received,
                        )
                    }
                    None => ((0, 0), None, Vec::new()),
                };
                cells.push(build_cell(
                    p,
                    &t.name,
                    parse_level(&t.level)?,
                    level,
                    bucket,
                    outcome.as_ref(),
                    received,
                    &self.opps,
                ));
            }
        }
        Ok(Matrix {
            partner: partner.to_string(),
            partner_name: name,
            computed_at: crate::domain::audit::rfc3339(now_ms),
            initiated_by: "partner".into(),
            cells,
        })
    }
}

/// Per-cell state of a run, on either side.
struct CellRun {
    session: Option<PsiSession>,
    outbox: VecDeque<Vec<u8>>,
    received: Vec<SharedRecord>,
}
