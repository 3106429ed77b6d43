//! `PeerSync::shared_heads` survives a restart and tells when a peer holds a whole document: the
//! node uses it to leave unchanged deals out of a reconnect.

mod support;

use protocol::deal::{DealDoc, SectionUpdate};
use protocol::sync::PeerSync;
use support::*;

fn sorted(mut h: Vec<automerge::ChangeHash>) -> Vec<automerge::ChangeHash> {
    h.sort();
    h
}

#[test]
fn shared_heads_equal_the_documents_heads_after_a_full_sync_and_survive_encoding() {
    let (a, b) = (signer(1), signer(2));
    let mut doc_a = deal(&a, &[&b]);
    let mut doc_b = DealDoc::replica(doc_a.id());
    let (mut a_about_b, mut b_about_a) = (PeerSync::new(), PeerSync::new());
    assert!(b_about_a.shared_heads().is_empty());
    assert!(sync_pair(&mut doc_a, &mut a_about_b, &mut doc_b, &mut b_about_a).is_empty());
    assert_eq!(doc_b.heads(), doc_a.heads());
    // Both sides learn that both hold the heads: the receiver from the sender's message, the
    // sender from the receiver's answer confirming them (a bug once left the sender's state
    // empty, so every reconnect re-offered every deal).
    let restored = PeerSync::decode(&b_about_a.encode()).expect("decode");
    assert_eq!(
        sorted(restored.shared_heads().to_vec()),
        sorted(doc_b.heads())
    );
    let sender = PeerSync::decode(&a_about_b.encode()).expect("decode");
    assert_eq!(
        sorted(sender.shared_heads().to_vec()),
        sorted(doc_a.heads()),
        "the sender's persisted state must know the receiver holds its heads"
    );

    // A local change moves the document's heads past what the peer is known to hold.
    let up = SectionUpdate {
        next_step: Some("next".into()),
        ..SectionUpdate::default()
    };
    doc_b.update_section(&b, 5, &up).expect("edit");
    assert_ne!(
        sorted(restored.shared_heads().to_vec()),
        sorted(doc_b.heads())
    );
}
