//! Cells: typed access to one row, collecting every error. What exports write for "no value",
//! Excel's error values and text markers, and the invisible characters around values.

use super::error::RowError;
use super::rows::Rows;
use protocol::records::{clean_text, nfc, parse_tags, NAME_CHARS_MAX};
use std::io::Read;

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
pub(super) fn is_padding(c: char) -> bool {
    c.is_whitespace() || is_invisible(c)
}

/// Zero-width characters, which [`is_padding`] trims and label lookups skip.
pub(super) fn is_invisible(c: char) -> bool {
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
pub(super) fn is_scientific(s: &str) -> bool {
    let Some((mantissa, exponent)) = s.split_once(['e', 'E']) else {
        return false;
    };
    let exponent = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
    let (whole, fraction) = mantissa.split_once(['.', ',']).unwrap_or((mantissa, "0"));
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    digits(whole) && digits(fraction) && digits(exponent)
}

pub(super) struct Cells<'a> {
    record: &'a csv::ByteRecord,
    headers: &'a [String],
    row: u64,
    line: u64,
    errors: Vec<RowError>,
}

impl<'a> Cells<'a> {
    pub(super) fn new<R: Read>(rows: &'a Rows<R>, row: u64, line: u64) -> Self {
        Cells {
            record: &rows.record,
            headers: &rows.headers,
            row,
            line,
            errors: Vec::new(),
        }
    }

    pub(super) fn header(&self, column: usize) -> &'a str {
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
    pub(super) fn typed(&self, column: Option<usize>) -> Option<&'a str> {
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
    pub(super) fn excel_error(&mut self, column: Option<usize>, cell: &str) -> bool {
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

    pub(super) fn error(&mut self, column: Option<usize>, message: String) {
        let column = column.map_or(String::new(), |c| self.header(c).to_string());
        self.errors.push(RowError {
            row: self.row,
            line: self.line,
            column,
            message,
        });
    }

    pub(super) fn empty(&mut self, column: Option<usize>, why: &str) {
        self.error(column, format!("is empty; {why}"));
    }

    /// Optional text: placeholders (`NULL`, `N/A`, `-`) are no value.
    pub(super) fn text(
        &mut self,
        column: Option<usize>,
        field: &'static str,
        max: usize,
    ) -> Option<String> {
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
    pub(super) fn id(
        &mut self,
        column: Option<usize>,
        cell: &str,
        field: &'static str,
    ) -> Option<String> {
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
    pub(super) fn external_id(&mut self, column: Option<usize>) -> Option<String> {
        let cell = self.typed(column)?;
        self.id(column, cell, "external_id")
    }

    /// A required name-like text; empty (with an error recorded) when missing. Placeholders
    /// are kept as written here: a name is never guessed to be missing.
    pub(super) fn required(
        &mut self,
        column: Option<usize>,
        field: &'static str,
        why: &str,
    ) -> String {
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

    pub(super) fn value<T>(
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

    pub(super) fn tags(&mut self, column: Option<usize>) -> Option<Vec<String>> {
        let tags = self.value(column, |s| parse_tags(s).map_err(|e| e.message))?;
        (!tags.is_empty()).then_some(tags)
    }

    pub(super) fn finish(self) -> Result<(), Vec<RowError>> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(self.errors)
        }
    }
}
