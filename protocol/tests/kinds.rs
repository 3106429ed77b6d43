//! Declared kinds: for random sequences of steps — random transitions, by random participants,
//! from the state the author saw or any other, with valid or broken fields, delivered at once or
//! late and out of order — every replica accepts exactly the steps the declaration allows, and
//! all replicas end with the same replayed state (and, when every step was delivered at once,
//! the state a hand-written model of the MDF lifecycle predicts).

mod support;

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ReadDoc, ROOT};
use proptest::prelude::*;
use protocol::deal::{DealDoc, Invite, Role, SharedFields, Signer};
use protocol::envelope::SignedChange;
use protocol::kind::{self, sha256_hex, StepValue};
use protocol::kinds::mdf::MDF;
use protocol::verify::RejectReason;
use std::collections::BTreeMap;
use support::*;

/// The partner (origin), the vendor, and a second partner that is invited too.
fn nodes() -> [Signer; 3] {
    [signer(11), signer(12), signer(13)]
}

fn mdf_doc(nodes: &[Signer; 3]) -> DealDoc {
    let invites = [
        Invite {
            node: id(&nodes[1]),
            name: "vendor".into(),
            role: Role::Vendor,
        },
        Invite {
            node: id(&nodes[2]),
            name: "other partner".into(),
            role: Role::Services,
        },
    ];
    let shared = SharedFields {
        title: Some("Q3 webinar".into()),
        ..SharedFields::default()
    };
    DealDoc::create_kind(
        &nodes[0],
        1_000,
        ("partner", Role::Reseller),
        &invites,
        &shared,
        &MDF,
    )
    .expect("create mdf")
    .0
}

/// Valid values for every field a transition writes; `approved_high` picks an approval above
/// the requested 1000 (which a guard refuses on replay).
fn values_for(transition: &str, approved_high: bool) -> BTreeMap<String, StepValue> {
    let proof = b"%PDF-1.4 proof of the webinar".to_vec();
    let text = |s: &str| StepValue::Text(s.into());
    let mut v = BTreeMap::new();
    let spec = MDF.transition(transition).expect("declared");
    for name in spec.required {
        let value = match *name {
            "activity" => text("Webinar on data platforms"),
            "requested" => text("1000"),
            "currency" => text("EUR"),
            "start" => text("2026-07-01"),
            "end" => text("2026-07-02"),
            "period" => text("2026-Q3"),
            "approved_amount" => text(if approved_high { "1500" } else { "800" }),
            "reason" => text("budget"),
            "proof_name" => text("proof.pdf"),
            "proof_sha256" => text(&sha256_hex(&proof)),
            "proof" => StepValue::Bytes(proof.clone()),
            "reimbursed_amount" => text("800"),
            "reference" => text("PAY-1"),
            "paid_on" => text("2026-08-01"),
            other => panic!("no test value for {other}"),
        };
        v.insert(name.to_string(), value);
    }
    v
}

#[derive(Debug, Clone)]
enum Breakage {
    None,
    DropRequired,
    ExtraField,
    BadType,
    WrongHash,
}

#[derive(Debug, Clone)]
struct Attempt {
    author: usize,
    transition: usize,
    /// `None`: the state the author's replica is in; else a state index (or "" past the end).
    from: Option<usize>,
    approved_high: bool,
    breakage: Breakage,
    /// Deliver to the other replicas now, or hold back until the end.
    deliver_now: bool,
}

fn attempt() -> impl Strategy<Value = Attempt> {
    let breakage = prop_oneof![
        6 => Just(Breakage::None),
        1 => Just(Breakage::DropRequired),
        1 => Just(Breakage::ExtraField),
        1 => Just(Breakage::BadType),
        1 => Just(Breakage::WrongHash),
    ];
    (
        0..3usize,
        0..MDF.transitions.len(),
        prop::option::weighted(0.3, 0..=MDF.states.len()),
        any::<bool>(),
        breakage,
        prop::bool::weighted(0.8),
    )
        .prop_map(
            |(author, transition, from, approved_high, breakage, deliver_now)| Attempt {
                author,
                transition,
                from,
                approved_high,
                breakage,
                deliver_now,
            },
        )
}

fn state_of(doc: &DealDoc) -> String {
    doc.kind_view()
        .and_then(|v| v.folded.state)
        .unwrap_or("")
        .to_string()
}

/// The MDF lifecycle written out by hand: the state after `transition` from `state`, if the
/// step applies (`approved_high` breaks the approved ≤ requested guard).
fn model(state: &str, transition: &str, step_from: &str, approved_high: bool) -> Option<String> {
    if state != step_from {
        return None;
    }
    let to = match (state, transition) {
        ("", "propose") | ("changes_requested", "revise") => "proposed",
        ("proposed", "approve") if !approved_high => "approved",
        ("proposed", "reject") => "rejected",
        ("proposed", "ask_changes") => "changes_requested",
        ("approved", "claim") => "claimed",
        ("claimed", "reimburse") => "reimbursed",
        _ => return None,
    };
    Some(to.to_string())
}

fn check_kind_property(attempts: Vec<Attempt>) {
    let nodes = nodes();
    let genesis = mdf_doc(&nodes);
    let mut replicas: Vec<DealDoc> = (0..3).map(|_| genesis.clone()).collect();
    let mut held: Vec<(usize, SignedChange)> = Vec::new();
    let mut all_now = true;
    let mut modelled = String::new();
    let mut verdicts = Vec::new();
    for a in attempts {
        let spec = &MDF.transitions[a.transition];
        let from = match a.from {
            None => state_of(&replicas[a.author]),
            Some(i) => MDF.states.get(i).copied().unwrap_or("").to_string(),
        };
        let mut values = values_for(spec.name, a.approved_high);
        match a.breakage {
            Breakage::None => {}
            Breakage::DropRequired => {
                let first = spec.required[0];
                values.remove(first);
            }
            Breakage::ExtraField => {
                values.insert("not_declared".into(), StepValue::Text("x".into()));
            }
            Breakage::BadType => {
                let first = spec.required[0];
                values.insert(first.into(), StepValue::Bytes(vec![1, 2, 3]));
            }
            Breakage::WrongHash => {
                values.insert("proof_sha256".into(), StepValue::Text("0".repeat(64)));
            }
        }
        let author = &nodes[a.author];
        let is_origin = a.author == 0;
        let is_vendor = a.author == 1;
        let allowed = MDF
            .check_step(spec.name, &from, is_origin, is_vendor, &values)
            .is_ok();
        let (envelope, hash) = forge(&replicas[a.author], author, spec.name, &from, &values);
        verdicts.push((hash, allowed));
        let own = replicas[a.author].ingest(vec![envelope.clone()]);
        assert_eq!(
            own.rejected.is_empty(),
            allowed,
            "author's replica: {} by {} from {from:?} ({:?}): {:?}",
            spec.name,
            a.author,
            a.breakage,
            own.rejected
        );
        if !allowed {
            assert!(matches!(
                own.rejected[0].reason,
                RejectReason::Unauthorized { .. }
            ));
        }
        for (other, replica) in replicas.iter_mut().enumerate() {
            if other == a.author {
                continue;
            }
            if a.deliver_now {
                // A replica that lacks a held-back dependency parks the change and judges it
                // when the dependency arrives; it never refuses an allowed one.
                let out = replica.ingest(vec![envelope.clone()]);
                assert!(allowed || !out.rejected.is_empty() || replica.pending_len() > 0);
                assert!(
                    !allowed || out.rejected.is_empty(),
                    "replica {other}: {out:?}"
                );
            } else {
                all_now = false;
                held.push((other, envelope.clone()));
            }
        }
        if allowed && all_now {
            if let Some(next) = model(&modelled, spec.name, &from, a.approved_high) {
                modelled = next;
            }
        }
    }
    // Late delivery, newest first (out of causal order): the pending queue sorts it out.
    // Changes whose author replica refused them are refused again.
    for (to, envelope) in held.into_iter().rev() {
        replicas[to].ingest(vec![envelope]);
    }
    // Every replica also gets every other replica's changes (a gossip round), then compare.
    let all: Vec<Vec<SignedChange>> = replicas.iter().map(DealDoc::envelopes).collect();
    for replica in &mut replicas {
        for envelopes in &all {
            replica.ingest(envelopes.clone());
        }
    }
    for replica in &replicas {
        assert_eq!(replica.pending_len(), 0);
        for (hash, allowed) in &verdicts {
            assert_eq!(replica.envelope(hash).is_some(), *allowed);
        }
    }
    let views: Vec<_> = replicas.iter().map(DealDoc::kind_view).collect();
    assert_eq!(views[0], views[1]);
    assert_eq!(views[1], views[2]);
    if all_now {
        assert_eq!(state_of(&replicas[0]), modelled);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn every_replica_accepts_exactly_what_the_declaration_allows_and_converges(
        attempts in prop::collection::vec(attempt(), 1..40),
    ) {
        check_kind_property(attempts);
    }
}

#[test]
fn a_partner_approving_its_own_proposal_is_refused_naming_the_rule() {
    let nodes = nodes();
    let mut doc = mdf_doc(&nodes);
    doc.take_step(&nodes[0], 2_000, "propose", &values_for("propose", false))
        .expect("propose");
    let (forged, _) = forge(
        &doc,
        &nodes[0],
        "approve",
        "proposed",
        &values_for("approve", false),
    );
    let out = doc.clone().ingest(vec![forged]);
    match &out.rejected[..] {
        [r] => assert_eq!(
            r.reason.to_string(),
            "not allowed to write steps/approve/step: this party may not take this transition"
        ),
        other => panic!("expected one rejection, got {other:?}"),
    }
    // The typed API refuses it before anything is written.
    let refused = doc.take_step(&nodes[0], 2_001, "approve", &values_for("approve", false));
    assert!(refused.is_err());
}

#[test]
fn a_vendor_cannot_approve_above_the_requested_amount_nor_approve_twice() {
    let nodes = nodes();
    let mut doc = mdf_doc(&nodes);
    doc.take_step(&nodes[0], 2_000, "propose", &values_for("propose", false))
        .expect("propose");
    let high = doc.take_step(&nodes[1], 2_001, "approve", &values_for("approve", true));
    assert!(high.is_err(), "approving 1500 of 1000 requested: {high:?}");
    doc.take_step(&nodes[1], 2_002, "approve", &values_for("approve", false))
        .expect("approve 800");
    // Raising the approved amount afterwards: no transition leaves `approved` by the vendor.
    let (forged, _) = forge(
        &doc,
        &nodes[1],
        "approve",
        "approved",
        &values_for("approve", false),
    );
    let out = doc.clone().ingest(vec![forged]);
    assert_eq!(out.rejected.len(), 1);
    let view = doc.kind_view().unwrap();
    assert_eq!(view.folded.state, Some("approved"));
    assert_eq!(
        view.folded.fields.get("approved_amount"),
        Some(&StepValue::Text("800".into()))
    );
}

#[test]
fn steps_are_immutable_once_written() {
    let nodes = nodes();
    let mut doc = mdf_doc(&nodes);
    doc.take_step(&nodes[0], 2_000, "propose", &values_for("propose", false))
        .expect("propose");
    let mut fork = doc.automerge().fork();
    fork.set_actor(nodes[0].key().actor_id(1));
    let list = fork.get(ROOT, kind::STEPS_KEY).unwrap().unwrap().1;
    let step = fork.get(&list, 0).unwrap().unwrap().1;
    let mut tx = fork.transaction();
    tx.put(&step, "requested", "999999").unwrap();
    tx.commit_with(CommitOptions::default().with_time(3));
    let change = fork.get_last_local_change().unwrap();
    let out = doc.ingest(vec![SignedChange::sign(nodes[0].key(), &change)]);
    assert_eq!(out.rejected.len(), 1);
    assert!(out.rejected[0]
        .reason
        .to_string()
        .contains("written whole by the change that creates it"));
}
