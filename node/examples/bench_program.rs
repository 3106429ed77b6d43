//! Partner program benchmark (BENCHMARKS.md `## partner program`): the analytics route's
//! computation, every partner's standing and one QBR pack over DEALS shared deals (default
//! 10,000, then 100,000: one deal per opportunity of a 100,000-opportunity pipeline, every one
//! shared) among 20 partners, with 2,000 registrations and 10,000 invitations. The facts are
//! generated in memory (a fixed seed): what is timed is the counting from `Facts` onward, not
//! the reading of the deal documents (`Deals::facts`).
//!
//! ```text
//! cargo run -p cosell-node --example bench_program [DEALS...]    # default 10000 100000
//! ```

use anyhow::Result;
use cosell::domain::deals::{DealFact, Facts, InvitationFact, RegistrationFact};
use cosell::domain::program::numbers::{partner_numbers, Period};
use cosell::domain::program::{analytics_json, qbr, standing_json};
use cosell::store::shared::{PartnerRecord, PartnerStatus};
use cosell::store::Store;
use policy::program::Program;
use protocol::deal::{ParticipantStatus, RegistrationStatus};
use protocol::records::{Amount, Currency, Date, Stage};
use std::time::Instant;

const PARTNERS: usize = 20;
const DAY: u64 = 86_400_000;
/// 2026-01-01.
const YEAR_START: u64 = 20_454 * DAY;
const PROGRAM: &str = r#"
version = 1
currency = "USD"
[rates]
EUR = "1.08"
[[tiers]]
name = "registered"
[[tiers]]
name = "silver"
requires = { sourced_pipeline = 1000000, deals_won = 10 }
[[tiers]]
name = "gold"
requires = { sourced_pipeline = 5000000, won_revenue = 2000000, deals_won = 40 }
"#;

/// A small deterministic generator (xorshift64*).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn partner_id(i: usize) -> String {
    format!("partner-{i:02}")
}

fn facts(deals: usize) -> Facts {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let stages = [
        Stage::Prospect,
        Stage::Qualified,
        Stage::TechnicalValidation,
        Stage::BusinessValidation,
        Stage::Committed,
        Stage::Launched,
        Stage::ClosedLost,
    ];
    let usd = Currency::parse("USD").expect("USD");
    let eur = Currency::parse("EUR").expect("EUR");
    let mut f = Facts {
        me: "me".into(),
        ..Facts::default()
    };
    for n in 0..deals {
        let created = YEAR_START + rng.below(365 * DAY);
        let p = partner_id(rng.below(PARTNERS as u64) as usize);
        let mut participants = vec![(p.clone(), Some(ParticipantStatus::Accepted))];
        if rng.below(4) == 0 {
            participants.push((
                partner_id(rng.below(PARTNERS as u64) as usize),
                Some(ParticipantStatus::Invited),
            ));
        }
        let close = created + rng.below(120) * DAY;
        f.deals.push(DealFact {
            id: format!("deal-{n}"),
            origin: Some(if rng.below(3) == 0 {
                p.clone()
            } else {
                "me".into()
            }),
            created_at_ms: Some(created),
            participants,
            stage: Some(stages[rng.below(7) as usize]),
            amount: Some((
                Amount::from_ten_thousandths(rng.below(500_000) as i64 * 10_000).expect("amount"),
                if rng.below(5) == 0 { eur } else { usd },
            )),
            close_date: Date::from_days_since_epoch((close / DAY) as i64).ok(),
            sourced_by: (rng.below(2) == 0).then(|| p.clone()),
            influenced_by: if rng.below(3) == 0 {
                vec![p.clone()]
            } else {
                vec![]
            },
            account: Some(format!("Account {n}")),
            title: Some(format!("Deal {n}")),
        });
        if n % 5 == 0 {
            f.registrations.push(RegistrationFact {
                id: format!("reg-{n}"),
                registrant: Some(p.clone()),
                vendor: Some("me".into()),
                registered_at_ms: Some(created),
                status: Some(RegistrationStatus::Approved),
                decided_at_ms: Some(created + DAY),
            });
        }
        f.invitations.push(InvitationFact {
            deal: format!("deal-{n}"),
            from: Some("me".into()),
            invitee: p,
            sent_at_ms: Some(created),
            status: Some(ParticipantStatus::Accepted),
            answered_at_ms: Some(created + rng.below(48) * 3_600_000),
        });
    }
    f
}

/// The median of `runs` timings of `work`, in ms.
fn median_ms(runs: usize, mut work: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            work();
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn main() -> Result<()> {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let sizes = if sizes.is_empty() {
        vec![10_000, 100_000]
    } else {
        sizes
    };
    let program = Program::from_toml(PROGRAM).map_err(|e| anyhow::anyhow!("{e}"))?;
    let dir = tempfile::tempdir()?;
    let store = Store::open(&dir.path().join("db"))?;
    cosell::store::ensure_tables(&store)?;
    let partners: Vec<PartnerRecord> = (0..PARTNERS)
        .map(|i| PartnerRecord {
            id: partner_id(i),
            name: format!("Partner {i}"),
            partner_type: Some("reseller".into()),
            status: PartnerStatus::Active,
            since_ms: 1,
            last_seen_ms: None,
            addrs: vec![],
            removed_ms: None,
            ended_by_partner: false,
        })
        .collect();
    let quarter = Period::quarter("2026-Q2").map_err(anyhow::Error::msg)?;
    let year = Period {
        from_ms: YEAR_START,
        to_ms: YEAR_START + 365 * DAY - 1,
    };
    let now = YEAR_START + 364 * DAY;
    println!("| deals | analytics, quarter | analytics, year | standings, all {PARTNERS} partners | QBR pack, one partner |");
    println!("|---|---|---|---|---|");
    for deals in sizes {
        let f = facts(deals);
        let currency = program.currency;
        let q = median_ms(5, || {
            std::hint::black_box(analytics_json(
                &f,
                &partners,
                Some(&program),
                currency,
                quarter,
            ));
        });
        let y = median_ms(5, || {
            std::hint::black_box(analytics_json(
                &f,
                &partners,
                Some(&program),
                currency,
                year,
            ));
        });
        let s = median_ms(5, || {
            for p in &partners {
                std::hint::black_box(
                    standing_json(&store, &f, &program, p, now).expect("standing"),
                );
            }
        });
        let p = &partners[0];
        let qbr_ms = median_ms(5, || {
            let numbers = partner_numbers(&f, &p.id, Some(&program), currency, quarter);
            let standing = standing_json(&store, &f, &program, p, now).expect("standing");
            std::hint::black_box(qbr::build(&qbr::PackInput {
                me: "Bench Co",
                partner: &p.name,
                partner_id: &p.id,
                quarter: "2026-Q2",
                period: quarter,
                currency,
                numbers: &numbers,
                standing: Some(&standing),
                registrations: Vec::new(),
                overlap: None,
                now_ms: now,
            }));
        });
        println!("| {deals} | {q:.1} ms | {y:.1} ms | {s:.1} ms | {qbr_ms:.1} ms |");
    }
    Ok(())
}
