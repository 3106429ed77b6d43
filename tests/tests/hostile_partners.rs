//! Hostile partners end to end (issue 19): what a node's owner can do about what a dishonest
//! partner could learn. The exploits against the deal engine itself run in the node's unit tests
//! (`domain::deals::hostile_tests`) and `protocol/tests/hostile_*.rs`.

use cosell_e2e::{partner, put_policy, Node};
use serde_json::Value;

fn import(node: &Node, rows: &[(&str, &str)], status: &str) {
    let mut csv = String::from("external_id,name,domain,industry,country,status,owner\n");
    for (i, (name, domain)) in rows.iter().enumerate() {
        csv.push_str(&format!(
            "x-{i},{name},{domain},Software,Germany,{status},\n"
        ));
    }
    let r = node.post_csv("/api/v1/import/accounts", csv.as_bytes());
    assert_eq!(r.status, 200, "import: {}", r.text);
}

fn map(node: &Node, partner: &Node) -> Value {
    let r = node.post(
        &format!("/api/v1/partners/{}/map", partner.id),
        &Value::Null,
    );
    assert_eq!(r.status, 200, "map: {}", r.text);
    r.json
}

fn customers_by_prospects(matrix: &Value) -> &Value {
    matrix["cells"]
        .as_array()
        .expect("cells")
        .iter()
        .find(|c| c["mine"] == "customers" && c["theirs"] == "prospects")
        .unwrap_or_else(|| panic!("no customers x prospects cell in {matrix}"))
}

#[test]
fn a_policy_that_refuses_counts_maps_those_cells_as_hidden_and_the_cli_warns_about_counts() {
    let mut vendor = Node::init("Vendor Co");
    let mut reseller = Node::init("Reseller Co");
    vendor.serve();
    reseller.serve();
    import(
        &vendor,
        &[("A", "shared-1.example"), ("B", "shared-2.example")],
        "customer",
    );
    import(
        &reseller,
        &[("A", "shared-1.example"), ("C", "own.example")],
        "prospect",
    );
    partner(&vendor, &reseller, "reseller", "vendor");
    let at = |counts: &str| {
        format!("version = 1\n\n[accounts]\nsharing = \"counts\"\ncounts = \"{counts}\"\n")
    };
    put_policy(&reseller, &vendor.id, &at("allowed"));

    // At counts the matrix says how many, and the command line says what counts is worth
    // against a dishonest partner.
    put_policy(&vendor, &reseller.id, &at("allowed"));
    let cell = customers_by_prospects(&map(&vendor, &reseller)).clone();
    assert_eq!(cell["level"], "counts", "{cell}");
    assert_eq!(cell["count"], 1, "{cell}");
    let out = vendor.cli(&["map", "Reseller Co", "--show"]);
    assert!(out.ok(), "{}", out.stderr);
    assert!(
        out.stdout
            .contains("against a dishonest partner, counts reveals which accounts overlap"),
        "{}",
        out.stdout
    );

    // The vendor's policy refuses counts with this partner: the cell is hidden for both sides.
    put_policy(&vendor, &reseller.id, &at("refused"));
    let policy = vendor.get(&format!("/api/v1/partners/{}/policy", reseller.id));
    assert!(policy.text.contains("refused"), "{}", policy.text);
    let cell = customers_by_prospects(&map(&vendor, &reseller)).clone();
    assert_eq!(cell["level"], "hidden", "{cell}");
    assert_eq!(cell["count"], Value::Null, "{cell}");
    let theirs = map(&reseller, &vendor);
    let mirrored = theirs["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["mine"] == "prospects" && c["theirs"] == "customers")
        .unwrap()
        .clone();
    assert_eq!(mirrored["level"], "hidden", "{mirrored}");
    assert_eq!(mirrored["count"], Value::Null, "{mirrored}");
    let out = vendor.cli(&["map", "Reseller Co", "--show"]);
    assert!(out.ok(), "{}", out.stderr);
    assert!(!out.stdout.contains("dishonest"), "{}", out.stdout);
}

/// A stranger that joins over and over with a proof made for another node id: the first
/// refusal is audited in full, the rest are counted (one entry once the window passes), and
/// past the per-address limit its joins are refused unread.
#[test]
fn a_stranger_flooding_join_attempts_gets_one_audit_entry_and_then_a_rate_limit() {
    use cosell::domain::audit::JOIN_ATTEMPTS_PER_WINDOW_MAX;
    use cosell::domain::partners::{join_request, read_token};
    use cosell::net::codec::{frame, kind};
    use cosell::net::testing::{framed, Answer, Multiaddr, PeerId, RawPeer};
    use std::sync::Arc;

    let mut vendor = Node::init("Vendor Co");
    vendor.serve();
    let out = vendor.cli(&["partner", "invite", "--type", "msp"]);
    assert!(out.ok(), "invite: {}", out.stderr);
    let payload = read_token(out.stdout.trim(), cosell::clock::now_ms()).expect("a token");
    // A proof for another node id: refused as not matching the invite.
    let other = protocol::identity::NodeKey::from_secret_bytes(&[0x42; 32])
        .node_id()
        .clone();
    let request = join_request(&payload, other.as_str(), "Flood Co", vec![]).expect("request");
    let join = framed(&frame(kind::JOIN, &serde_json::to_vec(&request).unwrap()));
    let refuse: Answer = Arc::new(|_, _| frame(kind::REFUSED, b"no"));
    let raw = RawPeer::start([0x66; 32], refuse).expect("raw peer");
    let info = vendor.node_json().expect("node.json");
    let addr: Multiaddr = cosell::net::parse_addrs(&[info["p2p"][0].as_str().unwrap().to_string()])
        .pop()
        .unwrap();
    let peer: PeerId = vendor.id.parse().unwrap();
    let mut errors = Vec::new();
    for _ in 0..(JOIN_ATTEMPTS_PER_WINDOW_MAX + 3) {
        let answer = raw
            .request(peer, addr.clone(), join.clone())
            .expect("answered");
        let joined: Value = serde_json::from_slice(&answer[1..]).expect("a join answer");
        errors.push(joined["error"].as_str().unwrap_or("").to_string());
    }
    assert!(errors[0].contains("does not match"), "{errors:?}");
    assert!(
        errors
            .last()
            .unwrap()
            .contains("too many join attempts from 127.0.0.1"),
        "{errors:?}"
    );
    let audit = vendor.get("/api/v1/audit?limit=1000").json;
    let refused: Vec<&Value> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["details"]["event"] == "join_refused")
        .collect();
    assert_eq!(refused.len(), 1, "{refused:?}");
}
