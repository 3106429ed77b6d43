//! The process around the domain: the node's configuration, its data directory, its identity key
//! and generated sample data.

pub mod backup;
pub mod config;
pub mod datadir;
pub mod identity;
pub mod onboarding;
pub mod sample_data;
