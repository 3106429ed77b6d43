use super::*;
use protocol::records::{Amount, Currency};

const PROGRAM: &str = r#"
version = 1
currency = "USD"
window_days = 365

[rates]
EUR = "1.08"
JPY = 0.0067

[[tiers]]
name = "registered"

[[tiers]]
name = "silver"
requires = { sourced_pipeline = 100000, certified_people = 2 }
benefits = { registration_protection_days = 90, mdf_allocation = 5000, discount = "10% off list" }

[[tiers]]
name = "gold"
requires = { sourced_pipeline = "500000", won_revenue = 250000, certified_people = 5, registrations_approved = 3 }
benefits = { registration_protection_days = 120, lead_priority = 2 }

[health]
weights = { win_rate = 3, response_hours = 2, acceptance_rate = 2, recency = 1 }
targets = { response_hours = 12 }
"#;

fn usd(units: i128) -> i128 {
    units * 10_000
}

fn program() -> Program {
    Program::from_toml(PROGRAM).expect("the example program is valid")
}

fn figures(pairs: &[(Metric, i128)]) -> Figures {
    pairs.iter().copied().collect()
}

#[test]
fn the_example_program_reads_as_written() {
    let p = program();
    assert_eq!(p.currency.as_str(), "USD");
    assert_eq!(
        p.tiers.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        ["registered", "silver", "gold"]
    );
    let gold = p.tier("gold").expect("gold");
    assert_eq!(gold.requires[&Metric::SourcedPipeline], usd(500_000));
    assert_eq!(gold.requires[&Metric::CertifiedPeople], 5);
    assert_eq!(gold.benefits.lead_priority, Some(2));
    assert_eq!(p.rates[&Currency::parse("EUR").expect("EUR")], 1_080_000);
    assert_eq!(p.rates[&Currency::parse("JPY").expect("JPY")], 6_700);
    assert_eq!(p.health.response_hours, 12);
    assert_eq!(p.health.weights[&Factor::Overlap], 0);
}

#[test]
fn a_partner_gets_the_highest_tier_whose_every_requirement_it_meets() {
    let p = program();
    // (figures, expected tier, expected next tier and what it lacks)
    type Case = (
        Figures,
        Option<&'static str>,
        Option<(&'static str, Vec<Metric>)>,
    );
    let cases: Vec<Case> = vec![
        (
            figures(&[]),
            Some("registered"),
            Some((
                "silver",
                vec![Metric::SourcedPipeline, Metric::CertifiedPeople],
            )),
        ),
        (
            figures(&[
                (Metric::SourcedPipeline, usd(100_000)),
                (Metric::CertifiedPeople, 2),
            ]),
            Some("silver"),
            Some((
                "gold",
                vec![
                    Metric::SourcedPipeline,
                    Metric::WonRevenue,
                    Metric::CertifiedPeople,
                    Metric::RegistrationsApproved,
                ],
            )),
        ),
        (
            // One short of silver's certified people: still registered.
            figures(&[
                (Metric::SourcedPipeline, usd(900_000)),
                (Metric::CertifiedPeople, 1),
            ]),
            Some("registered"),
            Some(("silver", vec![Metric::CertifiedPeople])),
        ),
        (
            figures(&[
                (Metric::SourcedPipeline, usd(500_000)),
                (Metric::WonRevenue, usd(250_000)),
                (Metric::CertifiedPeople, 5),
                (Metric::RegistrationsApproved, 3),
            ]),
            Some("gold"),
            None,
        ),
    ];
    for (figures, tier, next) in cases {
        let standing = p.standing(&figures);
        let got_tier = standing.tier.map(|i| p.tiers[i].name.as_str());
        assert_eq!(got_tier, tier, "tier for {figures:?}");
        let got_next = standing.next.as_ref().map(|(i, lacks)| {
            (
                p.tiers[*i].name.as_str(),
                lacks.iter().map(|l| l.metric).collect::<Vec<_>>(),
            )
        });
        assert_eq!(got_next, next, "next tier for {figures:?}");
    }
}

#[test]
fn a_lack_says_what_the_partner_has_and_what_the_tier_needs() {
    let p = program();
    let standing = p.standing(&figures(&[(Metric::SourcedPipeline, usd(40_000))]));
    let (_, lacks) = standing.next.expect("silver is next");
    assert_eq!(
        lacks[0],
        Lack {
            metric: Metric::SourcedPipeline,
            have: usd(40_000),
            need: usd(100_000)
        }
    );
    assert_eq!(
        Metric::SourcedPipeline.display(lacks[0].need, p.currency),
        "100000 USD"
    );
}

#[test]
fn below_a_first_tier_with_requirements_there_is_no_tier() {
    let p = Program::from_toml(
        "version = 1\ncurrency = \"EUR\"\n[[tiers]]\nname = \"silver\"\nrequires = { deals_won = 1 }\n",
    )
    .expect("valid");
    let standing = p.standing(&Figures::new());
    assert_eq!(standing.tier, None);
    assert_eq!(standing.next.map(|(i, _)| i), Some(0));
}

#[test]
fn amounts_convert_exactly_through_the_rates_table() {
    let p = program();
    let eur = Currency::parse("EUR").expect("EUR");
    let amount = Amount::parse("1000.50").expect("amount");
    // 1000.50 EUR × 1.08 = 1080.54 USD
    assert_eq!(p.convert(amount, eur), Some(10_805_400));
    assert_eq!(p.convert(amount, p.currency), Some(10_005_000));
    assert_eq!(
        p.convert(amount, Currency::parse("GBP").expect("GBP")),
        None
    );
    assert_eq!(money_text(10_805_400), "1080.54");
    assert_eq!(money_text(usd(7)), "7");
}

#[test]
fn every_error_names_its_line_and_key() {
    let text = r#"version = 1
currency = "USX"
window_days = 0

[rates]
EUR = "-1"

[[tiers]]
name = "silver"
requires = { sourced_pipelin = 5, certified_people = 3 }

[[tiers]]
name = "gold"
requires = { certified_people = 2 }
benefits = { lead_priorty = 1 }

[health]
weights = { win_rat = 1 }
"#;
    let errors = Program::from_toml(text).expect_err("invalid");
    let shown: Vec<String> = errors.errors().iter().map(|e| e.to_string()).collect();
    let expect = [
        "line 2, key currency: 'USX' is not an ISO 4217 currency code",
        "line 3, key window_days: must be 1 to 3650",
        "line 6, key rates.EUR: '-1' is not a positive rate",
        "line 10, key tiers.silver.requires: unknown metric \"sourced_pipelin\" (did you mean \"sourced_pipeline\"?)",
        "key tiers.gold.requires.certified_people: certified_people is lower than tier \"silver\" requires",
        "line 15, key tiers.gold.benefits: unknown key \"lead_priorty\" (did you mean \"lead_priority\"?)",
        "line 18, key health.weights: unknown factor \"win_rat\" (did you mean \"win_rate\"?)",
    ];
    for e in expect {
        assert!(
            shown.iter().any(|s| s.contains(e)),
            "missing {e:?} in {shown:#?}"
        );
    }
}

#[test]
fn a_program_needs_a_version_a_currency_and_tiers() {
    let errors = Program::from_toml("").expect_err("empty");
    let text = errors.to_string();
    for key in [
        "key version: missing",
        "key currency: missing",
        "key tiers: missing",
    ] {
        assert!(text.contains(key), "{text}");
    }
    let errors =
        Program::from_toml("version = 2\ncurrency = \"USD\"\ntiers = []\n").expect_err("bad");
    let text = errors.to_string();
    assert!(text.contains("unsupported program version 2"), "{text}");
    assert!(text.contains("at least one tier"), "{text}");
}

#[test]
fn json_reads_the_same_structure() {
    let json = r#"{"version":1,"currency":"USD","tiers":[{"name":"registered"},
        {"name":"Silver","requires":{"deals_won":2}}]}"#;
    let p = Program::from_json(json).expect("valid");
    assert_eq!(p.tiers[1].name, "silver");
    assert_eq!(p.tiers[1].requires[&Metric::DealsWon], 2);
    let errors = Program::from_json(
        r#"{"version":1,"currency":"USD","tiers":[{"name":"a","requires":{"deals_won":-1}}]}"#,
    )
    .expect_err("negative");
    assert!(
        errors
            .to_string()
            .contains("key tiers.a.requires.deals_won: must be 0"),
        "{errors}"
    );
}

#[test]
fn a_tier_named_twice_is_refused() {
    let errors = Program::from_toml(
        "version = 1\ncurrency = \"USD\"\n[[tiers]]\nname = \"gold\"\n[[tiers]]\nname = \"Gold\"\n",
    )
    .expect_err("twice");
    assert!(
        errors
            .to_string()
            .contains("line 6, key tiers.name: tier \"gold\" is named twice"),
        "{errors}"
    );
}

#[test]
fn the_health_score_is_weighed_and_explained() {
    let p = program();
    let inputs = HealthInputs {
        invitations: 10,
        accepted: 9,
        median_response_ms: Some(3 * 3_600_000),
        won: 2,
        lost: 8,
        days_since_activity: Some(2),
        ..HealthInputs::default()
    };
    let health = p.health(&inputs);
    // win rate 0.2 × 3, response 1.0 × 2, acceptance 0.9 × 2, recency 1.0 × 1 → 5.4 / 8
    assert_eq!(health.score, Some(68));
    assert_eq!(
        health.explanation(),
        "score 68: win rate 20% (−), acceptance 90% (+), response time 3 h (+), last activity 2 days (+)"
    );
}

#[test]
fn factors_with_nothing_to_count_are_left_out_not_scored_zero() {
    let p = program();
    let health = p.health(&HealthInputs {
        days_since_activity: Some(60),
        ..HealthInputs::default()
    });
    // Only recency counts: 30 / 60 days.
    assert_eq!(health.score, Some(50));
    assert_eq!(health.factors.len(), 1);
    let none = Program::from_toml(
        "version = 1\ncurrency = \"USD\"\n[[tiers]]\nname = \"a\"\n[health]\nweights = { win_rate = 1 }\n",
    )
    .expect("valid")
    .health(&HealthInputs::default());
    assert_eq!(none.score, None);
    assert!(none.explanation().starts_with("no score yet"));
}

#[test]
fn a_growing_pipeline_scores_above_a_shrinking_one() {
    let p = Program::from_toml(
        "version = 1\ncurrency = \"USD\"\n[[tiers]]\nname = \"a\"\n[health]\nweights = { pipeline_trend = 1 }\n",
    )
    .expect("valid");
    let score = |earlier, recent| {
        p.health(&HealthInputs {
            pipeline_earlier: earlier,
            pipeline_recent: recent,
            ..HealthInputs::default()
        })
        .score
    };
    assert_eq!(score(100, 200), Some(100));
    assert_eq!(score(100, 100), Some(50));
    assert_eq!(score(100, 50), Some(25));
    assert_eq!(score(0, 10), Some(100));
    assert_eq!(score(0, 0), None);
}
