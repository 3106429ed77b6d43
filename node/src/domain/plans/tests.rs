//! Account plans between engines in one process: three companies each add and complete only
//! their own tasks; a company completing another's task is refused by every receiver and
//! audited; stakeholders pass the sharing company's policy and erasure removes them.

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

fn three() -> (Side, Side, Side) {
    let v = side(1, "Vendor");
    let a = side(2, "Alpha");
    let b = side(3, "Beta");
    befriend(&v, &a);
    befriend(&v, &b);
    befriend(&a, &b);
    (v, a, b)
}

fn sync_all(v: &Side, a: &Side, b: &Side) {
    for _ in 0..2 {
        sync(v, a);
        sync(v, b);
        sync(a, b);
    }
}

fn task_status(s: &Side, plan: DealId, task: &str) -> Value {
    get(&s.deals, plan, 1).unwrap()["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == task)
        .map(|t| t["status"].clone())
        .unwrap_or(Value::Null)
}

/// `by` completes `task` on its replica of `plan` without its node's checks, signed with its
/// own key (what a modified node could send).
fn forged_done(by_seed: u8, by: &Side, plan: DealId, task: &str) -> DocSync {
    let key = NodeKey::from_secret_bytes(&[by_seed; 32]);
    let mut doc = by.deals.lock().docs[&plan].automerge().fork();
    doc.set_actor(key.actor_id(9));
    let list = doc.get(ROOT, kind::STEPS_KEY).unwrap().unwrap().1;
    let mut tx = doc.transaction();
    let end = tx.length(&list);
    let obj = tx.insert_object(&list, end, ObjType::Map).unwrap();
    tx.put(&obj, kind::STEP_KEY, "task_done").unwrap();
    tx.put(&obj, kind::FROM_KEY, "open").unwrap();
    tx.put(&obj, kind::BY_KEY, by.deals.me().as_str()).unwrap();
    tx.put(&obj, kind::AT_KEY, 50u64).unwrap();
    tx.put(&obj, "item", task).unwrap();
    tx.commit();
    let change = SignedChange::sign(&key, &doc.get_last_local_change().unwrap());
    let mut message = by.deals.lock().docs[&plan]
        .generate_sync(&mut PeerSync::new())
        .unwrap_or(DocSync {
            deal: plan,
            sync: Vec::new(),
            changes: Vec::new(),
        });
    message.changes = vec![change];
    message
}

#[test]
fn each_company_changes_only_its_own_tasks_and_a_forged_completion_is_refused_and_audited() {
    let (v, a, b) = three();
    let with = vec!["Alpha".to_string(), b.deals.me().to_string()];
    let plan = create(&v.deals, "Acme.example", Some("Acme"), &with, 2).unwrap();
    // One plan per account per set of companies.
    let again = create(&v.deals, "acme.example", None, &with, 3).unwrap_err();
    assert!(matches!(again, DealsError::Conflict(_)), "{again}");
    sync_all(&v, &a, &b);
    let (_, alpha_task) = add_task(
        &a.deals,
        plan,
        "Run the workshop",
        Some("Ana"),
        "2020-01-31",
        4,
    )
    .unwrap();
    let (_, beta_task) = add_task(&b.deals, plan, "Send the quote", None, "2999-01-01", 5).unwrap();
    sync_all(&v, &a, &b);
    for s in [&v, &a, &b] {
        let p = get(&s.deals, plan, 86_400_000 * 20_000).unwrap();
        assert_eq!(p["tasks"].as_array().unwrap().len(), 2, "{p}");
        assert_eq!(p["overdue_tasks"], 1, "{p}");
    }
    // Beta's node refuses to complete Alpha's task, naming the owner.
    let refused = complete_task(&b.deals, plan, &alpha_task, 6).unwrap_err();
    assert!(
        refused.to_string().contains("belongs to Alpha"),
        "{refused}"
    );
    // A task owned by another company cannot be added either.
    let other = add_task(&b.deals, plan, "Yours", Some("Alpha"), "2030-01-01", 6).unwrap_err();
    assert!(matches!(other, DealsError::Forbidden(_)), "{other}");
    // A modified Beta sends the completion anyway: the vendor and Alpha refuse and audit it.
    let forged = forged_done(3, &b, plan, &alpha_task);
    let _ = v.deals.receive(b.deals.me(), vec![forged.clone()], 7);
    let _ = a.deals.receive(b.deals.me(), vec![forged], 7);
    for s in [&v, &a] {
        assert_eq!(task_status(s, plan, &alpha_task), "open");
        let audited: Vec<String> = audit_page(&s.store, 0, 1000)
            .unwrap()
            .into_iter()
            .filter(|e| e.kind == AuditKind::Rejected)
            .map(|e| e.summary)
            .collect();
        assert_eq!(audited.len(), 1, "{audited:?}");
    }
    // The owners complete their own tasks.
    // The part after the owner works as the id too.
    let rest = alpha_task.split_once('/').unwrap().1;
    complete_task(&a.deals, plan, rest, 8).unwrap();
    complete_task(&b.deals, plan, &beta_task, 9).unwrap();
    sync_all(&v, &a, &b);
    for s in [&v, &a, &b] {
        assert_eq!(task_status(s, plan, &alpha_task), "done");
        assert_eq!(task_status(s, plan, &beta_task), "done");
    }
}

#[test]
fn a_stakeholder_passes_the_policy_of_its_company_and_erasure_removes_it_everywhere() {
    let (v, a, b) = three();
    let plan = create(
        &v.deals,
        "acme.example",
        None,
        &["Alpha".into(), "Beta".into()],
        2,
    )
    .unwrap();
    sync_all(&v, &a, &b);
    // Alpha's default policies share no people: refused, naming the partner.
    let refused = add_stakeholder(&a.deals, plan, "Dana Buyer", Some("CFO"), None, 3).unwrap_err();
    assert!(matches!(refused, DealsError::Forbidden(_)), "{refused}");
    for partner in [&v, &b] {
        let record = partners::resolve(&a.store, partner.deals.me().as_str()).unwrap();
        let policy = policy::Policy::from_toml("[opportunities]\nfields = [\"owner\"]\n").unwrap();
        partners::set_policy(&a.store, &record, &policy, "test", 3).unwrap();
    }
    add_stakeholder(&a.deals, plan, "Dana Buyer", Some("CFO"), Some("Acme"), 4).unwrap();
    sync_all(&v, &a, &b);
    assert_eq!(
        get(&b.deals, plan, 5).unwrap()["stakeholders"][0]["name"],
        "Dana Buyer"
    );
    // The vendor cannot erase Alpha's stakeholder: it reports who holds it.
    let needle = Needle::new("name", "Dana Buyer").unwrap();
    let (report, changed) = erase(&v.deals, &needle, false, 6).unwrap();
    assert!(changed.is_empty());
    assert_eq!(report[0].kept.len(), 1, "{:?}", report[0].kept);
    let (report, changed) = erase(&a.deals, &needle, false, 7).unwrap();
    assert_eq!((report[0].erased.len(), changed), (1, vec![plan]));
    sync_all(&v, &a, &b);
    for s in [&v, &a, &b] {
        let p = get(&s.deals, plan, 8).unwrap();
        assert_eq!(p["stakeholders"].as_array().unwrap().len(), 0, "{p}");
        assert!(!p.to_string().contains("Dana"), "{p}");
    }
}
