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
//! Upsert keys: an account is matched by `external_id`, else by its domain, else, a row with
//! neither, by its exact name; an opportunity by `external_id`, else by name within its
//! account. A row without an external id whose domain or name (an opportunity: whose name in
//! its account) several stored records have is a row error listing them: which one it describes is not ours to guess, and inserting another
//! would add a duplicate on every re-import. A row's empty or absent cells keep the stored
//! values. A file names each record once:
//! a second row with the same external id, or without one the same key (domain, name), is a row
//! error naming the first ([`OncePerFile`]).

use crate::import::resolve::{salesforce_other_form, Resolved, ResolvedRow};
use crate::import::{self, FoundBy, ImportError, MatchKey, OncePerFile, RowError};
use crate::store::{AccountIndexes, NewExternalId, Store, Upsert, WriteTables};
use anyhow::Result;
use protocol::records::{Account, Currency, Opportunity};
use std::io::Read;
use std::sync::mpsc;

// The API checks a record's external id as the import matches on it (`http::records`).
pub(crate) use crate::import::resolve::external_id_owner;

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
    let columns = KeyColumns {
        id: reader.external_id_column(),
        domain: reader.domain_column(),
        name: reader.name_column(),
    };
    parsed_ahead(reader, |rows| {
        write_accounts(store, rows, summary, &columns)
    })
}

/// The writer half of [`import_accounts`]: `rows` come parsed from the other thread.
fn write_accounts(
    store: &Store,
    rows: impl Iterator<Item = Result<import::AccountRow, Vec<RowError>>>,
    mut summary: ImportSummary,
    columns: &KeyColumns,
) -> Result<ImportSummary, ImportFailure> {
    let mut errors = Errors::default();
    let mut once = OncePerFile::new();
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
            // A new row's external id is claimed for a fresh id right away: one B-tree descent
            // instead of a lookup and an insert. Claims go on after a bad row (the transaction
            // is dropped then), so every later row that repeats an id is still named.
            let fresh_id = once.new_id(row.row);
            let existing = match (&row.external_id, &row.domain) {
                (Some(x), _) => {
                    match salesforce_other_form(x, |o| tables.account_id_by_external(o))? {
                        Some(id) => Some(id),
                        None => tables.claim_account_external_id(x, &fresh_id)?,
                    }
                }
                (None, Some(d)) => {
                    let ids = tables.account_ids_by_domain(d.as_str(), MATCHED_LISTED_MAX + 1)?;
                    match the_one_account(&mut tables, ids)? {
                        Ok(found) => found,
                        Err(listed) => {
                            let shared = format!("several accounts have domain '{d}'");
                            let message = several_matched(&shared, &listed, "accounts");
                            errors.add(vec![row_error(&row, &columns.domain, message)]);
                            continue;
                        }
                    }
                }
                // Neither id nor domain: the exact name is all there is to match on, so a
                // re-import of a names-only file updates instead of adding every row again.
                // The one account of that name is matched whether or not it has an external id,
                // as a domain matches (the row names no id, so it contradicts none), and as an
                // opportunity row finds its account by name.
                (None, None) => {
                    let ids = tables.account_ids_by_name(&row.name, MATCHED_LISTED_MAX + 1)?;
                    match the_one_account(&mut tables, ids)? {
                        Ok(found) => found,
                        Err(listed) => {
                            let shared = format!("several accounts are named '{}'", row.name);
                            let message = several_matched(&shared, &listed, "accounts");
                            errors.add(vec![row_error(&row, &columns.name, message)]);
                            continue;
                        }
                    }
                }
            };
            // Allocates only for rows without an id: a file whose rows all have one costs nothing.
            let key = match (&row.external_id, &row.domain) {
                (Some(_), _) => None,
                (None, Some(d)) => Some((MatchKey::Domain(d.as_str().into()), &columns.domain)),
                (None, None) => Some((
                    MatchKey::AccountName(row.name.as_str().into()),
                    &columns.name,
                )),
            };
            if let Some(e) = written_earlier(&mut once, existing.as_deref(), &row, &columns.id, key)
            {
                errors.add(vec![e]);
                continue;
            }
            if errors.any() {
                continue;
            }
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
    let columns = KeyColumns {
        id: rows.reader.external_id_column(),
        domain: String::new(),
        name: rows.reader.name_column(),
    };
    parsed_ahead(rows, |rows| {
        write_opportunities(txn, rows, summary, default_currency, &columns)
    })
}

/// The writer half of [`import_opportunities`]: `rows` come parsed, with their accounts found,
/// from the other thread.
fn write_opportunities(
    txn: redb::WriteTransaction,
    rows: impl Iterator<Item = Result<ResolvedRow, anyhow::Error>>,
    mut summary: ImportSummary,
    default_currency: Currency,
    columns: &KeyColumns,
) -> Result<ImportSummary, ImportFailure> {
    let mut errors = Errors::default();
    let mut once = OncePerFile::new();
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
            // As for accounts: claims go on after a bad row, to name every repeated id.
            let fresh_id = once.new_id(row.row);
            let existing = match &row.external_id {
                Some(x) => {
                    match salesforce_other_form(x, |o| tables.opportunity_id_by_external(o))? {
                        Some(id) => Some(id),
                        None => tables.claim_opportunity_external_id(x, &fresh_id)?,
                    }
                }
                // The account's opportunities of that name, whether or not they have an
                // external id (as an account is matched by name): one is updated; several are
                // an error listing them, never an arbitrary one of them.
                None => {
                    let mut listed = Vec::new();
                    for id in tables.opportunity_ids_by_account(&account_id, 10_000)? {
                        if let Some(o) = tables.opportunity(&id)? {
                            if o.name == row.name {
                                listed.push(Matched {
                                    label: String::new(),
                                    id,
                                    external_id: o.external_id,
                                });
                                if listed.len() > MATCHED_LISTED_MAX {
                                    break;
                                }
                            }
                        }
                    }
                    if listed.len() > 1 {
                        let shared = format!(
                            "several opportunities of this account are named '{}'",
                            row.name
                        );
                        let message = several_matched(&shared, &listed, "opportunities");
                        errors.add(vec![row_error(&row, &columns.name, message)]);
                        continue;
                    }
                    listed.pop().map(|m| m.id)
                }
            };
            let key = row.external_id.is_none().then(|| {
                let key = MatchKey::OpportunityName {
                    account_id: account_id.as_str().into(),
                    name: row.name.as_str().into(),
                };
                (key, &columns.name)
            });
            if let Some(e) = written_earlier(&mut once, existing.as_deref(), &row, &columns.id, key)
            {
                errors.add(vec![e]);
                continue;
            }
            if errors.any() {
                continue;
            }
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

/// The headers, as the file writes them, of the columns a "written earlier" error names (empty
/// for a column the file lacks).
struct KeyColumns {
    /// The records' own id column.
    id: String,
    /// An accounts file's domain column.
    domain: String,
    /// The records' name column.
    name: String,
}

/// What the writer needs of a parsed row to name it in an error.
trait FileRow {
    /// What the rows are, for messages: `account` or `opportunity`.
    const RECORD: &'static str;
    fn at(&self) -> (u64, u64);
    fn external_id(&self) -> Option<&str>;
}

impl FileRow for import::AccountRow {
    const RECORD: &'static str = "account";
    fn at(&self) -> (u64, u64) {
        (self.row, self.line)
    }
    fn external_id(&self) -> Option<&str> {
        self.external_id.as_deref()
    }
}

impl FileRow for import::OpportunityRow {
    const RECORD: &'static str = "opportunity";
    fn at(&self) -> (u64, u64) {
        (self.row, self.line)
    }
    fn external_id(&self) -> Option<&str> {
        self.external_id.as_deref()
    }
}

/// A row error when `row` would write a record an earlier row of this file wrote: the later row
/// would silently overwrite the earlier one (see [`OncePerFile`]). A row with an external id is
/// checked by the record it found (`existing`). A row without one has `key` (what it is
/// matched on, and the column holding it) and is checked by that key first: two rows without
/// an id that describe one record are an error whatever the store holds (both would be
/// inserted, or the second would update the first); then by the record it found, which an
/// earlier row with an id or another key may have written.
fn written_earlier<R: FileRow>(
    once: &mut OncePerFile,
    existing: Option<&str>,
    row: &R,
    id_column: &str,
    key: Option<(MatchKey, &String)>,
) -> Option<RowError> {
    let (number, line) = row.at();
    let error = |column: &str, message: String| RowError {
        row: number,
        line,
        column: column.to_string(),
        message,
    };
    let record = R::RECORD;
    if let Some(id) = row.external_id() {
        let earlier = once.earlier_row(existing?, number, FoundBy::ExternalId)?;
        let message = match earlier.found_by {
            FoundBy::ExternalId => format!(
                "'{id}' is the id of row {} too; a file may hold each record once, so merge \
                 the two rows or remove one",
                earlier.row
            ),
            FoundBy::Key => format!(
                "'{id}' is the id of the {record} row {} updated; a file may hold each record \
                 once, so merge the two rows or remove one",
                earlier.row
            ),
        };
        return Some(error(id_column, message));
    }
    let (key, column) = key?;
    let (value, what, scope, neither) = match &key {
        MatchKey::Domain(d) => (d.to_string(), "domain", "", "an id"),
        MatchKey::AccountName(n) => (n.to_string(), "name", "", "an id or a domain"),
        MatchKey::OpportunityName { name, .. } => {
            (name.to_string(), "name", ", for the same account", "an id")
        }
    };
    let advice = format!(
        "a file may hold each {record} once, so merge the two rows, remove one or give each row \
         its own id"
    );
    if let Some(earlier) = once.earlier_row_with_key(key, number) {
        return Some(error(
            column,
            format!(
                "'{value}' is the {what} of row {earlier} too{scope}, and neither row has \
                 {neither}; {advice}"
            ),
        ));
    }
    let earlier = once.earlier_row(existing?, number, FoundBy::Key)?;
    Some(error(
        column,
        format!(
            "'{value}' is the {what} of row {}'s {record} too{scope}; {advice}",
            earlier.row
        ),
    ))
}

/// Stored records a row without an external id matches, listed in its error when there are
/// several (a longer list says "and more").
const MATCHED_LISTED_MAX: usize = 5;

/// A stored record a row without an external id matches, as its error lists it.
struct Matched {
    /// The record's name when it tells the records apart (an account matched by domain), else
    /// empty.
    label: String,
    /// The record's id.
    id: String,
    /// The record's external id.
    external_id: Option<String>,
}

/// The account a row without an external id updates: the one of `ids` (the accounts its key
/// matches, at most [`MATCHED_LISTED_MAX`] + 1), `None` for none, or, when several match, them
/// (for [`several_matched`]): which one the row describes is not the import's to guess, and
/// adding another would make a duplicate on every re-import.
fn the_one_account(
    tables: &mut WriteTables<'_>,
    ids: Vec<String>,
) -> Result<std::result::Result<Option<String>, Vec<Matched>>> {
    if ids.len() < 2 {
        return Ok(Ok(ids.into_iter().next()));
    }
    let mut listed = Vec::with_capacity(ids.len());
    for id in ids {
        let account = tables
            .account(&id)?
            .ok_or_else(|| anyhow::anyhow!("an index names account {id}, which is missing"))?;
        listed.push(Matched {
            label: format!("'{}'", account.name),
            id,
            external_id: account.external_id,
        });
    }
    Ok(Err(listed))
}

/// The message for a row without an external id whose key matches several stored records:
/// `shared` says which key (`several accounts have domain 'x'`), then each record (the first
/// [`MATCHED_LISTED_MAX`]) and how to say which one the row updates. `route` is the records'
/// API path (`accounts`), for records without an external id.
fn several_matched(shared: &str, listed: &[Matched], route: &str) -> String {
    let more = listed.len() > MATCHED_LISTED_MAX;
    let shown = &listed[..listed.len().min(MATCHED_LISTED_MAX)];
    let items: Vec<String> = shown
        .iter()
        .map(|m| {
            let label = if m.label.is_empty() {
                String::new()
            } else {
                format!("{}, ", m.label)
            };
            match &m.external_id {
                Some(x) => format!("{label}external id {x}"),
                None => format!("{label}id {}, no external id", m.id),
            }
        })
        .collect();
    let and_more = if more { "; and more" } else { "" };
    let hint = if more || shown.iter().any(|m| m.external_id.is_none()) {
        format!(" (give one without an external id its own through PATCH /api/v1/{route}/{{id}})")
    } else {
        String::new()
    };
    format!(
        "{shared} ({}{and_more}): give the row the external id of the one it updates{hint}",
        items.join("; ")
    )
}

/// A row error on `row`'s `column`.
fn row_error<R: FileRow>(row: &R, column: &str, message: String) -> RowError {
    let (number, line) = row.at();
    RowError {
        row: number,
        line,
        column: column.to_string(),
        message,
    }
}

fn set<T>(slot: &mut Option<T>, value: Option<T>) {
    if value.is_some() {
        *slot = value;
    }
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
