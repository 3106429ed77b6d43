//! Projection: a local record turned into exactly what a partner may see, and the preview of a
//! whole pipeline under a policy.

use protocol::limits::FIELD_BYTES_MAX;
use protocol::records::{Account, Amount, Date, Opportunity};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::model::{AccountField, AmountTransform, DateTransform, OpportunityField, Policy};

/// The shared view of one record: field name (as in the policy, `account.name`) to value, in
/// key order, so the same record and policy always serialize to the same bytes. A field whose
/// record value is missing is absent. Serializes as a JSON object of strings and string lists.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Projection(BTreeMap<String, Value>);

/// One projected value. There are no numbers: amounts are exact decimal strings (`"1200.5"`) or
/// range labels, so no float ever carries money.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// A single value.
    Text(String),
    /// A list (tags).
    List(Vec<String>),
}

impl Projection {
    /// The value of one field, if shared and present.
    pub fn get(&self, field: &str) -> Option<&Value> {
        self.0.get(field)
    }

    /// The fields and values, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// How many fields are present.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no field is present.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The underlying map.
    pub fn into_map(self) -> BTreeMap<String, Value> {
        self.0
    }
}

/// What a partner under `policy` receives of one opportunity (with its account): exactly the
/// allowed fields with their transforms applied, or `None` when a row filter excludes it or the
/// policy shares no opportunity field.
pub fn project(
    policy: &Policy,
    opportunity: &Opportunity,
    account: &Account,
) -> Option<Projection> {
    debug_assert_eq!(
        opportunity.account_id, account.id,
        "account of another opportunity"
    );
    let o = &policy.opportunities;
    if o.fields.is_empty() || !o.admits(opportunity, account) {
        return None;
    }
    let mut out = BTreeMap::new();
    for &field in &o.fields {
        if let Some(value) = opportunity_value(policy, field, opportunity, account) {
            out.insert(field.as_str().to_string(), value);
        }
    }
    Some(Projection(out))
}

/// What account mapping may reveal of one account under `policy`: the shared account fields, or
/// `None` when the status filter excludes it or no account field is shared. Whether it is
/// revealed at all depends on the sharing level, which the mapping decides per population.
pub fn project_account(policy: &Policy, account: &Account) -> Option<Projection> {
    let a = &policy.accounts;
    if a.fields.is_empty() || !a.admits(account) {
        return None;
    }
    let mut out = BTreeMap::new();
    for &field in &a.fields {
        let value = match field {
            AccountField::Name => Some(text(&account.name)),
            AccountField::Domain => account.domain.as_ref().map(|d| text(d.as_str())),
            AccountField::Status => Some(text(account.status.as_str())),
            AccountField::Industry => account.industry.as_deref().map(text),
            AccountField::Country => account.country.as_deref().map(text),
            AccountField::Owner => account.owner.as_deref().map(text),
            AccountField::Tags => Some(Value::List(account.tags.clone())),
        };
        if let Some(value) = value {
            out.insert(field.as_str().to_string(), value);
        }
    }
    Some(Projection(out))
}

/// What a whole pipeline looks like to a partner under a policy: how many opportunities it
/// would receive, how many are withheld, and the first page of projections.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Preview {
    /// Opportunities the partner would receive.
    pub shared: usize,
    /// Opportunities a row filter (or an empty field list) withholds.
    pub withheld: usize,
    /// The first `page_limit` shared projections, in input order.
    pub items: Vec<Projection>,
    /// This node's ids of the opportunities in `items`, same order. Local only: for the admin's
    /// view, never part of what a partner receives.
    pub opportunity_ids: Vec<String>,
    /// The first `page_limit` withheld opportunities: this node's id and why (the first row
    /// filter that keeps it back). Local only, like `opportunity_ids`.
    #[serde(default)]
    pub withheld_items: Vec<Withheld>,
}

/// One opportunity a policy keeps back, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Withheld {
    /// This node's id of the opportunity.
    pub opportunity_id: String,
    /// A sentence naming the rule ("its stage prospect is not in stages [qualified]").
    pub reason: String,
}

/// Why `policy` keeps this opportunity from a partner, or `None` when it is shared.
pub fn withheld_because(
    policy: &Policy,
    opportunity: &Opportunity,
    account: &Account,
) -> Option<String> {
    let o = &policy.opportunities;
    if o.fields.is_empty() {
        return Some("the policy shares no opportunity fields".into());
    }
    o.withholds(opportunity, account)
}

/// Projects every opportunity (with its account) under `policy`, counting shared and withheld
/// rows and keeping the first `page_limit` projections.
pub fn preview<'a, I>(policy: &Policy, rows: I, page_limit: usize) -> Preview
where
    I: IntoIterator<Item = (&'a Opportunity, &'a Account)>,
{
    let mut out = Preview::default();
    for (opportunity, account) in rows {
        if out.items.len() < page_limit {
            match project(policy, opportunity, account) {
                Some(p) => {
                    out.shared += 1;
                    out.items.push(p);
                    out.opportunity_ids.push(opportunity.id.clone());
                }
                None => out.withheld += 1,
            }
        } else if is_shared(policy, opportunity, account) {
            // Past the first page only the count matters: skip building the projection.
            out.shared += 1;
        } else {
            out.withheld += 1;
        }
        if out.withheld_items.len() < page_limit {
            if let Some(reason) = withheld_because(policy, opportunity, account) {
                out.withheld_items.push(Withheld {
                    opportunity_id: opportunity.id.clone(),
                    reason,
                });
            }
        }
    }
    out
}

fn is_shared(policy: &Policy, opportunity: &Opportunity, account: &Account) -> bool {
    let o = &policy.opportunities;
    !o.fields.is_empty() && o.admits(opportunity, account)
}

fn text(s: &str) -> Value {
    Value::Text(fitted_text(s))
}

/// Marks a text value the projection shortened.
pub const CUT_MARK: &str = "…";

/// `s` as a deal document can carry it: at most [`FIELD_BYTES_MAX`] bytes. A CRM record may hold
/// 32,000 characters of description (up to four times that in UTF-8 bytes); sharing it must not
/// fail on length, so a longer text is cut at a character boundary and ends with [`CUT_MARK`],
/// which tells the partner (and the preview) that it was cut.
pub fn fitted_text(s: &str) -> String {
    if s.len() <= FIELD_BYTES_MAX {
        return s.to_string();
    }
    let mut end = FIELD_BYTES_MAX - CUT_MARK.len();
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = String::with_capacity(end + CUT_MARK.len());
    out.push_str(&s[..end]);
    out.push_str(CUT_MARK);
    out
}

fn opportunity_value(
    policy: &Policy,
    field: OpportunityField,
    opportunity: &Opportunity,
    account: &Account,
) -> Option<Value> {
    use OpportunityField as F;
    let o = &policy.opportunities;
    match field {
        F::Name => Some(text(&opportunity.name)),
        F::Stage => Some(text(opportunity.stage.as_str())),
        F::Amount => opportunity
            .amount
            .map(|a| Value::Text(transform_amount(&o.amount, a))),
        F::Currency => opportunity.currency.map(|c| text(c.as_str())),
        F::CloseDate => opportunity
            .close_date
            .map(|d| Value::Text(transform_date(o.close_date, d))),
        F::Owner => opportunity.owner.as_deref().map(text),
        F::NextStep => opportunity.next_step.as_deref().map(text),
        F::Description => opportunity.description.as_deref().map(text),
        F::Tags => Some(Value::List(opportunity.tags.clone())),
        F::ExternalId => opportunity.external_id.as_deref().map(text),
        F::AccountName => Some(text(&account.name)),
        F::AccountDomain => account.domain.as_ref().map(|d| text(d.as_str())),
        F::AccountIndustry => account.industry.as_deref().map(text),
        F::AccountCountry => account.country.as_deref().map(text),
        F::AccountStatus => Some(text(account.status.as_str())),
        F::AccountOwner => account.owner.as_deref().map(text),
        F::AccountTags => Some(Value::List(account.tags.clone())),
    }
}

/// The shared form of an amount: exact (`"1200.5"`), rounded (`"10000"`) or a bucket label
/// (`"0-50000"`, `"50000-100000"`, `"500000+"`; bounds are lower-inclusive).
pub fn transform_amount(transform: &AmountTransform, amount: Amount) -> String {
    match transform {
        AmountTransform::Exact => amount.to_string(),
        AmountTransform::RoundTo(step) => amount.round_to_units(*step).to_string(),
        AmountTransform::Buckets(bounds) => bucket_label(bounds, amount),
    }
}

fn bucket_label(bounds: &[i64], amount: Amount) -> String {
    let units_floor = amount.ten_thousandths() / 10_000;
    // Bounds are whole units, so comparing the floor of the amount is exact.
    let below = bounds.iter().take_while(|&&b| b <= units_floor).count();
    match below {
        0 => format!("0-{}", bounds[0]),
        n if n == bounds.len() => format!("{}+", bounds[n - 1]),
        n => format!("{}-{}", bounds[n - 1], bounds[n]),
    }
}

/// The shared form of a close date: `2026-03-17`, `2026-03`, `2026-Q1` or `2026`.
pub fn transform_date(transform: DateTransform, date: Date) -> String {
    match transform {
        DateTransform::Exact => date.to_string(),
        DateTransform::Month => format!("{:04}-{:02}", date.year(), date.month()),
        DateTransform::Quarter => format!("{:04}-Q{}", date.year(), (date.month() - 1) / 3 + 1),
        DateTransform::Year => format!("{:04}", date.year()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amount(s: &str) -> Amount {
        Amount::parse(s).unwrap()
    }

    #[test]
    fn buckets_label_the_lower_inclusive_range() {
        let b = AmountTransform::Buckets(vec![0, 50_000, 100_000, 500_000]);
        assert_eq!(transform_amount(&b, amount("0")), "0-50000");
        assert_eq!(transform_amount(&b, amount("49999.9999")), "0-50000");
        assert_eq!(transform_amount(&b, amount("50000")), "50000-100000");
        assert_eq!(transform_amount(&b, amount("500000")), "500000+");
        let b = AmountTransform::Buckets(vec![10_000]);
        assert_eq!(transform_amount(&b, amount("5")), "0-10000");
        assert_eq!(transform_amount(&b, amount("10000")), "10000+");
    }

    #[test]
    fn round_to_rounds_half_up_and_exact_keeps_decimals() {
        let r = AmountTransform::RoundTo(10_000);
        assert_eq!(transform_amount(&r, amount("124999")), "120000");
        assert_eq!(transform_amount(&r, amount("125000")), "130000");
        assert_eq!(
            transform_amount(&AmountTransform::Exact, amount("1200.5")),
            "1200.5"
        );
    }

    #[test]
    fn dates_coarsen_to_month_quarter_and_year() {
        let d = Date::new(2026, 8, 17).unwrap();
        assert_eq!(transform_date(DateTransform::Exact, d), "2026-08-17");
        assert_eq!(transform_date(DateTransform::Month, d), "2026-08");
        assert_eq!(transform_date(DateTransform::Quarter, d), "2026-Q3");
        assert_eq!(transform_date(DateTransform::Year, d), "2026");
    }

    #[test]
    fn a_text_longer_than_a_deal_field_is_cut_at_a_character_boundary_and_marked() {
        // Goal: a 32,000-character description (the import's limit) can be shared: the
        // projection cuts it to what a deal document carries, never inside a character, and the
        // mark says it was cut. Shorter text is untouched.
        let long = "é".repeat(protocol::records::TEXT_CHARS_MAX);
        assert!(long.len() > FIELD_BYTES_MAX);
        let fitted = fitted_text(&long);
        assert!(fitted.len() <= FIELD_BYTES_MAX, "{} bytes", fitted.len());
        assert!(fitted.len() > FIELD_BYTES_MAX - 8, "cut far too short");
        let kept = fitted
            .strip_suffix(CUT_MARK)
            .expect("ends with the cut mark");
        assert!(long.starts_with(kept));

        let exact = "a".repeat(FIELD_BYTES_MAX);
        assert_eq!(fitted_text(&exact), exact);
        assert_eq!(fitted_text("short"), "short");
    }
}
