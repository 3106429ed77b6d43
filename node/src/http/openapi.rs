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
    route!("patch" "/opportunities/{id}", "Change fields of an opportunity (null clears)", Some("manager"), Some(("application/json", "OpportunityInput")), (200, "Opportunity")),
    route!("delete" "/opportunities/{id}", "Delete an opportunity (refused while deals shared from it are not withdrawn, naming them; withdraw=true withdraws them first)", Some("manager"), None, (200, "Deleted"), super::records::DeleteOpportunityQuery),
    route!("post" "/import/accounts", "Import accounts from CSV, all or nothing", Some("manager"), Some(("text/csv", "Csv")), (200, "ImportSummary")),
    route!("post" "/import/opportunities", "Import opportunities from CSV, all or nothing (date_format: DD/MM/YYYY, MM/DD/YYYY or YYYY-MM-DD, how to read 03/04/2026)", Some("manager"), Some(("text/csv", "Csv")), (200, "ImportSummary"), super::import::OpportunitiesQuery),
    route!("post" "/policy/preview", "What a partner under this policy (TOML or JSON body) would receive (opportunity_id, limit)", Some("viewer"), Some(("application/toml", "PolicyText")), (200, "PolicyPreview"), super::policy::PreviewQuery),
    route!("get" "/network", "Reachability: listen, external and observed addresses, NAT status, relays used and offered, per partner the connection type (direct, hole-punched, relayed, offline), RTT and last error", Some("viewer"), None, (200, "Network")),
    route!("get" "/partners", "Partners with status, last seen and policy summary (limit, cursor)", Some("viewer"), None, (200, "PartnerPage"), super::partners::PartnerQuery),
    route!("post" "/partners/invites", "Issue a one-time invite token (type, expires_in_days)", Some("admin"), Some(("application/json", "InviteInput")), (201, "Invite")),
    route!("post" "/partners/join", "Join the node that issued a token", Some("admin"), Some(("application/json", "JoinInput")), (200, "Partner")),
    route!("delete" "/partners/{id}", "End a partnership: disconnect and refuse from now on", Some("admin"), None, (200, "Partner")),
    route!("get" "/partners/{id}/policy", "The policy for a partner, with every version", Some("viewer"), None, (200, "PartnerPolicy")),
    route!("put" "/partners/{id}/policy", "Set the policy for a partner (TOML or JSON body)", Some("admin"), Some(("application/toml", "PolicyText")), (200, "PolicyVersion")),
    route!("get" "/partners/{id}/policy/preview", "What the partner receives under its policy (opportunity_id)", Some("viewer"), None, (200, "PolicyPreview"), super::partners::PreviewQuery),
    route!("post" "/partners/{id}/map", "Run account mapping with a partner now (PSI); the matrix", Some("manager"), None, (200, "MappingMatrix")),
    route!("get" "/partners/{id}/map", "The latest account-mapping matrix with a partner, signed", Some("viewer"), None, (200, "MappingMatrix")),
    route!("post" "/partners/{id}/map/propose", "Share this node's open opportunity on an overlapping account (domain, opportunity_id) with the partner as a deal", Some("manager"), Some(("application/json", "ProposeInput")), (201, "Deal")),
    route!("get" "/populations", "Account-mapping populations: built-in and custom", Some("viewer"), None, (200, "PopulationPage")),
    route!("put" "/populations/{name}", "Create or replace a custom population (statuses, industries, countries, tags, stages)", Some("admin"), Some(("application/json", "Population")), (200, "Population")),
    route!("delete" "/populations/{name}", "Remove a custom population", Some("admin"), None, (204, "Empty")),
    route!("get" "/deals", "Shared deals (stage, partner, limit, cursor)", Some("viewer"), None, (200, "DealPage"), super::deals::DealQuery),
    route!("post" "/deals", "Share an opportunity with partners as a deal", Some("manager"), Some(("application/json", "ShareInput")), (201, "Deal")),
    route!("post" "/deals/bulk", "Share many opportunities ({opportunity_ids, partners, role}), one deal each under its own policy check; per-opportunity results", Some("manager"), Some(("application/json", "BulkShareInput")), (200, "BulkResult")),
    route!("post" "/deals/{id}/reinvite", "Invite a partner again ({partner}) after its invitation expired or it declined: a new deal from the same opportunity", Some("manager"), Some(("application/json", "ReinviteInput")), (201, "Deal")),
    route!("post" "/deals/{id}/withdraw", "Withdraw a deal this node shared ({reason}): every participant keeps only who, when and why", Some("manager"), Some(("application/json", "WithdrawInput")), (200, "Withdrawn")),
    route!("post" "/inbox/accept", "Accept many invitations ({deals: [ids]} or {all: true}); per-deal results", Some("manager"), Some(("application/json", "BulkRespondInput")), (200, "BulkResult")),
    route!("post" "/inbox/decline", "Decline many invitations ({deals: [ids]} or {all: true}); per-deal results", Some("manager"), Some(("application/json", "BulkRespondInput")), (200, "BulkResult")),
    route!("get" "/deals/{id}", "One deal with its signed history", Some("viewer"), None, (200, "Deal")),
    route!("patch" "/deals/{id}", "Write this node's own section of a deal", Some("manager"), Some(("application/json", "SectionInput")), (200, "Deal")),
    route!("post" "/deals/{id}/accept", "Accept this node's invitation to a deal", Some("manager"), None, (200, "Deal")),
    route!("post" "/deals/{id}/decline", "Decline this node's invitation to a deal", Some("manager"), None, (200, "Deal")),
    route!("post" "/deals/{id}/link", "Link a deal to one of this node's opportunities ({opportunity_id} or {create: true}); its stage shows beside the others'", Some("manager"), Some(("application/json", "LinkInput")), (200, "Deal")),
    route!("post" "/deals/{id}/attribution", "Propose sourced-by / influenced-by ({sourced_by, influenced_by:[…]}, participants by id or name)", Some("manager"), Some(("application/json", "AttributionInput")), (200, "Deal")),
    route!("post" "/deals/{id}/attribution/accept", "Accept another participant's attribution proposal ({proposer}, optional when only one)", Some("manager"), Some(("application/json", "AttributionAcceptInput")), (200, "Deal")),
    route!("get" "/inbox", "Invitations to deals waiting for this node, redacted until accepted (status, limit, cursor)", Some("viewer"), None, (200, "InboxPage"), super::inbox::InboxQuery),
    route!("get" "/needs-me", "What waits for the caller: invitations, registrations to decide or pending, overdue ones, new overlaps and deals partners changed since the last visit (since), with counts", Some("viewer"), None, (200, "NeedsMe"), super::workday::NeedsMeQuery),
    route!("get" "/share-preview", "Exactly the fields a deal shared with these partners would carry: the projection under the intersection of their policies (opportunity_id, partners)", Some("viewer"), None, (200, "PolicyPreview"), super::workday::SharePreviewQuery),
    route!("get" "/me/notifications", "The signed-in user's e-mail notification settings, and the notifications there are", Some("viewer"), None, (200, "NotificationSettings")),
    route!("put" "/me/notifications", "Set the signed-in user's e-mail address, notifications wanted and digest choice", Some("viewer"), Some(("application/json", "NotificationSettingsInput")), (200, "NotificationSettings")),
    route!("get" "/registrations", "Deal registrations made here or with this node as vendor, newest first (limit, cursor; conflicts only on the vendor)", Some("viewer"), None, (200, "RegistrationPage"), super::registrations::ListQuery),
    route!("post" "/registrations", "Register a deal with a vendor partner", Some("manager"), Some(("application/json", "RegistrationInput")), (201, "Registration")),
    route!("get" "/registrations/{id}", "One registration", Some("viewer"), None, (200, "Registration")),
    route!("patch" "/registrations/{id}", "Change a pending registration (the partner that made it; null clears)", Some("manager"), Some(("application/json", "RegistrationChange")), (200, "Registration")),
    route!("post" "/registrations/{id}/approve", "Approve a registration (vendor only): protected for the protection window", Some("manager"), None, (200, "Registration")),
    route!("post" "/registrations/{id}/reject", "Reject a registration with a reason (vendor only)", Some("manager"), Some(("application/json", "RejectInput")), (200, "Registration")),
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
    route!("get" "/openapi.json", "This document", None, None, (200, "OpenApi")),
    route!("get" "/backup", "A backup of the whole node (store snapshot, identity key, settings, admin token) as a checksummed file, streamed; `cosell backup` saves it", Some("admin"), None, (200, "Backup")),
];

fn string() -> Value {
    json!({"type": "string"})
}
fn nullable_string() -> Value {
    json!({"type": ["string", "null"]})
}

fn schemas() -> Value {
    let stage = json!({"type": "string", "enum": ["prospect", "qualified", "technical_validation", "business_validation", "committed", "launched", "closed_lost"]});
    let status = json!({"type": "string", "enum": ["customer", "prospect", "partner", "other"]});
    let tags = json!({"type": "array", "items": {"type": "string"}});
    let account = json!({"type": "object", "required": ["id", "name", "status", "tags"], "properties": {
        "id": string(), "external_id": nullable_string(), "name": string(),
        "domain": {"type": ["string", "null"], "description": "normalized: lowercase, no scheme, no www., no path"},
        "industry": nullable_string(), "country": nullable_string(), "status": status, "owner": nullable_string(), "tags": tags}});
    let opportunity = json!({"type": "object", "required": ["id", "account_id", "name", "stage", "tags"], "properties": {
        "id": string(), "external_id": nullable_string(), "account_id": string(), "name": string(), "stage": stage,
        "amount": {"type": ["string", "null"], "description": "exact decimal as a string, e.g. \"1200.5\""},
        "currency": {"type": ["string", "null"], "description": "ISO 4217"},
        "close_date": {"type": ["string", "null"], "format": "date"},
        "owner": nullable_string(), "next_step": nullable_string(), "description": nullable_string(), "tags": tags}});
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
        "AccountPatch": {"type": "object", "description": "The account fields to change (external_id, name, domain, industry, country, status, owner, tags); absent keeps, null clears an optional one"},
        "AccountInput": {"type": "object", "required": ["name"], "description": "Account fields; id is assigned"},
        "AccountPage": page("Account"),
        "Opportunity": opportunity,
        "OpportunityInput": {"type": "object", "description": "Opportunity fields; account by account_id or account_domain"},
        "OpportunityPage": page("Opportunity"),
        "AuditExport": {"type": "string", "description": "Line 1 a JSON header (format, node, public_key, from, to); then one `<hex chain> <entry JSON>` line per entry; last a JSON footer (head, entries, signature). See SECURITY.md, Audit export"},
        "Deleted": {"type": "object", "properties": {"deleted": string(), "id": string(), "name": string(), "withdrawn_deals": {"type": "array", "items": string()}}},
        "BulkShareInput": {"type": "object", "properties": {"opportunity_ids": {"type": "array", "items": string()}, "partners": {"type": "array", "items": string()}, "role": string()}},
        "BulkRespondInput": {"type": "object", "properties": {"deals": {"type": "array", "items": string()}, "all": {"type": "boolean"}}},
        "WithdrawInput": {"type": "object", "required": ["reason"], "properties": {"reason": string()}},
        "Withdrawn": {"type": "object", "properties": {"id": string(), "status": {"const": "withdrawn"}, "withdrawn": {"type": "object", "properties": {"by": string(), "by_node": string(), "at": string(), "why": string()}}, "note": string()}},
        "ReinviteInput": {"type": "object", "properties": {"partner": string()}},
        "BulkResult": {"type": "object", "properties": {"results": {"type": "array", "items": {"type": "object"}}, "failed": {"type": "integer"}}},
        "Csv": {"type": "string", "description": "CSV with a header row; Salesforce and HubSpot export headers are accepted"},
        "ImportSummary": {"type": "object", "properties": {"rows": {"type": "integer"}, "inserted": {"type": "integer"}, "updated": {"type": "integer"}, "unchanged": {"type": "integer"}, "ignored_columns": {"type": "array", "items": string()}, "lines_above_header": {"type": "array", "items": string(), "description": "lines with text above the header (a report's title), skipped"}}},
        "OpenApi": {"type": "object"},
        "Empty": {"type": "null"},
        "Backup": {"type": "string", "format": "binary", "description": "application/vnd.cosell.backup: the format in docs/operations.md"},
        "Credentials": {"type": "object", "additionalProperties": false, "required": ["username", "password"], "properties": {"username": string(), "password": string()}},
        "Session": {"type": "object", "properties": {"username": nullable_string(), "role": {"type": "string", "enum": ["viewer", "manager", "admin"]}, "csrf_token": nullable_string()}},
        "User": {"type": "object", "properties": {"username": string(), "role": string(), "created_at_ms": {"type": "integer"}}},
        "UserInput": {"type": "object", "additionalProperties": false, "required": ["username", "password", "role"], "properties": {"username": string(), "password": string(), "role": {"type": "string", "enum": ["viewer", "manager", "admin"]}}},
        "UserPage": {"type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/User"}}}},
        "TokenInput": {"type": "object", "additionalProperties": false, "required": ["name", "role"], "properties": {"name": string(), "role": {"type": "string", "enum": ["viewer", "manager", "admin"]}}},
        "Token": {"type": "object", "properties": {"token": string(), "role": string()}},
        "TokenRecord": {"type": "object", "properties": {"id": string(), "name": string(), "role": string(), "created_at_ms": {"type": "integer"}}},
        "TokenPage": page("TokenRecord"),
        "WebhookInput": {"type": "object", "additionalProperties": false, "required": ["url"], "properties": {"url": string(), "events": {"type": "array", "items": string()}, "secret": string()}},
        "Webhook": {"type": "object", "properties": {"id": string(), "url": string(), "events": {"type": "array", "items": string()}, "secret": {"type": "string", "description": "shown once"}, "created_at_ms": {"type": "integer"}}},
        "WebhookPage": {"type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Webhook"}}}},
        "DeliveryPage": {"type": "object", "properties": {"items": {"type": "array", "items": {"type": "object"}}}},
        "EventStream": {"type": "string", "description": "text/event-stream; each event: kind, seq, at_ms, data"},
        "PolicyText": {"type": "string", "description": "A policy file (TOML); or the same structure as JSON with Content-Type application/json"},
        "PolicyPreview": {"type": "object", "required": ["shared", "withheld", "items"], "properties": {"shared": {"type": "integer"}, "withheld": {"type": "integer"}, "items": {"type": "array", "items": {"type": "object", "additionalProperties": true}}, "opportunity_ids": {"type": "array", "items": string()}, "mapping": {"type": "array", "description": "what account mapping reveals under the policy, per population: population, level, accounts, reveals (a whole-pipeline preview only)", "items": {"type": "object"}}}},
        "Partner": {"type": "object", "properties": {"id": string(), "name": string(), "type": nullable_string(), "status": {"type": "string", "enum": ["active", "removed"]}, "removed_by": {"type": ["string", "null"], "enum": ["this node", "partner", null], "description": "who ended the partnership"}, "connected": {"type": "boolean"}, "connection": {"type": "string", "enum": ["direct", "hole-punched", "relayed", "offline"], "description": "how the partner is connected now"}, "since": string(), "last_seen": nullable_string(), "addrs": {"type": "array", "items": string()}, "policy": string()}},
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
        "InviteInput": {"type": "object", "additionalProperties": false, "properties": {"type": {"type": "string", "enum": ["reseller", "distributor", "si", "isv", "msp", "referral", "vendor"]}, "expires_in_days": {"type": ["integer", "null"], "minimum": 1, "maximum": 90, "description": "default 7"}}},
        "Invite": {"type": "object", "required": ["token"], "properties": {"token": string(), "expires_at": string(), "warning": {"type": ["string", "null"], "description": "set when nobody outside this node's network can use the invite (only private addresses, no relay)"}}},
        "JoinInput": {"type": "object", "additionalProperties": false, "required": ["token"], "properties": {"token": string(), "type": string()}},
        "PolicyVersion": {"type": "object", "properties": {"partner": string(), "version": {"type": "integer"}, "at": string(), "by": string(), "text": string(), "diff": {"type": "array", "items": string()}}},
        "PartnerPolicy": {"type": "object", "properties": {"partner": string(), "version": {"type": ["integer", "null"]}, "text": string(), "policy": {"type": "object"}, "default_deny": {"type": "boolean"}, "versions": {"type": "array", "items": {"$ref": "#/components/schemas/PolicyVersion"}}}},
        "ShareInput": {"type": "object", "additionalProperties": false, "required": ["opportunity_id", "partners"], "properties": {"opportunity_id": string(), "partners": {"type": "array", "items": string()}, "role": string()}},
        "Deal": {"type": "object", "properties": {"id": string(), "origin": string(), "participants": {"type": "array", "items": {"type": "object", "properties": {"id": string(), "name": string(), "role": string(), "status": string()}}}, "fields": {"type": "object", "additionalProperties": string()}, "stage": nullable_string(), "sections": {"type": "object", "description": "each participant's own section, by node id", "additionalProperties": section}, "registration": {"type": "object"}, "stages": {"type": "object", "additionalProperties": nullable_string()}, "attribution": {"type": "object", "properties": {"proposals": {"type": "array", "items": {"type": "object"}}, "agreed": {"type": ["object", "null"]}, "disputed": {"type": "boolean"}}}, "history": {"type": "array", "items": {"type": "object", "properties": {"change": string(), "author": string(), "at": string(), "summary": string(), "verified": {"type": "boolean"}}}}}},
        "DealPage": page("Deal"),
        "LinkInput": {"type": "object", "additionalProperties": false, "properties": {"opportunity_id": string(), "create": {"type": "boolean"}}},
        "AttributionInput": {"type": "object", "additionalProperties": false, "required": ["sourced_by"], "properties": {"sourced_by": string(), "influenced_by": {"type": "array", "items": string()}}},
        "AttributionAcceptInput": {"type": "object", "additionalProperties": false, "properties": {"proposer": string()}},
        "InboxItem": {"type": "object", "properties": {"deal_id": string(), "from": string(), "from_name": string(), "title": nullable_string(), "account_domain": nullable_string(), "stage": nullable_string(), "status": {"type": "string", "enum": super::inbox::INBOX_STATUSES}, "invited_at": string(), "expires_at": nullable_string()}},
        "InboxPage": page("InboxItem"),
        "NotificationSettingsInput": {"type": "object", "additionalProperties": false, "properties": {"email": nullable_string(), "events": {"type": "array", "items": {"type": "string", "enum": crate::domain::notify::NOTIFICATIONS.iter().map(|(n, _)| *n).collect::<Vec<_>>()}}, "digest": {"type": "boolean"}}},
        "NotificationSettings": {"type": "object", "properties": {"email": nullable_string(), "events": {"type": "array", "items": string()}, "digest": {"type": "boolean"}, "available": {"type": "array", "items": {"type": "object", "properties": {"name": string(), "description": string()}}}, "smtp_configured": {"type": "boolean"}}},
        "NeedsMe": {"type": "object", "properties": {"since": string(), "counts": {"type": "object", "properties": {"invitations": {"type": "integer"}, "registrations_to_decide": {"type": "integer"}, "registrations_waiting": {"type": "integer"}, "overdue": {"type": "integer"}, "new_overlaps": {"type": "integer"}, "deals_changed": {"type": "integer"}, "total": {"type": "integer"}}}, "invitations": {"type": "array", "items": {"$ref": "#/components/schemas/InboxItem"}}, "registrations_to_decide": {"type": "array", "items": {"type": "object"}}, "registrations_waiting": {"type": "array", "items": {"type": "object"}}, "overdue": {"type": "array", "items": {"type": "object"}}, "new_overlaps": {"type": "array", "items": {"type": "object", "properties": {"partner": string(), "partner_name": string(), "computed_at": string(), "accounts": {"type": "integer"}}}}, "deals_changed": {"type": "array", "items": {"type": "object", "properties": {"deal_id": string(), "name": nullable_string(), "by": {"type": "array", "items": string()}, "changes": {"type": "integer"}, "last_change_at": string(), "last_change": string()}}}}},
        "RegistrationChange": {"type": "object", "description": "Absent keeps, null clears; account_domain, vendor and notes cannot change", "properties": {"account_name": string(), "amount": string(), "currency": string(), "close_date": string(), "products": {"type": "array", "items": string()}}},
        "RegistrationInput": {"type": "object", "additionalProperties": false, "required": ["vendor", "account_name", "account_domain"], "properties": {"vendor": string(), "account_name": string(), "account_domain": string(), "amount": string(), "currency": string(), "close_date": string(), "products": {"type": "array", "items": string()}, "notes": string(), "role": string()}},
        "Registration": {"type": "object", "properties": {"id": string(), "partner": string(), "partner_name": string(), "vendor": string(), "vendor_name": string(), "account_name": nullable_string(), "account_domain": nullable_string(), "amount": nullable_string(), "currency": nullable_string(), "close_date": nullable_string(), "products": {"type": "array", "items": string()}, "notes": nullable_string(), "status": {"type": "string", "enum": ["pending", "approved", "rejected", "expired"]}, "decided_terms": {"type": ["object", "null"], "description": "the terms the vendor decided on", "properties": {"account_name": nullable_string(), "amount": nullable_string(), "currency": nullable_string(), "close_date": nullable_string(), "products": {"type": "array", "items": string()}}}, "changed_after_decision": {"type": "boolean", "description": "the partner changed the terms while the decision was on its way; the decision does not cover them"}, "submitted_at": string(), "respond_by": string(), "decided_at": nullable_string(), "expires_at": nullable_string(), "reason": nullable_string(), "overdue": {"type": "boolean"}, "conflicts": {"type": "array", "items": {"type": "object"}, "description": "only on the vendor's node"}}},
        "RegistrationPage": page("Registration"),
        "RejectInput": {"type": "object", "additionalProperties": false, "required": ["reason"], "properties": {"reason": string()}},
        "SectionInput": {"type": "object", "additionalProperties": false, "properties": {"note": string(), "notes": {"type": "array", "items": string()}, "next_step": string(), "contacts": {"type": "array", "items": string()}, "contribution": string(), "stage": stage, "linked_opportunity": nullable_string()}},
        "ProposeInput": {"type": "object", "additionalProperties": false, "required": ["domain"], "properties": {"domain": string(), "opportunity_id": string()}},
        "MappingCell": {"type": "object", "required": ["mine", "theirs", "level", "count", "overlaps"], "properties": {"mine": string(), "theirs": string(), "level": {"type": "string", "enum": ["hidden", "counts", "overlaps", "all"]}, "count": {"type": ["integer", "null"]}, "overlaps": {"type": "array", "items": {"type": "object", "properties": {"account_id": string(), "name": string(), "domain": string(), "opportunity_ids": {"type": "array", "items": string()}, "partner": {"type": "object", "description": "the partner's fields its policy allows"}}}}, "partner_accounts": {"type": "array", "items": {"type": "object"}}, "my_level": string(), "their_level": string(), "buckets": {"type": "array", "items": {"type": "integer"}}}},
        "MappingMatrix": {"type": "object", "required": ["partner", "computed_at", "cells"], "properties": {"partner": string(), "partner_name": string(), "computed_at": string(), "initiated_by": {"type": "string", "enum": ["me", "partner"]}, "cells": {"type": "array", "items": {"$ref": "#/components/schemas/MappingCell"}}, "signature": {"type": "string", "description": "ed25519 over the matrix JSON, hex"}, "signer": string()}},
        "Population": {"type": "object", "required": ["name"], "properties": {"name": string(), "statuses": {"type": "array", "items": status}, "industries": {"type": "array", "items": string()}, "countries": {"type": "array", "items": string()}, "tags": {"type": "array", "items": string()}, "stages": {"type": "array", "items": stage}, "builtin": {"type": "boolean"}}},
        "PopulationPage": page("Population"),
        "AuditEntry": {"type": "object", "properties": {"seq": {"type": "integer"}, "at": string(), "kind": {"type": "string", "enum": ["share", "share_update", "policy", "partner", "rejected", "mapping", "registration", "access", "record", "withdraw", "erasure"]}, "peer": nullable_string(), "actor": nullable_string(), "summary": string(), "details": {"type": "object"}}},
        "AuditPage": page("AuditEntry"),
    })
}

/// The OpenAPI 3.1 document.
pub fn document() -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for r in ROUTES {
        let success = match (r.response.0, r.response.1) {
            (204, _) => json!({"description": "success, no body"}),
            (_, "EventStream") => {
                json!({"description": "success", "content": {"text/event-stream": {"schema": {"$ref": "#/components/schemas/EventStream"}}}})
            }
            (_, schema) => {
                json!({"description": "success", "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}})
            }
        };
        let mut op = json!({
            "summary": r.summary,
            "responses": {
                r.response.0.to_string(): success,
                "default": {"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            },
        });
        if let Some(role) = r.role {
            op["security"] = json!([{"bearer": []}]);
            op["x-role"] = json!(role);
        } else {
            op["security"] = json!([]);
        }
        if let Some((content_type, schema)) = r.request {
            op["requestBody"] = json!({"required": true, "content": {content_type: {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}});
        }
        let params: Vec<Value> = r
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
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
            ("deals", include_str!("deals.rs")),
            ("inbox", include_str!("inbox.rs")),
            ("registrations", include_str!("registrations.rs")),
            ("audit", include_str!("audit.rs")),
            ("webhooks", include_str!("webhooks.rs")),
            ("session", include_str!("session.rs")),
            ("workday", include_str!("workday.rs")),
            ("openapi", include_str!("openapi.rs")),
            ("backup", include_str!("backup.rs")),
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
            ("get", "/deals", &["stage", "partner", "limit", "cursor"]),
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
