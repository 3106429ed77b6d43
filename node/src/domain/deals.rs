//! Shared deals on this node: creating one from an opportunity's multi-partner projection,
//! writing this node's section, keeping the shared fields in step with the local opportunity,
//! and the node's side of sync (which documents to offer a peer, what to do with what it sends).
//!
//! Invariant: only a policy projection ever enters a deal document (DESIGN.md invariant 1). With
//! several partners the projection is taken under `Policy::intersect` of their policies, so
//! every participant may see all of it.
//! Invariant: every change received is verified by the protocol crate before it is applied, and
//! is durable in redb (with the peer's sync state) before the node answers the message that
//! carried it (invariant 4).
//! Invariant: a peer is offered only documents it participates in, and its messages about other
//! documents are refused (invariant 3).

use crate::domain::audit::{self, kind};
use crate::domain::events::EventBus;
use crate::domain::partners;
use crate::store::shared::{self, DealMeta};
use crate::store::Store;
use anyhow::{anyhow, Context, Result};
use policy::{Policy, Projection};
use protocol::deal::{
    DealDoc, DealId, DealView, Invite, ParticipantStatus, RegistrationStatus, Role, SectionUpdate,
    SharedFields, Signer, VerifiedChange,
};
use protocol::envelope::SignedChange;
use protocol::identity::{NodeId, NodeKey};
use protocol::records::{Amount, Currency, Date, Domain, Stage};
use protocol::sync::{receive_batch_parallel, PeerSync};
use protocol::wire::DocSync;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

/// Most replicas of unknown deals held in memory before their genesis change arrives: bounds
/// what a partner can make this node allocate by naming deals that do not exist.
pub const UNINITIALIZED_REPLICAS_MAX: usize = 4096;
/// Most rejected changes from one message written to the audit log one by one (the rest are
/// counted in one entry): a hostile peer cannot flood the log.
pub const AUDITED_REJECTIONS_PER_MESSAGE_MAX: usize = 20;
/// Most history entries a deal view shows (the newest).
pub const HISTORY_ENTRIES_MAX: usize = 500;

/// Shared-field key (origin-written, in the genesis change) that marks what a document is for:
/// absent for a deal, [`KIND_INVITATION`] or [`KIND_REGISTRATION`].
pub const KIND_KEY: &str = "cosell.kind";
/// [`KIND_KEY`] value of an invitation: the redacted summary of one deal for one invitee.
pub const KIND_INVITATION: &str = "invitation";
/// [`KIND_KEY`] value of a deal registration (a partner registers an account with a vendor).
pub const KIND_REGISTRATION: &str = "registration";
/// Shared-field key of an invitation: the id of the deal it invites to.
pub const FOR_DEAL_KEY: &str = "cosell.deal";
/// Shared-field key of an invitation: when it expires (ms since the epoch).
pub const EXPIRES_KEY: &str = "cosell.expires_at";

const DAY_MS: f64 = 86_400_000.0;
const HOUR_MS: f64 = 3_600_000.0;

/// The workflow windows (from `cosell.toml`), in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Windows {
    /// How long an invitation waits for an answer.
    pub invitation_expiry_ms: u64,
    /// How long an approved registration protects its partner.
    pub registration_protection_ms: u64,
    /// How long a vendor has to answer a registration before it is overdue.
    pub registration_sla_ms: u64,
}

impl Default for Windows {
    fn default() -> Self {
        Windows::from_settings(14.0, 90.0, 48.0)
    }
}

impl Windows {
    /// From the settings' units (days, days, hours); fractions allowed.
    pub fn from_settings(invitation_days: f64, protection_days: f64, sla_hours: f64) -> Self {
        let ms = |x: f64| x.max(0.0).round().min(u64::MAX as f64) as u64;
        Windows {
            invitation_expiry_ms: ms(invitation_days * DAY_MS),
            registration_protection_ms: ms(protection_days * DAY_MS),
            registration_sla_ms: ms(sla_hours * HOUR_MS),
        }
    }
}

/// What a document is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DocKind {
    /// A shared co-sell deal.
    #[default]
    Deal,
    /// The redacted invitation to `deal` for one invitee.
    Invitation {
        /// The deal invited to.
        deal: DealId,
    },
    /// A deal registration.
    Registration,
}

/// What the node tracks of each document to gate sync and to notice events.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct DocInfo {
    pub kind: DocKind,
    pub origin: Option<NodeId>,
    pub statuses: BTreeMap<NodeId, ParticipantStatus>,
    pub shared_stage: Option<Stage>,
    pub section_stages: BTreeMap<NodeId, Stage>,
    /// Participants that wrote a section: they evidently hold the deal.
    pub writers: HashSet<NodeId>,
    pub claimed: bool,
    pub decisions: BTreeMap<NodeId, RegistrationStatus>,
}

/// The kind of a document from its view.
pub fn kind_of(view: &DealView) -> DocKind {
    match view.shared.other.get(KIND_KEY).map(String::as_str) {
        Some(KIND_INVITATION) => match view
            .shared
            .other
            .get(FOR_DEAL_KEY)
            .and_then(|d| DealId::parse(d).ok())
        {
            Some(deal) => DocKind::Invitation { deal },
            None => DocKind::Registration,
        },
        Some(KIND_REGISTRATION) => DocKind::Registration,
        _ => DocKind::Deal,
    }
}

fn info_of(doc: &DealDoc) -> Option<DocInfo> {
    if !doc.is_initialized() {
        return None;
    }
    let view = doc.read_view();
    Some(DocInfo {
        kind: kind_of(&view),
        origin: view.origin.clone(),
        statuses: view
            .participants
            .iter()
            .filter_map(|(n, p)| p.status.map(|s| (n.clone(), s)))
            .collect(),
        shared_stage: view.shared.stage,
        section_stages: view
            .sections
            .iter()
            .filter_map(|(n, s)| s.stage.map(|st| (n.clone(), st)))
            .collect(),
        writers: view.sections.keys().cloned().collect(),
        claimed: !view.registration.claims.is_empty(),
        decisions: view
            .registration
            .decisions
            .iter()
            .filter_map(|(n, d)| d.status.map(|s| (n.clone(), s)))
            .collect(),
    })
}

/// Why a deal operation failed; the API maps each to a status.
#[derive(Debug, thiserror::Error)]
pub enum DealsError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    /// Several fields of one request are bad: each field and why, all of them at once.
    #[error("{}", .0.iter().map(|(f, m)| format!("{f}: {m}")).collect::<Vec<_>>().join("; "))]
    InvalidFields(Vec<(String, String)>),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl DealsError {
    /// [`DealsError::InvalidFields`] from (field, why) pairs named by static field names.
    pub fn fields(problems: Vec<(&'static str, String)>) -> Self {
        DealsError::InvalidFields(
            problems
                .into_iter()
                .map(|(f, m)| (f.to_string(), m))
                .collect(),
        )
    }
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct SyncCounters {
    /// Signed changes sent to peers.
    pub changes_sent: AtomicU64,
    /// Changes received and applied.
    pub changes_received: AtomicU64,
    /// Changes (or messages) refused.
    pub changes_rejected: AtomicU64,
}

/// What receiving one peer's message did.
#[derive(Debug, Default)]
pub struct Received {
    /// Deals that gained changes (to push on to other participants).
    pub changed: Vec<DealId>,
    /// This node's answer for the same deals.
    pub reply: Vec<DocSync>,
}

/// The deal engine: documents in memory, their changes and sync states in redb.
pub struct Deals {
    store: Arc<Store>,
    signer: Signer,
    me: NodeId,
    name: String,
    inner: Mutex<Inner>,
    /// Sync counters.
    pub counters: SyncCounters,
    events: OnceLock<Arc<EventBus>>,
    windows: Mutex<Windows>,
    auto_accept: std::sync::atomic::AtomicBool,
    /// Held by [`Deals::share`] from its "already shared?" check to its commit, so shares of
    /// one opportunity sent at the same moment cannot both pass the check (one deal per
    /// opportunity and partner). Shares are rare; serializing them costs nothing.
    share_gate: Mutex<()>,
}

#[derive(Default)]
pub(crate) struct Inner {
    pub docs: HashMap<DealId, DealDoc>,
    /// Sync state per (peer, deal) for the current connection; loaded from redb on first use.
    peers: HashMap<(NodeId, DealId), PeerSync>,
    /// What each initialized document is for, its statuses and stages.
    pub info: HashMap<DealId, DocInfo>,
    /// (deal, invitee) pairs whose invitation this node made and the invitee accepted: the
    /// origin may send such an invitee the deal itself.
    accepted_invites: HashSet<(DealId, NodeId)>,
    /// Deals changed (here or by a peer) since the registration watch last looked: activity
    /// that renews approved registrations on their account.
    touched: HashSet<DealId>,
}

impl Deals {
    /// Loads every stored deal (re-verifying its changes) and makes this run's signer.
    pub fn open(
        store: Arc<Store>,
        secret: [u8; 32],
        run_counter: u64,
        name: &str,
    ) -> Result<Deals> {
        let key = NodeKey::from_secret_bytes(&secret);
        let me = key.node_id().clone();
        let signer = Signer::new(key, run_counter);
        let mut docs = HashMap::new();
        for meta in shared::deal_metas(&store)? {
            let id =
                DealId::parse(&meta.id).map_err(|e| anyhow!("stored deal {}: {e}", meta.id))?;
            let envelopes = shared::deal_changes(&store, &meta.id)?
                .iter()
                .map(|b| SignedChange::decode(b))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| anyhow!("stored deal {}: {e}", meta.id))?;
            let mut doc = DealDoc::replica(id);
            let outcome = doc.ingest(envelopes);
            if !outcome.rejected.is_empty() {
                tracing::warn!(deal = %id, rejected = outcome.rejected.len(), "stored changes no longer verify");
            }
            docs.insert(id, doc);
        }
        tracing::info!(deals = docs.len(), "deals loaded");
        let deals = Deals {
            store,
            signer,
            me,
            name: name.to_string(),
            inner: Mutex::new(Inner {
                docs,
                ..Inner::default()
            }),
            counters: SyncCounters::default(),
            events: OnceLock::new(),
            windows: Mutex::new(Windows::default()),
            auto_accept: std::sync::atomic::AtomicBool::new(false),
            share_gate: Mutex::new(()),
        };
        {
            let mut inner = deals.lock();
            let ids: Vec<DealId> = inner.docs.keys().copied().collect();
            for id in ids {
                deals.refresh(&mut inner, id, false);
            }
        }
        Ok(deals)
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Publishes workflow events (invitations, answers, stage changes, registrations) here.
    pub fn set_events(&self, events: Arc<EventBus>) {
        let _ = self.events.set(events);
    }

    /// Sets the workflow windows (from `cosell.toml`).
    pub fn set_windows(&self, windows: Windows) {
        *self.windows.lock().unwrap_or_else(|p| p.into_inner()) = windows;
    }

    /// Whether this node accepts every invitation from a partner as it arrives (setting
    /// `auto_accept_invitations`; off by default, so an invitee reviews the summary first).
    pub fn set_auto_accept(&self, on: bool) {
        self.auto_accept.store(on, Ordering::Relaxed);
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

    /// The workflow windows in force.
    pub fn windows(&self) -> Windows {
        *self.windows.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The signer of this run.
    pub(crate) fn signer(&self) -> &Signer {
        &self.signer
    }

    /// The store.
    pub(crate) fn store(&self) -> &Arc<Store> {
        &self.store
    }

    pub(crate) fn publish(&self, kind: &'static str, data: Value) {
        if let Some(bus) = self.events.get() {
            bus.publish(kind, data);
        }
    }

    /// Re-reads what the node tracks of one document; with `publish`, emits the events its
    /// change implies (an invitation arrived, an invitee answered, a stage or a registration
    /// decision changed).
    pub(crate) fn refresh(&self, inner: &mut Inner, id: DealId, publish: bool) {
        let Some(new) = inner.docs.get(&id).and_then(info_of) else {
            return;
        };
        let old = inner.info.get(&id).cloned();
        if let DocKind::Invitation { deal } = new.kind {
            if new.origin.as_ref() == Some(&self.me) {
                for (node, status) in &new.statuses {
                    if node == &self.me {
                        continue;
                    }
                    let key = (deal, node.clone());
                    // An acceptance signed after the invitation expired does not count: the
                    // deal is not sent (the invitee refuses to sign one; this is for one that
                    // arrives anyway).
                    let in_time = inner
                        .docs
                        .get(&id)
                        .is_some_and(|doc| late_acceptance(doc, node).is_none());
                    if *status == ParticipantStatus::Accepted && in_time {
                        inner.accepted_invites.insert(key);
                    } else {
                        inner.accepted_invites.remove(&key);
                    }
                }
            }
        }
        if publish && old.as_ref() != Some(&new) {
            if let Some(doc) = inner.docs.get(&id) {
                for (kind, data) in events_between(&self.me, id, doc, old.as_ref(), &new) {
                    self.publish(kind, data);
                }
            }
        }
        // Any other change to a deal (a partner's section, its signed acceptance arriving) is
        // news for an open deal page too: the web UI refreshes on `deal.*`.
        if publish && matches!(new.kind, DocKind::Deal) {
            self.publish("deal.updated", json!({"deal_id": id.to_string()}));
            inner.touched.insert(id);
        }
        inner.info.insert(id, new);
    }

    /// Whether `peer` may be sent document `id` now. A deal goes to a participant only once it
    /// has accepted (in the deal, or — for the origin — in the invitation this node made it);
    /// until then it has only its invitation's redacted summary. Invitations and registrations
    /// go to their participants. Nothing goes to a participant the origin removed.
    fn may_send(inner: &Inner, id: &DealId, peer: &NodeId) -> bool {
        let Some(info) = inner.info.get(id) else {
            return false;
        };
        if info.statuses.get(peer) == Some(&ParticipantStatus::Removed) {
            return false;
        }
        match info.kind {
            DocKind::Deal => {
                info.origin.as_ref() == Some(peer)
                    || info.statuses.get(peer) == Some(&ParticipantStatus::Accepted)
                    || info.writers.contains(peer)
                    || inner.accepted_invites.contains(&(*id, peer.clone()))
            }
            DocKind::Invitation { .. } | DocKind::Registration => true,
        }
    }

    /// The deals changed since the last call (see `Inner::touched`).
    pub(crate) fn take_touched(&self) -> HashSet<DealId> {
        std::mem::take(&mut self.lock().touched)
    }

    /// This node's id.
    pub fn me(&self) -> &NodeId {
        &self.me
    }

    /// This node's company name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Forgets the in-memory sync state with a peer for some deals (their messages were not
    /// sent), so the next round offers them again.
    pub fn forget(&self, peer: &NodeId, deals: &[DealId]) {
        let mut inner = self.lock();
        for id in deals {
            inner.peers.remove(&(peer.clone(), *id));
        }
    }

    /// Creates a deal from an opportunity, shared with `partner_ids` (active partners), under the
    /// intersection of their policies. The origin takes `origin_role`.
    pub fn share(
        &self,
        opportunity_id: &str,
        partner_ids: &[String],
        origin_role: Role,
        now_ms: u64,
    ) -> Result<DealId, DealsError> {
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
            let names: Vec<&str> = partners_found.iter().map(|p| p.name.as_str()).collect();
            return Err(DealsError::Invalid(format!(
                "nothing to share: the policies for {} withhold opportunity {opportunity_id} (set a policy with `cosell policy set`)",
                names.join(", ")
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
                    },
                )?;
                put_change(&txn, inv.id(), inv_change)?;
            }
            for p in &partners_found {
                audit::record_in(
                    &txn,
                    now_ms,
                    kind::SHARE,
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

    /// The invitation documents (this node's or made for it) of deal `deal`, with the invitee.
    pub(crate) fn invitations_of(inner: &Inner, deal: DealId) -> Vec<(DealId, NodeId)> {
        inner
            .info
            .iter()
            .filter(|(_, i)| i.kind == DocKind::Invitation { deal })
            .filter_map(|(id, i)| {
                i.statuses
                    .keys()
                    .find(|n| Some(*n) != i.origin.as_ref())
                    .map(|n| (*id, n.clone()))
            })
            .collect()
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

    /// The documents to offer partners after sharing deal `id`: the deal and its invitations.
    pub fn with_invitations(&self, id: DealId) -> Vec<DealId> {
        let inner = self.lock();
        let mut ids = vec![id];
        ids.extend(Self::invitations_of(&inner, id).into_iter().map(|(i, _)| i));
        ids
    }

    /// Stores a new document made here (its genesis and any further changes) in one
    /// transaction, then holds it. Used for registrations.
    pub(crate) fn add_document(
        &self,
        doc: DealDoc,
        changes: &[VerifiedChange],
        now_ms: u64,
        audit_entry: Option<(&str, Option<&str>, String, Value)>,
    ) -> Result<DealId, DealsError> {
        let id = doc.id();
        let txn = self.store.write()?;
        (|| -> Result<()> {
            shared::put_deal_meta_in(
                &txn,
                &DealMeta {
                    id: id.to_string(),
                    opportunity_id: None,
                    stored_ms: now_ms,
                },
            )?;
            for c in changes {
                put_change(&txn, id, c)?;
            }
            if let Some((kind, partner, message, data)) = audit_entry {
                audit::record_in(&txn, now_ms, kind, partner, message, data)?;
            }
            Ok(())
        })()?;
        txn.commit().map_err(|e| DealsError::Internal(e.into()))?;
        let mut inner = self.lock();
        inner.docs.insert(id, doc);
        self.refresh(&mut inner, id, true);
        Ok(id)
    }

    /// The projection of an opportunity under the intersection of these partners' policies.
    fn project_for(
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

    /// Re-projects every deal shared from here with `partner_id` under the policies now in
    /// force (after that partner's policy changed): fields the policy no longer allows are
    /// removed from the shared fields, newly allowed ones appear. Returns the documents changed.
    pub fn on_policy_changed(&self, partner_id: &str, now_ms: u64) -> Result<Vec<DealId>> {
        let partner = NodeId::parse(partner_id).map_err(|e| anyhow!("partner id: {e}"))?;
        let mut changed = Vec::new();
        for meta in shared::deal_metas(&self.store)? {
            let Some(opportunity_id) = &meta.opportunity_id else {
                continue;
            };
            let id =
                DealId::parse(&meta.id).map_err(|e| anyhow!("stored deal {}: {e}", meta.id))?;
            let shared_with = self
                .lock()
                .docs
                .get(&id)
                .is_some_and(|d| d.is_initialized() && d.is_participant(&partner));
            if !shared_with {
                continue;
            }
            let cause = format!("the policy for {partner_id} changed");
            changed.extend(self.reproject(id, opportunity_id, &cause, Some(partner_id), now_ms)?);
        }
        Ok(changed)
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
        let participants: Vec<String> = {
            let inner = self.lock();
            let Some(doc) = inner.docs.get(&id).filter(|d| d.is_initialized()) else {
                return Ok(Vec::new());
            };
            if doc.origin() != Some(&self.me) {
                return Ok(Vec::new());
            }
            doc.read_view()
                .participants
                .keys()
                .filter(|n| *n != &self.me)
                .map(|n| n.to_string())
                .collect()
        };
        let projection = match self.project_for(opportunity_id, &participants) {
            Ok(p) => p.unwrap_or_default(),
            Err(DealsError::NotFound(_)) => return Ok(Vec::new()),
            Err(e) => return Err(anyhow!("{e}")),
        };
        let new = shared_from_projection(&projection);
        let mut inner = self.lock();
        let Some(doc) = inner.docs.get_mut(&id) else {
            return Ok(Vec::new());
        };
        let current = doc.read_view().shared;
        let update = shared_update(&current, &new);
        let mut changes: Vec<(DealId, VerifiedChange)> = Vec::new();
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
            Self::invitations_of(&inner, id)
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
        if changes.is_empty() {
            return Ok(Vec::new());
        }
        let fields: Vec<&str> = projection.iter().map(|(k, _)| k).collect();
        let (added, removed) = field_names_between(&current, &new);
        let txn = self.store.write()?;
        for (doc_id, change) in &changes {
            put_change(&txn, *doc_id, change)?;
        }
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
        audit::record_in(
            &txn,
            now_ms,
            kind::SHARE_UPDATE,
            partner,
            summary_text,
            json!({"deal": id.to_string(), "opportunity_id": opportunity_id, "fields": fields,
                   "added": added, "removed": removed, "to": participants, "cause": cause}),
        )?;
        txn.commit()?;
        let ids: Vec<DealId> = changes.iter().map(|(d, _)| *d).collect();
        for doc_id in &ids {
            self.refresh(&mut inner, *doc_id, true);
        }
        Ok(ids)
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

    /// Writes this node's own section of a deal. Every text longer than a deal field holds is
    /// refused by its field's name, all at once, before the document is touched.
    pub fn update_section(
        &self,
        id: DealId,
        update: &SectionUpdate,
        now_ms: u64,
    ) -> Result<(), DealsError> {
        self.require_deal(id)?;
        let problems = section_problems(update);
        if !problems.is_empty() {
            return Err(DealsError::fields(problems));
        }
        self.edit(id, now_ms, |doc, signer| {
            doc.update_section(signer, now_ms, update)
        })
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
        let invitation = {
            let inner = self.lock();
            Self::invitations_of(&inner, id)
                .into_iter()
                .find(|(_, invitee)| invitee == &self.me)
                .map(|(inv, _)| inv)
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
                    self.edit(inv, now_ms, |doc, signer| {
                        if accept {
                            doc.accept(signer, now_ms)
                        } else {
                            doc.decline(signer, now_ms)
                        }
                    })?;
                    changed.push(inv);
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
                        doc.decline(signer, now_ms)
                    }
                })?;
                changed.push(id);
            }
            _ => {}
        }
        Ok(changed)
    }

    /// Makes one signed change to a held document, durable before it returns.
    pub(crate) fn edit(
        &self,
        id: DealId,
        _now_ms: u64,
        f: impl FnOnce(&mut DealDoc, &Signer) -> Result<VerifiedChange, protocol::deal::DealError>,
    ) -> Result<(), DealsError> {
        let mut inner = self.lock();
        let doc = inner
            .docs
            .get_mut(&id)
            .filter(|d| d.is_initialized())
            .ok_or_else(|| DealsError::NotFound(format!("no deal with id {id}")))?;
        let change = f(doc, &self.signer).map_err(|e| match e {
            protocol::deal::DealError::NotAllowed(m) => {
                DealsError::Forbidden(format!("not allowed: {m}"))
            }
            protocol::deal::DealError::Empty => DealsError::Invalid("nothing to change".into()),
            other => DealsError::Invalid(other.to_string()),
        })?;
        let txn = self.store.write()?;
        put_change(&txn, id, &change)?;
        txn.commit().map_err(|e| DealsError::Internal(e.into()))?;
        self.refresh(&mut inner, id, true);
        Ok(())
    }

    /// Links a deal to one of this node's opportunities (or a new one, on the account with the
    /// deal's domain — made when there is none): the opportunity's id and stage go into this
    /// node's section, beside the others' stages. Returns the opportunity id.
    pub fn link(
        &self,
        id: DealId,
        opportunity_id: Option<&str>,
        create: bool,
        now_ms: u64,
    ) -> Result<String, DealsError> {
        self.require_deal(id)?;
        if create {
            if let Some(linked) = self.linked_opportunity(id)? {
                return Err(DealsError::Conflict(format!(
                    "deal {id} is already linked to opportunity {linked}; to link another, give its opportunity_id"
                )));
            }
        }
        let opp = match (opportunity_id, create) {
            (Some(o), false) => self
                .store
                .opportunity(o)?
                .ok_or_else(|| DealsError::NotFound(format!("no opportunity with id {o}")))?,
            (None, true) => self.create_linked_opportunity(id)?,
            _ => {
                return Err(DealsError::Invalid(
                    "give either opportunity_id or create: true".into(),
                ))
            }
        };
        self.update_section(
            id,
            &SectionUpdate {
                stage: Some(opp.stage),
                linked_opportunity: Some(opp.id.clone()),
                ..SectionUpdate::default()
            },
            now_ms,
        )?;
        Ok(opp.id)
    }

    fn create_linked_opportunity(
        &self,
        id: DealId,
    ) -> Result<protocol::records::Opportunity, DealsError> {
        use protocol::records::{Account, AccountStatus, Opportunity};
        let shared = {
            let inner = self.lock();
            inner.docs[&id].read_view().shared
        };
        let domain = shared.account_domain.clone().ok_or_else(|| {
            DealsError::Invalid(
                "the deal shares no account domain to match: link an existing opportunity".into(),
            )
        })?;
        let txn = self.store.write()?;
        let opp = {
            let mut tables = crate::store::WriteTables::open(&txn)?;
            let account_id = match tables.account_ids_by_domain(domain.as_str(), 1)?.first() {
                Some(a) => a.clone(),
                None => {
                    let account = Account {
                        id: ulid::Ulid::new().to_string(),
                        external_id: None,
                        name: shared
                            .account_name
                            .clone()
                            .unwrap_or_else(|| domain.as_str().to_string()),
                        domain: Some(domain.clone()),
                        industry: None,
                        country: None,
                        status: AccountStatus::Prospect,
                        owner: None,
                        tags: vec![],
                    };
                    tables.put_account(&account)?;
                    account.id
                }
            };
            let opp = Opportunity {
                id: ulid::Ulid::new().to_string(),
                external_id: None,
                account_id,
                name: shared
                    .title
                    .clone()
                    .unwrap_or_else(|| format!("Co-sell {}", domain.as_str())),
                stage: shared.stage.unwrap_or(Stage::Prospect),
                // An amount the deal shares without its currency is left out.
                amount: shared.currency.and(shared.amount),
                currency: shared.amount.and(shared.currency),
                close_date: shared.close_date,
                owner: None,
                next_step: None,
                description: Some(format!("Linked to co-sell deal {id}")),
                tags: vec!["cosell".into()],
            };
            tables.put_opportunity(&opp)?;
            opp
        };
        txn.commit().map_err(|e| DealsError::Internal(e.into()))?;
        Ok(opp)
    }

    /// Keeps this node's section stage in step with the opportunity its deals are linked to.
    pub fn on_linked_opportunity_changed(
        &self,
        opportunity_id: &str,
        now_ms: u64,
    ) -> Result<Vec<DealId>> {
        let Some(opp) = self.store.opportunity(opportunity_id)? else {
            return Ok(Vec::new());
        };
        let linked: Vec<DealId> = {
            let inner = self.lock();
            inner
                .info
                .iter()
                .filter(|(_, i)| i.kind == DocKind::Deal)
                .filter(|(id, _)| {
                    inner.docs.get(id).is_some_and(|d| {
                        d.read_view().sections.get(&self.me).is_some_and(|s| {
                            s.linked_opportunity.as_deref() == Some(opportunity_id)
                                && s.stage != Some(opp.stage)
                        })
                    })
                })
                .map(|(id, _)| *id)
                .collect()
        };
        for id in &linked {
            self.update_section(
                *id,
                &SectionUpdate {
                    stage: Some(opp.stage),
                    ..SectionUpdate::default()
                },
                now_ms,
            )
            .map_err(|e| anyhow!("deal {id}: {e}"))?;
        }
        Ok(linked)
    }

    /// Resolves a participant of a deal by node id or (unique, case-insensitive) name.
    fn participant(&self, id: DealId, who: &str) -> Result<NodeId, DealsError> {
        let inner = self.lock();
        let view = inner
            .docs
            .get(&id)
            .ok_or_else(|| DealsError::NotFound(format!("no deal with id {id}")))?
            .read_view();
        let who = who.trim();
        if let Some((n, _)) = view.participants.iter().find(|(n, _)| n.as_str() == who) {
            return Ok(n.clone());
        }
        let named: Vec<&NodeId> = view
            .participants
            .iter()
            .filter(|(_, p)| p.name.eq_ignore_ascii_case(who))
            .map(|(n, _)| n)
            .collect();
        match named.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(DealsError::Invalid(format!(
                "'{who}' is not a participant of deal {id}"
            ))),
            _ => Err(DealsError::Invalid(format!(
                "'{who}' names several participants: use a node id"
            ))),
        }
    }

    /// This node proposes who sourced and who influenced the deal (participants, by id or name).
    pub fn propose_attribution(
        &self,
        id: DealId,
        sourced_by: &str,
        influenced_by: &[String],
        now_ms: u64,
    ) -> Result<(), DealsError> {
        self.require_deal(id)?;
        let sourced = self.participant(id, sourced_by)?;
        let influenced = influenced_by
            .iter()
            .map(|w| self.participant(id, w))
            .collect::<Result<Vec<_>, _>>()?;
        self.edit(id, now_ms, |doc, signer| {
            doc.propose_attribution(signer, now_ms, &sourced, &influenced)
        })
    }

    /// This node accepts another participant's attribution proposal (the only other one when
    /// `proposer` is `None`).
    pub fn accept_attribution(
        &self,
        id: DealId,
        proposer: Option<&str>,
        now_ms: u64,
    ) -> Result<(), DealsError> {
        self.require_deal(id)?;
        let proposer = match proposer {
            Some(p) => self.participant(id, p)?,
            None => {
                let inner = self.lock();
                let view = inner.docs[&id].read_view();
                let others: Vec<NodeId> = view
                    .attribution
                    .proposals
                    .keys()
                    .filter(|n| *n != &self.me)
                    .cloned()
                    .collect();
                match others.as_slice() {
                    [one] => one.clone(),
                    [] => {
                        return Err(DealsError::Invalid(
                            "no other participant has proposed an attribution".into(),
                        ))
                    }
                    _ => {
                        return Err(DealsError::Invalid(
                            "several proposals: name the proposer".into(),
                        ))
                    }
                }
            }
        };
        self.edit(id, now_ms, |doc, signer| {
            doc.accept_attribution(signer, now_ms, &proposer)
        })
    }

    /// Fails unless `id` is a deal held here (not an invitation or a registration).
    /// The opportunity of this node's pipeline that its section of deal `id` links to, if it
    /// still exists.
    pub fn linked_opportunity(&self, id: DealId) -> Result<Option<String>, DealsError> {
        let linked = self
            .lock()
            .docs
            .get(&id)
            .filter(|d| d.is_initialized())
            .and_then(|d| d.read_view().sections.get(&self.me).cloned())
            .and_then(|s| s.linked_opportunity);
        match linked {
            Some(o) if self.store.opportunity(&o)?.is_some() => Ok(Some(o)),
            _ => Ok(None),
        }
    }

    pub(crate) fn require_deal(&self, id: DealId) -> Result<(), DealsError> {
        if self.lock().info.get(&id).map(|i| i.kind) == Some(DocKind::Deal) {
            Ok(())
        } else {
            Err(DealsError::NotFound(format!("no deal with id {id}")))
        }
    }

    /// Every deal id held (initialized documents only).
    pub fn ids(&self) -> Vec<DealId> {
        let inner = self.lock();
        let mut ids: Vec<DealId> = inner
            .info
            .iter()
            .filter(|(_, i)| i.kind == DocKind::Deal)
            .map(|(id, _)| *id)
            .collect();
        ids.sort();
        ids
    }

    /// The participants of a deal other than this node.
    pub fn other_participants(&self, id: DealId) -> Vec<NodeId> {
        let inner = self.lock();
        inner
            .docs
            .get(&id)
            .map(|d| {
                d.read_view()
                    .participants
                    .into_keys()
                    .filter(|n| n != &self.me)
                    .collect()
            })
            .unwrap_or_default()
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
            let answered_no = Self::invitations_of(&inner, id)
                .iter()
                .filter(|(_, invitee)| invitee == &partner)
                .any(|(inv, _)| ended(inner.info.get(inv).and_then(|i| i.statuses.get(&partner))));
            if !ended(Some(status)) && !answered_no {
                return Ok(Some(id));
            }
        }
        Ok(None)
    }

    /// A deal in the API's shape, or `None`.
    pub fn view(&self, id: DealId, with_history: bool) -> Result<Option<Value>> {
        let opportunity_id = if with_history {
            shared::deal_meta(&self.store, &id.to_string())?.and_then(|m| m.opportunity_id)
        } else {
            None
        };
        let inner = self.lock();
        if inner.info.get(&id).map(|i| i.kind) != Some(DocKind::Deal) {
            return Ok(None);
        }
        let Some(doc) = inner.docs.get(&id).filter(|d| d.is_initialized()) else {
            return Ok(None);
        };
        let mut v = deal_json(doc, with_history);
        self.overlay(&inner, id, &mut v);
        if let Some(o) = opportunity_id {
            v["opportunity_id"] = json!(o);
        }
        Ok(Some(v))
    }

    /// Every deal (without history), in id order.
    pub fn list(&self) -> Vec<Value> {
        let inner = self.lock();
        let mut ids: Vec<&DealId> = inner.docs.keys().collect();
        ids.sort();
        ids.into_iter()
            .filter(|id| inner.info.get(id).map(|i| i.kind) == Some(DocKind::Deal))
            .filter_map(|id| inner.docs.get(id))
            .filter(|d| d.is_initialized())
            .map(|d| {
                let mut v = deal_json(d, false);
                self.overlay(&inner, d.id(), &mut v);
                v
            })
            .collect()
    }

    /// One page of deals (without history) in id order: those after `after` (a deal id, the
    /// previous page's cursor), at most `limit`, optionally only those whose shared stage is
    /// `stage` or that have `participant` among their participants. Returns the page and the
    /// cursor of the next one, if any.
    pub fn list_page(
        &self,
        after: Option<DealId>,
        limit: usize,
        stage: Option<&str>,
        participant: Option<&str>,
    ) -> (Vec<Value>, Option<String>) {
        let inner = self.lock();
        let mut ids: Vec<&DealId> = inner
            .docs
            .keys()
            .filter(|id| after.is_none_or(|a| **id > a))
            .collect();
        ids.sort();
        let mut items = Vec::new();
        let mut more = false;
        for id in ids {
            if inner.info.get(id).map(|i| i.kind) != Some(DocKind::Deal) {
                continue;
            }
            let Some(doc) = inner.docs.get(id).filter(|d| d.is_initialized()) else {
                continue;
            };
            let mut v = deal_json(doc, false);
            if stage.is_some_and(|s| v["stage"].as_str() != Some(s)) {
                continue;
            }
            let has = |p: &str| {
                v["participants"]
                    .as_array()
                    .is_some_and(|all| all.iter().any(|x| x["id"].as_str() == Some(p)))
            };
            if participant.is_some_and(|p| !has(p)) {
                continue;
            }
            if items.len() == limit {
                more = true;
                break;
            }
            self.overlay(&inner, doc.id(), &mut v);
            items.push(v);
        }
        let next = more
            .then(|| {
                items
                    .last()
                    .and_then(|v| v["id"].as_str().map(str::to_string))
            })
            .flatten();
        (items, next)
    }

    /// What only this node knows about a deal: the answers to the invitations it made (an
    /// invitee that has not the deal yet answered in its invitation) and expired invitations.
    fn overlay(&self, inner: &Inner, id: DealId, v: &mut Value) {
        let now = crate::clock::now_ms();
        let mut answers: HashMap<String, (Option<ParticipantStatus>, Option<u64>)> = HashMap::new();
        for (inv, invitee) in Self::invitations_of(inner, id) {
            let Some(doc) = inner.docs.get(&inv) else {
                continue;
            };
            let view = doc.read_view();
            let expires = view
                .shared
                .other
                .get(EXPIRES_KEY)
                .and_then(|e| e.parse::<u64>().ok());
            let mut status = view.participants.get(&invitee).and_then(|p| p.status);
            if status == Some(ParticipantStatus::Accepted)
                && late_acceptance(doc, &invitee).is_some()
            {
                status = Some(ParticipantStatus::Expired);
            }
            answers.insert(invitee.to_string(), (status, expires));
        }
        if let Some(list) = v["participants"].as_array_mut() {
            for p in list {
                let Some(node) = p["id"].as_str().map(str::to_string) else {
                    continue;
                };
                let Some((status, expires)) = answers.get(&node) else {
                    continue;
                };
                if p["status"] != "invited" {
                    continue;
                }
                match status {
                    Some(ParticipantStatus::Invited) | None => {
                        if let Some(e) = expires {
                            p["expires_at"] = json!(audit::rfc3339(*e));
                            if now >= *e {
                                p["status"] = json!("expired");
                            }
                        }
                    }
                    Some(s) => p["status"] = json!(s.as_str()),
                }
            }
        }
    }

    /// Forgets the in-memory sync state with a peer (after a disconnect or a failed request), so
    /// the next exchange starts from the persisted shared heads.
    pub fn reset_peer(&self, peer: &NodeId) {
        self.lock().peers.retain(|(p, _), _| p != peer);
    }

    /// Messages for `peer` about `only` these deals (or all), each a document it participates in.
    /// A round over all deals (a connect, a retry) leaves out the deals whose heads the peer is
    /// known to hold (the persisted shared heads): a reconnect costs what changed, not the store.
    pub fn generate(&self, peer: &NodeId, only: Option<&[DealId]>) -> Result<Vec<DocSync>> {
        let ids: Vec<DealId> = match only {
            Some(list) => list.to_vec(),
            None => self.lock().docs.keys().copied().collect(),
        };
        self.generate_where(peer, &ids, only.is_none(), |d| {
            d.is_initialized() && d.is_participant(peer)
        })
    }

    /// The answer to a peer's message: messages about the deals it named (a replica still
    /// waiting for its genesis asks for it).
    pub fn reply_for(&self, peer: &NodeId, deals: &[DealId]) -> Result<Vec<DocSync>> {
        self.generate_where(peer, deals, false, |d| {
            !d.is_initialized() || d.is_participant(peer)
        })
    }

    fn generate_where(
        &self,
        peer: &NodeId,
        ids: &[DealId],
        skip_in_sync: bool,
        offer: impl Fn(&DealDoc) -> bool,
    ) -> Result<Vec<DocSync>> {
        let mut inner = self.lock();
        let mut out = Vec::new();
        for &id in ids {
            let Some(doc) = inner.docs.get(&id) else {
                continue;
            };
            if !offer(doc) || (doc.is_initialized() && !Self::may_send(&inner, &id, peer)) {
                continue;
            }
            self.peer_state(&mut inner, peer, id)?;
            let Inner { docs, peers, .. } = &mut *inner;
            if let (Some(doc), Some(state)) = (docs.get(&id), peers.get_mut(&(peer.clone(), id))) {
                if skip_in_sync && in_sync(doc, state) {
                    continue;
                }
                if let Some(message) = doc.generate_sync(state) {
                    self.counters
                        .changes_sent
                        .fetch_add(message.changes.len() as u64, Ordering::Relaxed);
                    out.push(message);
                }
            }
        }
        Ok(out)
    }

    /// Makes sure the in-memory sync state for (peer, deal) exists, loading it from redb.
    fn peer_state(&self, inner: &mut Inner, peer: &NodeId, id: DealId) -> Result<()> {
        let key = (peer.clone(), id);
        if inner.peers.contains_key(&key) {
            return Ok(());
        }
        let state = match shared::sync_state(&self.store, &id.to_string(), peer.as_str())? {
            Some(bytes) => PeerSync::decode(&bytes).unwrap_or_default(),
            None => PeerSync::new(),
        };
        inner.peers.insert(key, state);
        Ok(())
    }

    /// Handles one peer's sync messages: verifies and applies, persists, audits rejections, and
    /// answers. Durable before it returns (the caller then acknowledges).
    pub fn receive(&self, peer: &NodeId, messages: Vec<DocSync>, now_ms: u64) -> Result<Received> {
        let mut inner = self.lock();
        let mut refused: Vec<(Option<DealId>, String)> = Vec::new();
        let mut taken: Vec<(DealDoc, PeerSync, DocSync, bool)> = Vec::new();
        let uninitialized = inner.docs.values().filter(|d| !d.is_initialized()).count();
        let mut new_replicas = 0usize;
        for message in messages {
            let id = message.deal;
            if taken.iter().any(|(d, ..)| d.id() == id) {
                refused.push((Some(id), "the same deal twice in one message".into()));
                continue;
            }
            let known = inner.docs.contains_key(&id);
            if known {
                let doc = &inner.docs[&id];
                if doc.is_initialized() && !doc.is_participant(peer) {
                    refused.push((
                        Some(id),
                        "the peer is not a participant of this deal".into(),
                    ));
                    continue;
                }
                let removed = inner.info.get(&id).and_then(|i| i.statuses.get(peer))
                    == Some(&ParticipantStatus::Removed);
                if removed {
                    refused.push((
                        Some(id),
                        "the deal's origin removed the peer from this deal".into(),
                    ));
                    continue;
                }
            } else if uninitialized + new_replicas >= UNINITIALIZED_REPLICAS_MAX {
                refused.push((Some(id), "too many unknown deals".into()));
                continue;
            } else {
                new_replicas += 1;
            }
            self.peer_state(&mut inner, peer, id)?;
            let doc = inner
                .docs
                .remove(&id)
                .unwrap_or_else(|| DealDoc::replica(id));
            let state = inner.peers.remove(&(peer.clone(), id)).unwrap_or_default();
            let was_initialized = doc.is_initialized();
            taken.push((doc, state, message, was_initialized));
        }
        let processed: Vec<DealId> = taken.iter().map(|(d, ..)| d.id()).collect();
        // Deals are independent documents: verify, authorize and apply them on every core
        // (the outcome is the same as on one thread, in the same order).
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let outcomes = receive_batch_parallel(
            taken
                .iter_mut()
                .map(|(doc, state, message, _)| (doc, state, message.clone()))
                .collect(),
            threads,
        );
        let mut received = Received::default();
        let mut txn = self.store.write()?;
        let mut wrote_records = false;
        let mut audited = 0usize;
        let mut rejected_total = refused.len();
        for ((doc, state, _, was_initialized), outcome) in taken.into_iter().zip(outcomes) {
            let id = doc.id();
            let mut keep = true;
            if doc.is_initialized() && !doc.is_participant(&self.me) {
                refused.push((
                    Some(id),
                    "this node is not a participant of this deal".into(),
                ));
                keep = false;
            }
            for r in &outcome.rejected {
                rejected_total += 1;
                if audited < AUDITED_REJECTIONS_PER_MESSAGE_MAX {
                    audited += 1;
                    audit::record_in(
                        &txn,
                        now_ms,
                        kind::REJECTED,
                        Some(peer.as_str()),
                        format!("refused a change to deal {id} from {peer}: {}", r.reason),
                        json!({"deal": id.to_string(), "hash": r.hash.map(|h| h.to_string()),
                               "author": r.author.as_ref().map(|a| a.to_string()), "reason": r.reason.to_string()}),
                    )?;
                }
            }
            if !keep {
                continue;
            }
            if doc.is_initialized() {
                if !was_initialized || !outcome.applied.is_empty() {
                    wrote_records = true;
                    if !was_initialized {
                        shared::put_deal_meta_in(
                            &txn,
                            &DealMeta {
                                id: id.to_string(),
                                opportunity_id: None,
                                stored_ms: now_ms,
                            },
                        )?;
                    }
                    for change in &outcome.applied {
                        put_change(&txn, id, change)?;
                    }
                }
                shared::put_sync_state_in(&txn, &id.to_string(), peer.as_str(), &state.encode())?;
            }
            if !outcome.applied.is_empty() {
                self.counters
                    .changes_received
                    .fetch_add(outcome.applied.len() as u64, Ordering::Relaxed);
                received.changed.push(id);
            }
            inner.peers.insert((peer.clone(), id), state);
            inner.docs.insert(id, doc);
        }
        for (deal, reason) in refused.iter().skip(audited.min(refused.len())) {
            if audited >= AUDITED_REJECTIONS_PER_MESSAGE_MAX {
                break;
            }
            audited += 1;
            audit::record_in(
                &txn,
                now_ms,
                kind::REJECTED,
                Some(peer.as_str()),
                format!("refused a message from {peer}: {reason}"),
                json!({"deal": deal.map(|d| d.to_string()), "reason": reason}),
            )?;
        }
        if rejected_total > audited {
            audit::record_in(
                &txn,
                now_ms,
                kind::REJECTED,
                Some(peer.as_str()),
                format!(
                    "refused {} more changes from {peer} in the same message",
                    rejected_total - audited
                ),
                json!({"count": rejected_total - audited}),
            )?;
        }
        // A message that brought no change and nothing to audit only moved the peers' sync
        // state, which is an optimization (lost in a crash, it costs a re-offer on reconnect,
        // never a change): no fsync for it. It becomes durable with the next durable commit.
        let only_sync_state = rejected_total == 0 && received.changed.is_empty() && !wrote_records;
        if only_sync_state {
            let _ = txn.set_durability(redb::Durability::None);
        }
        txn.commit().context("cannot store received changes")?;
        self.counters
            .changes_rejected
            .fetch_add(rejected_total as u64, Ordering::Relaxed);
        // Drop documents that turned out not to be for this node.
        inner
            .docs
            .retain(|_, d| !d.is_initialized() || d.is_participant(&self.me));
        let mut answer_too: Vec<DealId> = Vec::new();
        let mut to_accept: Vec<DealId> = Vec::new();
        let mut auto_accept: Vec<DealId> = Vec::new();
        let mut late: Vec<(DealId, DealId, u64, u64)> = Vec::new();
        for id in &received.changed {
            let was = inner.info.get(id).cloned();
            self.refresh(&mut inner, *id, true);
            let Some(now) = inner.info.get(id) else {
                continue;
            };
            if let DocKind::Invitation { deal } = now.kind {
                let newly_accepted = now.statuses.get(peer) == Some(&ParticipantStatus::Accepted)
                    && was.as_ref().and_then(|w| w.statuses.get(peer))
                        != Some(&ParticipantStatus::Accepted);
                if now.origin.as_ref() == Some(&self.me) && newly_accepted {
                    if let Some((at, expires)) =
                        inner.docs.get(id).and_then(|d| late_acceptance(d, peer))
                    {
                        late.push((deal, *id, at, expires));
                    }
                }
            }
            match now.kind {
                // An invitee answered the invitation this node made: the deal itself may now
                // go to it, in this same exchange.
                DocKind::Invitation { deal }
                    if now.origin.as_ref() == Some(&self.me)
                        && inner.accepted_invites.contains(&(deal, peer.clone())) =>
                {
                    answer_too.push(deal);
                }
                // An invitation to this node, accepted at once when the node says so.
                DocKind::Invitation { deal }
                    if was.is_none()
                        && self.auto_accept.load(Ordering::Relaxed)
                        && now.statuses.get(&self.me) == Some(&ParticipantStatus::Invited) =>
                {
                    auto_accept.push(deal);
                }
                // The deal arrived after this node accepted its invitation: sign the
                // acceptance into the deal too.
                DocKind::Deal
                    if was.is_none()
                        && now.statuses.get(&self.me) == Some(&ParticipantStatus::Invited) =>
                {
                    let accepted = Self::invitations_of(&inner, *id)
                        .into_iter()
                        .any(|(inv, n)| {
                            n == self.me
                                && inner.info.get(&inv).and_then(|i| i.statuses.get(&self.me))
                                    == Some(&ParticipantStatus::Accepted)
                        });
                    if accepted {
                        to_accept.push(*id);
                    }
                }
                _ => {}
            }
        }
        drop(inner);
        for (deal, invitation, at, expires) in late {
            audit::record(
                &self.store,
                now_ms,
                kind::REJECTED,
                Some(peer.as_str()),
                format!(
                    "{peer} accepted the invitation to deal {deal} at {}, after it expired on {}: the deal is not sent",
                    audit::rfc3339(at),
                    audit::rfc3339(expires)
                ),
                json!({"deal": deal.to_string(), "invitation": invitation.to_string(),
                       "accepted_at": audit::rfc3339(at), "expired_at": audit::rfc3339(expires),
                       "reason": "invitation expired"}),
            )?;
        }
        for deal in auto_accept {
            match self.respond(deal, true, now_ms) {
                Ok(ids) => received.changed.extend(ids),
                Err(e) => tracing::warn!(deal = %deal, error = %e, "cannot accept the invitation"),
            }
        }
        for id in to_accept {
            match self.edit(id, now_ms, |doc, signer| doc.accept(signer, now_ms)) {
                Ok(()) => received.changed.push(id),
                Err(e) => tracing::warn!(deal = %id, error = %e, "cannot sign the acceptance"),
            }
        }
        let mut asked = processed;
        for d in answer_too {
            if !asked.contains(&d) {
                asked.push(d);
            }
        }
        received.reply = self.reply_for(peer, &asked)?;
        Ok(received)
    }
}

/// When `invitee` accepted the invitation `doc` after it expired: the time of its latest signed
/// change (its acceptance) and the expiry, or `None` when it has not, or did so in time. The time
/// is the invitee's signed claim (SECURITY.md: timestamps are claims).
fn late_acceptance(doc: &DealDoc, invitee: &NodeId) -> Option<(u64, u64)> {
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

/// Whether the peer is known to hold every change of `doc`.
fn in_sync(doc: &DealDoc, state: &PeerSync) -> bool {
    let mut shared = state.shared_heads().to_vec();
    shared.sort();
    let mut heads = doc.heads();
    heads.sort();
    !heads.is_empty() && shared == heads
}

fn put_change(txn: &redb::WriteTransaction, id: DealId, change: &VerifiedChange) -> Result<()> {
    shared::put_change_in(
        txn,
        &id.to_string(),
        &change.hash().to_string(),
        &change.envelope().encode(),
    )
}

/// Turns a projection into the deal's shared fields. Typed fields take values that parse as
/// their type; transformed values (amount ranges, coarse dates) and every other field travel as
/// text under their policy name.
pub fn shared_from_projection(projection: &Projection) -> SharedFields {
    let mut s = SharedFields::default();
    for (key, value) in projection.iter() {
        let text = match value {
            policy::Value::Text(t) => t.clone(),
            policy::Value::List(l) => l.join(", "),
        };
        match key {
            "name" => s.title = Some(text),
            "stage" => match Stage::parse(&text) {
                Ok(st) => s.stage = Some(st),
                Err(_) => {
                    s.other.insert(text_form("stage").into(), Some(text));
                }
            },
            "amount" => match Amount::parse(&text) {
                Ok(a) => s.amount = Some(a),
                Err(_) => {
                    s.other.insert(text_form("amount").into(), Some(text));
                }
            },
            "currency" => match Currency::parse(&text) {
                Ok(c) => s.currency = Some(c),
                Err(_) => {
                    s.other.insert(text_form("currency").into(), Some(text));
                }
            },
            "close_date" => match Date::parse(&text) {
                Ok(d) => s.close_date = Some(d),
                Err(_) => {
                    s.other.insert(text_form("close_date").into(), Some(text));
                }
            },
            "account.name" => s.account_name = Some(text),
            "account.domain" => match Domain::parse(&text) {
                Ok(d) => s.account_domain = Some(d),
                Err(_) => {
                    s.other
                        .insert(text_form("account.domain").into(), Some(text));
                }
            },
            other => {
                s.other.insert(other.to_string(), Some(text));
            }
        }
    }
    s
}

/// The update that takes `current` to `new`: changed typed fields, changed or removed extras,
/// typed fields `new` no longer has cleared.
fn shared_update(current: &protocol::deal::SharedView, new: &SharedFields) -> SharedFields {
    let mut update = typed_update(current, new);
    for (k, v) in &new.other {
        if let Some(v) = v {
            if current.other.get(k) != Some(v) {
                update.other.insert(k.clone(), Some(v.clone()));
            }
        }
    }
    for k in current.other.keys() {
        if !new.other.contains_key(k) {
            update.other.insert(k.clone(), None);
        }
    }
    update
}

/// The typed-field part of [`shared_update`]; extras are left as they are.
fn typed_update(current: &protocol::deal::SharedView, new: &SharedFields) -> SharedFields {
    use protocol::deal::SharedField as F;
    let mut clear = std::collections::BTreeSet::new();
    fn changed<T: Clone + PartialEq>(
        cur: &Option<T>,
        new: &Option<T>,
        field: protocol::deal::SharedField,
        clear: &mut std::collections::BTreeSet<protocol::deal::SharedField>,
    ) -> Option<T> {
        match new {
            Some(v) if cur.as_ref() != Some(v) => Some(v.clone()),
            Some(_) => None,
            None => {
                if cur.is_some() {
                    clear.insert(field);
                }
                None
            }
        }
    }
    SharedFields {
        title: changed(&current.title, &new.title, F::Title, &mut clear),
        stage: changed(&current.stage, &new.stage, F::Stage, &mut clear),
        amount: changed(&current.amount, &new.amount, F::Amount, &mut clear),
        currency: changed(&current.currency, &new.currency, F::Currency, &mut clear),
        close_date: changed(
            &current.close_date,
            &new.close_date,
            F::CloseDate,
            &mut clear,
        ),
        account_name: changed(
            &current.account_name,
            &new.account_name,
            F::AccountName,
            &mut clear,
        ),
        account_domain: changed(
            &current.account_domain,
            &new.account_domain,
            F::AccountDomain,
            &mut clear,
        ),
        other: BTreeMap::new(),
        clear,
    }
}

/// The field names (as `deal_json` shows them) `new` adds to and removes from `current`.
fn field_names_between(
    current: &protocol::deal::SharedView,
    new: &SharedFields,
) -> (Vec<String>, Vec<String>) {
    // `SharedView` (read) and `SharedFields` (written) name their typed fields alike.
    macro_rules! typed_present {
        ($f:expr) => {
            [
                ("name", $f.title.is_some()),
                ("stage", $f.stage.is_some()),
                ("amount", $f.amount.is_some()),
                ("currency", $f.currency.is_some()),
                ("close_date", $f.close_date.is_some()),
                ("account.name", $f.account_name.is_some()),
                ("account.domain", $f.account_domain.is_some()),
            ]
        };
    }
    let before: HashSet<String> = shared_field_names(typed_present!(current), current.other.keys());
    let after: HashSet<String> = shared_field_names(
        typed_present!(new),
        new.other
            .iter()
            .filter(|(_, v)| v.is_some())
            .map(|(k, _)| k),
    );
    let mut added: Vec<String> = after.difference(&before).cloned().collect();
    let mut removed: Vec<String> = before.difference(&after).cloned().collect();
    added.sort();
    removed.sort();
    (added, removed)
}

fn shared_field_names<'a>(
    typed: [(&str, bool); 7],
    other: impl Iterator<Item = &'a String>,
) -> HashSet<String> {
    typed
        .iter()
        .filter(|(_, present)| *present)
        .map(|(name, _)| name.to_string())
        .chain(other.cloned())
        .collect()
}

/// A deal in the contract's shape.
pub fn deal_json(doc: &DealDoc, with_history: bool) -> Value {
    let view = doc.read_view();
    let participants: Vec<Value> = view
        .participants
        .iter()
        .map(|(id, p)| {
            json!({"id": id.to_string(), "name": p.name, "role": p.role.map(|r| r.as_str()),
                   "status": p.status.map(|s| s.as_str())})
        })
        .collect();
    let s = &view.shared;
    let mut fields = serde_json::Map::new();
    let mut list_fields: Vec<(String, Value)> = Vec::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            fields.insert(k.to_string(), Value::String(v));
        }
    };
    put("name", s.title.clone());
    put("stage", s.stage.map(|x| x.as_str().to_string()));
    put("amount", s.amount.map(|x| x.to_string()));
    put("currency", s.currency.map(|x| x.as_str().to_string()));
    put("close_date", s.close_date.map(|x| x.to_string()));
    put("account.name", s.account_name.clone());
    put(
        "account.domain",
        s.account_domain.as_ref().map(|x| x.as_str().to_string()),
    );
    for (k, v) in &s.other {
        // A transformed value (a quarter for a date, a range for an amount) travels under its
        // own key beside the typed slot; the API names it by its field, as a policy preview does.
        let field = TEXT_FORMS
            .iter()
            .find(|(_, text_key)| text_key == k)
            .map_or(k.as_str(), |(field, _)| field);
        if LIST_FIELDS.contains(&field) {
            // Travels joined (`apac, priority`); a list, as the policy preview shows it.
            let items: Vec<&str> = v.split(", ").filter(|t| !t.is_empty()).collect();
            list_fields.push((field.to_string(), json!(items)));
        } else {
            put(field, Some(v.clone()));
        }
    }
    fields.extend(list_fields);
    let sections: serde_json::Map<String, Value> = view
        .sections
        .iter()
        .map(|(id, sec)| {
            (
                id.to_string(),
                json!({"notes": sec.notes, "next_step": sec.next_step, "contacts": sec.contacts,
                       "contribution": sec.contribution, "stage": sec.stage.map(|x| x.as_str()),
                       "linked_opportunity": sec.linked_opportunity}),
            )
        })
        .collect();
    let r = &view.registration;
    let registration = json!({
        "registered_by": r.registered_by.as_ref().map(|n| n.to_string()),
        "status": r.status.map(|x| x.as_str()),
        "claims": r.claims.iter().map(|(n, c)| (n.to_string(), json!({
            "vendor": c.vendor.as_ref().map(|v| v.to_string()),
            "registered_at_ms": c.registered_at_ms, "notes": c.notes}))).collect::<serde_json::Map<_, _>>(),
    });
    // Each participant's own stage side by side: its section's stage (from its linked
    // opportunity), the origin's falling back to the shared stage.
    let mut stages = serde_json::Map::new();
    for id in view.participants.keys() {
        let own = view.sections.get(id).and_then(|s| s.stage);
        let stage = own.or_else(|| {
            (view.origin.as_ref() == Some(id))
                .then_some(s.stage)
                .flatten()
        });
        stages.insert(id.to_string(), json!(stage.map(|x| x.as_str())));
    }
    let mut out = json!({
        "id": doc.id().to_string(),
        "origin": view.origin.as_ref().map(|o| o.to_string()),
        "created_at": view.created_at_ms.map(audit::rfc3339),
        "participants": participants,
        "fields": fields,
        "stage": s.stage.map(|x| x.as_str()),
        "sections": sections,
        "registration": registration,
        "stages": stages,
        "attribution": attribution_json(&view),
        "changes": doc.automerge().get_changes(&[]).len(),
    });
    if with_history {
        out["history"] = Value::Array(history(doc));
    }
    out
}

/// Attribution as proposed and accepted: `{proposals:[{by, sourced_by, influenced_by,
/// accepted_by}], agreed, disputed}`. A proposal is agreed once every other participant that
/// accepted the deal accepted exactly its current content (an acceptance of content the proposer
/// later changed does not count); disputed while proposals differ and none is agreed.
pub fn attribution_json(view: &DealView) -> Value {
    let a = &view.attribution;
    let members: Vec<&NodeId> = view
        .participants
        .iter()
        .filter(|(n, p)| {
            view.origin.as_ref() == Some(*n) || p.status == Some(ParticipantStatus::Accepted)
        })
        .map(|(n, _)| n)
        .collect();
    let mut proposals = Vec::new();
    let mut agreed = Value::Null;
    for (by, p) in &a.proposals {
        let accepted_by: Vec<&NodeId> = a
            .acceptances
            .iter()
            .filter(|(n, proposer)| {
                *proposer == by
                    && *n != by
                    && a.accepted_content.get(*n).is_none_or(|c| {
                        c.sourced_by == p.sourced_by && c.influenced_by == p.influenced_by
                    })
            })
            .map(|(n, _)| n)
            .collect();
        let everyone =
            members.len() > 1 && members.iter().all(|m| *m == by || accepted_by.contains(m));
        let entry = json!({
            "by": by.to_string(),
            "sourced_by": p.sourced_by.as_ref().map(|n| n.to_string()),
            "influenced_by": p.influenced_by.iter().map(|n| n.to_string()).collect::<Vec<_>>(),
            "accepted_by": accepted_by.iter().map(|n| n.to_string()).collect::<Vec<_>>(),
        });
        if everyone && agreed.is_null() {
            agreed = entry.clone();
        }
        proposals.push(entry);
    }
    let mut contents: Vec<(Option<&NodeId>, &Vec<NodeId>)> = a
        .proposals
        .values()
        .map(|p| (p.sourced_by.as_ref(), &p.influenced_by))
        .collect();
    contents.sort();
    contents.dedup();
    let disputed = agreed.is_null() && contents.len() > 1;
    json!({"proposals": proposals, "agreed": agreed, "disputed": disputed})
}

/// Where a projected field's value goes when it is not of the field's type (a policy transform
/// made it text: `close_date = "quarter"` gives `2026-Q4`): (field, key among the shared
/// fields' other values). The typed slot stays empty.
const TEXT_FORMS: &[(&str, &str)] = &[
    ("stage", "stage_text"),
    ("amount", "amount_range"),
    ("currency", "currency_text"),
    ("close_date", "close_period"),
    ("account.domain", "account.domain_text"),
];

/// Projected fields that are lists: they travel joined with `, ` (a tag holds no comma).
const LIST_FIELDS: &[&str] = &["tags", "account.tags"];

/// The key a field's text form travels under (`field` is one of [`TEXT_FORMS`]).
fn text_form(field: &str) -> &'static str {
    TEXT_FORMS
        .iter()
        .find(|(f, _)| *f == field)
        .map_or("", |(_, key)| key)
}

/// The events one document's change implies on this node.
fn events_between(
    me: &NodeId,
    id: DealId,
    doc: &DealDoc,
    old: Option<&DocInfo>,
    new: &DocInfo,
) -> Vec<(&'static str, Value)> {
    let mut out = Vec::new();
    let origin = new.origin.as_ref();
    match new.kind {
        DocKind::Invitation { deal } => {
            let view = doc.read_view();
            if old.is_none() && origin != Some(me) {
                out.push((
                    "deal.invited",
                    invitation_json(&view, deal, me, crate::clock::now_ms()),
                ));
            }
            for (node, status) in &new.statuses {
                if Some(node) == origin || old.and_then(|o| o.statuses.get(node)) == Some(status) {
                    continue;
                }
                let kind = match status {
                    ParticipantStatus::Accepted => "deal.accepted",
                    ParticipantStatus::Declined => "deal.declined",
                    _ => continue,
                };
                out.push((
                    kind,
                    json!({"deal_id": deal.to_string(), "node": node.to_string(),
                           "name": view.participants.get(node).map(|p| p.name.clone())}),
                ));
            }
        }
        DocKind::Deal => {
            let Some(old) = old else { return out };
            if old.shared_stage != new.shared_stage {
                if let Some(stage) = new.shared_stage {
                    out.push((
                        "deal.stage_changed",
                        json!({"deal_id": id.to_string(), "node": origin.map(|o| o.to_string()),
                               "stage": stage.as_str(), "shared": true}),
                    ));
                }
            }
            for (node, stage) in &new.section_stages {
                if old.section_stages.get(node) != Some(stage) {
                    out.push((
                        "deal.stage_changed",
                        json!({"deal_id": id.to_string(), "node": node.to_string(),
                               "stage": stage.as_str(), "shared": false}),
                    ));
                }
            }
        }
        DocKind::Registration => {
            let view = doc.read_view();
            let domain = view
                .shared
                .account_domain
                .as_ref()
                .map(|d| d.as_str().to_string());
            if new.claimed && !old.is_some_and(|o| o.claimed) {
                let vendor = view
                    .registration
                    .claims
                    .values()
                    .find_map(|c| c.vendor.clone());
                out.push((
                    "registration.submitted",
                    json!({"id": id.to_string(), "partner": origin.map(|o| o.to_string()),
                           "vendor": vendor.map(|v| v.to_string()), "account_domain": domain}),
                ));
            }
            for (vendor, status) in &new.decisions {
                if old.and_then(|o| o.decisions.get(vendor)) == Some(status) {
                    continue;
                }
                let kind = match status {
                    RegistrationStatus::Approved => "registration.approved",
                    RegistrationStatus::Rejected => "registration.rejected",
                    _ => continue,
                };
                let reason = view
                    .registration
                    .decisions
                    .get(vendor)
                    .and_then(|d| d.reason.clone());
                out.push((
                    kind,
                    json!({"id": id.to_string(), "partner": origin.map(|o| o.to_string()),
                           "vendor": vendor.to_string(), "account_domain": domain, "reason": reason}),
                ));
            }
        }
    }
    out
}

/// An invitation as the inbox shows it: who invites, to what (the redacted summary), and
/// where this node stands (`expired` once past its expiry unanswered).
pub fn invitation_json(view: &DealView, deal: DealId, invitee: &NodeId, now_ms: u64) -> Value {
    let from = view.origin.as_ref();
    let expires = view
        .shared
        .other
        .get(EXPIRES_KEY)
        .and_then(|e| e.parse::<u64>().ok());
    let mut status = view
        .participants
        .get(invitee)
        .and_then(|p| p.status)
        .unwrap_or(ParticipantStatus::Invited);
    if status == ParticipantStatus::Invited && expires.is_some_and(|e| now_ms >= e) {
        status = ParticipantStatus::Expired;
    }
    json!({
        "deal_id": deal.to_string(),
        "from": from.map(|f| f.to_string()),
        "from_name": from.and_then(|f| view.participants.get(f)).map(|p| p.name.clone()),
        "title": view.shared.title,
        "account_domain": view.shared.account_domain.as_ref().map(|d| d.as_str()),
        "stage": view.shared.stage.map(|s| s.as_str()),
        "status": status.as_str(),
        "invited_at": view.created_at_ms.map(audit::rfc3339),
        "expires_at": expires.map(audit::rfc3339),
    })
}

/// Each change with its author, time, what it touched and whether its signature verifies.
fn history(doc: &DealDoc) -> Vec<Value> {
    let am = doc.automerge();
    let changes = am.get_changes(&[]);
    let skip = changes.len().saturating_sub(HISTORY_ENTRIES_MAX);
    changes
        .iter()
        .skip(skip)
        .map(|change| {
            let hash = change.hash();
            let envelope = doc.envelope(&hash);
            let verified = envelope.is_some_and(|e| verify_envelope(e, &hash));
            let summary = if change.deps().is_empty() {
                "created the deal".to_string()
            } else {
                summarize(am, change.deps(), hash)
            };
            json!({
                "change": hash.to_string(),
                "author": envelope.map(|e| e.author().to_string()),
                "at": audit::rfc3339(u64::try_from(change.timestamp()).unwrap_or(0)),
                "summary": summary,
                "verified": verified,
            })
        })
        .collect()
}

fn verify_envelope(envelope: &SignedChange, hash: &automerge::ChangeHash) -> bool {
    use ed25519_dalek::Verifier;
    let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(&envelope.author().public_key()) else {
        return false;
    };
    let message = protocol::envelope::signing_message(hash);
    key.verify(
        &message,
        &ed25519_dalek::Signature::from_bytes(envelope.signature()),
    )
    .is_ok()
}

/// The fields of a section write whose text is longer than a deal field holds
/// ([`FIELD_BYTES_MAX`](protocol::limits::FIELD_BYTES_MAX)), each with why, named as
/// `PATCH /deals/{id}` names them. The document refuses such text too, but without a field.
fn section_problems(update: &SectionUpdate) -> Vec<(&'static str, String)> {
    use protocol::limits::FIELD_BYTES_MAX;
    let may_hold = format!(
        "{FIELD_BYTES_MAX} bytes (about {} Latin characters)",
        FIELD_BYTES_MAX / 1000 * 1000
    );
    let mut problems = Vec::new();
    let too_long = |what: &str, text: &str, holder: &str| {
        (text.len() > FIELD_BYTES_MAX).then(|| {
            format!(
                "{what}is {} bytes long; {holder} may hold {may_hold}",
                text.len()
            )
        })
    };
    let mut listed = |field: &'static str, one: &str, texts: &[String]| {
        let several = texts.len() > 1;
        for (i, text) in texts.iter().enumerate() {
            let what = if several {
                format!("{one} {} ", i + 1)
            } else {
                String::new()
            };
            if let Some(why) = too_long(&what, text, &format!("a {one}")) {
                problems.push((field, why));
            }
        }
    };
    listed("notes", "note", &update.add_notes);
    listed(
        "contacts",
        "contact",
        update.contacts.as_deref().unwrap_or_default(),
    );
    for (field, text) in [
        ("next_step", &update.next_step),
        ("contribution", &update.contribution),
        ("linked_opportunity", &update.linked_opportunity),
    ] {
        if let Some(why) = text.as_deref().and_then(|t| too_long("", t, "it")) {
            problems.push((field, why));
        }
    }
    problems
}

/// What one change did, in words for the timeline ("accepted the deal", "updated shared
/// fields: stage, amount", "added a note"), read from the paths and values it wrote.
fn summarize(
    am: &automerge::Automerge,
    deps: &[automerge::ChangeHash],
    hash: automerge::ChangeHash,
) -> String {
    use automerge::{PatchAction, Prop};
    let mut phrases: Vec<String> = Vec::new();
    let mut shared: Vec<String> = Vec::new();
    let mut unshared: Vec<String> = Vec::new();
    for patch in am.diff(deps, &[hash]) {
        let mut parts: Vec<String> = patch
            .path
            .iter()
            .filter_map(|(_, p)| match p {
                Prop::Map(k) => Some(k.clone()),
                Prop::Seq(_) => None,
            })
            .collect();
        let mut value = None;
        let mut made_container = false;
        match &patch.action {
            PatchAction::PutMap { key, value: v, .. } => {
                parts.push(key.clone());
                match &v.0 {
                    automerge::Value::Scalar(s) => value = s.as_str().map(str::to_string),
                    automerge::Value::Object(_) => made_container = true,
                }
            }
            PatchAction::DeleteMap { key } => parts.push(key.clone()),
            _ => {}
        }
        let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
        // A node's first section write makes its section and an empty notes list to append
        // to: neither is something it did. What goes into them comes as patches of their own
        // (a note appended is an insert into the list).
        if made_container && matches!(parts.as_slice(), ["sections", _] | ["sections", _, "notes"])
        {
            continue;
        }
        if let ["shared", field, rest @ ..] = parts.as_slice() {
            // A whole field deleted is no longer shared (the policy stopped sharing it, or the
            // opportunity left its filter); anything else written under it is an update.
            let withdrawn =
                rest.is_empty() && matches!(patch.action, PatchAction::DeleteMap { .. });
            let list = if withdrawn {
                &mut unshared
            } else {
                &mut shared
            };
            let field = field.to_string();
            if !list.contains(&field) {
                list.push(field);
            }
            continue;
        }
        if let Some(p) = phrase(&parts, value.as_deref()) {
            if !phrases.contains(&p) {
                phrases.push(p);
            }
        }
    }
    if !unshared.is_empty() {
        phrases.insert(0, format!("no longer shared: {}", unshared.join(", ")));
    }
    if !shared.is_empty() {
        phrases.insert(0, format!("updated shared fields: {}", shared.join(", ")));
    }
    if phrases.is_empty() {
        return "no visible change".to_string();
    }
    let more = phrases.len().saturating_sub(4);
    phrases.truncate(4);
    let mut s = phrases.join("; ");
    if more > 0 {
        s.push_str(&format!(" and {more} more"));
    }
    s
}

/// One written path (and its value, when a scalar) in words.
fn phrase(parts: &[&str], value: Option<&str>) -> Option<String> {
    Some(match parts {
        [] => return None,
        ["participants", _, "status"] => match value {
            Some("accepted") => "accepted the deal".into(),
            Some("declined") => "declined the deal".into(),
            Some("invited") => "invited a participant".into(),
            Some(v) => format!("set a participant's status to {v}"),
            None => "changed a participant's status".into(),
        },
        ["participants", id] | ["participants", id, ..] => {
            format!("added participant {}", short(id))
        }
        ["sections", _, "notes", ..] => "added a note".into(),
        ["sections", _, "stage"] => match value {
            Some(v) => format!("set its own stage to {v}"),
            None => "changed its own stage".into(),
        },
        ["sections", _, "linked_opportunity", ..] => "linked the deal to its own pipeline".into(),
        ["sections", _, "next_step"] => "updated its next step".into(),
        ["sections", _, field, ..] => format!("updated its {}", field.replace('_', " ")),
        ["registration", "claims", ..] => "registered the deal".into(),
        ["registration", "decisions", ..] => "decided on the registration".into(),
        ["registration", ..] => "updated the registration".into(),
        ["attribution", "proposals", ..] => "proposed an attribution".into(),
        ["attribution", "acceptances", ..] => "accepted an attribution".into(),
        ["attribution", ..] => "updated the attribution".into(),
        other => format!(
            "wrote {}",
            other
                .iter()
                .take(3)
                .map(|k| short(k))
                .collect::<Vec<_>>()
                .join(".")
        ),
    })
}

fn short(key: &str) -> String {
    if key.starts_with("12D3KooW") && key.len() > 16 {
        format!("{}…", &key[..16])
    } else {
        key.to_string()
    }
}

/// Two (or more) engines in one process, each with its own store, syncing by hand: for tests
/// of workflows that need a partition (one side acting on what it has not received yet).
#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use crate::store::shared::PartnerRecord;
    use protocol::records::{Account, AccountStatus, Opportunity};

    pub(crate) struct Side {
        _dir: tempfile::TempDir,
        pub store: Arc<Store>,
        pub deals: Deals,
    }

    pub(crate) fn side(seed: u8, name: &str) -> Side {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("db")).unwrap());
        shared::ensure_tables(&store).unwrap();
        let deals = Deals::open(store.clone(), [seed; 32], 1, name).unwrap();
        Side {
            _dir: dir,
            store,
            deals,
        }
    }

    pub(crate) fn befriend(a: &Side, b: &Side) {
        for (x, y) in [(a, b), (b, a)] {
            let txn = x.store.write().unwrap();
            shared::put_partner_in(
                &txn,
                &PartnerRecord {
                    id: y.deals.me().to_string(),
                    name: y.deals.name().to_string(),
                    partner_type: Some("reseller".into()),
                    status: "active".into(),
                    since_ms: 1,
                    last_seen_ms: None,
                    addrs: vec![],
                    removed_ms: None,
                    ended_by_partner: false,
                },
            )
            .unwrap();
            txn.commit().unwrap();
        }
    }

    /// Exchanges messages between two engines until neither has anything to say.
    pub(crate) fn sync(a: &Side, b: &Side) {
        let (ida, idb) = (a.deals.me().clone(), b.deals.me().clone());
        let mut to_b = a.deals.generate(&idb, None).unwrap();
        let mut to_a = b.deals.generate(&ida, None).unwrap();
        for _ in 0..20 {
            if to_a.is_empty() && to_b.is_empty() {
                return;
            }
            let got_b = b.deals.receive(&ida, std::mem::take(&mut to_b), 1).unwrap();
            let got_a = a.deals.receive(&idb, std::mem::take(&mut to_a), 1).unwrap();
            to_a = got_b.reply;
            to_b = got_a.reply;
        }
        panic!("sync did not settle");
    }

    /// The vendor shares its opportunity on acme.example ([`opportunity`]) with the reseller,
    /// under a policy sharing `fields` (set at time 2, shared at time 3): the deal's id.
    pub(crate) fn share_with(vendor: &Side, reseller: &Side, fields: &[&str]) -> DealId {
        let opp = opportunity(&vendor.store);
        let partner = reseller.deals.me().to_string();
        let record = partners::resolve(&vendor.store, &partner).unwrap();
        let fields: Vec<String> = fields.iter().map(|f| format!("{f:?}")).collect();
        let policy = Policy::from_toml(&format!(
            "[opportunities]\nfields = [{}]\n",
            fields.join(", ")
        ))
        .unwrap();
        partners::set_policy(&vendor.store, &record, &policy, "test", 2).unwrap();
        vendor
            .deals
            .share(&opp, &[partner], Role::Vendor, 3)
            .unwrap()
    }

    /// Account Acme (acme.example) and its opportunity "Big deal" in `store`: its id.
    pub(crate) fn opportunity(store: &Store) -> String {
        let account = Account {
            id: "01JACC0000000000000000000A".into(),
            external_id: None,
            name: "Acme".into(),
            domain: Some(Domain::parse("acme.example").unwrap()),
            industry: None,
            country: None,
            status: AccountStatus::Prospect,
            owner: Some("SECRET-OWNER".into()),
            tags: vec![],
        };
        store.put_account(&account).unwrap();
        let opp = Opportunity {
            id: "01JDEA10000000000000000000".into(),
            external_id: None,
            account_id: "01JACC0000000000000000000A".into(),
            name: "Big deal".into(),
            stage: Stage::Qualified,
            amount: Some(Amount::parse("100000").unwrap()),
            currency: Some(Currency::parse("USD").unwrap()),
            close_date: None,
            owner: None,
            next_step: None,
            description: Some("SECRET-DESCRIPTION".into()),
            tags: vec![],
        };
        store.put_opportunity(&opp).expect("opportunity stored");
        opp.id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timeline_says_which_shared_fields_were_withdrawn() {
        // Bug: an opportunity leaving the policy's stage filter read "updated shared fields:
        // amount, stage, title" although every one of them was removed.
        use automerge::{transaction::Transactable, ObjType, ROOT};
        let mut am = automerge::AutoCommit::new();
        let shared = am.put_object(ROOT, "shared", ObjType::Map).unwrap();
        am.put(&shared, "stage", "qualified").unwrap();
        am.put(&shared, "title", "Deal").unwrap();
        let before = am.commit().unwrap();
        am.delete(&shared, "stage").unwrap();
        am.put(&shared, "title", "Deal 2").unwrap();
        let after = am.commit().unwrap();
        assert_eq!(
            summarize(am.document(), &[before], after),
            "updated shared fields: title; no longer shared: stage"
        );
    }

    #[test]
    fn timeline_phrases_say_what_a_change_did() {
        let id = "12D3KooWAjjE4xyihuBoyFRPiS7Xr9uEa4grRB3vav6XbrWhDgQc";
        let say = |parts: &[&str], v: Option<&str>| phrase(parts, v).unwrap_or_default();
        assert_eq!(
            say(&["participants", id, "status"], Some("accepted")),
            "accepted the deal"
        );
        assert_eq!(
            say(&["participants", id, "status"], Some("declined")),
            "declined the deal"
        );
        assert_eq!(say(&["sections", id, "notes"], None), "added a note");
        assert_eq!(
            say(&["sections", id, "stage"], Some("committed")),
            "set its own stage to committed"
        );
        assert_eq!(
            say(&["sections", id, "next_step"], Some("x")),
            "updated its next step"
        );
        assert_eq!(
            say(&["attribution", "proposals", id], None),
            "proposed an attribution"
        );
        assert_eq!(
            say(&["registration", "claims", id], None),
            "registered the deal"
        );
        assert!(say(&["participants", id], None).starts_with("added participant 12D3KooWAjjE4xyi"));
        assert_eq!(say(&["odd", "path"], None), "wrote odd.path");
        assert!(phrase(&[], None).is_none());
    }
    use super::testing::{befriend, opportunity, share_with, side, sync, Side};

    /// The vendor shares an opportunity's name with the reseller (a policy allowing it, then
    /// `share` at time 3): the deal's id.
    fn share_name_with(vendor: &Side, reseller: &Side) -> DealId {
        share_with(vendor, reseller, &["name"])
    }

    #[test]
    fn share_refuses_under_default_deny_then_syncs_only_the_projection() {
        let vendor = side(1, "Vendor");
        let reseller = side(2, "Reseller");
        befriend(&vendor, &reseller);
        let opp = opportunity(&vendor.store);
        let partner = reseller.deals.me().to_string();
        let refused = vendor
            .deals
            .share(&opp, std::slice::from_ref(&partner), Role::Vendor, 1);
        assert!(matches!(refused, Err(DealsError::Invalid(m)) if m.contains("nothing to share")));
        let record = partners::resolve(&vendor.store, &partner).unwrap();
        let policy =
            Policy::from_toml("[opportunities]\nfields = [\"name\", \"stage\"]\n").unwrap();
        partners::set_policy(&vendor.store, &record, &policy, "test", 2).unwrap();
        let id = vendor
            .deals
            .share(&opp, &[partner], Role::Vendor, 3)
            .unwrap();
        sync(&vendor, &reseller);
        // Until it accepts, the reseller holds only the invitation's summary.
        assert!(reseller.deals.view(id, true).unwrap().is_none());
        let inbox = crate::domain::inbox::list(&reseller.deals, None, 3);
        assert_eq!(inbox.len(), 1);
        assert_eq!(inbox[0]["title"], "Big deal");
        assert_eq!(inbox[0]["status"], "invited");
        reseller.deals.respond(id, true, 3).unwrap();
        sync(&vendor, &reseller);
        let seen = reseller
            .deals
            .view(id, true)
            .unwrap()
            .expect("the deal arrived");
        assert_eq!(
            seen["fields"],
            json!({"name": "Big deal", "stage": "qualified"})
        );
        assert!(!seen.to_string().contains("SECRET"));

        // The reseller writes its section; the vendor receives it.
        reseller
            .deals
            .update_section(
                id,
                &SectionUpdate {
                    add_notes: vec!["hello".into()],
                    ..SectionUpdate::default()
                },
                4,
            )
            .unwrap();
        sync(&vendor, &reseller);
        let at_vendor = vendor.deals.view(id, true).unwrap().unwrap();
        assert_eq!(
            at_vendor["sections"][reseller.deals.me().as_str()]["notes"][0],
            "hello"
        );
        assert!(at_vendor["history"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["verified"] == true));

        // A restart reloads the same document from redb.
        let reloaded = Deals::open(reseller.store.clone(), [2; 32], 2, "Reseller").unwrap();
        assert_eq!(
            reloaded.view(id, false).unwrap().unwrap()["sections"],
            at_vendor["sections"]
        );
    }

    /// The timeline's words for the last change of deal `id` on `side`.
    fn last_summary(side: &Side, id: DealId) -> String {
        let view = side.deals.view(id, true).unwrap().expect("the deal");
        let history = view["history"].as_array().expect("a history").clone();
        let last = history.last().expect("a change");
        last["summary"].as_str().unwrap_or_default().to_string()
    }

    #[test]
    fn the_first_write_to_a_section_says_what_it_wrote() {
        // Bug: the first write to a node's own section also made its (empty) notes list, and
        // the timeline said "added a note" for a next step.
        let vendor = side(1, "Vendor");
        let reseller = side(2, "Reseller");
        befriend(&vendor, &reseller);
        let id = share_name_with(&vendor, &reseller);
        let next_step = SectionUpdate {
            next_step: Some("Call the CFO".into()),
            ..SectionUpdate::default()
        };
        vendor.deals.update_section(id, &next_step, 5).unwrap();
        assert_eq!(last_summary(&vendor, id), "updated its next step");
        let note = SectionUpdate {
            add_notes: vec!["Met them".into()],
            ..SectionUpdate::default()
        };
        vendor.deals.update_section(id, &note, 6).unwrap();
        assert_eq!(last_summary(&vendor, id), "added a note");
        let cleared = SectionUpdate {
            contacts: Some(Vec::new()),
            ..SectionUpdate::default()
        };
        vendor.deals.update_section(id, &cleared, 7).unwrap();
        assert_eq!(last_summary(&vendor, id), "updated its contacts");
    }

    #[test]
    fn a_section_text_longer_than_a_deal_field_is_refused_naming_its_field() {
        // Bug: a 20 KB note was refused as "invalid value: a text value is longer than 16384
        // bytes", naming no field.
        let vendor = side(1, "Vendor");
        let reseller = side(2, "Reseller");
        befriend(&vendor, &reseller);
        let id = share_name_with(&vendor, &reseller);
        let long = "n".repeat(protocol::limits::FIELD_BYTES_MAX + 1);
        let update = SectionUpdate {
            add_notes: vec!["fine".into(), long.clone()],
            contribution: Some(long),
            ..SectionUpdate::default()
        };
        let refused = vendor.deals.update_section(id, &update, 5);
        let Err(DealsError::InvalidFields(fields)) = refused else {
            panic!("not refused by field: {refused:?}");
        };
        let named: Vec<&str> = fields.iter().map(|(field, _)| field.as_str()).collect();
        assert_eq!(named, ["notes", "contribution"]);
        assert_eq!(
            fields[0].1,
            "note 2 is 16385 bytes long; a note may hold 16384 bytes (about 16000 Latin \
             characters)"
        );
        assert_eq!(
            fields[1].1,
            "is 16385 bytes long; it may hold 16384 bytes (about 16000 Latin characters)"
        );
        let view = vendor.deals.view(id, true).unwrap().unwrap();
        assert_eq!(view["sections"], json!({}), "nothing written");
    }

    #[test]
    fn a_coarsened_close_date_and_tags_read_as_in_the_policy_preview() {
        // Bug: the preview showed `close_date: "2026-Q4"`, the partner's deal `close_period`.
        let vendor = side(1, "Vendor");
        let reseller = side(2, "Reseller");
        befriend(&vendor, &reseller);
        let opp = opportunity(&vendor.store);
        let mut dated = vendor.store.opportunity(&opp).unwrap().unwrap();
        dated.close_date = Some(Date::parse("2026-11-15").unwrap());
        dated.tags = vec!["apac".into(), "priority".into()];
        vendor.store.put_opportunity(&dated).unwrap();
        let partner = reseller.deals.me().to_string();
        let record = partners::resolve(&vendor.store, &partner).unwrap();
        let policy = Policy::from_toml(
            "[opportunities]\nfields = [\"name\", \"close_date\", \"tags\"]\nclose_date = \"quarter\"\n",
        )
        .unwrap();
        partners::set_policy(&vendor.store, &record, &policy, "test", 2).unwrap();
        let account = vendor.store.account(&dated.account_id).unwrap().unwrap();
        let preview = policy::project(&policy, &dated, &account).unwrap();
        let id = vendor
            .deals
            .share(&opp, &[partner], Role::Vendor, 3)
            .unwrap();
        let fields = vendor.deals.view(id, false).unwrap().unwrap()["fields"].clone();
        assert_eq!(fields["close_date"], "2026-Q4", "{fields}");
        assert_eq!(
            fields["tags"],
            json!(["apac", "priority"]),
            "a list, as previewed"
        );
        assert!(fields.get("close_period").is_none(), "{fields}");
        let previewed: Vec<(&str, String)> =
            preview.iter().map(|(k, v)| (k, format!("{v:?}"))).collect();
        assert!(
            previewed
                .iter()
                .any(|(k, v)| *k == "close_date" && v.contains("2026-Q4")),
            "{previewed:?}"
        );
    }

    #[test]
    fn an_invitation_a_crash_left_unanswered_is_accepted_at_the_next_start() {
        // Goal: with auto-accept on, no invitation waits for ever. Method: the invitation is
        // stored while auto-accept is off (as when a node is killed between storing an
        // invitation and signing its acceptance); the start-up sweep then accepts it, and the
        // deal follows on the next sync.
        let vendor = side(1, "Vendor");
        let reseller = side(2, "Reseller");
        befriend(&vendor, &reseller);
        let id = share_name_with(&vendor, &reseller);
        sync(&vendor, &reseller);
        assert!(reseller.deals.view(id, false).unwrap().is_none());
        assert!(
            reseller.deals.accept_waiting_invitations(4).is_empty(),
            "auto-accept is off"
        );
        reseller.deals.set_auto_accept(true);
        assert_eq!(reseller.deals.accept_waiting_invitations(4), vec![id]);
        assert!(
            reseller.deals.accept_waiting_invitations(5).is_empty(),
            "answered once"
        );
        sync(&vendor, &reseller);
        assert!(reseller.deals.view(id, false).unwrap().is_some());
    }

    #[test]
    fn an_acceptance_signed_after_the_invitation_expired_gets_no_deal() {
        // Goal: the origin, not only the invitee, enforces expiry. Method: the invitee's own
        // check refuses a late accept; a late acceptance signed anyway (bypassing that check,
        // as a modified node could) reaches the origin, which must not send the deal and must
        // audit it.
        let vendor = side(1, "Vendor");
        let reseller = side(2, "Reseller");
        befriend(&vendor, &reseller);
        vendor.deals.set_windows(Windows {
            invitation_expiry_ms: 1_000,
            ..Windows::default()
        });
        let id = share_name_with(&vendor, &reseller);
        sync(&vendor, &reseller);
        let refused = reseller.deals.respond(id, true, 5_000);
        assert!(
            matches!(&refused, Err(DealsError::Invalid(m)) if m.starts_with("the invitation expired on 1970-01-01T00:00:01")),
            "{refused:?}"
        );
        let invitation = {
            let inner = reseller.deals.lock();
            Deals::invitations_of(&inner, id)[0].0
        };
        reseller
            .deals
            .edit(invitation, 5_000, |doc, signer| doc.accept(signer, 5_000))
            .unwrap();
        sync(&vendor, &reseller);
        assert!(reseller.deals.view(id, false).unwrap().is_none());
        let at_vendor = vendor.deals.view(id, false).unwrap().unwrap();
        let status = at_vendor["participants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == reseller.deals.me().as_str())
            .map(|p| p["status"].clone());
        assert_eq!(status, Some(json!("expired")));
        let audit = shared::audit_page(&vendor.store, 0, 100).unwrap();
        assert!(audit
            .iter()
            .any(|e| e.kind == kind::REJECTED && e.summary.contains("after it expired")));
    }

    #[test]
    fn a_peer_that_is_not_a_participant_is_offered_nothing_and_refused() {
        let vendor = side(1, "Vendor");
        let reseller = side(2, "Reseller");
        let stranger = side(3, "Stranger");
        befriend(&vendor, &reseller);
        let id = share_name_with(&vendor, &reseller);
        assert!(vendor
            .deals
            .generate(stranger.deals.me(), None)
            .unwrap()
            .is_empty());
        // Messages the stranger sends about the deal are refused and audited.
        let message = DocSync {
            deal: id,
            sync: Vec::new(),
            changes: Vec::new(),
        };
        let got = vendor
            .deals
            .receive(stranger.deals.me(), vec![message], 5)
            .unwrap();
        assert!(got.reply.is_empty());
        assert!(got.changed.is_empty());
        let audit = shared::audit_page(&vendor.store, 0, 100).unwrap();
        assert!(audit.iter().any(|e| e.kind == kind::REJECTED));
    }
}
