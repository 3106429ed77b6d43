//! `envelope`: envelope bytes as a peer or storage hands them over — decode, then verify,
//! authorize and apply against an empty replica of the fixture deal (the genesis path) and the
//! fixture deal itself.
//!
//! Properties: only the canonical encoding decodes (so re-encoding gives the input back); a
//! change not applied leaves the heads as they were; an applied change is a genesis of the
//! fixture deal or is signed by a participant.

use super::fixture;
use protocol::deal::DealDoc;
use protocol::envelope::SignedChange;

pub fn run(data: &[u8]) {
    let Ok(envelope) = SignedChange::decode(data) else {
        return;
    };
    assert_eq!(envelope.encode(), data, "a non-canonical envelope decoded");
    assert_eq!(
        SignedChange::decode(&envelope.encode()),
        Ok(envelope.clone())
    );
    let f = fixture::fixture();
    for mut doc in [DealDoc::replica(f.id), fixture::doc()] {
        let heads = doc.heads();
        let outcome = doc.ingest(vec![envelope.clone()]);
        if outcome.applied.is_empty() {
            assert_eq!(doc.heads(), heads, "a change not applied changed the heads");
        }
        for applied in &outcome.applied {
            assert!(doc.is_participant(applied.author()));
        }
    }
}
