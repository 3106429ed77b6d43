//! The co-sell deal document: one Automerge document per deal, written by several nodes, every
//! change signed. This module has the document shape, the typed read view and the typed edits;
//! receiving changes from peers is in [`crate::verify`] and syncing in [`crate::sync`].
//!
//! Shape (keys in [`keys`]):
//! ```text
//! origin, created_at, schema
//! participants{node_id: {name, role, status,            origin adds; each node answers for itself
//!               decline_reason}}                         (status and reason)
//! shared{title, stage, amount, currency, close_date,
//!        account{name, domain}, <other projected fields>}   origin only
//! sections{node_id: {notes[], next_step, contacts[], contribution, stage, linked_opportunity}}
//! registration{claims{node_id: {vendor, registered_at, notes}},
//!              decisions{vendor_id: {registrant, status, decided_at, expires_at, reason,
//!                                    terms{<field>: <text>}}}}
//! attribution{sourced_by, influenced_by[], proposals{node_id: {sourced_by, influenced_by[]}},
//!             acceptances{node_id: {proposal}}}
//! ```
//! The deal id is the hash of the genesis change, so a document is bound to its genesis: a
//! change from another deal cannot be replayed into this one (its dependencies are not here).
//!
//! Every edit method produces exactly one signed change ([`VerifiedChange`]) that the caller
//! persists and that sync later sends to the other participants.

use automerge::transaction::{CommitOptions, Transactable, Transaction};
use automerge::{
    ActorId, Automerge, ChangeHash, ObjId, ObjType, ReadDoc, ScalarValue, ScalarValueRef, Value,
    ValueRef, ROOT,
};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use crate::auth::Authority;
use crate::envelope::SignedChange;
use crate::identity::{NodeId, NodeKey};
use crate::limits::{FIELD_BYTES_MAX, PARTICIPANTS_MAX};
use crate::records::{Amount, Currency, Date, Domain, Stage};
use crate::verify::Pending;

/// Key names of the deal document.
pub mod keys {
    pub const ORIGIN: &str = "origin";
    pub const CREATED_AT: &str = "created_at";
    pub const SCHEMA: &str = "schema";
    pub const PARTICIPANTS: &str = "participants";
    pub const SHARED: &str = "shared";
    pub const SECTIONS: &str = "sections";
    pub const REGISTRATION: &str = "registration";
    pub const ATTRIBUTION: &str = "attribution";
    pub const NAME: &str = "name";
    pub const ROLE: &str = "role";
    pub const STATUS: &str = "status";
    pub const CLAIMS: &str = "claims";
    pub const DECISIONS: &str = "decisions";
    pub const PROPOSALS: &str = "proposals";
    pub const ACCEPTANCES: &str = "acceptances";
    pub const SOURCED_BY: &str = "sourced_by";
    pub const INFLUENCED_BY: &str = "influenced_by";
    pub const TITLE: &str = "title";
    pub const STAGE: &str = "stage";
    pub const AMOUNT: &str = "amount";
    pub const CURRENCY: &str = "currency";
    pub const CLOSE_DATE: &str = "close_date";
    pub const ACCOUNT: &str = "account";
    pub const DOMAIN: &str = "domain";
    pub const NOTES: &str = "notes";
    pub const NEXT_STEP: &str = "next_step";
    pub const CONTACTS: &str = "contacts";
    pub const CONTRIBUTION: &str = "contribution";
    pub const LINKED_OPPORTUNITY: &str = "linked_opportunity";
    pub const VENDOR: &str = "vendor";
    pub const REGISTERED_AT: &str = "registered_at";
    pub const REGISTRANT: &str = "registrant";
    pub const DECIDED_AT: &str = "decided_at";
    pub const EXPIRES_AT: &str = "expires_at";
    pub const REASON: &str = "reason";
    /// A participant's reason for declining, beside its status; only it writes it.
    pub const DECLINE_REASON: &str = "decline_reason";
    pub const TERMS: &str = "terms";
    pub const PROPOSAL: &str = "proposal";
}

/// Schema version written into every genesis change.
pub const SCHEMA_VERSION: u64 = 1;

/// Why a typed edit was refused. Nothing was written when an edit returns an error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DealError {
    /// The signer may not make this edit (the message names the rule).
    #[error("not allowed: {0}")]
    NotAllowed(&'static str),
    /// The document has no genesis change yet.
    #[error("the deal has not arrived yet")]
    NotInitialized,
    /// An input value is invalid.
    #[error("invalid value: {0}")]
    Invalid(String),
    /// The edit would not change anything, so no change was made.
    #[error("nothing to change")]
    Empty,
    /// Automerge refused the edit (an internal error).
    #[error("document error: {0}")]
    Document(String),
}

impl From<automerge::AutomergeError> for DealError {
    fn from(e: automerge::AutomergeError) -> Self {
        DealError::Document(e.to_string())
    }
}

/// A participant's role in a deal (AWS ACE multi-partner roles).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Vendor,
    Reseller,
    Distributor,
    /// A systems integrator.
    Services,
    /// An ISV.
    Software,
    Msp,
    Referral,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::Vendor,
        Role::Reseller,
        Role::Distributor,
        Role::Services,
        Role::Software,
        Role::Msp,
        Role::Referral,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Vendor => "vendor",
            Role::Reseller => "reseller",
            Role::Distributor => "distributor",
            Role::Services => "services",
            Role::Software => "software",
            Role::Msp => "msp",
            Role::Referral => "referral",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Result<Self, DealError> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| DealError::Invalid(format!("'{s}' is not a role")))
    }
}

/// Where a participant stands on the invitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ParticipantStatus {
    Invited,
    Accepted,
    Declined,
    Expired,
    /// The origin ended this participant's part in the deal (their partnership ended): honest
    /// nodes neither send the deal to it nor take its changes from it, relays included.
    Removed,
}

impl ParticipantStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ParticipantStatus::Invited => "invited",
            ParticipantStatus::Accepted => "accepted",
            ParticipantStatus::Declined => "declined",
            ParticipantStatus::Expired => "expired",
            ParticipantStatus::Removed => "removed",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Result<Self, DealError> {
        [
            ParticipantStatus::Invited,
            ParticipantStatus::Accepted,
            ParticipantStatus::Declined,
            ParticipantStatus::Expired,
            ParticipantStatus::Removed,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
        .ok_or_else(|| DealError::Invalid(format!("'{s}' is not a participant status")))
    }
}

/// A vendor's answer to a registration claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationStatus {
    Pending,
    Approved,
    Rejected,
    Expired,
    /// The vendor ended an approved registration's protection, with a reason.
    Revoked,
}

impl RegistrationStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            RegistrationStatus::Pending => "pending",
            RegistrationStatus::Approved => "approved",
            RegistrationStatus::Rejected => "rejected",
            RegistrationStatus::Expired => "expired",
            RegistrationStatus::Revoked => "revoked",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [
            RegistrationStatus::Pending,
            RegistrationStatus::Approved,
            RegistrationStatus::Rejected,
            RegistrationStatus::Expired,
            RegistrationStatus::Revoked,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

/// The id of a deal: the hash of its genesis change.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DealId(pub(crate) ChangeHash);

impl DealId {
    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0 .0
    }

    /// From 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        DealId(ChangeHash(bytes))
    }

    /// Parses the 64-character hex form.
    pub fn parse(s: &str) -> Result<Self, DealError> {
        s.parse::<ChangeHash>()
            .map(DealId)
            .map_err(|_| DealError::Invalid(format!("'{s}' is not a deal id")))
    }
}

impl fmt::Display for DealId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
impl fmt::Debug for DealId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DealId({})", self.0)
    }
}

/// The local author of edits: a node key and the run counter of this process, which together
/// give the Automerge actor id.
#[derive(Clone, Debug)]
pub struct Signer {
    key: NodeKey,
    actor: ActorId,
}

impl Signer {
    /// `run_counter` must differ on every process start (the node persists and increments it).
    pub fn new(key: NodeKey, run_counter: u64) -> Self {
        let actor = key.actor_id(run_counter);
        Signer { key, actor }
    }

    /// The node id that signs.
    pub fn node_id(&self) -> &NodeId {
        self.key.node_id()
    }

    /// The signing key.
    pub fn key(&self) -> &NodeKey {
        &self.key
    }
}

/// A change whose signature, author and authorization have been checked (or which this node
/// made itself), and which is now part of the document. The node persists
/// [`VerifiedChange::envelope`]'s encoding before acknowledging it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedChange {
    hash: ChangeHash,
    envelope: SignedChange,
}

impl VerifiedChange {
    pub(crate) fn new(hash: ChangeHash, envelope: SignedChange) -> Self {
        VerifiedChange { hash, envelope }
    }

    /// The change hash.
    pub fn hash(&self) -> ChangeHash {
        self.hash
    }

    /// The signed envelope, to persist and relay.
    pub fn envelope(&self) -> &SignedChange {
        &self.envelope
    }

    /// The author.
    pub fn author(&self) -> &NodeId {
        self.envelope.author()
    }
}

/// A participant as the origin invites it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invite {
    pub node: NodeId,
    pub name: String,
    pub role: Role,
}

/// The shared (policy-projected) fields of a deal. In an update, `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SharedFields {
    pub title: Option<String>,
    pub stage: Option<Stage>,
    pub amount: Option<Amount>,
    pub currency: Option<Currency>,
    pub close_date: Option<Date>,
    pub account_name: Option<String>,
    pub account_domain: Option<Domain>,
    /// Other projected fields, as text. In an update a value of `None` removes the field.
    pub other: BTreeMap<String, Option<String>>,
    /// Typed fields an update removes (a policy no longer shares them). Refused at creation
    /// and together with a value for the same field.
    pub clear: BTreeSet<SharedField>,
}

/// One typed shared field, to name in [`SharedFields::clear`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SharedField {
    Title,
    Stage,
    Amount,
    Currency,
    CloseDate,
    AccountName,
    AccountDomain,
}

impl SharedField {
    fn is_set_in(self, fields: &SharedFields) -> bool {
        match self {
            SharedField::Title => fields.title.is_some(),
            SharedField::Stage => fields.stage.is_some(),
            SharedField::Amount => fields.amount.is_some(),
            SharedField::Currency => fields.currency.is_some(),
            SharedField::CloseDate => fields.close_date.is_some(),
            SharedField::AccountName => fields.account_name.is_some(),
            SharedField::AccountDomain => fields.account_domain.is_some(),
        }
    }
}

/// What a node writes into its own section. `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SectionUpdate {
    /// Notes appended to the section's list.
    pub add_notes: Vec<String>,
    pub next_step: Option<String>,
    /// Replaces the contact list.
    pub contacts: Option<Vec<String>>,
    pub contribution: Option<String>,
    /// This node's own pipeline stage for the deal.
    pub stage: Option<Stage>,
    /// This node's own opportunity id the deal is linked to.
    pub linked_opportunity: Option<String>,
}

/// The typed view of a deal, as the API and UI read it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DealView {
    pub origin: Option<NodeId>,
    pub created_at_ms: Option<u64>,
    pub participants: BTreeMap<NodeId, ParticipantView>,
    pub shared: SharedView,
    pub sections: BTreeMap<NodeId, SectionView>,
    pub registration: RegistrationView,
    pub attribution: AttributionView,
}

/// One participant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParticipantView {
    pub name: String,
    pub role: Option<Role>,
    pub status: Option<ParticipantStatus>,
    /// Why it declined, in its own words (`None` when it gave none, or wrote with an older node).
    pub decline_reason: Option<String>,
}

/// The shared fields as read. Values that do not parse read as `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SharedView {
    pub title: Option<String>,
    pub stage: Option<Stage>,
    pub amount: Option<Amount>,
    pub currency: Option<Currency>,
    pub close_date: Option<Date>,
    pub account_name: Option<String>,
    pub account_domain: Option<Domain>,
    pub other: BTreeMap<String, String>,
}

/// One node's section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SectionView {
    pub notes: Vec<String>,
    pub next_step: Option<String>,
    pub contacts: Vec<String>,
    pub contribution: Option<String>,
    pub stage: Option<Stage>,
    pub linked_opportunity: Option<String>,
}

/// The registration slot: every claim and decision, and the winning claim (first to register by
/// its signed timestamp, ties broken by node id) with its vendor's decision.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistrationView {
    pub claims: BTreeMap<NodeId, RegistrationClaim>,
    pub decisions: BTreeMap<NodeId, RegistrationDecision>,
    /// The first claim, if any.
    pub registered_by: Option<NodeId>,
    /// The decision of the first claim's vendor on it, if any.
    pub status: Option<RegistrationStatus>,
}

/// A partner's registration claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationClaim {
    pub vendor: Option<NodeId>,
    /// A claim: the claimant's clock, signed but not proven.
    pub registered_at_ms: Option<u64>,
    pub notes: Option<String>,
}

/// A vendor's decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationDecision {
    pub registrant: Option<NodeId>,
    pub status: Option<RegistrationStatus>,
    pub decided_at_ms: Option<u64>,
    pub expires_at_ms: Option<u64>,
    pub reason: Option<String>,
    /// The registered terms as the vendor read them when it decided (field → text), so a
    /// change the partner made concurrently — offline, or before the decision reached it —
    /// is not taken as decided. `None` for a decision written without them (older nodes).
    pub terms: Option<BTreeMap<String, String>>,
}

/// The registration decision a vendor makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Approved {
        expires_at_ms: u64,
    },
    Rejected {
        reason: String,
    },
    Expired,
    /// The vendor ends an approved registration's protection before it expires.
    Revoked {
        reason: String,
    },
}

/// Attribution: the origin's record plus each node's proposal and acceptance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttributionView {
    pub sourced_by: Option<NodeId>,
    pub influenced_by: Vec<NodeId>,
    pub proposals: BTreeMap<NodeId, AttributionProposal>,
    /// node → the proposer whose proposal it accepts.
    pub acceptances: BTreeMap<NodeId, NodeId>,
    /// node → the content it accepted (as the proposal read when it accepted), so a proposal
    /// changed afterwards is not taken as accepted.
    pub accepted_content: BTreeMap<NodeId, AttributionProposal>,
}

/// One node's attribution proposal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributionProposal {
    pub sourced_by: Option<NodeId>,
    pub influenced_by: Vec<NodeId>,
}

/// One deal document with its ownership table, the signed envelopes of its changes (kept to relay
/// them) and the queue of verified changes waiting for their dependencies. A clone is an
/// independent replica in the same state (a test starts every case from one deal without
/// verifying it again: `restore` costs about a millisecond, a clone microseconds).
#[derive(Debug, Clone)]
pub struct DealDoc {
    pub(crate) id: DealId,
    pub(crate) doc: Automerge,
    pub(crate) authority: Authority,
    pub(crate) envelopes: HashMap<ChangeHash, SignedChange>,
    pub(crate) pending: Pending,
}

impl DealDoc {
    /// Creates a deal: the genesis change, by `signer` as origin. `participants` are the invited
    /// partners (the origin is added with `origin_name` and `origin_role`, status accepted).
    pub fn create(
        signer: &Signer,
        now_ms: u64,
        origin_name: &str,
        origin_role: Role,
        participants: &[Invite],
        shared: &SharedFields,
    ) -> Result<(DealDoc, VerifiedChange), DealError> {
        let origin = (origin_name, origin_role);
        Self::create_as(signer, now_ms, origin, participants, shared, None)
    }

    /// [`DealDoc::create`], optionally as a document of a declared kind (its genesis names the
    /// kind and holds an empty list of steps).
    pub(crate) fn create_as(
        signer: &Signer,
        now_ms: u64,
        (origin_name, origin_role): (&str, Role),
        participants: &[Invite],
        shared: &SharedFields,
        kind: Option<&'static crate::kind::KindSpec>,
    ) -> Result<(DealDoc, VerifiedChange), DealError> {
        check_text(origin_name)?;
        if participants.len() + 1 > PARTICIPANTS_MAX {
            return Err(DealError::Invalid("too many participants".into()));
        }
        for invite in participants {
            check_text(&invite.name)?;
            if &invite.node == signer.node_id() {
                return Err(DealError::Invalid(
                    "the origin is already a participant".into(),
                ));
            }
        }
        check_shared(shared)?;
        if !shared.clear.is_empty() {
            return Err(DealError::Invalid(
                "a new deal has no shared fields to clear".into(),
            ));
        }
        let mut doc = Automerge::new();
        doc.set_actor(signer.actor.clone());
        let mut tx = doc.transaction();
        let origin = signer.node_id().as_str();
        tx.put(ROOT, keys::SCHEMA, SCHEMA_VERSION)?;
        tx.put(ROOT, keys::ORIGIN, origin)?;
        tx.put(ROOT, keys::CREATED_AT, now_ms)?;
        let list = tx.put_object(ROOT, keys::PARTICIPANTS, ObjType::Map)?;
        put_participant(
            &mut tx,
            &list,
            origin,
            origin_name,
            origin_role,
            ParticipantStatus::Accepted,
        )?;
        for invite in participants {
            let node = invite.node.as_str();
            put_participant(
                &mut tx,
                &list,
                node,
                &invite.name,
                invite.role,
                ParticipantStatus::Invited,
            )?;
        }
        let shared_obj = tx.put_object(ROOT, keys::SHARED, ObjType::Map)?;
        write_shared(&mut tx, &shared_obj, shared)?;
        tx.put_object(ROOT, keys::SECTIONS, ObjType::Map)?;
        let registration = tx.put_object(ROOT, keys::REGISTRATION, ObjType::Map)?;
        tx.put_object(&registration, keys::CLAIMS, ObjType::Map)?;
        tx.put_object(&registration, keys::DECISIONS, ObjType::Map)?;
        let attribution = tx.put_object(ROOT, keys::ATTRIBUTION, ObjType::Map)?;
        tx.put_object(&attribution, keys::PROPOSALS, ObjType::Map)?;
        tx.put_object(&attribution, keys::ACCEPTANCES, ObjType::Map)?;
        if let Some(kind) = kind {
            tx.put(ROOT, crate::kind::KIND_KEY, kind.name)?;
            tx.put_object(ROOT, crate::kind::STEPS_KEY, ObjType::List)?;
        }
        let (hash, _) = tx.commit_with(CommitOptions::default().with_time(time_i64(now_ms)));
        let hash = hash.ok_or(DealError::Empty)?;
        let mut deal = DealDoc {
            id: DealId(hash),
            doc,
            authority: Authority::default(),
            envelopes: HashMap::new(),
            pending: Pending::default(),
        };
        let verified = deal.record_local(signer, hash);
        Ok((deal, verified))
    }

    /// An empty replica of deal `id`, waiting for its genesis change from a peer.
    pub fn replica(id: DealId) -> DealDoc {
        DealDoc {
            id,
            doc: Automerge::new(),
            authority: Authority::default(),
            envelopes: HashMap::new(),
            pending: Pending::default(),
        }
    }

    /// The deal id.
    pub fn id(&self) -> DealId {
        self.id
    }

    /// Whether the genesis change has arrived.
    pub fn is_initialized(&self) -> bool {
        !self.authority.is_genesis_pending()
    }

    /// The current heads.
    pub fn heads(&self) -> Vec<ChangeHash> {
        self.doc.get_heads()
    }

    /// The origin, once the genesis change is here.
    pub fn origin(&self) -> Option<&NodeId> {
        self.authority.origin()
    }

    /// Whether `node` is a participant.
    pub fn is_participant(&self, node: &NodeId) -> bool {
        self.authority.is_participant(node)
    }

    /// Every node that is a participant ([`DealDoc::is_participant`]), in id order: who a
    /// change to the document may concern.
    pub fn participants(&self) -> impl Iterator<Item = &NodeId> {
        self.authority.participants()
    }

    /// Every signed change of the document, in causal order (for storage snapshots and audits).
    pub fn envelopes(&self) -> Vec<SignedChange> {
        self.doc
            .get_changes(&[])
            .iter()
            .filter_map(|c| self.envelopes.get(&c.hash()).cloned())
            .collect()
    }

    /// The signed envelope of one change.
    pub fn envelope(&self, hash: &ChangeHash) -> Option<&SignedChange> {
        self.envelopes.get(hash)
    }

    /// Number of changes waiting for their dependencies.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// The underlying Automerge document, read-only.
    pub fn automerge(&self) -> &Automerge {
        &self.doc
    }

    /// Sets shared fields. Origin only.
    pub fn set_shared(
        &mut self,
        signer: &Signer,
        now_ms: u64,
        update: &SharedFields,
    ) -> Result<VerifiedChange, DealError> {
        self.require_origin(signer)?;
        check_shared(update)?;
        if update == &SharedFields::default() {
            return Err(DealError::Empty);
        }
        let shared = self.object(&ROOT, keys::SHARED)?;
        self.edit(signer, now_ms, |tx| write_shared(tx, &shared, update))
    }

    /// Adds a participant (invited). Origin only.
    pub fn add_participant(
        &mut self,
        signer: &Signer,
        now_ms: u64,
        invite: &Invite,
    ) -> Result<VerifiedChange, DealError> {
        self.require_origin(signer)?;
        check_text(&invite.name)?;
        if self.authority.is_participant(&invite.node) {
            return Err(DealError::Invalid("already a participant".into()));
        }
        if self.read_view().participants.len() >= PARTICIPANTS_MAX {
            return Err(DealError::Invalid("too many participants".into()));
        }
        let list = self.object(&ROOT, keys::PARTICIPANTS)?;
        self.edit(signer, now_ms, |tx| {
            put_participant(
                tx,
                &list,
                invite.node.as_str(),
                &invite.name,
                invite.role,
                ParticipantStatus::Invited,
            )
        })
    }

    /// Accepts this node's invitation.
    pub fn accept(&mut self, signer: &Signer, now_ms: u64) -> Result<VerifiedChange, DealError> {
        self.set_own_status(signer, now_ms, ParticipantStatus::Accepted)
    }

    /// Declines this node's invitation.
    pub fn decline(&mut self, signer: &Signer, now_ms: u64) -> Result<VerifiedChange, DealError> {
        self.set_own_status(signer, now_ms, ParticipantStatus::Declined)
    }

    /// Declines this node's invitation with a reason the other participants read, in the same
    /// change as the status. Without a reason this is [`DealDoc::decline`]: a node that predates
    /// reasons refuses a change writing one, so none is written unless the user gave one.
    pub fn decline_because(
        &mut self,
        signer: &Signer,
        now_ms: u64,
        reason: Option<&str>,
    ) -> Result<VerifiedChange, DealError> {
        let Some(reason) = reason else {
            return self.decline(signer, now_ms);
        };
        check_text(reason)?;
        self.require_participant(signer)?;
        let list = self.object(&ROOT, keys::PARTICIPANTS)?;
        let entry = self.object(&list, signer.node_id().as_str())?;
        self.edit(signer, now_ms, |tx| {
            tx.put(&entry, keys::STATUS, ParticipantStatus::Declined.as_str())?;
            tx.put(&entry, keys::DECLINE_REASON, reason)
        })
    }

    /// Marks a participant's invitation expired. Origin only.
    pub fn expire_participant(
        &mut self,
        signer: &Signer,
        now_ms: u64,
        node: &NodeId,
    ) -> Result<VerifiedChange, DealError> {
        self.set_status_as_origin(signer, now_ms, node, ParticipantStatus::Expired)
    }

    /// Ends a participant's part in the deal ([`ParticipantStatus::Removed`]). Origin only.
    pub fn remove_participant(
        &mut self,
        signer: &Signer,
        now_ms: u64,
        node: &NodeId,
    ) -> Result<VerifiedChange, DealError> {
        self.set_status_as_origin(signer, now_ms, node, ParticipantStatus::Removed)
    }

    fn set_status_as_origin(
        &mut self,
        signer: &Signer,
        now_ms: u64,
        node: &NodeId,
        status: ParticipantStatus,
    ) -> Result<VerifiedChange, DealError> {
        self.require_origin(signer)?;
        self.write_status(signer, now_ms, node, status)
    }

    fn set_own_status(
        &mut self,
        signer: &Signer,
        now_ms: u64,
        status: ParticipantStatus,
    ) -> Result<VerifiedChange, DealError> {
        self.require_participant(signer)?;
        let node = signer.node_id().clone();
        self.write_status(signer, now_ms, &node, status)
    }

    fn write_status(
        &mut self,
        signer: &Signer,
        now_ms: u64,
        node: &NodeId,
        status: ParticipantStatus,
    ) -> Result<VerifiedChange, DealError> {
        let list = self.object(&ROOT, keys::PARTICIPANTS)?;
        let entry = self.object(&list, node.as_str())?;
        self.edit(signer, now_ms, |tx| {
            tx.put(&entry, keys::STATUS, status.as_str())
        })
    }

    /// Writes this node's own section.
    pub fn update_section(
        &mut self,
        signer: &Signer,
        now_ms: u64,
        update: &SectionUpdate,
    ) -> Result<VerifiedChange, DealError> {
        self.require_participant(signer)?;
        if update == &SectionUpdate::default() {
            return Err(DealError::Empty);
        }
        for text in update
            .add_notes
            .iter()
            .chain(update.contacts.iter().flatten())
            .chain(&update.next_step)
            .chain(&update.contribution)
            .chain(&update.linked_opportunity)
        {
            check_text(text)?;
        }
        let sections = self.object(&ROOT, keys::SECTIONS)?;
        let me = signer.node_id().as_str().to_string();
        let existing = self.object(&sections, &me).ok();
        let notes = existing
            .as_ref()
            .and_then(|s| self.object(s, keys::NOTES).ok());
        self.edit(signer, now_ms, |tx| {
            let section = match existing {
                Some(s) => s,
                None => tx.put_object(&sections, &me, ObjType::Map)?,
            };
            let notes = match notes {
                Some(n) => n,
                None => tx.put_object(&section, keys::NOTES, ObjType::List)?,
            };
            for note in &update.add_notes {
                let at = tx.length(&notes);
                tx.insert(&notes, at, note.as_str())?;
            }
            if let Some(contacts) = &update.contacts {
                let list = tx.put_object(&section, keys::CONTACTS, ObjType::List)?;
                for (i, c) in contacts.iter().enumerate() {
                    tx.insert(&list, i, c.as_str())?;
                }
            }
            put_opt(tx, &section, keys::NEXT_STEP, update.next_step.as_deref())?;
            put_opt(
                tx,
                &section,
                keys::CONTRIBUTION,
                update.contribution.as_deref(),
            )?;
            put_opt(tx, &section, keys::STAGE, update.stage.map(|s| s.as_str()))?;
            put_opt(
                tx,
                &section,
                keys::LINKED_OPPORTUNITY,
                update.linked_opportunity.as_deref(),
            )
        })
    }

    /// Writes `key` = `value` into this node's own section: a slot the typed API has none for
    /// (an erasure request to the origin). Verified like every section write: a node writes only
    /// its own section; nodes that do not know the key ignore it.
    pub fn set_section_text(
        &mut self,
        signer: &Signer,
        now_ms: u64,
        key: &str,
        value: &str,
    ) -> Result<VerifiedChange, DealError> {
        self.require_participant(signer)?;
        if value.len() > FIELD_BYTES_MAX * 4 {
            return Err(DealError::Invalid(format!("'{key}' is too long")));
        }
        let sections = self.object(&ROOT, keys::SECTIONS)?;
        let me = signer.node_id().as_str().to_string();
        let existing = self.object(&sections, &me).ok();
        self.edit(signer, now_ms, |tx| {
            let section = match existing {
                Some(s) => s,
                None => tx.put_object(&sections, &me, ObjType::Map)?,
            };
            tx.put(&section, key, value)
        })
    }

    /// The text `node` wrote under `key` in its own section ([`DealDoc::set_section_text`]).
    pub fn section_text(&self, node: &NodeId, key: &str) -> Option<String> {
        let sections = self.object(&ROOT, keys::SECTIONS).ok()?;
        let section = self.object(&sections, node.as_str()).ok()?;
        match self.doc.get(&section, key).ok()?? {
            (Value::Scalar(s), _) => s.as_str().map(str::to_string),
            _ => None,
        }
    }

    /// Registers the deal with `vendor` (a participant with the vendor role): this node's claim.
    pub fn register(
        &mut self,
        signer: &Signer,
        now_ms: u64,
        vendor: &NodeId,
        notes: Option<&str>,
    ) -> Result<VerifiedChange, DealError> {
        self.require_participant(signer)?;
        if self.authority.role_of(vendor) != Some(Role::Vendor) {
            return Err(DealError::Invalid(
                "the registration's vendor must be a vendor participant".into(),
            ));
        }
        if let Some(n) = notes {
            check_text(n)?;
        }
        let claims = self.object_at(&[keys::REGISTRATION, keys::CLAIMS])?;
        let me = signer.node_id().as_str().to_string();
        self.edit(signer, now_ms, |tx| {
            let claim = tx.put_object(&claims, &me, ObjType::Map)?;
            tx.put(&claim, keys::VENDOR, vendor.as_str())?;
            tx.put(&claim, keys::REGISTERED_AT, now_ms)?;
            put_opt(tx, &claim, keys::NOTES, notes)
        })
    }

    /// A vendor's decision on `registrant`'s claim, on the registered `terms` as the vendor
    /// read them (field → text; see [`RegistrationDecision::terms`]). Vendor role only.
    pub fn decide_registration(
        &mut self,
        signer: &Signer,
        now_ms: u64,
        registrant: &NodeId,
        decision: &Decision,
        terms: &BTreeMap<String, String>,
    ) -> Result<VerifiedChange, DealError> {
        self.require_participant(signer)?;
        if self.authority.role_of(signer.node_id()) != Some(Role::Vendor) {
            return Err(DealError::NotAllowed("only a vendor decides registrations"));
        }
        let decisions = self.object_at(&[keys::REGISTRATION, keys::DECISIONS])?;
        let me = signer.node_id().as_str().to_string();
        self.edit(signer, now_ms, |tx| {
            let d = tx.put_object(&decisions, &me, ObjType::Map)?;
            tx.put(&d, keys::REGISTRANT, registrant.as_str())?;
            tx.put(&d, keys::DECIDED_AT, now_ms)?;
            let status = match decision {
                Decision::Approved { expires_at_ms } => {
                    tx.put(&d, keys::EXPIRES_AT, *expires_at_ms)?;
                    RegistrationStatus::Approved
                }
                Decision::Rejected { reason } => {
                    tx.put(&d, keys::REASON, reason.as_str())?;
                    RegistrationStatus::Rejected
                }
                Decision::Expired => RegistrationStatus::Expired,
                Decision::Revoked { reason } => {
                    tx.put(&d, keys::REASON, reason.as_str())?;
                    RegistrationStatus::Revoked
                }
            };
            let t = tx.put_object(&d, keys::TERMS, ObjType::Map)?;
            for (field, text) in terms {
                tx.put(&t, field.as_str(), text.as_str())?;
            }
            tx.put(&d, keys::STATUS, status.as_str())
        })
    }

    /// The origin's attribution record.
    pub fn set_attribution(
        &mut self,
        signer: &Signer,
        now_ms: u64,
        sourced_by: &NodeId,
        influenced_by: &[NodeId],
    ) -> Result<VerifiedChange, DealError> {
        self.require_origin(signer)?;
        let attribution = self.object(&ROOT, keys::ATTRIBUTION)?;
        self.edit(signer, now_ms, |tx| {
            write_attribution(tx, &attribution, sourced_by, influenced_by)
        })
    }

    /// This node's attribution proposal.
    pub fn propose_attribution(
        &mut self,
        signer: &Signer,
        now_ms: u64,
        sourced_by: &NodeId,
        influenced_by: &[NodeId],
    ) -> Result<VerifiedChange, DealError> {
        self.require_participant(signer)?;
        let proposals = self.object_at(&[keys::ATTRIBUTION, keys::PROPOSALS])?;
        let me = signer.node_id().as_str().to_string();
        self.edit(signer, now_ms, |tx| {
            let p = tx.put_object(&proposals, &me, ObjType::Map)?;
            write_attribution(tx, &p, sourced_by, influenced_by)
        })
    }

    /// This node accepts `proposer`'s attribution proposal; the acceptance records the content
    /// accepted, so a later change of the proposal is not covered by it.
    pub fn accept_attribution(
        &mut self,
        signer: &Signer,
        now_ms: u64,
        proposer: &NodeId,
    ) -> Result<VerifiedChange, DealError> {
        self.require_participant(signer)?;
        let proposal = self
            .read_view()
            .attribution
            .proposals
            .get(proposer)
            .cloned()
            .ok_or_else(|| DealError::Invalid(format!("{proposer} has proposed no attribution")))?;
        let acceptances = self.object_at(&[keys::ATTRIBUTION, keys::ACCEPTANCES])?;
        let me = signer.node_id().as_str().to_string();
        self.edit(signer, now_ms, |tx| {
            let a = tx.put_object(&acceptances, &me, ObjType::Map)?;
            tx.put(&a, keys::PROPOSAL, proposer.as_str())?;
            if let Some(sourced_by) = &proposal.sourced_by {
                write_attribution(tx, &a, sourced_by, &proposal.influenced_by)?;
            }
            Ok(())
        })
    }

    fn require_origin(&self, signer: &Signer) -> Result<(), DealError> {
        match self.authority.origin() {
            None => Err(DealError::NotInitialized),
            Some(origin) if origin == signer.node_id() => Ok(()),
            Some(_) => Err(DealError::NotAllowed("only the origin may do this")),
        }
    }

    fn require_participant(&self, signer: &Signer) -> Result<(), DealError> {
        if self.authority.is_genesis_pending() {
            return Err(DealError::NotInitialized);
        }
        if !self.authority.is_participant(signer.node_id()) {
            return Err(DealError::NotAllowed("only participants write to a deal"));
        }
        if self
            .authority
            .is_removed(&self.doc.get_heads(), signer.node_id())
        {
            return Err(DealError::NotAllowed(
                "the origin removed this node from the deal",
            ));
        }
        Ok(())
    }

    fn object(&self, parent: &ObjId, key: &str) -> Result<ObjId, DealError> {
        match self.doc.get(parent, key)? {
            Some((Value::Object(_), id)) => Ok(id),
            _ => Err(DealError::Document(format!("missing object '{key}'"))),
        }
    }

    fn object_at(&self, path: &[&str]) -> Result<ObjId, DealError> {
        let mut obj = ROOT;
        for key in path {
            obj = self.object(&obj, key)?;
        }
        Ok(obj)
    }

    /// Runs one transaction as `signer`, commits it as exactly one change, signs it and records it.
    fn edit(
        &mut self,
        signer: &Signer,
        now_ms: u64,
        write: impl FnOnce(&mut Transaction<'_>) -> Result<(), automerge::AutomergeError>,
    ) -> Result<VerifiedChange, DealError> {
        self.doc.set_actor(signer.actor.clone());
        let mut tx = self.doc.transaction();
        if let Err(e) = write(&mut tx) {
            tx.rollback();
            return Err(e.into());
        }
        let (hash, _) = tx.commit_with(CommitOptions::default().with_time(time_i64(now_ms)));
        let hash = hash.ok_or(DealError::Empty)?;
        Ok(self.record_local(signer, hash))
    }

    fn record_local(&mut self, signer: &Signer, hash: ChangeHash) -> VerifiedChange {
        let change = self
            .doc
            .get_change_by_hash(&hash)
            .expect("a committed change is in its document");
        let expanded = change.decode();
        let authorized = self.authority.authorize(&expanded, hash, signer.node_id());
        assert!(
            authorized.is_ok(),
            "the typed API wrote an unauthorized path: {authorized:?}"
        );
        let envelope = SignedChange::sign(signer.key(), &change);
        self.envelopes.insert(hash, envelope.clone());
        VerifiedChange::new(hash, envelope)
    }

    /// Reads the document as a typed view. Values that do not parse read as absent.
    pub fn read_view(&self) -> DealView {
        let doc = &self.doc;
        let mut view = DealView {
            origin: get_str(doc, &ROOT, keys::ORIGIN).and_then(|s| NodeId::parse(&s).ok()),
            created_at_ms: get_u64(doc, &ROOT, keys::CREATED_AT),
            ..DealView::default()
        };
        if let Some(list) = get_obj(doc, &ROOT, keys::PARTICIPANTS) {
            for (node, entry) in node_entries(doc, &list) {
                view.participants.insert(
                    node,
                    ParticipantView {
                        name: get_str(doc, &entry, keys::NAME).unwrap_or_default(),
                        role: get_str(doc, &entry, keys::ROLE).and_then(|s| Role::parse(&s).ok()),
                        status: read_status(doc, &entry),
                        decline_reason: get_str(doc, &entry, keys::DECLINE_REASON),
                    },
                );
            }
        }
        if let Some(shared) = get_obj(doc, &ROOT, keys::SHARED) {
            view.shared = read_shared(doc, &shared);
        }
        if let Some(sections) = get_obj(doc, &ROOT, keys::SECTIONS) {
            for (node, s) in node_entries(doc, &sections) {
                view.sections.insert(node, read_section(doc, &s));
            }
        }
        if let Some(registration) = get_obj(doc, &ROOT, keys::REGISTRATION) {
            view.registration = read_registration(doc, &registration);
        }
        if let Some(attribution) = get_obj(doc, &ROOT, keys::ATTRIBUTION) {
            view.attribution = read_attribution(doc, &attribution);
        }
        view
    }
}

mod kind;
mod read;
mod write;
pub use kind::KindView;
use read::*;
use write::*;
