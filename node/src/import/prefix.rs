//! The first bytes of the file, read before anything else to sniff its encoding, separator and
//! header from, then handed on in front of the rest.

use super::error::ImportError;
use super::rows::{has_text, HEADER_SEARCH_LINES};
use std::io::{self, Read};

/// Bytes read from the start of the file to sniff encoding and delimiter (at most up to the
/// end of the first [`HEADER_SEARCH_LINES`] lines with text, and a `sep=;` line).
const SNIFF_BYTES_MAX: usize = 64 * 1024;

/// The first bytes of the file, to sniff its encoding, separator and header from: up to the
/// end of the first [`HEADER_SEARCH_LINES`] lines with text and one more (a `sep=;` line), at
/// most [`SNIFF_BYTES_MAX`]. A read error once a line with text is in is handed back to be
/// given after the prefix, where the row being read reports it, as further into the file.
pub(super) fn read_prefix<R: Read>(
    input: &mut R,
) -> Result<(Vec<u8>, Option<io::Error>), ImportError> {
    let mut prefix = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    let mut with_text = 0;
    while prefix.len() < SNIFF_BYTES_MAX {
        match input.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                prefix.extend_from_slice(&chunk[..n]);
                // Lines with text, any encoding: UTF-16's zero bytes count as no text here.
                let mut lines = prefix.split(|&b| b == b'\n');
                let complete = lines.clone().count() - 1;
                with_text = lines
                    .by_ref()
                    .take(complete)
                    .filter(|l| has_text(l))
                    .count();
                if with_text > HEADER_SEARCH_LINES {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if with_text > 0 => return Ok((prefix, Some(e))),
            Err(e) => {
                return Err(ImportError::Csv {
                    line: 1,
                    message: e.to_string(),
                })
            }
        }
    }
    Ok((prefix, None))
}

/// The input after the prefix [`read_prefix`] took: first the read error it met, if any.
pub(super) struct AfterPrefix<R> {
    pub(super) error: Option<io::Error>,
    pub(super) inner: R,
}

impl<R: Read> Read for AfterPrefix<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.error.take() {
            Some(e) => Err(e),
            None => self.inner.read(buf),
        }
    }
}
