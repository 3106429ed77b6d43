//! From a policy projection to a deal's shared fields: typed fields where the value parses as
//! its type, text forms of transformed values beside them, and the update that takes one set of
//! shared fields to another.

use policy::Projection;
use protocol::deal::SharedFields;
use protocol::records::{Amount, Currency, Date, Domain, Stage};
use std::collections::{BTreeMap, HashSet};

/// Turns a projection into the deal's shared fields. Typed fields take values that parse as
/// their type; transformed values (amount ranges, coarse dates) and every other field travel as
/// text under their policy name.
pub fn shared_from_projection(projection: &Projection) -> SharedFields {
    let mut s = SharedFields::default();
    for (key, value) in projection.iter() {
        let text = match value {
            policy::Value::Text(t) => t.clone(),
            policy::Value::List(l) => l.join(", "),
        };
        match key {
            "name" => s.title = Some(text),
            "stage" => match Stage::parse(&text) {
                Ok(st) => s.stage = Some(st),
                Err(_) => {
                    s.other.insert(text_form("stage").into(), Some(text));
                }
            },
            "amount" => match Amount::parse(&text) {
                Ok(a) => s.amount = Some(a),
                Err(_) => {
                    s.other.insert(text_form("amount").into(), Some(text));
                }
            },
            "currency" => match Currency::parse(&text) {
                Ok(c) => s.currency = Some(c),
                Err(_) => {
                    s.other.insert(text_form("currency").into(), Some(text));
                }
            },
            "close_date" => match Date::parse(&text) {
                Ok(d) => s.close_date = Some(d),
                Err(_) => {
                    s.other.insert(text_form("close_date").into(), Some(text));
                }
            },
            "account.name" => s.account_name = Some(text),
            "account.domain" => match Domain::parse(&text) {
                Ok(d) => s.account_domain = Some(d),
                Err(_) => {
                    s.other
                        .insert(text_form("account.domain").into(), Some(text));
                }
            },
            other => {
                s.other.insert(other.to_string(), Some(text));
            }
        }
    }
    s
}

/// Where a projected field's value goes when it is not of the field's type (a policy transform
/// made it text: `close_date = "quarter"` gives `2026-Q4`): (field, key among the shared
/// fields' other values). The typed slot stays empty.
pub(super) const TEXT_FORMS: &[(&str, &str)] = &[
    ("stage", "stage_text"),
    ("amount", "amount_range"),
    ("currency", "currency_text"),
    ("close_date", "close_period"),
    ("account.domain", "account.domain_text"),
];

/// Projected fields that are lists: they travel joined with `, ` (a tag holds no comma).
pub(super) const LIST_FIELDS: &[&str] = &["tags", "account.tags"];

/// The key a field's text form travels under (`field` is one of [`TEXT_FORMS`]).
fn text_form(field: &str) -> &'static str {
    TEXT_FORMS
        .iter()
        .find(|(f, _)| *f == field)
        .map_or("", |(_, key)| key)
}

/// The update that takes `current` to `new`: changed typed fields, changed or removed extras,
/// typed fields `new` no longer has cleared.
pub(super) fn shared_update(
    current: &protocol::deal::SharedView,
    new: &SharedFields,
) -> SharedFields {
    let mut update = typed_update(current, new);
    for (k, v) in &new.other {
        if let Some(v) = v {
            if current.other.get(k) != Some(v) {
                update.other.insert(k.clone(), Some(v.clone()));
            }
        }
    }
    for k in current.other.keys() {
        if !new.other.contains_key(k) {
            update.other.insert(k.clone(), None);
        }
    }
    update
}

/// The typed-field part of [`shared_update`]; extras are left as they are.
pub(super) fn typed_update(
    current: &protocol::deal::SharedView,
    new: &SharedFields,
) -> SharedFields {
    use protocol::deal::SharedField as F;
    let mut clear = std::collections::BTreeSet::new();
    fn changed<T: Clone + PartialEq>(
        cur: &Option<T>,
        new: &Option<T>,
        field: protocol::deal::SharedField,
        clear: &mut std::collections::BTreeSet<protocol::deal::SharedField>,
    ) -> Option<T> {
        match new {
            Some(v) if cur.as_ref() != Some(v) => Some(v.clone()),
            Some(_) => None,
            None => {
                if cur.is_some() {
                    clear.insert(field);
                }
                None
            }
        }
    }
    SharedFields {
        title: changed(&current.title, &new.title, F::Title, &mut clear),
        stage: changed(&current.stage, &new.stage, F::Stage, &mut clear),
        amount: changed(&current.amount, &new.amount, F::Amount, &mut clear),
        currency: changed(&current.currency, &new.currency, F::Currency, &mut clear),
        close_date: changed(
            &current.close_date,
            &new.close_date,
            F::CloseDate,
            &mut clear,
        ),
        account_name: changed(
            &current.account_name,
            &new.account_name,
            F::AccountName,
            &mut clear,
        ),
        account_domain: changed(
            &current.account_domain,
            &new.account_domain,
            F::AccountDomain,
            &mut clear,
        ),
        other: BTreeMap::new(),
        clear,
    }
}

/// The field names (as `deal_json` shows them) `new` adds to and removes from `current`.
pub(super) fn field_names_between(
    current: &protocol::deal::SharedView,
    new: &SharedFields,
) -> (Vec<String>, Vec<String>) {
    // `SharedView` (read) and `SharedFields` (written) name their typed fields alike.
    macro_rules! typed_present {
        ($f:expr) => {
            [
                ("name", $f.title.is_some()),
                ("stage", $f.stage.is_some()),
                ("amount", $f.amount.is_some()),
                ("currency", $f.currency.is_some()),
                ("close_date", $f.close_date.is_some()),
                ("account.name", $f.account_name.is_some()),
                ("account.domain", $f.account_domain.is_some()),
            ]
        };
    }
    let before: HashSet<String> = shared_field_names(typed_present!(current), current.other.keys());
    let after: HashSet<String> = shared_field_names(
        typed_present!(new),
        new.other
            .iter()
            .filter(|(_, v)| v.is_some())
            .map(|(k, _)| k),
    );
    let mut added: Vec<String> = after.difference(&before).cloned().collect();
    let mut removed: Vec<String> = before.difference(&after).cloned().collect();
    added.sort();
    removed.sort();
    (added, removed)
}

fn shared_field_names<'a>(
    typed: [(&str, bool); 7],
    other: impl Iterator<Item = &'a String>,
) -> HashSet<String> {
    typed
        .iter()
        .filter(|(_, present)| *present)
        .map(|(name, _)| name.to_string())
        .chain(other.cloned())
        .collect()
}
