//! The workflow events one document's change implies on this node (an invitation arrived, an
//! invitee answered, a stage or a registration decision changed).

use super::views::{invitation_json, shown_text};
use super::{DocInfo, DocKind};
use crate::domain::events::EventKind;
use protocol::deal::{DealDoc, DealId, ParticipantStatus, RegistrationStatus};
use protocol::identity::NodeId;
use serde_json::{json, Value};

/// The events one document's change implies on this node.
pub(super) fn events_between(
    me: &NodeId,
    id: DealId,
    doc: &DealDoc,
    old: Option<&DocInfo>,
    new: &DocInfo,
    now_ms: u64,
) -> Vec<(EventKind, Value)> {
    let mut out = Vec::new();
    let origin = new.origin.as_ref();
    match new.kind {
        DocKind::Invitation { deal } => {
            let view = doc.read_view();
            if old.is_none() && origin != Some(me) {
                out.push((
                    EventKind::DealInvited,
                    invitation_json(&view, deal, me, now_ms),
                ));
            }
            for (node, status) in &new.statuses {
                if Some(node) == origin || old.and_then(|o| o.statuses.get(node)) == Some(status) {
                    continue;
                }
                let kind = match status {
                    ParticipantStatus::Accepted => EventKind::DealAccepted,
                    ParticipantStatus::Declined => EventKind::DealDeclined,
                    _ => continue,
                };
                let participant = view.participants.get(node);
                let mut data = json!({"deal_id": deal.to_string(), "node": node.to_string(),
                                      "name": participant.map(|p| p.name.clone()),
                                      "title": view.shared.title});
                if kind == EventKind::DealDeclined {
                    // The invitee's signed reason, if it gave one.
                    data["reason"] = json!(participant
                        .and_then(|p| p.decline_reason.as_deref())
                        .map(shown_text)
                        .filter(|r| !r.is_empty()));
                }
                out.push((kind, data));
            }
        }
        DocKind::Deal => {
            let Some(old) = old else { return out };
            if old.shared_stage != new.shared_stage {
                if let Some(stage) = new.shared_stage {
                    out.push((
                        EventKind::DealStageChanged,
                        json!({"deal_id": id.to_string(), "node": origin.map(|o| o.to_string()),
                               "stage": stage.as_str(), "shared": true}),
                    ));
                }
            }
            for (node, stage) in &new.section_stages {
                if old.section_stages.get(node) != Some(stage) {
                    out.push((
                        EventKind::DealStageChanged,
                        json!({"deal_id": id.to_string(), "node": node.to_string(),
                               "stage": stage.as_str(), "shared": false}),
                    ));
                }
            }
        }
        DocKind::Declared(kind) => {
            // A plan stays open: what moves it is its steps.
            if kind == crate::domain::plans::KIND && old.map_or(0, |o| o.steps) < new.steps {
                out.push((
                    EventKind::PlanUpdated,
                    json!({"id": id.to_string(), "kind": kind, "steps": new.steps}),
                ));
            }
            // An announcement is received by its partner, not by the vendor that made it.
            let own_announcement = kind == "announcement" && origin == Some(me);
            if old.map(|o| o.state) != Some(new.state)
                && !(own_announcement && new.state == Some("received"))
            {
                if let Some(event) = new.state.and_then(|s| EventKind::of_state(kind, s)) {
                    out.push((
                        event,
                        json!({"id": id.to_string(), "kind": kind, "status": new.state,
                               "by": origin.map(|o| o.to_string())}),
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
                    EventKind::RegistrationSubmitted,
                    json!({"id": id.to_string(), "partner": origin.map(|o| o.to_string()),
                           "vendor": vendor.map(|v| v.to_string()), "account_domain": domain}),
                ));
            }
            for (vendor, status) in &new.decisions {
                if old.and_then(|o| o.decisions.get(vendor)) == Some(status) {
                    continue;
                }
                let kind = match status {
                    RegistrationStatus::Approved => EventKind::RegistrationApproved,
                    RegistrationStatus::Rejected => EventKind::RegistrationRejected,
                    RegistrationStatus::Revoked => EventKind::RegistrationRevoked,
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
