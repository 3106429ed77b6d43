//! The signed change envelope: one Automerge change, its author's node id and the author's
//! signature over the change hash. Because a change hash is SHA-256 over the change including its
//! dependency hashes, the signature also vouches for the change's causal past.
//!
//! Encoding (canonical CBOR, the bytes that are stored and relayed unchanged):
//! `[version: uint = 1, change: bstr, author: tstr, signature: bstr(64)]`, written and read by
//! [`crate::cbor`] (every header in its shortest form; nothing else is accepted).
//! The signed message is `SIGNING_CONTEXT ‖ change_hash` (32 bytes), so a cosell signature can
//! never be confused with a signature over anything else.

use automerge::{Change, ChangeHash};
use ciborium::value::{Integer, Value};

use crate::cbor::{self, CborError};
use crate::identity::{NodeId, NodeKey};
use crate::limits::{CHANGE_BYTES_MAX, ENVELOPE_BYTES_MAX, NODE_ID_BYTES_MAX};

/// Version byte of the envelope encoding.
pub const ENVELOPE_VERSION: u8 = 1;

/// Domain separation for change signatures.
pub const SIGNING_CONTEXT: &[u8] = b"cosell/change/v1\0";

/// Why envelope bytes were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// Larger than `ENVELOPE_BYTES_MAX` or a field over its limit.
    #[error("envelope is too large: {0}")]
    TooLarge(&'static str),
    /// An envelope version this node does not know.
    #[error("unknown envelope version {0}")]
    UnknownVersion(u64),
    /// Not the envelope shape.
    #[error("malformed envelope: {0}")]
    Malformed(&'static str),
    /// The author field is not a node id.
    #[error("envelope author is not a node id")]
    BadAuthor,
}

/// A change with its author and signature, as received or as made locally. Nothing about it is
/// trusted yet: [`crate::deal::DealDoc`] verifies it before applying.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedChange {
    change: Vec<u8>,
    author: NodeId,
    signature: [u8; 64],
}

impl SignedChange {
    /// Signs a locally made change. `change` must be the uncompressed change chunk.
    pub fn sign(key: &NodeKey, change: &Change) -> Self {
        let signature = key.sign(&signing_message(&change.hash()));
        SignedChange {
            change: change.raw_bytes().to_vec(),
            author: key.node_id().clone(),
            signature,
        }
    }

    /// Builds an envelope from parts (tests and tools; receivers use [`SignedChange::decode`]).
    pub fn from_parts(change: Vec<u8>, author: NodeId, signature: [u8; 64]) -> Self {
        SignedChange {
            change,
            author,
            signature,
        }
    }

    /// The Automerge change bytes.
    pub fn change_bytes(&self) -> &[u8] {
        &self.change
    }

    /// The claimed author.
    pub fn author(&self) -> &NodeId {
        &self.author
    }

    /// The claimed signature.
    pub fn signature(&self) -> &[u8; 64] {
        &self.signature
    }

    /// Canonical CBOR bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.write(&mut out);
        out
    }

    /// Length of [`SignedChange::encode`]'s output.
    pub(crate) fn encoded_len(&self) -> usize {
        let (change, author) = (self.change.len(), self.author.as_str().len());
        1 + 1
            + cbor::header_len(change as u64)
            + change
            + cbor::header_len(author as u64)
            + author
            + 2
            + self.signature.len()
    }

    /// Appends the canonical encoding: `[1, change, author, signature]`.
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        cbor::write_header(out, cbor::ARRAY, 4);
        cbor::write_header(out, cbor::UINT, u64::from(ENVELOPE_VERSION));
        cbor::write_bytes(out, &self.change);
        cbor::write_text(out, self.author.as_str());
        cbor::write_bytes(out, &self.signature);
    }

    /// Decodes envelope bytes. Never panics; every field is size-checked. Only the canonical
    /// encoding [`SignedChange::encode`] writes is accepted, with nothing after it.
    pub fn decode(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        if bytes.len() > ENVELOPE_BYTES_MAX {
            return Err(EnvelopeError::TooLarge("envelope"));
        }
        let mut reader = cbor::Reader::new(bytes);
        let envelope = Self::read(&mut reader, &mut AuthorCache::default())?;
        if !reader.is_empty() {
            return Err(EnvelopeError::Malformed("bytes after the envelope"));
        }
        Ok(envelope)
    }

    /// Reads one envelope from `reader` (on its own or inside a wire message).
    pub(crate) fn read(
        reader: &mut cbor::Reader<'_>,
        authors: &mut AuthorCache,
    ) -> Result<Self, EnvelopeError> {
        let not_cbor = |e| match e {
            CborError::Invalid => EnvelopeError::Malformed("not CBOR"),
            CborError::Unexpected => EnvelopeError::Malformed(SHAPE),
        };
        const SHAPE: &str = "expected [version, change, author, signature]";
        let fields = reader.array().map_err(|e| match e {
            CborError::Invalid => EnvelopeError::Malformed("not CBOR"),
            CborError::Unexpected => EnvelopeError::Malformed("not an array"),
        })?;
        if fields == 0 {
            return Err(EnvelopeError::Malformed("missing version"));
        }
        // A version of any width is named in the error, so a peer can tell a newer node from a
        // broken one; a negative version reads as the largest.
        let version = match reader.header().map_err(not_cbor)? {
            (cbor::UINT, v) => v,
            (cbor::NEGATIVE, _) => u64::MAX,
            _ => return Err(EnvelopeError::Malformed("missing version")),
        };
        if version != u64::from(ENVELOPE_VERSION) {
            return Err(EnvelopeError::UnknownVersion(version));
        }
        if fields < 4 {
            return Err(EnvelopeError::Malformed(SHAPE));
        }
        let change = reader.bytes().map_err(not_cbor)?;
        let author = reader.text().map_err(not_cbor)?;
        let signature = reader.bytes().map_err(not_cbor)?;
        if fields > 4 {
            return Err(EnvelopeError::Malformed("trailing fields"));
        }
        if change.len() > CHANGE_BYTES_MAX {
            return Err(EnvelopeError::TooLarge("change"));
        }
        if author.len() > NODE_ID_BYTES_MAX {
            return Err(EnvelopeError::TooLarge("author"));
        }
        let signature: [u8; 64] = signature
            .try_into()
            .map_err(|_| EnvelopeError::Malformed("signature is not 64 bytes"))?;
        let author = authors.parse(author)?;
        Ok(SignedChange {
            change: change.to_vec(),
            author,
            signature,
        })
    }
}

/// Node ids already parsed while decoding one message: a batch names few authors many times.
#[derive(Default)]
pub(crate) struct AuthorCache {
    known: Vec<NodeId>,
}

impl AuthorCache {
    /// Most distinct authors remembered; beyond that ids are parsed each time.
    const AUTHORS_MAX: usize = 64;

    fn parse(&mut self, text: &str) -> Result<NodeId, EnvelopeError> {
        if let Some(id) = self.known.iter().find(|id| id.as_str() == text) {
            return Ok(id.clone());
        }
        let id = NodeId::parse(text).map_err(|_| EnvelopeError::BadAuthor)?;
        if self.known.len() < Self::AUTHORS_MAX {
            self.known.push(id.clone());
        }
        Ok(id)
    }
}

/// The bytes a change signature covers.
pub fn signing_message(hash: &ChangeHash) -> [u8; 49] {
    let mut message = [0u8; 49];
    message[..SIGNING_CONTEXT.len()].copy_from_slice(SIGNING_CONTEXT);
    message[SIGNING_CONTEXT.len()..].copy_from_slice(&hash.0);
    message
}

pub(crate) fn integer_u64(value: &Value) -> Option<u64> {
    match value {
        Value::Integer(i) => u64::try_from(*i).ok(),
        _ => None,
    }
}

pub(crate) fn uint(value: u64) -> Value {
    Value::Integer(Integer::from(value))
}
