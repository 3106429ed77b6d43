//! Writing hub items into the store: all or nothing, in one redb transaction with its audit
//! entry. An item updates the opportunity that came from the same hub record (`ace/O123`), or
//! the one its partner CRM id names (ACE `PartnerOpportunityIdentifier`, MS
//! `externalReferenceId`: this node's own id when the record went out by `hub export`, or the
//! CRM's external id); else it is new, on the account with its domain (or, without one, its
//! exact name), or a new account. Values an item lacks keep the stored ones, as a CSV import's
//! empty cells do. An invitation is held back in the inbox ([`super::invitations`]).

use super::path::Problem;
use super::{invitations, Hub, Mapped, Source};
use crate::domain::audit;
use crate::domain::error::DomainError;
use crate::store::tables::{HUB_BY_SOURCE, HUB_SOURCES};
use crate::store::{is_record_id, Store, Upsert, WriteTables};
use anyhow::Result;
use protocol::records::{Account, Opportunity};
use redb::{ReadableTable, WriteTransaction};
use serde::Serialize;
use serde_json::json;

/// What became of one item.
#[derive(Debug, Clone, Serialize)]
pub struct ItemResult {
    /// The account (none for an invitation).
    pub account_id: Option<String>,
    /// The opportunity (none for an invitation).
    pub opportunity_id: Option<String>,
    /// The invitation waiting in the inbox (only for one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invitation_id: Option<String>,
    /// The hub record it came from.
    pub source: Source,
    /// `inserted`, `updated` or `invited`.
    pub outcome: &'static str,
}

/// The key of [`HUB_BY_SOURCE`].
pub fn source_key(hub: Hub, external_id: &str) -> String {
    format!("{}/{external_id}", hub.as_str())
}

/// Writes every item (already read by [`super::read`]), or nothing. Returns each item's result
/// and whether a stored record was matched (its deals then follow).
pub fn import(
    store: &Store,
    hub: Hub,
    items: Vec<Mapped>,
    now_ms: u64,
) -> Result<(Vec<ItemResult>, bool), DomainError> {
    let txn = store.write()?;
    let mut results = Vec::with_capacity(items.len());
    let mut problems = Vec::new();
    let mut matched = false;
    for (i, item) in items.into_iter().enumerate() {
        let path = format!("[{i}]");
        if item.invitation.is_some() {
            let id = invitations::receive(&txn, item.clone(), now_ms)?;
            results.push(ItemResult {
                account_id: None,
                opportunity_id: None,
                invitation_id: Some(id),
                source: item.source,
                outcome: "invited",
            });
            continue;
        }
        match upsert(&txn, item, &path)? {
            Ok(r) => {
                matched |= r.outcome == "updated";
                results.push(r);
            }
            Err(p) => problems.push(p),
        }
    }
    if !problems.is_empty() {
        return Err(invalid(problems));
    }
    let inserted = results.iter().filter(|r| r.outcome == "inserted").count();
    let updated = results.iter().filter(|r| r.outcome == "updated").count();
    let invited = results.iter().filter(|r| r.outcome == "invited").count();
    audit::record_in(
        &txn,
        now_ms,
        audit::AuditKind::Record,
        None,
        format!(
            "{} import: {inserted} new, {updated} updated, {invited} invitations",
            hub.as_str()
        ),
        json!({"event": "hub_import", "hub": hub.as_str(), "inserted": inserted,
               "updated": updated, "invitations": invited}),
    )?;
    txn.commit().map_err(anyhow::Error::from)?;
    Ok((results, matched))
}

/// A 422 naming each problem's path.
pub fn invalid(problems: Vec<Problem>) -> DomainError {
    DomainError::InvalidFields(problems.into_iter().map(|p| (p.path, p.message)).collect())
}

/// Writes one item's account, opportunity and source in `txn`; a problem (naming `path`) when
/// the item cannot be placed.
pub(super) fn upsert(
    txn: &WriteTransaction,
    item: Mapped,
    path: &str,
) -> Result<Result<ItemResult, Problem>> {
    let Mapped {
        account: new_account,
        opportunity: new_opp,
        source,
        ..
    } = item;
    let key = source_key(source.format, &source.external_id);
    let mut tables = WriteTables::open(txn)?;
    let mut by_source = txn.open_table(HUB_BY_SOURCE)?;
    let mut sources = txn.open_table(HUB_SOURCES)?;
    let problem = |message: String| Problem {
        path: path.to_string(),
        message,
    };
    // The stored opportunity this item is.
    let mut existing: Option<Opportunity> = None;
    let linked = by_source.get(key.as_str())?.map(|v| v.value().to_string());
    if let Some(id) = linked {
        existing = tables.opportunity(&id)?;
    }
    let mut external_id = new_opp.external_id.clone();
    if existing.is_none() {
        if let Some(x) = &new_opp.external_id {
            if is_record_id(x) {
                if let Some(own) = tables.opportunity(x)? {
                    external_id = own.external_id.clone();
                    existing = Some(own);
                }
            }
            if existing.is_none() {
                if let Some(id) = tables.opportunity_id_by_external(x)? {
                    existing = tables.opportunity(&id)?;
                }
            }
        }
    }
    let (opp, account, outcome) = match existing {
        Some(mut opp) => {
            let mut account = tables
                .account(&opp.account_id)?
                .ok_or_else(|| anyhow::anyhow!("opportunity {} names a missing account", opp.id))?;
            merge_account(&mut account, new_account);
            opp.external_id = external_id.or(opp.external_id);
            merge_opportunity(&mut opp, new_opp);
            (opp, account, "updated")
        }
        None => {
            let account = match find_account(&mut tables, &new_account)? {
                Ok(Some(mut stored)) => {
                    merge_account(&mut stored, new_account);
                    stored
                }
                Ok(None) => Account {
                    id: ulid::Ulid::new().to_string(),
                    ..new_account
                },
                Err(why) => return Ok(Err(problem(why))),
            };
            let opp = Opportunity {
                id: ulid::Ulid::new().to_string(),
                account_id: account.id.clone(),
                external_id,
                ..new_opp
            };
            (opp, account, "inserted")
        }
    };
    if let Some(x) = &opp.external_id {
        if let Some(other) = tables.opportunity_id_by_external(x)? {
            if other != opp.id {
                return Ok(Err(problem(format!(
                    "the partner CRM id {x} is another opportunity's external id ({other})"
                ))));
            }
        }
    }
    tables.put_account(&account)?;
    let written = tables.put_opportunity(&opp)?;
    tables.flush()?;
    let outcome = match (outcome, written) {
        ("updated", _) | (_, Upsert::Updated | Upsert::Unchanged) => "updated",
        _ => "inserted",
    };
    by_source.insert(key.as_str(), opp.id.as_str())?;
    sources.insert(opp.id.as_str(), serde_json::to_vec(&source)?.as_slice())?;
    Ok(Ok(ItemResult {
        account_id: Some(account.id),
        opportunity_id: Some(opp.id),
        invitation_id: None,
        source,
        outcome,
    }))
}

/// The stored account an item's customer is: by domain, else by exact name; a sentence when
/// several are.
fn find_account(
    tables: &mut WriteTables,
    account: &Account,
) -> Result<Result<Option<Account>, String>> {
    let (ids, by) = match &account.domain {
        Some(d) => (
            tables.account_ids_by_domain(d.as_str(), 6)?,
            format!("the domain {d}"),
        ),
        None => (
            tables.account_ids_by_name(&account.name, 6)?,
            format!("the name {}", account.name),
        ),
    };
    match ids.as_slice() {
        [] => Ok(Ok(None)),
        [one] => Ok(Ok(tables.account(one)?)),
        many => Ok(Err(format!(
            "{} accounts have {by} ({}); which one the customer is cannot be told",
            many.len(),
            many.join(", ")
        ))),
    }
}

/// The hub's values over the stored ones, where the hub has one.
fn merge_account(stored: &mut Account, new: Account) {
    if !new.name.is_empty() {
        stored.name = new.name;
    }
    stored.domain = new.domain.or(stored.domain.take());
    stored.industry = new.industry.or(stored.industry.take());
    stored.country = new.country.or(stored.country.take());
}

/// The hub's values over the stored ones, where the hub has one; the stage always.
fn merge_opportunity(stored: &mut Opportunity, new: Opportunity) {
    stored.name = new.name;
    stored.stage = new.stage;
    stored.amount = new.amount.or(stored.amount);
    stored.currency = new.currency.or(stored.currency);
    stored.close_date = new.close_date.or(stored.close_date);
    stored.owner = new.owner.or(stored.owner.take());
    stored.next_step = new.next_step.or(stored.next_step.take());
    stored.description = new.description.or(stored.description.take());
}

/// The hub record opportunity `id` came from, if any.
pub fn source_of(store: &Store, id: &str) -> Result<Option<Source>> {
    let txn = store.read()?;
    let Some(table) = crate::store::open_table_if_exists(&txn, HUB_SOURCES)? else {
        return Ok(None);
    };
    let found = table.get(id)?;
    Ok(match found {
        Some(v) => Some(serde_json::from_slice(v.value())?),
        None => None,
    })
}

/// The opportunity `id` as `hub`'s JSON, checked against the hub's model.
pub fn export(store: &Store, hub: Hub, id: &str) -> Result<serde_json::Value, DomainError> {
    let opp = store
        .opportunity(id)?
        .ok_or_else(|| DomainError::NotFound(format!("no opportunity with id {id}")))?;
    let account = store
        .account(&opp.account_id)?
        .ok_or_else(|| DomainError::NotFound(format!("no account with id {}", opp.account_id)))?;
    let source = source_of(store, id)?;
    super::export(hub, &opp, &account, source.as_ref()).map_err(|problems| {
        invalid(
            problems
                .into_iter()
                .map(|p| Problem {
                    message: format!("{} (opportunity {id})", p.message),
                    ..p
                })
                .collect(),
        )
    })
}
