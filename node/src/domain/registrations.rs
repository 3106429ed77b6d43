//! Deal registration: a partner registers an account with a vendor partner; the vendor approves
//! (the partner is protected for a window) or rejects with a reason.
//!
//! A registration is a small signed document of its own (kind [`KIND_REGISTRATION`]), made by
//! the partner with the vendor as its one other participant: its shared fields hold what the
//! partner registers (account, amount, close date, products), its registration slot the
//! partner's signed claim (whose time decides who was first) and the vendor's signed decision.
//! It travels and is verified like any deal document.
//!
//! Invariant: conflicts (the vendor's own open opportunities on the account, other partners'
//! earlier registrations on it) are computed on the vendor's node when it reads a registration
//! and are never written into any document, so they never reach a partner: they name other
//! partners.

use crate::domain::audit;
use crate::domain::deals::{Deals, DealsError, DocKind, Windows, KIND_KEY, KIND_REGISTRATION};
use crate::domain::partners;
use crate::net::NetHandle;
use anyhow::anyhow;
use protocol::deal::{DealDoc, DealId, DealView, Decision, Invite, RegistrationStatus, Role};
use protocol::deal::{SharedField, SharedFields, VerifiedChange};
use protocol::identity::NodeId;
use protocol::limits::FIELD_BYTES_MAX;
use protocol::records::{clean_text, Amount, Currency, Date, Domain, NAME_CHARS_MAX};
use redb::TableDefinition;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// Shared-field key of the products registered (comma-separated).
pub const PRODUCTS_KEY: &str = "products";

/// What a partner registers (`POST /api/v1/registrations`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrationInput {
    /// The vendor partner: node id or unique partner name.
    pub vendor: String,
    pub account_name: String,
    pub account_domain: String,
    /// A decimal string or a JSON number (`"1200.50"`, `1200.5`), as a change takes it.
    #[serde(default, deserialize_with = "text_or_number")]
    pub amount: Option<String>,
    pub currency: Option<String>,
    pub close_date: Option<String>,
    #[serde(default)]
    pub products: Vec<String>,
    pub notes: Option<String>,
    /// This node's role towards the vendor (default reseller).
    pub role: Option<String>,
}

/// A JSON string or number as text (`null` and absent are `None`).
fn text_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(serde::de::Error::custom(format!(
            "must be a string or a number, not {other}"
        ))),
    }
}

/// One registration as read on this node.
#[derive(Debug, Clone)]
struct Record {
    id: DealId,
    partner: NodeId,
    partner_name: String,
    vendor: NodeId,
    vendor_name: String,
    account_name: Option<String>,
    domain: Option<String>,
    amount: Option<String>,
    currency: Option<String>,
    close_date: Option<String>,
    products: Vec<String>,
    notes: Option<String>,
    submitted_at: u64,
    status: &'static str,
    decided_at: Option<u64>,
    expires_at: Option<u64>,
    reason: Option<String>,
    overdue: bool,
    respond_by: u64,
    /// The terms the vendor decided on ([`terms_of`]), when its decision recorded them.
    decided_terms: Option<BTreeMap<String, String>>,
    /// The terms differ from those the vendor decided on: the partner changed them while the
    /// decision was on its way (offline, or a partition). The decision does not cover them; the
    /// vendor may decide again.
    changed_after_decision: bool,
}

impl Record {
    /// What the partner registered, as a decision records it: each term present, as text.
    fn terms(&self) -> BTreeMap<String, String> {
        let products = (!self.products.is_empty()).then(|| self.products.join(", "));
        [
            ("account_name", &self.account_name),
            ("amount", &self.amount),
            ("currency", &self.currency),
            ("close_date", &self.close_date),
            ("products", &products),
        ]
        .into_iter()
        .filter_map(|(field, value)| Some((field.to_string(), value.clone()?)))
        .collect()
    }

    /// The terms a renewal records: the ones decided before (a renewal is no new decision, so it
    /// must not cover a change made since), else — a decision without terms — the current ones.
    fn terms_to_renew(&self) -> BTreeMap<String, String> {
        self.decided_terms.clone().unwrap_or_else(|| self.terms())
    }
}

/// The terms in the API's shape: `products` as a list, as on the registration itself.
fn terms_json(terms: &BTreeMap<String, String>) -> Value {
    let mut out = serde_json::Map::new();
    for field in ["account_name", "amount", "currency", "close_date"] {
        out.insert(field.into(), json!(terms.get(field)));
    }
    let products: Vec<&str> = terms
        .get("products")
        .map(|p| p.split(", ").collect())
        .unwrap_or_default();
    out.insert("products".into(), json!(products));
    Value::Object(out)
}

fn invalid(m: impl Into<String>) -> DealsError {
    DealsError::Invalid(m.into())
}

/// The value, or `None` with `field`'s problem recorded.
fn checked<T>(
    problems: &mut Vec<(&'static str, String)>,
    field: &'static str,
    result: Result<T, protocol::records::ValueError>,
) -> Option<T> {
    result
        .map_err(|e| problems.push((field, e.message().to_string())))
        .ok()
}

/// An optional field: `None` when absent or blank, else parsed by `parse` (see [`checked`]).
fn optional<T>(
    problems: &mut Vec<(&'static str, String)>,
    field: &'static str,
    value: Option<&str>,
    parse: fn(&str) -> Result<T, protocol::records::ValueError>,
) -> Option<T> {
    let value = value.filter(|v| !v.trim().is_empty())?;
    checked(problems, field, parse(value))
}

/// The account name as registered: cleaned and bounded as an account's name
/// ([`NAME_CHARS_MAX`]); `None` (with the problem recorded) when it is not a name, or empty.
fn registered_name(problems: &mut Vec<(&'static str, String)>, raw: &str) -> Option<String> {
    clean_text("account_name", Some(raw), NAME_CHARS_MAX)
        .map_err(|e| problems.push(("account_name", e.message)))
        .ok()
        .flatten()
}

/// The claim's notes travel in the deal document, whose text fields hold
/// [`FIELD_BYTES_MAX`] bytes: a longer note is refused here, by name, not by the document.
fn check_notes(problems: &mut Vec<(&'static str, String)>, notes: &str) {
    if notes.trim().len() > FIELD_BYTES_MAX {
        problems.push((
            "notes",
            format!(
                "is {} bytes long; notes may hold {FIELD_BYTES_MAX} bytes (about {} Latin characters)",
                notes.trim().len(),
                FIELD_BYTES_MAX / 1000 * 1000
            ),
        ));
    }
}

/// Registers an account with a vendor partner; returns the registration id.
pub fn submit(
    deals: &Deals,
    input: &RegistrationInput,
    default_currency: Currency,
    now_ms: u64,
) -> Result<DealId, DealsError> {
    let store = deals.store().clone();
    let vendor = partners::resolve(&store, &input.vendor)
        .map_err(|e| DealsError::NotFound(e.to_string()))?;
    if !vendor.is_active() {
        return Err(invalid(format!("{} is no longer a partner", vendor.name)));
    }
    let vendor_id = NodeId::parse(&vendor.id).map_err(|e| anyhow!("partner id: {e}"))?;
    // Every bad field is named at once, as the record routes do.
    let mut problems: Vec<(&'static str, String)> = Vec::new();
    let account_name = registered_name(&mut problems, &input.account_name).unwrap_or_default();
    let account_name = account_name.as_str();
    if input.account_name.trim().is_empty() {
        problems.push(("account_name", "is required".into()));
    }
    if let Some(n) = input.notes.as_deref() {
        check_notes(&mut problems, n);
    }
    let domain = checked(
        &mut problems,
        "account_domain",
        Domain::parse_company(&input.account_domain),
    );
    let amount = optional(
        &mut problems,
        "amount",
        input.amount.as_deref(),
        Amount::parse,
    );
    let currency = optional(
        &mut problems,
        "currency",
        input.currency.as_deref(),
        Currency::parse,
    )
    .unwrap_or(default_currency);
    let close_date = optional(
        &mut problems,
        "close_date",
        input.close_date.as_deref(),
        Date::parse,
    );
    let Some(domain) = domain.filter(|_| problems.is_empty()) else {
        return Err(DealsError::fields(problems));
    };
    if let Some(held) = records(deals, now_ms).into_iter().find(|r| {
        &r.partner == deals.me()
            && r.vendor == vendor_id
            && r.domain.as_deref() == Some(domain.as_str())
            && (r.status == "pending" || r.status == "approved")
    }) {
        return Err(DealsError::Conflict(format!(
            "{} is already registered with {} (registration {}, {}): a second registration of the same account is refused while one is pending or approved",
            domain.as_str(),
            vendor.name,
            held.id,
            held.status
        )));
    }
    let role = match input.role.as_deref() {
        None => Role::Reseller,
        Some(r) => Role::parse(r).map_err(|e| DealsError::fields(vec![("role", e.to_string())]))?,
    };
    if role == Role::Vendor {
        return Err(invalid(
            "a registration is made by a partner of the vendor, not as vendor",
        ));
    }
    let products: Vec<String> = input
        .products
        .iter()
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect();
    let mut shared = SharedFields {
        title: Some(account_name.to_string()),
        amount,
        currency: amount.map(|_| currency),
        close_date,
        account_name: Some(account_name.to_string()),
        account_domain: Some(domain.clone()),
        ..SharedFields::default()
    };
    shared
        .other
        .insert(KIND_KEY.into(), Some(KIND_REGISTRATION.into()));
    if !products.is_empty() {
        shared
            .other
            .insert(PRODUCTS_KEY.into(), Some(products.join(", ")));
    }
    let signer = deals.signer();
    let invite = Invite {
        node: vendor_id.clone(),
        name: vendor.name.clone(),
        role: Role::Vendor,
    };
    let (mut doc, genesis) =
        DealDoc::create(signer, now_ms, deals.name(), role, &[invite], &shared)
            .map_err(|e| invalid(e.to_string()))?;
    let notes = input
        .notes
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    let claim = doc
        .register(signer, now_ms, &vendor_id, notes)
        .map_err(|e| invalid(e.to_string()))?;
    let changes: Vec<VerifiedChange> = vec![genesis, claim];
    let id = doc.id();
    deals.add_document(
        doc,
        &changes,
        now_ms,
        Some((
            audit::kind::SHARE,
            Some(vendor.id.as_str()),
            format!(
                "registered {} ({}) with {} as registration {id}",
                account_name,
                domain.as_str(),
                vendor.name
            ),
            json!({"registration": id.to_string(), "account_domain": domain.as_str(),
                   "fields": ["account.name", "account.domain", "amount", "currency", "close_date", "products", "notes"]}),
        )),
    )
}

/// What the partner may change in its pending registration (`PATCH /registrations/{id}`): a
/// key that is absent keeps its value, `null` clears it. The account's domain and the vendor are
/// what was registered, so they cannot change (a different account is a new registration), and
/// neither can the claim's notes or time: the time decides who registered first.
#[derive(Debug, Clone, Default)]
pub struct RegistrationChange {
    pub account_name: Option<Option<String>>,
    pub amount: Option<Option<String>>,
    pub currency: Option<Option<String>>,
    pub close_date: Option<Option<String>>,
    pub products: Option<Option<Vec<String>>>,
    /// Refused when present (see the type's doc); named so the refusal can say why.
    pub account_domain: Option<Value>,
    /// Refused when present, as `account_domain`.
    pub vendor: Option<Value>,
    /// Refused when present, as `account_domain`.
    pub notes: Option<Value>,
    /// What [`Self::from_json`] found wrong with the body's shape (a value of the wrong type,
    /// an unknown key), reported with the values' own problems.
    pub problems: Vec<(String, String)>,
}

impl RegistrationChange {
    /// Reads a PATCH body key by key, so a value of the wrong type is named together with every
    /// other problem of the request (one deserialization error would hide the rest).
    pub fn from_json(body: &serde_json::Map<String, Value>) -> Self {
        let mut change = RegistrationChange::default();
        let mut problems = Vec::new();
        let text = |problems: &mut Vec<(String, String)>, field: &str, value: &Value| match value {
            Value::Null => Some(None),
            Value::String(s) => Some(Some(s.clone())),
            Value::Number(n) if field == "amount" => Some(Some(n.to_string())),
            other => {
                problems.push((
                    field.to_string(),
                    format!("must be a string or null, not {other}"),
                ));
                None
            }
        };
        for (key, value) in body {
            match key.as_str() {
                "account_name" => change.account_name = text(&mut problems, key, value),
                "amount" => change.amount = text(&mut problems, key, value),
                "currency" => change.currency = text(&mut problems, key, value),
                "close_date" => change.close_date = text(&mut problems, key, value),
                "products" => {
                    change.products = match value {
                        Value::Null => Some(None),
                        Value::Array(items) if items.iter().all(Value::is_string) => Some(Some(
                            items.iter().filter_map(Value::as_str).map(str::to_string).collect(),
                        )),
                        other => {
                            problems.push((
                                "products".into(),
                                format!("must be a list of strings or null, not {other}"),
                            ));
                            None
                        }
                    }
                }
                "account_domain" => change.account_domain = Some(value.clone()),
                "vendor" => change.vendor = Some(value.clone()),
                "notes" => change.notes = Some(value.clone()),
                other => problems.push((
                    other.to_string(),
                    "is not a field of a registration change (account_name, amount, currency, close_date, products)".into(),
                )),
            }
        }
        change.problems = problems;
        change
    }
}

/// The partner changes its pending registration: every bad field is named at once; a
/// registration the vendor decided is 409 (submit a new one). Returns the registration.
pub fn change(
    deals: &Deals,
    id: DealId,
    change: &RegistrationChange,
    default_currency: Currency,
    now: u64,
) -> Result<Value, DealsError> {
    let r = records(deals, now)
        .into_iter()
        .find(|r| r.id == id)
        .ok_or_else(|| DealsError::NotFound(format!("no registration with id {id}")))?;
    if &r.partner != deals.me() {
        return Err(DealsError::Forbidden(
            "only the partner that made a registration changes it; the vendor approves or rejects it"
                .into(),
        ));
    }
    still_partners(deals, &r.vendor, &r.vendor_name, id)?;
    if r.status != "pending" {
        return Err(DealsError::Conflict(format!(
            "registration {id} is {}: only a pending registration changes; submit a new one",
            r.status
        )));
    }
    let mut problems: Vec<(&'static str, String)> = Vec::new();
    for (field, given) in [
        ("account_domain", &change.account_domain),
        ("vendor", &change.vendor),
        ("notes", &change.notes),
    ] {
        if given.is_some() {
            problems.push((
                field,
                "cannot change: it is part of what was registered (submit a new registration)"
                    .into(),
            ));
        }
    }
    let mut update = SharedFields::default();
    match &change.account_name {
        None => {}
        Some(Some(n)) if !n.trim().is_empty() => {
            if let Some(n) = registered_name(&mut problems, n) {
                update.title = Some(n.clone());
                update.account_name = Some(n);
            }
        }
        Some(_) => problems.push(("account_name", "must not be empty".into())),
    }
    match &change.amount {
        None => {}
        Some(Some(a)) if !a.trim().is_empty() => {
            update.amount = checked(&mut problems, "amount", Amount::parse(a));
        }
        Some(_) => {
            update.clear.insert(SharedField::Amount);
            update.clear.insert(SharedField::Currency);
        }
    }
    let amount_after = match &change.amount {
        None => r.amount.is_some(),
        Some(_) => update.amount.is_some(),
    };
    match &change.currency {
        Some(Some(c)) if !c.trim().is_empty() => {
            let currency = checked(&mut problems, "currency", Currency::parse(c));
            if amount_after {
                update.currency = currency;
            }
        }
        Some(_) if amount_after => problems.push((
            "currency",
            "must not be empty while the registration has an amount".into(),
        )),
        _ if update.amount.is_some() && r.currency.is_none() => {
            update.currency = Some(default_currency);
        }
        _ => {}
    }
    match &change.close_date {
        None => {}
        Some(Some(d)) if !d.trim().is_empty() => {
            update.close_date = checked(&mut problems, "close_date", Date::parse(d));
        }
        Some(_) => {
            update.clear.insert(SharedField::CloseDate);
        }
    }
    if let Some(products) = &change.products {
        let products: Vec<&str> = products
            .iter()
            .flatten()
            .map(|p| p.trim())
            .filter(|p| !p.is_empty())
            .collect();
        let value = (!products.is_empty()).then(|| products.join(", "));
        update.other.insert(PRODUCTS_KEY.into(), value);
    }
    if !problems.is_empty() || !change.problems.is_empty() {
        let mut all = change.problems.clone();
        all.extend(problems.into_iter().map(|(f, m)| (f.to_string(), m)));
        all.sort_by(|a, b| a.0.cmp(&b.0));
        return Err(DealsError::InvalidFields(all));
    }
    if update != SharedFields::default() {
        deals.edit(id, now, |doc, signer| doc.set_shared(signer, now, &update))?;
        let fields: Vec<&str> = [
            ("account_name", &change.account_name.is_some()),
            ("amount", &change.amount.is_some()),
            ("currency", &change.currency.is_some()),
            ("close_date", &change.close_date.is_some()),
            ("products", &change.products.is_some()),
        ]
        .into_iter()
        .filter(|(_, given)| **given)
        .map(|(f, _)| f)
        .collect();
        audit::record(
            deals.store(),
            now,
            audit::kind::SHARE_UPDATE,
            Some(r.vendor.as_str()),
            format!(
                "changed registration {id} with {}: {}",
                r.vendor_name,
                fields.join(", ")
            ),
            json!({"registration": id.to_string(), "fields": fields}),
        )?;
    }
    Ok(get(deals, id, now)?.unwrap_or(Value::Null))
}

fn record_of(id: DealId, view: &DealView, windows: &Windows, now: u64) -> Option<Record> {
    let partner = view.origin.clone()?;
    let claim = view.registration.claims.get(&partner)?;
    let vendor = claim.vendor.clone()?;
    let submitted_at = claim.registered_at_ms.or(view.created_at_ms).unwrap_or(0);
    let decision = view
        .registration
        .decisions
        .get(&vendor)
        .filter(|d| d.registrant.as_ref() == Some(&partner));
    let (mut status, decided_at, expires_at, reason, decided_terms) = match decision {
        None => ("pending", None, None, None, None),
        Some(d) => (
            d.status.unwrap_or(RegistrationStatus::Pending).as_str(),
            d.decided_at_ms,
            d.expires_at_ms,
            d.reason.clone(),
            d.terms.clone(),
        ),
    };
    if status == "approved" && expires_at.is_some_and(|e| now >= e) {
        status = "expired";
    }
    let respond_by = submitted_at.saturating_add(windows.registration_sla_ms);
    let name_of = |n: &NodeId| {
        view.participants
            .get(n)
            .map(|p| p.name.clone())
            .unwrap_or_default()
    };
    let s = &view.shared;
    let mut record = Record {
        id,
        partner_name: name_of(&partner),
        vendor_name: name_of(&vendor),
        partner,
        vendor,
        account_name: s.account_name.clone(),
        domain: s.account_domain.as_ref().map(|d| d.as_str().to_string()),
        amount: s.amount.map(|a| a.to_string()),
        currency: s.currency.map(|c| c.as_str().to_string()),
        close_date: s.close_date.map(|d| d.to_string()),
        products: s
            .other
            .get(PRODUCTS_KEY)
            .map(|p| p.split(", ").map(str::to_string).collect())
            .unwrap_or_default(),
        notes: claim.notes.clone(),
        submitted_at,
        status,
        decided_at,
        expires_at,
        reason,
        overdue: status == "pending" && now >= respond_by,
        respond_by,
        decided_terms,
        changed_after_decision: false,
    };
    record.changed_after_decision = record
        .decided_terms
        .as_ref()
        .is_some_and(|decided| *decided != record.terms());
    Some(record)
}

/// Every registration held here (made here or made for this vendor), oldest first.
fn records(deals: &Deals, now: u64) -> Vec<Record> {
    let windows = deals.windows();
    let views: Vec<(DealId, DealView)> = {
        let inner = deals.lock();
        inner
            .info
            .iter()
            .filter(|(_, i)| i.kind == DocKind::Registration)
            .filter_map(|(id, _)| inner.docs.get(id).map(|d| (*id, d.read_view())))
            .collect()
    };
    let mut out: Vec<Record> = views
        .iter()
        .filter_map(|(id, v)| record_of(*id, v, &windows, now))
        .collect();
    out.sort_by_key(|r| (r.submitted_at, r.id));
    out
}

/// The vendor's open opportunities per account domain, for the domains asked.
fn open_opportunities(
    deals: &Deals,
    domains: &HashSet<String>,
) -> anyhow::Result<BTreeMap<String, Vec<Value>>> {
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    if domains.is_empty() {
        return Ok(out);
    }
    deals
        .store()
        .for_each_opportunity_with_account(|opp, account| {
            if let Some(d) = &account.domain {
                if opp.stage.is_open() && domains.contains(d.as_str()) {
                    out.entry(d.as_str().to_string()).or_default().push(json!({
                        "kind": "opportunity",
                        "opportunity_id": opp.id,
                        "name": opp.name,
                        "stage": opp.stage.as_str(),
                        "owner": opp.owner,
                    }));
                }
            }
            true
        })?;
    Ok(out)
}

/// The conflicts of `r` as its vendor sees them: the vendor's own open opportunities on the
/// account, and other partners' registrations on it that came first and still hold (pending
/// within the protection window, or approved and not expired).
fn conflicts_of(
    r: &Record,
    all: &[Record],
    own: &BTreeMap<String, Vec<Value>>,
    windows: &Windows,
    now: u64,
) -> Vec<Value> {
    let mut out = Vec::new();
    let Some(domain) = &r.domain else {
        return out;
    };
    out.extend(own.get(domain).cloned().unwrap_or_default());
    for other in all {
        let earlier = (other.submitted_at, other.id) < (r.submitted_at, r.id);
        // A later registration holds too once approved (it was decided while this one was on
        // its way): two partners must not both hold the account.
        if other.id == r.id
            || other.vendor != r.vendor
            || other.domain.as_ref() != Some(domain)
            || (!earlier && other.status != "approved")
        {
            continue;
        }
        let holds = match other.status {
            "pending" => {
                now < other
                    .submitted_at
                    .saturating_add(windows.registration_protection_ms)
            }
            "approved" => true,
            _ => false,
        };
        if holds {
            // The same partner registering the account again (its node refuses that; an older
            // or modified node may not) is a duplicate, not a competing claim.
            let kind = if other.partner == r.partner {
                "duplicate"
            } else {
                "registration"
            };
            out.push(json!({
                "kind": kind,
                "registration_id": other.id.to_string(),
                "partner": other.partner.to_string(),
                "partner_name": other.partner_name,
                "status": other.status,
                "submitted_at": audit::rfc3339(other.submitted_at),
                "first": earlier,
            }));
        }
    }
    out
}

fn record_json(r: &Record, conflicts: Option<Vec<Value>>) -> Value {
    let mut v = json!({
        "id": r.id.to_string(),
        "partner": r.partner.to_string(),
        "partner_name": r.partner_name,
        "vendor": r.vendor.to_string(),
        "vendor_name": r.vendor_name,
        "account_name": r.account_name,
        "account_domain": r.domain,
        "amount": r.amount,
        "currency": r.currency,
        "close_date": r.close_date,
        "products": r.products,
        "notes": r.notes,
        "status": r.status,
        "submitted_at": audit::rfc3339(r.submitted_at),
        "respond_by": audit::rfc3339(r.respond_by),
        "decided_at": r.decided_at.map(audit::rfc3339),
        "expires_at": r.expires_at.map(audit::rfc3339),
        "reason": r.reason,
        "overdue": r.overdue,
        "decided_terms": r.decided_terms.as_ref().map(terms_json),
        "changed_after_decision": r.changed_after_decision,
    });
    if let Some(c) = conflicts {
        v["conflicts"] = Value::Array(c);
    }
    v
}

/// Every registration in the API's shape (`conflicts` only on those this node is vendor of),
/// newest first.
pub fn list(deals: &Deals, now: u64) -> Result<Vec<Value>, PageError> {
    Ok(page(deals, None, usize::MAX, now)?.0)
}

/// Why a page cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("cursor '{0}' is not valid")]
    Cursor(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// One page of [`list`]: at most `limit` registrations after `cursor`, and the next page's
/// cursor (`None` on the last). A cursor is `<submitted at ms>-<id>` of the last item.
pub fn page(
    deals: &Deals,
    cursor: Option<&str>,
    limit: usize,
    now: u64,
) -> Result<(Vec<Value>, Option<String>), PageError> {
    let after = cursor
        .map(|c| {
            c.split_once('-')
                .and_then(|(at, id)| Some((at.parse::<u64>().ok()?, DealId::parse(id).ok()?)))
                .ok_or_else(|| PageError::Cursor(c.to_string()))
        })
        .transpose()?;
    let all = records(deals, now);
    let mut chosen: Vec<&Record> = all
        .iter()
        .rev()
        .filter(|r| after.is_none_or(|a| (r.submitted_at, r.id) < a))
        .take(limit.saturating_add(1))
        .collect();
    let more = chosen.len() > limit;
    chosen.truncate(limit);
    let next = if more {
        chosen
            .last()
            .map(|r| format!("{}-{}", r.submitted_at, r.id))
    } else {
        None
    };
    let me = deals.me().clone();
    let domains: HashSet<String> = all
        .iter()
        .filter(|r| r.vendor == me)
        .filter_map(|r| r.domain.clone())
        .collect();
    let own = open_opportunities(deals, &domains)?;
    let windows = deals.windows();
    let items = chosen
        .into_iter()
        .map(|r| {
            let conflicts = (r.vendor == me).then(|| conflicts_of(r, &all, &own, &windows, now));
            record_json(r, conflicts)
        })
        .collect();
    Ok((items, next))
}

/// One registration, or `None`.
pub fn get(deals: &Deals, id: DealId, now: u64) -> anyhow::Result<Option<Value>> {
    let all = records(deals, now);
    let Some(r) = all.iter().find(|r| r.id == id) else {
        return Ok(None);
    };
    let conflicts = if &r.vendor == deals.me() {
        let domains: HashSet<String> = r.domain.iter().cloned().collect();
        let own = open_opportunities(deals, &domains)?;
        Some(conflicts_of(r, &all, &own, &deals.windows(), now))
    } else {
        None
    };
    Ok(Some(record_json(r, conflicts)))
}

fn vendor_record(deals: &Deals, id: DealId, now: u64) -> Result<(Record, Vec<Record>), DealsError> {
    let all = records(deals, now);
    let r = all
        .iter()
        .find(|r| r.id == id)
        .cloned()
        .ok_or_else(|| DealsError::NotFound(format!("no registration with id {id}")))?;
    if &r.vendor != deals.me() {
        return Err(DealsError::Forbidden(
            "only the vendor a registration was made with decides it".into(),
        ));
    }
    still_partners(deals, &r.partner, &r.partner_name, id)?;
    Ok((r, all))
}

/// Refuses to act on a registration with a node that is no partner any more: the decision or
/// change could not reach it, and the two nodes would disagree for good.
fn still_partners(deals: &Deals, other: &NodeId, name: &str, id: DealId) -> Result<(), DealsError> {
    let ended = crate::store::shared::partner(deals.store(), other.as_str())?
        .is_some_and(|p| !p.is_active());
    if ended {
        return Err(DealsError::Conflict(format!(
            "{name} is no longer a partner, so registration {id} cannot change any more"
        )));
    }
    Ok(())
}

/// The vendor approves the terms in front of it: the partner is protected for the protection
/// window from now. Approving an approved registration again renews the window (activity on the
/// deal), and approves terms the partner changed after the decision. A rejected registration is
/// approved only when its terms changed after the rejection. Refused while another partner's
/// earlier registration on the account holds: the first to register wins.
pub fn approve(deals: &Deals, id: DealId, now: u64) -> Result<Value, DealsError> {
    let (r, all) = vendor_record(deals, id, now)?;
    if r.status == "rejected" && !r.changed_after_decision {
        return Err(invalid(format!("registration {id} was rejected")));
    }
    let windows = deals.windows();
    let earlier: Vec<Value> = conflicts_of(&r, &all, &BTreeMap::new(), &windows, now);
    if let Some(first) = earlier.first().filter(|c| c["kind"] == "duplicate") {
        return Err(DealsError::Conflict(format!(
            "{} already registered {} (registration {}, {}): this one is a duplicate; reject it",
            r.partner_name,
            r.domain.as_deref().unwrap_or("this account"),
            first["registration_id"].as_str().unwrap_or(""),
            first["status"].as_str().unwrap_or(""),
        )));
    }
    if let Some(held) = earlier
        .iter()
        .find(|c| c["first"] == false && c["status"] == "approved")
    {
        return Err(DealsError::Conflict(format!(
            "{} holds an approved registration of {} (registration {}): one partner holds an account at a time; reject this one, or wait until that one expires",
            held["partner_name"].as_str().unwrap_or("another partner"),
            r.domain.as_deref().unwrap_or("this account"),
            held["registration_id"].as_str().unwrap_or(""),
        )));
    }
    if let Some(first) = earlier.first() {
        return Err(DealsError::Conflict(format!(
            "{} registered {} first (registration {}, {}): the first to register wins; reject this one, or decide that one first",
            first["partner_name"].as_str().unwrap_or("another partner"),
            r.domain.as_deref().unwrap_or("this account"),
            first["registration_id"].as_str().unwrap_or(""),
            first["status"].as_str().unwrap_or(""),
        )));
    }
    let expires_at_ms = now.saturating_add(windows.registration_protection_ms);
    decide(
        deals,
        &r,
        Decision::Approved { expires_at_ms },
        r.terms(),
        now,
    )?;
    Ok(get(deals, id, now)?.unwrap_or(Value::Null))
}

/// The vendor rejects the terms in front of it, with a reason the partner sees (again only when
/// the partner changed the terms after a rejection).
pub fn reject(deals: &Deals, id: DealId, reason: &str, now: u64) -> Result<Value, DealsError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(invalid("a rejection needs a reason"));
    }
    let (r, _) = vendor_record(deals, id, now)?;
    if r.status == "rejected" && !r.changed_after_decision {
        return Err(invalid(format!("registration {id} was already rejected")));
    }
    let reason = reason.to_string();
    decide(deals, &r, Decision::Rejected { reason }, r.terms(), now)?;
    Ok(get(deals, id, now)?.unwrap_or(Value::Null))
}

/// Signs the vendor's `decision` on `r`'s claim, on `terms`.
fn decide(
    deals: &Deals,
    r: &Record,
    decision: Decision,
    terms: BTreeMap<String, String>,
    now: u64,
) -> Result<(), DealsError> {
    deals.edit(r.id, now, |doc, signer| {
        doc.decide_registration(signer, now, &r.partner, &decision, &terms)
    })
}

/// Workflow events already published, so a restart does not publish them again: key
/// `"<event kind>/<document id>"`, value when it was published (ms since the epoch).
const EVENTS_PUBLISHED: TableDefinition<&str, u64> =
    TableDefinition::new("workflow_events_published");

/// The registration workflow's background work, every quarter of the response window (within
/// 250 ms and 30 s): renews approved registrations whose deals saw activity (and offers the
/// renewals to the partners), and publishes `registration.overdue` once for each pending
/// registration past its response window (on the vendor, which owes the answer, and on the
/// partner, which waits). "Once" holds across restarts: it is recorded before it is published.
pub async fn watch(deals: Arc<Deals>, network: NetHandle) {
    loop {
        let sla = deals.windows().registration_sla_ms;
        let pause = Duration::from_millis((sla / 4).clamp(250, 30_000));
        tokio::time::sleep(pause).await;
        let engine = deals.clone();
        let pass = tokio::task::spawn_blocking(move || {
            let now = crate::clock::now_ms();
            let renewed = extend_on_activity(&engine, now).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "cannot renew registrations");
                Vec::new()
            });
            let overdue = newly_overdue(&engine, now).unwrap_or_else(|e| {
                tracing::warn!(error = %format!("{e:#}"), "cannot report overdue registrations");
                Vec::new()
            });
            let changed = newly_changed_after_decision(&engine, now).unwrap_or_else(|e| {
                tracing::warn!(error = %format!("{e:#}"), "cannot report registrations changed after their decision");
                Vec::new()
            });
            (renewed, overdue, changed)
        })
        .await;
        let Ok((renewed, overdue, changed)) = pass else {
            continue;
        };
        if !renewed.is_empty() {
            let _ = network.sync(renewed).await;
        }
        for r in overdue {
            deals.publish(
                "registration.overdue",
                json!({"id": r.id.to_string(), "partner": r.partner.to_string(),
                       "vendor": r.vendor.to_string(), "account_domain": r.domain,
                       "submitted_at": audit::rfc3339(r.submitted_at),
                       "respond_by": audit::rfc3339(r.respond_by)}),
            );
        }
        for (r, fields) in changed {
            deals.publish(
                "registration.changed_after_decision",
                json!({"id": r.id.to_string(), "partner": r.partner.to_string(),
                       "vendor": r.vendor.to_string(), "account_domain": r.domain,
                       "status": r.status, "fields": fields,
                       "decided_terms": r.decided_terms.as_ref().map(terms_json),
                       "terms": terms_json(&r.terms())}),
            );
        }
    }
}

/// The registrations whose terms changed after their decision and were not yet reported, each
/// with the fields that differ; each is recorded (once per decision and set of terms, across
/// restarts) with an audit entry in the same transaction, so the vendor's node keeps a trace of
/// terms its decision never covered, and the partner's of a change its vendor never decided on.
fn newly_changed_after_decision(
    deals: &Deals,
    now: u64,
) -> anyhow::Result<Vec<(Record, Vec<String>)>> {
    let key = |r: &Record| {
        format!(
            "registration.changed_after_decision/{}/{}/{:016x}",
            r.id,
            r.decided_at.unwrap_or(0),
            fnv1a(&r.terms())
        )
    };
    let changed: Vec<Record> = records(deals, now)
        .into_iter()
        .filter(|r| r.changed_after_decision)
        .collect();
    let changed = not_yet_published(deals.store(), changed, key)?;
    if changed.is_empty() {
        return Ok(Vec::new());
    }
    let txn = deals.store().write()?;
    let mut fresh = Vec::new();
    {
        let mut table = txn.open_table(EVENTS_PUBLISHED)?;
        for r in changed {
            table.insert(key(&r).as_str(), now)?;
            let decided = r.decided_terms.clone().unwrap_or_default();
            let current = r.terms();
            let fields: Vec<String> = decided
                .keys()
                .chain(current.keys())
                .filter(|f| decided.get(*f) != current.get(*f))
                .cloned()
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            let me = deals.me();
            let summary = if &r.vendor == me {
                format!(
                    "{} changed registration {} ({}) after it was {}: {} — the decision covers the terms before the change; approve or reject again",
                    r.partner_name,
                    r.id,
                    r.domain.as_deref().unwrap_or("no domain"),
                    r.status,
                    fields.join(", ")
                )
            } else {
                format!(
                    "registration {} with {} changed after {} {} it: {} — the decision covers the terms before the change",
                    r.id,
                    r.vendor_name,
                    r.vendor_name,
                    r.status,
                    fields.join(", ")
                )
            };
            let peer = if &r.vendor == me {
                &r.partner
            } else {
                &r.vendor
            };
            audit::record_in(
                &txn,
                now,
                audit::kind::REGISTRATION,
                Some(peer.as_str()),
                summary,
                json!({"registration": r.id.to_string(), "status": r.status, "fields": fields,
                       "decided_terms": decided, "terms": current}),
            )?;
            fresh.push((r, fields));
        }
    }
    txn.commit()?;
    Ok(fresh)
}

/// A stable 64-bit digest of a set of terms (FNV-1a), to record "reported" per set of terms.
fn fnv1a(terms: &BTreeMap<String, String>) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (field, text) in terms {
        for byte in field.bytes().chain([0]).chain(text.bytes()).chain([0]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

/// The overdue registrations not yet reported, recorded as reported.
fn newly_overdue(deals: &Deals, now: u64) -> anyhow::Result<Vec<Record>> {
    let key = |r: &Record| format!("registration.overdue/{}", r.id);
    let overdue: Vec<Record> = records(deals, now)
        .into_iter()
        .filter(|r| r.overdue)
        .collect();
    let fresh = not_yet_published(deals.store(), overdue, key)?;
    if !fresh.is_empty() {
        let txn = deals.store().write()?;
        {
            let mut table = txn.open_table(EVENTS_PUBLISHED)?;
            for r in &fresh {
                table.insert(key(r).as_str(), now)?;
            }
        }
        txn.commit()?;
    }
    Ok(fresh)
}

/// Those of `records` whose event `key` was not published yet (read only: a pass with nothing
/// new writes nothing).
fn not_yet_published(
    store: &crate::store::Store,
    records: Vec<Record>,
    key: impl Fn(&Record) -> String,
) -> anyhow::Result<Vec<Record>> {
    if records.is_empty() {
        return Ok(records);
    }
    let txn = store.read()?;
    let table = match txn.open_table(EVENTS_PUBLISHED) {
        Ok(table) => table,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(records),
        Err(e) => return Err(e.into()),
    };
    let mut fresh = Vec::new();
    for r in records {
        if table.get(key(&r).as_str())?.is_none() {
            fresh.push(r);
        }
    }
    Ok(fresh)
}

/// How much later a renewal must move an approval's expiry: a busy deal renews its
/// registration at most about once per this step, not on every change (a thousandth of the
/// protection window, between one second and one hour).
fn renewal_step_ms(windows: &Windows) -> u64 {
    (windows.registration_protection_ms / 1000).clamp(1_000, 3_600_000)
}

/// Extend-on-activity, on the vendor: an approved, unexpired registration whose partner takes
/// part in a deal on the registered account domain that changed since the last pass is
/// approved again with its protection counted from that deal's latest signed change (never
/// later than now: change times are their authors' claims). Returns the registrations renewed.
fn extend_on_activity(deals: &Deals, now: u64) -> Result<Vec<DealId>, DealsError> {
    let touched = deals.take_touched();
    if touched.is_empty() {
        return Ok(Vec::new());
    }
    let me = deals.me().clone();
    let approved: Vec<Record> = records(deals, now)
        .into_iter()
        .filter(|r| r.vendor == me && r.status == "approved")
        .collect();
    if approved.is_empty() {
        return Ok(Vec::new());
    }
    // The latest activity per (account domain, participant) among the touched deals.
    let mut activity: BTreeMap<(String, NodeId), u64> = BTreeMap::new();
    {
        let inner = deals.lock();
        for id in &touched {
            let Some(doc) = inner.docs.get(id).filter(|d| d.is_initialized()) else {
                continue;
            };
            let view = doc.read_view();
            let Some(domain) = view.shared.account_domain.as_ref() else {
                continue;
            };
            let latest = doc
                .heads()
                .iter()
                .filter_map(|h| doc.automerge().get_change_meta_by_hash(h))
                .map(|m| u64::try_from(m.timestamp).unwrap_or(0))
                .max()
                .unwrap_or(0)
                .min(now);
            for node in view.participants.keys() {
                let slot = activity
                    .entry((domain.as_str().to_string(), node.clone()))
                    .or_insert(0);
                *slot = (*slot).max(latest);
            }
        }
    }
    let windows = deals.windows();
    let mut renewed = Vec::new();
    for r in approved {
        let Some(domain) = r.domain.clone() else {
            continue;
        };
        let Some(&at) = activity.get(&(domain, r.partner.clone())) else {
            continue;
        };
        let expires_at_ms = at.saturating_add(windows.registration_protection_ms);
        let current = r.expires_at.unwrap_or(0);
        if expires_at_ms < current.saturating_add(renewal_step_ms(&windows)) {
            continue;
        }
        decide(
            deals,
            &r,
            Decision::Approved { expires_at_ms },
            r.terms_to_renew(),
            now,
        )?;
        tracing::info!(registration = %r.id, expires_at = %audit::rfc3339(expires_at_ms), "renewed on deal activity");
        renewed.push(r.id);
    }
    Ok(renewed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::deals::testing::{befriend, share_with, side, sync, Side};
    use crate::store::shared;

    fn usd() -> Currency {
        Currency::parse("USD").unwrap()
    }

    fn register(partner: &Side, vendor: &Side, now: u64) -> DealId {
        let input = RegistrationInput {
            vendor: vendor.deals.me().to_string(),
            account_name: "Acme".into(),
            account_domain: "acme.example".into(),
            amount: Some("120000".into()),
            close_date: Some("2027-06-30".into()),
            products: vec!["platform".into()],
            ..RegistrationInput::default()
        };
        submit(&partner.deals, &input, usd(), now).unwrap()
    }

    /// A vendor and a partner, and a registration (made at time 10) both hold.
    fn registered() -> (Side, Side, DealId) {
        let vendor = side(1, "Vendor");
        let partner = side(2, "Partner");
        befriend(&vendor, &partner);
        let id = register(&partner, &vendor, 10);
        sync(&vendor, &partner);
        (vendor, partner, id)
    }

    /// The partner, not having seen the vendor's decision, changes the amount at time 21; then
    /// the two meet.
    fn change_crossing_the_decision(vendor: &Side, partner: &Side, id: DealId, amount: &str) {
        change(&partner.deals, id, &amount_to(amount), usd(), 21).unwrap();
        sync(vendor, partner);
    }

    fn amount_to(amount: &str) -> RegistrationChange {
        RegistrationChange {
            amount: Some(Some(amount.into())),
            ..RegistrationChange::default()
        }
    }

    fn audit_of(side: &Side) -> Vec<shared::AuditEntry> {
        shared::audit_page(&side.store, 0, 100)
            .unwrap()
            .into_iter()
            .filter(|e| e.kind == audit::kind::REGISTRATION)
            .collect()
    }

    #[test]
    fn a_change_made_while_the_decision_was_on_its_way_is_not_covered_by_it() {
        // Goal: the vendor approves while the partner is cut off; the partner, still seeing
        // "pending", raises the amount. After they meet, both nodes show the registration
        // approved on the terms the vendor saw, flagged as changed after the decision; each node
        // keeps one audit entry of it; the vendor can approve the new terms, which clears it.
        let (vendor, partner, id) = registered();
        approve(&vendor.deals, id, 20).unwrap();
        change_crossing_the_decision(&vendor, &partner, id, "500000");

        for side in [&vendor, &partner] {
            let r = get(&side.deals, id, 22).unwrap().unwrap();
            assert_eq!(r["status"], "approved");
            assert_eq!(r["amount"], "500000");
            assert_eq!(r["changed_after_decision"], true, "{r}");
            assert_eq!(
                r["decided_terms"],
                json!({"account_name": "Acme", "amount": "120000", "currency": "USD",
                       "close_date": "2027-06-30", "products": ["platform"]})
            );
        }
        let reported = newly_changed_after_decision(&vendor.deals, 23).unwrap();
        assert_eq!(reported.len(), 1);
        assert_eq!(reported[0].1, ["amount"]);
        assert!(
            newly_changed_after_decision(&vendor.deals, 24)
                .unwrap()
                .is_empty(),
            "reported once"
        );
        let entries = audit_of(&vendor);
        assert_eq!(entries.len(), 1, "{entries:?}");
        assert!(
            entries[0].summary.contains("Partner changed registration")
                && entries[0].summary.contains("amount"),
            "{}",
            entries[0].summary
        );
        assert_eq!(entries[0].details["decided_terms"]["amount"], "120000");
        assert_eq!(entries[0].details["terms"]["amount"], "500000");
        assert_eq!(
            newly_changed_after_decision(&partner.deals, 23)
                .unwrap()
                .len(),
            1
        );
        assert_eq!(audit_of(&partner).len(), 1);

        // Approving again approves what is in front of the vendor now.
        let r = approve(&vendor.deals, id, 30).unwrap();
        assert_eq!(r["changed_after_decision"], false, "{r}");
        assert_eq!(r["decided_terms"]["amount"], "500000");
        sync(&vendor, &partner);
        let r = get(&partner.deals, id, 31).unwrap().unwrap();
        assert_eq!(r["changed_after_decision"], false, "{r}");
        assert!(newly_changed_after_decision(&vendor.deals, 32)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn a_registration_that_arrives_after_another_partners_approval_is_not_approved_too() {
        // Bug: P2 registered while the vendor was away; P1 registered later and was approved;
        // P2's registration then arrived, earlier by its claim, and approving it left two
        // partners holding one account.
        let vendor = side(1, "Vendor");
        let p1 = side(2, "P1");
        let p2 = side(3, "P2");
        befriend(&vendor, &p1);
        befriend(&vendor, &p2);
        let second = register(&p2, &vendor, 10);
        let first = register(&p1, &vendor, 20);
        sync(&vendor, &p1);
        approve(&vendor.deals, first, 30).unwrap();
        sync(&vendor, &p2);
        let refused = approve(&vendor.deals, second, 40);
        assert!(
            matches!(&refused, Err(DealsError::Conflict(m)) if m.contains("P1 holds an approved registration of acme.example")),
            "{refused:?}"
        );
        let seen = get(&vendor.deals, second, 40).unwrap().unwrap();
        let held = &seen["conflicts"][0];
        assert_eq!(
            (
                held["registration_id"].as_str(),
                held["status"].as_str(),
                held["first"].as_bool()
            ),
            (
                Some(first.to_string().as_str()),
                Some("approved"),
                Some(false)
            ),
            "{seen}"
        );
    }

    #[test]
    fn a_registration_with_a_node_that_is_no_partner_any_more_is_not_decided_or_changed() {
        // Bug: after the partnership ended, the vendor could still approve ("approved until …")
        // and the partner still change its registration, each only on its own node.
        let (vendor, partner, id) = registered();
        crate::domain::partners::remove(&vendor.store, partner.deals.me().as_str(), 15).unwrap();
        let refused = approve(&vendor.deals, id, 16);
        assert!(
            matches!(&refused, Err(DealsError::Conflict(m)) if m.contains("Partner is no longer a partner")),
            "{refused:?}"
        );
        assert!(matches!(
            reject(&vendor.deals, id, "too late", 16),
            Err(DealsError::Conflict(_))
        ));
        crate::domain::partners::ended_by_partner(&partner.store, vendor.deals.me().as_str(), 17)
            .unwrap();
        let refused = change(&partner.deals, id, &amount_to("1"), usd(), 18);
        assert!(
            matches!(&refused, Err(DealsError::Conflict(m)) if m.contains("Vendor is no longer a partner")),
            "{refused:?}"
        );
    }

    #[test]
    fn a_rejection_is_decided_again_only_when_the_terms_changed_after_it() {
        let (vendor, partner, id) = registered();
        reject(&vendor.deals, id, "not our territory", 20).unwrap();
        assert!(matches!(
            approve(&vendor.deals, id, 21),
            Err(DealsError::Invalid(m)) if m.contains("was rejected")
        ));
        change_crossing_the_decision(&vendor, &partner, id, "90000");
        let r = get(&vendor.deals, id, 22).unwrap().unwrap();
        assert_eq!(
            (r["status"].as_str(), r["changed_after_decision"].as_bool()),
            (Some("rejected"), Some(true))
        );
        let r = approve(&vendor.deals, id, 23).unwrap();
        assert_eq!(r["status"], "approved");
        assert_eq!(r["decided_terms"]["amount"], "90000");
    }

    #[test]
    fn a_renewal_on_deal_activity_keeps_the_terms_decided_not_the_ones_changed_since() {
        // Bug guarded: a renewal is a decision written again; written with the terms in front
        // of the vendor, it would silently cover a change the vendor never saw.
        let (vendor, partner, id) = registered();
        approve(&vendor.deals, id, 20).unwrap();
        change_crossing_the_decision(&vendor, &partner, id, "500000");
        // Activity on a deal on the registered account, with the partner in it, more than the
        // renewal step (an hour, for the default window) after the approval.
        let deal = share_with(&vendor, &partner, &["name", "account.domain"]);
        sync(&vendor, &partner);
        partner.deals.respond(deal, true, 4_000).unwrap();
        sync(&vendor, &partner);
        let note = protocol::deal::SectionUpdate {
            add_notes: vec!["met the buyer".into()],
            ..Default::default()
        };
        partner
            .deals
            .update_section(deal, &note, 4_000_000)
            .unwrap();
        sync(&vendor, &partner);
        let before = get(&vendor.deals, id, 5_000_000).unwrap().unwrap();

        let renewed = extend_on_activity(&vendor.deals, 5_000_000).unwrap();
        assert_eq!(renewed, [id], "the deal's activity renews the registration");
        let after = get(&vendor.deals, id, 5_000_000).unwrap().unwrap();
        assert_ne!(after["expires_at"], before["expires_at"]);
        assert_eq!(after["decided_terms"]["amount"], "120000");
        assert_eq!(after["changed_after_decision"], true, "{after}");
    }
}
