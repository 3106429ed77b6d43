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

/// Every event kind a node publishes (webhook subscriptions name these).
pub const EVENT_KINDS: &[&str] = &[
    "deal.invited",
    "deal.accepted",
    "deal.declined",
    "deal.stage_changed",
    "deal.updated",
    "registration.submitted",
    "registration.approved",
    "registration.rejected",
    "registration.overdue",
    "registration.changed_after_decision",
    "partner.joined",
    "partner.removed",
    "import.completed",
];

/// One thing that happened on this node.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// Increasing within one run of the node.
    pub seq: u64,
    /// One of [`EVENT_KINDS`].
    pub kind: &'static str,
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

    /// Publishes an event to every current subscriber. `kind` must be one of [`EVENT_KINDS`].
    pub fn publish(&self, kind: &'static str, data: Value) -> Event {
        debug_assert!(EVENT_KINDS.contains(&kind), "unknown event kind {kind}");
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
    if EVENT_KINDS.iter().any(|k| pattern_matches(pattern, k)) {
        Ok(())
    } else {
        Err(format!(
            "'{pattern}' matches no event (events: {}; or a prefix like deal.*, or *)",
            EVENT_KINDS.join(", ")
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
        bus.publish("deal.invited", serde_json::json!({"deal_id": "d1"}));
        bus.publish("deal.accepted", serde_json::json!({"deal_id": "d1"}));
        let a = rx.try_recv().unwrap();
        let b = rx.try_recv().unwrap();
        assert_eq!((a.kind, b.kind), ("deal.invited", "deal.accepted"));
        assert!(a.seq < b.seq);
    }
}
