//! CSV import, the pure half: turns a CRM export (a Salesforce report, a HubSpot export, or a file
//! with cosell's own column names) into validated account and opportunity rows, one row at a time.
//! No storage and no HTTP here: the caller streams the rows into one transaction and commits only
//! if no row failed (all or nothing).
//!
//! Streaming: the file is read through one `csv::Reader` and one reused `ByteRecord`, so memory
//! stays flat whatever the number of rows. The column → field index is built once from the header.
//!
//! Numbering, used in every [`RowError`]: `row` is the 1-based data row, counting neither the
//! header nor rows whose cells are all empty (skipped); `line` is the 1-based physical line of the
//! file where the row starts (the header is line 1), exact even with quoted newlines, blank lines
//! and CRLF. docs/import.md is the user-facing description (aliases, stage and status tables).

use protocol::records::{
    clean_text, parse_tags, AccountStatus, Amount, Currency, Date, Domain, Stage, NAME_BYTES_MAX,
    TEXT_BYTES_MAX,
};
use std::fmt;
use std::io::{self, Chain, Cursor, Read};
use std::sync::OnceLock;

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
    /// The file starts with a UTF-16 byte order mark, or its header has NUL bytes.
    #[error("file is UTF-16; save it as UTF-8 (in Excel: \"CSV UTF-8\")")]
    Utf16,
    /// The file is an Excel workbook (xlsx or xls), not CSV.
    #[error("file is an Excel workbook, not CSV; save it as \"CSV UTF-8\"")]
    Workbook,
    /// The header is not valid UTF-8. (Non-UTF-8 bytes in a data row are a [`RowError`] naming
    /// the row and column, so the import fails too.)
    #[error("line {line} is not UTF-8 text; save the file as UTF-8 (in Excel: \"CSV UTF-8\")")]
    NotUtf8 {
        /// 1-based line of the header.
        line: u64,
    },
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
/// field or the cell is empty; [`AccountReader::fields`] tells which, so an upsert can keep
/// stored values for fields the file does not have and clear those it has empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRow {
    /// The row's number (see [`RowError::row`]).
    pub row: u64,
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
/// else exact name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpportunityRow {
    /// The row's number (see [`RowError::row`]).
    pub row: u64,
    /// The CRM's id, the key imports upsert on.
    pub external_id: Option<String>,
    /// The account's CRM id (the first one when HubSpot lists several, `;`-separated).
    pub account_external_id: Option<String>,
    /// The account's normalized domain.
    pub account_domain: Option<Domain>,
    /// The account's name.
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
}

/// Opens an accounts file and maps its header. Fails when the file is not UTF-8 CSV or has no
/// column for the account name.
pub fn read_accounts<R: Read>(input: R) -> Result<AccountReader<R>, ImportError> {
    let (rows, columns) = Rows::open(input, ACCOUNT_FIELDS)?;
    let missing = missing(&columns, ACCOUNT_FIELDS, &[A::Name as usize]);
    if !missing.is_empty() {
        return Err(ImportError::Header(missing));
    }
    Ok(AccountReader { rows, columns })
}

/// Opens an opportunities file and maps its header. Fails when the file is not UTF-8 CSV or has
/// no column for the name, the stage, or any account reference (id, domain or name).
pub fn read_opportunities<R: Read>(input: R) -> Result<OpportunityReader<R>, ImportError> {
    let (rows, columns) = Rows::open(input, OPPORTUNITY_FIELDS)?;
    let mut problems = vec![missing(
        &columns,
        OPPORTUNITY_FIELDS,
        &[O::Name as usize, O::Stage as usize],
    )];
    let references = [O::AccountExternalId, O::AccountDomain, O::AccountName];
    if references.iter().all(|&f| columns[f as usize].is_none()) {
        problems.push(
            "no column for the account (expected Account ID, account domain or Account Name, \
             e.g. account_external_id, Website, Company name, Associated Company)"
                .to_string(),
        );
    }
    problems.retain(|p| !p.is_empty());
    if !problems.is_empty() {
        return Err(ImportError::Header(problems.join("; ")));
    }
    Ok(OpportunityReader {
        rows,
        columns,
        last_line: 0,
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
    let found = lookup(table, label).or_else(|| lookup(table, without_pipeline?));
    found.ok_or_else(|| {
        format!(
            "'{}' is not a known stage (use an ACE stage: prospect, qualified, \
             technical_validation, business_validation, committed, launched, closed_lost; \
             or a Salesforce or HubSpot default stage)",
            label.trim()
        )
    })
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
];

impl<R: Read> AccountReader<R> {
    /// Header texts of the columns this import does not use (unknown, or a second column for a
    /// field already mapped), in file order.
    pub fn ignored_columns(&self) -> &[String] {
        &self.rows.ignored
    }

    /// Canonical names of the fields the file has a column for (`external_id`, `domain`, …).
    pub fn fields(&self) -> Vec<&'static str> {
        present_fields(&self.columns, ACCOUNT_FIELDS)
    }

    /// Bytes of the file read so far (for progress).
    pub fn bytes_read(&self) -> u64 {
        self.rows.csv.get_ref().bytes
    }
}

impl<R: Read> OpportunityReader<R> {
    /// Header texts of the columns this import does not use, in file order.
    pub fn ignored_columns(&self) -> &[String] {
        &self.rows.ignored
    }

    /// Canonical names of the fields the file has a column for (`amount`, `close_date`, …).
    pub fn fields(&self) -> Vec<&'static str> {
        present_fields(&self.columns, OPPORTUNITY_FIELDS)
    }

    /// Bytes of the file read so far (for progress).
    pub fn bytes_read(&self) -> u64 {
        self.rows.csv.get_ref().bytes
    }

    /// The file line where the row last returned by `next()` starts, for errors the caller
    /// finds later (an account reference that matches nothing).
    pub fn last_line(&self) -> u64 {
        self.last_line
    }
}

impl<R: Read> Iterator for AccountReader<R> {
    type Item = Result<AccountRow, Vec<RowError>>;

    fn next(&mut self) -> Option<Self::Item> {
        let (row, line) = match self.rows.next_record()? {
            Ok(at) => at,
            Err(errors) => return Some(Err(errors)),
        };
        let c = &self.columns;
        let mut cells = Cells::new(&self.rows, row, line);
        let name = cells.required(c[A::Name as usize], "name", "every account needs a name");
        let external_id = cells.text(c[A::ExternalId as usize], "external_id", NAME_BYTES_MAX);
        let domain = cells.value(c[A::Domain as usize], |s| {
            Domain::parse(s).map_err(|e| e.message().to_string())
        });
        let industry = cells.text(c[A::Industry as usize], "industry", NAME_BYTES_MAX);
        let country = cells.text(c[A::Country as usize], "country", NAME_BYTES_MAX);
        let status = cells.value(c[A::Status as usize], map_status);
        let owner = cells.text(c[A::Owner as usize], "owner", NAME_BYTES_MAX);
        let tags = cells.tags(c[A::Tags as usize]);
        Some(cells.finish().map(|()| AccountRow {
            row,
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
        let c = &self.columns;
        let semicolons = self.rows.delimiter == b';';
        let mut cells = Cells::new(&self.rows, row, line);
        let external_id = cells.text(c[O::ExternalId as usize], "external_id", NAME_BYTES_MAX);
        let (account_external_id, account_domain, account_name) = account_reference(&mut cells, c);
        let name = cells.required(
            c[O::Name as usize],
            "name",
            "every opportunity needs a name",
        );
        let stage = cells.value(c[O::Stage as usize], map_stage);
        if stage.is_none() && cells.get(c[O::Stage as usize]).is_none() {
            cells.empty(c[O::Stage as usize], "every opportunity needs a stage");
        }
        let (amount, currency) = amount_and_currency(&mut cells, c, semicolons);
        let close_date = cells.value(c[O::CloseDate as usize], |s| {
            Date::parse(s).map_err(|e| e.message().to_string())
        });
        let owner = cells.text(c[O::Owner as usize], "owner", NAME_BYTES_MAX);
        let next_step = cells.text(c[O::NextStep as usize], "next_step", TEXT_BYTES_MAX);
        let description = cells.text(c[O::Description as usize], "description", TEXT_BYTES_MAX);
        let tags = cells.tags(c[O::Tags as usize]);
        let result = cells.finish();
        Some(match (result, stage) {
            (Ok(()), Some(stage)) => Ok(OpportunityRow {
                row,
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
        ],
    },
    FieldSpec {
        name: "industry",
        what: "the industry",
        aliases: &["industry", "Account Industry"],
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
        ],
    },
    FieldSpec {
        name: "owner",
        what: "the owner",
        aliases: &["owner", "Account Owner", "Company owner", "Owner Name"],
    },
    FieldSpec {
        name: "tags",
        what: "the tags",
        aliases: &["tags", "Labels", "Tag"],
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
        ],
    },
    FieldSpec {
        name: "amount",
        what: "the amount",
        aliases: &["amount", "Deal Amount", "Opportunity Amount"],
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
        ],
    },
    FieldSpec {
        name: "close_date",
        what: "the close date",
        aliases: &["close_date", "Expected Close Date", "Closing Date"],
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
        ],
    },
    FieldSpec {
        name: "next_step",
        what: "the next step",
        aliases: &["next_step", "Next Steps"],
    },
    FieldSpec {
        name: "description",
        what: "the description",
        aliases: &["description", "Opportunity Description", "Deal Description"],
    },
    FieldSpec {
        name: "tags",
        what: "the tags",
        aliases: &["tags", "Labels", "Tag"],
    },
];

/// Maps each field to the first header column that names it; other columns are ignored.
fn map_header(headers: &[String], fields: &[FieldSpec]) -> (Vec<Option<usize>>, Vec<String>) {
    let mut columns = vec![None; fields.len()];
    let mut ignored = Vec::new();
    for (i, header) in headers.iter().enumerate() {
        let key = header_key(header);
        if key.is_empty() {
            // A column with no header text carries nothing we could name; skip it quietly.
            continue;
        }
        let field = fields
            .iter()
            .position(|f| f.aliases.iter().any(|a| header_key(a) == key));
        match field {
            Some(f) if columns[f].is_none() => columns[f] = Some(i),
            _ => ignored.push(header.clone()),
        }
    }
    (columns, ignored)
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

fn normalized_table<T: Copy>(labels: &[(&str, T)]) -> Vec<(Box<[u8]>, T)> {
    labels
        .iter()
        .map(|(label, value)| (header_key(label).into_bytes().into_boxed_slice(), *value))
        .collect()
}

/// Finds `label` in a normalized table without allocating: the key (ASCII letters and digits,
/// lowercased) is built on the stack.
fn lookup<T: Copy>(table: &[(Box<[u8]>, T)], label: &str) -> Option<T> {
    let mut key = [0u8; LABEL_KEY_BYTES_MAX];
    let mut n = 0;
    for b in label.bytes() {
        if b.is_ascii_alphanumeric() {
            *key.get_mut(n)? = b.to_ascii_lowercase();
            n += 1;
        } else if !b.is_ascii() {
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
/// unambiguous symbol in the amount cell; a contradiction is an error on the amount.
fn amount_and_currency(
    cells: &mut Cells<'_>,
    c: &[Option<usize>],
    semicolons: bool,
) -> (Option<Amount>, Option<Currency>) {
    let amount_column = c[O::Amount as usize];
    let currency = cells.value(c[O::Currency as usize], |s| {
        Currency::parse(s).map_err(|e| e.message().to_string())
    });
    let Some(cell) = cells.get(amount_column) else {
        return (None, currency);
    };
    match parse_amount(cell, semicolons) {
        Ok((amount, named)) => match (currency, named) {
            (Some(column), Some(named)) if column != named => {
                let message =
                    format!("'{cell}' is in {named} but the currency column says {column}");
                cells.error(amount_column, message);
                (None, currency)
            }
            _ => (Some(amount), currency.or(named)),
        },
        Err(message) => {
            cells.error(amount_column, message);
            (None, currency)
        }
    }
}

/// Parses an amount as CRMs and spreadsheets write it, returning the currency the cell names
/// (`USD 1,200.50`, `1200 EUR`, `€900`, `£900`; `$` and `¥` name no single currency).
///
/// Separators: when both `.` and `,` appear, the last one is the decimal point (`1,200.50`,
/// `1.200,50`); a lone `,` followed by other than three digits is a decimal comma (`1200,50`);
/// several `.` in groups of three are thousands (`1.200.000`). In a semicolon-separated file
/// (European Excel), `1.200` could be 1200 or 1.2, so it is refused rather than guessed.
fn parse_amount(cell: &str, semicolons: bool) -> Result<(Amount, Option<Currency>), String> {
    let s = cell.trim();
    let normalized = normalize_separators(s, semicolons)?;
    let amount =
        Amount::parse(normalized.as_deref().unwrap_or(s)).map_err(|e| match Amount::parse(s) {
            Err(original) => original.message().to_string(),
            Ok(_) => e.message().to_string(),
        })?;
    Ok((amount, currency_in_amount(s)))
}

/// Rewrites `s` to the `1200.50` form when its separators are not the US ones; `None` when
/// `Amount::parse` reads it as it is.
fn normalize_separators(s: &str, semicolons: bool) -> Result<Option<String>, String> {
    let last_comma = s.rfind(',');
    let last_dot = s.rfind('.');
    let digits_after = |i: usize| s[i + 1..].bytes().take_while(u8::is_ascii_digit).count();
    match (last_comma, last_dot) {
        (Some(comma), dot) if !matches!(dot, Some(d) if d > comma) => {
            if dot.is_some() || digits_after(comma) != 3 {
                // 1.200,50 or 1200,5: a decimal comma.
                if s.matches(',').count() > 1 {
                    return Err(format!(
                        "'{s}' is not an amount (expected a number like 1200.50)"
                    ));
                }
                Ok(Some(s.replace('.', "").replace(',', ".")))
            } else {
                Ok(None)
            }
        }
        (None, Some(dot)) => {
            let dots = s.matches('.').count();
            let groups_of_three = s
                .split('.')
                .skip(1)
                .all(|g| g.bytes().take_while(u8::is_ascii_digit).count() == 3);
            if dots > 1 && groups_of_three {
                Ok(Some(s.replace('.', "")))
            } else if semicolons && dots == 1 && digits_after(dot) == 3 {
                Err(format!(
                    "'{s}' is ambiguous (1200 or 1.2?); write it without a thousands separator"
                ))
            } else {
                Ok(None)
            }
        }
        _ => Ok(None),
    }
}

/// The currency an amount cell names by ISO code (first or last three letters) or by an
/// unambiguous symbol.
fn currency_in_amount(s: &str) -> Option<Currency> {
    let letters = |t: &str| t.len() == 3 && t.bytes().all(|b| b.is_ascii_alphabetic());
    let head: String = s.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
    let tail_start = s
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_ascii_alphabetic())
        .last()
        .map(|(i, _)| i);
    if letters(&head) {
        return Currency::parse(&head).ok();
    }
    if let Some(tail) = tail_start.map(|i| &s[i..]).filter(|t| letters(t)) {
        return Currency::parse(tail).ok();
    }
    if s.contains('€') {
        return Currency::parse("EUR").ok();
    }
    if s.contains('£') {
        return Currency::parse("GBP").ok();
    }
    None
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
    if references.iter().all(|&col| cells.get(col).is_none()) {
        let present: Vec<usize> = references.iter().flatten().copied().collect();
        let names: Vec<&str> = present.iter().map(|&i| cells.header(i)).collect();
        let message = format!("no account: give {}", or_list(&names));
        cells.error(present.first().copied(), message);
        return (None, None, None);
    }
    // HubSpot lists every associated company id, `;`-separated; the first is the primary.
    let id = cells
        .get(id_column)
        .and_then(|s| s.split(';').map(str::trim).find(|s| !s.is_empty()));
    let external_id = match clean_text("account_external_id", id, NAME_BYTES_MAX) {
        Ok(v) => v,
        Err(e) => {
            cells.error(id_column, e.message);
            None
        }
    };
    let domain = cells.value(domain_column, |s| {
        Domain::parse(s).map_err(|e| e.message().to_string())
    });
    let name = cells.text(name_column, "account_name", NAME_BYTES_MAX);
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
// Rows: the CSV layer shared by both readers

/// Bytes read from the start of the file to sniff encoding and delimiter (at most up to the
/// first newline).
const SNIFF_BYTES_MAX: usize = 64 * 1024;
/// The CSV reader's buffer. Larger than the default 8 KiB: fewer reads on big files.
const CSV_BUFFER_BYTES: usize = 64 * 1024;

/// The file as the CSV reader sees it: the sniffed prefix, then the rest.
type Source<R> = Tally<Chain<Cursor<Vec<u8>>, R>>;

/// Counts the bytes handed to the CSV reader and remembers the last one, which is how a row's
/// first line is computed exactly (see [`Rows::next_record`]).
struct Tally<R> {
    inner: R,
    bytes: u64,
    last: u8,
}

impl<R: Read> Read for Tally<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
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
    ignored: Vec<String>,
    delimiter: u8,
    /// Lines end in a lone CR (classic Mac): the CSV reader counts no lines then, so `line` is
    /// estimated as `row + 1`.
    cr_only: bool,
    /// Rows yielded so far (the last row's number).
    row: u64,
    /// The line the last row (or the header) started on.
    line: u64,
    /// Inside a Salesforce report footer ("Confidential Information - Do Not Distribute", …).
    in_footer: bool,
    done: bool,
}

impl<R: Read> Rows<R> {
    fn open(
        mut input: R,
        fields: &[FieldSpec],
    ) -> Result<(Rows<R>, Vec<Option<usize>>), ImportError> {
        let mut prefix = read_prefix(&mut input)?;
        check_encoding(&prefix)?;
        if prefix.starts_with(b"\xEF\xBB\xBF") {
            prefix.drain(..3);
        }
        let first_line = prefix.split(|&b| b == b'\n').next().unwrap_or(&[]);
        if first_line.contains(&0) {
            return Err(ImportError::Utf16);
        }
        let delimiter = sniff_delimiter(first_line);
        let cr_only = !prefix.contains(&b'\n') && prefix.contains(&b'\r');
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
            inner: Cursor::new(prefix).chain(input),
            bytes: 0,
            last: 0,
        };
        let mut rows = Rows {
            csv: builder.from_reader(source),
            record: csv::ByteRecord::new(),
            headers: Vec::new(),
            ignored: Vec::new(),
            delimiter,
            cr_only,
            row: 0,
            line: 0,
            in_footer: false,
            done: false,
        };
        rows.read_header()?;
        let (columns, ignored) = map_header(&rows.headers, fields);
        rows.ignored = ignored;
        Ok((rows, columns))
    }

    fn read_header(&mut self) -> Result<(), ImportError> {
        loop {
            match self.csv.read_byte_record(&mut self.record) {
                Ok(true) => {}
                Ok(false) => {
                    return Err(ImportError::Header(
                        "the file is empty (expected a header row naming the columns)".into(),
                    ))
                }
                Err(e) => {
                    return Err(ImportError::Csv {
                        line: self.csv.position().line(),
                        message: e.to_string(),
                    })
                }
            }
            if !is_blank(&self.record) {
                break;
            }
        }
        let line = self.start_line();
        self.line = line;
        self.headers = self
            .record
            .iter()
            .map(|h| std::str::from_utf8(h).map(|h| h.trim().to_string()))
            .collect::<Result<_, _>>()
            .map_err(|_| ImportError::NotUtf8 { line })?;
        Ok(())
    }

    /// The next data row's number and first line, or all that makes it unreadable. Skips rows
    /// whose cells are all empty and a Salesforce report footer. An I/O error ends the rows
    /// after one error, so the import fails rather than stopping short.
    fn next_record(&mut self) -> Option<Result<(u64, u64), Vec<RowError>>> {
        loop {
            if self.done {
                return None;
            }
            match self.csv.read_byte_record(&mut self.record) {
                Ok(true) => {}
                Ok(false) => {
                    self.done = true;
                    return None;
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(vec![RowError {
                        row: self.row + 1,
                        line: self.csv.position().line(),
                        column: String::new(),
                        message: format!("could not read the file: {e}"),
                    }]));
                }
            }
            if is_blank(&self.record) {
                continue;
            }
            if self.record.len() == 1 && self.headers.len() > 1 {
                self.in_footer = self.in_footer || is_salesforce_footer(&self.record[0]);
                if self.in_footer {
                    continue;
                }
            }
            self.row += 1;
            let line = self.start_line();
            self.line = line;
            return Some(self.check_shape(line).map(|()| (self.row, line)));
        }
    }

    /// The line the current record starts on: the lines consumed so far, less the newlines
    /// inside the record and the one that ended it (if it did not end at the end of the file).
    fn start_line(&self) -> u64 {
        if self.cr_only {
            return self.row + 1;
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

    /// A row must have as many fields as the header (extra empty fields, as a trailing comma
    /// makes, are fine) and be UTF-8 in every cell.
    fn check_shape(&self, line: u64) -> Result<(), Vec<RowError>> {
        let width = self.headers.len();
        let fields = self.record.len();
        let extra_blank = self.record.iter().skip(width).all(is_blank_field);
        if fields < width || !extra_blank {
            return Err(vec![RowError {
                row: self.row,
                line,
                column: String::new(),
                message: format!(
                    "has {fields} fields but the header has {width} \
                     (is a quote unbalanced or a comma unquoted?)"
                ),
            }]);
        }
        if is_utf8(&self.record) {
            return Ok(());
        }
        let errors: Vec<RowError> = self
            .record
            .iter()
            .take(width)
            .enumerate()
            .filter(|(_, f)| std::str::from_utf8(f).is_err())
            .map(|(i, _)| RowError {
                row: self.row,
                line,
                column: self.headers[i].clone(),
                message: "is not UTF-8 text; save the file as UTF-8 (in Excel: \"CSV UTF-8\")"
                    .into(),
            })
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

fn read_prefix<R: Read>(input: &mut R) -> Result<Vec<u8>, ImportError> {
    let mut prefix = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    while prefix.len() < SNIFF_BYTES_MAX {
        match input.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                prefix.extend_from_slice(&chunk[..n]);
                if chunk[..n].contains(&b'\n') {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(ImportError::Csv {
                    line: 1,
                    message: e.to_string(),
                })
            }
        }
    }
    Ok(prefix)
}

fn check_encoding(prefix: &[u8]) -> Result<(), ImportError> {
    if prefix.starts_with(b"\xFF\xFE") || prefix.starts_with(b"\xFE\xFF") {
        return Err(ImportError::Utf16);
    }
    if prefix.starts_with(b"PK\x03\x04") || prefix.starts_with(b"\xD0\xCF\x11\xE0") {
        return Err(ImportError::Workbook);
    }
    Ok(())
}

/// The separator the header uses most, outside quotes: `,` (also when none), `;` (Excel in
/// many European locales) or tab.
fn sniff_delimiter(first_line: &[u8]) -> u8 {
    let (mut commas, mut semicolons, mut tabs) = (0usize, 0usize, 0usize);
    let mut quoted = false;
    for &b in first_line {
        match b {
            b'"' => quoted = !quoted,
            b',' if !quoted => commas += 1,
            b';' if !quoted => semicolons += 1,
            b'\t' if !quoted => tabs += 1,
            _ => {}
        }
    }
    if commas >= semicolons && commas >= tabs {
        b','
    } else if semicolons >= tabs {
        b';'
    } else {
        b'\t'
    }
}

/// Whether every field is UTF-8, checked in one pass over the record's bytes: when all of them
/// together are UTF-8, each field is too unless a field starts in the middle of a character
/// (with a continuation byte).
fn is_utf8(record: &csv::ByteRecord) -> bool {
    let continuation = |b: &u8| (0x80..0xC0).contains(b);
    std::str::from_utf8(record.as_slice()).is_ok()
        && !record.iter().any(|f| f.first().is_some_and(continuation))
}

fn is_blank_field(field: &[u8]) -> bool {
    field.iter().all(u8::is_ascii_whitespace)
}

fn is_blank(record: &csv::ByteRecord) -> bool {
    record.iter().all(is_blank_field)
}

/// Salesforce report exports end with a few one-cell lines, the first of which is this.
fn is_salesforce_footer(cell: &[u8]) -> bool {
    let marker = b"confidential information";
    let cell = cell.trim_ascii_start();
    cell.len() >= marker.len() && cell[..marker.len()].eq_ignore_ascii_case(marker)
}

// ---------------------------------------------------------------------------------------------
// Cells: typed access to one row, collecting every error

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

    /// The trimmed cell, `None` when the column is absent or the cell empty. (Cells are known to
    /// be UTF-8: `check_shape` ran first.)
    fn get(&self, column: Option<usize>) -> Option<&'a str> {
        let bytes = self.record.get(column?)?;
        let s = std::str::from_utf8(bytes).ok()?.trim();
        (!s.is_empty()).then_some(s)
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

    fn text(&mut self, column: Option<usize>, field: &'static str, max: usize) -> Option<String> {
        let cell = self.get(column)?;
        match clean_text(field, Some(cell), max) {
            Ok(v) => v,
            Err(e) => {
                self.error(column, e.message);
                None
            }
        }
    }

    /// A required name-like text; empty (with an error recorded) when missing.
    fn required(&mut self, column: Option<usize>, field: &'static str, why: &str) -> String {
        let value = self.text(column, field, NAME_BYTES_MAX);
        if value.is_none() && self.get(column).is_none() {
            self.empty(column, why);
        }
        value.unwrap_or_default()
    }

    fn value<T>(
        &mut self,
        column: Option<usize>,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let cell = self.get(column)?;
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
        // The website column is ignored (the domain column came first), so no domain here.
        assert_eq!(rows[2].domain, None);
        assert_eq!(rows[2].status, None);
    }

    const HUBSPOT_DEALS: &str = "Record ID,Deal Name,Deal Stage,Amount,Close Date,Deal owner,Associated Company IDs,Associated Company,Pipeline
21000000007,Acme Analytics — Renewal,closedwon,12000,2026-04-25,Priya Nair,9480000011;9480000148,Acme Analytics,default
21000000060,Globex Pilot,Decision maker bought-in,\"48,500.50\",2026-01-24 00:00,,,Globex,default
21000000113,Initech Expansion,Contract Sent (Sales Pipeline),€9900,2026-07-01T00:00:00Z,Tom Becker,9480000285,,default
";

    #[test]
    fn hubspot_deals_map_internal_and_label_stages_and_first_associated_company() {
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
                    Some("9480000011"),
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
                 or a Salesforce or HubSpot default stage)"
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
                    "'31/02/2026' is not a date (expected YYYY-MM-DD or MM/DD/YYYY)"
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
             (expected YYYY-MM-DD or MM/DD/YYYY)"
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
        let long = "x".repeat(NAME_BYTES_MAX + 1);
        let input = format!("name,owner\n{long},Jane\nAcme,\"Ja\u{7}ne\"\n");
        let (_, errors, _) = accounts(input.as_bytes());
        assert_eq!(
            errors,
            vec![
                error(1, 2, "name", "longer than 512 bytes"),
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
    fn utf16_files_are_refused_with_or_without_a_byte_order_mark() {
        let utf16le: Vec<u8> = "name\nAcme\n"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let with_bom = [&b"\xFF\xFE"[..], &utf16le].concat();
        let big_endian_bom = b"\xFE\xFF\x00n\x00a\x00m\x00e".to_vec();
        for input in [with_bom, big_endian_bom, utf16le] {
            let err = read_accounts(&input[..]).err();
            assert_eq!(err, Some(ImportError::Utf16));
        }
        assert_eq!(
            ImportError::Utf16.to_string(),
            "file is UTF-16; save it as UTF-8 (in Excel: \"CSV UTF-8\")"
        );
    }

    #[test]
    fn non_utf8_header_fails_the_file_and_non_utf8_cell_fails_its_row() {
        assert_eq!(
            read_accounts(&b"n\xE4me,domain\nAcme,acme.com\n"[..]).err(),
            Some(ImportError::NotUtf8 { line: 1 })
        );
        let (rows, errors, _) = accounts(b"name,owner\nAcme,M\xFCller\nGlobex,Jane\n");
        assert_eq!(rows.len(), 1);
        assert_eq!(
            errors,
            vec![error(
                1,
                2,
                "owner",
                "is not UTF-8 text; save the file as UTF-8 (in Excel: \"CSV UTF-8\")"
            )]
        );
    }

    #[test]
    fn a_character_split_across_two_cells_is_not_utf8() {
        // "\xC3" ends one cell and "\xA9" starts the next: together they would be "é".
        let (_, errors, _) = accounts(b"name,owner\nAcme\xC3,\xA9ric\n");
        let columns: Vec<&str> = errors.iter().map(|e| e.column.as_str()).collect();
        assert_eq!(columns, ["name", "owner"]);
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
                 Company name, Company, …)"
                    .into()
            ))
        );
        assert_eq!(
            read_opportunities(&b"Deal Name,Amount\nX,1\n"[..]).err(),
            Some(ImportError::Header(
                "no column for the stage (expected one of: stage, Deal Stage, Stage Name, \
                 Opportunity Stage, …); no column for the account (expected Account ID, \
                 account domain or Account Name, e.g. account_external_id, Website, \
                 Company name, Associated Company)"
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
                    "has 2 fields but the header has 3 (is a quote unbalanced or a comma unquoted?)"
                ),
                error(
                    2,
                    3,
                    "",
                    "has 4 fields but the header has 3 (is a quote unbalanced or a comma unquoted?)"
                ),
            ]
        );
        assert_eq!(
            errors[0].to_string(),
            "row 1 (line 2): has 2 fields but the header has 3 (is a quote unbalanced or a comma unquoted?)"
        );
    }

    #[test]
    fn semicolon_files_from_european_excel_are_read_with_decimal_commas() {
        let input = "name;stage;account_name;amount\nA;prospect;Acme;1.200,50\nB;prospect;Acme;1.200\nC;prospect;Acme;900\n";
        let (rows, errors, _) = opportunities(input.as_bytes());
        assert_eq!(rows[0].amount, amount("1200.50"));
        assert_eq!(rows[1].amount, amount("900"));
        assert_eq!(
            errors,
            vec![error(
                2,
                3,
                "amount",
                "'1.200' is ambiguous (1200 or 1.2?); write it without a thousands separator"
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
        ] {
            let (got, got_currency) = parse_amount(cell, false).unwrap();
            assert_eq!(Some(got), amount(want), "{cell}");
            assert_eq!(got_currency, want_currency.and_then(currency), "{cell}");
        }
        for (cell, message) in [
            (
                "1,2,3",
                "'1,2,3' is not an amount (expected a number like 1200.50)",
            ),
            (
                "ten",
                "'ten' is not an amount (expected a number like 1200.50)",
            ),
            ("1.23456", "'1.23456' has more than 4 decimal places"),
        ] {
            assert_eq!(parse_amount(cell, false).unwrap_err(), message, "{cell}");
        }
        assert_eq!(
            parse_amount("1.200", false).unwrap().0,
            Amount::parse("1.2").unwrap()
        );
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
                include_str!("../../examples/salesforce-accounts.csv"),
                include_str!("../../examples/salesforce-opportunities.csv"),
            ),
            (
                include_str!("../../examples/hubspot-companies.csv"),
                include_str!("../../examples/hubspot-deals.csv"),
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
                let id = o.account_external_id.as_ref().expect("account id");
                assert!(ids.contains(id), "row {}: unknown account {id}", o.row);
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

    proptest! {
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
}
