//! The separator: the one Excel's `sep=;` line names, else the one the header line uses most.

use super::header::{map_header, Aliases};
use super::rows::{has_text, header_name, HEADER_SEARCH_LINES};
use csv_core::ReadRecordResult;

/// The separator of the header: of the first of the first [`HEADER_SEARCH_LINES`] lines with
/// text in `text` that, split on the separator it uses most ([`sniff_delimiter`]), names what a
/// record needs (`is_header`); when none does, of `first_line`. So a title line above a
/// `;`-separated header does not make the file comma-separated.
pub(super) fn header_delimiter(
    text: &[u8],
    first_line: &[u8],
    aliases: &Aliases,
    is_header: fn(&[Option<usize>]) -> bool,
) -> u8 {
    let mut split = LineSplitter::default();
    text.split(|&b| b == b'\n')
        .filter(|line| has_text(line))
        .take(HEADER_SEARCH_LINES)
        .map(|line| (line, sniff_delimiter(line)))
        .find(|&(line, delimiter)| {
            split
                .names(line, delimiter)
                .is_some_and(|names| is_header(&map_header(&names, aliases).columns))
        })
        .map_or_else(|| sniff_delimiter(first_line), |(_, delimiter)| delimiter)
}

/// Splits a candidate header line into its cells as the file's CSV reader would read it alone
/// (its first record: quotes, a CR ending it, and all), with one `csv_core` parser per separator,
/// built on first use and reset for each further line, and output buffers reused. (A
/// `csv::Reader` per line built a parser state table and an 8 KiB buffer each time: with the
/// alias table, most of what opening a small file cost.)
#[derive(Default)]
pub(super) struct LineSplitter {
    /// At most one per separator [`sniff_delimiter`] can pick.
    parsers: Vec<(u8, csv_core::Reader)>,
    out: Vec<u8>,
    ends: Vec<usize>,
}

impl LineSplitter {
    /// The cells of `line`'s first record split on `delimiter`, each as a header name; `None`
    /// when the line holds no record.
    pub(super) fn names(&mut self, line: &[u8], delimiter: u8) -> Option<Vec<String>> {
        let i = match self.parsers.iter().position(|&(d, _)| d == delimiter) {
            Some(i) => i,
            None => {
                let parser = csv_core::ReaderBuilder::new().delimiter(delimiter).build();
                self.parsers.push((delimiter, parser));
                self.parsers.len() - 1
            }
        };
        let parser = &mut self.parsers[i].1;
        parser.reset();
        let (mut input, mut out_len, mut ends_len) = (line, 0, 0);
        loop {
            let (result, read, written, ended) =
                parser.read_record(input, &mut self.out[out_len..], &mut self.ends[ends_len..]);
            input = &input[read..];
            out_len += written;
            ends_len += ended;
            match result {
                // The line is all there is: the next call, with no input, ends the record.
                ReadRecordResult::InputEmpty => {}
                ReadRecordResult::OutputFull => {
                    self.out.resize((self.out.len() * 2).max(line.len() + 1), 0);
                }
                ReadRecordResult::OutputEndsFull => {
                    self.ends.resize((self.ends.len() * 2).max(16), 0);
                }
                ReadRecordResult::Record => break,
                ReadRecordResult::End => return None,
            }
        }
        let mut start = 0;
        let names = self.ends[..ends_len]
            .iter()
            .map(|&end| {
                let name = header_name(&self.out[start..end]);
                start = end;
                name
            })
            .collect();
        Some(names)
    }
}

/// Excel's `sep=;` first line (it names the separator for the rest of the file).
pub(super) fn excel_sep_line(first_line: &[u8]) -> Option<u8> {
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
