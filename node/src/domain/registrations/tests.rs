use super::watch::{extend_on_activity, newly_changed_after_decision};
use super::{approve, change, get, reject, submit, RegistrationChange, RegistrationInput};
use crate::domain::audit;
use crate::domain::deals::testing::{befriend, share_with, side, sync, Side};
use crate::domain::deals::DealsError;
use crate::store::shared;
use protocol::deal::DealId;
use protocol::records::Currency;
use serde_json::json;

fn usd() -> Currency {
    Currency::parse("USD").unwrap()
}

fn register(partner: &Side, vendor: &Side, now: u64) -> DealId {
    let input = RegistrationInput {
        vendor: vendor.deals.me().to_string(),
        account_name: "Acme".into(),
        account_domain: "acme.example".into(),
        amount: Some("120000".into()),
        close_date: Some("2027-06-30".into()),
        products: vec!["platform".into()],
        ..RegistrationInput::default()
    };
    submit(&partner.deals, &input, usd(), now).unwrap()
}

/// A vendor and a partner, and a registration (made at time 10) both hold.
fn registered() -> (Side, Side, DealId) {
    let vendor = side(1, "Vendor");
    let partner = side(2, "Partner");
    befriend(&vendor, &partner);
    let id = register(&partner, &vendor, 10);
    sync(&vendor, &partner);
    (vendor, partner, id)
}

/// The partner, not having seen the vendor's decision, changes the amount at time 21; then
/// the two meet.
fn change_crossing_the_decision(vendor: &Side, partner: &Side, id: DealId, amount: &str) {
    change(&partner.deals, id, &amount_to(amount), usd(), 21).unwrap();
    sync(vendor, partner);
}

fn amount_to(amount: &str) -> RegistrationChange {
    RegistrationChange {
        amount: Some(Some(amount.into())),
        ..RegistrationChange::default()
    }
}

/// The audit entries of terms changed after a decision (submissions, changes and decisions are
/// `registration` entries too).
fn audit_of(side: &Side) -> Vec<shared::AuditEntry> {
    shared::audit_page(&side.store, 0, 100)
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == audit::AuditKind::Registration)
        .filter(|e| e.details.get("decided_terms").is_some())
        .collect()
}

#[test]
fn a_change_made_while_the_decision_was_on_its_way_is_not_covered_by_it() {
    // Goal: the vendor approves while the partner is cut off; the partner, still seeing
    // "pending", raises the amount. After they meet, both nodes show the registration
    // approved on the terms the vendor saw, flagged as changed after the decision; each node
    // keeps one audit entry of it; the vendor can approve the new terms, which clears it.
    let (vendor, partner, id) = registered();
    approve(&vendor.deals, id, 20).unwrap();
    change_crossing_the_decision(&vendor, &partner, id, "500000");

    for side in [&vendor, &partner] {
        let r = get(&side.deals, id, 22).unwrap().unwrap();
        assert_eq!(r["status"], "approved");
        assert_eq!(r["amount"], "500000");
        assert_eq!(r["changed_after_decision"], true, "{r}");
        assert_eq!(
            r["decided_terms"],
            json!({"account_name": "Acme", "amount": "120000", "currency": "USD",
                   "close_date": "2027-06-30", "products": ["platform"]})
        );
    }
    let reported = newly_changed_after_decision(&vendor.deals, 23).unwrap();
    assert_eq!(reported.len(), 1);
    assert_eq!(reported[0].1, ["amount"]);
    assert!(
        newly_changed_after_decision(&vendor.deals, 24)
            .unwrap()
            .is_empty(),
        "reported once"
    );
    let entries = audit_of(&vendor);
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert!(
        entries[0].summary.contains("Partner changed registration")
            && entries[0].summary.contains("amount"),
        "{}",
        entries[0].summary
    );
    assert_eq!(entries[0].details["decided_terms"]["amount"], "120000");
    assert_eq!(entries[0].details["terms"]["amount"], "500000");
    assert_eq!(
        newly_changed_after_decision(&partner.deals, 23)
            .unwrap()
            .len(),
        1
    );
    assert_eq!(audit_of(&partner).len(), 1);

    // Approving again approves what is in front of the vendor now.
    let r = approve(&vendor.deals, id, 30).unwrap();
    assert_eq!(r["changed_after_decision"], false, "{r}");
    assert_eq!(r["decided_terms"]["amount"], "500000");
    sync(&vendor, &partner);
    let r = get(&partner.deals, id, 31).unwrap().unwrap();
    assert_eq!(r["changed_after_decision"], false, "{r}");
    assert!(newly_changed_after_decision(&vendor.deals, 32)
        .unwrap()
        .is_empty());
}

#[test]
fn a_registration_that_arrives_after_another_partners_approval_is_not_approved_too() {
    // Bug: P2 registered while the vendor was away; P1 registered later and was approved;
    // P2's registration then arrived, earlier by its claim, and approving it left two
    // partners holding one account.
    let vendor = side(1, "Vendor");
    let p1 = side(2, "P1");
    let p2 = side(3, "P2");
    befriend(&vendor, &p1);
    befriend(&vendor, &p2);
    let second = register(&p2, &vendor, 10);
    let first = register(&p1, &vendor, 20);
    sync(&vendor, &p1);
    approve(&vendor.deals, first, 30).unwrap();
    sync(&vendor, &p2);
    let refused = approve(&vendor.deals, second, 40);
    assert!(
        matches!(&refused, Err(DealsError::Conflict(m)) if m.contains("P1 holds an approved registration of acme.example")),
        "{refused:?}"
    );
    let seen = get(&vendor.deals, second, 40).unwrap().unwrap();
    let held = &seen["conflicts"][0];
    assert_eq!(
        (
            held["registration_id"].as_str(),
            held["status"].as_str(),
            held["first"].as_bool()
        ),
        (
            Some(first.to_string().as_str()),
            Some("approved"),
            Some(false)
        ),
        "{seen}"
    );
}

#[test]
fn a_registration_with_a_node_that_is_no_partner_any_more_is_not_decided_or_changed() {
    // Bug: after the partnership ended, the vendor could still approve ("approved until …")
    // and the partner still change its registration, each only on its own node.
    let (vendor, partner, id) = registered();
    crate::domain::partners::remove(&vendor.store, partner.deals.me().as_str(), 15).unwrap();
    let refused = approve(&vendor.deals, id, 16);
    assert!(
        matches!(&refused, Err(DealsError::Conflict(m)) if m.contains("Partner is no longer a partner")),
        "{refused:?}"
    );
    assert!(matches!(
        reject(&vendor.deals, id, "too late", 16),
        Err(DealsError::Conflict(_))
    ));
    crate::domain::partners::ended_by_partner(&partner.store, vendor.deals.me().as_str(), 17)
        .unwrap();
    let refused = change(&partner.deals, id, &amount_to("1"), usd(), 18);
    assert!(
        matches!(&refused, Err(DealsError::Conflict(m)) if m.contains("Vendor is no longer a partner")),
        "{refused:?}"
    );
}

#[test]
fn a_rejection_is_decided_again_only_when_the_terms_changed_after_it() {
    let (vendor, partner, id) = registered();
    reject(&vendor.deals, id, "not our territory", 20).unwrap();
    assert!(matches!(
        approve(&vendor.deals, id, 21),
        Err(DealsError::Invalid(m)) if m.contains("was rejected")
    ));
    change_crossing_the_decision(&vendor, &partner, id, "90000");
    let r = get(&vendor.deals, id, 22).unwrap().unwrap();
    assert_eq!(
        (r["status"].as_str(), r["changed_after_decision"].as_bool()),
        (Some("rejected"), Some(true))
    );
    let r = approve(&vendor.deals, id, 23).unwrap();
    assert_eq!(r["status"], "approved");
    assert_eq!(r["decided_terms"]["amount"], "90000");
}

#[test]
fn a_renewal_on_deal_activity_keeps_the_terms_decided_not_the_ones_changed_since() {
    // Bug guarded: a renewal is a decision written again; written with the terms in front
    // of the vendor, it would silently cover a change the vendor never saw.
    let (vendor, partner, id) = registered();
    approve(&vendor.deals, id, 20).unwrap();
    change_crossing_the_decision(&vendor, &partner, id, "500000");
    // Activity on a deal on the registered account, with the partner in it, more than the
    // renewal step (an hour, for the default window) after the approval.
    let deal = share_with(&vendor, &partner, &["name", "account.domain"]);
    sync(&vendor, &partner);
    partner.deals.respond(deal, true, 4_000).unwrap();
    sync(&vendor, &partner);
    let note = protocol::deal::SectionUpdate {
        add_notes: vec!["met the buyer".into()],
        ..Default::default()
    };
    partner
        .deals
        .update_section(deal, &note, 4_000_000)
        .unwrap();
    sync(&vendor, &partner);
    let before = get(&vendor.deals, id, 5_000_000).unwrap().unwrap();

    let renewed = extend_on_activity(&vendor.deals, 5_000_000).unwrap();
    assert_eq!(renewed, [id], "the deal's activity renews the registration");
    let after = get(&vendor.deals, id, 5_000_000).unwrap().unwrap();
    assert_ne!(after["expires_at"], before["expires_at"]);
    assert_eq!(after["decided_terms"]["amount"], "120000");
    assert_eq!(after["changed_after_decision"], true, "{after}");
}
