//! What a company does with its partners: partnerships, shared deals, invitations, deal
//! registrations, account mapping, people and tokens, events, webhooks and the audit log.

pub mod audit;
pub mod audit_export;
pub mod audit_retention;
pub mod auth;
pub mod crm;
pub mod crm_export;
pub mod deals;
pub mod declared;
pub mod erase;
pub mod error;
pub mod events;
pub mod hub;
pub mod inbox;
pub mod leads;
pub mod mapping;
pub mod mapping_views;
pub mod mdf;
pub mod notify;
pub mod oidc;
pub mod partners;
pub mod peers;
pub mod plans;
pub mod program;
pub mod records;
pub mod registrations;
pub mod scim;
pub mod users;
pub mod webhooks;
