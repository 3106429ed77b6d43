//! The inbox: invitations to deals waiting for this node, each a redacted summary (inviter,
//! title, account domain, stage) until accepted.
//!
//! Invariant: an invitee holds only its invitation (a separate signed document with the summary
//! fields the policy allows) until it accepts; the deal document itself is sent to a participant
//! only once it has accepted (see `Deals::may_send`), by the origin and by every relay.

use crate::domain::deals::{invitation_json, Deals, DocKind};
use serde_json::Value;

/// The invitations made to this node, newest first. `status` filters (invited, accepted,
/// declined, expired).
pub fn list(deals: &Deals, status: Option<&str>, now_ms: u64) -> Vec<Value> {
    sorted(deals, status, now_ms)
        .into_iter()
        .map(|(_, v)| v)
        .collect()
}

/// One page of [`list`]: at most `limit` invitations after `cursor` (from the previous page),
/// and the cursor of the next page (`None` on the last). A cursor is `<invited at ms>-<deal id>`
/// of the last item, so a page boundary survives invitations arriving meanwhile.
pub fn page(
    deals: &Deals,
    status: Option<&str>,
    cursor: Option<&str>,
    limit: usize,
    now_ms: u64,
) -> Result<(Vec<Value>, Option<String>), String> {
    let after = cursor.map(parse_cursor).transpose()?;
    let mut items: Vec<(u64, Value)> = sorted(deals, status, now_ms)
        .into_iter()
        .filter(|(at, v)| {
            let Some((c_at, c_deal)) = &after else {
                return true;
            };
            let deal = v["deal_id"].as_str().unwrap_or_default();
            // Newest first, then by deal id: "after" is older, or as old with a greater id.
            at < c_at || (at == c_at && deal > c_deal.as_str())
        })
        .take(limit.saturating_add(1))
        .collect();
    let more = items.len() > limit;
    items.truncate(limit);
    let next = if more {
        items
            .last()
            .map(|(at, v)| format!("{at}-{}", v["deal_id"].as_str().unwrap_or_default()))
    } else {
        None
    };
    Ok((items.into_iter().map(|(_, v)| v).collect(), next))
}

fn parse_cursor(cursor: &str) -> Result<(u64, String), String> {
    cursor
        .split_once('-')
        .and_then(|(at, deal)| Some((at.parse().ok()?, deal.to_string())))
        .ok_or_else(|| format!("cursor '{cursor}' is not valid"))
}

fn sorted(deals: &Deals, status: Option<&str>, now_ms: u64) -> Vec<(u64, Value)> {
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
                let mut item = invitation_json(&view, deal, &me, now_ms);
                // An invitation from a node that is no partner any more cannot be answered.
                let record = view.origin.as_ref().and_then(|o| {
                    crate::store::shared::partner(deals.store(), o.as_str())
                        .ok()
                        .flatten()
                });
                let ended = record.as_ref().is_some_and(|p| !p.is_active());
                // The name this node knows the inviter by, not the one it wrote itself.
                if let Some(p) = &record {
                    item["from_name"] = p.name.clone().into();
                }
                if ended && item["status"] == "invited" {
                    item["status"] = "ended".into();
                }
                Some((view.created_at_ms.unwrap_or(0), item))
            }
            _ => None,
        })
        .filter(|(_, v)| status.is_none_or(|s| v["status"] == s))
        .collect();
    items.sort_by(|a, b| {
        b.0.cmp(&a.0)
            .then_with(|| a.1["deal_id"].as_str().cmp(&b.1["deal_id"].as_str()))
    });
    items
}
