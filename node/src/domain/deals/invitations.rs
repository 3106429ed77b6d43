//! Invitations: an invitee holds the redacted summary of a deal until it accepts; its answer
//! goes into the invitation, then into the deal once that arrives. An acceptance signed after
//! the invitation expired does not count.

use super::{clean_note, Deals, DealsError, DocKind, Inner, DECLINE_REASON_CHARS_MAX, EXPIRES_KEY};
use crate::domain::audit;
use crate::store::shared;
use protocol::deal::{DealDoc, DealId, ParticipantStatus};
use protocol::identity::NodeId;
use std::sync::atomic::Ordering;

impl Deals {
    /// The invitation documents (this node's or made for it) of deal `deal`, with the invitee.
    /// Once the deal is held, only invitations its own origin made count: another participant
    /// could make an "invitation" to a deal it does not own (issue 19, low).
    pub(crate) fn invitations_of(inner: &Inner, deal: DealId) -> Vec<(DealId, NodeId)> {
        let origin = inner.info.get(&deal).and_then(|d| d.origin.as_ref());
        inner
            .info
            .iter()
            .filter(|(_, i)| i.kind == DocKind::Invitation { deal })
            .filter(|(_, i)| origin.is_none() || i.origin.as_ref() == origin)
            .filter_map(|(id, i)| {
                i.statuses
                    .keys()
                    .find(|n| Some(*n) != i.origin.as_ref())
                    .map(|n| (*id, n.clone()))
            })
            .collect()
    }

    /// Accepts or declines this node's invitation to a deal (`id` is the deal's id). The answer
    /// goes into the invitation (signed by this node); the origin then sends the deal itself,
    /// and this node writes its acceptance into the deal when it arrives. Returns the documents
    /// changed, to sync.
    pub fn respond(
        &self,
        id: DealId,
        accept: bool,
        now_ms: u64,
    ) -> Result<Vec<DealId>, DealsError> {
        self.respond_with_reason(id, accept, None, now_ms)
    }

    /// [`Deals::respond`] with the reason for a decline (checked by [`clean_note`]; blank is
    /// none), signed beside the answer in the invitation and the deal, for the origin to read.
    /// A reason with an acceptance is refused.
    pub fn respond_with_reason(
        &self,
        id: DealId,
        accept: bool,
        reason: Option<&str>,
        now_ms: u64,
    ) -> Result<Vec<DealId>, DealsError> {
        let reason = clean_note("reason", reason, DECLINE_REASON_CHARS_MAX)?;
        if accept && reason.is_some() {
            return Err(DealsError::fields(vec![(
                "reason",
                "a reason goes with a decline, not an acceptance".into(),
            )]));
        }
        // Until the deal arrives, an invitee cannot tell its origin's invitation from one
        // another participant made up (issue 19, low): the answer goes into every invitation
        // still open, so the origin's gets it whichever that is; once the deal is here, only
        // its origin's counts (`invitations_of`).
        let (invitation, also) = {
            let inner = self.lock();
            let mine: Vec<DealId> = Self::invitations_of(&inner, id)
                .into_iter()
                .filter(|(_, invitee)| invitee == &self.me)
                .map(|(inv, _)| inv)
                .collect();
            let open: Vec<DealId> = mine
                .iter()
                .copied()
                .filter(|inv| {
                    let view = inner.docs[inv].read_view();
                    let expires = view
                        .shared
                        .other
                        .get(EXPIRES_KEY)
                        .and_then(|e| e.parse::<u64>().ok());
                    view.participants.get(&self.me).and_then(|p| p.status)
                        == Some(ParticipantStatus::Invited)
                        && expires.is_none_or(|e| now_ms < e)
                })
                .collect();
            let first = open.first().or(mine.first()).copied();
            let also: Vec<DealId> = open.into_iter().skip(1).collect();
            (first, also)
        };
        let mut changed = Vec::new();
        if let Some(inv) = invitation {
            let (status, expires_at, origin) = {
                let inner = self.lock();
                let view = inner.docs[&inv].read_view();
                (
                    view.participants.get(&self.me).and_then(|p| p.status),
                    view.shared
                        .other
                        .get(EXPIRES_KEY)
                        .and_then(|e| e.parse::<u64>().ok()),
                    view.origin.clone(),
                )
            };
            if status == Some(ParticipantStatus::Invited) {
                if let Some(ended) = origin
                    .map(|o| shared::partner(&self.store, o.as_str()))
                    .transpose()?
                    .flatten()
                    .filter(|p| !p.is_active())
                {
                    return Err(DealsError::Conflict(format!(
                        "{} is no longer a partner, so its invitation to deal {id} cannot be answered",
                        ended.name
                    )));
                }
            }
            let wanted = if accept {
                ParticipantStatus::Accepted
            } else {
                ParticipantStatus::Declined
            };
            match status {
                Some(s) if s == wanted => {}
                Some(ParticipantStatus::Invited) => {
                    if let Some(e) = expires_at.filter(|e| now_ms >= *e) {
                        return Err(DealsError::Invalid(format!(
                            "the invitation expired on {} (deal {id}): ask the inviter to share it again",
                            audit::rfc3339(e)
                        )));
                    }
                    for inv in std::iter::once(inv).chain(also.iter().copied()) {
                        self.edit(inv, now_ms, |doc, signer| {
                            if accept {
                                doc.accept(signer, now_ms)
                            } else {
                                doc.decline_because(signer, now_ms, reason.as_deref())
                            }
                        })?;
                        changed.push(inv);
                    }
                }
                Some(answered @ (ParticipantStatus::Accepted | ParticipantStatus::Declined)) => {
                    // A conflict with what is stored, not a bad request: the answer stands.
                    return Err(DealsError::Conflict(format!(
                        "the invitation to deal {id} was already answered: {}",
                        answered.as_str()
                    )));
                }
                Some(other) => {
                    return Err(DealsError::Invalid(format!(
                        "the invitation to deal {id} was already answered: {}",
                        other.as_str()
                    )))
                }
                None => return Err(DealsError::NotFound(format!("no deal with id {id}"))),
            }
        }
        let in_deal = {
            let inner = self.lock();
            inner
                .info
                .get(&id)
                .filter(|i| i.kind == DocKind::Deal)
                .map(|i| i.statuses.get(&self.me).copied())
        };
        match in_deal {
            None if changed.is_empty() && invitation.is_none() => {
                return Err(DealsError::NotFound(format!("no deal with id {id}")))
            }
            Some(Some(ParticipantStatus::Invited)) | Some(None) => {
                self.edit(id, now_ms, |doc, signer| {
                    if accept {
                        doc.accept(signer, now_ms)
                    } else {
                        doc.decline_because(signer, now_ms, reason.as_deref())
                    }
                })?;
                changed.push(id);
            }
            _ => {}
        }
        Ok(changed)
    }

    /// Accepts every invitation to this node that still waits for an answer, when the node
    /// accepts invitations as they arrive (`set_auto_accept`). Received invitations are stored
    /// before their acceptance is signed, so one that arrived just before a crash would
    /// otherwise wait in the inbox for ever; `serve` calls this at start. Returns the deals
    /// accepted; an invitation that can no longer be accepted (expired) is left as it is.
    pub fn accept_waiting_invitations(&self, now_ms: u64) -> Vec<DealId> {
        if !self.auto_accept.load(Ordering::Relaxed) {
            return Vec::new();
        }
        let waiting: Vec<DealId> = {
            let inner = self.lock();
            inner
                .info
                .values()
                .filter_map(|i| match i.kind {
                    DocKind::Invitation { deal }
                        if i.origin.as_ref() != Some(&self.me)
                            && i.statuses.get(&self.me) == Some(&ParticipantStatus::Invited) =>
                    {
                        Some(deal)
                    }
                    _ => None,
                })
                .collect()
        };
        let mut accepted = Vec::new();
        for deal in waiting {
            match self.respond(deal, true, now_ms) {
                Ok(_) => accepted.push(deal),
                Err(e) => {
                    tracing::info!(deal = %deal, error = %e, "a waiting invitation is not accepted")
                }
            }
        }
        accepted
    }
}

/// When `invitee` accepted the invitation `doc` after it expired: the time of its latest signed
/// change (its acceptance) and the expiry, or `None` when it has not, or did so in time. The time
/// is the invitee's signed claim (SECURITY.md: timestamps are claims).
pub(super) fn late_acceptance(doc: &DealDoc, invitee: &NodeId) -> Option<(u64, u64)> {
    let view = doc.read_view();
    if view.participants.get(invitee).and_then(|p| p.status) != Some(ParticipantStatus::Accepted) {
        return None;
    }
    let expires = view
        .shared
        .other
        .get(EXPIRES_KEY)
        .and_then(|e| e.parse::<u64>().ok())?;
    let accepted_at = doc
        .automerge()
        .get_changes(&[])
        .iter()
        .filter(|c| {
            doc.envelope(&c.hash())
                .is_some_and(|e| e.author() == invitee)
        })
        .map(|c| u64::try_from(c.timestamp()).unwrap_or(0))
        .max()?;
    (accepted_at >= expires).then_some((accepted_at, expires))
}
