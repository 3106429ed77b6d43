//! CSV import, the pure half: turns a CRM export (Salesforce, HubSpot, Pipedrive, Dynamics 365,
//! Zoho, Excel in any locale, or a file with cosell's own column names) into validated account
//! and opportunity rows, one row at a time. No storage and no HTTP here: the caller streams the
//! rows into one transaction and commits only if no row failed (all or nothing).
//!
//! Streaming: the file is decoded to UTF-8 on the fly (Windows-1252 bytes and UTF-16 are
//! transcoded, see `Encoding`) and read through one `csv::Reader` and one reused `ByteRecord`,
//! so memory stays flat whatever the number of rows (a row is at most [`ROW_BYTES_MAX`]). The
//! column → field index is built once from the header.
//!
//! Numbering, used in every [`RowError`]: `row` is the 1-based data row, counting neither the
//! header nor rows whose cells are all empty (skipped); `line` is the 1-based physical line of the
//! file where the row starts (the file's first line is line 1), exact even with quoted newlines,
//! blank lines and CRLF. docs/import.md is the user-facing description (aliases, stage and status tables).

use protocol::records::{
    clean_text, nfc, parse_tags, AccountStatus, Amount, Currency, Date, Domain, Stage,
    NAME_CHARS_MAX, TEXT_CHARS_MAX,
};
use std::collections::VecDeque;
use std::fmt;
use std::io::{self, Chain, Cursor, Read};
use std::sync::OnceLock;

mod once_per_file;
pub mod write;
pub use once_per_file::{Earlier, FoundBy, MatchKey, OncePerFile};

/// One problem with one cell (or a whole row) of an import file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// 1-based data row: the header is not counted, nor rows whose cells are all empty.
    pub row: u64,
    /// 1-based physical line of the file where the row starts (the header is line 1).
    pub line: u64,
    /// The column's header text as written in the file, or empty when the problem is the row
    /// itself (wrong number of fields, unreadable input).
    pub column: String,
    /// Why, as UI text: lowercase, no trailing period.
    pub message: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "row {} (line {})", self.row, self.line)?;
        if !self.column.is_empty() {
            write!(f, ", column {}", self.column)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for RowError {}

/// Why a file cannot be imported at all (before any row is read).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    /// The file is an Excel workbook (xlsx or xls), not CSV.
    #[error("file is an Excel workbook, not CSV; in Excel use File > Save As > \"CSV UTF-8\"")]
    Workbook,
    /// The file is something else that is not CSV text (PDF, zip, gzip, HTML, JSON, binary):
    /// what it looks like and what to do.
    #[error("{0}")]
    NotCsv(String),
    /// The header lacks a required column, or the file is empty.
    #[error("{0}")]
    Header(String),
    /// The input could not be read before the first data row.
    #[error("could not read the file at line {line}: {message}")]
    Csv {
        /// 1-based line where reading failed.
        line: u64,
        /// What the reader said.
        message: String,
    },
}

/// An account as one row of an import file says it. `None` means the file has no column for the
/// field or the cell is empty ([`AccountReader::fields`] tells which); the importer's upsert
/// keeps the stored value for either (docs/import.md, *Columns*).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRow {
    /// The row's number (see [`RowError::row`]).
    pub row: u64,
    /// The file line where the row starts (see [`RowError::line`]).
    pub line: u64,
    /// The CRM's id, the key imports upsert on.
    pub external_id: Option<String>,
    /// The company's name (required).
    pub name: String,
    /// The normalized web domain.
    pub domain: Option<Domain>,
    /// Industry, as the CRM names it.
    pub industry: Option<String>,
    /// Country, as the CRM names it.
    pub country: Option<String>,
    /// Status, mapped from the CRM's account type or lifecycle stage.
    pub status: Option<AccountStatus>,
    /// Who owns the account.
    pub owner: Option<String>,
    /// Tags, split on `;`, `,` or `|`; `None` when the cell is empty.
    pub tags: Option<Vec<String>>,
}

/// An opportunity as one row of an import file says it. `None` as in [`AccountRow`]. At least one
/// of the three account references is set; the caller resolves them (external id, else domain,
/// else exact name; a `;`-separated list of ids or names by the one part that names an account).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpportunityRow {
    /// The row's number (see [`RowError::row`]).
    pub row: u64,
    /// The file line where the row starts (see [`RowError::line`]).
    pub line: u64,
    /// The CRM's id, the key imports upsert on.
    pub external_id: Option<String>,
    /// The account's CRM id. HubSpot lists the ids of all the companies a deal is associated
    /// with, `;`-separated: each is checked as an id, and they are kept joined by `;`
    /// (`9480000011;9480000148`) for the importer to link the one that names an account.
    pub account_external_id: Option<String>,
    /// The account's normalized domain (the first, when the cell lists several).
    pub account_domain: Option<Domain>,
    /// The account's name, as written: HubSpot's `Associated Company` lists several
    /// companies `;`-separated, which the importer tells apart.
    pub account_name: Option<String>,
    /// The opportunity's name (required).
    pub name: String,
    /// The ACE stage (required), mapped by [`map_stage`].
    pub stage: Stage,
    /// The amount, exact.
    pub amount: Option<Amount>,
    /// The currency column's value, else the code the amount cell names (`USD 900`, `€900`);
    /// `None` when neither says, and the caller applies the node's default currency.
    pub currency: Option<Currency>,
    /// Expected close.
    pub close_date: Option<Date>,
    /// Who owns it.
    pub owner: Option<String>,
    /// The next step, free text.
    pub next_step: Option<String>,
    /// Description, free text.
    pub description: Option<String>,
    /// Tags; `None` when the cell is empty.
    pub tags: Option<Vec<String>>,
}

/// The characters of a Salesforce id's case checksum: one per 5-bit mask of capitals.
const SALESFORCE_CHECKSUM_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";

/// The other form of a Salesforce record id: the case-insensitive 18-character id for a
/// 15-character one (the 15 plus a 3-character case checksum), the 15-character id for an
/// 18-character one whose checksum holds. `None` for anything else. Salesforce reports show
/// 15-character ids and its API and data exports 18-character ones, so a file may name an
/// account by the form the account was not imported with.
pub fn salesforce_id_other_form(id: &str) -> Option<String> {
    let bytes = id.as_bytes();
    if !bytes.iter().all(u8::is_ascii_alphanumeric) {
        return None;
    }
    match bytes.len() {
        15 => Some(format!("{id}{}", salesforce_checksum(&bytes[..15]))),
        18 => {
            let (head, tail) = id.split_at(15);
            if salesforce_checksum(head.as_bytes()).eq_ignore_ascii_case(tail) {
                Some(head.to_string())
            } else {
                salesforce_case_restored(id)
            }
        }
        _ => None,
    }
}

/// The 15-character id an 18-character Salesforce id stands for when something upper- or
/// lower-cased it (a spreadsheet's UPPER(), a case-insensitive system): the last three
/// characters say which of the first fifteen are capitals, so the case can be put back. `None`
/// unless the id is 18 characters and the restored id's checksum holds.
pub fn salesforce_case_restored(id: &str) -> Option<String> {
    if id.len() != 18 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let (head, tail) = id.as_bytes().split_at(15);
    // Only a flattened id (every letter of one case) lost its case; a mixed-case one whose
    // checksum fails is simply not a Salesforce id.
    let flattened =
        !head.iter().any(u8::is_ascii_uppercase) || !head.iter().any(u8::is_ascii_lowercase);
    if !flattened {
        return None;
    }
    let mut restored = Vec::with_capacity(15);
    for (chunk, mark) in head.chunks(5).zip(tail) {
        let bits = SALESFORCE_CHECKSUM_ALPHABET
            .iter()
            .position(|a| a == &mark.to_ascii_uppercase())?;
        for (i, c) in chunk.iter().enumerate() {
            restored.push(if bits & (1 << i) != 0 {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            });
        }
    }
    let restored = String::from_utf8(restored).ok()?;
    salesforce_checksum(restored.as_bytes())
        .eq_ignore_ascii_case(std::str::from_utf8(tail).ok()?)
        .then_some(restored)
}

/// The 3-character suffix that makes a 15-character Salesforce id case-insensitive: for each
/// 5 characters, a bit per upper-case letter, as one of 32 characters.
fn salesforce_checksum(id15: &[u8]) -> String {
    id15.chunks(5)
        .map(|chunk| {
            let bits = chunk
                .iter()
                .enumerate()
                .filter(|(_, c)| c.is_ascii_uppercase())
                .fold(0usize, |acc, (i, _)| acc | (1 << i));
            char::from(SALESFORCE_CHECKSUM_ALPHABET[bits])
        })
        .collect()
}

/// Reads accounts, one row per `next()`; each bad row yields all of its errors together.
pub struct AccountReader<R: Read> {
    rows: Rows<R>,
    columns: Vec<Option<usize>>,
}

/// Reads opportunities, one row per `next()`; each bad row yields all of its errors together.
pub struct OpportunityReader<R: Read> {
    rows: Rows<R>,
    columns: Vec<Option<usize>>,
    last_line: u64,
    account_columns: AccountColumns,
    /// The amount header's currency (`Amount (EUR)`).
    currency: Option<Currency>,
    /// [`ImportOptions::default_currency`], resolved.
    default_currency: Currency,
    date_order: DateOrder,
}

/// `; the header (line 3) reads: a, b, c` — so a file whose first line is a title, or that is
/// not CSV, shows what was read.
fn header_reads<R: Read>(rows: &Rows<R>) -> String {
    let shown: Vec<String> = rows
        .headers
        .iter()
        .take(8)
        .map(|h| shorten(h, 40))
        .collect();
    let more = if rows.headers.len() > 8 { ", …" } else { "" };
    let separator = match rows.delimiter {
        b';' => "semicolon",
        b'\t' => "tab",
        b'|' => "|",
        _ => "comma",
    };
    format!(
        "; the header (line {}, {separator}-separated) reads: {}{more}",
        rows.line,
        shown.join(" | ")
    )
}

/// Opens an accounts file and maps its header. Fails when the file is not UTF-8 CSV or has no
/// column for the account name.
pub fn read_accounts<R: Read>(input: R) -> Result<AccountReader<R>, ImportError> {
    let (mut rows, header) = Rows::open(input, ACCOUNT_FIELDS, names_an_account)?;
    let mut columns = header.columns;
    prefer_relationship_type(&mut rows, &mut columns);
    let missing = missing(&columns, ACCOUNT_FIELDS, &[A::Name as usize]);
    if !missing.is_empty() {
        return Err(ImportError::Header(format!(
            "{missing}{}",
            header_reads(&rows)
        )));
    }
    Ok(AccountReader { rows, columns })
}

/// Dynamics 365 exports a generic `Status` column (the record's state, Active or Inactive)
/// before `Relationship Type` (customer, prospect, partner…, the account's real status): when
/// the status column is a generic `Status` and the file also has a `Relationship Type`, the
/// latter is the status column and `Status` is ignored.
fn prefer_relationship_type<R: Read>(rows: &mut Rows<R>, columns: &mut [Option<usize>]) {
    let status = A::Status as usize;
    let generic = columns[status].is_some_and(|i| header_key(&rows.headers[i]) == "status");
    if !generic {
        return;
    }
    let Some(specific) = rows
        .headers
        .iter()
        .position(|h| header_key(h) == "relationshiptype")
    else {
        return;
    };
    columns[status] = Some(specific);
    // `Status` and `Relationship Type` say different things; neither is a copy of the other.
    rows.doubles.retain(|&(field, _)| field != status);
    rows.ignored = rows
        .headers
        .iter()
        .enumerate()
        .filter(|&(i, h)| !columns.contains(&Some(i)) && !header_key(h).is_empty())
        .map(|(_, h)| h.clone())
        .collect();
}

/// Opens an opportunities file and maps its header. Fails when the file is not UTF-8 CSV or has
/// no column for the name, the stage, or any account reference (id, domain or name).
pub fn read_opportunities<R: Read>(input: R) -> Result<OpportunityReader<R>, ImportError> {
    read_opportunities_with(input, ImportOptions::default())
}

/// Settings a caller may give an import (none is required).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// How to read `03/04/2026`. `None`: month first (US, as Salesforce and HubSpot export in
    /// US locales), except in a `;`-separated file (European Excel), where day first. A close
    /// date header naming its format (`Close Date (DD/MM/YYYY)`) wins over both.
    pub date_order: Option<DateOrder>,
    /// The currency the caller gives amounts that name none (the node's default). `None`:
    /// USD. An amount whose symbol names no single currency (`¥120,000`, `$1,200`) is refused
    /// unless this (or the row's currency column) is one it may mean.
    pub default_currency: Option<Currency>,
}

/// [`read_opportunities`] with settings.
pub fn read_opportunities_with<R: Read>(
    input: R,
    options: ImportOptions,
) -> Result<OpportunityReader<R>, ImportError> {
    let (rows, header) = Rows::open(input, OPPORTUNITY_FIELDS, names_an_opportunity)?;
    let columns = header.columns;
    let mut problems = vec![missing(
        &columns,
        OPPORTUNITY_FIELDS,
        &[O::Name as usize, O::Stage as usize],
    )];
    if ACCOUNT_REFERENCES
        .iter()
        .all(|&f| columns[f as usize].is_none())
    {
        problems.push(
            "no column for the account (expected Account ID, account domain or Account Name, \
             e.g. account_external_id, Website, Company name, Associated Company)"
                .to_string(),
        );
    }
    problems.retain(|p| !p.is_empty());
    if !problems.is_empty() {
        return Err(ImportError::Header(format!(
            "{}{}",
            problems.join("; "),
            header_reads(&rows)
        )));
    }
    let date_order =
        header
            .date_order
            .or(options.date_order)
            .unwrap_or(if rows.delimiter == b';' {
                DateOrder::DayFirst
            } else {
                DateOrder::MonthFirst
            });
    let header_of = |field: O| {
        columns[field as usize]
            .and_then(|i| rows.headers.get(i))
            .cloned()
            .unwrap_or_default()
    };
    let account_columns = AccountColumns {
        external_id: header_of(O::AccountExternalId),
        domain: header_of(O::AccountDomain),
        name: header_of(O::AccountName),
    };
    Ok(OpportunityReader {
        rows,
        columns,
        last_line: 0,
        account_columns,
        currency: header.currency,
        default_currency: options.default_currency.unwrap_or(Currency::USD),
        date_order,
    })
}

/// Maps a CRM stage label to an ACE stage: ACE names in any case or spacing, Salesforce's default
/// opportunity stages, HubSpot's default deal stages (labels and internal ids), and `Won`/`Lost`.
/// The table is in docs/import.md.
pub fn map_stage(label: &str) -> Result<Stage, String> {
    static TABLE: OnceLock<Vec<(Box<[u8]>, Stage)>> = OnceLock::new();
    let table = TABLE.get_or_init(|| normalized_table(STAGE_LABELS));
    // HubSpot can suffix the pipeline: `Closed Won (Sales Pipeline)`.
    let without_pipeline = label
        .trim_end()
        .strip_suffix(')')
        .and_then(|s| s.rsplit_once('('))
        .map(|(stage, _)| stage);
    let found = lookup(table, label)
        .or_else(|| lookup(table, without_pipeline?))
        .or_else(|| lookup(table, strip_stage_probability(label)?))
        .or_else(|| {
            lookup(
                table,
                strip_stage_number(without_pipeline.unwrap_or(label))?,
            )
        });
    found.ok_or_else(|| {
        let label = label.trim();
        // A custom HubSpot pipeline's stages export as numeric ids unless labels are chosen.
        let hint = if !label.is_empty() && label.bytes().all(|b| b.is_ascii_digit()) {
            "; a number is a custom pipeline's stage id (HubSpot): export the stage labels, or \
             replace the ids with the stages they stand for"
        } else {
            ""
        };
        format!(
            "'{label}' is not a known stage (use an ACE stage: prospect, qualified, \
             technical_validation, business_validation, committed, launched, closed_lost; \
             or a Salesforce, HubSpot, Pipedrive, Dynamics or Zoho default stage){hint}"
        )
    })
}

/// `Closed Won - 100%`, `Prospecting 10%` → the name before the probability; `None` when there
/// is no such suffix.
fn strip_stage_probability(label: &str) -> Option<&str> {
    let s = label.trim_end().strip_suffix('%')?.trim_end();
    let rest = s.trim_end_matches(|c: char| c.is_ascii_digit());
    if rest.len() == s.len() {
        return None;
    }
    let rest = rest
        .trim_end_matches(|c: char| c.is_whitespace() || matches!(c, '-' | ':' | '|' | '–' | '—'));
    (!rest.is_empty()).then_some(rest)
}

/// `1 - Prospecting`, `Stage 3: Proposal`, `10% - Prospecting`, `2-Develop` → the name after the
/// number; `None` when there is no such prefix or nothing after it.
fn strip_stage_number(label: &str) -> Option<&str> {
    let s = label.trim_start();
    let s = match s.get(..5) {
        Some(word) if word.eq_ignore_ascii_case("stage") => s[5..].trim_start(),
        _ => s,
    };
    let rest = s.trim_start_matches(|c: char| c.is_ascii_digit());
    if rest.len() == s.len() {
        return None;
    }
    let rest = rest.trim_start_matches(|c: char| {
        c.is_whitespace() || matches!(c, '%' | '-' | ':' | '.' | ')' | '–' | '—' | '_' | '|')
    });
    (!rest.is_empty() && rest.starts_with(|c: char| c.is_alphabetic())).then_some(rest)
}

/// A deal status column (Pipedrive's `Deal - Status`, Dynamics' `Status`): `won` and `lost` set
/// the stage; `open` (or empty) leaves it to the stage column.
fn map_outcome(label: &str) -> Result<Option<Stage>, String> {
    match label.trim().to_ascii_lowercase().as_str() {
        "won" | "closed won" | "closed-won" => Ok(Some(Stage::Launched)),
        "lost" | "closed lost" | "closed-lost" => Ok(Some(Stage::ClosedLost)),
        "open" | "active" | "in progress" => Ok(None),
        _ => Err(format!(
            "'{}' is not a deal status (expected open, won or lost)",
            label.trim()
        )),
    }
}

/// Maps a CRM account type or lifecycle stage to an account status: the contract's names,
/// Salesforce account types, HubSpot lifecycle stages and company types. The table is in
/// docs/import.md.
pub fn map_status(label: &str) -> Result<AccountStatus, String> {
    static TABLE: OnceLock<Vec<(Box<[u8]>, AccountStatus)>> = OnceLock::new();
    lookup(TABLE.get_or_init(|| normalized_table(STATUS_LABELS)), label).ok_or_else(|| {
        format!(
            "'{}' is not a known account status (use customer, prospect, partner or other, \
             a Salesforce account type or a HubSpot lifecycle stage)",
            label.trim()
        )
    })
}

/// An accounts file's status cell: [`map_status`], except that `Active` and `Inactive` (the
/// record's state, as Dynamics 365 exports it in its `Status` column) are no status at all.
fn account_status(label: &str) -> Result<Option<AccountStatus>, String> {
    let state = label.trim();
    if state.eq_ignore_ascii_case("active") || state.eq_ignore_ascii_case("inactive") {
        return Ok(None);
    }
    map_status(label).map(Some)
}

/// ACE stage for each label [`map_stage`] accepts (compared case-insensitively, ignoring
/// everything but letters and digits). Public so docs and tests can list it.
pub const STAGE_LABELS: &[(&str, Stage)] = &[
    // ACE (cosell's own names).
    ("prospect", Stage::Prospect),
    ("qualified", Stage::Qualified),
    ("technical_validation", Stage::TechnicalValidation),
    ("business_validation", Stage::BusinessValidation),
    ("committed", Stage::Committed),
    ("launched", Stage::Launched),
    ("closed_lost", Stage::ClosedLost),
    // Salesforce default opportunity stages.
    ("Prospecting", Stage::Prospect),
    ("Qualification", Stage::Qualified),
    ("Needs Analysis", Stage::Qualified),
    ("Value Proposition", Stage::TechnicalValidation),
    ("Id. Decision Makers", Stage::TechnicalValidation),
    ("Perception Analysis", Stage::BusinessValidation),
    ("Proposal/Price Quote", Stage::BusinessValidation),
    ("Negotiation/Review", Stage::Committed),
    ("Closed Won", Stage::Launched),
    // ("Closed Lost" is the ACE name already.)
    // HubSpot default deal stages; the internal ids normalize to the same keys as the labels
    // (appointmentscheduled, qualifiedtobuy, …, closedwon, closedlost).
    ("Appointment Scheduled", Stage::Prospect),
    ("Qualified To Buy", Stage::Qualified),
    ("Presentation Scheduled", Stage::TechnicalValidation),
    ("Decision Maker Bought-In", Stage::BusinessValidation),
    ("Contract Sent", Stage::Committed),
    // Other CRMs' won/lost.
    ("Won", Stage::Launched),
    ("Lost", Stage::ClosedLost),
    ("Closed Lost to Competition", Stage::ClosedLost),
    // Zoho CRM default stages (the others are Salesforce's names).
    ("Identify Decision Makers", Stage::TechnicalValidation),
    // Pipedrive default pipeline.
    ("Lead In", Stage::Prospect),
    ("Contact Made", Stage::Qualified),
    ("Demo Scheduled", Stage::TechnicalValidation),
    ("Needs Defined", Stage::TechnicalValidation),
    ("Proposal Made", Stage::BusinessValidation),
    ("Negotiations Started", Stage::Committed),
    // Dynamics 365 sales process stages (`1-Qualify` … `4-Close` in Pipeline Phase).
    ("Qualify", Stage::Qualified),
    ("Develop", Stage::TechnicalValidation),
    ("Propose", Stage::BusinessValidation),
    ("Close", Stage::Committed),
    // Common custom pipeline names.
    ("Discovery", Stage::Qualified),
    ("Demo", Stage::TechnicalValidation),
    ("Proposal", Stage::BusinessValidation),
    ("Negotiation", Stage::Committed),
];

/// Account status for each label [`map_status`] accepts (compared like [`STAGE_LABELS`]).
pub const STATUS_LABELS: &[(&str, AccountStatus)] = &[
    // cosell's own names.
    ("customer", AccountStatus::Customer),
    ("prospect", AccountStatus::Prospect),
    ("partner", AccountStatus::Partner),
    ("other", AccountStatus::Other),
    // Salesforce account types.
    ("Customer - Direct", AccountStatus::Customer),
    ("Customer - Channel", AccountStatus::Customer),
    ("Channel Partner / Reseller", AccountStatus::Partner),
    ("Installation Partner", AccountStatus::Partner),
    ("Technology Partner", AccountStatus::Partner),
    // HubSpot lifecycle stages (labels and internal ids normalize alike).
    ("Subscriber", AccountStatus::Prospect),
    ("Lead", AccountStatus::Prospect),
    ("Marketing Qualified Lead", AccountStatus::Prospect),
    ("Sales Qualified Lead", AccountStatus::Prospect),
    ("MQL", AccountStatus::Prospect),
    ("SQL", AccountStatus::Prospect),
    ("Opportunity", AccountStatus::Prospect),
    ("Evangelist", AccountStatus::Customer),
    // HubSpot company types.
    ("Reseller", AccountStatus::Partner),
    ("Vendor", AccountStatus::Other),
    // Zoho account types and Dynamics relationship types.
    ("Distributor", AccountStatus::Partner),
    ("Integrator", AccountStatus::Partner),
    ("Analyst", AccountStatus::Other),
    ("Competitor", AccountStatus::Other),
    ("Investor", AccountStatus::Other),
    ("Press", AccountStatus::Other),
    ("Consultant", AccountStatus::Other),
    ("Influencer", AccountStatus::Other),
    ("Supplier", AccountStatus::Other),
];

impl<R: Read> AccountReader<R> {
    /// Header texts of the columns this import does not use (unknown, or a second column for a
    /// field already mapped: read only in a row where the first is empty), in file order.
    pub fn ignored_columns(&self) -> &[String] {
        &self.rows.ignored
    }

    /// The lines with text above the header (a report's title, export notes), skipped, each
    /// as its cells with text read (see [`Rows::read_header`]).
    pub fn lines_above_header(&self) -> &[String] {
        &self.rows.above_header
    }

    /// Canonical names of the fields the file has a column for (`external_id`, `domain`, …).
    pub fn fields(&self) -> Vec<&'static str> {
        present_fields(&self.columns, ACCOUNT_FIELDS)
    }

    /// The header of the records' own id column as written in the file (empty without one),
    /// for errors the writer finds (an id on two rows).
    pub fn external_id_column(&self) -> String {
        column_header(&self.rows, self.columns[A::ExternalId as usize])
    }

    /// The header of the domain column as written in the file (empty without one), for errors
    /// the writer finds (two rows without an id with one domain).
    pub fn domain_column(&self) -> String {
        column_header(&self.rows, self.columns[A::Domain as usize])
    }

    /// The header of the name column as written in the file, for errors the writer finds.
    pub fn name_column(&self) -> String {
        column_header(&self.rows, self.columns[A::Name as usize])
    }

    /// Bytes of the file read so far (for progress).
    pub fn bytes_read(&self) -> u64 {
        self.rows.csv.get_ref().inner.input_bytes
    }
}

impl<R: Read> OpportunityReader<R> {
    /// Header texts of the columns this import does not use (unknown, or a second column for a
    /// field already mapped: read only in a row where the first is empty), in file order.
    pub fn ignored_columns(&self) -> &[String] {
        &self.rows.ignored
    }

    /// The lines with text above the header, skipped (see [`AccountReader::lines_above_header`]).
    pub fn lines_above_header(&self) -> &[String] {
        &self.rows.above_header
    }

    /// Canonical names of the fields the file has a column for (`amount`, `close_date`, …).
    pub fn fields(&self) -> Vec<&'static str> {
        present_fields(&self.columns, OPPORTUNITY_FIELDS)
    }

    /// See [`AccountReader::external_id_column`].
    pub fn external_id_column(&self) -> String {
        column_header(&self.rows, self.columns[O::ExternalId as usize])
    }

    /// The header of the opportunity's name column as written in the file, for errors the
    /// writer finds (two rows without an id with one name in one account).
    pub fn name_column(&self) -> String {
        column_header(&self.rows, self.columns[O::Name as usize])
    }

    /// Bytes of the file read so far (for progress).
    pub fn bytes_read(&self) -> u64 {
        self.rows.csv.get_ref().inner.input_bytes
    }

    /// The file line where the row last returned by `next()` starts, for errors the caller
    /// finds later (an account reference that matches nothing).
    pub fn last_line(&self) -> u64 {
        self.last_line
    }

    /// The headers of the account reference columns, as written in the file, for errors the
    /// caller finds later (an account reference that matches nothing names its column).
    pub fn account_columns(&self) -> &AccountColumns {
        &self.account_columns
    }
}

/// Column `column`'s header as written in the file; empty for a column the file lacks.
fn column_header<R: Read>(rows: &Rows<R>, column: Option<usize>) -> String {
    column
        .and_then(|c| rows.headers.get(c))
        .cloned()
        .unwrap_or_default()
}

/// The headers, as written in the file, of an opportunities file's account reference columns
/// (`Account ID`, `Website`, `Account Name`); empty for a column the file does not have. Built
/// once per file, so naming a column in a row error costs nothing per row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountColumns {
    /// The account's CRM id column.
    pub external_id: String,
    /// The account's domain (or website) column.
    pub domain: String,
    /// The account's name column.
    pub name: String,
}

impl AccountColumns {
    /// The first of the columns the file has (id, domain, name), for an error about the
    /// account reference as a whole.
    pub fn first(&self) -> &str {
        [&self.external_id, &self.domain, &self.name]
            .into_iter()
            .find(|h| !h.is_empty())
            .map_or("", String::as_str)
    }
}

impl<R: Read> Iterator for AccountReader<R> {
    type Item = Result<AccountRow, Vec<RowError>>;

    fn next(&mut self) -> Option<Self::Item> {
        let (row, line) = match self.rows.next_record()? {
            Ok(at) => at,
            Err(errors) => return Some(Err(errors)),
        };
        let c = &*columns_of_row(&self.rows, &self.columns);
        let mut cells = Cells::new(&self.rows, row, line);
        let name = cells.required(c[A::Name as usize], "name", "every account needs a name");
        let external_id = cells.external_id(c[A::ExternalId as usize]);
        let domain = cells.value(c[A::Domain as usize], parse_domain);
        let industry = cells.text(c[A::Industry as usize], "industry", NAME_CHARS_MAX);
        let country = cells.text(c[A::Country as usize], "country", NAME_CHARS_MAX);
        let status = cells.value(c[A::Status as usize], account_status).flatten();
        let owner = cells.text(c[A::Owner as usize], "owner", NAME_CHARS_MAX);
        let tags = cells.tags(c[A::Tags as usize]);
        Some(cells.finish().map(|()| AccountRow {
            row,
            line,
            external_id,
            name,
            domain,
            industry,
            country,
            status,
            owner,
            tags,
        }))
    }
}

impl<R: Read> Iterator for OpportunityReader<R> {
    type Item = Result<OpportunityRow, Vec<RowError>>;

    fn next(&mut self) -> Option<Self::Item> {
        let (row, line) = match self.rows.next_record()? {
            Ok(at) => at,
            Err(errors) => return Some(Err(errors)),
        };
        self.last_line = line;
        let c = &*columns_of_row(&self.rows, &self.columns);
        let semicolons = self.rows.delimiter == b';';
        let mut cells = Cells::new(&self.rows, row, line);
        let external_id = cells.external_id(c[O::ExternalId as usize]);
        let (account_external_id, account_domain, account_name) = account_reference(&mut cells, c);
        let name = cells.required(
            c[O::Name as usize],
            "name",
            "every opportunity needs a name",
        );
        // Pipedrive's and Dynamics' won/lost status says how a deal ended; the stage column
        // then holds the last stage it was in.
        let outcome = cells.value(c[O::Outcome as usize], map_outcome).flatten();
        let stage = match outcome {
            Some(stage) => Some(stage),
            None => {
                let stage = cells.value(c[O::Stage as usize], map_stage);
                if stage.is_none() && cells.typed(c[O::Stage as usize]).is_none() {
                    cells.empty(c[O::Stage as usize], "every opportunity needs a stage");
                }
                stage
            }
        };
        let (amount, currency) = amount_and_currency(
            &mut cells,
            c,
            semicolons,
            self.currency,
            self.default_currency,
        );
        let date_order = self.date_order;
        let close_date = cells.value(c[O::CloseDate as usize], |s| parse_date(s, date_order));
        let owner = cells.text(c[O::Owner as usize], "owner", NAME_CHARS_MAX);
        let next_step = cells.text(c[O::NextStep as usize], "next_step", TEXT_CHARS_MAX);
        let description = cells.text(c[O::Description as usize], "description", TEXT_CHARS_MAX);
        let tags = cells.tags(c[O::Tags as usize]);
        let result = cells.finish();
        Some(match (result, stage) {
            (Ok(()), Some(stage)) => Ok(OpportunityRow {
                row,
                line,
                external_id,
                account_external_id,
                account_domain,
                account_name,
                name,
                stage,
                amount,
                currency,
                close_date,
                owner,
                next_step,
                description,
                tags,
            }),
            (Err(errors), _) => Err(errors),
            // A missing stage always records an error above; this arm only keeps the match total.
            (Ok(()), None) => Err(vec![RowError {
                row,
                line,
                column: String::new(),
                message: "every opportunity needs a stage".into(),
            }]),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Header aliases

/// One record field and the header names that mean it. Aliases compare case-insensitively and
/// ignoring everything but letters and digits, so `Close Date`, `close_date` and `CloseDate` are
/// one name.
struct FieldSpec {
    /// The canonical field name (first alias too).
    name: &'static str,
    /// What the field is, for "no column for …" messages.
    what: &'static str,
    /// Header names, canonical first, then Salesforce, HubSpot and API names.
    aliases: &'static [&'static str],
}

/// Account fields, indexing [`ACCOUNT_FIELDS`].
#[derive(Clone, Copy)]
enum A {
    ExternalId,
    Name,
    Domain,
    Industry,
    Country,
    Status,
    Owner,
    Tags,
}

const ACCOUNT_FIELDS: &[FieldSpec] = &[
    FieldSpec {
        name: "external_id",
        what: "the account's CRM id",
        aliases: &[
            "external_id",
            "Account ID",
            "Record ID",
            "Company ID",
            "id",
            "hs_object_id",
            "Organization - ID",
            "(Do Not Modify) Account",
        ],
    },
    FieldSpec {
        name: "name",
        what: "the account name",
        aliases: &[
            "name",
            "Account Name",
            "Company name",
            "Company",
            "Account",
            "Organization",
            "Organization Name",
            "Organisation",
            "Organisation Name",
            "Company Name (Primary)",
        ],
    },
    FieldSpec {
        name: "domain",
        what: "the domain",
        aliases: &[
            "domain",
            "Website",
            "Company Domain Name",
            "Website URL",
            "Domain Name",
            "Company Domain",
            "Account Domain",
            "Account Website",
            "Organization - Website",
            "Website Address",
        ],
    },
    FieldSpec {
        name: "industry",
        what: "the industry",
        aliases: &["industry", "Account Industry", "Organization - Industry"],
    },
    FieldSpec {
        name: "country",
        what: "the country",
        aliases: &[
            "country",
            "Billing Country",
            "Country/Region",
            "Shipping Country",
            "Billing Country/Region",
            "Address 1: Country/Region",
            "Address 1: Country",
            "Organization - Country",
            "Organization - Address - Country",
        ],
    },
    FieldSpec {
        name: "status",
        what: "the account status",
        aliases: &[
            "status",
            "Type",
            "Account Type",
            "Lifecycle Stage",
            "Company Type",
            "Account Status",
            "Relationship Type",
        ],
    },
    FieldSpec {
        name: "owner",
        what: "the owner",
        aliases: &[
            "owner",
            "Account Owner",
            "Company owner",
            "Owner Name",
            "Organization - Owner",
        ],
    },
    FieldSpec {
        name: "tags",
        what: "the tags",
        aliases: &[
            "tags",
            "Labels",
            "Tag",
            "Organization - Labels",
            "Organization - Label",
        ],
    },
];

/// Opportunity fields, indexing [`OPPORTUNITY_FIELDS`].
#[derive(Clone, Copy)]
enum O {
    ExternalId,
    AccountExternalId,
    AccountDomain,
    AccountName,
    Name,
    Stage,
    Amount,
    Currency,
    CloseDate,
    Owner,
    NextStep,
    Description,
    Tags,
    Outcome,
}

const OPPORTUNITY_FIELDS: &[FieldSpec] = &[
    FieldSpec {
        name: "external_id",
        what: "the opportunity's CRM id",
        aliases: &[
            "external_id",
            "Opportunity ID",
            "Deal ID",
            "Record ID",
            "id",
            "hs_object_id",
            "(Do Not Modify) Opportunity",
        ],
    },
    FieldSpec {
        name: "account_external_id",
        what: "the account's CRM id",
        aliases: &[
            "account_external_id",
            "Account ID",
            "Company ID",
            "Associated Company IDs",
            "Associated Company ID",
            "Associated Company IDs (Primary)",
            "Organization - ID",
            "Deal - Organization ID",
        ],
    },
    FieldSpec {
        name: "account_domain",
        what: "the account domain",
        aliases: &[
            "account_domain",
            "Website",
            "Account Website",
            "Company Domain Name",
            "Company Domain",
            "Domain",
            "Website URL",
            "Organization - Website",
        ],
    },
    FieldSpec {
        name: "account_name",
        what: "the account name",
        aliases: &[
            "account_name",
            "Account",
            "Company name",
            "Company",
            "Associated Company",
            "Associated Company (Primary)",
            "Associated Company Name",
            "Organization",
            "Organization - Name",
            "Deal - Organization",
            "Potential Customer",
        ],
    },
    FieldSpec {
        name: "name",
        what: "the opportunity name",
        aliases: &[
            "name",
            "Opportunity Name",
            "Deal Name",
            "Opportunity",
            "Deal",
            "Deal - Title",
            "Title",
            "Topic",
            "Potential Name",
        ],
    },
    FieldSpec {
        name: "stage",
        what: "the stage",
        aliases: &[
            "stage",
            "Deal Stage",
            "Stage Name",
            "Opportunity Stage",
            "Sales Stage",
            "Pipeline Phase",
        ],
    },
    FieldSpec {
        name: "amount",
        what: "the amount",
        aliases: &[
            "amount",
            "Deal Amount",
            "Opportunity Amount",
            "Deal - Value",
            "Value",
            "Est. Revenue",
            "Estimated Revenue",
        ],
    },
    FieldSpec {
        name: "currency",
        what: "the currency",
        aliases: &[
            "currency",
            "Opportunity Currency",
            "Amount Currency",
            "Deal Currency",
            "Deal Currency Code",
            "Currency Code",
            "CurrencyIsoCode",
            "Deal - Currency of Value",
        ],
    },
    FieldSpec {
        name: "close_date",
        what: "the close date",
        aliases: &[
            "close_date",
            "Expected Close Date",
            "Closing Date",
            "Deal - Expected close date",
            "Est. Close Date",
            "Estimated Close Date",
        ],
    },
    FieldSpec {
        name: "owner",
        what: "the owner",
        aliases: &[
            "owner",
            "Opportunity Owner",
            "Deal Owner",
            "Owner Name",
            "Owner Full Name",
            "Potential Owner",
        ],
    },
    FieldSpec {
        name: "next_step",
        what: "the next step",
        aliases: &["next_step", "Next Steps", "Deal - Next activity subject"],
    },
    FieldSpec {
        name: "description",
        what: "the description",
        aliases: &[
            "description",
            "Opportunity Description",
            "Deal Description",
            "Deal - Notes",
        ],
    },
    FieldSpec {
        name: "tags",
        what: "the tags",
        aliases: &["tags", "Labels", "Tag", "Deal - Label", "Deal - Labels"],
    },
    FieldSpec {
        name: "status",
        what: "the deal status (open, won or lost)",
        aliases: &["status", "Deal - Status", "Opportunity Status"],
    },
];

/// What a header says beyond which field its column holds: `Amount (USD)`, `Close Date
/// (DD/MM/YYYY)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Currency(Currency),
    /// A currency symbol that names no single currency (`Amount ($)`): the cells decide.
    Symbol,
    Dates(DateOrder),
    /// `Close Date (UTC)`: dates are read as written anyway.
    TimeZone,
}

/// The header mapped: each field's column, the columns no field uses, and the amount column's
/// currency and the close date column's date order when their headers name them.
struct Header {
    columns: Vec<Option<usize>>,
    ignored: Vec<String>,
    /// (field, column) of each further column naming a field already mapped (not read).
    doubles: Vec<(usize, usize)>,
    currency: Option<Currency>,
    date_order: Option<DateOrder>,
}

/// Maps each field to the first header column that names it; other columns are ignored. A
/// header with a unit in parentheses or brackets (`Amount (USD)`, `Close Date [DD/MM/YYYY]`)
/// maps like its name without it when the unit is a currency code (amount) or a date format
/// (close date); other suffixes (`Amount (converted)`) are not guessed at.
fn map_header(headers: &[String], fields: &[FieldSpec]) -> Header {
    let mut header = Header {
        columns: vec![None; fields.len()],
        ignored: Vec::new(),
        doubles: Vec::new(),
        currency: None,
        date_order: None,
    };
    let find = |key: &str| {
        fields
            .iter()
            .position(|f| f.aliases.iter().any(|a| header_key(a) == key))
    };
    for (i, text) in headers.iter().enumerate() {
        let key = header_key(text);
        if key.is_empty() {
            // A column with no header text carries nothing we could name; skip it quietly.
            continue;
        }
        // The unit first: `Amount (€)` compares as `Amount` (a symbol is no letter).
        let mut unit = None;
        let mut field = None;
        if let Some((name, u)) = split_unit(text) {
            let f = find(&header_key(name));
            let name = f.map(|f| fields[f].name);
            if let (Some("amount"), Unit::Currency(_) | Unit::Symbol)
            | (Some("close_date"), Unit::Dates(_) | Unit::TimeZone) = (name, u)
            {
                field = f;
                unit = Some(u);
            }
        }
        let field = field.or_else(|| find(&key).or_else(|| qualified_field(text, fields)));
        match field {
            Some(f) if header.columns[f].is_none() => {
                header.columns[f] = Some(i);
                match unit {
                    Some(Unit::Currency(c)) => header.currency = Some(c),
                    Some(Unit::Dates(d)) => header.date_order = Some(d),
                    Some(Unit::Symbol | Unit::TimeZone) | None => {}
                }
            }
            Some(f) => {
                header.doubles.push((f, i));
                header.ignored.push(text.clone());
            }
            None => header.ignored.push(text.clone()),
        }
    }
    header
}

/// `Amount (USD)` → (`Amount`, USD); `Close Date [DD/MM/YYYY]` → (`Close Date`, day first).
fn split_unit(header: &str) -> Option<(&str, Unit)> {
    let h = header.trim_end();
    let close = h.chars().last()?;
    let open = match close {
        ')' => '(',
        ']' => '[',
        _ => return None,
    };
    let (name, unit) = h[..h.len() - 1].rsplit_once(open)?;
    let unit = unit.trim();
    let symbol = CURRENCY_MARKS.iter().find(|(mark, _)| *mark == unit);
    let parsed = if let Some((_, code)) = symbol {
        match code.and_then(Currency::from_code) {
            Some(c) => Unit::Currency(c),
            None => Unit::Symbol,
        }
    } else if ["UTC", "GMT", "Z"]
        .iter()
        .any(|z| unit.eq_ignore_ascii_case(z))
    {
        Unit::TimeZone
    } else if unit.len() == 3 && unit.bytes().all(|b| b.is_ascii_alphabetic()) {
        Unit::Currency(Currency::from_code(unit)?)
    } else {
        Unit::Dates(DateOrder::from_format(unit)?)
    };
    Some((name, parsed))
}

/// A Salesforce custom report type names each column `Object: Field` (`Account: Account
/// Name`, `Opportunity Owner: Full Name`). When the whole header names no field, this maps
/// the field part: of the file's own object (`Account:` in an accounts file, `Opportunity:` or
/// `Deal:` in an opportunities file); the owner's name (`Opportunity Owner: Full Name`, but not
/// `Account Owner: …` in an opportunities file, which is not the opportunity's owner); and in an
/// opportunities file the account's name, id or website (`Account: Website`, `Account Name:
/// Account Name`). Other objects' fields (`Parent Account: Account Name`, `Account: Industry`
/// in an opportunities file) are not the record's own and stay ignored.
fn qualified_field(header: &str, fields: &[FieldSpec]) -> Option<usize> {
    let (object, field) = header.split_once(':')?;
    let (object, field) = (header_key(object), header_key(field));
    let position = |name: &str| fields.iter().position(|f| f.name == name);
    let find = |key: &str| {
        fields
            .iter()
            .position(|f| f.aliases.iter().any(|a| header_key(a) == key))
    };
    let opportunities = position("account_name").is_some();
    let (own, owners): (&[&str], &[&str]) = if opportunities {
        (
            &["opportunity", "deal"],
            &["opportunityowner", "dealowner", "owner"],
        )
    } else {
        (
            &["account", "accountname", "company", "organization"],
            &["accountowner", "companyowner", "owner"],
        )
    };
    if own.contains(&object.as_str()) {
        return find(&field);
    }
    if owners.contains(&object.as_str()) {
        return matches!(field.as_str(), "fullname" | "name").then(|| position("owner"))?;
    }
    let accounts = [
        "account",
        "accountname",
        "company",
        "associatedcompany",
        "organization",
    ];
    if opportunities && accounts.contains(&object.as_str()) {
        let name = match field.as_str() {
            "name" | "accountname" | "companyname" | "organizationname" => "account_name",
            "id" | "accountid" | "companyid" | "recordid" => "account_external_id",
            _ => {
                let f = find(&field)?;
                let name = fields[f].name;
                ["account_domain", "account_name", "account_external_id"]
                    .contains(&name)
                    .then_some(name)?
            }
        };
        return position(name);
    }
    None
}

/// "no column for …" for each required field without a column, joined; empty when none.
fn missing(columns: &[Option<usize>], fields: &[FieldSpec], required: &[usize]) -> String {
    required
        .iter()
        .filter(|&&f| columns[f].is_none())
        .map(|&f| {
            let spec = &fields[f];
            let examples: Vec<&str> = spec.aliases.iter().take(4).copied().collect();
            format!(
                "no column for {} (expected one of: {}, …)",
                spec.what,
                examples.join(", ")
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Whether a line, mapped as a header of an accounts file, names what every account row needs:
/// its name. The line that does is the header (see [`Rows::read_header`]).
fn names_an_account(columns: &[Option<usize>]) -> bool {
    columns[A::Name as usize].is_some()
}

/// The account columns of an opportunities file: its id, domain and name.
const ACCOUNT_REFERENCES: [O; 3] = [O::AccountExternalId, O::AccountDomain, O::AccountName];

/// Whether a line, mapped as a header of an opportunities file, names the opportunity's name
/// and an account column (id, domain or name), as [`read_opportunities_with`] requires. (The
/// stage is checked after: a header without one is then refused naming its own line.)
fn names_an_opportunity(columns: &[Option<usize>]) -> bool {
    columns[O::Name as usize].is_some()
        && ACCOUNT_REFERENCES
            .iter()
            .any(|&f| columns[f as usize].is_some())
}

fn present_fields(columns: &[Option<usize>], fields: &[FieldSpec]) -> Vec<&'static str> {
    fields
        .iter()
        .zip(columns)
        .filter(|(_, c)| c.is_some())
        .map(|(f, _)| f.name)
        .collect()
}

/// A header's comparison key: lowercase letters and digits only.
fn header_key(header: &str) -> String {
    header
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Label tables (stages, statuses)

/// Longest label key compared; longer cells match nothing.
const LABEL_KEY_BYTES_MAX: usize = 64;

/// Labels normalized for [`lookup`].
type LabelTable<T> = Vec<(Box<[u8]>, T)>;

fn normalized_table<T: Copy>(labels: &[(&str, T)]) -> LabelTable<T> {
    labels
        .iter()
        .map(|(label, value)| (header_key(label).into_bytes().into_boxed_slice(), *value))
        .collect()
}

/// Finds `label` in a normalized table without allocating: the key (ASCII letters and digits,
/// lowercased) is built on the stack. Non-ASCII spaces and invisible characters (`Closed\u{a0}Won`,
/// as copy-paste from a web page writes it) separate words like ASCII punctuation; any other
/// non-ASCII character (`Qualifié`) matches nothing.
fn lookup<T: Copy>(table: &[(Box<[u8]>, T)], label: &str) -> Option<T> {
    let mut key = [0u8; LABEL_KEY_BYTES_MAX];
    let mut n = 0;
    for c in label.chars() {
        if c.is_ascii_alphanumeric() {
            *key.get_mut(n)? = c.to_ascii_lowercase() as u8;
            n += 1;
        } else if !c.is_ascii() && !is_padding(c) {
            return None;
        }
    }
    table
        .iter()
        .find(|(k, _)| **k == key[..n])
        .map(|&(_, value)| value)
}

// ---------------------------------------------------------------------------------------------
// Amounts

/// The amount and currency columns of one row: the currency column wins; else the code or
/// unambiguous symbol in the amount cell; a contradiction is an error on the amount. A symbol
/// that names no single currency (`$`, `¥`, `kr`) must agree with the currency column, or,
/// without one, with `default_currency` (the one the importer applies); otherwise the row is
/// refused rather than stored in the wrong currency.
fn amount_and_currency(
    cells: &mut Cells<'_>,
    c: &[Option<usize>],
    semicolons: bool,
    header_currency: Option<Currency>,
    default_currency: Currency,
) -> (Option<Amount>, Option<Currency>) {
    let amount_column = c[O::Amount as usize];
    let currency = cells
        .value(c[O::Currency as usize], parse_currency)
        .or(header_currency);
    let Some(cell) = cells.typed(amount_column) else {
        return (None, currency);
    };
    if cells.excel_error(amount_column, cell) {
        return (None, currency);
    }
    let (amount, named) = match parse_amount(cell, semicolons) {
        Ok(parsed) => parsed,
        Err(message) => {
            cells.error(amount_column, message);
            return (None, currency);
        }
    };
    let (symbol, candidates) = symbol_candidates(cell);
    let message = match (currency, named) {
        (Some(column), Some(named)) if column != named => Some(format!(
            "'{cell}' is in {named} but the currency column says {column}"
        )),
        (Some(column), None)
            if !candidates.is_empty() && !candidates.contains(&column.as_str()) =>
        {
            Some(format!(
                "'{cell}' is in {symbol} ({}) but the currency column says {column}",
                candidates.join(", ")
            ))
        }
        (None, None)
            if !candidates.is_empty() && !candidates.contains(&default_currency.as_str()) =>
        {
            Some(format!(
                "'{cell}' does not say which currency ({symbol} may be {}) and the default \
                 currency is {default_currency}; add a currency column, or write the code, \
                 e.g. {} {amount}",
                candidates.join(", "),
                candidates[0]
            ))
        }
        _ => None,
    };
    match message {
        Some(message) => {
            cells.error(amount_column, message);
            (None, currency)
        }
        None => (Some(amount), currency.or(named)),
    }
}

/// The symbol in an amount cell that names no single currency, and the currencies it may mean:
/// `$` (dollars and pesos), `¥` (yen or yuan), `kr` (Nordic crowns); empty when the cell has
/// none. Only meaningful for a cell [`parse_amount`] read without naming a currency (`US$`,
/// `C$` and the like name one).
fn symbol_candidates(cell: &str) -> (&'static str, &'static [&'static str]) {
    if cell.contains('$') {
        (
            "$",
            &[
                "USD", "CAD", "AUD", "NZD", "SGD", "HKD", "MXN", "ARS", "CLP", "COP", "TWD",
            ],
        )
    } else if cell.contains(['¥', '￥']) {
        ("¥", &["JPY", "CNY"])
    } else if cell.to_ascii_lowercase().contains("kr") {
        ("kr", &["SEK", "NOK", "DKK", "ISK"])
    } else {
        ("", &[])
    }
}

/// Parses an amount as CRMs and spreadsheets write it, returning the currency the cell names
/// (`USD 1,200.50`, `1200 EUR`, `€900`, `US$900`, `CHF 1'200.50`; `$`, `¥` and `kr` name no
/// single currency).
///
/// Separators: spaces (also no-break and thin), `'` and `’` group thousands. When both `.` and
/// `,` appear, the last one is the decimal point (`1,200.50`, `1.200,50`); a lone `,` followed
/// by other than three digits is a decimal comma (`1200,50`); several `.` or `,` in groups of
/// three are thousands (`1.200.000`). A lone `.` followed by exactly three digits (`1.200`) is
/// a thousands separator in a semicolon-separated file (European Excel, whose decimal mark is
/// the comma) and refused as ambiguous elsewhere (1200 in Europe, 1.2 in the US); a lone `,`
/// with three digits (`1,200`) is a thousands separator except in a semicolon-separated file,
/// where it is refused as ambiguous. Refused with their reason:
/// negatives (`-5`, `(1,200.00)`, `1200-`), abbreviations (`1.2M`, `15k`) and scientific
/// notation (`1.2E+06`, which Excel writes for a narrow column and which lost digits).
fn parse_amount(cell: &str, semicolons: bool) -> Result<(Amount, Option<Currency>), String> {
    let s = cell.trim();
    let (body, named) = strip_currency(s)?;
    if !semicolons {
        if let Some(amount) = plain_us_amount(body) {
            return Ok((amount, named));
        }
    }
    parse_amount_body(s, body, named, semicolons)
}

/// The amount in a cell of the form nearly every US export writes, `12345`, `12,345` or
/// `12,345.50` (commas between groups of three, up to two decimals), read without allocating;
/// `None` for any other form, which [`parse_amount_body`] then reads (and explains when bad).
/// Only for comma-separated files: in a semicolon-separated one `1,200` is ambiguous. A
/// proptest checks it agrees with the general path on every cell it reads.
fn plain_us_amount(body: &str) -> Option<Amount> {
    let (whole, fraction) = match body.split_once('.') {
        Some((w, f)) if (1..=2).contains(&f.len()) && f.bytes().all(|b| b.is_ascii_digit()) => {
            (w, f)
        }
        Some(_) => return None,
        None => (body, ""),
    };
    let mut units: i64 = 0;
    let mut group_len = 0usize;
    let mut groups = 0usize;
    for b in whole.bytes() {
        match b {
            b'0'..=b'9' => {
                units = units.checked_mul(10)?.checked_add(i64::from(b - b'0'))?;
                group_len += 1;
            }
            // A comma ends a group: the first of 1–3 digits, every later one of exactly 3.
            b',' if (groups == 0 && (1..=3).contains(&group_len)) || group_len == 3 => {
                groups += 1;
                group_len = 0;
            }
            _ => return None,
        }
    }
    // `0,125` is a decimal comma (see `normalize_separators`), never thousands.
    if group_len == 0 || (groups > 0 && (group_len != 3 || whole.starts_with('0'))) {
        return None;
    }
    let mut ten_thousandths = units.checked_mul(10_000)?;
    for (digit, scale) in fraction.bytes().zip([1_000, 100]) {
        ten_thousandths = ten_thousandths.checked_add(i64::from(digit - b'0') * scale)?;
    }
    Amount::from_ten_thousandths(ten_thousandths).ok()
}

/// [`parse_amount`] after the currency is stripped: `s` is the trimmed cell (for messages),
/// `body` the number without its currency.
fn parse_amount_body(
    s: &str,
    body: &str,
    named: Option<Currency>,
    semicolons: bool,
) -> Result<(Amount, Option<Currency>), String> {
    let body: String = body
        .chars()
        .filter(|&c| {
            !matches!(
                c,
                ' ' | '\u{a0}' | '\u{202f}' | '\u{2009}' | '\u{2007}' | '\u{2008}' | '\'' | '’'
            ) && !is_invisible(c)
        })
        .collect();
    // `1.200,- €`, `1'200.–`: German and Swiss for "no cents".
    // The separator stays, so `1.200,-` reads like `1.200,00`.
    let body = match ["-", "–", "—"].iter().find_map(|dash| {
        body.strip_suffix(dash)
            .filter(|b| b.ends_with([',', '.']))
            .filter(|b| b[..b.len() - 1].ends_with(|c: char| c.is_ascii_digit()))
    }) {
        Some(whole) => format!("{whole}00"),
        None => body,
    };
    if body == "-" && body.len() < s.len() {
        // Excel's accounting format writes zero as `$ -`.
        return Amount::parse("0")
            .map(|a| (a, named))
            .map_err(|e| e.message().to_string());
    }
    let negative = body.starts_with(['-', '−', '–'])
        || body.ends_with(['-', '−', '–'])
        || (body.starts_with('(') && body.ends_with(')'));
    if negative {
        return Err(format!("'{s}' is negative; amounts must not be negative"));
    }
    let not_a_number = || format!("'{s}' is not an amount (expected a number like 1200.50)");
    if let Some(last) = body.chars().last().filter(char::is_ascii_alphabetic) {
        let digits_before = body
            .trim_end_matches(|c: char| c.is_ascii_alphabetic())
            .ends_with(|c: char| c.is_ascii_digit());
        if digits_before && matches!(last.to_ascii_lowercase(), 'k' | 'm' | 'b' | 'n') {
            return Err(format!(
                "'{s}' is abbreviated; write the whole amount (e.g. 1200000, not 1.2M)"
            ));
        }
        return Err(not_a_number());
    }
    let mantissa_exponent = body.split_once(['e', 'E']);
    if let Some((m, e)) = mantissa_exponent {
        let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit() || b == b'.');
        if digits(m) && digits(e.trim_start_matches(['+', '-'])) {
            return Err(format!(
                "'{s}' is in scientific notation, which may have lost digits; format the column \
                 as a number before exporting"
            ));
        }
    }
    if body.is_empty()
        || !body
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b',')
    {
        return Err(not_a_number());
    }
    let normalized = normalize_separators(&body, s, semicolons)?;
    let amount = Amount::parse(normalized.as_deref().unwrap_or(&body)).map_err(|e| {
        // Amount's own messages quote what it was given; quote the cell instead.
        let message = e.message().to_string();
        match message.split_once("' ") {
            Some((_, why)) => format!("'{s}' {why}"),
            None => message,
        }
    })?;
    Ok((amount, named))
}

/// Rewrites `s` (digits, `.` and `,` only) to the `1200.50` form when its separators are not the
/// US ones; `None` when `Amount::parse` reads it as it is. `cell` is for messages.
fn normalize_separators(s: &str, cell: &str, semicolons: bool) -> Result<Option<String>, String> {
    let last_comma = s.rfind(',');
    let last_dot = s.rfind('.');
    let digits_after = |i: usize| s[i + 1..].bytes().take_while(u8::is_ascii_digit).count();
    let groups_of_three = |sep: char| {
        let mut parts = s.split(sep);
        let first = parts.next().unwrap_or("");
        !first.is_empty() && first.len() <= 3 && parts.all(|g| g.len() == 3)
    };
    let ambiguous = || {
        Err(format!(
            "'{cell}' is ambiguous (a thousands separator or a decimal point?); write it \
             without a thousands separator, e.g. 1200 or 1.2"
        ))
    };
    if is_indian_grouping(s) {
        // 12,34,567.50: lakh and crore groups (India), which nothing else writes.
        return Ok(Some(s.replace(',', "")));
    }
    match (last_comma, last_dot) {
        (Some(comma), dot) if !matches!(dot, Some(d) if d > comma) => {
            let commas = s.matches(',').count();
            if dot.is_none() && commas > 1 {
                // 1,200,000: thousands (Amount::parse checks the grouping).
                return Ok(None);
            }
            // `0,125` groups nothing: a decimal comma whatever the file.
            let zero_whole = s[..comma].trim_start_matches('0').is_empty();
            if dot.is_some() || digits_after(comma) != 3 || zero_whole {
                // 1.200,50 or 1200,5: a decimal comma.
                if commas > 1 {
                    return Err(format!(
                        "'{cell}' is not an amount (expected a number like 1200.50)"
                    ));
                }
                if dot.is_some() && !groups_of_three_before(s, comma, '.') {
                    return Err(format!(
                        "'{cell}' is not an amount (expected a number like 1200.50)"
                    ));
                }
                Ok(Some(s.replace('.', "").replace(',', ".")))
            } else if semicolons {
                ambiguous()
            } else {
                Ok(None)
            }
        }
        (None, Some(dot)) => {
            let dots = s.matches('.').count();
            if dots > 1 {
                return if groups_of_three('.') {
                    Ok(Some(s.replace('.', "")))
                } else {
                    Err(format!(
                        "'{cell}' is not an amount (expected a number like 1200.50)"
                    ))
                };
            }
            let whole = &s[..dot];
            if digits_after(dot) == 3 && !whole.is_empty() && whole.len() <= 3 && whole != "0" {
                if semicolons {
                    // European Excel: the decimal mark is the comma, so this is 48.000 = 48000.
                    Ok(Some(s.replace('.', "")))
                } else {
                    ambiguous()
                }
            } else {
                Ok(None)
            }
        }
        _ => Ok(None),
    }
}

/// `1,23,456` and `12,34,567.50`: the last group of the whole part three digits, the ones
/// before it two (at least two commas), and a decimal point if any.
fn is_indian_grouping(s: &str) -> bool {
    let whole = s
        .split_once('.')
        .map_or(s, |(w, f)| if f.contains([',', '.']) { "" } else { w });
    let groups: Vec<&str> = whole.split(',').collect();
    let [first, middle @ .., last] = groups.as_slice() else {
        return false;
    };
    !middle.is_empty()
        && (1..=2).contains(&first.len())
        && middle.iter().all(|g| g.len() == 2)
        && last.len() == 3
}

/// Whether the part of `s` before `end` groups by three with `sep` (`1.200` before `,50`).
fn groups_of_three_before(s: &str, end: usize, sep: char) -> bool {
    let mut parts = s[..end].split(sep);
    let first = parts.next().unwrap_or("");
    !first.is_empty() && first.len() <= 3 && parts.all(|g| g.len() == 3)
}

/// Currency symbols and prefixes an amount cell may carry, longest first; `None`: names no
/// single currency (`$` is USD, CAD, AUD…; `¥` JPY or CNY; `kr` SEK, NOK, DKK or ISK).
const CURRENCY_MARKS: &[(&str, Option<&str>)] = &[
    ("US$", Some("USD")),
    ("USD$", Some("USD")),
    ("CA$", Some("CAD")),
    ("AU$", Some("AUD")),
    ("NZ$", Some("NZD")),
    ("HK$", Some("HKD")),
    ("MX$", Some("MXN")),
    ("C$", Some("CAD")),
    ("A$", Some("AUD")),
    ("S$", Some("SGD")),
    ("R$", Some("BRL")),
    ("kr.", None),
    ("kr", None),
    ("zł", Some("PLN")),
    ("Kč", Some("CZK")),
    ("€", Some("EUR")),
    ("£", Some("GBP")),
    ("₹", Some("INR")),
    ("₩", Some("KRW")),
    ("₺", Some("TRY")),
    ("₪", Some("ILS")),
    ("₱", Some("PHP")),
    ("₫", Some("VND")),
    ("₦", Some("NGN")),
    ("₴", Some("UAH")),
    ("฿", Some("THB")),
    ("$", None),
    ("¥", None),
    ("￥", None),
];

/// Strips currency codes and symbols from the start and end of an amount cell; returns the
/// number part and the currency they name, or an error when they name two.
fn strip_currency(s: &str) -> Result<(&str, Option<Currency>), String> {
    let body = s.trim();
    // The forms nearly every export writes, `12,345.50` and `$12,345.50`, hold no code or other
    // mark: skip the search (a third of the time an opportunity row took to parse).
    let plain = |t: &str| {
        t.bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b',')
    };
    if plain(body) {
        return Ok((body, None));
    }
    if let Some(rest) = body.strip_prefix('$').filter(|r| plain(r)) {
        return Ok((rest, None));
    }
    strip_currency_marks(s, body)
}

/// [`strip_currency`] for a cell with more than digits, separators and a leading `$`: `s` is the
/// cell (for messages), `body` it trimmed.
fn strip_currency_marks<'a>(
    s: &str,
    mut body: &'a str,
) -> Result<(&'a str, Option<Currency>), String> {
    let mut named: Option<Currency> = None;
    let mut note = |c: Currency| -> Result<(), String> {
        match named {
            Some(n) if n != c => Err(format!("'{s}' names two currencies, {n} and {c}")),
            _ => {
                named = Some(c);
                Ok(())
            }
        }
    };
    for _ in 0..4 {
        let before = body;
        // An ISO code: three letters, then something that is not a letter.
        let head = body
            .get(..3)
            .filter(|h| h.bytes().all(|b| b.is_ascii_alphabetic()));
        if let Some(c) = head
            .filter(|_| !body[3..].starts_with(|c: char| c.is_alphabetic()))
            .and_then(Currency::from_code)
        {
            note(c)?;
            body = body[3..].trim_start();
        }
        let tail_start = body.len().saturating_sub(3);
        let tail = body
            .get(tail_start..)
            .filter(|t| t.len() == 3 && t.bytes().all(|b| b.is_ascii_alphabetic()));
        if let Some(c) = tail
            .filter(|_| !body[..tail_start].ends_with(|c: char| c.is_alphabetic()))
            .and_then(Currency::from_code)
        {
            note(c)?;
            body = body[..tail_start].trim_end();
        }
        for (mark, code) in CURRENCY_MARKS {
            if let Some(rest) = body.strip_prefix(mark) {
                body = rest.trim_start();
            } else if let Some(rest) = body.strip_suffix(mark) {
                body = rest.trim_end();
            } else {
                continue;
            }
            if let Some(c) = code.and_then(Currency::from_code) {
                note(c)?;
            }
        }
        if body == before {
            break;
        }
    }
    Ok((body, named))
}

/// A currency cell: an ISO code (`usd`), or a name or symbol as Dynamics and spreadsheets write
/// it (`US Dollar`, `Euro`, `€`).
fn parse_currency(cell: &str) -> Result<Currency, String> {
    if let Some(c) = Currency::from_code(cell) {
        return Ok(c);
    }
    // `USD - U.S. Dollar`, `EUR (Euro)`: a code, then its name (a picklist label).
    let trimmed = cell.trim();
    if let Some((code, rest)) = trimmed.split_at_checked(3) {
        let named = rest
            .trim_start_matches(|c: char| c.is_whitespace() || matches!(c, '-' | '–' | '(' | ':'));
        if rest.starts_with([' ', '-', '(', ':']) && !named.is_empty() {
            if let Some(c) = Currency::from_code(code) {
                return match parse_currency(named.trim_end_matches(')')) {
                    Ok(other) if other != c => {
                        Err(format!("'{trimmed}' names two currencies, {c} and {other}"))
                    }
                    _ => Ok(c),
                };
            }
        }
    }
    // `US Dollar (USD)`: a name, then its code in parentheses.
    if let Some((named, code)) = trimmed
        .strip_suffix(')')
        .and_then(|t| t.rsplit_once('('))
        .filter(|(named, code)| !named.trim().is_empty() && code.trim().len() == 3)
    {
        if let Some(c) = Currency::from_code(code.trim()) {
            return match parse_currency(named) {
                Ok(other) if other != c => {
                    Err(format!("'{trimmed}' names two currencies, {other} and {c}"))
                }
                _ => Ok(c),
            };
        }
    }
    static TABLE: OnceLock<LabelTable<&'static str>> = OnceLock::new();
    let table = TABLE.get_or_init(|| normalized_table(CURRENCY_NAMES));
    let symbol = CURRENCY_MARKS
        .iter()
        .find(|(mark, _)| *mark == cell.trim())
        .and_then(|(_, code)| *code);
    let (mark, candidates) = symbol_candidates(cell);
    if symbol.is_none() && !candidates.is_empty() && cell.trim().len() <= 3 {
        return Err(format!(
            "'{}' names no single currency ({mark} may be {}); write its ISO code, e.g. {}",
            cell.trim(),
            candidates.join(", "),
            candidates[0]
        ));
    }
    lookup(table, cell)
        .or(symbol)
        .and_then(Currency::from_code)
        .ok_or_else(|| {
            format!(
                "'{}' is not a currency (expected an ISO 4217 code such as USD or EUR)",
                cell.trim()
            )
        })
}

/// Currency names as Dynamics and spreadsheets write them.
const CURRENCY_NAMES: &[(&str, &str)] = &[
    ("US Dollar", "USD"),
    ("US Dollars", "USD"),
    ("United States Dollar", "USD"),
    ("Euro", "EUR"),
    ("Euros", "EUR"),
    ("British Pound", "GBP"),
    ("Pound Sterling", "GBP"),
    ("British Pound Sterling", "GBP"),
    ("Canadian Dollar", "CAD"),
    ("Australian Dollar", "AUD"),
    ("New Zealand Dollar", "NZD"),
    ("Singapore Dollar", "SGD"),
    ("Hong Kong Dollar", "HKD"),
    ("Japanese Yen", "JPY"),
    ("Chinese Yuan", "CNY"),
    ("Yuan Renminbi", "CNY"),
    ("Swiss Franc", "CHF"),
    ("Swedish Krona", "SEK"),
    ("Norwegian Krone", "NOK"),
    ("Danish Krone", "DKK"),
    ("Polish Zloty", "PLN"),
    ("Czech Koruna", "CZK"),
    ("Indian Rupee", "INR"),
    ("Brazilian Real", "BRL"),
    ("Mexican Peso", "MXN"),
    ("South African Rand", "ZAR"),
    ("Israeli New Shekel", "ILS"),
    ("Turkish Lira", "TRY"),
    ("South Korean Won", "KRW"),
];

/// A domain or website cell: the first domain it lists, normalized. Refused, because the domain
/// is the key accounts are matched on (here and with partners) and these would make unrelated
/// accounts one: a personal email address (`jane@gmail.com`: a mail provider, not the
/// company), and a page on a social or directory site (`linkedin.com/company/acme`).
fn parse_domain(cell: &str) -> Result<Domain, String> {
    Domain::parse_company(first_listed(cell)).map_err(|e| e.message().to_string())
}

/// The first of several values in a cell (`acme.com; acme.de` → `acme.com`).
fn first_listed(s: &str) -> &str {
    s.split([';', ',', '|', ' ', '\n'])
        .map(str::trim)
        .find(|v| !v.is_empty())
        .unwrap_or(s)
}

/// The three account references of an opportunity row; an error when all their cells are empty.
fn account_reference(
    cells: &mut Cells<'_>,
    c: &[Option<usize>],
) -> (Option<String>, Option<Domain>, Option<String>) {
    let id_column = c[O::AccountExternalId as usize];
    let domain_column = c[O::AccountDomain as usize];
    let name_column = c[O::AccountName as usize];
    let references = [id_column, domain_column, name_column];
    if references.iter().all(|&col| cells.typed(col).is_none()) {
        let present: Vec<usize> = references.iter().flatten().copied().collect();
        let names: Vec<&str> = present.iter().map(|&i| cells.header(i)).collect();
        let message = format!("no account: give {}", or_list(&names));
        cells.error(present.first().copied(), message);
        return (None, None, None);
    }
    // HubSpot lists every associated company's id, `;`-separated: each is checked as an id, and
    // the importer links the one that names an account (see [`OpportunityRow`]).
    let external_id = cells.typed(id_column).and_then(|cell| {
        let ids: Vec<String> = cell
            .split(';')
            .map(|id| id.trim_matches(is_padding))
            .filter(|id| !id.is_empty())
            .filter_map(|id| cells.id(id_column, id, "account_external_id"))
            .collect();
        (!ids.is_empty()).then(|| ids.join(";"))
    });
    let domain = cells.value(domain_column, parse_domain);
    let name = cells.text(name_column, "account_name", NAME_CHARS_MAX);
    (external_id, domain, name)
}

/// `a`, `a or b`, `a, b or c`.
fn or_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_string(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

// ---------------------------------------------------------------------------------------------
// Dates

/// How to read a date like `03/04/2026` whose day and month could be either.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateOrder {
    /// `MM/DD/YYYY` (US; Salesforce and HubSpot in US locales).
    MonthFirst,
    /// `DD/MM/YYYY` (most of Europe, Latin America, India…).
    DayFirst,
    /// `YYYY-MM-DD`: the file's dates are ISO, so a date like `03/04/2026`, whose day and month
    /// could be either, is refused rather than guessed (`23/11/2026` still reads one way only).
    YearFirst,
}

/// The date formats a user may name (`--date-format`, `?date_format=`), for messages.
pub const DATE_FORMATS: &str = "DD/MM/YYYY (day first), MM/DD/YYYY (month first) or YYYY-MM-DD";

impl DateOrder {
    /// From a format as a header or setting names it: `DD/MM/YYYY`, `MM/DD/YYYY`, `D.M.YY`,
    /// `dd-mm-yyyy`, `YYYY-MM-DD`; `None` for anything else.
    pub fn from_format(format: &str) -> Option<DateOrder> {
        let letters: String = format
            .chars()
            .filter(char::is_ascii_alphabetic)
            .map(|c| c.to_ascii_lowercase())
            .collect();
        let collapsed: String = letters.chars().fold(String::new(), |mut acc, c| {
            if !acc.ends_with(c) {
                acc.push(c);
            }
            acc
        });
        match collapsed.as_str() {
            "dmy" => Some(DateOrder::DayFirst),
            "mdy" => Some(DateOrder::MonthFirst),
            "ymd" => Some(DateOrder::YearFirst),
            _ => None,
        }
    }

    /// The format's canonical spelling (`DD/MM/YYYY`).
    pub fn format(self) -> &'static str {
        match self {
            DateOrder::MonthFirst => "MM/DD/YYYY",
            DateOrder::DayFirst => "DD/MM/YYYY",
            DateOrder::YearFirst => "YYYY-MM-DD",
        }
    }

    /// Parses a date format a user names (`--date-format`, `?date_format=`), or says which are
    /// accepted.
    pub fn parse_setting(format: &str) -> Result<DateOrder, String> {
        DateOrder::from_format(format).ok_or_else(|| {
            format!(
                "'{}' is not a date format this import knows; use {DATE_FORMATS}",
                format.trim()
            )
        })
    }
}

/// `2026年1月15日` (Japanese, Chinese) and `2026. 1. 15.` (Korean), as Excel in those locales
/// writes a date, rewritten `2026-1-15`; `None` for any other form.
fn east_asian_date(s: &str) -> Option<String> {
    let (year, rest) = match s.split_once('年') {
        Some((year, rest)) => {
            let (month, rest) = rest.split_once('月')?;
            let day = rest
                .trim_start()
                .strip_suffix('日')
                .or_else(|| rest.split_once('日').map(|(d, _)| d))?;
            return Some(format!("{}-{}-{}", year.trim(), month.trim(), day.trim()));
        }
        None => s.split_once(". ")?,
    };
    // Korean: `2026. 1. 15.`, maybe with a time after it.
    let (month, rest) = rest.split_once(". ")?;
    let day = rest.split_once('.').map_or(rest, |(d, _)| d);
    let all_digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    (year.len() == 4 && all_digits(year) && all_digits(month) && all_digits(day.trim()))
        .then(|| format!("{year}-{month}-{}", day.trim()))
}

/// English month names and abbreviations (`Sept` too), 1-based.
fn month_number(word: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    let w = word.trim_end_matches('.').to_ascii_lowercase();
    if w.len() < 3 {
        return None;
    }
    MONTHS
        .iter()
        .position(|m| m.starts_with(&w) || (w == "sept" && m.starts_with("sep")))
        .map(|i| i as u32 + 1)
}

/// Parses a close date as CRMs and spreadsheets write it:
///
/// - `2026-11-23`, `2026/11/23`, `2026.11.23`, with any time after it (`2026-11-23 10:00:00`,
///   `2026-11-23T10:00:00Z`);
/// - `23.11.2026` (a dot always means day first);
/// - `11/23/2026`, `11-23-2026`, `11/23/26` in `order` (month first unless the file or header
///   says otherwise), with any time after it; a date that only reads the other way round
///   (`23/11/2026` month first) is refused, never silently swapped; `order` year first reads
///   only dates that read one way (`23/11/2026`) and refuses the others (`03/04/2026`);
/// - `2026年11月23日` and `2026. 11. 23.` (Japanese, Chinese and Korean Excel);
/// - month names: `Nov 23, 2026`, `November 23 2026`, `23 Nov 2026`, `23-Nov-2026`, `23-Nov-26`;
/// - Excel serial day numbers (`46349`, a date column exported as a number: 1970–2099 only;
///   `46349.375` with a time of day) and compact `20261123` (1970–2099);
/// - Unix timestamps in seconds or milliseconds (`1795392000`, `1795392000000`).
///
/// Two-digit years are 2000–2099.
fn parse_date(cell: &str, order: DateOrder) -> Result<Date, String> {
    let s = cell.trim();
    if let Some(iso) = east_asian_date(s) {
        return parse_date(&iso, DateOrder::YearFirst).map_err(|_| {
            format!("'{s}' is not a date (expected YYYY-MM-DD, or 2026年1月15日 as written)")
        });
    }
    let bad = || {
        format!(
            "'{s}' is not a date (expected YYYY-MM-DD, {}DD.MM.YYYY or Nov 23, 2026)",
            match order {
                DateOrder::YearFirst => "",
                DateOrder::MonthFirst => "MM/DD/YYYY, ",
                DateOrder::DayFirst => "DD/MM/YYYY, ",
            }
        )
    };
    let check = |y: u32, m: u32, d: u32| -> Result<Date, String> {
        if y > 9999 || m > 12 || d > 31 || m == 0 || d == 0 {
            return Err(bad());
        }
        Date::new(y as u16, m as u8, d as u8).map_err(|e| format!("'{s}': {}", e.message()))
    };
    let year = |t: &str| -> Option<u32> {
        let n: u32 = t.parse().ok()?;
        match t.len() {
            4 => Some(n),
            2 => Some(2000 + n),
            _ => None,
        }
    };
    let small =
        |t: &str| -> Option<u32> { (1..=2).contains(&t.len()).then(|| t.parse().ok()).flatten() };
    // Numbers only: an Excel serial day (with a time of day as a fraction: `46349.375`), a
    // compact `YYYYMMDD` (ERP exports) or a Unix timestamp.
    let serial = match s.split_once('.') {
        Some((day, time)) if day.len() == 5 && !time.is_empty() => {
            time.bytes().all(|b| b.is_ascii_digit()).then_some(day)
        }
        _ => Some(s),
    };
    if let Some(s) = serial.filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())) {
        let n: i64 = s.parse().map_err(|_| bad())?;
        let days = match s.len() {
            5 if (25_569..=73_050).contains(&n) => n - 25_569,
            8 => {
                let (y, m, d) = (n / 10_000, n / 100 % 100, n % 100);
                return if (1970..=2099).contains(&y) {
                    check(y as u32, m as u32, d as u32)
                } else {
                    Err(bad())
                };
            }
            10 => n / 86_400,
            13 => n / 86_400_000,
            _ => return Err(bad()),
        };
        return Date::from_days_since_epoch(days).map_err(|_| bad());
    }
    // The date part: up to a `T` after a digit, or the first space after the date's digits.
    let tokens: Vec<&str> = s
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | '/' | '-' | '.'))
        .filter(|t| !t.is_empty())
        .collect();
    let is_time = |t: &str| {
        t.contains(':')
            || t.eq_ignore_ascii_case("am")
            || t.eq_ignore_ascii_case("pm")
            || t.eq_ignore_ascii_case("z")
            || t.eq_ignore_ascii_case("utc")
            || t.eq_ignore_ascii_case("gmt")
    };
    // Month names anywhere among the first three tokens.
    if let Some(month_at) = tokens
        .iter()
        .take(3)
        .position(|t| t.bytes().all(|b| b.is_ascii_alphabetic()) && month_number(t).is_some())
    {
        let month = month_number(tokens[month_at]).ok_or_else(bad)?;
        let numbers: Vec<&str> = tokens
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != month_at)
            .map(|(_, t)| *t)
            .take_while(|t| !is_time(t))
            .collect();
        // A weekday before the date (`Mon, Nov 23, 2026`) is skipped.
        let numbers: Vec<&str> = numbers
            .into_iter()
            .filter(|t| !t.bytes().all(|b| b.is_ascii_alphabetic()))
            .collect();
        return match numbers[..] {
            [a, b] => {
                let day =
                    small(a.trim_end_matches(|c: char| c.is_ascii_alphabetic())).ok_or_else(bad)?;
                check(year(b).ok_or_else(bad)?, month, day)
            }
            _ => Err(bad()),
        };
    }
    // The first date-like token, split on -, /, . (a time part after it is ignored).
    let date_part = s
        .split(|c: char| c.is_whitespace() || c == 'T')
        .next()
        .unwrap_or("");
    let rest: Vec<&str> = tokens.iter().skip(3).copied().collect();
    if rest
        .first()
        .is_some_and(|t| !is_time(t) && !t.starts_with(|c: char| c.is_ascii_digit()))
    {
        return Err(bad());
    }
    let parts: Vec<&str> = date_part.split(['-', '/', '.']).collect();
    if parts.len() != 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(bad());
    }
    let num = |p: &str| p.parse::<u32>().map_err(|_| bad());
    if parts[0].len() == 4 {
        return check(num(parts[0])?, num(parts[1])?, num(parts[2])?);
    }
    let (Some(a), Some(b), Some(y)) = (small(parts[0]), small(parts[1]), year(parts[2])) else {
        return Err(bad());
    };
    let order = if date_part.contains('.') {
        DateOrder::DayFirst
    } else {
        order
    };
    let (m, d) = match order {
        DateOrder::MonthFirst => (a, b),
        DateOrder::DayFirst => (b, a),
        // Only a date that reads one way is read: `23/11/2026`.
        DateOrder::YearFirst if a > 12 => (b, a),
        DateOrder::YearFirst if b > 12 => (a, b),
        DateOrder::YearFirst => {
            return Err(format!(
                "'{s}' is not a YYYY-MM-DD date, and its day and month could be either; write \
                 it as YYYY-MM-DD, or name the file's date format with --date-format (API: \
                 ?date_format=) DD/MM/YYYY or MM/DD/YYYY"
            ))
        }
    };
    if m > 12 && d <= 12 && Date::new(y as u16, d as u8, m as u8).is_ok() {
        let (other, header) = match order {
            DateOrder::MonthFirst => ("DD/MM/YYYY", "Close Date (DD/MM/YYYY)"),
            DateOrder::DayFirst | DateOrder::YearFirst => ("MM/DD/YYYY", "Close Date (MM/DD/YYYY)"),
        };
        return Err(format!(
            "'{s}' is not a {} date (it reads as {other}); write dates as YYYY-MM-DD, or if the \
             whole column is {other}, import with --date-format {other} (API: ?date_format=\
             {other}) or name the column \"{header}\"",
            order.format()
        ));
    }
    check(y, m, d)
}

// ---------------------------------------------------------------------------------------------
// Rows: the CSV layer shared by both readers

/// Bytes read from the start of the file to sniff encoding and delimiter (at most up to the
/// end of the first [`HEADER_SEARCH_LINES`] lines with text, and a `sep=;` line).
const SNIFF_BYTES_MAX: usize = 64 * 1024;
/// Lines with text, from the top of the file, among which the header is looked for: the first
/// that names what a record needs is the header, and those above it (a report's title, an
/// "Exported on …" line) are skipped (see [`Rows::read_header`]).
pub const HEADER_SEARCH_LINES: usize = 10;
/// Bytes (about) of a skipped line above the header that a summary shows.
const ABOVE_HEADER_SHOWN_BYTES: usize = 80;
/// The CSV reader's buffer. Larger than the default 8 KiB: fewer reads on big files.
const CSV_BUFFER_BYTES: usize = 64 * 1024;
/// Longest row (or header). A longer one is almost always an unbalanced quote that swallowed
/// the rest of the file; stopping there keeps memory bounded.
pub const ROW_BYTES_MAX: usize = 1024 * 1024;
/// Raw bytes decoded per read.
const DECODE_CHUNK_BYTES: usize = 64 * 1024;

/// The text encoding of a file, from its byte order mark or its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    /// UTF-8; any byte that is not part of valid UTF-8 is read as Windows-1252 (Excel's
    /// "CSV (Comma delimited)" on Western Windows), so `Soci\xE9t\xE9` is `Société`.
    Utf8,
    /// UTF-16 little-endian (Excel's "Unicode Text" on Windows).
    Utf16Le,
    /// UTF-16 big-endian.
    Utf16Be,
    /// Mac OS Roman: Excel for Mac's "CSV (Macintosh)", recognized by its lone-CR line ends
    /// together with bytes that are not UTF-8 (Windows never ends lines with a lone CR).
    MacRoman,
}

/// Transcodes the file to UTF-8 on the fly; the CSV reader only ever sees UTF-8.
struct Decode<R> {
    inner: R,
    encoding: Encoding,
    /// Raw bytes not decoded yet (an incomplete character at the end of the last read).
    raw: Vec<u8>,
    out: Vec<u8>,
    pos: usize,
    eof: bool,
    /// Raw bytes read from `inner` (for progress).
    input_bytes: u64,
}

impl<R: Read> Read for Decode<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.pos < self.out.len() {
                let n = buf.len().min(self.out.len() - self.pos);
                buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
                self.pos += n;
                return Ok(n);
            }
            if self.eof || buf.is_empty() {
                return Ok(0);
            }
            self.out.clear();
            self.pos = 0;
            let start = self.raw.len();
            self.raw.resize(start + DECODE_CHUNK_BYTES, 0);
            let n = loop {
                match self.inner.read(&mut self.raw[start..]) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        self.raw.truncate(start);
                        return Err(e);
                    }
                }
            };
            self.raw.truncate(start + n);
            self.input_bytes += n as u64;
            self.eof = n == 0;
            let used = decode_into(self.encoding, &self.raw, self.eof, &mut self.out);
            self.raw.drain(..used);
        }
    }
}

/// Appends `input` to `out` as UTF-8 and returns how many bytes it used: all of them, except an
/// incomplete character at the end when more input may follow (`eof` false).
fn decode_into(encoding: Encoding, input: &[u8], eof: bool, out: &mut Vec<u8>) -> usize {
    match encoding {
        Encoding::Utf8 => {
            let mut rest = input;
            loop {
                match std::str::from_utf8(rest) {
                    Ok(_) => {
                        out.extend_from_slice(rest);
                        return input.len();
                    }
                    Err(e) => {
                        let valid = e.valid_up_to();
                        out.extend_from_slice(&rest[..valid]);
                        rest = &rest[valid..];
                        if e.error_len().is_none() && !eof {
                            return input.len() - rest.len();
                        }
                        let Some((&byte, tail)) = rest.split_first() else {
                            return input.len();
                        };
                        push_char(out, windows_1252(byte));
                        rest = tail;
                    }
                }
            }
        }
        Encoding::MacRoman => {
            for &byte in input {
                match byte {
                    0x00..=0x7F => out.push(byte),
                    _ => push_char(out, MAC_ROMAN[usize::from(byte - 0x80)]),
                }
            }
            input.len()
        }
        Encoding::Utf16Le | Encoding::Utf16Be => {
            let unit = |c: &[u8]| match (encoding, c) {
                (Encoding::Utf16Le, [a, b]) => u16::from_le_bytes([*a, *b]),
                (_, [a, b]) => u16::from_be_bytes([*a, *b]),
                _ => 0xFFFD,
            };
            let mut units = input.len() / 2;
            // Keep a high surrogate whose partner may be in the next read.
            if !eof
                && units > 0
                && (0xD800..0xDC00).contains(&unit(&input[units * 2 - 2..units * 2]))
            {
                units -= 1;
            }
            let decoded = char::decode_utf16(input[..units * 2].chunks_exact(2).map(unit));
            for c in decoded {
                push_char(out, c.unwrap_or(char::REPLACEMENT_CHARACTER));
            }
            if eof && input.len() > units * 2 {
                push_char(out, char::REPLACEMENT_CHARACTER);
                return input.len();
            }
            units * 2
        }
    }
}

fn push_char(out: &mut Vec<u8>, c: char) {
    let mut buf = [0u8; 4];
    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

/// Mac OS Roman bytes 0x80–0xFF (0xDB is the euro sign, as since Mac OS 8.5).
const MAC_ROMAN: [char; 128] = [
    '\u{c4}', '\u{c5}', '\u{c7}', '\u{c9}', '\u{d1}', '\u{d6}', '\u{dc}', '\u{e1}', '\u{e0}',
    '\u{e2}', '\u{e4}', '\u{e3}', '\u{e5}', '\u{e7}', '\u{e9}', '\u{e8}', '\u{ea}', '\u{eb}',
    '\u{ed}', '\u{ec}', '\u{ee}', '\u{ef}', '\u{f1}', '\u{f3}', '\u{f2}', '\u{f4}', '\u{f6}',
    '\u{f5}', '\u{fa}', '\u{f9}', '\u{fb}', '\u{fc}', '\u{2020}', '\u{b0}', '\u{a2}', '\u{a3}',
    '\u{a7}', '\u{2022}', '\u{b6}', '\u{df}', '\u{ae}', '\u{a9}', '\u{2122}', '\u{b4}', '\u{a8}',
    '\u{2260}', '\u{c6}', '\u{d8}', '\u{221e}', '\u{b1}', '\u{2264}', '\u{2265}', '\u{a5}',
    '\u{b5}', '\u{2202}', '\u{2211}', '\u{220f}', '\u{3c0}', '\u{222b}', '\u{aa}', '\u{ba}',
    '\u{3a9}', '\u{e6}', '\u{f8}', '\u{bf}', '\u{a1}', '\u{ac}', '\u{221a}', '\u{192}', '\u{2248}',
    '\u{2206}', '\u{ab}', '\u{bb}', '\u{2026}', '\u{a0}', '\u{c0}', '\u{c3}', '\u{d5}', '\u{152}',
    '\u{153}', '\u{2013}', '\u{2014}', '\u{201c}', '\u{201d}', '\u{2018}', '\u{2019}', '\u{f7}',
    '\u{25ca}', '\u{ff}', '\u{178}', '\u{2044}', '\u{20ac}', '\u{2039}', '\u{203a}', '\u{fb01}',
    '\u{fb02}', '\u{2021}', '\u{b7}', '\u{201a}', '\u{201e}', '\u{2030}', '\u{c2}', '\u{ca}',
    '\u{c1}', '\u{cb}', '\u{c8}', '\u{cd}', '\u{ce}', '\u{cf}', '\u{cc}', '\u{d3}', '\u{d4}',
    '\u{f8ff}', '\u{d2}', '\u{da}', '\u{db}', '\u{d9}', '\u{131}', '\u{2c6}', '\u{2dc}', '\u{af}',
    '\u{2d8}', '\u{2d9}', '\u{2da}', '\u{b8}', '\u{2dd}', '\u{2db}', '\u{2c7}',
];

/// A Windows-1252 byte as a character (bytes 0x80–0x9F differ from Latin-1; the five undefined
/// ones map to the C1 control of the same number, as in the WHATWG encoding standard).
fn windows_1252(byte: u8) -> char {
    const HIGH: [char; 32] = [
        '\u{20AC}', '\u{81}', '\u{201A}', '\u{192}', '\u{201E}', '\u{2026}', '\u{2020}',
        '\u{2021}', '\u{2C6}', '\u{2030}', '\u{160}', '\u{2039}', '\u{152}', '\u{8D}', '\u{17D}',
        '\u{8F}', '\u{90}', '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}', '\u{2022}', '\u{2013}',
        '\u{2014}', '\u{2DC}', '\u{2122}', '\u{161}', '\u{203A}', '\u{153}', '\u{9D}', '\u{17E}',
        '\u{178}',
    ];
    match byte {
        0x80..=0x9F => HIGH[usize::from(byte - 0x80)],
        _ => char::from(byte),
    }
}

/// The file as the CSV reader sees it: the sniffed prefix, then the rest, decoded to UTF-8.
type Source<R> = Tally<Decode<Chain<Cursor<Vec<u8>>, AfterPrefix<R>>>>;

/// Counts the bytes handed to the CSV reader and remembers the last one, which is how a row's
/// first line is computed exactly (see [`Rows::next_record`]); stops a row that grows past
/// [`ROW_BYTES_MAX`].
struct Tally<R> {
    inner: R,
    bytes: u64,
    last: u8,
    /// Where the row being read starts (the end of the last one).
    row_start: u64,
    /// The row being read passed [`ROW_BYTES_MAX`].
    too_long: bool,
}

impl<R: Read> Read for Tally<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.bytes.saturating_sub(self.row_start) > (ROW_BYTES_MAX + CSV_BUFFER_BYTES) as u64 {
            self.too_long = true;
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "a row is longer than 1 MiB",
            ));
        }
        let n = self.inner.read(buf)?;
        if n > 0 {
            self.bytes += n as u64;
            self.last = buf[n - 1];
        }
        Ok(n)
    }
}

struct Rows<R: Read> {
    csv: csv::Reader<Source<R>>,
    /// Reused for every row: no allocation per row once it has grown to the widest row.
    record: csv::ByteRecord,
    /// Header texts, trimmed, for error messages.
    headers: Vec<String>,
    /// Fields a row must have: the header's, less the empty names at its end (a header line
    /// ending in a separator, `Account ID,Account Name,`, names no column there).
    width: usize,
    ignored: Vec<String>,
    /// Columns naming a field another column already gives ([`Header::doubles`]).
    doubles: Vec<(usize, usize)>,
    /// The lines with text above the header, skipped; each shown as its cells with text.
    above_header: Vec<String>,
    delimiter: u8,
    /// Lines end in a lone CR (classic Mac): the CSV reader counts no lines then, so `line` is
    /// estimated as `row + header_records`.
    cr_only: bool,
    /// Records read up to and including the header (a `sep=;` line, lines above the header):
    /// the header's line in a lone-CR file, where lines are estimated.
    header_records: u64,
    /// Rows yielded so far (the last row's number).
    row: u64,
    /// The line the last row (or the header) started on.
    line: u64,
    /// Inside a Salesforce report footer ("Confidential Information - Do Not Distribute", …).
    in_footer: bool,
    /// Records read but not yet yielded because they may begin a report footer (a one-cell
    /// line, such as a report's title before its copyright line, or a totals row), each with
    /// its first line;
    /// what follows tells (see [`Rows::next_record`]). At most [`FOOTER_HELD_ROWS_MAX`].
    held: VecDeque<(csv::ByteRecord, u64)>,
    /// The held records turned out to be rows: yield them (and the record that told) first.
    draining: bool,
    done: bool,
}

/// One-cell lines held while waiting to see whether a report footer follows them: a report's
/// title line, and room for a stray line or two before it. Bounds what is held in memory.
const FOOTER_HELD_ROWS_MAX: usize = 4;

impl<R: Read> Rows<R> {
    /// Opens `input` and reads its header: the first line with text that `is_header` accepts
    /// mapped against `fields` (see [`Rows::read_header`]).
    fn open(
        mut input: R,
        fields: &[FieldSpec],
        is_header: fn(&[Option<usize>]) -> bool,
    ) -> Result<(Rows<R>, Header), ImportError> {
        let (mut prefix, error) = read_prefix(&mut input)?;
        let mut encoding = sniff_encoding(&mut prefix)?;
        let lone_cr = !prefix.contains(&b'\n') && prefix.contains(&b'\r');
        // Not UTF-8 anywhere: a UTF-8 file with one stray byte keeps its UTF-8 characters.
        let utf8_letters = prefix.utf8_chunks().any(|chunk| !chunk.valid().is_ascii());
        if encoding == Encoding::Utf8
            && lone_cr
            && !utf8_letters
            && std::str::from_utf8(&prefix).is_err_and(|e| e.error_len().is_some())
        {
            encoding = Encoding::MacRoman;
        }
        let mut text = Vec::with_capacity(prefix.len());
        decode_into(encoding, &prefix, false, &mut text);
        let first_line = text
            .split(|&b| b == b'\n')
            .find(|l| !l.trim_ascii().is_empty())
            .unwrap_or(&[]);
        if first_line.contains(&0) {
            return Err(ImportError::NotCsv(
                "line 1 has NUL bytes: this is not a CSV text file (in Excel: save as \"CSV UTF-8\")"
                    .into(),
            ));
        }
        let sep_line = excel_sep_line(first_line);
        let delimiter =
            sep_line.unwrap_or_else(|| header_delimiter(&text, first_line, fields, is_header));
        let cr_only = !text.contains(&b'\n') && text.contains(&b'\r');
        let mut builder = csv::ReaderBuilder::new();
        builder
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter)
            .buffer_capacity(CSV_BUFFER_BYTES);
        if !cr_only {
            // Only LF ends a record, so every record consumes its own line end and the line
            // arithmetic in `next_record` is exact; a CR before it stays in the last field and
            // is trimmed like any whitespace.
            builder.terminator(csv::Terminator::Any(b'\n'));
        }
        let source = Tally {
            inner: Decode {
                inner: Cursor::new(prefix).chain(AfterPrefix {
                    error,
                    inner: input,
                }),
                encoding,
                raw: Vec::new(),
                out: Vec::new(),
                pos: 0,
                eof: false,
                input_bytes: 0,
            },
            bytes: 0,
            last: 0,
            row_start: 0,
            too_long: false,
        };
        let mut rows = Rows {
            csv: builder.from_reader(source),
            record: csv::ByteRecord::new(),
            headers: Vec::new(),
            width: 0,
            ignored: Vec::new(),
            doubles: Vec::new(),
            above_header: Vec::new(),
            delimiter,
            cr_only,
            header_records: 0,
            row: 0,
            line: 0,
            in_footer: false,
            held: VecDeque::new(),
            draining: false,
            done: false,
        };
        let header = rows.read_header(sep_line.is_some(), fields, is_header)?;
        rows.ignored.clone_from(&header.ignored);
        rows.doubles.clone_from(&header.doubles);
        Ok((rows, header))
    }

    /// Reads up to the header and maps it against `fields`. The header is the first line with
    /// text, among the first [`HEADER_SEARCH_LINES`], that `is_header` accepts (it names what a
    /// record needs); the lines with text above it (a report's title, `Exported on …`, a filter)
    /// are skipped and kept in `above_header`, and blank ones (`,,,,` too) skipped as ever.
    /// Only lines that look like titles are skipped, not rows of a table: each has one cell with
    /// text, or fewer than the header. So a header that lacks the name column is not passed
    /// over for a row below it that happens to hold `Company`: when no line qualifies, the
    /// first line with text is the header, and the caller's error shows what it reads.
    fn read_header(
        &mut self,
        skip_sep_line: bool,
        fields: &[FieldSpec],
        is_header: fn(&[Option<usize>]) -> bool,
    ) -> Result<Header, ImportError> {
        let mut skip = skip_sep_line;
        // The first line with text, and its line: the header when no line qualifies.
        let mut first: Option<(Vec<String>, u64)> = None;
        // The most cells with text on a skipped line that has more than one.
        let mut widest_above = 0;
        loop {
            match self.csv.read_byte_record(&mut self.record) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    let message = if self.csv.get_ref().too_long {
                        "the header is longer than 1 MiB; is this a CSV file?".to_string()
                    } else {
                        e.to_string()
                    };
                    return Err(ImportError::Csv {
                        line: self.csv.position().line(),
                        message,
                    });
                }
            }
            self.mark_row_end();
            self.header_records += 1;
            if std::mem::take(&mut skip) {
                // Excel's `sep=;` line: it names the separator, it is not the header.
                self.line = self.start_line();
                continue;
            }
            let filled = self.record.iter().filter(|c| has_text(c)).count();
            if filled == 0 {
                continue;
            }
            let line = self.start_line();
            self.line = line;
            let names = header_names(&self.record);
            let header = map_header(&names, fields);
            if is_header(&header.columns) && widest_above < filled {
                self.set_headers(names);
                return Ok(header);
            }
            if first.is_none() {
                first = Some((names, line));
            }
            if filled > 1 {
                widest_above = widest_above.max(filled);
            }
            let shown: Vec<String> = self
                .record
                .iter()
                .filter(|c| has_text(c))
                .map(header_name)
                .collect();
            self.above_header
                .push(shorten(&shown.join(" | "), ABOVE_HEADER_SHOWN_BYTES));
            if self.above_header.len() == HEADER_SEARCH_LINES {
                break;
            }
        }
        // No line names what a record needs: the first line with text is taken for the header,
        // which the caller refuses, showing what it reads.
        let Some((names, line)) = first else {
            return Err(ImportError::Header(
                "the file is empty (expected a header row naming the columns)".into(),
            ));
        };
        self.above_header.clear();
        self.line = line;
        let header = map_header(&names, fields);
        self.set_headers(names);
        Ok(header)
    }

    /// Takes `names` for the header: the columns' names, and the width rows must have.
    fn set_headers(&mut self, names: Vec<String>) {
        self.width = names
            .iter()
            .rposition(|h| !h.is_empty())
            .map_or(0, |last| last + 1);
        self.headers = names;
    }

    /// Lets the next row start counting towards [`ROW_BYTES_MAX`].
    fn mark_row_end(&mut self) {
        let end = self.csv.position().byte();
        self.csv.get_mut().row_start = end;
    }

    /// The next data row's number and first line, or all that makes it unreadable. Skips rows
    /// whose cells are all empty and a Salesforce report footer: one-cell lines from a footer
    /// marker ([`is_salesforce_footer`]) on, and the one-cell lines (the report's title) just
    /// before the marker; and a totals row ([`is_totals_row`]) after the data. A one-cell line
    /// or a totals row is held until what follows tells which it is: a one-cell line followed
    /// by data or by the end of the file is a row (and a row error, being short), a totals row
    /// followed by data is a row (an account may be called `Total`). An
    /// I/O error ends the rows after one error, so the import fails rather than stopping short.
    fn next_record(&mut self) -> Option<Result<(u64, u64), Vec<RowError>>> {
        loop {
            if self.draining {
                if let Some((record, line)) = self.held.pop_front() {
                    self.record = record;
                    return Some(self.yield_row(line));
                }
                self.draining = false;
            }
            if self.done {
                return None;
            }
            match self.csv.read_byte_record(&mut self.record) {
                Ok(true) => {}
                Ok(false) => {
                    self.done = true;
                    // No footer marker came: a totals row at the end is a footer, the other
                    // held lines are rows.
                    self.held.retain(|(record, _)| !is_totals_row(record));
                    self.draining = true;
                    continue;
                }
                Err(e) => {
                    self.done = true;
                    let message = if self.csv.get_ref().too_long {
                        format!(
                            "is longer than {} MiB; is a quote unbalanced? (a field that \
                             starts with a quote runs on to the next quote)",
                            ROW_BYTES_MAX / (1024 * 1024)
                        )
                    } else {
                        format!("could not read the file: {e}")
                    };
                    return Some(Err(vec![RowError {
                        row: self.row + 1,
                        line: if self.cr_only {
                            self.row + 1 + self.header_records
                        } else {
                            self.line + 1
                        },
                        column: String::new(),
                        message,
                    }]));
                }
            }
            self.mark_row_end();
            if is_blank(&self.record) || self.repeats_header() {
                continue;
            }
            // One cell with text: a line of one cell, or one Excel padded with empty cells to
            // the header's width (`"Confidential Information - Do Not Distribute",,,,`).
            let one_cell = self.width > 1 && has_text_in_first_cell_only(&self.record);
            if one_cell && (self.in_footer || is_salesforce_footer(&self.record[0])) {
                // The footer, and the title line(s) held before its marker.
                self.in_footer = true;
                self.held.clear();
                continue;
            }
            let line = self.start_line();
            // The next record's line is counted from this one's, held or not.
            self.line = line;
            if (one_cell || is_totals_row(&self.record)) && self.held.len() < FOOTER_HELD_ROWS_MAX {
                self.held.push_back((self.record.clone(), line));
                continue;
            }
            if !self.held.is_empty() {
                // Data follows: the held lines were rows, in the file's order.
                self.held
                    .push_back((std::mem::take(&mut self.record), line));
                self.draining = true;
                continue;
            }
            return Some(self.yield_row(line));
        }
    }

    /// Numbers the record in `self.record`, which starts on `line`, as the next row.
    fn yield_row(&mut self, line: u64) -> Result<(u64, u64), Vec<RowError>> {
        self.row += 1;
        let line = if self.cr_only {
            self.row + self.header_records
        } else {
            line
        };
        self.line = line;
        self.check_shape(line).map(|()| (self.row, line))
    }

    /// The record is the header again (files concatenated with `cat`, or exported page by
    /// page): skipped like a blank row.
    fn repeats_header(&self) -> bool {
        let same = |(cell, header): (&[u8], &String)| {
            String::from_utf8_lossy(cell)
                .trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
                == header.as_str()
        };
        self.record.len() >= self.width
            && self.width > 1
            && self.record.iter().zip(&self.headers).all(same)
    }

    /// The line the current record starts on: the lines consumed so far, less the newlines
    /// inside the record and the one that ended it (if it did not end at the end of the file).
    fn start_line(&self) -> u64 {
        if self.cr_only {
            return self.row + self.header_records;
        }
        let end_line = self.csv.position().line();
        let inner = self
            .record
            .as_slice()
            .iter()
            .filter(|&&b| b == b'\n')
            .count() as u64;
        let source = self.csv.get_ref();
        let consumed = self.csv.position().byte();
        let ended_by_newline = consumed < source.bytes || source.last == b'\n';
        // The one ambiguity: a file ending in an unclosed quote and a newline reads as if the
        // newline ended the record; never go before the previous row's line because of it.
        end_line
            .saturating_sub(inner)
            .saturating_sub(u64::from(ended_by_newline))
            .max(self.line + 1)
    }

    /// A row must have as many fields as the header names (extra empty fields, as a trailing
    /// separator or Excel's padding makes, are fine; so are fewer fields when the header's last
    /// names are empty).
    fn check_shape(&self, line: u64) -> Result<(), Vec<RowError>> {
        let width = self.width;
        let fields = self.record.len();
        let error = |message: String| {
            Err(vec![RowError {
                row: self.row,
                line,
                column: String::new(),
                message,
            }])
        };
        if fields < width {
            return error(format!(
                "has {fields} fields but the header has {width} \
                 (is a quote unbalanced, or a line break inside an unquoted field?)"
            ));
        }
        if let Some((i, extra)) = self
            .record
            .iter()
            .enumerate()
            .skip(width)
            .find(|(_, f)| !is_blank_field(f))
        {
            let extra = String::from_utf8_lossy(extra);
            return error(format!(
                "has {fields} fields but the header has {width}: field {} holds '{}' and has no \
                 column (is a quote unbalanced or a separator unquoted?)",
                i + 1,
                shorten(extra.trim(), 40)
            ));
        }
        Ok(())
    }
}

/// `s`, cut to about `max` bytes with `…` when longer.
fn shorten(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// A header cell's name: trimmed of spaces and a byte order mark. (The stream is UTF-8, see
/// `Decode`; a cell split inside a character cannot happen in a header built from ASCII
/// separators, but never panic on it.)
fn header_name(cell: &[u8]) -> String {
    String::from_utf8_lossy(cell)
        .trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
        .to_string()
}

fn header_names(record: &csv::ByteRecord) -> Vec<String> {
    record.iter().map(header_name).collect()
}

/// Whether a line or cell holds text: anything but spaces, separators, quotes, a byte order
/// mark, and the NUL padding and Ctrl-Z old tools write. `,,,,` and `"";""` hold none.
fn has_text(bytes: &[u8]) -> bool {
    bytes.iter().any(|&b| {
        !b.is_ascii_whitespace()
            && !matches!(b, 0 | 0x1A | b'"' | b',' | b';' | b'|' | 0xEF | 0xBB | 0xBF)
    })
}

/// The separator of the header: of the first of the first [`HEADER_SEARCH_LINES`] lines with
/// text in `text` that, split on the separator it uses most ([`sniff_delimiter`]), names what a
/// record needs (`is_header`); when none does, of `first_line`. So a title line above a
/// `;`-separated header does not make the file comma-separated.
fn header_delimiter(
    text: &[u8],
    first_line: &[u8],
    fields: &[FieldSpec],
    is_header: fn(&[Option<usize>]) -> bool,
) -> u8 {
    text.split(|&b| b == b'\n')
        .filter(|line| has_text(line))
        .take(HEADER_SEARCH_LINES)
        .map(|line| (line, sniff_delimiter(line)))
        .find(|&(line, delimiter)| {
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .delimiter(delimiter)
                .from_reader(line);
            let mut record = csv::ByteRecord::new();
            matches!(reader.read_byte_record(&mut record), Ok(true))
                && is_header(&map_header(&header_names(&record), fields).columns)
        })
        .map_or_else(|| sniff_delimiter(first_line), |(_, delimiter)| delimiter)
}

/// The first bytes of the file, to sniff its encoding, separator and header from: up to the
/// end of the first [`HEADER_SEARCH_LINES`] lines with text and one more (a `sep=;` line), at
/// most [`SNIFF_BYTES_MAX`]. A read error once a line with text is in is handed back to be
/// given after the prefix, where the row being read reports it, as further into the file.
fn read_prefix<R: Read>(input: &mut R) -> Result<(Vec<u8>, Option<io::Error>), ImportError> {
    let mut prefix = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    let mut with_text = 0;
    while prefix.len() < SNIFF_BYTES_MAX {
        match input.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                prefix.extend_from_slice(&chunk[..n]);
                // Lines with text, any encoding: UTF-16's zero bytes count as no text here.
                let mut lines = prefix.split(|&b| b == b'\n');
                let complete = lines.clone().count() - 1;
                with_text = lines
                    .by_ref()
                    .take(complete)
                    .filter(|l| has_text(l))
                    .count();
                if with_text > HEADER_SEARCH_LINES {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if with_text > 0 => return Ok((prefix, Some(e))),
            Err(e) => {
                return Err(ImportError::Csv {
                    line: 1,
                    message: e.to_string(),
                })
            }
        }
    }
    Ok((prefix, None))
}

/// The input after the prefix [`read_prefix`] took: first the read error it met, if any.
struct AfterPrefix<R> {
    error: Option<io::Error>,
    inner: R,
}

impl<R: Read> Read for AfterPrefix<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.error.take() {
            Some(e) => Err(e),
            None => self.inner.read(buf),
        }
    }
}

/// The file's encoding from its first bytes (dropping a byte order mark), or why it is not a
/// CSV file at all: a workbook, an archive, a PDF, HTML, JSON.
fn sniff_encoding(prefix: &mut Vec<u8>) -> Result<Encoding, ImportError> {
    let not_csv = |what: &str| Err(ImportError::NotCsv(what.to_string()));
    if let Some(rest) = prefix.strip_prefix(b"PK\x03\x04") {
        // A zip archive: xlsx and ods are zips; so are HubSpot's multi-file exports.
        let name = rest.get(26..).unwrap_or(&[]);
        let name = &name[..name.len().min(64)];
        let contains = |n: &[u8]| name.windows(n.len()).any(|w| w == n);
        if contains(b"mimetype") {
            return not_csv(
                "file is an OpenDocument spreadsheet, not CSV; save it as \"Text CSV\" (UTF-8)",
            );
        }
        if contains(b".csv") || contains(b".CSV") {
            return not_csv(
                "file is a zip archive, not CSV; unzip it and import the CSV file inside",
            );
        }
        return Err(ImportError::Workbook);
    }
    if prefix.starts_with(b"\xD0\xCF\x11\xE0") {
        return Err(ImportError::Workbook);
    }
    if prefix.starts_with(b"\x1F\x8B") {
        return not_csv("file is gzip-compressed; decompress it and import the CSV file inside");
    }
    if prefix.starts_with(b"%PDF") {
        return not_csv("file is a PDF document, not CSV; export the report as CSV");
    }
    if prefix.starts_with(b"\xFF\xFE") {
        prefix.drain(..2);
        return Ok(Encoding::Utf16Le);
    }
    if prefix.starts_with(b"\xFE\xFF") {
        prefix.drain(..2);
        return Ok(Encoding::Utf16Be);
    }
    if prefix.starts_with(b"\xEF\xBB\xBF") {
        prefix.drain(..3);
    }
    // UTF-16 without a byte order mark: ASCII text with every other byte zero.
    if let [a, b, c, d, ..] = prefix[..] {
        if a != 0 && b == 0 && c != 0 && d == 0 {
            return Ok(Encoding::Utf16Le);
        }
        if a == 0 && b != 0 && c == 0 && d != 0 {
            return Ok(Encoding::Utf16Be);
        }
    }
    let start = prefix.trim_ascii_start();
    let lower = |n: usize| start[..start.len().min(n)].to_ascii_lowercase();
    if lower(14) == b"<!doctype html" || lower(5) == b"<html" {
        return not_csv("file is a web page (HTML), not CSV; export the report as CSV");
    }
    if lower(5) == b"<?xml" {
        return not_csv(
            "file is XML, not CSV (an Excel 2003 XML sheet?); save it as \"CSV UTF-8\"",
        );
    }
    if start.starts_with(b"{") || start.starts_with(b"[{") || start.starts_with(b"[\n") {
        return not_csv("file is JSON, not CSV; export the records as CSV");
    }
    Ok(Encoding::Utf8)
}

/// Excel's `sep=;` first line (it names the separator for the rest of the file).
fn excel_sep_line(first_line: &[u8]) -> Option<u8> {
    let line = first_line.strip_suffix(b"\r").unwrap_or(first_line);
    // Some tools quote it as a cell: `"sep=;"` (also followed by empty cells: `"sep=;";;`).
    let line = match line.strip_prefix(b"\"") {
        Some(rest) => {
            let end = rest.iter().position(|&b| b == b'"')?;
            let after = &rest[end + 1..];
            let sep = rest.get(end.checked_sub(1)?)?;
            if !after.iter().all(|b| b == sep) {
                return None;
            }
            &rest[..end]
        }
        None => line,
    };
    match line {
        [s, e, p, b'=', sep] if [*s, *e, *p].eq_ignore_ascii_case(b"sep") => {
            matches!(sep, b',' | b';' | b'\t' | b'|').then_some(*sep)
        }
        _ => None,
    }
}

/// The separator the header uses most, outside quotes: `,` (also when none), `;` (Excel in
/// many European locales), tab, or `|`.
fn sniff_delimiter(first_line: &[u8]) -> u8 {
    let mut counts = [(b',', 0usize), (b';', 0), (b'\t', 0), (b'|', 0)];
    let mut quoted = false;
    for &b in first_line {
        if b == b'"' {
            quoted = !quoted;
        } else if !quoted {
            if let Some(c) = counts.iter_mut().find(|(d, _)| *d == b) {
                c.1 += 1;
            }
        }
    }
    // The first of the most frequent (a tie goes to the comma).
    let mut best = counts[0];
    for c in counts {
        if c.1 > best.1 {
            best = c;
        }
    }
    best.0
}

/// Only whitespace, or the NUL padding and Ctrl-Z end-of-file mark some old tools write.
fn is_blank_field(field: &[u8]) -> bool {
    field
        .iter()
        .all(|b| b.is_ascii_whitespace() || matches!(b, 0 | 0x1A))
}

/// The column each field is read from in the current row: the header's, except that a field
/// whose column is empty here is read from a further column naming it that has a value (an
/// export with both `Website` and `Company Domain Name`, or `Amount` twice). Borrowed when the
/// file names no field twice.
fn columns_of_row<'c, R: Read>(
    rows: &Rows<R>,
    columns: &'c [Option<usize>],
) -> std::borrow::Cow<'c, [Option<usize>]> {
    let has_value = |i: usize| rows.record.get(i).is_some_and(|c| !is_blank_field(c));
    let mut out = std::borrow::Cow::Borrowed(columns);
    for &(field, double) in &rows.doubles {
        let Some(read) = out.get(field).copied().flatten() else {
            continue;
        };
        if !has_value(read) && has_value(double) {
            out.to_mut()[field] = Some(double);
        }
    }
    out
}

fn is_blank(record: &csv::ByteRecord) -> bool {
    record.iter().all(is_blank_field)
}

fn has_text_in_first_cell_only(record: &csv::ByteRecord) -> bool {
    let mut cells = record.iter();
    cells.next().is_some_and(|first| !is_blank_field(first)) && cells.all(is_blank_field)
}

/// A line that marks a Salesforce report's footer: `Confidential Information - Do Not
/// Distribute`, `Copyright (c) 2000-2026 salesforce.com, inc. All rights reserved.` or a
/// summary report's `Grand Totals (12 records)`. (The report's title may come before it.)
fn is_salesforce_footer(cell: &[u8]) -> bool {
    let cell = cell.trim_ascii();
    if starts_with_ignoring_case(cell, b"confidential information") {
        return true;
    }
    if starts_with_ignoring_case(cell, b"copyright") {
        return cell
            .windows(b"salesforce.com".len())
            .any(|w| w.eq_ignore_ascii_case(b"salesforce.com"));
    }
    let Some(count) = strip_prefix_ignoring_case(cell, b"grand totals")
        .map(<[u8]>::trim_ascii)
        .and_then(|rest| rest.strip_prefix(b"("))
        .and_then(|rest| rest.strip_suffix(b")"))
    else {
        return false;
    };
    let digits = count
        .iter()
        .take_while(|b| b.is_ascii_digit() || **b == b',')
        .count();
    let unit = count[digits..].trim_ascii();
    digits > 0 && (unit.eq_ignore_ascii_case(b"records") || unit.eq_ignore_ascii_case(b"record"))
}

/// A spreadsheet's or report's totals row: its first cell with text says `Total`, `Totals`,
/// `Grand Total(s)` or `Subtotal` (maybe with a record count: `Grand Totals (2 records)`), and
/// every other cell is empty or a sum (`$51,200.00`, `USD 1,200`, `(300)`). Cheap for a data
/// row: it is rejected at its first non-empty cell.
fn is_totals_row(record: &csv::ByteRecord) -> bool {
    let mut cells = record.iter();
    let Some(label) = cells.find(|f| !is_blank_field(f)) else {
        return false;
    };
    let label = label.trim_ascii();
    let label = label.strip_suffix(b":").unwrap_or(label);
    let label = strip_record_count(label);
    let is_label = [
        &b"total"[..],
        b"totals",
        b"grand total",
        b"grand totals",
        b"subtotal",
        b"sub-total",
        b"sub total",
    ]
    .iter()
    .any(|l| label.eq_ignore_ascii_case(l));
    is_label && cells.all(|c| is_blank_field(c) || looks_like_a_sum(c))
}

/// `label (12 records)` → `label`; anything else as it is.
fn strip_record_count(label: &[u8]) -> &[u8] {
    let Some(open) = label.iter().rposition(|b| *b == b'(') else {
        return label;
    };
    let inner = label[open + 1..].strip_suffix(b")").unwrap_or_default();
    let digits = inner
        .iter()
        .take_while(|b| b.is_ascii_digit() || **b == b',')
        .count();
    let unit = inner[digits..].trim_ascii();
    let counted = digits > 0
        && (unit.eq_ignore_ascii_case(b"records") || unit.eq_ignore_ascii_case(b"record"));
    if counted {
        label[..open].trim_ascii()
    } else {
        label
    }
}

/// A number as a report writes a sum: digits with separators, a sign or parentheses, a
/// currency symbol or code (`$51,200.00`, `USD 1,200`, `(300)`, `1.234,50 €`); no words.
fn looks_like_a_sum(cell: &[u8]) -> bool {
    let cell = cell.trim_ascii();
    cell.iter().any(u8::is_ascii_digit)
        && cell
            .iter()
            .all(|b| !b.is_ascii_lowercase() && (b.is_ascii_graphic() || *b == b' ' || *b >= 0x80))
        && cell.iter().filter(|b| b.is_ascii_uppercase()).count() <= 3
}

fn starts_with_ignoring_case(s: &[u8], prefix: &[u8]) -> bool {
    strip_prefix_ignoring_case(s, prefix).is_some()
}

fn strip_prefix_ignoring_case<'a>(s: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    (s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix))
        .then(|| &s[prefix.len()..])
}

// ---------------------------------------------------------------------------------------------
// Cells: typed access to one row, collecting every error

/// What exports write for "no value" in a typed or optional cell, in any case: Excel's `#N/A`,
/// database dumps' `NULL`, pivot tables' `(blank)`, dashes. (And pandas' `NaN`, see
/// [`Cells::not_placeholder`].)
const PLACEHOLDERS: &[&str] = &[
    "-", "--", "—", "–", "#N/A", "N/A", "NULL", "(none)", "(blank)",
];

/// Excel's error values, which a failed formula exports as its value (`#N/A` is a placeholder,
/// see [`PLACEHOLDERS`]).
const EXCEL_ERRORS: &[&str] = &[
    "#VALUE!",
    "#REF!",
    "#DIV/0!",
    "#NAME?",
    "#NUM!",
    "#NULL!",
    "#SPILL!",
    "#CALC!",
    "#FIELD!",
    "#BLOCKED!",
    "#CONNECT!",
    "#BUSY!",
    "#UNKNOWN!",
    "#GETTING_DATA",
    "#EXTERNAL!",
];

/// Whitespace (no-break spaces included) and the invisible characters copy-paste from web pages
/// and some exports leave around values: zero-width space, non-joiner and joiner, word joiner,
/// and a byte order mark that is not at the start of the file.
fn is_padding(c: char) -> bool {
    c.is_whitespace() || is_invisible(c)
}

/// Zero-width characters, which [`is_padding`] trims and label lookups skip.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200b}' | '\u{200c}' | '\u{200d}' | '\u{2060}' | '\u{feff}' | '\u{ad}'
    )
}

/// Invisible characters that mean nothing inside a name: zero-width space, word joiner, byte
/// order mark, soft hyphen. (Zero-width joiners shape Persian, Indic and emoji text: kept.)
fn is_stray(c: char) -> bool {
    matches!(c, '\u{200b}' | '\u{2060}' | '\u{feff}' | '\u{ad}')
}

/// A space other than the ASCII one that means just a space: no-break, narrow no-break, figure,
/// thin and the other fixed-width spaces.
fn is_odd_space(c: char) -> bool {
    matches!(
        c,
        '\u{a0}' | '\u{202f}' | '\u{2000}'..='\u{200a}' | '\u{205f}' | '\u{3000}'
    )
}

/// A line break or tab, which a name-like value holds only by accident.
fn is_line_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\t')
}

/// `1.23457E+11`: a number in scientific notation, as Excel writes a long number in a narrow
/// or General column.
fn is_scientific(s: &str) -> bool {
    let Some((mantissa, exponent)) = s.split_once(['e', 'E']) else {
        return false;
    };
    let exponent = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
    let (whole, fraction) = mantissa.split_once(['.', ',']).unwrap_or((mantissa, "0"));
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    digits(whole) && digits(fraction) && digits(exponent)
}

struct Cells<'a> {
    record: &'a csv::ByteRecord,
    headers: &'a [String],
    row: u64,
    line: u64,
    errors: Vec<RowError>,
}

impl<'a> Cells<'a> {
    fn new<R: Read>(rows: &'a Rows<R>, row: u64, line: u64) -> Self {
        Cells {
            record: &rows.record,
            headers: &rows.headers,
            row,
            line,
            errors: Vec::new(),
        }
    }

    fn header(&self, column: usize) -> &'a str {
        self.headers.get(column).map_or("", String::as_str)
    }

    /// The trimmed cell, `None` when the column is absent or the cell empty. (Cells are UTF-8:
    /// the stream is decoded before the CSV reader splits it on ASCII separators.) Trimming
    /// also removes the invisible characters copy-paste leaves at the edges of a value (see
    /// [`is_padding`]). Excel's `="00123"`, which keeps leading zeros, is the text inside the
    /// quotes; the apostrophe a spreadsheet or an export puts before a formula-looking value to
    /// keep it text (`'=SUM(…)`, `'+1 555…`, `'-5`, `'@acme`) is dropped.
    fn get(&self, column: Option<usize>) -> Option<&'a str> {
        let bytes = self.record.get(column?)?;
        let mut s = std::str::from_utf8(bytes).ok()?.trim_matches(is_padding);
        if let Some(inner) = s.strip_prefix("=\"").and_then(|r| r.strip_suffix('"')) {
            if !inner.contains('"') {
                s = inner.trim_matches(is_padding);
            }
        }
        if let Some(rest) = s.strip_prefix('\'') {
            if rest.starts_with(['=', '+', '-', '@']) {
                s = rest;
            }
        }
        (!s.is_empty()).then_some(s)
    }

    /// The cell for a typed field (amount, date, currency, domain, stage, status, ids) and for
    /// optional text: like [`Cells::get`], but the placeholders exports write for "no value"
    /// ([`PLACEHOLDERS`]) are no value too, and a leading apostrophe (Excel's text prefix,
    /// `'00123`, `'2026-01-15`) is dropped.
    fn typed(&self, column: Option<usize>) -> Option<&'a str> {
        let s = self.optional(column)?;
        let s = match s.strip_prefix('\'') {
            Some(rest) if !rest.ends_with('\'') => rest.trim_matches(is_padding),
            _ => s,
        };
        self.not_placeholder(s)
    }

    /// The cell for optional text (owner, industry, next step…): like [`Cells::get`], but a
    /// placeholder is no value. A leading apostrophe is kept: text may start with one.
    fn optional(&self, column: Option<usize>) -> Option<&'a str> {
        self.not_placeholder(self.get(column)?)
    }

    fn not_placeholder(&self, s: &'a str) -> Option<&'a str> {
        // `NaN` in pandas' two spellings only: `Nan` is a name.
        let placeholder =
            PLACEHOLDERS.iter().any(|p| s.eq_ignore_ascii_case(p)) || matches!(s, "NaN" | "nan");
        (!placeholder && !s.is_empty()).then_some(s)
    }

    /// Records an error when `cell` is an Excel error value (`#REF!`): a formula that failed,
    /// whose value is lost. `#N/A` is a placeholder instead (no value).
    fn excel_error(&mut self, column: Option<usize>, cell: &str) -> bool {
        let is_error = EXCEL_ERRORS.iter().any(|e| cell.eq_ignore_ascii_case(e));
        if is_error {
            self.error(
                column,
                format!(
                    "'{cell}' is an Excel error value (a formula that failed); fix the formula \
                     or clear the cell in the spreadsheet, then export again"
                ),
            );
        }
        is_error
    }

    fn error(&mut self, column: Option<usize>, message: String) {
        let column = column.map_or(String::new(), |c| self.header(c).to_string());
        self.errors.push(RowError {
            row: self.row,
            line: self.line,
            column,
            message,
        });
    }

    fn empty(&mut self, column: Option<usize>, why: &str) {
        self.error(column, format!("is empty; {why}"));
    }

    /// Optional text: placeholders (`NULL`, `N/A`, `-`) are no value.
    fn text(&mut self, column: Option<usize>, field: &'static str, max: usize) -> Option<String> {
        let cell = self.optional(column)?;
        self.clean(column, cell, field, max)
    }

    fn clean(
        &mut self,
        column: Option<usize>,
        cell: &str,
        field: &'static str,
        max: usize,
    ) -> Option<String> {
        if self.excel_error(column, cell) {
            return None;
        }
        match clean_text(field, Some(cell), max) {
            // Names, ids, owners: a no-break space inside is a space and invisible characters
            // are nothing, so `Acme\u{a0}Corp` links to the account `Acme Corp`. (Free text,
            // the next step and description, is kept as written.)
            // A line break or tab inside a name (a multi-line cell) is a space too: a name is
            // one line, and `Acme\nCorp` must link to `Acme Corp`.
            Ok(Some(v))
                if max <= NAME_CHARS_MAX
                    && v.contains(|c| is_stray(c) || is_odd_space(c) || is_line_break(c)) =>
            {
                let mut v: String = v
                    .chars()
                    .filter(|&c| !is_stray(c))
                    .map(|c| {
                        if is_odd_space(c) || is_line_break(c) {
                            ' '
                        } else {
                            c
                        }
                    })
                    .collect();
                if cell.contains(is_line_break) {
                    v = v
                        .split(' ')
                        .filter(|w| !w.is_empty())
                        .collect::<Vec<_>>()
                        .join(" ");
                }
                // A dropped character may have stood between a letter and its accent.
                Some(if v.is_ascii() { v } else { nfc(&v) })
            }
            Ok(v) => v,
            Err(e) => {
                self.error(column, e.message);
                None
            }
        }
    }

    /// A CRM id (the record's or its account's): optional text, but a number Excel shortened
    /// to scientific notation (`1.23457E+11`) is an error, because different ids would collide.
    fn id(&mut self, column: Option<usize>, cell: &str, field: &'static str) -> Option<String> {
        // `9001.0`: a numeric id written as a float (pandas does, for a column with gaps).
        let cell = match cell.split_once('.') {
            Some((whole, zeros))
                if !whole.is_empty()
                    && whole.bytes().all(|b| b.is_ascii_digit())
                    && !zeros.is_empty()
                    && zeros.bytes().all(|b| b == b'0') =>
            {
                whole
            }
            _ => cell,
        };
        if is_scientific(cell) {
            self.error(
                column,
                format!(
                    "'{cell}' is an id Excel shortened to scientific notation, so different ids \
                     would look alike; export again from the CRM, or in Excel format the column \
                     as Text before saving"
                ),
            );
            return None;
        }
        self.clean(column, cell, field, NAME_CHARS_MAX)
    }

    /// The record's own CRM id (see [`Cells::id`]).
    fn external_id(&mut self, column: Option<usize>) -> Option<String> {
        let cell = self.typed(column)?;
        self.id(column, cell, "external_id")
    }

    /// A required name-like text; empty (with an error recorded) when missing. Placeholders
    /// are kept as written here: a name is never guessed to be missing.
    fn required(&mut self, column: Option<usize>, field: &'static str, why: &str) -> String {
        let value = match self.get(column) {
            Some(cell) if cell.eq_ignore_ascii_case("#N/A") => {
                self.error(
                    column,
                    format!(
                        "is '{cell}', Excel's \"not found\" (a lookup formula that found \
                         nothing); {why}"
                    ),
                );
                None
            }
            Some(cell) => self.clean(column, cell, field, NAME_CHARS_MAX),
            None => {
                self.empty(column, why);
                None
            }
        };
        value.unwrap_or_default()
    }

    fn value<T>(
        &mut self,
        column: Option<usize>,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let cell = self.typed(column)?;
        if self.excel_error(column, cell) {
            return None;
        }
        match parse(cell) {
            Ok(v) => Some(v),
            Err(message) => {
                self.error(column, message);
                None
            }
        }
    }

    fn tags(&mut self, column: Option<usize>) -> Option<Vec<String>> {
        let tags = self.value(column, |s| parse_tags(s).map_err(|e| e.message))?;
        (!tags.is_empty()).then_some(tags)
    }

    fn finish(self) -> Result<(), Vec<RowError>> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(self.errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Reads a whole accounts file: the rows, every row error (in order), the ignored columns.
    fn accounts(input: &[u8]) -> (Vec<AccountRow>, Vec<RowError>, Vec<String>) {
        let mut reader = read_accounts(input).expect("header accepted");
        let (mut rows, mut errors) = (Vec::new(), Vec::new());
        for item in reader.by_ref() {
            match item {
                Ok(row) => rows.push(row),
                Err(e) => errors.extend(e),
            }
        }
        (rows, errors, reader.ignored_columns().to_vec())
    }

    /// Reads a whole opportunities file, like [`accounts`].
    fn opportunities(input: &[u8]) -> (Vec<OpportunityRow>, Vec<RowError>, Vec<String>) {
        let mut reader = read_opportunities(input).expect("header accepted");
        let (mut rows, mut errors) = (Vec::new(), Vec::new());
        for item in reader.by_ref() {
            match item {
                Ok(row) => rows.push(row),
                Err(e) => errors.extend(e),
            }
        }
        (rows, errors, reader.ignored_columns().to_vec())
    }

    fn error(row: u64, line: u64, column: &str, message: &str) -> RowError {
        RowError {
            row,
            line,
            column: column.into(),
            message: message.into(),
        }
    }

    fn domain(s: &str) -> Option<Domain> {
        Some(Domain::parse(s).unwrap())
    }

    fn amount(s: &str) -> Option<Amount> {
        Some(Amount::parse(s).unwrap())
    }

    fn currency(s: &str) -> Option<Currency> {
        Some(Currency::parse(s).unwrap())
    }

    fn date(s: &str) -> Option<Date> {
        Some(Date::parse(s).unwrap())
    }

    fn some(s: &str) -> Option<String> {
        Some(s.to_string())
    }

    /// A Salesforce "Export details" report: every field quoted, CRLF, BOM, a quoted newline and
    /// the confidentiality footer Salesforce appends.
    const SALESFORCE_OPPORTUNITIES: &str = "\u{feff}\"Opportunity Name\",\"Account Name\",\"Account ID\",\"Opportunity ID\",\"Stage\",\"Amount\",\"Opportunity Currency\",\"Close Date\",\"Opportunity Owner\",\"Next Step\",\"Description\",\"Probability (%)\",\"Created Date\"\r
\"Acme - Platform\",\"Acme Corp\",\"0015g00000AcmeAAA\",\"0065g00000Opp1AAA\",\"Closed Won\",\"$1,200.50\",\"USD\",\"3/31/2026\",\"Jane Doe\",\"Kickoff\",\"Platform, with support\",\"100\",\"1/15/2026\"\r
\"Globex - Renewal\",\"Globex\",\"0015g00000GlobAAA\",\"0065g00000Opp2AAA\",\"Negotiation/Review\",\"EUR 48,000\",\"EUR\",\"2026-06-30\",\"Sam Patel\",\"\",\"Two lines,\r
with \"\"quotes\"\"\",\"90\",\"2/1/2026\"\r
\"Initech - Pilot\",\"Initech\",\"\",\"0065g00000Opp3AAA\",\"Id. Decision Makers\",\"\",\"\",\"\",\"\",\"\",\"\",\"60\",\"2/2/2026\"\r
\r
\r
\"Confidential Information - Do Not Distribute\"\r
\"Copyright (c) 2000-2026 salesforce.com, inc. All rights reserved.\"\r
\"Generated By:  Jane Doe  3/14/2026 9:41 AM\"\r
\"Acme Vendor\"\r
";

    #[test]
    fn salesforce_opportunity_report_maps_headers_stages_amounts_and_skips_the_footer() {
        let (rows, errors, ignored) = opportunities(SALESFORCE_OPPORTUNITIES.as_bytes());
        assert_eq!(errors, vec![]);
        assert_eq!(ignored, vec!["Probability (%)", "Created Date"]);
        assert_eq!(
            rows,
            vec![
                OpportunityRow {
                    row: 1,
                    line: 2,
                    external_id: some("0065g00000Opp1AAA"),
                    account_external_id: some("0015g00000AcmeAAA"),
                    account_domain: None,
                    account_name: some("Acme Corp"),
                    name: "Acme - Platform".into(),
                    stage: Stage::Launched,
                    amount: amount("1200.50"),
                    currency: currency("USD"),
                    close_date: date("2026-03-31"),
                    owner: some("Jane Doe"),
                    next_step: some("Kickoff"),
                    description: some("Platform, with support"),
                    tags: None,
                },
                OpportunityRow {
                    row: 2,
                    line: 3,
                    external_id: some("0065g00000Opp2AAA"),
                    account_external_id: some("0015g00000GlobAAA"),
                    account_domain: None,
                    account_name: some("Globex"),
                    name: "Globex - Renewal".into(),
                    stage: Stage::Committed,
                    amount: amount("48000"),
                    currency: currency("EUR"),
                    close_date: date("2026-06-30"),
                    owner: some("Sam Patel"),
                    next_step: None,
                    description: some("Two lines,\r\nwith \"quotes\""),
                    tags: None,
                },
                OpportunityRow {
                    row: 3,
                    line: 5,
                    external_id: some("0065g00000Opp3AAA"),
                    account_external_id: None,
                    account_domain: None,
                    account_name: some("Initech"),
                    name: "Initech - Pilot".into(),
                    stage: Stage::TechnicalValidation,
                    amount: None,
                    currency: None,
                    close_date: None,
                    owner: None,
                    next_step: None,
                    description: None,
                    tags: None,
                },
            ]
        );
    }

    #[test]
    fn salesforce_accounts_map_type_website_and_billing_country() {
        let input = "\"Account ID\",\"Account Name\",\"Website\",\"Type\",\"Industry\",\"Billing Country\",\"Account Owner\",\"Annual Revenue\"
\"001A\",\"Acme Corp\",\"https://www.Acme.com/\",\"Customer - Direct\",\"Retail\",\"United States\",\"Jane Doe\",\"$1,000,000\"
\"001B\",\"Relecloud\",\"relecloud.com\",\"Channel Partner / Reseller\",\"\",\"Canada\",\"\",\"\"
\"001C\",\"Fabrikam\",\"\",\"Prospect\",\"\",\"\",\"\",\"\"
";
        let (rows, errors, ignored) = accounts(input.as_bytes());
        assert_eq!(errors, vec![]);
        assert_eq!(ignored, vec!["Annual Revenue"]);
        let got: Vec<_> = rows
            .iter()
            .map(|r| (r.external_id.as_deref(), r.domain.clone(), r.status))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    Some("001A"),
                    domain("acme.com"),
                    Some(AccountStatus::Customer)
                ),
                (
                    Some("001B"),
                    domain("relecloud.com"),
                    Some(AccountStatus::Partner)
                ),
                (Some("001C"), None, Some(AccountStatus::Prospect)),
            ]
        );
        assert_eq!(rows[0].country.as_deref(), Some("United States"));
        assert_eq!(rows[0].owner.as_deref(), Some("Jane Doe"));
        assert_eq!(rows[1].industry, None);
    }

    /// A HubSpot companies export: unquoted unless needed, LF, internal lifecycle ids or labels,
    /// and both a domain and a website column (the first one wins).
    const HUBSPOT_COMPANIES: &str = "Record ID,Company name,Company Domain Name,Website URL,Industry,Country/Region,Lifecycle Stage,Company owner,Create Date
9480000011,Acme Analytics,acmeanalytics.com,https://www.acmeanalytics.com,COMPUTER_SOFTWARE,United States,Customer,Priya Nair,2025-03-02 10:15
9480000148,\"Globex, Inc.\",globex.com,,,Germany,marketingqualifiedlead,,2025-04-01 09:00
9480000285,Initech,,https://initech.com,,,,,
";

    #[test]
    fn hubspot_companies_map_lifecycle_stage_and_first_domain_column() {
        let (rows, errors, ignored) = accounts(HUBSPOT_COMPANIES.as_bytes());
        assert_eq!(errors, vec![]);
        assert_eq!(ignored, vec!["Website URL", "Create Date"]);
        assert_eq!(
            rows[0],
            AccountRow {
                row: 1,
                line: 2,
                external_id: some("9480000011"),
                name: "Acme Analytics".into(),
                domain: domain("acmeanalytics.com"),
                industry: some("COMPUTER_SOFTWARE"),
                country: some("United States"),
                status: Some(AccountStatus::Customer),
                owner: some("Priya Nair"),
                tags: None,
            }
        );
        assert_eq!(rows[1].name, "Globex, Inc.");
        assert_eq!(rows[1].status, Some(AccountStatus::Prospect));
        // The domain column came first; where it is empty, the website column gives it.
        assert_eq!(rows[2].domain, domain("initech.com"));
        assert_eq!(rows[2].status, None);
    }

    const HUBSPOT_DEALS: &str = "Record ID,Deal Name,Deal Stage,Amount,Close Date,Deal owner,Associated Company IDs,Associated Company,Pipeline
21000000007,Acme Analytics — Renewal,closedwon,12000,2026-04-25,Priya Nair,9480000011;9480000148,Acme Analytics,default
21000000060,Globex Pilot,Decision maker bought-in,\"48,500.50\",2026-01-24 00:00,,,Globex,default
21000000113,Initech Expansion,Contract Sent (Sales Pipeline),€9900,2026-07-01T00:00:00Z,Tom Becker,9480000285,,default
";

    #[test]
    fn hubspot_deals_map_internal_and_label_stages_and_every_associated_company() {
        let (rows, errors, ignored) = opportunities(HUBSPOT_DEALS.as_bytes());
        assert_eq!(errors, vec![]);
        assert_eq!(ignored, vec!["Pipeline"]);
        let got: Vec<_> = rows
            .iter()
            .map(|r| {
                (
                    r.external_id.as_deref(),
                    r.account_external_id.as_deref(),
                    r.account_name.as_deref(),
                    r.stage,
                    r.amount,
                    r.currency,
                    r.close_date,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    Some("21000000007"),
                    // Every associated company's id: the importer links the one that is an
                    // account (write::tests).
                    Some("9480000011;9480000148"),
                    Some("Acme Analytics"),
                    Stage::Launched,
                    amount("12000"),
                    None,
                    date("2026-04-25"),
                ),
                (
                    Some("21000000060"),
                    None,
                    Some("Globex"),
                    Stage::BusinessValidation,
                    amount("48500.50"),
                    None,
                    date("2026-01-24"),
                ),
                (
                    Some("21000000113"),
                    Some("9480000285"),
                    None,
                    Stage::Committed,
                    amount("9900"),
                    currency("EUR"),
                    date("2026-07-01"),
                ),
            ]
        );
    }

    #[test]
    fn bom_crlf_and_blank_lines_do_not_shift_row_or_line_numbers() {
        let input = "\u{feff}name,domain\r\nAcme,acme.com\r\n\r\n,\r\nGlobex,globex\r\n\r\n";
        let (rows, errors, _) = accounts(input.as_bytes());
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].name, "Acme");
        assert_eq!(
            errors,
            vec![error(
                2,
                5,
                "domain",
                "'globex' is not a valid domain: it needs a dot, as in example.com"
            )]
        );
    }

    #[test]
    fn quoted_newlines_count_toward_the_line_of_the_next_row() {
        let input = "name,stage,account_name,description\n\
                     A,prospect,Acme,\"one\ntwo\nthree\"\n\
                     B,won-ish,Acme,\n";
        let (rows, errors, _) = opportunities(input.as_bytes());
        assert_eq!(rows[0].description.as_deref(), Some("one\ntwo\nthree"));
        assert_eq!(
            errors,
            vec![error(
                2,
                5,
                "stage",
                "'won-ish' is not a known stage (use an ACE stage: prospect, qualified, \
                 technical_validation, business_validation, committed, launched, closed_lost; \
                 or a Salesforce, HubSpot, Pipedrive, Dynamics or Zoho default stage)"
            )]
        );
    }

    #[test]
    fn last_row_without_final_newline_has_its_own_line() {
        let (_, errors, _) = accounts(b"name,domain\nA,a.com\nB,nope");
        assert_eq!(errors[0].line, 3);
    }

    #[test]
    fn bad_rows_report_every_error_with_row_line_column_and_message() {
        let input = "\"Opportunity Name\",\"Account Name\",Stage,Amount,Currency,\"Close Date\"
Good,Acme,Prospecting,100,USD,2026-01-31
,Acme,Launched,-5,usd,31/02/2026
Fine,Acme,Closed Won,\"EUR 900\",USD,
";
        let (rows, errors, _) = opportunities(input.as_bytes());
        assert_eq!(rows.len(), 1);
        assert_eq!(
            errors,
            vec![
                error(
                    2,
                    3,
                    "Opportunity Name",
                    "is empty; every opportunity needs a name"
                ),
                error(
                    2,
                    3,
                    "Amount",
                    "'-5' is negative; amounts must not be negative"
                ),
                error(
                    2,
                    3,
                    "Close Date",
                    "'31/02/2026' is not a date (expected YYYY-MM-DD, MM/DD/YYYY, DD.MM.YYYY or Nov 23, 2026)"
                ),
                error(
                    3,
                    4,
                    "Amount",
                    "'EUR 900' is in EUR but the currency column says USD"
                ),
            ]
        );
        assert_eq!(
            errors[2].to_string(),
            "row 2 (line 3), column Close Date: '31/02/2026' is not a date \
             (expected YYYY-MM-DD, MM/DD/YYYY, DD.MM.YYYY or Nov 23, 2026)"
        );
    }

    #[test]
    fn account_row_errors_name_each_bad_cell() {
        let input = "external_id,name,domain,status,owner
a1,Acme,acme.com,customer,Jane
a2,,globex,partner-ish,
a3,Initech,initech.com,,
";
        let (rows, errors, _) = accounts(input.as_bytes());
        assert_eq!(rows.len(), 2);
        assert_eq!(
            errors,
            vec![
                error(2, 3, "name", "is empty; every account needs a name"),
                error(
                    2,
                    3,
                    "domain",
                    "'globex' is not a valid domain: it needs a dot, as in example.com"
                ),
                error(
                    2,
                    3,
                    "status",
                    "'partner-ish' is not a known account status (use customer, prospect, \
                     partner or other, a Salesforce account type or a HubSpot lifecycle stage)"
                ),
            ]
        );
    }

    #[test]
    fn overlong_and_control_character_text_is_a_row_error() {
        let long = "x".repeat(NAME_CHARS_MAX + 1);
        let input = format!("name,owner\n{long},Jane\nAcme,\"Ja\u{7}ne\"\n");
        let (_, errors, _) = accounts(input.as_bytes());
        assert_eq!(
            errors,
            vec![
                error(1, 2, "name", "longer than 512 characters"),
                error(2, 3, "owner", "contains control characters"),
            ]
        );
    }

    #[test]
    fn an_opportunity_without_any_account_reference_is_a_row_error() {
        let input = "name,stage,Account ID,Account Name\nA,prospect,,\nB,prospect,001,\n";
        let (rows, errors, _) = opportunities(input.as_bytes());
        assert_eq!(rows.len(), 1);
        assert_eq!(
            errors,
            vec![error(
                1,
                2,
                "Account ID",
                "no account: give Account ID or Account Name"
            )]
        );
    }

    #[test]
    fn stage_is_required_per_row() {
        let (_, errors, _) = opportunities(b"name,stage,account_name\nA, ,Acme\n");
        assert_eq!(
            errors,
            vec![error(
                1,
                2,
                "stage",
                "is empty; every opportunity needs a stage"
            )]
        );
    }

    #[test]
    fn utf16_files_are_decoded_with_or_without_a_byte_order_mark() {
        // Excel's "Unicode Text": UTF-16 LE with a BOM, tab-separated, CRLF.
        let text = "Account Name\tWebsite\r\nSociété Générale\tsocgen.com\r\nMüller 😀 GmbH\tmueller.de\r\n";
        let le: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let be: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
        for input in [
            [&b"\xFF\xFE"[..], &le].concat(),
            [&b"\xFE\xFF"[..], &be].concat(),
            le.clone(),
            be,
        ] {
            let (rows, errors, _) = accounts(&input);
            assert_eq!(errors, vec![]);
            let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
            assert_eq!(names, ["Société Générale", "Müller 😀 GmbH"]);
            assert_eq!(rows[1].domain, domain("mueller.de"));
        }
        // Read one byte at a time, so characters and surrogate pairs split across reads.
        let one_byte = OneByte([&b"\xFF\xFE"[..], &le].concat(), 0);
        let names: Vec<String> = read_accounts(one_byte)
            .unwrap()
            .map(|r| r.unwrap().name)
            .collect();
        assert_eq!(names, ["Société Générale", "Müller 😀 GmbH"]);
    }

    /// Hands out its bytes one at a time.
    struct OneByte(Vec<u8>, usize);

    impl Read for OneByte {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match (self.0.get(self.1), buf.first_mut()) {
                (Some(&b), Some(slot)) => {
                    *slot = b;
                    self.1 += 1;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    #[test]
    fn windows_1252_bytes_are_decoded_in_the_header_and_in_cells() {
        // Excel's "CSV (Comma delimited)" on Western Windows: not UTF-8.
        let input = b"Soci\xE9t\xE9,Account Name,Owner\nx,Soci\xE9t\xE9 G\xE9n\xE9rale,M\xFCller\ny,Caf\xE9 \x80 \x96 \x9Cuvre,Jane\nz,Zo\xC3\xAB UTF-8 too,\xC3\xA9ric\n";
        let (rows, errors, ignored) = accounts(input);
        assert_eq!(errors, vec![]);
        assert_eq!(ignored, ["Société"]);
        let got: Vec<(&str, Option<&str>)> = rows
            .iter()
            .map(|r| (r.name.as_str(), r.owner.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                ("Société Générale", Some("Müller")),
                ("Café € – œuvre", Some("Jane")),
                ("Zoë UTF-8 too", Some("éric")),
            ]
        );
        // The same bytes read one at a time (a character split across reads) decode alike.
        let names: Vec<String> = read_accounts(OneByte(input.to_vec(), 0))
            .unwrap()
            .map(|r| r.unwrap().name)
            .collect();
        assert_eq!(names[0], "Société Générale");
        // A lone lead byte at the very end is a character too, not an error.
        let (rows, errors, _) = accounts(b"name\nCaf\xC3");
        assert_eq!(errors, vec![]);
        assert_eq!(rows[0].name, "CafÃ");
    }

    #[test]
    fn workbooks_and_empty_files_are_refused_clearly() {
        assert_eq!(
            read_accounts(&b"PK\x03\x04\x14\x00\x06\x00"[..]).err(),
            Some(ImportError::Workbook)
        );
        for empty in [&b""[..], b"\xEF\xBB\xBF", b"\n\n", b",,\n"] {
            assert_eq!(
                read_accounts(empty).err(),
                Some(ImportError::Header(
                    "the file is empty (expected a header row naming the columns)".into()
                )),
                "{empty:?}"
            );
        }
    }

    #[test]
    fn missing_required_columns_are_header_errors_naming_the_accepted_names() {
        assert_eq!(
            read_accounts(&b"domain,industry\nacme.com,Retail\n"[..]).err(),
            Some(ImportError::Header(
                "no column for the account name (expected one of: name, Account Name, \
                 Company name, Company, …); the header (line 1, comma-separated) reads: \
                 domain | industry"
                    .into()
            ))
        );
        assert_eq!(
            read_opportunities(&b"Deal Name,Amount\nX,1\n"[..]).err(),
            Some(ImportError::Header(
                "no column for the stage (expected one of: stage, Deal Stage, Stage Name, \
                 Opportunity Stage, …); no column for the account (expected Account ID, \
                 account domain or Account Name, e.g. account_external_id, Website, \
                 Company name, Associated Company); the header (line 1, comma-separated) \
                 reads: Deal Name | Amount"
                    .into()
            ))
        );
    }

    #[test]
    fn headers_match_ignoring_case_spacing_and_punctuation() {
        let input = " CLOSE_DATE ,Name,stage,AccountName,closedate,Close-Date,Favourite Color,\n\
                     2026-01-01,A,prospect,Acme,x,y,blue,\n";
        let mut reader = read_opportunities(input.as_bytes()).unwrap();
        assert_eq!(
            reader.ignored_columns(),
            ["closedate", "Close-Date", "Favourite Color"]
        );
        assert_eq!(
            reader.fields(),
            ["account_name", "name", "stage", "close_date"]
        );
        let row = reader.next().unwrap().unwrap();
        assert_eq!(row.close_date, date("2026-01-01"));
        assert!(reader.next().is_none());
    }

    #[test]
    fn the_same_header_means_different_fields_in_accounts_and_opportunities() {
        let header = "Record ID,Account ID,Account Name,Name,Stage,Website\n";
        let accounts = read_accounts(header.as_bytes()).unwrap();
        // In an accounts file, Account ID is the record's own id (Record ID comes first here).
        assert_eq!(accounts.fields(), ["external_id", "name", "domain"]);
        assert_eq!(accounts.ignored_columns(), ["Account ID", "Name", "Stage"]);
        let opportunities = read_opportunities(header.as_bytes()).unwrap();
        assert_eq!(
            opportunities.fields(),
            [
                "external_id",
                "account_external_id",
                "account_domain",
                "account_name",
                "name",
                "stage"
            ]
        );
        assert!(opportunities.ignored_columns().is_empty());
    }

    #[test]
    fn ragged_rows_are_row_errors_but_a_trailing_empty_field_is_fine() {
        let input = "name,domain,industry\nA,a.com\nB,b.com,Retail,extra\nC,c.com,Retail,\nD,d.com,Retail\n";
        let (rows, errors, _) = accounts(input.as_bytes());
        let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["C", "D"]);
        assert_eq!(
            errors,
            vec![
                error(
                    1,
                    2,
                    "",
                    "has 2 fields but the header has 3 (is a quote unbalanced, or a line break \
                     inside an unquoted field?)"
                ),
                error(
                    2,
                    3,
                    "",
                    "has 4 fields but the header has 3: field 4 holds 'extra' and has no column \
                     (is a quote unbalanced or a separator unquoted?)"
                ),
            ]
        );
        assert_eq!(
            errors[0].to_string(),
            "row 1 (line 2): has 2 fields but the header has 3 (is a quote unbalanced, or a \
             line break inside an unquoted field?)"
        );
    }

    #[test]
    fn semicolon_files_from_european_excel_are_read_with_decimal_commas() {
        // European Excel separates with `;` and writes the decimal mark as a comma, so a dot
        // groups thousands and `1,200` could be either.
        let input = "name;stage;account_name;amount\nA;prospect;Acme;1.200,50\nB;prospect;Acme;1.200\nC;prospect;Acme;900\nD;prospect;Acme;1,200\n";
        let (rows, errors, _) = opportunities(input.as_bytes());
        assert_eq!(rows[0].amount, amount("1200.50"));
        assert_eq!(rows[1].amount, amount("1200"));
        assert_eq!(rows[2].amount, amount("900"));
        assert_eq!(
            errors,
            vec![error(
                4,
                5,
                "amount",
                "'1,200' is ambiguous (a thousands separator or a decimal point?); write it \
                 without a thousands separator, e.g. 1200 or 1.2"
            )]
        );
    }

    #[test]
    fn tab_separated_files_are_read_too() {
        let (rows, errors, _) = accounts(b"name\tdomain\nAcme, Inc.\tacme.com\n");
        assert_eq!(errors, vec![]);
        assert_eq!(rows[0].name, "Acme, Inc.");
    }

    #[test]
    fn amounts_read_us_european_and_currency_tagged_forms() {
        for (cell, want, want_currency) in [
            ("1200", "1200", None),
            ("$1,200.50", "1200.50", None),
            ("USD 1,200.50", "1200.50", Some("USD")),
            ("1,200,000", "1200000", None),
            ("1200,5", "1200.5", None),
            ("1.200,50 €", "1200.50", Some("EUR")),
            ("£900", "900", Some("GBP")),
            ("1.200.000", "1200000", None),
            ("1.5", "1.5", None),
            ("900 eur", "900", Some("EUR")),
            // Spaces (also no-break and narrow no-break) and apostrophes group thousands.
            ("1 200,50", "1200.50", None),
            ("1\u{a0}200,50\u{a0}€", "1200.50", Some("EUR")),
            ("1\u{202f}200,50", "1200.50", None),
            ("CHF 1'200.50", "1200.50", Some("CHF")),
            ("$ 1,200.50", "1200.50", None),
            ("US$1,200", "1200", Some("USD")),
            ("R$ 1.200,00", "1200.00", Some("BRL")),
            ("EUR1.200,00", "1200.00", Some("EUR")),
            ("1200.00 USD", "1200.00", Some("USD")),
            ("₹120,000", "120000", Some("INR")),
            ("0.125", "0.125", None),
            ("1234.567", "1234.567", None),
        ] {
            let (got, got_currency) = parse_amount(cell, false).unwrap();
            assert_eq!(Some(got), amount(want), "{cell}");
            assert_eq!(got_currency, want_currency.and_then(currency), "{cell}");
        }
        for (cell, message) in [
            (
                "1,2,3",
                "'1,2,3' is ambiguous: use a dot for decimals and commas only between \
                 thousands (1,200.50)",
            ),
            (
                "ten",
                "'ten' is not an amount (expected a number like 1200.50)",
            ),
            ("1.23456", "'1.23456' has more than 4 decimal places"),
            (
                "(1,200.00)",
                "'(1,200.00)' is negative; amounts must not be negative",
            ),
            (
                "1.200,00-",
                "'1.200,00-' is negative; amounts must not be negative",
            ),
            (
                "1.2M",
                "'1.2M' is abbreviated; write the whole amount (e.g. 1200000, not 1.2M)",
            ),
            (
                "15k",
                "'15k' is abbreviated; write the whole amount (e.g. 1200000, not 1.2M)",
            ),
            (
                "1.2E+06",
                "'1.2E+06' is in scientific notation, which may have lost digits; format the \
                 column as a number before exporting",
            ),
            ("€100 USD", "'€100 USD' names two currencies, USD and EUR"),
            (
                "1.200",
                "'1.200' is ambiguous (a thousands separator or a decimal point?); write it \
                 without a thousands separator, e.g. 1200 or 1.2",
            ),
            (
                "$1.500",
                "'$1.500' is ambiguous (a thousands separator or a decimal point?); write it \
                 without a thousands separator, e.g. 1200 or 1.2",
            ),
            (
                "1.2.3",
                "'1.2.3' is not an amount (expected a number like 1200.50)",
            ),
        ] {
            assert_eq!(parse_amount(cell, false).unwrap_err(), message, "{cell}");
        }
        // `1,200` is 1200 in a comma-separated file, ambiguous in a semicolon one.
        assert_eq!(
            parse_amount("1,200", false).unwrap().0,
            Amount::parse("1200").unwrap()
        );
        assert!(parse_amount("1,200", true).is_err());
        assert_eq!(
            parse_amount("1,2", true).unwrap().0,
            Amount::parse("1.2").unwrap()
        );
    }

    #[test]
    fn currency_cells_take_codes_names_and_symbols() {
        for (cell, code) in [
            ("usd", "USD"),
            (" EUR ", "EUR"),
            ("US Dollar", "USD"),
            ("Euro", "EUR"),
            ("Pound Sterling", "GBP"),
            ("€", "EUR"),
            ("£", "GBP"),
        ] {
            assert_eq!(parse_currency(cell).ok(), currency(code), "{cell}");
        }
        for cell in ["$", "dollars", "XYZ"] {
            assert!(parse_currency(cell).is_err(), "{cell}");
        }
    }

    #[test]
    fn dates_read_iso_us_european_named_months_and_excel_serials() {
        use DateOrder::{DayFirst, MonthFirst};
        for (cell, order, want) in [
            ("2026-11-23", MonthFirst, "2026-11-23"),
            ("2026/11/23", DayFirst, "2026-11-23"),
            ("2026.11.23", MonthFirst, "2026-11-23"),
            ("2026-11-23 10:00:00", MonthFirst, "2026-11-23"),
            ("2026-11-23T10:00:00Z", MonthFirst, "2026-11-23"),
            ("2026-11-23T10:00:00.000+02:00", MonthFirst, "2026-11-23"),
            ("11/23/2026", MonthFirst, "2026-11-23"),
            ("11/23/2026 10:00 AM", MonthFirst, "2026-11-23"),
            ("11/23/26", MonthFirst, "2026-11-23"),
            ("11-23-2026", MonthFirst, "2026-11-23"),
            ("03/04/2026", MonthFirst, "2026-03-04"),
            ("03/04/2026", DayFirst, "2026-04-03"),
            ("23/11/2026", DayFirst, "2026-11-23"),
            ("23.11.2026", MonthFirst, "2026-11-23"),
            ("3.4.2026", MonthFirst, "2026-04-03"),
            ("23.11.26", DayFirst, "2026-11-23"),
            ("Nov 23, 2026", MonthFirst, "2026-11-23"),
            ("November 23 2026", DayFirst, "2026-11-23"),
            ("Mon, Nov 23, 2026 10:00 AM", MonthFirst, "2026-11-23"),
            ("23 Nov 2026", MonthFirst, "2026-11-23"),
            ("23-Nov-2026", MonthFirst, "2026-11-23"),
            ("23-NOV-26", MonthFirst, "2026-11-23"),
            ("Sept 1, 2026", MonthFirst, "2026-09-01"),
            ("46349", MonthFirst, "2026-11-23"),
            ("1795392000", MonthFirst, "2026-11-23"),
            ("1795392000000", MonthFirst, "2026-11-23"),
        ] {
            assert_eq!(parse_date(cell, order).ok(), date(want), "{cell} {order:?}");
        }
        assert_eq!(
            parse_date("23/11/2026", MonthFirst).unwrap_err(),
            "'23/11/2026' is not a MM/DD/YYYY date (it reads as DD/MM/YYYY); write dates as \
             YYYY-MM-DD, or if the whole column is DD/MM/YYYY, import with --date-format \
             DD/MM/YYYY (API: ?date_format=DD/MM/YYYY) or name the column \
             \"Close Date (DD/MM/YYYY)\""
        );
        assert!(parse_date("11/23/2026", DayFirst)
            .unwrap_err()
            .contains("name the column \"Close Date (MM/DD/YYYY)\""));
        assert_eq!(
            parse_date("2026-02-30", MonthFirst).unwrap_err(),
            "'2026-02-30': 2026-02-30 is not a day of the calendar"
        );
        for cell in [
            "soon",
            "Q4 2026",
            "2026",
            "123",
            "99999",
            "11/23",
            "Nov 2026",
            "1/2/3/4",
            "11/23/2026 tomorrow",
            "31/31/2026",
        ] {
            let err = parse_date(cell, MonthFirst).unwrap_err();
            assert!(err.contains("is not a date"), "{cell}: {err}");
        }
    }

    #[test]
    fn date_order_follows_the_header_then_the_separator() {
        // Month first by default; day first in a semicolon file (European Excel); a header
        // naming its format wins.
        let (rows, errors, _) = opportunities(
            b"name,stage,account_name,close_date
X,prospect,A,03/04/2026
",
        );
        assert_eq!((rows[0].close_date, errors), (date("2026-03-04"), vec![]));
        let (rows, _, _) = opportunities(
            b"name;stage;account_name;close_date
X;prospect;A;03/04/2026
",
        );
        assert_eq!(rows[0].close_date, date("2026-04-03"));
        let (rows, errors, _) = opportunities(
            b"name,stage,account_name,Close Date (DD/MM/YYYY)
X,prospect,A,03/04/2026
Y,prospect,A,23/11/2026
",
        );
        assert_eq!(errors, vec![]);
        assert_eq!(rows[0].close_date, date("2026-04-03"));
        assert_eq!(rows[1].close_date, date("2026-11-23"));
        let (rows, _, _) = opportunities(
            b"name;stage;account_name;Close Date [mm/dd/yy]
X;prospect;A;03/04/26
",
        );
        assert_eq!(rows[0].close_date, date("2026-03-04"));
        // A caller's setting is used when the header does not say.
        let reader = read_opportunities_with(
            &b"name,stage,account_name,close_date
X,prospect,A,03/04/2026
"[..],
            ImportOptions {
                date_order: Some(DateOrder::DayFirst),
                ..ImportOptions::default()
            },
        )
        .unwrap();
        let rows: Vec<_> = reader.map(|r| r.unwrap().close_date).collect();
        assert_eq!(rows, [date("2026-04-03")]);
        assert_eq!(
            DateOrder::from_format("d.m.yyyy"),
            Some(DateOrder::DayFirst)
        );
        assert_eq!(DateOrder::from_format("USD"), None);
    }

    #[test]
    fn every_documented_stage_label_maps_in_any_case() {
        for &(label, stage) in STAGE_LABELS {
            assert_eq!(map_stage(label), Ok(stage), "{label}");
            assert_eq!(map_stage(&label.to_uppercase()), Ok(stage), "{label}");
        }
        let hubspot_internal_ids = [
            ("appointmentscheduled", Stage::Prospect),
            ("qualifiedtobuy", Stage::Qualified),
            ("presentationscheduled", Stage::TechnicalValidation),
            ("decisionmakerboughtin", Stage::BusinessValidation),
            ("contractsent", Stage::Committed),
            ("closedwon", Stage::Launched),
            ("closedlost", Stage::ClosedLost),
        ];
        for (id, stage) in hubspot_internal_ids {
            assert_eq!(map_stage(id), Ok(stage), "{id}");
        }
        for (label, stage) in [
            ("Closed Lost", Stage::ClosedLost),
            ("closed-won", Stage::Launched),
            (" Technical Validation ", Stage::TechnicalValidation),
            ("Closed won (Sales Pipeline)", Stage::Launched),
            ("Proposal / Price Quote", Stage::BusinessValidation),
        ] {
            assert_eq!(map_stage(label), Ok(stage), "{label}");
        }
        for stage in Stage::ALL {
            assert_eq!(map_stage(stage.as_str()), Ok(stage));
        }
        assert!(map_stage("Demo Done").is_err());
        assert!(map_stage("").is_err());
        assert!(map_stage("Clösed Won").is_err());
        assert!(map_stage(&"closed".repeat(40)).is_err());
    }

    #[test]
    fn stage_numbers_and_prefixes_are_ignored() {
        for (label, stage) in [
            ("1 - Prospecting", Stage::Prospect),
            ("Stage 3: Proposal", Stage::BusinessValidation),
            ("Stage 2 - Qualification", Stage::Qualified),
            ("10% - Prospecting", Stage::Prospect),
            ("2-Develop", Stage::TechnicalValidation),
            ("05. Negotiation/Review", Stage::Committed),
            ("Prospecting (10%)", Stage::Prospect),
            ("Closed Lost to Competition", Stage::ClosedLost),
            ("Proposal Made", Stage::BusinessValidation),
            ("Identify Decision Makers", Stage::TechnicalValidation),
        ] {
            assert_eq!(map_stage(label), Ok(stage), "{label}");
        }
        for label in ["1", "Stage 3", "3 -", "Stage 9: Custom Thing"] {
            assert!(map_stage(label).is_err(), "{label}");
        }
    }

    #[test]
    fn pipedrive_deals_map_prefixed_headers_and_the_won_lost_status() {
        let input = "Deal - ID,Deal - Title,Deal - Organization,Deal - Value,Deal - Currency,Deal - Stage,Deal - Status,Deal - Expected close date,Deal - Owner,Deal - Probability\n\
                     1,Acme rollout,Acme,\"1,200\",EUR,Proposal Made,open,2026-11-23,Jo,\n\
                     2,Globex pilot,Globex,500,USD,Negotiations Started,won,2026-10-01,Jo,\n\
                     3,Initech,Initech,0,USD,Contact Made,lost,,Jo,\n\
                     4,Umbrella,Umbrella,0,USD,,won,,Jo,\n\
                     5,Hooli,Hooli,0,USD,Demo Scheduled,deleted,,Jo,\n";
        let (rows, errors, ignored) = opportunities(input.as_bytes());
        assert_eq!(ignored, ["Deal - Probability"]);
        let got: Vec<_> = rows
            .iter()
            .map(|r| {
                (
                    r.external_id.as_deref(),
                    r.name.as_str(),
                    r.stage,
                    r.currency,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    Some("1"),
                    "Acme rollout",
                    Stage::BusinessValidation,
                    currency("EUR")
                ),
                (Some("2"), "Globex pilot", Stage::Launched, currency("USD")),
                (Some("3"), "Initech", Stage::ClosedLost, currency("USD")),
                (Some("4"), "Umbrella", Stage::Launched, currency("USD")),
            ]
        );
        assert_eq!(rows[0].amount, amount("1200"));
        assert_eq!(rows[0].account_name.as_deref(), Some("Acme"));
        assert_eq!(
            errors,
            vec![error(
                5,
                6,
                "Deal - Status",
                "'deleted' is not a deal status (expected open, won or lost)"
            )]
        );
        // Newer Pipedrive exports drop the `Deal - ` prefix.
        let (unprefixed, errors, _) = opportunities(
            b"ID,Title,Organization,Value,Currency,Stage,Status,Expected close date\n\
              9,Acme add-on,Acme,100,EUR,Proposal Made,Won,2026-11-23\n",
        );
        assert_eq!(errors, vec![]);
        assert_eq!(
            (
                unprefixed[0].name.as_str(),
                unprefixed[0].stage,
                unprefixed[0].amount
            ),
            ("Acme add-on", Stage::Launched, amount("100"))
        );
    }

    #[test]
    fn dynamics_and_zoho_exports_map_their_headers_and_stages() {
        let dynamics = "(Do Not Modify) Opportunity,(Do Not Modify) Row Checksum,(Do Not Modify) Modified On,Topic,Potential Customer,Est. Revenue,Currency,Est. Close Date,Pipeline Phase,Probability,Owner\n\
                        6d1f,x,11/1/2026 10:00 AM,Acme rollout,Acme,\"$1,200.00\",US Dollar,11/23/2026,2-Develop,30,Jo\n";
        let (rows, errors, ignored) = opportunities(dynamics.as_bytes());
        assert_eq!(errors, vec![]);
        assert_eq!(
            ignored,
            [
                "(Do Not Modify) Row Checksum",
                "(Do Not Modify) Modified On",
                "Probability"
            ]
        );
        let r = &rows[0];
        assert_eq!(
            (
                r.external_id.as_deref(),
                r.name.as_str(),
                r.account_name.as_deref()
            ),
            (Some("6d1f"), "Acme rollout", Some("Acme"))
        );
        assert_eq!(
            (r.stage, r.amount, r.currency, r.close_date),
            (
                Stage::TechnicalValidation,
                amount("1200"),
                currency("USD"),
                date("2026-11-23")
            )
        );
        let zoho =
            "Record Id,Deal Name,Account Name,Amount,Stage,Closing Date,Deal Owner,Currency\n\
                    zcrm_1,Acme rollout,Acme,1200,Identify Decision Makers,2026-11-23,Jo,EUR\n";
        let (rows, errors, _) = opportunities(zoho.as_bytes());
        assert_eq!(errors, vec![]);
        assert_eq!(rows[0].stage, Stage::TechnicalValidation);
        assert_eq!(rows[0].external_id.as_deref(), Some("zcrm_1"));
        // Zoho's older Potentials module.
        let potentials = "Potential Name,Account Name,Stage,Amount,Closing Date,Potential Owner\n\
                          Acme rollout,Acme,Qualification,1200,2026-11-23,Jo\n";
        let (rows, errors, ignored) = opportunities(potentials.as_bytes());
        assert_eq!(errors, vec![]);
        assert!(ignored.is_empty(), "{ignored:?}");
        assert_eq!(
            (rows[0].name.as_str(), rows[0].owner.as_deref()),
            ("Acme rollout", Some("Jo"))
        );
        let zoho_accounts = "Record Id,Account Name,Website,Account Type,Billing Country\n\
                             zcrm_9,Müller GmbH,www.mueller.de,Integrator,Germany\n\
                             zcrm_10,Initech,,Competitor,\n";
        let (rows, errors, _) = accounts(zoho_accounts.as_bytes());
        assert_eq!(errors, vec![]);
        assert_eq!(rows[0].status, Some(AccountStatus::Partner));
        assert_eq!(rows[1].status, Some(AccountStatus::Other));
        assert_eq!(rows[0].domain, domain("mueller.de"));
        let pipedrive_orgs =
            "Organization - ID,Organization - Name,Organization - Owner,Organization - Labels\n\
                              7,Acme,Jo,Hot\n";
        let (rows, errors, _) = accounts(pipedrive_orgs.as_bytes());
        assert_eq!(errors, vec![]);
        assert_eq!(
            (
                rows[0].external_id.as_deref(),
                rows[0].name.as_str(),
                rows[0].tags.clone()
            ),
            (Some("7"), "Acme", Some(vec!["Hot".to_string()]))
        );
    }

    #[test]
    fn a_currency_in_the_amount_header_applies_to_every_row() {
        let input = "name,stage,account_name,Amount (EUR),Amount (converted),Expected Revenue\n\
                     X,prospect,A,\"1.200,50\",9,9\nY,prospect,A,$5,9,9\nZ,prospect,A,£5,9,9\n";
        let (rows, errors, ignored) = opportunities(input.as_bytes());
        assert_eq!(ignored, ["Amount (converted)", "Expected Revenue"]);
        assert_eq!(rows[0].amount, amount("1200.50"));
        assert_eq!(rows[0].currency, currency("EUR"));
        // `$` is never EUR: a dollar amount under a euro header contradicts it like `£` does.
        assert_eq!(rows.len(), 1);
        assert_eq!(
            errors,
            vec![
                error(
                    2,
                    3,
                    "Amount (EUR)",
                    "'$5' is in $ (USD, CAD, AUD, NZD, SGD, HKD, MXN, ARS, CLP, COP, TWD) but \
                     the currency column says EUR"
                ),
                error(
                    3,
                    4,
                    "Amount (EUR)",
                    "'£5' is in GBP but the currency column says EUR"
                )
            ]
        );
    }

    #[test]
    fn excel_sep_line_names_the_separator_and_pipes_are_detected() {
        // The separator is sniffed from the first line that is not blank.
        let (rows, errors, _) =
            accounts(b"\xEF\xBB\xBF\r\n\r\n  \r\nname;domain\r\nAcme, Inc.;acme.com\r\n");
        assert_eq!(errors, vec![]);
        assert_eq!(rows[0].name, "Acme, Inc.");
        let (rows, errors, _) =
            accounts(b"sep=;\r\nname;domain\r\nAcme, Inc.;acme.com\r\nB;b.com;\r\n");
        assert_eq!(errors, vec![]);
        assert_eq!(rows[0].name, "Acme, Inc.");
        assert_eq!(rows.len(), 2);
        let (_, errors, _) = accounts(b"sep=,\nname,domain\nA,a.com,extra\n");
        assert_eq!(errors[0].line, 3, "the sep line counts as a line");
        // Quoted as a cell, as some tools write it (bug: read as the header).
        for first in [&b"\"sep=;\""[..], b"\"sep=;\";"] {
            let file = [first, b"\r\nname;domain\r\nAcme, Inc.;acme.com\r\n"].concat();
            let (rows, errors, _) = accounts(&file);
            assert_eq!(errors, vec![], "{}", String::from_utf8_lossy(first));
            assert_eq!(rows[0].name, "Acme, Inc.");
        }
        let (rows, errors, _) = accounts(b"name|domain\nAcme, Inc.|acme.com\n");
        assert_eq!(errors, vec![]);
        assert_eq!(rows[0].name, "Acme, Inc.");
    }

    #[test]
    fn formula_looking_cells_are_kept_as_text_and_excel_text_wrappers_unwrapped() {
        let input = b"external_id,name\n=\"00123\",\"=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"\n2,+1 555\n3,@SUM(A1)\n4,-2+3\n";
        let (rows, errors, _) = accounts(input);
        assert_eq!(errors, vec![]);
        let got: Vec<(Option<&str>, &str)> = rows
            .iter()
            .map(|r| (r.external_id.as_deref(), r.name.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (Some("00123"), "=HYPERLINK(\"http://x\",\"y\")"),
                (Some("2"), "+1 555"),
                (Some("3"), "@SUM(A1)"),
                (Some("4"), "-2+3"),
            ]
        );
    }

    #[test]
    fn a_row_longer_than_the_limit_stops_the_import_with_a_clear_error() {
        // An unbalanced quote swallows the rest of the file into one field.
        let mut input = b"name,domain\nAcme,acme.com\n\"Runaway,x\n".to_vec();
        let line = b"Zed,zed.com\n";
        while input.len() < ROW_BYTES_MAX + 3 * CSV_BUFFER_BYTES {
            input.extend_from_slice(line);
        }
        let reader = read_accounts(&input[..]).unwrap();
        let items: Vec<_> = reader.collect();
        assert_eq!(items.len(), 2);
        assert!(items[0].is_ok());
        let errors = items[1].as_ref().unwrap_err();
        assert_eq!((errors[0].row, errors[0].line), (2, 3));
        assert!(
            errors[0]
                .message
                .starts_with("is longer than 1 MiB; is a quote unbalanced?"),
            "{}",
            errors[0].message
        );
        // A long but legal cell in a column the import ignores is fine.
        let notes = "n".repeat(200_000);
        let input = format!("name,notes\nAcme,\"{notes}\"\n");
        let (rows, errors, _) = accounts(input.as_bytes());
        assert_eq!((rows.len(), errors), (1, vec![]));
    }

    #[test]
    fn files_that_are_not_csv_say_what_they_are() {
        let refused = |input: &[u8]| read_accounts(input).err().map(|e| e.to_string());
        let xlsx = b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00b\xee\x9dh^\x01\x00\x00\x90\x04\x00\x00\x13\x00\x08\x02[Content_Types].xml";
        assert_eq!(read_accounts(&xlsx[..]).err(), Some(ImportError::Workbook));
        assert_eq!(
            ImportError::Workbook.to_string(),
            "file is an Excel workbook, not CSV; in Excel use File > Save As > \"CSV UTF-8\""
        );
        for (input, starts) in [
            (&b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"[..], "file is an Excel workbook"),
            (
                b"PK\x03\x04\x14\x00\x00\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x0c\x00\x00\x00deals-1.csv",
                "file is a zip archive",
            ),
            (b"PK\x03\x04\x14\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x08\x00\x00\x00mimetype", "file is an OpenDocument"),
            (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", "file is a PDF"),
            (b"\x1f\x8b\x08\x00\x00\x00\x00\x00", "file is gzip-compressed"),
            (b"<!DOCTYPE html>\n<html>", "file is a web page"),
            (b"  <html><body>", "file is a web page"),
            (b"<?xml version=\"1.0\"?>\n<Workbook>", "file is XML"),
            (b"[{\"name\":\"Acme\"}]\n", "file is JSON"),
            (b"{\"results\":[]}", "file is JSON"),
            (b"na\x00me,domain\nAcme,acme.com\n", "line 1 has NUL bytes"),
            (&[0u8, 0, 0, 1, 2, 3][..], "line 1 has NUL bytes"),
        ] {
            let got = refused(input).unwrap_or_default();
            assert!(got.starts_with(starts), "{input:?}: {got}");
        }
        // A title line above a header that names no account name column: the error shows
        // what was taken for the header, the first line (see
        // `lines_with_text_above_the_header_are_skipped_and_reported`).
        assert_eq!(
            refused(b"Accounts export 2026-11-23\nid,domain\nA1,acme.com\n"),
            Some(
                "no column for the account name (expected one of: name, Account Name, Company \
                 name, Company, …); the header (line 1, comma-separated) reads: Accounts export \
                 2026-11-23"
                    .into()
            )
        );
    }

    #[test]
    fn lines_with_text_above_the_header_are_skipped_and_reported() {
        // A title line above the header: the header is the first line naming the account's
        // name; the title is skipped and reported, and lines keep the file's numbering.
        let mut reader =
            read_accounts(&b"Accounts export 2026-11-23\nname,domain\nAcme,acme.com\nB,\"x\n"[..])
                .expect("the header on line 2 is found");
        assert_eq!(reader.lines_above_header(), ["Accounts export 2026-11-23"]);
        let first = reader.next().expect("a row").expect("a good row");
        assert_eq!((first.row, first.name.as_str()), (1, "Acme"));
        assert_eq!(reader.next().expect("a row").map_err(|e| e[0].line), Err(4));

        // A Salesforce formatted report, and what HubSpot, Pipedrive and Excel leave: a title,
        // an export note, a blank line and a line of separators above the header. Only the
        // lines with text are reported; row errors name the file's real lines.
        let report = "Opportunities by Stage\r\n\
            \"Exported on 2026-11-02 by Jane\",,,,\r\n\
            \r\n\
            ,,,,\r\n\
            Opportunity Name,Account Name,Stage,Amount,Close Date\r\n\
            Acme platform,Acme,Closed Won,100,2026-01-15\r\n\
            Globex pilot,Globex,Someday,,\r\n";
        let mut reader = read_opportunities(report.as_bytes()).expect("header on line 5");
        assert_eq!(
            reader.lines_above_header(),
            ["Opportunities by Stage", "Exported on 2026-11-02 by Jane"]
        );
        let rows: Vec<_> = reader.by_ref().collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows[0].as_ref().map(|r| r.name.as_str()),
            Ok("Acme platform")
        );
        let errors = rows[1].clone().expect_err("an unknown stage");
        assert_eq!((errors[0].row, errors[0].line), (2, 7));
        assert_eq!(errors[0].column, "Stage");

        // A title above a `;`-separated header (European Excel): the separator is the
        // header's, even when the title holds a comma.
        let (rows, errors, _) = accounts(
            "Report: Q3, EMEA\nAccount Name;Website;Industry\nSociété, SA;societe.example;Banking\n"
                .as_bytes(),
        );
        assert_eq!(errors, vec![]);
        assert_eq!(rows[0].name, "Société, SA");
        assert_eq!(rows[0].industry, some("Banking"));
        // After Excel's `sep=;` line too.
        let (rows, errors, _) = accounts(b"sep=;\nCompanies\nname;domain\nAcme;acme.com\nB;b;x\n");
        assert_eq!(rows[0].name, "Acme");
        assert_eq!(errors[0].line, 5);

        // An opportunities header needs the name and an account column to be found; found,
        // the rest of the header check names its own line.
        assert_eq!(
            read_opportunities(&b"Pipeline\nDeal Name,Company,Amount\nX,Acme,1\n"[..])
                .err()
                .map(|e| e.to_string()),
            Some(
                "no column for the stage (expected one of: stage, Deal Stage, Stage Name, \
                 Opportunity Stage, …); the header (line 2, comma-separated) reads: Deal Name | \
                 Company | Amount"
                    .into()
            )
        );

        // The header is looked for among the first lines with text only: one below them
        // is not found, and the error shows the first line, as when no line names the columns.
        let titles = "Title\n".repeat(HEADER_SEARCH_LINES);
        let late = format!("{titles}name,domain\nAcme,acme.com\n");
        let refused = read_accounts(late.as_bytes()).err().map(|e| e.to_string());
        assert!(
            refused
                .is_some_and(|e| e.ends_with("the header (line 1, comma-separated) reads: Title")),
            "{late}"
        );
        let titles = "Title\n\n".repeat(HEADER_SEARCH_LINES - 1);
        let last = format!("{titles}name,domain\nAcme,acme.com\n");
        let mut reader = read_accounts(last.as_bytes()).expect("the 10th line with text");
        assert_eq!(reader.lines_above_header().len(), HEADER_SEARCH_LINES - 1);
        assert_eq!(
            reader.next().and_then(Result::ok).map(|r| r.name),
            some("Acme")
        );

        // Only title-like lines are passed over: a header without a name column is not
        // skipped for a row below it that happens to read like one (`Company`).
        let refused = read_accounts(
            &b"Firma,Website,Type\nAcme,acme.com,Customer\nCompany,c.com,Other\n"[..],
        )
        .err()
        .map(|e| e.to_string());
        assert!(refused.is_some_and(
            |e| e.ends_with("(line 1, comma-separated) reads: Firma | Website | Type")
        ),);
        // A file with no text at all is empty.
        assert_eq!(
            read_accounts(&b"\n,,,\n;;\n"[..])
                .err()
                .map(|e| e.to_string()),
            Some("the file is empty (expected a header row naming the columns)".into())
        );
        // A file that starts right at its header skips nothing.
        let reader = read_accounts(&b"name\nAcme\n"[..]).expect("header");
        assert!(reader.lines_above_header().is_empty());

        // Lone-CR line ends (Excel for Mac): lines are estimated from the header's.
        let (_, errors, _) = accounts(b"Accounts\rname,domain\rA,a.com\rB,b.com,x\r");
        assert_eq!((errors[0].row, errors[0].line), (2, 4));
    }

    #[test]
    fn blank_rows_trailing_empty_cells_and_varied_header_spelling_are_accepted() {
        let input = b"\xEF\xBB\xBF\"Account Name \",ACCOUNT NAME,account_name,\" Website\",,\r\n\r\nAcme,x,y,ACME.COM,,\r\n,,,,,\r\n\r\n  ;  \r\nGlobex,x,y,info@globex.com,,,,\r\n\r\n\r\n";
        let (rows, errors, ignored) = accounts(input);
        assert_eq!(errors.len(), 1, "{errors:?}");
        // `  ;  ` is a row with one non-empty cell: too few fields.
        assert_eq!((errors[0].row, errors[0].line), (2, 6));
        assert_eq!(ignored, ["ACCOUNT NAME", "account_name"]);
        let got: Vec<(&str, Option<Domain>)> = rows
            .iter()
            .map(|r| (r.name.as_str(), r.domain.clone()))
            .collect();
        assert_eq!(
            got,
            [
                ("Acme", domain("acme.com")),
                ("Globex", domain("globex.com"))
            ]
        );
        assert_eq!(rows[1].row, 3);
    }

    #[test]
    fn every_documented_status_label_maps() {
        for &(label, status) in STATUS_LABELS {
            assert_eq!(map_status(label), Ok(status), "{label}");
        }
        for (label, status) in [
            ("Customer", AccountStatus::Customer),
            ("marketingqualifiedlead", AccountStatus::Prospect),
            ("salesqualifiedlead", AccountStatus::Prospect),
            ("Other", AccountStatus::Other),
            ("Prospect", AccountStatus::Prospect),
            ("Partner", AccountStatus::Partner),
        ] {
            assert_eq!(map_status(label), Ok(status), "{label}");
        }
        assert!(map_status("Former Customer").is_err());
    }

    #[test]
    fn aliases_are_unambiguous_within_each_file_kind() {
        for fields in [ACCOUNT_FIELDS, OPPORTUNITY_FIELDS] {
            let mut seen = std::collections::HashSet::new();
            for spec in fields {
                assert_eq!(spec.aliases[0], spec.name);
                for alias in spec.aliases {
                    assert!(seen.insert(header_key(alias)), "{alias} appears twice");
                }
            }
        }
        for table in [
            normalized_table(STAGE_LABELS)
                .into_iter()
                .map(|(k, _)| k)
                .collect::<Vec<_>>(),
            normalized_table(STATUS_LABELS)
                .into_iter()
                .map(|(k, _)| k)
                .collect(),
        ] {
            let unique: std::collections::HashSet<_> = table.iter().collect();
            assert_eq!(unique.len(), table.len());
        }
    }

    #[test]
    fn tags_split_and_empty_tag_cells_are_none() {
        let (rows, _, _) = accounts(b"name,tags\nA,\"emea; strategic, emea\"\nB,\" ; \"\n");
        assert_eq!(
            rows[0].tags,
            Some(vec!["emea".to_string(), "strategic".to_string()])
        );
        assert_eq!(rows[1].tags, None);
    }

    /// Goal: the example files under examples/ import cleanly and agree with each other (every
    /// opportunity names an account of its companion file), so a newcomer's first import works.
    #[test]
    fn example_files_import_cleanly_and_reference_each_other() {
        let pairs: [(&str, &str); 2] = [
            (
                include_str!(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/../examples/salesforce-accounts.csv"
                )),
                include_str!(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/../examples/salesforce-opportunities.csv"
                )),
            ),
            (
                include_str!(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/../examples/hubspot-companies.csv"
                )),
                include_str!(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/../examples/hubspot-deals.csv"
                )),
            ),
        ];
        for (accounts_csv, opportunities_csv) in pairs {
            let (accounts, errors, _) = accounts(accounts_csv.as_bytes());
            assert_eq!(errors, vec![]);
            assert!(accounts.len() >= 20);
            let ids: std::collections::HashSet<_> = accounts
                .iter()
                .filter_map(|a| a.external_id.clone())
                .collect();
            assert_eq!(ids.len(), accounts.len());
            let (opportunities, errors, _) = opportunities(opportunities_csv.as_bytes());
            assert_eq!(errors, vec![]);
            assert!(opportunities.len() >= 20);
            for o in &opportunities {
                let listed = o.account_external_id.as_ref().expect("account id");
                for id in listed.split(';') {
                    assert!(ids.contains(id), "row {}: unknown account {id}", o.row);
                }
            }
        }
    }

    /// Generates `rows` account rows on the fly, so the test holds no file in memory.
    struct Generated {
        rows: u64,
        next: u64,
        pending: Vec<u8>,
    }

    impl Read for Generated {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.pending.is_empty() {
                if self.next > self.rows {
                    return Ok(0);
                }
                self.pending = if self.next == 0 {
                    b"external_id,name,country\r\n".to_vec()
                } else {
                    format!("ext-{0},\"Company {0}, Ltd.\",Norway\r\n", self.next).into_bytes()
                };
                self.next += 1;
            }
            let n = buf.len().min(self.pending.len());
            buf[..n].copy_from_slice(&self.pending[..n]);
            self.pending.drain(..n);
            Ok(n)
        }
    }

    #[test]
    fn a_large_file_streams_row_by_row() {
        let rows = 200_000;
        let reader = read_accounts(Generated {
            rows,
            next: 0,
            pending: Vec::new(),
        })
        .unwrap();
        let mut count = 0;
        let mut last = 0;
        for item in reader {
            let row = item.unwrap();
            count += 1;
            last = row.row;
        }
        assert_eq!(count, rows);
        assert_eq!(last, rows);
    }

    #[test]
    fn a_read_error_mid_file_fails_the_import() {
        struct Broken(Vec<u8>);
        impl Read for Broken {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0.is_empty() {
                    return Err(io::Error::other("connection reset"));
                }
                let n = buf.len().min(self.0.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0.drain(..n);
                Ok(n)
            }
        }
        let reader = read_accounts(Broken(b"name\nAcme\nGlob".to_vec())).unwrap();
        let items: Vec<_> = reader.collect();
        assert_eq!(items.len(), 2);
        assert!(items[0].is_ok());
        let errors = items[1].as_ref().unwrap_err();
        assert_eq!(
            errors[0].message,
            "could not read the file: connection reset"
        );
    }

    #[test]
    fn nul_padding_and_a_ctrl_z_end_of_file_mark_are_blank() {
        let (rows, errors, _) = accounts(b"name,domain\r\nAcme,acme.com\r\n\x1A");
        assert_eq!((rows.len(), errors), (1, vec![]));
        let (rows, errors, _) = accounts(b"name,domain\nAcme,acme.com\n\0\0\0\0");
        assert_eq!((rows.len(), errors), (1, vec![]));
        // A NUL inside a value is still refused.
        let (_, errors, _) = accounts(b"name,domain\nAc\0me,acme.com\n");
        assert_eq!(
            errors,
            vec![error(1, 2, "name", "contains control characters")]
        );
    }

    #[test]
    fn placeholders_repeated_headers_and_domain_lists_are_understood() {
        // `#N/A`, `N/A`, `NULL`, `-` in typed columns are no value; `$ -` is Excel's accounting
        // zero; a header repeated mid-file (concatenated exports) is skipped; a domain cell
        // listing several takes the first.
        let input = "name,stage,account_name,amount,close_date,currency,Website\n\
                     A,prospect,Acme,#N/A,N/A,NULL,\"acme.com; acme.de\"\n\
                     name,stage,account_name,amount,close_date,currency,Website\n\
                     B,prospect,Acme,$ -,-,,-\n\
                     C,-,Acme,,,,\n";
        let (rows, errors, _) = opportunities(input.as_bytes());
        assert_eq!(
            errors,
            vec![error(
                3,
                5,
                "stage",
                "is empty; every opportunity needs a stage"
            )]
        );
        assert_eq!(rows.len(), 2);
        let a = &rows[0];
        assert_eq!(
            (a.amount, a.close_date, a.currency, a.account_domain.clone()),
            (None, None, None, domain("acme.com"))
        );
        let b = &rows[1];
        assert_eq!((b.row, b.amount, b.close_date), (2, amount("0"), None));
        assert_eq!(b.account_domain, None);
    }

    /// Goal: docs/import.md lists every header alias and every stage and status label the code
    /// accepts, so the user-facing tables cannot drift from the code.
    /// Reads an opportunities file with options, like [`opportunities`].
    fn opportunities_with(
        input: &[u8],
        options: ImportOptions,
    ) -> (Vec<OpportunityRow>, Vec<RowError>) {
        let reader = read_opportunities_with(input, options).expect("header accepted");
        let (mut rows, mut errors) = (Vec::new(), Vec::new());
        for item in reader {
            match item {
                Ok(row) => rows.push(row),
                Err(e) => errors.extend(e),
            }
        }
        (rows, errors)
    }

    #[test]
    fn invisible_characters_and_no_break_spaces_around_values_are_trimmed() {
        // Copy-paste from a web page leaves zero-width and no-break spaces around and inside
        // values; they are not part of the value, and a stage or status with a no-break space
        // between its words is still that stage.
        let input = "\u{200b}name\u{a0},\u{feff}account_name,stage,amount,account_domain\n\
                     Deal\u{200b},\u{200b}Acme\u{a0},Closed\u{a0}Won\u{200b},1200\u{200b},acme.com\u{200b}\n";
        let (rows, errors, _) = opportunities(input.as_bytes());
        assert_eq!(errors, vec![]);
        assert_eq!(rows[0].name, "Deal");
        assert_eq!(rows[0].account_name, some("Acme"));
        assert_eq!(rows[0].stage, Stage::Launched);
        assert_eq!(rows[0].amount, amount("1200"));
        assert_eq!(rows[0].account_domain, domain("acme.com"));
        let (rows, errors, _) = accounts(
            "name,status\n\u{200b}\u{a0},customer\nAcme,Channel\u{a0}Partner / Reseller\n"
                .as_bytes(),
        );
        assert_eq!(
            errors,
            vec![error(1, 2, "name", "is empty; every account needs a name")]
        );
        assert_eq!(rows[0].status, Some(AccountStatus::Partner));
        // Inside a name a no-break space is a space and a zero-width one nothing, so the name
        // matches the one written with plain spaces; free text keeps them.
        let (rows, errors, _) = opportunities(
            "name,account_name,stage,description\nA\u{a0}B,Acme\u{a0}Co\u{200b}rp,won,x\u{a0}y\n"
                .as_bytes(),
        );
        assert_eq!(errors, vec![]);
        assert_eq!(
            (rows[0].name.as_str(), rows[0].account_name.as_deref()),
            ("A B", Some("Acme Corp"))
        );
        assert_eq!(rows[0].description, some("x\u{a0}y"));
        // Other non-ASCII letters still match nothing: `Qualifié` is not `Qualifi`.
        assert!(map_stage("Qualifié").is_err());
    }

    #[test]
    fn a_leading_apostrophe_is_excels_text_marker_in_typed_cells_and_ids() {
        let input = "Opportunity ID,Account ID,name,stage,amount,close_date,owner,next_step\n\
                     '00123,'0042,'Tis the season,'Closed Won,'1200,'2026-01-15,'Jo,'=SUM(A1)\n";
        let (rows, errors, _) = opportunities(input.as_bytes());
        assert_eq!(errors, vec![]);
        let row = &rows[0];
        assert_eq!(row.external_id, some("00123"));
        assert_eq!(row.account_external_id, some("0042"));
        assert_eq!(row.stage, Stage::Launched);
        assert_eq!(row.amount, amount("1200"));
        assert_eq!(row.close_date, date("2026-01-15"));
        // Text may start with an apostrophe; only the guard before a formula-looking value
        // (`'=`, `'+`, `'-`, `'@`, as exports write to keep it from being evaluated) goes.
        assert_eq!(row.name, "'Tis the season");
        assert_eq!(row.owner, some("'Jo"));
        assert_eq!(row.next_step, some("=SUM(A1)"));
    }

    #[test]
    fn excel_error_values_are_row_errors_in_any_cell() {
        let input = "name,account_name,stage,amount,close_date,next_step\n\
                     A,Acme,won,#VALUE!,#DIV/0!,#REF!\nB,#NAME?,won,1,,\n";
        let (rows, errors, _) = opportunities(input.as_bytes());
        assert_eq!(rows, vec![]);
        let why = |v: &str| {
            format!(
                "'{v}' is an Excel error value (a formula that failed); fix the formula or \
                 clear the cell in the spreadsheet, then export again"
            )
        };
        assert_eq!(
            errors,
            vec![
                error(1, 2, "amount", &why("#VALUE!")),
                error(1, 2, "close_date", &why("#DIV/0!")),
                error(1, 2, "next_step", &why("#REF!")),
                error(2, 3, "account_name", &why("#NAME?")),
            ]
        );
    }

    #[test]
    fn placeholders_in_ids_and_optional_text_are_no_value() {
        // A `NULL` id would make every such row the same record; a `N/A` owner is nobody.
        let input = "Account ID,name,industry,country,owner\n\
                     NULL,Acme,(blank),N/A,-\n#N/A,N/A,nan,--,null\n";
        let (rows, errors, _) = accounts(input.as_bytes());
        assert_eq!(errors, vec![]);
        for row in &rows {
            assert_eq!(
                (&row.external_id, &row.industry, &row.country, &row.owner),
                (&None, &None, &None, &None)
            );
        }
        // A required name is never guessed to be missing: `N/A` is kept as written.
        assert_eq!(rows[1].name, "N/A");
        // pandas' `NaN` is no value; `Nan` is a name.
        let (rows, _, _) = accounts(
            "name,owner
A,NaN
B,Nan
"
            .as_bytes(),
        );
        assert_eq!((&rows[0].owner, &rows[1].owner), (&None, &some("Nan")));
    }

    #[test]
    fn ids_in_scientific_notation_are_refused() {
        // Excel shows a long number such as a HubSpot record id as 1.23457E+11 and saves it
        // that way: the digits are gone, and different records would get one id.
        let input = "Record ID,Associated Company IDs,Deal Name,Deal Stage\n\
                     1.23457E+11,9876543210,A,closedwon\n1234567890,9.87654E+09,B,closedwon\n";
        let (rows, errors, _) = opportunities(input.as_bytes());
        assert_eq!(rows, vec![]);
        let why = |v: &str| {
            format!(
                "'{v}' is an id Excel shortened to scientific notation, so different ids would \
                 look alike; export again from the CRM, or in Excel format the column as Text \
                 before saving"
            )
        };
        assert_eq!(
            errors,
            vec![
                error(1, 2, "Record ID", &why("1.23457E+11")),
                error(2, 3, "Associated Company IDs", &why("9.87654E+09")),
            ]
        );
        // Ids that merely contain an E are ids.
        assert!(!is_scientific("0015g00000E1AAA"));
        assert!(!is_scientific("1E"));
    }

    #[test]
    fn a_zero_before_a_decimal_comma_is_never_a_thousands_separator() {
        // `0,125` groups nothing: it is 0.125 in any file (it used to read as 125).
        for semicolons in [false, true] {
            assert_eq!(
                parse_amount("0,125", semicolons).unwrap().0,
                Amount::parse("0.125").unwrap()
            );
        }
        // An en dash before a number is a minus sign too.
        assert_eq!(
            parse_amount("–1200", false).unwrap_err(),
            "'–1200' is negative; amounts must not be negative"
        );
    }

    #[test]
    fn ambiguous_currency_symbols_must_agree_with_the_currency_or_the_default() {
        // `¥` is JPY or CNY, `kr` SEK, NOK, DKK or ISK, `$` a dozen currencies: without a
        // currency column the node's default currency (USD unless set) would apply, which is
        // only right when the symbol can mean it.
        let input = "name,account_name,stage,amount\nA,X,won,\"¥120,000\"\nB,X,won,1 200 kr\n\
                     C,X,won,\"$1,200\"\n";
        let (rows, errors, _) = opportunities(input.as_bytes());
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].amount, rows[0].currency), (amount("1200"), None));
        assert_eq!(
            errors,
            vec![
                error(
                    1,
                    2,
                    "amount",
                    "'¥120,000' does not say which currency (¥ may be JPY, CNY) and the default \
                     currency is USD; add a currency column, or write the code, e.g. JPY 120000"
                ),
                error(
                    2,
                    3,
                    "amount",
                    "'1 200 kr' does not say which currency (kr may be SEK, NOK, DKK, ISK) and \
                     the default currency is USD; add a currency column, or write the code, e.g. \
                     SEK 1200"
                ),
            ]
        );
        // A node whose default is EUR refuses `$`, and accepts `kr` with a currency column.
        let options = ImportOptions {
            default_currency: currency("EUR"),
            ..ImportOptions::default()
        };
        let (_, errors) = opportunities_with(input.as_bytes(), options);
        assert_eq!(errors.len(), 3);
        let (rows, errors) = opportunities_with(
            "name,account_name,stage,amount,currency\nB,X,won,1 200 kr,SEK\nC,X,won,$5,JPY\n"
                .as_bytes(),
            options,
        );
        assert_eq!(rows[0].currency, currency("SEK"));
        assert_eq!(
            errors,
            vec![error(
                2,
                3,
                "amount",
                "'$5' is in $ (USD, CAD, AUD, NZD, SGD, HKD, MXN, ARS, CLP, COP, TWD) but the \
                 currency column says JPY"
            )]
        );
        // A currency cell holding only an ambiguous symbol says what to write instead.
        assert_eq!(
            parse_currency("¥").unwrap_err(),
            "'¥' names no single currency (¥ may be JPY, CNY); write its ISO code, e.g. JPY"
        );
    }

    #[test]
    fn excel_serial_datetimes_and_compact_dates_are_read() {
        let read = |s: &str| parse_date(s, DateOrder::MonthFirst);
        // A date-time column formatted as a number: the fraction is the time of day.
        assert_eq!(read("46349.375"), Ok(Date::parse("2026-11-23").unwrap()));
        // YYYYMMDD, as ERP exports write it.
        assert_eq!(read("20261123"), Ok(Date::parse("2026-11-23").unwrap()));
        assert!(read("20261323").is_err());
        assert!(read("12345678").is_err());
        assert!(read("46349.").is_err());
    }

    #[test]
    fn salesforce_report_type_headers_name_object_and_field() {
        // Custom report types prefix each column with its object. The opportunity's own
        // fields, its owner's name and its account's name, id and website are used; the
        // account's owner and other account fields are not the opportunity's.
        let input = "Opportunity: Opportunity Name,Account Name: Account Name,Account: Account ID,\
                     Account: Website,Opportunity: Stage,Opportunity Owner: Full Name,\
                     Account Owner: Full Name,Account: Industry,Opportunity: Amount\n\
                     Deal,Acme,001A,www.acme.com,Closed Won,Jane,Sam,Retail,100\n";
        let (rows, errors, ignored) = opportunities(input.as_bytes());
        assert_eq!(errors, vec![]);
        assert_eq!(ignored, ["Account Owner: Full Name", "Account: Industry"]);
        let row = &rows[0];
        assert_eq!(
            (
                row.name.as_str(),
                row.account_name.as_deref(),
                row.account_external_id.as_deref(),
                row.account_domain.clone(),
                row.owner.as_deref(),
                row.amount
            ),
            (
                "Deal",
                Some("Acme"),
                Some("001A"),
                domain("acme.com"),
                Some("Jane"),
                amount("100")
            )
        );
        let input = "Account: Account Name,Account: Website,Account Owner: Full Name,\
                     Parent Account: Account Name,Account: Type\nAcme,acme.com,Jane,Holding,Customer\n";
        let (rows, errors, ignored) = accounts(input.as_bytes());
        assert_eq!(errors, vec![]);
        assert_eq!(ignored, ["Parent Account: Account Name"]);
        assert_eq!(rows[0].name, "Acme");
        assert_eq!(rows[0].owner, some("Jane"));
        assert_eq!(rows[0].status, Some(AccountStatus::Customer));
    }

    #[test]
    fn a_currency_symbol_or_time_zone_in_a_header_is_a_unit() {
        let input = "name,account_name,stage,Amount (€),Close Date (UTC)\nA,X,won,\"1.200,50\",2026-01-15\n";
        let (rows, errors, ignored) = opportunities(input.as_bytes());
        assert_eq!((errors, ignored), (vec![], Vec::<String>::new()));
        assert_eq!(rows[0].currency, currency("EUR"));
        assert_eq!(rows[0].amount, amount("1200.50"));
        assert_eq!(rows[0].close_date, date("2026-01-15"));
        // `$` names no single currency: the column is the amount, its cells decide.
        let (rows, errors, _) = opportunities(
            "name,account_name,stage,Amount ($)\nA,X,won,5\nB,X,won,CAD 5\n".as_bytes(),
        );
        assert_eq!(errors, vec![]);
        assert_eq!(
            (rows[0].currency, rows[1].currency),
            (None, currency("CAD"))
        );
    }

    #[test]
    fn personal_email_and_social_profile_websites_are_refused_as_domains() {
        // The domain is the key accounts match on; gmail.com or linkedin.com would make
        // unrelated companies one account.
        let input = "name,domain\nA,jane@gmail.com\nB,https://www.linkedin.com/company/b-corp\n\
                     C,info@c.com\nLinkedIn,https://www.linkedin.com/\nD,sites.google.com/view/d\n";
        let (rows, errors, _) = accounts(input.as_bytes());
        let names: Vec<_> = rows
            .iter()
            .map(|r| (r.name.as_str(), r.domain.clone()))
            .collect();
        assert_eq!(
            names,
            [("C", domain("c.com")), ("LinkedIn", domain("linkedin.com"))]
        );
        assert_eq!(
            errors,
            vec![
                error(
                    1,
                    2,
                    "domain",
                    "'jane@gmail.com' is a personal email address; gmail.com is not the \
                     company's domain (write the company's website, or clear the value)"
                ),
                error(
                    2,
                    3,
                    "domain",
                    "'https://www.linkedin.com/company/b-corp' is a page on linkedin.com, not \
                     the company's own website (write the company's website, or clear the value)"
                ),
                error(
                    5,
                    6,
                    "domain",
                    "'sites.google.com/view/d' is a page on sites.google.com, not the company's \
                     own website (write the company's website, or clear the value)"
                ),
            ]
        );
    }

    #[test]
    fn a_probability_after_a_stage_is_ignored() {
        assert_eq!(map_stage("Closed Won - 100%"), Ok(Stage::Launched));
        assert_eq!(map_stage("Prospecting 10%"), Ok(Stage::Prospect));
        assert!(map_stage("100%").is_err());
    }

    #[test]
    fn a_named_date_format_is_parsed_or_refused_listing_the_accepted_ones() {
        assert_eq!(
            DateOrder::parse_setting("DD/MM/YYYY"),
            Ok(DateOrder::DayFirst)
        );
        assert_eq!(
            DateOrder::parse_setting("mm-dd-yy"),
            Ok(DateOrder::MonthFirst)
        );
        assert_eq!(
            DateOrder::parse_setting("YYYY-MM-DD"),
            Ok(DateOrder::YearFirst)
        );
        assert_eq!(
            DateOrder::parse_setting("European"),
            Err(
                "'European' is not a date format this import knows; use DD/MM/YYYY (day \
                 first), MM/DD/YYYY (month first) or YYYY-MM-DD"
                    .to_string()
            )
        );
        // An ISO file: a date whose day and month could be either is refused, not guessed; one
        // that reads one way only is read; and a `Close Date (YYYY-MM-DD)` header is the close
        // date column.
        let options = ImportOptions {
            date_order: Some(DateOrder::YearFirst),
            ..ImportOptions::default()
        };
        let input = "name,account_name,stage,close_date\nA,X,won,2026-04-03\nB,X,won,23/11/2026\n\
                     C,X,won,03/04/2026\n";
        let (rows, errors) = opportunities_with(input.as_bytes(), options);
        let dates: Vec<_> = rows.iter().map(|r| r.close_date).collect();
        assert_eq!(dates, [date("2026-04-03"), date("2026-11-23")]);
        assert_eq!(
            errors,
            vec![error(
                3,
                4,
                "close_date",
                "'03/04/2026' is not a YYYY-MM-DD date, and its day and month could be either; \
                 write it as YYYY-MM-DD, or name the file's date format with --date-format \
                 (API: ?date_format=) DD/MM/YYYY or MM/DD/YYYY"
            )]
        );
        let (rows, _, ignored) = opportunities(
            "name,account_name,stage,Close Date (YYYY-MM-DD)\nA,X,won,2026-04-03\n".as_bytes(),
        );
        assert_eq!((rows[0].close_date, ignored), (date("2026-04-03"), vec![]));
    }

    #[test]
    fn no_cents_dashes_and_indian_grouping_are_amounts() {
        let read = |s: &str| parse_amount(s, false).map(|(a, _)| a.to_string());
        // `,-` and `.–` are German and Swiss for "no cents", not a minus sign.
        assert_eq!(read("1.200,- €"), Ok("1200".to_string()));
        assert_eq!(read("1'200.–"), Ok("1200".to_string()));
        assert_eq!(read("1200,-"), Ok("1200".to_string()));
        // SAP's trailing minus is still negative.
        assert!(read("1.200,00-").unwrap_err().contains("negative"));
        // Lakh and crore grouping (India) reads one way only.
        assert_eq!(read("12,34,567.50"), Ok("1234567.5".to_string()));
        assert_eq!(read("₹1,23,456"), Ok("123456".to_string()));
        assert!(read("12,34,56").is_err());
    }

    #[test]
    fn numeric_ids_written_as_floats_are_the_integer_and_an_na_name_is_an_error() {
        // pandas writes an integer column with gaps as floats: `9001.0` is id 9001.
        let input = "Opportunity ID,Name,Account ID,Stage\n9001.0,A,101.00,won\n\
                     9002,#N/A,101,won\n";
        let (rows, errors, _) = opportunities(input.as_bytes());
        assert_eq!(
            (
                rows[0].external_id.as_deref(),
                rows[0].account_external_id.as_deref()
            ),
            (Some("9001"), Some("101"))
        );
        assert_eq!(
            errors,
            vec![error(
                2,
                3,
                "Name",
                "is '#N/A', Excel's \"not found\" (a lookup formula that found nothing); every \
                 opportunity needs a name"
            )]
        );
    }

    #[test]
    fn each_id_of_a_hubspot_associated_company_list_is_checked_and_kept() {
        // HubSpot's `Associated Company IDs` lists every company of a deal, `;`-separated:
        // each id is read like a single one (pandas' floats, spaces, empty parts), all
        // are kept for the importer to link the one that is an account, and one that Excel
        // shortened is an error, as alone.
        let input = "Deal Name,Deal Stage,Associated Company IDs,Associated Company\n\
                     A,won,\" 9001.0 ; 9002;;\",Acme Inc;Globex\n\
                     B,won,9003;1.23457E+11,\n\
                     C,won,9004,\n";
        let (rows, errors, _) = opportunities(input.as_bytes());
        let got: Vec<_> = rows
            .iter()
            .map(|r| (r.account_external_id.as_deref(), r.account_name.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                (Some("9001;9002"), Some("Acme Inc;Globex")),
                (Some("9004"), None)
            ]
        );
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(
            (errors[0].row, errors[0].column.as_str()),
            (2, "Associated Company IDs")
        );
        assert!(
            errors[0].message.contains("scientific notation"),
            "{errors:?}"
        );
    }

    #[test]
    fn a_mac_excel_csv_with_lone_cr_line_ends_is_read_as_mac_roman() {
        // Excel for Mac's "CSV (Macintosh)": lone CR line ends and Mac OS Roman bytes, where
        // 0x8E is é (Windows-1252 would read Ž).
        let (rows, errors, _) =
            accounts(b"Account Name,Industry\rSoci\x8Et\x8E G\x8En\x8Erale,Caf\x8E\r");
        assert_eq!(errors, vec![]);
        assert_eq!(rows[0].name, "Société Générale");
        assert_eq!(rows[0].industry, some("Café"));
        // UTF-8 with lone CRs stays UTF-8; Windows-1252 with CRLF stays Windows-1252.
        let (rows, _, _) = accounts("name\rSociété\r".as_bytes());
        assert_eq!(rows[0].name, "Société");
        // One stray byte in such a file does not turn its UTF-8 letters into Mac Roman.
        let (rows, _, _) = accounts(
            "name\rSociété\rA\u{0}"
                .as_bytes()
                .iter()
                .map(|&b| if b == 0 { 0xE9 } else { b })
                .collect::<Vec<u8>>()
                .as_slice(),
        );
        assert_eq!(
            (rows[0].name.as_str(), rows[1].name.as_str()),
            ("Société", "Aé")
        );
        let (rows, _, _) = accounts(b"name\r\nSoci\xE9t\xE9\r\n");
        assert_eq!(rows[0].name, "Société");
    }

    #[test]
    fn east_asian_dates_currency_picklist_labels_and_hubspot_stage_ids() {
        let read = |s: &str| parse_date(s, DateOrder::MonthFirst);
        let day = Ok(Date::parse("2026-01-15").unwrap());
        assert_eq!(read("2026年1月15日"), day);
        assert_eq!(read("2026年01月15日 10:00"), day);
        assert_eq!(read("2026. 1. 15."), day);
        assert!(read("2026年13月15日").is_err());
        // Salesforce and Dynamics picklist labels: the code, then its name.
        assert_eq!(parse_currency("USD - U.S. Dollar"), Ok(Currency::USD));
        assert_eq!(
            parse_currency("EUR (Euro)"),
            currency("EUR").ok_or(String::new())
        );
        assert_eq!(
            parse_currency("EUR - US Dollar").unwrap_err(),
            "'EUR - US Dollar' names two currencies, EUR and USD"
        );
        // … or its name, then the code.
        assert_eq!(parse_currency("US Dollar (USD)"), Ok(Currency::USD));
        assert_eq!(
            parse_currency("Euro (EUR)"),
            currency("EUR").ok_or(String::new())
        );
        assert_eq!(
            parse_currency("Euro (USD)").unwrap_err(),
            "'Euro (USD)' names two currencies, EUR and USD"
        );
        // A custom HubSpot pipeline's stage id says what it is.
        assert!(map_stage("12345678").unwrap_err().ends_with(
            "a number is a custom pipeline's stage id (HubSpot): export the stage \
                        labels, or replace the ids with the stages they stand for"
        ));
    }

    #[test]
    fn docs_list_every_alias_and_label() {
        let docs =
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/import.md")).to_lowercase();
        let aliases = ACCOUNT_FIELDS
            .iter()
            .chain(OPPORTUNITY_FIELDS)
            .flat_map(|f| f.aliases.iter().copied());
        let labels = STAGE_LABELS
            .iter()
            .map(|(l, _)| *l)
            .chain(STATUS_LABELS.iter().map(|(l, _)| *l));
        for name in aliases.chain(labels) {
            assert!(
                docs.contains(&name.to_lowercase()),
                "docs/import.md does not mention {name}"
            );
        }
    }

    #[test]
    fn a_line_break_or_tab_inside_a_name_is_one_space() {
        // Bug: "Acme\nCorp" was stored with its line break and never matched "Acme Corp".
        let (rows, errors, _) = accounts(
            b"Account Name,Website,Account Owner\n\"Acme\r\n  Corp\",acme.com,\"Jane\tDoe\"\n",
        );
        assert_eq!(errors, vec![]);
        assert_eq!(rows[0].name, "Acme Corp");
        assert_eq!(rows[0].owner.as_deref(), Some("Jane Doe"));
    }

    #[test]
    fn the_plain_us_amount_shortcut_takes_the_common_forms_and_leaves_the_rest() {
        let read = |s: &str| plain_us_amount(s).map(|a| a.ten_thousandths());
        assert_eq!(read("12,345.50"), Some(123_455_000));
        assert_eq!(read("1200"), Some(12_000_000));
        assert_eq!(read("1,200,000.5"), Some(12_000_005_000));
        assert_eq!(read("0.99"), Some(9_900));
        for other in [
            "1.200",
            "1,2345",
            "12,34",
            ",123",
            "1.2345",
            "1,200,",
            "",
            ".5",
            "99999999999999999999",
        ] {
            assert_eq!(read(other), None, "{other}");
        }
    }

    proptest! {
        #[test]
        fn the_plain_amount_shortcut_reads_a_cell_as_the_full_search_does(
            cell in "[ ]?[$]?[0-9.,]{0,12}[ ]?"
        ) {
            // Goal: skipping the currency search for `12,345.50` and `$12,345.50` changes no
            // result, only the time.
            prop_assert_eq!(strip_currency(&cell), strip_currency_marks(&cell, cell.trim()));
        }

        #[test]
        fn the_plain_us_amount_shortcut_reads_a_cell_as_the_general_path_does(
            cell in "[0-9]{0,4}(,[0-9]{0,4}){0,3}(\\.[0-9]{0,3})?|[0-9]{1,20}(\\.[0-9]{1,2})?|[0-9]{1,3}(,[0-9]{3}){0,3}(\\.[0-9]{1,2})?"
        ) {
            // Goal: the allocation-free reading of `12,345.50` changes no result, only the time.
            if let Some(fast) = plain_us_amount(&cell) {
                prop_assert_eq!(Ok((fast, None)), parse_amount_body(&cell, &cell, None, false));
            }
        }

        #[test]
        fn value_parsers_never_panic(cell in "\\PC{0,40}", semicolons in any::<bool>()) {
            let _ = parse_amount(&cell, semicolons);
            let _ = parse_date(&cell, DateOrder::MonthFirst);
            let _ = parse_date(&cell, DateOrder::DayFirst);
            let _ = parse_currency(&cell);
            let _ = map_stage(&cell);
            let _ = map_outcome(&cell);
            let _ = map_status(&cell);
            let _ = split_unit(&cell);
            let _ = DateOrder::from_format(&cell);
            let _ = first_listed(&cell);
        }

        #[test]
        fn decoding_does_not_depend_on_how_reads_split_the_input(
            body in prop::collection::vec(
                prop_oneof![
                    Just(b"a".to_vec()), Just(b",".to_vec()), Just(b"\n".to_vec()),
                    Just(b"\r\n".to_vec()), Just(b"\"".to_vec()), Just("é".as_bytes().to_vec()),
                    Just("😀".as_bytes().to_vec()), Just(b"\xE9".to_vec()), Just(b"\x80".to_vec()),
                    Just(b"\xC3".to_vec()), Just(b"\xF0\x9F".to_vec()),
                ],
                0..60,
            ),
            utf16 in any::<bool>(),
        ) {
            let mut input = b"name,owner\n".to_vec();
            input.extend(body.concat());
            if utf16 {
                let text = String::from_utf8_lossy(&input).into_owned();
                input = b"\xFF\xFE".to_vec();
                input.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
            }
            let collect = |items: Vec<Result<AccountRow, Vec<RowError>>>| {
                items
                    .into_iter()
                    .map(|r| r.map(|a| (a.name, a.owner)))
                    .collect::<Vec<_>>()
            };
            let whole = collect(read_accounts(&input[..]).unwrap().collect());
            let bytewise = collect(read_accounts(OneByte(input.clone(), 0)).unwrap().collect());
            prop_assert_eq!(whole, bytewise);
        }

        #[test]
        fn arbitrary_bytes_never_panic_either_reader(input in prop::collection::vec(any::<u8>(), 0..2048)) {
            if let Ok(reader) = read_accounts(&input[..]) {
                for item in reader {
                    let _ = item;
                }
            }
            if let Ok(reader) = read_opportunities(&input[..]) {
                for item in reader {
                    let _ = item;
                }
            }
        }

        #[test]
        fn csv_like_input_never_panics_and_numbers_rows_in_order(
            body in "[a-z0-9,;\"\r\n\t .$€/-]{0,400}"
        ) {
            let input = format!("name,stage,account_name,amount,close_date,Website\n{body}");
            let reader = read_opportunities(input.as_bytes()).unwrap();
            let mut last_row = 0;
            let mut last_line = 1;
            for item in reader {
                let (row, line) = match item {
                    Ok(r) => (r.row, None),
                    Err(e) => (e[0].row, Some(e[0].line)),
                };
                prop_assert!(row > last_row);
                last_row = row;
                if let Some(line) = line {
                    prop_assert!(line > last_line);
                    last_line = line;
                }
            }
        }
    }

    #[test]
    fn a_salesforce_id_has_a_15_and_an_18_character_form() {
        assert_eq!(
            salesforce_id_other_form("0015000000Gv7qJ").as_deref(),
            Some("0015000000Gv7qJAAR")
        );
        assert_eq!(
            salesforce_id_other_form("0015000000Gv7qJAAR").as_deref(),
            Some("0015000000Gv7qJ")
        );
        // The suffix is case-insensitive; a wrong one is not a Salesforce id.
        assert_eq!(
            salesforce_id_other_form("0015000000Gv7qJaar").as_deref(),
            Some("0015000000Gv7qJ")
        );
        assert_eq!(salesforce_id_other_form("0015000000Gv7qJAAA"), None);
        // An 18-character id upper- or lower-cased by a spreadsheet: its suffix restores the
        // case (bug: it linked to nothing).
        for flattened in ["0015000000GV7QJAAR", "0015000000gv7qjaar"] {
            assert_eq!(
                salesforce_case_restored(flattened).as_deref(),
                Some("0015000000Gv7qJ"),
                "{flattened}"
            );
            assert_eq!(
                salesforce_id_other_form(flattened).as_deref(),
                Some("0015000000Gv7qJ")
            );
        }
        // A suffix that marks a digit as a capital is no Salesforce checksum.
        assert_eq!(salesforce_case_restored("0015000000GV7QJBAR"), None);
        assert_eq!(salesforce_id_other_form("ACC000000001"), None);
        assert_eq!(salesforce_id_other_form("0015000000-v7qJ"), None);
    }

    #[test]
    fn a_dynamics_status_column_is_the_records_state_and_relationship_type_wins_over_it() {
        // Dynamics 365's `Status` is Active or Inactive (the record's state): no account status.
        let (rows, errors, _) = accounts(b"Account Name,Status\nAcme,Active\nGlobex,Inactive\n");
        assert_eq!(errors, []);
        assert_eq!(
            rows.iter().map(|r| r.status).collect::<Vec<_>>(),
            [None, None]
        );
        // Its `Relationship Type` holds the real status and wins over `Status`, which is ignored.
        let (rows, errors, ignored) = accounts(
            b"(Do Not Modify) Account,Account Name,Status,Relationship Type\n\
              A1,Acme,Active,Customer\n\
              A2,Globex,Inactive,Reseller\n",
        );
        assert_eq!(errors, []);
        assert_eq!(
            rows.iter().map(|r| r.status).collect::<Vec<_>>(),
            [Some(AccountStatus::Customer), Some(AccountStatus::Partner)]
        );
        assert_eq!(ignored, ["Status"]);
        // A status column holding anything else is still read as the account status.
        let (rows, _, _) = accounts(b"Account Name,Status\nAcme,Customer\n");
        assert_eq!(rows[0].status, Some(AccountStatus::Customer));
    }

    #[test]
    fn text_limits_count_characters_so_a_salesforce_length_description_and_accented_names_fit() {
        // Salesforce's Description holds 32,000 characters; in UTF-8 each may take 4 bytes.
        let description = "𝄞".repeat(TEXT_CHARS_MAX);
        let name = "é".repeat(300);
        let input = format!(
            "Opportunity Name,Account Name,Stage,Description\n{name},Acme,Prospecting,{description}\n"
        );
        let (rows, errors, _) = opportunities(input.as_bytes());
        assert_eq!(errors, []);
        assert_eq!(rows[0].name, name);
        assert_eq!(rows[0].description.as_deref(), Some(description.as_str()));
        // One character more is refused, saying the unit.
        let input = format!(
            "Opportunity Name,Account Name,Stage,Description\nBig,Acme,Prospecting,{description}x\n"
        );
        let (_, errors, _) = opportunities(input.as_bytes());
        assert_eq!(
            errors,
            [error(1, 2, "Description", "longer than 32000 characters")]
        );
    }

    #[test]
    fn a_header_ending_in_a_separator_does_not_make_rows_one_field_short() {
        let (rows, errors, ignored) =
            accounts(b"Account ID,Account Name,Website,\nTC1,n,tc1.com\nTC2,m,tc2.com,\n");
        assert_eq!(errors, []);
        assert_eq!(ignored, Vec::<String>::new());
        assert_eq!(
            rows.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
            ["n", "m"]
        );
        assert_eq!(rows[0].domain, domain("tc1.com"));
        // A row short of a named column is still an error.
        let (_, errors, _) = accounts(b"Account ID,Account Name,Website,\nTC1,n\n");
        assert_eq!(
            errors,
            [error(
                1,
                2,
                "",
                "has 2 fields but the header has 3 (is a quote unbalanced, or a line break \
                 inside an unquoted field?)"
            )]
        );
    }

    #[test]
    fn a_field_named_by_two_columns_is_read_from_the_second_where_the_first_is_empty() {
        // Bug: `…,Amount,Amount` with `,500` imported no amount: the second column was ignored
        // outright. HubSpot company exports have both `Company Domain Name` and `Website URL`.
        let (rows, errors, ignored) = accounts(
            b"Account Name,Website URL,Company Domain Name\nAcme,,acme.com\nBeta,beta.com,other.com\n",
        );
        assert_eq!(errors, []);
        let domains: Vec<Option<&str>> = rows
            .iter()
            .map(|r| r.domain.as_ref().map(|d| d.as_str()))
            .collect();
        assert_eq!(
            domains,
            [Some("acme.com"), Some("beta.com")],
            "the first column wins"
        );
        assert_eq!(ignored, ["Company Domain Name"]);
        let (rows, errors, _) = opportunities(
            b"Opportunity Name,Account ID,Stage,Amount,Amount,Currency\nBig,A1,Qualification,,500,USD\n",
        );
        assert_eq!(errors, []);
        assert_eq!(
            rows[0].amount.map(|a| a.to_string()).as_deref(),
            Some("500")
        );
    }

    #[test]
    fn a_salesforce_footer_may_start_with_the_report_title_or_grand_totals() {
        let data =
            "\"Account Name\",\"Type\"\r\n\"Acme\",\"Customer\"\r\n\"Globex\",\"Prospect\"\r\n\r\n";
        let copyright = "\"Copyright (c) 2000-2026 salesforce.com, inc. All rights reserved.\"\r\n";
        let rest = "\"Confidential Information - Do Not Distribute\"\r\n\
            \"Generated By:  Jane Doe  3/14/2026 9:41 AM\"\r\n\"Acme Vendor\"\r\n";
        for footer in [
            format!("\"All Accounts\"\r\n{copyright}{rest}"),
            format!("{copyright}{rest}"),
            format!("\"Grand Totals (2 records)\"\r\n\r\n\"All Accounts\"\r\n{copyright}{rest}"),
        ] {
            let (rows, errors, _) = accounts(format!("{data}{footer}").as_bytes());
            assert_eq!(errors, [], "{footer}");
            assert_eq!(rows.len(), 2, "{footer}");
        }
        // Strict: a one-cell line that no footer marker follows is still a (short) row, whether
        // data or the end of the file comes next, and the rows after it keep their numbers.
        let short = "has 1 fields but the header has 2 (is a quote unbalanced, or a line break \
                     inside an unquoted field?)";
        let (rows, errors, _) =
            accounts(b"Account Name,Type\nAcme,Customer\nAll Accounts\nGlobex,Prospect\nTail\n");
        assert_eq!(errors, [error(2, 3, "", short), error(4, 5, "", short)]);
        assert_eq!(
            rows.iter()
                .map(|r| (r.row, r.name.as_str()))
                .collect::<Vec<_>>(),
            [(1, "Acme"), (3, "Globex")]
        );
        // Excel pads every line of a saved report to the header's width: the footer still is one.
        let padded = "Account Name,Type,Website\r\nAcme,Customer,acme.com\r\n,,\r\n\
            \"All Accounts\",,\r\n\"Confidential Information - Do Not Distribute\",,\r\n\
            \"Copyright (c) 2000-2026 salesforce.com, inc. All rights reserved.\",,\r\n";
        let (rows, errors, _) = accounts(padded.as_bytes());
        assert_eq!(errors, [], "{padded}");
        assert_eq!(rows.len(), 1, "{padded}");
        // A padded line that no footer follows is a row like any other (here: a name only).
        let (rows, errors, _) = accounts(b"Account Name,Type\nAcme,Customer\nSolo Co,\n");
        assert_eq!(errors, []);
        assert_eq!(rows.len(), 2);
        // `Grand Totals` without a record count is no marker.
        let (_, errors, _) = accounts(b"Account Name,Type\nAcme,Customer\nGrand Totals (all)\n");
        assert_eq!(errors, [error(2, 3, "", short)]);
    }

    #[test]
    fn a_totals_row_after_the_data_is_a_footer_but_an_account_named_total_before_data_is_a_row() {
        for totals in [
            "\"Total\",\"\",\"\"",
            "Totals,,",
            "GRAND TOTAL,,",
            ",Grand Totals,",
            "Total",
            // With the sums a report puts beside the label.
            "\"Grand Total\",\"\",\"$96,200.50\"",
            "Total (2 records),,\"USD 1,200.00\"",
            "Subtotal,,(300)",
        ] {
            let input = format!("Account ID,Account Name,Website\nA1,Acme,acme.com\n{totals}\n\n");
            let (rows, errors, _) = accounts(input.as_bytes());
            assert_eq!(errors, [], "{totals}");
            assert_eq!(rows.len(), 1, "{totals}: {rows:?}");
        }
        // Followed by data, it is a row: only a trailing totals row is a footer.
        let (rows, errors, _) = accounts(b"Account Name,Website\nTotal,\nAcme,acme.com\nTotal,\n");
        assert_eq!(errors, []);
        assert_eq!(
            rows.iter()
                .map(|r| (r.row, r.name.as_str()))
                .collect::<Vec<_>>(),
            [(1, "Total"), (2, "Acme")]
        );
        // A totals label with a value beside it is data.
        let (rows, _, _) = accounts(b"Account Name,Website\nAcme,acme.com\nTotal,total.com\n");
        assert_eq!(rows.len(), 2);
    }
}
