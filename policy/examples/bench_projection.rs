//! Projections per second over a 100k-opportunity pipeline.
//!
//! Run: `cargo run --release -p cosell-policy --example bench_projection [N]`.
//! Builds N opportunities (default 100,000) over N/10 accounts with a fixed pseudo-random
//! sequence, then times: `project` with the `reseller` template (filters + transforms), the same
//! plus JSON serialization of each projection, a full-pipeline `preview` with a 50-item page, and
//! a three-partner intersection.

use policy::{preview, project, templates, Policy};
use protocol::records::{
    Account, AccountStatus, Amount, Currency, Date, Domain, Opportunity, Stage,
};
use std::time::Instant;

/// A fixed splitmix64 sequence: the same data on every run, no RNG dependency.
struct Sequence(u64);

impl Sequence {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn pipeline(n: usize) -> (Vec<Opportunity>, Vec<Account>) {
    let mut seq = Sequence(0x2545_f491_4f6c_dd1d);
    let statuses = AccountStatus::ALL;
    let countries = ["US", "CA", "DE", "FR", "GB"];
    let accounts: Vec<Account> = (0..(n / 10).max(1))
        .map(|i| Account {
            id: format!("acc{i}"),
            external_id: Some(format!("SF-A-{i}")),
            name: format!("Company {i}"),
            domain: Some(Domain::parse(&format!("company{i}.com")).unwrap()),
            industry: Some("Software".into()),
            country: Some(countries[seq.below(5) as usize].into()),
            status: statuses[seq.below(4) as usize],
            owner: Some(format!("owner{}", seq.below(50))),
            tags: vec!["enterprise".into()],
        })
        .collect();
    let opportunities = (0..n)
        .map(|i| {
            let account = &accounts[seq.below(accounts.len() as u64) as usize];
            Opportunity {
                id: format!("opp{i}"),
                external_id: Some(format!("SF-O-{i}")),
                account_id: account.id.clone(),
                name: format!("Deal {i}"),
                stage: Stage::ALL[seq.below(7) as usize],
                amount: Some(
                    Amount::from_ten_thousandths(seq.below(5_000_000_000) as i64).unwrap(),
                ),
                currency: Some(Currency::USD),
                close_date: Some(
                    Date::from_days_since_epoch(20_000 + seq.below(700) as i64).unwrap(),
                ),
                owner: Some(format!("rep{}", seq.below(20))),
                next_step: Some("Send the proposal and book a technical workshop".into()),
                description: Some("Migration of the on-premise data platform".into()),
                tags: match seq.below(10) {
                    0 => vec!["internal".into()],
                    1..=3 => vec!["services".into()],
                    _ => vec!["cloud".into()],
                },
            }
        })
        .collect();
    (opportunities, accounts)
}

fn rate(label: &str, n: usize, seconds: f64) {
    println!(
        "{label:<44} {:>10.0} /s  ({n} in {:.1} ms)",
        n as f64 / seconds,
        seconds * 1e3
    );
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let (opportunities, accounts) = pipeline(n);
    let account_of = |o: &Opportunity| &accounts[o.account_id[3..].parse::<usize>().unwrap()];
    let rows: Vec<(&Opportunity, &Account)> =
        opportunities.iter().map(|o| (o, account_of(o))).collect();
    let reseller = Policy::from_toml(templates::get("reseller").unwrap()).unwrap();
    let minimal = Policy::from_toml(templates::get("minimal").unwrap()).unwrap();
    let si = Policy::from_toml(templates::get("si").unwrap()).unwrap();

    for (name, p) in [("minimal", &minimal), ("reseller", &reseller), ("si", &si)] {
        let shared = rows
            .iter()
            .filter(|(o, a)| p.opportunities().admits(o, a))
            .count();
        println!("{name}: {shared} of {n} opportunities shared");
    }
    for _ in 0..3 {
        let start = Instant::now();
        let shared = rows
            .iter()
            .filter_map(|(o, a)| project(&reseller, o, a))
            .count();
        rate(
            &format!("project (reseller, {shared} shared)"),
            n,
            start.elapsed().as_secs_f64(),
        );

        let start = Instant::now();
        let mut bytes = 0;
        for (o, a) in &rows {
            if let Some(p) = project(&reseller, o, a) {
                bytes += serde_json::to_vec(&p).unwrap().len();
            }
        }
        rate(
            &format!("project + JSON ({bytes} bytes)"),
            n,
            start.elapsed().as_secs_f64(),
        );

        let start = Instant::now();
        let result = preview(&reseller, rows.iter().copied(), 50);
        rate(
            &format!("preview whole pipeline ({} shared)", result.shared),
            n,
            start.elapsed().as_secs_f64(),
        );

        let combined = Policy::intersect(&[&reseller, &minimal, &si]);
        let start = Instant::now();
        let shared = rows
            .iter()
            .filter_map(|(o, a)| project(&combined, o, a))
            .count();
        rate(
            &format!("project (3-partner intersection, {shared} shared)"),
            n,
            start.elapsed().as_secs_f64(),
        );
        println!();
    }
}
