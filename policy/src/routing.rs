//! Lead routing rules: which partner an inbound lead goes to. A rules file (TOML) lists the
//! partners that take leads, in round-robin order, each with what it covers (countries,
//! regions, specialization tags), its capacity and its exclusions; the file also sets the SLA
//! a partner has to accept or reject a lead. [`RoutingRules::from_toml`] validates it, every
//! error with its line and key; [`choose`] picks the partner for one lead. Pure: the node
//! resolves partner names, counts open leads and keeps the round-robin cursor.
//!
//! ```toml
//! sla_hours = 48                 # default 48; the partner's time to accept or reject
//! partner_types = ["reseller"]   # only partners of these types (default: any type)
//! exclude_countries = ["KP"]     # leads from these countries are never routed
//!
//! [[partner]]
//! partner = "Reseller Co"        # node id or unique partner name
//! countries = ["DE", "AT"]       # covers these countries …
//! regions = ["EMEA"]             # … or these regions (none of either: every lead)
//! tags = ["security", "cloud"]   # a lead's tags must all be among these
//! capacity = 50                  # most open (offered or accepted) leads at once
//! exclude_countries = ["CH"]     # never leads from these
//! ```

use crate::parse::{PolicyError, PolicyErrors};
use serde::Deserialize;
use toml::Spanned;

/// Most partner entries in a rules file.
pub const PARTNERS_MAX: usize = 500;
/// The SLA when the file sets none.
pub const SLA_HOURS_DEFAULT: f64 = 48.0;

/// A validated rules file.
#[derive(Debug, Clone, PartialEq)]
pub struct RoutingRules {
    /// Milliseconds a partner has to answer an offered lead.
    pub sla_ms: u64,
    /// Only partners of these types (lowercase); empty: any.
    pub partner_types: Vec<String>,
    /// Countries (uppercase) whose leads are never routed.
    pub exclude_countries: Vec<String>,
    /// Partners in round-robin order.
    pub partners: Vec<PartnerRule>,
}

/// One partner's entry.
#[derive(Debug, Clone, PartialEq)]
pub struct PartnerRule {
    /// As written: node id or unique partner name (the node resolves it).
    pub partner: String,
    /// The entry's line, for errors the node finds (an unknown partner).
    pub line: usize,
    /// Countries covered (canonical codes).
    pub countries: Vec<String>,
    /// Regions covered (lowercase).
    pub regions: Vec<String>,
    /// Specialization tags (lowercase).
    pub tags: Vec<String>,
    /// Most open leads at once.
    pub capacity: Option<u64>,
    /// Countries it never gets leads from.
    pub exclude_countries: Vec<String>,
}

/// What routing knows of one lead.
#[derive(Debug, Clone, Default)]
pub struct LeadFacts<'a> {
    /// The lead's country (code or name).
    pub country: &'a str,
    /// Its region, if known.
    pub region: Option<&'a str>,
    /// Its specialization tags.
    pub tags: &'a [String],
}

/// What the node knows of one candidate partner (same order as [`RoutingRules::partners`]).
#[derive(Debug, Clone, Default)]
pub struct Candidate {
    /// The partner's type (`reseller`, …), if known.
    pub partner_type: Option<String>,
    /// Leads open with it now (offered or accepted).
    pub open: u64,
    /// It is an active partner.
    pub active: bool,
    /// It already had this lead (timed out or rejected): never again.
    pub tried: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRules {
    sla_hours: Option<Spanned<f64>>,
    #[serde(default)]
    partner_types: Vec<Spanned<String>>,
    #[serde(default)]
    exclude_countries: Vec<Spanned<String>>,
    #[serde(default)]
    partner: Vec<Spanned<RawPartner>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPartner {
    partner: Spanned<String>,
    #[serde(default)]
    countries: Vec<Spanned<String>>,
    #[serde(default)]
    regions: Vec<Spanned<String>>,
    #[serde(default)]
    tags: Vec<Spanned<String>>,
    capacity: Option<Spanned<i64>>,
    #[serde(default)]
    exclude_countries: Vec<Spanned<String>>,
}

const PARTNER_TYPES: &[&str] = &[
    "reseller",
    "distributor",
    "si",
    "isv",
    "msp",
    "referral",
    "vendor",
];

impl RoutingRules {
    /// Parses and validates a rules file. Errors name the line and key.
    pub fn from_toml(text: &str) -> Result<RoutingRules, PolicyErrors> {
        let raw: RawRules = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start));
            PolicyErrors::from(vec![PolicyError {
                line,
                key: String::new(),
                message: e.message().trim().to_string(),
            }])
        })?;
        let mut errors = Vec::new();
        let mut err = |at: usize, key: String, message: String| {
            errors.push(PolicyError {
                line: Some(line_of(text, at)),
                key,
                message,
            })
        };
        let sla_hours = match &raw.sla_hours {
            Some(s)
                if !(s.get_ref().is_finite() && *s.get_ref() > 0.0 && *s.get_ref() <= 8760.0) =>
            {
                err(
                    s.span().start,
                    "sla_hours".into(),
                    "must be more than 0 and at most 8760 (a year)".into(),
                );
                SLA_HOURS_DEFAULT
            }
            Some(s) => *s.get_ref(),
            None => SLA_HOURS_DEFAULT,
        };
        let mut partner_types = Vec::new();
        for t in &raw.partner_types {
            let v = t.get_ref().trim().to_ascii_lowercase();
            if PARTNER_TYPES.contains(&v.as_str()) {
                partner_types.push(v);
            } else {
                err(
                    t.span().start,
                    "partner_types".into(),
                    format!(
                        "'{}' is not a partner type ({})",
                        t.get_ref(),
                        PARTNER_TYPES.join(", ")
                    ),
                );
            }
        }
        let exclude_countries = countries(&raw.exclude_countries, "exclude_countries", &mut err);
        if raw.partner.is_empty() {
            errors_push_whole(
                &mut err,
                "partner",
                "name at least one [[partner]] to route leads to",
            );
        }
        if raw.partner.len() > PARTNERS_MAX {
            err(
                raw.partner[PARTNERS_MAX].span().start,
                "partner".into(),
                format!("at most {PARTNERS_MAX} partners"),
            );
        }
        let mut partners: Vec<PartnerRule> = Vec::new();
        for (i, p) in raw.partner.iter().enumerate() {
            let at = p.span().start;
            let p = p.get_ref();
            let key = |k: &str| format!("partner[{i}].{k}");
            let name = p.partner.get_ref().trim().to_string();
            if name.is_empty() || name.chars().count() > 200 {
                err(
                    p.partner.span().start,
                    key("partner"),
                    "must name a partner (node id or name, at most 200 characters)".into(),
                );
            } else if partners
                .iter()
                .any(|q| q.partner.eq_ignore_ascii_case(&name))
            {
                err(
                    p.partner.span().start,
                    key("partner"),
                    format!("'{name}' is listed twice"),
                );
            }
            let capacity = match &p.capacity {
                Some(c) if *c.get_ref() < 1 => {
                    err(c.span().start, key("capacity"), "must be at least 1".into());
                    None
                }
                Some(c) => u64::try_from(*c.get_ref()).ok(),
                None => None,
            };
            let tags = words(&p.tags, &key("tags"), &mut err);
            let regions = words(&p.regions, &key("regions"), &mut err);
            partners.push(PartnerRule {
                partner: name,
                line: line_of(text, at),
                countries: countries(&p.countries, &key("countries"), &mut err),
                regions,
                tags,
                capacity,
                exclude_countries: countries(
                    &p.exclude_countries,
                    &key("exclude_countries"),
                    &mut err,
                ),
            });
        }
        if !errors.is_empty() {
            return Err(PolicyErrors::from(errors));
        }
        Ok(RoutingRules {
            sla_ms: (sla_hours * 3_600_000.0).round() as u64,
            partner_types,
            exclude_countries,
            partners,
        })
    }
}

fn errors_push_whole(err: &mut impl FnMut(usize, String, String), key: &str, message: &str) {
    err(0, key.into(), message.into());
}

fn countries(
    list: &[Spanned<String>],
    key: &str,
    err: &mut impl FnMut(usize, String, String),
) -> Vec<String> {
    let mut out = Vec::new();
    for c in list {
        if crate::country::is_country(c.get_ref()) {
            out.push(crate::country::canonical(c.get_ref()));
        } else {
            err(
                c.span().start,
                key.into(),
                format!("'{}' is not a country (ISO 3166 code or name)", c.get_ref()),
            );
        }
    }
    out
}

fn words(
    list: &[Spanned<String>],
    key: &str,
    err: &mut impl FnMut(usize, String, String),
) -> Vec<String> {
    let mut out = Vec::new();
    for w in list {
        let v = normalize_word(w.get_ref());
        if v.is_empty() || v.chars().count() > 64 {
            err(
                w.span().start,
                key.into(),
                "must be a word of 1 to 64 characters".into(),
            );
        } else {
            out.push(v);
        }
    }
    out
}

/// A tag or region as compared: trimmed, lowercase.
pub fn normalize_word(w: &str) -> String {
    w.trim().to_lowercase()
}

fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Why a lead cannot be routed (when [`choose`] finds no partner).
pub fn unroutable_reason(rules: &RoutingRules, lead: &LeadFacts<'_>) -> &'static str {
    let country = crate::country::canonical(lead.country);
    if rules.exclude_countries.contains(&country) {
        "its country is excluded by the rules"
    } else {
        "no partner in the rules covers it with capacity left"
    }
}

/// The index (into `rules.partners`) of the partner `lead` goes to, starting the round robin
/// after `cursor` (the index the previous lead went to; `None`: from the first). `candidates`
/// has one entry per rule. `None`: no partner fits.
pub fn choose(
    rules: &RoutingRules,
    lead: &LeadFacts<'_>,
    candidates: &[Candidate],
    cursor: Option<usize>,
) -> Option<usize> {
    let country = crate::country::canonical(lead.country);
    if rules.exclude_countries.contains(&country) {
        return None;
    }
    let n = rules.partners.len();
    let start = cursor.map_or(0, |c| (c + 1) % n.max(1));
    (0..n).map(|k| (start + k) % n).find(|&i| {
        let (rule, c) = (&rules.partners[i], candidates.get(i));
        let Some(c) = c else { return false };
        fits(rules, rule, c, lead, &country)
    })
}

fn fits(
    rules: &RoutingRules,
    rule: &PartnerRule,
    c: &Candidate,
    lead: &LeadFacts<'_>,
    country: &str,
) -> bool {
    if !c.active || c.tried || rule.capacity.is_some_and(|cap| c.open >= cap) {
        return false;
    }
    if !rules.partner_types.is_empty()
        && !c
            .partner_type
            .as_deref()
            .is_some_and(|t| rules.partner_types.iter().any(|w| w == t))
    {
        return false;
    }
    if rule.exclude_countries.iter().any(|x| x == country) {
        return false;
    }
    let region = lead.region.map(normalize_word);
    let covers = (rule.countries.is_empty() && rule.regions.is_empty())
        || rule.countries.iter().any(|x| x == country)
        || region.is_some_and(|r| rule.regions.contains(&r));
    covers
        && lead
            .tags
            .iter()
            .all(|t| rule.tags.contains(&normalize_word(t)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: &str = r#"
sla_hours = 2
exclude_countries = ["KP"]

[[partner]]
partner = "A"
countries = ["DE"]
tags = ["security"]
capacity = 1

[[partner]]
partner = "B"
regions = ["EMEA"]
tags = ["security", "cloud"]

[[partner]]
partner = "C"
exclude_countries = ["FR"]
"#;

    fn cands(n: usize) -> Vec<Candidate> {
        vec![
            Candidate {
                active: true,
                ..Candidate::default()
            };
            n
        ]
    }

    #[test]
    fn rules_route_by_country_region_tags_capacity_round_robin_and_exclusions() {
        let r = RoutingRules::from_toml(RULES).unwrap();
        assert_eq!(r.sla_ms, 7_200_000);
        let sec = vec!["Security".to_string()];
        let de = LeadFacts {
            country: "de",
            region: Some("emea"),
            tags: &sec,
        };
        let mut c = cands(3);
        assert_eq!(choose(&r, &de, &c, None), Some(0));
        // Round robin: after A comes B (covers EMEA and security).
        assert_eq!(choose(&r, &de, &c, Some(0)), Some(1));
        // A at capacity, B tried: C (no coverage limits, no tags) does not have the tag.
        c[0].open = 1;
        c[1].tried = true;
        assert_eq!(choose(&r, &de, &c, None), None);
        let fr = LeadFacts {
            country: "FR",
            region: None,
            tags: &[],
        };
        assert_eq!(choose(&r, &fr, &cands(3), None), None, "C excludes FR");
        let us = LeadFacts {
            country: "US",
            region: None,
            tags: &[],
        };
        assert_eq!(choose(&r, &us, &cands(3), None), Some(2));
        let kp = LeadFacts {
            country: "KP",
            region: None,
            tags: &[],
        };
        assert_eq!(choose(&r, &kp, &cands(3), None), None);
        assert_eq!(
            unroutable_reason(&r, &kp),
            "its country is excluded by the rules"
        );
    }

    #[test]
    fn errors_name_line_and_key() {
        let bad = "sla_hours = 0\n[[partner]]\npartner = \"A\"\ncountries = [\"Atlantis\"]\ncapacity = 0\n";
        let e = RoutingRules::from_toml(bad).unwrap_err().to_string();
        assert!(e.contains("line 1, key sla_hours"), "{e}");
        assert!(
            e.contains("line 4, key partner[0].countries: 'Atlantis'"),
            "{e}"
        );
        assert!(e.contains("line 5, key partner[0].capacity"), "{e}");
        let unknown = RoutingRules::from_toml("[[partner]]\npartner = \"A\"\ncapcity = 3\n")
            .unwrap_err()
            .to_string();
        assert!(unknown.starts_with("line 3"), "{unknown}");
        assert!(unknown.contains("capcity"), "{unknown}");
    }
}
