//! The two readers, accounts and opportunities: each opens a file, maps its header, and turns
//! each data row into a validated [`AccountRow`] or [`OpportunityRow`], or all of the row's
//! errors.

use super::account_reference::account_reference;
use super::amount::amount_and_currency;
use super::cells::Cells;
use super::date::{parse_date, DateOrder};
use super::domain::parse_domain;
use super::error::{ImportError, RowError};
use super::fields::{
    names_an_account, names_an_opportunity, present_fields, A, ACCOUNT_FIELDS, ACCOUNT_REFERENCES,
    O, OPPORTUNITY_FIELDS,
};
use super::header::{header_key, missing, ACCOUNT_HEADERS, OPPORTUNITY_HEADERS};
use super::labels::{account_status, map_outcome, map_stage};
use super::rows::{columns_of_row, shorten, Rows};
use protocol::records::{
    AccountStatus, Amount, Currency, Date, Domain, Stage, NAME_CHARS_MAX, TEXT_CHARS_MAX,
};
use std::io::Read;

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
    let (mut rows, header) = Rows::open(input, &ACCOUNT_HEADERS, names_an_account)?;
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
    let (rows, header) = Rows::open(input, &OPPORTUNITY_HEADERS, names_an_opportunity)?;
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
