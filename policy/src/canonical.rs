//! The canonical written form of a policy (TOML and JSON), and the difference between two
//! policies as lines for the audit log.
//!
//! Canonical means: keys in a fixed order, lists sorted and deduplicated, defaults left out. The
//! same policy always gives the same bytes, so a stored version can be hashed and compared, and
//! parsing the canonical text gives back an equal policy.

use protocol::records::{AccountStatus, Amount, Stage};
use std::collections::BTreeSet;
use std::fmt;

use crate::model::{
    AccountPolicy, AmountTransform, DateTransform, OpportunityPolicy, Policy, Population,
    FORMAT_VERSION,
};

impl Policy {
    /// The canonical TOML text of this policy. `Policy::from_toml` reads it back to an equal
    /// policy.
    pub fn to_canonical_toml(&self) -> String {
        let mut out = format!("version = {FORMAT_VERSION}\n");
        let o = &self.opportunities;
        if *o != OpportunityPolicy::default() {
            out.push_str("\n[opportunities]\n");
            for (key, value) in opportunity_entries(o) {
                out.push_str(&format!("{key} = {}\n", value.toml()));
            }
        }
        let a = &self.accounts;
        if *a != AccountPolicy::default() {
            out.push_str("\n[accounts]\n");
            for (key, value) in account_entries(a) {
                out.push_str(&format!("{key} = {}\n", value.toml()));
            }
            if !a.populations.is_empty() {
                out.push_str("\n[accounts.populations]\n");
                for (p, level) in &a.populations {
                    out.push_str(&format!("{} = {}\n", p.as_str(), quote(level.as_str())));
                }
            }
        }
        out
    }

    /// The canonical JSON text of this policy (object keys sorted). `Policy::from_json` reads it
    /// back to an equal policy.
    pub fn to_canonical_json(&self) -> String {
        use serde_json::{Map, Value as J};
        let mut root = Map::new();
        root.insert("version".into(), J::from(FORMAT_VERSION));
        let o = &self.opportunities;
        if *o != OpportunityPolicy::default() {
            let map: Map<String, J> = opportunity_entries(o)
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.json()))
                .collect();
            root.insert("opportunities".into(), J::Object(map));
        }
        let a = &self.accounts;
        if *a != AccountPolicy::default() {
            let mut map: Map<String, J> = account_entries(a)
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.json()))
                .collect();
            if !a.populations.is_empty() {
                let populations = a
                    .populations
                    .iter()
                    .map(|(p, l)| (p.as_str().to_string(), J::from(l.as_str())))
                    .collect();
                map.insert("populations".into(), J::Object(populations));
            }
            root.insert("accounts".into(), J::Object(map));
        }
        J::Object(root).to_string()
    }
}

/// One value of the written form.
enum Written {
    Text(String),
    Amount(Amount),
    List(Vec<String>),
    Lists(Vec<Vec<String>>),
    RoundTo(i64),
    Buckets(Vec<i64>),
}

impl Written {
    fn toml(&self) -> String {
        match self {
            Written::Text(s) => quote(s),
            Written::Amount(a) => amount_toml(*a),
            Written::List(items) => list(items),
            Written::Lists(lists) => {
                let inner: Vec<String> = lists.iter().map(|l| list(l)).collect();
                format!("[{}]", inner.join(", "))
            }
            Written::RoundTo(step) => format!("{{ round_to = {step} }}"),
            Written::Buckets(bounds) => {
                let b: Vec<String> = bounds.iter().map(i64::to_string).collect();
                format!("{{ buckets = [{}] }}", b.join(", "))
            }
        }
    }

    fn json(&self) -> serde_json::Value {
        use serde_json::{json, Value as J};
        match self {
            Written::Text(s) => J::from(s.as_str()),
            Written::Amount(a) => serde_json::from_str(&amount_toml(*a)).unwrap_or(J::Null),
            Written::List(items) => json!(items),
            Written::Lists(lists) => json!(lists),
            Written::RoundTo(step) => json!({ "round_to": step }),
            Written::Buckets(bounds) => json!({ "buckets": bounds }),
        }
    }
}

/// A whole amount as an integer, a fractional one as a decimal string (never a float).
fn amount_toml(a: Amount) -> String {
    if a.ten_thousandths() % 10_000 == 0 {
        a.to_string()
    } else {
        quote(&a.to_string())
    }
}

fn quote(s: &str) -> String {
    // A JSON string literal is also a valid TOML basic string.
    serde_json::Value::from(s).to_string()
}

fn list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| quote(s)).collect();
    format!("[{}]", quoted.join(", "))
}

fn names<T: Copy>(items: impl IntoIterator<Item = T>, name: fn(T) -> &'static str) -> Vec<String> {
    items.into_iter().map(|i| name(i).to_string()).collect()
}

fn opportunity_entries(o: &OpportunityPolicy) -> Vec<(&'static str, Written)> {
    let mut out = vec![(
        "fields",
        Written::List(names(o.fields.iter().copied(), |f| f.as_str())),
    )];
    if let Some(stages) = &o.stages {
        out.push((
            "stages",
            Written::List(names(stages.iter().copied(), Stage::as_str)),
        ));
    }
    if let Some(a) = o.amount_min {
        out.push(("amount_min", Written::Amount(a)));
    }
    if let Some(a) = o.amount_max {
        out.push(("amount_max", Written::Amount(a)));
    }
    if let Some(s) = &o.account_statuses {
        let statuses = names(s.iter().copied(), AccountStatus::as_str);
        out.push(("account_statuses", Written::List(statuses)));
    }
    if let Some(c) = &o.countries {
        out.push(("countries", Written::List(c.iter().cloned().collect())));
    }
    if let Some(owners) = &o.owners {
        out.push(("owners", Written::List(owners.iter().cloned().collect())));
    }
    match o.tags_include.as_slice() {
        [] => {}
        [one] => out.push(("tags_include", Written::List(one.iter().cloned().collect()))),
        many => {
            let lists = many.iter().map(|c| c.iter().cloned().collect()).collect();
            out.push(("tags_include", Written::Lists(lists)));
        }
    }
    if !o.tags_exclude.is_empty() {
        let tags = o.tags_exclude.iter().cloned().collect();
        out.push(("tags_exclude", Written::List(tags)));
    }
    match &o.amount {
        AmountTransform::Exact => {}
        AmountTransform::RoundTo(step) => out.push(("amount", Written::RoundTo(*step))),
        AmountTransform::Buckets(b) => out.push(("amount", Written::Buckets(b.clone()))),
    }
    if o.close_date != DateTransform::Exact {
        out.push(("close_date", Written::Text(o.close_date.as_str().into())));
    }
    out
}

fn account_entries(a: &AccountPolicy) -> Vec<(&'static str, Written)> {
    let mut out = vec![("sharing", Written::Text(a.sharing.as_str().into()))];
    if let Some(s) = &a.statuses {
        let statuses = names(s.iter().copied(), AccountStatus::as_str);
        out.push(("statuses", Written::List(statuses)));
    }
    if !a.fields.is_empty() {
        let fields = names(a.fields.iter().copied(), |f| f.as_str());
        out.push(("fields", Written::List(fields)));
    }
    if a.counts_refused {
        out.push(("counts", Written::Text("refused".into())));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Diff

/// One difference between two policies, for the audit log. Displayed as
/// `opportunities.fields: + amount` or `accounts.sharing: counts -> overlaps`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The dotted key that changed.
    pub key: String,
    /// What changed: `+ x`, `- x` for list entries, `old -> new` for values.
    pub description: String,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.description)
    }
}

/// What changed from `old` to `new`, one line per added or removed list entry and per changed
/// value, in canonical key order. Empty when the policies are equal.
pub fn diff(old: &Policy, new: &Policy) -> Vec<Change> {
    let mut d = Differ(Vec::new());
    let (a, b) = (&old.opportunities, &new.opportunities);
    let fields = |o: &OpportunityPolicy| names_of(o.fields.iter().map(|f| f.as_str()));
    d.set("opportunities.fields", &fields(a), &fields(b));
    d.enum_filter(
        "opportunities.stages",
        &a.stages,
        &b.stages,
        Stage::ALL,
        Stage::as_str,
    );
    d.value(
        "opportunities.amount_min",
        opt_text(a.amount_min),
        opt_text(b.amount_min),
    );
    d.value(
        "opportunities.amount_max",
        opt_text(a.amount_max),
        opt_text(b.amount_max),
    );
    let all_statuses = AccountStatus::ALL;
    d.enum_filter(
        "opportunities.account_statuses",
        &a.account_statuses,
        &b.account_statuses,
        all_statuses,
        AccountStatus::as_str,
    );
    d.text_filter("opportunities.countries", &a.countries, &b.countries);
    d.text_filter("opportunities.owners", &a.owners, &b.owners);
    d.value(
        "opportunities.tags_include",
        tags_include_text(&a.tags_include),
        tags_include_text(&b.tags_include),
    );
    d.set(
        "opportunities.tags_exclude",
        &a.tags_exclude,
        &b.tags_exclude,
    );
    d.value(
        "opportunities.amount",
        amount_text(&a.amount),
        amount_text(&b.amount),
    );
    d.value(
        "opportunities.close_date",
        a.close_date.as_str().into(),
        b.close_date.as_str().into(),
    );
    let (a, b) = (&old.accounts, &new.accounts);
    d.value(
        "accounts.sharing",
        a.sharing.as_str().into(),
        b.sharing.as_str().into(),
    );
    d.enum_filter(
        "accounts.statuses",
        &a.statuses,
        &b.statuses,
        all_statuses,
        AccountStatus::as_str,
    );
    let fields = |x: &AccountPolicy| names_of(x.fields.iter().map(|f| f.as_str()));
    d.set("accounts.fields", &fields(a), &fields(b));
    let counts = |x: &AccountPolicy| {
        if x.counts_refused {
            "refused"
        } else {
            "allowed"
        }
    };
    d.value("accounts.counts", counts(a).into(), counts(b).into());
    for p in Population::ALL {
        let level = |x: &AccountPolicy| {
            x.populations
                .get(&p)
                .map_or_else(|| "not set".to_string(), |l| l.as_str().to_string())
        };
        d.value(
            &format!("accounts.populations.{}", p.as_str()),
            level(a),
            level(b),
        );
    }
    d.0
}

struct Differ(Vec<Change>);

impl Differ {
    fn push(&mut self, key: &str, description: String) {
        self.0.push(Change {
            key: key.to_string(),
            description,
        });
    }

    fn set(&mut self, key: &str, old: &BTreeSet<String>, new: &BTreeSet<String>) {
        for added in new.difference(old) {
            self.push(key, format!("+ {added}"));
        }
        for removed in old.difference(new) {
            self.push(key, format!("- {removed}"));
        }
    }

    fn value(&mut self, key: &str, old: String, new: String) {
        if old != new {
            self.push(key, format!("{old} -> {new}"));
        }
    }

    /// A filter over a closed set: no filter means every value, so it diffs as a set.
    fn enum_filter<T: Ord + Copy, const N: usize>(
        &mut self,
        key: &str,
        old: &Option<BTreeSet<T>>,
        new: &Option<BTreeSet<T>>,
        all: [T; N],
        name: fn(T) -> &'static str,
    ) {
        let expand = |s: &Option<BTreeSet<T>>| -> Vec<T> {
            match s {
                Some(s) => s.iter().copied().collect(),
                None => all.to_vec(),
            }
        };
        let (old, new) = (expand(old), expand(new));
        // In the enum's own order (pipeline order for stages), not alphabetical.
        for v in all {
            match (old.contains(&v), new.contains(&v)) {
                (false, true) => self.push(key, format!("+ {}", name(v))),
                (true, false) => self.push(key, format!("- {}", name(v))),
                _ => {}
            }
        }
    }

    /// A filter over free text: no filter means any value.
    fn text_filter(
        &mut self,
        key: &str,
        old: &Option<BTreeSet<String>>,
        new: &Option<BTreeSet<String>>,
    ) {
        match (old, new) {
            (Some(old), Some(new)) => self.set(key, old, new),
            (None, None) => {}
            (old, new) => self.value(key, text_list(old), text_list(new)),
        }
    }
}

fn names_of<'a>(names: impl Iterator<Item = &'a str>) -> BTreeSet<String> {
    names.map(str::to_string).collect()
}

fn opt_text(a: Option<Amount>) -> String {
    a.map_or_else(|| "not set".to_string(), |a| a.to_string())
}

fn text_list(s: &Option<BTreeSet<String>>) -> String {
    match s {
        None => "any".to_string(),
        Some(s) => s.iter().cloned().collect::<Vec<_>>().join(", "),
    }
}

fn tags_include_text(clauses: &[BTreeSet<String>]) -> String {
    if clauses.is_empty() {
        return "any".to_string();
    }
    let parts: Vec<String> = clauses
        .iter()
        .map(|c| {
            format!(
                "one of {}",
                c.iter().cloned().collect::<Vec<_>>().join(", ")
            )
        })
        .collect();
    parts.join(" and ")
}

fn amount_text(t: &AmountTransform) -> String {
    match t {
        AmountTransform::Exact => "exact".to_string(),
        AmountTransform::RoundTo(step) => format!("round_to {step}"),
        AmountTransform::Buckets(b) => {
            let b: Vec<String> = b.iter().map(i64::to_string).collect();
            format!("buckets {}", b.join(", "))
        }
    }
}
