//! Shared deals on this node: creating one from an opportunity's multi-partner projection,
//! writing this node's section, keeping the shared fields in step with the local opportunity,
//! and the node's side of sync (which documents to offer a peer, what to do with what it sends).
//!
//! Invariant: only a policy projection ever enters a deal document (ARCHITECTURE.md invariant
//! 1). With several partners the projection is taken under `Policy::intersect` of their
//! policies, so every participant may see all of it.
//! Invariant: every change received is verified by the protocol crate before it is applied, and
//! is durable in redb (with the peer's sync state) before the node answers the message that
//! carried it (invariant 4).
//! Invariant: a peer is offered only documents it participates in, and its messages about other
//! documents are refused (invariant 3).
//!
//! The engine is [`Deals`]; its methods are spread over the files of this folder by concept:
//! - `kinds`: what a document is for (deal, invitation, registration) and what the node tracks
//!   of each;
//! - `share`: making a deal from an opportunity, ending a partner's part in deals;
//! - `invitations`: answering invitations;
//! - `reproject` and `projection`: keeping shared fields in step with the opportunity and the
//!   policies (from a policy projection to shared fields);
//! - `records`: writes to this node's records and policies, with the deals that follow them;
//! - `sections` and `attribution`: what one participant writes into a deal;
//! - `sync`: which documents to offer a peer, what to do with what it sends;
//! - `views`, `timeline` and `events`: deals in the API's shape, their history in words, and
//!   the workflow events a change implies.

mod attribution;
mod erase;
mod events;
mod facts;
mod invitations;
mod kinds;
mod participation;
mod peer_states;
mod projection;
mod records;
mod reproject;
mod sections;
mod share;
mod sync;
mod timeline;
mod views;
mod withdraw;

#[cfg(test)]
mod hostile_tests;
#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;

pub use attribution::attribution_json;
pub use erase::DealErasure;
pub use facts::{DealFact, Facts, InvitationFact, RegistrationFact};
pub(crate) use kinds::DocInfo;
pub use kinds::{
    clean_note, kind_of, DocKind, DECLINE_REASON_CHARS_MAX, ERASURE_KEY, EXPIRES_KEY, FOR_DEAL_KEY,
    KIND_INVITATION, KIND_KEY, KIND_REGISTRATION, MESSAGE_CHARS_MAX, MESSAGE_KEY, WITHDRAWN_KEY,
    WITHHELD_KEY,
};
pub use participation::Participation;
pub use projection::shared_from_projection;
pub use records::RecordWrite;
pub use views::{deal_json, invitation_json, ListFilter, ListStatus};
pub use withdraw::WHY_CHARS_MAX;

use crate::clock::Clock;
use crate::domain::audit;
use crate::domain::events::{EventBus, EventKind};
use crate::store::shared::{self, DealMeta};
use crate::store::Store;
use anyhow::{anyhow, Result};
use events::events_between;
use invitations::late_acceptance;
use kinds::info_of;
use protocol::deal::{DealDoc, DealId, ParticipantStatus, Signer, VerifiedChange};
use protocol::envelope::SignedChange;
use protocol::identity::{NodeId, NodeKey};
use protocol::wire::DocSync;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

/// Most replicas of unknown deals one partner may have this node hold before their genesis
/// change arrives: bounds what a partner can make this node allocate by naming deals that do not
/// exist, per partner, so one partner filling its budget refuses only its own new deals
/// (issue 19, finding 5).
pub const UNKNOWN_DEALS_PER_PEER_MAX: usize = 2048;
/// How long a replica of an unknown deal waits for its genesis change before it is dropped
/// (with the changes waiting in it): ten minutes. An honest partner sends a deal's genesis with
/// its first message about it; a dropped replica is asked for again at the next sync.
pub const UNKNOWN_DEAL_TTL_MS: u64 = 10 * 60 * 1000;
/// Most bytes of changes one partner may park in the waiting queues of unknown deals.
pub const UNKNOWN_PENDING_BYTES_PER_PEER_MAX: usize = 8 * 1024 * 1024;
/// Most bytes of changes all partners together may park in the waiting queues of unknown deals.
pub const UNKNOWN_PENDING_BYTES_MAX: usize = 128 * 1024 * 1024;
/// Most rejected changes from one message written to the audit log one by one (the rest are
/// counted in one entry): a hostile peer cannot flood the log.
pub const AUDITED_REJECTIONS_PER_MESSAGE_MAX: usize = 20;
/// Most history entries a deal view shows (the newest).
pub const HISTORY_ENTRIES_MAX: usize = 500;

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

/// Why a deal operation failed: the domain's one error type under the name deal code knows it
/// by.
pub use crate::domain::error::DomainError as DealsError;

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
    /// The time for what a read shows (expired invitations) and the events a change implies.
    clock: Clock,
    /// Deals this node withdrew whose participants have not all acknowledged it yet, and every
    /// document replaced by its tombstone (`withdraw`).
    withdrawals: Mutex<withdraw::Withdrawals>,
    /// Who takes part in which document, readable without the engine's lock.
    participation: Arc<Participation>,
    /// A failure to inject into the next [`Deals::receive`] once it has verified its message.
    #[cfg(test)]
    pub(crate) fault: Mutex<Option<Fault>>,
}

/// A failure a test injects into a receive (see `Deals::fault`).
#[cfg(test)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// The receive returns an error (as when redb cannot write).
    Error,
    /// The receive panics.
    Panic,
}

#[derive(Default)]
pub(crate) struct Inner {
    pub docs: HashMap<DealId, DealDoc>,
    /// Sync state per (peer, deal) for the current connection; loaded from redb on first use.
    peers: peer_states::PeerStates,
    /// What each initialized document is for, its statuses and stages.
    pub info: HashMap<DealId, DocInfo>,
    /// (deal, invitee) pairs whose invitation this node made and the invitee accepted: the
    /// origin may send such an invitee the deal itself.
    accepted_invites: HashSet<(DealId, NodeId)>,
    /// Deals changed (here or by a peer) since the registration watch last looked: activity
    /// that renews approved registrations on their account.
    touched: HashSet<DealId>,
    /// Replicas of unknown deals a peer's message made, with that peer and when, until their
    /// genesis arrives or they expire (see [`UNKNOWN_DEALS_PER_PEER_MAX`]).
    unknown: HashMap<DealId, (NodeId, u64)>,
}

impl Deals {
    /// Loads every stored deal (re-verifying its changes) and makes this run's signer; reads
    /// the time from `clock`.
    pub fn open(
        store: Arc<Store>,
        secret: [u8; 32],
        run_counter: u64,
        name: &str,
        clock: Clock,
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
            clock,
            withdrawals: Mutex::new(withdraw::Withdrawals::default()),
            participation: Arc::new(Participation::default()),
            #[cfg(test)]
            fault: Mutex::new(None),
        };
        deals.load_withdrawals()?;
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

    /// The workflow windows in force.
    pub fn windows(&self) -> Windows {
        *self.windows.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Who takes part in which document (the network offers a changed deal to its
    /// participants only).
    pub fn participation(&self) -> Arc<Participation> {
        self.participation.clone()
    }

    /// The signer of this run.
    pub(crate) fn signer(&self) -> &Signer {
        &self.signer
    }

    /// The store.
    pub(crate) fn store(&self) -> &Arc<Store> {
        &self.store
    }

    pub(crate) fn publish(&self, kind: EventKind, data: Value) {
        if let Some(bus) = self.events.get() {
            bus.publish(kind, data);
        }
    }

    /// Re-reads what the node tracks of one document; with `publish`, emits the events its
    /// change implies (an invitation arrived, an invitee answered, a stage or a registration
    /// decision changed).
    pub(crate) fn refresh(&self, inner: &mut Inner, id: DealId, publish: bool) {
        let Some(doc) = inner.docs.get(&id) else {
            return;
        };
        let Some(new) = info_of(doc) else {
            return;
        };
        self.participation.update(doc);
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
                let now_ms = self.clock.now_ms();
                for (kind, data) in events_between(&self.me, id, doc, old.as_ref(), &new, now_ms) {
                    self.publish(kind, data);
                }
            }
        }
        // Any other change to a deal (a partner's section, its signed acceptance arriving) is
        // news for an open deal page too: the web UI refreshes on `deal.*`.
        if publish && matches!(new.kind, DocKind::Deal) {
            self.publish(EventKind::DealUpdated, json!({"deal_id": id.to_string()}));
            inner.touched.insert(id);
        }
        inner.info.insert(id, new);
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

    /// Stores a new document made here (its genesis and any further changes) in one
    /// transaction, then holds it. Used for registrations.
    pub(crate) fn add_document(
        &self,
        doc: DealDoc,
        changes: &[VerifiedChange],
        now_ms: u64,
        audit_entry: Option<(audit::AuditKind, Option<&str>, String, Value)>,
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
                    redacted: Vec::new(),
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

    /// Fails unless `id` is a deal held here (not an invitation or a registration).
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

    /// The deal (or, with `registrations`, the registration) whose id is `text` or starts with
    /// it (at least 4 hex digits, any case): ids are long, people paste the first few.
    pub fn resolve_id(&self, text: &str, registrations: bool) -> Result<DealId, DealsError> {
        let text = text.trim().to_ascii_lowercase();
        let what = if registrations {
            "registration"
        } else {
            "deal"
        };
        if let Ok(id) = DealId::parse(&text) {
            return Ok(id);
        }
        let shown: String = text.chars().take(80).collect();
        if text.len() < 4 || !text.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(DealsError::NotFound(format!(
                "no {what} with id {shown} (an id is 64 hex digits; a unique prefix of at least 4 will do)"
            )));
        }
        let inner = self.lock();
        let mut found: Vec<DealId> = inner
            .info
            .iter()
            .filter_map(|(id, i)| match i.kind {
                DocKind::Registration if registrations => Some(*id),
                DocKind::Deal if !registrations => Some(*id),
                DocKind::Invitation { deal } if !registrations => Some(deal),
                _ => None,
            })
            .filter(|id| id.to_string().starts_with(&text))
            .collect();
        found.sort();
        found.dedup();
        match found[..] {
            [one] => Ok(one),
            [] => Err(DealsError::NotFound(format!(
                "no {what} with an id starting {shown}"
            ))),
            _ => Err(DealsError::Conflict(format!(
                "{} {what}s have ids starting {shown} ({}…): give more of the id",
                found.len(),
                found
                    .iter()
                    .take(3)
                    .map(|d| d.to_string()[..12].to_string())
                    .collect::<Vec<_>>()
                    .join("…, ")
            ))),
        }
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
}

fn put_change(txn: &redb::WriteTransaction, id: DealId, change: &VerifiedChange) -> Result<()> {
    shared::put_change_in(
        txn,
        &id.to_string(),
        &change.hash().to_string(),
        &change.envelope().encode(),
    )
}
