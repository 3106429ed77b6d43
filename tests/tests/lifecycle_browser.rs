//! Lifecycle in the web UI, in a real browser (Debian's Chromium driven by playwright-core, as
//! in browser.rs; tests/browser/lifecycle-ui.mjs): an admin erases a person's data from the
//! Erasure page — a dry run whose tables show the records (fields erased and kept), the stored
//! tables and the shared deals (what the partner wrote stays with it), then a confirmation —;
//! the origin withdraws the deal in its deal room (a reason, a confirmation) and the partner's
//! deal page shows only "withdrawn by Vendor Co on …: why"; and the vendor revokes an approved registration with a reason on its Registrations page,
//! which the partner reads on its own. axe-core finds nothing on either page. The only test in
//! this binary: it sets COSELL_WEB_UI before starting nodes.

use cosell_e2e::*;
use serde_json::json;
use std::time::Duration;

const PASSWORD: &str = "browser-test-password-1";
const POLICY: &str = r#"
[opportunities]
fields = ["name", "stage", "next_step", "account.name", "account.domain"]
"#;
/// The person the admin erases.
const EMAIL: &str = "ana.lopez@erased-ui.example";

#[test]
fn erasure_withdrawal_and_registration_revocation_in_chromium() {
    let Some(browser) = browser_run() else { return };
    let (vendor, reseller) = vendor_and_reseller(&[], POLICY);
    for (node, user, role) in [(&vendor, "alice", "admin"), (&reseller, "paula", "manager")] {
        let r = node.post(
            "/api/v1/users",
            &json!({"username": user, "password": PASSWORD, "role": role}),
        );
        assert_eq!(r.status, 201, "{}", r.text);
    }
    // A contact's address in an opportunity shared with the reseller, which writes it into its
    // own section too (the vendor cannot erase that: the report says who keeps it).
    let opp = opportunity(
        &vendor,
        "erased-ui.example",
        json!({"next_step": format!("call {EMAIL} on Monday"), "description": format!("champion: {EMAIL}")}),
    );
    let deal = share_deal(&vendor, &opp, &[&reseller.id]);
    wait("the invitation", || inbox_item(&reseller, &deal));
    post_ok(
        &reseller,
        &format!("/api/v1/deals/{deal}/accept"),
        json!({}),
        200,
    );
    // The deal's content arrives after the acceptance: the section can be written then.
    wait("the reseller's section written", || {
        let r = reseller.patch(
            &format!("/api/v1/deals/{deal}"),
            &json!({"contacts": [EMAIL]}),
        );
        assert!(matches!(r.status, 200 | 404), "{}", r.text);
        (r.status == 200).then_some(())
    });
    wait("the reseller's section on the vendor", || {
        let d = vendor.get(&format!("/api/v1/deals/{deal}")).json;
        d["sections"][reseller.id.as_str()]["contacts"]
            .as_array()
            .filter(|c| !c.is_empty())
            .map(|_| ())
    });

    // An approved registration of the reseller's, for the vendor to revoke in the UI.
    let out = reseller.cli(&[
        "register",
        "--vendor",
        "Vendor Co",
        "--account-domain",
        "revoke-ui.example",
        "--account-name",
        "Revoke UI Inc",
    ]);
    assert!(out.ok(), "register: {}", out.stderr);
    let registration = out.stdout.trim().to_string();
    wait("the registration on the vendor", || {
        let r = vendor.get(&format!("/api/v1/registrations/{registration}"));
        (r.status == 200).then_some(())
    });
    post_ok(
        &vendor,
        &format!("/api/v1/registrations/{registration}/approve"),
        json!({}),
        200,
    );
    wait("the approval on the reseller", || {
        let r = reseller.get(&format!("/api/v1/registrations/{registration}"));
        (r.json["status"] == "approved").then_some(())
    });

    let status = browser.run(
        "lifecycle-ui.mjs",
        &[
            ("COSELL_VENDOR_URL", vendor.url()),
            ("COSELL_PARTNER_URL", reseller.url()),
            ("COSELL_VENDOR_TOKEN", &vendor.token()),
            ("COSELL_OPPORTUNITY_ID", &opp),
            ("COSELL_DEAL_ID", &deal),
            ("COSELL_REGISTRATION_ID", &registration),
            ("COSELL_EMAIL", EMAIL),
            ("COSELL_PASSWORD", PASSWORD),
        ],
        Duration::from_secs(180),
    );
    assert!(
        status.success(),
        "lifecycle browser test failed ({status}); screenshots in {}\nvendor log:\n{}",
        browser.shots.display(),
        vendor.log()
    );
    // The erasure reached the record: the vendor's opportunity no longer holds the address.
    let o = vendor.get(&format!("/api/v1/opportunities/{opp}"));
    assert!(
        !o.text.to_lowercase().contains(EMAIL),
        "still in the opportunity: {}",
        o.text
    );
    drop(reseller);
}
