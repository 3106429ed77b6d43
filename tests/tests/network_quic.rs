//! Partner connections over QUIC (issue 6: "TCP + Noise + Yamux (QUIC too)"): nodes that listen
//! on nothing but QUIC become partners, share a deal, co-write it and converge; a node that
//! listens on both transports lists both in `node.json` and in its invites, and a joiner dials
//! what is there.
//!
//! Goal: QUIC carries partnerships and deals as TCP does. Method: real `cosell` processes on
//! loopback started with QUIC only or both transports; the test reads `node.json` and invites,
//! then partners, shares, co-writes and waits for the deal to agree on every node.

use cosell_e2e::{wait_for, Node, P2P_QUIC_LOOPBACK, P2P_TCP_LOOPBACK};
use serde_json::{json, Value};
use std::time::Duration;

/// How long a test waits for the network.
const WAIT: Duration = Duration::from_secs(30);

const POLICY: &str = "[opportunities]\nfields = [\"name\", \"stage\", \"account.name\"]\n";

/// The p2p addresses a serving node lists in `node.json`.
fn listed(node: &Node) -> Vec<String> {
    let info = node.node_json().expect("node.json");
    info["p2p"]
        .as_array()
        .expect("p2p is a list")
        .iter()
        .map(|a| a.as_str().expect("an address").to_string())
        .collect()
}

fn is_quic(addr: &str) -> bool {
    addr.starts_with("/ip4/127.0.0.1/udp/") && addr.contains("/quic-v1")
}

fn is_tcp(addr: &str) -> bool {
    addr.starts_with("/ip4/127.0.0.1/tcp/")
}

/// A new invite from `inviter` and the addresses its signed payload carries.
fn invite(inviter: &Node) -> (String, Vec<String>) {
    let out = inviter.cli(&["partner", "invite", "--type", "reseller"]);
    assert!(out.ok(), "invite: {}", out.stderr);
    let token = out.stdout.trim().to_string();
    let (payload_hex, _signature) = token.split_once('.').expect("payload.signature");
    let payload: Value =
        serde_json::from_slice(&hex::decode(payload_hex).expect("hex payload")).expect("JSON");
    let addrs = payload["addrs"]
        .as_array()
        .expect("addrs")
        .iter()
        .map(|a| a.as_str().expect("an address").to_string())
        .collect();
    (token, addrs)
}

fn join(joiner: &Node, token: &str) {
    let out = joiner.cli(&["partner", "join", token, "--type", "vendor"]);
    assert!(out.ok(), "join: {}", out.stderr);
}

fn deal(node: &Node, id: &str) -> Option<Value> {
    let r = node.get(&format!("/api/v1/deals/{id}"));
    (r.status == 200).then_some(r.json)
}

#[test]
fn partners_listening_only_on_quic_join_share_cowrite_and_converge() {
    // Goal: QUIC alone carries the whole partner flow. Method: two nodes listen only on
    // `/ip4/127.0.0.1/udp/0/quic-v1`; the invite names only QUIC addresses; the reseller joins,
    // the vendor shares a deal, both write a note, and both end with the same document.
    let mut vendor = Node::init("Vendor Inc");
    let mut reseller = Node::init("Reseller LLC");
    vendor.serve_on(&[P2P_QUIC_LOOPBACK]);
    reseller.serve_on(&[P2P_QUIC_LOOPBACK]);
    for node in [&vendor, &reseller] {
        let addrs = listed(node);
        assert!(!addrs.is_empty(), "node.json lists p2p addresses");
        for a in &addrs {
            assert!(is_quic(a), "only QUIC is listened on: {a}");
            assert!(a.ends_with(&format!("/p2p/{}", node.id)), "{a}");
        }
    }
    let (token, addrs) = invite(&vendor);
    assert!(
        !addrs.is_empty() && addrs.iter().all(|a| is_quic(a)),
        "{addrs:?}"
    );
    join(&reseller, &token);
    let partners = vendor.get("/api/v1/partners");
    assert!(
        partners.json["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|p| p["id"] == reseller.id.as_str()
                && p["status"] == "active"
                && p["connected"] == true),
        "{}",
        partners.text
    );

    let r = vendor.request(
        "PUT",
        &format!("/api/v1/partners/{}/policy", reseller.id),
        Some("application/toml"),
        Some(POLICY.as_bytes()),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let account = vendor.post(
        "/api/v1/accounts",
        &json!({"name": "Acme", "domain": "acme.example"}),
    );
    assert!(account.status < 300, "{}", account.text);
    let opp = vendor.post(
        "/api/v1/opportunities",
        &json!({"account_id": account.json["id"], "name": "Acme over QUIC", "stage": "qualified"}),
    );
    assert!(opp.status < 300, "{}", opp.text);
    let shared = vendor.post(
        "/api/v1/deals",
        &json!({"opportunity_id": opp.json["id"], "partners": [reseller.id]}),
    );
    assert_eq!(shared.status, 201, "{}", shared.text);
    let id = shared.json["id"].as_str().expect("deal id").to_string();
    wait_for(WAIT, || {
        let r = reseller.post(&format!("/api/v1/deals/{id}/accept"), &json!({}));
        (r.status == 200).then_some(())
    })
    .expect("the invitation reached the reseller over QUIC");
    let on_reseller = wait_for(WAIT, || deal(&reseller, &id)).expect("the deal on the reseller");
    assert_eq!(on_reseller["fields"]["name"], "Acme over QUIC");

    for (node, note) in [(&reseller, "reseller note"), (&vendor, "vendor note")] {
        let r = node.request(
            "PATCH",
            &format!("/api/v1/deals/{id}"),
            Some("application/json"),
            Some(json!({ "note": note }).to_string().as_bytes()),
        );
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let key = |v: &Value| json!([v["fields"], v["sections"], v["participants"]]);
    let both = wait_for(WAIT, || {
        let (a, b) = (deal(&vendor, &id)?, deal(&reseller, &id)?);
        let done = a["sections"].get(&reseller.id).is_some()
            && a["sections"].get(&vendor.id).is_some()
            && key(&a) == key(&b);
        done.then_some(a)
    })
    .expect("both nodes converge over QUIC");
    assert_eq!(
        both["sections"][&reseller.id]["notes"][0], "reseller note",
        "{both}"
    );
    assert_eq!(
        both["sections"][&vendor.id]["notes"][0], "vendor note",
        "{both}"
    );
}

#[test]
fn a_node_on_tcp_and_quic_lists_and_invites_with_both_and_a_tcp_only_joiner_gets_in() {
    // Goal: several listen addresses of both kinds travel everywhere they should. Method: the
    // vendor listens on TCP and QUIC; node.json and the invite carry both kinds; a joiner that
    // listens only on TCP dials what the invite names and becomes a partner.
    let mut vendor = Node::init("Vendor Inc");
    let mut reseller = Node::init("Reseller LLC");
    vendor.serve_on(&[P2P_TCP_LOOPBACK, P2P_QUIC_LOOPBACK]);
    reseller.serve_on(&[P2P_TCP_LOOPBACK]);
    let addrs = listed(&vendor);
    assert!(addrs.iter().any(|a| is_tcp(a)), "{addrs:?}");
    assert!(addrs.iter().any(|a| is_quic(a)), "{addrs:?}");
    let node = vendor.get("/api/v1/node");
    assert_eq!(node.json["p2p"].as_array().map(Vec::len), Some(addrs.len()));
    let (token, invited) = invite(&vendor);
    assert!(invited.iter().any(|a| is_tcp(a)), "{invited:?}");
    assert!(invited.iter().any(|a| is_quic(a)), "{invited:?}");
    join(&reseller, &token);
    let partners = reseller.get("/api/v1/partners");
    assert!(
        partners.json["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|p| p["id"] == vendor.id.as_str() && p["status"] == "active"),
        "{}",
        partners.text
    );
}
