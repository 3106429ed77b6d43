//! What the hostile-partner tests (`hostile_*.rs`) share: a deadline for exploits that could
//! hang, envelopes nobody signed, a fresh deal ingesting one envelope, and a deal where partner B
//! writes further changes by hand. Each test file states the rule it exercises.
#![allow(dead_code)]

use crate::support::*;
use automerge::transaction::{CommitOptions, Transactable};
use automerge::{Automerge, ObjId, ReadDoc, ROOT};
use protocol::deal::{keys, DealDoc, DealId, SectionUpdate, Signer};
use protocol::envelope::SignedChange;
use protocol::verify::{Ingested, RejectReason};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

/// Runs `work` on its own thread and returns its result, failing the test if it panics or has not
/// finished after `limit` (the thread is left behind; the test process ends with the run).
pub fn within<T: Send + 'static>(
    limit: Duration,
    what: &str,
    work: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (done, result) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(work());
    });
    match result.recv_timeout(limit) {
        Ok(value) => value,
        Err(RecvTimeoutError::Timeout) => panic!("{what}: still running after {limit:?}"),
        Err(RecvTimeoutError::Disconnected) => panic!("{what}: panicked"),
    }
}

/// How long a refusal of a crafted input may take, on a loaded two-core test machine. Each input
/// is a few hundred bytes, so its refusal takes microseconds; without the rule it runs for years.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// `change` in an envelope by `signer` with a signature nobody made: every refusal tested with it
/// must come before the signature check.
pub fn unsigned(signer: &Signer, change: Vec<u8>) -> SignedChange {
    SignedChange::from_parts(change, signer.node_id().clone(), [7; 64])
}

/// A fresh deal (origin 1, partner 2) ingesting `envelope` on its own thread, within the deadline.
pub fn ingest_alone(what: &str, envelope: SignedChange) -> Ingested {
    within(DEADLINE, what, move || {
        let (a, b) = (signer(1), signer(2));
        deal(&a, &[&b]).ingest(vec![envelope])
    })
}

pub fn only_reason(outcome: &Ingested) -> &RejectReason {
    assert!(outcome.applied.is_empty(), "applied: {:?}", outcome.applied);
    assert_eq!(outcome.rejected.len(), 1, "{:?}", outcome.rejected);
    &outcome.rejected[0].reason
}

/// Commits `write` on `doc` as `signer` and returns the signed change.
pub fn commit(
    doc: &mut Automerge,
    signer: &Signer,
    write: impl FnOnce(&mut automerge::transaction::Transaction<'_>),
) -> SignedChange {
    let mut tx = doc.transaction();
    write(&mut tx);
    tx.commit_with(CommitOptions::default().with_time(1_000));
    let change = doc.get_last_local_change().expect("a change").clone();
    SignedChange::sign(signer.key(), &change)
}

/// Origin A, partner B; B has written its section once, and both replicas have everything.
/// Returns A's replica and B's Automerge document (B's actor) to write further changes on.
pub fn covered_world() -> (DealDoc, Automerge, Signer) {
    let (a, b) = (signer(1), signer(2));
    let mut honest = deal(&a, &[&b]);
    let mut doc_b = DealDoc::replica(honest.id());
    doc_b.ingest(honest.envelopes());
    let note = SectionUpdate {
        next_step: Some("first".into()),
        ..SectionUpdate::default()
    };
    doc_b.update_section(&b, 10, &note).unwrap();
    assert!(honest.ingest(doc_b.envelopes()).rejected.is_empty());
    let mut am = doc_b.automerge().fork();
    am.set_actor(b.key().actor_id(1));
    (honest, am, b)
}

pub fn object(doc: &Automerge, path: &[&str]) -> ObjId {
    let mut obj = ROOT;
    for key in path {
        obj = doc.get(&obj, *key).unwrap().unwrap().1;
    }
    obj
}

/// B writes its own section (allowed).
pub fn b_writes_own_section(am: &mut Automerge, b: &Signer, text: &str) -> SignedChange {
    let section = object(am, &[keys::SECTIONS, b.node_id().as_str()]);
    commit(am, b, |tx| tx.put(&section, keys::NEXT_STEP, text).unwrap())
}

/// B writes a shared field (only the origin may).
pub fn b_writes_shared(am: &mut Automerge, b: &Signer, text: &str) -> SignedChange {
    let shared = object(am, &[keys::SHARED]);
    commit(am, b, |tx| tx.put(&shared, keys::TITLE, text).unwrap())
}

/// `value` as uLEB128, the integer encoding of Automerge's chunks and sync messages.
pub fn uleb(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// The deal id a genesis envelope makes: its change hash.
pub fn deal_id_of(genesis: &SignedChange) -> DealId {
    DealId::from_bytes(
        automerge::Change::try_from(genesis.change_bytes())
            .unwrap()
            .hash()
            .0,
    )
}
