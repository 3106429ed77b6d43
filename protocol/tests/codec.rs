//! Goal: the hand-written CBOR codec of envelopes and wire messages writes exactly the bytes the
//! earlier `ciborium::Value` encoding wrote, and accepts nothing that encoding would have read
//! differently. Method: a reference model (the earlier code, kept here) against the codec, on
//! random envelopes and messages (field lengths around every header-width boundary) and on
//! damaged encodings: the codec never panics, whatever it accepts the reference reads the same
//! way, and whatever canonical bytes the reference accepts the codec accepts too.

use ciborium::value::Value;
use proptest::prelude::*;
use protocol::deal::DealId;
use protocol::envelope::SignedChange;
use protocol::identity::{NodeId, NodeKey};
use protocol::wire::{DocSync, WireMessage};

mod reference {
    //! The `ciborium::Value` encoding as it was before the hand-written codec.
    use super::*;

    fn uint(n: u64) -> Value {
        Value::Integer(n.into())
    }

    pub fn envelope_value(e: &SignedChange) -> Value {
        Value::Array(vec![
            uint(1),
            Value::Bytes(e.change_bytes().to_vec()),
            Value::Text(e.author().as_str().to_string()),
            Value::Bytes(e.signature().to_vec()),
        ])
    }

    pub fn wire_value(m: &WireMessage) -> Value {
        let WireMessage::Sync(docs) = m;
        let body = docs
            .iter()
            .map(|d| {
                Value::Array(vec![
                    Value::Bytes(d.deal.as_bytes().to_vec()),
                    Value::Bytes(d.sync.clone()),
                    Value::Array(d.changes.iter().map(envelope_value).collect()),
                ])
            })
            .collect();
        Value::Array(vec![uint(1), uint(1), Value::Array(body)])
    }

    pub fn encode(value: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        ciborium::into_writer(value, &mut out).unwrap();
        out
    }

    fn envelope_from(value: Value) -> Option<SignedChange> {
        let Value::Array(items) = value else {
            return None;
        };
        let [Value::Integer(v), Value::Bytes(change), Value::Text(author), Value::Bytes(sig)] =
            <[Value; 4]>::try_from(items).ok()?
        else {
            return None;
        };
        if u64::try_from(v).ok()? != 1 || change.len() > 64 * 1024 || author.len() > 64 {
            return None;
        }
        let author = NodeId::parse(&author).ok()?;
        Some(SignedChange::from_parts(
            change,
            author,
            sig.try_into().ok()?,
        ))
    }

    /// What the earlier decoder made of these bytes (errors collapsed to `None`).
    pub fn decode_envelope(bytes: &[u8]) -> Option<SignedChange> {
        if bytes.len() > 64 * 1024 + 256 {
            return None;
        }
        envelope_from(ciborium::from_reader(bytes).ok()?)
    }

    pub fn decode_wire(bytes: &[u8]) -> Option<WireMessage> {
        let Value::Array(items) = ciborium::from_reader(bytes).ok()? else {
            return None;
        };
        let [Value::Integer(version), Value::Integer(kind), Value::Array(docs)] =
            <[Value; 3]>::try_from(items).ok()?
        else {
            return None;
        };
        if u64::try_from(version).ok()? != 1 || u64::try_from(kind).ok()? != 1 {
            return None;
        }
        if docs.len() > 1024 {
            return None;
        }
        let mut out = Vec::new();
        for doc in docs {
            let Value::Array(parts) = doc else {
                return None;
            };
            let [Value::Bytes(deal), Value::Bytes(sync), Value::Array(changes)] =
                <[Value; 3]>::try_from(parts).ok()?
            else {
                return None;
            };
            if sync.len() > 256 * 1024 || changes.len() > 4096 {
                return None;
            }
            let changes = changes
                .into_iter()
                .map(envelope_from)
                .collect::<Option<Vec<_>>>()?;
            out.push(DocSync {
                deal: DealId::from_bytes(deal.try_into().ok()?),
                sync,
                changes,
            });
        }
        Some(WireMessage::Sync(out))
    }
}

/// Lengths around every CBOR header width, and some ordinary ones.
fn length(max: usize) -> impl Strategy<Value = usize> {
    prop_oneof![
        0..40usize,
        prop::sample::select(vec![23usize, 24, 255, 256, 65_535, 65_536]),
        0..1000usize,
    ]
    .prop_map(move |n| n.min(max))
}

fn envelope() -> impl Strategy<Value = SignedChange> {
    (
        length(64 * 1024),
        any::<u8>(),
        1..=255u8,
        prop::array::uniform32(any::<u8>()),
    )
        .prop_map(|(len, fill, seed, half)| {
            let change: Vec<u8> = (0..len).map(|i| fill.wrapping_add(i as u8)).collect();
            let author = NodeKey::from_secret_bytes(&[seed; 32]).node_id().clone();
            let mut signature = [0u8; 64];
            signature[..32].copy_from_slice(&half);
            SignedChange::from_parts(change, author, signature)
        })
}

fn wire() -> impl Strategy<Value = WireMessage> {
    let doc = (
        prop::array::uniform32(any::<u8>()),
        length(1000),
        prop::collection::vec(envelope(), 0..4),
    )
        .prop_map(|(deal, sync_len, changes)| DocSync {
            deal: DealId::from_bytes(deal),
            sync: vec![0x42; sync_len],
            changes,
        });
    prop::collection::vec(doc, 0..4).prop_map(WireMessage::Sync)
}

/// Damages `bytes`: overwrites a few bytes, then maybe cuts the end or appends a byte.
fn damaged(mut bytes: Vec<u8>, flips: &[(usize, u8)], end: u8) -> Vec<u8> {
    for &(at, value) in flips {
        let n = bytes.len();
        bytes[at % n] = value;
    }
    match end % 3 {
        0 => {
            let cut = usize::from(end) % bytes.len().max(1);
            bytes.truncate(bytes.len() - cut);
        }
        1 => bytes.push(end),
        _ => {}
    }
    bytes
}

/// The codec agrees with the reference on `bytes`.
fn check_agrees(bytes: &[u8]) {
    let ours = SignedChange::decode(bytes).ok();
    let theirs = reference::decode_envelope(bytes);
    if let Some(e) = &ours {
        assert_eq!(Some(e), theirs.as_ref());
    }
    if let Some(e) = &theirs {
        if reference::encode(&reference::envelope_value(e)) == bytes {
            assert_eq!(ours.as_ref(), Some(e));
        }
    }
    let ours = WireMessage::decode(bytes).ok();
    let theirs = reference::decode_wire(bytes);
    if let Some(m) = &ours {
        assert_eq!(Some(m), theirs.as_ref());
    }
    if let Some(m) = &theirs {
        if reference::encode(&reference::wire_value(m)) == bytes {
            assert_eq!(ours.as_ref(), Some(m));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn envelope_encoding_matches_the_reference_and_round_trips(e in envelope()) {
        let bytes = e.encode();
        prop_assert_eq!(&bytes, &reference::encode(&reference::envelope_value(&e)));
        prop_assert_eq!(SignedChange::decode(&bytes), Ok(e));
    }

    #[test]
    fn wire_encoding_matches_the_reference_and_round_trips(m in wire()) {
        let bytes = m.encode();
        prop_assert_eq!(&bytes, &reference::encode(&reference::wire_value(&m)));
        prop_assert_eq!(WireMessage::decode(&bytes), Ok(m));
    }

    #[test]
    fn damaged_envelopes_decode_as_the_reference_reads_them(
        e in envelope(),
        flips in prop::collection::vec((any::<usize>(), any::<u8>()), 0..3),
        end in any::<u8>(),
    ) {
        check_agrees(&damaged(e.encode(), &flips, end));
    }

    #[test]
    fn damaged_wire_messages_decode_as_the_reference_reads_them(
        m in wire(),
        flips in prop::collection::vec((any::<usize>(), any::<u8>()), 0..3),
        end in any::<u8>(),
    ) {
        check_agrees(&damaged(m.encode(), &flips, end));
    }

    #[test]
    fn random_bytes_decode_as_the_reference_reads_them(
        bytes in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        check_agrees(&bytes);
    }
}

#[test]
fn non_canonical_encodings_are_refused() {
    let e = SignedChange::from_parts(
        vec![1, 2, 3],
        NodeKey::from_secret_bytes(&[1; 32]).node_id().clone(),
        [0; 64],
    );
    let canonical = e.encode();
    assert!(SignedChange::decode(&canonical).is_ok());
    // The version 1 in a one-byte argument (0x18 0x01) instead of the short form.
    let mut long_version = vec![0x84, 0x18, 0x01];
    long_version.extend_from_slice(&canonical[2..]);
    assert!(reference::decode_envelope(&long_version).is_some());
    assert!(SignedChange::decode(&long_version).is_err());
    // An indefinite-length array with a break.
    let mut indefinite = vec![0x9f];
    indefinite.extend_from_slice(&canonical[1..]);
    indefinite.push(0xff);
    assert!(SignedChange::decode(&indefinite).is_err());
    // Trailing bytes.
    let mut trailing = canonical.clone();
    trailing.push(0);
    assert!(SignedChange::decode(&trailing).is_err());
}
