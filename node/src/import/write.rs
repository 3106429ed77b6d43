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

use crate::import::{self, FoundBy, ImportError, MatchKey, OncePerFile, RowError};
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
            Ok(Err(errors)) => Ok(Err(errors)),
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

/// The record stored under a Salesforce id (15 or 18 characters), found with `lookup`: under
/// the file's own form first, else under its other form, so the upsert updates it (and keeps the
/// file's form) instead of adding a duplicate; `None` for ids of other CRMs (no lookup) and for
/// an id stored in neither form. The file's form comes first because both forms may be stored
/// on two records (written before the API refused that): the row then names the one with its
/// form, and never takes over the other's id.
/// An 18-character id whose case was lost (`0015000000GV7QJAAR`) is tried in its restored
/// 18- and 15-character forms.
fn salesforce_other_form(
    external_id: &str,
    mut lookup: impl FnMut(&str) -> Result<Option<String>>,
) -> Result<Option<String>> {
    let restored = import::salesforce_case_restored(external_id)
        .filter(|restored| restored != &external_id[..15]);
    let other = import::salesforce_id_other_form(external_id);
    if restored.is_none() && other.is_none() {
        return Ok(None);
    }
    if let Some(id) = lookup(external_id)? {
        return Ok(Some(id));
    }
    if let Some(restored) = restored {
        let long = format!("{restored}{}", external_id[15..].to_ascii_uppercase());
        if let Some(id) = lookup(&long)? {
            return Ok(Some(id));
        }
        return lookup(&restored);
    }
    match other {
        Some(other) => lookup(&other),
        None => Ok(None),
    }
}

/// The record that holds `external_id` in any of its forms (a Salesforce id counts as one in
/// its 15- and 18-character forms and in a spreadsheet's lost case), found with `lookup`: what
/// the API checks before it gives a record an external id, as the import matches on it.
pub(crate) fn external_id_owner(
    external_id: &str,
    mut lookup: impl FnMut(&str) -> Result<Option<String>>,
) -> Result<Option<String>> {
    match lookup(external_id)? {
        Some(id) => Ok(Some(id)),
        None => salesforce_other_form(external_id, lookup),
    }
}

/// What one account cell of an opportunity row names.
#[derive(Debug, PartialEq, Eq)]
enum Named {
    /// One account.
    One(String),
    /// No account.
    Nothing,
    /// Several accounts have this value (a name two accounts share).
    Shared(String),
    /// A `;`-separated list (HubSpot's associated companies) whose parts name different
    /// accounts: each such part, as written, and the accounts it names.
    Several(Vec<(String, Vec<String>)>),
}

/// The account `ids` one value names.
fn one_of(value: &str, ids: Vec<String>) -> Named {
    let mut ids = ids.into_iter();
    match (ids.next(), ids.next()) {
        (None, _) => Named::Nothing,
        (Some(id), None) => Named::One(id),
        (Some(_), Some(_)) => Named::Shared(value.to_string()),
    }
}

/// What a cell names, with `lookup` giving the accounts one value names (at most two): the
/// whole value; else, when it is a `;`-separated list (HubSpot writes every company a deal is
/// associated with, `Acme Inc;Globex`), the parts that name an account: one such part names
/// its account, several name [`Named::Several`] (unless they all name the same account, as a
/// Salesforce id in both its forms does).
fn named(value: &str, mut lookup: impl FnMut(&str) -> Result<Vec<String>>) -> Result<Named> {
    let whole = lookup(value)?;
    if !whole.is_empty() || !value.contains(';') {
        return Ok(one_of(value, whole));
    }
    let mut matched: Vec<(String, Vec<String>)> = Vec::new();
    for part in value.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        if matched.iter().any(|(p, _)| p == part) {
            continue;
        }
        let ids = lookup(part)?;
        if !ids.is_empty() {
            matched.push((part.to_string(), ids));
        }
    }
    let mut accounts: Vec<&String> = matched.iter().flat_map(|(_, ids)| ids).collect();
    accounts.sort();
    accounts.dedup();
    Ok(match (matched.len(), accounts.as_slice()) {
        (0, _) => Named::Nothing,
        (_, [one]) => Named::One((*one).clone()),
        (1, _) => Named::Shared(matched.swap_remove(0).0),
        _ => Named::Several(matched),
    })
}

/// The account a row refers to, or the row errors saying why there is none (naming the column
/// as the file's header writes it). The account's id is tried first, then its domain, then its
/// name. A `;`-separated list of ids or names links to the one account its parts name; when
/// they name several, a later column settles which only by naming one of them, else each such
/// list is an error: an opportunity belongs to one account.
fn find_account(
    tables: &AccountIndexes,
    row: &import::OpportunityRow,
    line: u64,
    columns: &import::AccountColumns,
) -> Result<std::result::Result<String, Vec<RowError>>> {
    let error = |column: &str, message: String| RowError {
        row: row.row,
        line,
        column: column.to_string(),
        message,
    };
    let several = |column: &str, parts: &[(String, Vec<String>)]| {
        let names: Vec<&str> = parts.iter().map(|(part, _)| part.as_str()).collect();
        error(
            column,
            format!(
                "names {} companies ({}); keep one",
                names.len(),
                names.join("; ")
            ),
        )
    };
    // The accounts lists in earlier columns named, when they named several.
    let mut listed: Vec<String> = Vec::new();
    let mut errors: Vec<RowError> = Vec::new();
    let settles = |listed: &[String], id: &String| listed.is_empty() || listed.contains(id);
    if let Some(x) = &row.account_external_id {
        let by_external = |x: &str| -> Result<Vec<String>> {
            Ok(match tables.account_id_by_external(x)? {
                Some(id) => vec![id],
                None => salesforce_other_form(x, |o| tables.account_id_by_external(o))?
                    .into_iter()
                    .collect(),
            })
        };
        match named(x, by_external)? {
            Named::One(id) => return Ok(Ok(id)),
            Named::Several(parts) => {
                errors.push(several(&columns.external_id, &parts));
                listed.extend(parts.into_iter().flat_map(|(_, ids)| ids));
            }
            Named::Nothing | Named::Shared(_) => {
                if row.account_domain.is_none() && row.account_name.is_none() {
                    return Ok(Err(vec![error(
                        &columns.external_id,
                        format!("no account with external id '{x}' (import accounts first)"),
                    )]));
                }
            }
        }
    }
    if let Some(d) = &row.account_domain {
        match one_of(d.as_str(), tables.account_ids_by_domain(d.as_str(), 2)?) {
            Named::One(id) if settles(&listed, &id) => return Ok(Ok(id)),
            Named::Nothing if row.account_name.is_none() && errors.is_empty() => {
                return Ok(Err(vec![error(
                    &columns.domain,
                    format!("no account with domain '{d}' (import accounts first)"),
                )]))
            }
            Named::Shared(_) if errors.is_empty() => {
                return Ok(Err(vec![error(
                    &columns.domain,
                    format!("several accounts have domain '{d}': give the account's external id"),
                )]))
            }
            _ => {}
        }
    }
    if let Some(name) = &row.account_name {
        let mut found = named(name, |n| tables.account_ids_by_name(n, 2))?;
        if matches!(found, Named::Nothing) {
            // `umbrella corp` for `Umbrella Corp`: a name written in another case still names
            // the one account that has it.
            found = named(name, |n| tables.account_ids_by_name_ignoring_case(n, 2))?;
        }
        match found {
            Named::One(id) if settles(&listed, &id) => return Ok(Ok(id)),
            Named::Several(parts) => errors.push(several(&columns.name, &parts)),
            Named::Nothing if errors.is_empty() => errors.push(error(
                &columns.name,
                format!("no account named '{name}' (import accounts first)"),
            )),
            Named::Shared(part) if errors.is_empty() => errors.push(error(
                &columns.name,
                format!(
                    "several accounts are named '{part}': give the account's external id or domain"
                ),
            )),
            _ => {}
        }
    }
    if errors.is_empty() {
        errors.push(error(
            columns.first(),
            "no account: give the account's external id, domain or name".to_string(),
        ));
    }
    Ok(Err(errors))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::OpportunityFilter;

    /// A store holding the accounts of `accounts_csv`.
    fn store_with(accounts_csv: &str) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(&dir.path().join("db")).expect("store");
        import_accounts(&store, accounts_csv.as_bytes())
            .map_err(|e| format!("{e:?}"))
            .expect("accounts import");
        (dir, store)
    }

    /// Imports `csv` as opportunities: each one's external id and its account's external id,
    /// or the row errors as the CLI prints them.
    fn link(store: &Store, csv: &str) -> Result<Vec<(String, String)>, Vec<String>> {
        match import_opportunities(
            store,
            csv.as_bytes(),
            Currency::USD,
            import::ImportOptions::default(),
        ) {
            Ok(_) => {}
            Err(ImportFailure::Rows { errors, .. }) => {
                return Err(errors.iter().map(ToString::to_string).collect())
            }
            Err(other) => panic!("{other:?}"),
        }
        let page = store
            .list_opportunities(&OpportunityFilter::default(), None, 1000)
            .expect("list");
        let mut linked: Vec<(String, String)> = page
            .items
            .into_iter()
            .map(|o| {
                let account = store
                    .account(&o.account_id)
                    .expect("read")
                    .expect("account");
                (
                    o.external_id.unwrap_or_default(),
                    account.external_id.unwrap_or_default(),
                )
            })
            .collect();
        linked.sort();
        Ok(linked)
    }

    const COMPANIES: &str = "Record ID,Company name,Company Domain Name\n\
        123,Acme Inc,acme.example\n\
        456,Globex,globex.example\n\
        789,Initech,initech.example\n";

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn a_hubspot_deal_listing_several_companies_links_the_one_that_is_an_account() {
        // HubSpot writes every company a deal is associated with into one cell, `;`-separated.
        // The one part that names an account is the deal's account, in the name or the id column.
        let (_dir, store) = store_with(COMPANIES);
        let deals = "Record ID,Deal Name,Deal Stage,Associated Company\n\
            D1,By name,closedwon,Acme Inc;Umbrella Corp\n\
            D2,Spaces and case as written,closedwon, Umbrella Corp ;  Globex \n\
            D3,Whole name,closedwon,Initech\n";
        assert_eq!(
            link(&store, deals),
            Ok(pairs(&[("D1", "123"), ("D2", "456"), ("D3", "789")]))
        );
        let deals = "Record ID,Deal Name,Deal Stage,Associated Company IDs\n\
            D4,By id,closedwon,999;456\n\
            D5,The same id twice,closedwon,123;123\n";
        assert_eq!(
            link(&store, deals),
            Ok(pairs(&[
                ("D1", "123"),
                ("D2", "456"),
                ("D3", "789"),
                ("D4", "456"),
                ("D5", "123")
            ]))
        );
    }

    #[test]
    fn a_hubspot_deal_naming_several_accounts_is_a_row_error_naming_the_column_and_parts() {
        let (_dir, store) = store_with(COMPANIES);
        // Both companies are accounts here: which one the deal belongs to is not the import's
        // to guess. Each list naming several is reported; nothing is imported.
        let deals = "Record ID,Deal Name,Deal Stage,Associated Company IDs,Associated Company\n\
            D1,Fine,closedwon,123,Acme Inc\n\
            D2,Two,closedwon,123;456,Acme Inc;Globex\n\
            D3,Two of three,closedwon,,Acme Inc; Umbrella Corp; Globex\n\
            D4,None,closedwon,998;999,Umbrella Corp;Hooli\n";
        assert_eq!(
            link(&store, deals),
            Err(vec![
                "row 2 (line 3), column Associated Company IDs: names 2 companies (123; 456); \
                 keep one"
                    .to_string(),
                "row 2 (line 3), column Associated Company: names 2 companies (Acme Inc; \
                 Globex); keep one"
                    .to_string(),
                "row 3 (line 4), column Associated Company: names 2 companies (Acme Inc; \
                 Globex); keep one"
                    .to_string(),
                "row 4 (line 5), column Associated Company: no account named 'Umbrella \
                 Corp;Hooli' (import accounts first)"
                    .to_string(),
            ])
        );
        assert!(store
            .list_opportunities(&OpportunityFilter::default(), None, 10)
            .expect("list")
            .items
            .is_empty());
        let by_id = "Deal Name,Deal Stage,Associated Company IDs\nD,closedwon,998;999\n";
        assert_eq!(
            link(&store, by_id),
            Err(vec![
                "row 1 (line 2), column Associated Company IDs: no account with external id \
                 '998;999' (import accounts first)"
                    .to_string()
            ])
        );
    }

    #[test]
    fn another_account_column_settles_a_list_only_by_naming_one_of_its_companies() {
        let (_dir, store) = store_with(COMPANIES);
        // The ids list two accounts; the single name (or domain) says which of them.
        let deals = "Record ID,Deal Name,Deal Stage,Associated Company IDs,Company Domain,Associated Company\n\
            D1,Named,closedwon,123;456,,Globex\n\
            D2,By domain,closedwon,123;456,acme.example,\n";
        assert_eq!(
            link(&store, deals),
            Ok(pairs(&[("D1", "456"), ("D2", "123")]))
        );
        // A name that is neither of them settles nothing.
        let deals = "Record ID,Deal Name,Deal Stage,Associated Company IDs,Associated Company\n\
            D3,Elsewhere,closedwon,123;456,Initech\n";
        assert_eq!(
            link(&store, deals),
            Err(vec![
                "row 1 (line 2), column Associated Company IDs: names 2 companies (123; 456); \
                 keep one"
                    .to_string()
            ])
        );
    }

    #[test]
    fn an_account_whose_name_holds_a_semicolon_is_linked_by_its_whole_name() {
        let (_dir, store) =
            store_with("Record ID,Company name\n1,Smith;Jones LLP\n2,Smith\n3,Jones LLP\n");
        let deals =
            "Record ID,Deal Name,Deal Stage,Associated Company\nD1,Law,closedwon,Smith;Jones LLP\n";
        assert_eq!(link(&store, deals), Ok(pairs(&[("D1", "1")])));
    }

    #[test]
    fn an_account_name_written_in_another_case_links_the_one_account_that_has_it() {
        // Bug: `umbrella corp` was "no account named …" while `Umbrella Corp` existed.
        let (_dir, store) =
            store_with("Account ID,Account Name\n1,Umbrella Corp\n2,ACME\n3,Acme\n");
        let deals = "Opportunity ID,Opportunity Name,Stage,Account Name\nD1,Big,Qualification,umbrella corp\n";
        assert_eq!(link(&store, deals), Ok(pairs(&[("D1", "1")])));
        // Written exactly, a name settles it; ignoring case, `acme` names two accounts.
        let exact =
            "Opportunity ID,Opportunity Name,Stage,Account Name\nD2,Small,Qualification,Acme\n";
        assert_eq!(link(&store, exact), Ok(pairs(&[("D1", "1"), ("D2", "3")])));
        let folded =
            "Opportunity ID,Opportunity Name,Stage,Account Name\nD3,Odd,Qualification,acme\n";
        let errors = link(&store, folded).unwrap_err();
        assert!(
            errors[0].contains("several accounts are named 'acme'"),
            "{errors:?}"
        );
    }

    /// The stored account with this external id (among the first ten).
    fn account_with_external_id(store: &Store, external_id: &str) -> Account {
        store
            .list_accounts(None, None, 10)
            .expect("list")
            .items
            .into_iter()
            .find(|a| a.external_id.as_deref() == Some(external_id))
            .expect("the account")
    }

    /// Imports `csv` as accounts into `store`: the summary, or the row errors as the CLI prints
    /// them.
    fn accounts_into(store: &Store, csv: &str) -> Result<ImportSummary, Vec<String>> {
        match import_accounts(store, csv.as_bytes()) {
            Ok(summary) => Ok(summary),
            Err(ImportFailure::Rows { errors, .. }) => {
                Err(errors.iter().map(ToString::to_string).collect())
            }
            Err(other) => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_external_id_twice_in_one_file_is_an_error_on_the_later_row_naming_the_earlier() {
        // Bug: the later row silently overwrote the earlier one ("1 inserted, 1 updated").
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(&dir.path().join("db")).expect("store");
        let errors = accounts_into(
            &store,
            "Account ID,Account Name,Website\nX1,One,one.com\nX2,Two,two.com\n X1 ,Three,three.com\n",
        )
        .expect_err("a repeated id");
        assert_eq!(
            errors,
            [
                "row 3 (line 4), column Account ID: 'X1' is the id of row 1 too; a file may hold \
              each record once, so merge the two rows or remove one"
            ]
        );
        assert_eq!(
            store.counts().expect("counts").accounts,
            0,
            "nothing written"
        );

        // A Salesforce id in its 15- and 18-character forms is one id.
        let (_dir, store) = store_with(COMPANIES);
        let long = import::salesforce_id_other_form("0065g00000AbCdE").expect("18 characters");
        let errors = link(
            &store,
            &format!(
                "Opportunity ID,Opportunity Name,Account ID,Stage\n\
                 0065g00000AbCdE,A,123,Prospecting\n{long},B,123,Prospecting\n"
            ),
        )
        .expect_err("one id in two forms");
        assert_eq!(errors.len(), 1, "{errors:?}");
        let expected =
            format!("row 2 (line 3), column Opportunity ID: '{long}' is the id of row 1 too");
        assert!(errors[0].starts_with(&expected), "{errors:?}");
    }

    #[test]
    fn a_reimport_that_repeats_an_id_names_both_rows_and_every_repeat_after_a_bad_row() {
        // Records that exist before the import are counted too (a re-import with a repeated
        // row), and a bad row earlier in the file does not hide a later repeat.
        let (_dir, store) = store_with(COMPANIES);
        let errors = accounts_into(
            &store,
            "Record ID,Company name,Company Domain Name\n\
             123,Acme Inc,acme.example\n\
             456,Globex,not a domain\n\
             789,Initech,initech.example\n\
             123,Acme Again,acme.example\n\
             N1,New,new.example\n\
             N1,New again,new.example\n",
        )
        .expect_err("repeats");
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(
            errors[0].starts_with("row 2 (line 3), column Company Domain Name"),
            "{errors:?}"
        );
        assert!(
            errors[1].starts_with("row 4 (line 5), column Record ID: '123' is the id of row 1 too"),
            "{errors:?}"
        );
        assert!(
            errors[2].starts_with("row 6 (line 7), column Record ID: 'N1' is the id of row 5 too"),
            "{errors:?}"
        );
        let acme = account_with_external_id(&store, "123");
        assert_eq!(acme.name, "Acme Inc", "nothing written");
        assert_eq!(store.counts().expect("counts").accounts, 3);

        // The same file without the repeats imports, and again changes nothing.
        let clean = "Record ID,Company name,Company Domain Name\n\
             123,Acme Inc,acme.example\n\
             N1,New,new.example\n";
        let first = accounts_into(&store, clean).expect("imports");
        assert_eq!((first.inserted, first.updated), (1, 1));
        let again = accounts_into(&store, clean).expect("imports");
        assert_eq!((again.inserted, again.updated, again.unchanged), (0, 2, 2));
    }

    #[test]
    fn a_salesforce_id_stored_in_both_forms_on_two_records_updates_the_one_with_the_files_form() {
        // Bug: with `0015000000GV7QJ` on one account and its 18-character form on another
        // (the API used to allow that), every import of the 15-character file failed with an
        // internal error: the row took the other form's record and tried to move the id onto it.
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(&dir.path().join("db")).expect("store");
        let file = "Account ID,Account Name,Website\n0015000000GV7QJ,Globex,globex.com\n";
        accounts_into(&store, file).expect("first import");
        let long = import::salesforce_id_other_form("0015000000GV7QJ").expect("18 characters");
        store
            .put_account(&Account {
                id: ulid::Ulid::new().to_string(),
                external_id: Some(long.clone()),
                name: "Other Co".into(),
                domain: None,
                industry: None,
                country: None,
                status: Default::default(),
                owner: None,
                tags: Vec::new(),
            })
            .expect("the other form on another account");
        let again = accounts_into(&store, file).expect("imports");
        assert_eq!((again.inserted, again.updated, again.unchanged), (0, 1, 1));
        let long_file = format!("Account ID,Account Name\n{long},Other Co\n");
        let other = accounts_into(&store, &long_file).expect("imports");
        assert_eq!((other.inserted, other.unchanged), (0, 1));
    }

    /// A store with nothing in it.
    fn empty_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(&dir.path().join("db")).expect("store");
        (dir, store)
    }

    #[test]
    fn rows_without_an_id_that_repeat_a_domain_or_name_are_an_error_on_the_later_row() {
        // Bug: without an external id, the second row with the same domain (or, with no
        // domain either, the same exact name) silently updated the account the first row
        // inserted ("1 inserted, 1 updated"), so one of the two companies was lost.
        let (_dir, store) = empty_store();
        let errors = accounts_into(
            &store,
            "Account Name,Website,Industry\n\
             Acme,acme.com,Software\n\
             Globex,globex.com,\n\
             Acme Europe,https://www.ACME.com/de,Retail\n\
             Initech,,\n\
             Initech,,Banking\n",
        )
        .expect_err("repeated keys");
        assert_eq!(
            errors,
            [
                "row 3 (line 4), column Website: 'acme.com' is the domain of row 1 too, and \
                 neither row has an id; a file may hold each account once, so merge the two \
                 rows, remove one or give each row its own id",
                "row 5 (line 6), column Account Name: 'Initech' is the name of row 4 too, and \
                 neither row has an id or a domain; a file may hold each account once, so \
                 merge the two rows, remove one or give each row its own id",
            ]
        );
        assert_eq!(
            store.counts().expect("counts").accounts,
            0,
            "nothing written"
        );
    }

    #[test]
    fn a_row_without_an_id_that_matches_an_account_an_earlier_row_wrote_names_that_row() {
        // The earlier row had an id (or matched on another key): the later row would still
        // overwrite what it wrote.
        let (_dir, store) = empty_store();
        let errors = accounts_into(
            &store,
            "Account ID,Account Name,Website\nX1,Acme,acme.com\n,Acme Again,acme.com\n",
        )
        .expect_err("one account twice");
        assert_eq!(
            errors,
            [
                "row 2 (line 3), column Website: 'acme.com' is the domain of row 1's account \
                 too; a file may hold each account once, so merge the two rows, remove one or \
                 give each row its own id"
            ]
        );
        let errors = accounts_into(
            &store,
            "Account Name,Website\nInitech,initech.com\nInitech,\n",
        )
        .expect_err("matched by name");
        assert_eq!(
            errors,
            [
                "row 2 (line 3), column Account Name: 'Initech' is the name of row 1's account \
                 too; a file may hold each account once, so merge the two rows, remove one or \
                 give each row its own id"
            ]
        );
        assert_eq!(
            store.counts().expect("counts").accounts,
            0,
            "nothing written"
        );

        // An id-less row that updated a stored account, then a row naming that account by id.
        accounts_into(
            &store,
            "Account ID,Account Name,Website\nX1,Acme,acme.com\n",
        )
        .expect("imports");
        let errors = accounts_into(
            &store,
            "Account ID,Account Name,Website\n,Acme Inc,acme.com\nX1,Acme Corp,\n",
        )
        .expect_err("one account twice");
        assert_eq!(
            errors,
            [
                "row 2 (line 3), column Account ID: 'X1' is the id of the account row 1 \
                 updated; a file may hold each record once, so merge the two rows or remove one"
            ]
        );
    }

    #[test]
    fn a_file_without_ids_updates_what_it_matches_and_imports_again_as_no_change() {
        // Rows matching stored accounts (by domain, by name) still update them, once each.
        let (_dir, store) = empty_store();
        let file =
            "Account Name,Website,Industry\nAcme,acme.com,\nGlobex,,\nInitech,initech.com,\n";
        let first = accounts_into(&store, file).expect("imports");
        assert_eq!((first.inserted, first.updated), (3, 0));
        let changed = "Account Name,Website,Industry\nAcme,acme.com,Software\nGlobex,,Retail\n\
                       Initech,initech.com,\n";
        let second = accounts_into(&store, changed).expect("imports");
        assert_eq!(
            (second.inserted, second.updated, second.unchanged),
            (0, 3, 1)
        );
        let again = accounts_into(&store, changed).expect("imports");
        assert_eq!((again.inserted, again.updated, again.unchanged), (0, 3, 3));

        let opportunities = "Opportunity Name,Account Name,Stage\nRenewal,Acme,Prospecting\n\
                             Renewal,Globex,Prospecting\n";
        for inserted in [2, 0] {
            let summary = import_opportunities(
                &store,
                opportunities.as_bytes(),
                Currency::USD,
                import::ImportOptions::default(),
            )
            .map_err(|e| format!("{e:?}"))
            .expect("imports");
            assert_eq!(
                (summary.inserted, summary.updated),
                (inserted, 2 - inserted)
            );
        }
    }

    #[test]
    fn opportunity_rows_without_an_id_that_repeat_a_name_in_one_account_are_an_error() {
        // Bug: the second `Renewal` of Acme silently updated the one the first row inserted.
        // The same name for another account is another opportunity.
        let (_dir, store) = store_with(COMPANIES);
        let errors = link(
            &store,
            "Opportunity Name,Company Domain,Stage\n\
             Renewal,acme.example,Prospecting\n\
             Renewal,globex.example,Prospecting\n\
             Renewal,acme.example,Closed Won\n",
        )
        .expect_err("one opportunity twice");
        assert_eq!(
            errors,
            [
                "row 3 (line 4), column Opportunity Name: 'Renewal' is the name of row 1 too, for \
              the same account, and neither row has an id; a file may hold each opportunity \
              once, so merge the two rows, remove one or give each row its own id"
            ]
        );
        assert_eq!(
            store.counts().expect("counts").opportunities,
            0,
            "nothing written"
        );
    }

    #[test]
    fn a_row_without_an_id_whose_domain_several_accounts_have_is_an_error_naming_them() {
        // Bug: such a row matched none of them and inserted another account on every
        // re-import ("inserted: 1" each time).
        let (_dir, store) = store_with(
            "Account ID,Account Name,Website\nDD-A,Dupe A,dupe.com\nDD-B,Dupe B,dupe.com\n",
        );
        for _ in 0..2 {
            let errors = accounts_into(
                &store,
                "Account Name,Website,Industry\nDupe,dupe.com,Tech\n",
            )
            .expect_err("ambiguous domain");
            assert_eq!(
                errors,
                [
                    "row 1 (line 2), column Website: several accounts have domain 'dupe.com' \
                     ('Dupe A', external id DD-A; 'Dupe B', external id DD-B): give the row the \
                     external id of the one it updates"
                ]
            );
        }
        assert_eq!(
            store.counts().expect("counts").accounts,
            2,
            "nothing written"
        );
    }

    #[test]
    fn accounts_sharing_a_domain_without_external_ids_are_listed_with_their_ids_and_how_to_give_one(
    ) {
        // The API lets two accounts have one domain and no external id: the row can name
        // neither until one gets an external id.
        let (_dir, store) = empty_store();
        let mut ids = Vec::new();
        for name in ["Twin A", "Twin B"] {
            let id = ulid::Ulid::new().to_string();
            store
                .put_account(&Account {
                    id: id.clone(),
                    external_id: None,
                    name: name.into(),
                    domain: Some(protocol::records::Domain::parse("twin.com").expect("domain")),
                    industry: None,
                    country: None,
                    status: Default::default(),
                    owner: None,
                    tags: Vec::new(),
                })
                .expect("put");
            ids.push(id);
        }
        ids.sort();
        let errors = accounts_into(&store, "Account Name,Website\nTwin,twin.com\n")
            .expect_err("ambiguous domain");
        let named = |id: &str| store.account(id).expect("read").expect("account").name;
        assert_eq!(
            errors,
            [format!(
                "row 1 (line 2), column Website: several accounts have domain 'twin.com' \
                 ('{}', id {}, no external id; '{}', id {}, no external id): give the row the \
                 external id of the one it updates (give one without an external id its own \
                 through PATCH /api/v1/accounts/{{id}})",
                named(&ids[0]),
                ids[0],
                named(&ids[1]),
                ids[1]
            )]
        );
        assert_eq!(
            store.counts().expect("counts").accounts,
            2,
            "nothing written"
        );
    }

    #[test]
    fn a_names_only_row_updates_the_one_account_of_that_name_also_when_it_has_an_external_id() {
        // Bug: only an account without an external id was matched by name, so a names-only
        // file inserted another "Acme Corp" on every re-import.
        let (_dir, store) = store_with("Account ID,Account Name\nSF-1,Acme Corp\n");
        let file = "Account Name,Industry\nAcme Corp,Tech\n";
        let first = accounts_into(&store, file).expect("imports");
        assert_eq!((first.inserted, first.updated, first.unchanged), (0, 1, 0));
        for _ in 0..2 {
            let again = accounts_into(&store, file).expect("imports");
            assert_eq!((again.inserted, again.updated, again.unchanged), (0, 1, 1));
        }
        let accounts = store.list_accounts(None, None, 10).expect("list").items;
        assert_eq!(accounts.len(), 1, "{accounts:?}");
        assert_eq!(accounts[0].external_id.as_deref(), Some("SF-1"));
        assert_eq!(accounts[0].industry.as_deref(), Some("Tech"));

        // Two accounts of that name: the row is an error naming both.
        accounts_into(&store, "Account ID,Account Name\nSF-2,Acme Corp\n").expect("imports");
        let errors = accounts_into(&store, file).expect_err("ambiguous name");
        assert_eq!(
            errors,
            [
                "row 1 (line 2), column Account Name: several accounts are named 'Acme Corp' \
                 ('Acme Corp', external id SF-1; 'Acme Corp', external id SF-2): give the row \
                 the external id of the one it updates"
            ]
        );
        assert_eq!(store.counts().expect("counts").accounts, 2);
    }

    #[test]
    fn an_opportunity_row_without_an_id_naming_two_opportunities_of_its_account_is_an_error() {
        // Bug: the row silently updated one of the two ("updated: 1"), whichever came first.
        let (_dir, store) = store_with(COMPANIES);
        let mut ids = Vec::new();
        for _ in 0..2 {
            let id = ulid::Ulid::new().to_string();
            let account = account_with_external_id(&store, "123");
            store
                .put_opportunity(&Opportunity {
                    id: id.clone(),
                    external_id: None,
                    account_id: account.id,
                    name: "Twin".into(),
                    stage: protocol::records::Stage::Prospect,
                    amount: None,
                    currency: None,
                    close_date: None,
                    owner: None,
                    next_step: None,
                    description: None,
                    tags: Vec::new(),
                })
                .expect("put");
            ids.push(id);
        }
        ids.sort();
        let errors = link(
            &store,
            "Opportunity Name,Account ID,Stage\nTwin,123,Qualification\n",
        )
        .expect_err("ambiguous name");
        assert_eq!(
            errors,
            [format!(
                "row 1 (line 2), column Opportunity Name: several opportunities of this account \
                 are named 'Twin' (id {}, no external id; id {}, no external id): give the row \
                 the external id of the one it updates (give one without an external id its \
                 own through PATCH /api/v1/opportunities/{{id}})",
                ids[0], ids[1]
            )]
        );
        for id in &ids {
            let stage = store.opportunity(id).expect("read").expect("stored").stage;
            assert_eq!(stage, protocol::records::Stage::Prospect, "nothing written");
        }
    }

    #[test]
    fn an_opportunity_row_without_an_id_updates_the_one_of_its_name_also_when_it_has_an_external_id(
    ) {
        // As for accounts: a re-import of the id-less file must not add it again each time.
        let (_dir, store) = store_with(COMPANIES);
        link(
            &store,
            "Opportunity ID,Opportunity Name,Account ID,Stage\nO1,Renewal,123,Prospecting\n",
        )
        .expect("imports");
        for _ in 0..2 {
            let linked = link(
                &store,
                "Opportunity Name,Account ID,Stage\nRenewal,123,Qualification\n",
            )
            .expect("imports");
            assert_eq!(linked, pairs(&[("O1", "123")]));
        }
    }
}
