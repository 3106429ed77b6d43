//! Per-partner data-sharing policies: what one partner may receive of this node's records.
//!
//! A policy file (TOML, or the same structure as JSON) names the opportunity fields a partner
//! receives, the row filters an opportunity must pass, the transforms that coarsen amounts and
//! dates, and what account mapping may reveal. Anything a policy does not name is never sent;
//! no policy at all is [`Policy::deny_all`].
//!
//! - [`Policy::from_toml`] / [`Policy::from_json`]: parse and validate, every error with its
//!   line, key and a "did you mean" ([`PolicyErrors`]).
//! - [`project`]: (policy, opportunity, account) → the exact [`Projection`] a partner sees, or
//!   `None`. [`Policy::intersect`] gives the policy for a deal with several partners.
//! - [`preview`]: a whole pipeline under a policy: shared and withheld counts, first page.
//! - [`Policy::to_canonical_toml`], [`Policy::to_canonical_json`], [`diff`]: stored versions
//!   and the audit log.
//! - [`templates`]: commented files an admin starts from.
//! - [`program`]: a vendor's partner program (tiers, health score weights, exchange rates), read
//!   and validated the same way, and evaluated against a partner's figures.
//!
//! The crate is pure: no I/O, no clock, no randomness. The file format is documented in
//! `policy/README.md`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod advice;
mod canonical;
pub mod country;
pub mod limits;
mod model;
mod parse;
pub mod program;
mod project;
pub mod routing;
mod suggest;
pub mod templates;

pub use advice::advice;
pub use canonical::{diff, Change};
pub use model::{
    AccountField, AccountPolicy, AmountTransform, DateTransform, OpportunityField,
    OpportunityPolicy, Policy, Population, SharingLevel, FORMAT_VERSION,
};
pub use parse::{PolicyError, PolicyErrors};
pub use project::{
    preview, project, project_account, transform_amount, transform_date, withheld_because, Preview,
    Projection, Value, Withheld,
};
