//! A hostile partner against the deal engine (issue 19): one peer's message may not stall every
//! other call, lose a document from memory, crowd out other partners' new deals, or write over
//! its removal. Each test was an exploit that failed before its fix.

use super::testing::{befriend, share_with, side, sync, Side};
use super::Fault;
use automerge::{transaction::Transactable, ReadDoc, ROOT};
use protocol::deal::{keys, DealId};
use protocol::envelope::SignedChange;
use protocol::identity::NodeKey;
use protocol::sync::PeerSync;
use protocol::wire::DocSync;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A vendor and a reseller sharing one deal, both holding all of it.
fn shared_deal() -> (Arc<Side>, Side, DealId) {
    let vendor = side(1, "Vendor");
    let reseller = side(2, "Reseller");
    befriend(&vendor, &reseller);
    let id = share_with(&vendor, &reseller, &["name"]);
    sync(&vendor, &reseller);
    reseller.deals.respond(id, true, 3).unwrap();
    sync(&vendor, &reseller);
    (Arc::new(vendor), reseller, id)
}

/// `count` changes by the reseller (seed 2) to its own section of deal `id`, each putting `ops`
/// keys from another run of the reseller, with spoiled signatures: every one parses and is then
/// refused, the most work a peer can make a node do for nothing.
fn expensive_changes(reseller: &Side, id: DealId, count: usize, ops: usize) -> Vec<SignedChange> {
    let key = NodeKey::from_secret_bytes(&[2; 32]);
    let me = reseller.deals.me().to_string();
    let base = reseller.deals.lock().docs[&id].automerge().fork();
    let sections = base.get(ROOT, keys::SECTIONS).unwrap().unwrap().1;
    let mut doc = base.fork();
    doc.set_actor(key.actor_id(1000));
    let mut tx = doc.transaction();
    let section = tx
        .put_object(&sections, me.as_str(), automerge::ObjType::Map)
        .unwrap();
    for k in 0..ops {
        tx.put(&section, format!("k{k}"), 0u64).unwrap();
    }
    tx.commit();
    let template = doc.get_last_local_change().unwrap().decode();
    let mut out = Vec::with_capacity(count);
    for n in 0..count {
        // The same operations from another run of the reseller: another change to parse.
        let mut expanded = template.clone();
        expanded.actor_id = key.actor_id(1001 + n as u64);
        expanded.hash = None;
        let change = automerge::Change::from(expanded);
        let good = SignedChange::sign(&key, &change);
        let mut signature = *good.signature();
        signature[0] ^= 1;
        out.push(SignedChange::from_parts(
            good.change_bytes().to_vec(),
            good.author().clone(),
            signature,
        ));
    }
    out
}

/// A sync message about `id` from `from` carrying `changes`.
fn message_with(from: &Side, to: &Side, id: DealId, changes: Vec<SignedChange>) -> DocSync {
    let mut state = PeerSync::new();
    let inner = from.deals.lock();
    let mut message = inner.docs[&id]
        .generate_sync(&mut state)
        .unwrap_or(DocSync {
            deal: id,
            sync: Vec::new(),
            changes: Vec::new(),
        });
    let _ = to;
    message.changes = changes;
    message
}

#[test]
fn an_expensive_message_from_one_peer_does_not_block_other_calls() {
    let (vendor, reseller, id) = shared_deal();
    let changes = expensive_changes(&reseller, id, 600, 1500);
    let message = message_with(&reseller, &vendor, id, changes);
    let from = reseller.deals.me().clone();
    let done = Arc::new(AtomicBool::new(false));
    let probe = {
        let (vendor, done) = (vendor.clone(), done.clone());
        std::thread::spawn(move || {
            let mut worst = Duration::ZERO;
            let mut calls = 0u32;
            while !done.load(Ordering::Relaxed) {
                let start = Instant::now();
                assert!(vendor.deals.ids().contains(&id));
                assert!(vendor.deals.view(id, false).unwrap().is_some());
                worst = worst.max(start.elapsed());
                calls += 1;
                std::thread::sleep(Duration::from_millis(5));
            }
            (worst, calls)
        })
    };
    std::thread::sleep(Duration::from_millis(50));
    let start = Instant::now();
    let got = vendor.deals.receive(&from, vec![message], 10).unwrap();
    let took = start.elapsed();
    done.store(true, Ordering::Relaxed);
    let (worst, calls) = probe.join().unwrap();
    assert!(got.changed.is_empty());
    assert!(
        took >= Duration::from_millis(200),
        "the message must be expensive for this test to mean anything: it took {took:?}"
    );
    assert!(calls >= 5, "{calls} calls");
    assert!(
        worst < took / 4,
        "another call waited {worst:?} while one peer's message took {took:?}"
    );
}

/// The deal's view and the heads the vendor holds.
fn held(vendor: &Side, id: DealId) -> Vec<automerge::ChangeHash> {
    assert!(vendor.deals.ids().contains(&id), "the deal vanished");
    assert!(vendor.deals.view(id, false).unwrap().is_some());
    vendor.deals.lock().docs[&id].heads()
}

#[test]
fn a_message_that_fails_midway_loses_no_document() {
    for fault in [Fault::Error, Fault::Panic] {
        let (vendor, reseller, id) = shared_deal();
        let before = held(&vendor, id);
        let note = protocol::deal::SectionUpdate {
            next_step: Some("call them".into()),
            ..Default::default()
        };
        reseller.deals.update_section(id, &note, 5).unwrap();
        let from = reseller.deals.me().clone();
        let messages = reseller.deals.generate(vendor.deals.me(), None).unwrap();
        assert!(!messages.is_empty());
        *vendor.deals.fault.lock().unwrap() = Some(fault);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            vendor.deals.receive(&from, messages, 10)
        }));
        match fault {
            Fault::Error => assert!(matches!(outcome, Ok(Err(_)))),
            Fault::Panic => assert!(outcome.is_err()),
        }
        // Nothing was stored, so the document is as it was, and the next exchange brings the
        // change.
        assert_eq!(held(&vendor, id), before, "{fault:?}");
        reseller.deals.reset_peer(vendor.deals.me());
        sync(&vendor, &reseller);
        assert_ne!(held(&vendor, id), before, "{fault:?}");
    }
}

/// A vendor sharing one deal with a reseller and a third partner, both accepted and synced.
fn three_party_deal() -> (Side, Side, Side, DealId) {
    let (vendor, reseller, third, id) = shared_with_two(3);
    for s in [&reseller, &third] {
        sync(&vendor, s);
        s.deals.respond(id, true, 3).unwrap();
        sync(&vendor, s);
    }
    sync(&reseller, &third);
    (vendor, reseller, third, id)
}

/// Three partners who all know each other; the vendor shares one deal with the other two at
/// `at`, nothing synced yet.
fn shared_with_two(at: u64) -> (Side, Side, Side, DealId) {
    let vendor = side(1, "Vendor");
    let reseller = side(2, "Reseller");
    let third = side(3, "Third");
    befriend(&vendor, &reseller);
    befriend(&vendor, &third);
    befriend(&reseller, &third);
    let opp = super::testing::opportunity(&vendor.store);
    let policy = policy::Policy::from_toml("[opportunities]\nfields = [\"name\"]\n").unwrap();
    let partners: Vec<String> = [&reseller, &third]
        .iter()
        .map(|s| s.deals.me().to_string())
        .collect();
    for p in &partners {
        let record = crate::domain::partners::resolve(&vendor.store, p).unwrap();
        crate::domain::partners::set_policy(&vendor.store, &record, &policy, "test", 2).unwrap();
    }
    let id = vendor
        .deals
        .share(&opp, &partners, protocol::deal::Role::Vendor, at)
        .unwrap();
    (vendor, reseller, third, id)
}

fn status_of(side: &Side, id: DealId, node: &protocol::identity::NodeId) -> Option<String> {
    let view = side.deals.view(id, false).unwrap()?;
    view["participants"]
        .as_array()?
        .iter()
        .find(|p| p["id"] == node.as_str())
        .and_then(|p| p["status"].as_str().map(str::to_string))
}

#[test]
fn a_removed_partner_cannot_write_itself_back_through_a_relay() {
    let (vendor, reseller, third, id) = three_party_deal();
    let third_id = third.deals.me().clone();
    assert_eq!(
        status_of(&vendor, id, &third_id).as_deref(),
        Some("accepted")
    );
    vendor.deals.end_participation(&third_id, 10).unwrap();
    sync(&vendor, &reseller);
    assert_eq!(
        status_of(&vendor, id, &third_id).as_deref(),
        Some("removed")
    );
    // The third partner gets hold of its removal and writes `accepted` over it (its own engine
    // refuses to; a hostile node writes the change by hand).
    let key = NodeKey::from_secret_bytes(&[3; 32]);
    let mut doc = third.deals.lock().docs[&id].clone();
    doc.ingest(vendor.deals.lock().docs[&id].envelopes());
    let mut am = doc.automerge().fork();
    am.set_actor(key.actor_id(50));
    let list = am.get(ROOT, keys::PARTICIPANTS).unwrap().unwrap().1;
    let entry = am.get(&list, third_id.as_str()).unwrap().unwrap().1;
    let mut tx = am.transaction();
    tx.put(&entry, keys::STATUS, "accepted").unwrap();
    tx.commit();
    let forged = SignedChange::sign(&key, &am.get_last_local_change().unwrap());
    // A relay that takes it (the reseller, or any participant that has not seen the removal)
    // passes it on to the vendor: judged by its author, it is refused.
    let message = message_with(&reseller, &vendor, id, vec![forged]);
    let got = vendor
        .deals
        .receive(reseller.deals.me(), vec![message], 11)
        .unwrap();
    assert!(got.changed.is_empty());
    assert_eq!(
        status_of(&vendor, id, &third_id).as_deref(),
        Some("removed")
    );
    assert!(vendor.deals.generate(&third_id, None).unwrap().is_empty());
    let audit = crate::store::shared::audit_page(&vendor.store, 0, 100).unwrap();
    assert!(audit
        .iter()
        .any(|e| e.summary.contains("origin removed this participant")));
}

/// A message about deal `id` that a replica of it still waiting for its genesis would send.
fn unknown_deal_message(id: DealId, changes: Vec<SignedChange>) -> DocSync {
    let mut message = protocol::deal::DealDoc::replica(id)
        .generate_sync(&mut PeerSync::new())
        .expect("a replica asks for its document");
    message.changes = changes;
    message
}

/// A deal id nobody made.
fn made_up_deal(n: u32) -> DealId {
    let mut bytes = [0xA5u8; 32];
    bytes[..4].copy_from_slice(&n.to_be_bytes());
    DealId::from_bytes(bytes)
}

/// Messages from `peer` naming `count` made-up deals starting at `first`, 256 per message.
fn flood(victim: &Side, peer: &protocol::identity::NodeId, first: u32, count: u32, now_ms: u64) {
    let ids: Vec<u32> = (first..first + count).collect();
    for chunk in ids.chunks(256) {
        let messages = chunk
            .iter()
            .map(|&n| unknown_deal_message(made_up_deal(n), Vec::new()))
            .collect();
        victim.deals.receive(peer, messages, now_ms).unwrap();
    }
}

#[test]
fn one_partner_naming_thousands_of_unknown_deals_does_not_stop_another_partners_new_deal() {
    let victim = side(1, "Victim");
    let partner = side(2, "Partner");
    befriend(&victim, &partner);
    let hostile = NodeKey::from_secret_bytes(&[9; 32]).node_id().clone();
    // More unknown deals than the node ever held for all partners together before.
    flood(&victim, &hostile, 0, 4096, 10);
    let held = victim.deals.lock().unknown.len();
    assert!(held <= super::UNKNOWN_DEALS_PER_PEER_MAX, "{held}");
    // An honest partner's new deal still arrives.
    let id = share_with(&partner, &victim, &["name"]);
    sync(&partner, &victim);
    let inbox = crate::domain::inbox::list(&victim.deals, None, 20);
    assert!(
        inbox.iter().any(|i| i["deal_id"] == id.to_string()),
        "{inbox:?}"
    );
    // The hostile partner's replicas expire, and it may name new deals again (within budget).
    let later = 10 + super::UNKNOWN_DEAL_TTL_MS;
    flood(&victim, &hostile, 10_000, 16, later);
    let inner = victim.deals.lock();
    assert_eq!(inner.unknown.len(), 16);
    assert!(inner.docs.contains_key(&made_up_deal(10_000)));
    assert!(!inner.docs.contains_key(&made_up_deal(0)));
}

#[test]
fn changes_parked_in_unknown_deals_are_capped_per_partner() {
    let (vendor, reseller, id) = shared_deal();
    // Changes of a real deal, validly signed, sent as if they belonged to made-up deals: they
    // wait there for dependencies that never come.
    let key = NodeKey::from_secret_bytes(&[2; 32]);
    let me = reseller.deals.me().to_string();
    let base = reseller.deals.lock().docs[&id].automerge().fork();
    let sections = base.get(ROOT, keys::SECTIONS).unwrap().unwrap().1;
    let mut doc = base.fork();
    doc.set_actor(key.actor_id(1000));
    let mut tx = doc.transaction();
    let section = tx
        .put_object(&sections, me.as_str(), automerge::ObjType::Map)
        .unwrap();
    for k in 0..1000 {
        tx.put(&section, format!("k{k}"), "x".repeat(40)).unwrap();
    }
    tx.commit();
    let template = doc.get_last_local_change().unwrap().decode();
    let changes: Vec<SignedChange> = (0..48)
        .map(|n| {
            let mut expanded = template.clone();
            expanded.actor_id = key.actor_id(2000 + n);
            expanded.hash = None;
            SignedChange::sign(&key, &automerge::Change::from(expanded))
        })
        .collect();
    let per_deal: usize = changes.iter().map(|c| c.change_bytes().len()).sum();
    assert!(per_deal > 2 * 1024 * 1024, "{per_deal}");
    let from = reseller.deals.me().clone();
    for n in 0..8 {
        let message = unknown_deal_message(made_up_deal(n), changes.clone());
        vendor.deals.receive(&from, vec![message], 10).unwrap();
    }
    let inner = vendor.deals.lock();
    let parked: usize = inner
        .unknown
        .keys()
        .map(|d| inner.docs[d].pending_bytes())
        .sum();
    assert!(parked > 0);
    assert!(
        parked <= super::UNKNOWN_PENDING_BYTES_PER_PEER_MAX,
        "{parked} bytes parked"
    );
}

#[test]
fn an_invitee_that_writes_a_section_without_accepting_gets_no_deal() {
    let vendor = side(1, "Vendor");
    let reseller = side(2, "Reseller");
    befriend(&vendor, &reseller);
    let id = share_with(&vendor, &reseller, &["name"]);
    sync(&vendor, &reseller);
    // The reseller has only the invitation; it writes a section into the deal blindly (here
    // from the vendor's copy: a guessable object id is all it takes).
    let key = NodeKey::from_secret_bytes(&[2; 32]);
    let mut am = vendor.deals.lock().docs[&id].automerge().fork();
    am.set_actor(key.actor_id(40));
    let sections = am.get(ROOT, keys::SECTIONS).unwrap().unwrap().1;
    let mut tx = am.transaction();
    tx.put_object(
        &sections,
        reseller.deals.me().as_str(),
        automerge::ObjType::Map,
    )
    .unwrap();
    tx.commit();
    let blind = SignedChange::sign(&key, &am.get_last_local_change().unwrap());
    let message = message_with(&vendor, &reseller, id, vec![blind]);
    let got = vendor
        .deals
        .receive(reseller.deals.me(), vec![message], 5)
        .unwrap();
    assert_eq!(
        got.changed,
        vec![id],
        "the section itself is the invitee's to write"
    );
    let offered: Vec<DealId> = vendor
        .deals
        .generate(reseller.deals.me(), None)
        .unwrap()
        .iter()
        .map(|m| m.deal)
        .collect();
    assert!(!offered.contains(&id), "the deal was offered to an invitee");
    assert!(got.reply.iter().all(|m| m.deal != id));
}

#[test]
fn participants_are_shown_by_the_names_this_node_knows_them_by() {
    let vendor = side(1, "Vendor");
    let reseller = side(2, "Reseller");
    befriend(&vendor, &reseller);
    // The origin writes whatever names it likes into the deal; here a right-to-left override
    // makes "Reseller" read as someone else's name.
    let mut record = crate::store::shared::partner(&vendor.store, reseller.deals.me().as_str())
        .unwrap()
        .unwrap();
    record.name = "Bank\u{202E}ynapmoC".into();
    let txn = vendor.store.write().unwrap();
    crate::store::shared::put_partner_in(&txn, &record).unwrap();
    txn.commit().unwrap();
    let id = share_with(&vendor, &reseller, &["name"]);
    sync(&vendor, &reseller);
    reseller.deals.respond(id, true, 3).unwrap();
    sync(&vendor, &reseller);
    let names = |side: &Side| -> Vec<(String, String)> {
        side.deals.view(id, false).unwrap().unwrap()["participants"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["id"].as_str().unwrap().to_string(),
                    p["name"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let seen = names(&reseller);
    let me = reseller.deals.me().to_string();
    let origin = vendor.deals.me().to_string();
    assert!(seen.contains(&(me, "Reseller".into())), "{seen:?}");
    assert!(seen.contains(&(origin, "Vendor".into())), "{seen:?}");
    // A name this node has no record for is shown without its invisible characters.
    assert_eq!(
        super::views::shown_name("Bank\u{202E}ynapmoC"),
        "BankynapmoC"
    );
    assert_eq!(
        super::views::shown_name("\u{2066}Acme\u{200B} Corp\u{2069}\n"),
        "Acme Corp"
    );
}

/// An "invitation" to deal `id` that the node of seed `forger_seed` makes on its own, inviting
/// `invitee`, expiring at `expires` (ms).
fn forged_invitation(
    forger_seed: u8,
    id: DealId,
    invitee: &Side,
    expires: u64,
) -> (DealId, SignedChange) {
    use protocol::deal::{DealDoc, Invite, Role, SharedFields, Signer};
    let signer = Signer::new(NodeKey::from_secret_bytes(&[forger_seed; 32]), 90);
    let mut summary = SharedFields::default();
    for (key, value) in [
        (super::KIND_KEY, super::KIND_INVITATION.to_string()),
        (super::FOR_DEAL_KEY, id.to_string()),
        (super::EXPIRES_KEY, expires.to_string()),
    ] {
        summary.other.insert(key.into(), Some(value));
    }
    let invite = Invite {
        node: invitee.deals.me().clone(),
        name: invitee.deals.name().to_string(),
        role: Role::Reseller,
    };
    let (doc, change) = DealDoc::create(&signer, 2, "Forger", Role::Vendor, &[invite], &summary)
        .expect("a well-formed invitation");
    (doc.id(), change.envelope().clone())
}

#[test]
fn an_invitation_made_by_another_than_the_deals_origin_does_not_count() {
    // Goal: only a deal's origin invites to it (issue 19, low: "invitation origin must equal
    // deal origin"). Method: the vendor shares a deal with a reseller and a third partner; the
    // reseller accepts. The reseller then makes up its own "invitation" to that deal for the
    // third, and sends it first. The third, holding only invitations, cannot tell which is the
    // origin's: it accepts, and the vendor must still learn of it and send the deal; once the
    // deal is there, only the vendor's invitation counts. Before the fix the third answered
    // whichever invitation it found first: the made-up one took the answer (or refused it as
    // expired) and the vendor never sent the deal.
    // The views read the system clock: the real invitations expire a week from now.
    let now = crate::clock::Clock::system().now_ms();
    let (vendor, reseller, third, id) = shared_with_two(now);
    sync(&vendor, &reseller);
    reseller.deals.respond(id, true, now + 1).unwrap();
    sync(&vendor, &reseller);

    // Made-up invitations from the reseller, one expired and one open, before the real one.
    let mut forged = Vec::new();
    for expires in [1, now + 7 * 86_400_000] {
        let (inv, genesis) = forged_invitation(2, id, &third, expires);
        third
            .deals
            .receive(
                reseller.deals.me(),
                vec![unknown_deal_message(inv, vec![genesis])],
                now + 2,
            )
            .unwrap();
        assert!(
            third.deals.lock().docs.contains_key(&inv),
            "the third keeps it: it is named in it"
        );
        forged.push(inv);
    }
    sync(&vendor, &third);
    third
        .deals
        .respond(id, true, now + 3)
        .expect("the third accepts its invitation");
    sync(&vendor, &third);
    assert!(
        third.deals.view(id, false).unwrap().is_some(),
        "the vendor sent the deal: it learnt of the acceptance"
    );
    assert_eq!(
        status_of(&vendor, id, third.deals.me()).as_deref(),
        Some("accepted")
    );
    assert_eq!(
        status_of(&third, id, third.deals.me()).as_deref(),
        Some("accepted")
    );
    // Once the deal is held, the made-up invitations are not the deal's.
    let counted: Vec<DealId> = super::Deals::invitations_of(&third.deals.lock(), id)
        .into_iter()
        .map(|(inv, _)| inv)
        .collect();
    assert!(
        counted.iter().all(|inv| !forged.contains(inv)),
        "{counted:?}"
    );
    assert_eq!(counted.len(), 1);
}
