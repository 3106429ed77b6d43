//! CSV import into the store: all or nothing. Rows stream from the parser ([`crate::import`])
//! straight into one redb write transaction; the first bad row stops all writing, the rest of the
//! file is still read so every bad row is reported, and the transaction is dropped (nothing
//! written) unless the whole file was good.
//!
//! Two threads: the file is decoded, parsed and validated on one ([`parsed_ahead`]) while the
//! other looks up and writes the rows parsed before, so parsing costs no time on the writer's
//! critical path. At most [`PARSED_BATCHES_IN_FLIGHT`] batches of [`PARSED_BATCH_ROWS`] rows wait
//! between them, so memory stays bounded whatever the file's size.
//!
//! Upsert keys: an account is matched by `external_id`, else by its domain (when exactly one
//! account has it), else, a row with neither, by its exact name (when exactly one account has
//! it, and that one has no external id); an opportunity by `external_id`, else by name within its account. A row's
//! empty or absent cells keep the stored values.

use crate::import::{self, ImportError, RowError};
use crate::store::{AccountIndexes, NewExternalId, Store, Upsert, WriteTables};
use anyhow::Result;
use protocol::records::{Account, Currency, Opportunity};
use std::io::Read;
use std::sync::mpsc;

/// Rows the parser thread hands to the writer at once: enough to make the hand-over cost nothing
/// per row, few enough that a batch of the largest rows stays small.
pub const PARSED_BATCH_ROWS: usize = 512;

/// Parsed batches waiting for the writer; the parser blocks when the writer is behind.
pub const PARSED_BATCHES_IN_FLIGHT: usize = 4;

/// Bad rows listed in an answer; the rest are counted.
pub const ROW_ERRORS_LISTED_MAX: usize = 100;

/// What a good import did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct ImportSummary {
    /// Data rows read.
    pub rows: u64,
    /// New records.
    pub inserted: u64,
    /// Rows that matched a stored record (changed or not).
    pub updated: u64,
    /// Of `updated`, the rows that changed nothing.
    pub unchanged: u64,
    /// Columns of the file that no field uses.
    pub ignored_columns: Vec<String>,
    /// Lines with text above the header that were skipped (a report's title, `Exported on …`),
    /// each as its cells with text read, shortened.
    pub lines_above_header: Vec<String>,
}

/// Why an import wrote nothing.
#[derive(Debug)]
pub enum ImportFailure {
    /// Some rows are bad: the first [`ROW_ERRORS_LISTED_MAX`] errors, and the number of bad rows.
    Rows {
        /// The listed errors.
        errors: Vec<RowError>,
        /// How many rows had errors.
        bad_rows: u64,
    },
    /// The file as a whole cannot be read (encoding, header).
    File(ImportError),
    /// Storage failed.
    Internal(anyhow::Error),
}

impl From<anyhow::Error> for ImportFailure {
    fn from(e: anyhow::Error) -> Self {
        ImportFailure::Internal(e)
    }
}
impl From<redb::Error> for ImportFailure {
    fn from(e: redb::Error) -> Self {
        ImportFailure::Internal(e.into())
    }
}

/// Collects bad rows; once there is one, nothing more is written.
#[derive(Default)]
struct Errors {
    listed: Vec<RowError>,
    bad_rows: u64,
}

impl Errors {
    fn add(&mut self, errors: Vec<RowError>) {
        self.bad_rows += 1;
        for e in errors {
            if self.listed.len() < ROW_ERRORS_LISTED_MAX {
                self.listed.push(e);
            }
        }
    }
    fn any(&self) -> bool {
        self.bad_rows > 0
    }
}

fn count(summary: &mut ImportSummary, outcome: Upsert) {
    match outcome {
        Upsert::Inserted => summary.inserted += 1,
        Upsert::Updated => summary.updated += 1,
        Upsert::Unchanged => {
            summary.updated += 1;
            summary.unchanged += 1;
        }
    }
}

/// Imports accounts from CSV, all or nothing.
pub fn import_accounts(
    store: &Store,
    input: impl Read + Send,
) -> Result<ImportSummary, ImportFailure> {
    let reader = import::read_accounts(input).map_err(ImportFailure::File)?;
    let summary = ImportSummary {
        ignored_columns: reader.ignored_columns().to_vec(),
        lines_above_header: reader.lines_above_header().to_vec(),
        ..Default::default()
    };
    parsed_ahead(reader, |rows| write_accounts(store, rows, summary))
}

/// The writer half of [`import_accounts`]: `rows` come parsed from the other thread.
fn write_accounts(
    store: &Store,
    rows: impl Iterator<Item = Result<import::AccountRow, Vec<RowError>>>,
    mut summary: ImportSummary,
) -> Result<ImportSummary, ImportFailure> {
    let mut errors = Errors::default();
    let mut new_ids = Ids::default();
    let txn = store.write()?;
    {
        let mut tables = WriteTables::open(&txn)?;
        for row in rows {
            summary.rows += 1;
            let row = match row {
                Ok(row) => row,
                Err(row_errors) => {
                    errors.add(row_errors);
                    continue;
                }
            };
            if errors.any() {
                continue;
            }
            // A new row's external id is claimed for a fresh id right away: one B-tree descent
            // instead of a lookup and an insert.
            let fresh_id = new_ids.next();
            let existing = match (&row.external_id, &row.domain) {
                (Some(x), _) => {
                    match salesforce_other_form(x, |o| tables.account_id_by_external(o))? {
                        Some(id) => Some(id),
                        None => tables.claim_account_external_id(x, &fresh_id)?,
                    }
                }
                (None, Some(d)) => {
                    let ids = tables.account_ids_by_domain(d.as_str(), 2)?;
                    if ids.len() == 1 {
                        ids.into_iter().next()
                    } else {
                        None
                    }
                }
                // Neither id nor domain: the exact name is all there is to match on, so a
                // re-import of a names-only file updates instead of adding every row again.
                // Only an account without an external id is matched (one with an id belongs to
                // a CRM record that this row does not name).
                (None, None) => {
                    let ids = tables.account_ids_by_name(&row.name, 2)?;
                    match ids.as_slice() {
                        [id] if tables.account(id)?.is_some_and(|a| a.external_id.is_none()) => {
                            Some(id.clone())
                        }
                        _ => None,
                    }
                }
            };
            let base = match existing {
                Some(id) => Some(tables.account(&id)?.ok_or_else(|| {
                    anyhow::anyhow!("an index names account {id}, which is missing")
                })?),
                None => None,
            };
            let is_new = base.is_none();
            let mut account = base.unwrap_or_else(|| Account {
                id: fresh_id,
                external_id: None,
                name: String::new(),
                domain: None,
                industry: None,
                country: None,
                status: Default::default(),
                owner: None,
                tags: Vec::new(),
            });
            account.name = row.name;
            set(&mut account.external_id, row.external_id);
            set(&mut account.domain, row.domain);
            set(&mut account.industry, row.industry);
            set(&mut account.country, row.country);
            if let Some(s) = row.status {
                account.status = s;
            }
            set(&mut account.owner, row.owner);
            if let Some(t) = row.tags {
                account.tags = t;
            }
            if is_new {
                tables.insert_new_account(&account, NewExternalId::Claimed)?;
                count(&mut summary, Upsert::Inserted);
            } else {
                let outcome = tables.put_account(&account)?;
                count(&mut summary, outcome);
            }
        }
        if !errors.any() {
            // Buffered index entries go in before the commit (`WriteTables::flush`).
            tables.flush()?;
        }
    }
    finish(txn, errors, summary)
}

/// Imports opportunities from CSV, all or nothing. Each row's account is found by its external
/// id, else its domain, else its exact name; amounts without a currency get `default_currency`.
/// `options` are the caller's settings (the date order); its default currency is
/// `default_currency`.
pub fn import_opportunities(
    store: &Store,
    input: impl Read + Send,
    default_currency: Currency,
    options: import::ImportOptions,
) -> Result<ImportSummary, ImportFailure> {
    let options = import::ImportOptions {
        default_currency: Some(default_currency),
        ..options
    };
    let reader = import::read_opportunities_with(input, options).map_err(ImportFailure::File)?;
    let summary = ImportSummary {
        ignored_columns: reader.ignored_columns().to_vec(),
        lines_above_header: reader.lines_above_header().to_vec(),
        ..Default::default()
    };
    // The write transaction first: it holds the writer lock, so the snapshot begun next sees
    // the same accounts it does (an opportunity import writes none).
    let txn = store.write()?;
    let accounts = AccountIndexes::open(&store.read()?)?;
    let rows = Resolved { reader, accounts };
    parsed_ahead(rows, |rows| {
        write_opportunities(txn, rows, summary, default_currency)
    })
}

/// An opportunity row and the id of the account it names, or the row's errors.
type ResolvedRow = Result<(import::OpportunityRow, String), Vec<RowError>>;

/// Parses opportunity rows and finds the account each names, on the parser thread.
struct Resolved<R: Read> {
    reader: import::OpportunityReader<R>,
    accounts: AccountIndexes,
}

impl<R: Read> Iterator for Resolved<R> {
    /// The row, or why storage failed (which ends the import).
    type Item = Result<ResolvedRow, anyhow::Error>;
    fn next(&mut self) -> Option<Self::Item> {
        let row = match self.reader.next()? {
            Ok(row) => row,
            Err(errors) => return Some(Ok(Err(errors))),
        };
        let line = self.reader.last_line();
        let columns = self.reader.account_columns();
        Some(match find_account(&self.accounts, &row, line, columns) {
            Ok(Ok(account_id)) => Ok(Ok((row, account_id))),
            Ok(Err(e)) => Ok(Err(vec![e])),
            Err(e) => Err(e),
        })
    }
}

/// The writer half of [`import_opportunities`]: `rows` come parsed, with their accounts found,
/// from the other thread.
fn write_opportunities(
    txn: redb::WriteTransaction,
    rows: impl Iterator<Item = Result<ResolvedRow, anyhow::Error>>,
    mut summary: ImportSummary,
    default_currency: Currency,
) -> Result<ImportSummary, ImportFailure> {
    let mut errors = Errors::default();
    let mut new_ids = Ids::default();
    {
        let mut tables = WriteTables::open(&txn)?;
        for row in rows {
            summary.rows += 1;
            let (row, account_id) = match row? {
                Ok(resolved) => resolved,
                Err(row_errors) => {
                    errors.add(row_errors);
                    continue;
                }
            };
            if errors.any() {
                continue;
            }
            let fresh_id = new_ids.next();
            let existing = match &row.external_id {
                Some(x) => {
                    match salesforce_other_form(x, |o| tables.opportunity_id_by_external(o))? {
                        Some(id) => Some(id),
                        None => tables.claim_opportunity_external_id(x, &fresh_id)?,
                    }
                }
                None => {
                    let mut found = None;
                    for id in tables.opportunity_ids_by_account(&account_id, 10_000)? {
                        if let Some(o) = tables.opportunity(&id)? {
                            if o.name == row.name && o.external_id.is_none() {
                                found = Some(id);
                                break;
                            }
                        }
                    }
                    found
                }
            };
            let base = match existing {
                Some(id) => Some(tables.opportunity(&id)?.ok_or_else(|| {
                    anyhow::anyhow!("an index names opportunity {id}, which is missing")
                })?),
                None => None,
            };
            let is_new = base.is_none();
            let mut opp = base.unwrap_or_else(|| Opportunity {
                id: fresh_id,
                external_id: None,
                account_id: account_id.clone(),
                name: String::new(),
                stage: row.stage,
                amount: None,
                currency: None,
                close_date: None,
                owner: None,
                next_step: None,
                description: None,
                tags: Vec::new(),
            });
            opp.account_id = account_id;
            opp.name = row.name;
            opp.stage = row.stage;
            set(&mut opp.external_id, row.external_id);
            set(&mut opp.amount, row.amount);
            set(&mut opp.currency, row.currency);
            if opp.amount.is_some() && opp.currency.is_none() {
                opp.currency = Some(default_currency);
            }
            set(&mut opp.close_date, row.close_date);
            set(&mut opp.owner, row.owner);
            set(&mut opp.next_step, row.next_step);
            set(&mut opp.description, row.description);
            if let Some(t) = row.tags {
                opp.tags = t;
            }
            if is_new {
                tables.insert_new_opportunity(&opp, NewExternalId::Claimed)?;
                count(&mut summary, Upsert::Inserted);
            } else {
                let outcome = tables.put_opportunity(&opp)?;
                count(&mut summary, outcome);
            }
        }
        if !errors.any() {
            // Buffered index entries go in before the commit (`WriteTables::flush`).
            tables.flush()?;
        }
    }
    finish(txn, errors, summary)
}

/// Runs `rows` (the parser) on a second thread and `write` on this one, over the rows it parsed,
/// in order. When `write` returns early (storage failed), the parser stops at its next batch.
fn parsed_ahead<I, T>(
    rows: I,
    write: impl FnOnce(&mut dyn Iterator<Item = T>) -> Result<ImportSummary, ImportFailure>,
) -> Result<ImportSummary, ImportFailure>
where
    I: Iterator<Item = T> + Send,
    T: Send,
{
    let (tx, rx) = mpsc::sync_channel::<Vec<T>>(PARSED_BATCHES_IN_FLIGHT);
    std::thread::scope(|scope| {
        let parser = std::thread::Builder::new()
            .name("import-parse".into())
            .spawn_scoped(scope, move || {
                let mut batch = Vec::with_capacity(PARSED_BATCH_ROWS);
                for row in rows {
                    batch.push(row);
                    if batch.len() == PARSED_BATCH_ROWS {
                        let full =
                            std::mem::replace(&mut batch, Vec::with_capacity(PARSED_BATCH_ROWS));
                        if tx.send(full).is_err() {
                            return; // The writer stopped.
                        }
                    }
                }
                if !batch.is_empty() {
                    let _ = tx.send(batch);
                }
            })
            .map_err(|e| {
                ImportFailure::Internal(anyhow::anyhow!("cannot start the parser thread: {e}"))
            })?;
        let mut parsed = rx.into_iter().flatten();
        let outcome = write(&mut parsed);
        // Dropping the receiver ends a parser that is still reading.
        drop(parsed);
        if parser.join().is_err() {
            return Err(ImportFailure::Internal(anyhow::anyhow!(
                "the import parser thread panicked"
            )));
        }
        outcome
    })
}

/// New record ids: ULIDs, strictly increasing within an import, so new records (and their
/// entries in id-ordered indexes) are appended to their B-trees rather than scattered.
#[derive(Default)]
struct Ids(ulid::Generator);

impl Ids {
    fn next(&mut self) -> String {
        // The generator fails only when 2^80 ids were made in one millisecond; a fresh random
        // ULID is still unique then.
        self.0
            .generate()
            .unwrap_or_else(|_| ulid::Ulid::new())
            .to_string()
    }
}

fn set<T>(slot: &mut Option<T>, value: Option<T>) {
    if value.is_some() {
        *slot = value;
    }
}

/// The record stored under the other form of a Salesforce id (15 or 18 characters) than the
/// file gives, found with `lookup`; the upsert then updates it (and keeps the file's form)
/// instead of adding a duplicate. No lookup for ids of other CRMs.
/// An 18-character id whose case was lost (`0015000000GV7QJAAR`) is tried in its restored
/// 18- and 15-character forms.
fn salesforce_other_form(
    external_id: &str,
    mut lookup: impl FnMut(&str) -> Result<Option<String>>,
) -> Result<Option<String>> {
    if let Some(restored) = import::salesforce_case_restored(external_id) {
        if restored != external_id[..15] {
            let long = format!("{restored}{}", external_id[15..].to_ascii_uppercase());
            if let Some(id) = lookup(&long)? {
                return Ok(Some(id));
            }
            return lookup(&restored);
        }
    }
    match import::salesforce_id_other_form(external_id) {
        Some(other) => lookup(&other),
        None => Ok(None),
    }
}

/// The account a row refers to, or the row error saying why there is none (naming the column
/// as the file's header writes it).
fn find_account(
    tables: &AccountIndexes,
    row: &import::OpportunityRow,
    line: u64,
    columns: &import::AccountColumns,
) -> Result<std::result::Result<String, RowError>> {
    let error = |column: &str, message: String| RowError {
        row: row.row,
        line,
        column: column.to_string(),
        message,
    };
    if let Some(x) = &row.account_external_id {
        if let Some(id) = tables.account_id_by_external(x)? {
            return Ok(Ok(id));
        }
        if let Some(id) = salesforce_other_form(x, |o| tables.account_id_by_external(o))? {
            return Ok(Ok(id));
        }
        if row.account_domain.is_none() && row.account_name.is_none() {
            return Ok(Err(error(
                &columns.external_id,
                format!("no account with external id '{x}' (import accounts first)"),
            )));
        }
    }
    if let Some(d) = &row.account_domain {
        let ids = tables.account_ids_by_domain(d.as_str(), 2)?;
        match ids.len() {
            1 => return Ok(Ok(ids.into_iter().next().unwrap_or_default())),
            0 if row.account_name.is_none() => {
                return Ok(Err(error(
                    &columns.domain,
                    format!("no account with domain '{d}' (import accounts first)"),
                )))
            }
            0 => {}
            _ => {
                return Ok(Err(error(
                    &columns.domain,
                    format!("several accounts have domain '{d}': give the account's external id"),
                )))
            }
        }
    }
    if let Some(name) = &row.account_name {
        let ids = tables.account_ids_by_name(name, 2)?;
        return Ok(match ids.len() {
            1 => Ok(ids.into_iter().next().unwrap_or_default()),
            0 => Err(error(
                &columns.name,
                format!("no account named '{name}' (import accounts first)"),
            )),
            _ => Err(error(
                &columns.name,
                format!(
                    "several accounts are named '{name}': give the account's external id or domain"
                ),
            )),
        });
    }
    Ok(Err(error(
        columns.first(),
        "no account: give the account's external id, domain or name".to_string(),
    )))
}

fn finish(
    txn: redb::WriteTransaction,
    errors: Errors,
    summary: ImportSummary,
) -> Result<ImportSummary, ImportFailure> {
    if errors.any() {
        txn.abort().map_err(|e| ImportFailure::Internal(e.into()))?;
        return Err(ImportFailure::Rows {
            errors: errors.listed,
            bad_rows: errors.bad_rows,
        });
    }
    txn.commit()
        .map_err(|e| ImportFailure::Internal(e.into()))?;
    Ok(summary)
}
