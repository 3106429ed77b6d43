//! MDF between two engines in one process: the lifecycle with balances, and hostile steps a
//! partner forges past its own node's checks (refused by the vendor's node and audited).

use super::*;
use crate::domain::deals::testing::{befriend, side, sync, Side};
use crate::store::shared::{audit_page, AuditKind};
use automerge::transaction::Transactable;
use automerge::{ObjType, ReadDoc, ROOT};
use protocol::envelope::SignedChange;
use protocol::identity::NodeKey;
use protocol::kind;
use protocol::sync::PeerSync;
use protocol::wire::DocSync;

fn proposal(vendor: &Side) -> Proposal {
    Proposal {
        vendor: vendor.deals.me().to_string(),
        activity: "Data platform webinar".into(),
        activity_type: Some("webinar".into()),
        amount: "1000.50".into(),
        currency: "EUR".into(),
        start: "2026-07-01".into(),
        end: "2026-07-02".into(),
        period: None,
        expected_leads: Some("40".into()),
        expected_pipeline: Some("250000".into()),
    }
}

fn pair() -> (Side, Side) {
    let vendor = side(1, "Vendor");
    let partner = side(2, "Partner");
    befriend(&vendor, &partner);
    (vendor, partner)
}

fn status(s: &Side, id: DealId) -> Value {
    get(&s.deals, id).unwrap().unwrap()["status"].clone()
}

#[test]
fn mdf_cycle_keeps_exact_balances_and_never_overdraws() {
    let (vendor, partner) = pair();
    let pid = partner.deals.me().to_string();
    allocate(&vendor.deals, &pid, "2026-Q3", "1500", "EUR", 5).unwrap();
    let id = propose(&partner.deals, &proposal(&vendor), 10).unwrap();
    sync(&partner, &vendor);
    let seen = get(&vendor.deals, id).unwrap().unwrap();
    assert_eq!(seen["status"], "proposed");
    assert_eq!(seen["period"], "2026-Q3");
    assert_eq!(seen["requested"], "1000.5");
    // More than requested, then more than the fund: both refused, nothing written.
    assert!(approve(&vendor.deals, id, Some("1000.51"), 11).is_err());
    let second = propose(&partner.deals, &proposal(&vendor), 12).unwrap();
    sync(&partner, &vendor);
    approve(&vendor.deals, id, Some("999.75"), 13).unwrap();
    let overdraw = approve(&vendor.deals, second, None, 14).unwrap_err();
    assert!(
        overdraw.to_string().contains("500.25 EUR is left"),
        "{overdraw}"
    );
    assert!(allocate(&vendor.deals, &pid, "2026-Q3", "999.7", "EUR", 15).is_err());
    // The partner may not approve, and the vendor may not claim.
    assert!(approve(&partner.deals, id, None, 16).is_err());
    sync(&partner, &vendor);
    assert_eq!(status(&partner, id), "approved");
    assert!(claim(&vendor.deals, id, "p.pdf", b"x".to_vec(), None, 17).is_err());
    let too_big = vec![0u8; protocol::kinds::mdf::PROOF_BYTES_MAX + 1];
    assert!(claim(&partner.deals, id, "p.pdf", too_big, None, 17).is_err());
    let proof_bytes = b"%PDF-1.4 attendance list".to_vec();
    claim(
        &partner.deals,
        id,
        "attendance.pdf",
        proof_bytes.clone(),
        Some("38 leads"),
        18,
    )
    .unwrap();
    sync(&partner, &vendor);
    let (name, sha, bytes) = proof(&vendor.deals, id).unwrap();
    assert_eq!(
        (name.as_str(), bytes),
        ("attendance.pdf", proof_bytes.clone())
    );
    assert_eq!(sha, kind::sha256_hex(&proof_bytes));
    assert!(reimburse(&vendor.deals, id, "1000", "PAY-7", None, 19).is_err());
    reimburse(&vendor.deals, id, "999.75", "PAY-7", Some("2026-08-01"), 20).unwrap();
    sync(&partner, &vendor);
    assert_eq!(status(&partner, id), "reimbursed");
    let balances = allocations(&vendor.deals).unwrap();
    assert_eq!(balances.len(), 1);
    assert_eq!(balances[0]["allocated"], "1500");
    assert_eq!(balances[0]["committed"], "999.75");
    assert_eq!(balances[0]["reimbursed"], "999.75");
    assert_eq!(balances[0]["available"], "500.25");
}

#[test]
fn asking_for_changes_lets_the_partner_revise_and_a_rejection_is_final() {
    let (vendor, partner) = pair();
    let id = propose(&partner.deals, &proposal(&vendor), 10).unwrap();
    sync(&partner, &vendor);
    ask_changes(&vendor.deals, id, "add the expected attendance", 11).unwrap();
    sync(&partner, &vendor);
    assert_eq!(status(&partner, id), "changes_requested");
    let mut p = proposal(&vendor);
    p.amount = "900".into();
    revise(&partner.deals, id, &p, 12).unwrap();
    sync(&partner, &vendor);
    reject(&vendor.deals, id, "no budget left this quarter", 13).unwrap();
    sync(&partner, &vendor);
    let seen = get(&partner.deals, id).unwrap().unwrap();
    assert_eq!(seen["status"], "rejected");
    assert_eq!(seen["reason"], "no budget left this quarter");
    assert_eq!(seen["requested"], "900");
    assert!(revise(&partner.deals, id, &p, 14).is_err());
}

/// A step the partner writes raw on its replica of `id` (what a modified node could send).
fn forged_step(
    partner: &Side,
    id: DealId,
    step: &str,
    from: &str,
    values: &[(&str, &str)],
) -> SignedChange {
    let key = NodeKey::from_secret_bytes(&[2; 32]);
    let mut doc = partner.deals.lock().docs[&id].automerge().fork();
    doc.set_actor(key.actor_id(1));
    let list = doc.get(ROOT, kind::STEPS_KEY).unwrap().unwrap().1;
    let mut tx = doc.transaction();
    let end = tx.length(&list);
    let obj = tx.insert_object(&list, end, ObjType::Map).unwrap();
    tx.put(&obj, kind::STEP_KEY, step).unwrap();
    tx.put(&obj, kind::FROM_KEY, from).unwrap();
    tx.put(&obj, kind::BY_KEY, partner.deals.me().as_str())
        .unwrap();
    tx.put(&obj, kind::AT_KEY, 50u64).unwrap();
    for (k, v) in values {
        tx.put(&obj, *k, *v).unwrap();
    }
    tx.commit();
    SignedChange::sign(&key, &doc.get_last_local_change().unwrap())
}

fn send_forged(partner: &Side, vendor: &Side, id: DealId, change: SignedChange) {
    let mut message = partner.deals.lock().docs[&id]
        .generate_sync(&mut PeerSync::new())
        .unwrap_or(DocSync {
            deal: id,
            sync: Vec::new(),
            changes: Vec::new(),
        });
    message.changes = vec![change];
    vendor
        .deals
        .receive(partner.deals.me(), vec![message], 60)
        .unwrap();
}

fn refusals(s: &Side) -> Vec<String> {
    audit_page(&s.store, 0, 1000)
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == AuditKind::Rejected)
        .map(|e| e.summary)
        .collect()
}

#[test]
fn a_partner_approving_its_own_claim_or_raising_the_approved_amount_is_refused_and_audited() {
    let (vendor, partner) = pair();
    let pid = partner.deals.me().to_string();
    allocate(&vendor.deals, &pid, "2026-Q3", "5000", "EUR", 5).unwrap();
    let id = propose(&partner.deals, &proposal(&vendor), 10).unwrap();
    sync(&partner, &vendor);
    // The partner approves its own proposal, for more than it asked.
    let own_approval = forged_step(
        &partner,
        id,
        "approve",
        "proposed",
        &[("approved_amount", "1000.5")],
    );
    send_forged(&partner, &vendor, id, own_approval);
    assert_eq!(status(&vendor, id), "proposed");
    approve(&vendor.deals, id, Some("600"), 11).unwrap();
    sync(&partner, &vendor);
    // The partner raises the approved amount by "re-approving" …
    let raise = forged_step(
        &partner,
        id,
        "approve",
        "approved",
        &[("approved_amount", "1000.5")],
    );
    send_forged(&partner, &vendor, id, raise);
    // … then claims with its own reimbursement.
    let proof = b"proof".to_vec();
    let sha = kind::sha256_hex(&proof);
    partner
        .deals
        .edit(id, 12, |doc, signer| {
            let values = BTreeMap::from([
                ("proof_name".to_string(), StepValue::Text("p.pdf".into())),
                ("proof_sha256".to_string(), StepValue::Text(sha.clone())),
                ("proof".to_string(), StepValue::Bytes(proof.clone())),
            ]);
            doc.take_step(signer, 12, "claim", &values)
        })
        .unwrap();
    let self_reimbursed = forged_step(
        &partner,
        id,
        "reimburse",
        "claimed",
        &[
            ("reimbursed_amount", "600"),
            ("reference", "ME"),
            ("paid_on", "2026-08-01"),
        ],
    );
    sync(&partner, &vendor);
    send_forged(&partner, &vendor, id, self_reimbursed);
    let seen = get(&vendor.deals, id).unwrap().unwrap();
    assert_eq!(seen["status"], "claimed");
    assert_eq!(seen["approved_amount"], "600");
    assert_eq!(seen["reimbursed_amount"], Value::Null);
    let refused = refusals(&vendor);
    assert_eq!(refused.len(), 3, "{refused:?}");
    for r in &refused {
        assert!(r.contains("this party may not take this transition"), "{r}");
    }
}
