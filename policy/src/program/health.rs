//! The health score of a partnership: each factor scored 0–1 against the program's targets,
//! weighed, summed to 0–100, and explained in words a partner manager reads at a glance
//! ("score 62: win rate 18% (−), response time 3 h (+), …").

use super::Program;
use std::fmt::Write;

/// What the health score weighs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Factor {
    /// Share of invitations the partner accepted.
    AcceptanceRate,
    /// Median time the partner took to answer invitations and registrations.
    ResponseHours,
    /// Won deals among closed ones.
    WinRate,
    /// Pipeline of the window's second half against its first half.
    PipelineTrend,
    /// Overlapping customers against the target.
    Overlap,
    /// Days since the partner's last activity.
    Recency,
    /// Deals shared in the window against the target.
    DealsShared,
}

impl Factor {
    /// Every factor.
    pub const ALL: [Factor; 7] = [
        Factor::AcceptanceRate,
        Factor::ResponseHours,
        Factor::WinRate,
        Factor::PipelineTrend,
        Factor::Overlap,
        Factor::Recency,
        Factor::DealsShared,
    ];

    /// The file's and the API's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Factor::AcceptanceRate => "acceptance_rate",
            Factor::ResponseHours => "response_hours",
            Factor::WinRate => "win_rate",
            Factor::PipelineTrend => "pipeline_trend",
            Factor::Overlap => "overlap",
            Factor::Recency => "recency",
            Factor::DealsShared => "deals_shared",
        }
    }

    /// The factor of a name.
    pub fn parse(name: &str) -> Option<Factor> {
        Factor::ALL.into_iter().find(|f| f.as_str() == name)
    }

    fn label(self) -> &'static str {
        match self {
            Factor::AcceptanceRate => "acceptance",
            Factor::ResponseHours => "response time",
            Factor::WinRate => "win rate",
            Factor::PipelineTrend => "pipeline trend",
            Factor::Overlap => "overlap",
            Factor::Recency => "last activity",
            Factor::DealsShared => "deals shared",
        }
    }
}

/// What the node counted for one partner. `None` where there is nothing to count yet (no
/// invitation answered, no deal closed): such a factor is left out rather than scored 0.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthInputs {
    /// Invitations sent to the partner and answered or expired.
    pub invitations: u64,
    /// Of those, accepted.
    pub accepted: u64,
    /// Median answer time in milliseconds.
    pub median_response_ms: Option<u64>,
    /// Closed deals: won and lost.
    pub won: u64,
    /// Closed deals lost.
    pub lost: u64,
    /// Pipeline (ten-thousandths of the program currency) created in the window's first half.
    pub pipeline_earlier: i128,
    /// … and in its second half.
    pub pipeline_recent: i128,
    /// Overlapping customers, if account mapping ran.
    pub overlap: Option<u64>,
    /// Days since the partner's last activity, if any.
    pub days_since_activity: Option<u64>,
    /// Deals shared in the window.
    pub deals_shared: u64,
}

/// One factor's part of the score.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthFactor {
    /// Which factor.
    pub factor: Factor,
    /// Its weight in the program.
    pub weight: u32,
    /// Its score, 0–1.
    pub score: f64,
    /// The counted value as text (`18%`, `3 h`, `12 days`).
    pub value: String,
}

/// A health score with its explanation.
#[derive(Debug, Clone, PartialEq)]
pub struct Health {
    /// 0–100; `None` when no factor could be counted.
    pub score: Option<u32>,
    /// The factors counted, heaviest first.
    pub factors: Vec<HealthFactor>,
}

impl Health {
    /// `score 62: win rate 18% (−), response time 3 h (+)`; a factor is `+` when it scores at
    /// least half of its best.
    pub fn explanation(&self) -> String {
        let Some(score) = self.score else {
            return "no score yet: nothing shared, answered or closed".to_string();
        };
        let mut out = format!("score {score}");
        for (i, f) in self.factors.iter().enumerate() {
            out.push_str(if i == 0 { ": " } else { ", " });
            let sign = if f.score >= 0.5 { '+' } else { '−' };
            let _ = write!(out, "{} {} ({sign})", f.factor.label(), f.value);
        }
        out
    }
}

impl Program {
    /// The health score of `inputs` under this program's weights and targets.
    pub fn health(&self, inputs: &HealthInputs) -> Health {
        let rules = &self.health;
        let mut factors = Vec::new();
        for (&factor, &weight) in &rules.weights {
            if weight == 0 {
                continue;
            }
            let scored: Option<(f64, String)> = match factor {
                Factor::AcceptanceRate => (inputs.invitations > 0).then(|| {
                    let rate = inputs.accepted as f64 / inputs.invitations as f64;
                    (rate, percent(rate))
                }),
                Factor::ResponseHours => inputs.median_response_ms.map(|ms| {
                    let hours = ms as f64 / 3_600_000.0;
                    let target = f64::from(rules.response_hours.max(1));
                    (at_most(hours, target), hours_text(hours))
                }),
                Factor::WinRate => (inputs.won + inputs.lost > 0).then(|| {
                    let rate = inputs.won as f64 / (inputs.won + inputs.lost) as f64;
                    (rate, percent(rate))
                }),
                Factor::PipelineTrend => match (inputs.pipeline_earlier, inputs.pipeline_recent) {
                    (0, 0) => None,
                    (0, _) => Some((1.0, "new".to_string())),
                    (earlier, recent) => {
                        let ratio = recent as f64 / earlier as f64;
                        let change = (ratio - 1.0) * 100.0;
                        Some(((ratio / 2.0).clamp(0.0, 1.0), format!("{change:+.0}%")))
                    }
                },
                Factor::Overlap => inputs.overlap.map(|n| {
                    let target = f64::from(rules.overlap.max(1));
                    ((n as f64 / target).min(1.0), format!("{n} accounts"))
                }),
                Factor::Recency => Some(match inputs.days_since_activity {
                    Some(days) => {
                        let target = f64::from(rules.recency_days.max(1));
                        (at_most(days as f64, target), days_text(days))
                    }
                    None => (0.0, "none".to_string()),
                }),
                Factor::DealsShared => {
                    let target = f64::from(rules.deals_shared.max(1));
                    let n = inputs.deals_shared;
                    Some(((n as f64 / target).min(1.0), n.to_string()))
                }
            };
            if let Some((score, value)) = scored {
                factors.push(HealthFactor {
                    factor,
                    weight,
                    score,
                    value,
                });
            }
        }
        factors.sort_by(|a, b| b.weight.cmp(&a.weight).then(a.factor.cmp(&b.factor)));
        let total: u32 = factors.iter().map(|f| f.weight).sum();
        let score = (total > 0).then(|| {
            let sum: f64 = factors.iter().map(|f| f64::from(f.weight) * f.score).sum();
            (100.0 * sum / f64::from(total)).round() as u32
        });
        Health { score, factors }
    }
}

/// 1 at or below `target`, falling as `target / value` above it.
fn at_most(value: f64, target: f64) -> f64 {
    if value <= target {
        1.0
    } else {
        target / value
    }
}

fn percent(rate: f64) -> String {
    format!("{:.0}%", rate * 100.0)
}

fn hours_text(hours: f64) -> String {
    if hours < 1.0 {
        format!("{:.0} min", (hours * 60.0).max(1.0))
    } else if hours < 48.0 {
        format!("{hours:.0} h")
    } else {
        days_text((hours / 24.0).round() as u64)
    }
}

fn days_text(days: u64) -> String {
    match days {
        0 => "today".to_string(),
        1 => "1 day".to_string(),
        n => format!("{n} days"),
    }
}
