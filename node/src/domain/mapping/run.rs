//! A run this node starts: open, PSI per cell, records per cell, close; then the matrix is
//! stored on this side.

use super::exchange::{advance, decode_all, records_to_share, take_batch};
use super::matrix::{audit_details, build_cell, store_matrix};
use super::populations::{evaluate, parse_level, psi_level};
use super::wire::{Header, Offer};
use super::{Mapper, Matrix, StoredMatrix, EXCHANGES_PER_CELL_MAX, POPULATIONS_MAX};
use crate::domain::error::DomainError;
use anyhow::{anyhow, bail, Result};
use libp2p::PeerId;
use policy::SharingLevel;
use protocol::psi::{PsiMessage, PsiSession};
use std::collections::VecDeque;

impl Mapper {
    /// Runs account mapping with a partner now and stores the matrix. Refused while the partner
    /// is offline ([`DomainError::Unavailable`]) or over either side's rate limit
    /// ([`DomainError::RateLimited`]); any other failure is [`DomainError::PartnerFailed`],
    /// "account mapping with {name} failed: {cause}".
    pub async fn run(&self, partner: &str) -> Result<StoredMatrix, DomainError> {
        let name = crate::store::shared::partner(&self.store, partner)
            .ok()
            .flatten()
            .map_or_else(|| partner.to_string(), |r| r.name);
        self.run_with(partner)
            .await
            .map_err(|e| match e.downcast::<DomainError>() {
                Ok(kind @ (DomainError::Unavailable(_) | DomainError::RateLimited(_))) => kind,
                Ok(other) => DomainError::PartnerFailed(format!(
                    "account mapping with {name} failed: {other}"
                )),
                Err(e) => {
                    DomainError::PartnerFailed(format!("account mapping with {name} failed: {e:#}"))
                }
            })
    }

    async fn run_with(&self, partner: &str) -> Result<StoredMatrix> {
        let record = crate::store::shared::partner(&self.store, partner)?
            .ok_or_else(|| anyhow!("no partner with id {partner}"))?;
        if !record.is_active() {
            bail!("{} is not an active partner", record.name);
        }
        let peer: PeerId = record.id.parse().map_err(|_| anyhow!("bad partner id"))?;
        // Checked first, so a partner that is away does not use up runs.
        if !self.network.handle.connected().await?.contains(&peer) {
            return Err(DomainError::Unavailable(format!(
                "{} is offline (not connected to this node); try again when it is",
                record.name
            ))
            .into());
        }
        self.take_run(&record.id).await?;
        let pid = record.id.clone();
        let (policy, mine, opps) = self
            .blocking(move |s| {
                let policy = crate::domain::partners::policy_for(s, &pid)?;
                let (mine, opps) = evaluate(s, &policy)?;
                Ok((policy, mine, opps))
            })
            .await?;
        let run = ulid::Ulid::new().to_string();
        let offers: Vec<Offer> = mine
            .iter()
            .map(|p| Offer {
                name: p.name.clone(),
                level: p.level.as_str().to_string(),
            })
            .collect();
        let (answer, _) = self
            .request(
                peer,
                &Header::Open {
                    run: run.clone(),
                    populations: offers,
                },
                Vec::new(),
            )
            .await?;
        let Header::Opened {
            populations: theirs,
        } = answer
        else {
            bail!("the partner answered the opening with something else");
        };
        if theirs.len() > POPULATIONS_MAX {
            bail!("the partner offered more than {POPULATIONS_MAX} populations");
        }
        let mut cells = Vec::new();
        for (i, p) in mine.iter().enumerate() {
            for (j, t) in theirs.iter().enumerate() {
                let their_level = parse_level(&t.level)?;
                let level = p.level.min(their_level);
                let cell = i * theirs.len() + j;
                let mut bucket = (0, 0);
                let mut outcome = None;
                if level != SharingLevel::Hidden {
                    let mut session =
                        PsiSession::new(p.elements(), psi_level(p.level), &mut rand::rngs::OsRng)
                            .map_err(|e| anyhow!("psi: {e}"))?;
                    let mut outbox: VecDeque<Vec<u8>> = VecDeque::from([session.hello().encode()]);
                    let mut exchanges = 0;
                    loop {
                        exchanges += 1;
                        if exchanges > EXCHANGES_PER_CELL_MAX {
                            bail!("the mapping run stalled");
                        }
                        let batch = take_batch(&mut outbox);
                        let sent = batch.len();
                        let (reply, msgs) = self
                            .request(
                                peer,
                                &Header::Psi {
                                    run: run.clone(),
                                    cell,
                                },
                                batch,
                            )
                            .await?;
                        let Header::PsiReply { done, more } = reply else {
                            bail!("the partner answered a psi exchange with something else");
                        };
                        let got = msgs.len();
                        let next = advance(&mut session, decode_all(msgs)?).await?;
                        outbox.extend(next.iter().map(PsiMessage::encode));
                        if session.outcome().is_some() && outbox.is_empty() && done {
                            break;
                        }
                        if sent == 0 && got == 0 && !more && outbox.is_empty() {
                            bail!("the mapping run stalled");
                        }
                    }
                    bucket = (session.set_points(), session.peer_set_points().unwrap_or(0));
                    outcome = session.outcome().cloned();
                }
                let share = records_to_share(&policy, p, level, outcome.as_ref());
                let received = if level >= SharingLevel::Overlaps {
                    let (reply, _) = self
                        .request(
                            peer,
                            &Header::Records {
                                run: run.clone(),
                                cell,
                                records: share,
                            },
                            Vec::new(),
                        )
                        .await?;
                    let Header::RecordsReply { records } = reply else {
                        bail!("the partner answered records with something else");
                    };
                    records
                } else {
                    Vec::new()
                };
                cells.push(build_cell(
                    p,
                    &t.name,
                    parse_level(&t.level)?,
                    level,
                    bucket,
                    outcome.as_ref(),
                    received,
                    &opps,
                ));
            }
        }
        let _ = self
            .request(peer, &Header::Close { run: run.clone() }, Vec::new())
            .await?;
        let matrix = Matrix {
            partner: record.id.clone(),
            partner_name: record.name.clone(),
            computed_at: crate::domain::audit::rfc3339(self.now_ms()),
            initiated_by: "me".into(),
            cells,
        };
        let key = self.network.signing_key.clone();
        let signer = self.network.peer_id.to_base58();
        let now = self.now_ms();
        let stored = self
            .blocking(move |s| {
                let audit = audit_details(&matrix);
                store_matrix(s, &key, &signer, &matrix, audit, now)
            })
            .await?;
        self.completed(&record.id, &record.name);
        Ok(stored)
    }

    /// Tells the web UI and webhooks that a new matrix with `partner` is stored.
    pub(super) fn completed(&self, partner: &str, name: &str) {
        self.network.deals.publish(
            crate::domain::events::EventKind::MappingCompleted,
            serde_json::json!({"partner": partner, "partner_name": name}),
        );
    }
}
