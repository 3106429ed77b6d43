//! cosell's pure core: the record types every node agrees on, and (see the modules) the signed,
//! multi-party co-sell documents and their sync. No I/O, no clock, no randomness of its own:
//! callers pass time and entropy in, so everything here is deterministic and testable.
#![forbid(unsafe_code)]

pub mod records;
