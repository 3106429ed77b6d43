//! Announcements and standings (declared kinds `announcement`, `standing`): only the vendor
//! that made the document announces or updates a standing; only the partner marks an
//! announcement read; a change whose signature is not its author's is refused before anything
//! is applied.

mod support;

use protocol::deal::{DealDoc, Invite, Role, SharedFields, Signer};
use protocol::envelope::SignedChange;
use protocol::kind::StepValue;
use protocol::kinds::announcement::ANNOUNCEMENT;
use protocol::kinds::standing::STANDING;
use std::collections::BTreeMap;
use support::*;

/// The vendor, its partner, a stranger.
fn nodes() -> [Signer; 3] {
    [signer(21), signer(22), signer(23)]
}

fn doc_of(nodes: &[Signer; 3], spec: &'static protocol::kind::KindSpec) -> DealDoc {
    let invite = Invite {
        node: id(&nodes[1]),
        name: "partner".into(),
        role: Role::Reseller,
    };
    DealDoc::create_kind(
        &nodes[0],
        1_000,
        ("vendor", Role::Vendor),
        &[invite],
        &SharedFields::default(),
        spec,
    )
    .expect("create")
    .0
}

fn news() -> BTreeMap<String, StepValue> {
    [
        ("title", "Price list"),
        ("body", "New prices"),
        ("ref", "a1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), StepValue::Text(v.into())))
    .collect()
}

fn refusal(doc: &DealDoc, change: SignedChange) -> String {
    let out = doc.clone().ingest(vec![change]);
    match &out.rejected[..] {
        [r] => r.reason.to_string(),
        other => panic!("expected one rejection, got {other:?}"),
    }
}

#[test]
fn a_partner_cannot_announce_in_the_vendors_document() {
    let nodes = nodes();
    let doc = doc_of(&nodes, &ANNOUNCEMENT);
    let (forged, _) = forge(&doc, &nodes[1], "announce", "", &news());
    assert_eq!(
        refusal(&doc, forged),
        "not allowed to write steps/announce/step: this party may not take this transition"
    );
}

#[test]
fn an_announcement_signed_by_another_key_is_refused() {
    let nodes = nodes();
    let doc = doc_of(&nodes, &ANNOUNCEMENT);
    // The vendor's change with no signature (zeros), and with one byte of its signature
    // changed: neither is its author's signature.
    let mut fork = doc.clone();
    let (genuine, _) = forge(&fork, &nodes[0], "announce", "", &news());
    let mut tampered = *genuine.signature();
    tampered[7] ^= 1;
    for signature in [[0u8; 64], tampered] {
        let forged = SignedChange::from_parts(
            genuine.change_bytes().to_vec(),
            genuine.author().clone(),
            signature,
        );
        let reason = refusal(&doc, forged);
        assert!(reason.contains("signature"), "{reason}");
    }
    // The genuine one applies.
    let out = fork.ingest(vec![genuine]);
    assert!(out.rejected.is_empty(), "{:?}", out.rejected);
    assert_eq!(fork.kind_view().unwrap().folded.state, Some("received"));
}

#[test]
fn only_the_partner_marks_an_announcement_read() {
    let nodes = nodes();
    let mut doc = doc_of(&nodes, &ANNOUNCEMENT);
    doc.take_step(&nodes[0], 2_000, "announce", &news())
        .expect("announce");
    let (forged, _) = forge(&doc, &nodes[0], "read", "received", &BTreeMap::new());
    assert!(refusal(&doc, forged).contains("this party may not take this transition"));
    let (read, _) = forge(&doc, &nodes[1], "read", "received", &BTreeMap::new());
    let out = doc.ingest(vec![read]);
    assert!(out.rejected.is_empty(), "{:?}", out.rejected);
    assert_eq!(doc.kind_view().unwrap().folded.state, Some("read"));
}

#[test]
fn only_the_vendor_writes_a_partners_standing() {
    let nodes = nodes();
    let mut doc = doc_of(&nodes, &STANDING);
    let tier = |t: &str| {
        BTreeMap::from([
            ("program_version".to_string(), StepValue::Text("1".into())),
            ("tier".to_string(), StepValue::Text(t.into())),
        ])
    };
    doc.take_step(&nodes[0], 2_000, "publish", &tier("silver"))
        .expect("publish");
    // The partner promoting itself is refused.
    let (forged, _) = forge(&doc, &nodes[1], "update", "current", &tier("platinum"));
    assert!(refusal(&doc, forged).contains("this party may not take this transition"));
    doc.take_step(&nodes[0], 2_001, "update", &tier("gold"))
        .expect("update");
    let view = doc.kind_view().unwrap();
    assert_eq!(
        view.folded.fields.get("tier"),
        Some(&StepValue::Text("gold".into()))
    );
}
