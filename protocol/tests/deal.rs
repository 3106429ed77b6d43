//! The typed deal API: what each role may do, and what the view reads back.

mod support;

use protocol::deal::{
    DealDoc, DealError, Decision, Invite, ParticipantStatus, RegistrationStatus, Role,
    SectionUpdate, SharedField, SharedFields,
};
use protocol::records::{Amount, Currency, Date, Domain, Stage};
use std::collections::{BTreeMap, BTreeSet};
use support::*;

#[test]
fn genesis_view_has_origin_participants_and_shared_fields() {
    let (a, b) = (signer(1), signer(2));
    let shared = SharedFields {
        title: Some("Acme".into()),
        stage: Some(Stage::TechnicalValidation),
        amount: Some(Amount::parse("120000.50").unwrap()),
        currency: Some(Currency::parse("EUR").unwrap()),
        close_date: Some(Date::parse("2027-03-31").unwrap()),
        account_name: Some("Acme Corp".into()),
        account_domain: Some(Domain::parse("acme.com").unwrap()),
        other: BTreeMap::from([("products".to_string(), Some("edge, cloud".to_string()))]),
        ..SharedFields::default()
    };
    let invite = Invite {
        node: id(&b),
        name: "Reseller Inc".into(),
        role: Role::Reseller,
    };
    let (doc, _) = DealDoc::create(&a, 77, "Vendor Co", Role::Vendor, &[invite], &shared).unwrap();
    let view = doc.read_view();
    assert_eq!(view.origin.as_ref(), Some(a.node_id()));
    assert_eq!(view.created_at_ms, Some(77));
    assert_eq!(
        view.participants[&id(&a)].status,
        Some(ParticipantStatus::Accepted)
    );
    assert_eq!(
        view.participants[&id(&b)].status,
        Some(ParticipantStatus::Invited)
    );
    assert_eq!(view.participants[&id(&b)].role, Some(Role::Reseller));
    assert_eq!(view.shared.title.as_deref(), Some("Acme"));
    assert_eq!(view.shared.amount, shared.amount);
    assert_eq!(view.shared.currency, shared.currency);
    assert_eq!(view.shared.close_date, shared.close_date);
    assert_eq!(view.shared.account_domain, shared.account_domain);
    assert_eq!(view.shared.other["products"], "edge, cloud");
}

#[test]
fn only_the_origin_sets_shared_fields_and_adds_participants() {
    let (a, b, c) = (signer(1), signer(2), signer(3));
    let mut doc = deal(&a, &[&b]);
    let update = SharedFields {
        title: Some("x".into()),
        ..SharedFields::default()
    };
    assert!(matches!(
        doc.set_shared(&b, 2, &update),
        Err(DealError::NotAllowed(_))
    ));
    let invite = Invite {
        node: id(&c),
        name: "SI".into(),
        role: Role::Services,
    };
    assert!(matches!(
        doc.add_participant(&b, 2, &invite),
        Err(DealError::NotAllowed(_))
    ));
    doc.add_participant(&a, 3, &invite).unwrap();
    assert!(doc.is_participant(c.node_id()));
    assert!(
        doc.add_participant(&a, 4, &invite).is_err(),
        "no duplicate participants"
    );
}

#[test]
fn the_origin_clears_typed_shared_fields_and_replicas_accept_it() {
    let (a, b) = (signer(1), signer(2));
    let mut doc = deal(&a, &[&b]);
    let domain = SharedFields {
        account_name: Some("Acme Corp".into()),
        account_domain: Some(Domain::parse("acme.com").unwrap()),
        ..SharedFields::default()
    };
    doc.set_shared(&a, 2, &domain).unwrap();
    let mut replica = DealDoc::replica(doc.id());
    assert!(replica.ingest(doc.envelopes()).rejected.is_empty());
    let clear = SharedFields {
        clear: BTreeSet::from([SharedField::Stage, SharedField::AccountDomain]),
        ..SharedFields::default()
    };
    assert!(matches!(
        replica.set_shared(&b, 3, &clear),
        Err(DealError::NotAllowed(_))
    ));
    let change = doc.set_shared(&a, 3, &clear).unwrap();
    let view = doc.read_view().shared;
    assert_eq!(view.stage, None);
    assert_eq!(view.account_domain, None);
    assert_eq!(view.account_name.as_deref(), Some("Acme Corp"));
    assert_eq!(view.title.as_deref(), Some("Acme expansion"));
    // Another replica verifies the deletion like any origin write.
    let mut other = DealDoc::replica(doc.id());
    let outcome = other.ingest(doc.envelopes());
    assert!(outcome.rejected.is_empty(), "{:?}", outcome.rejected);
    assert_eq!(other.read_view().shared, doc.read_view().shared);
    assert!(other.envelope(&change.hash()).is_some());
    // Setting and clearing one field in one update is refused.
    let both = SharedFields {
        title: Some("x".into()),
        clear: BTreeSet::from([SharedField::Title]),
        ..SharedFields::default()
    };
    assert!(matches!(
        doc.set_shared(&a, 4, &both),
        Err(DealError::Invalid(_))
    ));
}

#[test]
fn non_participants_cannot_edit() {
    let (a, b, outsider) = (signer(1), signer(2), signer(9));
    let mut doc = deal(&a, &[&b]);
    let up = SectionUpdate {
        next_step: Some("x".into()),
        ..SectionUpdate::default()
    };
    assert!(matches!(
        doc.update_section(&outsider, 2, &up),
        Err(DealError::NotAllowed(_))
    ));
    assert!(matches!(
        doc.accept(&outsider, 2),
        Err(DealError::NotAllowed(_))
    ));
}

#[test]
fn empty_edits_make_no_change() {
    let (a, b) = (signer(1), signer(2));
    let mut doc = deal(&a, &[&b]);
    let heads = doc.heads();
    assert_eq!(
        doc.update_section(&b, 2, &SectionUpdate::default()),
        Err(DealError::Empty)
    );
    assert_eq!(
        doc.set_shared(&a, 2, &SharedFields::default()),
        Err(DealError::Empty)
    );
    assert_eq!(doc.heads(), heads);
}

#[test]
fn registration_first_claim_wins_and_vendor_decides() {
    let (vendor, r1, r2) = (signer(1), signer(2), signer(3));
    let mut doc = deal(&vendor, &[&r1, &r2]);
    doc.register(&r2, 200, vendor.node_id(), Some("second"))
        .unwrap();
    doc.register(&r1, 100, vendor.node_id(), Some("first"))
        .unwrap();
    assert!(
        doc.register(&r1, 100, r2.node_id(), None).is_err(),
        "the vendor must be a vendor"
    );
    let view = doc.read_view().registration;
    assert_eq!(view.registered_by.as_ref(), Some(r1.node_id()));
    assert_eq!(view.status, Some(RegistrationStatus::Pending));
    let decision = Decision::Approved { expires_at_ms: 90 };
    let terms = BTreeMap::from([("amount".to_string(), "120000".to_string())]);
    assert!(matches!(
        doc.decide_registration(&r2, 300, r1.node_id(), &decision, &terms),
        Err(DealError::NotAllowed(_))
    ));
    doc.decide_registration(&vendor, 300, r1.node_id(), &decision, &terms)
        .unwrap();
    let view = doc.read_view().registration;
    assert_eq!(view.status, Some(RegistrationStatus::Approved));
    assert_eq!(view.decisions[vendor.node_id()].expires_at_ms, Some(90));
    assert_eq!(
        view.decisions[vendor.node_id()].terms.as_ref(),
        Some(&terms),
        "the decision says what it decided on"
    );
    // The vendor revokes the approval with a reason: the status says so and the expiry goes.
    let revoked = Decision::Revoked {
        reason: "the customer chose another partner".into(),
    };
    doc.decide_registration(&vendor, 350, r1.node_id(), &revoked, &terms)
        .unwrap();
    let view = doc.read_view().registration;
    assert_eq!(view.status, Some(RegistrationStatus::Revoked));
    let d = &view.decisions[vendor.node_id()];
    assert_eq!(
        d.reason.as_deref(),
        Some("the customer chose another partner")
    );
    assert_eq!(d.expires_at_ms, None);
    assert!(matches!(
        doc.decide_registration(&r2, 360, r1.node_id(), &revoked, &terms),
        Err(DealError::NotAllowed(_))
    ));
    // A later decision replaces the earlier one whole, terms included.
    doc.decide_registration(&vendor, 400, r1.node_id(), &decision, &BTreeMap::new())
        .unwrap();
    let view = doc.read_view().registration;
    assert_eq!(
        view.decisions[vendor.node_id()].terms,
        Some(BTreeMap::new())
    );
}

#[test]
fn attribution_records_proposals_and_acceptances() {
    let (a, b, c) = (signer(1), signer(2), signer(3));
    let mut doc = deal(&a, &[&b, &c]);
    doc.propose_attribution(&b, 5, b.node_id(), &[id(&c)])
        .unwrap();
    doc.accept_attribution(&c, 6, b.node_id()).unwrap();
    assert!(doc.set_attribution(&b, 7, b.node_id(), &[]).is_err());
    doc.set_attribution(&a, 8, b.node_id(), &[id(&c)]).unwrap();
    let view = doc.read_view().attribution;
    assert_eq!(view.sourced_by.as_ref(), Some(b.node_id()));
    assert_eq!(view.influenced_by, vec![id(&c)]);
    assert_eq!(view.proposals[b.node_id()].influenced_by, vec![id(&c)]);
    assert_eq!(view.acceptances[c.node_id()], id(&b));
    assert_eq!(
        view.accepted_content[c.node_id()],
        view.proposals[b.node_id()]
    );
    // Accepting a proposal that does not exist is refused; a proposal changed after an
    // acceptance no longer matches the content accepted.
    assert!(doc.accept_attribution(&b, 9, c.node_id()).is_err());
    doc.propose_attribution(&b, 10, c.node_id(), &[]).unwrap();
    let view = doc.read_view().attribution;
    assert_ne!(
        view.accepted_content[c.node_id()],
        view.proposals[b.node_id()]
    );
}

#[test]
fn participants_answer_their_own_invitation_and_the_origin_expires() {
    let (a, b, c) = (signer(1), signer(2), signer(3));
    let mut doc = deal(&a, &[&b, &c]);
    doc.decline(&b, 2).unwrap();
    doc.expire_participant(&a, 3, c.node_id()).unwrap();
    let view = doc.read_view();
    assert_eq!(
        view.participants[&id(&b)].status,
        Some(ParticipantStatus::Declined)
    );
    assert_eq!(
        view.participants[&id(&c)].status,
        Some(ParticipantStatus::Expired)
    );
}
