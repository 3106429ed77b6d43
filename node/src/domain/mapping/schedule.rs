//! When runs happen: the schedule (every connected active partner not mapped for an interval)
//! and the rate limit (runs per partner per hour, counted on both sides and kept across
//! restarts).

use super::{Mapper, LAST_RUN, RATE_WINDOW_MS, RUNS, SCHEDULE_TICK_MAX, SCHEDULE_TICK_MIN};
use crate::domain::error::DomainError;
use crate::store::Store;
use anyhow::{Context, Result};
use libp2p::PeerId;
use redb::ReadableTable;
use std::sync::Arc;
use std::time::Duration;

impl Mapper {
    /// Counts a run for a partner, or refuses it over the limit.
    pub(super) async fn take_run(&self, partner: &str) -> Result<()> {
        let partner = partner.to_string();
        let max = self.settings.runs_per_hour;
        let now = self.now_ms();
        self.blocking(move |s| take_run(s, &partner, now, max))
            .await
    }

    /// Maps every connected active partner not mapped for an interval, until the process ends;
    /// does nothing without an interval. Failures are logged, and the partner waits for the next
    /// interval (so a refusing partner is not asked every tick).
    pub fn spawn_schedule(self: &Arc<Self>) -> Option<tokio::task::JoinHandle<()>> {
        let interval = self.settings.interval?;
        let tick = interval.clamp(SCHEDULE_TICK_MIN, SCHEDULE_TICK_MAX);
        let me = self.clone();
        Some(tokio::spawn(async move {
            loop {
                tokio::time::sleep(tick).await;
                if let Err(e) = me.scheduled_round(interval).await {
                    tracing::warn!(error = %format!("{e:#}"), "scheduled account mapping failed");
                }
            }
        }))
    }

    /// One look at the partners: runs mapping with each one that is due and connected.
    async fn scheduled_round(&self, interval: Duration) -> Result<()> {
        let interval_ms = u64::try_from(interval.as_millis()).unwrap_or(u64::MAX);
        let now = self.now_ms();
        let due = self
            .blocking(move |s| due_partners(s, now, interval_ms))
            .await?;
        if due.is_empty() {
            return Ok(());
        }
        let connected = self.network.handle.connected().await?;
        for partner in due {
            let online = partner
                .parse::<PeerId>()
                .is_ok_and(|p| connected.contains(&p));
            if !online {
                tracing::debug!(%partner, "scheduled account mapping skipped: partner offline");
                continue;
            }
            let id = partner.clone();
            let now = self.now_ms();
            self.blocking(move |s| mark_attempt(s, &id, now)).await?;
            match self.run(&partner).await {
                Ok(_) => tracing::info!(%partner, "scheduled account mapping done"),
                Err(e) => tracing::warn!(
                    %partner,
                    error = %format!("{e:#}"),
                    "scheduled account mapping failed"
                ),
            }
        }
        Ok(())
    }
}

/// Active partners whose last run (or scheduled attempt) is at least `interval_ms` old; a
/// partner never mapped counts from the start of the partnership (a new partner is mapped one
/// interval after it joined, not at once).
pub(super) fn due_partners(store: &Store, now_ms: u64, interval_ms: u64) -> Result<Vec<String>> {
    let partners = crate::store::shared::partners(store)?;
    let txn = store.read()?;
    let table = txn.open_table(LAST_RUN)?;
    let mut due = Vec::new();
    for p in partners.into_iter().filter(|p| p.is_active()) {
        let last = table.get(p.id.as_str())?.map(|v| v.value());
        let since = last.unwrap_or(0).max(p.since_ms);
        if now_ms.saturating_sub(since) >= interval_ms {
            due.push(p.id);
        }
    }
    Ok(due)
}

/// Records a scheduled attempt, so a failing partner waits for the next interval.
pub(super) fn mark_attempt(store: &Store, partner: &str, now_ms: u64) -> Result<()> {
    let txn = store.write()?;
    txn.open_table(LAST_RUN)?.insert(partner, now_ms)?;
    txn.commit()?;
    Ok(())
}

/// Counts a run with a partner in the persisted log, or refuses it when `max` runs started in
/// the last [`RATE_WINDOW_MS`]. Check and count are one write transaction, so concurrent runs
/// cannot both take the last slot.
pub(super) fn take_run(store: &Store, partner: &str, now_ms: u64, max: usize) -> Result<()> {
    let txn = store.write()?;
    let wait_ms = {
        let mut table = txn.open_table(RUNS)?;
        let mut times: Vec<u64> = match table.get(partner)? {
            Some(v) => serde_json::from_slice(v.value())
                .context("the stored mapping run times are corrupt")?,
            None => Vec::new(),
        };
        // A time ahead of the clock (it was set back) counts until the window has passed.
        times.retain(|&t| now_ms.saturating_sub(t) < RATE_WINDOW_MS);
        times.retain(|&t| t <= now_ms.saturating_add(RATE_WINDOW_MS));
        times.sort_unstable();
        if times.len() >= max {
            let frees_slot = times[times.len() - max];
            Some(RATE_WINDOW_MS.saturating_sub(now_ms.saturating_sub(frees_slot)))
        } else {
            times.push(now_ms);
            table.insert(partner, serde_json::to_vec(&times)?.as_slice())?;
            None
        }
    };
    if let Some(wait_ms) = wait_ms {
        txn.abort()?;
        return Err(DomainError::RateLimited(format!(
            "rate limit: at most {max} mapping runs per partner per hour; try again in {} minutes",
            wait_ms / 60_000 + 1
        ))
        .into());
    }
    txn.commit()?;
    Ok(())
}
