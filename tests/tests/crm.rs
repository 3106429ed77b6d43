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
use cosell_e2e::crm_fake::salesforce::{self as sf, FakeSalesforce};
use cosell_e2e::*;
use serde_json::{json, Value};
use std::time::Duration;

/// Opportunities loaded per connector: the figure (`COSELL_CRM_E2E_RECORDS` sets
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

#[test]
fn salesforce_loads_20000_opportunities_syncs_edits_and_deletes_and_writes_the_partner_stage_back()
{
    let key_pem = std::fs::read_to_string(fixture("crm/connected-app-key.pem")).expect("key");
    let public = std::fs::read(fixture("crm/connected-app-public.der")).expect("public key");
    let n_opps = opportunities();
    let fake = FakeSalesforce::start(CLIENT_ID, SF_USER, public);
    let ids = fake.seed(ACCOUNTS, n_opps);
    // One record fails validation: a stage neither the mapping nor the import's table knows.
    let bad = ids[777].clone();
    fake.edit(&bad, "StageName", json!("Waiting for Godot"));
    fake.org
        .lock()
        .opportunity_fields
        .insert("Cosell_Partner_Stage__c".into());

    let (mut vendor, reseller) = vendor_and_reseller(&[], NAME_STAGE_AND_DOMAIN);
    let key_file = write_file(&vendor.scratch(), "key.pem", key_pem.as_bytes());
    // A wrong consumer key is refused at connect, naming Salesforce's reason.
    let out = vendor.cli(&[
        "crm",
        "connect",
        "salesforce",
        "--login-url",
        fake.url(),
        "--client-id",
        "wrong",
        "--username",
        SF_USER,
        "--private-key",
        key_file.to_str().unwrap(),
    ]);
    assert!(!out.ok(), "a refused sign-in must fail");
    assert!(out.stderr.contains("invalid_grant"), "{}", out.stderr);
    assert_eq!(crm_status(&vendor)["connected"], false);

    let out = vendor.cli(&[
        "crm",
        "connect",
        "salesforce",
        "--login-url",
        fake.url(),
        "--client-id",
        CLIENT_ID,
        "--username",
        SF_USER,
        "--private-key",
        key_file.to_str().unwrap(),
        "--write-back",
        "partner_stages=Cosell_Partner_Stage__c",
        "--interval",
        "3600",
    ]);
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
    let written = wait("the partner's stage written back to Salesforce", || {
        let org = fake.org.lock();
        org.patches
            .iter()
            .find(|(id, body)| {
                id == &shared
                    && body["Cosell_Partner_Stage__c"]
                        .as_str()
                        .is_some_and(|v| v.contains("committed"))
            })
            .cloned()
    });
    assert!(
        written.1["Cosell_Partner_Stage__c"]
            .as_str()
            .unwrap()
            .starts_with("Reseller Co: committed"),
        "{:?}",
        written.1
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
    for id in &deleted {
        assert!(
            opportunity_by_external(&vendor, id).is_none(),
            "{id} deleted in Salesforce"
        );
    }
    let status = crm_status(&vendor);
    assert_eq!(status["counts"]["deleted"], 5, "{status}");
    assert_eq!(vendor.counts().1, (n_opps - 1 - 5) as u64);
    // The shared opportunity's new stage reached the partner through the policy, as an API
    // edit would.
    wait("the synced stage on the partner", || {
        let d = reseller.get(&format!("/api/v1/deals/{deal}"));
        (d.json["fields"]["stage"] == "committed").then_some(())
    });

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
    let token_file = write_file(&vendor.scratch(), "token", HS_TOKEN.as_bytes());
    let out = vendor.cli(&[
        "crm",
        "connect",
        "hubspot",
        "--api-url",
        fake.url(),
        "--token-file",
        token_file.to_str().unwrap(),
        "--write-back",
        "partner_stages=cosell_partner_stage",
        "--interval",
        "3600",
    ]);
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
    wait("the partner's stage written back to HubSpot", || {
        let a = fake.account.lock();
        a.patches
            .iter()
            .any(|(id, p)| {
                id == &shared.to_string()
                    && p["cosell_partner_stage"]
                        .as_str()
                        .is_some_and(|v| v.contains("business_validation"))
            })
            .then_some(())
    });

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
    for id in &ids[2000..2005] {
        assert!(
            opportunity_by_external(&vendor, &id.to_string()).is_none(),
            "{id} archived in HubSpot"
        );
    }
    assert_eq!(crm_status(&vendor)["counts"]["deleted"], 5);
    wait("the synced stage on the partner", || {
        let d = reseller.get(&format!("/api/v1/deals/{deal}"));
        (d.json["fields"]["stage"] == "committed").then_some(())
    });

    // Every answer the fake gave matches HubSpot's published schemas, and so does every
    // request the connector sent.
    let spec: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("hubspot-openapi/crm-subset.json")).expect("spec"),
    )
    .expect("spec JSON");
    let answers = fake.account.lock().answers.clone();
    assert!(
        answers.len() > n_opps / 200,
        "answers logged: {}",
        answers.len()
    );
    for (op, status, body) in &answers {
        let schema = spec["operations"][op][status.to_string()]
            .as_str()
            .unwrap_or_else(|| panic!("no schema for {op} {status}"));
        if let Err(e) = validate(
            &spec,
            &json!({"$ref": format!("#/schemas/{schema}")}),
            body,
            "$",
        ) {
            panic!("{op} {status} does not match HubSpot's {schema}: {e}\n{body}");
        }
    }
    for body in fake.account.lock().searches.iter() {
        validate(
            &spec,
            &json!({"$ref": "#/schemas/PublicObjectSearchRequest"}),
            body,
            "$",
        )
        .expect("search request");
    }

    let status_text = vendor.get("/api/v1/crm").text;
    assert_secret_never_shown(&vendor, &[HS_TOKEN.to_string()], &[status_text]);
    vendor.stop();
}

#[test]
fn the_hubspot_fake_answers_as_hubspots_openapi_documents_say() {
    // Each endpoint the connector uses, called directly, error answers included; a schema
    // mismatch names the JSON path.
    let fake = FakeHubspot::start(HS_TOKEN);
    let ids = fake.seed(3, 5);
    let spec: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("hubspot-openapi/crm-subset.json")).expect("spec"),
    )
    .expect("spec JSON");
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
    let requests = [
        (
            "pipelines",
            "GET",
            "/crm/v3/pipelines/deals".to_string(),
            None,
        ),
        (
            "search_deals",
            "POST",
            "/crm/v3/objects/deals/search".to_string(),
            Some(
                json!({"limit": 2, "sorts": ["hs_lastmodifieddate"], "properties": ["dealname", "dealstage"]}),
            ),
        ),
        (
            "search_companies",
            "POST",
            "/crm/v3/objects/companies/search".to_string(),
            Some(json!({"limit": 200, "after": "9900", "properties": ["name"]})),
        ),
        (
            "associations",
            "POST",
            "/crm/v4/associations/deals/companies/batch/read".to_string(),
            Some(json!({"inputs": [{"id": ids[0].to_string()}, {"id": "1"}]})),
        ),
        (
            "list_deals",
            "GET",
            "/crm/v3/objects/deals?archived=true&limit=100".to_string(),
            None,
        ),
        (
            "update_deal",
            "PATCH",
            format!("/crm/v3/objects/deals/{}", ids[0]),
            Some(json!({"properties": {"no_such_property": "x"}})),
        ),
        (
            "update_deal",
            "PATCH",
            format!("/crm/v3/objects/deals/{}", ids[0]),
            Some(json!({"properties": {"dealname": "Renamed"}})),
        ),
        (
            "create_note",
            "POST",
            "/crm/v3/objects/notes".to_string(),
            Some(
                json!({"properties": {"hs_timestamp": "2026-01-01T00:00:00.000Z", "hs_note_body": "co-sell"},
            "associations": [{"to": {"id": ids[0].to_string()}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 214}]}]}),
            ),
        ),
    ];
    let mut statuses = Vec::new();
    for (op, m, p, body) in requests {
        if let (Some(b), Some(req)) = (&body, spec["requests"][op].as_str()) {
            validate(&spec, &json!({"$ref": format!("#/schemas/{req}")}), b, "$")
                .unwrap_or_else(|e| panic!("request of {op}: {e}"));
        }
        let r = call(m, &p, body, HS_TOKEN);
        let schema = spec["operations"][op][r.status.to_string()]
            .as_str()
            .unwrap_or_else(|| panic!("{op} answered {}: {}", r.status, r.text));
        validate(
            &spec,
            &json!({"$ref": format!("#/schemas/{schema}")}),
            &r.json,
            "$",
        )
        .unwrap_or_else(|e| panic!("{op} {}: {e}\n{}", r.status, r.text));
        statuses.push(r.status);
    }
    assert_eq!(statuses, [200, 200, 400, 207, 200, 400, 200, 201]);
    let r = call("GET", "/crm/v3/pipelines/deals", None, "pat-wrong");
    assert_eq!(r.status, 401);
    validate(&spec, &json!({"$ref": "#/schemas/Error"}), &r.json, "$").expect("401 body");
    // The validator itself refuses a wrong shape, naming where.
    let wrong = json!({"results": [{"id": 5, "properties": {}, "createdAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-01-01T00:00:00Z"}], "total": 1});
    let e = validate(
        &spec,
        &json!({"$ref": "#/schemas/CollectionResponseWithTotalSimplePublicObject"}),
        &wrong,
        "$",
    )
    .unwrap_err();
    assert!(e.contains("$.results[0].id"), "{e}");
}

/// Checks `value` against an OpenAPI 3.0 schema (the subset HubSpot's documents use: `$ref`,
/// `type`, `required`, `properties`, `additionalProperties`, `items`, `enum`, `nullable`,
/// `format: date-time`); the error names the JSON path. Unknown properties are allowed, as
/// OpenAPI allows them unless `additionalProperties` says otherwise.
fn validate(spec: &Value, schema: &Value, value: &Value, path: &str) -> Result<(), String> {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.trim_start_matches("#/schemas/");
        let target = &spec["schemas"][name];
        if target.is_null() {
            return Err(format!("{path}: no schema {name}"));
        }
        return validate(spec, target, value, path);
    }
    if value.is_null() {
        return if schema["nullable"] == true || schema.get("type").is_none() {
            Ok(())
        } else {
            Err(format!("{path}: null where {} is required", schema["type"]))
        };
    }
    if let Some(options) = schema["enum"].as_array() {
        if !options.contains(value) {
            return Err(format!(
                "{path}: {value} is not one of {schema}",
                schema = schema["enum"]
            ));
        }
    }
    match schema["type"].as_str() {
        Some("object") => {
            let obj = value
                .as_object()
                .ok_or_else(|| format!("{path}: expected an object, got {value}"))?;
            for r in schema["required"].as_array().into_iter().flatten() {
                let r = r.as_str().unwrap_or_default();
                if !obj.contains_key(r) {
                    return Err(format!("{path}: missing required {r}"));
                }
            }
            for (k, v) in obj {
                let p = format!("{path}.{k}");
                match schema["properties"].get(k) {
                    Some(s) => validate(spec, s, v, &p)?,
                    None => match &schema["additionalProperties"] {
                        Value::Object(_) => validate(spec, &schema["additionalProperties"], v, &p)?,
                        Value::Bool(false) => return Err(format!("{p}: not allowed")),
                        _ => {}
                    },
                }
            }
            Ok(())
        }
        Some("array") => {
            let items = value
                .as_array()
                .ok_or_else(|| format!("{path}: expected an array, got {value}"))?;
            for (i, v) in items.iter().enumerate() {
                validate(spec, &schema["items"], v, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        Some("string") => {
            let s = value
                .as_str()
                .ok_or_else(|| format!("{path}: expected a string, got {value}"))?;
            if schema["format"] == "date-time" && cosell::domain::crm::iso_ms(s).is_none() {
                return Err(format!("{path}: '{s}' is not a date-time"));
            }
            Ok(())
        }
        Some("integer") => value
            .as_i64()
            .map(|_| ())
            .ok_or_else(|| format!("{path}: expected an integer, got {value}")),
        Some("boolean") => value
            .as_bool()
            .map(|_| ())
            .ok_or_else(|| format!("{path}: expected a boolean, got {value}")),
        _ => Ok(()),
    }
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
    let key_pem = std::fs::read_to_string(fixture("crm/connected-app-key.pem")).expect("key");
    let public = std::fs::read(fixture("crm/connected-app-public.der")).expect("public key");
    let fake = FakeSalesforce::start(CLIENT_ID, SF_USER, public);
    let ids = fake.seed(accounts, n);

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
    let key_file = write_file(&crm.scratch(), "key.pem", key_pem.as_bytes());
    // From the connect (it signs in and starts the load) to the end of the load.
    let started = std::time::Instant::now();
    let out = crm.cli(&[
        "crm",
        "connect",
        "salesforce",
        "--login-url",
        fake.url(),
        "--client-id",
        CLIENT_ID,
        "--username",
        SF_USER,
        "--private-key",
        key_file.to_str().unwrap(),
        "--interval",
        "86400",
    ]);
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
