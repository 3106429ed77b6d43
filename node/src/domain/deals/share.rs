//! Sharing: a deal made from an opportunity for one or more partners (with one invitation per
//! invitee), whether an opportunity is already shared with a partner, and ending a partner's
//! part in the deals this node originated.

use super::projection::shared_from_projection;
use super::{clean_note, put_change, Deals, DealsError, DocKind, EXPIRES_KEY, FOR_DEAL_KEY};
use super::{KIND_INVITATION, KIND_KEY};
use super::{MESSAGE_CHARS_MAX, MESSAGE_KEY};
use crate::domain::audit::{self, AuditKind};
use crate::domain::partners;
use crate::store::shared::{self, DealMeta};
use anyhow::{anyhow, Result};
use protocol::deal::{DealDoc, DealId, Invite, ParticipantStatus, Role, SharedFields};
use protocol::identity::NodeId;
use serde_json::json;

impl Deals {
    /// Creates a deal from an opportunity, shared with `partner_ids` (active partners), under the
    /// intersection of their policies. The origin takes `origin_role`.
    pub fn share(
        &self,
        opportunity_id: &str,
        partner_ids: &[String],
        origin_role: Role,
        now_ms: u64,
    ) -> Result<DealId, DealsError> {
        self.share_with_message(opportunity_id, partner_ids, origin_role, None, now_ms)
    }

    /// [`Deals::share`] with a message to the invitees, signed in each invitation (checked by
    /// [`clean_note`]: blank is none).
    pub fn share_with_message(
        &self,
        opportunity_id: &str,
        partner_ids: &[String],
        origin_role: Role,
        message: Option<&str>,
        now_ms: u64,
    ) -> Result<DealId, DealsError> {
        let message = clean_note("message", message, MESSAGE_CHARS_MAX)?;
        if partner_ids.is_empty() {
            return Err(DealsError::Invalid(
                "name at least one partner to share with".into(),
            ));
        }
        let mut partners_found = Vec::new();
        for wanted in partner_ids {
            let p = partners::resolve(&self.store, wanted)
                .map_err(|e| DealsError::NotFound(e.to_string()))?;
            if !p.is_active() {
                return Err(DealsError::Invalid(format!(
                    "{} is no longer a partner",
                    p.name
                )));
            }
            if partners_found
                .iter()
                .any(|q: &shared::PartnerRecord| q.id == p.id)
            {
                continue;
            }
            partners_found.push(p);
        }
        let _one_share_at_a_time = self.share_gate.lock().unwrap_or_else(|p| p.into_inner());
        for p in &partners_found {
            if let Some(deal) = self.shared_with(opportunity_id, &p.id)? {
                return Err(DealsError::Conflict(format!(
                    "opportunity {opportunity_id} is already shared with {} as deal {deal}",
                    p.name
                )));
            }
        }
        let projection = self.project_for(
            opportunity_id,
            &partners_found
                .iter()
                .map(|p| p.id.clone())
                .collect::<Vec<_>>(),
        )?;
        let Some(projection) = projection.filter(|p| !p.is_empty()) else {
            return Err(DealsError::Invalid(format!(
                "nothing to share: {}",
                self.why_withheld(opportunity_id, &partners_found)?
            )));
        };
        let shared = shared_from_projection(&projection);
        let invites: Vec<Invite> = partners_found
            .iter()
            .map(|p| {
                Ok(Invite {
                    node: NodeId::parse(&p.id).map_err(|e| anyhow!("partner id {}: {e}", p.id))?,
                    name: p.name.clone(),
                    role: partners::role_of_type(p.partner_type.as_deref()),
                })
            })
            .collect::<Result<_>>()?;
        let (doc, change) = DealDoc::create(
            &self.signer,
            now_ms,
            &self.name,
            origin_role,
            &invites,
            &shared,
        )
        .map_err(|e| DealsError::Invalid(e.to_string()))?;
        let id = doc.id();
        // One invitation per invitee: the redacted summary (title, stage, account domain — each
        // only when the projection has it), all an invitee holds until it accepts.
        let expires_at = now_ms.saturating_add(self.windows().invitation_expiry_ms);
        let mut summary = SharedFields {
            title: shared.title.clone(),
            stage: shared.stage,
            account_domain: shared.account_domain.clone(),
            ..SharedFields::default()
        };
        summary
            .other
            .insert(KIND_KEY.into(), Some(KIND_INVITATION.into()));
        summary
            .other
            .insert(FOR_DEAL_KEY.into(), Some(id.to_string()));
        summary
            .other
            .insert(EXPIRES_KEY.into(), Some(expires_at.to_string()));
        if let Some(m) = message {
            summary.other.insert(MESSAGE_KEY.into(), Some(m));
        }
        let mut invitations = Vec::new();
        for invite in &invites {
            let (inv, inv_change) = DealDoc::create(
                &self.signer,
                now_ms,
                &self.name,
                origin_role,
                std::slice::from_ref(invite),
                &summary,
            )
            .map_err(|e| DealsError::Invalid(e.to_string()))?;
            invitations.push((inv, inv_change));
        }
        let fields: Vec<&str> = projection.iter().map(|(k, _)| k).collect();
        let txn = self.store.write().map_err(DealsError::Internal)?;
        (|| -> Result<()> {
            shared::put_deal_meta_in(
                &txn,
                &DealMeta {
                    id: id.to_string(),
                    opportunity_id: Some(opportunity_id.to_string()),
                    stored_ms: now_ms,
                    redacted: Vec::new(),
                },
            )?;
            put_change(&txn, id, &change)?;
            for (inv, inv_change) in &invitations {
                shared::put_deal_meta_in(
                    &txn,
                    &DealMeta {
                        id: inv.id().to_string(),
                        opportunity_id: None,
                        stored_ms: now_ms,
                        redacted: Vec::new(),
                    },
                )?;
                put_change(&txn, inv.id(), inv_change)?;
            }
            for p in &partners_found {
                audit::record_in(
                    &txn,
                    now_ms,
                    AuditKind::Share,
                    Some(&p.id),
                    format!(
                        "shared opportunity {opportunity_id} with {} as deal {id}: {}",
                        p.name,
                        fields.join(", ")
                    ),
                    json!({"deal": id.to_string(), "opportunity_id": opportunity_id, "fields": fields,
                           "with": partners_found.iter().map(|p| p.id.clone()).collect::<Vec<_>>()}),
                )?;
            }
            Ok(())
        })()?;
        txn.commit().map_err(|e| DealsError::Internal(e.into()))?;
        let mut inner = self.lock();
        inner.docs.insert(id, doc);
        self.refresh(&mut inner, id, false);
        inner.touched.insert(id);
        for (inv, _) in invitations {
            let inv_id = inv.id();
            inner.docs.insert(inv_id, inv);
            self.refresh(&mut inner, inv_id, false);
        }
        Ok(id)
    }

    /// Ends `partner`'s part in every document this node originated that it takes part in
    /// (deals, their invitations, registrations): each is signed `removed` for it, so the other
    /// participants — relays included — stop sending it these documents and stop taking its
    /// changes to them (the partnership ended; see `partners::remove`). Returns the documents
    /// changed, to offer the remaining participants.
    pub fn end_participation(
        &self,
        partner: &NodeId,
        now_ms: u64,
    ) -> Result<Vec<DealId>, DealsError> {
        let ids: Vec<DealId> = {
            let inner = self.lock();
            inner
                .info
                .iter()
                .filter(|(_, i)| i.origin.as_ref() == Some(&self.me))
                .filter(|(_, i)| {
                    i.statuses
                        .get(partner)
                        .is_some_and(|s| *s != ParticipantStatus::Removed)
                })
                .map(|(id, _)| *id)
                .collect()
        };
        for id in &ids {
            self.edit(*id, now_ms, |doc, signer| {
                doc.remove_participant(signer, now_ms, partner)
            })?;
        }
        Ok(ids)
    }

    /// Why the policies for `partners` leave nothing of the opportunity to share: only the
    /// partners whose own policy withholds it are named, each with the rule that does; a partner
    /// with no policy is told to get one.
    fn why_withheld(
        &self,
        opportunity_id: &str,
        partners: &[shared::PartnerRecord],
    ) -> Result<String, DealsError> {
        let opp = self.store.opportunity(opportunity_id)?.ok_or_else(|| {
            DealsError::NotFound(format!("no opportunity with id {opportunity_id}"))
        })?;
        let account = self
            .store
            .account(&opp.account_id)?
            .ok_or_else(|| anyhow!("opportunity {opportunity_id} has no account"))?;
        let mut reasons = Vec::new();
        for p in partners {
            if shared::latest_policy(&self.store, &p.id)?.is_none() {
                reasons.push(format!(
                    "{} has no policy yet, so nothing is shared with it (set one with `cosell policy set \"{}\" FILE`)",
                    p.name, p.name
                ));
                continue;
            }
            let policy = partners::policy_for(&self.store, &p.id)?;
            if let Some(why) = policy.opportunities().withholds(&opp, &account) {
                reasons.push(format!(
                    "the policy for {} withholds opportunity {opportunity_id}: {why}",
                    p.name
                ));
            } else if policy::project(&policy, &opp, &account).is_none_or(|x| x.is_empty()) {
                reasons.push(format!(
                    "the policy for {} shares nothing of opportunity {opportunity_id} (its account is withheld, or no field it names has a value)",
                    p.name
                ));
            }
        }
        if reasons.is_empty() {
            let names: Vec<&str> = partners.iter().map(|p| p.name.as_str()).collect();
            reasons.push(format!(
                "the policies for {} share no field of opportunity {opportunity_id} in common (a deal shows every participant the same fields)",
                names.join(" and ")
            ));
        }
        Ok(reasons.join("; "))
    }

    /// Invites `partner` again to what deal `id` shares, after its invitation expired or it
    /// declined: a new deal from the same opportunity (origin only). Returns the new deal's id.
    pub fn reinvite(&self, id: DealId, partner: &str, now_ms: u64) -> Result<DealId, DealsError> {
        let meta = shared::deal_meta(&self.store, &id.to_string())?
            .ok_or_else(|| DealsError::NotFound(format!("no deal with id {id}")))?;
        let (role, statuses) = {
            let inner = self.lock();
            let doc = inner
                .docs
                .get(&id)
                .ok_or_else(|| DealsError::NotFound(format!("no deal with id {id}")))?;
            let view = doc.read_view();
            if view.origin.as_ref() != Some(&self.me) {
                return Err(DealsError::Forbidden(format!(
                    "deal {id} was shared by another node: only its origin invites to it"
                )));
            }
            let role = view
                .participants
                .get(&self.me)
                .and_then(|p| p.role)
                .unwrap_or(Role::Vendor);
            (role, view.participants.clone())
        };
        let Some(opportunity) = meta.opportunity_id else {
            return Err(DealsError::Invalid(format!(
                "deal {id} was not shared from an opportunity of this node"
            )));
        };
        let p = partners::resolve(&self.store, partner)
            .map_err(|e| DealsError::NotFound(e.to_string()))?;
        let node = NodeId::parse(&p.id).map_err(|e| anyhow!("partner id {}: {e}", p.id))?;
        if !statuses.contains_key(&node) {
            return Err(DealsError::Invalid(format!(
                "{} was never invited to deal {id}: share the opportunity with it (`cosell share {opportunity} --with {}`)",
                p.name, p.name
            )));
        }
        if let Some(open) = self.shared_with(&opportunity, &p.id)? {
            return Err(DealsError::Conflict(format!(
                "{} still takes part in deal {open} (invited, not yet expired, or accepted): nothing to re-invite",
                p.name
            )));
        }
        self.share(&opportunity, std::slice::from_ref(&p.id), role, now_ms)
    }

    /// The documents to offer partners after sharing deal `id`: the deal and its invitations.
    pub fn with_invitations(&self, id: DealId) -> Vec<DealId> {
        let inner = self.lock();
        let mut ids = vec![id];
        ids.extend(Self::invitations_of(&inner, id).into_iter().map(|(i, _)| i));
        ids
    }

    /// A deal made from this opportunity that the partner still takes part in (invited or
    /// accepted): sharing the opportunity with that partner again would make a second deal.
    pub fn shared_with(&self, opportunity_id: &str, partner_id: &str) -> Result<Option<DealId>> {
        let Ok(partner) = NodeId::parse(partner_id) else {
            return Ok(None);
        };
        let ended = |s: Option<&ParticipantStatus>| {
            matches!(
                s,
                Some(
                    ParticipantStatus::Declined
                        | ParticipantStatus::Expired
                        | ParticipantStatus::Removed
                )
            )
        };
        for deal in shared::deals_of_opportunity(&self.store, opportunity_id)? {
            let Ok(id) = DealId::parse(&deal) else {
                continue;
            };
            let inner = self.lock();
            let Some(info) = inner.info.get(&id).filter(|i| i.kind == DocKind::Deal) else {
                continue;
            };
            let Some(status) = info.statuses.get(&partner) else {
                continue;
            };
            // A partner that declined the deal, let its invitation expire, or was removed from
            // it may be offered the opportunity again, as a new deal.
            let now_ms = self.clock.now_ms();
            let answered_no = Self::invitations_of(&inner, id)
                .iter()
                .filter(|(_, invitee)| invitee == &partner)
                .any(|(inv, _)| {
                    let status = inner.info.get(inv).and_then(|i| i.statuses.get(&partner));
                    // An invitation left unanswered past its expiry ended too.
                    let lapsed = status == Some(&ParticipantStatus::Invited)
                        && inner.docs.get(inv).is_some_and(|d| {
                            d.read_view()
                                .shared
                                .other
                                .get(super::EXPIRES_KEY)
                                .and_then(|e| e.parse::<u64>().ok())
                                .is_some_and(|e| now_ms >= e)
                        });
                    ended(status) || lapsed
                });
            if !ended(Some(status)) && !answered_no {
                return Ok(Some(id));
            }
        }
        Ok(None)
    }
}
