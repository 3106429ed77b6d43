//! Deleting local records (accounts, opportunities). A record still in use is refused with what
//! uses it: an account with opportunities, an opportunity with deals shared from it that are not
//! withdrawn (the partners hold what it shared; withdraw them first, or ask for both at once).
//! The delete and its audit entry are one transaction.

use crate::domain::audit;
use crate::domain::deals::{Deals, DealsError};
use crate::store::WriteTables;
use protocol::deal::DealId;
use serde_json::{json, Value};

/// Most records a refusal names (the count says how many there are).
const NAMED_MAX: usize = 5;

/// Deletes the account `id`; refused (409) while opportunities name it.
pub fn delete_account(deals: &Deals, id: &str, now_ms: u64) -> Result<Value, DealsError> {
    let store = deals.store();
    let txn = store.write()?;
    let deleted = {
        let mut tables = WriteTables::open(&txn)?;
        let opportunities = tables.opportunity_ids_by_account(id, usize::MAX)?;
        if !opportunities.is_empty() {
            let named: Vec<String> = opportunities
                .iter()
                .take(NAMED_MAX)
                .map(|o| {
                    tables
                        .opportunity(o)
                        .ok()
                        .flatten()
                        .map(|opp| format!("{} ({o})", opp.name))
                        .unwrap_or_else(|| o.clone())
                })
                .collect();
            let more = opportunities.len().saturating_sub(NAMED_MAX);
            return Err(DealsError::Conflict(format!(
                "account {id} has {} {}: {}{}; delete {} first",
                opportunities.len(),
                if opportunities.len() == 1 {
                    "opportunity"
                } else {
                    "opportunities"
                },
                named.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                },
                if opportunities.len() == 1 {
                    "it"
                } else {
                    "them"
                },
            )));
        }
        let Some(account) = tables.delete_account(id)? else {
            return Err(DealsError::NotFound(format!("no account with id {id}")));
        };
        tables.flush()?;
        account
    };
    audit::record_in(
        &txn,
        now_ms,
        audit::AuditKind::Record,
        None,
        format!("deleted account {} ({id})", deleted.name),
        json!({"event": "account_deleted", "id": id, "name": deleted.name,
               "domain": deleted.domain.as_ref().map(|d| d.as_str().to_string())}),
    )?;
    txn.commit().map_err(anyhow::Error::from)?;
    Ok(json!({"deleted": "account", "id": id, "name": deleted.name}))
}

/// The deals shared from opportunity `id` that still hold its content at partners (not
/// withdrawn), as (deal id, "title (with A, B)").
pub fn live_deals_of(deals: &Deals, id: &str) -> Result<Vec<(DealId, String)>, DealsError> {
    let mut out = Vec::new();
    for deal in crate::store::shared::deals_of_opportunity(deals.store(), id)? {
        let Ok(deal_id) = DealId::parse(&deal) else {
            continue;
        };
        let Some(view) = deals.view(deal_id, false)? else {
            continue;
        };
        if view["status"] == "withdrawn" {
            continue;
        }
        let partners: Vec<&str> = view["participants"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["id"] != deals.me().as_str())
            .filter_map(|p| p["name"].as_str())
            .collect();
        let title = view["fields"]["name"].as_str().unwrap_or("untitled");
        out.push((deal_id, format!("{title} (with {})", partners.join(", "))));
    }
    Ok(out)
}

/// Deletes the opportunity `id`. Refused (409, naming them) while deals shared from it are not
/// withdrawn.
pub fn delete_opportunity(deals: &Deals, id: &str, now_ms: u64) -> Result<Value, DealsError> {
    let live = live_deals_of(deals, id)?;
    if !live.is_empty() {
        let named: Vec<String> = live.iter().map(|(d, what)| format!("{d} {what}")).collect();
        return Err(DealsError::Conflict(format!(
            "opportunity {id} is shared as {} {}: {}; the partners hold what it shared; withdraw {} first (`cosell deals withdraw DEAL --reason WHY`), or delete with `--withdraw` (?withdraw=true) to do both",
            live.len(),
            if live.len() == 1 { "deal" } else { "deals" },
            named.join("; "),
            if live.len() == 1 { "it" } else { "them" },
        )));
    }
    let store = deals.store();
    let txn = store.write()?;
    let deleted = {
        let mut tables = WriteTables::open(&txn)?;
        let Some(opp) = tables.delete_opportunity(id)? else {
            return Err(DealsError::NotFound(format!("no opportunity with id {id}")));
        };
        tables.flush()?;
        opp
    };
    audit::record_in(
        &txn,
        now_ms,
        audit::AuditKind::Record,
        None,
        format!("deleted opportunity {} ({id})", deleted.name),
        json!({"event": "opportunity_deleted", "id": id, "name": deleted.name,
               "account_id": deleted.account_id}),
    )?;
    txn.commit().map_err(anyhow::Error::from)?;
    Ok(json!({"deleted": "opportunity", "id": id, "name": deleted.name}))
}
