//! Per-partner data-sharing policies: what one partner may receive of this node's records.
#![forbid(unsafe_code)]
