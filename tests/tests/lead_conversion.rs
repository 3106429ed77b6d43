//! Turning an accepted lead into an opportunity and a co-sell deal, between real nodes: the
//! vendor routes one lead to Alpha, which lets the SLA pass; the vendor re-routes it to Beta.
//! Beta cannot convert it before accepting; after accepting, `leads accept --convert --share` makes one
//! opportunity on the account Beta already had for that company and a deal shared with the
//! vendor whose attribution names the vendor as source and Beta as influencer; the vendor
//! accepts the deal and sees (and agrees to) that attribution. Converting twice is refused
//! naming the opportunity; Alpha, whose offer was withdrawn, cannot convert it at all.
//!
//! Goal: attribution follows a lead into the deal it becomes, and a lead becomes at most one
//! opportunity on the one partner that holds it. Method: three `cosell` processes on loopback,
//! driven by the CLI and the API as users do.

use cosell_e2e::{
    hook, partner, put_policy, wait, write_file, Node, NAME_STAGE_AND_DOMAIN, SYNC_WAIT,
};
use serde_json::{json, Value};

fn cli_ok(node: &Node, args: &[&str]) -> String {
    let out = node.cli(args);
    assert!(out.ok(), "{args:?}: {}", out.stderr);
    out.stdout
}

fn leads(node: &Node) -> Vec<Value> {
    let page: Value = serde_json::from_str(&cli_ok(node, &["leads", "list", "--json"])).unwrap();
    page["items"].as_array().cloned().unwrap_or_default()
}

fn offer_in(node: &Node, status: &str) -> Option<Value> {
    leads(node)
        .into_iter()
        .find(|l| l["direction"] == "inbound" && l["status"] == status)
}

#[test]
fn an_accepted_lead_becomes_one_opportunity_and_a_deal_attributed_to_the_vendor() {
    let mut vendor = Node::init("Vendor Co");
    let mut alpha = Node::init("Alpha Partners");
    let mut beta = Node::init("Beta Systems");
    for n in [&mut vendor, &mut alpha, &mut beta] {
        n.serve();
    }
    partner(&vendor, &alpha, "reseller", "vendor");
    partner(&vendor, &beta, "reseller", "vendor");
    put_policy(&beta, &vendor.id, NAME_STAGE_AND_DOMAIN);
    let beta_events = hook(&beta, &["lead.converted"]);
    // Beta already knows the company: the conversion matches its account.
    let account = beta.post(
        "/api/v1/accounts",
        &json!({"name": "Acme Lead GmbH", "domain": "acme-lead.example"}),
    );
    assert_eq!(account.status, 201, "{}", account.text);
    let account_id = account.json["id"].as_str().unwrap().to_string();

    // One lead under a 3.6 s SLA goes to Alpha (first in the round robin), which lets it pass.
    let dir = vendor.scratch();
    let rules = |sla: &str| {
        format!(
            "sla_hours = {sla}\n\n[[partner]]\npartner = \"{}\"\n\n[[partner]]\npartner = \"{}\"\n",
            alpha.id, beta.id
        )
    };
    let short = write_file(&dir, "short.toml", rules("0.001").as_bytes());
    cli_ok(
        &vendor,
        &["leads", "rules", "set", &short.to_string_lossy()],
    );
    let file = write_file(
        &dir,
        "leads.csv",
        b"company,country,region,note\nAcme Lead GmbH,DE,EMEA,wants a demo\n",
    );
    cli_ok(&vendor, &["leads", "import", &file.to_string_lossy()]);
    cli_ok(&vendor, &["leads", "route"]);
    // Past the SLA the vendor withdraws it and offers it to Beta under an hour's SLA.
    let long = write_file(&dir, "long.toml", rules("1").as_bytes());
    cli_ok(&vendor, &["leads", "rules", "set", &long.to_string_lossy()]);
    let alpha_offer = wait("Alpha's offer", || {
        leads(&alpha)
            .into_iter()
            .find(|l| l["direction"] == "inbound")
    });
    let alpha_id = alpha_offer["id"].as_str().unwrap().to_string();
    let beta_offer = wait("the lead re-routed to Beta", || {
        cli_ok(&vendor, &["leads", "route"]);
        offer_in(&beta, "offered")
    });
    let beta_id = beta_offer["id"].as_str().unwrap().to_string();
    wait("Alpha to see its offer withdrawn", || {
        offer_in(&alpha, "withdrawn")
    });
    let r = alpha.post(&format!("/api/v1/leads/{alpha_id}/convert"), &json!({}));
    assert_eq!(r.status, 409, "{}", r.text);
    assert!(r.text.contains("withdrawn"), "{}", r.text);

    // Beta cannot convert before accepting; it accepts and converts at once (`accept --convert
    // --share`).
    let out = beta.cli(&["leads", "convert", &beta_id]);
    assert!(!out.ok());
    assert!(out.stderr.contains("not accepted yet"), "{}", out.stderr);
    let out = cli_ok(
        &beta,
        &["leads", "accept", &beta_id, "--convert", "--share"],
    );
    let word_after = |key: &str| {
        out.split_whitespace()
            .skip_while(|w| *w != key)
            .nth(1)
            .unwrap_or_else(|| panic!("no {key} in {out}"))
            .to_string()
    };
    let opp_id = word_after("opportunity");
    let deal_id = word_after("deal");
    assert!(
        out.contains(&format!("(existing account {account_id})")),
        "{out}"
    );
    assert!(out.contains("sourced by the vendor"), "{out}");
    let event = beta_events.recv_timeout(SYNC_WAIT).expect("lead.converted");
    assert_eq!(event.event(), "lead.converted");
    let opp = beta.get(&format!("/api/v1/opportunities/{opp_id}"));
    assert_eq!(opp.json["name"], "Acme Lead GmbH (lead)", "{}", opp.text);
    assert!(
        opp.json["description"]
            .as_str()
            .is_some_and(|d| d.contains("Vendor Co")),
        "{}",
        opp.text
    );

    // Twice: refused naming the opportunity, and still one opportunity.
    let out = beta.cli(&["leads", "convert", &beta_id, "--share", "--json"]);
    assert!(!out.ok());
    assert!(out.stderr.contains(&opp_id), "{}", out.stderr);
    let again = beta.post(
        &format!("/api/v1/leads/{beta_id}/convert?share=true"),
        &json!({}),
    );
    assert_eq!(again.status, 409, "{}", again.text);
    assert!(again.text.contains(&opp_id), "{}", again.text);
    let opps = beta.get("/api/v1/opportunities?q=Acme");
    assert_eq!(
        opps.json["items"].as_array().unwrap().len(),
        1,
        "{}",
        opps.text
    );
    let unknown = beta.post("/api/v1/leads/ffffffffff/convert", &json!({}));
    assert_eq!(unknown.status, 404, "{}", unknown.text);

    // The vendor accepts the deal and sees the attribution Beta proposed; it agrees to it.
    wait("the deal in the vendor's inbox", || {
        vendor.get("/api/v1/inbox").json["items"]
            .as_array()?
            .iter()
            .any(|i| i["deal_id"] == deal_id.as_str())
            .then_some(())
    });
    cli_ok(&vendor, &["deals", "accept", &deal_id]);
    let deal = wait("the attribution on the vendor", || {
        let d = vendor.get(&format!("/api/v1/deals/{deal_id}")).json;
        (d["attribution"]["proposals"].as_array()?.len() == 1).then_some(d)
    });
    let proposal = &deal["attribution"]["proposals"][0];
    assert_eq!(proposal["by"], beta.id.as_str(), "{deal}");
    assert_eq!(proposal["sourced_by"], vendor.id.as_str(), "{deal}");
    assert_eq!(proposal["influenced_by"], json!([beta.id]), "{deal}");
    let r = vendor.post(
        &format!("/api/v1/deals/{deal_id}/attribution/accept"),
        &json!({}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    wait("the attribution agreed on Beta", || {
        let d = beta.get(&format!("/api/v1/deals/{deal_id}")).json;
        (d["attribution"]["agreed"]["sourced_by"] == vendor.id.as_str()).then_some(())
    });
    for n in [&mut vendor, &mut alpha, &mut beta] {
        n.stop();
    }
}
