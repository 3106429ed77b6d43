//! One helper per test boundary: nodes, deals and in-memory sync between replicas.
#![allow(dead_code)]

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ObjType, ReadDoc, ScalarValue, ROOT};
use protocol::deal::{DealDoc, Invite, Role, SharedFields, Signer};
use protocol::envelope::SignedChange;
use protocol::identity::{NodeId, NodeKey};
use protocol::kind::{self, StepValue};
use protocol::records::Stage;
use protocol::sync::PeerSync;
use protocol::verify::Rejected;
use protocol::wire::WireMessage;
use std::collections::BTreeMap;

/// A node whose key is derived from `seed`, in process run 1.
pub fn signer(seed: u8) -> Signer {
    Signer::new(NodeKey::from_secret_bytes(&[seed; 32]), 1)
}

pub fn id(s: &Signer) -> NodeId {
    s.node_id().clone()
}

/// A deal created by `origin` (vendor) with the other signers invited as reseller, services, ….
pub fn deal(origin: &Signer, others: &[&Signer]) -> DealDoc {
    let roles = [Role::Reseller, Role::Services, Role::Distributor, Role::Msp];
    let invites: Vec<Invite> = others
        .iter()
        .enumerate()
        .map(|(i, s)| Invite {
            node: id(s),
            name: format!("partner {i}"),
            role: roles[i % roles.len()],
        })
        .collect();
    let shared = SharedFields {
        title: Some("Acme expansion".into()),
        stage: Some(Stage::Qualified),
        ..SharedFields::default()
    };
    DealDoc::create(origin, 1_000, "vendor", Role::Vendor, &invites, &shared)
        .expect("create deal")
        .0
}

/// Sends one message from `from` to `to` through the wire encoding; returns whether anything was
/// sent and what the receiver rejected.
pub fn send(
    from: &DealDoc,
    from_state: &mut PeerSync,
    to: &mut DealDoc,
    to_state: &mut PeerSync,
) -> (bool, Vec<Rejected>) {
    let Some(message) = from.generate_sync(from_state) else {
        return (false, Vec::new());
    };
    if std::env::var_os("SYNC_TRACE").is_some() {
        let m = automerge::sync::Message::decode(&message.sync).unwrap();
        eprintln!(
            "heads {:?} need {:?} have {} changes {}",
            m.heads
                .iter()
                .map(|h| h.to_string()[..6].to_string())
                .collect::<Vec<_>>(),
            m.need
                .iter()
                .map(|h| h.to_string()[..6].to_string())
                .collect::<Vec<_>>(),
            m.have.len(),
            message.changes.len()
        );
    }
    let bytes = WireMessage::Sync(vec![message]).encode();
    let WireMessage::Sync(mut docs) = WireMessage::decode(&bytes).expect("wire round trip");
    let outcome = to.receive_sync(to_state, docs.remove(0));
    (true, outcome.rejected)
}

/// Syncs two replicas until neither has anything to say; returns every rejection.
pub fn sync_pair(
    a: &mut DealDoc,
    a_about_b: &mut PeerSync,
    b: &mut DealDoc,
    b_about_a: &mut PeerSync,
) -> Vec<Rejected> {
    let mut rejected = Vec::new();
    for _ in 0..100 {
        let (sent_ab, r1) = send(a, a_about_b, b, b_about_a);
        let (sent_ba, r2) = send(b, b_about_a, a, a_about_b);
        rejected.extend(r1);
        rejected.extend(r2);
        if !sent_ab && !sent_ba {
            return rejected;
        }
    }
    panic!("sync did not settle in 100 rounds");
}

/// Writes the step raw (no local checks) on `base` as `author`, signed.
pub fn forge(
    base: &DealDoc,
    author: &Signer,
    name: &str,
    from: &str,
    values: &BTreeMap<String, StepValue>,
) -> (SignedChange, automerge::ChangeHash) {
    let mut doc = base.automerge().fork();
    doc.set_actor(author.key().actor_id(1));
    let list = doc.get(ROOT, kind::STEPS_KEY).unwrap().unwrap().1;
    let mut tx = doc.transaction();
    let end = tx.length(&list);
    let obj = tx.insert_object(&list, end, ObjType::Map).unwrap();
    tx.put(&obj, kind::STEP_KEY, name).unwrap();
    tx.put(&obj, kind::FROM_KEY, from).unwrap();
    tx.put(&obj, kind::BY_KEY, author.node_id().as_str())
        .unwrap();
    tx.put(&obj, kind::AT_KEY, 2_000u64).unwrap();
    for (k, v) in values {
        match v {
            StepValue::Text(t) => tx.put(&obj, k.as_str(), t.as_str()).unwrap(),
            StepValue::Bytes(b) => tx
                .put(&obj, k.as_str(), ScalarValue::Bytes(b.clone()))
                .unwrap(),
        }
    }
    tx.commit_with(CommitOptions::default().with_time(2));
    let change = doc.get_last_local_change().expect("forged change");
    (SignedChange::sign(author.key(), &change), change.hash())
}
