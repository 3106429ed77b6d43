//! A vendor's partner program: tiers with requirements and benefits, the weights of the health
//! score, and the exchange rates totals are converted with — read from a file like policies
//! (TOML or the same structure as JSON, every error with its line and key), then evaluated
//! against a partner's figures.
//!
//! - [`Program::from_toml`] / [`Program::from_json`]: parse and validate.
//! - [`Program::standing`]: a partner's tier from its [`Figures`], and what the next tier lacks.
//! - [`Program::health`]: the 0–100 health score from [`HealthInputs`], explained factor by
//!   factor.
//! - [`Program::convert`]: an amount in another currency in the program's currency, exactly.
//!
//! The figures themselves (pipeline, wins, certified people, …) are counted by the node from
//! what it holds; this module only decides, so that the rules are pure and table-testable.
//! The format is documented in `policy/README.md` ("Partner program").

mod health;
mod parse;
mod standing;
#[cfg(test)]
mod tests;

pub use health::{Factor, Health, HealthFactor, HealthInputs};
pub use standing::{Figures, Lack, Standing};

use protocol::records::{Amount, Currency};
use std::collections::BTreeMap;

/// The program file format this node reads.
pub const PROGRAM_VERSION: i64 = 1;
/// The largest program file accepted.
pub const PROGRAM_BYTES_MAX: usize = 64 * 1024;
/// The most tiers a program has.
pub const TIERS_MAX: usize = 16;

/// What a requirement counts. Money metrics are in the program's currency over the program's
/// window; counts are whole numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Metric {
    /// Open and won pipeline of deals the partner sourced (agreed attribution).
    SourcedPipeline,
    /// Open and won pipeline of deals the partner influenced (agreed attribution).
    InfluencedPipeline,
    /// Amount of won deals the partner took part in.
    WonRevenue,
    /// Number of won deals the partner took part in.
    DealsWon,
    /// Number of deals shared with (or by) the partner.
    DealsShared,
    /// People of the partner holding a valid certification attestation.
    CertifiedPeople,
    /// The partner's registrations this node approved.
    RegistrationsApproved,
    /// Accounts both companies have as customers (latest account mapping).
    CustomerOverlap,
}

impl Metric {
    /// Every metric, in the order reports list them.
    pub const ALL: [Metric; 8] = [
        Metric::SourcedPipeline,
        Metric::InfluencedPipeline,
        Metric::WonRevenue,
        Metric::DealsWon,
        Metric::DealsShared,
        Metric::CertifiedPeople,
        Metric::RegistrationsApproved,
        Metric::CustomerOverlap,
    ];

    /// The file's and the API's name (`sourced_pipeline`).
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::SourcedPipeline => "sourced_pipeline",
            Metric::InfluencedPipeline => "influenced_pipeline",
            Metric::WonRevenue => "won_revenue",
            Metric::DealsWon => "deals_won",
            Metric::DealsShared => "deals_shared",
            Metric::CertifiedPeople => "certified_people",
            Metric::RegistrationsApproved => "registrations_approved",
            Metric::CustomerOverlap => "customer_overlap",
        }
    }

    /// The metric of a name, if any.
    pub fn parse(name: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.as_str() == name)
    }

    /// Whether values are money (ten-thousandths of the program currency) rather than counts.
    pub fn is_money(self) -> bool {
        matches!(
            self,
            Metric::SourcedPipeline | Metric::InfluencedPipeline | Metric::WonRevenue
        )
    }

    /// A value of this metric as people read it: `125000.50 USD`, `3`.
    pub fn display(self, value: i128, currency: Currency) -> String {
        if self.is_money() {
            format!("{} {}", money_text(value), currency.as_str())
        } else {
            value.to_string()
        }
    }
}

/// Ten-thousandths as a decimal without trailing zeros (`1250000` → `125`, `12505` → `1.2505`).
pub fn money_text(ten_thousandths: i128) -> String {
    let sign = if ten_thousandths < 0 { "-" } else { "" };
    let v = ten_thousandths.unsigned_abs();
    let units = v / 10_000;
    let frac = v % 10_000;
    if frac == 0 {
        format!("{sign}{units}")
    } else {
        let digits = format!("{frac:04}");
        format!("{sign}{units}.{}", digits.trim_end_matches('0'))
    }
}

/// What a tier gives a partner. Shown to the partner; the node applies
/// `registration_protection_days` to that partner's registrations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Benefits {
    /// Days an approved registration protects the partner's claim.
    pub registration_protection_days: Option<u32>,
    /// Market development funds per quarter, in the program currency.
    pub mdf_allocation: Option<Amount>,
    /// Priority in lead routing (higher first).
    pub lead_priority: Option<u32>,
    /// Free text, e.g. "10% off list".
    pub discount: Option<String>,
}

/// One tier: its name, what a partner must reach (every requirement), what it gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tier {
    /// Lower-case name, unique in the program (`gold`).
    pub name: String,
    /// Thresholds, each a minimum (money in ten-thousandths, counts in units).
    pub requires: BTreeMap<Metric, i128>,
    /// What the tier gives.
    pub benefits: Benefits,
}

/// Health score weights (relative; 0 leaves a factor out) and the targets at which a factor
/// counts as fully healthy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthRules {
    /// Weight per factor.
    pub weights: BTreeMap<Factor, u32>,
    /// Answering invitations and registrations within this many hours is fully healthy.
    pub response_hours: u32,
    /// This many overlapping customers is fully healthy.
    pub overlap: u32,
    /// Activity within this many days is fully healthy.
    pub recency_days: u32,
    /// This many shared deals in the window is fully healthy.
    pub deals_shared: u32,
}

impl Default for HealthRules {
    fn default() -> Self {
        HealthRules {
            weights: Factor::ALL.into_iter().map(|f| (f, 1)).collect(),
            response_hours: 24,
            overlap: 50,
            recency_days: 30,
            deals_shared: 10,
        }
    }
}

/// A validated partner program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    /// The currency thresholds, benefits and totals are in.
    pub currency: Currency,
    /// The days the requirements count over (deals created, registrations decided, wins closed
    /// within the window ending today).
    pub window_days: u32,
    /// Tiers from lowest to highest.
    pub tiers: Vec<Tier>,
    /// How the health score is weighed.
    pub health: HealthRules,
    /// 1 unit of a currency in millionths of the program currency.
    pub rates: BTreeMap<Currency, i128>,
}

impl Program {
    /// The tier of this name.
    pub fn tier(&self, name: &str) -> Option<&Tier> {
        self.tiers.iter().find(|t| t.name == name)
    }

    /// `amount` of `currency` in ten-thousandths of the program currency, rounded half away
    /// from zero; `None` when the program has no rate for that currency.
    pub fn convert(&self, amount: Amount, currency: Currency) -> Option<i128> {
        let value = i128::from(amount.ten_thousandths());
        if currency == self.currency {
            return Some(value);
        }
        let rate = *self.rates.get(&currency)?;
        Some((value * rate + 500_000) / 1_000_000)
    }
}
