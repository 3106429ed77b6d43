//! Hostile partners: crafted changes and sync messages that once made a node loop, allocate
//! without bound, panic, or keep a change it could not relay. Each test feeds the crafted input
//! through the public protocol API and states the rule that refuses it. Exploits that could hang
//! or exhaust memory when the rule is missing run on a thread with a deadline, so a regression
//! fails the test instead of the machine.

mod support;

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{Automerge, ObjId, ObjType, ROOT};
use automerge::{ChangeHash, ReadDoc};
use proptest::prelude::*;
use protocol::deal::{keys, DealDoc, DealId, SectionUpdate, Signer};
use protocol::envelope::signing_message;
use protocol::envelope::SignedChange;
use protocol::limits::{
    BLOOM_BITS_PER_ENTRY_MAX, BLOOM_ENTRIES_MAX, BLOOM_PROBES_MAX, SYNC_HAVES_MAX,
};
use protocol::sync::PeerSync;
use protocol::verify::{Ingested, RejectReason};
use protocol::wire::DocSync;
use sha2::{Digest, Sha256};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;
use support::*;

/// Runs `work` on its own thread and returns its result, failing the test if it panics or has not
/// finished after `limit` (the thread is left behind; the test process ends with the run).
fn within<T: Send + 'static>(
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
const DEADLINE: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------------
// Hand-made Automerge change chunks (https://alexjg.github.io/automerge-storage-docs/).

fn uleb(out: &mut Vec<u8>, mut value: u64) {
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

fn sleb(out: &mut Vec<u8>, mut value: i64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        let done = (value == 0 && byte & 0x40 == 0) || (value == -1 && byte & 0x40 != 0);
        if done {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// One run-length column: `count` copies of the unsigned value `value`.
fn uint_run(count: u64, value: u64) -> Vec<u8> {
    let mut out = Vec::new();
    sleb(&mut out, count as i64);
    uleb(&mut out, value);
    out
}

// Column specs: id << 4 | type (types: 0 group, 1 actor, 2 integer, 3 delta, 4 boolean, 5 string,
// 6 value metadata, 7 value).
const OBJ_ACTOR: u64 = 0x01;
const OBJ_COUNTER: u64 = 0x02;
const KEY_STRING: u64 = 0x15;
const INSERT: u64 = 0x34;
const ACTION: u64 = 0x42;
const VALUE_META: u64 = 0x56;
const PRED_GROUP: u64 = 0x70;
const PRED_ACTOR: u64 = 0x71;
const PRED_COUNTER: u64 = 0x73;

/// An uncompressed change chunk by `actor` (seq 1, start op 1, no dependencies) whose operation
/// columns are `columns` (spec, data), in spec order.
fn change_chunk(actor: &[u8], columns: &[(u64, Vec<u8>)]) -> Vec<u8> {
    let mut data = Vec::new();
    uleb(&mut data, 0); // dependencies
    uleb(&mut data, actor.len() as u64);
    data.extend(actor);
    uleb(&mut data, 1); // seq
    uleb(&mut data, 1); // start op
    sleb(&mut data, 0); // time
    uleb(&mut data, 0); // message
    uleb(&mut data, 0); // other actors
    uleb(&mut data, columns.len() as u64);
    for (spec, bytes) in columns {
        uleb(&mut data, *spec);
        uleb(&mut data, bytes.len() as u64);
    }
    for (_, bytes) in columns {
        data.extend(bytes);
    }
    let mut header = vec![1]; // chunk type: change
    uleb(&mut header, data.len() as u64);
    let hash = Sha256::new()
        .chain_update(&header)
        .chain_update(&data)
        .finalize();
    let mut chunk = vec![0x85, 0x6f, 0x4a, 0x83];
    chunk.extend(&hash[..4]);
    chunk.extend(header);
    chunk.extend(data);
    chunk
}

/// A change of `ops` operations, each a put of null at key "x" of the root map replacing `preds`
/// earlier operations; every column is one run, so the chunk is about a hundred bytes whatever
/// the counts.
fn run_length_change(signer: &Signer, ops: u64, preds: u64) -> Vec<u8> {
    let mut key = Vec::new();
    sleb(&mut key, ops as i64);
    uleb(&mut key, 1);
    key.push(b'x');
    let mut insert = Vec::new();
    uleb(&mut insert, ops); // `ops` times false
    let mut columns = vec![
        (KEY_STRING, key),
        (INSERT, insert),
        (ACTION, uint_run(ops, 1)),     // 1: put
        (VALUE_META, uint_run(ops, 0)), // 0: null
        (PRED_GROUP, uint_run(ops, preds)),
    ];
    let total_preds = ops.saturating_mul(preds);
    if total_preds > 0 {
        columns.push((PRED_ACTOR, uint_run(total_preds, 0)));
        let mut counters = Vec::new();
        sleb(&mut counters, total_preds as i64);
        sleb(&mut counters, 0);
        columns.push((PRED_COUNTER, counters));
    }
    change_chunk(signer.key().actor_id(1).to_bytes(), &columns)
}

/// `change` in an envelope by `signer` with a signature nobody made: every refusal tested with it
/// must come before the signature check.
fn unsigned(signer: &Signer, change: Vec<u8>) -> SignedChange {
    SignedChange::from_parts(change, signer.node_id().clone(), [7; 64])
}

/// A fresh deal (origin 1, partner 2) ingesting `envelope` on its own thread, within the deadline.
fn ingest_alone(what: &str, envelope: SignedChange) -> Ingested {
    within(DEADLINE, what, move || {
        let (a, b) = (signer(1), signer(2));
        deal(&a, &[&b]).ingest(vec![envelope])
    })
}

fn only_reason(outcome: &Ingested) -> &RejectReason {
    assert!(outcome.applied.is_empty(), "applied: {:?}", outcome.applied);
    assert_eq!(outcome.rejected.len(), 1, "{:?}", outcome.rejected);
    &outcome.rejected[0].reason
}

#[test]
fn the_hand_made_change_chunks_are_what_automerge_reads() {
    // The crafted bytes are real changes: Automerge reads the counts they declare.
    let b = signer(2);
    let change = automerge::Change::try_from(&run_length_change(&b, 3, 2)[..]).unwrap();
    assert_eq!(change.len(), 3);
    let expanded = change.decode();
    assert!(expanded.operations.iter().all(|op| op.pred.len() == 2));
    assert_eq!(change.actor_id(), &b.key().actor_id(1));
}

#[test]
fn a_change_claiming_2_pow_60_ops_is_refused_before_parsing() {
    let b = signer(2);
    let bomb = run_length_change(&b, 1 << 60, 0);
    assert!(bomb.len() < 200, "{} bytes", bomb.len());
    let outcome = ingest_alone("2^60 ops", unsigned(&b, bomb));
    assert_eq!(*only_reason(&outcome), RejectReason::TooLarge("operations"));
}

#[test]
fn a_change_claiming_2_pow_60_predecessors_is_refused_before_parsing() {
    let b = signer(2);
    // Just over the bound first: cheap to walk, so a missing rule shows as a wrong reason.
    let over = run_length_change(&b, 1, protocol::limits::CHANGE_PREDS_MAX as u64 + 1);
    let outcome = ingest_alone("predecessors over the bound", unsigned(&b, over));
    assert_eq!(
        *only_reason(&outcome),
        RejectReason::TooLarge("predecessors")
    );
    let bomb = run_length_change(&b, 1, 1 << 60);
    assert!(bomb.len() < 200, "{} bytes", bomb.len());
    let outcome = ingest_alone("2^60 predecessors", unsigned(&b, bomb));
    assert_eq!(
        *only_reason(&outcome),
        RejectReason::TooLarge("predecessors")
    );
}

#[test]
fn a_change_whose_run_length_overflows_is_refused_without_panic() {
    // A literal run of i64::MIN values: Automerge negates the count, which overflows.
    let b = signer(2);
    let mut key = Vec::new();
    sleb(&mut key, 1);
    uleb(&mut key, 1);
    key.push(b'x');
    let mut action = Vec::new();
    sleb(&mut action, i64::MIN);
    uleb(&mut action, 1);
    let columns = [
        (KEY_STRING, key),
        (INSERT, vec![1]),
        (ACTION, action),
        (VALUE_META, uint_run(1, 0)),
        (PRED_GROUP, uint_run(1, 0)),
    ];
    let change = change_chunk(b.key().actor_id(1).to_bytes(), &columns);
    let outcome = ingest_alone("overflowing run length", unsigned(&b, change));
    assert!(
        matches!(only_reason(&outcome), RejectReason::Malformed(_)),
        "{:?}",
        outcome.rejected
    );
}

#[test]
fn run_length_changes_within_the_bounds_still_parse() {
    // The pre-scan refuses only what is over a bound: a change at the bounds reaches the
    // signature check (and fails it, being unsigned).
    let b = signer(2);
    let ops = protocol::limits::CHANGE_OPS_MAX as u64;
    let change = run_length_change(&b, ops, 0);
    let outcome = ingest_alone("ops at the bound", unsigned(&b, change));
    assert_eq!(*only_reason(&outcome), RejectReason::BadSignature);
    let preds = protocol::limits::CHANGE_PREDS_MAX as u64;
    let change = run_length_change(&b, 1, preds);
    let outcome = ingest_alone("preds at the bound", unsigned(&b, change));
    assert_eq!(*only_reason(&outcome), RejectReason::BadSignature);
}

#[test]
fn a_change_naming_an_actor_it_does_not_list_is_refused_without_panic() {
    // Found by the `change` fuzz target (fuzz/regressions/change/): Automerge reads a change
    // whose predecessor names actor index 5 of a change listing one actor, and then panics
    // (`unwrap` on a missing actor) when it decodes the operations for authorization. Signed
    // and a genesis of its own deal, it reached that decode.
    let b = signer(2);
    let mut key = Vec::new();
    sleb(&mut key, 1);
    uleb(&mut key, 1);
    key.push(b'x');
    let mut counters = Vec::new();
    sleb(&mut counters, 1);
    sleb(&mut counters, 1);
    let columns = [
        (KEY_STRING, key),
        (INSERT, vec![1]),
        (ACTION, uint_run(1, 1)),
        (VALUE_META, uint_run(1, 0)),
        (PRED_GROUP, uint_run(1, 1)),
        (PRED_ACTOR, uint_run(1, 5)),
        (PRED_COUNTER, counters),
    ];
    let chunk = change_chunk(b.key().actor_id(1).to_bytes(), &columns);
    let change = automerge::Change::try_from(&chunk[..]).expect("Automerge reads it");
    let envelope = SignedChange::sign(b.key(), &change);
    let outcome = within(DEADLINE, "unlisted actor", move || {
        DealDoc::replica(deal_id_of(&envelope)).ingest(vec![envelope])
    });
    assert_eq!(
        *only_reason(&outcome),
        RejectReason::Malformed("actor index out of range".into())
    );
}

#[test]
fn a_change_with_an_operation_counter_past_u32_is_refused_without_panic() {
    // Found by the `envelope` fuzz target (fuzz/regressions/envelope/): Automerge keeps
    // counters in a u32 and unwraps the conversion while it parses a change, so an object or
    // predecessor counter of 2^33 panicked the node before any signature was checked.
    let b = signer(2);
    let mut key = Vec::new();
    sleb(&mut key, 1);
    uleb(&mut key, 1);
    key.push(b'x');
    let object = [
        (OBJ_ACTOR, uint_run(1, 0)),
        (OBJ_COUNTER, uint_run(1, 1 << 33)),
        (KEY_STRING, key.clone()),
        (INSERT, vec![1]),
        (ACTION, uint_run(1, 1)),
        (VALUE_META, uint_run(1, 0)),
        (PRED_GROUP, uint_run(1, 0)),
    ];
    let mut counters = Vec::new();
    sleb(&mut counters, 1);
    sleb(&mut counters, 1 << 33);
    let predecessor = [
        (KEY_STRING, key),
        (INSERT, vec![1]),
        (ACTION, uint_run(1, 1)),
        (VALUE_META, uint_run(1, 0)),
        (PRED_GROUP, uint_run(1, 1)),
        (PRED_ACTOR, uint_run(1, 0)),
        (PRED_COUNTER, counters),
    ];
    for (what, columns) in [("object", &object[..]), ("predecessor", &predecessor[..])] {
        let change = change_chunk(b.key().actor_id(1).to_bytes(), columns);
        let outcome = ingest_alone(what, unsigned(&b, change));
        assert_eq!(
            *only_reason(&outcome),
            RejectReason::Malformed("operation counter out of range".into()),
            "{what}"
        );
    }
}

/// Reads one uLEB128 at `*at` (a well-formed chunk is assumed: this rewrites honest changes).
fn read_uleb(bytes: &[u8], at: &mut usize) -> u64 {
    let (mut value, mut shift) = (0u64, 0);
    loop {
        let byte = bytes[*at];
        *at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return value;
        }
        shift += 7;
    }
}

/// `chunk` (an uncompressed change chunk) with `extra` appended to the column `spec`: the same
/// operations for Automerge, which ignores column items no operation uses, in other bytes.
fn pad_column(chunk: &[u8], spec: u64, extra: &[u8]) -> Vec<u8> {
    let mut at = 9;
    let len = read_uleb(chunk, &mut at) as usize;
    let data = &chunk[at..at + len];
    let mut at = 0;
    let deps = read_uleb(data, &mut at) as usize;
    at += 32 * deps;
    let actor = read_uleb(data, &mut at) as usize;
    at += actor;
    read_uleb(data, &mut at); // seq
    read_uleb(data, &mut at); // start op
    read_uleb(data, &mut at); // time (sLEB128: the same bytes to skip)
    let message = read_uleb(data, &mut at) as usize;
    at += message;
    for _ in 0..read_uleb(data, &mut at) {
        let other = read_uleb(data, &mut at) as usize;
        at += other;
    }
    let mut out = data[..at].to_vec();
    let count = read_uleb(data, &mut at);
    let columns: Vec<(u64, usize)> = (0..count)
        .map(|_| (read_uleb(data, &mut at), read_uleb(data, &mut at) as usize))
        .collect();
    uleb(&mut out, count);
    for &(s, l) in &columns {
        uleb(&mut out, s);
        uleb(
            &mut out,
            (l + if s == spec { extra.len() } else { 0 }) as u64,
        );
    }
    assert!(
        columns.iter().any(|&(s, _)| s == spec),
        "no column {spec:#x}"
    );
    for &(s, l) in &columns {
        out.extend(&data[at..at + l]);
        at += l;
        if s == spec {
            out.extend(extra);
        }
    }
    out.extend(&data[at..]);
    let mut header = vec![1];
    uleb(&mut header, out.len() as u64);
    let hash = Sha256::new()
        .chain_update(&header)
        .chain_update(&out)
        .finalize();
    let mut padded = vec![0x85, 0x6f, 0x4a, 0x83];
    padded.extend(&hash[..4]);
    padded.extend(header);
    padded.extend(out);
    padded
}

#[test]
fn a_change_whose_columns_run_past_its_operations_is_refused() {
    // Found by the `change` fuzz target (fuzz/regressions/change/): a genesis whose value column
    // carries three extra nulls reads as the same operations under another hash. Automerge took
    // it, then panicked (missing dependency) in every `get_changes` of the document: a crashed
    // node, for good once stored. Only the encoding Automerge writes is taken.
    let (a, b) = (signer(1), signer(2));
    let honest = deal(&a, &[&b]).envelopes().remove(0);
    let padded = pad_column(honest.change_bytes(), VALUE_META, &uint_run(3, 0));
    let change = automerge::Change::try_from(&padded[..]).expect("Automerge reads it");
    let honest_change = automerge::Change::try_from(honest.change_bytes()).unwrap();
    assert_ne!(change.hash(), honest_change.hash());
    assert_eq!(
        change.decode().operations,
        honest_change.decode().operations
    );
    let envelope = SignedChange::sign(a.key(), &change);
    let mut replica = DealDoc::replica(deal_id_of(&envelope));
    let outcome = replica.ingest(vec![envelope]);
    assert!(
        matches!(only_reason(&outcome), RejectReason::Unsupported(_)),
        "{:?}",
        outcome.rejected
    );
    assert!(replica.envelopes().is_empty());
    let _ = replica.generate_sync(&mut PeerSync::new());
}

// ---------------------------------------------------------------------------------------------
// Hand-made Automerge sync messages: the peer's `have` Bloom filters.

/// A Bloom filter's bytes as Automerge encodes them: entries, bits per entry, probes (uLEB128),
/// then `bit_bytes` bytes of bits.
fn bloom(entries: u64, bits_per_entry: u64, probes: u64, bit_bytes: usize) -> Vec<u8> {
    let mut out = Vec::new();
    uleb(&mut out, entries);
    uleb(&mut out, bits_per_entry);
    uleb(&mut out, probes);
    out.extend(vec![0xff; bit_bytes]);
    out
}

/// A version 1 sync message with no heads, needs or changes, and one `have` per filter (no
/// last-sync heads, so the filters cover every change of the receiver).
fn sync_with_filters(filters: &[Vec<u8>]) -> Vec<u8> {
    let mut out = vec![0x42];
    uleb(&mut out, 0); // heads
    uleb(&mut out, 0); // need
    uleb(&mut out, filters.len() as u64);
    for filter in filters {
        uleb(&mut out, 0); // last sync
        uleb(&mut out, filter.len() as u64);
        out.extend(filter);
    }
    uleb(&mut out, 0); // changes
    out
}

/// A deal of origin 1 with partner 2, and partner 2's sync state with it.
fn honest_deal() -> (DealDoc, PeerSync) {
    let (a, b) = (signer(1), signer(2));
    (deal(&a, &[&b]), PeerSync::new())
}

/// Delivers `sync` from a peer to `doc`; returns the reasons it was refused.
fn receive(doc: &mut DealDoc, peer: &mut PeerSync, sync: Vec<u8>) -> Vec<RejectReason> {
    let message = DocSync {
        deal: doc.id(),
        sync,
        changes: Vec::new(),
    };
    let outcome = doc.receive_sync(peer, message);
    assert!(outcome.applied.is_empty());
    outcome.rejected.into_iter().map(|r| r.reason).collect()
}

fn refused_as_sync(reasons: &[RejectReason]) -> bool {
    matches!(reasons, [RejectReason::Sync(_)])
}

#[test]
fn a_bloom_filter_with_zero_bits_per_entry_is_refused_before_it_is_used() {
    // Automerge takes each probe modulo the filter's bit count, here 0.
    let reasons = within(DEADLINE, "zero bits per entry", || {
        let (mut doc, mut peer) = honest_deal();
        let reasons = receive(&mut doc, &mut peer, sync_with_filters(&[bloom(1, 0, 7, 0)]));
        // The reply is where Automerge looks the filter up.
        doc.generate_sync(&mut peer);
        reasons
    });
    assert!(refused_as_sync(&reasons), "{reasons:?}");
}

#[test]
fn a_bloom_filter_asking_for_2_pow_32_probes_is_refused_before_it_is_used() {
    // Automerge reserves room for every probe: 0xFFFF_FFFF probes ask for 17 GB. The rule is
    // asserted before the reply is generated, so a missing rule fails here instead of there.
    let (mut doc, mut peer) = honest_deal();
    let reasons = receive(
        &mut doc,
        &mut peer,
        sync_with_filters(&[bloom(1, 10, 0xFFFF_FFFF, 2)]),
    );
    assert!(refused_as_sync(&reasons), "{reasons:?}");
    within(DEADLINE, "reply after a refused filter", move || {
        doc.generate_sync(&mut peer);
    });
}

#[test]
fn bloom_filter_parameters_outside_their_bounds_are_refused() {
    let over_entries = BLOOM_ENTRIES_MAX as u64 + 1;
    let bad = [
        ("no probes", bloom(1, 10, 0, 2)),
        (
            "too many probes",
            bloom(1, 10, BLOOM_PROBES_MAX as u64 + 1, 2),
        ),
        (
            "too many bits per entry",
            bloom(1, BLOOM_BITS_PER_ENTRY_MAX as u64 + 1, 7, 5),
        ),
        (
            "too many entries",
            bloom(over_entries, 1, 1, over_entries.div_ceil(8) as usize),
        ),
    ];
    for (what, filter) in bad {
        let (mut doc, mut peer) = honest_deal();
        let reasons = receive(&mut doc, &mut peer, sync_with_filters(&[filter]));
        assert!(refused_as_sync(&reasons), "{what}: {reasons:?}");
    }
    let good = [
        ("Automerge's parameters", bloom(3, 10, 7, 4)),
        (
            "the bounds",
            bloom(
                BLOOM_ENTRIES_MAX as u64,
                1,
                BLOOM_PROBES_MAX as u64,
                BLOOM_ENTRIES_MAX.div_ceil(8),
            ),
        ),
        ("an empty filter", Vec::new()),
    ];
    for (what, filter) in good {
        let (mut doc, mut peer) = honest_deal();
        let reasons = receive(&mut doc, &mut peer, sync_with_filters(&[filter]));
        assert!(reasons.is_empty(), "{what}: {reasons:?}");
        assert!(doc.generate_sync(&mut peer).is_some(), "{what}");
    }
}

#[test]
fn a_sync_message_with_more_haves_than_the_bound_is_refused() {
    let (mut doc, mut peer) = honest_deal();
    let filters = vec![bloom(3, 10, 7, 4); SYNC_HAVES_MAX + 1];
    let reasons = receive(&mut doc, &mut peer, sync_with_filters(&filters));
    assert!(refused_as_sync(&reasons), "{reasons:?}");
    let filters = vec![bloom(3, 10, 7, 4); SYNC_HAVES_MAX];
    let reasons = receive(&mut doc, &mut peer, sync_with_filters(&filters));
    assert!(reasons.is_empty(), "{reasons:?}");
}

// ---------------------------------------------------------------------------------------------
// Genesis changes written by hand.

/// Commits `write` on `doc` as `signer` and returns the signed change.
fn commit(
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

/// The deal id a genesis envelope makes: its change hash.
fn deal_id_of(genesis: &SignedChange) -> DealId {
    DealId::from_bytes(
        automerge::Change::try_from(genesis.change_bytes())
            .unwrap()
            .hash()
            .0,
    )
}

// ---------------------------------------------------------------------------------------------
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

/// Origin A, partner B; B has written its section once, and both replicas have everything.
/// Returns A's replica and B's Automerge document (B's actor) to write further changes on.
fn covered_world() -> (DealDoc, Automerge, Signer) {
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

fn object(doc: &Automerge, path: &[&str]) -> ObjId {
    let mut obj = ROOT;
    for key in path {
        obj = doc.get(&obj, *key).unwrap().unwrap().1;
    }
    obj
}

/// B writes its own section (allowed).
fn b_writes_own_section(am: &mut Automerge, b: &Signer, text: &str) -> SignedChange {
    let section = object(am, &[keys::SECTIONS, b.node_id().as_str()]);
    commit(am, b, |tx| tx.put(&section, keys::NEXT_STEP, text).unwrap())
}

/// B writes a shared field (only the origin may).
fn b_writes_shared(am: &mut Automerge, b: &Signer, text: &str) -> SignedChange {
    let shared = object(am, &[keys::SHARED]);
    commit(am, b, |tx| tx.put(&shared, keys::TITLE, text).unwrap())
}

#[test]
fn a_change_whose_predecessor_is_no_operation_at_its_key_is_refused() {
    // Found by the `change` fuzz target (fuzz/regressions/change/): B overwrites its own
    // next step but names as predecessor an operation at another key (the origin's title).
    // Automerge applies it and drops the predecessor it cannot find, so it rebuilds the change as
    // other bytes: every `get_changes` then panicked on a missing dependency (debug builds) or
    // handed out bytes nobody signed, and the stored deal no longer restored; with other keys the
    // rebuild itself panicked (`collector.rs`: an operation added twice).
    let (mut honest, am, b) = covered_world();
    let mut edit = am.fork();
    edit.set_actor(b.key().actor_id(1));
    let honest_change = b_writes_own_section(&mut edit, &b, "second");
    let change = automerge::Change::try_from(honest_change.change_bytes()).unwrap();
    let mut expanded = change.decode();
    let (_, title) = am
        .get(object(&am, &[keys::SHARED]), keys::TITLE)
        .unwrap()
        .unwrap();
    let title = format!("{title}");
    let (counter, actor) = title.split_once('@').expect("an op id");
    let title = automerge::legacy::OpId::new(
        counter.parse().unwrap(),
        &automerge::ActorId::from(hex_bytes(actor)),
    );
    expanded.operations[0].pred = [title].into_iter().collect();
    expanded.hash = None;
    let forged = automerge::Change::from(expanded);
    let envelope = SignedChange::sign(b.key(), &forged);
    let outcome = within(DEADLINE, "a predecessor at another key", move || {
        let outcome = honest.ingest(vec![envelope]);
        (outcome, honest)
    });
    let (outcome, mut honest) = outcome;
    assert_eq!(
        *only_reason(&outcome),
        RejectReason::Unauthorized {
            path: keys::NEXT_STEP.into(),
            rule: "a predecessor must be a value at the same key"
        },
    );
    // The document is as it was: it still lists, sends and restores every change.
    let restored = DealDoc::restore(honest.id(), honest.envelopes()).expect("restores");
    assert_eq!(restored.heads(), honest.heads());
    // The same edit, honestly encoded, is taken.
    assert!(honest.ingest(vec![honest_change]).rejected.is_empty());
}

#[test]
fn a_map_key_on_a_list_is_refused_without_panic() {
    // Found by the `change` fuzz target (fuzz/regressions/change/): a participant makes a list
    // in its own section and puts a map key into it. Its own subtree, so the authorizer let it
    // through, and Automerge panicked applying it (`batch.rs`: an operation without position).
    let (mut honest, am, b) = covered_world();
    let mut edit = am.fork();
    edit.set_actor(b.key().actor_id(1));
    let template = b_writes_own_section(&mut edit, &b, "second");
    let mut expanded = automerge::Change::try_from(template.change_bytes())
        .unwrap()
        .decode();
    let section = expanded.operations[0].obj.clone();
    let list = automerge::legacy::OpId::new(expanded.start_op.get(), &expanded.actor_id);
    let make = automerge::legacy::Op {
        action: automerge::legacy::OpType::Make(ObjType::List),
        obj: section,
        key: automerge::legacy::Key::Map("contacts".into()),
        pred: Vec::new().into_iter().collect(),
        insert: false,
    };
    let put = automerge::legacy::Op {
        action: automerge::legacy::OpType::Put(automerge::ScalarValue::Str("x".into())),
        obj: automerge::legacy::ObjectId::Id(list),
        key: automerge::legacy::Key::Map("proposal".into()),
        pred: Vec::new().into_iter().collect(),
        insert: false,
    };
    expanded.operations = vec![make, put];
    expanded.hash = None;
    let change = automerge::Change::from(expanded);
    let envelope = SignedChange::sign(b.key(), &change);
    let outcome = within(DEADLINE, "a map key on a list", move || {
        let outcome = honest.ingest(vec![envelope]);
        let _ = honest.envelopes();
        outcome
    });
    assert!(
        matches!(
            only_reason(&outcome),
            RejectReason::Unauthorized { rule, .. } if rule.contains("list")
        ),
        "{:?}",
        outcome.rejected
    );
}

#[test]
fn lists_only_grow_and_inserts_name_their_elements() {
    // What the typed API writes, and nothing Automerge may trip on: an insert after an element
    // the list never had, a list element replaced or deleted, a counter.
    use automerge::legacy::{ElementId, Key, ObjectId, Op, OpId, OpType};
    use automerge::ScalarValue;
    let (honest, am, b) = covered_world();
    let mut edit = am.fork();
    edit.set_actor(b.key().actor_id(1));
    let template = b_writes_own_section(&mut edit, &b, "second");
    let template = automerge::Change::try_from(template.change_bytes())
        .unwrap()
        .decode();
    let section = template.operations[0].obj.clone();
    let first = template.start_op.get();
    let actor = template.actor_id.clone();
    let list = ObjectId::Id(OpId::new(first, &actor));
    let make = Op {
        action: OpType::Make(ObjType::List),
        obj: section.clone(),
        key: Key::Map("contacts".into()),
        pred: Vec::new().into_iter().collect(),
        insert: false,
    };
    let insert = |after: ElementId| Op {
        action: OpType::Put(ScalarValue::Str("x".into())),
        obj: list.clone(),
        key: Key::Seq(after),
        pred: Vec::new().into_iter().collect(),
        insert: true,
    };
    let unknown = insert(ElementId::Id(OpId::new(first + 7, &actor)));
    let delete = Op {
        action: OpType::Delete,
        obj: list.clone(),
        key: Key::Seq(ElementId::Id(OpId::new(first + 1, &actor))),
        pred: [OpId::new(first + 1, &actor)].into_iter().collect(),
        insert: false,
    };
    let counter = Op {
        action: OpType::Put(ScalarValue::counter(1)),
        obj: section,
        key: Key::Map("count".into()),
        pred: Vec::new().into_iter().collect(),
        insert: false,
    };
    let cases = [
        (
            "an insert after an unknown element",
            vec![make.clone(), unknown],
        ),
        (
            "a deleted element",
            vec![make.clone(), insert(ElementId::Head), delete],
        ),
        ("a counter", vec![counter]),
    ];
    for (what, operations) in cases {
        let mut expanded = template.clone();
        expanded.operations = operations;
        expanded.hash = None;
        let envelope = SignedChange::sign(b.key(), &automerge::Change::from(expanded));
        let mut doc = honest.clone();
        let outcome = within(DEADLINE, what, move || doc.ingest(vec![envelope]));
        assert!(
            matches!(only_reason(&outcome), RejectReason::Unauthorized { .. }),
            "{what}: {:?}",
            outcome.rejected
        );
    }
    // The honest shape is taken.
    let mut expanded = template.clone();
    expanded.operations = vec![make, insert(ElementId::Head)];
    expanded.hash = None;
    let envelope = SignedChange::sign(b.key(), &automerge::Change::from(expanded));
    let mut doc = honest.clone();
    let outcome = doc.ingest(vec![envelope]);
    assert!(outcome.rejected.is_empty(), "{:?}", outcome.rejected);
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
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

// ---------------------------------------------------------------------------------------------
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
