//! The cosell node: everything that touches the outside world — the redb store, the HTTP API,
//! the CLI, and (later) libp2p networking — built around the pure `protocol` and `policy` crates.
