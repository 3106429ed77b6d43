//! Lead distribution between real nodes: 200 leads imported from CSV and routed by a rules
//! file (a dry run first), some accepted, one rejected and some left past a short SLA — those
//! are withdrawn and re-routed to the other partner, who alone gets the new offer; the first
//! partner keeps only its withdrawn offer. The contact (a person) stays with the vendor under
//! the default policy, and a third node — a partner of the vendor outside the rules — never
//! holds any lead.
//!
//! Goal: a routed lead is shared with one partner at a time, through its policy, and moves on
//! when that partner does not answer in time. Method: four `cosell` processes on loopback;
//! import, rules, routing, accepting and rejecting through the CLI as users run them; the
//! vendor's webhook events, both partners' API views and the third node's API and store read
//! after.

use cosell_e2e::{
    files_with, hook, partner, stored_changes_hold, wait, write_file, Hook, Node, SYNC_WAIT,
};
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::mpsc::Receiver;
use std::time::Instant;

const CANARY_COMPANY: &str = "CANARY-LEAD-COMPANY";
const CANARY_CONTACT: &str = "canary.contact@lead.example";

/// Waits until the webhook endpoint has received an event of every kind in `kinds` (in any
/// order; the SLA may end before or after the acceptances arrive).
fn expect_events(rx: &Receiver<Hook>, kinds: &[&str]) {
    let mut missing: BTreeSet<&str> = kinds.iter().copied().collect();
    let deadline = Instant::now() + SYNC_WAIT;
    while !missing.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(hook) = rx.recv_timeout(left) else {
            panic!("no {missing:?} events arrived");
        };
        missing.remove(hook.event());
    }
}

fn cli_ok(node: &Node, args: &[&str]) -> String {
    let out = node.cli(args);
    assert!(out.ok(), "{args:?}: {}", out.stderr);
    out.stdout
}

fn leads(node: &Node) -> Vec<Value> {
    let out = cli_ok(node, &["leads", "list", "--json"]);
    let page: Value = serde_json::from_str(&out).unwrap();
    page["items"].as_array().cloned().unwrap_or_default()
}

fn rules(a: &Node, b: &Node, sla_hours: &str) -> String {
    format!(
        "sla_hours = {sla_hours}\nexclude_countries = [\"KP\"]\n\n[[partner]]\npartner = \"{}\"\ncountries = [\"DE\", \"AT\"]\ntags = [\"security\", \"cloud\"]\n\n[[partner]]\npartner = \"{}\"\nregions = [\"EMEA\"]\ntags = [\"security\"]\ncapacity = 400\n",
        a.id, b.id
    )
}

fn csv(prefix: &str, n: usize) -> String {
    let mut out = String::from("company,country,region,tags,contact_name,contact_email\n");
    for i in 0..n {
        let country = if i % 3 == 2 { "FR" } else { "DE" };
        out.push_str(&format!(
            "{prefix}-{i},{country},EMEA,security,Canary Person,{CANARY_CONTACT}\n"
        ));
    }
    out
}

#[test]
fn two_hundred_leads_are_routed_by_rules_accepted_rejected_or_re_routed_after_the_sla() {
    let mut vendor = Node::init("Vendor Co");
    let mut a = Node::init("Alpha Partners");
    let mut b = Node::init("Beta Systems");
    let mut other = Node::init("Other SI");
    for n in [&mut vendor, &mut a, &mut b, &mut other] {
        n.serve();
    }
    partner(&vendor, &a, "reseller", "vendor");
    partner(&vendor, &b, "si", "vendor");
    partner(&vendor, &other, "si", "vendor");
    let events = hook(&vendor, &["lead.*"]);
    let dir = vendor.scratch();

    // Rules with an error name its line and key; the good file is checked, then set.
    let bad = write_file(
        &dir,
        "bad.toml",
        b"sla_hours = 1\n[[partner]]\npartner = \"Nobody\"\ncapacity = 0\n",
    );
    let out = vendor.cli(&["leads", "rules", "check", &bad.to_string_lossy()]);
    assert!(!out.ok());
    assert!(
        out.stderr.contains("line 4, key partner[0].capacity"),
        "{}",
        out.stderr
    );

    // 20 leads under a short SLA (3.6 s): nobody answers them.
    let short = write_file(&dir, "short.toml", rules(&a, &b, "0.001").as_bytes());
    cli_ok(
        &vendor,
        &["leads", "rules", "check", &short.to_string_lossy()],
    );
    cli_ok(
        &vendor,
        &["leads", "rules", "set", &short.to_string_lossy()],
    );
    let late_csv = write_file(&dir, "late.csv", csv("LATE", 20).as_bytes());
    cli_ok(&vendor, &["leads", "import", &late_csv.to_string_lossy()]);
    cli_ok(&vendor, &["leads", "route"]);

    // 180 more under an hour's SLA, with a canary; a dry run says where they would go.
    let long = write_file(&dir, "long.toml", rules(&a, &b, "1").as_bytes());
    cli_ok(&vendor, &["leads", "rules", "set", &long.to_string_lossy()]);
    let mut body = csv("LEAD", 179);
    body.push_str(&format!(
        "{CANARY_COMPANY},DE,EMEA,security,Canary Person,{CANARY_CONTACT}\n"
    ));
    let main_csv = write_file(&dir, "leads.csv", body.as_bytes());
    let imported = cli_ok(&vendor, &["leads", "import", &main_csv.to_string_lossy()]);
    assert!(imported.contains("imported 180 leads"), "{imported}");
    let dry = cli_ok(&vendor, &["leads", "route", "--dry-run"]);
    assert!(dry.contains("these 180 leads would go to"), "{dry}");
    assert!(
        dry.contains("Alpha Partners") && dry.contains("Beta Systems"),
        "{dry}"
    );
    assert_eq!(
        leads(&vendor)
            .iter()
            .filter(|l| l["status"] == "new")
            .count(),
        180,
        "a dry run changes nothing"
    );
    let routed: Value =
        serde_json::from_str(&cli_ok(&vendor, &["leads", "route", "--json"])).unwrap();
    assert_eq!(routed["routed"].as_array().unwrap().len(), 180);
    let mine: Vec<Value> = leads(&vendor);
    // Alpha covers DE and AT only: every FR lead went to Beta; DE leads alternate.
    for l in &mine {
        if l["country"] == "FR" {
            assert_eq!(l["partner"], b.id.as_str(), "{l}");
        }
    }
    let to_a = mine
        .iter()
        .filter(|l| l["partner"] == a.id.as_str())
        .count();
    assert!(
        to_a > 40 && to_a < 160,
        "round robin: {to_a} of 200 to Alpha"
    );

    // Alpha accepts five and rejects one; Beta accepts three (through the API).
    let offered = |n: &Node, prefix: &str| -> Vec<Value> {
        leads(n)
            .into_iter()
            .filter(|l| l["company"].as_str().is_some_and(|c| c.starts_with(prefix)))
            .filter(|l| l["status"] == "offered")
            .collect()
    };
    let a_offers = wait("Alpha's offers", || {
        let got = offered(&a, "LEAD-");
        (got.len() >= 6).then_some(got)
    });
    assert!(
        a_offers.iter().all(|l| l["contact_email"].is_null()),
        "the policy shares no person"
    );
    for l in &a_offers[..5] {
        cli_ok(&a, &["leads", "accept", l["id"].as_str().unwrap()]);
    }
    let rejected_company = a_offers[5]["company"].as_str().unwrap().to_string();
    cli_ok(
        &a,
        &[
            "leads",
            "reject",
            a_offers[5]["id"].as_str().unwrap(),
            "--reason",
            "no capacity",
        ],
    );
    let b_offers = wait("Beta's offers", || {
        let got = offered(&b, "LEAD-");
        (got.len() >= 3).then_some(got)
    });
    for l in &b_offers[..3] {
        let r = b.post(
            &format!("/api/v1/leads/{}/accept", l["id"].as_str().unwrap()),
            &serde_json::json!({}),
        );
        assert_eq!(r.status, 200, "{}", r.text);
    }

    // The late leads pass their SLA: each is withdrawn and offered to the other partner.
    let settled = wait("the late leads re-routed", || {
        let all = leads(&vendor);
        let late: Vec<Value> = all
            .iter()
            .filter(|l| {
                l["company"]
                    .as_str()
                    .is_some_and(|c| c.starts_with("LATE-"))
            })
            .cloned()
            .collect();
        let moved = late.iter().all(|l| {
            l["tried"].as_array().is_some_and(|t| t.len() == 1)
                && l["tried"][0]["partner"] != l["partner"]
        });
        let re_rejected = all
            .iter()
            .any(|l| l["company"] == rejected_company.as_str() && l["partner"] == b.id.as_str());
        (moved && re_rejected).then_some(all)
    });
    expect_events(
        &events,
        &[
            "lead.offered",
            "lead.accepted",
            "lead.rejected",
            "lead.expired",
        ],
    );
    let v = |company: &str| {
        settled
            .iter()
            .find(|l| l["company"] == company)
            .unwrap()
            .clone()
    };
    assert_eq!(
        v(a_offers[0]["company"].as_str().unwrap())["status"],
        "accepted"
    );
    assert_eq!(v(&rejected_company)["tried"][0]["partner"], a.id.as_str());
    // Alpha keeps the late offers it let pass only as withdrawn, and holds a new offer only
    // for the late leads that moved from Beta to it.
    let late_with = |who: &str, key: &str| {
        settled
            .iter()
            .filter(|l| {
                l["company"]
                    .as_str()
                    .is_some_and(|c| c.starts_with("LATE-"))
            })
            .filter(|l| {
                let p = if key == "tried" {
                    &l["tried"][0]["partner"]
                } else {
                    &l["partner"]
                };
                p == who
            })
            .count()
    };
    let (gone, came) = (late_with(&a.id, "tried"), late_with(&a.id, "partner"));
    // A late FR lead Beta let pass has nowhere to go: Alpha does not cover France.
    let stuck: Vec<&Value> = settled
        .iter()
        .filter(|l| {
            l["company"]
                .as_str()
                .is_some_and(|c| c.starts_with("LATE-"))
        })
        .filter(|l| l["status"] == "unroutable")
        .collect();
    assert!(stuck.iter().all(|l| l["country"] == "FR"), "{stuck:?}");
    assert_eq!(gone + came + stuck.len(), 20);
    let a_late: Vec<Value> = wait("Alpha to see its late offers withdrawn", || {
        let late: Vec<Value> = leads(&a)
            .into_iter()
            .filter(|l| {
                l["company"]
                    .as_str()
                    .is_some_and(|c| c.starts_with("LATE-"))
            })
            .filter(|l| l["status"] == "withdrawn")
            .collect();
        (late.len() == gone).then_some(late)
    });
    let a_now = leads(&a)
        .into_iter()
        .filter(|l| {
            l["company"]
                .as_str()
                .is_some_and(|c| c.starts_with("LATE-"))
        })
        .count();
    assert_eq!(a_now, gone + came, "Alpha holds only its own offers");
    // Answering a withdrawn offer is refused.
    let late_id = a_late[0]["id"].as_str().unwrap();
    let out = a.cli(&["leads", "accept", late_id]);
    assert!(!out.ok());
    assert!(
        out.stderr.contains("withdrawn") || out.stderr.contains("passed"),
        "{}",
        out.stderr
    );

    // The leak canary: the third node has no lead; the partners never got the contact.
    assert_eq!(leads(&other).len(), 0);
    for n in [&mut other, &mut a, &mut b] {
        n.stop();
    }
    assert!(files_with(&other.dir(), CANARY_COMPANY).is_empty());
    assert!(!stored_changes_hold(&other, CANARY_COMPANY));
    for n in [&a, &b] {
        assert!(
            !stored_changes_hold(n, CANARY_CONTACT),
            "{} got the contact",
            n.name
        );
    }
}
