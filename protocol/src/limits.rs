//! Every bound the protocol enforces, in one place. Each limit says why it has the value it has.
//! Data from a peer is checked against these before it is parsed further, so no peer can make a
//! node allocate or loop without bound.

/// Largest Automerge change accepted in an envelope. Deal edits are a handful of map puts (well
/// under 4 KiB); 64 KiB leaves room for a long note while bounding parse cost per change.
pub const CHANGE_BYTES_MAX: usize = 64 * 1024;

/// Most operations in one change. A change this large is not something the typed deal API makes;
/// the bound caps the work authorization does per change.
pub const CHANGE_OPS_MAX: usize = 4096;

/// Largest encoded envelope: the change plus author id, signature and CBOR framing.
pub const ENVELOPE_BYTES_MAX: usize = CHANGE_BYTES_MAX + 256;

/// Longest node id text. A base58 PeerId of an ed25519 key is 52 characters.
pub const NODE_ID_BYTES_MAX: usize = 64;

/// Most envelopes in one document's sync message. A deal has tens of changes; a first sync of a
/// long-lived deal may carry a few hundred.
pub const SYNC_CHANGES_MAX: usize = 4096;

/// Largest Automerge sync message (heads, needs, Bloom filter) without changes. A Bloom filter of
/// 10k changes is about 12 KiB.
pub const SYNC_MESSAGE_BYTES_MAX: usize = 256 * 1024;

/// Most `have` entries (each a Bloom filter) in one Automerge sync message. Automerge sends at
/// most one; each costs a filter lookup per change of the document whenever this node replies,
/// so a peer may not multiply that work.
pub const SYNC_HAVES_MAX: usize = 4;

/// Most entries one peer Bloom filter may claim: what a filter at Automerge's 10 bits per entry
/// fits in `SYNC_MESSAGE_BYTES_MAX` (about 200k changes since the last sync). The entry count
/// with the bits per entry fixes the filter's size, so both are bounded before any size is
/// computed from them.
pub const BLOOM_ENTRIES_MAX: usize = SYNC_MESSAGE_BYTES_MAX * 8 / 10;

/// Most bits per entry in a peer Bloom filter. Automerge uses 10 (1% false positives); 32 is a
/// false-positive rate far below anything useful. At least 1: with 0 the filter has no bits and
/// Automerge's lookup divides by zero.
pub const BLOOM_BITS_PER_ENTRY_MAX: usize = 32;

/// Most probes per lookup in a peer Bloom filter. Automerge uses 7 and reserves memory for every
/// probe before looking up (0xFFFF_FFFF probes would ask for 17 GB); each probe is work per change
/// per reply. At least 1, as every lookup makes one.
pub const BLOOM_PROBES_MAX: usize = 32;

/// Most documents in one wire message: one request/response carries a batch of deals so
/// signatures can be verified in one batch across documents.
pub const WIRE_DOCS_MAX: usize = 1024;

/// Largest wire message. Stays under libp2p request-response's default 10 MiB response cap.
pub const WIRE_MESSAGE_BYTES_MAX: usize = 8 * 1024 * 1024;

/// Most changes held per document while their dependencies are missing. An honest peer sends a
/// change's causal past with it, so only reordering and interrupted syncs fill this queue.
pub const PENDING_CHANGES_MAX: usize = 1024;

/// Most bytes held in one document's pending queue.
pub const PENDING_BYTES_MAX: usize = 4 * 1024 * 1024;

/// Most participants in one deal. Co-sell deals have 2 to 5 companies.
pub const PARTICIPANTS_MAX: usize = 64;

/// Longest text value the typed deal API writes (titles, notes, names), in bytes.
pub const FIELD_BYTES_MAX: usize = 16 * 1024;

/// Largest encoded per-peer sync state accepted from storage.
pub const SYNC_STATE_BYTES_MAX: usize = 64 * 1024;

/// Most predecessors summed over the operations of one change. An operation names as
/// predecessors the values it replaces: one, or a few after concurrent writes to the same key.
/// Four per operation at `CHANGE_OPS_MAX` operations is far beyond any deal edit, and bounds the
/// memory Automerge spends reading a change's predecessor lists (16 bytes each) to 256 KiB.
pub const CHANGE_PREDS_MAX: usize = 4 * CHANGE_OPS_MAX;
