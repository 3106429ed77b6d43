//! Identity, envelope and wire encodings: canonical bytes, round trips, versions, limits.

mod support;

use protocol::deal::DealDoc;
use protocol::envelope::{EnvelopeError, SignedChange};
use protocol::identity::{actor_public_key, IdentityError, NodeId, NodeKey};
use protocol::limits::WIRE_MESSAGE_BYTES_MAX;
use protocol::sync::{PeerSync, SyncStateError};
use protocol::wire::{WireError, WireMessage};
use support::*;

#[test]
fn node_id_is_the_libp2p_peer_id_of_the_key() {
    let key = NodeKey::from_secret_bytes(&[7; 32]);
    let id = key.node_id();
    assert!(id.as_str().starts_with("12D3KooW"), "{id}");
    let parsed = NodeId::parse(id.as_str()).unwrap();
    assert_eq!(&parsed, id);
    assert_eq!(parsed.public_key(), key.public());
    assert_eq!(NodeId::from_public_key(&key.public()).unwrap(), parsed);
    let expected = libp2p_identity::PublicKey::from(
        libp2p_identity::ed25519::PublicKey::try_from_bytes(&key.public()).unwrap(),
    )
    .to_peer_id()
    .to_base58();
    assert_eq!(id.as_str(), expected);
}

#[test]
fn node_id_parse_refuses_non_ids() {
    assert!(matches!(
        NodeId::parse("not an id"),
        Err(IdentityError::NotPeerId(_))
    ));
    assert!(matches!(
        NodeId::parse(&"1".repeat(100)),
        Err(IdentityError::TooLong)
    ));
    // A secp256k1-style or hashed PeerId carries no inline ed25519 key.
    let hashed = "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N";
    assert!(matches!(
        NodeId::parse(hashed),
        Err(IdentityError::NotEd25519(_))
    ));
}

#[test]
fn actor_id_is_public_key_then_run_counter() {
    let key = NodeKey::from_secret_bytes(&[9; 32]);
    let actor = key.actor_id(3);
    assert_eq!(actor.to_bytes().len(), 40);
    assert_eq!(&actor.to_bytes()[32..], &3u64.to_be_bytes());
    assert_eq!(actor_public_key(&actor), Some(key.public()));
    assert_ne!(key.actor_id(3), key.actor_id(4));
}

#[test]
fn envelope_encoding_is_deterministic_and_round_trips() {
    let a = signer(1);
    let doc = deal(&a, &[&signer(2)]);
    let env = doc.envelopes().pop().unwrap();
    let bytes = env.encode();
    assert_eq!(bytes, env.encode());
    assert_eq!(bytes[0], 0x84, "a 4-element CBOR array");
    assert_eq!(bytes[1], 0x01, "version 1");
    let back = SignedChange::decode(&bytes).unwrap();
    assert_eq!(back, env);
    assert_eq!(back.encode(), bytes);
}

#[test]
fn envelope_with_unknown_version_is_refused_by_name() {
    let doc = deal(&signer(1), &[&signer(2)]);
    let mut bytes = doc.envelopes().pop().unwrap().encode();
    bytes[1] = 0x02;
    assert_eq!(
        SignedChange::decode(&bytes),
        Err(EnvelopeError::UnknownVersion(2))
    );
}

#[test]
fn wire_message_round_trips_and_checks_size() {
    let a = signer(1);
    let doc = deal(&a, &[&signer(2)]);
    let mut state = PeerSync::new();
    let first = doc.generate_sync(&mut state).unwrap();
    let message = WireMessage::Sync(vec![first]);
    let bytes = message.encode();
    assert_eq!(WireMessage::decode(&bytes).unwrap(), message);
    let huge = vec![0u8; WIRE_MESSAGE_BYTES_MAX + 1];
    assert_eq!(WireMessage::decode(&huge), Err(WireError::TooLarge));
    // Kind 9 does not exist.
    let mut unknown = bytes.clone();
    unknown[2] = 0x09;
    assert_eq!(
        WireMessage::decode(&unknown),
        Err(WireError::UnknownKind(9))
    );
}

#[test]
fn sync_state_round_trips_and_refuses_unknown_versions() {
    let (a, b) = (signer(1), signer(2));
    let mut doc_a = deal(&a, &[&b]);
    let mut doc_b = DealDoc::replica(doc_a.id());
    let (mut ab, mut ba) = (PeerSync::new(), PeerSync::new());
    sync_pair(&mut doc_a, &mut ab, &mut doc_b, &mut ba);
    let bytes = ab.encode();
    assert_eq!(PeerSync::decode(&bytes).unwrap().encode(), bytes);
    let mut other = bytes.clone();
    other[0] = 9;
    assert!(matches!(
        PeerSync::decode(&other),
        Err(SyncStateError::UnknownVersion(9))
    ));
    assert!(PeerSync::decode(&[]).is_err());
}

#[test]
fn every_local_edit_is_exactly_one_signed_change() {
    let (a, b) = (signer(1), signer(2));
    let mut doc = deal(&a, &[&b]);
    let before = doc.envelopes().len();
    let update = protocol::deal::SectionUpdate {
        add_notes: vec!["one".into(), "two".into()],
        next_step: Some("call".into()),
        contacts: Some(vec!["cto@acme.com".into()]),
        ..Default::default()
    };
    let change = doc.update_section(&a, 5, &update).unwrap();
    assert_eq!(doc.envelopes().len(), before + 1);
    assert_eq!(doc.heads(), vec![change.hash()]);
    assert_eq!(change.author(), a.node_id());
}
