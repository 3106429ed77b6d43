//! Hub interchange and the CSV export back to CRMs, end to end: AWS ACE opportunities and
//! Microsoft referrals imported and exported through the CLI and the HTTP API of a real node,
//! hub invitations answered from the inbox, and `export opportunities` with its co-sell columns
//! read back by the node's own CSV import.
//!
//! Goal: what docs/hubs.md and docs/crm-export.md promise holds across real processes.
//! Method: `cosell` nodes on loopback fed the fixtures in tests/fixtures/hub (the hubs'
//! documented shapes and quirky ones), read back over HTTP.

use cosell_e2e::{
    assert_error_shape, detail_fields, inbox_item, opportunity, post_ok, share_deal,
    vendor_and_reseller, wait, write_file, Node, NAME_STAGE_AND_DOMAIN,
};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/hub")
        .join(name)
}

fn fixture_json(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture(name)).unwrap()).unwrap()
}

fn import_cli(node: &Node, hub: &str, file: &Path) -> Vec<Value> {
    let out = node.cli(&["hub", "import", hub, file.to_str().unwrap(), "--json"]);
    assert!(out.ok(), "{}", out.stderr);
    let answer: Value = serde_json::from_str(&out.stdout).expect("JSON");
    answer["items"].as_array().expect("items").clone()
}

#[test]
fn ace_and_ms_records_import_update_and_export_through_cli_and_http() {
    let mut node = Node::init("Partner Co");
    node.serve();
    // ACE through the CLI: three records, each an account and an opportunity with its source.
    let items = import_cli(&node, "ace", &fixture("ace-opportunities.json"));
    assert_eq!(items.len(), 3);
    for item in &items {
        assert_eq!(item["outcome"], "inserted", "{item}");
        assert!(item["account_id"].is_string() && item["opportunity_id"].is_string());
    }
    assert_eq!(
        items[0]["source"],
        json!({"format": "ace", "external_id": "O1234567",
        "version": "2025-03-02T14:05:11.123Z", "extra": {"Catalog": "AWS", "OpportunityType": "Net New Business"}})
    );
    let globex = items[0]["opportunity_id"].as_str().unwrap();
    let opp = node.get(&format!("/api/v1/opportunities/{globex}")).json;
    assert_eq!(opp["stage"], "technical_validation");
    assert_eq!(opp["amount"], "12500.5");
    assert_eq!(opp["close_date"], "2025-09-30");
    assert_eq!(opp["external_id"], "006Dn000004Zx9QIAS");
    assert_eq!(opp["source"]["external_id"], "O1234567");
    let account = node
        .get(&format!(
            "/api/v1/accounts/{}",
            opp["account_id"].as_str().unwrap()
        ))
        .json;
    assert_eq!(
        (account["name"].as_str(), account["domain"].as_str()),
        (Some("Globex Corporation"), Some("globex.com"))
    );
    // The same file again updates the same records: nothing doubles.
    let again = import_cli(&node, "ace", &fixture("ace-opportunities.json"));
    assert!(again.iter().all(|i| i["outcome"] == "updated"), "{again:?}");
    assert_eq!(again[0]["opportunity_id"], items[0]["opportunity_id"]);
    assert_eq!(node.counts(), (3, 3));

    // Export: an Update request carrying ACE's id and concurrency token back unchanged.
    let out = node.cli(&["hub", "export", "ace", "--opportunity", globex]);
    assert!(out.ok(), "{}", out.stderr);
    let exported: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(exported["Identifier"], "O1234567");
    assert_eq!(exported["LastModifiedDate"], "2025-03-02T14:05:11.123Z");
    assert_eq!(exported["LifeCycle"]["Stage"], "Technical Validation");
    assert_eq!(
        exported["Project"]["ExpectedCustomerSpend"][0]["Amount"],
        "12500.5"
    );
    // Round trip: the exported request imported again changes nothing.
    let file = write_file(
        &node.scratch(),
        "roundtrip.json",
        exported.to_string().as_bytes(),
    );
    let back = import_cli(&node, "ace", &file);
    assert_eq!(back[0]["opportunity_id"], items[0]["opportunity_id"]);
    assert_eq!(
        node.get(&format!("/api/v1/opportunities/{globex}")).json,
        opp
    );

    // What ACE requires and the record lacks is a 422 naming each field.
    let bare = items[1]["opportunity_id"].as_str().unwrap();
    let r = node.get(&format!("/api/v1/hub/ace/opportunities/{bare}"));
    assert_error_shape(&r, 422);
    let fields = detail_fields(&r.json);
    for f in [
        "Customer.Account.Industry",
        "Customer.Account.WebsiteUrl",
        "Project.CustomerBusinessProblem",
    ] {
        assert!(fields.contains(&f), "{f} in {fields:?}");
    }
    let out = node.cli(&["hub", "export", "ace", "--opportunity", bare]);
    assert!(
        !out.ok() && out.stderr.contains("Customer.Account.Industry"),
        "{}",
        out.stderr
    );
    assert_eq!(
        node.get("/api/v1/hub/ace/opportunities/01J00000000000000000000000")
            .status,
        404
    );
    assert_eq!(
        node.get(&format!("/api/v1/hub/sap/opportunities/{globex}"))
            .status,
        404
    );

    // Microsoft over HTTP: the eTag goes back unchanged, dealValue is read exactly.
    let r = node.post("/api/v1/hub/ms/import", &fixture_json("ms-referrals.json"));
    assert_eq!(r.status, 200, "{}", r.text);
    let contoso = r.json["items"][0]["opportunity_id"]
        .as_str()
        .unwrap()
        .to_string();
    let opp = node.get(&format!("/api/v1/opportunities/{contoso}")).json;
    assert_eq!(opp["amount"], "412500.5");
    assert_eq!(opp["stage"], "technical_validation");
    let referral = node.get(&format!("/api/v1/hub/ms/opportunities/{contoso}"));
    assert_eq!(referral.status, 200, "{}", referral.text);
    assert_eq!(referral.json["eTag"], "\"0x8DD5ABCDEF\"");
    assert_eq!(referral.json["id"], "0e5b6a8f-3c2d-4b1a-9e8f-7a6b5c4d3e2f");
    assert_eq!(
        (
            referral.json["status"].as_str(),
            referral.json["salesStage"].as_str()
        ),
        (Some("Active"), Some("Develop"))
    );
    assert_eq!(referral.json["details"]["dealValue"], json!(412500.5));
    // An ACE record goes to Microsoft as a new referral (no id).
    let r = node.get(&format!("/api/v1/hub/ms/opportunities/{globex}"));
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.json.get("id").is_none());
    assert_eq!(r.json["customerProfile"]["address"]["country"], "US");
    node.stop();
}

#[test]
fn a_bad_item_is_named_by_index_and_path_and_nothing_is_written() {
    let mut node = Node::init("Partner Co");
    node.serve();
    let out = node.cli(&[
        "hub",
        "import",
        "ace",
        fixture("ace-bad.json").to_str().unwrap(),
    ]);
    assert!(!out.ok());
    assert!(
        out.stderr
            .contains("[2].LifeCycle.Stage: \"Won\" is no ACE stage"),
        "{}",
        out.stderr
    );
    let r = node.post("/api/v1/hub/ms/import", &fixture_json("ms-bad.json"));
    assert_error_shape(&r, 422);
    let fields = detail_fields(&r.json);
    for f in [
        "[1].substatus",
        "[1].details.dealValue",
        "[2].customerProfile.name",
    ] {
        assert!(fields.contains(&f), "{f} in {fields:?}");
    }
    assert_eq!(node.counts(), (0, 0));
    // Not a hub file at all.
    assert_eq!(node.post("/api/v1/hub/ace/import", &json!([])).status, 422);
    assert_eq!(
        node.post("/api/v1/hub/ace/import", &json!("text")).status,
        400
    );
    assert_eq!(node.post("/api/v1/hub/sap/import", &json!({})).status, 404);
    node.stop();
}

#[test]
fn hub_invitations_wait_in_the_inbox_until_accepted_or_declined() {
    let mut node = Node::init("Partner Co");
    node.serve();
    let aws = import_cli(&node, "ace", &fixture("ace-invitation.json"));
    assert_eq!(aws[0]["outcome"], "invited");
    assert!(aws[0]["opportunity_id"].is_null());
    let ms = node.post("/api/v1/hub/ms/import", &fixture_json("ms-incoming.json"));
    assert_eq!(ms.status, 200, "{}", ms.text);
    // Held back: no records yet, two invitations waiting; the same one again is not doubled.
    import_cli(&node, "ace", &fixture("ace-invitation.json"));
    assert_eq!(node.counts(), (0, 0));
    let waiting = node.get("/api/v1/hub/invitations?status=invited").json;
    assert_eq!(waiting["items"].as_array().unwrap().len(), 2, "{waiting}");
    // They arrive in the inbox as partners' invitations do.
    let inbox = node.get("/api/v1/inbox").json;
    assert_eq!(
        inbox["hub_invitations"].as_array().map(Vec::len),
        Some(2),
        "{inbox}"
    );
    let out = node.cli(&["inbox"]);
    assert!(
        out.ok() && out.stdout.contains("Woodgrove Bank fraud analytics"),
        "{}",
        out.stdout
    );
    let out = node.cli(&["hub", "invitations"]);
    assert!(
        out.ok()
            && out.stdout.contains("Umbrella genomics pipeline")
            && out.stdout.contains("Woodgrove"),
        "{}",
        out.stdout
    );

    let aws_id = aws[0]["invitation_id"].as_str().unwrap();
    let out = node.cli(&["hub", "accept", aws_id]);
    assert!(out.ok(), "{}", out.stderr);
    let accepted = node.get("/api/v1/hub/invitations?status=accepted").json["items"][0].clone();
    let opp_id = accepted["opportunity_id"]
        .as_str()
        .expect("an opportunity")
        .to_string();
    let opp = node.get(&format!("/api/v1/opportunities/{opp_id}")).json;
    assert_eq!(opp["name"], "Umbrella genomics pipeline");
    assert_eq!(opp["source"]["external_id"], "engi-0000000IS0Qga");
    // Answered once.
    let r = node.request(
        "POST",
        &format!("/api/v1/hub/invitations/{aws_id}/decline"),
        None,
        None,
    );
    assert_error_shape(&r, 409);
    let ms_id = ms.json["items"][0]["invitation_id"].as_str().unwrap();
    let r = node.request(
        "POST",
        &format!("/api/v1/hub/invitations/{ms_id}/decline"),
        None,
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["status"], "declined");
    assert_eq!(node.counts(), (1, 1));
    assert!(node
        .get("/api/v1/audit")
        .text
        .contains("hub_invitation_answered"));
    node.stop();
}

#[test]
fn crm_csv_export_carries_co_sell_columns_neutralises_formulas_and_reads_back() {
    let (mut vendor, mut reseller) = vendor_and_reseller(&[], NAME_STAGE_AND_DOMAIN);
    let opp = opportunity(
        &vendor,
        "globex.com",
        json!({"description": "=HYPERLINK(\"http://evil.example\")", "amount": "1200.50", "currency": "EUR",
               "next_step": "@call the CFO", "close_date": "2026-03-31"}),
    );
    let deal = share_deal(&vendor, &opp, &[&reseller.id]);
    wait("the invitation", || inbox_item(&reseller, &deal));
    post_ok(
        &reseller,
        &format!("/api/v1/deals/{deal}/accept"),
        json!({}),
        200,
    );
    wait("the acceptance", || {
        let d = vendor.get(&format!("/api/v1/deals/{deal}")).json;
        d.to_string().contains("accepted").then_some(())
    });
    for (format, headers) in [
        (
            "salesforce",
            "Id,Name,AccountId,Account Name,Website,StageName,Amount",
        ),
        (
            "hubspot",
            "Record ID,Deal Name,Associated Company,Company Domain Name,Deal Stage",
        ),
    ] {
        let out = vendor.cli(&["export", "opportunities", "--format", format]);
        assert!(out.ok(), "{}", out.stderr);
        assert!(out.stdout.starts_with(headers), "{}", out.stdout);
        assert!(out.stdout.contains("Reseller Co"), "{}", out.stdout);
        assert!(
            out.stdout.contains("Reseller Co: accepted"),
            "{}",
            out.stdout
        );
        assert!(out.stdout.contains("'=HYPERLINK"), "{}", out.stdout);
        assert!(out.stdout.contains("'@call the CFO"), "{}", out.stdout);
        // Read back by the node's own CSV import: the same record, unchanged.
        let r = vendor.post_csv("/api/v1/import/opportunities", out.stdout.as_bytes());
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            (r.json["inserted"].as_u64(), r.json["unchanged"].as_u64()),
            (Some(0), Some(1)),
            "{}",
            r.text
        );
    }
    let stored = vendor.get(&format!("/api/v1/opportunities/{opp}")).json;
    assert_eq!(stored["description"], "=HYPERLINK(\"http://evil.example\")");
    let r = vendor.get("/api/v1/export/opportunities?format=hubspot");
    assert_eq!(r.status, 200);
    assert!(r.content_type.starts_with("text/csv"), "{}", r.content_type);
    assert_eq!(
        vendor.get("/api/v1/export/opportunities?format=sap").status,
        400
    );
    vendor.stop();
    reseller.stop();
}
