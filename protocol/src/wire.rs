//! Wire messages between nodes: versioned, size-limited CBOR.
//!
//! `WireMessage = [version: uint = 1, kind: uint, body]`; kind 1 (`Sync`) has as body an array of
//! `DocSync = [deal: bstr(32), sync: bstr, changes: [envelope…]]`, each envelope in its own
//! canonical form (see [`crate::envelope`]), written and read by [`crate::cbor`] (shortest
//! headers, definite lengths; nothing else is accepted). A message of an unknown version is refused with
//! [`WireError::UnknownVersion`], so a peer can tell an old node from a broken one. Decoding never
//! panics and checks every limit before trusting a count.

use crate::cbor::{self, CborError};
use crate::deal::DealId;
use crate::envelope::{AuthorCache, EnvelopeError, SignedChange};
use crate::limits::{
    SYNC_CHANGES_MAX, SYNC_MESSAGE_BYTES_MAX, WIRE_DOCS_MAX, WIRE_MESSAGE_BYTES_MAX,
};

/// Version of the wire encoding.
pub const WIRE_VERSION: u64 = 1;

const KIND_SYNC: u64 = 1;

/// Why wire bytes were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("wire message is larger than {WIRE_MESSAGE_BYTES_MAX} bytes")]
    TooLarge,
    #[error("unknown wire version {0}")]
    UnknownVersion(u64),
    #[error("unknown wire message kind {0}")]
    UnknownKind(u64),
    #[error("too many {0} in one wire message")]
    TooMany(&'static str),
    #[error("malformed wire message: {0}")]
    Malformed(&'static str),
    #[error("bad envelope {index} in document {doc}: {error}")]
    Envelope {
        doc: usize,
        index: usize,
        error: EnvelopeError,
    },
}

/// One document's part of a sync exchange: the Automerge sync message (without changes) and the
/// signed envelopes the peer lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocSync {
    pub deal: DealId,
    pub sync: Vec<u8>,
    pub changes: Vec<SignedChange>,
}

/// A message between two nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireMessage {
    /// Sync messages for a batch of documents.
    Sync(Vec<DocSync>),
}

impl WireMessage {
    /// Canonical CBOR bytes.
    pub fn encode(&self) -> Vec<u8> {
        let WireMessage::Sync(docs) = self;
        let mut out = Vec::with_capacity(encoded_len(docs));
        cbor::write_header(&mut out, cbor::ARRAY, 3);
        cbor::write_header(&mut out, cbor::UINT, WIRE_VERSION);
        cbor::write_header(&mut out, cbor::UINT, KIND_SYNC);
        cbor::write_header(&mut out, cbor::ARRAY, docs.len() as u64);
        for doc in docs {
            cbor::write_header(&mut out, cbor::ARRAY, 3);
            cbor::write_bytes(&mut out, doc.deal.as_bytes());
            cbor::write_bytes(&mut out, &doc.sync);
            cbor::write_header(&mut out, cbor::ARRAY, doc.changes.len() as u64);
            for change in &doc.changes {
                change.write(&mut out);
            }
        }
        out
    }

    /// Decodes wire bytes. Never panics; only the canonical encoding [`WireMessage::encode`]
    /// writes is accepted, with nothing after it.
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        if bytes.len() > WIRE_MESSAGE_BYTES_MAX {
            return Err(WireError::TooLarge);
        }
        let mut reader = cbor::Reader::new(bytes);
        let fields = reader.array().map_err(|e| match e {
            CborError::Invalid => WireError::Malformed("not CBOR"),
            CborError::Unexpected => WireError::Malformed("not an array"),
        })?;
        let version = next_uint(&mut reader, fields, 0, "missing version")?;
        if version != WIRE_VERSION {
            return Err(WireError::UnknownVersion(version));
        }
        let kind = next_uint(&mut reader, fields, 1, "missing kind")?;
        if kind != KIND_SYNC {
            return Err(WireError::UnknownKind(kind));
        }
        const SHAPE: &str = "expected [version, kind, body]";
        if fields != 3 || reader.peek_major() != Some(cbor::ARRAY) {
            return Err(WireError::Malformed(SHAPE));
        }
        let count = reader
            .array()
            .map_err(|_| WireError::Malformed("not CBOR"))?;
        if count > WIRE_DOCS_MAX as u64 {
            return Err(WireError::TooMany("documents"));
        }
        let mut authors = AuthorCache::default();
        let mut docs = Vec::with_capacity(count as usize);
        for n in 0..count as usize {
            docs.push(read_doc(&mut reader, n, &mut authors)?);
        }
        if !reader.is_empty() {
            return Err(WireError::Malformed("bytes after the message"));
        }
        Ok(WireMessage::Sync(docs))
    }
}

/// Length of the encoding of a sync message with these documents.
fn encoded_len(docs: &[DocSync]) -> usize {
    let body: usize = docs
        .iter()
        .map(|d| {
            let changes: usize = d.changes.iter().map(SignedChange::encoded_len).sum();
            1 + 2
                + 32
                + cbor::header_len(d.sync.len() as u64)
                + d.sync.len()
                + cbor::header_len(d.changes.len() as u64)
                + changes
        })
        .sum();
    3 + cbor::header_len(docs.len() as u64) + body
}

/// Reads field `index` of a `fields`-long array as an unsigned integer.
fn next_uint(
    reader: &mut cbor::Reader<'_>,
    fields: u64,
    index: u64,
    missing: &'static str,
) -> Result<u64, WireError> {
    if fields <= index {
        return Err(WireError::Malformed(missing));
    }
    match reader.header() {
        Ok((cbor::UINT, value)) => Ok(value),
        Ok(_) => Err(WireError::Malformed(missing)),
        Err(_) => Err(WireError::Malformed("not CBOR")),
    }
}

fn read_doc(
    reader: &mut cbor::Reader<'_>,
    doc: usize,
    authors: &mut AuthorCache,
) -> Result<DocSync, WireError> {
    const SHAPE: &str = "expected [deal, sync, changes]";
    let shape = |e| match e {
        CborError::Invalid => WireError::Malformed("not CBOR"),
        CborError::Unexpected => WireError::Malformed(SHAPE),
    };
    let fields = reader.array().map_err(|e| match e {
        CborError::Invalid => WireError::Malformed("not CBOR"),
        CborError::Unexpected => WireError::Malformed("document entry is not an array"),
    })?;
    if fields != 3 {
        return Err(WireError::Malformed(SHAPE));
    }
    let deal = reader.bytes().map_err(shape)?;
    let sync = reader.bytes().map_err(shape)?;
    let count = reader.array().map_err(shape)?;
    let deal: [u8; 32] = deal
        .try_into()
        .map_err(|_| WireError::Malformed("deal id is not 32 bytes"))?;
    if sync.len() > SYNC_MESSAGE_BYTES_MAX {
        return Err(WireError::TooLarge);
    }
    if count > SYNC_CHANGES_MAX as u64 {
        return Err(WireError::TooMany("changes"));
    }
    let mut changes = Vec::with_capacity(count as usize);
    for index in 0..count as usize {
        let change = SignedChange::read(reader, authors).map_err(|error| WireError::Envelope {
            doc,
            index,
            error,
        })?;
        changes.push(change);
    }
    Ok(DocSync {
        deal: DealId::from_bytes(deal),
        sync: sync.to_vec(),
        changes,
    })
}
