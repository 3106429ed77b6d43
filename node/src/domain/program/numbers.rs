//! A partner's numbers over a period, counted from the facts this node holds: pipeline and
//! revenue it sourced or influenced, deals won and lost, registrations, invitations and how
//! fast it answered. The program's tiers, the health score, the analytics routes and the QBR
//! pack all read these same numbers, so they always agree.

use crate::domain::deals::{DealFact, Facts};
use policy::program::{Figures, HealthInputs, Metric, Program};
use protocol::deal::{ParticipantStatus, RegistrationStatus};
use protocol::records::{Currency, Stage};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The period counted: `[from_ms, to_ms]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// First instant (ms since the epoch).
    pub from_ms: u64,
    /// Last instant.
    pub to_ms: u64,
}

impl Period {
    fn contains(&self, ms: u64) -> bool {
        (self.from_ms..=self.to_ms).contains(&ms)
    }

    /// The quarter `YYYY-QN` (UTC), e.g. `2026-Q4`.
    pub fn quarter(text: &str) -> Result<Period, String> {
        let bad = || format!("'{text}' is not a quarter like 2026-Q4");
        let (year, q) = text.split_once("-Q").ok_or_else(bad)?;
        if year.len() != 4
            || q.len() != 1
            || !year.bytes().chain(q.bytes()).all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        let year: u16 = year.parse().map_err(|_| bad())?;
        let q: u8 = q.parse().map_err(|_| bad())?;
        if !(1..=4).contains(&q) || !(1970..=9998).contains(&year) {
            return Err(bad());
        }
        let start_month = (q - 1) * 3 + 1;
        let start = protocol::records::Date::new(year, start_month, 1).map_err(|_| bad())?;
        let end = if q == 4 {
            protocol::records::Date::new(year + 1, 1, 1)
        } else {
            protocol::records::Date::new(year, start_month + 3, 1)
        }
        .map_err(|_| bad())?;
        let ms = |d: protocol::records::Date| d.days_since_epoch().max(0) as u64 * 86_400_000;
        Ok(Period {
            from_ms: ms(start),
            to_ms: ms(end) - 1,
        })
    }

    /// The `days` ending at `now_ms`.
    pub fn window(days: u32, now_ms: u64) -> Period {
        Period {
            from_ms: now_ms.saturating_sub(u64::from(days) * 86_400_000),
            to_ms: now_ms,
        }
    }
}

/// What was counted for one partner. Money is in ten-thousandths of the program currency.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartnerNumbers {
    /// Deals shared with or by the partner, created in the period.
    pub deals_shared: u64,
    /// Open and won pipeline the partner sourced (agreed attribution), created in the period.
    pub sourced_pipeline: i128,
    /// … that it influenced.
    pub influenced_pipeline: i128,
    /// Won deals (closed in the period) the partner sourced: their amount.
    pub sourced_revenue: i128,
    /// … that it influenced.
    pub influenced_revenue: i128,
    /// Won deals (closed in the period) the partner took part in: their amount.
    pub won_revenue: i128,
    /// … their number.
    pub deals_won: u64,
    /// Lost deals closed in the period the partner took part in.
    pub deals_lost: u64,
    /// Registrations the partner submitted in the period.
    pub registrations_submitted: u64,
    /// … that this node approved.
    pub registrations_approved: u64,
    /// Invitations to the partner sent in the period and answered or expired.
    pub invitations: u64,
    /// … accepted.
    pub invitations_accepted: u64,
    /// The partner's median answer time to invitations, ms.
    pub median_response_ms: Option<u64>,
    /// The partner's latest activity this node saw (deal, invitation answer, registration).
    pub last_activity_ms: Option<u64>,
    /// Pipeline created in the period's first and second half (for the trend).
    pub pipeline_halves: (i128, i128),
    /// Amounts that could not be converted (no rate for their currency): how many.
    pub unconverted: u64,
    /// Open pipeline per stage (the deals counted in `deals_shared`).
    pub by_stage: BTreeMap<&'static str, i128>,
    /// The deals counted, for reports.
    pub deals: Vec<DealFact>,
}

/// The day (ms) a deal counts as closed: its close date, else its creation.
fn closed_at_ms(deal: &DealFact) -> Option<u64> {
    deal.close_date
        .map(|d| d.days_since_epoch().max(0) as u64 * 86_400_000)
        .or(deal.created_at_ms)
}

/// Whether `partner` took part in `deal`: it shared it, or accepted it.
fn takes_part(deal: &DealFact, partner: &str) -> bool {
    deal.origin.as_deref() == Some(partner)
        || deal
            .participants
            .iter()
            .any(|(n, s)| n == partner && *s == Some(ParticipantStatus::Accepted))
}

/// Counts `partner`'s numbers over `period`, converting money with `program` (or, without
/// one, counting only amounts in `currency`).
pub fn partner_numbers(
    facts: &Facts,
    partner: &str,
    program: Option<&Program>,
    currency: Currency,
    period: Period,
) -> PartnerNumbers {
    let mut n = PartnerNumbers::default();
    let convert = |deal: &DealFact, n: &mut PartnerNumbers| -> Option<i128> {
        let (amount, cur) = deal.amount?;
        let value = match program {
            Some(p) => p.convert(amount, cur),
            None => (cur == currency).then(|| i128::from(amount.ten_thousandths())),
        };
        if value.is_none() {
            n.unconverted += 1;
        }
        value
    };
    let middle = period.from_ms + (period.to_ms - period.from_ms) / 2;
    let mut activity: Vec<u64> = Vec::new();
    for deal in &facts.deals {
        let involved = deal.origin.as_deref() == Some(partner)
            || deal.participants.iter().any(|(p, _)| p == partner);
        if !involved {
            continue;
        }
        if deal.origin.as_deref() == Some(partner) {
            activity.extend(deal.created_at_ms);
        }
        let part = takes_part(deal, partner);
        let created_in = deal.created_at_ms.is_some_and(|t| period.contains(t));
        let stage = deal.stage;
        let value =
            if part && (created_in || closed_at_ms(deal).is_some_and(|t| period.contains(t))) {
                convert(deal, &mut n)
            } else {
                None
            };
        if created_in {
            n.deals_shared += 1;
            n.deals.push(deal.clone());
            if part && stage.is_none_or(|s| s != Stage::ClosedLost) {
                let v = value.unwrap_or(0);
                if deal.sourced_by.as_deref() == Some(partner) {
                    n.sourced_pipeline += v;
                }
                if deal.influenced_by.iter().any(|i| i == partner) {
                    n.influenced_pipeline += v;
                }
                if let Some(s) = stage.filter(|s| s.is_open()) {
                    *n.by_stage.entry(s.as_str()).or_default() += v;
                }
                if deal.created_at_ms.is_some_and(|t| t <= middle) {
                    n.pipeline_halves.0 += v;
                } else {
                    n.pipeline_halves.1 += v;
                }
            }
        }
        let closed_in = closed_at_ms(deal).is_some_and(|t| period.contains(t));
        if part && closed_in {
            match stage {
                Some(Stage::Launched) => {
                    let v = value.unwrap_or(0);
                    n.deals_won += 1;
                    n.won_revenue += v;
                    if deal.sourced_by.as_deref() == Some(partner) {
                        n.sourced_revenue += v;
                    }
                    if deal.influenced_by.iter().any(|i| i == partner) {
                        n.influenced_revenue += v;
                    }
                }
                Some(Stage::ClosedLost) => n.deals_lost += 1,
                _ => {}
            }
        }
    }
    for r in &facts.registrations {
        if r.registrant.as_deref() != Some(partner) {
            continue;
        }
        activity.extend(r.registered_at_ms);
        if r.registered_at_ms.is_some_and(|t| period.contains(t)) {
            n.registrations_submitted += 1;
        }
        let decided_in = r.decided_at_ms.is_some_and(|t| period.contains(t));
        if decided_in
            && r.vendor.as_deref() == Some(facts.me.as_str())
            && r.status == Some(RegistrationStatus::Approved)
        {
            n.registrations_approved += 1;
        }
    }
    let mut answers: Vec<u64> = Vec::new();
    for inv in &facts.invitations {
        if inv.invitee != partner {
            continue;
        }
        let answered = matches!(
            inv.status,
            Some(ParticipantStatus::Accepted) | Some(ParticipantStatus::Declined)
        );
        // An answer is activity whenever it was given, like a deal or a registration.
        if answered {
            activity.extend(inv.answered_at_ms);
        }
        if !inv.sent_at_ms.is_some_and(|t| period.contains(t)) {
            continue;
        }
        match inv.status {
            Some(ParticipantStatus::Accepted) | Some(ParticipantStatus::Declined) => {
                n.invitations += 1;
                if inv.status == Some(ParticipantStatus::Accepted) {
                    n.invitations_accepted += 1;
                }
                if let (Some(sent), Some(answered)) = (inv.sent_at_ms, inv.answered_at_ms) {
                    answers.push(answered.saturating_sub(sent));
                }
            }
            Some(ParticipantStatus::Expired) => n.invitations += 1,
            _ => {}
        }
    }
    answers.sort_unstable();
    n.median_response_ms = (!answers.is_empty()).then(|| answers[answers.len() / 2]);
    n.last_activity_ms = activity.into_iter().max();
    n
}

impl PartnerNumbers {
    /// The figures a program's requirements are checked against.
    pub fn figures(&self, certified_people: u64, customer_overlap: Option<u64>) -> Figures {
        let mut f = Figures::new();
        f.insert(Metric::SourcedPipeline, self.sourced_pipeline);
        f.insert(Metric::InfluencedPipeline, self.influenced_pipeline);
        f.insert(Metric::WonRevenue, self.won_revenue);
        f.insert(Metric::DealsWon, i128::from(self.deals_won));
        f.insert(Metric::DealsShared, i128::from(self.deals_shared));
        f.insert(Metric::CertifiedPeople, i128::from(certified_people));
        f.insert(
            Metric::RegistrationsApproved,
            i128::from(self.registrations_approved),
        );
        f.insert(
            Metric::CustomerOverlap,
            i128::from(customer_overlap.unwrap_or(0)),
        );
        f
    }

    /// What the health score weighs.
    pub fn health_inputs(&self, customer_overlap: Option<u64>, now_ms: u64) -> HealthInputs {
        HealthInputs {
            invitations: self.invitations,
            accepted: self.invitations_accepted,
            median_response_ms: self.median_response_ms,
            won: self.deals_won,
            lost: self.deals_lost,
            pipeline_earlier: self.pipeline_halves.0,
            pipeline_recent: self.pipeline_halves.1,
            overlap: customer_overlap,
            days_since_activity: self
                .last_activity_ms
                .map(|t| now_ms.saturating_sub(t) / 86_400_000),
            deals_shared: self.deals_shared,
        }
    }

    /// The numbers in the API's shape (money as decimal strings in `currency`).
    pub fn to_json(&self, currency: Currency) -> Value {
        let money = |v: i128| policy::program::money_text(v);
        let closed = self.deals_won + self.deals_lost;
        json!({
            "currency": currency.as_str(),
            "deals_shared": self.deals_shared,
            "sourced_pipeline": money(self.sourced_pipeline),
            "influenced_pipeline": money(self.influenced_pipeline),
            "sourced_revenue": money(self.sourced_revenue),
            "influenced_revenue": money(self.influenced_revenue),
            "won_revenue": money(self.won_revenue),
            "deals_won": self.deals_won,
            "deals_lost": self.deals_lost,
            "win_rate": (closed > 0).then(|| self.deals_won as f64 / closed as f64),
            "registrations_submitted": self.registrations_submitted,
            "registrations_approved": self.registrations_approved,
            "invitations": self.invitations,
            "invitations_accepted": self.invitations_accepted,
            "median_response_hours": self.median_response_ms.map(|ms| ms as f64 / 3_600_000.0),
            "last_activity": self.last_activity_ms.map(crate::domain::audit::rfc3339),
            "open_pipeline_by_stage": self.by_stage.iter().map(|(s, v)| (s.to_string(), json!(money(*v)))).collect::<serde_json::Map<_, _>>(),
            "unconverted_amounts": self.unconverted,
        })
    }
}
