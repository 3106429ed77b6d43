//! Envelope, wire and sync-state decoding must never panic, and whatever decodes must survive a
//! verified receive into a fresh replica without panicking.
//! Run: `cd fuzz && cargo +nightly fuzz run decode -- -max_total_time=60`
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::deal::DealDoc;
use protocol::envelope::SignedChange;
use protocol::sync::PeerSync;
use protocol::wire::WireMessage;

fuzz_target!(|data: &[u8]| {
    if let Ok(envelope) = SignedChange::decode(data) {
        assert_eq!(SignedChange::decode(&envelope.encode()), Ok(envelope.clone()));
        let mut doc = DealDoc::replica(protocol::deal::DealId::from_bytes([0; 32]));
        let _ = doc.ingest(vec![envelope]);
    }
    if let Ok(WireMessage::Sync(docs)) = WireMessage::decode(data) {
        for message in docs {
            let mut doc = DealDoc::replica(message.deal);
            let mut peer = PeerSync::new();
            let _ = doc.receive_sync(&mut peer, message);
        }
    }
    let _ = PeerSync::decode(data);
});
