//! The sans-IO sync state machine, one per (peer, document).
//!
//! It reuses Automerge's sync protocol (heads, needs, Bloom filter of what each side has) to work
//! out *which* changes a peer lacks, but never lets Automerge apply a change: changes travel as
//! signed envelopes beside the Automerge sync message, and the receiver verifies and authorizes
//! each one (see [`crate::verify`]) before applying it. The Automerge sync message is sent with
//! its change list empty, and without capability flags so the peer never answers with a whole
//! document instead of changes.
//!
//! How the node drives it, per partner connection and deal:
//! 1. Load the deal's [`DealDoc`] and this peer's [`PeerSync`] (from its stored bytes, or new).
//! 2. [`DealDoc::generate_sync`] → `Some(DocSync)`: send it (batched with other deals in one
//!    [`crate::wire::WireMessage`]). `None`: nothing to say.
//! 3. On a received `DocSync`: [`receive_batch`] (or [`DealDoc::receive_sync`]) → persist every
//!    `applied` envelope and the doc, log `rejected` with the peer, then generate again and send
//!    if `Some`. Repeat until both sides return `None`.
//! 4. Persist [`PeerSync::encode`] with the document; after a reconnect only the changes since
//!    the last shared heads travel.
//!
//! Relaying needs nothing special: every node keeps every change's envelope and offers it to
//! every peer that lacks it; receivers judge each change by its author, not by who sent it.

use automerge::sync::{ChunkList, Have, Message, State, SyncDoc};
use automerge::ChangeHash;
use std::collections::{BTreeSet, HashMap, HashSet};

use crate::chunk::Reader;
use crate::deal::DealDoc;
use crate::envelope::SignedChange;
use crate::limits::{
    BLOOM_BITS_PER_ENTRY_MAX, BLOOM_ENTRIES_MAX, BLOOM_PROBES_MAX, SYNC_HAVES_MAX,
    SYNC_MESSAGE_BYTES_MAX, SYNC_STATE_BYTES_MAX,
};
use crate::parallel::map_in_order;
use crate::verify::{ingest_batch, Ingested, RejectReason, Rejected};
use crate::wire::DocSync;

/// Version byte of the stored per-peer sync state.
pub const SYNC_STATE_VERSION: u8 = 1;

/// Why stored sync state could not be read. The node then starts from [`PeerSync::new`], which
/// costs one full exchange of heads and a Bloom filter, never correctness.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncStateError {
    #[error("sync state is too large")]
    TooLarge,
    #[error("unknown sync state version {0}")]
    UnknownVersion(u8),
    #[error("malformed sync state")]
    Malformed,
}

/// What this node knows about one peer's copy of one document.
#[derive(Debug, Clone, Default)]
pub struct PeerSync {
    state: State,
}

impl PeerSync {
    /// A state for a peer never synced with.
    pub fn new() -> Self {
        PeerSync::default()
    }

    /// The heads both sides were last known to hold (kept by [`PeerSync::encode`]). When they
    /// equal a document's heads the peer lacks none of its changes, so a reconnect need not
    /// mention the document: the peer offers whatever it has that this side lacks.
    pub fn shared_heads(&self) -> &[automerge::ChangeHash] {
        &self.state.shared_heads
    }

    /// Bytes to persist: the shared heads (in-flight details are deliberately not kept).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![SYNC_STATE_VERSION];
        out.extend(self.state.encode());
        out
    }

    /// Reads persisted bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, SyncStateError> {
        if bytes.len() > SYNC_STATE_BYTES_MAX {
            return Err(SyncStateError::TooLarge);
        }
        match bytes.split_first() {
            // Automerge writes the heads sorted and asserts they are when it encodes them
            // (debug builds), so a state with unsorted heads is refused here, not there.
            Some((&SYNC_STATE_VERSION, rest)) => State::decode(rest)
                .ok()
                .filter(|state| state.shared_heads.windows(2).all(|h| h[0] <= h[1]))
                .map(|state| PeerSync { state })
                .ok_or(SyncStateError::Malformed),
            Some((&v, _)) => Err(SyncStateError::UnknownVersion(v)),
            None => Err(SyncStateError::Malformed),
        }
    }
}

impl DealDoc {
    /// The next message for this peer about this document, or `None` when there is nothing to
    /// say. Changes the peer lacks go as their signed envelopes, whoever authored them.
    pub fn generate_sync(&self, peer: &mut PeerSync) -> Option<DocSync> {
        let before: BTreeSet<_> = peer.state.sent_hashes.clone();
        let mut message = self.automerge_sync_message(&mut peer.state)?;
        message.changes = ChunkList::empty();
        message.flags = None;
        // Automerge does not know about changes waiting in our pending queue, so it asks only for
        // the peer's heads. A Bloom filter false positive can make the peer skip a dependency of
        // a change it sent; ask for those dependencies explicitly, or sync would stall.
        for hash in self.pending.missing_deps(|h| self.has_change(h)) {
            if !message.need.contains(&hash) {
                message.need.push(hash);
            }
        }
        // The sync message encoding requires sorted hash lists.
        message.need.sort();
        let changes: Vec<SignedChange> = peer
            .state
            .sent_hashes
            .difference(&before)
            .filter_map(|hash| self.envelopes.get(hash).cloned())
            .collect();
        Some(DocSync {
            deal: self.id,
            sync: message.encode(),
            changes,
        })
    }

    /// Automerge's `generate_sync_message`, without the changes it would carry. Automerge builds
    /// every change it sends from its columnar op set (about half the cost of generating a first
    /// sync message), and cosell throws them away for their envelopes. So when changes are due,
    /// the hashes Automerge would pick are computed here from change metadata (as
    /// `get_hashes_to_send` does), Automerge is asked for the message as if the peer were
    /// read-only (which skips building changes) and the hashes are recorded as sent. Where the
    /// read-only answer could differ (no message when heads are equal), or the state is one this
    /// shortcut does not model, Automerge's own path runs. Debug builds check both give the same
    /// message and state.
    fn automerge_sync_message(&self, state: &mut State) -> Option<Message> {
        let hashes = match self.hashes_to_send(state) {
            Some(hashes) if !hashes.is_empty() => hashes,
            _ => return self.doc.generate_sync_message(state),
        };
        #[cfg(debug_assertions)]
        let expected = {
            let mut state = state.clone();
            let message = self.doc.generate_sync_message(&mut state).map(|mut m| {
                m.changes = ChunkList::empty();
                m
            });
            (message, state)
        };
        state.peer_read_only = true;
        let message = self.doc.generate_sync_message(state);
        state.peer_read_only = false;
        let message = match message {
            Some(message) => {
                state.sent_hashes.extend(hashes);
                Some(message)
            }
            // Automerge leaves the state untouched when it has nothing to say.
            None => self.doc.generate_sync_message(state).map(|mut m| {
                m.changes = ChunkList::empty();
                m
            }),
        };
        #[cfg(debug_assertions)]
        {
            assert_eq!(message, expected.0, "sync message without changes");
            assert_eq!(*state, expected.1, "sync state after the message");
        }
        message
    }

    /// The hashes Automerge's `generate_sync_message` would send now (its `get_hashes_to_send`,
    /// less those already sent), or `None` where the shortcut does not apply: no request from the
    /// peer yet, a peer with capabilities (cosell strips them) or read-only, or a `last_sync` this
    /// document lacks (Automerge answers with a reset).
    fn hashes_to_send(&self, state: &State) -> Option<Vec<ChangeHash>> {
        if state.peer_read_only || state.their_capabilities.is_some() {
            return None;
        }
        let (Some(have), Some(need)) = (&state.their_have, &state.their_need) else {
            return None;
        };
        let need: Vec<ChangeHash> = need
            .iter()
            .filter(|h| self.has_change(h))
            .copied()
            .collect();
        let hashes = if have.is_empty() {
            need
        } else {
            let last_sync: BTreeSet<ChangeHash> = have
                .iter()
                .flat_map(|h| h.last_sync.iter().copied())
                .collect();
            if !last_sync.iter().all(|h| self.has_change(h)) {
                return None;
            }
            let last_sync: Vec<ChangeHash> = last_sync.into_iter().collect();
            let changes = self.doc.get_changes_meta(&last_sync);
            let mut dependents: HashMap<ChangeHash, Vec<ChangeHash>> = HashMap::new();
            let mut to_send = HashSet::new();
            for change in &changes {
                for dep in &change.deps {
                    dependents.entry(*dep).or_default().push(change.hash);
                }
                if have.iter().all(|h| !h.bloom.contains_hash(&change.hash)) {
                    to_send.insert(change.hash);
                }
            }
            // A change the peer lacks makes every change after it one the peer lacks.
            let mut stack: Vec<ChangeHash> = to_send.iter().copied().collect();
            while let Some(hash) = stack.pop() {
                for dependent in dependents.get(&hash).into_iter().flatten() {
                    if to_send.insert(*dependent) {
                        stack.push(*dependent);
                    }
                }
            }
            let mut hashes: Vec<ChangeHash> =
                need.into_iter().filter(|h| !to_send.contains(h)).collect();
            hashes.extend(
                changes
                    .iter()
                    .map(|c| c.hash)
                    .filter(|h| to_send.contains(h)),
            );
            hashes
        };
        Some(
            hashes
                .into_iter()
                .filter(|h| !state.sent_hashes.contains(h))
                .collect(),
        )
    }

    /// Handles one message from a peer about this document.
    pub fn receive_sync(&mut self, peer: &mut PeerSync, message: DocSync) -> Ingested {
        receive_batch(vec![(self, peer, message)])
            .pop()
            .unwrap_or_default()
    }
}

/// Documents whose signatures [`receive_batch`] and [`receive_batch_parallel`] verify in one
/// ed25519 batch. Fixed, so the outcome of a receive never depends on the thread count (batch and
/// single verification can disagree on crafted signatures; the same chunks give the same
/// verdicts). A first sync carries about 3 signatures per deal (one per author), so a chunk is a
/// few hundred signatures, where batch verification is near its best rate per signature.
pub const RECEIVE_CHUNK_DOCS: usize = 128;

/// Handles messages about several documents (typically one wire message), verifying signatures
/// in one batch per [`RECEIVE_CHUNK_DOCS`] documents. Each message must be paired with its own
/// deal's document; a mismatched pair is rejected as a whole. Outcomes are in input order.
pub fn receive_batch(items: Vec<(&mut DealDoc, &mut PeerSync, DocSync)>) -> Vec<Ingested> {
    receive_batch_parallel(items, 1)
}

/// [`receive_batch`] on up to `threads` threads (the caller picks the count, e.g. from
/// `std::thread::available_parallelism`). Documents are independent, so chunks of
/// [`RECEIVE_CHUNK_DOCS`] documents are verified, authorized and applied on separate threads; the
/// outcomes and the documents end up exactly as with `receive_batch`, in input order.
pub fn receive_batch_parallel(
    items: Vec<(&mut DealDoc, &mut PeerSync, DocSync)>,
    threads: usize,
) -> Vec<Ingested> {
    let mut chunks = Vec::with_capacity(items.len().div_ceil(RECEIVE_CHUNK_DOCS));
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        chunks.push(items.by_ref().take(RECEIVE_CHUNK_DOCS).collect::<Vec<_>>());
    }
    map_in_order(chunks, threads, receive_chunk)
        .into_iter()
        .flatten()
        .collect()
}

/// [`DealDoc::generate_sync`] for several documents on up to `threads` threads, results in input
/// order. Generating reads each document and updates only its own peer state, so the messages
/// are exactly those of calling `generate_sync` one document after the other.
pub fn generate_batch(
    items: Vec<(&DealDoc, &mut PeerSync)>,
    threads: usize,
) -> Vec<Option<DocSync>> {
    map_in_order(items, threads, |(doc, peer)| doc.generate_sync(peer))
}

/// One chunk of [`receive_batch_parallel`]: one batch signature verification for all of it.
fn receive_chunk(items: Vec<(&mut DealDoc, &mut PeerSync, DocSync)>) -> Vec<Ingested> {
    let mut early: Vec<Option<Ingested>> = Vec::with_capacity(items.len());
    let mut docs: Vec<&mut DealDoc> = Vec::with_capacity(items.len());
    let mut changes = Vec::with_capacity(items.len());
    let mut peers = Vec::with_capacity(items.len());
    for (doc, peer, message) in items {
        match parse_sync(doc, &message) {
            Ok(sync) => {
                early.push(None);
                docs.push(doc);
                let carried_changes = !message.changes.is_empty();
                changes.push(message.changes);
                peers.push((peer, sync, carried_changes));
            }
            Err(why) => early.push(Some(Ingested {
                rejected: vec![Rejected {
                    hash: None,
                    author: None,
                    reason: RejectReason::Sync(why),
                }],
                ..Ingested::default()
            })),
        }
    }
    let mut outcomes = ingest_batch(docs.iter_mut().map(|d| &mut **d).zip(changes).collect());
    // Changes are applied first, so the sync step sees the peer's heads as known.
    for ((doc, (peer, sync, carried_changes)), outcome) in
        docs.into_iter().zip(peers).zip(outcomes.iter_mut())
    {
        // Automerge takes a message without changes whose heads equal ours as "the peer has
        // seen our heads" and then stays silent. Here the message's changes were applied just
        // before, so that inference is wrong: keep what was really last sent, so the answer
        // confirms the new heads and the sender can persist them as shared (a reconnect then
        // skips this document).
        let last_sent = carried_changes.then(|| peer.state.last_sent_heads.clone());
        let result = doc.doc.receive_sync_message(&mut peer.state, sync);
        if let Some(heads) = last_sent {
            peer.state.last_sent_heads = heads;
        }
        if let Err(e) = result {
            outcome.rejected.push(Rejected {
                hash: None,
                author: None,
                reason: RejectReason::Sync(e.to_string()),
            });
        }
    }
    let mut outcomes = outcomes.into_iter();
    early
        .into_iter()
        .map(|e| e.unwrap_or_else(|| outcomes.next().unwrap_or_default()))
        .collect()
}

fn parse_sync(doc: &DealDoc, message: &DocSync) -> Result<Message, String> {
    if message.deal != doc.id {
        return Err("message is for another deal".to_string());
    }
    if message.sync.len() > SYNC_MESSAGE_BYTES_MAX {
        return Err("sync message too large".to_string());
    }
    match Message::decode(&message.sync) {
        Ok(mut m) if m.changes.is_empty() => {
            check_sorted(&m)?;
            check_haves(&m.have)?;
            // Capability flags would let the peer ask for whole-document messages, which carry
            // no signatures: cosell never honours them.
            m.flags = None;
            Ok(m)
        }
        Ok(_) => Err("changes must travel in signed envelopes".to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// Refuses hash lists out of order. Automerge writes every list sorted and takes the peer's
/// heads as given for the shared heads it later sends back (as a `have`'s last sync) and
/// persists; it asserts (debug builds) that what it encodes is sorted, and a peer state with
/// unsorted heads does not read back ([`PeerSync::decode`]).
fn check_sorted(m: &Message) -> Result<(), String> {
    let sorted = |hashes: &[ChangeHash]| hashes.windows(2).all(|h| h[0] <= h[1]);
    let lists = [("heads", &m.heads), ("need", &m.need)]
        .into_iter()
        .chain(m.have.iter().map(|have| ("last sync", &have.last_sync)));
    for (what, hashes) in lists {
        if !sorted(hashes) {
            return Err(format!("{what} hashes are not sorted"));
        }
    }
    Ok(())
}

/// Checks the peer's Bloom filters before Automerge uses them: Automerge trusts a filter's
/// parameters, reserving memory for every probe and dividing by the number of bits.
fn check_haves(haves: &[Have]) -> Result<(), String> {
    if haves.len() > SYNC_HAVES_MAX {
        return Err(format!(
            "{} Bloom filters (at most {SYNC_HAVES_MAX})",
            haves.len()
        ));
    }
    haves
        .iter()
        .try_for_each(|have| check_bloom(&have.bloom.to_bytes()))
        .map_err(|why| format!("bad Bloom filter: {why}"))
}

/// Checks one Bloom filter in Automerge's encoding (empty for no entries, else entries, bits per
/// entry and probes as uLEB128, then the bit array).
fn check_bloom(bytes: &[u8]) -> Result<(), &'static str> {
    if bytes.is_empty() {
        // No entries: Automerge answers "not present" without probing.
        return Ok(());
    }
    let mut r = Reader::new(bytes);
    let entries = r.uleb()?;
    let bits_per_entry = r.uleb()?;
    let probes = r.uleb()?;
    if entries > BLOOM_ENTRIES_MAX as u64 {
        return Err("too many entries");
    }
    if !(1..=BLOOM_BITS_PER_ENTRY_MAX as u64).contains(&bits_per_entry) {
        return Err("bits per entry out of range");
    }
    if !(1..=BLOOM_PROBES_MAX as u64).contains(&probes) {
        return Err("probes out of range");
    }
    // Both factors are bounded above, so the product is exact.
    if r.rest().len() as u64 != (entries * bits_per_entry).div_ceil(8) {
        return Err("bit array does not match its entries");
    }
    Ok(())
}
