//! Hostile partners, hand-made sync messages: the peer's `have` Bloom filters (zero bits per
//! entry, 2^32 probes, parameters out of bounds, too many filters) are refused before use.

mod hostile;
mod support;

use hostile::*;
use protocol::deal::DealDoc;
use protocol::limits::{
    BLOOM_BITS_PER_ENTRY_MAX, BLOOM_ENTRIES_MAX, BLOOM_PROBES_MAX, SYNC_HAVES_MAX,
};
use protocol::sync::PeerSync;
use protocol::verify::RejectReason;
use protocol::wire::DocSync;
use support::*;

// Hand-made Automerge sync messages: the peer's `have` Bloom filters.

/// A Bloom filter's bytes as Automerge encodes them: entries, bits per entry, probes (uLEB128),
/// then `bit_bytes` bytes of bits.
fn bloom(entries: u64, bits_per_entry: u64, probes: u64, bit_bytes: usize) -> Vec<u8> {
    let mut out = Vec::new();
    uleb(&mut out, entries);
    uleb(&mut out, bits_per_entry);
    uleb(&mut out, probes);
    out.extend(vec![0xff; bit_bytes]);
    out
}

/// A version 1 sync message with no heads, needs or changes, and one `have` per filter (no
/// last-sync heads, so the filters cover every change of the receiver).
fn sync_with_filters(filters: &[Vec<u8>]) -> Vec<u8> {
    let mut out = vec![0x42];
    uleb(&mut out, 0); // heads
    uleb(&mut out, 0); // need
    uleb(&mut out, filters.len() as u64);
    for filter in filters {
        uleb(&mut out, 0); // last sync
        uleb(&mut out, filter.len() as u64);
        out.extend(filter);
    }
    uleb(&mut out, 0); // changes
    out
}

/// A deal of origin 1 with partner 2, and partner 2's sync state with it.
fn honest_deal() -> (DealDoc, PeerSync) {
    let (a, b) = (signer(1), signer(2));
    (deal(&a, &[&b]), PeerSync::new())
}

/// Delivers `sync` from a peer to `doc`; returns the reasons it was refused.
fn receive(doc: &mut DealDoc, peer: &mut PeerSync, sync: Vec<u8>) -> Vec<RejectReason> {
    let message = DocSync {
        deal: doc.id(),
        sync,
        changes: Vec::new(),
    };
    let outcome = doc.receive_sync(peer, message);
    assert!(outcome.applied.is_empty());
    outcome.rejected.into_iter().map(|r| r.reason).collect()
}

fn refused_as_sync(reasons: &[RejectReason]) -> bool {
    matches!(reasons, [RejectReason::Sync(_)])
}

#[test]
fn a_bloom_filter_with_zero_bits_per_entry_is_refused_before_it_is_used() {
    // Automerge takes each probe modulo the filter's bit count, here 0.
    let reasons = within(DEADLINE, "zero bits per entry", || {
        let (mut doc, mut peer) = honest_deal();
        let reasons = receive(&mut doc, &mut peer, sync_with_filters(&[bloom(1, 0, 7, 0)]));
        // The reply is where Automerge looks the filter up.
        doc.generate_sync(&mut peer);
        reasons
    });
    assert!(refused_as_sync(&reasons), "{reasons:?}");
}

#[test]
fn a_bloom_filter_asking_for_2_pow_32_probes_is_refused_before_it_is_used() {
    // Automerge reserves room for every probe: 0xFFFF_FFFF probes ask for 17 GB. The rule is
    // asserted before the reply is generated, so a missing rule fails here instead of there.
    let (mut doc, mut peer) = honest_deal();
    let reasons = receive(
        &mut doc,
        &mut peer,
        sync_with_filters(&[bloom(1, 10, 0xFFFF_FFFF, 2)]),
    );
    assert!(refused_as_sync(&reasons), "{reasons:?}");
    within(DEADLINE, "reply after a refused filter", move || {
        doc.generate_sync(&mut peer);
    });
}

#[test]
fn bloom_filter_parameters_outside_their_bounds_are_refused() {
    let over_entries = BLOOM_ENTRIES_MAX as u64 + 1;
    let bad = [
        ("no probes", bloom(1, 10, 0, 2)),
        (
            "too many probes",
            bloom(1, 10, BLOOM_PROBES_MAX as u64 + 1, 2),
        ),
        (
            "too many bits per entry",
            bloom(1, BLOOM_BITS_PER_ENTRY_MAX as u64 + 1, 7, 5),
        ),
        (
            "too many entries",
            bloom(over_entries, 1, 1, over_entries.div_ceil(8) as usize),
        ),
    ];
    for (what, filter) in bad {
        let (mut doc, mut peer) = honest_deal();
        let reasons = receive(&mut doc, &mut peer, sync_with_filters(&[filter]));
        assert!(refused_as_sync(&reasons), "{what}: {reasons:?}");
    }
    let good = [
        ("Automerge's parameters", bloom(3, 10, 7, 4)),
        (
            "the bounds",
            bloom(
                BLOOM_ENTRIES_MAX as u64,
                1,
                BLOOM_PROBES_MAX as u64,
                BLOOM_ENTRIES_MAX.div_ceil(8),
            ),
        ),
        ("an empty filter", Vec::new()),
    ];
    for (what, filter) in good {
        let (mut doc, mut peer) = honest_deal();
        let reasons = receive(&mut doc, &mut peer, sync_with_filters(&[filter]));
        assert!(reasons.is_empty(), "{what}: {reasons:?}");
        assert!(doc.generate_sync(&mut peer).is_some(), "{what}");
    }
}

#[test]
fn a_sync_message_with_more_haves_than_the_bound_is_refused() {
    let (mut doc, mut peer) = honest_deal();
    let filters = vec![bloom(3, 10, 7, 4); SYNC_HAVES_MAX + 1];
    let reasons = receive(&mut doc, &mut peer, sync_with_filters(&filters));
    assert!(refused_as_sync(&reasons), "{reasons:?}");
    let filters = vec![bloom(3, 10, 7, 4); SYNC_HAVES_MAX];
    let reasons = receive(&mut doc, &mut peer, sync_with_filters(&filters));
    assert!(reasons.is_empty(), "{reasons:?}");
}

#[test]
fn a_sync_message_with_unsorted_hashes_is_refused() {
    // Found by the `sync` fuzz target (fuzz/regressions/sync/): heads the receiver holds, sent in
    // descending order, became its shared heads as given; its next message carried them as its
    // last sync, and Automerge asserts (debug builds) that every hash list it encodes is sorted.
    // A release build wrote them unsorted, into a persisted peer state that no longer read back.
    // Automerge writes every hash list sorted, so an unsorted one is refused whole.
    let (mut doc, mut peer) = honest_deal();
    let mut partner = DealDoc::replica(doc.id());
    partner.ingest(doc.envelopes());
    partner.accept(&signer(2), 2_000).unwrap();
    assert!(doc.ingest(partner.envelopes()).rejected.is_empty());
    let mut hashes: Vec<_> = doc
        .automerge()
        .get_changes(&[])
        .iter()
        .map(|c| c.hash())
        .collect();
    assert!(hashes.len() >= 2, "the genesis and the acceptance");
    hashes.sort();
    hashes.reverse();
    let list = |hashes: &[automerge::ChangeHash]| {
        let mut out = Vec::new();
        uleb(&mut out, hashes.len() as u64);
        hashes.iter().for_each(|h| out.extend(h.0));
        out
    };
    let no_filter = |last_sync: &[automerge::ChangeHash]| {
        [
            &[0x42][..],
            &list(&[]),
            &list(&[]),
            &[1],
            &list(last_sync),
            &[0, 0],
        ]
        .concat()
    };
    let messages = [
        [&[0x42][..], &list(&hashes), &list(&[]), &[0, 0]].concat(),
        [&[0x42][..], &list(&[]), &list(&hashes), &[0, 0]].concat(),
        no_filter(&hashes),
    ];
    for sync in messages {
        let reasons = receive(&mut doc, &mut peer, sync);
        assert!(refused_as_sync(&reasons), "{reasons:?}");
        doc.generate_sync(&mut peer);
        let persisted = peer.encode();
        assert_eq!(
            PeerSync::decode(&persisted).map(|p| p.encode()),
            Ok(persisted)
        );
    }
    // The same heads in order are taken.
    hashes.reverse();
    let reasons = receive(
        &mut doc,
        &mut peer,
        [&[0x42][..], &list(&hashes), &list(&[]), &[0, 0]].concat(),
    );
    assert_eq!(reasons, vec![]);
    doc.generate_sync(&mut peer);
}
