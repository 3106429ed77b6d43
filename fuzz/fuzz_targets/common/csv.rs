//! `csv`: an import file as a user uploads it, read by one of the node's streaming CSV readers —
//! accounts, or opportunities with a date order (the default, month first, day first or ISO) and
//! a default currency — row by row to the end, with every accessor the importer uses. The reader
//! is picked by the input's length, so mutations visit all five: opening a file (header search,
//! delimiter guess, header mapping) is most of the cost, and the opportunity reader parses dates
//! only under the order it was given.
//!
//! Properties: no panic; a reader ends, yielding at most about one row per input byte (so it
//! neither loops nor invents rows); row numbers only grow.

use cosell::import::{read_accounts, read_opportunities_with, DateOrder, ImportOptions};
use protocol::records::Currency;

pub fn run(data: &[u8]) {
    // Rows a reader may yield: every row takes at least a byte, plus the rows a report's footer
    // holds back.
    let rows_max = data.len() + 8;
    let (date_order, default_currency) = match data.len() % 5 {
        0 => return accounts(data, rows_max),
        1 => (None, None),
        2 => (Some(DateOrder::MonthFirst), Some(Currency::USD)),
        3 => (Some(DateOrder::DayFirst), Currency::parse("EUR").ok()),
        _ => (Some(DateOrder::YearFirst), Currency::parse("JPY").ok()),
    };
    let options = ImportOptions {
        date_order,
        default_currency,
    };
    let Ok(mut reader) = read_opportunities_with(data, options) else {
        return;
    };
    let _ = (reader.ignored_columns(), reader.lines_above_header());
    let _ = (
        reader.fields(),
        reader.external_id_column(),
        reader.name_column(),
    );
    let _ = reader.account_columns().first();
    let mut n = 0;
    let mut last = 0;
    while let Some(row) = reader.next() {
        assert!(
            n < rows_max,
            "the opportunity reader yields more rows than there are bytes"
        );
        n += 1;
        let row_number = match row {
            Ok(row) => row.row,
            Err(errors) => errors.first().map_or(last, |e| e.row),
        };
        assert!(row_number >= last, "opportunity row numbers went back");
        last = row_number;
        let _ = (reader.last_line(), reader.bytes_read());
    }
}

/// The accounts reader, to the end.
fn accounts(data: &[u8], rows_max: usize) {
    let Ok(reader) = read_accounts(data) else {
        return;
    };
    let _ = (reader.ignored_columns(), reader.lines_above_header());
    let _ = (reader.fields(), reader.external_id_column());
    let _ = (reader.domain_column(), reader.name_column());
    let mut last = 0;
    for (n, row) in reader.enumerate() {
        assert!(
            n < rows_max,
            "the account reader yields more rows than there are bytes"
        );
        let row_number = match row {
            Ok(row) => row.row,
            Err(errors) => errors.first().map_or(last, |e| e.row),
        };
        assert!(row_number >= last, "account row numbers went back");
        last = row_number;
    }
}
