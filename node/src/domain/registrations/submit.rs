//! What the partner does: registers an account with a vendor partner, and changes its pending
//! registration. Both take typed inputs (the HTTP layer reads the request bodies); every bad
//! field is named at once.

use super::views::get;
use super::{invalid, records, still_partners, PRODUCTS_KEY};
use crate::domain::audit;
use crate::domain::deals::{Deals, DealsError, KIND_KEY, KIND_REGISTRATION};
use crate::domain::partners;
use anyhow::anyhow;
use protocol::deal::{DealDoc, DealId, Invite, Role};
use protocol::deal::{SharedField, SharedFields, VerifiedChange};
use protocol::identity::NodeId;
use protocol::limits::FIELD_BYTES_MAX;
use protocol::records::{clean_text, Amount, Currency, Date, Domain, NAME_CHARS_MAX};
use serde_json::{json, Value};

/// What a partner registers (`POST /api/v1/registrations` reads it from the request body):
/// each value as given, checked by [`submit`].
#[derive(Debug, Clone, Default)]
pub struct RegistrationInput {
    /// The vendor partner: node id or unique partner name.
    pub vendor: String,
    pub account_name: String,
    pub account_domain: String,
    /// A decimal number as text (`"1200.50"`).
    pub amount: Option<String>,
    pub currency: Option<String>,
    pub close_date: Option<String>,
    pub products: Vec<String>,
    pub notes: Option<String>,
    /// This node's role towards the vendor (default reseller).
    pub role: Option<String>,
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
            audit::AuditKind::Registration,
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
    /// Whether the request gave the account's domain, which is refused (see the type's doc):
    /// the refusal names it and says why.
    pub account_domain: bool,
    /// Whether the request gave the vendor: refused, as `account_domain`.
    pub vendor: bool,
    /// Whether the request gave the claim's notes: refused, as `account_domain`.
    pub notes: bool,
    /// What the caller found wrong reading the request (a value of the wrong type, an unknown
    /// key), each as (field, why): reported with the values' own problems, once the
    /// registration is known to be one the partner may change.
    pub problems: Vec<(String, String)>,
}

/// The partner changes its registration: every bad field is named at once. A change to a decided
/// registration asks the vendor to decide again; an ended one (expired, lapsed, revoked) is 409
/// (submit a new one). Returns the registration.
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
    // A decided registration changes too: the vendor's decision then no longer covers the
    // terms (`changed_after_decision`, flagged on both nodes) and the vendor decides again. One
    // that ended (expired, lapsed, revoked) does not: the account is free to register anew.
    if !matches!(r.status, "pending" | "approved" | "rejected") {
        return Err(DealsError::Conflict(format!(
            "registration {id} is {}: it no longer changes; submit a new registration of {}",
            r.status,
            r.domain.as_deref().unwrap_or("the account")
        )));
    }
    let mut problems: Vec<(&'static str, String)> = Vec::new();
    for (field, given) in [
        ("account_domain", &change.account_domain),
        ("vendor", &change.vendor),
        ("notes", &change.notes),
    ] {
        if *given {
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
            audit::AuditKind::Registration,
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
