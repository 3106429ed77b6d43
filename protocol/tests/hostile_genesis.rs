//! Hostile partners, genesis changes written by hand: an author that creates objects before
//! listing itself, or never lists itself, neither panics the authorizer nor is accepted.

mod hostile;
mod support;

use automerge::transaction::Transactable;
use automerge::{Automerge, ObjId, ObjType, ROOT};
use hostile::*;
use protocol::deal::{keys, DealDoc, Signer};
use protocol::envelope::SignedChange;
use protocol::verify::RejectReason;
use support::*;

// Genesis changes written by hand.

/// A genesis by `origin` that creates `sections/<origin>` (and `sections/<partner>` is left to
/// the partner) *before* listing the origin, then `partner`, as participants. Returns the
/// origin's Automerge document, the signed genesis and the origin's section object.
fn genesis_with_section_first(
    origin: &Signer,
    partner: &Signer,
) -> (Automerge, SignedChange, ObjId) {
    let mut doc = Automerge::new();
    doc.set_actor(origin.key().actor_id(1));
    let me = origin.node_id().as_str().to_string();
    let mut section = None;
    let genesis = commit(&mut doc, origin, |tx| {
        tx.put(ROOT, keys::SCHEMA, 1u64).unwrap();
        tx.put(ROOT, keys::ORIGIN, me.as_str()).unwrap();
        let sections = tx.put_object(ROOT, keys::SECTIONS, ObjType::Map).unwrap();
        section = Some(tx.put_object(&sections, me.as_str(), ObjType::Map).unwrap());
        let list = tx
            .put_object(ROOT, keys::PARTICIPANTS, ObjType::Map)
            .unwrap();
        for (node, role) in [(origin, "vendor"), (partner, "reseller")] {
            let entry = tx
                .put_object(&list, node.node_id().as_str(), ObjType::Map)
                .unwrap();
            tx.put(&entry, keys::ROLE, role).unwrap();
        }
    });
    (doc, genesis, section.unwrap())
}

#[test]
fn a_genesis_author_owns_what_it_creates_before_listing_itself() {
    // The genesis author's participant index exists from the start of the genesis change, so an
    // object it creates before the participant list is owned by it, and later writes to it are
    // judged (not a lookup of a participant that does not exist).
    let outcome = within(
        DEADLINE,
        "writes to a section created before the author was listed",
        || {
            let (a, b) = (signer(1), signer(2));
            let (mut doc_a, genesis, section) = genesis_with_section_first(&a, &b);
            let id = deal_id_of(&genesis);
            let mut honest = DealDoc::replica(id);
            let first = honest.ingest(vec![genesis.clone()]);
            assert!(first.rejected.is_empty(), "{:?}", first.rejected);
            // The origin writes its own section: allowed.
            let own = commit(&mut doc_a, &a, |tx| {
                tx.put(&section, keys::NEXT_STEP, "plan").unwrap()
            });
            let own = honest.ingest(vec![own]);
            // The partner writes the origin's section: refused.
            let mut doc_b = doc_a.fork();
            doc_b.set_actor(b.key().actor_id(1));
            let theirs = commit(&mut doc_b, &b, |tx| {
                tx.put(&section, keys::NEXT_STEP, "hijack").unwrap()
            });
            let theirs = honest.ingest(vec![theirs]);
            (own, theirs)
        },
    );
    let (own, theirs) = outcome;
    assert!(own.rejected.is_empty(), "{:?}", own.rejected);
    assert_eq!(own.applied.len(), 1);
    assert!(theirs.applied.is_empty());
    assert!(
        matches!(
            only_reason(&theirs),
            RejectReason::Unauthorized { rule, .. } if *rule == "a node writes only what it owns"
        ),
        "{:?}",
        theirs.rejected
    );
}

#[test]
fn a_genesis_that_never_lists_its_author_is_refused() {
    let (a, b) = (signer(1), signer(2));
    let mut doc = Automerge::new();
    doc.set_actor(a.key().actor_id(1));
    let genesis = commit(&mut doc, &a, |tx| {
        tx.put(ROOT, keys::ORIGIN, a.node_id().as_str()).unwrap();
        let sections = tx.put_object(ROOT, keys::SECTIONS, ObjType::Map).unwrap();
        tx.put_object(&sections, a.node_id().as_str(), ObjType::Map)
            .unwrap();
        let list = tx
            .put_object(ROOT, keys::PARTICIPANTS, ObjType::Map)
            .unwrap();
        tx.put_object(&list, b.node_id().as_str(), ObjType::Map)
            .unwrap();
    });
    let mut honest = DealDoc::replica(deal_id_of(&genesis));
    let outcome = honest.ingest(vec![genesis]);
    assert!(
        matches!(
            only_reason(&outcome),
            RejectReason::Unauthorized { rule, .. } if *rule == "the origin must be a participant"
        ),
        "{:?}",
        outcome.rejected
    );
    assert!(!honest.is_initialized());
}
