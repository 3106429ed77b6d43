//! Hostile partners, operation counters out of causal order: a change whose first operation
//! counter is not after every operation of its causal past (Automerge's Lamport clock) or after
//! its actor's previous change. Automerge 0.12 applies such a change, but its change collector
//! (`get_changes`, which `DealDoc::envelopes`, sync and storage use) assumes each actor's changes
//! take increasing, disjoint counter ranges in sequence order, and panics (`MissingOps`) on the
//! document from then on. Found by the `change` fuzz target
//! (`fuzz/regressions/change/crash-6ffd6785…`, replayed here byte for byte against the same
//! fixture deal the target uses). Also from that target: a change listing an actor the deal has
//! no change by, which Automerge's apply looks up and unwraps
//! (`fuzz/regressions/change/crash-15636531…`).

#[path = "../../fuzz/fuzz_targets/common/fixture.rs"]
#[allow(dead_code)]
mod fixture;
mod hostile;
mod support;

use automerge::ChangeHash;
use fixture::{INTEGRATOR, ORIGIN};
use hostile::*;
use protocol::deal::DealDoc;
use protocol::envelope::SignedChange;
use protocol::verify::{Ingested, RejectReason};
use std::str::FromStr;

/// The fuzz input: a control byte (0: the origin signs, the body is the chunk's data), then the
/// data of an origin change with seq 5, depending on the origin's seq 4 (operations 61 to 64),
/// that declares start op 58 and overwrites `shared/title` and `shared/stage`.
const CRASH: &[u8] =
    include_bytes!("../../fuzz/regressions/change/crash-6ffd6785c9e5e474dbfcebe75c2a85153dfc1c9a");

/// Offsets in the input of the change's actor (length byte and 40 bytes), its sequence number,
/// its start op and what follows (time, message, other actors, columns).
const ACTOR: std::ops::Range<usize> = 0x22..0x4b;
const SEQ: usize = 0x4b;
const START_OP: usize = 0x4c;
const TAIL: usize = 0x4d;

/// The reseller's fourth change in the fixture (operations 58 to 60), concurrent with the
/// origin's fourth.
const RESELLER_SEQ4: &str = "a6c9973823ecb2843854ea12ec2b55aa65e3ab7e61f892a36355c7d133f35629";

/// The same operations as the fuzz input, with other dependencies, sequence number and start op.
fn variant(deps: &[ChangeHash], seq: u8, start_op: u8) -> Vec<u8> {
    assert_eq!((CRASH[SEQ], CRASH[START_OP]), (5, 58), "the input's layout");
    let mut data = vec![deps.len() as u8];
    for dep in deps {
        data.extend(dep.0);
    }
    data.extend(&CRASH[ACTOR]);
    data.extend([seq, start_op]);
    data.extend(&CRASH[TAIL..]);
    data
}

/// The fixture deal ingesting chunk data `data` signed by `author`, as the fuzz target does.
fn ingest(author: usize, data: &[u8]) -> (DealDoc, Ingested) {
    let hash = fixture::chunk_hash(1, data);
    let envelope = SignedChange::from_parts(
        fixture::change_chunk(data),
        fixture::node(author),
        fixture::sign(author, &hash),
    );
    let mut doc = fixture::doc();
    within(DEADLINE, "ingest", move || {
        let outcome = doc.ingest(vec![envelope]);
        (doc, outcome)
    })
}

/// What every read path needs after any input: the document still lists its changes, and they
/// restore into the same deal.
fn still_readable(doc: DealDoc) {
    let (envelopes, doc) = within(DEADLINE, "envelopes", move || (doc.envelopes(), doc));
    let restored = DealDoc::restore(doc.id(), envelopes).expect("restores");
    assert_eq!(restored.heads(), doc.heads());
}

#[test]
fn a_change_starting_before_its_dependencies_operations_is_refused() {
    let (doc, outcome) = ingest(ORIGIN, &CRASH[1..]);
    match only_reason(&outcome) {
        RejectReason::OutOfOrder(why) => assert!(why.contains("58"), "{why}"),
        other => panic!("refused for {other}"),
    }
    still_readable(doc);
}

#[test]
fn a_change_starting_before_its_actors_previous_change_is_refused() {
    // Depends on the reseller's fourth change only (operations up to 60), so 61 is after its
    // dependencies, but the origin's own fourth change took 61 to 64.
    let reseller = ChangeHash::from_str(RESELLER_SEQ4).unwrap();
    let (doc, outcome) = ingest(ORIGIN, &variant(&[reseller], 5, 61));
    match only_reason(&outcome) {
        RejectReason::OutOfOrder(why) => assert!(why.contains("64"), "{why}"),
        other => panic!("refused for {other}"),
    }
    still_readable(doc);
}

#[test]
fn the_same_operations_after_their_causal_past_are_accepted() {
    // The rule refuses the counters, not the edit: at start op 65 the same change applies.
    let origin_seq4 = fixture::fixture()
        .envelopes
        .iter()
        .map(|e| automerge::Change::try_from(e.change_bytes()).unwrap())
        .find(|c| c.seq() == 4 && c.start_op().get() == 61)
        .unwrap()
        .hash();
    let (doc, outcome) = ingest(ORIGIN, &variant(&[origin_seq4], 5, 65));
    assert!(outcome.rejected.is_empty(), "{:?}", outcome.rejected);
    assert_eq!(outcome.applied.len(), 1);
    assert_eq!(
        doc.read_view().shared.title.as_deref(),
        Some("Acme roll,uot phase 3")
    );
    still_readable(doc);
}

#[test]
fn a_change_naming_an_actor_the_deal_does_not_know_is_refused() {
    // Control byte 2: the integrator signs. The change lists, besides its own actor, one that
    // differs from the origin's in a byte and has no change in the deal.
    let input = include_bytes!(
        "../../fuzz/regressions/change/crash-1563653103a6e093a98c07accef8ce3f62c3e85f"
    );
    assert_eq!(input[0], INTEGRATOR as u8);
    let (doc, outcome) = ingest(INTEGRATOR, &input[1..]);
    match only_reason(&outcome) {
        RejectReason::Malformed(why) => assert!(why.contains("actor"), "{why}"),
        other => panic!("refused for {other}"),
    }
    still_readable(doc);
}

#[test]
fn a_delete_naming_no_value_is_refused() {
    // fuzz/open/change/crash-bea36b78…: the integrator's first change, two deletes with no
    // predecessor, which Automerge applies as nothing and then cannot rebuild the change from.
    let input = include_bytes!(
        "../../fuzz/regressions/change/crash-bea36b7835bb44a1e41260a9e3c7c3b6160fcfa2"
    );
    let (doc, outcome) = ingest(INTEGRATOR, &input[1..]);
    match only_reason(&outcome) {
        RejectReason::Unauthorized { rule, .. } => assert!(rule.contains("delete"), "{rule}"),
        other => panic!("refused for {other}"),
    }
    still_readable(doc);
}
