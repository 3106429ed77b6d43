//! Hostile partners, hand-made Automerge change chunks: run-length columns that claim 2^60
//! operations or predecessors, overflow, name actors or counters a change does not have, or run
//! past their operations. Each is refused before Automerge walks it (or without a panic), on a
//! thread with a deadline so a regression fails the test instead of the machine.

mod hostile;
mod support;

use hostile::*;
use protocol::deal::{DealDoc, Signer};
use protocol::envelope::SignedChange;
use protocol::sync::PeerSync;
use protocol::verify::RejectReason;
use sha2::{Digest, Sha256};
use support::*;

// Hand-made Automerge change chunks (https://alexjg.github.io/automerge-storage-docs/).

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
