//! The signed change envelope: one Automerge change, its author's node id and the author's
//! signature over the change hash. Because a change hash is SHA-256 over the change including its
//! dependency hashes, the signature also vouches for the change's causal past.
//!
//! Encoding (canonical CBOR, the bytes that are stored and relayed unchanged):
//! `[version: uint = 1, change: bstr, author: tstr, signature: bstr(64)]`.
//! The signed message is `SIGNING_CONTEXT ‖ change_hash` (32 bytes), so a cosell signature can
//! never be confused with a signature over anything else.

use automerge::{Change, ChangeHash};
use ciborium::value::{Integer, Value};

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
        let value = self.to_value();
        let mut out = Vec::with_capacity(self.change.len() + 128);
        ciborium::into_writer(&value, &mut out).expect("writing CBOR to a Vec cannot fail");
        out
    }

    pub(crate) fn to_value(&self) -> Value {
        Value::Array(vec![
            Value::Integer(ENVELOPE_VERSION.into()),
            Value::Bytes(self.change.clone()),
            Value::Text(self.author.as_str().to_string()),
            Value::Bytes(self.signature.to_vec()),
        ])
    }

    /// Decodes envelope bytes. Never panics; every field is size-checked.
    pub fn decode(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        if bytes.len() > ENVELOPE_BYTES_MAX {
            return Err(EnvelopeError::TooLarge("envelope"));
        }
        let value: Value =
            ciborium::from_reader(bytes).map_err(|_| EnvelopeError::Malformed("not CBOR"))?;
        Self::from_value(value, &mut AuthorCache::default())
    }

    pub(crate) fn from_value(
        value: Value,
        authors: &mut AuthorCache,
    ) -> Result<Self, EnvelopeError> {
        let Value::Array(items) = value else {
            return Err(EnvelopeError::Malformed("not an array"));
        };
        let mut items = items.into_iter();
        let version = match items.next() {
            Some(Value::Integer(v)) => u64::try_from(v).unwrap_or(u64::MAX),
            _ => return Err(EnvelopeError::Malformed("missing version")),
        };
        if version != u64::from(ENVELOPE_VERSION) {
            return Err(EnvelopeError::UnknownVersion(version));
        }
        let (Some(Value::Bytes(change)), Some(Value::Text(author)), Some(Value::Bytes(sig))) =
            (items.next(), items.next(), items.next())
        else {
            return Err(EnvelopeError::Malformed(
                "expected [version, change, author, signature]",
            ));
        };
        if items.next().is_some() {
            return Err(EnvelopeError::Malformed("trailing fields"));
        }
        if change.len() > CHANGE_BYTES_MAX {
            return Err(EnvelopeError::TooLarge("change"));
        }
        if author.len() > NODE_ID_BYTES_MAX {
            return Err(EnvelopeError::TooLarge("author"));
        }
        let signature: [u8; 64] = sig
            .as_slice()
            .try_into()
            .map_err(|_| EnvelopeError::Malformed("signature is not 64 bytes"))?;
        let author = authors.parse(author)?;
        Ok(SignedChange {
            change,
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

    fn parse(&mut self, text: String) -> Result<NodeId, EnvelopeError> {
        if let Some(id) = self.known.iter().find(|id| id.as_str() == text) {
            return Ok(id.clone());
        }
        let id = NodeId::parse(&text).map_err(|_| EnvelopeError::BadAuthor)?;
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
