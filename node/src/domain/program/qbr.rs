//! The quarterly business review pack for one partner: a self-contained HTML report (charts as
//! inline SVG, printable, no script, no outside resource) and CSVs of the same numbers. Either
//! side of a partnership builds it from what it holds; its numbers are the analytics route's
//! ([`super::numbers`]), so they agree.

use super::numbers::{PartnerNumbers, Period};
use crate::domain::audit::rfc3339;
use policy::program::money_text;
use protocol::records::{Currency, Stage};
use serde_json::Value;
use std::fmt::Write;

/// A generated pack: the HTML report and its CSVs by file name.
#[derive(Debug, Clone)]
pub struct Pack {
    /// `qbr.html`.
    pub html: String,
    /// (file name, CSV text).
    pub csvs: Vec<(String, String)>,
}

/// What the pack is about.
pub struct PackInput<'a> {
    /// This node's company name.
    pub me: &'a str,
    /// The partner's name.
    pub partner: &'a str,
    /// The partner's node id (deals name who sourced them by id).
    pub partner_id: &'a str,
    /// `2026-Q4`.
    pub quarter: &'a str,
    /// The quarter's bounds.
    pub period: Period,
    /// The currency money is shown in.
    pub currency: Currency,
    /// The partner's numbers in the quarter.
    pub numbers: &'a PartnerNumbers,
    /// The partner's program standing (`standing_json`), if a program is set.
    pub standing: Option<&'a Value>,
    /// Registrations of the partner in the quarter: (id, status, submitted).
    pub registrations: Vec<(String, String, String)>,
    /// Overlapping customers, if mapping ran.
    pub overlap: Option<u64>,
    /// When the pack was made.
    pub now_ms: u64,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A CSV cell: quoted when needed, and a leading `=`, `+`, `-`, `@` neutralised so a
/// spreadsheet does not run it as a formula.
fn cell(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) && s.parse::<f64>().is_err() {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn csv(rows: &[Vec<String>]) -> String {
    let mut out = String::new();
    for row in rows {
        let line: Vec<String> = row.iter().map(|c| cell(c)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

/// A horizontal bar chart as inline SVG: one labelled bar per (label, value), scaled to the
/// largest value.
fn bars(title: &str, rows: &[(String, f64, String)]) -> String {
    let max = rows.iter().map(|r| r.1).fold(0.0_f64, f64::max);
    scaled_bars(title, rows, max)
}

/// [`bars`] scaled to `max` (a progress chart's 100 %, so a half-met requirement is half a bar).
fn scaled_bars(title: &str, rows: &[(String, f64, String)], max: f64) -> String {
    let max = max.max(1e-9);
    let height = 28 * rows.len().max(1) + 10;
    let mut svg = format!(
        "<figure><figcaption>{}</figcaption><svg role=\"img\" aria-label=\"{}\" width=\"760\" height=\"{height}\" viewBox=\"0 0 760 {height}\" style=\"max-width:100%;height:auto\" xmlns=\"http://www.w3.org/2000/svg\">",
        esc(title),
        esc(title)
    );
    if rows.is_empty() {
        svg.push_str("<text x=\"0\" y=\"20\" font-size=\"13\">none</text>");
    }
    for (i, (label, value, text)) in rows.iter().enumerate() {
        let y = 5 + i * 28;
        let w = (value / max * 300.0).max(if *value > 0.0 { 2.0 } else { 0.0 });
        let _ = write!(
            svg,
            "<text x=\"0\" y=\"{}\" font-size=\"13\">{}</text><rect x=\"170\" y=\"{y}\" width=\"{w:.1}\" height=\"18\" fill=\"#2f6fb0\"/><text x=\"{:.1}\" y=\"{}\" font-size=\"13\">{}</text>",
            y + 14,
            esc(label),
            175.0 + w,
            y + 14,
            esc(text)
        );
    }
    svg.push_str("</svg></figure>");
    svg
}

fn money(v: i128, c: Currency) -> String {
    format!("{} {}", money_text(v), c.as_str())
}

fn as_f64(v: i128) -> f64 {
    v as f64 / 10_000.0
}

/// Builds the pack.
pub fn build(input: &PackInput<'_>) -> Pack {
    let n = input.numbers;
    let c = input.currency;
    let title = format!("{} × {} — QBR {}", input.me, input.partner, input.quarter);
    let closed = n.deals_won + n.deals_lost;
    let win_rate = if closed > 0 {
        format!("{:.0}%", 100.0 * n.deals_won as f64 / closed as f64)
    } else {
        "—".to_string()
    };
    let summary: Vec<(&str, String)> = vec![
        ("Deals shared", n.deals_shared.to_string()),
        ("Sourced pipeline", money(n.sourced_pipeline, c)),
        ("Influenced pipeline", money(n.influenced_pipeline, c)),
        ("Won revenue", money(n.won_revenue, c)),
        ("Sourced revenue", money(n.sourced_revenue, c)),
        ("Influenced revenue", money(n.influenced_revenue, c)),
        ("Deals won", n.deals_won.to_string()),
        ("Deals lost", n.deals_lost.to_string()),
        ("Win rate", win_rate),
        (
            "Registrations submitted",
            n.registrations_submitted.to_string(),
        ),
        (
            "Registrations approved",
            n.registrations_approved.to_string(),
        ),
        (
            "Customer overlap",
            input
                .overlap
                .map_or("not mapped".to_string(), |o| o.to_string()),
        ),
        ("MDF spend and results", "no MDF recorded".to_string()),
    ];
    let mut html = String::new();
    let _ = write!(
        html,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title><style>body{{font:14px/1.45 system-ui,sans-serif;color:#1d1d1f;max-width:900px;margin:2em auto;padding:0 1em}}h1{{font-size:1.6em}}table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #bbb;padding:4px 8px;text-align:left}}figure{{margin:1em 0}}figcaption{{font-weight:600}}@media print{{body{{margin:0}}}}</style></head><body><main><h1>{t}</h1><p>Period {from} to {to}. Made by {me} on {now} from the deals, registrations and account mapping it holds; amounts in {cur}.</p>",
        t = esc(&title),
        from = &rfc3339(input.period.from_ms)[..10],
        to = &rfc3339(input.period.to_ms)[..10],
        me = esc(input.me),
        now = &rfc3339(input.now_ms)[..10],
        cur = c.as_str()
    );
    html.push_str("<h2>Summary</h2><table><tbody>");
    for (k, v) in &summary {
        let _ = write!(
            html,
            "<tr><th scope=\"row\">{}</th><td>{}</td></tr>",
            esc(k),
            esc(v)
        );
    }
    html.push_str("</tbody></table>");
    html.push_str("<h2>Pipeline and revenue</h2>");
    let by_stage: Vec<(String, f64, String)> = Stage::ALL
        .iter()
        .filter(|s| s.is_open())
        .map(|s| {
            let v = n.by_stage.get(s.as_str()).copied().unwrap_or(0);
            (s.as_str().replace('_', " "), as_f64(v), money(v, c))
        })
        .collect();
    html.push_str(&bars("Open pipeline by stage", &by_stage));
    html.push_str(&bars(
        "Outcomes",
        &[
            (
                "won".to_string(),
                n.deals_won as f64,
                n.deals_won.to_string(),
            ),
            (
                "lost".to_string(),
                n.deals_lost as f64,
                n.deals_lost.to_string(),
            ),
        ],
    ));
    html.push_str(&bars(
        "Sourced and influenced",
        &[
            (
                "sourced pipeline".into(),
                as_f64(n.sourced_pipeline),
                money(n.sourced_pipeline, c),
            ),
            (
                "influenced pipeline".into(),
                as_f64(n.influenced_pipeline),
                money(n.influenced_pipeline, c),
            ),
            (
                "won revenue".into(),
                as_f64(n.won_revenue),
                money(n.won_revenue, c),
            ),
        ],
    ));
    html.push_str("<h2>Deals</h2><table><thead><tr><th>Deal</th><th>Account</th><th>Stage</th><th>Amount</th><th>Close</th><th>Sourced by</th></tr></thead><tbody>");
    let mut deal_rows = vec![vec![
        "deal_id".to_string(),
        "name".into(),
        "account".into(),
        "stage".into(),
        "amount".into(),
        "currency".into(),
        "close_date".into(),
        "created".into(),
        "sourced_by".into(),
        "influenced_by".into(),
        "outcome".into(),
    ]];
    for d in &n.deals {
        let stage = d.stage.map_or("", |s| s.as_str());
        let outcome = match d.stage {
            Some(Stage::Launched) => "won",
            Some(Stage::ClosedLost) => "lost",
            _ => "open",
        };
        let (amount, cur) = d.amount.map_or((String::new(), String::new()), |(a, c)| {
            (a.to_string(), c.as_str().to_string())
        });
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{} {}</td><td>{}</td><td>{}</td></tr>",
            esc(d.title.as_deref().unwrap_or(&d.id[..8.min(d.id.len())])),
            esc(d.account.as_deref().unwrap_or("")),
            esc(&stage.replace('_', " ")),
            esc(&amount),
            esc(&cur),
            d.close_date.map(|d| d.to_string()).unwrap_or_default(),
            esc(match d.sourced_by.as_deref() {
                Some(s) if s == input.partner_id => input.partner,
                Some(_) => input.me,
                None => "—",
            }),
        );
        deal_rows.push(vec![
            d.id.clone(),
            d.title.clone().unwrap_or_default(),
            d.account.clone().unwrap_or_default(),
            stage.to_string(),
            amount,
            cur,
            d.close_date.map(|d| d.to_string()).unwrap_or_default(),
            d.created_at_ms.map(rfc3339).unwrap_or_default(),
            d.sourced_by.clone().unwrap_or_default(),
            d.influenced_by.join(" "),
            outcome.to_string(),
        ]);
    }
    if n.deals.is_empty() {
        html.push_str("<tr><td colspan=\"6\">No deals in this quarter.</td></tr>");
    }
    html.push_str("</tbody></table>");
    html.push_str("<h2>Registrations</h2><table><thead><tr><th>Registration</th><th>Status</th><th>Submitted</th></tr></thead><tbody>");
    let mut reg_rows = vec![vec![
        "registration_id".to_string(),
        "status".into(),
        "submitted".into(),
    ]];
    for (id, status, at) in &input.registrations {
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&id[..8.min(id.len())]),
            esc(status),
            esc(at)
        );
        reg_rows.push(vec![id.clone(), status.clone(), at.clone()]);
    }
    if input.registrations.is_empty() {
        html.push_str("<tr><td colspan=\"3\">No registrations in this quarter.</td></tr>");
    }
    html.push_str("</tbody></table>");
    html.push_str("<h2>Tier progress and goals for next quarter</h2>");
    let mut tier_rows = vec![vec![
        "tier".to_string(),
        "next_tier".into(),
        "metric".into(),
        "have".into(),
        "need".into(),
    ]];
    match input.standing {
        Some(s) => {
            let tier = s["tier"].as_str().unwrap_or("none");
            let _ = write!(
                html,
                "<p>Tier now: <strong>{}</strong>. {}</p>",
                esc(tier),
                esc(s["health"]["explanation"].as_str().unwrap_or(""))
            );
            if let Some(next) = s["next"].as_object() {
                let next_tier = next["tier"].as_str().unwrap_or("");
                let lacks = next["lacks"].as_array().cloned().unwrap_or_default();
                let rows: Vec<(String, f64, String)> = lacks
                    .iter()
                    .map(|l| {
                        let num = |v: &Value| {
                            v.as_f64()
                                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                                .unwrap_or(0.0)
                        };
                        let have = num(&l["have"]);
                        let need = num(&l["need"]).max(1e-9);
                        (
                            l["metric"].as_str().unwrap_or("").replace('_', " "),
                            (have / need * 100.0).min(100.0),
                            l["text"].as_str().unwrap_or("").to_string(),
                        )
                    })
                    .collect();
                let _ = write!(
                    html,
                    "<p>Goals to reach <strong>{}</strong>:</p>",
                    esc(next_tier)
                );
                html.push_str(&scaled_bars(
                    &format!("Progress toward {next_tier} (% of each requirement)"),
                    &rows,
                    100.0,
                ));
                for l in &lacks {
                    tier_rows.push(vec![
                        tier.to_string(),
                        next_tier.to_string(),
                        l["metric"].as_str().unwrap_or("").to_string(),
                        l["have"].to_string().trim_matches('"').to_string(),
                        l["need"].to_string().trim_matches('"').to_string(),
                    ]);
                }
            } else {
                html.push_str("<p>The partner is in the highest tier.</p>");
                tier_rows.push(vec![
                    tier.to_string(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                ]);
            }
        }
        None => html.push_str("<p>No partner program is set on this node.</p>"),
    }
    html.push_str("</main></body></html>\n");
    let mut summary_rows = vec![vec!["metric".to_string(), "value".to_string()]];
    summary_rows.extend(summary.iter().map(|(k, v)| vec![k.to_string(), v.clone()]));
    Pack {
        html,
        csvs: vec![
            ("summary.csv".into(), csv(&summary_rows)),
            ("deals.csv".into(), csv(&deal_rows)),
            ("registrations.csv".into(), csv(&reg_rows)),
            ("tier.csv".into(), csv(&tier_rows)),
        ],
    }
}
