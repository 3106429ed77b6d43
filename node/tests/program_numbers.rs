//! Property test (issue 28): the partner program's numbers — the analytics routes, standings
//! and QBR packs all read `partner_numbers` — equal a straightforward recomputation from the raw
//! facts, each figure counted on its own by the definition its doc comment states.

use cosell::domain::deals::{DealFact, Facts, InvitationFact, RegistrationFact};
use cosell::domain::program::numbers::{partner_numbers, Period};
use policy::program::Program;
use proptest::prelude::*;
use protocol::deal::{ParticipantStatus, RegistrationStatus};
use protocol::records::{Amount, Currency, Date, Stage};

const DAY: u64 = 86_400_000;
/// The period counted: 2026-01-01 .. 2026-03-31 (UTC).
const FROM: u64 = 20_454 * DAY;
const TO: u64 = 20_544 * DAY - 1;
const NODES: [&str; 4] = ["me", "p1", "p2", "p3"];
const PROGRAM: &str =
    "version = 1\ncurrency = \"USD\"\n[rates]\nEUR = \"1.5\"\n[[tiers]]\nname = \"registered\"\n";

fn node() -> impl Strategy<Value = String> {
    prop::sample::select(&NODES[..]).prop_map(str::to_string)
}

/// Instants from a month before the period to a month after it.
fn instant() -> impl Strategy<Value = u64> {
    (FROM - 30 * DAY)..(TO + 30 * DAY)
}

fn stage() -> impl Strategy<Value = Option<Stage>> {
    prop::option::of(prop::sample::select(vec![
        Stage::Prospect,
        Stage::Qualified,
        Stage::TechnicalValidation,
        Stage::BusinessValidation,
        Stage::Committed,
        Stage::Launched,
        Stage::ClosedLost,
    ]))
}

fn participant_status() -> impl Strategy<Value = Option<ParticipantStatus>> {
    prop::option::of(prop::sample::select(vec![
        ParticipantStatus::Invited,
        ParticipantStatus::Accepted,
        ParticipantStatus::Declined,
        ParticipantStatus::Expired,
        ParticipantStatus::Removed,
    ]))
}

fn amount() -> impl Strategy<Value = Option<(Amount, Currency)>> {
    prop::option::of((
        0i64..10_000_000_000,
        prop::sample::select(vec!["USD", "EUR", "GBP"]),
    ))
    .prop_map(|a| {
        a.map(|(v, c)| {
            (
                Amount::from_ten_thousandths(v).expect("amount"),
                Currency::parse(c).expect("currency"),
            )
        })
    })
}

fn deal() -> impl Strategy<Value = DealFact> {
    (
        (
            0u32..1000,
            prop::option::of(node()),
            prop::option::of(instant()),
        ),
        prop::collection::vec((node(), participant_status()), 0..4),
        (stage(), amount(), prop::option::of(instant())),
        (
            prop::option::of(node()),
            prop::collection::vec(node(), 0..3),
        ),
    )
        .prop_map(
            |(
                (id, origin, created),
                participants,
                (stage, amount, close),
                (sourced, influenced),
            )| {
                DealFact {
                    id: format!("d{id}"),
                    origin,
                    created_at_ms: created,
                    participants,
                    stage,
                    amount,
                    close_date: close
                        .map(|ms| Date::from_days_since_epoch((ms / DAY) as i64).expect("a date")),
                    sourced_by: sourced,
                    influenced_by: influenced,
                    account: None,
                    title: None,
                }
            },
        )
}

fn registration() -> impl Strategy<Value = RegistrationFact> {
    (
        prop::option::of(node()),
        prop::option::of(node()),
        prop::option::of(instant()),
        prop::option::of(prop::sample::select(vec![
            RegistrationStatus::Pending,
            RegistrationStatus::Approved,
            RegistrationStatus::Rejected,
            RegistrationStatus::Expired,
        ])),
        prop::option::of(instant()),
    )
        .prop_map(
            |(registrant, vendor, at, status, decided)| RegistrationFact {
                id: "r".into(),
                registrant,
                vendor,
                registered_at_ms: at,
                status,
                decided_at_ms: decided,
            },
        )
}

fn invitation() -> impl Strategy<Value = InvitationFact> {
    (
        node(),
        node(),
        prop::option::of(instant()),
        participant_status(),
        prop::option::of(0u64..10 * DAY),
    )
        .prop_map(|(from, invitee, sent, status, delay)| InvitationFact {
            deal: "d".into(),
            from: Some(from),
            invitee,
            sent_at_ms: sent,
            status,
            answered_at_ms: sent.zip(delay).map(|(s, d)| s + d),
        })
}

fn facts() -> impl Strategy<Value = Facts> {
    (
        prop::collection::vec(deal(), 0..30),
        prop::collection::vec(registration(), 0..10),
        prop::collection::vec(invitation(), 0..10),
    )
        .prop_map(|(deals, registrations, invitations)| Facts {
            me: "me".into(),
            deals,
            registrations,
            invitations,
        })
}

// The reference: each figure by its definition, one pass each.

fn inside(t: Option<u64>) -> bool {
    t.is_some_and(|t| (FROM..=TO).contains(&t))
}

fn involved(d: &DealFact, p: &str) -> bool {
    d.origin.as_deref() == Some(p) || d.participants.iter().any(|(n, _)| n == p)
}

fn takes_part(d: &DealFact, p: &str) -> bool {
    d.origin.as_deref() == Some(p)
        || d.participants
            .iter()
            .any(|(n, s)| n == p && *s == Some(ParticipantStatus::Accepted))
}

fn closed_at(d: &DealFact) -> Option<u64> {
    match d.close_date {
        Some(date) => Some(date.days_since_epoch() as u64 * DAY),
        None => d.created_at_ms,
    }
}

/// USD as is, EUR at 1.5, GBP (no rate) and no amount count 0.
fn usd(d: &DealFact) -> i128 {
    match d.amount {
        Some((a, c)) if c.as_str() == "USD" => i128::from(a.ten_thousandths()),
        Some((a, c)) if c.as_str() == "EUR" => {
            (i128::from(a.ten_thousandths()) * 1_500_000 + 500_000) / 1_000_000
        }
        _ => 0,
    }
}

fn sum(deals: &[DealFact], keep: impl Fn(&DealFact) -> bool) -> i128 {
    deals.iter().filter(|d| keep(d)).map(usd).sum()
}

fn pipeline(d: &DealFact, p: &str) -> bool {
    inside(d.created_at_ms) && takes_part(d, p) && d.stage != Some(Stage::ClosedLost)
}

fn closed(d: &DealFact, p: &str, stage: Stage) -> bool {
    takes_part(d, p) && d.stage == Some(stage) && inside(closed_at(d))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn partner_numbers_equal_a_recount_of_the_raw_facts(facts in facts(), which in 1usize..4) {
        let program = Program::from_toml(PROGRAM).expect("program");
        let p = NODES[which];
        let period = Period { from_ms: FROM, to_ms: TO };
        let n = partner_numbers(&facts, p, Some(&program), program.currency, period);
        let deals = &facts.deals;
        let sourced = |d: &DealFact| d.sourced_by.as_deref() == Some(p);
        let influenced = |d: &DealFact| d.influenced_by.iter().any(|i| i == p);

        let shared: Vec<&DealFact> =
            deals.iter().filter(|d| involved(d, p) && inside(d.created_at_ms)).collect();
        prop_assert_eq!(n.deals_shared, shared.len() as u64);
        prop_assert_eq!(n.deals.iter().collect::<Vec<_>>(), shared);
        prop_assert_eq!(n.sourced_pipeline, sum(deals, |d| pipeline(d, p) && sourced(d)));
        prop_assert_eq!(n.influenced_pipeline, sum(deals, |d| pipeline(d, p) && influenced(d)));
        let won = |d: &DealFact| closed(d, p, Stage::Launched);
        prop_assert_eq!(n.won_revenue, sum(deals, won));
        prop_assert_eq!(n.sourced_revenue, sum(deals, |d| won(d) && sourced(d)));
        prop_assert_eq!(n.influenced_revenue, sum(deals, |d| won(d) && influenced(d)));
        prop_assert_eq!(n.deals_won, deals.iter().filter(|d| won(d)).count() as u64);
        prop_assert_eq!(
            n.deals_lost,
            deals.iter().filter(|d| closed(d, p, Stage::ClosedLost)).count() as u64
        );
        for stage in [Stage::Prospect, Stage::Qualified, Stage::TechnicalValidation,
                      Stage::BusinessValidation, Stage::Committed] {
            let expected = sum(deals, |d| pipeline(d, p) && d.stage == Some(stage));
            let has = deals.iter().any(|d| pipeline(d, p) && d.stage == Some(stage));
            prop_assert_eq!(n.by_stage.get(stage.as_str()).copied(), has.then_some(expected),
                "{}", stage.as_str());
        }
        prop_assert_eq!(n.by_stage.len(), n.by_stage.keys().filter(|s| Stage::parse(s).is_ok_and(|s| s.is_open())).count());
        let middle = FROM + (TO - FROM) / 2;
        prop_assert_eq!(n.pipeline_halves, (
            sum(deals, |d| pipeline(d, p) && d.created_at_ms <= Some(middle)),
            sum(deals, |d| pipeline(d, p) && d.created_at_ms > Some(middle)),
        ));
        // Amounts in a currency without a rate, of deals counted in the period.
        let counted = |d: &DealFact| takes_part(d, p) && (inside(d.created_at_ms) || inside(closed_at(d)));
        prop_assert_eq!(n.unconverted, deals.iter()
            .filter(|d| counted(d) && d.amount.is_some_and(|(_, c)| c.as_str() == "GBP")).count() as u64);

        let mine: Vec<&RegistrationFact> =
            facts.registrations.iter().filter(|r| r.registrant.as_deref() == Some(p)).collect();
        prop_assert_eq!(n.registrations_submitted,
            mine.iter().filter(|r| inside(r.registered_at_ms)).count() as u64);
        prop_assert_eq!(n.registrations_approved, mine.iter().filter(|r| {
            r.vendor.as_deref() == Some("me") && r.status == Some(RegistrationStatus::Approved)
                && inside(r.decided_at_ms)
        }).count() as u64);

        let invited: Vec<&InvitationFact> = facts.invitations.iter()
            .filter(|i| i.invitee == p && inside(i.sent_at_ms)).collect();
        let answered = |i: &&&InvitationFact| matches!(i.status,
            Some(ParticipantStatus::Accepted) | Some(ParticipantStatus::Declined));
        prop_assert_eq!(n.invitations, invited.iter()
            .filter(|i| answered(i) || i.status == Some(ParticipantStatus::Expired)).count() as u64);
        prop_assert_eq!(n.invitations_accepted, invited.iter()
            .filter(|i| i.status == Some(ParticipantStatus::Accepted)).count() as u64);
        let mut times: Vec<u64> = invited.iter().filter(answered)
            .filter_map(|i| Some(i.answered_at_ms? - i.sent_at_ms?)).collect();
        times.sort_unstable();
        prop_assert_eq!(n.median_response_ms, times.get(times.len() / 2).copied());

        // The latest thing the partner did that this node saw, at any time: a deal it shared, a
        // registration it submitted, an invitation it answered.
        let latest = deals.iter().filter(|d| d.origin.as_deref() == Some(p)).filter_map(|d| d.created_at_ms)
            .chain(mine.iter().filter_map(|r| r.registered_at_ms))
            .chain(facts.invitations.iter().filter(|i| i.invitee == p && matches!(i.status,
                Some(ParticipantStatus::Accepted) | Some(ParticipantStatus::Declined)))
                .filter_map(|i| i.answered_at_ms))
            .max();
        prop_assert_eq!(n.last_activity_ms, latest);
    }
}
