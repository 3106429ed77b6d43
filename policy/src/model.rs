//! The policy model: what one partner (or every participant of a deal) may receive.
//!
//! A [`Policy`] is only built by the parser (`Policy::from_toml`, `Policy::from_json`), by
//! [`Policy::deny_all`] or by [`Policy::intersect`], so its invariants hold everywhere: fields
//! are known, transforms only name shared fields, lists are non-empty and bounded.

use protocol::records::{Account, AccountStatus, Amount, Opportunity, Stage};
use std::collections::{BTreeMap, BTreeSet};

use crate::limits::ROUND_TO_UNITS_MAX;

/// The policy file format version this library reads and writes.
pub const FORMAT_VERSION: i64 = 1;

/// A field of an opportunity, or of the opportunity's account (`account.*`), that a policy may
/// share. The order of the variants is the canonical order of `fields` in a written policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OpportunityField {
    /// `name`: the opportunity's title.
    Name,
    /// `stage`: the ACE stage.
    Stage,
    /// `amount`: the deal size, possibly rounded or bucketed.
    Amount,
    /// `currency`: the amount's ISO 4217 code.
    Currency,
    /// `close_date`: the expected close date, possibly coarsened.
    CloseDate,
    /// `owner`: the opportunity owner (a person).
    Owner,
    /// `next_step`: free text.
    NextStep,
    /// `description`: free text.
    Description,
    /// `tags`: the opportunity's labels.
    Tags,
    /// `external_id`: the CRM's id for the opportunity.
    ExternalId,
    /// `account.name`.
    AccountName,
    /// `account.domain`.
    AccountDomain,
    /// `account.industry`.
    AccountIndustry,
    /// `account.country`.
    AccountCountry,
    /// `account.status`.
    AccountStatus,
    /// `account.owner`: the account owner (a person).
    AccountOwner,
    /// `account.tags`.
    AccountTags,
}

impl OpportunityField {
    /// Every field, in canonical order.
    pub const ALL: [OpportunityField; 17] = [
        Self::Name,
        Self::Stage,
        Self::Amount,
        Self::Currency,
        Self::CloseDate,
        Self::Owner,
        Self::NextStep,
        Self::Description,
        Self::Tags,
        Self::ExternalId,
        Self::AccountName,
        Self::AccountDomain,
        Self::AccountIndustry,
        Self::AccountCountry,
        Self::AccountStatus,
        Self::AccountOwner,
        Self::AccountTags,
    ];

    /// The name used in policy files and as the key in a [`crate::Projection`].
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::Stage => "stage",
            Self::Amount => "amount",
            Self::Currency => "currency",
            Self::CloseDate => "close_date",
            Self::Owner => "owner",
            Self::NextStep => "next_step",
            Self::Description => "description",
            Self::Tags => "tags",
            Self::ExternalId => "external_id",
            Self::AccountName => "account.name",
            Self::AccountDomain => "account.domain",
            Self::AccountIndustry => "account.industry",
            Self::AccountCountry => "account.country",
            Self::AccountStatus => "account.status",
            Self::AccountOwner => "account.owner",
            Self::AccountTags => "account.tags",
        }
    }

    /// The field with exactly this name, if there is one.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == name)
    }
}

/// A field of an account that account mapping may share (`[accounts] fields`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AccountField {
    /// `name`.
    Name,
    /// `domain`.
    Domain,
    /// `status`.
    Status,
    /// `industry`.
    Industry,
    /// `country`.
    Country,
    /// `owner`: the account owner (a person).
    Owner,
    /// `tags`.
    Tags,
}

impl AccountField {
    /// Every field, in canonical order.
    pub const ALL: [AccountField; 7] = [
        Self::Name,
        Self::Domain,
        Self::Status,
        Self::Industry,
        Self::Country,
        Self::Owner,
        Self::Tags,
    ];

    /// The name used in policy files and as the key in an account [`crate::Projection`].
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::Domain => "domain",
            Self::Status => "status",
            Self::Industry => "industry",
            Self::Country => "country",
            Self::Owner => "owner",
            Self::Tags => "tags",
        }
    }

    /// The field with exactly this name, if there is one.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == name)
    }
}

/// How a shared amount is coarsened.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum AmountTransform {
    /// The exact amount.
    #[default]
    Exact,
    /// Rounded half up to a multiple of this many whole units (`1 ..= ROUND_TO_UNITS_MAX`).
    RoundTo(i64),
    /// Replaced by the label of the range it falls in (`"50000-100000"`, `"500000+"`). The
    /// bounds are whole units, non-negative and strictly increasing, never empty.
    Buckets(Vec<i64>),
}

/// How a shared close date is coarsened. Ordered from finest to coarsest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum DateTransform {
    /// `2026-03-17`.
    #[default]
    Exact,
    /// `2026-03`.
    Month,
    /// `2026-Q1`.
    Quarter,
    /// `2026`.
    Year,
}

impl DateTransform {
    /// Every coarsening, finest first.
    pub const ALL: [DateTransform; 4] = [Self::Exact, Self::Month, Self::Quarter, Self::Year];

    /// The name in policy files (`"day"` is the exact date).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Exact => "day",
            Self::Month => "month",
            Self::Quarter => "quarter",
            Self::Year => "year",
        }
    }
}

/// How much of its accounts a node reveals in account mapping. Ordered from least to most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum SharingLevel {
    /// Nothing, not even counts.
    #[default]
    Hidden,
    /// Only the size of the overlap.
    Counts,
    /// The overlapping accounts (with the shared fields).
    Overlaps,
    /// Every account that passes the filters (with the shared fields).
    All,
}

impl SharingLevel {
    /// Every level, least first.
    pub const ALL: [SharingLevel; 4] = [Self::Hidden, Self::Counts, Self::Overlaps, Self::All];

    /// The name in policy files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hidden => "hidden",
            Self::Counts => "counts",
            Self::Overlaps => "overlaps",
            Self::All => "all",
        }
    }
}

/// A built-in account-mapping population.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Population {
    /// Accounts with status `customer`.
    Customers,
    /// Accounts with status `prospect`.
    Prospects,
    /// Accounts with at least one open opportunity.
    OpenOpportunities,
}

impl Population {
    /// Every population.
    pub const ALL: [Population; 3] = [Self::Customers, Self::Prospects, Self::OpenOpportunities];

    /// The name in policy files and in the mapping matrix.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Customers => "customers",
            Self::Prospects => "prospects",
            Self::OpenOpportunities => "open_opportunities",
        }
    }
}

/// What a partner may receive of opportunities: the field allowlist, the row filters and the
/// transforms. Filters are a conjunction; a filter that is `None` (or empty, for the tag lists)
/// lets every row through.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OpportunityPolicy {
    pub(crate) fields: BTreeSet<OpportunityField>,
    pub(crate) stages: Option<BTreeSet<Stage>>,
    pub(crate) amount_min: Option<Amount>,
    pub(crate) amount_max: Option<Amount>,
    pub(crate) account_statuses: Option<BTreeSet<AccountStatus>>,
    /// Invariant: no two entries equal ignoring ASCII case.
    pub(crate) countries: Option<BTreeSet<String>>,
    /// Invariant: no two entries equal ignoring ASCII case.
    pub(crate) owners: Option<BTreeSet<String>>,
    /// Each clause is "at least one of these tags"; every clause must hold. A policy file writes
    /// one clause; intersecting policies adds clauses. Invariant: no clause is empty.
    pub(crate) tags_include: Vec<BTreeSet<String>>,
    pub(crate) tags_exclude: BTreeSet<String>,
    /// Invariant: `Exact` unless `amount` is in `fields`.
    pub(crate) amount: AmountTransform,
    /// Invariant: `Exact` unless `close_date` is in `fields`.
    pub(crate) close_date: DateTransform,
}

/// What a partner may learn of accounts in account mapping.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AccountPolicy {
    pub(crate) sharing: SharingLevel,
    pub(crate) statuses: Option<BTreeSet<AccountStatus>>,
    pub(crate) fields: BTreeSet<AccountField>,
    /// Overrides of `sharing` for single populations.
    pub(crate) populations: BTreeMap<Population, SharingLevel>,
    /// `counts = "refused"`: a population at `counts` is mapped as `hidden` with this partner.
    /// Against a dishonest partner `counts` reveals which accounts overlap, as `overlaps` does
    /// (the partner blinds each of its elements with its own scalar and ties the points we
    /// return to its inputs; SECURITY.md, account mapping), so a policy may refuse it.
    pub(crate) counts_refused: bool,
}

/// What this node shares with one partner. Anything it does not name is never sent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Policy {
    pub(crate) opportunities: OpportunityPolicy,
    pub(crate) accounts: AccountPolicy,
}

impl Policy {
    /// The policy of a partner without one: nothing is shared.
    pub fn deny_all() -> Policy {
        Policy::default()
    }

    /// The opportunity part.
    pub fn opportunities(&self) -> &OpportunityPolicy {
        &self.opportunities
    }

    /// The account-mapping part.
    pub fn accounts(&self) -> &AccountPolicy {
        &self.accounts
    }

    /// What every one of `policies` allows: the intersection of fields, all row filters, the
    /// coarsest transform and the lowest sharing level. This is the policy for a deal shared
    /// with several partners. An empty slice gives [`Policy::deny_all`].
    pub fn intersect(policies: &[&Policy]) -> Policy {
        let Some((first, rest)) = policies.split_first() else {
            return Policy::deny_all();
        };
        let mut out = (*first).clone();
        for p in rest {
            out.opportunities = out.opportunities.intersect(&p.opportunities);
            out.accounts = out.accounts.intersect(&p.accounts);
        }
        out
    }
}

impl OpportunityPolicy {
    /// The shared fields, in canonical order. Empty means no opportunity is shared.
    pub fn fields(&self) -> &BTreeSet<OpportunityField> {
        &self.fields
    }

    /// Whether `field` is shared.
    pub fn shares(&self, field: OpportunityField) -> bool {
        self.fields.contains(&field)
    }

    /// The country filter, if any (what a partner may receive records from).
    pub fn countries(&self) -> Option<&BTreeSet<String>> {
        self.countries.as_ref()
    }

    /// The stage filter, if any.
    pub fn stages(&self) -> Option<&BTreeSet<Stage>> {
        self.stages.as_ref()
    }

    /// How a shared amount is coarsened.
    pub fn amount_transform(&self) -> &AmountTransform {
        &self.amount
    }

    /// How a shared close date is coarsened.
    pub fn close_date_transform(&self) -> DateTransform {
        self.close_date
    }

    /// Whether the row filters let this opportunity (with its account) through. Says nothing
    /// about fields: with no field shared, nothing is sent even for an admitted row.
    pub fn admits(&self, opportunity: &Opportunity, account: &Account) -> bool {
        self.withholds(opportunity, account).is_none()
    }

    /// The first row filter that keeps this opportunity back, as a sentence for the admin
    /// ("its stage prospect is not in stages [qualified, committed]"), or `None` when the row
    /// filters admit it. The preview shows it, so a policy can be debugged without guessing.
    pub fn withholds(&self, opportunity: &Opportunity, account: &Account) -> Option<String> {
        if let Some(stages) = &self.stages {
            if !stages.contains(&opportunity.stage) {
                let list: Vec<&str> = stages.iter().map(|s| s.as_str()).collect();
                return Some(format!(
                    "its stage {} is not in stages [{}]",
                    opportunity.stage.as_str(),
                    list.join(", ")
                ));
            }
        }
        if self.amount_min.is_some() || self.amount_max.is_some() {
            // An opportunity without an amount cannot be shown to be in range.
            let Some(amount) = opportunity.amount else {
                return Some("it has no amount, and the policy filters by amount".into());
            };
            if let Some(min) = self.amount_min.filter(|min| amount < *min) {
                return Some(format!("its amount {amount} is below amount_min {min}"));
            }
            if let Some(max) = self.amount_max.filter(|max| amount > *max) {
                return Some(format!("its amount {amount} is above amount_max {max}"));
            }
        }
        if let Some(statuses) = &self.account_statuses {
            if !statuses.contains(&account.status) {
                let list: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
                return Some(format!(
                    "its account's status {} is not in account_statuses [{}]",
                    account.status.as_str(),
                    list.join(", ")
                ));
            }
        }
        if let Some(countries) = &self.countries {
            let admitted = account
                .country
                .as_deref()
                .is_some_and(|c| countries.iter().any(|w| crate::country::same(w, c)));
            if !admitted {
                let list: Vec<&str> = countries.iter().map(String::as_str).collect();
                return Some(match account.country.as_deref() {
                    Some(c) => format!(
                        "its account's country {c:?} is not in countries [{}]",
                        list.join(", ")
                    ),
                    None => "its account has no country, and the policy filters by country".into(),
                });
            }
        }
        if !matches_optional(self.owners.as_ref(), opportunity.owner.as_deref()) {
            return Some(match opportunity.owner.as_deref() {
                Some(o) => format!("its owner {o:?} is not in owners"),
                None => "it has no owner, and the policy filters by owner".into(),
            });
        }
        let has_tag = |wanted: &String| {
            opportunity
                .tags
                .iter()
                .any(|t| wanted.eq_ignore_ascii_case(t))
        };
        if let Some(group) = self
            .tags_include
            .iter()
            .find(|group| !group.iter().any(has_tag))
        {
            let list: Vec<&str> = group.iter().map(String::as_str).collect();
            return Some(format!(
                "it has none of the tags [{}] that tags_include requires",
                list.join(", ")
            ));
        }
        if let Some(excluded) = self.tags_exclude.iter().find(|w| has_tag(w)) {
            return Some(format!(
                "it has the tag {excluded:?}, which tags_exclude withholds"
            ));
        }
        None
    }

    fn intersect(&self, other: &OpportunityPolicy) -> OpportunityPolicy {
        let fields: BTreeSet<_> = self.fields.intersection(&other.fields).copied().collect();
        let mut amount = coarsest_amount(&self.amount, &other.amount);
        let mut fields = fields;
        match amount {
            Some(_) if !fields.contains(&OpportunityField::Amount) => {
                amount = Some(AmountTransform::Exact)
            }
            Some(_) => {}
            // No transform is coarse enough for both: the amount is withheld.
            None => {
                fields.remove(&OpportunityField::Amount);
                amount = Some(AmountTransform::Exact);
            }
        }
        let close_date = if fields.contains(&OpportunityField::CloseDate) {
            self.close_date.max(other.close_date)
        } else {
            DateTransform::Exact
        };
        let mut tags_include = self.tags_include.clone();
        for clause in &other.tags_include {
            if !tags_include.contains(clause) {
                tags_include.push(clause.clone());
            }
        }
        let combined = OpportunityPolicy {
            fields,
            stages: intersect_sets(&self.stages, &other.stages),
            amount_min: self.amount_min.max(other.amount_min),
            amount_max: match (self.amount_max, other.amount_max) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
            account_statuses: intersect_sets(&self.account_statuses, &other.account_statuses),
            countries: intersect_text(&self.countries, &other.countries),
            owners: intersect_text(&self.owners, &other.owners),
            tags_include,
            tags_exclude: self
                .tags_exclude
                .union(&other.tags_exclude)
                .cloned()
                .collect(),
            amount: amount.unwrap_or_default(),
            close_date,
        };
        combined.normalized()
    }

    /// The same filter in the form a policy file can state: tags that a row must not have are
    /// dropped from the "at least one of" clauses (such a row is refused anyway), and a filter
    /// that can match no row at all becomes "share nothing".
    fn normalized(mut self) -> OpportunityPolicy {
        let excluded = self.tags_exclude.clone();
        for clause in &mut self.tags_include {
            clause.retain(|t| !excluded.iter().any(|x| x.eq_ignore_ascii_case(t)));
        }
        let matches_nothing = self.tags_include.iter().any(BTreeSet::is_empty)
            || self.stages.as_ref().is_some_and(BTreeSet::is_empty)
            || self
                .account_statuses
                .as_ref()
                .is_some_and(BTreeSet::is_empty)
            || self.countries.as_ref().is_some_and(BTreeSet::is_empty)
            || self.owners.as_ref().is_some_and(BTreeSet::is_empty)
            || matches!((self.amount_min, self.amount_max), (Some(min), Some(max)) if min > max);
        if matches_nothing {
            return OpportunityPolicy::default();
        }
        let mut clauses: Vec<BTreeSet<String>> = Vec::new();
        for clause in self.tags_include.drain(..) {
            if !clauses.contains(&clause) {
                clauses.push(clause);
            }
        }
        self.tags_include = clauses;
        self
    }
}

impl AccountPolicy {
    /// The default sharing level, for populations without their own.
    pub fn sharing(&self) -> SharingLevel {
        self.effective(self.sharing)
    }

    /// The sharing level for one population: its own if the policy sets one, else `sharing`
    /// (`hidden` for `counts` when the policy refuses counts).
    pub fn level_for(&self, population: Population) -> SharingLevel {
        self.effective(
            self.populations
                .get(&population)
                .copied()
                .unwrap_or(self.sharing),
        )
    }

    /// Whether the policy refuses `counts` (`counts = "refused"`): such populations map as
    /// `hidden`.
    pub fn counts_refused(&self) -> bool {
        self.counts_refused
    }

    fn effective(&self, level: SharingLevel) -> SharingLevel {
        if self.counts_refused && level == SharingLevel::Counts {
            SharingLevel::Hidden
        } else {
            level
        }
    }

    /// The most any population reveals.
    pub fn level_max(&self) -> SharingLevel {
        Population::ALL
            .into_iter()
            .map(|p| self.level_for(p))
            .max()
            .unwrap_or(self.sharing())
            .max(self.sharing())
    }

    /// The shared account fields.
    pub fn fields(&self) -> &BTreeSet<AccountField> {
        &self.fields
    }

    /// The account status filter, if any.
    pub fn statuses(&self) -> Option<&BTreeSet<AccountStatus>> {
        self.statuses.as_ref()
    }

    /// Whether the status filter lets this account into mapping at all.
    pub fn admits(&self, account: &Account) -> bool {
        match &self.statuses {
            None => true,
            Some(s) => s.contains(&account.status),
        }
    }

    fn intersect(&self, other: &AccountPolicy) -> AccountPolicy {
        let sharing = self.sharing.min(other.sharing);
        let populations = Population::ALL
            .into_iter()
            .filter_map(|p| {
                let level = self.level_for(p).min(other.level_for(p));
                (level != sharing).then_some((p, level))
            })
            .collect();
        AccountPolicy {
            sharing,
            statuses: intersect_sets(&self.statuses, &other.statuses),
            fields: self.fields.intersection(&other.fields).copied().collect(),
            populations,
            counts_refused: self.counts_refused || other.counts_refused,
        }
    }
}

/// A filter list matches a row value ignoring ASCII case; a row without the value never matches.
fn matches_optional(filter: Option<&BTreeSet<String>>, value: Option<&str>) -> bool {
    match filter {
        None => true,
        Some(set) => value.is_some_and(|v| set.iter().any(|s| s.eq_ignore_ascii_case(v.trim()))),
    }
}

fn intersect_sets<T: Ord + Copy>(
    a: &Option<BTreeSet<T>>,
    b: &Option<BTreeSet<T>>,
) -> Option<BTreeSet<T>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.intersection(b).copied().collect()),
        (a, b) => a.clone().or_else(|| b.clone()),
    }
}

fn intersect_text(
    a: &Option<BTreeSet<String>>,
    b: &Option<BTreeSet<String>>,
) -> Option<BTreeSet<String>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(
            a.iter()
                .filter(|x| b.iter().any(|y| y.eq_ignore_ascii_case(x)))
                .cloned()
                .collect(),
        ),
        (a, b) => a.clone().or_else(|| b.clone()),
    }
}

/// The coarser of two amount transforms, or `None` when neither is coarse enough for both (the
/// amount is then withheld). Rounding steps combine to their least common multiple, so the
/// result is a multiple of each; bucket bounds combine to the bounds both have, so each combined
/// bucket is a union of each side's buckets.
pub(crate) fn coarsest_amount(a: &AmountTransform, b: &AmountTransform) -> Option<AmountTransform> {
    use AmountTransform::*;
    match (a, b) {
        (Exact, x) | (x, Exact) => Some(x.clone()),
        (RoundTo(x), RoundTo(y)) => {
            let step = lcm(*x, *y)?;
            (step <= ROUND_TO_UNITS_MAX).then_some(RoundTo(step))
        }
        (RoundTo(_), Buckets(bounds)) | (Buckets(bounds), RoundTo(_)) => {
            Some(Buckets(bounds.clone()))
        }
        (Buckets(x), Buckets(y)) => {
            let common: Vec<i64> = x.iter().filter(|v| y.contains(v)).copied().collect();
            (!common.is_empty()).then_some(Buckets(common))
        }
    }
}

fn lcm(a: i64, b: i64) -> Option<i64> {
    fn gcd(mut a: i64, mut b: i64) -> i64 {
        while b != 0 {
            (a, b) = (b, a % b);
        }
        a
    }
    (a / gcd(a, b)).checked_mul(b)
}
