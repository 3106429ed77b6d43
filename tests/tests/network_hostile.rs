//! A hostile partner: a peer with a valid partnership but its own code sends a forged
//! signature, a change to another participant's section, a frame over the size limit and
//! garbage. Each is refused and logged in the audit with the peer and the reason; the honest
//! nodes keep working (ARCHITECTURE.md invariants 2 and 3; issue 6 proof "hostile peer").

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ObjType, ReadDoc, ROOT};
use cosell::domain::deals::Deals;
use cosell::domain::partners::{join_request, read_token};
use cosell::domain::peers::testing::answer_sync;
use cosell::net::codec::{frame, kind, FRAME_BYTES_MAX};
use cosell::net::testing::{framed, Answer, Multiaddr, PeerId, RawPeer};
use cosell::store::Store;
use cosell_e2e::{wait_for, Node};
use protocol::deal::{DealDoc, DealId, SectionUpdate, Signer};
use protocol::envelope::SignedChange;
use protocol::identity::{NodeId, NodeKey};
use protocol::sync::PeerSync;
use protocol::wire::WireMessage;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// How long a test waits for the network.
const WAIT: Duration = Duration::from_secs(30);
/// The hostile node's key.
const HOSTILE_SECRET: [u8; 32] = [0x77; 32];

const POLICY: &str = "[opportunities]\nfields = [\"name\", \"stage\", \"account.name\"]\n";

/// The hostile peer: a raw sender plus an honest deal engine that answers the vendor's pushes,
/// so it holds the deal like any participant before it misbehaves.
struct Hostile {
    _dir: tempfile::TempDir,
    store: Arc<Store>,
    deals: Arc<Deals>,
    raw: RawPeer,
    id: NodeId,
}

impl Hostile {
    fn start() -> Hostile {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Arc::new(Store::open(&dir.path().join("db")).expect("store"));
        cosell::store::ensure_tables(&store).expect("tables");
        let deals = Arc::new(
            Deals::open(
                store.clone(),
                HOSTILE_SECRET,
                1,
                "Hostile Co",
                cosell::clock::Clock::system(),
            )
            .expect("deals"),
        );
        // Accept invitations at once, so the deal itself is sent to this peer.
        deals.set_auto_accept(true);
        let (engine, db) = (deals.clone(), store.clone());
        let answer: Answer = Arc::new(move |peer: PeerId, request: Vec<u8>| {
            let node = NodeId::parse(&peer.to_base58()).expect("peer id");
            match request.split_first() {
                Some((&kind::SYNC, body)) => {
                    answer_sync(&engine, &db, &node, body, cosell::clock::now_ms())
                }
                _ => frame(kind::REFUSED, b"no"),
            }
        });
        let raw = RawPeer::start(HOSTILE_SECRET, answer).expect("raw peer");
        let id = NodeKey::from_secret_bytes(&HOSTILE_SECRET)
            .node_id()
            .clone();
        Hostile {
            _dir: dir,
            store,
            deals,
            raw,
            id,
        }
    }

    /// Sends raw bytes to `node`; the answer's frame body or why it failed.
    fn send(&self, node: &Node, bytes: Vec<u8>) -> Result<Vec<u8>, String> {
        send_raw(&self.raw, node, bytes)
    }

    /// Sends one sync request carrying `changes` for `deal` (with a valid Automerge sync
    /// message, so only the changes are at fault).
    fn send_changes(
        &self,
        node: &Node,
        doc: &DealDoc,
        changes: Vec<SignedChange>,
    ) -> Result<Vec<u8>, String> {
        let mut message = doc
            .generate_sync(&mut PeerSync::new())
            .expect("a sync message");
        message.changes = changes;
        let body = frame(kind::SYNC, &WireMessage::Sync(vec![message]).encode());
        self.send(node, framed(&body))
    }

    /// This peer's copy of a deal, rebuilt from the changes its engine stored.
    fn doc(&self, deal: DealId) -> DealDoc {
        let envelopes = cosell::store::shared::deal_changes(&self.store, &deal.to_string())
            .expect("stored changes")
            .iter()
            .map(|b| SignedChange::decode(b).expect("stored envelope"))
            .collect();
        let mut doc = DealDoc::replica(deal);
        let out = doc.ingest(envelopes);
        assert!(out.rejected.is_empty());
        doc
    }
}

/// Sends raw bytes from `raw` to `node` (at its first p2p address, TCP here); the answer's
/// frame body or why it failed.
fn send_raw(raw: &RawPeer, node: &Node, bytes: Vec<u8>) -> Result<Vec<u8>, String> {
    let info = node.node_json().expect("node.json");
    let addr = info["p2p"][0].as_str().expect("a p2p address");
    let addr: Multiaddr = cosell::net::parse_addrs(&[addr.to_string()])
        .pop()
        .expect("a multiaddr");
    let peer: PeerId = node.id.parse().expect("peer id");
    raw.request(peer, addr, bytes).map_err(|e| e.to_string())
}

/// A join request frame for a new invite of `inviter`, proving the secret for node id `joiner`.
/// Returns the frame, the token and the request body.
fn join_frame(inviter: &Node, joiner: &NodeId, name: &str) -> (Vec<u8>, String, Vec<u8>) {
    let out = inviter.cli(&["partner", "invite", "--type", "msp"]);
    assert!(out.ok(), "invite: {}", out.stderr);
    let token = out.stdout.trim().to_string();
    let payload = read_token(&token, cosell::clock::now_ms()).expect("a valid token");
    let request = join_request(&payload, joiner.as_str(), name, vec![]).expect("a join request");
    let body = serde_json::to_vec(&request).expect("json");
    (framed(&frame(kind::JOIN, &body)), token, body)
}

/// The inviter's answer to a join: `None` when accepted, else its sentence.
fn join_error(answer: &[u8]) -> Option<String> {
    assert_eq!(
        answer.first(),
        Some(&kind::JOIN),
        "{}",
        String::from_utf8_lossy(answer)
    );
    let joined: Value = serde_json::from_slice(&answer[1..]).expect("join answer");
    joined["error"].as_str().map(str::to_string)
}

fn partner(inviter: &Node, joiner: &Node, joiner_type: &str) {
    let out = inviter.cli(&["partner", "invite", "--type", joiner_type]);
    assert!(out.ok(), "invite: {}", out.stderr);
    let out = joiner.cli(&["partner", "join", out.stdout.trim(), "--type", "vendor"]);
    assert!(out.ok(), "join: {}", out.stderr);
}

fn put_policy(vendor: &Node, partner: &str) {
    let r = vendor.request(
        "PUT",
        &format!("/api/v1/partners/{partner}/policy"),
        Some("application/toml"),
        Some(POLICY.as_bytes()),
    );
    assert_eq!(r.status, 200, "{}", r.text);
}

fn deal(node: &Node, id: &str) -> Option<Value> {
    let r = node.get(&format!("/api/v1/deals/{id}"));
    (r.status == 200).then_some(r.json)
}

/// The vendor's audit entries about rejected input from `peer`.
fn rejections(vendor: &Node, peer: &NodeId) -> Vec<Value> {
    let r = vendor.get("/api/v1/audit?kind=rejected&limit=100");
    assert_eq!(r.status, 200, "{}", r.text);
    r.json["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|e| e["peer"] == peer.as_str())
        .cloned()
        .collect()
}

/// Waits until the vendor's audit holds a rejection from `peer` whose text contains `needle`.
fn check_audited(vendor: &Node, peer: &NodeId, needle: &str) {
    wait_for(WAIT, || {
        rejections(vendor, peer)
            .iter()
            .any(|e| e.to_string().contains(needle))
            .then_some(())
    })
    .unwrap_or_else(|| {
        panic!(
            "no audited rejection mentioning {needle:?}; rejections: {:#?}",
            rejections(vendor, peer)
        )
    });
}

#[test]
fn a_hostile_partners_forged_unauthorized_oversized_and_garbage_messages_are_refused_and_audited() {
    // Goal: invariant 2 against a peer that runs its own code. Method: a real vendor and
    // reseller; a raw peer joins the vendor with a valid invite and receives a deal shared with
    // it and the reseller; it then sends four bad messages; the vendor's audit names the peer and
    // the reason for each; neither honest node applies anything of it; later honest edits sync.
    let mut vendor = Node::init("Vendor Inc");
    let mut reseller = Node::init("Reseller LLC");
    vendor.serve();
    reseller.serve();
    partner(&vendor, &reseller, "reseller");
    let hostile = Hostile::start();

    // The hostile peer joins with a valid invite, as any partner would.
    let (join, _, _) = join_frame(&vendor, &hostile.id, "Hostile Co");
    let answer = hostile.send(&vendor, join).expect("the join is answered");
    assert_eq!(join_error(&answer), None);

    // The vendor shares an opportunity with both partners.
    put_policy(&vendor, &reseller.id);
    put_policy(&vendor, hostile.id.as_str());
    let account = vendor.post(
        "/api/v1/accounts",
        &json!({"name": "Acme", "domain": "acme.example"}),
    );
    assert!(account.status < 300, "{}", account.text);
    let opp = vendor.post(
        "/api/v1/opportunities",
        &json!({"account_id": account.json["id"], "name": "Acme rollout", "stage": "qualified"}),
    );
    assert!(opp.status < 300, "{}", opp.text);
    let shared = vendor.post(
        "/api/v1/deals",
        &json!({"opportunity_id": opp.json["id"], "partners": [reseller.id, hostile.id.as_str()]}),
    );
    assert_eq!(shared.status, 201, "{}", shared.text);
    let deal_hex = shared.json["id"].as_str().expect("deal id").to_string();
    let deal_id = DealId::parse(&deal_hex).expect("deal id");
    wait_for(WAIT, || hostile.deals.view(deal_id, false).ok().flatten())
        .expect("the hostile peer got the deal");
    wait_for(WAIT, || {
        let r = reseller.post(&format!("/api/v1/deals/{deal_hex}/accept"), &json!({}));
        (r.status == 200).then_some(())
    })
    .expect("the reseller got the invitation");
    wait_for(WAIT, || deal(&reseller, &deal_hex)).expect("the reseller got the deal");
    let r = reseller.request(
        "PATCH",
        &format!("/api/v1/deals/{deal_hex}"),
        Some("application/json"),
        Some(br#"{"note": "reseller's own note"}"#),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let vendor_before = wait_for(WAIT, || {
        deal(&vendor, &deal_hex).filter(|d| d["sections"].get(&reseller.id).is_some())
    })
    .expect("the reseller's note reached the vendor");
    // Let the hostile engine catch up on the reseller's section (relayed by the vendor).
    wait_for(WAIT, || {
        hostile
            .deals
            .view(deal_id, false)
            .ok()
            .flatten()
            .filter(|d| d["sections"].get(&reseller.id).is_some())
    })
    .expect("the reseller's section reached the hostile peer");
    let doc = hostile.doc(deal_id);
    let key = NodeKey::from_secret_bytes(&HOSTILE_SECRET);

    // 1. A change with a forged signature (its own section, one bit of the signature flipped).
    let mut fork = hostile.doc(deal_id);
    let good = fork
        .update_section(
            &Signer::new(key.clone(), 9),
            1,
            &SectionUpdate {
                add_notes: vec!["FORGED-SIGNATURE".into()],
                ..SectionUpdate::default()
            },
        )
        .expect("a section change");
    let mut sig = *good.envelope().signature();
    sig[7] ^= 1;
    let forged = SignedChange::from_parts(
        good.envelope().change_bytes().to_vec(),
        good.envelope().author().clone(),
        sig,
    );
    let _ = hostile.send_changes(&vendor, &doc, vec![forged]);
    check_audited(&vendor, &hostile.id, "signature does not verify");

    // 2. A validly signed change that writes the reseller's section.
    let sections = doc
        .automerge()
        .get(&ROOT, "sections")
        .expect("read")
        .expect("sections")
        .1;
    let reseller_section = doc
        .automerge()
        .get(&sections, reseller.id.as_str())
        .expect("read")
        .expect("the reseller's section")
        .1;
    let mut am = doc.automerge().fork();
    am.set_actor(key.actor_id(10));
    let mut tx = am.transaction();
    tx.put(&reseller_section, "next_step", "HIJACKED-BY-HOSTILE")
        .expect("put");
    tx.put_object(&sections, "extra", ObjType::Map)
        .expect("put");
    tx.commit_with(CommitOptions::default().with_time(2));
    let change = am.get_last_local_change().expect("a change");
    let unauthorized = SignedChange::sign(&key, &change);
    let _ = hostile.send_changes(&vendor, &doc, vec![unauthorized]);
    check_audited(&vendor, &hostile.id, "not allowed to write");

    // 3. A frame that says it is larger than the limit.
    let mut oversized = ((FRAME_BYTES_MAX + 1) as u32).to_be_bytes().to_vec();
    oversized.extend_from_slice(&[0u8; 4096]);
    // Refused unread (or the stream is reset while the rest is still being written).
    if let Ok(answer) = hostile.send(&vendor, oversized) {
        assert_eq!(
            answer[0],
            kind::REFUSED,
            "{}",
            String::from_utf8_lossy(&answer)
        );
    }
    check_audited(&vendor, &hostile.id, "over the");

    // 4. Garbage: a sync frame whose body is not a wire message, and an unknown frame kind.
    let mut garbage = vec![kind::SYNC];
    garbage.extend((0..2048u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    let answer = hostile
        .send(&vendor, framed(&garbage))
        .expect("garbage is answered");
    assert_eq!(answer[0], kind::REFUSED);
    let answer = hostile
        .send(&vendor, framed(&[0x7f, 1, 2, 3]))
        .expect("an unknown kind is answered");
    assert_eq!(answer[0], kind::REFUSED);
    check_audited(&vendor, &hostile.id, "unknown request kind");
    let audited = rejections(&vendor, &hostile.id);
    assert!(audited.len() >= 5, "{audited:#?}");

    // Nothing of it was applied, on the vendor or (relayed) on the reseller.
    let vendor_after = deal(&vendor, &deal_hex).expect("the deal");
    assert_eq!(vendor_after["changes"], vendor_before["changes"]);
    assert_eq!(vendor_after["sections"], vendor_before["sections"]);
    for node in [&vendor, &reseller] {
        let text = deal(node, &deal_hex).expect("the deal").to_string();
        assert!(!text.contains("FORGED-SIGNATURE"));
        assert!(!text.contains("HIJACKED-BY-HOSTILE"));
    }

    // The honest nodes keep working: edits on both sides still sync.
    let r = reseller.request(
        "PATCH",
        &format!("/api/v1/deals/{deal_hex}"),
        Some("application/json"),
        Some(br#"{"note": "after the attack"}"#),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let r = vendor.request(
        "PATCH",
        &format!("/api/v1/deals/{deal_hex}"),
        Some("application/json"),
        Some(br#"{"next_step": "carry on"}"#),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    for node in [&vendor, &reseller] {
        wait_for(WAIT, || {
            deal(node, &deal_hex).filter(|d| {
                d["sections"][&reseller.id]["notes"]
                    .as_array()
                    .is_some_and(|n| n.len() == 2)
                    && d["sections"][&vendor.id]["next_step"] == "carry on"
            })
        })
        .unwrap_or_else(|| panic!("honest edits did not converge on {}", node.name));
    }
    vendor.stop();
    reseller.stop();
}

#[test]
fn a_join_proof_replayed_from_another_node_id_is_refused_and_the_invite_stays_open() {
    // Goal: `partner join` proves the invite secret for the connection's own node id and never
    // sends the secret, so a captured join request is worthless to any other node. Method: a
    // real vendor issues an invite; a join request is made for node A; raw peer B sends those
    // exact bytes and is refused (audited, not a partner); the bytes hold neither the secret nor
    // the token; then A sends the same bytes and becomes a partner, and a second use is refused
    // as used.
    const A_SECRET: [u8; 32] = [0x66; 32];
    const B_SECRET: [u8; 32] = [0x55; 32];
    let mut vendor = Node::init("Vendor Inc");
    vendor.serve();
    let a = NodeKey::from_secret_bytes(&A_SECRET).node_id().clone();
    let b = NodeKey::from_secret_bytes(&B_SECRET).node_id().clone();
    let (join, token, body) = join_frame(&vendor, &a, "Joiner A");
    let payload = read_token(&token, cosell::clock::now_ms()).expect("a valid token");
    let text = String::from_utf8_lossy(&body);
    assert!(!text.contains(&payload.secret), "{text}");
    let (payload_hex, _) = token.split_once('.').expect("payload.signature");
    assert!(!text.contains(payload_hex), "{text}");
    let refuse: Answer = Arc::new(|_, _| frame(kind::REFUSED, b"no"));

    let raw_b = RawPeer::start(B_SECRET, refuse.clone()).expect("raw peer B");
    let answer = send_raw(&raw_b, &vendor, join.clone()).expect("the join is answered");
    let why = join_error(&answer).expect("B's replay is refused");
    assert!(why.contains("join proof does not match"), "{why}");
    let audit = vendor.get("/api/v1/audit?kind=partner&limit=100");
    assert_eq!(audit.status, 200, "{}", audit.text);
    assert!(
        audit.text.contains(&format!("refused a join from {b}")),
        "{}",
        audit.text
    );
    let partners = vendor.get("/api/v1/partners");
    assert!(!partners.text.contains(b.as_str()), "{}", partners.text);

    let raw_a = RawPeer::start(A_SECRET, refuse).expect("raw peer A");
    let answer = send_raw(&raw_a, &vendor, join.clone()).expect("the join is answered");
    assert_eq!(join_error(&answer), None, "A's own proof is accepted");
    let partners = vendor.get("/api/v1/partners");
    assert!(
        partners.json["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|p| p["id"] == a.as_str() && p["status"] == "active"),
        "{}",
        partners.text
    );
    let answer = send_raw(&raw_a, &vendor, join).expect("the join is answered");
    let why = join_error(&answer).expect("a second use is refused");
    assert!(why.contains("already been used"), "{why}");
    vendor.stop();
}
