//! PSI messages on the wire: versioned, size-limited CBOR.
//!
//! `PsiMessage = [version: uint = 1, kind: uint, …]`:
//! - kind 1 `Hello`: `[1, 1, level: uint]` with level 0 hidden, 1 counts, 2 overlaps;
//! - kind 2 `Blinded`: `[1, 2, seq: uint, set_points: uint, points: bstr]`;
//! - kind 3 `Reblinded`: `[1, 3, seq: uint, points: bstr]`;
//!
//! where `points` is 1 to [`CHUNK_POINTS_MAX`] compressed Ristretto points of 32 bytes,
//! concatenated. Only blinded points travel: no element, hash or count is ever in clear. Decoding
//! checks the size before parsing and never panics; whether the points are valid curve points is
//! checked when they are multiplied ([`super::reblind_chunk`]).

use ciborium::value::Value;

use super::{PointBytes, PsiLevel, CHUNK_POINTS_MAX};
use crate::envelope::{integer_u64, uint};

/// Version of the PSI wire encoding.
pub const PSI_WIRE_VERSION: u64 = 1;

/// Largest encoded PSI message: a full chunk of points plus a few bytes of framing (512 KiB; under
/// libp2p request-response's default 10 MiB cap).
pub const PSI_MESSAGE_BYTES_MAX: usize = CHUNK_POINTS_MAX * 32 + 64;

const KIND_HELLO: u64 = 1;
const KIND_BLINDED: u64 = 2;
const KIND_REBLINDED: u64 = 3;

/// Why PSI message bytes were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PsiWireError {
    #[error("psi message is larger than {PSI_MESSAGE_BYTES_MAX} bytes")]
    TooLarge,
    #[error("unknown psi wire version {0}")]
    UnknownVersion(u64),
    #[error("unknown psi message kind {0}")]
    UnknownKind(u64),
    #[error("malformed psi message: {0}")]
    Malformed(&'static str),
}

/// A message between the two sides of a PSI run. `Debug` shows point counts, not points.
#[derive(Clone, PartialEq, Eq)]
pub enum PsiMessage {
    /// The sender's level; the first message of a run.
    Hello { level: PsiLevel },
    /// Chunk `seq` of the sender's blinded, padded, shuffled list of `set_points` points.
    Blinded {
        seq: u32,
        set_points: u64,
        points: Vec<PointBytes>,
    },
    /// Chunk `seq` of the receiver's list, re-blinded by the sender: in the receiver's order at
    /// `Overlaps`, shuffled over the whole list at `Counts`.
    Reblinded { seq: u32, points: Vec<PointBytes> },
}

impl std::fmt::Debug for PsiMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PsiMessage::Hello { level } => write!(f, "Hello({level:?})"),
            PsiMessage::Blinded {
                seq,
                set_points,
                points,
            } => write!(
                f,
                "Blinded(chunk {seq} of a {set_points}-point list, {} points, first {:02x?})",
                points.len(),
                points.first().map(|p| &p[..4])
            ),
            PsiMessage::Reblinded { seq, points } => write!(
                f,
                "Reblinded(chunk {seq}, {} points, first {:02x?})",
                points.len(),
                points.first().map(|p| &p[..4])
            ),
        }
    }
}

impl PsiMessage {
    /// Canonical CBOR bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut items = vec![uint(PSI_WIRE_VERSION)];
        match self {
            PsiMessage::Hello { level } => {
                items.extend([uint(KIND_HELLO), uint(level_code(*level))]);
            }
            PsiMessage::Blinded {
                seq,
                set_points,
                points,
            } => items.extend([
                uint(KIND_BLINDED),
                uint(u64::from(*seq)),
                uint(*set_points),
                Value::Bytes(points.concat()),
            ]),
            PsiMessage::Reblinded { seq, points } => items.extend([
                uint(KIND_REBLINDED),
                uint(u64::from(*seq)),
                Value::Bytes(points.concat()),
            ]),
        }
        let mut out = Vec::new();
        ciborium::into_writer(&Value::Array(items), &mut out)
            .expect("writing CBOR to a Vec cannot fail");
        out
    }

    /// Decodes PSI message bytes. Never panics.
    pub fn decode(bytes: &[u8]) -> Result<PsiMessage, PsiWireError> {
        if bytes.len() > PSI_MESSAGE_BYTES_MAX {
            return Err(PsiWireError::TooLarge);
        }
        let value: Value =
            ciborium::from_reader(bytes).map_err(|_| PsiWireError::Malformed("not CBOR"))?;
        let Value::Array(items) = value else {
            return Err(PsiWireError::Malformed("not an array"));
        };
        let mut items = items.into_iter();
        let version = next_uint(&mut items, "missing version")?;
        if version != PSI_WIRE_VERSION {
            return Err(PsiWireError::UnknownVersion(version));
        }
        let kind = next_uint(&mut items, "missing kind")?;
        let message = match kind {
            KIND_HELLO => PsiMessage::Hello {
                level: level_from_code(next_uint(&mut items, "missing level")?)?,
            },
            KIND_BLINDED => PsiMessage::Blinded {
                seq: next_seq(&mut items)?,
                set_points: next_uint(&mut items, "missing set size")?,
                points: next_points(&mut items)?,
            },
            KIND_REBLINDED => PsiMessage::Reblinded {
                seq: next_seq(&mut items)?,
                points: next_points(&mut items)?,
            },
            other => return Err(PsiWireError::UnknownKind(other)),
        };
        if items.next().is_some() {
            return Err(PsiWireError::Malformed("trailing items"));
        }
        Ok(message)
    }
}

fn level_code(level: PsiLevel) -> u64 {
    match level {
        PsiLevel::Hidden => 0,
        PsiLevel::Counts => 1,
        PsiLevel::Overlaps => 2,
    }
}

fn level_from_code(code: u64) -> Result<PsiLevel, PsiWireError> {
    match code {
        0 => Ok(PsiLevel::Hidden),
        1 => Ok(PsiLevel::Counts),
        2 => Ok(PsiLevel::Overlaps),
        _ => Err(PsiWireError::Malformed("unknown level")),
    }
}

fn next_uint(
    items: &mut impl Iterator<Item = Value>,
    missing: &'static str,
) -> Result<u64, PsiWireError> {
    items
        .next()
        .as_ref()
        .and_then(integer_u64)
        .ok_or(PsiWireError::Malformed(missing))
}

fn next_seq(items: &mut impl Iterator<Item = Value>) -> Result<u32, PsiWireError> {
    u32::try_from(next_uint(items, "missing chunk number")?)
        .map_err(|_| PsiWireError::Malformed("chunk number too large"))
}

fn next_points(items: &mut impl Iterator<Item = Value>) -> Result<Vec<PointBytes>, PsiWireError> {
    let Some(Value::Bytes(bytes)) = items.next() else {
        return Err(PsiWireError::Malformed("missing points"));
    };
    if bytes.is_empty() || bytes.len() % 32 != 0 {
        return Err(PsiWireError::Malformed(
            "points are not a multiple of 32 bytes",
        ));
    }
    if bytes.len() / 32 > CHUNK_POINTS_MAX {
        return Err(PsiWireError::TooLarge);
    }
    Ok(bytes
        .chunks_exact(32)
        .map(|c| c.try_into().expect("chunks_exact yields 32 bytes"))
        .collect())
}
