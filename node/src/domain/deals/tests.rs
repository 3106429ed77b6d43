use super::testing::{befriend, opportunity, share_with, side, sync, Side};
use super::timeline::{phrase, summarize};
use super::{Deals, DealsError, Windows};
use crate::domain::audit::AuditKind;
use crate::domain::partners;
use crate::store::shared;
use policy::Policy;
use protocol::deal::{DealId, Role, SectionUpdate};
use protocol::records::Date;
use protocol::wire::DocSync;
use serde_json::json;

#[test]
fn the_timeline_says_which_shared_fields_were_withdrawn() {
    // Bug: an opportunity leaving the policy's stage filter read "updated shared fields:
    // amount, stage, title" although every one of them was removed.
    use automerge::{transaction::Transactable, ObjType, ROOT};
    let mut am = automerge::AutoCommit::new();
    let shared = am.put_object(ROOT, "shared", ObjType::Map).unwrap();
    am.put(&shared, "stage", "qualified").unwrap();
    am.put(&shared, "title", "Deal").unwrap();
    let before = am.commit().unwrap();
    am.delete(&shared, "stage").unwrap();
    am.put(&shared, "title", "Deal 2").unwrap();
    let after = am.commit().unwrap();
    assert_eq!(
        summarize(am.document(), &[before], after),
        "updated shared fields: title; no longer shared: stage"
    );
}

#[test]
fn timeline_phrases_say_what_a_change_did() {
    let id = "12D3KooWAjjE4xyihuBoyFRPiS7Xr9uEa4grRB3vav6XbrWhDgQc";
    let say = |parts: &[&str], v: Option<&str>| phrase(parts, v).unwrap_or_default();
    assert_eq!(
        say(&["participants", id, "status"], Some("accepted")),
        "accepted the deal"
    );
    assert_eq!(
        say(&["participants", id, "status"], Some("declined")),
        "declined the deal"
    );
    assert_eq!(say(&["sections", id, "notes"], None), "added a note");
    assert_eq!(
        say(&["sections", id, "stage"], Some("committed")),
        "set its own stage to committed"
    );
    assert_eq!(
        say(&["sections", id, "next_step"], Some("x")),
        "updated its next step"
    );
    assert_eq!(
        say(&["attribution", "proposals", id], None),
        "proposed an attribution"
    );
    assert_eq!(
        say(&["registration", "claims", id], None),
        "registered the deal"
    );
    assert!(say(&["participants", id], None).starts_with("added participant 12D3KooWAjjE4xyi"));
    assert_eq!(say(&["odd", "path"], None), "wrote odd.path");
    assert!(phrase(&[], None).is_none());
}

/// The vendor shares an opportunity's name with the reseller (a policy allowing it, then
/// `share` at time 3): the deal's id.
fn share_name_with(vendor: &Side, reseller: &Side) -> DealId {
    share_with(vendor, reseller, &["name"])
}

#[test]
fn share_refuses_under_default_deny_then_syncs_only_the_projection() {
    let vendor = side(1, "Vendor");
    let reseller = side(2, "Reseller");
    befriend(&vendor, &reseller);
    let opp = opportunity(&vendor.store);
    let partner = reseller.deals.me().to_string();
    let refused = vendor
        .deals
        .share(&opp, std::slice::from_ref(&partner), Role::Vendor, 1);
    assert!(matches!(refused, Err(DealsError::Invalid(m)) if m.contains("nothing to share")));
    let record = partners::resolve(&vendor.store, &partner).unwrap();
    let policy = Policy::from_toml("[opportunities]\nfields = [\"name\", \"stage\"]\n").unwrap();
    partners::set_policy(&vendor.store, &record, &policy, "test", 2).unwrap();
    let id = vendor
        .deals
        .share(&opp, &[partner], Role::Vendor, 3)
        .unwrap();
    sync(&vendor, &reseller);
    // Until it accepts, the reseller holds only the invitation's summary.
    assert!(reseller.deals.view(id, true).unwrap().is_none());
    let inbox = crate::domain::inbox::list(&reseller.deals, None, 3);
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0]["title"], "Big deal");
    assert_eq!(inbox[0]["status"], "invited");
    reseller.deals.respond(id, true, 3).unwrap();
    sync(&vendor, &reseller);
    let seen = reseller
        .deals
        .view(id, true)
        .unwrap()
        .expect("the deal arrived");
    assert_eq!(
        seen["fields"],
        json!({"name": "Big deal", "stage": "qualified"})
    );
    assert!(!seen.to_string().contains("SECRET"));

    // The reseller writes its section; the vendor receives it.
    reseller
        .deals
        .update_section(
            id,
            &SectionUpdate {
                add_notes: vec!["hello".into()],
                ..SectionUpdate::default()
            },
            4,
        )
        .unwrap();
    sync(&vendor, &reseller);
    let at_vendor = vendor.deals.view(id, true).unwrap().unwrap();
    assert_eq!(
        at_vendor["sections"][reseller.deals.me().as_str()]["notes"][0],
        "hello"
    );
    assert!(at_vendor["history"]
        .as_array()
        .unwrap()
        .iter()
        .all(|h| h["verified"] == true));

    // A restart reloads the same document from redb.
    let reloaded = Deals::open(
        reseller.store.clone(),
        [2; 32],
        2,
        "Reseller",
        crate::clock::Clock::system(),
    )
    .unwrap();
    assert_eq!(
        reloaded.view(id, false).unwrap().unwrap()["sections"],
        at_vendor["sections"]
    );
}

/// The timeline's words for the last change of deal `id` on `side`.
fn last_summary(side: &Side, id: DealId) -> String {
    let view = side.deals.view(id, true).unwrap().expect("the deal");
    let history = view["history"].as_array().expect("a history").clone();
    let last = history.last().expect("a change");
    last["summary"].as_str().unwrap_or_default().to_string()
}

#[test]
fn the_first_write_to_a_section_says_what_it_wrote() {
    // Bug: the first write to a node's own section also made its (empty) notes list, and
    // the timeline said "added a note" for a next step.
    let vendor = side(1, "Vendor");
    let reseller = side(2, "Reseller");
    befriend(&vendor, &reseller);
    let id = share_name_with(&vendor, &reseller);
    let next_step = SectionUpdate {
        next_step: Some("Call the CFO".into()),
        ..SectionUpdate::default()
    };
    vendor.deals.update_section(id, &next_step, 5).unwrap();
    assert_eq!(last_summary(&vendor, id), "updated its next step");
    let note = SectionUpdate {
        add_notes: vec!["Met them".into()],
        ..SectionUpdate::default()
    };
    vendor.deals.update_section(id, &note, 6).unwrap();
    assert_eq!(last_summary(&vendor, id), "added a note");
    let cleared = SectionUpdate {
        contacts: Some(Vec::new()),
        ..SectionUpdate::default()
    };
    vendor.deals.update_section(id, &cleared, 7).unwrap();
    assert_eq!(last_summary(&vendor, id), "updated its contacts");
}

#[test]
fn a_section_text_longer_than_a_deal_field_is_refused_naming_its_field() {
    // Bug: a 20 KB note was refused as "invalid value: a text value is longer than 16384
    // bytes", naming no field.
    let vendor = side(1, "Vendor");
    let reseller = side(2, "Reseller");
    befriend(&vendor, &reseller);
    let id = share_name_with(&vendor, &reseller);
    let long = "n".repeat(protocol::limits::FIELD_BYTES_MAX + 1);
    let update = SectionUpdate {
        add_notes: vec!["fine".into(), long.clone()],
        contribution: Some(long),
        ..SectionUpdate::default()
    };
    let refused = vendor.deals.update_section(id, &update, 5);
    let Err(DealsError::InvalidFields(fields)) = refused else {
        panic!("not refused by field: {refused:?}");
    };
    let named: Vec<&str> = fields.iter().map(|(field, _)| field.as_str()).collect();
    assert_eq!(named, ["notes", "contribution"]);
    assert_eq!(
        fields[0].1,
        "note 2 is 16385 bytes long; a note may hold 16384 bytes (about 16000 Latin \
         characters)"
    );
    assert_eq!(
        fields[1].1,
        "is 16385 bytes long; it may hold 16384 bytes (about 16000 Latin characters)"
    );
    let view = vendor.deals.view(id, true).unwrap().unwrap();
    assert_eq!(view["sections"], json!({}), "nothing written");
}

#[test]
fn a_coarsened_close_date_and_tags_read_as_in_the_policy_preview() {
    // Bug: the preview showed `close_date: "2026-Q4"`, the partner's deal `close_period`.
    let vendor = side(1, "Vendor");
    let reseller = side(2, "Reseller");
    befriend(&vendor, &reseller);
    let opp = opportunity(&vendor.store);
    let mut dated = vendor.store.opportunity(&opp).unwrap().unwrap();
    dated.close_date = Some(Date::parse("2026-11-15").unwrap());
    dated.tags = vec!["apac".into(), "priority".into()];
    vendor.store.put_opportunity(&dated).unwrap();
    let partner = reseller.deals.me().to_string();
    let record = partners::resolve(&vendor.store, &partner).unwrap();
    let policy = Policy::from_toml(
        "[opportunities]\nfields = [\"name\", \"close_date\", \"tags\"]\nclose_date = \"quarter\"\n",
    )
    .unwrap();
    partners::set_policy(&vendor.store, &record, &policy, "test", 2).unwrap();
    let account = vendor.store.account(&dated.account_id).unwrap().unwrap();
    let preview = policy::project(&policy, &dated, &account).unwrap();
    let id = vendor
        .deals
        .share(&opp, &[partner], Role::Vendor, 3)
        .unwrap();
    let fields = vendor.deals.view(id, false).unwrap().unwrap()["fields"].clone();
    assert_eq!(fields["close_date"], "2026-Q4", "{fields}");
    assert_eq!(
        fields["tags"],
        json!(["apac", "priority"]),
        "a list, as previewed"
    );
    assert!(fields.get("close_period").is_none(), "{fields}");
    let previewed: Vec<(&str, String)> =
        preview.iter().map(|(k, v)| (k, format!("{v:?}"))).collect();
    assert!(
        previewed
            .iter()
            .any(|(k, v)| *k == "close_date" && v.contains("2026-Q4")),
        "{previewed:?}"
    );
}

#[test]
fn an_invitation_a_crash_left_unanswered_is_accepted_at_the_next_start() {
    // Goal: with auto-accept on, no invitation waits for ever. Method: the invitation is
    // stored while auto-accept is off (as when a node is killed between storing an
    // invitation and signing its acceptance); the start-up sweep then accepts it, and the
    // deal follows on the next sync.
    let vendor = side(1, "Vendor");
    let reseller = side(2, "Reseller");
    befriend(&vendor, &reseller);
    let id = share_name_with(&vendor, &reseller);
    sync(&vendor, &reseller);
    assert!(reseller.deals.view(id, false).unwrap().is_none());
    assert!(
        reseller.deals.accept_waiting_invitations(4).is_empty(),
        "auto-accept is off"
    );
    reseller.deals.set_auto_accept(true);
    assert_eq!(reseller.deals.accept_waiting_invitations(4), vec![id]);
    assert!(
        reseller.deals.accept_waiting_invitations(5).is_empty(),
        "answered once"
    );
    sync(&vendor, &reseller);
    assert!(reseller.deals.view(id, false).unwrap().is_some());
}

#[test]
fn an_acceptance_signed_after_the_invitation_expired_gets_no_deal() {
    // Goal: the origin, not only the invitee, enforces expiry. Method: the invitee's own
    // check refuses a late accept; a late acceptance signed anyway (bypassing that check,
    // as a modified node could) reaches the origin, which must not send the deal and must
    // audit it.
    let vendor = side(1, "Vendor");
    let reseller = side(2, "Reseller");
    befriend(&vendor, &reseller);
    vendor.deals.set_windows(Windows {
        invitation_expiry_ms: 1_000,
        ..Windows::default()
    });
    let id = share_name_with(&vendor, &reseller);
    sync(&vendor, &reseller);
    let refused = reseller.deals.respond(id, true, 5_000);
    assert!(
        matches!(&refused, Err(DealsError::Invalid(m)) if m.starts_with("the invitation expired on 1970-01-01T00:00:01")),
        "{refused:?}"
    );
    let invitation = {
        let inner = reseller.deals.lock();
        Deals::invitations_of(&inner, id)[0].0
    };
    reseller
        .deals
        .edit(invitation, 5_000, |doc, signer| doc.accept(signer, 5_000))
        .unwrap();
    sync(&vendor, &reseller);
    assert!(reseller.deals.view(id, false).unwrap().is_none());
    let at_vendor = vendor.deals.view(id, false).unwrap().unwrap();
    let status = at_vendor["participants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == reseller.deals.me().as_str())
        .map(|p| p["status"].clone());
    assert_eq!(status, Some(json!("expired")));
    let audit = shared::audit_page(&vendor.store, 0, 100).unwrap();
    assert!(audit
        .iter()
        .any(|e| e.kind == AuditKind::Rejected && e.summary.contains("after it expired")));
}

#[test]
fn a_peer_that_is_not_a_participant_is_offered_nothing_and_refused() {
    let vendor = side(1, "Vendor");
    let reseller = side(2, "Reseller");
    let stranger = side(3, "Stranger");
    befriend(&vendor, &reseller);
    let id = share_name_with(&vendor, &reseller);
    assert!(vendor
        .deals
        .generate(stranger.deals.me(), None)
        .unwrap()
        .is_empty());
    // Messages the stranger sends about the deal are refused and audited.
    let message = DocSync {
        deal: id,
        sync: Vec::new(),
        changes: Vec::new(),
    };
    let got = vendor
        .deals
        .receive(stranger.deals.me(), vec![message], 5)
        .unwrap();
    assert!(got.reply.is_empty());
    assert!(got.changed.is_empty());
    let audit = shared::audit_page(&vendor.store, 0, 100).unwrap();
    assert!(audit.iter().any(|e| e.kind == AuditKind::Rejected));
}

#[test]
fn the_participant_index_names_each_deals_participants_on_both_sides() {
    let vendor = side(1, "Vendor");
    let reseller = side(2, "Reseller");
    let stranger = side(3, "Stranger");
    befriend(&vendor, &reseller);
    let id = share_name_with(&vendor, &reseller);
    let (v, r) = (vendor.deals.me().clone(), reseller.deals.me().clone());
    let index = vendor.deals.participation();
    let mut of = index.of(&id).expect("the deal is indexed");
    of.sort();
    let mut both = vec![v.clone(), r.clone()];
    both.sort();
    assert_eq!(of, both);
    // The reseller takes part in the deal and in its invitation; a stranger in nothing.
    let mine = index.documents_of(&r);
    assert!(mine.contains(&id));
    assert_eq!(mine.len(), 2, "the deal and its invitation: {mine:?}");
    assert!(index.documents_of(stranger.deals.me()).is_empty());
    // A round over all deals for the reseller offers what the index names (the invitation; the
    // deal waits for the acceptance), and nothing to the stranger.
    assert_eq!(vendor.deals.generate(&r, None).unwrap().len(), 1);
    assert!(vendor
        .deals
        .generate(stranger.deals.me(), None)
        .unwrap()
        .is_empty());
    // Those messages were not delivered: start the exchange over.
    vendor.deals.reset_peer(&r);
    // The reseller's index learns the deal as it arrives.
    sync(&vendor, &reseller);
    reseller.deals.respond(id, true, 3).unwrap();
    sync(&vendor, &reseller);
    assert!(reseller
        .deals
        .participation()
        .documents_of(&v)
        .contains(&id));
}

#[test]
fn a_policy_change_re_projects_every_deal_of_the_partner_in_one_commit() {
    let vendor = side(1, "Vendor");
    let reseller = side(2, "Reseller");
    befriend(&vendor, &reseller);
    let id = share_name_with(&vendor, &reseller);
    let partner = reseller.deals.me().to_string();
    let record = partners::resolve(&vendor.store, &partner).unwrap();
    let policy = Policy::from_toml("[opportunities]\nfields = [\"name\", \"stage\"]\n").unwrap();
    let (_, changed) = vendor
        .deals
        .set_policy(&record, &policy, "test", 5)
        .unwrap();
    assert!(changed.contains(&id), "{changed:?}");
    let audit = shared::audit_page(&vendor.store, 0, 100).unwrap();
    let updates: Vec<_> = audit
        .iter()
        .filter(|e| e.kind == AuditKind::ShareUpdate)
        .collect();
    assert_eq!(updates.len(), 1, "one entry for the one deal");
    assert!(
        updates[0].summary.contains("newly shared: stage"),
        "{}",
        updates[0].summary
    );
    // A deal the partner does not take part in is not touched.
    let other = side(4, "Other");
    befriend(&vendor, &other);
    let record = partners::resolve(&vendor.store, other.deals.me().as_str()).unwrap();
    let (_, none) = vendor
        .deals
        .set_policy(&record, &policy, "test", 6)
        .unwrap();
    assert!(none.is_empty());
}
