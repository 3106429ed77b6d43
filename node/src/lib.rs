//! The cosell node: everything that touches the outside world — the redb store, the HTTP API,
//! the CLI, and (later) libp2p networking — built around the pure `protocol` and `policy` crates.

#![recursion_limit = "512"]

pub mod admin_cli;
pub mod api;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod client;
pub mod config;
pub mod datadir;
pub mod deals;
pub mod deals_cli;
pub mod demo;
pub mod events;
pub mod identity;
pub mod import;
pub mod importer;
pub mod inbox;
pub mod mapping;
pub mod mapping_cli;
pub mod metrics;
pub mod net;
pub mod partner_cli;
pub mod partners;
pub mod policy_cli;
pub mod registrations;
pub mod sample_data;
pub mod serve;
pub mod store;
pub mod store_net;
pub mod users;
pub mod webhooks;
pub mod workflows_cli;
