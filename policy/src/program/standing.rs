//! A partner's tier: the highest tier whose every requirement its figures meet, and what the
//! next tier up still lacks.

use super::{Metric, Program};
use std::collections::BTreeMap;

/// A partner's figures over the program window: money in ten-thousandths of the program
/// currency, counts in units. A metric not present counts as 0.
pub type Figures = BTreeMap<Metric, i128>;

/// One requirement not met: the metric, what the partner has and what the tier needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lack {
    /// What is counted.
    pub metric: Metric,
    /// The partner's figure.
    pub have: i128,
    /// The tier's minimum.
    pub need: i128,
}

/// Where a partner stands in the program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    /// The highest tier reached (index into [`Program::tiers`]); `None` below the first.
    pub tier: Option<usize>,
    /// The next tier up, if any: its index and every requirement not yet met.
    pub next: Option<(usize, Vec<Lack>)>,
}

impl Program {
    /// The tier `figures` reach: the highest tier (in file order, lowest first) whose every
    /// requirement is met, and the lacks of the tier above it.
    pub fn standing(&self, figures: &Figures) -> Standing {
        let lacks = |index: usize| -> Vec<Lack> {
            self.tiers[index]
                .requires
                .iter()
                .filter_map(|(metric, need)| {
                    let have = figures.get(metric).copied().unwrap_or(0);
                    (have < *need).then_some(Lack {
                        metric: *metric,
                        have,
                        need: *need,
                    })
                })
                .collect()
        };
        let tier = (0..self.tiers.len()).rev().find(|i| lacks(*i).is_empty());
        let next_index = tier.map_or(0, |t| t + 1);
        let next = (next_index < self.tiers.len()).then(|| (next_index, lacks(next_index)));
        Standing { tier, next }
    }
}
