//! Reading a program file: the policy parser's syntax tree (every value with its offset), then
//! one validation pass that collects every error with its line and key.

use super::{
    Benefits, Factor, HealthRules, Metric, Program, Tier, PROGRAM_BYTES_MAX, PROGRAM_VERSION,
    TIERS_MAX,
};
use crate::parse::{hint, single, toml_tree, Checker, Node, Raw};
use crate::PolicyErrors;
use protocol::records::Currency;
use std::collections::{BTreeMap, BTreeSet};

const TOP_KEYS: [&str; 6] = [
    "version",
    "currency",
    "window_days",
    "rates",
    "tiers",
    "health",
];
const TIER_KEYS: [&str; 3] = ["name", "requires", "benefits"];
const BENEFIT_KEYS: [&str; 4] = [
    "registration_protection_days",
    "mdf_allocation",
    "lead_priority",
    "discount",
];
const HEALTH_KEYS: [&str; 2] = ["weights", "targets"];
const TARGET_KEYS: [&str; 4] = ["response_hours", "overlap", "recency_days", "deals_shared"];
const NAME_MAX: usize = 40;
const TEXT_MAX: usize = 200;
const WINDOW_DAYS_MAX: i64 = 3650;
const WEIGHT_MAX: i64 = 100;
/// Fractional digits a rate keeps (millionths).
const RATE_DIGITS: usize = 6;

impl Program {
    /// Parses and validates a program file in TOML. Errors name the line and key.
    pub fn from_toml(text: &str) -> Result<Program, PolicyErrors> {
        check_size(text)?;
        let root = toml_tree(text, "programs use none; write dates as strings")?;
        Checker::new(Some(text)).program(&root)
    }

    /// Parses and validates the same structure as JSON (the HTTP API's body).
    pub fn from_json(text: &str) -> Result<Program, PolicyErrors> {
        check_size(text)?;
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| single(Some(e.line()), "", format!("invalid JSON: {e}")))?;
        Checker::new(None).program(&Node::from_json(&value))
    }
}

fn check_size(text: &str) -> Result<(), PolicyErrors> {
    if text.len() > PROGRAM_BYTES_MAX {
        return Err(single(
            None,
            "",
            format!("program is larger than {PROGRAM_BYTES_MAX} bytes"),
        ));
    }
    Ok(())
}

impl Checker<'_> {
    fn program(mut self, root: &Node) -> Result<Program, PolicyErrors> {
        let mut program = Program {
            currency: Currency::parse("USD").expect("USD is a currency"),
            window_days: 365,
            tiers: Vec::new(),
            health: HealthRules::default(),
            rates: BTreeMap::new(),
        };
        let Some(entries) = self.table(root, "", &TOP_KEYS) else {
            return self.finish(program);
        };
        match entries.get("version") {
            Some(node) => match node.raw {
                Raw::Int(PROGRAM_VERSION) => {}
                Raw::Int(v) => self.error(
                    node.offset,
                    "version",
                    format!("unsupported program version {v} (this node reads version {PROGRAM_VERSION})"),
                ),
                _ => self.wrong_type(node, "version", "an integer"),
            },
            None => self.error(None, "version", format!("missing (write version = {PROGRAM_VERSION})")),
        }
        match entries.get("currency") {
            Some(node) => {
                if let Some(c) = self.currency(node, "currency") {
                    program.currency = c;
                }
            }
            None => self.error(
                None,
                "currency",
                "missing (the currency thresholds are in, e.g. \"USD\")",
            ),
        }
        if let Some(node) = entries.get("window_days") {
            if let Some(days) = self.count(node, "window_days", 1, WINDOW_DAYS_MAX) {
                program.window_days = days as u32;
            }
        }
        if let Some(node) = entries.get("rates") {
            program.rates = self.rates(node, program.currency);
        }
        match entries.get("tiers") {
            Some(node) => program.tiers = self.tiers(node),
            None => self.error(
                None,
                "tiers",
                "missing (a program has at least one [[tiers]])",
            ),
        }
        if let Some(node) = entries.get("health") {
            if let Some(h) = self.health_rules(node) {
                program.health = h;
            }
        }
        self.finish(program)
    }

    fn currency(&mut self, node: &Node, key: &str) -> Option<Currency> {
        let Raw::Str(s) = &node.raw else {
            self.wrong_type(node, key, "a currency code");
            return None;
        };
        Currency::parse(s)
            .map_err(|e| self.error(node.offset, key, e.message().to_string()))
            .ok()
    }

    /// A whole number in `min ..= max`.
    fn count(&mut self, node: &Node, key: &str, min: i64, max: i64) -> Option<i64> {
        let Raw::Int(v) = node.raw else {
            self.wrong_type(node, key, "a whole number");
            return None;
        };
        if v < min || v > max {
            self.error(node.offset, key, format!("must be {min} to {max}"));
            return None;
        }
        Some(v)
    }

    fn rates(&mut self, node: &Node, program_currency: Currency) -> BTreeMap<Currency, i128> {
        let mut rates = BTreeMap::new();
        let Raw::Table(items) = &node.raw else {
            self.wrong_type(node, "rates", "a table of currency = rate");
            return rates;
        };
        for (code, offset, value) in items {
            let key = format!("rates.{code}");
            let Some(currency) = Currency::from_code(code) else {
                let message = format!("'{code}' is not an ISO 4217 currency code (e.g. EUR)");
                self.error(offset.or(value.offset), &key, message);
                continue;
            };
            if currency == program_currency {
                let message = "the program currency needs no rate (it is 1)";
                self.error(offset.or(value.offset), &key, message);
                continue;
            }
            let text = match &value.raw {
                Raw::Str(s) => s.trim().to_string(),
                Raw::Int(i) => i.to_string(),
                Raw::Float(f) => f.to_string(),
                _ => {
                    self.wrong_type(value, &key, "a rate (a number or a decimal string)");
                    continue;
                }
            };
            match parse_rate(&text) {
                Some(rate) if rate > 0 => {
                    rates.insert(currency, rate);
                }
                _ => self.error(
                    value.offset,
                    &key,
                    format!("'{text}' is not a positive rate with at most {RATE_DIGITS} decimals"),
                ),
            }
        }
        rates
    }

    fn tiers(&mut self, node: &Node) -> Vec<Tier> {
        let Raw::Array(items) = &node.raw else {
            self.wrong_type(node, "tiers", "a list of tables ([[tiers]])");
            return Vec::new();
        };
        if items.is_empty() {
            self.error(node.offset, "tiers", "a program has at least one tier");
        }
        if items.len() > TIERS_MAX {
            self.error(node.offset, "tiers", format!("more than {TIERS_MAX} tiers"));
            return Vec::new();
        }
        let mut tiers: Vec<Tier> = Vec::new();
        let mut names = BTreeSet::new();
        for item in items {
            let Some(entries) = self.table(item, "tiers", &TIER_KEYS) else {
                continue;
            };
            let name = match entries.get("name") {
                Some(n) => match &n.raw {
                    Raw::Str(s) if valid_name(s.trim()) => {
                        let s = s.trim().to_lowercase();
                        if !names.insert(s.clone()) {
                            self.error(
                                n.offset,
                                "tiers.name",
                                format!("tier \"{s}\" is named twice"),
                            );
                        }
                        s
                    }
                    Raw::Str(s) => {
                        let message = format!("\"{s}\" is not a tier name (letters, digits, - and _; at most {NAME_MAX})");
                        self.error(n.offset, "tiers.name", message);
                        continue;
                    }
                    _ => {
                        self.wrong_type(n, "tiers.name", "a string");
                        continue;
                    }
                },
                None => {
                    self.error(item.offset, "tiers", "a tier needs a name");
                    continue;
                }
            };
            let key = format!("tiers.{name}");
            let requires = entries
                .get("requires")
                .map(|n| self.requirements(n, &format!("{key}.requires")))
                .unwrap_or_default();
            let benefits = entries
                .get("benefits")
                .map(|n| self.benefits(n, &format!("{key}.benefits")))
                .unwrap_or_default();
            // A higher tier never asks less than a lower one: else reaching it would not mean
            // more, and a partner could skip tiers in a way nobody meant.
            if let Some(lower) = tiers.last() {
                for (metric, need) in &requires {
                    if let Some(lower_need) = lower.requires.get(metric) {
                        if need < lower_need {
                            let offset = entries.get("requires").and_then(|n| n.offset);
                            let message = format!(
                                "{} is lower than tier \"{}\" requires (tiers go from lowest to highest)",
                                metric.as_str(),
                                lower.name
                            );
                            self.error(
                                offset,
                                &format!("{key}.requires.{}", metric.as_str()),
                                message,
                            );
                        }
                    }
                }
            }
            tiers.push(Tier {
                name,
                requires,
                benefits,
            });
        }
        tiers
    }

    fn requirements(&mut self, node: &Node, path: &str) -> BTreeMap<Metric, i128> {
        let mut out = BTreeMap::new();
        let Raw::Table(items) = &node.raw else {
            self.wrong_type(node, path, "a table of metric = minimum");
            return out;
        };
        let names = Metric::ALL.map(Metric::as_str);
        for (name, offset, value) in items {
            let key = format!("{path}.{name}");
            let Some(metric) = Metric::parse(name) else {
                let message = format!("unknown metric \"{name}\"{}", hint(name, &names));
                self.error(offset.or(value.offset), path, message);
                continue;
            };
            let need = if metric.is_money() {
                self.amount(value, &key)
                    .map(|a| i128::from(a.ten_thousandths()))
            } else {
                self.count(value, &key, 0, i64::from(u32::MAX))
                    .map(i128::from)
            };
            if let Some(need) = need {
                out.insert(metric, need);
            }
        }
        out
    }

    fn benefits(&mut self, node: &Node, path: &str) -> Benefits {
        let mut b = Benefits::default();
        let Some(entries) = self.table(node, path, &BENEFIT_KEYS) else {
            return b;
        };
        if let Some(n) = entries.get("registration_protection_days") {
            let key = format!("{path}.registration_protection_days");
            b.registration_protection_days = self.count(n, &key, 1, 730).map(|v| v as u32);
        }
        if let Some(n) = entries.get("mdf_allocation") {
            b.mdf_allocation = self.amount(n, &format!("{path}.mdf_allocation"));
        }
        if let Some(n) = entries.get("lead_priority") {
            let key = format!("{path}.lead_priority");
            b.lead_priority = self.count(n, &key, 0, 100).map(|v| v as u32);
        }
        if let Some(n) = entries.get("discount") {
            let key = format!("{path}.discount");
            match &n.raw {
                Raw::Str(s) if s.trim().is_empty() => self.error(n.offset, &key, "empty value"),
                Raw::Str(s) if s.chars().count() > TEXT_MAX => {
                    self.error(n.offset, &key, format!("longer than {TEXT_MAX} characters"))
                }
                Raw::Str(s) => b.discount = Some(s.trim().to_string()),
                _ => self.wrong_type(n, &key, "a string"),
            }
        }
        b
    }

    fn health_rules(&mut self, node: &Node) -> Option<HealthRules> {
        let entries = self.table(node, "health", &HEALTH_KEYS)?;
        let mut rules = HealthRules::default();
        if let Some(n) = entries.get("weights") {
            let Raw::Table(items) = &n.raw else {
                self.wrong_type(n, "health.weights", "a table of factor = weight");
                return None;
            };
            let names = Factor::ALL.map(Factor::as_str);
            // Named weights replace the defaults; factors not named are left out (weight 0).
            rules.weights = Factor::ALL.into_iter().map(|f| (f, 0)).collect();
            for (name, offset, value) in items {
                let key = format!("health.weights.{name}");
                match Factor::parse(name) {
                    Some(factor) => {
                        if let Some(w) = self.count(value, &key, 0, WEIGHT_MAX) {
                            rules.weights.insert(factor, w as u32);
                        }
                    }
                    None => {
                        let message = format!("unknown factor \"{name}\"{}", hint(name, &names));
                        self.error(offset.or(value.offset), "health.weights", message);
                    }
                }
            }
            if rules.weights.values().all(|w| *w == 0) {
                self.error(
                    n.offset,
                    "health.weights",
                    "at least one factor needs a weight above 0",
                );
            }
        }
        if let Some(n) = entries.get("targets") {
            let targets = self.table(n, "health.targets", &TARGET_KEYS)?;
            for (name, value) in targets {
                let key = format!("health.targets.{name}");
                if let Some(v) = self.count(value, &key, 1, 100_000) {
                    let v = v as u32;
                    match name {
                        "response_hours" => rules.response_hours = v,
                        "overlap" => rules.overlap = v,
                        "recency_days" => rules.recency_days = v,
                        _ => rules.deals_shared = v,
                    }
                }
            }
        }
        Some(rules)
    }
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars().count() <= NAME_MAX
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A positive decimal with at most [`RATE_DIGITS`] fractional digits, in millionths.
fn parse_rate(text: &str) -> Option<i128> {
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() && frac.is_empty()
        || frac.len() > RATE_DIGITS
        || !whole.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
        || whole.len() > 12
    {
        return None;
    }
    let whole: i128 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let frac_value: i128 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<6}").parse().ok()?
    };
    Some(whole * 1_000_000 + frac_value)
}
