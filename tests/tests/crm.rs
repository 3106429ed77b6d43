//! CRM connectors end to end (issue 24, items 1-3). Goal: a node connected to Salesforce or
//! HubSpot loads their pipeline, keeps it in step (edits, deletes), survives what those APIs
//! do (expired sessions, rate limits, paging, a record that fails validation), sends each
//! synced change of a shared opportunity into its deal through the policy, and writes the
//! partner's stage back into the configured CRM field — and no credential ever shows in a log
//! line, an API answer or the audit.
//!
//! Method: the fake servers of `tests/crm_fake/` (real response and error shapes; the HubSpot
//! one is checked here against HubSpot's published OpenAPI documents, trimmed into
//! `tests/fixtures/hubspot-openapi/crm-subset.json`), real `cosell serve` processes, the CLI
//! (`cosell crm connect|sync|status|disconnect`) and the API.

use cosell_e2e::crm_fake::hubspot::FakeHubspot;
use cosell_e2e::crm_fake::openapi;
use cosell_e2e::crm_fake::salesforce::{self as sf, FakeSalesforce};
use cosell_e2e::*;
use serde_json::{json, Value};
use std::time::Duration;

/// Opportunities loaded per connector: the issue's figure (`COSELL_CRM_E2E_RECORDS` sets
/// another, at least 3,000, for a quicker look while working on the connectors).
fn opportunities() -> usize {
    std::env::var("COSELL_CRM_E2E_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n >= 3_000)
        .unwrap_or(20_000)
}
const ACCOUNTS: usize = 400;
const CLIENT_ID: &str = "3MVG9fake.consumer.key";
const SF_USER: &str = "integration@vendor.example.com";
const HS_TOKEN: &str = "pat-eu1-0f0e0d0c-aaaa-bbbb-cccc-123456789abc";

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

fn crm_status(node: &Node) -> Value {
    let r = node.get("/api/v1/crm");
    assert_eq!(r.status, 200, "{}", r.text);
    r.json
}

/// `cosell crm sync` (waits for the end); returns its output.
fn sync(node: &Node) -> Output {
    node.cli(&["crm", "sync"])
}

fn opportunity_by_external(node: &Node, external: &str) -> Option<Value> {
    let r = node.get(&format!(
        "/api/v1/opportunities?q={}&limit=10",
        percent_encode(external)
    ));
    assert_eq!(r.status, 200, "{}", r.text);
    r.json["items"]
        .as_array()?
        .iter()
        .find(|o| o["external_id"] == external)
        .cloned()
}

/// Shares the node's opportunity with external id `external` with `partner` (a policy sharing
/// name, stage and domain); the partner accepts and links an opportunity of its own at
/// `partner_stage`. Returns the deal id.
fn share_and_partner_stage(
    vendor: &Node,
    partner: &Node,
    external: &str,
    partner_stage: &str,
) -> String {
    put_policy(vendor, &partner.id, NAME_STAGE_AND_DOMAIN);
    let opp = opportunity_by_external(vendor, external).expect("synced opportunity");
    let deal = share_deal(vendor, opp["id"].as_str().expect("id"), &[&partner.id]);
    wait("the invitation", || inbox_item(partner, &deal));
    let r = partner.post(&format!("/api/v1/deals/{deal}/accept"), &json!({}));
    assert_eq!(r.status, 200, "{}", r.text);
    let domain = wait("the deal on the partner", || {
        let d = partner.get(&format!("/api/v1/deals/{deal}"));
        d.json["fields"]["account.domain"]
            .as_str()
            .map(str::to_string)
    });
    let own = opportunity(partner, &domain, json!({"stage": partner_stage}));
    let mut last = String::new();
    let linked = wait_for(Duration::from_secs(60), || {
        let r = partner.post(
            &format!("/api/v1/deals/{deal}/link"),
            &json!({"opportunity_id": own}),
        );
        last = r.text;
        (r.status == 200).then_some(())
    });
    assert!(
        linked.is_some(),
        "the partner links its opportunity: {last}"
    );
    deal
}

/// Asserts no secret appears in the node's log, its API answers seen, or its audit log.
fn assert_secret_never_shown(node: &Node, secrets: &[String], answers: &[String]) {
    let audit = node.get("/api/v1/audit?limit=1000").text;
    let export = node.get("/api/v1/audit/export").text;
    let log = node.log();
    for s in secrets {
        assert!(s.len() > 8);
        assert!(!log.contains(s.as_str()), "a credential is in the log");
        assert!(
            !audit.contains(s.as_str()) && !export.contains(s.as_str()),
            "a credential is in the audit"
        );
        for a in answers {
            assert!(!a.contains(s.as_str()), "a credential is in an API answer");
        }
    }
}

/// The connected app's private key (PEM), whose public half the fake org holds.
fn connected_app_key() -> String {
    std::fs::read_to_string(fixture("crm/connected-app-key.pem")).expect("key")
}

/// A fake org whose connected app (`CLIENT_ID`, acting for `SF_USER`) holds the test key,
/// seeded with `accounts` accounts and `opportunities` opportunities (their ids).
fn salesforce_org(accounts: usize, opportunities: usize) -> (FakeSalesforce, Vec<String>) {
    let public = std::fs::read(fixture("crm/connected-app-public.der")).expect("public key");
    let fake = FakeSalesforce::start(CLIENT_ID, SF_USER, public);
    let ids = fake.seed(accounts, opportunities);
    (fake, ids)
}

/// `cosell crm connect ARGS EXTRA`.
fn crm_connect(node: &Node, args: &[&str], extra: &[&str]) -> Output {
    let mut all = vec!["crm", "connect"];
    all.extend_from_slice(args);
    all.extend_from_slice(extra);
    node.cli(&all)
}

/// How a test signs in to the fake org.
enum SalesforceAuth<'a> {
    /// The JWT bearer flow as this consumer key, with the connected app's key.
    Jwt(&'a str),
    /// The refresh-token flow with this refresh token.
    Refresh(&'a str),
}

/// `cosell crm connect salesforce` to `fake`, plus `extra` arguments.
fn connect_salesforce(
    node: &Node,
    fake: &FakeSalesforce,
    auth: SalesforceAuth,
    extra: &[&str],
) -> Output {
    let (client_id, flag, file, contents) = match auth {
        SalesforceAuth::Jwt(client_id) => {
            (client_id, "--private-key", "key.pem", connected_app_key())
        }
        SalesforceAuth::Refresh(token) => (
            CLIENT_ID,
            "--refresh-token-file",
            "refresh-token",
            token.to_string(),
        ),
    };
    let file = write_file(&node.scratch(), file, contents.as_bytes());
    let mut args = vec![
        "salesforce",
        "--login-url",
        fake.url(),
        "--client-id",
        client_id,
    ];
    if flag == "--private-key" {
        args.extend(["--username", SF_USER]);
    }
    args.extend([flag, file.to_str().expect("path")]);
    crm_connect(node, &args, extra)
}

/// `cosell crm connect hubspot` to `fake` with the private app token, plus `extra`.
fn connect_hubspot(node: &Node, fake: &FakeHubspot, extra: &[&str]) -> Output {
    let file = write_file(&node.scratch(), "token", HS_TOKEN.as_bytes());
    let file = file.to_str().expect("path");
    crm_connect(
        node,
        &["hubspot", "--api-url", fake.url(), "--token-file", file],
        extra,
    )
}

/// Waits until the fake CRM received a write of `field` on record `crm_id` holding `needle`
/// (`written` reads the fake's PATCHes: record id and the fields written); that write.
fn wait_written_back(
    what: &str,
    written: impl Fn() -> Vec<(String, Value)>,
    crm_id: &str,
    field: &str,
    needle: &str,
) -> Value {
    wait(what, || {
        written().into_iter().find_map(|(id, fields)| {
            (id == crm_id && fields[field].as_str().is_some_and(|v| v.contains(needle)))
                .then_some(fields)
        })
    })
}

/// After an incremental sync: the records deleted in the CRM are gone here (and counted), and
/// the shared opportunity's new stage reached the partner's deal through the policy, as an
/// API edit would.
fn assert_deletes_and_shared_stage(vendor: &Node, reseller: &Node, deal: &str, deleted: &[String]) {
    for id in deleted {
        assert!(
            opportunity_by_external(vendor, id).is_none(),
            "{id} deleted in the CRM is still here"
        );
    }
    let status = crm_status(vendor);
    assert_eq!(
        status["counts"]["deleted"],
        deleted.len() as u64,
        "{status}"
    );
    wait("the synced stage on the partner", || {
        let d = reseller.get(&format!("/api/v1/deals/{deal}"));
        (d.json["fields"]["stage"] == "committed").then_some(())
    });
}

/// Every answer the fake HubSpot gave matches HubSpot's published schemas, and the fake refused
/// no request body of the connector's as not matching them.
fn assert_hubspot_exchanges_match_its_openapi(fake: &FakeHubspot) {
    let account = fake.account.lock();
    assert!(
        account.refused_bodies.is_empty(),
        "the connector sent bodies HubSpot's OpenAPI does not allow: {:?}",
        account.refused_bodies
    );
    for (op, status, body) in &account.answers {
        if let Err(e) = openapi::check_answer(op, *status, body) {
            panic!("{op} {status} does not match HubSpot's schema: {e}\n{body}");
        }
    }
}

#[test]
fn salesforce_loads_20000_opportunities_syncs_edits_and_deletes_and_writes_the_partner_stage_back()
{
    let key_pem = connected_app_key();
    let n_opps = opportunities();
    let (fake, ids) = salesforce_org(ACCOUNTS, n_opps);
    // One record fails validation: a stage neither the mapping nor the import's table knows.
    let bad = ids[777].clone();
    fake.edit(&bad, "StageName", json!("Waiting for Godot"));
    fake.org
        .lock()
        .opportunity_fields
        .insert("Cosell_Partner_Stage__c".into());

    let (mut vendor, reseller) = vendor_and_reseller(&[], NAME_STAGE_AND_DOMAIN);
    // A wrong consumer key is refused at connect, naming Salesforce's reason.
    let out = connect_salesforce(&vendor, &fake, SalesforceAuth::Jwt("wrong"), &[]);
    assert!(!out.ok(), "a refused sign-in must fail");
    assert!(out.stderr.contains("invalid_grant"), "{}", out.stderr);
    assert_eq!(crm_status(&vendor)["connected"], false);

    let out = connect_salesforce(
        &vendor,
        &fake,
        SalesforceAuth::Jwt(CLIENT_ID),
        &[
            "--write-back",
            "partner_stages=Cosell_Partner_Stage__c",
            "--interval",
            "3600",
        ],
    );
    assert!(out.ok(), "connect: {}", out.stderr);
    let key_path = vendor.dir().join("crm.json");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key_path)
            .expect("crm.json")
            .permissions()
            .mode()
            & 0o777,
        0o600
    );

    let started = std::time::Instant::now();
    let out = sync(&vendor);
    assert!(out.ok(), "initial load: {} {}", out.stdout, out.stderr);
    let load_ms = started.elapsed().as_millis();
    let status = crm_status(&vendor);
    assert_eq!(status["initial_load_done"], true, "{status}");
    assert_eq!(
        status["counts"]["opportunities"],
        (n_opps - 1) as u64,
        "{status}"
    );
    assert_eq!(vendor.counts(), (ACCOUNTS as u64, (n_opps - 1) as u64));
    let failure = &status["failures"][0];
    assert_eq!(failure["crm_id"], bad.as_str(), "{status}");
    assert_eq!(failure["field"], "StageName", "{status}");
    assert!(
        failure["message"]
            .as_str()
            .unwrap_or("")
            .contains("Waiting for Godot"),
        "{status}"
    );
    // Paged: 20,000 records in batches of 2,000 through nextRecordsUrl.
    let more = fake
        .org
        .lock()
        .requests
        .iter()
        .filter(|r| r.starts_with("query "))
        .count();
    assert!(
        more >= n_opps / sf::BATCH - 1,
        "nextRecordsUrl pages read: {more}"
    );
    eprintln!("salesforce initial load of {n_opps}: {load_ms} ms");
    let o = opportunity_by_external(&vendor, &ids[10]).expect("loaded");
    assert_eq!(o["stage"], "prospect", "{o}");
    assert_eq!(o["owner"], "Ana Owner");
    assert_eq!(o["close_date"], "2026-09-30");

    // A shared opportunity, its partner's stage, and the write-back.
    let shared = ids[42].clone();
    let deal = share_and_partner_stage(&vendor, &reseller, &shared, "committed");
    let written = wait_written_back(
        "the partner's stage written back to Salesforce",
        || fake.org.lock().patches.clone(),
        &shared,
        "Cosell_Partner_Stage__c",
        "committed",
    );
    assert!(
        written["Cosell_Partner_Stage__c"]
            .as_str()
            .unwrap()
            .starts_with("Reseller Co: committed"),
        "{written}"
    );

    // The session expires: the next sync signs in again once and goes on.
    let sign_ins = fake.org.lock().sign_ins;
    fake.expire_sessions();
    // 50 edits (one of them the shared opportunity's stage) and 5 deletes in Salesforce.
    for (n, id) in ids[1000..1050].iter().enumerate() {
        fake.edit(id, "Amount", json!(90_000.0 + n as f64));
    }
    fake.edit(&shared, "StageName", json!("Negotiation/Review"));
    let deleted: Vec<String> = ids[2000..2005].to_vec();
    for id in &deleted {
        fake.delete(id);
    }
    let out = sync(&vendor);
    assert!(out.ok(), "incremental: {} {}", out.stdout, out.stderr);
    assert_eq!(
        fake.org.lock().sign_ins,
        sign_ins + 1,
        "one new sign-in after the session expired"
    );
    let o = opportunity_by_external(&vendor, &ids[1049]).expect("edited");
    assert_eq!(cents(&o["amount"]), 9_004_900, "{o}");
    assert_deletes_and_shared_stage(&vendor, &reseller, &deal, &deleted);
    assert_eq!(vendor.counts().1, (n_opps - 1 - 5) as u64);

    // The org's API budget is spent: the sync stops with Salesforce's reason and backs off;
    // asked again later it goes on.
    fake.org.lock().limit_exceeded = 1;
    let out = sync(&vendor);
    assert!(!out.ok(), "a spent API budget fails the sync");
    assert!(
        out.stderr.contains("REQUEST_LIMIT_EXCEEDED"),
        "{}",
        out.stderr
    );
    let status = crm_status(&vendor);
    assert_eq!(status["state"], "backing_off", "{status}");
    assert!(status["last_error"]
        .as_str()
        .unwrap_or("")
        .contains("REQUEST_LIMIT_EXCEEDED"));
    let out = sync(&vendor);
    assert!(out.ok(), "after the limit: {}", out.stderr);
    let status = crm_status(&vendor);
    assert_eq!(status["state"], "idle", "{status}");

    let text = vendor.cli(&["crm", "status"]);
    assert!(
        text.ok() && text.stdout.contains("salesforce"),
        "{}",
        text.stdout
    );
    let as_json = vendor.cli(&["crm", "status", "--json"]);
    assert!(as_json.ok(), "{}", as_json.stderr);
    let mut secrets: Vec<String> = fake.org.lock().issued.clone();
    secrets.push(key_pem.lines().nth(3).expect("a key line").to_string());
    let answers = vec![
        status.to_string(),
        as_json.stdout.clone(),
        text.stdout.clone(),
        vendor.get("/api/v1/crm").text,
    ];
    assert_secret_never_shown(&vendor, &secrets, &answers);

    let out = vendor.cli(&["crm", "disconnect"]);
    assert!(out.ok(), "{}", out.stderr);
    assert!(!key_path.exists(), "the credential is forgotten");
    assert_eq!(crm_status(&vendor)["connected"], false);
    vendor.stop();
}

#[test]
fn hubspot_loads_20000_deals_syncs_edits_and_archives_and_writes_the_partner_stage_back() {
    let n_opps = opportunities();
    let fake = FakeHubspot::start(HS_TOKEN);
    let ids = fake.seed(ACCOUNTS, n_opps);
    // Two bad records: an amount that is no number, a deal with no company.
    fake.edit(ids[5], "amount", "lots");
    fake.account
        .lock()
        .deals
        .get_mut(&ids[6])
        .expect("deal")
        .companies
        .clear();
    fake.account
        .lock()
        .deal_properties
        .insert("cosell_partner_stage".into());

    let (mut vendor, reseller) = vendor_and_reseller(&[], NAME_STAGE_AND_DOMAIN);
    let out = connect_hubspot(
        &vendor,
        &fake,
        &[
            "--write-back",
            "partner_stages=cosell_partner_stage",
            "--interval",
            "3600",
        ],
    );
    assert!(out.ok(), "connect: {}", out.stderr);
    // A 429 in the middle of the load: waited out (Retry-After: 1) and retried.
    fake.account.lock().rate_limited = 1;
    let out = sync(&vendor);
    assert!(out.ok(), "initial load: {} {}", out.stdout, out.stderr);
    assert!(fake.account.lock().rate_limits_sent >= 1);
    let status = crm_status(&vendor);
    assert_eq!(
        status["counts"]["opportunities"],
        (n_opps - 2) as u64,
        "{status}"
    );
    let failures = status["failures"].as_array().expect("failures");
    let field_of = |id: u64| {
        failures
            .iter()
            .find(|f| f["crm_id"].as_str() == Some(id.to_string().as_str()))
            .map(|f| f["field"].clone())
    };
    assert_eq!(field_of(ids[5]), Some(json!("amount")), "{status}");
    assert_eq!(
        field_of(ids[6]),
        Some(json!("associations.companies")),
        "{status}"
    );
    // The search was restarted past HubSpot's 10,000-result limit, never refused.
    let refused = fake
        .account
        .lock()
        .answers
        .iter()
        .filter(|(op, st, _)| op == "search_deals" && *st == 400)
        .count();
    assert_eq!(refused, 0, "the connector asked past 10,000 results");
    // Stages: the default pipeline's ids, and a custom pipeline's numeric id by its label.
    let o = opportunity_by_external(&vendor, &ids[3].to_string()).expect("loaded");
    assert_eq!(
        o["stage"], "technical_validation",
        "custom stage 13014 'Technical Validation': {o}"
    );
    let o = opportunity_by_external(&vendor, &ids[1].to_string()).expect("loaded");
    assert_eq!(o["stage"], "qualified", "{o}");
    assert_eq!(o["currency"], "EUR");
    assert_eq!(o["close_date"], "2026-10-31");

    let shared = ids[42];
    let deal = share_and_partner_stage(
        &vendor,
        &reseller,
        &shared.to_string(),
        "business_validation",
    );
    wait_written_back(
        "the partner's stage written back to HubSpot",
        || fake.account.lock().patches.clone(),
        &shared.to_string(),
        "cosell_partner_stage",
        "business_validation",
    );

    for (n, id) in ids[1000..1050].iter().enumerate() {
        fake.edit(*id, "dealname", &format!("Renamed deal {n}"));
    }
    fake.edit(shared, "dealstage", "contractsent");
    for id in &ids[2000..2005] {
        fake.archive(*id);
    }
    // An expired token: retried once, then a clear error.
    fake.account.lock().unauthorized = 2;
    let out = sync(&vendor);
    assert!(!out.ok());
    assert!(
        out.stderr.contains("refused the private app token"),
        "{}",
        out.stderr
    );
    let out = sync(&vendor);
    assert!(out.ok(), "incremental: {}", out.stderr);
    let o = opportunity_by_external(&vendor, &ids[1049].to_string()).expect("edited");
    assert_eq!(o["name"], "Renamed deal 49");
    let archived: Vec<String> = ids[2000..2005].iter().map(u64::to_string).collect();
    assert_deletes_and_shared_stage(&vendor, &reseller, &deal, &archived);

    let answers = fake.account.lock().answers.len();
    assert!(answers > n_opps / 200, "answers logged: {answers}");
    assert_hubspot_exchanges_match_its_openapi(&fake);

    let status_text = vendor.get("/api/v1/crm").text;
    assert_secret_never_shown(&vendor, &[HS_TOKEN.to_string()], &[status_text]);
    vendor.stop();
}

#[test]
fn the_hubspot_fake_answers_as_hubspots_openapi_documents_say_and_refuses_bodies_they_do_not_allow()
{
    // Each endpoint the connector uses, called directly, error answers included; a request body
    // that HubSpot's document does not allow is refused with HubSpot's 400; a schema mismatch
    // names the JSON path.
    let fake = FakeHubspot::start(HS_TOKEN);
    let ids = fake.seed(3, 5);
    let url = |p: &str| format!("{}{p}", fake.url());
    let call = |m: &str, p: &str, body: Option<Value>, token: &str| {
        let bytes = body.map(|b| b.to_string().into_bytes());
        http(
            m,
            &url(p),
            Some(token),
            Some("application/json"),
            bytes.as_deref(),
        )
    };
    fake.archive(ids[4]);
    let deal = format!("/crm/v3/objects/deals/{}", ids[0]);
    let note_on = |deal_id: Value, category: &str| {
        json!({"properties": {"hs_timestamp": "2026-01-01T00:00:00.000Z", "hs_note_body": "co-sell"},
               "associations": [{"to": {"id": deal_id}, "types": [{"associationCategory": category, "associationTypeId": 214}]}]})
    };
    let requests = [
        (
            "pipelines",
            "GET",
            "/crm/v3/pipelines/deals".to_string(),
            None,
            200,
        ),
        (
            "search_deals",
            "POST",
            "/crm/v3/objects/deals/search".to_string(),
            Some(
                json!({"limit": 2, "sorts": ["hs_lastmodifieddate"], "properties": ["dealname", "dealstage"]}),
            ),
            200,
        ),
        (
            "search_companies",
            "POST",
            "/crm/v3/objects/companies/search".to_string(),
            Some(json!({"limit": 200, "after": "9900", "properties": ["name"]})),
            400,
        ),
        (
            "associations",
            "POST",
            "/crm/v4/associations/deals/companies/batch/read".to_string(),
            Some(json!({"inputs": [{"id": ids[0].to_string()}, {"id": "1"}]})),
            207,
        ),
        (
            "list_deals",
            "GET",
            "/crm/v3/objects/deals?archived=true&limit=100".to_string(),
            None,
            200,
        ),
        (
            "update_deal",
            "PATCH",
            deal.clone(),
            Some(json!({"properties": {"no_such_property": "x"}})),
            400,
        ),
        (
            "update_deal",
            "PATCH",
            deal.clone(),
            Some(json!({"properties": {"dealname": "Renamed"}})),
            200,
        ),
        (
            "create_note",
            "POST",
            "/crm/v3/objects/notes".to_string(),
            Some(note_on(json!(ids[0].to_string()), "HUBSPOT_DEFINED")),
            201,
        ),
        // Bodies HubSpot's document does not allow: a property value that is no string, no
        // `properties` at all, an association category that is not in the enum, an object id
        // as a number, a search limit as text.
        (
            "update_deal",
            "PATCH",
            deal.clone(),
            Some(json!({"properties": {"amount": 5000}})),
            400,
        ),
        (
            "update_deal",
            "PATCH",
            deal.clone(),
            Some(json!({"dealname": "Renamed"})),
            400,
        ),
        (
            "create_note",
            "POST",
            "/crm/v3/objects/notes".to_string(),
            Some(note_on(json!(ids[0].to_string()), "DEAL_TO_NOTE")),
            400,
        ),
        (
            "create_note",
            "POST",
            "/crm/v3/objects/notes".to_string(),
            Some(note_on(json!(ids[0]), "HUBSPOT_DEFINED")),
            400,
        ),
        (
            "search_deals",
            "POST",
            "/crm/v3/objects/deals/search".to_string(),
            Some(json!({"limit": "2"})),
            400,
        ),
    ];
    for (op, m, p, body, expected) in requests {
        let r = call(m, &p, body, HS_TOKEN);
        assert_eq!(r.status, expected, "{op} {p}: {}", r.text);
        openapi::check_answer(op, r.status, &r.json)
            .unwrap_or_else(|e| panic!("{op} {}: {e}\n{}", r.status, r.text));
    }
    let account = fake.account.lock();
    let refused: Vec<(&str, &str)> = account
        .refused_bodies
        .iter()
        .map(|(op, _, why)| (op.as_str(), why.as_str()))
        .collect();
    assert_eq!(refused.len(), 5, "{refused:?}");
    assert!(refused[0].1.contains("$.properties.amount"), "{refused:?}");
    assert!(
        refused[1].1.contains("missing required properties"),
        "{refused:?}"
    );
    assert!(
        refused[2]
            .1
            .contains("$.associations[0].types[0].associationCategory"),
        "{refused:?}"
    );
    assert!(
        refused[3].1.contains("$.associations[0].to.id"),
        "{refused:?}"
    );
    assert!(refused[4].1.contains("$.limit"), "{refused:?}");
    // Nothing a refused body asked for happened.
    assert_eq!(account.notes.len(), 1);
    assert_eq!(account.patches.len(), 1);
    assert_eq!(account.deals[&ids[0]].properties["amount"], "500");
    drop(account);
    let r = call("GET", "/crm/v3/pipelines/deals", None, "pat-wrong");
    assert_eq!(r.status, 401);
    openapi::check("Error", &r.json).expect("401 body");
    // The validator itself refuses a wrong shape, naming where.
    let wrong = json!({"results": [{"id": 5, "properties": {}, "createdAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-01-01T00:00:00Z"}], "total": 1});
    let e = openapi::check("CollectionResponseWithTotalSimplePublicObject", &wrong).unwrap_err();
    assert!(e.contains("$.results[0].id"), "{e}");
}

/// Opportunities of the lean flows below (refresh, activities, backup): a few query batches.
const FEW_OPPORTUNITIES: usize = 200;
/// The fake org's query batch in those flows, so 200 records are four batches.
const FEW_PER_BATCH: usize = 50;
const REFRESH_TOKEN: &str =
    "5Aep861TSESvWeug_xvFHRBTTbf_YrTWgEyjBJVAtlXJVYUZn1bBsTqHwMSuEN1kvHTNjmw1mRm";
const REFRESH_TOKEN_NEW: &str =
    "5Aep861TSESvWeug_xvFHRBTTbf_YrTWgEyjBJVAtlXJVYUZn1bBsTqHwMSuEN1kvHTNjmw2zQx";

/// The org issues `token`; the node connects with it (refresh-token flow) and syncs.
fn connect_by_refresh_token_and_sync(vendor: &Node, fake: &FakeSalesforce, token: &str) {
    fake.issue_refresh_token(token);
    let auth = SalesforceAuth::Refresh(token);
    let out = connect_salesforce(vendor, fake, auth, &["--interval", "3600"]);
    assert!(out.ok(), "connect: {}", out.stderr);
    let out = sync(vendor);
    assert!(out.ok(), "sync: {} {}", out.stdout, out.stderr);
}

#[test]
fn salesforce_refresh_token_renews_a_session_expired_mid_load_and_a_revoked_one_stops_with_what_to_do_and_nothing_half_written(
) {
    // Goal: with the refresh-token flow, an access token that expires between two query
    // batches is renewed and the load goes on from the batch it was at (no record lost, none
    // twice); a revoked refresh token ends the sync with an error that says what to do, the
    // batches before it kept whole, the rest untouched, and a new token finishes the job.
    // Method: the fake org ends sessions after a set number of calls and answers the refresh
    // grant as Salesforce does (`invalid_grant` once revoked).
    let (fake, ids) = salesforce_org(4, FEW_OPPORTUNITIES);
    fake.org.lock().batch = FEW_PER_BATCH;
    // The sync's session ends after the account query and the first opportunity batch.
    fake.org.lock().expire_after_calls = Some(2);
    let mut vendor = Node::init("Vendor Co");
    vendor.serve();
    connect_by_refresh_token_and_sync(&vendor, &fake, REFRESH_TOKEN);
    {
        let org = fake.org.lock();
        // The session ended once in the middle of the load and was renewed: the connect's
        // sign-in, the load's, the renewal (and one for the sync `crm sync` asked for when it
        // came while the load ran), all by the refresh token.
        assert_eq!(org.session_refusals, 1);
        assert!(
            (3..=4).contains(&org.grants.len()) && org.grants.iter().all(|g| g == "refresh_token"),
            "{:?}",
            org.grants
        );
        let batches: Vec<&String> = org
            .requests
            .iter()
            .filter(|r| r.starts_with("query "))
            .collect();
        let distinct: std::collections::BTreeSet<&&String> = batches.iter().collect();
        assert_eq!(
            batches.len(),
            FEW_OPPORTUNITIES / FEW_PER_BATCH - 1,
            "{batches:?}"
        );
        assert_eq!(
            distinct.len(),
            batches.len(),
            "a batch was read twice: {batches:?}"
        );
    }
    let status = crm_status(&vendor);
    assert_eq!(
        status["counts"]["opportunities"], FEW_OPPORTUNITIES as u64,
        "{status}"
    );
    assert_eq!(vendor.counts(), (4, FEW_OPPORTUNITIES as u64));

    // 120 opportunities edited in Salesforce, name and amount together: the incremental read
    // is three batches. An admin revokes the app's access after the first.
    let edited = 120;
    for (n, id) in ids[..edited].iter().enumerate() {
        fake.edit(id, "Name", json!(format!("Renamed {n}")));
        fake.edit(id, "Amount", json!(50_000.0 + n as f64));
    }
    fake.org.lock().revoke_after_calls = Some(2);
    let out = sync(&vendor);
    assert!(!out.ok(), "a revoked refresh token fails the sync");
    let text = vendor.cli(&["crm", "status"]);
    assert!(text.ok(), "{}", text.stderr);
    for needed in [
        "state        backing_off",
        "last error   Salesforce refused the refresh token",
        "invalid_grant",
        "revoked",
        "run `cosell crm connect salesforce --client-id ID --refresh-token-file FILE`",
    ] {
        assert!(
            text.stdout.contains(needed),
            "`crm status` lacks {needed:?}:\n{}",
            text.stdout
        );
    }
    assert!(
        vendor.dir().join("crm.json").exists(),
        "the connection is kept"
    );
    // Each record is the old one or the new one, never half of each; the new ones are the
    // first batch (which also re-reads the record at the cursor's second), in Salesforce's order.
    let renamed = |items: &[Value]| -> usize {
        let mut count = 0;
        for (n, id) in ids[..edited].iter().enumerate() {
            let o = find_by_external_id(items, id);
            let new_name = o["name"] == format!("Renamed {n}").as_str();
            let new_amount = cents(&o["amount"]) == (50_000 + n as i64) * 100;
            assert_eq!(new_name, new_amount, "{id} is half written: {o}");
            assert!(!new_name || count == n, "not in Salesforce's order: {o}");
            count += usize::from(new_name);
        }
        count
    };
    let items = vendor.list_all("/api/v1/opportunities", "", 500);
    assert_eq!(items.len(), FEW_OPPORTUNITIES);
    assert_eq!(renamed(&items), FEW_PER_BATCH - 1);

    // A new refresh token: connected again, the sync finishes the job, nothing twice.
    connect_by_refresh_token_and_sync(&vendor, &fake, REFRESH_TOKEN_NEW);
    let items = vendor.list_all("/api/v1/opportunities", "", 500);
    assert_eq!(items.len(), FEW_OPPORTUNITIES);
    assert_eq!(renamed(&items), edited);
    assert_eq!(vendor.counts(), (4, FEW_OPPORTUNITIES as u64));

    let mut secrets: Vec<String> = fake.org.lock().issued.clone();
    secrets.extend([REFRESH_TOKEN.to_string(), REFRESH_TOKEN_NEW.to_string()]);
    assert_secret_never_shown(
        &vendor,
        &secrets,
        &[text.stdout, vendor.get("/api/v1/crm").text],
    );
    vendor.stop();
}

/// Write-back as an activity (Salesforce Task, HubSpot note): once the partner's stage is
/// known, an activity holding the co-sell facts is on `shared` (`activities` reads the fake
/// CRM: the record each activity is on, and its text); every activity is on that record and
/// says something new; `touch` edits the record in the CRM, and syncing it again (twice) adds
/// none. Returns the activities.
fn assert_activity_write_back(
    vendor: &Node,
    activities: impl Fn() -> Vec<(String, String)>,
    shared: &str,
    touch: impl Fn(),
) -> Vec<(String, String)> {
    wait(
        "the co-sell facts as an activity on the shared record",
        || {
            activities().into_iter().find(|(on, text)| {
                on == shared && text.contains("partner stages: Reseller Co: committed")
            })
        },
    );
    let before = activities();
    let texts: std::collections::BTreeSet<&String> = before.iter().map(|(_, t)| t).collect();
    assert_eq!(
        texts.len(),
        before.len(),
        "the same facts written twice: {before:?}"
    );
    assert!(before.iter().all(|(on, _)| on == shared), "{before:?}");
    touch();
    for _ in 0..2 {
        let out = sync(vendor);
        assert!(out.ok(), "{} {}", out.stdout, out.stderr);
    }
    assert_eq!(activities(), before, "a sync wrote the same facts again");
    let written_back = crm_status(vendor)["counts"]["written_back"]
        .as_u64()
        .expect("count");
    assert_eq!(written_back, before.len() as u64);
    before
}

#[test]
fn salesforce_task_holds_the_co_sell_facts_on_the_shared_opportunity_and_a_resync_adds_none() {
    let (fake, ids) = salesforce_org(4, FEW_OPPORTUNITIES);
    let (mut vendor, reseller) = vendor_and_reseller(&[], NAME_STAGE_AND_DOMAIN);
    let out = connect_salesforce(
        &vendor,
        &fake,
        SalesforceAuth::Jwt(CLIENT_ID),
        &["--write-back-activity", "--interval", "3600"],
    );
    assert!(out.ok(), "connect: {}", out.stderr);
    assert!(sync(&vendor).ok());
    let shared = ids[42].clone();
    share_and_partner_stage(&vendor, &reseller, &shared, "committed");
    let tasks = assert_activity_write_back(
        &vendor,
        || {
            let org = fake.org.lock();
            org.tasks
                .iter()
                .map(|t| {
                    (
                        t["WhatId"].as_str().unwrap_or("").to_string(),
                        t["Description"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        },
        &shared,
        || fake.edit(&shared, "NextStep", json!("Call the partner")),
    );
    let org = fake.org.lock();
    let last = org.tasks.last().expect("a task");
    assert_eq!(last["Status"], "Completed", "{last}");
    assert_eq!(last["Subject"], "Co-sell update (cosell)", "{last}");
    assert!(
        tasks[tasks.len() - 1].1.contains("partners: Reseller Co"),
        "{tasks:?}"
    );
    assert!(
        org.patches.is_empty(),
        "no field was configured: {:?}",
        org.patches
    );
    drop(org);
    vendor.stop();
}

#[test]
fn hubspot_note_holds_the_co_sell_facts_on_the_shared_deal_and_a_restored_backup_goes_on_without_writing_it_twice(
) {
    // Goal: the note arrives associated with the deal (HubSpot's note → deal type 214), in a
    // body HubSpot's OpenAPI allows, once per change; `cosell backup` carries the connection
    // (credential included) and its sync state, and `restore` puts them back 0600, so the
    // restored node syncs on incrementally and writes no note again.
    let fake = FakeHubspot::start(HS_TOKEN);
    let ids = fake.seed(4, FEW_OPPORTUNITIES);
    let (mut vendor, reseller) = vendor_and_reseller(&[], NAME_STAGE_AND_DOMAIN);
    let out = connect_hubspot(
        &vendor,
        &fake,
        &["--write-back-activity", "--interval", "3600"],
    );
    assert!(out.ok(), "connect: {}", out.stderr);
    assert!(sync(&vendor).ok());
    let shared = ids[42];
    share_and_partner_stage(&vendor, &reseller, &shared.to_string(), "committed");
    let notes =
        || {
            let a = fake.account.lock();
            a.notes
            .iter()
            .map(|n| {
                let to = &n["associations"][0];
                assert_eq!(
                    to["types"],
                    json!([{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 214}]),
                    "{n}"
                );
                (
                    to["to"]["id"].as_str().unwrap_or("").to_string(),
                    n["properties"]["hs_note_body"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect::<Vec<_>>()
        };
    let written = assert_activity_write_back(&vendor, notes, &shared.to_string(), || {
        fake.edit(shared, "hs_next_step", "Call the partner")
    });
    assert_hubspot_exchanges_match_its_openapi(&fake);

    let file = vendor.scratch().join("vendor.backup");
    let out = vendor.cli(&["backup", file.to_str().expect("path")]);
    assert!(out.ok(), "backup: {}", out.stderr);
    assert!(
        out.stderr.contains("crm.json, crm-state.json"),
        "{}",
        out.stderr
    );
    let connection = std::fs::read(vendor.dir().join("crm.json")).expect("crm.json");
    let counts = vendor.counts();
    vendor.stop();
    let mut restored = Node::uninitialized("Restored Vendor");
    let out = restore_backup(&file, &restored.dir());
    assert!(out.ok(), "restore: {}", out.stderr);
    use std::os::unix::fs::PermissionsExt;
    for name in ["crm.json", "crm-state.json"] {
        let mode = std::fs::metadata(restored.dir().join(name))
            .expect(name)
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name}");
    }
    assert_eq!(
        std::fs::read(restored.dir().join("crm.json")).expect("crm.json"),
        connection
    );
    restored.id = out.stdout.trim().to_string();
    restored.serve();
    let status = crm_status(&restored);
    assert_eq!(status["connected"], true, "{status}");
    assert_eq!(status["initial_load_done"], true, "{status}");
    fake.edit(ids[7], "dealname", "Renamed after the restore");
    let out = sync(&restored);
    assert!(out.ok(), "{} {}", out.stdout, out.stderr);
    let last_search = fake
        .account
        .lock()
        .searches
        .last()
        .cloned()
        .expect("a search");
    assert!(
        last_search["filterGroups"][0]["filters"][0]["propertyName"] == "hs_lastmodifieddate",
        "the restored node reads incrementally: {last_search}"
    );
    let o = opportunity_by_external(&restored, &ids[7].to_string()).expect("synced");
    assert_eq!(o["name"], "Renamed after the restore");
    assert_eq!(restored.counts(), counts);
    assert_eq!(notes(), written, "the restored node wrote a note again");
    restored.stop();
}

#[test]
fn crm_routes_refuse_what_they_cannot_take() {
    let mut node = Node::init("Vendor Co");
    node.serve();
    let r = node.post("/api/v1/crm/sync", &json!({}));
    assert_eq!(r.status, 404, "{}", r.text);
    let put = |body: Value| {
        let bytes = body.to_string().into_bytes();
        node.request(
            "PUT",
            "/api/v1/crm/connection",
            Some("application/json"),
            Some(&bytes),
        )
    };
    // A HubSpot token offered for Salesforce, an unknown field, a stage that is no ACE stage.
    let r = put(
        json!({"vendor": "salesforce", "auth": {"flow": "private_app_token", "token": "pat-x"},
                       "fields": {"opportunity.colour": "Colour__c"}, "stages": {"Negotiation": "almost"}}),
    );
    assert_eq!(r.status, 422, "{}", r.text);
    let fields = detail_fields(&r.json);
    assert!(
        fields.contains(&"auth")
            && fields.contains(&"fields.opportunity.colour")
            && fields.contains(&"stages.Negotiation"),
        "{}",
        r.text
    );
    let r = put(
        json!({"vendor": "hubspot", "auth": {"flow": "private_app_token", "token": "pat-x"}, "colour": 1}),
    );
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(detail_fields(&r.json), ["colour"], "{}", r.text);
    // The CRM refuses the token: 422 naming the credential and HubSpot's reason; nothing stored.
    let fake = FakeHubspot::start(HS_TOKEN);
    let r = put(
        json!({"vendor": "hubspot", "base_url": fake.url(), "auth": {"flow": "private_app_token", "token": "pat-wrong-token"}}),
    );
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(detail_fields(&r.json), ["auth"], "{}", r.text);
    assert!(
        r.text.contains("INVALID_AUTHENTICATION") && !r.text.contains("pat-wrong-token"),
        "{}",
        r.text
    );
    assert_eq!(crm_status(&node)["connected"], false);
    let r = node.request("DELETE", "/api/v1/crm/connection", None, None);
    assert_eq!(r.status, 404, "{}", r.text);
}

/// How long one command of the benchmark may take (100,000 records in a debug build).
const BENCH_CLI_TIMEOUT: Duration = Duration::from_secs(1800);

#[test]
#[ignore = "benchmark (BENCHMARKS.md, CRM connectors): 100,000 opportunities through the fake Salesforce against the CSV import of the same records; minutes in a debug build"]
fn bench_salesforce_initial_load_against_the_csv_import_of_the_same_records() {
    let n: usize = std::env::var("COSELL_CRM_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let accounts = n / 50;
    let (fake, ids) = salesforce_org(accounts, n);

    // The same records as the CSV files a Salesforce export gives, for the CSV import.
    let mut node = Node::init("CSV Co");
    node.serve();
    let mut accounts_csv = String::from(
        "Account ID,Account Name,Website,Industry,Billing Country,Type,Account Owner\n",
    );
    let mut opps_csv = String::from("Opportunity ID,Account ID,Opportunity Name,Stage,Amount,Close Date,Opportunity Owner,Next Step,Description\n");
    {
        let org = fake.org.lock();
        for (id, row) in &org.accounts {
            let f = |k: &str| {
                row.fields
                    .get(k)
                    .and_then(|v| v.as_str())
                    .unwrap_or("")
                    .to_string()
            };
            accounts_csv.push_str(&format!(
                "{id},{},{},{},{},{},Ana Owner\n",
                f("Name"),
                f("Website"),
                f("Industry"),
                f("BillingCountry"),
                f("Type")
            ));
        }
        for id in &ids {
            let row = &org.opportunities[id];
            let f = |k: &str| {
                row.fields
                    .get(k)
                    .map(|v| match v {
                        Value::String(s) => s.clone(),
                        Value::Null => String::new(),
                        other => other.to_string(),
                    })
                    .unwrap_or_default()
            };
            opps_csv.push_str(&format!(
                "{id},{},{},{},{},{},Ana Owner,,\n",
                f("AccountId"),
                f("Name"),
                f("StageName"),
                f("Amount"),
                f("CloseDate")
            ));
        }
    }
    let dir = node.scratch();
    let a = write_file(&dir, "accounts.csv", accounts_csv.as_bytes());
    let o = write_file(&dir, "opportunities.csv", opps_csv.as_bytes());
    let started = std::time::Instant::now();
    assert!(node.cli(&["import", "accounts", a.to_str().unwrap()]).ok());
    let data = node.dir();
    let out = run_cosell(
        &[
            "import",
            "opportunities",
            o.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
        ],
        &[],
        BENCH_CLI_TIMEOUT,
    );
    assert!(out.ok(), "{}", out.stderr);
    let csv_s = started.elapsed().as_secs_f64();
    assert_eq!(node.counts(), (accounts as u64, n as u64));

    let mut crm = Node::init("CRM Co");
    crm.serve();
    // From the connect (it signs in and starts the load) to the end of the load.
    let started = std::time::Instant::now();
    let out = connect_salesforce(
        &crm,
        &fake,
        SalesforceAuth::Jwt(CLIENT_ID),
        &["--interval", "86400"],
    );
    assert!(out.ok(), "{}", out.stderr);
    let data = crm.dir();
    let out = run_cosell(
        &["crm", "sync", "--data", data.to_str().unwrap()],
        &[],
        BENCH_CLI_TIMEOUT,
    );
    assert!(out.ok(), "{}", out.stderr);
    let crm_s = started.elapsed().as_secs_f64();
    assert_eq!(crm.counts(), (accounts as u64, n as u64));
    let records = (n + accounts) as f64;
    eprintln!("BENCH {n} opportunities + {accounts} accounts: CSV import {csv_s:.1} s ({:.0} records/s); Salesforce initial load through the fake {crm_s:.1} s ({:.0} records/s); ratio {:.2}",
              records / csv_s, records / crm_s, csv_s / crm_s);
    node.stop();
    crm.stop();
}
