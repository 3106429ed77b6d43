//! The partner program on this node: the program file in force (every version kept and
//! audited), each partner's tier, what the next tier lacks and its health score — counted from
//! the deals, registrations, invitations, account mapping and certifications this node holds
//! ([`numbers`]) and decided by the pure rules in `policy::program`.

pub mod announcements;
pub mod attestations;
pub mod numbers;
pub mod qbr;
pub mod shared_standing;
pub mod tiers;

use crate::domain::audit::{self, AuditKind};
use crate::domain::deals::Facts;
use crate::domain::error::DomainError;
use crate::store::shared::PartnerRecord;
use crate::store::tables::PROGRAM_VERSIONS;
use crate::store::Store;
use anyhow::Result;
use numbers::{partner_numbers, PartnerNumbers, Period};
use policy::program::{Metric, Program};
use protocol::records::Currency;
use redb::ReadableTable;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// One stored version of the program file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredProgram {
    /// From 1.
    pub version: u64,
    /// The file as it was set.
    pub text: String,
    /// `toml` or `json`.
    pub format: String,
    /// When it was set.
    pub set_at_ms: u64,
    /// Who set it.
    pub actor: Option<String>,
}

impl StoredProgram {
    /// The program the text holds (it was validated when set).
    pub fn program(&self) -> Result<Program, policy::PolicyErrors> {
        if self.format == "json" {
            Program::from_json(&self.text)
        } else {
            Program::from_toml(&self.text)
        }
    }
}

/// The program in force, if one was set.
pub fn current(store: &Store) -> Result<Option<StoredProgram>> {
    let txn = store.read()?;
    let Some(table) = crate::store::open_table_if_exists(&txn, PROGRAM_VERSIONS)? else {
        return Ok(None);
    };
    let last = table.last()?;
    last.map(|(_, v)| Ok(serde_json::from_slice(v.value())?))
        .transpose()
}

/// Validates and stores a new version of the program (audited with the tiers it names).
pub fn set(
    store: &Store,
    text: &str,
    json: bool,
    now_ms: u64,
) -> Result<StoredProgram, DomainError> {
    let program = if json {
        Program::from_json(text)
    } else {
        Program::from_toml(text)
    }
    .map_err(|e| DomainError::Invalid(e.to_string()))?;
    Ok(save(store, text, json, &program, now_ms)?)
}

fn save(
    store: &Store,
    text: &str,
    json: bool,
    program: &Program,
    now_ms: u64,
) -> Result<StoredProgram> {
    let txn = store.write()?;
    let stored = {
        let mut table = txn.open_table(PROGRAM_VERSIONS)?;
        let version = table.last()?.map_or(0, |(k, _)| k.value()) + 1;
        let stored = StoredProgram {
            version,
            text: text.to_string(),
            format: if json { "json" } else { "toml" }.to_string(),
            set_at_ms: now_ms,
            actor: audit::current_actor().map(|a| a.to_string()),
        };
        table.insert(version, serde_json::to_vec(&stored)?.as_slice())?;
        stored
    };
    let tiers: Vec<&str> = program.tiers.iter().map(|t| t.name.as_str()).collect();
    audit::record_in(
        &txn,
        now_ms,
        AuditKind::Program,
        None,
        format!(
            "set partner program version {} (tiers: {})",
            stored.version,
            tiers.join(", ")
        ),
        json!({"event": "program_set", "version": stored.version, "tiers": tiers}),
    )?;
    txn.commit()?;
    Ok(stored)
}

/// The program in the API's shape.
pub fn program_json(program: &Program) -> Value {
    let currency = program.currency;
    json!({
        "currency": currency.as_str(),
        "window_days": program.window_days,
        "tiers": program.tiers.iter().map(|t| json!({
            "name": t.name,
            "requires": t.requires.iter().map(|(m, v)| (m.as_str().to_string(), json!(requirement_text(*m, *v)))).collect::<serde_json::Map<_, _>>(),
            "benefits": {
                "registration_protection_days": t.benefits.registration_protection_days,
                "mdf_allocation": t.benefits.mdf_allocation.map(|a| a.to_string()),
                "lead_priority": t.benefits.lead_priority,
                "discount": t.benefits.discount,
            },
        })).collect::<Vec<_>>(),
        "health": {
            "weights": program.health.weights.iter().map(|(f, w)| (f.as_str().to_string(), json!(w))).collect::<serde_json::Map<_, _>>(),
            "targets": {
                "response_hours": program.health.response_hours,
                "overlap": program.health.overlap,
                "recency_days": program.health.recency_days,
                "deals_shared": program.health.deals_shared,
            },
        },
        "rates": program.rates.iter().map(|(c, r)| (c.as_str().to_string(), json!(rate_text(*r)))).collect::<serde_json::Map<_, _>>(),
    })
}

/// A requirement's value as the API shows it: money as a decimal string, counts as numbers.
fn requirement_text(metric: Metric, value: i128) -> Value {
    if metric.is_money() {
        json!(policy::program::money_text(value))
    } else {
        json!(value)
    }
}

fn rate_text(millionths: i128) -> String {
    let whole = millionths / 1_000_000;
    let frac = millionths % 1_000_000;
    if frac == 0 {
        whole.to_string()
    } else {
        format!("{whole}.{}", format!("{frac:06}").trim_end_matches('0'))
    }
}

/// Customers both companies have, from the latest account mapping with the partner (the
/// customers × customers cell), when it revealed a count.
pub fn customer_overlap(store: &Store, partner: &str) -> Option<u64> {
    let matrix = crate::domain::mapping::latest_matrix(store, partner)
        .ok()
        .flatten()?;
    matrix.matrix["cells"]
        .as_array()?
        .iter()
        .find(|c| c["mine"] == "customers" && c["theirs"] == "customers")
        .and_then(|c| c["count"].as_u64())
}

/// A partner's numbers over the program window and where they put it.
pub(crate) struct Counted {
    period: Period,
    numbers: PartnerNumbers,
    overlap: Option<u64>,
    figures: policy::program::Figures,
    pub(crate) standing: policy::program::Standing,
}

/// Counts `partner` over the program window at `now_ms` and decides its standing.
pub(crate) fn counted(
    store: &Store,
    facts: &Facts,
    program: &Program,
    partner: &str,
    now_ms: u64,
) -> Result<Counted> {
    let period = Period::window(program.window_days, now_ms);
    let numbers = partner_numbers(facts, partner, Some(program), program.currency, period);
    let certified = attestations::certified_people(store, partner, now_ms)?;
    let overlap = customer_overlap(store, partner);
    let figures = numbers.figures(certified, overlap);
    let standing = program.standing(&figures);
    Ok(Counted {
        period,
        numbers,
        overlap,
        figures,
        standing,
    })
}

/// One partner's standing in the API's shape: tier, what the next tier lacks, health score
/// with its explanation, and the numbers behind them.
pub fn standing_json(
    store: &Store,
    facts: &Facts,
    program: &Program,
    partner: &PartnerRecord,
    now_ms: u64,
) -> Result<Value> {
    let Counted {
        period,
        numbers,
        overlap,
        figures,
        standing,
    } = counted(store, facts, program, &partner.id, now_ms)?;
    let health = program.health(&numbers.health_inputs(overlap, now_ms));
    let currency = program.currency;
    let next = next_json(program, &standing);
    Ok(json!({
        "partner": {"id": partner.id, "name": partner.name, "type": partner.partner_type},
        "tier": standing.tier.map(|i| program.tiers[i].name.clone()),
        "benefits": standing.tier.map(|i| program_json(program)["tiers"][i]["benefits"].clone()),
        "next": next,
        "health": {
            "score": health.score,
            "explanation": health.explanation(),
            "factors": health.factors.iter().map(|f| json!({
                "factor": f.factor.as_str(), "weight": f.weight,
                "score": (f.score * 100.0).round() / 100.0, "value": f.value,
            })).collect::<Vec<_>>(),
        },
        "figures": figures.iter().map(|(m, v)| (m.as_str().to_string(), requirement_text(*m, *v))).collect::<serde_json::Map<_, _>>(),
        "numbers": numbers.to_json(currency),
        "window": {"from": audit::rfc3339(period.from_ms), "to": audit::rfc3339(period.to_ms)},
    }))
}

/// What the next tier above `standing` is and what it lacks (`None` at the highest tier):
/// `{tier, lacks: [{metric, have, need, text}]}`.
pub(crate) fn next_json(program: &Program, standing: &policy::program::Standing) -> Option<Value> {
    let currency = program.currency;
    standing.next.as_ref().map(|(i, lacks)| {
        json!({
            "tier": program.tiers[*i].name,
            "lacks": lacks.iter().map(|l| json!({
                "metric": l.metric.as_str(),
                "have": requirement_text(l.metric, l.have),
                "need": requirement_text(l.metric, l.need),
                "text": format!("{}: {} of {}", l.metric.as_str().replace('_', " "),
                    l.metric.display(l.have, currency), l.metric.display(l.need, currency)),
            })).collect::<Vec<_>>(),
        })
    })
}

/// Numbers of every active partner over `period`, in program currency (or `currency` with no
/// program), with totals: the analytics route's answer.
pub fn analytics_json(
    facts: &Facts,
    partners: &[PartnerRecord],
    program: Option<&Program>,
    currency: Currency,
    period: Period,
) -> Value {
    let currency = program.map_or(currency, |p| p.currency);
    let mut total = PartnerNumbers::default();
    let mut items = Vec::new();
    for p in partners {
        let n = partner_numbers(facts, &p.id, program, currency, period);
        total.deals_shared += n.deals_shared;
        total.sourced_pipeline += n.sourced_pipeline;
        total.influenced_pipeline += n.influenced_pipeline;
        total.sourced_revenue += n.sourced_revenue;
        total.influenced_revenue += n.influenced_revenue;
        total.won_revenue += n.won_revenue;
        total.deals_won += n.deals_won;
        total.deals_lost += n.deals_lost;
        total.registrations_submitted += n.registrations_submitted;
        total.registrations_approved += n.registrations_approved;
        total.invitations += n.invitations;
        total.invitations_accepted += n.invitations_accepted;
        total.unconverted += n.unconverted;
        for (s, v) in &n.by_stage {
            *total.by_stage.entry(s).or_default() += v;
        }
        items.push(
            json!({"partner": {"id": p.id, "name": p.name, "type": p.partner_type},
                          "numbers": n.to_json(currency)}),
        );
    }
    let mut totals = total.to_json(currency);
    if let Some(o) = totals.as_object_mut() {
        o.remove("median_response_hours");
        o.remove("last_activity");
    }
    json!({
        "period": {"from": audit::rfc3339(period.from_ms), "to": audit::rfc3339(period.to_ms)},
        "currency": currency.as_str(),
        "items": items,
        "totals": totals,
    })
}
