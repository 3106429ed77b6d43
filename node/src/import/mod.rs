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
//!
//! One concern per file. Reading: `reader` (the two readers and the rows they yield) over `rows`
//! (the CSV layer), which opens the file with `prefix`, `encoding` and `delimiter`, maps the
//! header with `header` and the alias tables in `fields`, and skips a report's `footer`.
//! Values: `cells` (typed access to one row), `labels` (stages and statuses), `amount`,
//! `currency`, `date`, `domain`, `account_reference`, `salesforce_id`; `error` for what goes
//! wrong. Storing: `write` (rows into one transaction), `resolve` (the records a row names),
//! `once_per_file`. Unit tests are in `tests/`, one file per concern.

mod account_reference;
mod amount;
mod cells;
mod currency;
mod date;
mod delimiter;
mod domain;
mod encoding;
mod error;
mod fields;
mod footer;
mod header;
mod labels;
mod once_per_file;
mod prefix;
mod reader;
mod resolve;
mod rows;
mod salesforce_id;
#[cfg(test)]
mod tests;
pub mod write;

pub use date::{DateOrder, DATE_FORMATS};
pub use error::{ImportError, RowError};
pub use labels::{map_stage, map_status, STAGE_LABELS, STATUS_LABELS};
pub use once_per_file::{Earlier, FoundBy, MatchKey, OncePerFile};
pub use reader::{
    read_accounts, read_opportunities, read_opportunities_with, AccountColumns, AccountReader,
    AccountRow, ImportOptions, OpportunityReader, OpportunityRow,
};
pub use rows::{HEADER_SEARCH_LINES, ROW_BYTES_MAX};
pub use salesforce_id::{salesforce_case_restored, salesforce_id_other_form};
