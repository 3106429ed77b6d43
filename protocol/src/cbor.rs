//! The small part of canonical CBOR (RFC 8949 §4.2.1) that envelopes and wire messages use:
//! unsigned integers, byte strings, text strings and definite-length arrays, each header in its
//! shortest form. Written by hand because building a `ciborium::Value` tree cost about 6 µs per
//! envelope, a tenth of a verified sync; these functions write and read the same bytes without
//! the tree and without copying a field until it is kept.
//!
//! The reader accepts only the canonical form the writer produces: a header in a longer form than
//! needed, an indefinite length, a tag, a float or a negative number where the shape wants
//! something else is refused. Every length is checked against the bytes left before it is used,
//! so a reader never allocates or loops on a count it has not seen the bytes for.

/// Major type of an unsigned integer.
pub(crate) const UINT: u8 = 0;
/// Major type of a negative integer.
pub(crate) const NEGATIVE: u8 = 1;
/// Major type of a byte string.
pub(crate) const BYTES: u8 = 2;
/// Major type of a UTF-8 text string.
pub(crate) const TEXT: u8 = 3;
/// Major type of an array.
pub(crate) const ARRAY: u8 = 4;

/// Appends a header: major type and argument, in the shortest form.
pub(crate) fn write_header(out: &mut Vec<u8>, major: u8, argument: u64) {
    let major = major << 5;
    if argument < 24 {
        out.push(major | argument as u8);
    } else if let Ok(a) = u8::try_from(argument) {
        out.extend_from_slice(&[major | 24, a]);
    } else if let Ok(a) = u16::try_from(argument) {
        out.push(major | 25);
        out.extend_from_slice(&a.to_be_bytes());
    } else if let Ok(a) = u32::try_from(argument) {
        out.push(major | 26);
        out.extend_from_slice(&a.to_be_bytes());
    } else {
        out.push(major | 27);
        out.extend_from_slice(&argument.to_be_bytes());
    }
}

/// Appends a byte string.
pub(crate) fn write_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    write_header(out, BYTES, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Appends a text string.
pub(crate) fn write_text(out: &mut Vec<u8>, text: &str) {
    write_header(out, TEXT, text.len() as u64);
    out.extend_from_slice(text.as_bytes());
}

/// Bytes a header with this argument takes.
pub(crate) fn header_len(argument: u64) -> usize {
    match argument {
        0..=23 => 1,
        24..=0xff => 2,
        0x100..=0xffff => 3,
        0x1_0000..=0xffff_ffff => 5,
        _ => 9,
    }
}

/// Why bytes are not the expected canonical CBOR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CborError {
    /// Not well-formed canonical CBOR (truncated, non-shortest header, indefinite length, …).
    Invalid,
    /// Well-formed, but another major type than the shape wants.
    Unexpected,
}

/// Reads canonical CBOR items from a byte slice, front to back. Never panics.
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { rest: bytes }
    }

    /// Whether every byte has been read.
    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The next header's major type, without reading it.
    pub(crate) fn peek_major(&self) -> Option<u8> {
        self.rest.first().map(|b| b >> 5)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], CborError> {
        if n > self.rest.len() {
            return Err(CborError::Invalid);
        }
        let (taken, rest) = self.rest.split_at(n);
        self.rest = rest;
        Ok(taken)
    }

    /// Reads a header: (major type, argument). Refuses non-shortest forms, indefinite lengths,
    /// the reserved additional-information values and the simple/float major type.
    pub(crate) fn header(&mut self) -> Result<(u8, u64), CborError> {
        let first = self.take(1)?[0];
        let (major, info) = (first >> 5, first & 0x1f);
        if major == 7 {
            return Err(CborError::Unexpected);
        }
        let argument = match info {
            0..=23 => u64::from(info),
            24 => u64::from(self.take(1)?[0]),
            25 => u64::from(u16::from_be_bytes(self.array_of()?)),
            26 => u64::from(u32::from_be_bytes(self.array_of()?)),
            27 => u64::from_be_bytes(self.array_of()?),
            _ => return Err(CborError::Invalid),
        };
        if header_len(argument) != 1 + additional_len(info) {
            return Err(CborError::Invalid);
        }
        Ok((major, argument))
    }

    fn array_of<const N: usize>(&mut self) -> Result<[u8; N], CborError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// Reads a header of major type `major` and returns its argument.
    pub(crate) fn expect(&mut self, major: u8) -> Result<u64, CborError> {
        match self.header()? {
            (m, argument) if m == major => Ok(argument),
            _ => Err(CborError::Unexpected),
        }
    }

    /// Reads an array header; returns the element count (not yet checked against anything).
    pub(crate) fn array(&mut self) -> Result<u64, CborError> {
        self.expect(ARRAY)
    }

    /// Reads a byte string, borrowed from the input.
    pub(crate) fn bytes(&mut self) -> Result<&'a [u8], CborError> {
        let len = self.expect(BYTES)?;
        let len = usize::try_from(len).map_err(|_| CborError::Invalid)?;
        self.take(len)
    }

    /// Reads a text string, borrowed from the input.
    pub(crate) fn text(&mut self) -> Result<&'a str, CborError> {
        let len = self.expect(TEXT)?;
        let len = usize::try_from(len).map_err(|_| CborError::Invalid)?;
        std::str::from_utf8(self.take(len)?).map_err(|_| CborError::Invalid)
    }
}

/// Bytes after the initial byte for an additional-information value 0..=27.
fn additional_len(info: u8) -> usize {
    match info {
        24 => 1,
        25 => 2,
        26 => 4,
        27 => 8,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_written_in_the_shortest_form_and_read_back() {
        for (argument, len) in [
            (0u64, 1),
            (23, 1),
            (24, 2),
            (255, 2),
            (256, 3),
            (65_535, 3),
            (65_536, 5),
            (u64::from(u32::MAX), 5),
            (u64::from(u32::MAX) + 1, 9),
            (u64::MAX, 9),
        ] {
            let mut out = Vec::new();
            write_header(&mut out, BYTES, argument);
            assert_eq!(out.len(), len);
            assert_eq!(header_len(argument), len);
            assert_eq!(Reader::new(&out).header(), Ok((BYTES, argument)));
        }
    }

    #[test]
    fn reader_refuses_non_canonical_and_truncated_input() {
        // 5 in a one-byte argument; indefinite-length bytes; a reserved value; truncated.
        for bytes in [
            &[0x58, 0x05][..],
            &[0x5f],
            &[0x5c],
            &[0x59, 0x01],
            &[0x43, 1, 2],
        ] {
            assert_eq!(
                Reader::new(bytes).bytes(),
                Err(CborError::Invalid),
                "{bytes:?}"
            );
        }
        assert_eq!(Reader::new(&[0x01]).bytes(), Err(CborError::Unexpected));
        assert_eq!(Reader::new(&[0xf6]).array(), Err(CborError::Unexpected));
        assert_eq!(
            Reader::new(&[0x62, 0xff, 0xfe]).text(),
            Err(CborError::Invalid)
        );
    }
}
