//! Goal: receiving and generating on several threads gives exactly what one thread gives.
//! Method: a pool of deals (more than two verification chunks of `RECEIVE_CHUNK_DOCS`) is offered
//! to two sets of empty replicas in one batch, with random damage per deal (missing genesis,
//! forged signature, message for another deal, duplicates, reversed order). One set receives
//! with `receive_batch`, the other with `receive_batch_parallel` on 2 to 4 threads. Every outcome
//! (applied, rejected with reasons, duplicates), every document (heads, pending queue, stored
//! envelopes), every peer state and the next sync messages (`generate_batch` against
//! `generate_sync`) must be equal.

mod support;

use proptest::prelude::*;
use protocol::deal::{DealDoc, Invite, Role, SectionUpdate, SharedFields, Signer};
use protocol::sync::{
    generate_batch, receive_batch, receive_batch_parallel, PeerSync, RECEIVE_CHUNK_DOCS,
};
use protocol::verify::{Ingested, RejectReason};
use protocol::wire::DocSync;
use std::sync::OnceLock;
use support::*;

/// Deals in the pool: enough for three verification chunks, the last one partial.
const POOL_DEALS: usize = 2 * RECEIVE_CHUNK_DOCS + 7;

/// The pool: each deal with its full first-sync message (sync part and every envelope).
fn pool() -> &'static Vec<DocSync> {
    static POOL: OnceLock<Vec<DocSync>> = OnceLock::new();
    POOL.get_or_init(|| {
        let signers = [signer(1), signer(2), signer(3)];
        (0..POOL_DEALS)
            .map(|n| {
                let doc = edited_deal(&signers, n);
                let mut message = doc
                    .generate_sync(&mut PeerSync::new())
                    .expect("a first message");
                message.changes = doc.envelopes();
                message
            })
            .collect()
    })
}

/// Deal `n` (its own title, so its own genesis and id) by signer 1 with `n % 4` further edits
/// rotating among the three signers.
fn edited_deal(signers: &[Signer; 3], n: usize) -> DealDoc {
    let invites: Vec<Invite> = [(1, Role::Reseller), (2, Role::Services)]
        .into_iter()
        .map(|(i, role)| Invite {
            node: id(&signers[i]),
            name: format!("partner {i}"),
            role,
        })
        .collect();
    let shared = SharedFields {
        title: Some(format!("deal {n}")),
        ..SharedFields::default()
    };
    let (mut doc, _) = DealDoc::create(
        &signers[0],
        1_000,
        "vendor",
        Role::Vendor,
        &invites,
        &shared,
    )
    .unwrap();
    for i in 0..n % 4 {
        let now = 2_000 + i as u64;
        if i % 3 == 0 {
            let update = SharedFields {
                title: Some(format!("deal {n} v{i}")),
                ..SharedFields::default()
            };
            doc.set_shared(&signers[0], now, &update).unwrap();
        } else {
            let update = SectionUpdate {
                next_step: Some(format!("step {i} of deal {n}")),
                ..SectionUpdate::default()
            };
            doc.update_section(&signers[i % 3], now, &update).unwrap();
        }
    }
    doc
}

/// Damage to one deal's message.
fn damage(message: &DocSync, kind: u8, other: &DocSync) -> DocSync {
    let mut m = message.clone();
    match kind {
        // Missing genesis: every other change waits in the pending queue.
        1 => {
            m.changes.remove(0);
        }
        // A forged signature on the newest change.
        2 => {
            let last = m.changes.pop().expect("a change");
            let mut signature = *last.signature();
            signature[7] ^= 0x40;
            m.changes.push(protocol::envelope::SignedChange::from_parts(
                last.change_bytes().to_vec(),
                last.author().clone(),
                signature,
            ));
        }
        // Another deal's message paired with this deal's document.
        3 => m = other.clone(),
        4 => {
            let again = m.changes.clone();
            m.changes.extend(again);
        }
        5 => m.changes.reverse(),
        _ => {}
    }
    m
}

fn replicas(messages: &[DocSync]) -> (Vec<DealDoc>, Vec<PeerSync>) {
    let docs = pool().iter().map(|m| DealDoc::replica(m.deal)).collect();
    let states = messages.iter().map(|_| PeerSync::new()).collect();
    (docs, states)
}

/// Everything observable about one outcome, comparable with `==`.
fn summary(outcome: &Ingested) -> impl PartialEq + std::fmt::Debug {
    (
        outcome.applied.iter().map(|c| c.hash()).collect::<Vec<_>>(),
        outcome.rejected.clone(),
        outcome.duplicates,
    )
}

fn receive(
    docs: &mut [DealDoc],
    states: &mut [PeerSync],
    messages: &[DocSync],
    threads: Option<usize>,
) -> Vec<Ingested> {
    let items = docs
        .iter_mut()
        .zip(states.iter_mut())
        .zip(messages.iter().cloned())
        .map(|((d, s), m)| (d, s, m))
        .collect();
    match threads {
        None => receive_batch(items),
        Some(n) => receive_batch_parallel(items, n),
    }
}

fn check(kinds: &[u8], threads: usize) {
    let pool = pool();
    let messages: Vec<DocSync> = pool
        .iter()
        .enumerate()
        .map(|(n, m)| damage(m, kinds[n % kinds.len()], &pool[(n + 1) % pool.len()]))
        .collect();
    let (mut one_docs, mut one_states) = replicas(&messages);
    let (mut par_docs, mut par_states) = replicas(&messages);
    let one = receive(&mut one_docs, &mut one_states, &messages, None);
    let par = receive(&mut par_docs, &mut par_states, &messages, Some(threads));
    assert_eq!(one.len(), par.len());
    for (a, b) in one.iter().zip(&par) {
        assert_eq!(summary(a), summary(b));
    }
    for (a, b) in one_docs.iter().zip(&par_docs) {
        assert_eq!(a.heads(), b.heads());
        assert_eq!(a.pending_len(), b.pending_len());
        assert_eq!(a.envelopes(), b.envelopes());
    }
    for (a, b) in one_states.iter().zip(&par_states) {
        assert_eq!(a.encode(), b.encode());
    }
    let sequential: Vec<Option<DocSync>> = one_docs
        .iter()
        .zip(one_states.iter_mut())
        .map(|(d, s)| d.generate_sync(s))
        .collect();
    let parallel = generate_batch(
        par_docs.iter().zip(par_states.iter_mut()).collect(),
        threads,
    );
    assert_eq!(sequential, parallel);
}

#[test]
fn parallel_receive_of_undamaged_messages_equals_sequential_and_applies_everything() {
    let kinds = [0];
    check(&kinds, 2);
    let (mut docs, mut states) = replicas(pool());
    let outcomes = receive(&mut docs, &mut states, pool(), Some(3));
    for (outcome, message) in outcomes.iter().zip(pool()) {
        assert!(outcome.rejected.is_empty(), "{:?}", outcome.rejected);
        assert_eq!(outcome.applied.len(), message.changes.len());
    }
}

#[test]
fn parallel_receive_of_damaged_messages_equals_sequential_and_rejects_the_damage() {
    let kinds = [0, 1, 2, 3, 4, 5];
    check(&kinds, 2);
    let messages: Vec<DocSync> = pool()
        .iter()
        .enumerate()
        .map(|(n, m)| damage(m, kinds[n % kinds.len()], &pool()[(n + 1) % pool().len()]))
        .collect();
    let (mut docs, mut states) = replicas(&messages);
    let outcomes = receive(&mut docs, &mut states, &messages, Some(2));
    let reasons: Vec<_> = outcomes
        .iter()
        .flat_map(|o| o.rejected.iter().map(|r| r.reason.clone()))
        .collect();
    assert!(reasons.contains(&RejectReason::BadSignature));
    assert!(reasons
        .iter()
        .any(|r| matches!(r, RejectReason::Sync(why) if why.contains("another deal"))));
    assert!(docs.iter().any(|d| d.pending_len() > 0));
    assert!(outcomes.iter().any(|o| o.duplicates > 0));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    #[test]
    fn parallel_receive_and_generate_equal_sequential(
        kinds in prop::collection::vec(0..7u8, 1..40),
        threads in 2..5usize,
    ) {
        check(&kinds, threads);
    }
}
