//! Deal registration: two partners register the same account with a vendor; the first to
//! register wins, the second is flagged to the vendor (and the conflict details never reach the
//! second partner's node); approve, reject with a reason, a conflict with the vendor's own
//! pipeline, protection renewed by activity, the response SLA going overdue (reported once), and
//! the partner changing its pending registration.
//!
//! Goal: a registration is decided once, on the terms both sides see. Method: real `cosell`
//! processes on loopback with short windows set in `cosell.toml`; partners register through the
//! CLI and the API, the vendor decides; both nodes' registrations, the vendor's webhook events
//! and the second partner's data directory are read after each step.

use cosell_e2e::{
    detail_fields, expect_event, files_with, hook, opportunity, partner, put_policy, set_setting,
    share_deal, wait, Hook, Node,
};
use serde_json::{json, Value};
use std::time::Duration;

fn registration(node: &Node, id: &str) -> Option<Value> {
    let r = node.get(&format!("/api/v1/registrations/{id}"));
    (r.status == 200).then_some(r.json)
}

fn register(node: &Node, vendor: &str, domain: &str, name: &str) -> String {
    let out = node.cli(&[
        "register",
        "--vendor",
        vendor,
        "--account-domain",
        domain,
        "--account-name",
        name,
        "--amount",
        "120000",
        "--close-date",
        "2027-06-30",
        "--products",
        "platform,support",
        "--notes",
        "met the CIO",
    ]);
    assert!(out.ok(), "register: {}", out.stderr);
    out.stdout.trim().to_string()
}

#[test]
fn first_to_register_wins_conflicts_stay_on_the_vendor_and_overdue_is_reported() {
    let mut vendor = Node::init("Vendor Co");
    // The vendor owes an answer within ~11 seconds.
    set_setting(&vendor, "registration_sla_hours", "0.003");
    let mut first = Node::init("First Partner");
    let mut second = Node::init("Second Partner");
    vendor.serve();
    first.serve();
    second.serve();
    partner(&vendor, &first, "reseller", "vendor");
    partner(&vendor, &second, "reseller", "vendor");
    let events = hook(&vendor, &["registration.*"]);
    // The vendor's own open opportunity on another account.
    opportunity(&vendor, "own.example", json!({"owner": "Vera Vendor"}));

    // The first partner registers; the vendor sees it, pending, with nothing in its way.
    let a = register(&first, "Vendor Co", "contested.example", "Contested Inc");
    let on_vendor = wait("the first registration on the vendor", || {
        registration(&vendor, &a)
    });
    assert_eq!(on_vendor["status"], "pending");
    assert_eq!(on_vendor["partner"], first.id.as_str());
    assert_eq!(on_vendor["vendor"], vendor.id.as_str());
    assert_eq!(on_vendor["account_domain"], "contested.example");
    assert_eq!(on_vendor["amount"], "120000");
    assert_eq!(on_vendor["products"], json!(["platform", "support"]));
    assert_eq!(on_vendor["notes"], "met the CIO");
    assert_eq!(on_vendor["conflicts"], json!([]));
    let submitted = expect_event(&events, "registration.submitted");
    assert_eq!(submitted["data"]["id"], a.as_str());

    // The second partner registers the same account later: flagged to the vendor, naming the
    // first; the second partner's node never learns of it.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let b = register(&second, &vendor.id, "contested.example", "Contested Inc");
    let flagged = wait("the second registration on the vendor", || {
        registration(&vendor, &b)
    });
    let conflicts = flagged["conflicts"].as_array().expect("conflicts").clone();
    assert_eq!(conflicts.len(), 1, "{flagged}");
    assert_eq!(conflicts[0]["kind"], "registration");
    assert_eq!(conflicts[0]["registration_id"], a.as_str());
    assert_eq!(conflicts[0]["partner_name"], "First Partner");
    // The first registration is not flagged by the later one.
    assert_eq!(registration(&vendor, &a).unwrap()["conflicts"], json!([]));
    let on_second = registration(&second, &b).expect("the second partner's own view");
    assert!(on_second.get("conflicts").is_none(), "{on_second}");
    let out = vendor.cli(&["registrations", "list"]);
    assert!(
        out.ok() && out.stdout.contains("First Partner registered first"),
        "{}",
        out.stdout
    );

    // Only the vendor decides; the vendor may not approve the later one while the first holds.
    let r = first.post(&format!("/api/v1/registrations/{a}/approve"), &json!({}));
    assert_eq!(r.status, 403, "{}", r.text);
    let r = vendor.post(&format!("/api/v1/registrations/{b}/approve"), &json!({}));
    assert_eq!(r.status, 409, "{}", r.text);
    assert!(r.json["error"].as_str().unwrap().contains("first"));
    let out = vendor.cli(&["registrations", "approve", &a]);
    assert!(out.ok(), "approve: {}", out.stderr);
    let out = vendor.cli(&[
        "registrations",
        "reject",
        &b,
        "--reason",
        "another partner registered this account first",
    ]);
    assert!(out.ok(), "reject: {}", out.stderr);
    let r = vendor.post(
        &format!("/api/v1/registrations/{b}/reject"),
        &json!({"reason": " "}),
    );
    assert_eq!(r.status, 422, "{}", r.text);

    // Both partners see the decisions, signed by the vendor.
    let approved = wait("the approval on the first partner", || {
        registration(&first, &a).filter(|r| r["status"] == "approved")
    });
    assert!(approved["expires_at"].as_str().is_some());
    assert!(approved["decided_at"].as_str().is_some());
    let rejected = wait("the rejection on the second partner", || {
        registration(&second, &b).filter(|r| r["status"] == "rejected")
    });
    assert_eq!(
        rejected["reason"],
        "another partner registered this account first"
    );
    expect_event(&events, "registration.approved");
    expect_event(&events, "registration.rejected");

    // A registration on an account the vendor already works: flagged with its opportunity.
    let c = register(&first, "Vendor Co", "own.example", "Own Corp");
    let own = wait("the third registration on the vendor", || {
        registration(&vendor, &c)
    });
    assert_eq!(own["conflicts"][0]["kind"], "opportunity", "{own}");
    assert_eq!(own["conflicts"][0]["owner"], "Vera Vendor");
    assert!(registration(&first, &c).unwrap().get("conflicts").is_none());

    // Unanswered past the SLA: overdue, flagged and reported.
    let overdue = wait("the overdue flag", || {
        registration(&vendor, &c).filter(|r| r["overdue"] == true)
    });
    assert_eq!(overdue["status"], "pending");
    let reported = expect_event(&events, "registration.overdue");
    assert_eq!(reported["data"]["id"], c.as_str());
    assert_eq!(
        registration(&vendor, &a).unwrap()["overdue"],
        false,
        "a decided registration is never overdue"
    );

    // The conflict details never reached the second partner's node: it holds neither the
    // first partner's id nor its name, nor the vendor's own opportunity.
    let listed = second.get("/api/v1/registrations").json;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    let mut second = second;
    second.stop();
    for needle in [first.id.as_str(), "First Partner", "Vera Vendor", &a] {
        let found = files_with(&second.dir(), needle);
        assert!(
            found.is_empty(),
            "{needle} reached the second partner: {found:?}"
        );
        assert!(
            !cosell_e2e::stored_changes_hold(&second, needle),
            "{needle} reached the second partner's stored changes"
        );
    }
}

/// Every `registration.overdue` event for `id` that arrives within `window`.
fn overdue_events(rx: &std::sync::mpsc::Receiver<Hook>, id: &str, window: Duration) -> usize {
    let deadline = std::time::Instant::now() + window;
    let mut n = 0;
    while let Ok(hook) =
        rx.recv_timeout(deadline.saturating_duration_since(std::time::Instant::now()))
    {
        if hook.event() == "registration.overdue" && hook.json()["data"]["id"] == id {
            n += 1;
        }
    }
    n
}

#[test]
fn a_duplicate_is_refused_activity_renews_protection_and_overdue_is_reported_once() {
    // Goal: the registration windows hold over time and restarts. Method: short windows (a
    // protection of ~14 minutes renewed in ~1 s steps, a response window of ~4 s); the
    // partner's second registration of the same account is refused; a deal on the registered
    // account renews the approval; an overdue registration is reported once, not again after
    // the vendor restarts.
    let mut vendor = Node::init("Vendor Co");
    set_setting(&vendor, "registration_protection_days", "0.01");
    set_setting(&vendor, "registration_sla_hours", "0.001");
    let mut reseller = Node::init("Reseller Co");
    vendor.serve();
    reseller.serve();
    partner(&vendor, &reseller, "reseller", "vendor");
    let events = hook(&vendor, &["registration.*"]);

    let a = register(&reseller, "Vendor Co", "active.example", "Active Inc");
    wait("the registration on the vendor", || {
        registration(&vendor, &a)
    });
    let out = vendor.cli(&["registrations", "approve", &a]);
    assert!(out.ok(), "approve: {}", out.stderr);
    let approved = wait("the approval on the reseller", || {
        registration(&reseller, &a).filter(|r| r["status"] == "approved")
    });
    let first_expiry = approved["expires_at"]
        .as_str()
        .expect("expires_at")
        .to_string();

    // Bad fields are all named in `details` (bug: only the first, in the sentence alone).
    let r = reseller.post(
        "/api/v1/registrations",
        &json!({"vendor": "Vendor Co", "account_name": " ", "account_domain": "jane@gmail.com",
                "amount": "abc", "close_date": "03/04/2026"}),
    );
    assert_eq!(r.status, 422, "{}", r.text);
    let fields = detail_fields(&r.json);
    assert_eq!(
        fields,
        ["account_name", "account_domain", "amount", "close_date"],
        "{}",
        r.text
    );

    // The same partner registers the same account again: refused, naming the first.
    let r = reseller.post(
        "/api/v1/registrations",
        &json!({"vendor": "Vendor Co", "account_name": "Active Inc", "account_domain": "www.Active.example"}),
    );
    assert_eq!(r.status, 409, "{}", r.text);
    let error = r.json["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("already registered") && error.contains(&a),
        "{error}"
    );
    assert_eq!(
        reseller.get("/api/v1/registrations").json["items"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    // Activity on a deal on the registered account renews the protection, on both nodes.
    std::thread::sleep(Duration::from_secs(2));
    put_policy(
        &vendor,
        &reseller.id,
        "[opportunities]\nfields = [\"name\", \"account.domain\"]\n",
    );
    let opp = opportunity(&vendor, "active.example", json!({}));
    share_deal(&vendor, &opp, &[&reseller.id]);
    let renewed = wait("the renewed protection on the reseller", || {
        registration(&reseller, &a).filter(|r| {
            r["status"] == "approved" && r["expires_at"].as_str() > Some(first_expiry.as_str())
        })
    });
    assert_eq!(
        registration(&vendor, &a).unwrap()["expires_at"],
        renewed["expires_at"]
    );

    // Unanswered past the response window: reported once, and not again after a restart.
    let late = register(&reseller, "Vendor Co", "late.example", "Late Inc");
    let reported = wait("the overdue report", || {
        let hook = events.recv_timeout(Duration::from_millis(200)).ok()?;
        let body = hook.json();
        (hook.event() == "registration.overdue" && body["data"]["id"] == late.as_str())
            .then_some(body)
    });
    assert_eq!(reported["data"]["account_domain"], "late.example");
    // The list pages: one item per page gives the same list, newest first.
    let whole = reseller.get("/api/v1/registrations").json["items"].clone();
    assert_eq!(whole[0]["id"], late.as_str());
    assert_eq!(whole[1]["id"], a.as_str());
    assert_eq!(
        json!(reseller.list_all("/api/v1/registrations", "", 1)),
        whole
    );
    assert_eq!(reseller.get("/api/v1/registrations?cursor=1-x").status, 400);
    assert_eq!(overdue_events(&events, &late, Duration::from_secs(3)), 0);
    vendor.stop();
    vendor.serve();
    assert_eq!(
        registration(&vendor, &late).unwrap()["overdue"],
        true,
        "still overdue after the restart"
    );
    assert_eq!(
        overdue_events(&events, &late, Duration::from_secs(5)),
        0,
        "registration.overdue repeated after a restart"
    );
}

#[test]
fn the_partner_changes_its_pending_registration_and_the_vendor_sees_the_change() {
    // Goal: the partner that made a pending registration corrects its amount, close date and
    // products (null clears); the vendor's node shows the change, its claim time (who was
    // first) stays; the vendor cannot change it; the domain cannot change; once decided a change asks the vendor again.
    let mut vendor = Node::init("Vendor Co");
    let mut reseller = Node::init("Reseller Co");
    vendor.serve();
    reseller.serve();
    partner(&vendor, &reseller, "reseller", "vendor");
    let id = register(&reseller, "Vendor Co", "fixme.example", "Fixme Inc");
    let before = wait("the registration on the vendor", || {
        registration(&vendor, &id)
    });
    let path = format!("/api/v1/registrations/{id}");

    let r = reseller.patch(
        &path,
        &json!({"amount": "$95,000", "close_date": null, "products": ["platform"]}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["amount"], "95000");
    assert_eq!(r.json["close_date"], Value::Null);
    assert_eq!(r.json["products"], json!(["platform"]));
    let seen = wait("the change on the vendor", || {
        registration(&vendor, &id).filter(|v| v["amount"] == "95000")
    });
    assert_eq!(seen["close_date"], Value::Null);
    assert_eq!(seen["products"], json!(["platform"]));
    assert_eq!(
        seen["submitted_at"], before["submitted_at"],
        "still first when it was"
    );
    assert_eq!(seen["status"], "pending");

    let r = reseller.patch(
        &path,
        &json!({"account_domain": "other.example", "amount": "lots", "close_date": "31/12/2027"}),
    );
    assert_eq!(r.status, 422, "{}", r.text);
    let fields = detail_fields(&r.json);
    assert_eq!(
        fields,
        ["account_domain", "amount", "close_date"],
        "{}",
        r.text
    );
    // A value of the wrong type is named with every other problem, not instead of them.
    let r = reseller.patch(
        &path,
        &json!({"products": "x", "amount": "lots", "close_date": [2027], "colour": "red"}),
    );
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(
        detail_fields(&r.json),
        ["amount", "close_date", "colour", "products"],
        "{}",
        r.text
    );
    let r = vendor.patch(&path, &json!({"amount": "1"}));
    assert_eq!(r.status, 403, "{}", r.text);
    // Names and notes are bounded by name, as an account's name and a deal's text are.
    let r = reseller.patch(&path, &json!({"account_name": "N".repeat(600)}));
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.json["details"][0]["field"], "account_name", "{}", r.text);
    let r = reseller.post(
        "/api/v1/registrations",
        &json!({"vendor": "Vendor Co", "account_name": "Notes Inc", "account_domain": "notes.example",
                "notes": "x".repeat(20_000)}),
    );
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.json["details"][0]["field"], "notes", "{}", r.text);
    // An amount may be a JSON number, as in a change.
    let r = reseller.post(
        "/api/v1/registrations",
        &json!({"vendor": "Vendor Co", "account_name": "Number Inc",
                "account_domain": "number.example", "amount": 1200.5}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json["amount"], "1200.5", "{}", r.text);
    let out = reseller.cli(&["registrations", "change", &id, "--close-date", "2027-09-30"]);
    assert!(out.ok(), "{}", out.stderr);
    wait("the CLI's change on the vendor", || {
        registration(&vendor, &id).filter(|v| v["close_date"] == "2027-09-30")
    });
    let out = reseller.cli(&["registrations", "change", &id]);
    assert!(!out.ok());
    assert!(out.stderr.contains("nothing to change"), "{}", out.stderr);

    let r = vendor.post(&format!("{path}/approve"), &json!({}));
    assert_eq!(r.status, 200, "{}", r.text);
    // The decision records the terms it was made on; here nothing changed since.
    assert_eq!(r.json["changed_after_decision"], false, "{}", r.text);
    assert_eq!(
        r.json["decided_terms"],
        json!({"account_name": "Fixme Inc", "amount": "95000", "currency": "USD",
               "close_date": "2027-09-30", "products": ["platform"]}),
        "{}",
        r.text
    );
    let seen = wait("the approval on the reseller", || {
        registration(&reseller, &id).filter(|v| v["status"] == "approved")
    });
    assert_eq!(seen["decided_terms"], r.json["decided_terms"]);
    let out = vendor.cli(&["registrations", "list"]);
    assert!(out.ok(), "{}", out.stderr);
    assert!(
        out.stdout.contains("(95000 USD)") && !out.stdout.contains("CHANGED AFTER DECISION"),
        "{}",
        out.stdout
    );
    // A decided registration still changes (issue 20: "submit a new one" was refused too): the
    // decision no longer covers the new terms, so the vendor decides again.
    let r = reseller.patch(&path, &json!({"amount": "1"}));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["changed_after_decision"], true, "{}", r.text);
}

#[test]
fn the_vendor_revokes_an_approved_registration_with_a_reason_the_partner_sees() {
    let mut vendor = Node::init("Vendor Co");
    let mut first = Node::init("First Partner");
    let mut second = Node::init("Second Partner");
    vendor.serve();
    first.serve();
    second.serve();
    partner(&vendor, &first, "reseller", "vendor");
    partner(&vendor, &second, "reseller", "vendor");
    let on_first = hook(&first, &["registration.revoked"]);
    let on_vendor = hook(&vendor, &["registration.revoked"]);

    let a = register(&first, "Vendor Co", "revoked.example", "Revoked Inc");
    wait("the registration on the vendor", || {
        registration(&vendor, &a)
    });
    // Only an approved registration is revoked: a pending one is rejected instead.
    let r = vendor.post(
        &format!("/api/v1/registrations/{a}/revoke"),
        &json!({"reason": "too early"}),
    );
    assert_eq!(r.status, 409, "{}", r.text);
    assert!(r.text.contains("reject it instead"), "{}", r.text);
    let out = vendor.cli(&["registrations", "approve", &a]);
    assert!(out.ok(), "approve: {}", out.stderr);
    wait("the approval on the partner", || {
        registration(&first, &a).filter(|r| r["status"] == "approved")
    });
    // While it holds, a second partner's registration of the account cannot be approved.
    std::thread::sleep(Duration::from_millis(20));
    let b = register(&second, "Vendor Co", "revoked.example", "Revoked Inc");
    wait("the second registration on the vendor", || {
        registration(&vendor, &b)
    });
    let r = vendor.post(&format!("/api/v1/registrations/{b}/approve"), &json!({}));
    assert_eq!(r.status, 409, "{}", r.text);

    // The partner cannot revoke (only the vendor decides), nor can a reason be missing.
    let r = first.post(
        &format!("/api/v1/registrations/{a}/revoke"),
        &json!({"reason": "I revoke myself"}),
    );
    assert_eq!(r.status, 403, "{}", r.text);
    let out = first.cli(&["registrations", "revoke", &a, "--reason", "mine"]);
    assert!(!out.ok() && out.stderr.contains("vendor"), "{}", out.stderr);
    for body in [json!({"reason": "  "}), json!({})] {
        let r = vendor.post(&format!("/api/v1/registrations/{a}/revoke"), &body);
        assert!(matches!(r.status, 400 | 422), "{body}: {}", r.text);
    }
    assert_eq!(registration(&vendor, &a).unwrap()["status"], "approved");

    let out = vendor.cli(&[
        "registrations",
        "revoke",
        &a,
        "--reason",
        "the customer chose to buy direct",
    ]);
    assert!(out.ok(), "revoke: {}", out.stderr);
    assert!(
        out.stderr
            .contains("revoked by Vendor Co: the customer chose to buy direct"),
        "{}",
        out.stderr
    );
    // The partner sees who revoked it and why, through the API and the CLI; it was signed by
    // the vendor and verified on the way.
    let seen = wait("the revocation on the partner", || {
        registration(&first, &a).filter(|r| r["status"] == "revoked")
    });
    assert_eq!(
        seen["note"], "revoked by Vendor Co: the customer chose to buy direct",
        "{seen}"
    );
    assert_eq!(seen["reason"], "the customer chose to buy direct");
    let out = first.cli(&["registrations", "show", &a]);
    assert!(
        out.stdout.contains("revoked")
            && out
                .stdout
                .contains("revoked by Vendor Co: the customer chose to buy direct"),
        "{}",
        out.stdout
    );
    for rx in [&on_first, &on_vendor] {
        let event = expect_event(rx, "registration.revoked");
        assert_eq!(event["data"]["id"], a.as_str(), "{event}");
        assert_eq!(event["data"]["reason"], "the customer chose to buy direct");
    }
    // Audited on both sides, with who did it.
    let audit = vendor.get("/api/v1/audit?kind=registration").json;
    let entry = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["details"]["event"] == "revoked")
        .cloned()
        .unwrap_or_else(|| panic!("no revocation in {audit}"));
    assert!(
        entry["summary"]
            .as_str()
            .unwrap()
            .contains("the customer chose to buy direct"),
        "{entry}"
    );
    assert!(entry["actor"].to_string().contains("admin"), "{entry}");
    // Its protection ended: the second partner's registration is approved now; the revoked one
    // cannot be revoked again nor approved back.
    let out = vendor.cli(&["registrations", "approve", &b]);
    assert!(out.ok(), "approve the second: {}", out.stderr);
    let r = vendor.post(
        &format!("/api/v1/registrations/{a}/revoke"),
        &json!({"reason": "again"}),
    );
    assert_eq!(r.status, 409, "{}", r.text);
    let r = vendor.post(&format!("/api/v1/registrations/{a}/approve"), &json!({}));
    assert!(matches!(r.status, 409 | 422), "{}", r.text);
}
