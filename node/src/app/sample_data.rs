//! Realistic generated CRM data for `cosell demo`: a shared universe of companies from which each
//! demo node draws its own accounts (so partners' account lists overlap the way real ones do),
//! and a pipeline of opportunities in every stage. Deterministic for a given seed.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

/// Companies the demo nodes' accounts are drawn from.
const UNIVERSE_SIZE: usize = 600;

const PREFIXES: &[&str] = &[
    "Blue", "North", "Silver", "Bright", "Iron", "Green", "Summit", "Harbor", "Pioneer", "Atlas",
    "Cedar", "Granite", "Swift", "Crystal", "Golden", "Maple", "Apex", "Vertex", "Nimbus", "Orion",
    "Polar", "Quantum", "Redwood", "Sterling", "Titan", "Union", "Vista", "Willow", "Zenith",
    "Lumen",
];
const ROOTS: &[&str] = &[
    "stone", "bridge", "field", "point", "wave", "peak", "light", "forge", "path", "gate", "river",
    "crest", "works", "line", "haven", "spark", "leaf", "shore", "ridge", "grove",
];
const KINDS: &[(&str, &str)] = &[
    ("Health", "Healthcare"),
    ("Bank", "Financial Services"),
    ("Logistics", "Transportation"),
    ("Retail", "Retail"),
    ("Energy", "Energy"),
    ("Labs", "Life Sciences"),
    ("Media", "Media"),
    ("Foods", "Consumer Goods"),
    ("Systems", "Technology"),
    ("Motors", "Manufacturing"),
];
const COUNTRIES: &[&str] = &["US", "US", "US", "CA", "GB", "DE", "FR", "NL", "AU", "JP"];
const FIRST: &[&str] = &[
    "Ava", "Ben", "Chloe", "Diego", "Elena", "Farid", "Grace", "Hiro", "Isla", "Jonas", "Kemi",
    "Liam", "Maya", "Noah", "Olga", "Priya", "Quinn", "Rosa", "Sam", "Tariq",
];
const LAST: &[&str] = &[
    "Adams", "Brooks", "Chen", "Diaz", "Evans", "Fischer", "Garcia", "Haddad", "Ito", "Johnson",
    "Kowalski", "Lopez", "Martin", "Nguyen", "Okafor", "Patel",
];
const PRODUCTS: &[&str] = &[
    "Platform",
    "Analytics",
    "Security Suite",
    "Data Pipeline",
    "Managed Service",
    "Migration",
    "Premium Support",
    "Edge Gateway",
];
const NEXT_STEPS: &[&str] = &[
    "Schedule technical deep dive",
    "Send pricing proposal",
    "Security review with CISO",
    "Proof of concept kickoff",
    "Procurement paperwork",
    "Executive sponsor meeting",
    "Joint customer workshop",
];
const STAGES: &[&str] = &[
    "prospect",
    "qualified",
    "technical_validation",
    "business_validation",
    "committed",
    "launched",
    "closed_lost",
];

/// One company of the universe.
#[derive(Debug, Clone)]
struct Company {
    name: String,
    domain: String,
    industry: &'static str,
    country: &'static str,
}

fn universe() -> Vec<Company> {
    // A fixed seed: every demo node sees the same universe, whatever its own seed.
    let mut rng = StdRng::seed_from_u64(0x00c0_5e11);
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(UNIVERSE_SIZE);
    while out.len() < UNIVERSE_SIZE {
        let prefix = PREFIXES[rng.gen_range(0..PREFIXES.len())];
        let root = ROOTS[rng.gen_range(0..ROOTS.len())];
        let (kind, industry) = KINDS[rng.gen_range(0..KINDS.len())];
        let name = format!("{prefix}{root} {kind}");
        if !seen.insert(name.clone()) {
            continue;
        }
        let tld = [".com", ".com", ".io", ".co", ".net"][rng.gen_range(0..5)];
        out.push(Company {
            domain: format!("{}{}{}", prefix.to_lowercase(), root, kind.to_lowercase()) + tld,
            name,
            industry,
            country: COUNTRIES[rng.gen_range(0..COUNTRIES.len())],
        });
    }
    out
}

fn person(rng: &mut StdRng) -> String {
    format!(
        "{} {}",
        FIRST[rng.gen_range(0..FIRST.len())],
        LAST[rng.gen_range(0..LAST.len())]
    )
}

/// A company's generated CRM export: accounts CSV and opportunities CSV (cosell's own headers).
#[derive(Debug, Clone)]
pub struct SampleData {
    /// Accounts, one per drawn company.
    pub accounts_csv: String,
    /// Opportunities on those accounts, in every stage.
    pub opportunities_csv: String,
}

/// Draws `accounts` companies from the shared universe and `opportunities` deals on them.
/// `prefix` keeps external ids distinct between nodes (`VND-A-0001`).
pub fn generate(seed: u64, prefix: &str, accounts: usize, opportunities: usize) -> SampleData {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut companies = universe();
    companies.shuffle(&mut rng);
    companies.truncate(accounts.min(UNIVERSE_SIZE));
    let mut acc = csv::Writer::from_writer(Vec::new());
    let _ = acc.write_record([
        "external_id",
        "name",
        "domain",
        "industry",
        "country",
        "status",
        "owner",
        "tags",
    ]);
    for (i, c) in companies.iter().enumerate() {
        let status = match rng.gen_range(0..10) {
            0..=3 => "customer",
            4..=8 => "prospect",
            _ => "other",
        };
        let tags = if rng.gen_bool(0.2) { "strategic" } else { "" };
        let owner = person(&mut rng);
        let _ = acc.write_record([
            format!("{prefix}-A-{i:04}").as_str(),
            &c.name,
            &format!("https://www.{}", c.domain),
            c.industry,
            c.country,
            status,
            &owner,
            tags,
        ]);
    }
    let mut opp = csv::Writer::from_writer(Vec::new());
    let _ = opp.write_record([
        "external_id",
        "account_external_id",
        "name",
        "stage",
        "amount",
        "currency",
        "close_date",
        "owner",
        "next_step",
        "description",
        "tags",
    ]);
    for i in 0..opportunities {
        if companies.is_empty() {
            break;
        }
        let a = rng.gen_range(0..companies.len());
        let company = &companies[a];
        let product = PRODUCTS[rng.gen_range(0..PRODUCTS.len())];
        let stage = STAGES[i % STAGES.len()];
        let amount = rng.gen_range(5..900) * 1000 + rng.gen_range(0..1000);
        let month = rng.gen_range(1..=12);
        let year = if rng.gen_bool(0.6) { 2026 } else { 2027 };
        let day = rng.gen_range(1..=28);
        let tags = match rng.gen_range(0..10) {
            0 => "internal",
            1 | 2 => "renewal",
            3 => "strategic;expansion",
            _ => "",
        };
        let owner = person(&mut rng);
        let _ = opp.write_record([
            format!("{prefix}-O-{i:04}").as_str(),
            &format!("{prefix}-A-{a:04}"),
            &format!("{} - {product}", company.name),
            stage,
            &format!("{amount}.00"),
            "USD",
            &format!("{year}-{month:02}-{day:02}"),
            &owner,
            NEXT_STEPS[rng.gen_range(0..NEXT_STEPS.len())],
            &format!(
                "{product} for {}'s {} team; internal notes: budget owner {}",
                company.name,
                company.industry.to_lowercase(),
                person(&mut rng)
            ),
            tags,
        ]);
    }
    SampleData {
        accounts_csv: String::from_utf8(acc.into_inner().unwrap_or_default()).unwrap_or_default(),
        opportunities_csv: String::from_utf8(opp.into_inner().unwrap_or_default())
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_data_imports_cleanly_and_overlaps_between_nodes() {
        let a = generate(1, "VND", 300, 400);
        let b = generate(2, "RSL", 250, 150);
        let mut accounts = crate::import::read_accounts(a.accounts_csv.as_bytes()).unwrap();
        let domains_a: std::collections::HashSet<String> = accounts
            .by_ref()
            .map(|r| r.unwrap().domain.unwrap().as_str().to_string())
            .collect();
        assert_eq!(domains_a.len(), 300);
        let domains_b: std::collections::HashSet<String> =
            crate::import::read_accounts(b.accounts_csv.as_bytes())
                .unwrap()
                .map(|r| r.unwrap().domain.unwrap().as_str().to_string())
                .collect();
        let overlap = domains_a.intersection(&domains_b).count();
        assert!((60..=200).contains(&overlap), "overlap {overlap}");
        let opps: Vec<_> = crate::import::read_opportunities(a.opportunities_csv.as_bytes())
            .unwrap()
            .collect();
        assert_eq!(opps.len(), 400);
        assert!(opps.iter().all(|r| r.is_ok()));
    }

    #[test]
    fn same_seed_same_data() {
        assert_eq!(
            generate(7, "X", 20, 30).opportunities_csv,
            generate(7, "X", 20, 30).opportunities_csv
        );
    }
}
