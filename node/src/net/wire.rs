//! What travels in the co-sell frames besides the protocol crate's `WireMessage`: the join
//! request and answer (JSON in [`kind::JOIN`](super::codec::kind::JOIN) frames), and how sync
//! messages are cut into requests and replies of bounded size.
//!
//! These are wire shapes only: what a join proves and when it is accepted is decided above net,
//! by the partnership code that builds and checks them.

use protocol::deal::DealId;
use protocol::wire::DocSync;
use serde::{Deserialize, Serialize};

/// What the joiner tells the inviter (kind `JOIN`, JSON). It carries no secret: the invite key's
/// signature proves the joiner holds the invite (see the partnership code's module comment).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JoinRequest {
    /// Format version (the join request version of the partnership code).
    pub v: u32,
    /// The inviter the token names (a node receiving another node's invite refuses it).
    pub inviter: String,
    /// The invite's public key, hex: which invite this is.
    pub invite: String,
    /// The join nonce: random bytes, hex, fresh per request.
    pub nonce: String,
    /// The invite key's signature over the join proof bytes, hex.
    pub proof: String,
    /// The joiner's company name.
    pub name: String,
    /// Where to dial the joiner.
    pub addrs: Vec<String>,
}

/// The inviter's answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JoinAnswer {
    /// `None` when accepted; otherwise why not.
    pub error: Option<String>,
    /// When refused because the invite itself cannot be used any more: `used`, `expired` or
    /// `unknown` (the invite error's spent code), so the joiner can tell its user to ask for a
    /// new invite. Absent in answers of older nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spent: Option<String>,
    /// The inviter's company name.
    pub name: String,
}

/// About how many bytes `d` takes on the wire.
fn doc_bytes(d: &DocSync) -> usize {
    d.sync.len()
        + d.changes
            .iter()
            .map(|c| c.change_bytes().len() + 160)
            .sum::<usize>()
        + 64
}

/// Takes the next request from the front of `queued`: at most `docs_max` documents and about
/// `bytes_max` bytes (a document larger than that goes alone).
pub fn take_chunk(queued: &mut Vec<DocSync>, docs_max: usize, bytes_max: usize) -> Vec<DocSync> {
    let mut n = 0;
    let mut bytes = 0;
    for m in queued.iter() {
        let b = doc_bytes(m);
        if n > 0 && (n == docs_max || bytes + b > bytes_max) {
            break;
        }
        bytes += b;
        n += 1;
    }
    queued.drain(..n).collect()
}

/// Keeps replies under `bytes_max`; returns the kept ones and the deals left out.
pub fn cap_reply(messages: Vec<DocSync>, bytes_max: usize) -> (Vec<DocSync>, Vec<DealId>) {
    let mut kept = Vec::new();
    let mut dropped = Vec::new();
    let mut bytes = 0;
    for m in messages {
        let b = doc_bytes(&m);
        if bytes + b > bytes_max {
            dropped.push(m.deal);
        } else {
            bytes += b;
            kept.push(m);
        }
    }
    (kept, dropped)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docs(n: u8) -> Vec<DocSync> {
        (0..n)
            .map(|i| DocSync {
                deal: DealId::from_bytes([i; 32]),
                sync: Vec::new(),
                changes: Vec::new(),
            })
            .collect()
    }

    /// The sizes of the requests `take_chunk` cuts `queued` into.
    fn sizes(mut queued: Vec<DocSync>, docs_max: usize, bytes_max: usize) -> Vec<usize> {
        let mut out = Vec::new();
        while !queued.is_empty() {
            out.push(take_chunk(&mut queued, docs_max, bytes_max).len());
        }
        out
    }

    #[test]
    fn requests_are_cut_at_the_document_count_or_the_byte_size_whichever_comes_first() {
        assert_eq!(sizes(docs(10), 4, usize::MAX), [4, 4, 2]);
        // An empty message counts 64 bytes: two fit in 130.
        assert_eq!(sizes(docs(5), 256, 130), [2, 2, 1]);
        // A message over the size on its own still goes, alone.
        assert_eq!(sizes(docs(2), 256, 10), [1, 1]);
        assert!(take_chunk(&mut Vec::new(), 4, 100).is_empty());
    }

    #[test]
    fn a_reply_keeps_what_fits_and_names_the_deals_left_out() {
        let (kept, dropped) = cap_reply(docs(5), 200);
        let kept: Vec<DealId> = kept.iter().map(|d| d.deal).collect();
        let all: Vec<DealId> = docs(5).iter().map(|d| d.deal).collect();
        assert_eq!(kept, all[..3]);
        assert_eq!(dropped, all[3..]);
    }
}
