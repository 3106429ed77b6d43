//! Wire messages between nodes: versioned, size-limited CBOR.
//!
//! `WireMessage = [version: uint = 1, kind: uint, body]`; kind 1 (`Sync`) has as body an array of
//! `DocSync = [deal: bstr(32), sync: bstr, changes: [envelope…]]`, each envelope in its own
//! canonical form (see [`crate::envelope`]). A message of an unknown version is refused with
//! [`WireError::UnknownVersion`], so a peer can tell an old node from a broken one. Decoding never
//! panics and checks every limit before trusting a count.

use ciborium::value::Value;

use crate::deal::DealId;
use crate::envelope::{integer_u64, uint, AuthorCache, EnvelopeError, SignedChange};
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
        let body = docs
            .iter()
            .map(|d| {
                Value::Array(vec![
                    Value::Bytes(d.deal.as_bytes().to_vec()),
                    Value::Bytes(d.sync.clone()),
                    Value::Array(d.changes.iter().map(SignedChange::to_value).collect()),
                ])
            })
            .collect();
        let value = Value::Array(vec![
            uint(WIRE_VERSION),
            uint(KIND_SYNC),
            Value::Array(body),
        ]);
        let mut out = Vec::new();
        ciborium::into_writer(&value, &mut out).expect("writing CBOR to a Vec cannot fail");
        out
    }

    /// Decodes wire bytes. Never panics.
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        if bytes.len() > WIRE_MESSAGE_BYTES_MAX {
            return Err(WireError::TooLarge);
        }
        let value: Value =
            ciborium::from_reader(bytes).map_err(|_| WireError::Malformed("not CBOR"))?;
        let Value::Array(items) = value else {
            return Err(WireError::Malformed("not an array"));
        };
        let mut items = items.into_iter();
        let version = items
            .next()
            .as_ref()
            .and_then(integer_u64)
            .ok_or(WireError::Malformed("missing version"))?;
        if version != WIRE_VERSION {
            return Err(WireError::UnknownVersion(version));
        }
        let kind = items
            .next()
            .as_ref()
            .and_then(integer_u64)
            .ok_or(WireError::Malformed("missing kind"))?;
        if kind != KIND_SYNC {
            return Err(WireError::UnknownKind(kind));
        }
        let (Some(Value::Array(docs)), None) = (items.next(), items.next()) else {
            return Err(WireError::Malformed("expected [version, kind, body]"));
        };
        if docs.len() > WIRE_DOCS_MAX {
            return Err(WireError::TooMany("documents"));
        }
        let mut authors = AuthorCache::default();
        docs.into_iter()
            .enumerate()
            .map(|(n, d)| decode_doc(n, d, &mut authors))
            .collect::<Result<Vec<_>, _>>()
            .map(WireMessage::Sync)
    }
}

fn decode_doc(doc: usize, value: Value, authors: &mut AuthorCache) -> Result<DocSync, WireError> {
    let Value::Array(parts) = value else {
        return Err(WireError::Malformed("document entry is not an array"));
    };
    let mut parts = parts.into_iter();
    let (Some(Value::Bytes(deal)), Some(Value::Bytes(sync)), Some(Value::Array(changes)), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(WireError::Malformed("expected [deal, sync, changes]"));
    };
    let deal: [u8; 32] = deal
        .as_slice()
        .try_into()
        .map_err(|_| WireError::Malformed("deal id is not 32 bytes"))?;
    if sync.len() > SYNC_MESSAGE_BYTES_MAX {
        return Err(WireError::TooLarge);
    }
    if changes.len() > SYNC_CHANGES_MAX {
        return Err(WireError::TooMany("changes"));
    }
    let changes = changes
        .into_iter()
        .enumerate()
        .map(|(index, v)| {
            SignedChange::from_value(v, authors).map_err(|error| WireError::Envelope {
                doc,
                index,
                error,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(DocSync {
        deal: DealId::from_bytes(deal),
        sync,
        changes,
    })
}
