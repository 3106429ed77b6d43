//! Lead distribution between engines in one process: routing by rules with round robin, a
//! rejection and a missed SLA re-routed (the first partner keeps only the withdrawn offer), a
//! dry run that writes nothing, and a partner accepting a lead routed to someone else (refused
//! by the vendor's node and audited); converting an accepted lead once, and not a withdrawn one.

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

const SLA_MS: u64 = 3_600_000;

fn three() -> (Side, Side, Side) {
    let vendor = side(1, "Vendor");
    let a = side(2, "Alpha");
    let b = side(3, "Beta");
    befriend(&vendor, &a);
    befriend(&vendor, &b);
    let rules = format!(
        "sla_hours = 1\n[[partner]]\npartner = \"{}\"\ncountries = [\"DE\"]\n\n[[partner]]\npartner = \"Beta\"\nregions = [\"emea\"]\n",
        a.deals.me()
    );
    set_rules(&vendor.deals, &rules, 1).unwrap();
    (vendor, a, b)
}

fn lead(company: &str) -> NewLead {
    NewLead {
        company: company.into(),
        country: "DE".into(),
        region: Some("EMEA".into()),
        contact_name: Some("Ada Person".into()),
        contact_email: Some("ada@example.com".into()),
        ..NewLead::default()
    }
}

fn by_company(s: &Side) -> BTreeMap<String, Value> {
    list(&s.deals, None)
        .unwrap()
        .into_iter()
        .map(|v| (v["company"].as_str().unwrap().to_string(), v))
        .collect()
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
fn leads_are_routed_round_robin_and_a_rejection_or_a_missed_sla_goes_to_the_next_partner() {
    let (vendor, a, b) = three();
    add(
        &vendor.deals,
        vec![lead("L1"), lead("L2"), lead("L3"), lead("L4")],
        "api",
        5,
    )
    .unwrap();
    // A dry run says where they would go and writes nothing.
    let dry = route(&vendor.deals, true, false, 10).unwrap();
    assert_eq!(dry.report["routed"].as_array().unwrap().len(), 4);
    assert!(dry.changed.is_empty());
    assert!(by_company(&vendor).values().all(|v| v["status"] == "new"));
    let done = route(&vendor.deals, false, false, 10).unwrap();
    assert_eq!(done.report["by_partner"][0]["count"], 2, "{}", done.report);
    assert_eq!(done.report["by_partner"][1]["count"], 2);
    sync(&vendor, &a);
    sync(&vendor, &b);
    let seen = by_company(&a);
    assert_eq!(seen.len(), 2, "round robin: L1 and L3 to Alpha: {seen:?}");
    assert!(seen.contains_key("L1"), "{}", done.report);
    assert_eq!(seen["L1"]["status"], "offered");
    // The default policy shares no person: the contact stays with the vendor.
    assert_eq!(seen["L1"]["contact_email"], Value::Null);
    let id = |s: &Side, c: &str| {
        let all = by_company(s);
        let one = all.get(c).unwrap_or_else(|| panic!("{c} not in {all:?}"));
        DealId::parse(one["id"].as_str().unwrap()).unwrap()
    };
    accept(&a.deals, id(&a, "L1"), 20).unwrap();
    reject(&b.deals, id(&b, "L2"), Some("not our segment"), 21).unwrap();
    accept(&b.deals, id(&b, "L4"), 22).unwrap();
    sync(&a, &vendor);
    sync(&b, &vendor);
    // The vendor cannot answer for a partner.
    assert!(matches!(
        accept(&vendor.deals, id(&a, "L3"), 23),
        Err(DealsError::NotFound(_) | DealsError::Forbidden(_))
    ));
    // Past the SLA: L3 (Alpha never answered) is withdrawn and goes to Beta; L2 goes to Alpha.
    let late = 10 + SLA_MS + 1;
    let again = route(&vendor.deals, false, true, late).unwrap();
    assert_eq!(again.report["expired"], 1, "{}", again.report);
    assert_eq!(again.report["rejected"], 1);
    sync(&vendor, &a);
    sync(&vendor, &b);
    let v = by_company(&vendor);
    assert_eq!(v["L1"]["status"], "accepted");
    assert_eq!(v["L3"]["partner_name"], "Beta");
    assert_eq!(v["L3"]["tried"][0]["partner_name"], "Alpha");
    assert_eq!(v["L2"]["partner_name"], "Alpha");
    assert_eq!(v["L4"]["status"], "accepted");
    // Alpha holds its withdrawn offer of L3 and never Beta's; answering it is refused.
    let alpha: Vec<Value> = list(&a.deals, None).unwrap();
    let l3: Vec<&Value> = alpha.iter().filter(|x| x["company"] == "L3").collect();
    assert_eq!(l3.len(), 1);
    assert_eq!(l3[0]["status"], "withdrawn");
    assert!(accept(&a.deals, id(&a, "L3"), late + 1).is_err());
    let beta_l3 = v["L3"]["offer"].as_str().unwrap().to_string();
    assert!(!a
        .deals
        .lock()
        .docs
        .contains_key(&DealId::parse(&beta_l3).unwrap()));
    assert_eq!(by_company(&b)["L3"]["status"], "offered");
}

/// A step `by` writes raw on `doc_of`'s replica of `id`, signed with `by`'s key (what a
/// modified node could send).
fn forged_accept(by_seed: u8, by: &Side, doc_of: &Side, id: DealId) -> SignedChange {
    forged(by_seed, by, doc_of, id, "accept", &[])
}

fn forged(
    by_seed: u8,
    by: &Side,
    doc_of: &Side,
    id: DealId,
    step: &str,
    values: &[(&str, &str)],
) -> SignedChange {
    let key = NodeKey::from_secret_bytes(&[by_seed; 32]);
    let mut doc = doc_of.deals.lock().docs[&id].automerge().fork();
    doc.set_actor(key.actor_id(1));
    let list = doc.get(ROOT, kind::STEPS_KEY).unwrap().unwrap().1;
    let mut tx = doc.transaction();
    let end = tx.length(&list);
    let obj = tx.insert_object(&list, end, ObjType::Map).unwrap();
    tx.put(&obj, kind::STEP_KEY, step).unwrap();
    tx.put(&obj, kind::FROM_KEY, "offered").unwrap();
    tx.put(&obj, kind::BY_KEY, by.deals.me().as_str()).unwrap();
    tx.put(&obj, kind::AT_KEY, 50u64).unwrap();
    for (k, v) in values {
        tx.put(&obj, *k, *v).unwrap();
    }
    tx.commit();
    SignedChange::sign(&key, &doc.get_last_local_change().unwrap())
}

#[test]
fn a_partner_accepting_a_lead_routed_to_someone_else_is_refused_and_audited() {
    let (vendor, a, b) = three();
    add(&vendor.deals, vec![lead("L1"), lead("L2")], "api", 5).unwrap();
    route(&vendor.deals, false, false, 10).unwrap();
    sync(&vendor, &a);
    sync(&vendor, &b);
    let beta_doc = DealId::parse(by_company(&b)["L2"]["id"].as_str().unwrap()).unwrap();
    // Alpha learned Beta's offer id and sends an acceptance of it, signed by itself.
    let change = forged_accept(2, &a, &b, beta_doc);
    let mut message = b.deals.lock().docs[&beta_doc]
        .generate_sync(&mut PeerSync::new())
        .unwrap_or(DocSync {
            deal: beta_doc,
            sync: Vec::new(),
            changes: Vec::new(),
        });
    message.changes = vec![change];
    let _ = vendor.deals.receive(a.deals.me(), vec![message], 60);
    let v = by_company(&vendor);
    assert_eq!(v["L2"]["status"], "offered", "{}", v["L2"]);
    let refused = refusals(&vendor);
    assert_eq!(refused.len(), 1, "{refused:?}");
    // Alpha withdraws its own offer (a vendor's step) to hide it: refused and audited too.
    let alpha_doc = DealId::parse(by_company(&a)["L1"]["id"].as_str().unwrap()).unwrap();
    let change = forged(2, &a, &a, alpha_doc, "withdraw", &[("reason", "mine")]);
    let mut message = a.deals.lock().docs[&alpha_doc]
        .generate_sync(&mut PeerSync::new())
        .unwrap_or(DocSync {
            deal: alpha_doc,
            sync: Vec::new(),
            changes: Vec::new(),
        });
    message.changes = vec![change];
    vendor
        .deals
        .receive(a.deals.me(), vec![message], 61)
        .unwrap();
    assert_eq!(by_company(&vendor)["L1"]["status"], "offered");
    let refused = refusals(&vendor);
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert!(
        refused[1].contains("this party may not take this transition"),
        "{}",
        refused[1]
    );
    assert!(
        refused[0].contains(a.deals.me().as_str()) || refused[0].contains("Alpha"),
        "{}",
        refused[0]
    );
}

#[test]
fn a_csv_file_of_leads_is_read_or_refused_naming_the_line() {
    let ok = parse_csv(b"company,country,tags\nAcme,DE,security;cloud\nGlobex,France,\n").unwrap();
    assert_eq!(ok.len(), 2);
    assert_eq!(ok[0].tags, vec!["security", "cloud"]);
    let vendor = side(1, "Vendor");
    let bad = parse_csv(b"company,country\nAcme,DE\n,Atlantis\n").unwrap();
    let e = add(&vendor.deals, bad, "csv", 1).unwrap_err().to_string();
    assert!(e.contains("line 3, company"), "{e}");
    assert!(e.contains("line 3, country"), "{e}");
    assert!(
        list(&vendor.deals, None).unwrap().is_empty(),
        "all or nothing"
    );
    let e = parse_csv(b"company,land\n").unwrap_err().to_string();
    assert!(e.contains("line 1: unknown column 'land'"), "{e}");
}

#[test]
fn an_accepted_lead_converts_once_and_a_withdrawn_or_unanswered_one_not_at_all() {
    let (vendor, a, b) = three();
    add(&vendor.deals, vec![lead("Acme"), lead("Bolt")], "api", 5).unwrap();
    route(&vendor.deals, false, false, 10).unwrap();
    sync(&vendor, &a);
    sync(&vendor, &b);
    let offer_id =
        |s: &Side, c: &str| DealId::parse(by_company(s)[c]["id"].as_str().unwrap()).unwrap();
    let (acme, bolt) = (offer_id(&a, "Acme"), offer_id(&b, "Bolt"));
    let refused = |r: Result<Converted, DealsError>, want: &str| match r {
        Err(DealsError::Conflict(m)) | Err(DealsError::Forbidden(m)) => {
            assert!(m.contains(want), "{m}")
        }
        other => panic!("{want}: {other:?}"),
    };
    refused(convert(&a.deals, acme, false, 11), "not accepted yet");
    refused(
        convert(&vendor.deals, acme, false, 11),
        "routed by this node",
    );
    accept(&a.deals, acme, 12).unwrap();
    let made = convert(&a.deals, acme, false, 13).unwrap();
    let opp = made.view["opportunity_id"].as_str().unwrap().to_string();
    assert_eq!(made.view["account_matched"], false);
    assert_eq!(made.view["deal_id"], Value::Null);
    assert!(made.changed.is_empty());
    refused(convert(&a.deals, acme, false, 14), &opp);
    // Sharing later: Alpha has no policy for the vendor, so nothing goes out; the opportunity
    // stays the one made before.
    refused(
        convert(&a.deals, acme, true, 15),
        "not shared with the vendor",
    );
    refused(convert(&a.deals, acme, false, 16), &opp);
    // Beta lets Bolt pass its SLA: withdrawn, it cannot be converted.
    route(&vendor.deals, false, true, 10 + SLA_MS + 1).unwrap();
    sync(&vendor, &b);
    refused(convert(&b.deals, bolt, false, 10 + SLA_MS + 2), "withdrawn");
}
