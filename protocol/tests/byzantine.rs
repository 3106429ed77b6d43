//! Byzantine peers: each test feeds an honest replica a bad change and asserts that the replica's
//! state is unchanged and that the rejection names the right reason.

mod support;

use automerge::transaction::{CommitOptions, Transactable, Transaction};
use automerge::{ObjType, ReadDoc, ROOT};
use protocol::deal::{DealDoc, SectionUpdate, Signer};
use protocol::envelope::{EnvelopeError, SignedChange};
use protocol::identity::NodeKey;
use protocol::limits::ENVELOPE_BYTES_MAX;
use protocol::sync::PeerSync;
use protocol::verify::RejectReason;
use protocol::wire::{WireError, WireMessage};
use support::*;

/// A vendor A, a reseller B and an SI C, all with the deal and B's and C's sections written.
struct World {
    a: Signer,
    b: Signer,
    c: Signer,
    /// B's replica: the one a malicious node would craft its changes on.
    doc_b: DealDoc,
    /// The honest replica under attack (A's).
    honest: DealDoc,
}

fn world() -> World {
    let (a, b, c) = (signer(1), signer(2), signer(3));
    let mut honest = deal(&a, &[&b, &c]);
    let mut doc_b = DealDoc::replica(honest.id());
    doc_b.ingest(honest.envelopes());
    let note = |s: &str| SectionUpdate {
        next_step: Some(s.into()),
        ..SectionUpdate::default()
    };
    doc_b.update_section(&b, 10, &note("b's plan")).unwrap();
    doc_b.update_section(&c, 11, &note("c's plan")).unwrap();
    let out = honest.ingest(doc_b.envelopes());
    assert!(out.rejected.is_empty());
    World {
        a,
        b,
        c,
        doc_b,
        honest,
    }
}

/// A raw change made on a fork of `base` with `actor_key`'s actor, signed by `signing_key`.
fn forge(
    base: &DealDoc,
    actor_key: &NodeKey,
    signing_key: &NodeKey,
    write: impl FnOnce(&mut Transaction<'_>),
) -> SignedChange {
    let mut doc = base.automerge().fork();
    doc.set_actor(actor_key.actor_id(1));
    let mut tx = doc.transaction();
    write(&mut tx);
    tx.commit_with(CommitOptions::default().with_time(20));
    let change = doc.get_last_local_change().expect("forged change");
    SignedChange::sign(signing_key, &change)
}

fn object(doc: &DealDoc, path: &[&str]) -> automerge::ObjId {
    let mut obj = ROOT;
    for key in path {
        obj = doc.automerge().get(&obj, *key).unwrap().unwrap().1;
    }
    obj
}

/// Feeds `envelope` to the honest replica: asserts it is rejected for `reason` and changes nothing.
fn check_rejected(w: &mut World, envelope: SignedChange, reason: fn(&RejectReason) -> bool) {
    let heads = w.honest.heads();
    let view = w.honest.read_view();
    let out = w.honest.ingest(vec![envelope]);
    assert!(out.applied.is_empty(), "applied: {:?}", out.applied);
    assert_eq!(out.rejected.len(), 1, "{:?}", out.rejected);
    assert!(
        reason(&out.rejected[0].reason),
        "wrong reason: {:?}",
        out.rejected[0].reason
    );
    assert_eq!(w.honest.heads(), heads);
    assert_eq!(w.honest.read_view(), view);
    assert_eq!(w.honest.pending_len(), 0);
}

#[test]
fn forged_signature_is_rejected() {
    let mut w = world();
    let up = SectionUpdate {
        next_step: Some("new".into()),
        ..SectionUpdate::default()
    };
    let good = w.doc_b.update_section(&w.b, 30, &up).unwrap();
    let env = good.envelope();
    let mut sig = *env.signature();
    sig[5] ^= 1;
    let bad = SignedChange::from_parts(env.change_bytes().to_vec(), env.author().clone(), sig);
    check_rejected(&mut w, bad, |r| *r == RejectReason::BadSignature);
}

#[test]
fn valid_signature_with_actor_of_another_node_is_rejected() {
    let mut w = world();
    let sections = object(&w.honest, &["sections"]);
    let c_section = object(&w.honest, &["sections", w.c.node_id().as_str()]);
    let _ = sections;
    // B signs (validly) a change whose actor is C's key, writing C's section.
    let env = forge(&w.doc_b, w.c.key(), w.b.key(), |tx| {
        tx.put(&c_section, "next_step", "hijacked").unwrap();
    });
    check_rejected(&mut w, env, |r| *r == RejectReason::ActorMismatch);
}

#[test]
fn participant_writing_another_participants_section_is_rejected() {
    let mut w = world();
    let c_section = object(&w.honest, &["sections", w.c.node_id().as_str()]);
    let env = forge(&w.doc_b, w.b.key(), w.b.key(), |tx| {
        tx.put(&c_section, "next_step", "overwritten by b").unwrap();
    });
    check_rejected(&mut w, env, |r| {
        matches!(r, RejectReason::Unauthorized { .. })
    });
    // Replacing C's whole section from the sections map is refused too.
    let sections = object(&w.honest, &["sections"]);
    let c = w.c.node_id().as_str().to_string();
    let env = forge(&w.doc_b, w.b.key(), w.b.key(), |tx| {
        tx.put_object(&sections, c.as_str(), ObjType::Map).unwrap();
    });
    check_rejected(&mut w, env, |r| {
        matches!(r, RejectReason::Unauthorized { .. })
    });
}

#[test]
fn non_origin_changing_shared_fields_is_rejected() {
    let mut w = world();
    let shared = object(&w.honest, &["shared"]);
    let env = forge(&w.doc_b, w.b.key(), w.b.key(), |tx| {
        tx.put(&shared, "title", "b renamed the deal").unwrap();
    });
    check_rejected(
        &mut w,
        env,
        |r| matches!(r, RejectReason::Unauthorized { path, .. } if path.starts_with("shared")),
    );
}

#[test]
fn non_origin_changing_the_participant_list_is_rejected() {
    let mut w = world();
    let list = object(&w.honest, &["participants"]);
    let d = signer(4);
    let d_id = d.node_id().as_str().to_string();
    let env = forge(&w.doc_b, w.b.key(), w.b.key(), |tx| {
        let entry = tx.put_object(&list, d_id.as_str(), ObjType::Map).unwrap();
        tx.put(&entry, "role", "reseller").unwrap();
    });
    check_rejected(
        &mut w,
        env,
        |r| matches!(r, RejectReason::Unauthorized { path, .. } if path.starts_with("participants")),
    );
    // Nor may B change C's status, or delete C.
    let c_entry = object(&w.honest, &["participants", w.c.node_id().as_str()]);
    let env = forge(&w.doc_b, w.b.key(), w.b.key(), |tx| {
        tx.put(&c_entry, "status", "declined").unwrap();
    });
    check_rejected(&mut w, env, |r| {
        matches!(r, RejectReason::Unauthorized { .. })
    });
    let c = w.c.node_id().as_str().to_string();
    let env = forge(&w.doc_b, w.b.key(), w.b.key(), |tx| {
        tx.delete(&list, c.as_str()).unwrap();
    });
    check_rejected(&mut w, env, |r| {
        matches!(r, RejectReason::Unauthorized { .. })
    });
}

#[test]
fn origin_cannot_remove_a_participant() {
    let mut w = world();
    let list = object(&w.honest, &["participants"]);
    let c = w.c.node_id().as_str().to_string();
    let env = forge(&w.doc_b, w.a.key(), w.a.key(), |tx| {
        tx.delete(&list, c.as_str()).unwrap();
    });
    check_rejected(&mut w, env, |r| {
        matches!(r, RejectReason::Unauthorized { .. })
    });
}

#[test]
fn non_participant_change_is_rejected() {
    let mut w = world();
    let d = signer(4);
    let sections = object(&w.honest, &["sections"]);
    let d_id = d.node_id().as_str().to_string();
    let env = forge(&w.doc_b, d.key(), d.key(), |tx| {
        tx.put_object(&sections, d_id.as_str(), ObjType::Map)
            .unwrap();
    });
    check_rejected(&mut w, env, |r| *r == RejectReason::NotParticipant);
}

#[test]
fn genesis_of_another_deal_is_rejected_by_a_fresh_replica() {
    let w = world();
    let other = deal(&w.b, &[&w.a]);
    let mut fresh = DealDoc::replica(w.honest.id());
    let out = fresh.ingest(other.envelopes());
    assert!(out.applied.is_empty());
    assert_eq!(out.rejected[0].reason, RejectReason::WrongGenesis);
    assert!(!fresh.is_initialized());
}

#[test]
fn truncated_garbage_and_oversized_bytes_are_refused_without_panic() {
    let w = world();
    let env = w.honest.envelopes().pop().unwrap().encode();
    for cut in [0, 1, 5, env.len() / 2, env.len() - 1] {
        assert!(SignedChange::decode(&env[..cut]).is_err(), "cut at {cut}");
    }
    assert!(SignedChange::decode(b"\xff\x00garbage").is_err());
    let huge = vec![0u8; ENVELOPE_BYTES_MAX + 1];
    assert!(matches!(
        SignedChange::decode(&huge),
        Err(EnvelopeError::TooLarge(_))
    ));
    // A well-formed envelope around garbage change bytes is a typed rejection.
    let garbage = SignedChange::from_parts(
        vec![0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 1, 3],
        w.b.node_id().clone(),
        [0; 64],
    );
    let mut honest = w.honest;
    let heads = honest.heads();
    let out = honest.ingest(vec![garbage]);
    assert!(matches!(out.rejected[0].reason, RejectReason::Malformed(_)));
    assert_eq!(honest.heads(), heads);
    // Wire messages: garbage, truncated, unknown version.
    assert!(WireMessage::decode(b"not cbor at all").is_err());
    let mut state = PeerSync::new();
    let wire = WireMessage::Sync(vec![honest.generate_sync(&mut state).unwrap()]).encode();
    for cut in [1, wire.len() / 2, wire.len() - 1] {
        assert!(WireMessage::decode(&wire[..cut]).is_err());
    }
    let mut v2 = wire.clone();
    v2[1] = 0x02; // [version, …]: the version is the first array element.
    assert_eq!(WireMessage::decode(&v2), Err(WireError::UnknownVersion(2)));
}

#[test]
fn replayed_change_is_idempotent_without_errors() {
    let mut w = world();
    let heads = w.honest.heads();
    let all = w.honest.envelopes();
    let out = w.honest.ingest(all.clone());
    assert!(out.rejected.is_empty());
    assert!(out.applied.is_empty());
    assert_eq!(out.duplicates, all.len());
    assert_eq!(w.honest.heads(), heads);
}

#[test]
fn change_arriving_before_its_dependencies_waits_then_applies() {
    let mut w = world();
    let up = |s: &str| SectionUpdate {
        next_step: Some(s.into()),
        ..SectionUpdate::default()
    };
    let first = w.doc_b.update_section(&w.b, 40, &up("one")).unwrap();
    let second = w.doc_b.update_section(&w.b, 41, &up("two")).unwrap();
    let heads = w.honest.heads();
    let out = w.honest.ingest(vec![second.envelope().clone()]);
    assert!(out.applied.is_empty() && out.rejected.is_empty());
    assert_eq!(w.honest.pending_len(), 1);
    assert_eq!(w.honest.heads(), heads);
    let out = w.honest.ingest(vec![first.envelope().clone()]);
    assert_eq!(out.applied.len(), 2);
    assert_eq!(w.honest.pending_len(), 0);
    assert_eq!(w.honest.heads(), w.doc_b.heads());
}

#[test]
fn descendant_of_a_rejected_change_is_rejected() {
    let mut w = world();
    let shared = object(&w.honest, &["shared"]);
    let bad = forge(&w.doc_b, w.b.key(), w.b.key(), |tx| {
        tx.put(&shared, "title", "b renamed the deal").unwrap();
    });
    // B's next change builds on its bad one.
    let mut fork = w.doc_b.automerge().fork();
    fork.apply_changes(vec![
        automerge::Change::try_from(bad.change_bytes()).unwrap()
    ])
    .unwrap();
    fork.set_actor(w.b.key().actor_id(1));
    let b_section = object(&w.honest, &["sections", w.b.node_id().as_str()]);
    let mut tx = fork.transaction();
    tx.put(&b_section, "next_step", "after").unwrap();
    tx.commit();
    let next = SignedChange::sign(w.b.key(), &fork.get_last_local_change().unwrap());
    let heads = w.honest.heads();
    let out = w.honest.ingest(vec![bad, next]);
    assert!(out.applied.is_empty());
    let reasons: Vec<_> = out.rejected.iter().map(|r| r.reason.clone()).collect();
    assert!(matches!(reasons[0], RejectReason::Unauthorized { .. }));
    assert_eq!(reasons[1], RejectReason::DependsOnRejected);
    assert_eq!(w.honest.heads(), heads);
}

#[test]
fn participant_may_not_accept_for_another() {
    let mut w = world();
    let c_entry = object(&w.honest, &["participants", w.c.node_id().as_str()]);
    let env = forge(&w.doc_b, w.b.key(), w.b.key(), |tx| {
        tx.put(&c_entry, "status", "accepted").unwrap();
    });
    check_rejected(&mut w, env, |r| {
        matches!(r, RejectReason::Unauthorized { .. })
    });
    // But C may, and A sees it.
    let ok = w.doc_b.accept(&w.c, 50).unwrap();
    let out = w.honest.ingest(vec![ok.envelope().clone()]);
    assert_eq!(out.applied.len(), 1);
}

#[test]
fn a_revocation_signed_by_anyone_but_the_vendor_is_rejected() {
    let mut w = world();
    let decisions = object(&w.honest, &["registration", "decisions"]);
    let (a, b) = (
        w.a.node_id().as_str().to_string(),
        w.b.node_id().as_str().to_string(),
    );
    // B (a reseller) "revokes" under its own entry: only a vendor decides registrations.
    let env = forge(&w.doc_b, w.b.key(), w.b.key(), |tx| {
        let d = tx.put_object(&decisions, b.as_str(), ObjType::Map).unwrap();
        tx.put(&d, "status", "revoked").unwrap();
        tx.put(&d, "reason", "forged by b").unwrap();
    });
    check_rejected(
        &mut w,
        env,
        |r| matches!(r, RejectReason::Unauthorized { path, .. } if path.contains("decisions")),
    );
    // B writes a revocation into the vendor's own entry: a node writes only its own.
    let env = forge(&w.doc_b, w.b.key(), w.b.key(), |tx| {
        let d = tx.put_object(&decisions, a.as_str(), ObjType::Map).unwrap();
        tx.put(&d, "status", "revoked").unwrap();
    });
    check_rejected(&mut w, env, |r| {
        matches!(r, RejectReason::Unauthorized { .. })
    });
}

#[test]
fn an_invitee_cannot_write_the_invitation_message() {
    // The invitation message travels in the origin's shared fields (`cosell.message`).
    let mut w = world();
    let shared = object(&w.honest, &["shared"]);
    let env = forge(&w.doc_b, w.b.key(), w.b.key(), |tx| {
        tx.put(&shared, "cosell.message", "b rewrote the invitation")
            .unwrap();
    });
    check_rejected(
        &mut w,
        env,
        |r| matches!(r, RejectReason::Unauthorized { path, .. } if path.starts_with("shared")),
    );
}

#[test]
fn only_the_invitee_writes_its_decline_reason() {
    let mut w = world();
    let b_entry = object(&w.honest, &["participants", w.b.node_id().as_str()]);
    // The origin may not put words in the invitee's mouth…
    let env = forge(&w.doc_b, w.a.key(), w.a.key(), |tx| {
        tx.put(
            &b_entry,
            "decline_reason",
            "the origin says b is not interested",
        )
        .unwrap();
    });
    check_rejected(
        &mut w,
        env,
        |r| matches!(r, RejectReason::Unauthorized { path, .. } if path.ends_with("decline_reason")),
    );
    // …nor another participant, nor the invitee as anything but text.
    let env = forge(&w.doc_b, w.c.key(), w.c.key(), |tx| {
        tx.put(&b_entry, "decline_reason", "c speaks for b")
            .unwrap();
    });
    check_rejected(&mut w, env, |r| {
        matches!(r, RejectReason::Unauthorized { .. })
    });
    let env = forge(&w.doc_b, w.b.key(), w.b.key(), |tx| {
        tx.put_object(&b_entry, "decline_reason", ObjType::Map)
            .unwrap();
    });
    check_rejected(&mut w, env, |r| {
        matches!(r, RejectReason::Unauthorized { .. })
    });
    // The invitee itself declines with a reason, in one change the origin takes and reads.
    let ok = w
        .doc_b
        .decline_because(&w.b, 60, Some("no budget this year"))
        .unwrap();
    let out = w.honest.ingest(vec![ok.envelope().clone()]);
    assert_eq!(out.applied.len(), 1, "{:?}", out.rejected);
    let view = w.honest.read_view();
    let b = &view.participants[w.b.node_id()];
    assert_eq!(b.status, Some(protocol::deal::ParticipantStatus::Declined));
    assert_eq!(b.decline_reason.as_deref(), Some("no budget this year"));
}
