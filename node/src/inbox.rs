//! The inbox: invitations to deals waiting for this node, each a redacted summary (inviter,
//! title, account domain, stage) until accepted.
//!
//! Invariant: an invitee holds only its invitation (a separate signed document with the summary
//! fields the policy allows) until it accepts; the deal document itself is sent to a participant
//! only once it has accepted (see `Deals::may_send`), by the origin and by every relay.

use crate::deals::{invitation_json, Deals, DocKind};
use serde_json::Value;

/// The invitations made to this node, newest first. `status` filters (invited, accepted,
/// declined, expired).
pub fn list(deals: &Deals, status: Option<&str>, now_ms: u64) -> Vec<Value> {
    let me = deals.me().clone();
    let inner = deals.lock();
    let mut items: Vec<(u64, Value)> = inner
        .info
        .iter()
        .filter_map(|(id, info)| match info.kind {
            DocKind::Invitation { deal } if info.origin.as_ref() != Some(&me) => {
                let doc = inner.docs.get(id)?;
                let view = doc.read_view();
                view.participants.get(&me)?;
                Some((
                    view.created_at_ms.unwrap_or(0),
                    invitation_json(&view, deal, &me, now_ms),
                ))
            }
            _ => None,
        })
        .filter(|(_, v)| status.is_none_or(|s| v["status"] == s))
        .collect();
    items.sort_by(|a, b| {
        b.0.cmp(&a.0)
            .then_with(|| a.1["deal_id"].as_str().cmp(&b.1["deal_id"].as_str()))
    });
    items.into_iter().map(|(_, v)| v).collect()
}
