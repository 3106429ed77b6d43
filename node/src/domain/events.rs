//! Node events — a deal invitation arrived, a partner accepted, a stage changed, a registration
//! was decided — published once and fanned out to the web UI's server-sent-event stream
//! (`GET /api/v1/events`) and to webhooks ([`crate::domain::webhooks`]). The bus is a bounded broadcast
//! channel: a subscriber that falls behind loses the oldest events (and is told so), the
//! publisher never blocks.

use crate::clock::Clock;
use serde::Serialize;
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::broadcast;

/// Events buffered for slow subscribers before the oldest are dropped.
pub const EVENTS_BUFFERED_MAX: usize = 1024;

/// Every event kind a node publishes (webhook subscriptions name these by [`EventKind::as_str`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum EventKind {
    /// `deal.invited`: an invitation from a partner arrived.
    #[serde(rename = "deal.invited")]
    DealInvited,
    /// `deal.accepted`: an invitee accepted.
    #[serde(rename = "deal.accepted")]
    DealAccepted,
    /// `deal.declined`: an invitee declined.
    #[serde(rename = "deal.declined")]
    DealDeclined,
    /// `deal.withdrawn`: the origin withdrew a deal (or its invitation) this node held; only
    /// who, when and why stay.
    #[serde(rename = "deal.withdrawn")]
    DealWithdrawn,
    /// `deal.stage_changed`: a deal's shared stage or a section's stage changed.
    #[serde(rename = "deal.stage_changed")]
    DealStageChanged,
    /// `deal.updated`: anything else about a deal changed.
    #[serde(rename = "deal.updated")]
    DealUpdated,
    /// `registration.submitted`.
    #[serde(rename = "registration.submitted")]
    RegistrationSubmitted,
    /// `registration.approved`.
    #[serde(rename = "registration.approved")]
    RegistrationApproved,
    /// `registration.rejected`.
    #[serde(rename = "registration.rejected")]
    RegistrationRejected,
    /// `registration.revoked`: the vendor ended an approved registration's protection.
    #[serde(rename = "registration.revoked")]
    RegistrationRevoked,
    /// `registration.overdue`: the vendor did not answer in time.
    #[serde(rename = "registration.overdue")]
    RegistrationOverdue,
    /// `registration.changed_after_decision`.
    #[serde(rename = "registration.changed_after_decision")]
    RegistrationChangedAfterDecision,
    /// `partner.joined`.
    #[serde(rename = "partner.joined")]
    PartnerJoined,
    /// `partner.removed`.
    #[serde(rename = "partner.removed")]
    PartnerRemoved,
    /// `import.completed`.
    #[serde(rename = "import.completed")]
    ImportCompleted,
    /// `mapping.completed`: an account mapping with a partner finished (started here or by the
    /// partner); the new matrix is stored.
    #[serde(rename = "mapping.completed")]
    MappingCompleted,
    /// `mdf.proposed`: a partner proposed an MDF activity (or revised it).
    #[serde(rename = "mdf.proposed")]
    MdfProposed,
    /// `mdf.approved`: the vendor approved an MDF request.
    #[serde(rename = "mdf.approved")]
    MdfApproved,
    /// `mdf.rejected`: the vendor rejected an MDF request, with a reason.
    #[serde(rename = "mdf.rejected")]
    MdfRejected,
    /// `mdf.changes_requested`: the vendor asked for changes to an MDF request.
    #[serde(rename = "mdf.changes_requested")]
    MdfChangesRequested,
    /// `mdf.claimed`: the partner claimed an MDF activity with proof.
    #[serde(rename = "mdf.claimed")]
    MdfClaimed,
    /// `mdf.reimbursed`: the vendor recorded an MDF reimbursement.
    #[serde(rename = "mdf.reimbursed")]
    MdfReimbursed,
    /// `program.tier_changed`: a partner's tier in the partner program changed
    /// (`{partner, partner_name, from, to}`; `from` is null the first time it is computed).
    #[serde(rename = "program.tier_changed")]
    ProgramTierChanged,
    /// `lead.offered`: a lead was offered to one partner (on both sides).
    #[serde(rename = "lead.offered")]
    LeadOffered,
    /// `lead.accepted`: the partner accepted an offered lead.
    #[serde(rename = "lead.accepted")]
    LeadAccepted,
    /// `lead.rejected`: the partner rejected an offered lead (the vendor re-routes it).
    #[serde(rename = "lead.rejected")]
    LeadRejected,
    /// `lead.withdrawn`: the vendor withdrew an offer its partner let pass (both sides).
    #[serde(rename = "lead.withdrawn")]
    LeadWithdrawn,
    /// `lead.expired`: the vendor's routing found an offer past its SLA (vendor only, before it
    /// re-routes the lead).
    #[serde(rename = "lead.expired")]
    LeadExpired,
    /// `lead.converted`: this partner turned an accepted lead into an opportunity (and maybe a
    /// deal with the vendor): `{id, opportunity_id, deal_id}` (partner only).
    #[serde(rename = "lead.converted")]
    LeadConverted,
    /// `plan.updated`: an account plan was opened or gained signed steps (goals, stakeholders,
    /// tasks, notes), on every company's node.
    #[serde(rename = "plan.updated")]
    PlanUpdated,
    /// `plan.task_overdue`: an open task of an account plan passed its due date (once per task,
    /// on every company's node).
    #[serde(rename = "plan.task_overdue")]
    PlanTaskOverdue,
    /// `announcement.received`: a vendor's announcement arrived (the partner only).
    #[serde(rename = "announcement.received")]
    AnnouncementReceived,
    /// `announcement.read`: the partner read an announcement (both sides: the vendor's read
    /// receipt).
    #[serde(rename = "announcement.read")]
    AnnouncementRead,
}

impl EventKind {
    /// Every kind, in the order the API lists them.
    pub const ALL: &'static [EventKind] = &[
        EventKind::DealInvited,
        EventKind::DealAccepted,
        EventKind::DealDeclined,
        EventKind::DealWithdrawn,
        EventKind::DealStageChanged,
        EventKind::DealUpdated,
        EventKind::RegistrationSubmitted,
        EventKind::RegistrationApproved,
        EventKind::RegistrationRejected,
        EventKind::RegistrationRevoked,
        EventKind::RegistrationOverdue,
        EventKind::RegistrationChangedAfterDecision,
        EventKind::PartnerJoined,
        EventKind::PartnerRemoved,
        EventKind::ImportCompleted,
        EventKind::MappingCompleted,
        EventKind::MdfProposed,
        EventKind::MdfApproved,
        EventKind::MdfRejected,
        EventKind::MdfChangesRequested,
        EventKind::MdfClaimed,
        EventKind::MdfReimbursed,
        EventKind::ProgramTierChanged,
        EventKind::LeadOffered,
        EventKind::LeadAccepted,
        EventKind::LeadRejected,
        EventKind::LeadWithdrawn,
        EventKind::LeadExpired,
        EventKind::LeadConverted,
        EventKind::PlanUpdated,
        EventKind::PlanTaskOverdue,
        EventKind::AnnouncementReceived,
        EventKind::AnnouncementRead,
    ];

    /// The kind's name on the wire (JSON, server-sent events, webhook subscriptions).
    pub const fn as_str(self) -> &'static str {
        match self {
            EventKind::DealInvited => "deal.invited",
            EventKind::DealAccepted => "deal.accepted",
            EventKind::DealDeclined => "deal.declined",
            EventKind::DealWithdrawn => "deal.withdrawn",
            EventKind::DealStageChanged => "deal.stage_changed",
            EventKind::DealUpdated => "deal.updated",
            EventKind::RegistrationSubmitted => "registration.submitted",
            EventKind::RegistrationApproved => "registration.approved",
            EventKind::RegistrationRejected => "registration.rejected",
            EventKind::RegistrationRevoked => "registration.revoked",
            EventKind::RegistrationOverdue => "registration.overdue",
            EventKind::RegistrationChangedAfterDecision => "registration.changed_after_decision",
            EventKind::PartnerJoined => "partner.joined",
            EventKind::PartnerRemoved => "partner.removed",
            EventKind::ImportCompleted => "import.completed",
            EventKind::MappingCompleted => "mapping.completed",
            EventKind::MdfProposed => "mdf.proposed",
            EventKind::MdfApproved => "mdf.approved",
            EventKind::MdfRejected => "mdf.rejected",
            EventKind::MdfChangesRequested => "mdf.changes_requested",
            EventKind::MdfClaimed => "mdf.claimed",
            EventKind::MdfReimbursed => "mdf.reimbursed",
            EventKind::ProgramTierChanged => "program.tier_changed",
            EventKind::LeadOffered => "lead.offered",
            EventKind::LeadAccepted => "lead.accepted",
            EventKind::LeadRejected => "lead.rejected",
            EventKind::LeadWithdrawn => "lead.withdrawn",
            EventKind::LeadExpired => "lead.expired",
            EventKind::LeadConverted => "lead.converted",
            EventKind::PlanUpdated => "plan.updated",
            EventKind::PlanTaskOverdue => "plan.task_overdue",
            EventKind::AnnouncementReceived => "announcement.received",
            EventKind::AnnouncementRead => "announcement.read",
        }
    }

    /// The event a declared document (`protocol::kind`) of kind `kind` publishes when it
    /// enters `state`: named `<kind>.<state>`.
    pub fn of_state(kind: &str, state: &str) -> Option<EventKind> {
        let name = format!("{kind}.{state}");
        EventKind::parse(&name)
    }

    /// The kind named `name`, if any.
    pub fn parse(name: &str) -> Option<EventKind> {
        EventKind::ALL.iter().copied().find(|k| k.as_str() == name)
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing that happened on this node.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// Increasing within one run of the node.
    pub seq: u64,
    /// What kind of event (serialized as its name, e.g. `deal.invited`).
    pub kind: EventKind,
    /// When, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// What, as JSON (ids, names; never more than the API would show the same user).
    pub data: Value,
}

/// The node's event bus. Cheap to share behind an `Arc`.
pub struct EventBus {
    sender: broadcast::Sender<Event>,
    next_seq: AtomicU64,
    /// Set when the node stops: open streams end, so the HTTP server's graceful shutdown does
    /// not wait for ever on a browser holding `GET /api/v1/events`.
    closed: tokio::sync::watch::Sender<bool>,
    /// Stamps each event's `at_ms`.
    clock: Clock,
}

/// A bus on the system clock.
impl Default for EventBus {
    fn default() -> Self {
        EventBus::new(Clock::system())
    }
}

impl EventBus {
    /// A bus whose events are stamped by `clock`.
    pub fn new(clock: Clock) -> Self {
        let (sender, _) = broadcast::channel(EVENTS_BUFFERED_MAX);
        EventBus {
            sender,
            next_seq: AtomicU64::new(1),
            closed: tokio::sync::watch::Sender::new(false),
            clock,
        }
    }

    /// Publishes an event to every current subscriber.
    pub fn publish(&self, kind: EventKind, data: Value) -> Event {
        let event = Event {
            seq: self.next_seq.fetch_add(1, Ordering::Relaxed),
            kind,
            at_ms: self.clock.now_ms(),
            data,
        };
        // No subscriber is not an error: events are for whoever listens now.
        let _ = self.sender.send(event.clone());
        event
    }

    /// A new subscription, receiving events published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.sender.subscribe()
    }

    /// Ends every open stream (the node is stopping).
    pub fn close(&self) {
        self.closed.send_replace(true);
    }

    /// Resolves once [`EventBus::close`] was called (at once if it was already).
    pub fn closed(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.closed.subscribe();
        async move {
            let _ = rx.wait_for(|closed| *closed).await;
        }
    }
}

/// Whether a subscription pattern (`deal.*`, `*`, or an exact kind) matches `kind`.
pub fn pattern_matches(pattern: &str, kind: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some("") => true,
        Some(prefix) => kind.starts_with(prefix),
        None => pattern == kind,
    }
}

/// Checks a subscription pattern names at least one event kind.
pub fn validate_pattern(pattern: &str) -> Result<(), String> {
    if EventKind::ALL
        .iter()
        .any(|k| pattern_matches(pattern, k.as_str()))
    {
        Ok(())
    } else {
        Err(format!(
            "'{pattern}' matches no event (events: {}; or a prefix like deal.*, or *)",
            EventKind::ALL
                .iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_exact_prefix_and_all() {
        assert!(pattern_matches("*", "deal.invited"));
        assert!(pattern_matches("deal.*", "deal.accepted"));
        assert!(!pattern_matches("deal.*", "registration.approved"));
        assert!(pattern_matches(
            "registration.overdue",
            "registration.overdue"
        ));
        assert!(validate_pattern("deals.*").is_err());
    }

    #[test]
    fn subscribers_receive_events_in_order() {
        let bus = EventBus::default();
        let mut rx = bus.subscribe();
        bus.publish(EventKind::DealInvited, serde_json::json!({"deal_id": "d1"}));
        bus.publish(
            EventKind::DealAccepted,
            serde_json::json!({"deal_id": "d1"}),
        );
        let a = rx.try_recv().unwrap();
        let b = rx.try_recv().unwrap();
        assert_eq!(
            (a.kind.as_str(), b.kind.as_str()),
            ("deal.invited", "deal.accepted")
        );
        assert!(a.seq < b.seq);
    }

    #[test]
    fn kinds_serialize_as_their_names() {
        for kind in EventKind::ALL {
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                serde_json::json!(kind.as_str())
            );
            assert_eq!(EventKind::parse(kind.as_str()), Some(*kind));
        }
        assert_eq!(EventKind::parse("deal.nope"), None);
    }
}
