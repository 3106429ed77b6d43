//! What a company does with its partners: partnerships, shared deals, invitations, deal
//! registrations, account mapping, people and tokens, events, webhooks and the audit log.

pub mod audit;
pub mod audit_export;
pub mod audit_retention;
pub mod auth;
pub mod deals;
pub mod error;
pub mod events;
pub mod inbox;
pub mod mapping;
pub mod mapping_views;
pub mod notify;
pub mod partners;
pub mod peers;
pub mod records;
pub mod registrations;
pub mod users;
pub mod webhooks;
