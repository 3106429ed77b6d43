//! The import's unit tests, one file per concern, and the helpers the parser's tests share.
//! Each file takes what it tests from here (`use super::*`): the parser's items, the records'
//! types, the helpers below.

use super::{
    amount::*, cells::*, currency::*, date::*, delimiter::*, domain::*, error::*, fields::*,
    header::*, labels::*, reader::*, rows::*, salesforce_id::*,
};
use protocol::records::{
    AccountStatus, Amount, Currency, Date, Domain, Stage, NAME_CHARS_MAX, TEXT_CHARS_MAX,
};
use std::io::{self, Read};

mod account_reference;
mod amount;
mod cells;
mod currency;
mod date;
mod delimiter;
mod domain;
mod encoding;
mod exports;
mod fields;
mod footer;
mod header;
mod labels;
mod reader;
mod resolve;
mod rows;
mod salesforce_id;
mod support;
mod write;

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
