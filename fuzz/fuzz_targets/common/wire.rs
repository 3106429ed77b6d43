//! `wire`: a wire message as a peer sends it — decode, then receive every document's part
//! (sync message and envelopes) into a replica: the fixture deal for the fixture's id (the first
//! time it is named), an empty replica otherwise, all in one batch as the node does; then answer.
//!
//! Properties: only the canonical encoding decodes (re-encoding gives the input back); one
//! outcome per document; a receive that applies nothing leaves the heads as they were.

use super::fixture;
use protocol::deal::DealDoc;
use protocol::sync::{receive_batch, PeerSync};
use protocol::wire::WireMessage;

pub fn run(data: &[u8]) {
    let Ok(message) = WireMessage::decode(data) else {
        return;
    };
    assert_eq!(
        message.encode(),
        data,
        "a non-canonical wire message decoded"
    );
    let WireMessage::Sync(docs) = message;
    let f = fixture::fixture();
    let mut fixture_used = false;
    let mut replicas: Vec<(DealDoc, PeerSync)> = docs
        .iter()
        .map(|d| {
            let doc = if d.deal == f.id && !fixture_used {
                fixture_used = true;
                fixture::doc()
            } else {
                DealDoc::replica(d.deal)
            };
            (doc, PeerSync::new())
        })
        .collect();
    let heads: Vec<_> = replicas.iter().map(|(d, _)| d.heads()).collect();
    let items = replicas
        .iter_mut()
        .zip(docs)
        .map(|((doc, peer), message)| (doc, peer, message))
        .collect();
    let outcomes = receive_batch(items);
    assert_eq!(outcomes.len(), replicas.len(), "one outcome per document");
    for (((doc, peer), outcome), heads) in replicas.iter_mut().zip(&outcomes).zip(heads) {
        if outcome.applied.is_empty() {
            assert_eq!(
                doc.heads(),
                heads,
                "a receive that applied nothing changed heads"
            );
        }
        if let Some(answer) = doc.generate_sync(peer) {
            let bytes = WireMessage::Sync(vec![answer.clone()]).encode();
            assert_eq!(
                WireMessage::decode(&bytes),
                Ok(WireMessage::Sync(vec![answer]))
            );
        }
    }
}
