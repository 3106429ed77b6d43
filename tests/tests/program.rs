//! The partner program end to end (issue 28): a program file sets tiers; a partner's tier,
//! what the next tier lacks and its health follow its deals and certifications; attestations
//! verify offline (tampered, expired, revoked and unknown issuers refused); the QBR pack is made
//! on both sides with the same numbers as the analytics route.

use cosell_e2e::*;
use serde_json::{json, Value};
use std::path::Path;

const PROGRAM: &str = r#"
version = 1
currency = "USD"
window_days = 365

[[tiers]]
name = "registered"

[[tiers]]
name = "silver"
requires = { deals_won = 1, certified_people = 1 }
benefits = { registration_protection_days = 90, discount = "10% off list" }

[[tiers]]
name = "gold"
requires = { deals_won = 3, won_revenue = 1000000, certified_people = 2 }

[health]
weights = { win_rate = 2, acceptance_rate = 1, recency = 1 }
"#;

const SHARE_AMOUNTS: &str = r#"
[opportunities]
fields = ["name", "stage", "amount", "currency", "close_date", "account.name", "account.domain"]
"#;

fn today() -> String {
    let days = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        / 86_400) as i64;
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

fn quarter_of(day: &str) -> String {
    let month: u32 = day[5..7].parse().expect("month");
    format!("{}-Q{}", &day[..4], (month - 1) / 3 + 1)
}

fn standing(node: &Node, partner: &str) -> Value {
    let out = node.cli(&["program", "show", partner, "--json"]);
    assert!(out.ok(), "program show: {}", out.stderr);
    serde_json::from_str(&out.stdout).expect("standing JSON")
}

fn lacks(s: &Value) -> Vec<String> {
    s["next"]["lacks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l["metric"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn a_partner_climbs_a_tier_with_a_won_deal_and_a_certified_person() {
    let (vendor, reseller) = vendor_and_reseller(&[], SHARE_AMOUNTS);
    let scratch = vendor.scratch();
    let program = write_file(&scratch, "program.toml", PROGRAM.as_bytes());
    let out = vendor.cli(&["program", "check", program.to_str().expect("path")]);
    assert!(out.ok(), "{}", out.stderr);
    assert!(
        out.stdout.contains("tiers registered, silver, gold"),
        "{}",
        out.stdout
    );
    let out = vendor.cli(&["program", "set", program.to_str().expect("path")]);
    assert!(out.ok(), "{}", out.stderr);

    // A shared, accepted deal still open: the reseller is registered, lacking a win and a
    // certified person for silver.
    let today = today();
    let opp = opportunity(
        &vendor,
        "tiers.example",
        json!({"amount": "250000", "currency": "USD", "close_date": today}),
    );
    let deal = share_deal(&vendor, &opp, &[&reseller.id]);
    wait("the invitation", || inbox_item(&reseller, &deal));
    let r = reseller.post(&format!("/api/v1/deals/{deal}/accept"), &json!({}));
    assert_eq!(r.status, 200, "{}", r.text);
    wait("the acceptance on the vendor", || {
        let s = standing(&vendor, "Reseller Co");
        (s["numbers"]["deals_shared"] == 1).then_some(())
    });
    let s = standing(&vendor, "Reseller Co");
    assert_eq!(s["tier"], "registered", "{s:#}");
    assert_eq!(s["next"]["tier"], "silver");
    assert_eq!(lacks(&s), ["deals_won", "certified_people"]);

    // A certified person and a won deal: silver.
    let cert = scratch.join("jane.json");
    let out = vendor.cli(&[
        "attest",
        "issue",
        "--subject",
        "Jane Doe",
        "--certification",
        "Solutions Architect",
        "--level",
        "professional",
        "--expires",
        "2099-12-31",
        "--partner",
        "Reseller Co",
        "--out",
        cert.to_str().expect("path"),
    ]);
    assert!(out.ok(), "attest issue: {}", out.stderr);
    let r = vendor.patch(
        &format!("/api/v1/opportunities/{opp}"),
        &json!({"stage": "launched"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let s = wait("silver", || {
        let s = standing(&vendor, "Reseller Co");
        (s["tier"] == "silver").then_some(s)
    });
    assert_eq!(s["next"]["tier"], "gold");
    assert_eq!(lacks(&s), ["won_revenue", "deals_won", "certified_people"]);
    assert_eq!(s["figures"]["won_revenue"], "250000");
    assert_eq!(s["figures"]["certified_people"], 1);
    assert_eq!(s["benefits"]["discount"], "10% off list");
    let explanation = s["health"]["explanation"].as_str().expect("explanation");
    assert!(explanation.starts_with("score "), "{explanation}");
    assert!(explanation.contains("win rate 100% (+)"), "{explanation}");

    // The human view names the tier and what gold lacks.
    let out = vendor.cli(&["program", "show"]);
    assert!(out.ok(), "{}", out.stderr);
    assert!(out.stdout.contains("Reseller Co: silver"), "{}", out.stdout);
    assert!(
        out.stdout.contains("next tier gold: lacks"),
        "{}",
        out.stdout
    );

    // The QBR pack on both sides: the same won revenue, and equal to the analytics route.
    let quarter = quarter_of(&today);
    let vendor_pack = scratch.join("qbr-vendor");
    let out = vendor.cli(&[
        "report",
        "qbr",
        "Reseller Co",
        "--quarter",
        &quarter,
        "--out",
        vendor_pack.to_str().expect("path"),
    ]);
    assert!(out.ok(), "report qbr: {}", out.stderr);
    let reseller_pack = reseller.scratch().join("qbr-reseller");
    let out = reseller.cli(&[
        "report",
        "qbr",
        "Vendor Co",
        "--quarter",
        &quarter,
        "--out",
        reseller_pack.to_str().expect("path"),
    ]);
    assert!(out.ok(), "report qbr (reseller): {}", out.stderr);
    let html = std::fs::read_to_string(vendor_pack.join("qbr.html")).expect("qbr.html");
    assert!(
        html.contains("<svg") && html.contains("Vendor Co × Reseller Co"),
        "{html}"
    );
    assert!(!html.contains("<script"), "the pack is static");
    let won = |dir: &Path| -> String {
        let summary = std::fs::read_to_string(dir.join("summary.csv")).expect("summary.csv");
        summary
            .lines()
            .find_map(|l| l.strip_prefix("Won revenue,"))
            .expect("won revenue row")
            .to_string()
    };
    assert_eq!(won(&vendor_pack), "250000 USD");
    assert_eq!(won(&reseller_pack), "250000 USD");
    let analytics = vendor.get(&format!("/api/v1/analytics?quarter={quarter}"));
    assert_eq!(analytics.status, 200, "{}", analytics.text);
    let item = analytics.json["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["partner"]["id"] == reseller.id.as_str())
        .expect("the reseller's numbers")
        .clone();
    assert_eq!(item["numbers"]["won_revenue"], "250000");
    assert_eq!(item["numbers"]["deals_won"], 1);
    assert_eq!(analytics.json["totals"]["won_revenue"], "250000");
    let deals_csv = std::fs::read_to_string(vendor_pack.join("deals.csv")).expect("deals.csv");
    assert!(
        deals_csv
            .lines()
            .nth(1)
            .is_some_and(|l| l.starts_with(&deal)
                && l.contains(",launched,")
                && l.ends_with(",won")),
        "{deals_csv}"
    );
}

#[test]
fn attestations_verify_offline_and_tampered_expired_revoked_or_unknown_ones_do_not() {
    let (vendor, reseller) = vendor_and_reseller(&[], NAME_STAGE_AND_DOMAIN);
    let scratch = vendor.scratch();
    let path = |name: &str| scratch.join(name).to_str().expect("path").to_string();
    let issue = |file: &str, expires: &str, issued: Option<&str>| {
        let mut args = vec![
            "attest",
            "issue",
            "--subject",
            "Jane Doe",
            "--certification",
            "Security Specialist",
            "--level",
            "expert",
            "--expires",
            expires,
            "--partner",
            &reseller.id,
            "--out",
            file,
        ];
        if let Some(d) = issued {
            args.extend(["--issued", d]);
        }
        let out = vendor.cli(&args);
        assert!(out.ok(), "attest issue: {}", out.stderr);
        out.stdout.trim().to_string()
    };
    let good = path("good.json");
    let id = issue(&good, "2099-01-01", None);
    assert_eq!(id.len(), 32, "{id}");
    let verify = |node: &Node, file: &str, extra: &[&str]| {
        let mut args = vec!["attest", "verify", file];
        args.extend_from_slice(extra);
        node.cli(&args)
    };
    let out = verify(&vendor, &good, &[]);
    assert!(out.ok(), "valid on the issuer: {}", out.stderr);
    assert!(out.stdout.starts_with("valid: Jane Doe"), "{}", out.stdout);
    // The partner trusts its partner vendor.
    assert!(verify(&reseller, &good, &[]).ok());

    // Tampered: one changed word.
    let text = std::fs::read_to_string(&good).expect("file");
    let tampered = write_file(
        &scratch,
        "tampered.json",
        text.replace("expert", "master").as_bytes(),
    );
    let out = verify(&vendor, tampered.to_str().expect("path"), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stderr.contains("tampered"), "{}", out.stderr);

    // Expired.
    let old = path("old.json");
    issue(&old, "2020-12-31", Some("2020-01-01"));
    let out = verify(&vendor, &old, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stderr.contains("expired on 2020-12-31"),
        "{}",
        out.stderr
    );

    // Unknown issuer: a node that is no partner of the vendor, unless it trusts it by id.
    let stranger = Node::init("Stranger Co");
    let out = verify(&stranger, &good, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stderr.contains("unknown issuer"), "{}", out.stderr);
    assert!(verify(&stranger, &good, &["--issuer", &vendor.id]).ok());

    // Revoked: at once on the issuer; elsewhere with the issuer's signed revocation list.
    let out = vendor.cli(&["attest", "revoke", &good, "--reason", "left the company"]);
    assert!(out.ok(), "revoke: {}", out.stderr);
    let out = verify(&vendor, &good, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stderr.contains("revoked on") && out.stderr.contains("left the company"),
        "{}",
        out.stderr
    );
    let list = path("revocations.json");
    assert!(vendor.cli(&["attest", "revocations", "--out", &list]).ok());
    let out = verify(
        &stranger,
        &good,
        &["--issuer", &vendor.id, "--revocations", &list],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stderr.contains("revoked"), "{}", out.stderr);
    // A forged revocation list is refused by name.
    let forged = std::fs::read_to_string(&list)
        .expect("list")
        .replace("left the company", "nothing");
    let forged = write_file(&scratch, "forged.json", forged.as_bytes());
    let out = verify(
        &stranger,
        &good,
        &[
            "--issuer",
            &vendor.id,
            "--revocations",
            forged.to_str().expect("path"),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stderr.contains("tampered"), "{}", out.stderr);

    // The API says the same, and the audit names each step.
    let r = vendor.post("/api/v1/attestations/verify", &json!({"file": text}));
    assert_eq!(r.json["valid"], false);
    assert_eq!(r.json["code"], "revoked");
    let audit = vendor.get("/api/v1/audit?kind=program");
    let summaries: Vec<&str> = audit.json["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|e| e["summary"].as_str())
        .collect();
    assert!(
        summaries
            .iter()
            .any(|s| s.starts_with("issued attestation")),
        "{summaries:?}"
    );
    assert!(
        summaries
            .iter()
            .any(|s| s.starts_with("revoked attestation")),
        "{summaries:?}"
    );
}

#[test]
fn lms_completions_import_all_or_nothing_and_count_toward_the_tier() {
    let (vendor, reseller) = vendor_and_reseller(&[], NAME_STAGE_AND_DOMAIN);
    let scratch = vendor.scratch();
    let bad = write_file(
        &scratch,
        "bad.csv",
        b"Name,Partner,Course,Level,Completed,Expires\nAna Lima,Reseller Co,Cloud Basics,associate,2026-01-10,2099-01-10\nBo Chen,Nobody Inc,Cloud Basics,associate,2026-01-10,2099-01-10\n",
    );
    let out = vendor.cli(&["attest", "import", bad.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stderr.contains("line 3") && out.stderr.contains("Nobody Inc"),
        "{}",
        out.stderr
    );
    assert_eq!(
        vendor.get("/api/v1/attestations").json["items"]
            .as_array()
            .map(Vec::len),
        Some(0),
        "nothing half-written"
    );
    let good = write_file(
        &scratch,
        "good.csv",
        b"Name,Partner,Course,Level,Completed,Expires\nAna Lima,Reseller Co,Cloud Basics,associate,2026-01-10,2099-01-10\nBo Chen,Reseller Co,Cloud Basics,associate,2026-01-10,2099-01-10\nBo Chen,Reseller Co,Cloud Pro,professional,2026-02-10,2099-02-10\n",
    );
    let out = vendor.cli(&["attest", "import", good.to_str().expect("path")]);
    assert!(out.ok(), "{}", out.stderr);
    assert!(
        out.stderr.contains("issued 3 attestations"),
        "{}",
        out.stderr
    );
    let program = write_file(&scratch, "program.toml", PROGRAM.as_bytes());
    assert!(vendor
        .cli(&["program", "set", program.to_str().expect("path")])
        .ok());
    let s = standing(&vendor, &reseller.id);
    // Two people, however many certifications each holds.
    assert_eq!(s["figures"]["certified_people"], 2);
}

#[test]
fn a_bad_program_is_refused_with_line_and_key_and_nothing_changes() {
    let vendor = {
        let mut n = Node::init("Vendor Co");
        n.serve();
        n
    };
    let r = vendor.get("/api/v1/program");
    assert_error_shape(&r, 404);
    let bad = "version = 1\ncurrency = \"USD\"\n[[tiers]]\nname = \"silver\"\nrequires = { deals_wonn = 1 }\n";
    let file = write_file(&vendor.scratch(), "bad.toml", bad.as_bytes());
    let out = vendor.cli(&["program", "set", file.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stderr.contains("line 5, key tiers.silver.requires: unknown metric \"deals_wonn\" (did you mean \"deals_won\"?)"), "{}", out.stderr);
    let r = vendor.request(
        "PUT",
        "/api/v1/program",
        Some("application/toml"),
        Some(bad.as_bytes()),
    );
    assert_error_shape(&r, 422);
    assert_eq!(r.json["details"][0]["line"], 5);
    let r = vendor.request("PUT", "/api/v1/program", None, Some(PROGRAM.as_bytes()));
    assert_error_shape(&r, 415);
    assert_error_shape(&vendor.get("/api/v1/program"), 404);
    let r = vendor.request(
        "PUT",
        "/api/v1/program",
        Some("application/toml"),
        Some(PROGRAM.as_bytes()),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["version"], 1);
    assert_eq!(r.json["program"]["tiers"][1]["name"], "silver");
    let r = vendor.get("/api/v1/analytics?quarter=2026-Q5");
    assert_error_shape(&r, 400);
    let r = vendor.get("/api/v1/analytics?year=2026");
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.json["period"]["from"]
            .as_str()
            .is_some_and(|f| f.starts_with("2026-01-01")),
        "{}",
        r.text
    );
    let r = vendor.get("/api/v1/analytics?year=1969");
    assert_error_shape(&r, 400);
}

#[test]
fn a_tier_change_is_published_to_webhooks_and_audited_once() {
    const TIERS: &str = r#"
version = 1
currency = "USD"

[[tiers]]
name = "registered"

[[tiers]]
name = "silver"
requires = { deals_won = 1 }
"#;
    let (vendor, reseller) = vendor_and_reseller(&[], SHARE_AMOUNTS);
    let events = hook(&vendor, &["program.*"]);
    let program = write_file(&vendor.scratch(), "program.toml", TIERS.as_bytes());
    let out = vendor.cli(&["program", "set", program.to_str().expect("path")]);
    assert!(out.ok(), "{}", out.stderr);
    // Setting the program places the partner: from no tier to registered.
    let first = expect_event(&events, "program.tier_changed");
    assert_eq!(
        first["data"],
        json!({"partner": reseller.id, "partner_name": "Reseller Co", "from": null, "to": "registered"}),
        "{first}"
    );

    // A won deal: silver, published after the deal's own events (no wait for the timer).
    let opp = opportunity(
        &vendor,
        "tier-events.example",
        json!({"amount": "1000", "currency": "USD"}),
    );
    let deal = share_deal(&vendor, &opp, &[&reseller.id]);
    wait("the invitation", || inbox_item(&reseller, &deal));
    let r = reseller.post(&format!("/api/v1/deals/{deal}/accept"), &json!({}));
    assert_eq!(r.status, 200, "{}", r.text);
    wait("the acceptance on the vendor", || {
        let s = standing(&vendor, "Reseller Co");
        (s["numbers"]["deals_shared"] == 1).then_some(())
    });
    let r = vendor.patch(
        &format!("/api/v1/opportunities/{opp}"),
        &json!({"stage": "launched"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let climb = expect_event(&events, "program.tier_changed");
    assert_eq!(climb["data"]["from"], "registered", "{climb}");
    assert_eq!(climb["data"]["to"], "silver", "{climb}");

    // Setting the program again computes silver again: no change. Each change audited once …
    let out = vendor.cli(&["program", "set", program.to_str().expect("path")]);
    assert!(out.ok(), "{}", out.stderr);
    let audit = vendor.get("/api/v1/audit?kind=program&limit=1000");
    let changes: Vec<&str> = audit.json["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|e| e["summary"].as_str())
        .filter(|s| s.contains("tier changed"))
        .collect();
    assert_eq!(
        changes,
        [
            "Reseller Co's tier changed from no tier to registered",
            "Reseller Co's tier changed from registered to silver"
        ],
        "{audit:?}"
    );
    // … and published once: setting the program again moved no tier.
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(1500);
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        if let Ok(more) = events.recv_timeout(left) {
            assert_ne!(more.event(), "program.tier_changed", "{}", more.json());
        }
    }
}
