//! The inbox: deals from the invited partner's side. An invitation is a redacted summary until
//! accepted (the invitee's data directory holds no unredacted field) and follows the origin's
//! edits and policy; it is accepted, declined, expires, or ends with the partnership, and is
//! answered once; an accepted deal links to one real opportunity of one's own pipeline, and
//! attribution is agreed or disputed.
//!
//! Goal: an invitee learns only what it may, when it may, and its answers hold on both sides.
//! Method: real `cosell` processes on loopback, a vendor sharing with a reseller under a policy
//! with canary values; the reseller's inbox, deals, webhook events and data directory are read
//! after each step.

use cosell_e2e::{
    detail_fields, expect_event, files_with, hook, inbox_item, opportunity, post_ok, put_policy,
    share_deal, shared_deal, stored_changes_hold, vendor_and_reseller, wait, Node,
    NAME_STAGE_AND_DOMAIN,
};
use serde_json::{json, Value};

const POLICY: &str = r#"
[opportunities]
fields = ["name", "stage", "amount", "close_date", "next_step", "account.name", "account.domain"]
amount = { round_to = 10000 }
"#;
/// The raw amount and next step: the amount must only ever arrive rounded, and the next step
/// (a projected field) only after the invitation is accepted.
const AMOUNT_CANARY: &str = "987654";
const NEXT_STEP_CANARY: &str = "CANARY-NEXTSTEP-5e1f";
const SECTION_CANARY: &str = "CANARY-SECTION-77aa";

fn share(vendor: &Node, reseller: &Node, domain: &str) -> String {
    let opp = opportunity(
        vendor,
        domain,
        json!({"amount": "987654.00", "currency": "USD", "next_step": NEXT_STEP_CANARY}),
    );
    share_deal(vendor, &opp, &[&reseller.id])
}

fn participant_status(node: &Node, deal: &str, id: &str) -> Option<String> {
    let d = node.get(&format!("/api/v1/deals/{deal}")).json;
    d["participants"]
        .as_array()?
        .iter()
        .find(|p| p["id"] == id)
        .and_then(|p| p["status"].as_str().map(str::to_string))
}

#[test]
fn an_invitee_holds_only_the_redacted_summary_until_it_accepts() {
    let (vendor, mut reseller) = vendor_and_reseller(&[], POLICY);
    let events = hook(&reseller, &["deal.*"]);
    let deal = share(&vendor, &reseller, "redact.example");
    // The origin's own section, written before the invitee accepts.
    let r = vendor.request(
        "PATCH",
        &format!("/api/v1/deals/{deal}"),
        Some("application/json"),
        Some(json!({"note": SECTION_CANARY}).to_string().as_bytes()),
    );
    assert_eq!(r.status, 200, "{}", r.text);

    // The invitation arrives: inviter, title, account domain, stage — nothing else.
    let item = wait("the invitation in the reseller's inbox", || {
        inbox_item(&reseller, &deal)
    });
    assert_eq!(item["from"], vendor.id.as_str());
    assert_eq!(item["from_name"], "Vendor Co");
    assert_eq!(item["title"], "Deal at redact.example");
    assert_eq!(item["account_domain"], "redact.example");
    assert_eq!(item["stage"], "qualified");
    assert_eq!(item["status"], "invited");
    assert!(item["expires_at"].as_str().is_some());
    let invited = expect_event(&events, "deal.invited");
    assert_eq!(invited["data"]["deal_id"], deal.as_str());
    assert!(!invited.to_string().contains(NEXT_STEP_CANARY));

    // The CLI shows the same.
    let out = reseller.cli(&["inbox"]);
    assert!(out.ok(), "{}", out.stderr);
    assert!(out.stdout.contains(&deal) && out.stdout.contains("redact.example"));
    let out = reseller.cli(&["inbox", "--json"]);
    let listed: Value = serde_json::from_str(&out.stdout).expect("inbox --json");
    assert_eq!(listed["items"][0]["status"], "invited");

    // Not the deal itself: not over the API, and nowhere in the data directory (give a relay
    // or a sync round time to misbehave first).
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(reseller.get(&format!("/api/v1/deals/{deal}")).status, 404);
    assert_eq!(reseller.get("/api/v1/deals").json["items"], json!([]));
    // Stored changes are encrypted at rest: look at them decrypted too (the node stopped).
    reseller.stop();
    for canary in [NEXT_STEP_CANARY, SECTION_CANARY, AMOUNT_CANARY, "990000"] {
        let found = files_with(&reseller.dir(), canary);
        assert!(found.is_empty(), "{canary} before accepting: {found:?}");
        assert!(
            !stored_changes_hold(&reseller, canary),
            "{canary} stored before accepting"
        );
    }
    reseller.serve();

    // Accept: the deal arrives, projected (rounded amount), with the origin's section.
    let out = reseller.cli(&["deals", "accept", &deal]);
    assert!(out.ok(), "accept: {}", out.stderr);
    let seen = wait("the deal on the reseller", || {
        let r = reseller.get(&format!("/api/v1/deals/{deal}"));
        (r.status == 200).then_some(r.json)
    });
    assert_eq!(seen["fields"]["amount"], "990000");
    assert_eq!(seen["fields"]["next_step"], NEXT_STEP_CANARY);
    assert_eq!(
        seen["sections"][&vendor.id]["notes"][0], SECTION_CANARY,
        "{seen}"
    );
    // The acceptance is signed into the deal by the reseller itself, and the vendor sees it.
    wait("the acceptance on the vendor", || {
        (participant_status(&vendor, &deal, &reseller.id).as_deref() == Some("accepted"))
            .then_some(())
    });
    let history = wait("the reseller's signed acceptance", || {
        let d = vendor.get(&format!("/api/v1/deals/{deal}")).json;
        let h = d["history"].as_array()?.clone();
        h.iter()
            .any(|c| c["author"] == reseller.id.as_str())
            .then_some(h)
    });
    assert!(history.iter().all(|c| c["verified"] == true));
    assert_eq!(inbox_item(&reseller, &deal).unwrap()["status"], "accepted");
    expect_event(&events, "deal.accepted");
    // Present now, but only as projected: the raw amount never arrived.
    reseller.stop();
    assert!(stored_changes_hold(&reseller, NEXT_STEP_CANARY));
    assert!(!stored_changes_hold(&reseller, AMOUNT_CANARY));
    assert!(files_with(&reseller.dir(), AMOUNT_CANARY).is_empty());
}

#[test]
fn an_invitation_can_be_declined_or_can_expire() {
    // Invitations from this vendor expire after ~17 seconds.
    let (vendor, reseller) = vendor_and_reseller(&[("invitation_expiry_days", "0.0002")], POLICY);
    let declined = share(&vendor, &reseller, "decline.example");
    wait("the first invitation", || inbox_item(&reseller, &declined));
    let out = reseller.cli(&["deals", "decline", &declined]);
    assert!(out.ok(), "decline: {}", out.stderr);
    assert_eq!(
        inbox_item(&reseller, &declined).unwrap()["status"],
        "declined"
    );
    wait("the decline on the vendor", || {
        (participant_status(&vendor, &declined, &reseller.id).as_deref() == Some("declined"))
            .then_some(())
    });
    // A declined invitation cannot be accepted afterwards, and the deal never arrives.
    let again = reseller.post(&format!("/api/v1/deals/{declined}/accept"), &json!({}));
    assert_eq!(again.status, 409, "{}", again.text);

    let expiring = share(&vendor, &reseller, "expire.example");
    let item = wait("the second invitation", || inbox_item(&reseller, &expiring));
    assert_eq!(item["status"], "invited");
    wait("the invitation to expire", || {
        (inbox_item(&reseller, &expiring)?["status"] == "expired").then_some(())
    });
    let late = reseller.post(&format!("/api/v1/deals/{expiring}/accept"), &json!({}));
    assert_eq!(late.status, 422, "{}", late.text);
    assert!(late.json["error"]
        .as_str()
        .unwrap()
        .starts_with("the invitation expired on "));
    assert_eq!(
        participant_status(&vendor, &expiring, &reseller.id).as_deref(),
        Some("expired")
    );
    let expired = reseller.get("/api/v1/inbox?status=expired").json;
    assert_eq!(expired["items"].as_array().unwrap().len(), 1);
    std::thread::sleep(std::time::Duration::from_secs(1));
    for deal in [&declined, &expiring] {
        assert_eq!(reseller.get(&format!("/api/v1/deals/{deal}")).status, 404);
    }
    let mut reseller = reseller;
    reseller.stop();
    assert!(files_with(&reseller.dir(), NEXT_STEP_CANARY).is_empty());
    assert!(!stored_changes_hold(&reseller, NEXT_STEP_CANARY));
}

fn accepted_deal(vendor: &Node, reseller: &Node, domain: &str) -> String {
    let deal = share(vendor, reseller, domain);
    wait("the invitation", || inbox_item(reseller, &deal));
    let r = reseller.post(&format!("/api/v1/deals/{deal}/accept"), &json!({}));
    assert_eq!(r.status, 200, "{}", r.text);
    wait("the deal on the reseller", || {
        (reseller.get(&format!("/api/v1/deals/{deal}")).status == 200).then_some(())
    });
    deal
}

fn attribution(node: &Node, deal: &str) -> Value {
    node.get(&format!("/api/v1/deals/{deal}")).json["attribution"].clone()
}

#[test]
fn a_linked_deal_shows_each_side_s_stage_and_attribution_is_agreed_or_disputed() {
    let (vendor, reseller) = vendor_and_reseller(&[], POLICY);
    let events = hook(&vendor, &["deal.stage_changed"]);
    let deal = accepted_deal(&vendor, &reseller, "link.example");

    // Link: the reseller creates its own opportunity, matched by the account domain.
    let out = reseller.cli(&["deals", "link", &deal, "--create"]);
    assert!(out.ok(), "link: {}", out.stderr);
    let opps = reseller.get("/api/v1/opportunities").json;
    let mine = opps["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "Deal at link.example")
        .expect("the opportunity made by linking")
        .clone();
    let on_reseller = reseller.get(&format!("/api/v1/deals/{deal}")).json;
    assert_eq!(
        on_reseller["sections"][&reseller.id]["linked_opportunity"],
        mine["id"]
    );
    // The reseller moves its own opportunity on; the vendor sees both stages side by side.
    let r = reseller.request(
        "PATCH",
        &format!("/api/v1/opportunities/{}", mine["id"].as_str().unwrap()),
        Some("application/json"),
        Some(br#"{"stage": "technical_validation"}"#),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let stages = wait("the reseller's stage on the vendor", || {
        let d = vendor.get(&format!("/api/v1/deals/{deal}")).json;
        (d["stages"][&reseller.id] == "technical_validation").then_some(d["stages"].clone())
    });
    assert_eq!(stages[&vendor.id], "qualified");
    let changed = expect_event(&events, "deal.stage_changed");
    assert_eq!(changed["data"]["deal_id"], deal.as_str());
    // Linking to an opportunity that does not exist is refused.
    let bad = reseller.post(
        &format!("/api/v1/deals/{deal}/link"),
        &json!({"opportunity_id": "nope"}),
    );
    assert_eq!(bad.status, 404, "{}", bad.text);

    // Attribution: each side proposes itself as the source — a visible dispute.
    let path = format!("/api/v1/deals/{deal}/attribution");
    post_ok(
        &vendor,
        &path,
        json!({"sourced_by": vendor.id, "influenced_by": [reseller.id]}),
        200,
    );
    post_ok(
        &reseller,
        &path,
        json!({"sourced_by": "Reseller Co", "influenced_by": ["Vendor Co"]}),
        200,
    );
    let disputed = wait("both proposals on both nodes", || {
        let a = attribution(&vendor, &deal);
        let b = attribution(&reseller, &deal);
        (a["proposals"].as_array()?.len() == 2 && a == b).then_some(a)
    });
    assert_eq!(disputed["disputed"], true, "{disputed}");
    assert!(disputed["agreed"].is_null());

    // The vendor accepts the reseller's proposal: agreed, with both signatures in the document.
    let out = vendor.cli(&[
        "deals",
        "accept-attribution",
        &deal,
        "--proposer",
        &reseller.id,
    ]);
    assert!(out.ok(), "accept-attribution: {}", out.stderr);
    let agreed = wait("the agreement on the reseller", || {
        let a = attribution(&reseller, &deal);
        (!a["agreed"].is_null()).then_some(a)
    });
    assert_eq!(agreed["disputed"], false);
    assert_eq!(agreed["agreed"]["by"], reseller.id.as_str());
    assert_eq!(agreed["agreed"]["sourced_by"], reseller.id.as_str());
    assert_eq!(agreed["agreed"]["accepted_by"], json!([vendor.id]));
    let history = reseller.get(&format!("/api/v1/deals/{deal}")).json["history"].clone();
    for author in [&vendor.id, &reseller.id] {
        assert!(history
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["author"] == author.as_str()
                && c["summary"].as_str().unwrap_or("").contains("attribution")
                && c["verified"] == true));
    }

    // The reseller changes its proposal afterwards: the acceptance does not carry over.
    post_ok(
        &reseller,
        &path,
        json!({"sourced_by": reseller.id, "influenced_by": []}),
        200,
    );
    let reopened = wait("the changed proposal on the vendor", || {
        let a = attribution(&vendor, &deal);
        a["agreed"].is_null().then_some(a)
    });
    assert_eq!(reopened["disputed"], true);
    // A proposal naming a non-participant is refused.
    let bad = reseller.post(&path, &json!({"sourced_by": "Someone Else"}));
    assert_eq!(bad.status, 422, "{}", bad.text);
}

/// The policy without the account domain and the next step.
const TIGHT_POLICY: &str = r#"
[opportunities]
fields = ["name", "stage", "amount", "close_date", "account.name"]
amount = { round_to = 10000 }
"#;

#[test]
fn pending_invitations_and_shared_deals_follow_opportunity_edits_and_policy_changes() {
    // Goal: what a partner holds follows the origin's data and policy after sharing. Method: a
    // pending invitation's summary follows an opportunity edit; tightening the policy removes
    // fields from an accepted deal and from the pending summary (audited by name); loosening
    // it brings them back.
    let (vendor, reseller) = vendor_and_reseller(&[], POLICY);
    let accepted = accepted_deal(&vendor, &reseller, "accepted.example");
    let opp = opportunity(
        &vendor,
        "pending.example",
        json!({"amount": "50000", "currency": "USD"}),
    );
    let pending = share_deal(&vendor, &opp, &[&reseller.id]);
    wait("the invitation", || inbox_item(&reseller, &pending));

    // The origin edits the opportunity: the pending summary follows.
    let r = vendor.request(
        "PATCH",
        &format!("/api/v1/opportunities/{opp}"),
        Some("application/json"),
        Some(br#"{"name": "Renamed pending deal", "stage": "committed"}"#),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let item = wait("the updated summary", || {
        inbox_item(&reseller, &pending).filter(|i| i["title"] == "Renamed pending deal")
    });
    assert_eq!(item["stage"], "committed");
    assert_eq!(item["account_domain"], "pending.example");
    assert_eq!(item["status"], "invited");

    // Tighter policy: the account domain and next step leave the shared fields.
    let fields =
        |node: &Node| node.get(&format!("/api/v1/deals/{accepted}")).json["fields"].clone();
    assert_eq!(fields(&reseller)["account.domain"], "accepted.example");
    assert_eq!(fields(&reseller)["next_step"], NEXT_STEP_CANARY);
    put_policy(&vendor, &reseller.id, TIGHT_POLICY);
    let tight = wait("the tightened fields on the reseller", || {
        let f = fields(&reseller);
        (f.get("account.domain").is_none() && f.get("next_step").is_none()).then_some(f)
    });
    assert_eq!(tight["name"], "Deal at accepted.example");
    assert_eq!(tight["amount"], "990000");
    assert!(fields(&vendor).get("account.domain").is_none());
    let item = wait("the tightened summary", || {
        inbox_item(&reseller, &pending).filter(|i| i["account_domain"].is_null())
    });
    assert_eq!(item["title"], "Renamed pending deal");
    let audit = vendor.get("/api/v1/audit?kind=share_update").json;
    let entry = audit["items"]
        .as_array()
        .expect("audit items")
        .iter()
        .find(|e| e["details"]["deal"] == accepted.as_str())
        .cloned()
        .expect("a share_update entry for the policy change");
    assert_eq!(
        entry["details"]["removed"],
        json!(["account.domain", "next_step"])
    );
    assert_eq!(entry["peer"], reseller.id.as_str());

    // Looser again: they come back.
    put_policy(&vendor, &reseller.id, POLICY);
    let loose = wait("the restored fields on the reseller", || {
        let f = fields(&reseller);
        (f["account.domain"] == "accepted.example").then_some(f)
    });
    assert_eq!(loose["next_step"], NEXT_STEP_CANARY);
    wait("the restored summary", || {
        inbox_item(&reseller, &pending).filter(|i| i["account_domain"] == "pending.example")
    });

    // The inbox pages like every list: one item per page gives the same list.
    let whole = reseller.get("/api/v1/inbox").json["items"].clone();
    assert_eq!(whole.as_array().map(Vec::len), Some(2));
    assert_eq!(json!(reseller.list_all("/api/v1/inbox", "", 1)), whole);
    assert_eq!(reseller.get("/api/v1/inbox?limit=0").status, 400);
    assert_eq!(reseller.get("/api/v1/inbox?limit=1001").status, 400);
    assert_eq!(reseller.get("/api/v1/inbox?cursor=nonsense").status, 400);
}

#[test]
fn answering_an_already_answered_invitation_is_a_conflict() {
    let (vendor, reseller) = vendor_and_reseller(&[], NAME_STAGE_AND_DOMAIN);
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
fn an_invitation_from_a_partner_that_ended_the_partnership_cannot_be_accepted() {
    // Bug: after the vendor removed the reseller, the reseller's inbox still showed the
    // vendor's invitation as `invited`, and accepting it answered 200.
    let (vendor, reseller) = vendor_and_reseller(&[], NAME_STAGE_AND_DOMAIN);
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
fn a_deal_links_to_one_real_opportunity_of_the_partners_pipeline() {
    // Bugs: `link {"create": true}` twice made two opportunities (the first left orphaned), and
    // `PATCH {"linked_opportunity": "garbage"}` was signed into the deal.
    let (vendor, reseller) = vendor_and_reseller(&[], NAME_STAGE_AND_DOMAIN);
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

    let r = reseller.patch(
        &format!("/api/v1/deals/{deal}"),
        &json!({"linked_opportunity": "garbage"}),
    );
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(detail_fields(&r.json), ["linked_opportunity"], "{}", r.text);
}

fn participant(node: &Node, deal: &str, id: &str) -> Option<Value> {
    node.get(&format!("/api/v1/deals/{deal}")).json["participants"]
        .as_array()?
        .iter()
        .find(|p| p["id"] == id)
        .cloned()
}

#[test]
fn an_invitation_carries_the_origins_message_and_a_decline_its_reason() {
    let (vendor, reseller) = vendor_and_reseller(&[], POLICY);
    // The origin writes a message when sharing (CLI); the invitee reads it in its inbox.
    let opp = opportunity(&vendor, "message.example", json!({}));
    let out = vendor.cli(&[
        "share",
        &opp,
        "--with",
        &reseller.id,
        "--message",
        "Joint bid with you?\nCall me on Friday.",
    ]);
    assert!(out.ok(), "share: {}", out.stderr);
    let deal = out.stdout.trim().to_string();
    let item = wait("the invitation with its message", || {
        inbox_item(&reseller, &deal)
    });
    assert_eq!(item["message"], "Joint bid with you?\nCall me on Friday.");
    assert_eq!(item["decline_reason"], Value::Null);
    let out = reseller.cli(&["inbox"]);
    assert!(
        out.stdout.contains("message: Joint bid with you?"),
        "{}",
        out.stdout
    );

    // The invitee declines with a reason (CLI); the origin reads "declined by …: reason" in its
    // deal view (API and CLI), and the invitee's inbox keeps what it answered.
    let out = reseller.cli(&["deals", "decline", &deal, "--reason", "No budget until Q3"]);
    assert!(out.ok(), "decline: {}", out.stderr);
    let p = wait("the decline with its reason on the vendor", || {
        participant(&vendor, &deal, &reseller.id).filter(|p| p["status"] == "declined")
    });
    assert_eq!(p["decline_reason"], "No budget until Q3");
    let out = vendor.cli(&["deals", "show", &deal]);
    assert!(
        out.stdout
            .contains("declined by Reseller Co: No budget until Q3"),
        "{}",
        out.stdout
    );
    let item = inbox_item(&reseller, &deal).expect("the answered invitation");
    assert_eq!(item["status"], "declined");
    assert_eq!(item["decline_reason"], "No budget until Q3");

    // Over the API: a message in the share body, a reason for a bulk decline.
    let opp2 = opportunity(&vendor, "bulk.example", json!({}));
    let deal2 = post_ok(
        &vendor,
        "/api/v1/deals",
        json!({"opportunity_id": opp2, "partners": [reseller.id], "message": "  Second try  "}),
        201,
    )["id"]
        .as_str()
        .expect("deal id")
        .to_string();
    let item = wait("the second invitation", || inbox_item(&reseller, &deal2));
    assert_eq!(item["message"], "Second try", "the message is trimmed");
    // A reason goes with a decline only; too long or with control characters is refused,
    // naming the field, and nothing is answered.
    for (path, body) in [
        (
            "/api/v1/inbox/accept".to_string(),
            json!({"deals": [deal2], "reason": "why not"}),
        ),
        (
            format!("/api/v1/deals/{deal2}/decline"),
            json!({"reason": "x".repeat(501)}),
        ),
        (
            "/api/v1/inbox/decline".to_string(),
            json!({"all": true, "reason": "bell\u{7}"}),
        ),
    ] {
        let r = reseller.post(&path, &body);
        assert_eq!(r.status, 422, "{path}: {}", r.text);
        assert!(r.text.contains("reason"), "{}", r.text);
    }
    assert_eq!(
        inbox_item(&reseller, &deal2).expect("item")["status"],
        "invited"
    );
    let answer = post_ok(
        &reseller,
        "/api/v1/inbox/decline",
        json!({"deals": [deal2], "reason": "Already working with another vendor"}),
        200,
    );
    assert_eq!(answer["answered"], 1, "{answer}");
    let p = wait("the bulk decline's reason on the vendor", || {
        participant(&vendor, &deal2, &reseller.id).filter(|p| p["status"] == "declined")
    });
    assert_eq!(p["decline_reason"], "Already working with another vendor");

    // A bad message is refused before anything is shared.
    let opp3 = opportunity(&vendor, "refused.example", json!({}));
    for message in ["nul\u{0}".to_string(), "m".repeat(1001)] {
        let r = vendor.post(
            "/api/v1/deals",
            &json!({"opportunity_id": opp3, "partners": [reseller.id], "message": message}),
        );
        assert_eq!(r.status, 422, "{}", r.text);
        assert!(r.text.contains("message"), "{}", r.text);
    }
    let r = vendor.post(
        "/api/v1/deals/bulk",
        &json!({"opportunity_ids": [opp3], "partners": [reseller.id], "message": "\u{1b}[31m"}),
    );
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(
        vendor.get("/api/v1/deals").json["items"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );

    // Without a message or reason (what an older node sends) both read as none.
    let opp4 = opportunity(&vendor, "plain.example", json!({}));
    let deal4 = share_deal(&vendor, &opp4, &[&reseller.id]);
    let item = wait("the plain invitation", || inbox_item(&reseller, &deal4));
    assert_eq!(item["message"], Value::Null);
    let r = reseller.request(
        "POST",
        &format!("/api/v1/deals/{deal4}/decline"),
        None,
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let p = wait("the plain decline on the vendor", || {
        participant(&vendor, &deal4, &reseller.id).filter(|p| p["status"] == "declined")
    });
    assert_eq!(p["decline_reason"], Value::Null);
    let out = vendor.cli(&["deals", "show", &deal4]);
    assert!(
        out.stdout
            .contains("declined by Reseller Co (no reason given)"),
        "{}",
        out.stdout
    );
}

#[test]
fn webhooks_and_e_mail_carry_the_invitation_message_and_the_decline_reason() {
    // Goal: whoever learns of an invitation or a decline through a webhook or an e-mail reads
    // the origin's message and the invitee's reason there too (issue 21: they were only in the
    // API and the UI). Method: a real SMTP server (aiosmtpd) for both nodes, a user on each who
    // asked for the notification, a webhook on each; share with a message, decline with a reason.
    let smtp = cosell_e2e::SmtpServer::start();
    let mut vendor = Node::init("Vendor Co");
    let mut reseller = Node::init("Reseller Co");
    smtp.configure(&vendor, "cosell@vendor.example");
    smtp.configure(&reseller, "cosell@reseller.example");
    vendor.serve();
    reseller.serve();
    cosell_e2e::partner(&vendor, &reseller, "reseller", "vendor");
    put_policy(&vendor, &reseller.id, POLICY);
    cosell_e2e::opt_in_to_mail(
        &vendor,
        "vera",
        "vera@vendor.example",
        &["invitation_declined"],
    );
    cosell_e2e::opt_in_to_mail(
        &reseller,
        "paula",
        "paula@reseller.example",
        &["invitation"],
    );
    let on_reseller = hook(&reseller, &["deal.invited"]);
    let on_vendor = hook(&vendor, &["deal.declined"]);

    let opp = opportunity(&vendor, "hooked.example", json!({"name": "Hooked rollout"}));
    let deal = post_ok(
        &vendor,
        "/api/v1/deals",
        json!({"opportunity_id": opp, "partners": [reseller.id],
               "message": "Joint bid with you?\nCall me on Friday."}),
        201,
    )["id"]
        .as_str()
        .expect("deal id")
        .to_string();
    let invited = expect_event(&on_reseller, "deal.invited");
    assert_eq!(invited["data"]["deal_id"], deal.as_str(), "{invited}");
    assert_eq!(
        invited["data"]["message"], "Joint bid with you?\nCall me on Friday.",
        "{invited}"
    );
    let mail = smtp.wait_mail("invites you to a deal");
    assert!(mail.contains("To: paula@reseller.example"), "{mail}");
    assert!(
        mail.contains("Their message:")
            && mail.contains("Joint bid with you?")
            && mail.contains("Call me on Friday."),
        "{mail}"
    );
    assert!(mail.contains(&format!("#/deals/{deal}")), "{mail}");

    post_ok(
        &reseller,
        &format!("/api/v1/deals/{deal}/decline"),
        json!({"reason": "No budget until Q3\nAsk again in July."}),
        200,
    );
    let declined = expect_event(&on_vendor, "deal.declined");
    assert_eq!(declined["data"]["deal_id"], deal.as_str(), "{declined}");
    assert_eq!(declined["data"]["node"], reseller.id.as_str(), "{declined}");
    assert_eq!(declined["data"]["name"], "Reseller Co", "{declined}");
    assert_eq!(declined["data"]["title"], "Hooked rollout", "{declined}");
    assert_eq!(
        declined["data"]["reason"], "No budget until Q3\nAsk again in July.",
        "{declined}"
    );
    let mail = smtp.wait_mail("declined the deal");
    assert!(mail.contains("To: vera@vendor.example"), "{mail}");
    assert!(
        mail.contains(
            "Subject: [Vendor Co] Reseller Co declined the deal Hooked rollout: No budget until Q3"
        ),
        "{mail}"
    );
    assert!(
        mail.contains("Their reason:") && mail.contains("Ask again in July."),
        "{mail}"
    );
    assert!(mail.contains(&format!("#/deals/{deal}")), "{mail}");
    // The invitee is not mailed about its own decline, nor the origin about its own invitation.
    assert_eq!(smtp.mails().len(), 2, "one mail each: {:?}", smtp.mails());
}
