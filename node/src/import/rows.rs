//! Rows: the CSV layer shared by both readers. One `csv::Reader` and one reused `ByteRecord`
//! over the decoded file: finds the header, numbers rows and lines, skips blank rows, a repeated
//! header and a report footer, and checks each row's shape.

use super::delimiter::{excel_sep_line, header_delimiter};
use super::encoding::{decode_into, sniff_encoding, Decode, Encoding};
use super::error::{ImportError, RowError};
use super::footer::{is_salesforce_footer, is_totals_row};
use super::header::{map_header, Aliases, Header};
use super::prefix::{read_prefix, AfterPrefix};
use std::collections::VecDeque;
use std::io::{self, Chain, Cursor, Read};

/// Lines with text, from the top of the file, among which the header is looked for: the first
/// that names what a record needs is the header, and those above it (a report's title, an
/// "Exported on …" line) are skipped (see [`Rows::read_header`]).
pub const HEADER_SEARCH_LINES: usize = 10;

/// Bytes (about) of a skipped line above the header that a summary shows.
const ABOVE_HEADER_SHOWN_BYTES: usize = 80;

/// The CSV reader's buffer. Larger than the default 8 KiB: fewer reads on big files.
pub(super) const CSV_BUFFER_BYTES: usize = 64 * 1024;

/// Longest row (or header). A longer one is almost always an unbalanced quote that swallowed
/// the rest of the file; stopping there keeps memory bounded.
pub const ROW_BYTES_MAX: usize = 1024 * 1024;

/// The file as the CSV reader sees it: the sniffed prefix, then the rest, decoded to UTF-8.
type Source<R> = Tally<Decode<Chain<Cursor<Vec<u8>>, AfterPrefix<R>>>>;

/// Counts the bytes handed to the CSV reader and remembers the last one, which is how a row's
/// first line is computed exactly (see [`Rows::next_record`]); stops a row that grows past
/// [`ROW_BYTES_MAX`].
pub(super) struct Tally<R> {
    pub(super) inner: R,
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

pub(super) struct Rows<R: Read> {
    pub(super) csv: csv::Reader<Source<R>>,
    /// Reused for every row: no allocation per row once it has grown to the widest row.
    pub(super) record: csv::ByteRecord,
    /// Header texts, trimmed, for error messages.
    pub(super) headers: Vec<String>,
    /// Fields a row must have: the header's, less the empty names at its end (a header line
    /// ending in a separator, `Account ID,Account Name,`, names no column there).
    width: usize,
    pub(super) ignored: Vec<String>,
    /// Columns naming a field another column already gives ([`Header::doubles`]).
    pub(super) doubles: Vec<(usize, usize)>,
    /// The lines with text above the header, skipped; each shown as its cells with text.
    pub(super) above_header: Vec<String>,
    pub(super) delimiter: u8,
    /// Lines end in a lone CR (classic Mac): the CSV reader counts no lines then, so `line` is
    /// estimated as `row + header_records`.
    cr_only: bool,
    /// Records read up to and including the header (a `sep=;` line, lines above the header):
    /// the header's line in a lone-CR file, where lines are estimated.
    header_records: u64,
    /// Rows yielded so far (the last row's number).
    row: u64,
    /// The line the last row (or the header) started on.
    pub(super) line: u64,
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
    /// mapped against `aliases` (see [`Rows::read_header`]).
    pub(super) fn open(
        mut input: R,
        aliases: &Aliases,
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
            sep_line.unwrap_or_else(|| header_delimiter(&text, first_line, aliases, is_header));
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
        let header = rows.read_header(sep_line.is_some(), aliases, is_header)?;
        rows.ignored.clone_from(&header.ignored);
        rows.doubles.clone_from(&header.doubles);
        Ok((rows, header))
    }

    /// Reads up to the header and maps it against `aliases`. The header is the first line with
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
        aliases: &Aliases,
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
            let header = map_header(&names, aliases);
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
        let header = map_header(&names, aliases);
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
    pub(super) fn next_record(&mut self) -> Option<Result<(u64, u64), Vec<RowError>>> {
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
pub(super) fn shorten(s: &str, max: usize) -> String {
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
pub(super) fn header_name(cell: &[u8]) -> String {
    String::from_utf8_lossy(cell)
        .trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
        .to_string()
}

fn header_names(record: &csv::ByteRecord) -> Vec<String> {
    record.iter().map(header_name).collect()
}

/// Whether a line or cell holds text: anything but spaces, separators, quotes, a byte order
/// mark, and the NUL padding and Ctrl-Z old tools write. `,,,,` and `"";""` hold none.
pub(super) fn has_text(bytes: &[u8]) -> bool {
    bytes.iter().any(|&b| {
        !b.is_ascii_whitespace()
            && !matches!(b, 0 | 0x1A | b'"' | b',' | b';' | b'|' | 0xEF | 0xBB | 0xBF)
    })
}

/// Only whitespace, or the NUL padding and Ctrl-Z end-of-file mark some old tools write.
pub(super) fn is_blank_field(field: &[u8]) -> bool {
    field
        .iter()
        .all(|b| b.is_ascii_whitespace() || matches!(b, 0 | 0x1A))
}

/// The column each field is read from in the current row: the header's, except that a field
/// whose column is empty here is read from a further column naming it that has a value (an
/// export with both `Website` and `Company Domain Name`, or `Amount` twice). Borrowed when the
/// file names no field twice.
pub(super) fn columns_of_row<'c, R: Read>(
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
