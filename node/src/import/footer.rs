//! Report footers and totals rows: lines after the data that are no rows (Salesforce's
//! confidentiality notice, `Grand Totals (12 records)`, a spreadsheet's `Total`).

use super::rows::is_blank_field;

/// A line that marks a Salesforce report's footer: `Confidential Information - Do Not
/// Distribute`, `Copyright (c) 2000-2026 salesforce.com, inc. All rights reserved.` or a
/// summary report's `Grand Totals (12 records)`. (The report's title may come before it.)
pub(super) fn is_salesforce_footer(cell: &[u8]) -> bool {
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
pub(super) fn is_totals_row(record: &csv::ByteRecord) -> bool {
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
