//! Hostile partners, removal: a removed participant's changes are judged by their author, and
//! a removal in their causal past is final (issue 19, finding 6).

mod hostile;
mod support;

use automerge::transaction::Transactable;
use automerge::{Automerge, ObjType};
use hostile::*;
use protocol::deal::{keys, DealDoc, SectionUpdate, Signer};
use protocol::envelope::SignedChange;
use protocol::verify::RejectReason;
use support::*;

// Removal: judged by a change's author, final in the causal past (issue 19, finding 6).

/// Origin A, partners B (accepted) and C (invited); A then removes C. Returns A's replica (with the
/// removal), C's replica from just before the removal, and the signers.
fn removal_world() -> (DealDoc, DealDoc, [Signer; 3]) {
    let (a, b, c) = (signer(1), signer(2), signer(3));
    let mut origin = deal(&a, &[&b, &c]);
    let mut replica = DealDoc::replica(origin.id());
    replica.ingest(origin.envelopes());
    replica.accept(&b, 2_000).unwrap();
    assert!(origin.ingest(replica.envelopes()).rejected.is_empty());
    let mut before = DealDoc::replica(origin.id());
    before.ingest(origin.envelopes());
    origin.remove_participant(&a, 3_000, &id(&c)).unwrap();
    (origin, before, [a, b, c])
}

/// C writes `status = accepted` on `base` (its Automerge document, forked as C's next run).
fn c_writes_accepted(base: &Automerge, c: &Signer, run: u64) -> SignedChange {
    let mut am = base.fork();
    am.set_actor(c.key().actor_id(run));
    let entry = object(&am, &[keys::PARTICIPANTS, c.node_id().as_str()]);
    commit(&mut am, c, |tx| {
        tx.put(&entry, keys::STATUS, "accepted").unwrap()
    })
}

#[test]
fn a_removed_participant_cannot_write_over_its_removal_even_through_a_relay() {
    let (origin, _, [_, b, c]) = removal_world();
    // C received the removal, then writes `accepted` over it and a note in its section.
    let mut at_c = DealDoc::replica(origin.id());
    at_c.ingest(origin.envelopes());
    let accepted = c_writes_accepted(at_c.automerge(), &c, 7);
    let mut am = at_c.automerge().fork();
    am.set_actor(c.key().actor_id(8));
    let section = object(&am, &[keys::SECTIONS]);
    let note = commit(&mut am, &c, |tx| {
        tx.put_object(&section, c.node_id().as_str(), ObjType::Map)
            .unwrap();
    });
    // B relays them to A: B refuses them itself, and so does A, whoever sends them.
    let mut relay = DealDoc::replica(origin.id());
    relay.ingest(origin.envelopes());
    let mut honest = origin.clone();
    for replica in [&mut relay, &mut honest] {
        let outcome = replica.ingest(vec![accepted.clone(), note.clone()]);
        assert!(outcome.applied.is_empty(), "{:?}", outcome.rejected);
        assert_eq!(outcome.rejected.len(), 2);
        for r in &outcome.rejected {
            assert!(
                matches!(&r.reason, RejectReason::Unauthorized { rule, .. } if rule.contains("removed")),
                "{:?}",
                r.reason
            );
        }
        assert_eq!(
            replica.read_view().participants[&id(&c)].status,
            Some(protocol::deal::ParticipantStatus::Removed)
        );
    }
    let _ = b;
}

#[test]
fn an_answer_concurrent_with_the_removal_does_not_undo_it_and_replicas_agree() {
    let (origin, before, [_, _, c]) = removal_world();
    // C writes `accepted` without having seen its removal: the change is concurrent with it,
    // so every replica accepts it (whatever order it arrives in) and reads C as removed.
    let concurrent = c_writes_accepted(before.automerge(), &c, 7);
    let mut first = origin.clone();
    assert!(first.ingest(vec![concurrent.clone()]).rejected.is_empty());
    let mut second = before.clone();
    assert!(second.ingest(vec![concurrent]).rejected.is_empty());
    assert!(second.ingest(origin.envelopes()).rejected.is_empty());
    let mut heads = (first.heads(), second.heads());
    heads.0.sort();
    heads.1.sort();
    assert_eq!(heads.0, heads.1);
    for replica in [&first, &second] {
        assert_eq!(
            replica.read_view().participants[&id(&c)].status,
            Some(protocol::deal::ParticipantStatus::Removed)
        );
    }
    // And once its changes descend from the removal, C writes nothing more.
    let mut am = first.automerge().fork();
    am.set_actor(c.key().actor_id(9));
    let sections = object(&am, &[keys::SECTIONS]);
    let after = commit(&mut am, &c, |tx| {
        tx.put_object(&sections, c.node_id().as_str(), ObjType::Map)
            .unwrap();
    });
    let outcome = first.ingest(vec![after]);
    assert!(outcome.applied.is_empty());
}

#[test]
fn a_removed_node_cannot_write_through_the_typed_api() {
    let (origin, _, [_, _, c]) = removal_world();
    let mut at_c = DealDoc::replica(origin.id());
    at_c.ingest(origin.envelopes());
    let note = SectionUpdate {
        next_step: Some("still here".into()),
        ..SectionUpdate::default()
    };
    assert!(matches!(
        at_c.update_section(&c, 4_000, &note),
        Err(protocol::deal::DealError::NotAllowed(_))
    ));
}
