//! The web UI in a real browser: starts a vendor and a partner node (partnership, policy and
//! users made through the API), then runs the Playwright tests in `tests/browser/` against them
//! with Debian's Chromium (`node --test`). Screenshots go to `target/browser-screenshots/`.
//!
//! Needs `chromium` and `tests/browser/node_modules` (`.ci/run` installs both); fails without
//! them. Set `COSELL_BROWSER_TESTS=0` to skip it.

use cosell_e2e::{accounts_csv, wait_bounded, Node, SmtpServer};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// How long the whole browser suite may run.
const SUITE_TIMEOUT: Duration = Duration::from_secs(600);
/// The one password every test user gets.
const PASSWORD: &str = "browser-test-password-1";
/// What the vendor shares with the partner at first (the browser test edits it later).
/// Its `[accounts]` section lets account mapping show overlapping accounts (the mapping test
/// sets it again after the policy editor test has replaced it).
const POLICY: &str = r#"
[opportunities]
fields = ["name", "stage", "amount", "close_date", "account.name", "account.domain"]
amount = { round_to = 10000 }
close_date = "month"

[accounts]
sharing = "overlaps"
fields = ["name", "domain", "status"]
"#;
/// What the vendor shares with its second partner: the close date as a quarter only, so a deal
/// shared with both partners carries the quarter (the share preview must say so).
const SECOND_POLICY: &str = r#"
[opportunities]
fields = ["name", "stage", "close_date", "account.name", "account.domain"]
close_date = "quarter"
"#;
/// What the partner shares with the vendor: a few opportunity fields (so a deal proposed from
/// account mapping can be shared) and accounts for mapping.
const PARTNER_POLICY: &str = r#"
[opportunities]
fields = ["name", "stage", "account.name", "account.domain"]

[accounts]
sharing = "overlaps"
fields = ["name", "domain", "status"]
"#;
/// The partner's accounts: two of the vendor's customers and its prospect `acme.example` (so
/// account mapping finds overlaps), and one of its own.
const PARTNER_ACCOUNTS: &str = "external_id,name,domain,industry,country,status,owner
p-1,Company One (partner view),company-1.example,Software,Germany,prospect,Pat
p-2,Company Two (partner view),company-2.example,Software,Germany,prospect,Pat
p-3,Acme (partner view),acme.example,Retail,France,prospect,Pat
p-4,Only Ours,partner-only.example,Retail,France,prospect,Pat
";

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("browser")
}

/// `target/` (the test executable is `target/debug/deps/browser-…`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    exe.ancestors()
        .nth(3)
        .expect("target dir above target/debug/deps")
        .to_path_buf()
}

/// `reseller` joins `vendor` by an invite: a reseller to the vendor, the vendor to it.
fn join_as_reseller(vendor: &Node, reseller: &Node) {
    let invite = vendor.post("/api/v1/partners/invites", &json!({"type": "reseller"}));
    assert_eq!(invite.status, 201, "{}", invite.text);
    let joined = reseller.post(
        "/api/v1/partners/join",
        &json!({"token": invite.json["token"], "type": "vendor"}),
    );
    assert_eq!(joined.status, 200, "join: {}", joined.text);
}

/// Sets what `node` shares with the partner `partner_id`.
fn set_policy(node: &Node, partner_id: &str, policy: &str) {
    let r = node.request(
        "PUT",
        &format!("/api/v1/partners/{partner_id}/policy"),
        Some("text/plain"),
        Some(policy.as_bytes()),
    );
    assert_eq!(r.status, 200, "policy: {}", r.text);
}

fn create_user(node: &Node, username: &str, role: &str) {
    let r = node.post(
        "/api/v1/users",
        &json!({"username": username, "password": PASSWORD, "role": role}),
    );
    assert_eq!(r.status, 201, "create user {username}: {}", r.text);
}

#[test]
fn web_ui_flows_in_a_real_browser() {
    if std::env::var("COSELL_BROWSER_TESTS").as_deref() == Ok("0") {
        println!("browser tests skipped: COSELL_BROWSER_TESTS=0");
        return;
    }
    let chromium = std::env::var("COSELL_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).is_file(),
        "no Chromium at {chromium}: `apt-get install -y chromium` (or set COSELL_BROWSER_TESTS=0 to skip)"
    );
    let dir = browser_dir();
    assert!(
        dir.join("node_modules/playwright-core").is_dir(),
        "no playwright-core in {}: run `(cd tests/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci)` (or set COSELL_BROWSER_TESTS=0 to skip)",
        dir.display()
    );

    // Serve this checkout's web UI (with a shared target dir, the program's own lookup could
    // find another checkout's `web-ui/` first). The only test in this binary: no other thread
    // reads the environment.
    // `COSELL_BROWSER_WEB_UI` serves another copy of the UI (e.g. an older commit's, to see a
    // new test fail on it).
    let web_ui = std::env::var_os("COSELL_BROWSER_WEB_UI")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../web-ui"));
    std::env::set_var("COSELL_WEB_UI", &web_ui);

    // A real SMTP server (Python's aiosmtpd) that keeps every mail in a maildir the browser
    // test reads: e-mail notifications go through it.
    let smtp = SmtpServer::start();
    let mut vendor = Node::init("Vendor Co");
    smtp.configure(&vendor, "cosell@vendor.example");
    // The vendor owes an answer within 72 s here: the registration left pending goes overdue
    // (and mails its overdue notice) while the suite runs. Digests go out every 6 s.
    cosell_e2e::set_setting(&vendor, "registration_sla_hours", "0.02");
    cosell_e2e::set_setting(&vendor, "digest_interval_minutes", "0.1");
    vendor.serve();
    let mut partner = Node::init("Partner Inc");
    smtp.configure(&partner, "cosell@partner.example");
    partner.serve();
    // A second reseller of the vendor: a share with two partners, and a registration of an
    // account the first one registered first.
    let mut second = Node::init("Second Partner");
    second.serve();

    // Partnerships through the API: the vendor invites each reseller, which joins its vendor.
    join_as_reseller(&vendor, &partner);
    set_policy(&vendor, &partner.id, POLICY);
    join_as_reseller(&vendor, &second);
    set_policy(&vendor, &second.id, SECOND_POLICY);
    set_policy(&partner, &vendor.id, PARTNER_POLICY);

    // Records: a few accounts and opportunities, and the one the test shares.
    let r = vendor.post_csv("/api/v1/import/accounts", accounts_csv(5).as_bytes());
    assert_eq!(r.status, 200, "{}", r.text);
    let r = vendor.post_csv(
        "/api/v1/import/opportunities",
        cosell_e2e::opportunities_csv(12, 5).as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let account = vendor.post(
        "/api/v1/accounts",
        &json!({"name": "Acme Corp", "domain": "acme.example", "status": "prospect"}),
    );
    assert_eq!(account.status, 201, "{}", account.text);
    let opportunity = vendor.post(
        "/api/v1/opportunities",
        &json!({
            "account_id": account.json["id"], "name": "Acme platform rollout", "stage": "qualified",
            "amount": "12345", "currency": "EUR", "close_date": "2027-03-15",
            "owner": "Private Owner", "description": "never shared",
        }),
    );
    assert_eq!(opportunity.status, 201, "{}", opportunity.text);

    // The partner's records: overlapping accounts, and an opportunity on one of them (the
    // mapping page proposes sharing it).
    let r = partner.post_csv("/api/v1/import/accounts", PARTNER_ACCOUNTS.as_bytes());
    assert_eq!(r.status, 200, "{}", r.text);
    let r = partner.post(
        "/api/v1/opportunities",
        &json!({"account_domain": "company-1.example", "name": "Company One expansion",
                "stage": "qualified", "amount": "40000", "currency": "EUR"}),
    );
    assert_eq!(r.status, 201, "{}", r.text);

    // Shared with both partners by the browser test (the two-partner share preview).
    let both = vendor.post(
        "/api/v1/opportunities",
        &json!({
            "account_id": account.json["id"], "name": "Acme second site", "stage": "prospect",
            "amount": "80000", "currency": "EUR", "close_date": "2027-05-20",
        }),
    );
    assert_eq!(both.status, 201, "{}", both.text);
    // A pipeline in two currencies: the dashboard charts both.
    let usd = vendor.post(
        "/api/v1/opportunities",
        &json!({
            "account_id": account.json["id"], "name": "Acme US subsidiary", "stage": "committed",
            "amount": "250000", "currency": "USD",
        }),
    );
    assert_eq!(usd.status, 201, "{}", usd.text);

    create_user(&vendor, "alice", "admin");
    create_user(&vendor, "victor", "viewer");
    create_user(&vendor, "mark", "manager");
    create_user(&partner, "paula", "manager");
    create_user(&second, "sam", "manager");

    let shots = target_dir().join("browser-screenshots");
    std::fs::create_dir_all(&shots).expect("screenshot dir");
    let mut child = Command::new("node")
        .args(["--test", "--test-concurrency=1", "--test-reporter=spec"])
        .arg(&dir)
        .current_dir(&dir)
        .env("COSELL_VENDOR_URL", vendor.url())
        .env("COSELL_PARTNER_URL", partner.url())
        .env("COSELL_VENDOR_ID", &vendor.id)
        .env("COSELL_PARTNER_ID", &partner.id)
        .env("COSELL_SECOND_URL", second.url())
        .env("COSELL_SECOND_ID", &second.id)
        .env("COSELL_SECOND_TOKEN", second.token())
        .env(
            "COSELL_BOTH_OPPORTUNITY_ID",
            both.json["id"].as_str().unwrap(),
        )
        .env("COSELL_VENDOR_TOKEN", vendor.token())
        .env("COSELL_PARTNER_TOKEN", partner.token())
        .env(
            "COSELL_OPPORTUNITY_ID",
            opportunity.json["id"].as_str().unwrap(),
        )
        .env("COSELL_PASSWORD", PASSWORD)
        .env("COSELL_CHROMIUM", &chromium)
        .env("COSELL_SCREENSHOTS", &shots)
        .env("COSELL_MAILDIR", &smtp.maildir)
        .spawn()
        .expect("cannot start `node` (install Node.js 20+)");
    let status = wait_bounded(&mut child, SUITE_TIMEOUT).unwrap_or_else(|| {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the browser tests did not finish within {SUITE_TIMEOUT:?}")
    });
    assert!(
        status.success(),
        "browser tests failed ({status}); screenshots in {}\nvendor log:\n{}\npartner log:\n{}",
        shots.display(),
        vendor.log(),
        partner.log()
    );
    drop(second);
    println!("browser tests passed; screenshots in {}", shots.display());
}
