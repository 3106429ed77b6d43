//! The partner program's web UI in a real browser (Debian's Chromium driven by playwright-core,
//! as in browser.rs): the Program page shows a partner's tier, what the next tier lacks and its
//! health; axe-core finds nothing; the QBR pack's HTML opens in a new tab and is screenshotted
//! (target/browser-screenshots/program-*.png); a certification issued in the form and a won
//! deal move the partner to silver on the open page (`program.tier_changed`); an announcement
//! sent from the vendor's inbox page reaches the partner's inbox (unread badge, "Mark read") and
//! its read receipt shows on the vendor's page; the partner's Program page shows its own tier;
//! axe-core finds nothing on either inbox page. The only test in this binary: it sets
//! COSELL_WEB_UI before starting nodes.

use cosell_e2e::*;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const PASSWORD: &str = "browser-test-password-1";
const PROGRAM: &str = r#"
version = 1
currency = "USD"

[[tiers]]
name = "registered"

[[tiers]]
name = "silver"
requires = { deals_won = 1, certified_people = 2 }
benefits = { registration_protection_days = 90 }
"#;
const SHARE_AMOUNTS: &str = r#"
[opportunities]
fields = ["name", "stage", "amount", "currency", "close_date", "account.name", "account.domain"]
"#;

#[test]
fn the_program_page_shows_tiers_and_opens_a_qbr_pack_in_chromium() {
    if std::env::var("COSELL_BROWSER_TESTS").as_deref() == Ok("0") {
        println!("browser tests skipped: COSELL_BROWSER_TESTS=0");
        return;
    }
    let chromium = std::env::var("COSELL_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).is_file(),
        "no Chromium at {chromium}: `apt-get install -y chromium` (or set COSELL_BROWSER_TESTS=0 to skip)"
    );
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("browser");
    assert!(
        dir.join("node_modules/playwright-core").is_dir(),
        "no playwright-core: run `(cd tests/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci)`"
    );
    std::env::set_var(
        "COSELL_WEB_UI",
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../web-ui"),
    );

    let (vendor, reseller) = vendor_and_reseller(&[], SHARE_AMOUNTS);
    let r = vendor.post(
        "/api/v1/users",
        &json!({"username": "alice", "password": PASSWORD, "role": "admin"}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let r = reseller.post(
        "/api/v1/users",
        &json!({"username": "bob", "password": PASSWORD, "role": "manager"}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let program = write_file(&vendor.scratch(), "program.toml", PROGRAM.as_bytes());
    let out = vendor.cli(&["program", "set", program.to_str().expect("path")]);
    assert!(out.ok(), "{}", out.stderr);
    let r = vendor.post(
        "/api/v1/attestations",
        &json!({"subject": "Jane Doe", "partner": reseller.id, "certification": "Solutions Architect",
                "level": "professional", "expires": "2099-12-31"}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    // A shared, accepted deal: pipeline to chart.
    let opp = opportunity(
        &vendor,
        "program-ui.example",
        json!({"amount": "250000", "currency": "USD"}),
    );
    let deal = share_deal(&vendor, &opp, &[&reseller.id]);
    wait("the invitation", || inbox_item(&reseller, &deal));
    let r = reseller.post(&format!("/api/v1/deals/{deal}/accept"), &json!({}));
    assert_eq!(r.status, 200, "{}", r.text);
    wait("the acceptance on the vendor", || {
        let s = vendor.get(&format!("/api/v1/program/partners/{}", reseller.id));
        (s.json["numbers"]["deals_shared"] == 1).then_some(())
    });

    let exe = std::env::current_exe().expect("current exe");
    let shots: PathBuf = exe
        .ancestors()
        .nth(3)
        .expect("target dir")
        .join("browser-screenshots");
    std::fs::create_dir_all(&shots).expect("screenshot dir");
    let mut child = Command::new("node")
        .args(["--test", "--test-reporter=spec", "program-ui.mjs"])
        .current_dir(&dir)
        .env("COSELL_VENDOR_URL", vendor.url())
        .env("COSELL_PARTNER_ID", &reseller.id)
        .env("COSELL_PARTNER_URL", reseller.url())
        .env("COSELL_VENDOR_TOKEN", vendor.token())
        .env("COSELL_OPPORTUNITY_ID", &opp)
        .env("COSELL_PASSWORD", PASSWORD)
        .env("COSELL_CHROMIUM", &chromium)
        .env("COSELL_SCREENSHOTS", &shots)
        .spawn()
        .expect("cannot start `node` (install Node.js 20+)");
    let status = wait_bounded(&mut child, Duration::from_secs(180)).unwrap_or_else(|| {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the program browser test did not finish within 180 s")
    });
    assert!(
        status.success(),
        "program browser test failed ({status}); screenshots in {}\nvendor log:\n{}\nvendor's announcements: {}\npartner's: {}\npartner log:\n{}",
        shots.display(),
        vendor.log(),
        vendor.get("/api/v1/announcements").text,
        reseller.get("/api/v1/announcements").text,
        reseller.log()
    );
    drop(reseller);
}
