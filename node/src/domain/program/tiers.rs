//! Tier changes as events: each active partner's tier is computed again on a timer and shortly
//! after deal and registration events; when it differs from the tier last recorded
//! (`PROGRAM_TIERS`), the new one is recorded with an audit entry in one transaction and then
//! `program.tier_changed` `{partner, partner_name, from, to}` is published (webhooks, the event
//! stream). Recorded before published, so a change is reported once across restarts.

use super::{counted, current};
use crate::clock::Clock;
use crate::domain::audit::{self, AuditKind};
use crate::domain::deals::Deals;
use crate::domain::events::{EventBus, EventKind};
use crate::store::shared;
use crate::store::tables::PROGRAM_TIERS;
use crate::store::Store;
use anyhow::Result;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// How often tiers are computed with no event to prompt it (certifications expire, the
/// program window moves on).
const EVERY: Duration = Duration::from_secs(60);
/// How long after an event the check waits, so a burst of changes is counted once.
const SETTLE: Duration = Duration::from_millis(300);
/// The least time between two passes prompted by events: a long sync (thousands of deal
/// events) recounts every few seconds, not continuously.
const GAP: Duration = Duration::from_secs(2);

/// One partner whose tier changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierChange {
    /// Its node id.
    pub partner: String,
    /// Its name.
    pub partner_name: String,
    /// The tier recorded before (`None`: never computed, or below the first tier).
    pub from: Option<String>,
    /// The tier now (`None`: below the first tier).
    pub to: Option<String>,
}

/// Computes every active partner's tier at `now_ms` and records those that changed (with an
/// audit entry each); returns them for publishing. Without a program, nothing changes.
pub fn record_changes(store: &Store, deals: &Deals, now_ms: u64) -> Result<Vec<TierChange>> {
    let Some(program) = current(store)?.and_then(|s| s.program().ok()) else {
        return Ok(Vec::new());
    };
    let partners: Vec<_> = shared::partners(store)?
        .into_iter()
        .filter(|p| p.is_active())
        .collect();
    if partners.is_empty() {
        return Ok(Vec::new());
    }
    let facts = deals.facts();
    let mut now_tiers = Vec::new();
    for p in &partners {
        let standing = counted(store, &facts, &program, &p.id, now_ms)?.standing;
        let tier = standing.tier.map(|i| program.tiers[i].name.clone());
        now_tiers.push((p, tier));
    }
    let changed: Vec<TierChange> = {
        let txn = store.read()?;
        let table = crate::store::open_table_if_exists(&txn, PROGRAM_TIERS)?;
        let read = |id: &str| -> Result<Option<String>> {
            Ok(match &table {
                Some(t) => t.get(id)?.map(|v| v.value().to_string()),
                None => None,
            })
        };
        let mut out = Vec::new();
        for (p, tier) in &now_tiers {
            let before = read(&p.id)?;
            let now = tier.clone().unwrap_or_default();
            if before.as_deref() != Some(now.as_str()) {
                out.push(TierChange {
                    partner: p.id.clone(),
                    partner_name: p.name.clone(),
                    from: before.filter(|t| !t.is_empty()),
                    to: tier.clone(),
                });
            }
        }
        out
    };
    if changed.is_empty() {
        return Ok(changed);
    }
    let txn = store.write()?;
    {
        let mut table = txn.open_table(PROGRAM_TIERS)?;
        for c in &changed {
            table.insert(c.partner.as_str(), c.to.as_deref().unwrap_or(""))?;
        }
    }
    for c in &changed {
        let name = |t: &Option<String>| t.clone().unwrap_or_else(|| "no tier".to_string());
        audit::record_in(
            &txn,
            now_ms,
            AuditKind::Program,
            Some(c.partner.as_str()),
            format!(
                "{}'s tier changed from {} to {}",
                c.partner_name,
                name(&c.from),
                name(&c.to)
            ),
            json!({"event": "tier_changed", "partner": c.partner, "from": c.from, "to": c.to}),
        )?;
    }
    txn.commit()?;
    Ok(changed)
}

/// Publishes each change as `program.tier_changed`.
pub fn publish(bus: &EventBus, changes: Vec<TierChange>) {
    for c in changes {
        tracing::info!(partner = %c.partner, from = ?c.from, to = ?c.to, "tier changed");
        bus.publish(
            EventKind::ProgramTierChanged,
            json!({"partner": c.partner, "partner_name": c.partner_name, "from": c.from, "to": c.to}),
        );
    }
}

/// The background check: every [`EVERY`], and [`SETTLE`] after deal, registration, partner and
/// mapping events (at most once per [`GAP`]), until the bus closes.
/// Each pass also sends every partner its own standing where it changed
/// (`shared_standing::share`) and syncs those documents.
pub async fn watch(
    store: Arc<Store>,
    deals: Arc<Deals>,
    bus: Arc<EventBus>,
    network: crate::net::NetHandle,
    clock: Clock,
) {
    let mut events = bus.subscribe();
    let closed = bus.closed();
    tokio::pin!(closed);
    loop {
        let started = tokio::time::Instant::now();
        let pass = {
            let (store, deals, now) = (store.clone(), deals.clone(), clock.now_ms());
            tokio::task::spawn_blocking(move || {
                let changes = record_changes(&store, &deals, now)?;
                let docs = super::shared_standing::share(&store, &deals, now)?;
                anyhow::Ok((changes, docs))
            })
            .await
        };
        match pass {
            Ok(Ok((changes, docs))) => {
                publish(&bus, changes);
                if let Err(e) = network.sync(docs).await {
                    tracing::warn!(error = %format!("{e:#}"), "cannot sync partner standings");
                }
            }
            Ok(Err(e)) => tracing::warn!(error = %format!("{e:#}"), "cannot compute partner tiers"),
            Err(_) => {}
        }
        // Wait for the timer or an event that can move a tier or a standing (our own
        // `program.tier_changed` too: the standing sent follows the tier; the pass it prompts
        // finds nothing new, so it does not repeat).
        tokio::select! {
            _ = &mut closed => return,
            _ = tokio::time::sleep(EVERY) => {}
            event = events.recv() => match event {
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    let gap = GAP.saturating_sub(started.elapsed());
                    tokio::time::sleep(SETTLE.max(gap)).await;
                    // Counted once for the whole burst.
                    while events.try_recv().is_ok() {}
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            },
        }
    }
}
