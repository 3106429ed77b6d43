//! cosell's pure core: the record types every node agrees on, and (see the modules) the signed,
//! multi-party co-sell documents and their sync. No I/O, no clock, no randomness of its own:
//! callers pass time and entropy in, so everything here is deterministic and testable.
//!
//! Map of the shared-document modules:
//! - [`identity`]: node keys, node ids (libp2p PeerIds) and Automerge actor ids.
//! - [`envelope`]: the signed change envelope and its canonical CBOR encoding.
//! - [`deal`]: the deal document, its typed view and its typed edits ([`deal::DealDoc`]).
//! - [`verify`]: receiving changes: signature, author, path authorization, pending queue.
//! - [`sync`]: the sans-IO sync state machine per (peer, document).
//! - [`wire`]: the versioned, size-limited CBOR messages nodes exchange.
//! - [`limits`]: every bound, with why.
//! - [`attest`]: certifications signed by a node key, verifiable offline, and their revocation lists.
#![forbid(unsafe_code)]

pub mod attest;
pub(crate) mod auth;
mod cbor;
mod chunk;
pub mod deal;
pub mod envelope;
pub mod identity;
pub mod kind;
pub mod kinds;
pub mod limits;
mod parallel;
pub mod psi;
pub mod records;
pub mod sync;
pub mod verify;
pub mod wire;
