//! Hostile partners, covered signatures: an earlier change vouched for by its author's later
//! change counts as signed only when that tip is accepted in the same batch (issue 19,
//! finding 4), checked by hand and over generated chains.

mod hostile;
mod support;

use automerge::transaction::Transactable;
use automerge::{ChangeHash, ReadDoc};
use hostile::*;
use proptest::prelude::*;
use protocol::deal::{keys, DealDoc, SectionUpdate};
use protocol::envelope::signing_message;
use protocol::envelope::SignedChange;
use protocol::verify::{Ingested, RejectReason};
use support::*;

// Covered signatures: an earlier change vouched for by its author's later change.

/// Whether an envelope's own signature verifies.
fn own_signature_ok(envelope: &SignedChange) -> bool {
    let hash = automerge::Change::try_from(envelope.change_bytes())
        .unwrap()
        .hash();
    let key = ed25519_dalek::VerifyingKey::from_bytes(&envelope.author().public_key()).unwrap();
    let signature = ed25519_dalek::Signature::from_bytes(envelope.signature());
    key.verify_strict(&signing_message(&hash), &signature)
        .is_ok()
}

/// `envelope` with its signature spoiled.
fn spoiled(envelope: &SignedChange) -> SignedChange {
    let mut signature = *envelope.signature();
    signature[0] ^= 1;
    SignedChange::from_parts(
        envelope.change_bytes().to_vec(),
        envelope.author().clone(),
        signature,
    )
}

/// Whether `descendant` has `ancestor` in its causal past in `doc`.
fn descends(doc: &DealDoc, descendant: ChangeHash, ancestor: ChangeHash) -> bool {
    let mut stack = vec![descendant];
    let mut seen = std::collections::HashSet::new();
    while let Some(hash) = stack.pop() {
        if hash == ancestor && hash != descendant {
            return true;
        }
        if seen.insert(hash) {
            if let Some(change) = doc.automerge().get_change_by_hash(&hash) {
                stack.extend(change.deps().iter().copied());
            }
        }
    }
    false
}

/// The rule: every change a batch accepts has a valid signature of its own, or an accepted
/// change of the same batch by the same author, with a valid signature, descends from it.
fn assert_every_accepted_change_is_vouched_for(doc: &DealDoc, outcome: &Ingested) {
    for change in &outcome.applied {
        if own_signature_ok(change.envelope()) {
            continue;
        }
        let covered = outcome.applied.iter().any(|tip| {
            tip.author() == change.author()
                && own_signature_ok(tip.envelope())
                && descends(doc, tip.hash(), change.hash())
        });
        assert!(
            covered,
            "{} was accepted with a bad signature and no accepted covering tip",
            change.hash()
        );
    }
}

#[test]
fn a_change_covered_only_by_a_rejected_tip_is_judged_by_its_own_signature() {
    // m1 carries a garbage signature; m2, by the same author and descending from m1, is validly
    // signed but not authorized. m1 may not ride on m2's signature.
    let (mut honest, mut am, b) = covered_world();
    let m1 = spoiled(&b_writes_own_section(&mut am, &b, "second"));
    let m2 = b_writes_shared(&mut am, &b, "hijacked");
    let heads = honest.heads();
    let outcome = honest.ingest(vec![m1, m2]);
    assert_every_accepted_change_is_vouched_for(&honest, &outcome);
    assert!(outcome.applied.is_empty(), "applied: {:?}", outcome.applied);
    let reasons: Vec<_> = outcome.rejected.iter().map(|r| r.reason.clone()).collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(reasons.contains(&RejectReason::BadSignature), "{reasons:?}");
    assert!(
        reasons.contains(&RejectReason::DependsOnRejected),
        "{reasons:?}"
    );
    assert_eq!(honest.heads(), heads);
}

#[test]
fn a_validly_signed_change_under_a_rejected_tip_is_still_accepted() {
    let (mut honest, mut am, b) = covered_world();
    let m1 = b_writes_own_section(&mut am, &b, "second");
    let m2 = b_writes_shared(&mut am, &b, "hijacked");
    let outcome = honest.ingest(vec![m1.clone(), m2]);
    assert_every_accepted_change_is_vouched_for(&honest, &outcome);
    assert_eq!(outcome.applied.len(), 1);
    assert_eq!(outcome.applied[0].envelope(), &m1);
    assert!(matches!(
        only_rejection(&outcome),
        RejectReason::Unauthorized { .. }
    ));
}

#[test]
fn a_covered_change_that_waited_for_its_dependencies_is_not_taken_as_verified() {
    // m1 (bad signature) and m2 (valid, unauthorized) arrive before m0, their dependency, and
    // wait; when m0 arrives m1 must not count as verified.
    let (mut honest, mut am, b) = covered_world();
    let m0 = b_writes_own_section(&mut am, &b, "second");
    let m1 = spoiled(&b_writes_own_section(&mut am, &b, "third"));
    let m2 = b_writes_shared(&mut am, &b, "hijacked");
    let waiting = honest.ingest(vec![m1, m2]);
    assert!(waiting.applied.is_empty() && waiting.rejected.is_empty());
    assert_eq!(honest.pending_len(), 2);
    let outcome = honest.ingest(vec![m0.clone()]);
    assert_every_accepted_change_is_vouched_for(&honest, &outcome);
    assert_eq!(outcome.applied.len(), 1, "{:?}", outcome.rejected);
    assert_eq!(outcome.applied[0].envelope(), &m0);
    assert_eq!(honest.pending_len(), 0);
}

#[test]
fn a_bad_signature_covered_by_an_accepted_tip_is_accepted_and_relays_with_it() {
    // The covering rule itself stays: the tip's signature vouches for its ancestors.
    let (mut honest, mut am, b) = covered_world();
    let m1 = spoiled(&b_writes_own_section(&mut am, &b, "second"));
    let m2 = b_writes_own_section(&mut am, &b, "third");
    let outcome = honest.ingest(vec![m1, m2]);
    assert_every_accepted_change_is_vouched_for(&honest, &outcome);
    assert_eq!(outcome.applied.len(), 2, "{:?}", outcome.rejected);
    let mut relayed = DealDoc::replica(honest.id());
    let outcome = relayed.ingest(honest.envelopes());
    assert!(outcome.rejected.is_empty(), "{:?}", outcome.rejected);
    assert_eq!(relayed.heads(), honest.heads());
}

fn only_rejection(outcome: &Ingested) -> &RejectReason {
    assert_eq!(outcome.rejected.len(), 1, "{:?}", outcome.rejected);
    &outcome.rejected[0].reason
}

/// One change in a generated chain: who writes, whether the write is allowed, whether the
/// signature is spoiled.
#[derive(Debug, Clone, Copy)]
struct Step {
    by_c: bool,
    allowed: bool,
    spoiled: bool,
}

fn step() -> impl Strategy<Value = Step> {
    (
        any::<bool>(),
        prop::bool::weighted(0.7),
        prop::bool::weighted(0.4),
    )
        .prop_map(|(by_c, allowed, spoiled)| Step {
            by_c,
            allowed,
            spoiled,
        })
}

/// A chain of changes by B and C on one document (each depends on the one before), delivered
/// to A in `batches` pieces of a shuffled order; every batch keeps the covering rule, and what
/// A keeps relays to a fresh replica in one batch.
fn check_chain(steps: Vec<Step>, order_seed: u64, batches: usize) {
    let (a, b, c) = (signer(1), signer(2), signer(3));
    let mut honest = deal(&a, &[&b, &c]);
    let mut setup = DealDoc::replica(honest.id());
    setup.ingest(honest.envelopes());
    let note = SectionUpdate {
        next_step: Some("first".into()),
        ..SectionUpdate::default()
    };
    setup.update_section(&b, 10, &note).unwrap();
    setup.update_section(&c, 11, &note).unwrap();
    assert!(honest.ingest(setup.envelopes()).rejected.is_empty());
    let mut am = setup.automerge().fork();
    let mut envelopes = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let author = if step.by_c { &c } else { &b };
        am.set_actor(author.key().actor_id(1));
        let text = format!("v{i}");
        let envelope = if step.allowed {
            let section = object(&am, &[keys::SECTIONS, author.node_id().as_str()]);
            commit(&mut am, author, |tx| {
                tx.put(&section, keys::NEXT_STEP, text.as_str()).unwrap()
            })
        } else {
            let shared = object(&am, &[keys::SHARED]);
            commit(&mut am, author, |tx| {
                tx.put(&shared, keys::TITLE, text.as_str()).unwrap()
            })
        };
        envelopes.push(if step.spoiled {
            spoiled(&envelope)
        } else {
            envelope
        });
    }
    // A deterministic shuffle from the seed.
    let mut state = order_seed | 1;
    for i in (1..envelopes.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        envelopes.swap(i, (state % (i as u64 + 1)) as usize);
    }
    let per_batch = envelopes.len().div_ceil(batches.max(1)).max(1);
    for batch in envelopes.chunks(per_batch) {
        let outcome = honest.ingest(batch.to_vec());
        assert_every_accepted_change_is_vouched_for(&honest, &outcome);
    }
    let mut relayed = DealDoc::replica(honest.id());
    let outcome = relayed.ingest(honest.envelopes());
    assert!(outcome.rejected.is_empty(), "{:?}", outcome.rejected);
    assert_eq!(relayed.heads(), honest.heads());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn no_batch_accepts_a_bad_signature_without_an_accepted_covering_tip(
        steps in prop::collection::vec(step(), 1..8),
        order_seed in any::<u64>(),
        batches in 1usize..4,
    ) {
        check_chain(steps, order_seed, batches);
    }
}
