//! `change`: one hostile change, signed by a known key, as a candidate for a real deal.
//!
//! Input: a control byte, then the change. Control bits: `0b11` the author (origin, reseller,
//! integrator, stranger: see [`fixture::SECRETS`]); `0b100` the rest is a whole chunk as
//! received (else it is the chunk's data, and the header with the right checksum is put in
//! front, so mutations reach the parser and the authorizer rather than the header); `0b1000`
//! the signature is spoiled; `0b1_0000` the change goes to an empty replica of the deal whose id
//! is the change's own hash (the genesis rules) instead of the fixture deal.
//!
//! The change is signed over the hash Automerge will give it, so it passes the signature check
//! and reaches `chunk::declared_size`, `Change::try_from`, the sequence and genesis checks, path
//! authorization and apply. Properties: a change that is not applied leaves the heads as they
//! were; a spoiled signature, a stranger's change or a replay is never applied; an applied
//! change is accepted again by a replica restoring the deal from its envelopes.

use super::fixture::{self, STRANGER};
use protocol::deal::{DealDoc, DealId};
use protocol::envelope::SignedChange;
use protocol::sync::PeerSync;

pub fn run(data: &[u8]) {
    let Some((&control, body)) = data.split_first() else {
        return;
    };
    let author = usize::from(control & 0b11);
    let raw = control & 0b100 != 0;
    let spoiled = control & 0b1000 != 0;
    let genesis = control & 0b1_0000 != 0;
    let (chunk, hash) = if raw {
        let hash = fixture::chunk_data(body).map(|(t, d)| fixture::chunk_hash(t, d));
        (body.to_vec(), hash)
    } else {
        (
            fixture::change_chunk(body),
            Some(fixture::chunk_hash(1, body)),
        )
    };
    let mut signature = hash.map_or([0; 64], |h| fixture::sign(author, &h));
    if spoiled {
        signature[0] ^= 1;
    }
    let envelope = SignedChange::from_parts(chunk, fixture::node(author), signature);
    let mut doc = if genesis {
        DealDoc::replica(DealId::from_bytes(hash.map_or([0; 32], |h| h.0)))
    } else {
        fixture::doc()
    };
    let heads = doc.heads();
    let outcome = doc.ingest(vec![envelope.clone()]);
    assert!(outcome.applied.len() <= 1, "one change, applied twice");
    let Some(applied) = outcome.applied.first() else {
        assert_eq!(doc.heads(), heads, "a change not applied changed the heads");
        if outcome.rejected.is_empty() {
            // A change left waiting for its dependencies is asked for in the next sync message.
            // (A refused one leaves nothing to ask for: the answer is the fixture's own, the
            // same for every input, and most of an input's time; not made again.)
            let _ = doc.generate_sync(&mut PeerSync::new());
        }
        return;
    };
    assert!(!spoiled, "applied with a spoiled signature");
    assert!(
        genesis || author != STRANGER,
        "applied a change by a non-participant"
    );
    assert!(doc.heads().contains(&applied.hash()));
    // A replay is a duplicate, not a second change.
    let again = doc.ingest(vec![envelope]);
    assert!(again.applied.is_empty() && again.rejected.is_empty());
    assert_eq!(again.duplicates, 1);
    // Every honest replica with the same causal past accepts the same change.
    let restored = DealDoc::restore(doc.id(), doc.envelopes())
        .unwrap_or_else(|rejected| panic!("an accepted change does not restore: {rejected:?}"));
    assert_eq!(restored.heads(), doc.heads());
    assert_eq!(restored.read_view(), doc.read_view());
    let _ = doc.generate_sync(&mut PeerSync::new());
}
