//! Hostile partners, operations of shapes the typed API never writes (found by the `change`
//! fuzz target): predecessors at another key, map keys on lists, list edits other than inserts.
//! Each is refused before Automerge applies it, and the document still restores.

mod hostile;
mod support;

use automerge::ObjType;
use automerge::ReadDoc;
use hostile::*;
use protocol::deal::{keys, DealDoc};
use protocol::envelope::SignedChange;
use protocol::verify::RejectReason;

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
    // Operation 1 of B's actor: before the insert (a later one is refused for its counter,
    // hostile_counters), but no operation of this document.
    let unknown = insert(ElementId::Id(OpId::new(1, &actor)));
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
