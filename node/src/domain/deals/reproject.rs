//! Re-projection: a deal's shared fields follow its opportunity and the policies of its
//! participants (ARCHITECTURE.md invariant 1), and its pending invitations' summaries follow
//! with them.

use super::projection::{field_names_between, shared_from_projection, shared_update, typed_update};
use super::{put_change, Deals, DealsError};
use crate::domain::audit::{self, AuditKind};
use crate::domain::partners;
use crate::store::shared;
use anyhow::{anyhow, Result};
use policy::{Policy, Projection};
use protocol::deal::{DealId, ParticipantStatus, SharedFields, VerifiedChange};
use protocol::identity::NodeId;
use serde_json::json;

impl Deals {
    /// Re-projects the opportunity into every deal shared from it (and the summaries of their
    /// pending invitations); returns the documents changed.
    pub fn on_opportunity_changed(&self, opportunity_id: &str, now_ms: u64) -> Result<Vec<DealId>> {
        let mut changed = Vec::new();
        for deal_hex in shared::deals_of_opportunity(&self.store, opportunity_id)? {
            let id = DealId::parse(&deal_hex).map_err(|e| anyhow!("{e}"))?;
            let cause = format!("opportunity {opportunity_id} changed");
            changed.extend(self.reproject(id, opportunity_id, &cause, None, now_ms)?);
        }
        Ok(changed)
    }

    /// Re-projects every deal this node shared (after an import).
    pub fn on_opportunities_changed(&self, now_ms: u64) -> Result<Vec<DealId>> {
        let mut changed = Vec::new();
        for meta in shared::deal_metas(&self.store)? {
            if let Some(opp) = &meta.opportunity_id {
                changed.extend(self.on_opportunity_changed(opp, now_ms)?);
            }
        }
        changed.sort();
        changed.dedup();
        Ok(changed)
    }

    /// Re-projects every deal shared from here with `partner_id` under the policies now in
    /// force (after that partner's policy changed): fields the policy no longer allows are
    /// removed from the shared fields, newly allowed ones appear. Returns the documents changed.
    pub fn on_policy_changed(&self, partner_id: &str, now_ms: u64) -> Result<Vec<DealId>> {
        let partner = NodeId::parse(partner_id).map_err(|e| anyhow!("partner id: {e}"))?;
        let mut changed = Vec::new();
        let mut work = Vec::new();
        // The deals the partner takes part in (the participant index), not every deal stored:
        // a policy change for each of 1,000 partners would otherwise read all deals 1,000 times.
        for id in self.participation.documents_of(&partner) {
            let Some(meta) = shared::deal_meta(&self.store, &id.to_string())? else {
                continue;
            };
            let Some(opportunity_id) = &meta.opportunity_id else {
                continue;
            };
            let shared_with = self
                .lock()
                .docs
                .get(&id)
                .is_some_and(|d| d.is_initialized() && d.is_participant(&partner));
            if !shared_with {
                continue;
            }
            work.push((id, opportunity_id.clone()));
        }
        let cause = format!("the policy for {partner_id} changed");
        changed.extend(self.reproject_all(&work, &cause, Some(partner_id), now_ms)?);
        Ok(changed)
    }

    /// The projection of an opportunity under the intersection of these partners' policies.
    pub(super) fn project_for(
        &self,
        opportunity_id: &str,
        partner_ids: &[String],
    ) -> Result<Option<Projection>, DealsError> {
        let opp = self.store.opportunity(opportunity_id)?.ok_or_else(|| {
            DealsError::NotFound(format!("no opportunity with id {opportunity_id}"))
        })?;
        let account = self
            .store
            .account(&opp.account_id)?
            .ok_or_else(|| anyhow!("opportunity {opportunity_id} has no account"))?;
        let policies: Vec<Policy> = partner_ids
            .iter()
            .map(|p| partners::policy_for(&self.store, p))
            .collect::<Result<_>>()?;
        let refs: Vec<&Policy> = policies.iter().collect();
        let policy = Policy::intersect(&refs);
        Ok(policy::project(&policy, &opp, &account))
    }

    /// The outcome a withheld deal may still show: the opportunity's closed stage, when the
    /// intersection of the participants' policies shares the stage field and admits that stage
    /// (the deal was withheld for another reason, a tag, say).
    fn outcome_for(
        &self,
        opportunity_id: &str,
        partner_ids: &[String],
    ) -> Result<Option<protocol::records::Stage>> {
        let Some(opp) = self.store.opportunity(opportunity_id)? else {
            return Ok(None);
        };
        if opp.stage.is_open() {
            return Ok(None);
        }
        let policies: Vec<Policy> = partner_ids
            .iter()
            .map(|p| partners::policy_for(&self.store, p))
            .collect::<Result<_>>()?;
        let refs: Vec<&Policy> = policies.iter().collect();
        let policy = Policy::intersect(&refs);
        // Invariant 1: the stage goes out only where the policies share the stage field and
        // admit that stage (a policy whose stage filter leaves closed stages out keeps them).
        let o = policy.opportunities();
        let admitted = o.stages().is_none_or(|s| s.contains(&opp.stage));
        Ok((o.shares(policy::OpportunityField::Stage) && admitted).then_some(opp.stage))
    }

    /// Brings deal `id` (shared from `opportunity_id`) to the opportunity's projection under
    /// the intersection of its participants' current policies, and its pending invitations'
    /// summaries with it; one `share_update` audit entry names the fields. An opportunity the
    /// policies now withhold entirely leaves the deal with no shared fields.
    fn reproject(
        &self,
        id: DealId,
        opportunity_id: &str,
        cause: &str,
        partner: Option<&str>,
        now_ms: u64,
    ) -> Result<Vec<DealId>> {
        self.reproject_all(&[(id, opportunity_id.to_string())], cause, partner, now_ms)
    }

    /// [`Deals::reproject`] for several deals, their changes and audit entries in one durable
    /// transaction per [`REPROJECT_BATCH_MAX`] deals: a policy change re-projecting a
    /// partner's deals costs one commit, not one per deal.
    fn reproject_all(
        &self,
        deals: &[(DealId, String)],
        cause: &str,
        partner: Option<&str>,
        now_ms: u64,
    ) -> Result<Vec<DealId>> {
        let mut changed = Vec::new();
        for batch in deals.chunks(REPROJECT_BATCH_MAX) {
            changed.extend(self.reproject_batch(batch, cause, partner, now_ms)?);
        }
        Ok(changed)
    }

    /// What each deal of `deals` should share now (read without the engine's lock).
    fn plan(&self, id: DealId, opportunity_id: &str) -> Result<Option<Plan>> {
        let participants: Vec<String> = {
            let inner = self.lock();
            let Some(doc) = inner.docs.get(&id).filter(|d| d.is_initialized()) else {
                return Ok(None);
            };
            if doc.origin() != Some(&self.me) {
                return Ok(None);
            }
            doc.read_view()
                .participants
                .keys()
                .filter(|n| *n != &self.me)
                .map(|n| n.to_string())
                .collect()
        };
        let (projection, withheld) = match self.project_for(opportunity_id, &participants) {
            Ok(Some(p)) => (p, None),
            Ok(None) => (
                Projection::default(),
                Some(self.outcome_for(opportunity_id, &participants)?),
            ),
            Err(DealsError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(anyhow!("{e}")),
        };
        let mut new = shared_from_projection(&projection);
        // A deal the policies no longer admit says so (and, where they share the stage, how it
        // ended) instead of going blank.
        if let Some(outcome) = withheld {
            new.stage = outcome;
            new.other.insert(
                super::WITHHELD_KEY.into(),
                Some(outcome.map(|s| s.as_str().to_string()).unwrap_or_default()),
            );
        }
        Ok(Some(Plan {
            id,
            opportunity_id: opportunity_id.to_string(),
            participants,
            fields: projection.iter().map(|(k, _)| k.to_string()).collect(),
            new,
        }))
    }

    fn reproject_batch(
        &self,
        deals: &[(DealId, String)],
        cause: &str,
        partner: Option<&str>,
        now_ms: u64,
    ) -> Result<Vec<DealId>> {
        let mut plans = Vec::with_capacity(deals.len());
        for (id, opportunity_id) in deals {
            plans.extend(self.plan(*id, opportunity_id)?);
        }
        let mut inner = self.lock();
        let mut changes: Vec<(DealId, VerifiedChange)> = Vec::new();
        let mut audits: Vec<(String, serde_json::Value)> = Vec::new();
        // A failure stops the batch after what is done so far is stored (its changes are in
        // the documents already).
        let mut failed = None;
        for plan in plans {
            match self.reproject_one(&mut inner, plan, cause, now_ms, &mut changes) {
                Ok(Some(entry)) => audits.push(entry),
                Ok(None) => {}
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        if changes.is_empty() {
            return failed.map_or(Ok(Vec::new()), Err);
        }
        let txn = self.store.write()?;
        for (doc_id, change) in &changes {
            put_change(&txn, *doc_id, change)?;
        }
        for (text, data) in audits {
            audit::record_in(&txn, now_ms, AuditKind::ShareUpdate, partner, text, data)?;
        }
        txn.commit()?;
        let ids: Vec<DealId> = changes.iter().map(|(d, _)| *d).collect();
        for doc_id in &ids {
            self.refresh(&mut inner, *doc_id, true);
        }
        failed.map_or(Ok(ids), Err)
    }

    /// Signs the changes that bring one deal (and its pending invitations' summaries) to
    /// `plan` into `changes`; the deal's audit entry (text and data) when it changed.
    fn reproject_one(
        &self,
        inner: &mut super::Inner,
        plan: Plan,
        cause: &str,
        now_ms: u64,
        changes: &mut Vec<(DealId, VerifiedChange)>,
    ) -> Result<Option<(String, serde_json::Value)>> {
        let Plan {
            id,
            opportunity_id,
            participants,
            fields,
            mut new,
        } = plan;
        let before = changes.len();
        let Some(doc) = inner.docs.get_mut(&id) else {
            return Ok(None);
        };
        let current = doc.read_view().shared;
        // Erasure requests stay: a participant offline when one was signed still applies it.
        if let Some(asked) = current.other.get(super::ERASURE_KEY) {
            new.other
                .insert(super::ERASURE_KEY.into(), Some(asked.clone()));
        }
        let update = shared_update(&current, &new);
        if update != SharedFields::default() {
            match doc.set_shared(&self.signer, now_ms, &update) {
                Ok(c) => changes.push((id, c)),
                Err(protocol::deal::DealError::Empty) => {}
                Err(e) => return Err(anyhow!("deal {id}: {e}")),
            }
        }
        // Pending invitations carry the redacted summary of the same projection. They are
        // looked for only when a summary field changed: an import re-projects every deal, and
        // finding a deal's invitations scans what the node holds.
        let summary = SharedFields {
            title: new.title.clone(),
            stage: new.stage,
            account_domain: new.account_domain.clone(),
            ..SharedFields::default()
        };
        let summary_changed = current.title != summary.title
            || current.stage != summary.stage
            || current.account_domain != summary.account_domain;
        let invitations = if summary_changed {
            Self::invitations_of(inner, id)
        } else {
            Vec::new()
        };
        for (inv, invitee) in invitations {
            let Some(doc) = inner.docs.get_mut(&inv) else {
                continue;
            };
            let view = doc.read_view();
            let pending = view.origin.as_ref() == Some(&self.me)
                && view.participants.get(&invitee).and_then(|p| p.status)
                    == Some(ParticipantStatus::Invited);
            if !pending {
                continue;
            }
            let update = typed_update(&view.shared, &summary);
            if update == SharedFields::default() {
                continue;
            }
            match doc.set_shared(&self.signer, now_ms, &update) {
                Ok(c) => changes.push((inv, c)),
                Err(protocol::deal::DealError::Empty) => {}
                Err(e) => return Err(anyhow!("invitation {inv}: {e}")),
            }
        }
        if changes.len() == before {
            return Ok(None);
        }
        let (added, removed) = field_names_between(&current, &new);
        let mut summary_text = if fields.is_empty() {
            format!("{cause}: deal {id} shares nothing now")
        } else {
            format!("{cause}: deal {id} updated ({})", fields.join(", "))
        };
        if !removed.is_empty() {
            summary_text.push_str(&format!("; no longer shared: {}", removed.join(", ")));
        }
        if !added.is_empty() {
            summary_text.push_str(&format!("; newly shared: {}", added.join(", ")));
        }
        let data = json!({"deal": id.to_string(), "opportunity_id": opportunity_id, "fields": fields,
               "added": added, "removed": removed, "to": participants, "cause": cause});
        Ok(Some((summary_text, data)))
    }
}

/// Most deals re-projected in one transaction (and one hold of the engine's lock).
const REPROJECT_BATCH_MAX: usize = 256;

/// What one deal should share now, worked out before the engine's lock is taken.
struct Plan {
    id: DealId,
    opportunity_id: String,
    participants: Vec<String>,
    fields: Vec<String>,
    new: SharedFields,
}
