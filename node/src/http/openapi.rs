//! `GET /api/v1/openapi.json`, generated from [`ROUTES`], the table that documents every route
//! the router serves. A test (`every_routed_path_is_documented`) checks the two agree, so the
//! document cannot drift from the code. A route's query parameters come from the very struct its
//! handler reads (`query_params!`, see `api::query`), and a test
//! (`every_handler_query_is_documented`) checks each route names its handler's struct.

use super::query::{ParamDoc, QueryParams};
use axum::Json;
use serde_json::{json, Map, Value};

/// One documented route.
pub struct RouteDoc {
    /// HTTP method, lower case.
    pub method: &'static str,
    /// Path under `/api/v1`, with `{param}` segments.
    pub path: &'static str,
    /// One line for people.
    pub summary: &'static str,
    /// Least role that may call it; `None` for public routes.
    pub role: Option<&'static str>,
    /// Request body: (content type, schema name).
    pub request: Option<(&'static str, &'static str)>,
    /// Success status and schema name of the answer.
    pub response: (u16, &'static str),
    /// The query parameters the handler reads, from its query struct.
    pub query: &'static [ParamDoc],
    /// That struct's name (empty for a route without one), for the drift test.
    pub query_struct: &'static str,
}

macro_rules! route {
    ($m:literal $p:literal, $s:literal, $role:expr, $req:expr, $resp:expr) => {
        RouteDoc {
            method: $m,
            path: $p,
            summary: $s,
            role: $role,
            request: $req,
            response: $resp,
            query: &[],
            query_struct: "",
        }
    };
    ($m:literal $p:literal, $s:literal, $role:expr, $req:expr, $resp:expr, $query:ty) => {
        RouteDoc {
            method: $m,
            path: $p,
            summary: $s,
            role: $role,
            request: $req,
            response: $resp,
            query: <$query as QueryParams>::PARAMS,
            query_struct: <$query as QueryParams>::NAME,
        }
    };
}

/// Every route under `/api/v1`.
pub const ROUTES: &[RouteDoc] = &[
    route!("get" "/node", "This node: id, name, version, addresses", Some("viewer"), None, (200, "Node")),
    route!("get" "/accounts", "List accounts (q, limit, cursor)", Some("viewer"), None, (200, "AccountPage"), super::records::AccountQuery),
    route!("post" "/accounts", "Create an account", Some("manager"), Some(("application/json", "AccountInput")), (201, "Account")),
    route!("get" "/accounts/{id}", "One account", Some("viewer"), None, (200, "Account")),
    route!("patch" "/accounts/{id}", "Change fields of an account (null clears an optional one)", Some("manager"), Some(("application/json", "AccountPatch")), (200, "Account")),
    route!("delete" "/accounts/{id}", "Delete an account (refused while opportunities name it)", Some("manager"), None, (200, "Deleted")),
    route!("get" "/opportunities", "List opportunities (stage, account_id, q, limit, cursor)", Some("viewer"), None, (200, "OpportunityPage"), super::records::OpportunityQuery),
    route!("post" "/opportunities", "Create an opportunity", Some("manager"), Some(("application/json", "OpportunityInput")), (201, "Opportunity")),
    route!("get" "/opportunities/{id}", "One opportunity", Some("viewer"), None, (200, "Opportunity")),
    route!("patch" "/opportunities/{id}", "Change fields of an opportunity (null clears)", Some("manager"), Some(("application/json", "OpportunityPatch")), (200, "Opportunity")),
    route!("delete" "/opportunities/{id}", "Delete an opportunity (refused while deals shared from it are not withdrawn, naming them; withdraw=true withdraws them first)", Some("manager"), None, (200, "Deleted"), super::records::DeleteOpportunityQuery),
    route!("post" "/import/accounts", "Import accounts from CSV, all or nothing", Some("manager"), Some(("text/csv", "Csv")), (200, "ImportSummary")),
    route!("post" "/import/opportunities", "Import opportunities from CSV, all or nothing (date_format: DD/MM/YYYY, MM/DD/YYYY or YYYY-MM-DD, how to read 03/04/2026)", Some("manager"), Some(("text/csv", "Csv")), (200, "ImportSummary"), super::import::OpportunitiesQuery),
    route!("post" "/hub/{hub}/import", "Import AWS ACE opportunities or Microsoft referrals (one object or an array; docs/hubs.md), all or nothing; invitations wait in GET /hub/invitations", Some("manager"), Some(("application/json", "HubFile")), (200, "HubImport")),
    route!("get" "/hub/{hub}/opportunities/{id}", "An opportunity as the hub's JSON (ACE Create/Update request, MS Referral), valid against the hub's model; 422 names what the model requires and the record lacks", Some("viewer"), None, (200, "HubRecord")),
    route!("get" "/hub/invitations", "ACE opportunity invitations and incoming MS referrals, newest first (status)", Some("viewer"), None, (200, "HubInvitationPage"), super::hub::InvitationQuery),
    route!("post" "/hub/invitations/{id}/accept", "Accept a hub invitation: its account and opportunity are created (or the matching ones updated)", Some("manager"), None, (200, "HubInvitation")),
    route!("post" "/hub/invitations/{id}/decline", "Decline a hub invitation", Some("manager"), None, (200, "HubInvitation")),
    route!("get" "/export/opportunities", "Every opportunity with its co-sell columns (partners, partner stages, deal status, attribution, registration status) as CSV in a CRM's import columns (format: salesforce or hubspot)", Some("viewer"), None, (200, "CrmCsv"), super::hub::ExportQuery),
    route!("post" "/policy/preview", "What a partner under this policy (TOML or JSON body) would receive (opportunity_id, limit)", Some("viewer"), Some(("application/toml", "PolicyText")), (200, "PolicyPreview"), super::policy::PreviewQuery),
    route!("get" "/network", "Reachability: listen, external and observed addresses, NAT status, relays used and offered, per partner the connection type (direct, hole-punched, relayed, offline), RTT and last error", Some("viewer"), None, (200, "Network")),
    route!("get" "/partners", "Partners with status, last seen and policy summary (limit, cursor)", Some("viewer"), None, (200, "PartnerPage"), super::partners::PartnerQuery),
    route!("post" "/partners/invites", "Issue a one-time invite token (type, expires_in_days)", Some("admin"), Some(("application/json", "InviteInput")), (201, "Invite")),
    route!("post" "/partners/join", "Join the node that issued a token", Some("admin"), Some(("application/json", "JoinInput")), (200, "Partner")),
    route!("delete" "/partners/{id}", "End a partnership: disconnect and refuse from now on", Some("admin"), None, (200, "Partner")),
    route!("get" "/partners/{id}/policy", "The policy for a partner, with every version", Some("viewer"), None, (200, "PartnerPolicy")),
    route!("put" "/partners/{id}/policy", "Set the policy for a partner (TOML or JSON body)", Some("admin"), Some(("application/toml", "PolicyFile")), (200, "PolicyVersion")),
    route!("get" "/partners/{id}/policy/preview", "What the partner receives under its policy (opportunity_id)", Some("viewer"), None, (200, "PolicyPreview"), super::partners::PreviewQuery),
    route!("post" "/partners/{id}/map", "Run account mapping with a partner now (PSI); the matrix", Some("manager"), None, (200, "MappingMatrix")),
    route!("get" "/partners/{id}/map", "The latest account-mapping matrix with a partner, signed", Some("viewer"), None, (200, "MappingMatrix")),
    route!("post" "/partners/{id}/map/propose", "Share this node's open opportunity on an overlapping account (domain, opportunity_id) with the partner as a deal", Some("manager"), Some(("application/json", "ProposeInput")), (201, "Deal")),
    route!("get" "/populations", "Account-mapping populations: built-in and custom", Some("viewer"), None, (200, "PopulationPage")),
    route!("put" "/populations/{name}", "Create or replace a custom population (statuses, industries, countries, tags, stages); a built-in's name is refused", Some("admin"), Some(("application/json", "PopulationInput")), (200, "Population")),
    route!("delete" "/populations/{name}", "Remove a custom population", Some("admin"), None, (204, "Empty")),
    route!("get" "/deals", "Shared deals and withdrawn ones (status, stage, partner, limit, cursor)", Some("viewer"), None, (200, "DealPage"), super::deals::DealQuery),
    route!("post" "/deals", "Share an opportunity with partners as a deal", Some("manager"), Some(("application/json", "ShareInput")), (201, "Deal")),
    route!("post" "/deals/bulk", "Share many opportunities ({opportunity_ids, partners, role}), one deal each under its own policy check; per-opportunity results", Some("manager"), Some(("application/json", "BulkShareInput")), (200, "BulkResult")),
    route!("post" "/deals/{id}/reinvite", "Invite a partner again ({partner}) after its invitation expired or it declined: a new deal from the same opportunity", Some("manager"), Some(("application/json", "ReinviteInput")), (201, "Deal")),
    route!("post" "/deals/{id}/withdraw", "Withdraw a deal this node shared ({reason}): every participant keeps only who, when and why", Some("manager"), Some(("application/json", "WithdrawInput")), (200, "Withdrawn")),
    route!("post" "/inbox/accept", "Accept many invitations ({deals: [ids]} or {all: true}); per-deal results", Some("manager"), Some(("application/json", "BulkRespondInput")), (200, "BulkResult")),
    route!("post" "/inbox/decline", "Decline many invitations ({deals: [ids]} or {all: true}, optional reason for all); per-deal results", Some("manager"), Some(("application/json", "BulkDeclineInput")), (200, "BulkResult")),
    route!("get" "/deals/{id}", "One deal with its signed history", Some("viewer"), None, (200, "Deal")),
    route!("patch" "/deals/{id}", "Write this node's own section of a deal", Some("manager"), Some(("application/json", "SectionInput")), (200, "Deal")),
    route!("post" "/deals/{id}/accept", "Accept this node's invitation to a deal", Some("manager"), None, (200, "Deal")),
    route!("post" "/deals/{id}/decline", "Decline this node's invitation to a deal, optionally with a reason ({reason}) the origin reads", Some("manager"), Some(("application/json", "DeclineInput")), (200, "Deal")),
    route!("post" "/deals/{id}/link", "Link a deal to one of this node's opportunities ({opportunity_id} or {create: true}); its stage shows beside the others'", Some("manager"), Some(("application/json", "LinkInput")), (200, "Deal")),
    route!("post" "/deals/{id}/attribution", "Propose sourced-by / influenced-by ({sourced_by, influenced_by:[…]}, participants by id or name)", Some("manager"), Some(("application/json", "AttributionInput")), (200, "Deal")),
    route!("post" "/deals/{id}/attribution/accept", "Accept another participant's attribution proposal ({proposer}, optional when only one)", Some("manager"), Some(("application/json", "AttributionAcceptInput")), (200, "Deal")),
    route!("get" "/inbox", "Invitations to deals waiting for this node, redacted until accepted (status, limit, cursor); on the first page also the invitations from the hubs (hub_invitations)", Some("viewer"), None, (200, "InboxPage"), super::inbox::InboxQuery),
    route!("get" "/needs-me", "What waits for the caller: invitations, registrations to decide or pending, overdue ones, new overlaps and deals partners changed since the last visit (since), with counts", Some("viewer"), None, (200, "NeedsMe"), super::workday::NeedsMeQuery),
    route!("get" "/share-preview", "Exactly the fields a deal shared with these partners would carry: the projection under the intersection of their policies (opportunity_id, partners)", Some("viewer"), None, (200, "PolicyPreview"), super::workday::SharePreviewQuery),
    route!("get" "/me/notifications", "The signed-in user's e-mail notification settings, and the notifications there are", Some("viewer"), None, (200, "NotificationSettings")),
    route!("put" "/me/notifications", "Set the signed-in user's e-mail address, notifications wanted and digest choice", Some("viewer"), Some(("application/json", "NotificationSettingsInput")), (200, "NotificationSettings")),
    route!("get" "/me/mapping-views", "The signed-in user's saved views of the mapping matrix (an API token, which has no user, gets 403)", Some("viewer"), None, (200, "MappingViewList")),
    route!("put" "/me/mapping-views/{name}", "Save (or replace) one of the signed-in user's mapping views ({view}: a JSON object of at most 8 KiB; at most 100 views, else 409; an API token gets 403)", Some("viewer"), Some(("application/json", "MappingViewInput")), (200, "MappingView")),
    route!("delete" "/me/mapping-views/{name}", "Delete one of the signed-in user's saved mapping views (an API token gets 403)", Some("viewer"), None, (204, "")),
    route!("get" "/registrations", "Deal registrations made here or with this node as vendor, newest first (limit, cursor; conflicts only on the vendor)", Some("viewer"), None, (200, "RegistrationPage"), super::registrations::ListQuery),
    route!("post" "/registrations", "Register a deal with a vendor partner", Some("manager"), Some(("application/json", "RegistrationInput")), (201, "Registration")),
    route!("get" "/registrations/{id}", "One registration", Some("viewer"), None, (200, "Registration")),
    route!("patch" "/registrations/{id}", "Change a pending registration (the partner that made it; null clears)", Some("manager"), Some(("application/json", "RegistrationChange")), (200, "Registration")),
    route!("post" "/registrations/{id}/approve", "Approve a registration (vendor only): protected for the protection window", Some("manager"), None, (200, "Registration")),
    route!("post" "/registrations/{id}/reject", "Reject a registration with a reason (vendor only)", Some("manager"), Some(("application/json", "RejectInput")), (200, "Registration")),
    route!("get" "/program", "The partner program in force: its file, version and tiers (404 while none is set)", Some("viewer"), None, (200, "Program")),
    route!("put" "/program", "Set the partner program (TOML with Content-Type application/toml, or the same structure as JSON): tiers, requirements, benefits, health weights, rates; every version kept and audited; errors name line and key", Some("admin"), Some(("application/toml", "ProgramText")), (200, "Program")),
    route!("post" "/program/check", "Validate a program file without setting it", Some("viewer"), Some(("application/toml", "ProgramText")), (200, "ProgramCheck")),
    route!("get" "/program/standing", "This node's own standing in each vendor's program, as the vendors sent it over the network (tier, benefits, what the next tier lacks); never another partner's", Some("viewer"), None, (200, "ReceivedStandingPage")),
    route!("get" "/announcements", "Announcements this node sent (with read receipts) and received (read or not), newest first; unread counts the received ones not read (direction)", Some("viewer"), None, (200, "AnnouncementPage"), super::announcements::AnnouncementQuery),
    route!("post" "/announcements", "Send a signed announcement to the active partners an audience selects (all, tier:T, type:T, region:R): one shared document each, delivered when a partner is next connected; 422 when the audience selects no partner", Some("manager"), Some(("application/json", "AnnouncementInput")), (201, "Announcement")),
    route!("post" "/announcements/{id}/read", "Mark a received announcement read: a signed step the vendor sees as the read receipt (again: no change)", Some("viewer"), None, (200, "Announcement")),
    route!("put" "/partners/{id}/region", "Set a partner's region (null or blank clears it): the region:R audience of announcements", Some("admin"), Some(("application/json", "RegionInput")), (200, "PartnerRegion")),
    route!("get" "/program/partners", "Every active partner's tier, what the next tier lacks, health score with its explanation, and the numbers behind them (404 while no program is set)", Some("viewer"), None, (200, "StandingPage")),
    route!("get" "/program/partners/{id}", "One partner's standing (id or name)", Some("viewer"), None, (200, "Standing")),
    route!("get" "/analytics", "Sourced and influenced pipeline and revenue, wins, losses, win rate, registrations, invitations and open pipeline by stage, per partner and in total, in the program currency (quarter or year; default the program window)", Some("viewer"), None, (200, "Analytics"), super::program::AnalyticsQuery),
    route!("get" "/reports/qbr/{partner}", "The QBR pack of a partner (id or name) for a quarter (default the current one): a self-contained HTML report with inline SVG charts and its CSVs", Some("viewer"), None, (200, "QbrPack"), super::program::QbrQuery),
    route!("get" "/attestations", "Certification attestations this node issued, newest first, with revocations", Some("viewer"), None, (200, "AttestationPage")),
    route!("post" "/attestations", "Issue a certification attestation signed with the node key (subject, certification, level, expires; partner, subject_kind, issued optional); answers the signed file", Some("manager"), Some(("application/json", "AttestationInput")), (201, "Attestation")),
    route!("post" "/attestations/import", "Issue one attestation per row of an LMS completion CSV (name, partner, certification, level, completed, expires), all or nothing", Some("manager"), Some(("text/csv", "Csv")), (201, "AttestationImport")),
    route!("get" "/attestations/revocations", "This node's signed revocation list (a file verifiers use offline)", Some("viewer"), None, (200, "SignedFile")),
    route!("post" "/attestations/verify", "Check an attestation file with this node's trust (itself and its partners) and revocations: valid, or why not (tampered, expired, not_yet_valid, revoked, unknown_issuer, malformed)", Some("viewer"), Some(("application/json", "VerifyInput")), (200, "AttestationVerdict")),
    route!("get" "/attestations/{id}", "One attestation this node issued, with its signed file (id or a 6+ digit prefix)", Some("viewer"), None, (200, "Attestation")),
    route!("post" "/attestations/{id}/revoke", "Revoke an attestation (reason optional); it goes on the signed revocation list", Some("manager"), Some(("application/json", "RevokeAttestationInput")), (200, "Attestation")),
    route!("post" "/erase", "Erase one person's data on this node (GDPR art. 17): every record, audit entry, delivery, notification and what this node wrote in shared deals holding the e-mail address or name; dry_run lists what would be erased (admin)", Some("admin"), Some(("application/json", "EraseInput")), (200, "Erasure")),
    route!("post" "/registrations/{id}/revoke", "Revoke an approved registration with a reason the partner sees (vendor only): its protection ends now", Some("manager"), Some(("application/json", "RevokeInput")), (200, "Registration")),
    route!("get" "/mdf", "MDF requests proposed here or to this vendor, oldest first (status)", Some("viewer"), None, (200, "MdfPage"), super::mdf::MdfQuery),
    route!("post" "/mdf", "Propose a marketing activity to a vendor partner for market development funds", Some("manager"), Some(("application/json", "MdfProposal")), (201, "Mdf")),
    route!("get" "/mdf/allocations", "The vendor's MDF allocations per partner and quarter, with exact balances", Some("viewer"), None, (200, "MdfAllocationPage")),
    route!("post" "/mdf/allocations", "Set a partner's MDF allocation for a quarter (never below what is approved)", Some("manager"), Some(("application/json", "MdfAllocationInput")), (200, "MdfAllocation")),
    route!("get" "/mdf/{id}", "One MDF request with its signed steps", Some("viewer"), None, (200, "Mdf")),
    route!("post" "/mdf/{id}/approve", "Approve an MDF request (vendor only), possibly for less than requested, within the quarter's allocation", Some("manager"), Some(("application/json", "MdfApproveInput")), (200, "Mdf")),
    route!("post" "/mdf/{id}/reject", "Reject an MDF request with a reason (vendor only)", Some("manager"), Some(("application/json", "RejectInput")), (200, "Mdf")),
    route!("post" "/mdf/{id}/ask-changes", "Ask the partner to change an MDF request, with a reason (vendor only)", Some("manager"), Some(("application/json", "RejectInput")), (200, "Mdf")),
    route!("post" "/mdf/{id}/revise", "Revise an MDF request the vendor asked changes to (the partner)", Some("manager"), Some(("application/json", "MdfProposal")), (200, "Mdf")),
    route!("post" "/mdf/{id}/claim", "Claim an approved MDF request with proof of execution (the partner; base64 attachment, its SHA-256 signed)", Some("manager"), Some(("application/json", "MdfClaimInput")), (200, "Mdf")),
    route!("post" "/mdf/{id}/reimburse", "Record the reimbursement of a claimed MDF request (vendor only; never more than approved)", Some("manager"), Some(("application/json", "MdfReimburseInput")), (200, "Mdf")),
    route!("get" "/plans", "Mutual account plans this node plans with partners, oldest first", Some("viewer"), None, (200, "PlanPage")),
    route!("post" "/plans", "Open a mutual account plan for an account domain with partners (one plan per account per set of companies)", Some("manager"), Some(("application/json", "PlanInput")), (201, "Plan")),
    route!("get" "/plans/{id}", "One account plan: every company's goals, stakeholders and tasks, and the timeline", Some("viewer"), None, (200, "Plan")),
    route!("post" "/plans/{id}/goals", "Add one of this company's goals (a target with an optional amount and date)", Some("manager"), Some(("application/json", "PlanGoalInput")), (200, "Plan")),
    route!("post" "/plans/{id}/stakeholders", "Add a stakeholder (a person: only when this node's policy toward every other company shares owner)", Some("manager"), Some(("application/json", "PlanStakeholderInput")), (200, "Plan")),
    route!("post" "/plans/{id}/stakeholders/remove", "Remove one of this company's stakeholders", Some("manager"), Some(("application/json", "PlanStakeholderRef")), (200, "Plan")),
    route!("post" "/plans/{id}/tasks", "Add one of this company's tasks (owner: the person doing it)", Some("manager"), Some(("application/json", "PlanTaskInput")), (201, "PlanTaskCreated")),
    route!("post" "/plans/{id}/tasks/done", "Mark one of this company's tasks done (another company's is refused)", Some("manager"), Some(("application/json", "PlanTaskRef")), (200, "Plan")),
    route!("post" "/plans/{id}/notes", "Add a note to the plan's timeline", Some("manager"), Some(("application/json", "PlanNoteInput")), (200, "Plan")),
    route!("get" "/leads", "Leads: the ones this node routes (outbound) and the ones offered to it (inbound) (status)", Some("viewer"), None, (200, "LeadPage"), super::leads::LeadQuery),
    route!("post" "/leads", "Add inbound leads ({leads: [...]}), all or nothing", Some("manager"), Some(("application/json", "LeadsInput")), (201, "LeadsImported")),
    route!("post" "/leads/import", "Add inbound leads from a CSV file (company, country, region, tags separated by ';', contact_name, contact_email, note), all or nothing; errors name the line", Some("manager"), Some(("text/csv", "LeadsCsv")), (200, "LeadsImported")),
    route!("get" "/leads/rules", "The lead routing rules file and what it says", Some("viewer"), None, (200, "LeadRules")),
    route!("put" "/leads/rules", "Set the lead routing rules (TOML); errors name line and key", Some("admin"), Some(("application/toml", "LeadRulesText")), (200, "LeadRulesSummary")),
    route!("post" "/leads/rules/check", "Check a lead routing rules file (TOML) without storing it; errors name line and key", Some("viewer"), Some(("application/toml", "LeadRulesText")), (200, "LeadRulesSummary")),
    route!("post" "/leads/route", "Route leads by the rules: withdraw offers past their SLA and offer every lead without one to the next partner (dry_run=true: only say where they would go)", Some("viewer"), None, (200, "LeadRouteReport"), super::leads::RouteQuery),
    route!("get" "/leads/{id}", "One lead (a routed lead's id, or an offer's id)", Some("viewer"), None, (200, "Lead")),
    route!("post" "/leads/{id}/accept", "Accept a lead offered to this node, within its SLA", Some("manager"), None, (200, "Lead")),
    route!("post" "/leads/{id}/reject", "Reject a lead offered to this node, optionally with a reason", Some("manager"), Some(("application/json", "LeadRejectInput")), (200, "Lead")),
    route!("post" "/leads/{id}/convert", "Turn a lead this node accepted into an opportunity (account matched by the contact's domain or the company's name, else created); share=true also shares it with the vendor as a deal whose attribution names the vendor as source and this node as influencer. 409: not accepted, withdrawn (re-routed), or already converted (naming the opportunity)", Some("manager"), None, (201, "LeadConversion"), super::leads::ConvertQuery),
    route!("get" "/mdf/{id}/proof", "The proof attachment of an MDF claim (bytes; X-Content-SHA256 is the signed hash)", Some("viewer"), None, (200, "Binary")),
    route!("get" "/audit", "The audit log (kind, limit, cursor); every entry names its actor", Some("viewer"), None, (200, "AuditPage"), super::audit::AuditQuery),
    route!("get" "/audit/export", "The audit entries of a period (from, to) as a hash-chained text file whose head the node key signs (format in SECURITY.md)", Some("viewer"), None, (200, "AuditExport"), super::audit::ExportQuery),
    route!("get" "/webhooks", "Webhooks (secrets not shown)", Some("admin"), None, (200, "WebhookPage")),
    route!("post" "/webhooks", "Register a webhook: url, events (kinds or patterns like deal.*), optional secret", Some("admin"), Some(("application/json", "WebhookInput")), (201, "Webhook")),
    route!("delete" "/webhooks/{id}", "Remove a webhook and its delivery log", Some("admin"), None, (204, "Empty")),
    route!("get" "/webhooks/{id}/deliveries", "The newest 100 deliveries of a webhook: attempts, status, last error", Some("admin"), None, (200, "DeliveryPage")),
    route!("get" "/events", "Node events as server-sent events (text/event-stream)", Some("viewer"), None, (200, "EventStream")),
    route!("post" "/session", "Sign in (username, password): sets an HttpOnly session cookie, answers the CSRF token", None, Some(("application/json", "Credentials")), (200, "Session")),
    route!("get" "/session", "Who the caller is: username (for a session), role", Some("viewer"), None, (200, "Session")),
    route!("delete" "/session", "Sign out: ends the session, clears the cookie", None, None, (204, "Empty")),
    route!("get" "/users", "Users and their roles", Some("admin"), None, (200, "UserPage")),
    route!("post" "/users", "Create a user (username, password of 10+ characters, role)", Some("admin"), Some(("application/json", "UserInput")), (201, "User")),
    route!("delete" "/users/{name}", "Remove a user and end their sessions", Some("admin"), None, (204, "Empty")),
    route!("get" "/tokens", "API tokens: id (the token's SHA-256), name, role, created; never the token itself", Some("admin"), None, (200, "TokenPage")),
    route!("post" "/tokens", "Create an API token with a role (shown once)", Some("admin"), Some(("application/json", "TokenInput")), (201, "Token")),
    route!("delete" "/tokens/{id}", "Revoke an API token: it stops working at once", Some("admin"), None, (204, "Empty")),
    route!("get" "/crm", "The CRM connection (Salesforce or HubSpot): last sync, counts, next run, last error, refused records, a running sync's progress; never the credential", Some("viewer"), None, (200, "CrmStatus")),
    route!("put" "/crm/connection", "Connect a CRM (signs in first: a refused sign-in or unreachable server is 422 naming auth or base_url) and start the initial load", Some("admin"), Some(("application/json", "CrmConnectInput")), (200, "CrmStatus")),
    route!("delete" "/crm/connection", "Disconnect the CRM: forget its credential and sync state (records stay)", Some("admin"), None, (204, "Empty")),
    route!("post" "/crm/sync", "Sync with the CRM now (202; progress in GET /crm)", Some("manager"), None, (202, "CrmStatus")),
    route!("get" "/openapi.json", "This document", None, None, (200, "OpenApi")),
    route!("post" "/onboarding", "The first user of a node (a hosted workspace) with its onboarding link's code: created as admin; the code then stops working (404 when no such code waits)", None, Some(("application/json", "OnboardingInput")), (201, "User")),
    route!("get" "/workspaces", "Hosted workspaces (hosting = true; host admin): name, node id, status; never their records", Some("admin"), None, (200, "WorkspacePage")),
    route!("post" "/workspaces", "Create a workspace: its own key, store and listener; answers its onboarding link", Some("admin"), Some(("application/json", "WorkspaceInput")), (201, "WorkspaceCreated")),
    route!("post" "/workspaces/import", "Bring a stopped node's data directory (a path on the host) in as a workspace; the directory is removed once it runs", Some("admin"), Some(("application/json", "WorkspaceImportInput")), (201, "Workspace")),
    route!("get" "/workspaces/{name}", "One hosted workspace", Some("admin"), None, (200, "Workspace")),
    route!("delete" "/workspaces/{name}", "Stop a workspace and delete its data", Some("admin"), None, (204, "Empty")),
    route!("post" "/workspaces/{name}/suspend", "Stop a workspace: its users and partners reach nothing until resumed", Some("admin"), None, (200, "Workspace")),
    route!("post" "/workspaces/{name}/resume", "Start a suspended workspace again", Some("admin"), None, (200, "Workspace")),
    route!("post" "/workspaces/{name}/onboarding", "A new onboarding link (the previous one stops working)", Some("admin"), None, (200, "OnboardingLink")),
    route!("post" "/workspaces/{name}/export", "Write the workspace as a node data directory (a new path on the host; same identity, a new admin.token) and forget it", Some("admin"), Some(("application/json", "WorkspaceExportInput")), (200, "Workspace")),
    route!("get" "/sign-in", "How to sign in to the web UI: local passwords on or off, and the single sign-on provider (its button's name, the URL that starts it)", None, None, (200, "SignInMethods")),
    route!("get" "/scim/tokens", "SCIM provisioning tokens: id (the token's SHA-256), name, created; never the token itself", Some("admin"), None, (200, "ScimTokenPage")),
    route!("post" "/scim/tokens", "Create a SCIM bearer token for an identity provider (shown once; works on /scim/v2 only)", Some("admin"), Some(("application/json", "ScimTokenInput")), (201, "ScimToken")),
    route!("delete" "/scim/tokens/{id}", "Revoke a SCIM token: provisioning with it stops at once", Some("admin"), None, (204, "Empty")),
    route!("get" "/backup", "A backup of the whole node (store snapshot, identity key, settings, admin token) as a checksummed file, streamed; `cosell backup` saves it", Some("admin"), None, (200, "Backup")),
];

fn string() -> Value {
    json!({"type": "string"})
}
fn nullable_string() -> Value {
    json!({"type": ["string", "null"]})
}

/// Characters a stored text may not hold: controls other than tab, line feed and carriage
/// return (`clean_text` in protocol/src/records.rs).
const NO_CONTROLS: &str = r"\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f";

/// What Rust's `trim` removes (the Unicode White_Space property): a text of only these is
/// blank.
const WHITE_SPACE: &str =
    r"\u0009-\u000d\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";

/// A string with something besides white space.
fn not_blank() -> Value {
    json!({"type": "string", "pattern": format!("[^{WHITE_SPACE}]")})
}

/// An optional text of at most `max` characters: null, blank (read as null) or text without
/// control characters.
fn text(max: usize) -> Value {
    json!({"type": ["string", "null"], "maxLength": max, "pattern": format!("^[^{NO_CONTROLS}]*$")})
}

/// A required text of at most `max` characters: something besides spaces, no control
/// characters.
/// A lead's text: at most `max` characters with one that is not white space (what the `lead`
/// declaration takes).
fn lead_text(max: usize, nullable: bool) -> Value {
    let ty = if nullable {
        json!(["string", "null"])
    } else {
        json!("string")
    };
    json!({"type": ty, "maxLength": max, "pattern": format!("[^{WHITE_SPACE}]")})
}

fn required_text(max: usize) -> Value {
    json!({"type": "string", "maxLength": max,
           "pattern": format!(r"^[^{NO_CONTROLS}]*[^{WHITE_SPACE}{NO_CONTROLS}][^{NO_CONTROLS}]*$")})
}

/// A blank string (only white space): read as no value, as null.
fn blank() -> Value {
    json!({"type": "string", "pattern": format!("^[{WHITE_SPACE}]*$")})
}

/// A non-empty string (the server refuses "").
fn non_empty() -> Value {
    json!({"type": "string", "minLength": 1})
}

/// The subscription patterns a webhook may give: an event kind, or a prefix of one (or of
/// none: `*`) followed by `*`. Listed out, so the document is exactly what the node takes.
fn event_patterns() -> Vec<String> {
    let mut out: Vec<String> = vec!["*".to_string()];
    for kind in crate::domain::events::EventKind::ALL {
        let name = kind.as_str();
        out.push(name.to_string());
        for end in 1..=name.len() {
            let prefix = format!("{}*", &name[..end]);
            if !out.contains(&prefix) {
                out.push(prefix);
            }
        }
    }
    out
}

/// An account's editable fields as a request gives them (`apply_account_fields` in records.rs).
/// `name` is required on create; on a patch it may be absent but not cleared.
fn account_fields(create: bool) -> Value {
    use protocol::records::NAME_CHARS_MAX as NAME;
    let status = json!({"type": "string", "enum": ["customer", "prospect", "partner", "other"], "description": "also in any case (Customer)"});
    // On create an id is ignored (the node assigns one); a patch may repeat the record's own id
    // as a GET gave it (another is 422), which a schema cannot say: not listed there.
    let mut fields = json!({
        "external_id": text(NAME), "name": required_text(NAME),
        "domain": {"type": ["string", "null"], "maxLength": 253,
            "pattern": r"^(\s*|([a-vx-z0-9][a-z0-9]{0,20}\.){1,3}[a-z]{2,10})$",
            "description": "the company's web domain; blank clears. The pattern shows the plain form; a URL or address (https://www.Acme.com/about, jane@acme.com) is normalized to it, and a personal mailbox or a profile page is refused (422)"},
        "industry": text(NAME), "country": text(NAME), "status": status, "owner": text(NAME),
        "tags": {"type": ["array", "string", "null"], "pattern": format!("^[^{NO_CONTROLS}]*$"), "items": {"type": "string", "maxLength": NAME, "pattern": format!("^[^{NO_CONTROLS}]*$")}, "description": "at most 64 different tags; also a string split on ; , or |"},
    });
    if create {
        fields["id"] = json!({"description": "ignored: the node assigns the id"});
    }
    fields
}

/// Every currency code the node takes (ISO 4217), upper case (any case is read).
fn currency_codes() -> Vec<String> {
    let letters = b'A'..=b'Z';
    let mut out = Vec::new();
    for a in letters.clone() {
        for b in letters.clone() {
            for c in letters.clone() {
                let code = String::from_utf8(vec![a, b, c]).unwrap_or_default();
                if protocol::records::Currency::from_code(&code).is_some() {
                    out.push(code);
                }
            }
        }
    }
    out
}

/// An opportunity's editable fields as a request gives them (`apply_opportunity_fields`).
fn opportunity_fields(create: bool) -> Value {
    use protocol::records::{NAME_CHARS_MAX as NAME, TEXT_CHARS_MAX as TEXT};
    let mut fields = account_fields(create);
    let fields = fields.as_object_mut().expect("an object");
    for key in ["domain", "industry", "country", "status"] {
        fields.remove(key);
    }
    let stage = json!({"type": "string", "enum": protocol::records::Stage::ALL.map(protocol::records::Stage::as_str), "description": "also in any case, with spaces or hyphens (Technical Validation)"});
    for (key, value) in [
        (
            "account_id",
            json!({"type": ["string", "null"], "description": "the id of one of this node's accounts (another is 422)"}),
        ),
        (
            "account_domain",
            json!({"type": ["string", "null"], "description": "the domain of exactly one of this node's accounts, when account_id is not given (else 422)"}),
        ),
        ("stage", stage),
        (
            "amount",
            json!({"type": ["string", "number", "null"], "description": "exact decimal, at most 4 decimals, not negative: 1200.5 (also as written in CRMs: $1,200.50, USD 900)"}),
        ),
        (
            "currency",
            json!({"anyOf": [{"type": ["string", "null"], "enum": currency_codes().into_iter().map(Value::from).chain([Value::Null]).collect::<Vec<_>>()}, blank()], "description": "an ISO 4217 code (any case is read); blank clears; the node's default when an amount has none"}),
        ),
        (
            "close_date",
            json!({"anyOf": [{"type": ["string", "null"], "format": "date"}, {"type": "string", "format": "date-time"}, blank()], "description": "YYYY-MM-DD (a timestamp's date part is read too); blank clears"}),
        ),
        ("next_step", text(TEXT)),
        ("description", text(TEXT)),
        ("name", required_text(NAME)),
    ] {
        fields.insert(key.to_string(), value);
    }
    Value::Object(fields.clone())
}

/// A policy as JSON: the structure of the TOML file (docs/policy.md). Beyond this shape the
/// node checks what JSON Schema cannot say (a transform needs its field shared, a tag may not
/// be both included and excluded, amount_min <= amount_max): a policy that breaks one is 422.
fn policy_json() -> Value {
    let list = |items: Value| json!({"type": "array", "items": items});
    let words = |words: Vec<&'static str>| json!({"type": "string", "enum": words});
    let levels = || {
        words(
            policy::SharingLevel::ALL
                .map(policy::SharingLevel::as_str)
                .to_vec(),
        )
    };
    let opportunity_fields = words(
        policy::OpportunityField::ALL
            .map(policy::OpportunityField::as_str)
            .to_vec(),
    );
    let account_fields = words(
        policy::AccountField::ALL
            .map(policy::AccountField::as_str)
            .to_vec(),
    );
    let stages = words(
        protocol::records::Stage::ALL
            .map(protocol::records::Stage::as_str)
            .to_vec(),
    );
    let statuses = words(vec!["customer", "prospect", "partner", "other"]);
    let amount = json!({"type": ["string", "integer", "number"], "description": "not negative"});
    let populations: Map<String, Value> = policy::Population::ALL
        .into_iter()
        .map(|p| (p.as_str().to_string(), levels()))
        .collect();
    json!({"type": "object", "additionalProperties": false, "properties": {
        "version": {"const": 1},
        "opportunities": {"type": "object", "additionalProperties": false, "required": ["fields"], "properties": {
            "fields": list(opportunity_fields), "stages": list(stages), "amount_min": amount.clone(), "amount_max": amount,
            "account_statuses": list(statuses.clone()), "countries": list(string()), "owners": list(string()),
            "tags_include": list(string()), "tags_exclude": list(string()),
            "amount": {"type": "object", "additionalProperties": false, "properties": {"round_to": {"type": "integer", "minimum": 1}, "buckets": list(json!({"type": "integer", "minimum": 0}))}},
            "close_date": {"type": "string", "enum": policy::DateTransform::ALL.map(policy::DateTransform::as_str)}}},
        "accounts": {"type": "object", "additionalProperties": false, "required": ["sharing"], "properties": {
            "sharing": levels(), "statuses": list(statuses), "fields": list(account_fields),
            "populations": {"type": "object", "additionalProperties": false, "properties": populations}}},
    }})
}

/// The schema of a path parameter: a string, except where the route takes fewer.
fn path_param(method: &str, path: &str, name: &str) -> Value {
    match (method, path, name) {
        ("put", "/populations/{name}", "name") => {
            let builtins = policy::Population::ALL.map(policy::Population::as_str);
            json!({"type": "string", "pattern": "^[a-z0-9_-]{1,40}$", "not": {"enum": builtins},
                   "description": "a-z, 0-9, _ and -; not a built-in population's name"})
        }
        (_, p, "hub") if p.starts_with("/hub/{hub}") => {
            json!({"type": "string", "enum": crate::domain::hub::Hub::ALL.map(crate::domain::hub::Hub::as_str)})
        }
        (_, "/me/mapping-views/{name}", "name") => {
            let max = crate::domain::mapping_views::NAME_CHARS_MAX;
            let edge = format!("[^{WHITE_SPACE}{CONTROLS}/.]");
            let end = format!("[^{WHITE_SPACE}{CONTROLS}/]");
            let inner = format!("[^{CONTROLS}/]");
            json!({"type": "string", "maxLength": max,
                   "pattern": format!("^{edge}({inner}*{end})?$"),
                   "description": "1 to 80 characters: no control characters or '/', not starting with '.', no spaces around"})
        }
        _ => string(),
    }
}

/// Every control character (Rust's `char::is_control`).
const CONTROLS: &str = r"\u0000-\u001f\u007f-\u009f";

/// The error statuses a route may answer besides its success (each with the Error body).
fn error_statuses(r: &RouteDoc) -> Vec<(u16, &'static str)> {
    let mut out = Vec::new();
    if r.method == "get" && !r.query.is_empty() {
        out.push((400, "a query parameter is not what it takes"));
    }
    if r.request.is_some() {
        out.push((400, "the body is not valid JSON (or not a JSON object)"));
    }
    if r.role.is_some() {
        out.push((401, "no valid credentials"));
        out.push((
            403,
            "the caller's role may not do this, or a session write lacks its CSRF token",
        ));
    }
    if r.path.contains('{') {
        out.push((404, "no such record"));
    }
    if r.path.starts_with("/program")
        && !matches!(r.path, "/program/check" | "/program/standing")
        && r.method == "get"
    {
        out.push((404, "no partner program is set, or no such partner"));
    }
    if matches!(
        (r.method, r.path),
        ("post", "/leads/route") | ("get", "/leads/rules")
    ) {
        out.push((404, "no lead routing rules are set"));
    }
    if matches!(r.method, "post" | "put" | "patch" | "delete") && r.role.is_some() {
        out.push((409, "the change conflicts with the node's state"));
    }
    if r.request.is_some() {
        out.push((413, "the body is too large"));
        out.push((415, "the body's content type is not the one documented"));
        out.push((
            422,
            "the body is well-formed but a value is refused; details name each field",
        ));
    } else if matches!(r.method, "post" | "put" | "patch" | "delete") {
        out.push((422, "the request cannot be carried out as asked"));
    }
    if r.path.starts_with("/crm/") {
        out.push((404, "no CRM is connected"));
    }
    if r.path == "/session" && r.method == "post" {
        out.push((
            403,
            "password sign-in is turned off (local_passwords = false)",
        ));
        out.push((429, "too many failed sign-ins: wait"));
    }
    if r.path == "/onboarding" {
        out.push((404, "no such onboarding code waits on this node"));
        out.push((409, "a user of that name exists"));
    }
    if r.path.starts_with("/workspaces") {
        out.push((404, "this node hosts no workspaces, or none of that name"));
        if r.method == "post" {
            out.push((503, "no listen address is free for the workspace"));
        }
    }
    out.sort_by_key(|(status, _)| *status);
    out.dedup_by_key(|(status, _)| *status);
    out
}

/// A text an attestation carries: 1 to 200 characters, no control characters, no white space
/// at either end (`protocol::attest::Attestation::validate`).
fn attest_text() -> Value {
    let edge = format!("[^{WHITE_SPACE}\\u0000-\\u001f\\u007f-\\u009f]");
    let inner = "[^\\u0000-\\u001f\\u007f-\\u009f]";
    json!({"type": "string", "maxLength": protocol::attest::ATTEST_TEXT_CHARS_MAX,
           "pattern": format!("^{edge}({inner}*{edge})?$")})
}

/// A program as the API shows it (`domain::program::program_json`).
fn program_shape() -> Value {
    json!({"type": "object", "required": ["currency", "window_days", "tiers"], "properties": {
        "currency": string(), "window_days": {"type": "integer"},
        "tiers": {"type": "array", "items": {"type": "object", "required": ["name", "requires", "benefits"], "properties": {
            "name": string(), "requires": {"type": "object"}, "benefits": {"type": "object"}}}},
        "health": {"type": "object"}, "rates": {"type": "object", "additionalProperties": string()}}})
}

/// A partner's standing (`domain::program::standing_json`).
fn standing_shape() -> Value {
    json!({"type": "object", "required": ["partner", "tier", "health", "figures"], "properties": {
        "partner": {"type": "object", "properties": {"id": string(), "name": string(), "type": nullable_string()}},
        "tier": nullable_string(),
        "benefits": {"type": ["object", "null"]},
        "next": {"type": ["object", "null"], "properties": {"tier": string(), "lacks": {"type": "array", "items": {"type": "object", "properties": {
            "metric": string(), "have": {"type": ["string", "integer"]}, "need": {"type": ["string", "integer"]}, "text": string()}}}}},
        "health": {"type": "object", "properties": {"score": {"type": ["integer", "null"]}, "explanation": string(), "factors": {"type": "array", "items": {"type": "object"}}}},
        "figures": {"type": "object"}, "numbers": {"$ref": "#/components/schemas/PartnerNumbers"}, "window": {"type": "object"}}})
}

fn workspace_name() -> Value {
    json!({"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,62}$", "description": "a-z, 0-9 and -; the /w/NAME/ path segment"})
}

fn schemas() -> Value {
    let workspace = json!({"type": "object", "required": ["name", "node_id", "status", "http", "p2p"], "properties": {
        "name": string(), "node_id": string(), "status": {"type": "string", "enum": ["active", "suspended", "exported"]},
        "http": {"type": "string", "description": "base URL of its API (HTTP/api/v1) and web UI (HTTP/)"},
        "p2p": {"type": "array", "items": string(), "description": "where its partners dial it; empty while suspended"}}});
    let stage = json!({"type": "string", "enum": ["prospect", "qualified", "technical_validation", "business_validation", "committed", "launched", "closed_lost"]});
    let status = json!({"type": "string", "enum": ["customer", "prospect", "partner", "other"]});
    let tags = json!({"type": "array", "items": {"type": "string"}});
    let partner_type = json!({"type": ["string", "null"], "enum": crate::domain::partners::PARTNER_TYPES.iter().copied().map(Some).chain([None]).collect::<Vec<_>>(), "description": "also in any case"});
    let message = {
        let mut t = text(crate::domain::deals::MESSAGE_CHARS_MAX);
        t["description"] = json!("a message to the invitees, signed in their invitations; blank is none; no control characters but tab and line breaks (else 422)");
        t
    };
    let decline_reason = {
        let mut t = text(crate::domain::deals::DECLINE_REASON_CHARS_MAX);
        t["description"] = json!("why, for the origin (a decline only: with an acceptance 422); blank is none; no control characters but tab and line breaks (else 422)");
        t
    };
    let deal_roles: Vec<Option<&str>> = protocol::deal::Role::ALL
        .map(|r| Some(r.as_str()))
        .into_iter()
        .chain([None])
        .collect();
    let account = json!({"type": "object", "required": ["id", "name", "status", "tags"], "properties": {
        "id": string(), "external_id": nullable_string(), "name": string(),
        "domain": {"type": ["string", "null"], "description": "normalized: lowercase, no scheme, no www., no path"},
        "industry": nullable_string(), "country": nullable_string(), "status": status, "owner": nullable_string(), "tags": tags}});
    let opportunity = json!({"type": "object", "required": ["id", "account_id", "name", "stage", "tags"], "properties": {
        "id": string(), "external_id": nullable_string(), "account_id": string(), "name": string(), "stage": stage,
        "amount": {"type": ["string", "null"], "description": "exact decimal as a string, e.g. \"1200.5\""},
        "currency": {"type": ["string", "null"], "description": "ISO 4217"},
        "close_date": {"type": ["string", "null"], "format": "date"},
        "owner": nullable_string(), "next_step": nullable_string(), "description": nullable_string(), "tags": tags,
        "source": {"$ref": "#/components/schemas/HubSource"}}});
    let nullable_stage = json!({"type": ["string", "null"], "enum": ["prospect", "qualified", "technical_validation", "business_validation", "committed", "launched", "closed_lost", null]});
    let section = json!({"type": "object", "properties": {
        "notes": {"type": "array", "items": string()}, "next_step": nullable_string(),
        "contacts": {"type": "array", "items": string()}, "contribution": nullable_string(),
        "stage": nullable_stage, "linked_opportunity": nullable_string()}});
    let page = |item: &str| {
        json!({"type": "object", "required": ["items", "next_cursor"], "properties": {
        "items": {"type": "array", "items": {"$ref": format!("#/components/schemas/{item}")}},
        "next_cursor": nullable_string()}})
    };
    json!({
        "Error": {"type": "object", "required": ["error", "details"], "properties": {"error": string(), "details": {"type": "array", "items": {}}}},
        "Node": {"type": "object", "properties": {"id": string(), "name": string(), "version": string(), "http": string(), "p2p": {"type": "array", "items": string()}}},
        "Account": account,
        "AccountPatch": {"type": "object", "additionalProperties": false, "properties": account_fields(false), "description": "The account fields to change; absent keeps, null (or blank) clears an optional one; id may repeat the account's own"},
        "AccountInput": {"type": "object", "additionalProperties": false, "required": ["name"], "properties": account_fields(true), "description": "Account fields; id is assigned (an id given is ignored)"},
        "AccountPage": page("Account"),
        "Opportunity": opportunity,
        "OpportunityInput": {"type": "object", "additionalProperties": false, "required": ["name", "stage"], "properties": opportunity_fields(true), "description": "Opportunity fields; the account by account_id or account_domain (one is required, and must name an account: else 422)"},
        "OpportunityPatch": {"type": "object", "additionalProperties": false, "properties": opportunity_fields(false), "description": "The opportunity fields to change; absent keeps, null (or blank) clears an optional one; id may repeat the opportunity's own"},
        "OpportunityPage": page("Opportunity"),
        "AuditExport": {"type": "string", "description": "Line 1 a JSON header (format, node, public_key, from, to); then one `<hex chain> <entry JSON>` line per entry; last a JSON footer (head, entries, signature). See SECURITY.md, Audit export"},
        "Deleted": {"type": "object", "properties": {"deleted": string(), "id": string(), "name": string(), "withdrawn_deals": {"type": "array", "items": string()}}},
        "BulkShareInput": {"type": "object", "additionalProperties": false, "required": ["opportunity_ids", "partners"], "properties": {"opportunity_ids": {"type": "array", "minItems": 1, "maxItems": super::deals::BULK_MAX, "items": string()}, "partners": {"type": "array", "items": string(), "description": "partners by node id or name; one that cannot be shared with fails each opportunity's result"}, "role": {"type": ["string", "null"], "enum": deal_roles.clone(), "description": "this node's role in the deals (default vendor)"}, "message": message.clone()}},
        "BulkRespondInput": {"type": "object", "additionalProperties": false, "properties": {"deals": {"type": "array", "maxItems": super::deals::BULK_MAX, "items": string()}, "all": {"type": "boolean"}},
            "description": "either deals (1 or more ids) or all: true, one of the two",
            "anyOf": [
                {"required": ["deals"], "properties": {"deals": {"minItems": 1}, "all": {"const": false}}},
                {"required": ["all"], "properties": {"all": {"const": true}, "deals": {"maxItems": 0}}},
            ]},
        "BulkDeclineInput": {"type": "object", "additionalProperties": false, "properties": {"deals": {"type": "array", "maxItems": super::deals::BULK_MAX, "items": string()}, "all": {"type": "boolean"}, "reason": decline_reason},
            "description": "either deals (1 or more ids) or all: true, one of the two; reason, if any, for all of them",
            "anyOf": [
                {"required": ["deals"], "properties": {"deals": {"minItems": 1}, "all": {"const": false}}},
                {"required": ["all"], "properties": {"all": {"const": true}, "deals": {"maxItems": 0}}},
            ]},
        "WithdrawInput": {"type": "object", "additionalProperties": false, "required": ["reason"], "properties": {"reason": {"type": "string", "maxLength": crate::domain::deals::WHY_CHARS_MAX, "pattern": format!("[^{WHITE_SPACE}]"), "description": "why, for the partners: not only spaces"}}},
        "Withdrawn": {"type": "object", "properties": {"id": string(), "status": {"const": "withdrawn"}, "withdrawn": {"type": "object", "properties": {"by": string(), "by_node": string(), "at": string(), "why": string()}}, "note": string()}},
        "ReinviteInput": {"type": "object", "additionalProperties": false, "required": ["partner"], "properties": {"partner": {"type": "string", "pattern": format!("[^{WHITE_SPACE}]"), "description": "the partner by node id or name"}}},
        "BulkResult": {"type": "object", "properties": {"results": {"type": "array", "items": {"type": "object"}}, "failed": {"type": "integer"}}},
        "ProgramText": {"type": "string", "pattern": format!("[^{WHITE_SPACE}]"), "description": "A partner program file in TOML (policy/README.md, \"Partner program\"): version = 1, currency, [[tiers]] with requires and benefits, [health], [rates]; an invalid one is 422 with each error's line and key. Or the same structure as JSON (ProgramJson)"},
        "ProgramJson": {"type": "object", "required": ["version", "currency", "tiers"], "properties": {"version": {"type": "integer", "const": 1}, "currency": string(), "window_days": {"type": "integer", "minimum": 1, "maximum": 3650}, "tiers": {"type": "array", "minItems": 1, "maxItems": 16, "items": {"type": "object"}}, "health": {"type": "object"}, "rates": {"type": "object"}}},
        "Program": {"type": "object", "required": ["version", "text", "program"], "properties": {"version": {"type": "integer"}, "set_at": string(), "set_by": nullable_string(), "format": {"type": "string", "enum": ["toml", "json"]}, "text": string(), "program": program_shape()}},
        "ProgramCheck": {"type": "object", "required": ["valid", "program"], "properties": {"valid": {"type": "boolean"}, "program": program_shape()}},
        "Standing": standing_shape(),
        "StandingPage": page("Standing"),
        "ReceivedStanding": {"type": "object", "additionalProperties": false, "required": ["vendor", "tier", "benefits", "next", "program_version", "updated_at"], "properties": {
            "vendor": {"type": "object", "additionalProperties": false, "required": ["id", "name"], "properties": {"id": string(), "name": string()}},
            "tier": nullable_string(), "benefits": {"type": ["object", "null"]},
            "next": {"type": ["object", "null"], "additionalProperties": false, "required": ["tier", "lacks"], "properties": {"tier": string(), "lacks": {"type": "array", "items": {"type": "object", "properties": {
                "metric": string(), "have": {"type": ["string", "integer"]}, "need": {"type": ["string", "integer"]}, "text": string()}}}}},
            "program_version": {"type": ["integer", "null"]}, "updated_at": string()}},
        "ReceivedStandingPage": page("ReceivedStanding"),
        "AnnouncementInput": {"type": "object", "additionalProperties": false, "required": ["to", "title", "body"], "properties": {
            "to": {"type": "string", "maxLength": crate::domain::program::announcements::AUDIENCE_CHARS_MAX,
                   "pattern": format!("^(all|type:({})|(tier|region):[^{CONTROLS}]*[^{WHITE_SPACE}{CONTROLS}][^{CONTROLS}]*)$", crate::domain::partners::PARTNER_TYPES.join("|")),
                   "description": "all, tier:T (the tier the program computes now), type:T (a partner type), region:R (a partner's region)"},
            "title": required_text(protocol::kinds::announcement::TITLE_CHARS_MAX),
            "body": required_text(protocol::kinds::announcement::BODY_CHARS_MAX)}},
        "Announcement": {"type": "object", "additionalProperties": false, "required": ["id", "direction", "title", "body", "sent_at", "from", "audience", "recipients", "read_count", "reads", "read", "read_at"], "properties": {
            "id": string(), "direction": {"type": "string", "enum": ["sent", "received"]},
            "title": string(), "body": string(), "sent_at": string(),
            "from": {"type": ["object", "null"], "additionalProperties": false, "required": ["id", "name"], "properties": {"id": string(), "name": string()}, "description": "the vendor (received only)"},
            "audience": nullable_string(), "recipients": {"type": ["integer", "null"]}, "read_count": {"type": ["integer", "null"]},
            "reads": {"type": "array", "description": "each recipient's read receipt (sent only)", "items": {"type": "object", "additionalProperties": false, "required": ["partner", "partner_name", "read", "read_at"], "properties": {
                "partner": string(), "partner_name": nullable_string(), "read": {"type": "boolean"}, "read_at": nullable_string()}}},
            "read": {"type": ["boolean", "null"]}, "read_at": nullable_string()}},
        "AnnouncementPage": {"type": "object", "additionalProperties": false, "required": ["items", "unread", "next_cursor"], "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/Announcement"}}, "unread": {"type": "integer"}, "next_cursor": {"type": "null"}}},
        "RegionInput": {"type": "object", "additionalProperties": false, "properties": {"region": text(crate::domain::program::announcements::REGION_CHARS_MAX)}},
        "PartnerRegion": {"type": "object", "additionalProperties": false, "required": ["partner", "region"], "properties": {"partner": string(), "region": nullable_string()}},
        "Analytics": {"type": "object", "required": ["period", "currency", "items", "totals"], "properties": {"period": {"type": "object"}, "currency": string(), "items": {"type": "array", "items": {"type": "object", "properties": {"partner": {"type": "object"}, "numbers": {"$ref": "#/components/schemas/PartnerNumbers"}}}}, "totals": {"$ref": "#/components/schemas/PartnerNumbers"}}},
        "PartnerNumbers": {"type": "object", "properties": {"currency": string(), "deals_shared": {"type": "integer"}, "sourced_pipeline": string(), "influenced_pipeline": string(), "sourced_revenue": string(), "influenced_revenue": string(), "won_revenue": string(), "deals_won": {"type": "integer"}, "deals_lost": {"type": "integer"}, "win_rate": {"type": ["number", "null"]}, "registrations_submitted": {"type": "integer"}, "registrations_approved": {"type": "integer"}, "invitations": {"type": "integer"}, "invitations_accepted": {"type": "integer"}, "median_response_hours": {"type": ["number", "null"]}, "last_activity": nullable_string(), "open_pipeline_by_stage": {"type": "object", "additionalProperties": string()}, "unconverted_amounts": {"type": "integer"}}},
        "QbrPack": {"type": "object", "required": ["html", "files"], "properties": {"partner": {"type": "object"}, "quarter": string(), "numbers": {"$ref": "#/components/schemas/PartnerNumbers"}, "html": string(), "files": {"type": "object", "additionalProperties": string()}}},
        "AttestationInput": {"type": "object", "additionalProperties": false, "required": ["subject", "certification", "level", "expires"], "properties": {
            "subject": attest_text(), "certification": attest_text(), "level": attest_text(),
            "subject_kind": {"type": ["string", "null"], "enum": ["person", "company", null]},
            "partner": {"type": ["string", "null"], "description": "the partner (node id or name) the subject belongs to; 422 when there is none such"},
            "issued": {"type": ["string", "null"], "format": "date", "description": "YYYY-MM-DD; default today"},
            "expires": {"type": "string", "format": "date", "description": "YYYY-MM-DD, not before issued"}}},
        "Attestation": {"type": "object", "required": ["id", "subject", "certification", "level", "issued", "expires"], "properties": {"id": string(), "subject": string(), "subject_kind": {"type": "string", "enum": ["person", "company"]}, "company": nullable_string(), "company_name": nullable_string(), "certification": string(), "level": string(), "issued": string(), "expires": string(), "revoked": {"type": ["object", "null"]}, "file": {"type": "string", "description": "the signed attestation file (docs/attestations.md)"}}},
        "AttestationPage": page("Attestation"),
        "AttestationImport": {"type": "object", "required": ["issued", "items"], "properties": {"issued": {"type": "integer"}, "items": {"type": "array", "items": {"$ref": "#/components/schemas/Attestation"}}}},
        "RevokeAttestationInput": {"type": "object", "additionalProperties": false, "properties": {"reason": {"type": ["string", "null"], "maxLength": 200}}},
        "VerifyInput": {"type": "object", "additionalProperties": false, "required": ["file"], "properties": {"file": {"type": "string", "description": "an attestation file's text"}, "revocations": {"type": "array", "items": {"type": "string"}, "description": "revocation list files' texts"}}},
        "AttestationVerdict": {"type": "object", "required": ["valid"], "properties": {"valid": {"type": "boolean"}, "code": {"type": "string", "enum": ["malformed", "tampered", "expired", "not_yet_valid", "revoked", "unknown_issuer", "invalid"]}, "reason": string(), "attestation": {"type": "object"}}},
        "SignedFile": {"type": "object", "required": ["format", "payload", "signature"], "properties": {"format": string(), "payload": string(), "signature": string()}},
        "HubFile": {"type": ["object", "array"], "items": {"type": "object"}, "minItems": 1, "description": "One hub record or an array of them: for ace a GetOpportunity answer, a Create/Update request, an engagement invitation (Payload.OpportunityInvitation) or a snapshot (Payload.OpportunitySummary); for ms a Referral (docs/hubs.md). A record the mapping refuses is 422 with details naming item and JSON path ([2].LifeCycle.Stage)"},
        "HubSource": {"type": "object", "required": ["format", "external_id", "version"], "properties": {"format": {"type": "string", "enum": ["ace", "ms"]}, "external_id": string(), "version": nullable_string(), "extra": {"type": "object"}}, "description": "The hub record an opportunity came from (absent for others)"},
        "HubImport": {"type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": {"type": "object", "required": ["account_id", "opportunity_id", "source", "outcome"], "properties": {
            "account_id": nullable_string(), "opportunity_id": nullable_string(), "invitation_id": string(),
            "source": {"$ref": "#/components/schemas/HubSource"}, "outcome": {"type": "string", "enum": ["inserted", "updated", "invited"]}}}}}},
        "HubRecord": {"type": "object", "description": "The hub's JSON: for ace a CreateOpportunity (or, for an opportunity that came from ACE, UpdateOpportunity) request; for ms a Referral"},
        "HubInvitation": {"type": "object", "required": ["id", "hub", "external_id", "from", "status"], "properties": {
            "id": string(), "hub": {"type": "string", "enum": ["ace", "ms"]}, "external_id": string(), "from": string(),
            "title": string(), "account_name": string(), "account_domain": nullable_string(), "stage": stage.clone(),
            "amount": nullable_string(), "currency": nullable_string(), "close_date": nullable_string(),
            "status": {"type": "string", "enum": crate::domain::hub::invitations::STATUSES}, "invited_at": nullable_string(),
            "expires_at": nullable_string(), "received_at": string(), "opportunity_id": nullable_string()}},
        "HubInvitationPage": page("HubInvitation"),
        "CrmCsv": {"type": "string", "description": "CSV: a header row in the CRM's import column names, then one row per opportunity (docs/crm-export.md)"},
        "Csv": {"type": "string", "minLength": 1, "description": "CSV with a header row; Salesforce and HubSpot export headers are accepted"},
        "ImportSummary": {"type": "object", "properties": {"rows": {"type": "integer"}, "inserted": {"type": "integer"}, "updated": {"type": "integer"}, "unchanged": {"type": "integer"}, "ignored_columns": {"type": "array", "items": string()}, "lines_above_header": {"type": "array", "items": string(), "description": "lines with text above the header (a report's title), skipped"}}},
        "OpenApi": {"type": "object"},
        "Empty": {"type": "null"},
        "SignInMethods": {"type": "object", "additionalProperties": false, "required": ["local_passwords", "sso"], "properties": {"local_passwords": {"type": "boolean"}, "sso": {"oneOf": [{"type": "null"}, {"type": "object", "additionalProperties": false, "required": ["name", "login_url"], "properties": {"name": string(), "login_url": {"type": "string", "pattern": "^(/[^?#]*)?/auth/oidc/login$", "description": "/auth/oidc/login, under /w/NAME in a hosted workspace"}}}]}}},
        "ScimToken": {"type": "object", "additionalProperties": false, "required": ["token"], "properties": {"token": {"type": "string", "pattern": "^cosell_scim_[0-9a-f]{64}$"}}},
        "ScimTokenInput": {"type": "object", "additionalProperties": false, "required": ["name"], "properties": {"name": {"type": "string", "maxLength": 200, "pattern": format!("[^{WHITE_SPACE}]"), "description": "1 to 200 characters, not only spaces"}}},
        "ScimTokenPage": {"type": "object", "additionalProperties": false, "required": ["items", "next_cursor"], "properties": {"items": {"type": "array", "items": {"type": "object", "additionalProperties": false, "required": ["id", "name", "created_at_ms"], "properties": {"id": {"type": "string", "pattern": "^[0-9a-f]{64}$"}, "name": string(), "created_at_ms": {"type": "integer"}}}}, "next_cursor": {"type": "null"}}},
        "Backup": {"type": "string", "format": "binary", "description": "application/vnd.cosell.backup: the format in docs/operations.md"},
        "Credentials": {"type": "object", "additionalProperties": false, "required": ["username", "password"], "properties": {"username": string(), "password": string()}},
        "Session": {"type": "object", "properties": {"username": nullable_string(), "role": {"type": "string", "enum": ["viewer", "manager", "admin"]}, "csrf_token": nullable_string()}},
        "User": {"type": "object", "properties": {"username": string(), "role": string(), "created_at_ms": {"type": "integer"}, "active": {"type": "boolean", "description": "false: deactivated over SCIM (or in no group [roles] maps), cannot sign in"}, "source": {"type": "string", "enum": ["local", "oidc", "scim"], "description": "who manages the user: an admin (password), their first single sign-on, or SCIM"}}},
        "UserInput": {"type": "object", "additionalProperties": false, "required": ["username", "password", "role"], "properties": {"username": {"type": "string", "pattern": format!("^[{WHITE_SPACE}]*[A-Za-z0-9._@-]{{1,64}}[{WHITE_SPACE}]*$"), "description": "letters, digits, '.', '-', '_' and '@'; stored lower-case"}, "password": {"type": "string", "minLength": crate::domain::users::PASSWORD_CHARS_MIN, "maxLength": crate::domain::users::PASSWORD_BYTES_MAX, "description": "at least 10 characters, at most 1024 bytes"}, "role": {"type": "string", "enum": ["viewer", "manager", "admin"]}}},
        "UserPage": {"type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/User"}}}},
        "TokenInput": {"type": "object", "additionalProperties": false, "required": ["name", "role"], "properties": {"name": {"type": "string", "maxLength": 200, "pattern": format!("[^{WHITE_SPACE}]"), "description": "1 to 200 characters, not only spaces"}, "role": {"type": "string", "enum": ["viewer", "manager", "admin"]}}},
        "Token": {"type": "object", "properties": {"token": string(), "role": string()}},
        "TokenRecord": {"type": "object", "properties": {"id": string(), "name": string(), "role": string(), "created_at_ms": {"type": "integer"}}},
        "TokenPage": page("TokenRecord"),
        "WebhookInput": {"type": "object", "additionalProperties": false, "required": ["url"], "properties": {"url": {"type": "string", "maxLength": 2048, "pattern": r"^\s*https?://[^/\s]", "description": "http:// or https://; its host must resolve to a public address unless webhook_allow_private = true (else 422)"}, "events": {"type": "array", "items": {"type": "string", "enum": event_patterns()}, "description": "event kinds or prefixes ending in *; none means every event"}, "secret": {"type": ["string", "null"], "minLength": super::webhooks::WEBHOOK_SECRET_CHARS_MIN, "description": "at least 16 characters; made when absent"}}},
        "Webhook": {"type": "object", "properties": {"id": string(), "url": string(), "events": {"type": "array", "items": string()}, "secret": {"type": "string", "description": "shown once"}, "created_at_ms": {"type": "integer"}}},
        "WebhookPage": {"type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Webhook"}}}},
        "DeliveryPage": {"type": "object", "properties": {"items": {"type": "array", "items": {"type": "object"}}}},
        "EventStream": {"type": "string", "description": "text/event-stream; each event: kind, seq, at_ms, data"},
        "PolicyFile": {"type": "string", "pattern": format!("[^{WHITE_SPACE}]"), "description": "A whole policy file in TOML, as PolicyText; an empty one is refused (422): it would share nothing. Or the same structure as JSON (PolicyJson)"},
        "PolicyText": {"type": "string", "description": "A policy file in TOML (docs/policy.md): version = 1, [opportunities] and [accounts] tables; a text that is not one is 422 with each error's line and key. Or the same structure as JSON (PolicyJson)"},
        "PolicyJson": policy_json(),
        "PolicyPreview": {"type": "object", "required": ["shared", "withheld", "items"], "properties": {"shared": {"type": "integer"}, "withheld": {"type": "integer"}, "items": {"type": "array", "items": {"type": "object", "additionalProperties": true}}, "opportunity_ids": {"type": "array", "items": string()}, "mapping": {"type": "array", "description": "what account mapping reveals under the policy, per population: population, level, accounts, reveals (a whole-pipeline preview only)", "items": {"type": "object"}}}},
        "Partner": {"type": "object", "properties": {"id": string(), "name": string(), "type": nullable_string(), "status": {"type": "string", "enum": ["active", "removed"]}, "removed_by": {"type": ["string", "null"], "enum": ["this node", "partner", null], "description": "who ended the partnership"}, "connected": {"type": "boolean"}, "connection": {"type": "string", "enum": ["direct", "hole-punched", "relayed", "offline"], "description": "how the partner is connected now"}, "since": string(), "last_seen": nullable_string(), "addrs": {"type": "array", "items": string()}, "policy": string(), "region": {"type": ["string", "null"], "description": "set with PUT /partners/{id}/region (in the list only)"}}},
        "PartnerPage": page("Partner"),
        "Network": {"type": "object", "properties": {
            "id": string(),
            "listen": {"type": "array", "items": string()},
            "external": {"type": "array", "items": string(), "description": "the external setting and addresses AutoNAT confirmed"},
            "observed": {"type": "array", "items": string(), "description": "addresses partners saw this node at (identify)"},
            "advertised": {"type": "array", "items": string(), "description": "what an invite made now carries"},
            "nat": {"type": "string", "enum": ["public", "private", "unknown"]},
            "nat_address": nullable_string(),
            "relays": {"type": "array", "items": {"type": "object", "properties": {"relay": string(), "address": string(), "state": {"type": "string", "enum": ["requested", "reserved", "failed"]}, "last_error": nullable_string()}}},
            "relay_server": {"type": "object", "properties": {"enabled": {"type": "boolean"}, "max_circuits": {"type": "integer"}, "circuit_bytes": {"type": "integer"}, "circuit_seconds": {"type": "integer"}, "reservations": {"type": "integer"}, "circuits": {"type": "integer"}, "denied": {"type": "integer"}}},
            "partners": {"type": "array", "items": {"type": "object", "properties": {"id": string(), "name": string(), "connection": {"type": "string", "enum": ["direct", "hole-punched", "relayed", "offline"]}, "address": nullable_string(), "rtt_ms": {"type": ["number", "null"]}, "last_error": nullable_string(), "last_error_at": nullable_string()}}}
        }},
        "InviteInput": {"type": "object", "additionalProperties": false, "properties": {"type": partner_type, "expires_in_days": {"type": ["integer", "null"], "minimum": 1, "maximum": 90, "description": "default 7"}}},
        "Invite": {"type": "object", "required": ["token"], "properties": {"token": string(), "expires_at": string(), "warning": {"type": ["string", "null"], "description": "set when nobody outside this node's network can use the invite (only private addresses, no relay)"}}},
        "JoinInput": {"type": "object", "additionalProperties": false, "required": ["token"], "properties": {"token": {"type": "string", "minLength": 1, "description": "the invite token another node issued (opaque; one that is not a valid invite is 422)"}, "type": partner_type.clone()}},
        "PolicyVersion": {"type": "object", "properties": {"partner": string(), "version": {"type": "integer"}, "at": string(), "by": string(), "text": string(), "diff": {"type": "array", "items": string()}}},
        "PartnerPolicy": {"type": "object", "properties": {"partner": string(), "version": {"type": ["integer", "null"]}, "text": string(), "policy": {"type": "object"}, "default_deny": {"type": "boolean"}, "versions": {"type": "array", "items": {"$ref": "#/components/schemas/PolicyVersion"}}}},
        "ShareInput": {"type": "object", "additionalProperties": false, "required": ["opportunity_id", "partners"], "properties": {"opportunity_id": non_empty(), "partners": {"type": "array", "minItems": 1, "items": non_empty(), "description": "partners by node id or name"}, "role": {"type": ["string", "null"], "enum": deal_roles, "description": "this node's role in the deal (default vendor)"}, "message": message}},
        "DeclineInput": {"type": "object", "additionalProperties": false, "properties": {"reason": decline_reason.clone()}},
        "Deal": {"type": "object", "properties": {"id": string(), "status": {"enum": ["active", "withdrawn"]}, "withdrawn": {"type": "object", "description": "a withdrawn deal's tombstone: who withdrew it, when, why", "properties": {"by": string(), "by_node": string(), "at": string(), "why": string(), "pending_acknowledgements": {"type": "boolean"}}}, "note": string(), "origin": string(), "participants": {"type": "array", "items": {"type": "object", "properties": {"id": string(), "name": string(), "role": string(), "status": string()}}}, "fields": {"type": "object", "additionalProperties": string()}, "stage": nullable_string(), "sections": {"type": "object", "description": "each participant's own section, by node id", "additionalProperties": section}, "registration": {"type": "object"}, "stages": {"type": "object", "additionalProperties": nullable_string()}, "attribution": {"type": "object", "properties": {"proposals": {"type": "array", "items": {"type": "object"}}, "agreed": {"type": ["object", "null"]}, "disputed": {"type": "boolean"}}}, "history": {"type": "array", "items": {"type": "object", "properties": {"change": string(), "author": string(), "at": string(), "summary": string(), "verified": {"type": "boolean"}}}}}},
        "DealPage": page("Deal"),
        "LinkInput": {"type": "object", "additionalProperties": false, "properties": {"opportunity_id": string(), "create": {"type": "boolean"}}},
        "AttributionInput": {"type": "object", "additionalProperties": false, "required": ["sourced_by"], "properties": {"sourced_by": string(), "influenced_by": {"type": "array", "items": string()}}},
        "AttributionAcceptInput": {"type": "object", "additionalProperties": false, "properties": {"proposer": string()}},
        "InboxItem": {"type": "object", "properties": {"deal_id": string(), "from": string(), "from_name": string(), "title": nullable_string(), "account_domain": nullable_string(), "stage": nullable_string(), "status": {"type": "string", "enum": super::inbox::INBOX_STATUSES}, "invited_at": string(), "expires_at": nullable_string(), "message": {"type": ["string", "null"], "description": "the inviter's message, signed in the invitation"}, "decline_reason": {"type": ["string", "null"], "description": "the reason this node gave when it declined"}}},
        "InboxPage": {"type": "object", "required": ["items", "next_cursor"], "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/InboxItem"}}, "next_cursor": nullable_string(),
            "hub_invitations": {"type": "array", "items": {"$ref": "#/components/schemas/HubInvitation"}, "description": "on the first page: invitations from AWS ACE and Microsoft (answer at /hub/invitations/{id}/accept|decline)"}}},
        "NotificationSettingsInput": {"type": "object", "additionalProperties": false, "properties": {"email": {"type": ["string", "null"], "format": "email", "maxLength": crate::domain::notify::EMAIL_BYTES_MAX, "description": "an e-mail address (another text is 422); null or blank: none"}, "events": {"type": "array", "items": {"type": "string", "enum": crate::domain::notify::NOTIFICATIONS.iter().map(|(n, _)| *n).collect::<Vec<_>>()}}, "digest": {"type": "boolean"}}},
        "NotificationSettings": {"type": "object", "properties": {"email": nullable_string(), "events": {"type": "array", "items": string()}, "digest": {"type": "boolean"}, "available": {"type": "array", "items": {"type": "object", "properties": {"name": string(), "description": string()}}}, "smtp_configured": {"type": "boolean"}}},
        "NeedsMe": {"type": "object", "properties": {"since": string(), "counts": {"type": "object", "properties": {"invitations": {"type": "integer"}, "registrations_to_decide": {"type": "integer"}, "registrations_waiting": {"type": "integer"}, "overdue": {"type": "integer"}, "new_overlaps": {"type": "integer"}, "deals_changed": {"type": "integer"}, "plan_tasks_overdue": {"type": "integer"}, "announcements_unread": {"type": "integer"}, "total": {"type": "integer"}}}, "plan_tasks_overdue": {"type": "array", "items": {"type": "object", "properties": {"plan": string(), "account_domain": nullable_string(), "task": string(), "title": string(), "person": nullable_string(), "due": string()}}}, "invitations": {"type": "array", "items": {"$ref": "#/components/schemas/InboxItem"}}, "registrations_to_decide": {"type": "array", "items": {"type": "object"}}, "registrations_waiting": {"type": "array", "items": {"type": "object"}}, "overdue": {"type": "array", "items": {"type": "object"}}, "new_overlaps": {"type": "array", "items": {"type": "object", "properties": {"partner": string(), "partner_name": string(), "computed_at": string(), "accounts": {"type": "integer"}}}}, "deals_changed": {"type": "array", "items": {"type": "object", "properties": {"deal_id": string(), "name": nullable_string(), "by": {"type": "array", "items": string()}, "changes": {"type": "integer"}, "last_change_at": string(), "last_change": string()}}}}},
        "RegistrationChange": {"type": "object", "description": "Absent keeps, null clears; account_domain, vendor and notes cannot change", "properties": {"account_name": string(), "amount": string(), "currency": string(), "close_date": string(), "products": {"type": "array", "items": string()}}},
        "RegistrationInput": {"type": "object", "additionalProperties": false, "required": ["vendor", "account_name", "account_domain"], "properties": {"vendor": string(), "account_name": string(), "account_domain": string(), "amount": string(), "currency": string(), "close_date": string(), "products": {"type": "array", "items": string()}, "notes": string(), "role": string()}},
        "Registration": {"type": "object", "properties": {"id": string(), "partner": string(), "partner_name": string(), "vendor": string(), "vendor_name": string(), "account_name": nullable_string(), "account_domain": nullable_string(), "amount": nullable_string(), "currency": nullable_string(), "close_date": nullable_string(), "products": {"type": "array", "items": string()}, "notes": nullable_string(), "status": {"type": "string", "enum": ["pending", "approved", "rejected", "expired", "revoked", "lapsed"]}, "note": {"type": "string", "description": "a revoked registration: revoked by VENDOR: reason"}, "decided_terms": {"type": ["object", "null"], "description": "the terms the vendor decided on", "properties": {"account_name": nullable_string(), "amount": nullable_string(), "currency": nullable_string(), "close_date": nullable_string(), "products": {"type": "array", "items": string()}}}, "changed_after_decision": {"type": "boolean", "description": "the partner changed the terms while the decision was on its way; the decision does not cover them"}, "submitted_at": string(), "respond_by": string(), "decided_at": nullable_string(), "expires_at": nullable_string(), "reason": nullable_string(), "overdue": {"type": "boolean"}, "conflicts": {"type": "array", "items": {"type": "object"}, "description": "only on the vendor's node"}}},
        "RegistrationPage": page("Registration"),
        "EraseInput": {"type": "object", "additionalProperties": false, "minProperties": 1, "maxProperties": 2,
            "oneOf": [{"required": ["email"], "not": {"required": ["name"]}}, {"required": ["name"], "not": {"required": ["email"]}}],
            "properties": {"email": {"type": "string", "pattern": "^[^@\\s\\u0000-\\u001f\\u007f-\\u009f]+@[^@\\s\\u0000-\\u001f\\u007f-\\u009f]+\\.[^@\\s\\u0000-\\u001f\\u007f-\\u009f]+$", "maxLength": crate::domain::erase::NEEDLE_CHARS_MAX},
                           "name": {"type": "string", "pattern": "^[^\\s\\u0000-\\u001f\\u007f-\\u009f]([^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f])?$", "minLength": crate::domain::erase::NEEDLE_CHARS_MIN, "maxLength": crate::domain::erase::NEEDLE_CHARS_MAX},
                           "dry_run": {"type": "boolean"}}},
        "Erasure": {"type": "object", "additionalProperties": false, "properties": {
            "kind": {"enum": ["email", "name"]}, "dry_run": {"type": "boolean"},
            "records": {"type": "array", "items": {"type": "object", "properties": {"kind": {"enum": ["account", "opportunity"]}, "id": string(), "fields": {"type": "array", "items": string()}, "kept": {"type": "array", "description": "fields whose typed value (a domain) holds the text but cannot hold it erased: left as they were", "items": string()}}}},
            "audit_entries": {"type": "integer", "minimum": 0},
            "tables": {"type": "object", "description": "rows changed per stored table", "additionalProperties": {"type": "integer", "minimum": 1}},
            "deals": {"type": "array", "items": {"type": "object", "properties": {"id": string(), "role": {"enum": ["origin", "participant"]}, "erased": {"type": "array", "items": string()}, "kept": {"type": "array", "description": "what other writers (or append-only notes) still hold", "items": {"type": "object", "properties": {"path": string(), "by": string()}}}, "history_changes": {"type": "integer", "minimum": 0}, "request_sent": {"type": "boolean", "description": "this node signed an erasure request into the deal (a digest of the value): as its origin for every participant, as a participant for the origin"}}}},
            "erased": {"type": "integer", "minimum": 0}, "kept": {"type": "integer", "minimum": 0},
            "database_rewrite": {"type": "boolean", "description": "the database file is rewritten at the next start, so no freed page keeps the value"}}},
        "RevokeInput": {"type": "object", "additionalProperties": false, "required": ["reason"], "properties": {"reason": {"type": "string", "pattern": format!("[^{WHITE_SPACE}]"), "maxLength": crate::domain::registrations::REVOKE_REASON_CHARS_MAX}}},
        "RejectInput": {"type": "object", "additionalProperties": false, "required": ["reason"], "properties": {"reason": not_blank()}},
        "MdfProposal": {"type": "object", "additionalProperties": false, "required": ["activity", "amount", "currency", "start", "end"], "properties": {"vendor": {"type": "string", "description": "the vendor partner: node id or unique name (required to propose; a revision ignores it)"}, "activity": required_text(2000), "activity_type": {"type": ["string", "null"], "enum": ["event", "webinar", "digital", "content", "training", "telemarketing", "other", null]}, "amount": {"type": "string", "pattern": "^[0-9]{1,14}(\\.[0-9]{1,4})?$", "description": "exact decimal, e.g. 1200.50"}, "currency": {"type": "string", "pattern": "^[A-Za-z]{3}$", "description": "ISO 4217"}, "start": {"type": "string", "format": "date"}, "end": {"type": "string", "format": "date"}, "period": {"type": ["string", "null"], "pattern": "^[0-9]{4}-Q[1-4]$", "description": "default: the quarter of start"}, "expected_leads": {"type": ["string", "null"], "pattern": "^[0-9]+$"}, "expected_pipeline": {"type": ["string", "null"], "pattern": "^[0-9]{1,14}(\\.[0-9]{1,4})?$", "description": "exact decimal"}}},
        "MdfApproveInput": {"type": "object", "additionalProperties": false, "properties": {"amount": {"type": ["string", "null"], "pattern": "^[0-9]{1,14}(\\.[0-9]{1,4})?$", "description": "exact decimal, at most the requested amount; default: the requested amount"}}},
        "MdfClaimInput": {"type": "object", "additionalProperties": false, "required": ["proof_name", "proof_base64"], "properties": {"proof_name": required_text(200), "proof_base64": {"type": "string", "contentEncoding": "base64", "description": "the attachment, at most 49152 bytes decoded"}, "results": {"type": ["string", "null"]}}},
        "MdfReimburseInput": {"type": "object", "additionalProperties": false, "required": ["amount", "reference"], "properties": {"amount": {"type": "string", "pattern": "^[0-9]{1,14}(\\.[0-9]{1,4})?$", "description": "exact decimal, at most the approved amount"}, "reference": required_text(200), "paid_on": {"type": ["string", "null"], "format": "date", "description": "default: today"}}},
        "MdfAllocationInput": {"type": "object", "additionalProperties": false, "required": ["partner", "period", "amount", "currency"], "properties": {"partner": string(), "period": {"type": "string", "pattern": "^[0-9]{4}-Q[1-4]$"}, "amount": {"type": "string", "pattern": "^[0-9]{1,14}(\\.[0-9]{1,4})?$", "description": "exact decimal, e.g. 1200.50"}, "currency": {"type": "string", "pattern": "^[A-Za-z]{3}$", "description": "ISO 4217"}}},
        "MdfAllocation": {"type": "object", "required": ["partner", "period", "currency", "allocated", "committed", "reimbursed", "available"], "properties": {"partner": string(), "partner_name": string(), "period": string(), "currency": string(), "allocated": string(), "committed": string(), "reimbursed": string(), "available": string()}},
        "MdfAllocationPage": page("MdfAllocation"),
        "Mdf": {"type": "object", "required": ["id", "vendor", "partner", "status"], "properties": {"id": string(), "vendor": string(), "vendor_name": string(), "partner": string(), "partner_name": string(), "status": {"type": ["string", "null"], "enum": ["proposed", "changes_requested", "approved", "rejected", "claimed", "reimbursed", null]}, "activity": nullable_string(), "activity_type": nullable_string(), "period": nullable_string(), "start": nullable_string(), "end": nullable_string(), "requested": nullable_string(), "approved_amount": nullable_string(), "currency": nullable_string(), "expected_leads": nullable_string(), "expected_pipeline": nullable_string(), "reason": nullable_string(), "results": nullable_string(), "reimbursed_amount": nullable_string(), "reference": nullable_string(), "paid_on": nullable_string(), "proof": {"type": ["object", "null"], "properties": {"name": string(), "sha256": string(), "bytes": {"type": "integer"}}}, "created_at": string(), "history": {"type": "array", "items": {"type": "object", "properties": {"step": string(), "by": string(), "by_name": nullable_string(), "at": string(), "applied": {"type": "boolean"}, "why_not": nullable_string()}}}}},
        "MdfPage": page("Mdf"),
        "PlanInput": {"type": "object", "additionalProperties": false, "required": ["account_domain", "with"], "properties": {"account_domain": {"type": "string", "minLength": 1, "maxLength": 253, "description": "the account's domain, e.g. acme.com"}, "account_name": {"type": ["string", "null"], "maxLength": 200}, "with": {"type": "array", "minItems": 1, "maxItems": 15, "items": {"type": "string", "description": "a partner: node id or unique name"}}}},
        "PlanGoalInput": {"type": "object", "additionalProperties": false, "required": ["title"], "properties": {"title": required_text(200), "amount": {"type": ["string", "null"], "pattern": "^[0-9]{1,14}(\\.[0-9]{1,4})?$", "description": "exact decimal; needs currency"}, "currency": {"type": ["string", "null"], "pattern": "^[A-Za-z]{3}$", "description": "ISO 4217; needs amount"}, "due": {"type": ["string", "null"], "format": "date"}}},
        "PlanStakeholderInput": {"type": "object", "additionalProperties": false, "required": ["name"], "properties": {"name": required_text(200), "role": {"type": ["string", "null"], "maxLength": 200}, "company": {"type": ["string", "null"], "maxLength": 200}}},
        "PlanStakeholderRef": {"type": "object", "additionalProperties": false, "required": ["stakeholder"], "properties": {"stakeholder": {"type": "string", "description": "the stakeholder's id, or the part after '/', or a unique prefix of it"}}},
        "PlanTaskInput": {"type": "object", "additionalProperties": false, "required": ["title", "due"], "properties": {"title": required_text(200), "owner": {"type": ["string", "null"], "maxLength": 200, "description": "the person doing it (this company's)"}, "due": {"type": "string", "format": "date"}}},
        "PlanTaskRef": {"type": "object", "additionalProperties": false, "required": ["task"], "properties": {"task": {"type": "string", "description": "the task's id, or the part after '/', or a unique prefix of it"}}},
        "PlanNoteInput": {"type": "object", "additionalProperties": false, "required": ["text"], "properties": {"text": required_text(2000)}},
        "PlanTaskCreated": {"type": "object", "required": ["task", "plan"], "properties": {"task": string(), "plan": {"$ref": "#/components/schemas/Plan"}}},
        "Plan": {"type": "object", "required": ["id", "status", "account_domain", "origin", "companies", "goals", "stakeholders", "tasks", "overdue_tasks", "created_at", "timeline"], "properties": {
            "id": string(), "status": {"type": ["string", "null"], "enum": ["open", null]}, "account_domain": nullable_string(), "account_name": nullable_string(), "origin": string(), "origin_name": nullable_string(),
            "companies": {"type": "array", "items": {"type": "object", "properties": {"node": string(), "name": string(), "role": nullable_string()}}},
            "goals": {"type": "array", "items": {"type": "object", "properties": {"id": string(), "owner": string(), "owner_name": nullable_string(), "title": string(), "amount": nullable_string(), "currency": nullable_string(), "due": nullable_string()}}},
            "stakeholders": {"type": "array", "items": {"type": "object", "properties": {"id": string(), "owner": string(), "owner_name": nullable_string(), "name": string(), "role": nullable_string(), "company": nullable_string()}}},
            "tasks": {"type": "array", "items": {"type": "object", "properties": {"id": string(), "owner": string(), "owner_name": nullable_string(), "title": string(), "person": nullable_string(), "due": string(), "status": {"type": "string", "enum": ["open", "done"]}, "done_at": nullable_string(), "overdue": {"type": "boolean"}}}},
            "overdue_tasks": {"type": "integer"}, "created_at": string(),
            "timeline": {"type": "array", "items": {"type": "object", "properties": {"at": string(), "by": string(), "by_name": nullable_string(), "step": string(), "what": string(), "applied": {"type": "boolean"}, "why_not": nullable_string()}}}}},
        "PlanPage": page("Plan"),
        "LeadInput": {"type": "object", "additionalProperties": false, "required": ["company", "country"], "properties": {"company": lead_text(200, false), "country": {"type": "string", "description": "ISO 3166 code or English name"}, "region": lead_text(200, true), "tags": {"type": "array", "maxItems": 20, "items": {"type": "string", "maxLength": 64, "pattern": format!("^[^,]*[^,{WHITE_SPACE}][^,]*$")}}, "contact_name": lead_text(200, true), "contact_email": {"type": ["string", "null"], "maxLength": 200, "pattern": "@", "description": "an address with @"}, "note": lead_text(2000, true)}},
        "LeadsInput": {"type": "object", "additionalProperties": false, "required": ["leads"], "properties": {"leads": {"type": "array", "minItems": 1, "maxItems": 10000, "items": {"$ref": "#/components/schemas/LeadInput"}}}},
        "LeadsImported": {"type": "object", "required": ["imported", "ids"], "properties": {"imported": {"type": "integer"}, "ids": {"type": "array", "items": string()}}},
        "LeadsCsv": {"type": "string", "minLength": 1, "description": "CSV with a header row naming company and country and any of region, tags, contact_name, contact_email, note"},
        "LeadRulesText": {"type": "string", "description": "A lead routing rules file in TOML (docs/leads.md): sla_hours, partner_types, exclude_countries and [[partner]] entries; a text that is not one is 422 with each error's line and key"},
        "LeadRulesSummary": {"type": "object", "required": ["sla_seconds", "partners"], "properties": {"sla_seconds": {"type": "integer"}, "partners": {"type": "array", "items": {"type": "object", "properties": {"partner": string(), "partner_name": string(), "countries": {"type": "array", "items": string()}, "regions": {"type": "array", "items": string()}, "tags": {"type": "array", "items": string()}, "capacity": {"type": ["integer", "null"]}}}}}},
        "LeadRules": {"type": "object", "required": ["sla_seconds", "partners", "text"], "properties": {"sla_seconds": {"type": "integer"}, "partners": {"type": "array", "items": {"type": "object"}}, "text": string()}},
        "LeadRouteReport": {"type": "object", "required": ["dry_run", "routed", "by_partner", "unroutable", "expired", "rejected"], "properties": {"dry_run": {"type": "boolean"}, "routed": {"type": "array", "items": {"type": "object", "properties": {"lead": string(), "company": string(), "partner": string(), "partner_name": string()}}}, "by_partner": {"type": "array", "items": {"type": "object", "properties": {"partner": string(), "partner_name": string(), "count": {"type": "integer"}}}}, "unroutable": {"type": "array", "items": {"type": "object", "properties": {"lead": string(), "company": string(), "reason": string()}}}, "expired": {"type": "integer"}, "rejected": {"type": "integer"}}},
        "LeadRejectInput": {"type": "object", "additionalProperties": false, "properties": {"reason": lead_text(200, true)}},
        "Lead": {"type": "object", "required": ["id", "direction", "status"], "properties": {"id": string(), "direction": {"type": "string", "enum": ["outbound", "inbound"]}, "status": {"type": ["string", "null"], "enum": ["new", "unroutable", "offered", "accepted", "rejected", "withdrawn", null]}, "company": nullable_string(), "country": nullable_string(), "region": nullable_string(), "tags": {"type": "array", "items": string()}, "contact_name": nullable_string(), "contact_email": nullable_string(), "note": nullable_string(), "reason": nullable_string(), "source": string(), "created_at": string(), "offered_at": string(), "respond_by": nullable_string(), "partner": nullable_string(), "partner_name": nullable_string(), "vendor": string(), "vendor_name": string(), "offer": nullable_string(), "tried": {"type": "array", "items": {"type": "object", "properties": {"partner": string(), "partner_name": string()}}}, "history": {"type": "array", "items": {"type": "object"}}}},
        "LeadPage": page("Lead"),
        "LeadConversion": {"type": "object", "additionalProperties": false, "required": ["lead", "opportunity_id", "account_id", "account_matched", "deal_id", "attribution"], "properties": {"lead": string(), "opportunity_id": string(), "account_id": string(), "account_matched": {"type": "boolean"}, "deal_id": nullable_string(), "attribution": {"type": ["object", "null"], "additionalProperties": false, "required": ["sourced_by", "influenced_by"], "properties": {"sourced_by": string(), "influenced_by": {"type": "array", "items": string()}}}}},
        "Binary": {"type": "string", "format": "binary"},
        "SectionInput": {"type": "object", "additionalProperties": false, "properties": {"note": string(), "notes": {"type": "array", "items": string()}, "next_step": string(), "contacts": {"type": "array", "items": string()}, "contribution": string(), "stage": stage, "linked_opportunity": nullable_string()}},
        "ProposeInput": {"type": "object", "additionalProperties": false, "required": ["domain"], "properties": {"domain": string(), "opportunity_id": string()}},
        "MappingCell": {"type": "object", "required": ["mine", "theirs", "level", "count", "overlaps"], "properties": {"mine": string(), "theirs": string(), "level": {"type": "string", "enum": ["hidden", "counts", "overlaps", "all"]}, "count": {"type": ["integer", "null"]}, "overlaps": {"type": "array", "items": {"type": "object", "properties": {"account_id": string(), "name": string(), "domain": string(), "opportunity_ids": {"type": "array", "items": string()}, "partner": {"type": "object", "description": "the partner's fields its policy allows"}}}}, "partner_accounts": {"type": "array", "items": {"type": "object"}}, "my_level": string(), "their_level": string(), "buckets": {"type": "array", "items": {"type": "integer"}}}},
        "MappingMatrix": {"type": "object", "required": ["partner", "computed_at", "cells"], "properties": {"partner": string(), "partner_name": string(), "computed_at": string(), "initiated_by": {"type": "string", "enum": ["me", "partner"]}, "cells": {"type": "array", "items": {"$ref": "#/components/schemas/MappingCell"}}, "signature": {"type": "string", "description": "ed25519 over the matrix JSON, hex"}, "signer": string()}},
        "PopulationInput": {"type": "object", "additionalProperties": false, "description": "A custom population: accounts matching every list given (an empty or absent list matches all); the name is the path's (a body may repeat it as name)", "properties": {"statuses": {"type": "array", "items": status.clone()}, "industries": {"type": "array", "items": string()}, "countries": {"type": "array", "items": string()}, "tags": {"type": "array", "items": string()}, "stages": {"type": "array", "items": stage.clone()}}},
        "Population": {"type": "object", "required": ["name"], "properties": {"name": string(), "statuses": {"type": "array", "items": status}, "industries": {"type": "array", "items": string()}, "countries": {"type": "array", "items": string()}, "tags": {"type": "array", "items": string()}, "stages": {"type": "array", "items": stage}, "builtin": {"type": "boolean"}}},
        "PopulationPage": page("Population"),
        "AuditEntry": {"type": "object", "properties": {"seq": {"type": "integer"}, "at": string(), "kind": {"type": "string", "enum": crate::store::shared::AuditKind::NAMES}, "peer": nullable_string(), "actor": nullable_string(), "summary": string(), "details": {"type": "object"}}},
        "AuditPage": page("AuditEntry"),
        "CrmStatus": super::crm::status_schema(),
        "CrmConnectInput": super::crm::connect_schema(),
        "OnboardingInput": {"type": "object", "additionalProperties": false, "required": ["code", "username", "password"], "properties": {"code": string(), "username": {"type": "string", "pattern": format!("^[{WHITE_SPACE}]*[A-Za-z0-9._@-]{{1,64}}[{WHITE_SPACE}]*$")}, "password": {"type": "string", "minLength": crate::domain::users::PASSWORD_CHARS_MIN, "maxLength": crate::domain::users::PASSWORD_BYTES_MAX}}},
        "OnboardingLink": {"type": "object", "required": ["onboarding_url"], "properties": {"onboarding_url": {"type": "string", "description": "HOST/w/NAME/#onboarding=CODE (the code stays in the fragment, never sent to a server by the browser)"}}},
        "WorkspaceInput": {"type": "object", "additionalProperties": false, "required": ["name"], "properties": {"name": workspace_name()}},
        "WorkspaceImportInput": {"type": "object", "additionalProperties": false, "required": ["dir"], "properties": {"dir": {"type": "string", "pattern": "^/", "description": "an absolute path on the host's machine"}, "name": workspace_name()}},
        "WorkspaceExportInput": {"type": "object", "additionalProperties": false, "required": ["dir"], "properties": {"dir": {"type": "string", "pattern": "^/", "description": "an absolute path on the host's machine: a new or empty directory"}}},
        "Workspace": workspace.clone(),
        "WorkspaceCreated": {"allOf": [workspace, {"type": "object", "required": ["onboarding_url"], "properties": {"onboarding_url": string()}}]},
        "WorkspacePage": page("Workspace"),
        "MappingViewInput": {"type": "object", "additionalProperties": false, "required": ["view"], "properties": {"view": {"type": "object", "description": "what the web UI needs to open the view again (partner, cell, search, sort); at most 8 KiB as JSON (else 422)"}}},
        "MappingView": {"type": "object", "required": ["name", "view", "saved_at"], "properties": {"name": string(), "view": {"type": "object"}, "saved_at": string()}},
        "MappingViewList": {"type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/MappingView"}}}},
    })
}

/// The OpenAPI 3.1 document.
pub fn document() -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for r in ROUTES {
        let success = match (r.response.0, r.response.1) {
            (204, _) => json!({"description": "success, no body"}),
            (_, schema @ ("EventStream" | "AuditExport" | "Backup" | "CrmCsv" | "Binary")) => {
                // Not JSON: the stream, the export's text lines, a CSV, an attachment, the backup file.
                let media = match schema {
                    "EventStream" => "text/event-stream",
                    "AuditExport" => "text/plain",
                    "CrmCsv" => "text/csv",
                    "Binary" => "application/octet-stream",
                    _ => "application/vnd.cosell.backup",
                };
                json!({"description": "success", "content": {media: {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}})
            }
            (_, schema) => {
                json!({"description": "success", "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}})
            }
        };
        let error = |description: &str| json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
        let mut responses = Map::new();
        responses.insert(r.response.0.to_string(), success);
        for (status, description) in error_statuses(r) {
            responses.insert(status.to_string(), error(description));
        }
        responses.insert("default".into(), error("error"));
        let mut op = json!({"summary": r.summary, "responses": responses});
        if let Some(role) = r.role {
            op["security"] = json!([{"bearer": []}]);
            op["x-role"] = json!(role);
        } else {
            op["security"] = json!([]);
        }
        if let Some((content_type, schema)) = r.request {
            let mut content = json!({content_type: {"schema": {"$ref": format!("#/components/schemas/{schema}")}}});
            if schema == "ProgramText" {
                content["application/json"] =
                    json!({"schema": {"$ref": "#/components/schemas/ProgramJson"}});
            }
            if matches!(schema, "PolicyText" | "PolicyFile") {
                // The same policy as JSON (`Content-Type: application/json`).
                content["application/json"] =
                    json!({"schema": {"$ref": "#/components/schemas/PolicyJson"}});
            }
            // A preview without a body previews the empty policy (it shares nothing); a policy
            // PUT without one is refused.
            // An invite's every field has a default: no body issues one with them.
            // A decline needs no reason, nor a revocation of an attestation.
            let required = !matches!(
                schema,
                "PolicyText" | "InviteInput" | "DeclineInput" | "RevokeAttestationInput"
            );
            op["requestBody"] = json!({"required": required, "content": content});
        }
        let params: Vec<Value> = r
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": path_param(r.method, r.path, name)}))
            .chain(r.query.iter().map(ParamDoc::openapi))
            .collect();
        if !params.is_empty() {
            op["parameters"] = Value::Array(params);
        }
        let entry = paths.entry(r.path.to_string()).or_insert_with(|| json!({}));
        entry[r.method] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "cosell node API", "version": env!("CARGO_PKG_VERSION")},
        "servers": [{"url": "/api/v1"}],
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    })
}

/// `GET /api/v1/openapi.json`.
pub async fn serve() -> Json<Value> {
    Json(document())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

    /// (method, path, handler) for every method the router in `api/mod.rs` registers, read
    /// from its source: every `.route("PATH", get(handler).post(handler))` call.
    fn route_calls() -> Vec<(String, String, String)> {
        let source = include_str!("mod.rs");
        let mut out = Vec::new();
        for chunk in source.split(".route(").skip(1) {
            let Some(path) = chunk
                .trim_start()
                .strip_prefix('"')
                .and_then(|s| s.split('"').next())
            else {
                continue;
            };
            let call = chunk.split(".route").next().unwrap_or(chunk);
            let call = call.split(".fallback").next().unwrap_or(call);
            for method in ["get", "post", "put", "patch", "delete"] {
                for (i, _) in call.match_indices(&format!("{method}(")) {
                    let before = call.as_bytes().get(i.wrapping_sub(1)).copied();
                    if before.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_') {
                        continue;
                    }
                    let handler = call[i + method.len() + 1..]
                        .split(')')
                        .next()
                        .unwrap_or_default();
                    out.push((method.to_string(), path.to_string(), handler.to_string()));
                }
            }
        }
        out
    }

    /// (method, path) pairs the router registers.
    fn routed() -> BTreeSet<(String, String)> {
        route_calls()
            .into_iter()
            .map(|(method, path, _)| (method, path))
            .collect()
    }

    /// The query struct each routed handler reads (`Params<T>` in its signature), by (method,
    /// path), read from the sources of `api/`: every `module::handler` a route names.
    fn handler_queries() -> BTreeMap<(String, String), String> {
        let sources = [
            ("", include_str!("mod.rs")),
            ("records", include_str!("records.rs")),
            ("import", include_str!("import.rs")),
            ("policy", include_str!("policy.rs")),
            ("partners", include_str!("partners.rs")),
            ("mapping", include_str!("mapping.rs")),
            ("mapping_views", include_str!("mapping_views.rs")),
            ("deals", include_str!("deals.rs")),
            ("inbox", include_str!("inbox.rs")),
            ("registrations", include_str!("registrations.rs")),
            ("mdf", include_str!("mdf.rs")),
            ("leads", include_str!("leads.rs")),
            ("plans", include_str!("plans.rs")),
            ("announcements", include_str!("announcements.rs")),
            ("audit", include_str!("audit.rs")),
            ("webhooks", include_str!("webhooks.rs")),
            ("session", include_str!("session.rs")),
            ("workday", include_str!("workday.rs")),
            ("openapi", include_str!("openapi.rs")),
            ("backup", include_str!("backup.rs")),
            ("network", include_str!("network.rs")),
            ("health", include_str!("health.rs")),
            ("program", include_str!("program.rs")),
            ("erase", include_str!("erase.rs")),
            ("hub", include_str!("hub.rs")),
            ("crm", include_str!("crm.rs")),
            ("workspaces", include_str!("workspaces.rs")),
            ("scim", include_str!("scim.rs")),
            ("oidc", include_str!("oidc.rs")),
        ];
        let mut out = BTreeMap::new();
        for (method, path, handler) in route_calls() {
            if !ROUTES.iter().any(|r| r.path == path) {
                continue; // Outside the API (`/metrics`, the web UI).
            }
            let (module, name) = handler.rsplit_once("::").unwrap_or(("", &handler));
            let module = module.rsplit("::").next().unwrap_or(module);
            let Some((_, file)) = sources.iter().find(|(m, _)| *m == module) else {
                panic!("no source for {handler} (route {path}): add it to the list");
            };
            let signature = file
                .split(&format!("async fn {name}("))
                .nth(1)
                .and_then(|rest| rest.split(") ->").next())
                .unwrap_or_else(|| panic!("no `async fn {name}(` in {module}"));
            let query = signature
                .split("Params<")
                .nth(1)
                .and_then(|rest| rest.split('>').next())
                .unwrap_or_default();
            out.insert((method, path), query.to_string());
        }
        out
    }

    #[test]
    fn every_handler_query_is_documented() {
        let handlers = handler_queries();
        assert!(
            handlers.get(&("get".into(), "/accounts".into())) == Some(&"AccountQuery".into()),
            "the source reading found the accounts list's query: {handlers:?}"
        );
        for r in ROUTES {
            let Some(read) = handlers.get(&(r.method.to_string(), r.path.to_string())) else {
                continue;
            };
            assert_eq!(
                r.query_struct, read,
                "{} {}: ROUTES documents the query of {:?}, the handler reads {read:?}",
                r.method, r.path, r.query_struct
            );
        }
    }

    #[test]
    fn every_list_documents_its_paging_and_filters() {
        let doc = document();
        let listed = |method: &str, path: &str| -> Vec<String> {
            doc["paths"][path][method]["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "query")
                .map(|p| p["name"].as_str().unwrap_or_default().to_string())
                .collect()
        };
        for (method, path, expected) in [
            ("get", "/accounts", &["q", "limit", "cursor"][..]),
            (
                "get",
                "/opportunities",
                &["stage", "account_id", "q", "limit", "cursor"],
            ),
            ("get", "/partners", &["limit", "cursor"]),
            (
                "get",
                "/deals",
                &["status", "stage", "partner", "limit", "cursor"],
            ),
            ("get", "/inbox", &["status", "limit", "cursor"]),
            ("get", "/registrations", &["limit", "cursor"]),
            ("get", "/audit", &["cursor", "limit", "kind"]),
            ("post", "/import/opportunities", &["date_format"]),
            ("post", "/policy/preview", &["opportunity_id", "limit"]),
            ("get", "/partners/{id}/policy/preview", &["opportunity_id"]),
        ] {
            assert_eq!(listed(method, path), expected, "{method} {path}");
        }
        let limit = &doc["paths"]["/accounts"]["get"]["parameters"][1];
        assert_eq!(
            limit["schema"],
            json!({"type": "integer", "minimum": 1, "maximum": 1000})
        );
        assert_eq!(limit["required"], false);
        let stage = &doc["paths"]["/opportunities"]["get"]["parameters"][0];
        assert_eq!(stage["schema"]["enum"][2], "technical_validation");
        // Path parameters stay first.
        let preview = &doc["paths"]["/partners/{id}/policy/preview"]["get"]["parameters"];
        assert_eq!(preview[0]["in"], "path");
    }

    #[test]
    fn request_schemas_say_what_the_handlers_refuse() {
        let doc = document();
        let schemas = &doc["components"]["schemas"];
        // Unknown keys are refused, and each body lists its properties.
        for name in [
            "AccountInput",
            "AccountPatch",
            "OpportunityInput",
            "OpportunityPatch",
            "PopulationInput",
            "PolicyJson",
        ] {
            assert_eq!(schemas[name]["additionalProperties"], false, "{name}");
            assert!(
                schemas[name]["properties"]
                    .as_object()
                    .is_some_and(|p| !p.is_empty()),
                "{name}"
            );
        }
        assert_eq!(
            schemas["AccountInput"]["properties"]["name"]["type"], "string",
            "not nullable"
        );
        assert_eq!(
            schemas["ShareInput"]["properties"]["partners"]["items"]["minLength"],
            1
        );
        let currencies = &schemas["OpportunityInput"]["properties"]["currency"]["anyOf"][0]["enum"];
        assert!(currencies
            .as_array()
            .is_some_and(|c| c.contains(&json!("EUR")) && !c.contains(&json!("AAA"))));
        let events = &schemas["WebhookInput"]["properties"]["events"]["items"]["enum"];
        for pattern in [
            "*",
            "deal.*",
            "deal.invited",
            "registration.approved",
            "reg*",
        ] {
            assert!(
                events
                    .as_array()
                    .is_some_and(|e| e.contains(&json!(pattern))),
                "{pattern}"
            );
        }
        assert!(!events
            .as_array()
            .is_some_and(|e| e.contains(&json!("deal"))));
        // A built-in population's name is not a path the PUT takes.
        let put = &doc["paths"]["/populations/{name}"]["put"];
        assert_eq!(
            put["parameters"][0]["schema"]["not"]["enum"][0],
            "customers"
        );
        assert!(put["responses"]["422"].is_object());
        // Policies are TOML or JSON.
        let content = &doc["paths"]["/partners/{id}/policy"]["put"]["requestBody"]["content"];
        assert!(content["application/toml"].is_object() && content["application/json"].is_object());
        // Each route lists its error statuses.
        let join = &doc["paths"]["/partners/join"]["post"]["responses"];
        for status in ["400", "401", "403", "409", "413", "415", "422"] {
            assert!(join[status].is_object(), "POST /partners/join {status}");
        }
        let list = &doc["paths"]["/deals"]["get"]["parameters"];
        let cursor = list
            .as_array()
            .and_then(|p| p.iter().find(|p| p["name"] == "cursor"));
        assert_eq!(
            cursor.map(|c| &c["schema"]["pattern"]),
            Some(&json!("^([0-9a-fA-F]{64})?$"))
        );
    }

    #[test]
    fn every_routed_path_is_documented() {
        let documented: BTreeSet<(String, String)> = ROUTES
            .iter()
            .map(|r| (r.method.to_string(), r.path.to_string()))
            .collect();
        let routed: BTreeSet<(String, String)> = routed()
            .into_iter()
            .filter(|(_, p)| {
                p.starts_with('/') && !["/metrics", "/healthz", "/readyz"].contains(&p.as_str())
            })
            .collect();
        let undocumented: Vec<_> = routed.difference(&documented).collect();
        let unrouted: Vec<_> = documented.difference(&routed).collect();
        assert!(
            undocumented.is_empty(),
            "routes missing from ROUTES: {undocumented:?}"
        );
        assert!(
            unrouted.is_empty(),
            "ROUTES entries the router lacks: {unrouted:?}"
        );
    }
}
