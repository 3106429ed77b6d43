//! The cosell node: everything that touches the outside world — the redb store, libp2p, the
//! HTTP API and the CLI — built around the pure `protocol` and `policy` crates.
//!
//! Layers, each depending only on the ones below it (checked by `.ci/layers`):
//! `cli` → `http` → `app` → `domain` / `import` → `net` → `store` → `clock`.
//! ARCHITECTURE.md describes each one.

#![recursion_limit = "512"]

pub mod app;
pub mod cli;
pub mod clock;
pub mod domain;
pub mod http;
pub mod import;
pub mod net;
pub mod store;
