//! Fixes for what an outside acceptance test found, each a rule stated by one test, with real
//! `cosell` processes on loopback.

mod workflows_common;

use cosell_e2e::{write_file, Node};
use serde_json::json;
use workflows_common::*;

#[test]
fn a_used_invite_is_refused_with_a_sentence_asking_for_a_new_one() {
    // Goal: a second node joining with an invite another node already used learns why it cannot
    // join (not "cannot reach the inviting node"), through the CLI and the API. Method: A
    // invites, B joins; C then joins with the same token, by `partner join` and by
    // `POST /partners/join`.
    let mut a = Node::init("Inviter A");
    let mut b = Node::init("Joiner B");
    let mut c = Node::init("Latecomer C");
    a.serve();
    b.serve();
    c.serve();
    let out = a.cli(&["partner", "invite", "--type", "reseller"]);
    assert!(out.ok(), "invite: {}", out.stderr);
    let token = out.stdout.trim().to_string();
    let out = b.cli(&["partner", "join", &token]);
    assert!(out.ok(), "join: {}", out.stderr);

    let out = c.cli(&["partner", "join", &token]);
    assert!(!out.ok(), "a used invite joins nobody: {}", out.stdout);
    assert!(
        out.stderr.contains(
            "the inviting node refused the invite: it was already used; ask for a new one"
        ),
        "{}",
        out.stderr
    );
    let r = c.post("/api/v1/partners/join", &json!({"token": token}));
    assert_eq!(r.status, 410, "{}", r.text);
    assert_eq!(
        r.json["error"],
        "the inviting node refused the invite: it was already used; ask for a new one"
    );
    let partners = a.get("/api/v1/partners");
    assert!(!partners.text.contains(c.id.as_str()), "{}", partners.text);
}

const POLICY: &str = r#"
[opportunities]
fields = ["name", "stage", "account.domain"]
"#;

/// A vendor and a reseller, partners, with a policy that lets the reseller see a deal's name.
fn vendor_and_reseller() -> (Node, Node) {
    let mut vendor = Node::init("Vendor Co");
    let mut reseller = Node::init("Reseller Co");
    vendor.serve();
    reseller.serve();
    partner(&vendor, &reseller, "reseller", "vendor");
    put_policy(&vendor, &reseller.id, POLICY);
    (vendor, reseller)
}

#[test]
fn sharing_an_opportunity_again_with_the_same_partner_is_refused_naming_the_deal() {
    // Goal: one opportunity makes at most one deal per partner, through `POST /deals` and
    // `cosell share` as through `map --propose`. Method: share once (201), then again by API
    // (409) and CLI (non-zero exit), each naming the first deal; the vendor still has one deal.
    let (vendor, reseller) = vendor_and_reseller();
    let opp = opportunity(&vendor, "twice.example", json!({}));
    let deal = share_deal(&vendor, &opp, &[&reseller.id]);
    let expected = format!("opportunity {opp} is already shared with Reseller Co as deal {deal}");

    let share = json!({"opportunity_id": opp, "partners": [reseller.id]});
    // A role that is none is a 422 naming `role`, as in a registration.
    let r = vendor.post(
        "/api/v1/deals",
        &json!({"opportunity_id": opp, "partners": [reseller.id], "role": "boss"}),
    );
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(detail_fields(&r.json), ["role"], "{}", r.text);
    let r = reseller.post(
        "/api/v1/registrations",
        &json!({"vendor": "Vendor Co", "account_name": "Role Inc",
                "account_domain": "role.example", "role": "boss"}),
    );
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(detail_fields(&r.json), ["role"], "{}", r.text);
    // A key the route does not take is named, not ignored.
    let typo = json!({"opportunity_id": opp, "partners": [reseller.id], "partner": "x"});
    let r = vendor.post("/api/v1/deals", &typo);
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(detail_fields(&r.json), ["partner"], "{}", r.text);
    let again = vendor.post("/api/v1/deals", &share);
    assert_eq!(again.status, 409, "{}", again.text);
    assert_eq!(again.json["error"], expected.as_str());
    let out = vendor.cli(&["share", &opp, "--with", "Reseller Co"]);
    assert!(!out.ok(), "a second share: {}", out.stdout);
    assert!(out.stderr.contains(&expected), "{}", out.stderr);
    let deals = vendor.get("/api/v1/deals").json["items"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(deals, 1);

    // Once the partner declined it, the opportunity may be offered again, as a new deal.
    wait("the invitation on the reseller", || {
        inbox_item(&reseller, &deal)
    });
    let r = reseller.post(&format!("/api/v1/deals/{deal}/decline"), &json!({}));
    assert_eq!(r.status, 200, "{}", r.text);
    let again = wait("the decline on the vendor", || {
        let r = vendor.post("/api/v1/deals", &share);
        (r.status == 201).then_some(r)
    });
    assert_ne!(again.json["id"], deal.as_str(), "{}", again.text);
}

#[test]
fn the_partner_list_pages_by_limit_and_cursor_like_every_other_list() {
    // Goal: `GET /partners` honours `limit` (at most 1000) and `cursor` as the other lists do.
    // Method: a vendor with two partners reads them one per page, then asks for too many.
    let mut vendor = Node::init("Vendor Co");
    let mut reseller = Node::init("Reseller Co");
    let mut si = Node::init("SI Co");
    vendor.serve();
    reseller.serve();
    si.serve();
    partner(&vendor, &reseller, "reseller", "vendor");
    partner(&vendor, &si, "si", "vendor");

    let first = vendor.get("/api/v1/partners?limit=1");
    assert_eq!(first.status, 200, "{}", first.text);
    let items = first.json["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{}", first.text);
    let cursor = first.json["next_cursor"].as_str().expect("a next page");
    assert_eq!(items[0]["id"], cursor);
    let second = vendor.get(&format!("/api/v1/partners?limit=1&cursor={cursor}"));
    assert_eq!(second.status, 200, "{}", second.text);
    let rest = second.json["items"].as_array().expect("items");
    assert_eq!(rest.len(), 1, "{}", second.text);
    assert_ne!(rest[0]["id"], items[0]["id"]);
    assert_eq!(second.json["next_cursor"], serde_json::Value::Null);

    let too_many = vendor.get("/api/v1/partners?limit=1001");
    assert_eq!(too_many.status, 400, "{}", too_many.text);
    assert_eq!(too_many.json["error"], "limit: must be 1 to 1000, not 1001");
    // Zero is named the same way, with the parameter in the details.
    let zero = vendor.get("/api/v1/accounts?limit=0");
    assert_eq!(zero.status, 400, "{}", zero.text);
    assert_eq!(
        zero.json["details"][0]["parameter"], "limit",
        "{}",
        zero.text
    );
    let stage = vendor.get("/api/v1/opportunities?stage=bad");
    assert_eq!(stage.status, 400, "{}", stage.text);
    assert_eq!(
        stage.json["details"][0]["parameter"], "stage",
        "{}",
        stage.text
    );
    assert!(
        stage.json["error"]
            .as_str()
            .unwrap_or_default()
            .starts_with("stage: 'bad' is not a stage"),
        "{}",
        stage.text
    );
    let bad = vendor.get("/api/v1/partners?cursor=not-a-node-id");
    assert_eq!(bad.status, 400, "{}", bad.text);
    let out = vendor.cli(&["partner", "list"]);
    assert!(out.ok(), "{}", out.stderr);
    assert!(
        out.stdout.contains("Reseller Co") && out.stdout.contains("SI Co"),
        "{}",
        out.stdout
    );
}

/// Shares a new opportunity on `domain` with the reseller and waits for its invitation.
fn shared_deal(vendor: &Node, reseller: &Node, domain: &str) -> String {
    let opp = opportunity(vendor, domain, json!({}));
    let deal = share_deal(vendor, &opp, &[&reseller.id]);
    wait("the invitation", || inbox_item(reseller, &deal));
    deal
}

#[test]
fn answering_an_already_answered_invitation_is_a_conflict() {
    let (vendor, reseller) = vendor_and_reseller();
    let deal = shared_deal(&vendor, &reseller, "answered.example");
    let accept = format!("/api/v1/deals/{deal}/accept");
    let r = reseller.post(&accept, &json!({}));
    assert_eq!(r.status, 200, "{}", r.text);

    let r = reseller.post(&format!("/api/v1/deals/{deal}/decline"), &json!({}));
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(
        r.json["error"],
        format!("the invitation to deal {deal} was already answered: accepted").as_str()
    );
    // Accepting again asks for what already holds: a no-op.
    let r = reseller.post(&accept, &json!({}));
    assert_eq!(r.status, 200, "{}", r.text);
}

#[test]
fn the_deal_list_filters_by_partner_name_and_refuses_an_unknown_partner() {
    let (vendor, reseller) = vendor_and_reseller();
    let deal = shared_deal(&vendor, &reseller, "by-name.example");
    for partner in [reseller.id.as_str(), "Reseller%20Co", "reseller%20co"] {
        let r = vendor.get(&format!("/api/v1/deals?partner={partner}"));
        assert_eq!(r.status, 200, "{}", r.text);
        let ids: Vec<&str> = r.json["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter_map(|d| d["id"].as_str())
            .collect();
        assert_eq!(ids, [deal.as_str()], "partner={partner}");
    }
    let r = vendor.get("/api/v1/deals?partner=Nobody%20Inc");
    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(r.json["error"], "no partner with id or name 'Nobody Inc'");
}

#[test]
fn listing_no_deals_says_so_and_json_stays_empty_json() {
    let mut node = Node::init("Lonely Co");
    node.serve();
    let out = node.cli(&["deals", "list"]);
    assert!(out.ok(), "{}", out.stderr);
    assert_eq!(out.stdout, "");
    assert!(out.stderr.contains("no deals yet"), "{}", out.stderr);
    let out = node.cli(&["deals", "list", "--json"]);
    assert!(out.ok(), "{}", out.stderr);
    let answer: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON");
    assert_eq!(answer, json!({"items": [], "next_cursor": null}));
}

#[test]
fn an_opportunity_with_a_description_longer_than_a_deal_field_is_shared_cut_and_marked() {
    // Goal: an opportunity may hold 32,000 characters of description (the CRM limit the import
    // and API take), and sharing it under a policy that names `description` works: the deal
    // carries the text cut to a deal field's size and marked `…`, and the preview shows the same.
    // Method: a 30,000-character description of two-byte characters, shared by `POST /deals`.
    let (vendor, reseller) = vendor_and_reseller();
    put_policy(
        &vendor,
        &reseller.id,
        "[opportunities]\nfields = [\"name\", \"stage\", \"description\"]\n",
    );
    let policy_file = write_file(
        &vendor.scratch(),
        "texts.toml",
        b"[opportunities]\nfields = [\"name\", \"stage\", \"description\"]\n",
    );
    let check = vendor.cli(&["policy", "check", policy_file.to_str().expect("utf-8")]);
    assert!(
        check.stderr.contains("description longer than 16 KiB"),
        "policy check says long texts are cut: {}",
        check.stderr
    );
    let long = "ü".repeat(30_000);
    let opp = opportunity(&vendor, "long.example", json!({"description": long}));
    let preview = vendor.get(&format!(
        "/api/v1/partners/{}/policy/preview?opportunity_id={opp}",
        reseller.id
    ));
    assert_eq!(preview.status, 200, "{}", preview.text);
    let previewed = preview.text.clone();

    let deal = share_deal(&vendor, &opp, &[&reseller.id]);
    let seen = vendor.get(&format!("/api/v1/deals/{deal}"));
    assert_eq!(seen.status, 200, "{}", seen.text);
    let shared = seen.json["fields"]["description"]
        .as_str()
        .expect("the description is shared");
    let kept = shared.strip_suffix('…').expect("marked as cut");
    assert!(long.starts_with(kept), "a prefix of the description");
    assert!(shared.len() <= 16 * 1024, "{} bytes", shared.len());
    assert!(kept.chars().count() > 8_000, "cut far too short");
    assert!(previewed.contains(shared), "the preview shows what is sent");
}

#[test]
fn shares_of_one_opportunity_sent_at_the_same_moment_make_one_deal() {
    // Goal: the one-deal-per-partner rule holds under concurrency: of several `POST /deals` for
    // the same opportunity and partner sent at once, one makes the deal and the others are 409.
    // Method: 8 threads released together by a barrier.
    let (vendor, reseller) = vendor_and_reseller();
    let opp = opportunity(&vendor, "race.example", json!({}));
    let share = json!({"opportunity_id": opp, "partners": [reseller.id]});
    let barrier = std::sync::Barrier::new(8);
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    vendor.post("/api/v1/deals", &share).status
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    assert_eq!(
        statuses.iter().filter(|&&s| s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&s| s == 409).count(),
        7,
        "{statuses:?}"
    );
    let deals = vendor.get("/api/v1/deals").json["items"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(deals, 1);
}

/// `PATCH path` with a JSON body and the admin token.
fn patch(node: &Node, path: &str, body: serde_json::Value) -> cosell_e2e::Response {
    let bytes = serde_json::to_vec(&body).expect("JSON");
    node.request("PATCH", path, Some("application/json"), Some(&bytes))
}

#[test]
fn an_account_is_changed_by_patch_and_shared_deals_follow() {
    // Goal: `PATCH /accounts/{id}` changes the fields it names, null clears an optional one,
    // bad values are 422 naming each field, a taken external id is 409, an unknown id 404; a
    // deal that shares the account's name shows the new name. Method: a vendor shares an
    // opportunity under a policy with `account.name`, then renames its account.
    let (vendor, reseller) = vendor_and_reseller();
    put_policy(
        &vendor,
        &reseller.id,
        "[opportunities]\nfields = [\"name\", \"stage\", \"account.name\"]\n",
    );
    let opp = opportunity(&vendor, "patched.example", json!({}));
    let deal = share_deal(&vendor, &opp, &[&reseller.id]);
    let account_id = vendor.get(&format!("/api/v1/opportunities/{opp}")).json["account_id"]
        .as_str()
        .expect("account id")
        .to_string();
    let path = format!("/api/v1/accounts/{account_id}");

    let r = patch(
        &vendor,
        &path,
        json!({"name": "Renamed GmbH", "owner": "Dana", "domain": "https://www.Renamed.example/about", "id": account_id}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["name"], "Renamed GmbH");
    assert_eq!(r.json["domain"], "renamed.example");
    assert_eq!(r.json["owner"], "Dana");
    let r = patch(&vendor, &path, json!({"id": account_id.to_lowercase()}));
    assert_eq!(r.status, 200, "a lower-cased id is the same id: {}", r.text);
    assert_eq!(
        r.json["status"], "prospect",
        "unnamed fields keep their values"
    );
    let r = patch(&vendor, &path, json!({"owner": null}));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["owner"], serde_json::Value::Null);
    let r = patch(&vendor, &path, json!({"status": null}));
    assert_eq!(r.status, 422, "status is not optional: {}", r.text);
    assert_eq!(vendor.get(&path).json["name"], "Renamed GmbH");

    let r = patch(
        &vendor,
        &path,
        json!({"domain": "someone@gmail.com", "status": "friend", "name": "", "colour": "red"}),
    );
    assert_eq!(r.status, 422, "{}", r.text);
    let fields = detail_fields(&r.json);
    for field in ["domain", "status", "name", "colour"] {
        assert!(fields.contains(&field), "{field} named: {}", r.text);
    }
    assert_eq!(
        vendor.get(&path).json["domain"],
        "renamed.example",
        "nothing half-written"
    );
    let r = patch(&vendor, &path, json!({"id": "01ARZ3NDEKTSV4RRFFQ69G5FAV"}));
    assert_eq!(r.status, 422, "{}", r.text);

    let other = post_ok(
        &vendor,
        "/api/v1/accounts",
        json!({"name": "Other", "external_id": "CRM-7"}),
        201,
    );
    let r = patch(&vendor, &path, json!({"external_id": "CRM-7"}));
    assert_eq!(r.status, 409, "{}", r.text);
    // A Salesforce id is one id in its 15- and 18-character forms (and in a lost case), as the
    // import matches it: the other form of a taken id is taken too.
    let sf = post_ok(
        &vendor,
        "/api/v1/accounts",
        json!({"name": "Globex", "external_id": "0015000000GV7QJ"}),
        201,
    );
    for other_form in ["0015000000GV7QJAA1", "0015000000gv7qjaa1"] {
        let r = vendor.post(
            "/api/v1/accounts",
            &json!({"name": "Other Co", "external_id": other_form}),
        );
        assert_eq!(r.status, 409, "{other_form}: {}", r.text);
        assert!(
            r.text.contains(sf["id"].as_str().expect("id")),
            "{}",
            r.text
        );
        let r = patch(&vendor, &path, json!({"external_id": other_form}));
        assert_eq!(r.status, 409, "{other_form}: {}", r.text);
    }
    assert!(
        r.text.contains(other["id"].as_str().expect("id")),
        "{}",
        r.text
    );
    let r = patch(
        &vendor,
        "/api/v1/accounts/01ARZ3NDEKTSV4RRFFQ69G5FAV",
        json!({}),
    );
    assert_eq!(r.status, 404, "{}", r.text);

    wait("the deal to show the new account name", || {
        let d = vendor.get(&format!("/api/v1/deals/{deal}"));
        (d.json["fields"]["account.name"] == "Renamed GmbH").then_some(())
    });
}

#[test]
fn a_bad_query_parameter_is_a_400_naming_the_parameter_and_what_it_takes() {
    // Bug: `GET /api/v1/accounts?limit=abc` answered serde's text ("invalid query: Failed to
    // deserialize query string: limit: invalid digit found in string"), and the inbox and
    // registrations lists answered it as plain text, not the API's error JSON.
    let mut node = Node::init("Acme");
    node.serve();
    let not_a_number = |value: &str| format!("'{value}' is not a whole number (1 to 1000)");
    for (path, value) in [
        ("/api/v1/accounts", "abc"),
        ("/api/v1/opportunities", "1.5"),
        ("/api/v1/deals", "ten"),
        ("/api/v1/inbox", "x"),
        ("/api/v1/registrations", "-1"),
        ("/api/v1/audit", ""),
        ("/api/v1/partners", "1e3"),
    ] {
        let r = node.get(&format!("{path}?limit={value}"));
        assert_eq!(r.status, 400, "{path}: {}", r.text);
        let message = not_a_number(value);
        assert_eq!(
            r.json,
            json!({"error": format!("limit: {message}"),
                   "details": [{"parameter": "limit", "message": message}]}),
            "{path}"
        );
    }
    // A filter's value it cannot have is refused too, not answered with nothing.
    let r = node.get("/api/v1/audit?kind=bogus");
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.json["details"][0]["parameter"], "kind", "{}", r.text);
    let out = node.cli(&["audit", "--kind", "bogus"]);
    assert!(!out.ok(), "{}", out.stdout);
    assert!(
        out.stderr.contains("is not a kind of audit entry"),
        "{}",
        out.stderr
    );
    let r = node.get("/api/v1/audit?kind=registration");
    assert_eq!(r.status, 200, "{}", r.text);
    let r = node.get("/api/v1/accounts?limit=5&limit=6");
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.json["error"], "limit: given twice; give it once");
    // Good values, and parameters a route does not read, still work.
    let r = node.get("/api/v1/opportunities?limit=5&stage=Technical%20Validation&_=17");
    assert_eq!(r.status, 200, "{}", r.text);
}

#[test]
fn a_deal_note_too_long_is_a_422_naming_notes_and_a_next_step_is_not_called_a_note() {
    // Bugs: a note over 16 KiB was refused as "invalid value: a text value is longer than
    // 16384 bytes" with no field; and the first write to the node's own section (a next step)
    // read "added a note" in the deal's history.
    let mut vendor = Node::init("Vendor Co");
    let mut reseller = Node::init("Reseller Co");
    vendor.serve();
    reseller.serve();
    partner(&vendor, &reseller, "reseller", "vendor");
    put_policy(
        &vendor,
        &reseller.id,
        "[opportunities]\nfields = [\"name\", \"stage\"]\n",
    );
    let opp = opportunity(&vendor, "notes.example", json!({}));
    let deal = share_deal(&vendor, &opp, &[&reseller.id]);
    let path = format!("/api/v1/deals/{deal}");
    let patch = |body: serde_json::Value| {
        let bytes = serde_json::to_vec(&body).expect("JSON");
        vendor.request("PATCH", &path, Some("application/json"), Some(&bytes))
    };

    let r = patch(json!({"note": "n".repeat(20_000)}));
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(detail_fields(&r.json), ["notes"], "{}", r.text);
    assert!(
        r.json["error"]
            .as_str()
            .unwrap_or_default()
            .starts_with("notes: is 20000 bytes long; a note may hold 16384 bytes"),
        "{}",
        r.text
    );

    let r = patch(json!({"next_step": "Call the CFO"}));
    assert_eq!(r.status, 200, "{}", r.text);
    let history = r.json["history"].as_array().expect("history");
    assert_eq!(
        history.last().expect("a change")["summary"],
        "updated its next step",
        "{}",
        r.text
    );
}

#[test]
fn partnership_events_reach_webhooks_on_both_sides() {
    // Bug: `partner.joined` and `partner.removed` were offered to webhooks and the web UI but
    // never published. Method: each side subscribes before the partnership, then the vendor
    // removes the reseller: each side hears of the join, and of the end (the reseller as told
    // by the vendor).
    let mut vendor = Node::init("Vendor Co");
    let mut reseller = Node::init("Reseller Co");
    vendor.serve();
    reseller.serve();
    let at_vendor = hook(&vendor, &["partner.*"]);
    let at_reseller = hook(&reseller, &["partner.*"]);
    partner(&vendor, &reseller, "reseller", "vendor");
    let joined = expect_event(&at_vendor, "partner.joined");
    assert_eq!(joined["data"]["id"], reseller.id.as_str(), "{joined}");
    let joined = expect_event(&at_reseller, "partner.joined");
    assert_eq!(joined["data"]["id"], vendor.id.as_str(), "{joined}");

    let out = vendor.cli(&["partner", "remove", "Reseller Co"]);
    assert!(out.ok(), "{}", out.stderr);
    let removed = expect_event(&at_vendor, "partner.removed");
    assert_eq!(removed["data"]["by"], "this node", "{removed}");
    let removed = expect_event(&at_reseller, "partner.removed");
    assert_eq!(removed["data"]["by"], "partner", "{removed}");
    assert_eq!(removed["data"]["name"], "Vendor Co", "{removed}");
}

#[test]
fn a_deal_links_to_one_real_opportunity_of_the_partners_pipeline() {
    // Bugs: `link {"create": true}` twice made two opportunities (the first left orphaned), and
    // `PATCH {"linked_opportunity": "garbage"}` was signed into the deal.
    let (vendor, reseller) = vendor_and_reseller();
    let deal = shared_deal(&vendor, &reseller, "linked.example");
    let r = reseller.post(&format!("/api/v1/deals/{deal}/accept"), &json!({}));
    assert_eq!(r.status, 200, "{}", r.text);
    wait("the deal on the reseller", || {
        let r = reseller.get(&format!("/api/v1/deals/{deal}"));
        (r.status == 200).then_some(())
    });
    let link = format!("/api/v1/deals/{deal}/link");
    let first = reseller.post(&link, &json!({"create": true}));
    assert!(first.status < 300, "{}", first.text);
    let again = reseller.post(&link, &json!({"create": true}));
    assert_eq!(again.status, 409, "{}", again.text);
    assert!(
        again.json["error"]
            .as_str()
            .unwrap_or_default()
            .contains("is already linked to opportunity"),
        "{}",
        again.text
    );
    let opportunities = reseller.get("/api/v1/opportunities").json["items"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(opportunities, 1, "one opportunity made, not two");

    let r = patch(
        &reseller,
        &format!("/api/v1/deals/{deal}"),
        json!({"linked_opportunity": "garbage"}),
    );
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(detail_fields(&r.json), ["linked_opportunity"], "{}", r.text);
}

#[test]
fn a_body_that_is_no_json_or_too_large_is_told_what_the_route_takes() {
    // Bugs: a POST without a JSON body answered "invalid JSON body: Expected request with
    // `Content-Type: application/json`", and a body over the limit "invalid JSON body: Failed
    // to buffer the request body: length limit exceeded", naming no limit.
    let mut node = Node::init("Acme");
    node.serve();
    let r = node.request("POST", "/api/v1/accounts", None, None);
    assert_eq!(r.status, 415, "{}", r.text);
    assert!(
        r.json["error"]
            .as_str()
            .unwrap_or_default()
            .starts_with("this route takes a JSON body"),
        "{}",
        r.text
    );
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let r = node.request(
        "POST",
        "/api/v1/accounts",
        Some("application/json"),
        Some(big.as_bytes()),
    );
    assert_eq!(r.status, 413, "{}", r.text);
    assert_eq!(
        r.json["error"],
        "the request body is larger than this route takes (1024 KiB of JSON)"
    );
}

#[test]
fn an_invitation_from_a_partner_that_ended_the_partnership_cannot_be_accepted() {
    // Bug: after the vendor removed the reseller, the reseller's inbox still showed the
    // vendor's invitation as `invited`, and accepting it answered 200.
    let (vendor, reseller) = vendor_and_reseller();
    let deal = shared_deal(&vendor, &reseller, "ended.example");
    let out = vendor.cli(&["partner", "remove", "Reseller Co"]);
    assert!(out.ok(), "{}", out.stderr);
    let item = wait("the invitation shown as ended", || {
        inbox_item(&reseller, &deal).filter(|i| i["status"] == "ended")
    });
    assert_eq!(item["deal_id"], deal.as_str());
    let r = reseller.post(&format!("/api/v1/deals/{deal}/accept"), &json!({}));
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(
        r.json["error"],
        format!(
            "Vendor Co is no longer a partner, so its invitation to deal {deal} cannot be answered"
        )
        .as_str()
    );
}

#[test]
fn a_population_is_named_by_its_path() {
    // Bugs: `PUT /populations/{name}` required `name` in the body too, ignored a different one,
    // and ignored unknown keys.
    let mut node = Node::init("Acme");
    node.serve();
    let put = |body: serde_json::Value| {
        let bytes = serde_json::to_vec(&body).expect("JSON");
        node.request(
            "PUT",
            "/api/v1/populations/eu",
            Some("application/json"),
            Some(&bytes),
        )
    };
    let r = put(json!({"countries": ["FR", "DE"]}));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["name"], "eu");
    let r = put(json!({"name": "eu", "countries": ["FR"]}));
    assert_eq!(r.status, 200, "{}", r.text);
    let r = put(json!({"name": "apac", "contries": ["JP"]}));
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(detail_fields(&r.json), ["name", "contries"], "{}", r.text);
}

#[test]
fn a_node_stops_promptly_while_a_browser_holds_the_event_stream() {
    // Bug: `serve` waited for ever on SIGTERM while a client held `GET /api/v1/events` open
    // (the web UI always does); it stopped only when the client went away.
    use std::io::{Read, Write};
    let mut node = Node::init("Acme");
    node.serve();
    let addr = node.url().trim_start_matches("http://").to_string();
    let mut stream = std::net::TcpStream::connect(&addr).expect("connect");
    write!(
        stream,
        "GET /api/v1/events HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\r\n",
        node.token()
    )
    .expect("request");
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).expect("response");
    assert_eq!(&head, b"HTTP/1.1 200", "the stream is open");
    // `stop` fails unless the node exits cleanly within its bound (STOP_TIMEOUT).
    node.stop();
    drop(stream);
}

#[test]
fn the_cli_says_why_the_api_refused_not_only_that_it_did() {
    // Bug: `cosell webhooks add ftp://x` printed only "error: invalid webhook", dropping the
    // reason the API gave in its details.
    let mut node = Node::init("Acme");
    node.serve();
    let out = node.cli(&[
        "webhooks",
        "add",
        "ftp://example.invalid/hook",
        "--events",
        "nope.*",
    ]);
    assert!(!out.ok(), "{}", out.stdout);
    assert!(out.stderr.contains("invalid webhook; "), "{}", out.stderr);
    assert!(out.stderr.contains("matches no event"), "{}", out.stderr);
}

#[test]
fn the_cli_will_not_revoke_the_token_it_signs_in_with() {
    // Bug: `cosell tokens revoke` took the data directory's own admin.token (with another admin
    // token existing), after which every CLI command failed with "the bearer token is not valid".
    let mut node = Node::init("Acme");
    node.serve();
    let out = node.cli(&["tokens", "create", "--name", "backup", "--role", "admin"]);
    assert!(out.ok(), "{}", out.stderr);
    let own = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(node.token().trim().as_bytes()))
    };
    let out = node.cli(&["tokens", "revoke", &own[..12]]);
    assert!(!out.ok(), "{}", out.stdout);
    assert!(
        out.stderr.contains("is the one this command line uses"),
        "{}",
        out.stderr
    );
    let out = node.cli(&["tokens", "list"]);
    assert!(out.ok(), "the CLI still signs in: {}", out.stderr);
}
