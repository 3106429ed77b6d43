//! Announcements and each partner's own standing over the network (issue 28): a vendor with two
//! partners in two tiers announces to a tier and to a region; each partner gets only what its
//! audience selects — the one offline at the time when it reconnects —, the partner's read
//! receipt reaches the vendor, and webhooks tell of both. Each partner sees its own tier and what
//! the next tier lacks, signed by the vendor, and nothing of the other partner's standing.
//!
//! Method: three `cosell` processes on loopback; the vendor's program, certification, regions
//! and announcements through the CLI as users run them; the partners' API, CLI, webhooks and
//! (stopped) stores read after.

use cosell_e2e::{hook, partner, stored_changes_hold, wait, write_file, Hook, Node, SYNC_WAIT};
use serde_json::Value;
use std::sync::mpsc::Receiver;

const PROGRAM: &str = r#"
version = 1
currency = "USD"

[[tiers]]
name = "registered"

[[tiers]]
name = "silver"
requires = { certified_people = 1 }
benefits = { discount = "10% off list" }
"#;

fn cli_ok(node: &Node, args: &[&str]) -> String {
    let out = node.cli(args);
    assert!(out.ok(), "cosell {args:?}: {}", out.stderr);
    out.stdout
}

fn received(node: &Node) -> Vec<Value> {
    let r = node.get("/api/v1/announcements?direction=received");
    assert_eq!(r.status, 200, "{}", r.text);
    r.json["items"].as_array().cloned().unwrap_or_default()
}

fn titles(items: &[Value]) -> Vec<String> {
    let mut t: Vec<String> = items
        .iter()
        .filter_map(|a| a["title"].as_str().map(str::to_string))
        .collect();
    t.sort();
    t
}

fn expect_event(rx: &Receiver<Hook>, kind: &str) -> Value {
    let deadline = std::time::Instant::now() + SYNC_WAIT;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let hook = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no {kind} event arrived"));
        if hook.event() == kind {
            return hook.json();
        }
    }
}

#[test]
fn announcements_reach_only_their_audience_and_partners_see_only_their_own_standing() {
    let mut vendor = Node::init("Vendor Co");
    let mut alpha = Node::init("Alpha Co");
    let mut beta = Node::init("Beta Co");
    vendor.serve();
    alpha.serve();
    beta.serve();
    partner(&vendor, &alpha, "reseller", "vendor");
    partner(&vendor, &beta, "distributor", "vendor");
    let alpha_events = hook(&alpha, &["announcement.*"]);
    let vendor_events = hook(&vendor, &["announcement.*"]);

    // Two tiers: Alpha has a certified person (silver), Beta none (registered).
    let scratch = vendor.scratch();
    let program = write_file(&scratch, "program.toml", PROGRAM.as_bytes());
    cli_ok(
        &vendor,
        &["program", "set", program.to_str().expect("path")],
    );
    let cert = scratch.join("ann.json");
    cli_ok(
        &vendor,
        &[
            "attest",
            "issue",
            "--subject",
            "Ann Lee",
            "--certification",
            "Architect",
            "--level",
            "pro",
            "--expires",
            "2099-12-31",
            "--partner",
            "Alpha Co",
            "--out",
            cert.to_str().expect("path"),
        ],
    );
    cli_ok(&vendor, &["partner", "region", "Beta Co", "EMEA"]);

    // Each partner gets its own standing, signed by the vendor.
    let mine = |node: &Node, tier: &str| {
        wait(&format!("{tier} standing on {}", node.id), || {
            let r = node.get("/api/v1/program/standing");
            (r.status == 200 && r.json["items"][0]["tier"] == tier).then_some(r)
        })
    };
    let a = mine(&alpha, "silver");
    let b = mine(&beta, "registered");
    assert_eq!(
        a.json["items"].as_array().map(Vec::len),
        Some(1),
        "{}",
        a.text
    );
    assert_eq!(a.json["items"][0]["vendor"]["name"], "Vendor Co");
    assert_eq!(a.json["items"][0]["benefits"]["discount"], "10% off list");
    assert_eq!(a.json["items"][0]["next"], Value::Null, "{}", a.text);
    assert_eq!(b.json["items"][0]["next"]["tier"], "silver", "{}", b.text);
    assert_eq!(
        b.json["items"][0]["next"]["lacks"][0]["metric"],
        "certified_people"
    );
    // Never the other partner's standing: no trace of Beta on Alpha, nor of Alpha on Beta.
    for (text, other) in [(&a.text, &beta), (&b.text, &alpha)] {
        assert!(!text.contains(other.id.as_str()), "{text}");
    }
    assert!(!a.text.contains("Beta Co") && !b.text.contains("Alpha Co"));
    let shown = cli_ok(&alpha, &["program", "show"]);
    assert!(
        shown.contains("your standing with Vendor Co: silver"),
        "{shown}"
    );
    let shown = cli_ok(&beta, &["program", "show"]);
    assert!(
        shown.contains("your standing with Vendor Co: registered")
            && shown.contains("next tier silver: lacks certified people"),
        "{shown}"
    );

    // Beta goes offline; the vendor announces to silver (Alpha), registered and EMEA (Beta).
    beta.stop();
    let send = |to: &str, title: &str| {
        let id = cli_ok(
            &vendor,
            &[
                "announce", "--to", to, "--title", title, "--body", "Read me.",
            ],
        );
        id.trim().to_string()
    };
    let silver = send("tier:silver", "Silver news");
    send("tier:registered", "Registered news");
    send("region:EMEA", "EMEA news");
    // An audience that selects nobody is refused, naming it.
    let out = vendor.cli(&[
        "announce", "--to", "type:msp", "--title", "T", "--body", "B",
    ]);
    assert!(
        !out.ok() && out.stderr.contains("type:msp"),
        "{}",
        out.stderr
    );

    let got = wait("Alpha's announcement", || {
        let items = received(&alpha);
        (!items.is_empty()).then_some(items)
    });
    let data = expect_event(&alpha_events, "announcement.received");
    assert_eq!(data["data"]["kind"], "announcement", "{data}");
    assert_eq!(data["data"]["by"], vendor.id.as_str(), "{data}");
    assert_eq!(titles(&got), ["Silver news"]);
    assert_eq!(got[0]["read"], false);
    assert_eq!(got[0]["from"]["name"], "Vendor Co");
    assert_eq!(
        alpha.get("/api/v1/needs-me").json["counts"]["announcements_unread"],
        1
    );

    // Alpha reads it: the read receipt reaches the vendor.
    cli_ok(
        &alpha,
        &["announce", "read", got[0]["id"].as_str().expect("id")],
    );
    assert_eq!(received(&alpha)[0]["read"], true);
    expect_event(&vendor_events, "announcement.read");
    let sent = wait("the read receipt on the vendor", || {
        let r = vendor.get("/api/v1/announcements?direction=sent");
        let items = r.json["items"].as_array()?.clone();
        let s = items.into_iter().find(|a| a["id"] == silver.as_str())?;
        (s["read_count"] == 1).then_some(s)
    });
    assert_eq!(sent["recipients"], 1);
    assert_eq!(sent["reads"][0]["partner"], alpha.id.as_str());
    let listed = cli_ok(&vendor, &["announce", "list"]);
    assert!(listed.contains("read by 1 of 1  Silver news"), "{listed}");

    // Beta reconnects and gets its two, never Alpha's.
    beta.serve();
    let got = wait("Beta's announcements after it reconnects", || {
        let items = received(&beta);
        (items.len() >= 2).then_some(items)
    });
    assert_eq!(titles(&got), ["EMEA news", "Registered news"]);
    assert_eq!(titles(&received(&alpha)), ["Silver news"]);

    // What the stores hold: nothing of another audience's announcement.
    alpha.stop();
    beta.stop();
    vendor.stop();
    assert!(!stored_changes_hold(&alpha, "Registered news"));
    assert!(!stored_changes_hold(&alpha, "EMEA news"));
    assert!(!stored_changes_hold(&beta, "Silver news"));
    assert!(stored_changes_hold(&beta, "EMEA news"));
}
