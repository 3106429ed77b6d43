//! Market development funds between real nodes: a full cycle — allocation, proposal, a partner
//! trying to approve its own request, approval for less, a claim with a proof attachment,
//! reimbursement — with exact balances and webhook events on the vendor; and the leak canary:
//! a third node, partner of both, never holds any of it.
//!
//! Goal: an MDF request is one signed document between its partner and its vendor only. Method:
//! three `cosell` processes on loopback; every step through the CLI as users run it; both
//! sides' API views, the vendor's webhook events and the third node's API and (decrypted)
//! store are read after the steps.

use cosell_e2e::{expect_event, files_with, hook, partner, stored_changes_hold, wait, Node};
use serde_json::Value;

const CANARY_ACTIVITY: &str = "CANARY-MDF-ACTIVITY partner summit";
const CANARY_PROOF: &str = "CANARY-MDF-PROOF-BYTES";

fn status(node: &Node, id: &str) -> Option<Value> {
    let r = node.get(&format!("/api/v1/mdf/{id}"));
    (r.status == 200).then(|| r.json["status"].clone())
}

fn wait_status(node: &Node, id: &str, want: &str) {
    wait(&format!("{} to see {want}", node.name), || {
        (status(node, id)? == want).then_some(())
    });
}

fn cli_ok(node: &Node, args: &[&str]) -> String {
    let out = node.cli(args);
    assert!(out.ok(), "{args:?}: {}", out.stderr);
    out.stdout
}

#[test]
fn a_full_mdf_cycle_with_a_proof_attachment_stays_between_partner_and_vendor() {
    let mut vendor = Node::init("Vendor Co");
    let mut reseller = Node::init("Reseller Co");
    let mut other = Node::init("Other SI");
    vendor.serve();
    reseller.serve();
    other.serve();
    partner(&vendor, &reseller, "reseller", "vendor");
    partner(&vendor, &other, "si", "vendor");
    partner(&reseller, &other, "si", "reseller");
    let events = hook(&vendor, &["mdf.*"]);

    cli_ok(
        &vendor,
        &[
            "mdf",
            "allocate",
            &reseller.id,
            "--period",
            "2026-Q3",
            "--amount",
            "1500",
            "--currency",
            "EUR",
        ],
    );
    let id = cli_ok(
        &reseller,
        &[
            "mdf",
            "propose",
            "--vendor",
            &vendor.id,
            "--activity",
            CANARY_ACTIVITY,
            "--type",
            "event",
            "--amount",
            "1000.50",
            "--currency",
            "EUR",
            "--start",
            "2026-07-01",
            "--end",
            "2026-07-02",
            "--expected-leads",
            "40",
        ],
    )
    .trim()
    .to_string();
    assert_eq!(id.len(), 64, "an id: {id}");
    wait_status(&vendor, &id, "proposed");
    let proposed = expect_event(&events, "mdf.proposed");
    assert_eq!(proposed["data"]["id"], id.as_str(), "{proposed}");

    // The partner cannot approve its own request: refused by its own node with the rule.
    let own = reseller.cli(&["mdf", "approve", &id]);
    assert!(!own.ok());
    assert!(own.stderr.contains("only its vendor"), "{}", own.stderr);
    // More than requested is refused; less is fine.
    assert!(!vendor
        .cli(&["mdf", "approve", &id, "--amount", "1000.51"])
        .ok());
    cli_ok(&vendor, &["mdf", "approve", &id, "--amount", "900.25"]);
    wait_status(&reseller, &id, "approved");

    let proof_path = reseller.scratch().join("attendance.pdf");
    let mut proof = format!("%PDF-1.4 {CANARY_PROOF} ").into_bytes();
    proof.extend((0..4000u32).map(|i| (i % 251) as u8));
    std::fs::write(&proof_path, &proof).unwrap();
    let proof_arg = proof_path.to_string_lossy().to_string();
    cli_ok(
        &reseller,
        &[
            "mdf",
            "claim",
            &id,
            "--proof",
            &proof_arg,
            "--results",
            "38 leads",
        ],
    );
    wait_status(&vendor, &id, "claimed");
    let saved = vendor.scratch().join("proof-copy.pdf");
    cli_ok(&vendor, &["mdf", "proof", &id, &saved.to_string_lossy()]);
    assert_eq!(std::fs::read(&saved).unwrap(), proof);

    // Reimbursing more than approved is refused; the approved amount is fine.
    assert!(!vendor
        .cli(&[
            "mdf",
            "reimburse",
            &id,
            "--amount",
            "1000",
            "--reference",
            "PAY-1"
        ])
        .ok());
    cli_ok(
        &vendor,
        &[
            "mdf",
            "reimburse",
            &id,
            "--amount",
            "900.25",
            "--reference",
            "PAY-1",
        ],
    );
    wait_status(&reseller, &id, "reimbursed");
    expect_event(&events, "mdf.reimbursed");

    let shown: Value =
        serde_json::from_str(&cli_ok(&reseller, &["mdf", "show", &id, "--json"])).unwrap();
    assert_eq!(shown["approved_amount"], "900.25");
    assert_eq!(shown["reimbursed_amount"], "900.25");
    assert_eq!(shown["proof"]["bytes"], proof.len());
    let steps: Vec<&str> = shown["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h["step"].as_str())
        .collect();
    assert_eq!(steps, ["propose", "approve", "claim", "reimburse"]);
    let balances: Value =
        serde_json::from_str(&cli_ok(&vendor, &["mdf", "balances", "--json"])).unwrap();
    let b = &balances["items"][0];
    assert_eq!(
        (
            b["allocated"].as_str(),
            b["committed"].as_str(),
            b["available"].as_str()
        ),
        (Some("1500"), Some("900.25"), Some("599.75"))
    );

    // The leak canary: the third node has none of it, in its API or anywhere on disk.
    let listed = other.get("/api/v1/mdf");
    assert_eq!(
        listed.json["items"].as_array().map(Vec::len),
        Some(0),
        "{}",
        listed.text
    );
    other.stop();
    for canary in [CANARY_ACTIVITY, CANARY_PROOF] {
        assert!(
            files_with(&other.dir(), canary).is_empty(),
            "{canary} on the third node"
        );
        assert!(
            !stored_changes_hold(&other, canary),
            "{canary} in the third node's store"
        );
    }
    // The vendor holds the proof (encrypted at rest: not in plain files).
    vendor.stop();
    assert!(files_with(&vendor.dir(), CANARY_PROOF).is_empty());
    assert!(stored_changes_hold(&vendor, CANARY_PROOF));
}
