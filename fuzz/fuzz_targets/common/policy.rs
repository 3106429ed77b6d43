//! `policy`: a policy file as an admin uploads it (any text: the input is read as UTF-8, invalid
//! bytes replaced) — `Policy::from_toml` and `Policy::from_json` — and, for what parses, the
//! projection of fixed opportunities and accounts, the preview, the account projection, the
//! advice, intersection and the canonical forms.
//!
//! Properties: a policy reads back from its canonical TOML and JSON as the same policy; it
//! differs from itself in nothing; a preview counts every row; a projected text fits a deal
//! document's field.

use ::policy::{diff, preview, project, project_account, Policy, Value};
use protocol::limits::FIELD_BYTES_MAX;
use protocol::records::{
    Account, AccountStatus, Amount, Currency, Date, Domain, Opportunity, Stage, NAME_CHARS_MAX,
    TAGS_MAX, TEXT_CHARS_MAX,
};
use std::sync::OnceLock;

pub fn run(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for parsed in [Policy::from_toml(&text), Policy::from_json(&text)] {
        match parsed {
            Ok(policy) => check(&policy),
            Err(errors) => {
                let _ = errors.to_string();
            }
        }
    }
}

fn check(policy: &Policy) {
    let toml = policy.to_canonical_toml();
    let again = Policy::from_toml(&toml)
        .unwrap_or_else(|e| panic!("canonical TOML does not read back: {e}\n{toml}"));
    assert_eq!(
        &again, policy,
        "canonical TOML reads back as another policy:\n{toml}"
    );
    let json = policy.to_canonical_json();
    let again = Policy::from_json(&json)
        .unwrap_or_else(|e| panic!("canonical JSON does not read back: {e}\n{json}"));
    assert_eq!(
        &again, policy,
        "canonical JSON reads back as another policy:\n{json}"
    );
    assert!(
        diff(policy, policy).is_empty(),
        "a policy differs from itself"
    );
    let _ = ::policy::advice(policy);
    let both = Policy::intersect(&[policy, policy]);
    let none = Policy::intersect(&[policy, &Policy::deny_all()]);
    let (accounts, opportunities) = records();
    for p in [policy, &both, &none] {
        for o in opportunities {
            let account = &accounts[o.account_id.parse::<usize>().expect("index")];
            if let Some(projection) = project(p, o, account) {
                for (field, value) in projection.iter() {
                    let fits = match value {
                        Value::Text(t) => t.len() <= FIELD_BYTES_MAX,
                        Value::List(l) => l.iter().all(|t| t.len() <= FIELD_BYTES_MAX),
                    };
                    assert!(fits, "{field} does not fit a deal document");
                }
            }
            let _ = ::policy::withheld_because(p, o, account);
        }
        for a in accounts {
            let _ = project_account(p, a);
        }
        let rows = opportunities
            .iter()
            .map(|o| (o, &accounts[o.account_id.parse::<usize>().expect("index")]));
        let shown = preview(p, rows, 2);
        assert_eq!(shown.shared + shown.withheld, opportunities.len());
        assert!(shown.items.len() <= 2 && shown.items.len() <= shown.shared);
    }
}

/// Valid accounts (ids are their indices) and opportunities: with every field set, with none
/// set, with extreme values, and with the longest texts a record may hold (a description longer
/// than a deal document's field).
fn records() -> &'static (Vec<Account>, Vec<Opportunity>) {
    static RECORDS: OnceLock<(Vec<Account>, Vec<Opportunity>)> = OnceLock::new();
    RECORDS.get_or_init(|| {
        let name = "\u{1d11e}".repeat(NAME_CHARS_MAX);
        let tags: Vec<String> = (0..TAGS_MAX)
            .map(|i| format!("{i:02}{}", "é".repeat(NAME_CHARS_MAX - 2)))
            .collect();
        let accounts = vec![
            Account {
                id: "0".into(),
                external_id: Some("SF-ACC-1".into()),
                name: "Acme".into(),
                domain: Domain::parse("acme.example").ok(),
                industry: Some("Manufacturing".into()),
                country: Some("DE".into()),
                status: AccountStatus::Customer,
                owner: Some("Ada".into()),
                tags: vec!["strategic".into(), "emea".into()],
            },
            Account {
                id: "1".into(),
                external_id: None,
                name: name.clone(),
                domain: None,
                industry: None,
                country: Some("United States".into()),
                status: AccountStatus::Prospect,
                owner: None,
                tags: tags.clone(),
            },
        ];
        let full = Opportunity {
            id: "opp1".into(),
            external_id: Some("SF-OPP-1".into()),
            account_id: "0".into(),
            name: "Acme rollout".into(),
            stage: Stage::Qualified,
            amount: Amount::parse("123456.78").ok(),
            currency: Some(Currency::USD),
            close_date: Date::new(2026, 8, 17).ok(),
            owner: Some("Bob".into()),
            next_step: Some("call the CFO".into()),
            description: Some("secret pricing notes".into()),
            tags: vec!["cloud".into()],
        };
        let empty = Opportunity {
            id: "opp2".into(),
            external_id: None,
            account_id: "1".into(),
            name,
            stage: Stage::Prospect,
            amount: None,
            currency: None,
            close_date: None,
            owner: None,
            next_step: None,
            description: Some("\u{1d11e}".repeat(TEXT_CHARS_MAX)),
            tags,
        };
        let extreme = Opportunity {
            id: "opp3".into(),
            account_id: "0".into(),
            stage: Stage::ClosedLost,
            amount: Amount::from_ten_thousandths(i64::MAX).ok(),
            currency: Currency::parse("JPY").ok(),
            close_date: Date::new(9999, 12, 31).ok(),
            ..full.clone()
        };
        let zero = Opportunity {
            id: "opp4".into(),
            stage: Stage::Launched,
            amount: Amount::from_ten_thousandths(0).ok(),
            close_date: Date::new(1, 1, 1).ok(),
            ..full.clone()
        };
        let opportunities = vec![full, empty, extreme, zero];
        for a in &accounts {
            a.validate().expect("a valid account");
        }
        for o in &opportunities {
            o.validate().expect("a valid opportunity");
        }
        (accounts, opportunities)
    })
}
