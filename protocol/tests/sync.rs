//! Sync between honest replicas: two nodes, relays, reconnects.

mod support;

use protocol::deal::{DealDoc, SectionUpdate, SharedFields};
use protocol::records::Stage;
use protocol::sync::PeerSync;
use support::*;

#[test]
fn two_nodes_converge_on_each_others_edits() {
    let (a, b) = (signer(1), signer(2));
    let mut doc_a = deal(&a, &[&b]);
    let mut doc_b = DealDoc::replica(doc_a.id());
    let (mut ab, mut ba) = (PeerSync::new(), PeerSync::new());
    assert!(sync_pair(&mut doc_a, &mut ab, &mut doc_b, &mut ba).is_empty());
    doc_b.accept(&b, 2_000).unwrap();
    let note = SectionUpdate {
        add_notes: vec!["met the CTO".into()],
        next_step: Some("send quote".into()),
        ..SectionUpdate::default()
    };
    doc_b.update_section(&b, 2_001, &note).unwrap();
    doc_a
        .set_shared(
            &a,
            2_002,
            &SharedFields {
                stage: Some(Stage::Committed),
                ..SharedFields::default()
            },
        )
        .unwrap();
    assert!(sync_pair(&mut doc_a, &mut ab, &mut doc_b, &mut ba).is_empty());
    assert_eq!(doc_a.heads(), doc_b.heads());
    let view = doc_a.read_view();
    assert_eq!(view, doc_b.read_view());
    assert_eq!(view.shared.stage, Some(Stage::Committed));
    assert_eq!(
        view.sections[&id(&b)].notes,
        vec!["met the CTO".to_string()]
    );
    assert_eq!(
        view.participants[&id(&b)].status,
        Some(protocol::deal::ParticipantStatus::Accepted)
    );
}

#[test]
fn relay_forwards_changes_it_did_not_author() {
    // Goal: C only talks to B; A's and C's changes still reach each other through B.
    let (a, b, c) = (signer(1), signer(2), signer(3));
    let mut doc_a = deal(&a, &[&b, &c]);
    let mut doc_b = DealDoc::replica(doc_a.id());
    let mut doc_c = DealDoc::replica(doc_a.id());
    let (mut ab, mut ba, mut bc, mut cb) = (
        PeerSync::new(),
        PeerSync::new(),
        PeerSync::new(),
        PeerSync::new(),
    );
    sync_pair(&mut doc_a, &mut ab, &mut doc_b, &mut ba);
    sync_pair(&mut doc_b, &mut bc, &mut doc_c, &mut cb);
    doc_c.accept(&c, 5).unwrap();
    assert!(sync_pair(&mut doc_b, &mut bc, &mut doc_c, &mut cb).is_empty());
    assert!(sync_pair(&mut doc_a, &mut ab, &mut doc_b, &mut ba).is_empty());
    assert_eq!(doc_a.heads(), doc_c.heads());
    assert_eq!(doc_a.read_view(), doc_c.read_view());
}

#[test]
fn reconnect_with_persisted_state_sends_only_new_changes() {
    let (a, b) = (signer(1), signer(2));
    let mut doc_a = deal(&a, &[&b]);
    for i in 0..30 {
        let up = SectionUpdate {
            next_step: Some(format!("step {i}")),
            ..SectionUpdate::default()
        };
        doc_a.update_section(&a, 10 + i, &up).unwrap();
    }
    let mut doc_b = DealDoc::replica(doc_a.id());
    let (mut ab, mut ba) = (PeerSync::new(), PeerSync::new());
    sync_pair(&mut doc_a, &mut ab, &mut doc_b, &mut ba);
    let up = SectionUpdate {
        next_step: Some("one more".into()),
        ..SectionUpdate::default()
    };
    doc_a.update_section(&a, 100, &up).unwrap();
    // Both sides restart: the states come back from storage.
    let mut ab = PeerSync::decode(&ab.encode()).unwrap();
    let mut ba = PeerSync::decode(&ba.encode()).unwrap();
    let mut sent = 0;
    for _ in 0..10 {
        let m1 = doc_a.generate_sync(&mut ab);
        let m2 = doc_b.generate_sync(&mut ba);
        if m1.is_none() && m2.is_none() {
            break;
        }
        if let Some(m) = m1 {
            sent += m.changes.len();
            doc_b.receive_sync(&mut ba, m);
        }
        if let Some(m) = m2 {
            doc_a.receive_sync(&mut ab, m);
        }
    }
    assert_eq!(sent, 1, "only the change made since the last sync travels");
    assert_eq!(doc_a.heads(), doc_b.heads());
}

#[test]
fn restart_restores_a_deal_from_its_stored_envelopes() {
    let (a, b) = (signer(1), signer(2));
    let mut doc = deal(&a, &[&b]);
    let up = SectionUpdate {
        next_step: Some("x".into()),
        ..SectionUpdate::default()
    };
    doc.update_section(&b, 5, &up).unwrap();
    // Storage gives the envelopes back in any order.
    let mut stored: Vec<Vec<u8>> = doc.envelopes().iter().map(|e| e.encode()).collect();
    stored.reverse();
    let envelopes = stored
        .iter()
        .map(|bytes| protocol::envelope::SignedChange::decode(bytes).unwrap())
        .collect();
    let restored = DealDoc::restore(doc.id(), envelopes).unwrap();
    assert_eq!(restored.heads(), doc.heads());
    assert_eq!(restored.read_view(), doc.read_view());
    // A new process run edits with a new actor, and peers accept it.
    let b_next_run = protocol::deal::Signer::new(b.key().clone(), 2);
    let mut restored = restored;
    let up = SectionUpdate {
        next_step: Some("y".into()),
        ..SectionUpdate::default()
    };
    let change = restored.update_section(&b_next_run, 6, &up).unwrap();
    assert_eq!(doc.ingest(vec![change.envelope().clone()]).applied.len(), 1);
}
