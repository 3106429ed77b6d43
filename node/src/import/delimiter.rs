//! The separator: the one Excel's `sep=;` line names, else the one the header line uses most.

use super::fields::FieldSpec;
use super::header::map_header;
use super::rows::{has_text, header_names, HEADER_SEARCH_LINES};

/// The separator of the header: of the first of the first [`HEADER_SEARCH_LINES`] lines with
/// text in `text` that, split on the separator it uses most ([`sniff_delimiter`]), names what a
/// record needs (`is_header`); when none does, of `first_line`. So a title line above a
/// `;`-separated header does not make the file comma-separated.
pub(super) fn header_delimiter(
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
