//! Property tests for the privacy promise: nothing a policy does not name leaves the node.
//!
//! Method: random policies are generated as a test-side `Spec`, written as TOML and parsed by
//! the library; random records carry a unique canary string in every text field. For each
//! (policy, record) the serialized projection is searched for the canary of every field the
//! policy does not name, the row decision is compared with the spec's own reading of the
//! filters, and values are compared with the spec's transforms. A multi-partner projection is
//! checked against each partner's own projection. Cases: `PROPTEST_CASES` (default 10,000).

use policy::{project, AmountTransform, Policy, Value};
use proptest::prelude::*;
use protocol::records::{
    Account, AccountStatus, Amount, Currency, Date, Domain, Opportunity, Stage,
};
use std::collections::BTreeSet;

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

const FIELDS: [&str; 17] = [
    "name",
    "stage",
    "amount",
    "currency",
    "close_date",
    "owner",
    "next_step",
    "description",
    "tags",
    "external_id",
    "account.name",
    "account.domain",
    "account.industry",
    "account.country",
    "account.status",
    "account.owner",
    "account.tags",
];

/// The canary planted in each text field; no canary is a substring of another.
const CANARIES: [(&str, &str); 11] = [
    ("name", "~opp.name~"),
    ("owner", "~opp.owner~"),
    ("next_step", "~opp.next_step~"),
    ("description", "~opp.description~"),
    ("tags", "~opp.tags~"),
    ("external_id", "~opp.external_id~"),
    ("account.name", "~acct.name~"),
    ("account.domain", "acct-domain-canary"),
    ("account.industry", "~acct.industry~"),
    ("account.country", "~acct.country~"),
    ("account.owner", "~acct.owner~"),
];
/// Canaries of values no policy can name.
const PRIVATE_CANARIES: [&str; 3] = ["~opp.id~", "~acct.id~", "~acct.external_id~"];
const ACCOUNT_TAG_CANARY: &str = "~acct.tags~";

const POOL: [&str; 3] = ["A", "B", "C"];

#[derive(Debug, Clone)]
enum AmountSpec {
    RoundTo(i64),
    Buckets(Vec<i64>),
}

/// A policy as the test understands it, independently of the library.
#[derive(Debug, Clone)]
struct Spec {
    fields: Vec<&'static str>,
    stages: Option<Vec<Stage>>,
    amount_min: Option<i64>,
    amount_max: Option<i64>,
    statuses: Option<Vec<AccountStatus>>,
    countries: Option<Vec<&'static str>>,
    owners: Option<Vec<&'static str>>,
    tags_include: Option<Vec<&'static str>>,
    tags_exclude: Vec<&'static str>,
    amount: Option<AmountSpec>,
    close_date: Option<&'static str>,
}

fn list<T: AsRef<str>>(items: &[T]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("{:?}", s.as_ref())).collect();
    format!("[{}]", quoted.join(", "))
}

impl Spec {
    fn toml(&self) -> String {
        let mut t = format!("[opportunities]\nfields = {}\n", list(&self.fields));
        if let Some(s) = &self.stages {
            let names: Vec<&str> = s.iter().map(|s| s.as_str()).collect();
            t += &format!("stages = {}\n", list(&names));
        }
        if let Some(v) = self.amount_min {
            t += &format!("amount_min = {v}\n");
        }
        if let Some(v) = self.amount_max {
            t += &format!("amount_max = {v}\n");
        }
        if let Some(s) = &self.statuses {
            let names: Vec<&str> = s.iter().map(|s| s.as_str()).collect();
            t += &format!("account_statuses = {}\n", list(&names));
        }
        let prefixed =
            |p: &str, v: &[&str]| -> Vec<String> { v.iter().map(|x| format!("{p}{x}")).collect() };
        if let Some(c) = &self.countries {
            t += &format!("countries = {}\n", list(&prefixed("~acct.country~", c)));
        }
        if let Some(o) = &self.owners {
            t += &format!("owners = {}\n", list(&prefixed("~opp.owner~", o)));
        }
        if let Some(i) = &self.tags_include {
            t += &format!("tags_include = {}\n", list(&prefixed("~opp.tags~", i)));
        }
        if !self.tags_exclude.is_empty() {
            t += &format!(
                "tags_exclude = {}\n",
                list(&prefixed("~opp.tags~", &self.tags_exclude))
            );
        }
        match &self.amount {
            None => {}
            Some(AmountSpec::RoundTo(s)) => t += &format!("amount = {{ round_to = {s} }}\n"),
            Some(AmountSpec::Buckets(b)) => t += &format!("amount = {{ buckets = {b:?} }}\n"),
        }
        if let Some(c) = self.close_date {
            t += &format!("close_date = {c:?}\n");
        }
        t
    }

    fn admits(&self, o: &Opportunity, a: &Account) -> bool {
        let amount_units = o.amount.map(|a| a.ten_thousandths());
        let in_pool =
            |filter: &Option<Vec<&str>>, prefix: &str, value: &Option<String>| match filter {
                None => true,
                Some(f) => value
                    .as_ref()
                    .is_some_and(|v| f.iter().any(|x| format!("{prefix}{x}") == *v)),
            };
        let has_tag = |tags: &[&str]| {
            tags.iter()
                .any(|t| o.tags.contains(&format!("~opp.tags~{t}")))
        };
        self.stages.as_ref().is_none_or(|s| s.contains(&o.stage))
            && self
                .amount_min
                .is_none_or(|m| amount_units.is_some_and(|u| u >= m * 10_000))
            && self
                .amount_max
                .is_none_or(|m| amount_units.is_some_and(|u| u <= m * 10_000))
            && self.statuses.as_ref().is_none_or(|s| s.contains(&a.status))
            && in_pool(&self.countries, "~acct.country~", &a.country)
            && in_pool(&self.owners, "~opp.owner~", &o.owner)
            && self.tags_include.as_ref().is_none_or(|t| has_tag(t))
            && !has_tag(&self.tags_exclude)
    }
}

fn subset<T: Clone + std::fmt::Debug + 'static>(
    items: Vec<T>,
    min: usize,
) -> impl Strategy<Value = Vec<T>> {
    let n = items.len();
    proptest::sample::subsequence(items, min..=n)
}

fn spec() -> impl Strategy<Value = Spec> {
    let filters = (
        proptest::option::of(subset(Stage::ALL.to_vec(), 1)),
        proptest::option::of(0i64..300_000),
        proptest::option::of(0i64..300_000),
        proptest::option::of(subset(AccountStatus::ALL.to_vec(), 1)),
        proptest::option::of(subset(POOL.to_vec(), 1)),
        proptest::option::of(subset(POOL.to_vec(), 1)),
        proptest::option::of(subset(POOL.to_vec(), 1)),
        subset(POOL.to_vec(), 0),
    );
    let transforms = (
        prop_oneof![
            Just(None),
            proptest::sample::select(vec![1i64, 10, 1000, 5000, 10_000, 25_000])
                .prop_map(|s| Some(AmountSpec::RoundTo(s))),
            subset(vec![0i64, 1000, 50_000, 100_000, 250_000, 1_000_000], 1)
                .prop_map(|b| Some(AmountSpec::Buckets(b))),
        ],
        proptest::option::of(proptest::sample::select(vec![
            "day", "month", "quarter", "year",
        ])),
    );
    (subset(FIELDS.to_vec(), 0), filters, transforms).prop_map(
        |(
            fields,
            (stages, min, max, statuses, countries, owners, include, exclude),
            (amount, close_date),
        )| {
            let (amount_min, amount_max) = match (min, max) {
                (Some(a), Some(b)) if a > b => (Some(b), Some(a)),
                other => other,
            };
            let tags_exclude = exclude
                .into_iter()
                .filter(|t| include.as_ref().is_none_or(|i| !i.contains(t)))
                .collect();
            Spec {
                amount: amount.filter(|_| fields.contains(&"amount")),
                close_date: close_date.filter(|_| fields.contains(&"close_date")),
                fields,
                stages,
                amount_min,
                amount_max,
                statuses,
                countries,
                owners,
                tags_include: include,
                tags_exclude,
            }
        },
    )
}

fn record() -> impl Strategy<Value = (Opportunity, Account)> {
    let pool_value = proptest::option::of(proptest::sample::select(POOL.to_vec()));
    (
        (
            any::<u32>(),
            proptest::sample::select(Stage::ALL.to_vec()),
            proptest::option::of(0i64..4_000_000_000),
        ),
        (
            proptest::option::of(0i64..30_000),
            pool_value.clone(),
            subset(POOL.to_vec(), 0),
            any::<bool>(),
        ),
        (
            proptest::sample::select(AccountStatus::ALL.to_vec()),
            pool_value,
            subset(POOL.to_vec(), 0),
        ),
    )
        .prop_map(
            |((n, stage, amount), (days, owner, tags, texts), (status, country, account_tags))| {
                let text = |marker: &str| texts.then(|| format!("{marker}{n}"));
                let opportunity = Opportunity {
                    id: format!("~opp.id~{n}"),
                    external_id: text("~opp.external_id~"),
                    account_id: format!("~acct.id~{n}"),
                    name: format!("~opp.name~{n}"),
                    stage,
                    amount: amount.map(|t| Amount::from_ten_thousandths(t).unwrap()),
                    currency: amount.map(|_| Currency::USD),
                    close_date: days.map(|d| Date::from_days_since_epoch(d).unwrap()),
                    owner: owner.map(|o| format!("~opp.owner~{o}")),
                    next_step: text("~opp.next_step~"),
                    description: text("~opp.description~"),
                    tags: tags.iter().map(|t| format!("~opp.tags~{t}")).collect(),
                };
                let account = Account {
                    id: format!("~acct.id~{n}"),
                    external_id: Some(format!("~acct.external_id~{n}")),
                    name: format!("~acct.name~{n}"),
                    domain: Some(
                        Domain::parse(&format!("acct-domain-canary-{n}.example")).unwrap(),
                    ),
                    industry: text("~acct.industry~"),
                    country: country.map(|c| format!("~acct.country~{c}")),
                    status,
                    owner: text("~acct.owner~"),
                    tags: account_tags
                        .iter()
                        .map(|t| format!("{ACCOUNT_TAG_CANARY}{t}"))
                        .collect(),
                };
                (opportunity, account)
            },
        )
}

fn parse(spec: &Spec) -> Policy {
    Policy::from_toml(&spec.toml()).unwrap_or_else(|e| panic!("{e}\n{}", spec.toml()))
}

/// Fails when the serialized projection reveals anything of a field outside `named`.
fn assert_no_leak(json: &str, named: &BTreeSet<&str>) {
    for (field, canary) in CANARIES {
        if !named.contains(field) {
            assert!(!json.contains(canary), "{field} leaked: {json}");
        }
    }
    if !named.contains("account.tags") {
        assert!(
            !json.contains(ACCOUNT_TAG_CANARY),
            "account.tags leaked: {json}"
        );
    }
    for canary in PRIVATE_CANARIES {
        assert!(!json.contains(canary), "private value leaked: {json}");
    }
    let keys: serde_json::Map<String, serde_json::Value> = serde_json::from_str(json).unwrap();
    for key in keys.keys() {
        assert!(named.contains(key.as_str()), "{key} is not named: {json}");
    }
}

fn expected_amount(spec: &Spec, amount: Amount) -> String {
    match &spec.amount {
        None => amount.to_string(),
        Some(AmountSpec::RoundTo(step)) => amount.round_to_units(*step).to_string(),
        Some(AmountSpec::Buckets(b)) => {
            let units = amount.ten_thousandths() / 10_000;
            match b.iter().rposition(|&x| x <= units) {
                None => format!("0-{}", b[0]),
                Some(i) if i + 1 == b.len() => format!("{}+", b[i]),
                Some(i) => format!("{}-{}", b[i], b[i + 1]),
            }
        }
    }
}

fn expected_date(spec: &Spec, d: Date) -> String {
    match spec.close_date {
        None | Some("day") => d.to_string(),
        Some("month") => format!("{:04}-{:02}", d.year(), d.month()),
        Some("quarter") => format!("{:04}-Q{}", d.year(), d.month().div_ceil(3)),
        Some(_) => format!("{:04}", d.year()),
    }
}

/// Whether amount transform `coarse` reveals no finer granularity than `fine`.
fn at_least_as_coarse(coarse: &AmountTransform, fine: &AmountTransform) -> bool {
    use AmountTransform::*;
    match (coarse, fine) {
        (_, Exact) => true,
        (Exact, _) => false,
        (RoundTo(c), RoundTo(f)) => c % f == 0,
        (RoundTo(_), Buckets(_)) => false,
        (Buckets(_), RoundTo(_)) => true,
        (Buckets(c), Buckets(f)) => c.iter().all(|b| f.contains(b)),
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn projection_reveals_only_named_fields_of_admitted_rows(
        spec in spec(),
        records in proptest::collection::vec(record(), 1..6),
    ) {
        let policy = parse(&spec);
        let named: BTreeSet<&str> = spec.fields.iter().copied().collect();
        for (o, a) in &records {
            let projection = project(&policy, o, a);
            let should_share = !spec.fields.is_empty() && spec.admits(o, a);
            prop_assert_eq!(projection.is_some(), should_share);
            let Some(projection) = projection else { continue };
            let json = serde_json::to_string(&projection).unwrap();
            assert_no_leak(&json, &named);
            if let (Some(v), Some(amount)) = (projection.get("amount"), o.amount) {
                prop_assert_eq!(v, &Value::Text(expected_amount(&spec, amount)));
            }
            if let (Some(v), Some(date)) = (projection.get("close_date"), o.close_date) {
                prop_assert_eq!(v, &Value::Text(expected_date(&spec, date)));
            }
            if named.contains("name") {
                prop_assert_eq!(projection.get("name"), Some(&Value::Text(o.name.clone())));
            }
        }
    }

    #[test]
    fn multi_partner_projection_is_never_more_than_any_partner_sees(
        specs in proptest::collection::vec(spec(), 2..4),
        records in proptest::collection::vec(record(), 1..6),
    ) {
        let policies: Vec<Policy> = specs.iter().map(parse).collect();
        let refs: Vec<&Policy> = policies.iter().collect();
        let combined = Policy::intersect(&refs);
        prop_assert_eq!(&Policy::from_toml(&combined.to_canonical_toml()).unwrap(), &combined);
        let every: BTreeSet<&str> = FIELDS
            .into_iter()
            .filter(|f| specs.iter().all(|s| s.fields.contains(f)))
            .collect();
        for (o, a) in &records {
            let Some(shared) = project(&combined, o, a) else { continue };
            assert_no_leak(&serde_json::to_string(&shared).unwrap(), &every);
            for (p, spec) in policies.iter().zip(&specs) {
                let single = project(p, o, a);
                prop_assert!(single.is_some(), "a row one partner may not see was shared");
                let single = single.unwrap();
                prop_assert!(spec.admits(o, a));
                for (key, value) in shared.iter() {
                    let theirs = single.get(key);
                    prop_assert!(theirs.is_some(), "{} is not in a partner's projection", key);
                    match key {
                        "amount" => {
                            let (c, f) = (combined.opportunities().amount_transform(), p.opportunities().amount_transform());
                            prop_assert!(at_least_as_coarse(c, f), "{:?} finer than {:?}", c, f);
                        }
                        "close_date" => prop_assert!(
                            combined.opportunities().close_date_transform() >= p.opportunities().close_date_transform()
                        ),
                        _ => prop_assert_eq!(Some(value), theirs),
                    }
                }
            }
        }
    }

    #[test]
    fn canonical_forms_read_back_to_the_same_policy(spec in spec()) {
        let policy = parse(&spec);
        let toml = policy.to_canonical_toml();
        prop_assert_eq!(&Policy::from_toml(&toml).unwrap(), &policy);
        prop_assert_eq!(&Policy::from_json(&policy.to_canonical_json()).unwrap(), &policy);
        prop_assert!(policy::diff(&policy, &Policy::from_toml(&toml).unwrap()).is_empty());
    }
}
