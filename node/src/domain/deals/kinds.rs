//! What a document is for (a deal, an invitation to one, a registration), read from the
//! shared-field keys its origin wrote, and what the node tracks of each document to gate sync
//! and to notice events.

use protocol::deal::{DealDoc, DealId, DealView, ParticipantStatus, RegistrationStatus};
use protocol::identity::NodeId;
use protocol::records::Stage;
use std::collections::{BTreeMap, HashSet};

/// Shared-field key (origin-written, in the genesis change) that marks what a document is for:
/// absent for a deal, [`KIND_INVITATION`] or [`KIND_REGISTRATION`].
pub const KIND_KEY: &str = "cosell.kind";
/// [`KIND_KEY`] value of an invitation: the redacted summary of one deal for one invitee.
pub const KIND_INVITATION: &str = "invitation";
/// [`KIND_KEY`] value of a deal registration (a partner registers an account with a vendor).
pub const KIND_REGISTRATION: &str = "registration";
/// Shared-field key of an invitation: the id of the deal it invites to.
pub const FOR_DEAL_KEY: &str = "cosell.deal";
/// Shared-field key of a deal its origin's policies no longer admit (closed lost, a tag the
/// policy excludes): the deal says "no longer shared by …" instead of going blank. Its value is
/// the outcome (the closed stage) when the policies share the stage, else empty.
pub const WITHHELD_KEY: &str = "cosell.withheld";
/// Shared-field key the origin signs when it withdraws a deal (and its invitations): JSON
/// `{"why", "at"}`. The same change clears every other shared field; a receiver that applies it
/// keeps only a tombstone (`domain::deals::withdraw`).
pub const WITHDRAWN_KEY: &str = "cosell.withdrawn";
/// Shared-field key the origin signs when it erases a person's data from a deal: a JSON list of
/// erasure requests `{"kind", "words", "digest", "at"}` — a digest of the value, never the value
/// — that every participant's honest node applies to what it wrote and stored
/// (`domain::erase`).
pub const ERASURE_KEY: &str = "cosell.erasure";
/// Shared-field key of an invitation: when it expires (ms since the epoch).
pub const EXPIRES_KEY: &str = "cosell.expires_at";
/// Shared-field key of an invitation: the origin's message to the invitee, signed with it (an
/// invitation made by an older node has none).
pub const MESSAGE_KEY: &str = "cosell.message";
/// Longest invitation message, in characters (after trimming).
pub const MESSAGE_CHARS_MAX: usize = 1000;
/// Longest decline reason, in characters (after trimming).
pub const DECLINE_REASON_CHARS_MAX: usize = 500;

/// An invitation message or decline reason as given (`field` names it in an error): trimmed,
/// blank is none, at most `chars_max` characters, no control characters but tab and line
/// breaks (422 otherwise).
pub fn clean_note(
    field: &'static str,
    text: Option<&str>,
    chars_max: usize,
) -> Result<Option<String>, crate::domain::error::DomainError> {
    protocol::records::clean_text(field, text, chars_max)
        .map_err(|e| crate::domain::error::DomainError::fields(vec![(e.field, e.message)]))
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
    /// A document of a declared kind (`protocol::kind`), by the kind's name (`mdf`, …): shared
    /// between its participants only, its state replayed from its steps.
    Declared(&'static str),
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
    /// A declared document's replayed state and its number of steps (applied or stale).
    pub state: Option<&'static str>,
    pub steps: usize,
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

pub(super) fn info_of(doc: &DealDoc) -> Option<DocInfo> {
    if !doc.is_initialized() {
        return None;
    }
    let view = doc.read_view();
    let declared = doc.kind_view();
    Some(DocInfo {
        kind: match &declared {
            Some(k) => DocKind::Declared(k.spec.name),
            None => kind_of(&view),
        },
        state: declared.as_ref().and_then(|k| k.folded.state),
        steps: declared.as_ref().map_or(0, |k| k.folded.history.len()),
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
