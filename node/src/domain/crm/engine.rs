//! The sync engine both connectors share: a page of CRM records becomes rows in the CSV
//! import's own column names and goes through the very import the API runs
//! (`import::write`, inside `Deals::write_records`), so validation, upserts by external id,
//! stage and status tables and the re-projection of shared deals are the same code as a CSV
//! file and an API edit. One page is one transaction: it commits whole or not at all. A bad
//! record does not stop the others: the import names its row and column, the engine turns that
//! into the record's CRM id and CRM field, leaves the record out and writes the page again.

use super::config::Failure;
use super::fields::FieldMap;
use crate::domain::deals::{Deals, RecordWrite};
use crate::import::write::{self, ImportFailure, ImportSummary};
use crate::import::ImportOptions;
use anyhow::{anyhow, Result};
use protocol::deal::DealId;
use protocol::records::Currency;

/// Rewrites of one page after bad records were left out; a page whose errors keep moving is
/// refused whole rather than looping.
const PAGE_ATTEMPTS_MAX: usize = 4;

/// Which records a page holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Object {
    /// Accounts (Salesforce Account, HubSpot company).
    Account,
    /// Opportunities (Salesforce Opportunity, HubSpot deal).
    Opportunity,
}

impl Object {
    /// The name in failures and counts.
    pub fn as_str(self) -> &'static str {
        match self {
            Object::Account => "account",
            Object::Opportunity => "opportunity",
        }
    }
}

/// One CRM record, its values by record field.
#[derive(Debug, Clone, Default)]
pub struct Record {
    /// The CRM's id (the record's `external_id`).
    pub crm_id: String,
    /// The opportunity's account, by its CRM id.
    pub account_crm_id: Option<String>,
    /// Record field → value (as the CSV import reads it); absent or `None` keeps the stored
    /// value.
    pub values: Vec<(&'static str, Option<String>)>,
    /// A problem the connector found itself (no associated company, an unmapped stage id):
    /// (CRM field, why). The record is refused with it.
    pub problem: Option<(String, String)>,
}

/// What applying one page did.
#[derive(Debug, Default)]
pub struct Applied {
    /// Records inserted or changed.
    pub written: u64,
    /// Records refused, each with its CRM id and field.
    pub refused: Vec<Failure>,
    /// Deals whose shared fields changed, to offer to their participants.
    pub changed_deals: Vec<DealId>,
}

/// Writes one page of `object` records through the CSV import, all of it in one transaction;
/// records the import refuses are left out (and returned with their CRM id and field) and the
/// rest written.
pub fn apply_page(
    deals: &Deals,
    object: Object,
    records: &[Record],
    map: &FieldMap,
    default_currency: Currency,
    now_ms: u64,
) -> Result<Applied> {
    let mut applied = Applied::default();
    let mut keep: Vec<&Record> = Vec::with_capacity(records.len());
    for r in records {
        match &r.problem {
            Some((field, why)) => applied.refused.push(failure(object, r, field, why, now_ms)),
            None => keep.push(r),
        }
    }
    let fields: Vec<&'static str> = match object {
        Object::Account => map.account.iter().map(|(f, _)| *f).collect(),
        Object::Opportunity => map.opportunity.iter().map(|(f, _)| *f).collect(),
    };
    for _ in 0..PAGE_ATTEMPTS_MAX {
        if keep.is_empty() {
            return Ok(applied);
        }
        let csv = to_csv(object, &keep, &fields)?;
        let outcome = deals.write_records(|store| {
            let summary = match object {
                Object::Account => write::import_accounts(store, csv.as_slice()),
                Object::Opportunity => write::import_opportunities(
                    store,
                    csv.as_slice(),
                    default_currency,
                    ImportOptions::default(),
                ),
            }?;
            let matched = summary.updated > 0;
            Ok::<(ImportSummary, RecordWrite), ImportFailure>((
                summary,
                RecordWrite::Bulk { matched },
            ))
        });
        match outcome {
            Ok((summary, changed)) => {
                // Records read again (a cursor's second, a restarted search) and unchanged are
                // not counted again.
                applied.written += summary.inserted + summary.updated - summary.unchanged;
                applied.changed_deals = changed;
                return Ok(applied);
            }
            Err(ImportFailure::Rows { errors, .. }) => {
                let mut bad = std::collections::BTreeSet::new();
                for e in &errors {
                    let Some(index) = (e.row as usize).checked_sub(1) else {
                        continue;
                    };
                    let Some(record) = keep.get(index) else {
                        continue;
                    };
                    if bad.insert(index) {
                        let field = crm_field(object, map, &e.column);
                        applied
                            .refused
                            .push(failure(object, record, &field, &e.message, now_ms));
                    }
                }
                if bad.is_empty() {
                    return Err(anyhow!("the import refused the page without naming a row"));
                }
                keep = keep
                    .into_iter()
                    .enumerate()
                    .filter(|(i, _)| !bad.contains(i))
                    .map(|(_, r)| r)
                    .collect();
            }
            Err(ImportFailure::File(e)) => return Err(anyhow!("cannot take the page: {e}")),
            Err(ImportFailure::Internal(e)) => return Err(e),
        }
    }
    Err(anyhow!(
        "the page kept failing after {PAGE_ATTEMPTS_MAX} attempts without its bad records"
    ))
}

fn failure(object: Object, r: &Record, field: &str, why: &str, now_ms: u64) -> Failure {
    Failure {
        object: object.as_str().to_string(),
        crm_id: r.crm_id.clone(),
        field: field.to_string(),
        message: why.to_string(),
        at_ms: now_ms,
    }
}

/// The CRM field behind an import column (the column is the record field's name).
fn crm_field(object: Object, map: &FieldMap, column: &str) -> String {
    match column {
        "external_id" => "Id".to_string(),
        "account_external_id" => "account".to_string(),
        "" => String::new(),
        f => map
            .crm_field(object.as_str(), f)
            .map_or_else(|| f.to_string(), str::to_string),
    }
}

/// The records as CSV with the import's own column names; row N is `records[N-1]`.
fn to_csv(object: Object, records: &[&Record], fields: &[&'static str]) -> Result<Vec<u8>> {
    let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
    let mut header: Vec<&str> = vec!["external_id"];
    if object == Object::Opportunity {
        header.push("account_external_id");
    }
    header.extend(fields.iter().copied());
    w.write_record(&header)?;
    let mut row: Vec<String> = Vec::with_capacity(header.len());
    for r in records {
        row.clear();
        row.push(r.crm_id.clone());
        if object == Object::Opportunity {
            row.push(r.account_crm_id.clone().unwrap_or_default());
        }
        for f in fields {
            let v = r
                .values
                .iter()
                .find(|(k, _)| k == f)
                .and_then(|(_, v)| v.clone())
                .unwrap_or_default();
            row.push(v);
        }
        w.write_record(&row)?;
    }
    w.into_inner().map_err(|e| anyhow!("{e}"))
}
