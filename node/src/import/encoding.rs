//! Encodings: the file's encoding from its first bytes (or why it is no CSV file at all), and
//! the decoder that hands the CSV reader UTF-8 whatever the file's encoding.

use super::error::ImportError;
use std::io::{self, Read};

/// Raw bytes decoded per read.
const DECODE_CHUNK_BYTES: usize = 64 * 1024;

/// The text encoding of a file, from its byte order mark or its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Encoding {
    /// UTF-8; any byte that is not part of valid UTF-8 is read as Windows-1252 (Excel's
    /// "CSV (Comma delimited)" on Western Windows), so `Soci\xE9t\xE9` is `Société`.
    Utf8,
    /// UTF-16 little-endian (Excel's "Unicode Text" on Windows).
    Utf16Le,
    /// UTF-16 big-endian.
    Utf16Be,
    /// Mac OS Roman: Excel for Mac's "CSV (Macintosh)", recognized by its lone-CR line ends
    /// together with bytes that are not UTF-8 (Windows never ends lines with a lone CR).
    MacRoman,
}

/// Transcodes the file to UTF-8 on the fly; the CSV reader only ever sees UTF-8.
pub(super) struct Decode<R> {
    pub(super) inner: R,
    pub(super) encoding: Encoding,
    /// Raw bytes not decoded yet (an incomplete character at the end of the last read).
    pub(super) raw: Vec<u8>,
    pub(super) out: Vec<u8>,
    pub(super) pos: usize,
    pub(super) eof: bool,
    /// Raw bytes read from `inner` (for progress).
    pub(super) input_bytes: u64,
}

impl<R: Read> Read for Decode<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.pos < self.out.len() {
                let n = buf.len().min(self.out.len() - self.pos);
                buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
                self.pos += n;
                return Ok(n);
            }
            if self.eof || buf.is_empty() {
                return Ok(0);
            }
            self.out.clear();
            self.pos = 0;
            let start = self.raw.len();
            self.raw.resize(start + DECODE_CHUNK_BYTES, 0);
            let n = loop {
                match self.inner.read(&mut self.raw[start..]) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        self.raw.truncate(start);
                        return Err(e);
                    }
                }
            };
            self.raw.truncate(start + n);
            self.input_bytes += n as u64;
            self.eof = n == 0;
            let used = decode_into(self.encoding, &self.raw, self.eof, &mut self.out);
            self.raw.drain(..used);
        }
    }
}

/// Appends `input` to `out` as UTF-8 and returns how many bytes it used: all of them, except an
/// incomplete character at the end when more input may follow (`eof` false).
pub(super) fn decode_into(encoding: Encoding, input: &[u8], eof: bool, out: &mut Vec<u8>) -> usize {
    match encoding {
        Encoding::Utf8 => {
            let mut rest = input;
            loop {
                match std::str::from_utf8(rest) {
                    Ok(_) => {
                        out.extend_from_slice(rest);
                        return input.len();
                    }
                    Err(e) => {
                        let valid = e.valid_up_to();
                        out.extend_from_slice(&rest[..valid]);
                        rest = &rest[valid..];
                        if e.error_len().is_none() && !eof {
                            return input.len() - rest.len();
                        }
                        let Some((&byte, tail)) = rest.split_first() else {
                            return input.len();
                        };
                        push_char(out, windows_1252(byte));
                        rest = tail;
                    }
                }
            }
        }
        Encoding::MacRoman => {
            for &byte in input {
                match byte {
                    0x00..=0x7F => out.push(byte),
                    _ => push_char(out, MAC_ROMAN[usize::from(byte - 0x80)]),
                }
            }
            input.len()
        }
        Encoding::Utf16Le | Encoding::Utf16Be => {
            let unit = |c: &[u8]| match (encoding, c) {
                (Encoding::Utf16Le, [a, b]) => u16::from_le_bytes([*a, *b]),
                (_, [a, b]) => u16::from_be_bytes([*a, *b]),
                _ => 0xFFFD,
            };
            let mut units = input.len() / 2;
            // Keep a high surrogate whose partner may be in the next read.
            if !eof
                && units > 0
                && (0xD800..0xDC00).contains(&unit(&input[units * 2 - 2..units * 2]))
            {
                units -= 1;
            }
            let decoded = char::decode_utf16(input[..units * 2].chunks_exact(2).map(unit));
            for c in decoded {
                push_char(out, c.unwrap_or(char::REPLACEMENT_CHARACTER));
            }
            if eof && input.len() > units * 2 {
                push_char(out, char::REPLACEMENT_CHARACTER);
                return input.len();
            }
            units * 2
        }
    }
}

fn push_char(out: &mut Vec<u8>, c: char) {
    let mut buf = [0u8; 4];
    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

/// Mac OS Roman bytes 0x80–0xFF (0xDB is the euro sign, as since Mac OS 8.5).
const MAC_ROMAN: [char; 128] = [
    '\u{c4}', '\u{c5}', '\u{c7}', '\u{c9}', '\u{d1}', '\u{d6}', '\u{dc}', '\u{e1}', '\u{e0}',
    '\u{e2}', '\u{e4}', '\u{e3}', '\u{e5}', '\u{e7}', '\u{e9}', '\u{e8}', '\u{ea}', '\u{eb}',
    '\u{ed}', '\u{ec}', '\u{ee}', '\u{ef}', '\u{f1}', '\u{f3}', '\u{f2}', '\u{f4}', '\u{f6}',
    '\u{f5}', '\u{fa}', '\u{f9}', '\u{fb}', '\u{fc}', '\u{2020}', '\u{b0}', '\u{a2}', '\u{a3}',
    '\u{a7}', '\u{2022}', '\u{b6}', '\u{df}', '\u{ae}', '\u{a9}', '\u{2122}', '\u{b4}', '\u{a8}',
    '\u{2260}', '\u{c6}', '\u{d8}', '\u{221e}', '\u{b1}', '\u{2264}', '\u{2265}', '\u{a5}',
    '\u{b5}', '\u{2202}', '\u{2211}', '\u{220f}', '\u{3c0}', '\u{222b}', '\u{aa}', '\u{ba}',
    '\u{3a9}', '\u{e6}', '\u{f8}', '\u{bf}', '\u{a1}', '\u{ac}', '\u{221a}', '\u{192}', '\u{2248}',
    '\u{2206}', '\u{ab}', '\u{bb}', '\u{2026}', '\u{a0}', '\u{c0}', '\u{c3}', '\u{d5}', '\u{152}',
    '\u{153}', '\u{2013}', '\u{2014}', '\u{201c}', '\u{201d}', '\u{2018}', '\u{2019}', '\u{f7}',
    '\u{25ca}', '\u{ff}', '\u{178}', '\u{2044}', '\u{20ac}', '\u{2039}', '\u{203a}', '\u{fb01}',
    '\u{fb02}', '\u{2021}', '\u{b7}', '\u{201a}', '\u{201e}', '\u{2030}', '\u{c2}', '\u{ca}',
    '\u{c1}', '\u{cb}', '\u{c8}', '\u{cd}', '\u{ce}', '\u{cf}', '\u{cc}', '\u{d3}', '\u{d4}',
    '\u{f8ff}', '\u{d2}', '\u{da}', '\u{db}', '\u{d9}', '\u{131}', '\u{2c6}', '\u{2dc}', '\u{af}',
    '\u{2d8}', '\u{2d9}', '\u{2da}', '\u{b8}', '\u{2dd}', '\u{2db}', '\u{2c7}',
];

/// A Windows-1252 byte as a character (bytes 0x80–0x9F differ from Latin-1; the five undefined
/// ones map to the C1 control of the same number, as in the WHATWG encoding standard).
fn windows_1252(byte: u8) -> char {
    const HIGH: [char; 32] = [
        '\u{20AC}', '\u{81}', '\u{201A}', '\u{192}', '\u{201E}', '\u{2026}', '\u{2020}',
        '\u{2021}', '\u{2C6}', '\u{2030}', '\u{160}', '\u{2039}', '\u{152}', '\u{8D}', '\u{17D}',
        '\u{8F}', '\u{90}', '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}', '\u{2022}', '\u{2013}',
        '\u{2014}', '\u{2DC}', '\u{2122}', '\u{161}', '\u{203A}', '\u{153}', '\u{9D}', '\u{17E}',
        '\u{178}',
    ];
    match byte {
        0x80..=0x9F => HIGH[usize::from(byte - 0x80)],
        _ => char::from(byte),
    }
}

/// The file's encoding from its first bytes (dropping a byte order mark), or why it is not a
/// CSV file at all: a workbook, an archive, a PDF, HTML, JSON.
pub(super) fn sniff_encoding(prefix: &mut Vec<u8>) -> Result<Encoding, ImportError> {
    let not_csv = |what: &str| Err(ImportError::NotCsv(what.to_string()));
    if let Some(rest) = prefix.strip_prefix(b"PK\x03\x04") {
        // A zip archive: xlsx and ods are zips; so are HubSpot's multi-file exports.
        let name = rest.get(26..).unwrap_or(&[]);
        let name = &name[..name.len().min(64)];
        let contains = |n: &[u8]| name.windows(n.len()).any(|w| w == n);
        if contains(b"mimetype") {
            return not_csv(
                "file is an OpenDocument spreadsheet, not CSV; save it as \"Text CSV\" (UTF-8)",
            );
        }
        if contains(b".csv") || contains(b".CSV") {
            return not_csv(
                "file is a zip archive, not CSV; unzip it and import the CSV file inside",
            );
        }
        return Err(ImportError::Workbook);
    }
    if prefix.starts_with(b"\xD0\xCF\x11\xE0") {
        return Err(ImportError::Workbook);
    }
    if prefix.starts_with(b"\x1F\x8B") {
        return not_csv("file is gzip-compressed; decompress it and import the CSV file inside");
    }
    if prefix.starts_with(b"%PDF") {
        return not_csv("file is a PDF document, not CSV; export the report as CSV");
    }
    if prefix.starts_with(b"\xFF\xFE") {
        prefix.drain(..2);
        return Ok(Encoding::Utf16Le);
    }
    if prefix.starts_with(b"\xFE\xFF") {
        prefix.drain(..2);
        return Ok(Encoding::Utf16Be);
    }
    if prefix.starts_with(b"\xEF\xBB\xBF") {
        prefix.drain(..3);
    }
    // UTF-16 without a byte order mark: ASCII text with every other byte zero.
    if let [a, b, c, d, ..] = prefix[..] {
        if a != 0 && b == 0 && c != 0 && d == 0 {
            return Ok(Encoding::Utf16Le);
        }
        if a == 0 && b != 0 && c == 0 && d != 0 {
            return Ok(Encoding::Utf16Be);
        }
    }
    let start = prefix.trim_ascii_start();
    let lower = |n: usize| start[..start.len().min(n)].to_ascii_lowercase();
    if lower(14) == b"<!doctype html" || lower(5) == b"<html" {
        return not_csv("file is a web page (HTML), not CSV; export the report as CSV");
    }
    if lower(5) == b"<?xml" {
        return not_csv(
            "file is XML, not CSV (an Excel 2003 XML sheet?); save it as \"CSV UTF-8\"",
        );
    }
    if start.starts_with(b"{") || start.starts_with(b"[{") || start.starts_with(b"[\n") {
        return not_csv("file is JSON, not CSV; export the records as CSV");
    }
    Ok(Encoding::Utf8)
}
