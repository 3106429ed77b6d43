//! Deals from the sharing side: an opportunity shared with a partner becomes a deal (at most one
//! per partner, under concurrency too), cut to what the policy names and to a deal field's size;
//! the deal list filters by partner; a deal's own section takes bounded notes and next steps.
//!
//! Goal: sharing and reading deals keep their rules through the API and the CLI. Method: real
//! `cosell` processes on loopback, a vendor and a reseller partnered with a policy, sharing by
//! `POST /api/v1/deals` and `cosell share`, and reading what each side then holds.

use cosell_e2e::{
    detail_fields, inbox_item, opportunity, partner, put_policy, share_deal, shared_deal,
    vendor_and_reseller, wait, write_file, Node, NAME_STAGE_AND_DOMAIN,
};
use serde_json::json;

#[test]
fn sharing_an_opportunity_again_with_the_same_partner_is_refused_naming_the_deal() {
    // Goal: one opportunity makes at most one deal per partner, through `POST /deals` and
    // `cosell share` as through `map --propose`. Method: share once (201), then again by API
    // (409) and CLI (non-zero exit), each naming the first deal; the vendor still has one deal.
    let (vendor, reseller) = vendor_and_reseller(&[], NAME_STAGE_AND_DOMAIN);
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
fn the_deal_list_filters_by_partner_name_and_refuses_an_unknown_partner() {
    let (vendor, reseller) = vendor_and_reseller(&[], NAME_STAGE_AND_DOMAIN);
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
    let (vendor, reseller) = vendor_and_reseller(&[], NAME_STAGE_AND_DOMAIN);
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
    let (vendor, reseller) = vendor_and_reseller(&[], NAME_STAGE_AND_DOMAIN);
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
