//! The body of a `MAP` frame: `header_len: u32 BE ‖ header (JSON) ‖ (len: u32 BE ‖ PSI message)*`.
//! PSI messages are the protocol crate's CBOR ([`protocol::psi::PsiMessage`]); only blinded
//! points travel in them. Sizes are checked before anything is allocated.

use anyhow::{bail, Result};
use protocol::psi::wire::PSI_MESSAGE_BYTES_MAX;
use serde::{Deserialize, Serialize};

/// Largest JSON header (records are in it).
pub const HEADER_BYTES_MAX: usize = super::RECORDS_BYTES_MAX + 64 * 1024;
/// Most PSI messages in one body.
pub const MESSAGES_MAX: usize = 64;

/// A population as offered to the partner: its name and the level this side allows for it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Offer {
    /// The population's name.
    pub name: String,
    /// hidden | counts | overlaps | all.
    pub level: String,
}

/// One account a side reveals after PSI, projected by its policy.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SharedRecord {
    /// The matched domain (at `overlaps`: the receiver has it too), else only if shared.
    #[serde(default)]
    pub key: Option<String>,
    /// The account's shared fields.
    pub fields: serde_json::Value,
}

/// What a request or answer is.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Header {
    /// Start a run: the initiator's populations.
    Open {
        run: String,
        populations: Vec<Offer>,
    },
    /// The responder's populations.
    Opened { populations: Vec<Offer> },
    /// PSI messages for one cell.
    Psi { run: String, cell: usize },
    /// The responder's PSI messages; `more` when it holds more, `done` when it is finished.
    PsiReply { done: bool, more: bool },
    /// The initiator's records for a cell.
    Records {
        run: String,
        cell: usize,
        records: Vec<SharedRecord>,
    },
    /// The responder's records for the cell.
    RecordsReply { records: Vec<SharedRecord> },
    /// End the run.
    Close { run: String },
    /// The run ended.
    Closed {},
}

/// Encodes a body.
pub fn encode(header: &Header, messages: &[Vec<u8>]) -> Result<Vec<u8>> {
    let h = serde_json::to_vec(header)?;
    if h.len() > HEADER_BYTES_MAX || messages.len() > MESSAGES_MAX {
        bail!("mapping message over the size limit");
    }
    let mut out =
        Vec::with_capacity(4 + h.len() + messages.iter().map(|m| m.len() + 4).sum::<usize>());
    out.extend_from_slice(&(h.len() as u32).to_be_bytes());
    out.extend_from_slice(&h);
    for m in messages {
        out.extend_from_slice(&(m.len() as u32).to_be_bytes());
        out.extend_from_slice(m);
    }
    Ok(out)
}

fn take<'a>(bytes: &mut &'a [u8], max: usize) -> Result<&'a [u8]> {
    if bytes.len() < 4 {
        bail!("truncated mapping message");
    }
    let len = u32::from_be_bytes(bytes[..4].try_into().expect("4 bytes")) as usize;
    if len > max || bytes.len() - 4 < len {
        bail!("mapping message part of {len} bytes is too long or truncated");
    }
    let part = &bytes[4..4 + len];
    *bytes = &bytes[4 + len..];
    Ok(part)
}

/// Decodes a body.
pub fn decode(mut bytes: &[u8]) -> Result<(Header, Vec<Vec<u8>>)> {
    let h = take(&mut bytes, HEADER_BYTES_MAX)?;
    let header: Header =
        serde_json::from_slice(h).map_err(|e| anyhow::anyhow!("malformed mapping header: {e}"))?;
    let mut messages = Vec::new();
    while !bytes.is_empty() {
        if messages.len() == MESSAGES_MAX {
            bail!("more than {MESSAGES_MAX} psi messages");
        }
        messages.push(take(&mut bytes, PSI_MESSAGE_BYTES_MAX)?.to_vec());
    }
    Ok((header, messages))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_limits() {
        let h = Header::Psi {
            run: "r".into(),
            cell: 3,
        };
        let body = encode(&h, &[vec![1, 2, 3], vec![]]).unwrap();
        let (back, msgs) = decode(&body).unwrap();
        assert!(matches!(back, Header::Psi { cell: 3, .. }));
        assert_eq!(msgs, vec![vec![1, 2, 3], vec![]]);
        assert!(decode(&body[..body.len() - 1]).is_err());
        let mut huge = body.clone();
        huge[0] = 0xFF;
        assert!(decode(&huge).is_err());
    }
}
