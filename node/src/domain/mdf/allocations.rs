//! The vendor's MDF allocations per partner and quarter, and the balances they leave: exact
//! decimals, never negative.

use super::views::requests;
use super::{is_quarter, KIND};
use crate::domain::audit::{self, AuditKind};
use crate::domain::deals::{Deals, DealsError};
use crate::domain::partners;
use crate::store::tables::MDF_ALLOCATIONS;
use protocol::deal::DealId;
use protocol::identity::NodeId;
use protocol::records::{Amount, Currency};
use redb::ReadableTable;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// One allocation as stored (`mdf_allocations`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocation {
    /// Exact decimal text.
    pub amount: String,
    pub currency: String,
    pub set_at_ms: u64,
}

/// States whose approved amount counts against the quarter's allocation.
const COMMITTED: &[&str] = &["approved", "claimed", "reimbursed"];

/// Sets the fund for `partner` (id or unique name) in `period` (`YYYY-QN`); refused below what
/// the partner's approved requests of that quarter already commit.
pub fn allocate(
    deals: &Deals,
    partner: &str,
    period: &str,
    amount: &str,
    currency: &str,
    now: u64,
) -> Result<Value, DealsError> {
    let record = partners::resolve(deals.store(), partner)
        .map_err(|e| DealsError::NotFound(e.to_string()))?;
    let mut problems = Vec::new();
    let period = period.trim();
    if !is_quarter(period) {
        problems.push(("period", format!("'{period}' is not a quarter YYYY-QN")));
    }
    let amount = Amount::parse(amount.trim()).map_err(|e| problems.push(("amount", e.to_string())));
    let currency =
        Currency::parse(currency.trim()).map_err(|e| problems.push(("currency", e.to_string())));
    let (Ok(amount), Ok(currency)) = (amount, currency) else {
        return Err(DealsError::fields(problems));
    };
    if !problems.is_empty() {
        return Err(DealsError::fields(problems));
    }
    let node = NodeId::parse(&record.id).map_err(|e| DealsError::Invalid(e.to_string()))?;
    let committed = committed(deals, &node, period, currency.as_str(), None)?;
    if amount < committed {
        return Err(DealsError::Conflict(format!(
            "{} {currency} is less than the {committed} {currency} already approved for {} in {period}: the balance would be negative",
            amount, record.name
        )));
    }
    if let Some(old) = allocation(deals, &record.id, period)? {
        if old.currency != currency.as_str() && committed > Amount::default() {
            return Err(DealsError::Conflict(format!(
                "{}'s {period} fund is in {}, with approved requests: its currency cannot change",
                record.name, old.currency
            )));
        }
    }
    let stored = Allocation {
        amount: amount.to_string(),
        currency: currency.as_str().to_string(),
        set_at_ms: now,
    };
    let txn = deals.store().write()?;
    put(&txn, &record.id, period, &stored)?;
    audit::record_in(
        &txn,
        now,
        AuditKind::Mdf,
        Some(record.id.as_str()),
        format!(
            "set {}'s MDF allocation for {period} to {amount} {currency}",
            record.name
        ),
        json!({"event": "allocated", "partner": record.id, "period": period,
               "amount": stored.amount, "currency": stored.currency}),
    )?;
    txn.commit().map_err(anyhow::Error::from)?;
    balance_json(deals, &record.id, &record.name, period, &stored)
}

/// Every allocation with its balance: `{partner, partner_name, period, currency, allocated,
/// committed, reimbursed, available}`.
pub fn allocations(deals: &Deals) -> Result<Vec<Value>, DealsError> {
    let rows = rows(deals)?;
    let mut out = Vec::with_capacity(rows.len());
    for (partner, period, a) in rows {
        let name = crate::store::shared::partner(deals.store(), &partner)?
            .map(|p| p.name)
            .unwrap_or_default();
        out.push(balance_json(deals, &partner, &name, &period, &a)?);
    }
    Ok(out)
}

fn put(
    txn: &redb::WriteTransaction,
    partner: &str,
    period: &str,
    a: &Allocation,
) -> anyhow::Result<()> {
    let mut table = txn.open_table(MDF_ALLOCATIONS)?;
    let bytes = serde_json::to_vec(a)?;
    table.insert((partner, period), bytes.as_slice())?;
    Ok(())
}

fn rows(deals: &Deals) -> anyhow::Result<Vec<(String, String, Allocation)>> {
    let txn = deals.store().read()?;
    let Some(table) = crate::store::open_table_if_exists(&txn, MDF_ALLOCATIONS)? else {
        return Ok(Vec::new());
    };
    let mut rows = Vec::new();
    for entry in table.iter()? {
        let (k, v) = entry?;
        let (partner, period) = k.value();
        let a: Allocation = serde_json::from_slice(v.value())?;
        rows.push((partner.to_string(), period.to_string(), a));
    }
    Ok(rows)
}

fn allocation(deals: &Deals, partner: &str, period: &str) -> anyhow::Result<Option<Allocation>> {
    let txn = deals.store().read()?;
    let Some(table) = crate::store::open_table_if_exists(&txn, MDF_ALLOCATIONS)? else {
        return Ok(None);
    };
    let Some(v) = table.get((partner, period))? else {
        return Ok(None);
    };
    Ok(Some(serde_json::from_slice(v.value())?))
}

fn balance_json(
    deals: &Deals,
    partner: &str,
    name: &str,
    period: &str,
    a: &Allocation,
) -> Result<Value, DealsError> {
    let node = NodeId::parse(partner).map_err(|e| DealsError::Invalid(e.to_string()))?;
    let allocated = Amount::parse(&a.amount).unwrap_or_default();
    let committed = committed(deals, &node, period, &a.currency, None)?;
    let reimbursed = sum(
        deals,
        &node,
        period,
        &a.currency,
        &["reimbursed"],
        "reimbursed_amount",
    );
    let available = allocated.ten_thousandths() - committed.ten_thousandths();
    let available = Amount::from_ten_thousandths(available.max(0)).unwrap_or_default();
    Ok(
        json!({"partner": partner, "partner_name": name, "period": period,
              "currency": a.currency, "allocated": allocated.to_string(),
              "committed": committed.to_string(), "reimbursed": reimbursed.to_string(),
              "available": available.to_string()}),
    )
}

/// Approved amounts of `partner`'s requests of `period` in `currency` (except `except`).
fn committed(
    deals: &Deals,
    partner: &NodeId,
    period: &str,
    currency: &str,
    except: Option<DealId>,
) -> Result<Amount, DealsError> {
    let _ = KIND;
    let total: i64 = requests(deals)
        .iter()
        .filter(|r| &r.partner == partner && Some(r.id) != except)
        .filter(|r| r.text("period").as_deref() == Some(period))
        .filter(|r| r.text("currency").as_deref() == Some(currency))
        .filter(|r| r.status.is_some_and(|s| COMMITTED.contains(&s)))
        .filter_map(|r| r.decimal("approved_amount"))
        .map(Amount::ten_thousandths)
        .fold(0i64, i64::saturating_add);
    Amount::from_ten_thousandths(total).map_err(|e| DealsError::Internal(anyhow::anyhow!("{e}")))
}

fn sum(
    deals: &Deals,
    partner: &NodeId,
    period: &str,
    currency: &str,
    states: &[&str],
    field: &str,
) -> Amount {
    let total: i64 = requests(deals)
        .iter()
        .filter(|r| &r.partner == partner)
        .filter(|r| r.text("period").as_deref() == Some(period))
        .filter(|r| r.text("currency").as_deref() == Some(currency))
        .filter(|r| r.status.is_some_and(|s| states.contains(&s)))
        .filter_map(|r| r.decimal(field))
        .map(Amount::ten_thousandths)
        .fold(0i64, i64::saturating_add);
    Amount::from_ten_thousandths(total).unwrap_or_default()
}

/// Refuses an approval of `amount` on request `id` that would take `partner`'s `period` fund
/// below zero (or that has no fund).
pub(super) fn check_room(
    deals: &Deals,
    partner: &NodeId,
    period: &str,
    currency: &str,
    amount: Amount,
    id: DealId,
) -> Result<(), DealsError> {
    let Some(a) = allocation(deals, partner.as_str(), period)? else {
        return Err(DealsError::Conflict(format!(
            "no MDF allocation for this partner in {period}: set one with `cosell mdf allocate` first"
        )));
    };
    if a.currency != currency {
        return Err(DealsError::Conflict(format!(
            "the {period} allocation is in {}, the request in {currency}",
            a.currency
        )));
    }
    let allocated = Amount::parse(&a.amount).unwrap_or_default();
    let committed = committed(deals, partner, period, currency, Some(id))?;
    let left = allocated.ten_thousandths() - committed.ten_thousandths();
    if amount.ten_thousandths() > left {
        let left = Amount::from_ten_thousandths(left.max(0)).unwrap_or_default();
        return Err(DealsError::Conflict(format!(
            "approving {amount} {currency} would overdraw the {period} fund: {left} {currency} is left"
        )));
    }
    Ok(())
}
