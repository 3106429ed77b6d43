//! `plan.task_overdue`: once per open task past its due date, on every company's node. "Once"
//! holds across restarts: it is recorded (`workflow_events_published`) before it is published.

use crate::clock::Clock;
use crate::domain::deals::Deals;
use crate::domain::events::EventKind;
use crate::store::tables::EVENTS_PUBLISHED;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// How often the node looks for tasks that became overdue (a due date is a day).
const PASS_MS: u64 = 5_000;

/// Publishes `plan.task_overdue` for each task that became overdue, once; answers the events
/// published (their data).
pub fn overdue_pass(deals: &Deals, now: u64) -> anyhow::Result<Vec<Value>> {
    let key = |plan: &Value, task: &Value| {
        format!(
            "plan.task_overdue/{}/{}",
            plan["id"].as_str().unwrap_or(""),
            task["id"].as_str().unwrap_or("")
        )
    };
    let overdue = super::overdue_tasks(deals, now);
    if overdue.is_empty() {
        return Ok(Vec::new());
    }
    let mut fresh = Vec::new();
    {
        let txn = deals.store().read()?;
        let table = crate::store::open_table_if_exists(&txn, EVENTS_PUBLISHED)?;
        for (plan, task) in overdue {
            let seen = match &table {
                Some(t) => t.get(key(&plan, &task).as_str())?.is_some(),
                None => false,
            };
            if !seen {
                fresh.push((plan, task));
            }
        }
    }
    if fresh.is_empty() {
        return Ok(Vec::new());
    }
    let txn = deals.store().write()?;
    {
        let mut table = txn.open_table(EVENTS_PUBLISHED)?;
        for (plan, task) in &fresh {
            table.insert(key(plan, task).as_str(), now)?;
        }
    }
    txn.commit()?;
    let mut out = Vec::new();
    for (plan, task) in fresh {
        let data = json!({"id": plan["id"], "kind": super::KIND, "account_domain": plan["account_domain"],
                          "task": task["id"], "title": task["title"], "owner": task["owner"],
                          "owner_name": task["owner_name"], "due": task["due"]});
        deals.publish(EventKind::PlanTaskOverdue, data.clone());
        out.push(data);
    }
    Ok(out)
}

/// The background pass: every 5 seconds (and shortly after the start).
pub async fn watch(deals: Arc<Deals>, clock: Clock) {
    let mut pause = Duration::from_millis(500);
    loop {
        tokio::time::sleep(pause).await;
        pause = Duration::from_millis(PASS_MS);
        let engine = deals.clone();
        let now = clock.now_ms();
        if let Ok(Err(e)) = tokio::task::spawn_blocking(move || overdue_pass(&engine, now)).await {
            tracing::warn!(error = %format!("{e:#}"), "cannot report overdue plan tasks");
        }
    }
}
