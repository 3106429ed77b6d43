//! The declared kinds of shared documents, one file each (see [`crate::kind`]).

pub mod lead;
pub mod mdf;
pub mod plan;
