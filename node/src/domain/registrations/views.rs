//! Registrations in the API's shape (`conflicts` only on those this node is vendor of), one by
//! one or a page at a time.

use super::conflicts::{conflicts_of, open_opportunities};
use super::{records, Record};
use crate::domain::audit;
use crate::domain::deals::Deals;
use protocol::deal::DealId;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashSet};

/// Every registration in the API's shape (`conflicts` only on those this node is vendor of),
/// newest first.
pub fn list(deals: &Deals, now: u64) -> Result<Vec<Value>, PageError> {
    Ok(page(deals, None, usize::MAX, now)?.0)
}

/// Why a page cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("cursor '{0}' is not valid")]
    Cursor(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// One page of [`list`]: at most `limit` registrations after `cursor`, and the next page's
/// cursor (`None` on the last). A cursor is `<submitted at ms>-<id>` of the last item.
pub fn page(
    deals: &Deals,
    cursor: Option<&str>,
    limit: usize,
    now: u64,
) -> Result<(Vec<Value>, Option<String>), PageError> {
    let after = cursor
        .map(|c| {
            c.split_once('-')
                .and_then(|(at, id)| Some((at.parse::<u64>().ok()?, DealId::parse(id).ok()?)))
                .ok_or_else(|| PageError::Cursor(c.to_string()))
        })
        .transpose()?;
    let all = records(deals, now);
    let mut chosen: Vec<&Record> = all
        .iter()
        .rev()
        .filter(|r| after.is_none_or(|a| (r.submitted_at, r.id) < a))
        .take(limit.saturating_add(1))
        .collect();
    let more = chosen.len() > limit;
    chosen.truncate(limit);
    let next = if more {
        chosen
            .last()
            .map(|r| format!("{}-{}", r.submitted_at, r.id))
    } else {
        None
    };
    let me = deals.me().clone();
    let domains: HashSet<String> = all
        .iter()
        .filter(|r| r.vendor == me)
        .filter_map(|r| r.domain.clone())
        .collect();
    let own = open_opportunities(deals, &domains)?;
    let windows = deals.windows();
    let items = chosen
        .into_iter()
        .map(|r| {
            let conflicts = (r.vendor == me).then(|| conflicts_of(r, &all, &own, &windows, now));
            record_json(r, conflicts)
        })
        .collect();
    Ok((items, next))
}

/// One registration, or `None`.
pub fn get(deals: &Deals, id: DealId, now: u64) -> anyhow::Result<Option<Value>> {
    let all = records(deals, now);
    let Some(r) = all.iter().find(|r| r.id == id) else {
        return Ok(None);
    };
    let conflicts = if &r.vendor == deals.me() {
        let domains: HashSet<String> = r.domain.iter().cloned().collect();
        let own = open_opportunities(deals, &domains)?;
        Some(conflicts_of(r, &all, &own, &deals.windows(), now))
    } else {
        None
    };
    Ok(Some(record_json(r, conflicts)))
}

fn record_json(r: &Record, conflicts: Option<Vec<Value>>) -> Value {
    let mut v = json!({
        "id": r.id.to_string(),
        "partner": r.partner.to_string(),
        "partner_name": r.partner_name,
        "vendor": r.vendor.to_string(),
        "vendor_name": r.vendor_name,
        "account_name": r.account_name,
        "account_domain": r.domain,
        "amount": r.amount,
        "currency": r.currency,
        "close_date": r.close_date,
        "products": r.products,
        "notes": r.notes,
        "status": r.status,
        "submitted_at": audit::rfc3339(r.submitted_at),
        "respond_by": audit::rfc3339(r.respond_by),
        "decided_at": r.decided_at.map(audit::rfc3339),
        "expires_at": r.expires_at.map(audit::rfc3339),
        "reason": r.reason,
        "overdue": r.overdue,
        "decided_terms": r.decided_terms.as_ref().map(terms_json),
        "changed_after_decision": r.changed_after_decision,
    });
    if r.status == "revoked" {
        v["note"] = json!(format!(
            "revoked by {}: {}",
            r.vendor_name,
            r.reason.as_deref().unwrap_or("")
        ));
    }
    if let Some(c) = conflicts {
        v["conflicts"] = Value::Array(c);
    }
    v
}

/// The terms in the API's shape: `products` as a list, as on the registration itself.
pub(super) fn terms_json(terms: &BTreeMap<String, String>) -> Value {
    let mut out = serde_json::Map::new();
    for field in ["account_name", "amount", "currency", "close_date"] {
        out.insert(field.into(), json!(terms.get(field)));
    }
    let products: Vec<&str> = terms
        .get("products")
        .map(|p| p.split(", ").collect())
        .unwrap_or_default();
    out.insert("products".into(), json!(products));
    Value::Object(out)
}
