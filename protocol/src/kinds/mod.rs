//! The declared kinds of shared documents, one file each (see [`crate::kind`]).

pub mod announcement;
pub mod lead;
pub mod mdf;
pub mod plan;
pub mod standing;
