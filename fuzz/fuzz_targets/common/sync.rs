//! `sync`: one Automerge sync message from a peer (the `sync` field of a wire message's
//! document part) — parsed with `protocol::sync`'s checks (no changes outside envelopes, at most
//! `SYNC_HAVES_MAX` Bloom filters, each filter's parameters bounded and its bit array the size
//! they say) — received into a fresh peer state of an empty replica, of a replica holding the
//! genesis only and of the whole fixture deal, twice, each followed by the answer it makes.
//! The same bytes are also read as a persisted peer state (`PeerSync::decode`) and, if they
//! read, used to answer.
//!
//! Properties: a sync message without changes never changes a document; the answer re-encodes;
//! a peer state this node wrote reads back.

use super::fixture;
use protocol::deal::DealDoc;
use protocol::sync::PeerSync;
use protocol::verify::RejectReason;
use protocol::wire::{DocSync, WireMessage};

pub fn run(data: &[u8]) {
    let f = fixture::fixture();
    let message = DocSync {
        deal: f.id,
        sync: data.to_vec(),
        changes: Vec::new(),
    };
    for mut doc in [
        DealDoc::replica(f.id),
        fixture::doc_prefix(1),
        fixture::doc(),
    ] {
        let heads = doc.heads();
        let mut peer = PeerSync::new();
        for _ in 0..2 {
            let outcome = doc.receive_sync(&mut peer, message.clone());
            assert!(
                outcome.applied.is_empty(),
                "a sync message applied a change"
            );
            assert_eq!(doc.heads(), heads, "a sync message changed the document");
            let refused = outcome
                .rejected
                .iter()
                .any(|r| matches!(r.reason, RejectReason::Sync(_)));
            if refused {
                // Refused whole: the peer state is as new, and so is the answer (the same for
                // every such input, made by the inputs that parse): not made again here, which
                // is most of the time an input takes.
                assert_eq!(
                    peer.encode(),
                    PeerSync::new().encode(),
                    "a refused message changed the peer state"
                );
                break;
            }
            answer(&doc, &mut peer);
        }
        let persisted = peer.encode();
        let read = PeerSync::decode(&persisted).expect("a peer state this node wrote reads back");
        assert_eq!(read.encode(), persisted);
    }
    if let Ok(mut state) = PeerSync::decode(data) {
        let _ = PeerSync::decode(&state.encode()).expect("a decoded peer state re-encodes");
        answer(&fixture::doc(), &mut state);
    }
}

/// The node's answer to the peer, checked to re-encode. Every document here is a prefix of the
/// fixture deal, so what it sends is among the fixture's envelopes.
fn answer(doc: &DealDoc, peer: &mut PeerSync) {
    if let Some(answer) = doc.generate_sync(peer) {
        let known = &fixture::fixture().envelopes;
        for change in &answer.changes {
            assert!(known.contains(change), "sent a change it does not hold");
        }
        let bytes = WireMessage::Sync(vec![answer.clone()]).encode();
        assert_eq!(
            WireMessage::decode(&bytes),
            Ok(WireMessage::Sync(vec![answer]))
        );
    }
}
