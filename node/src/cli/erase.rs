//! `cosell erase --email E | --name N [--dry-run] [--json]`: erases one person's data on this
//! node through `POST /api/v1/erase` and prints what was (or would be) erased where.

use crate::app::datadir::DataDir;
use crate::cli::client::Client;
use anyhow::Result;
use serde_json::{json, Value};

/// What `cosell erase` takes.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("who").required(true).args(["email", "name"])))]
pub struct EraseArgs {
    /// The person's e-mail address (matched in any case).
    #[arg(long)]
    pub email: Option<String>,
    /// The person's name (matched in any case).
    #[arg(long)]
    pub name: Option<String>,
    /// Only list what would be erased; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `cosell erase`.
pub fn run(dir: &DataDir, args: EraseArgs) -> Result<()> {
    let client = Client::for_data_dir(dir)?;
    let mut body = json!({"dry_run": args.dry_run});
    if let Some(e) = &args.email {
        body["email"] = json!(e);
    }
    if let Some(n) = &args.name {
        body["name"] = json!(n);
    }
    let report = client.json("POST", "/erase", Some(&body))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    print_report(&report);
    Ok(())
}

/// The report as a table: one line per place (where, what, fields), then the totals.
fn print_report(r: &Value) {
    let verb = if r["dry_run"] == true {
        "would erase"
    } else {
        "erased"
    };
    let rows = |v: &Value| v.as_array().cloned().unwrap_or_default();
    let mut lines: Vec<(String, String, String)> = Vec::new();
    for rec in rows(&r["records"]) {
        lines.push((
            rec["kind"].as_str().unwrap_or("?").to_string(),
            rec["id"].as_str().unwrap_or("?").to_string(),
            join(&rec["fields"]),
        ));
        if rec["kept"].as_array().is_some_and(|k| !k.is_empty()) {
            lines.push((
                format!(
                    "{} (kept: no text fits)",
                    rec["kind"].as_str().unwrap_or("?")
                ),
                rec["id"].as_str().unwrap_or("?").to_string(),
                join(&rec["kept"]),
            ));
        }
    }
    if let Some(tables) = r["tables"].as_object() {
        for (table, n) in tables {
            lines.push((
                "table".into(),
                table.clone(),
                format!("{} rows", n.as_u64().unwrap_or(0)),
            ));
        }
    }
    for d in rows(&r["deals"]) {
        let id = d["id"].as_str().unwrap_or("?").to_string();
        if d["erased"].as_array().is_some_and(|a| !a.is_empty()) {
            lines.push((
                format!("deal ({})", d["role"].as_str().unwrap_or("?")),
                id.clone(),
                join(&d["erased"]),
            ));
        }
        for k in rows(&d["kept"]) {
            lines.push((
                "deal: kept".into(),
                id.clone(),
                format!(
                    "{} (written by {})",
                    k["path"].as_str().unwrap_or("?"),
                    k["by"].as_str().unwrap_or("?")
                ),
            ));
        }
    }
    if lines.is_empty() {
        println!(
            "nothing on this node holds that {}",
            r["kind"].as_str().unwrap_or("value")
        );
        return;
    }
    let w0 = lines.iter().map(|l| l.0.len()).max().unwrap_or(5).max(5);
    let w1 = lines.iter().map(|l| l.1.len()).max().unwrap_or(2).max(2);
    println!("{:<w0$}  {:<w1$}  WHAT", "WHERE", "ID");
    for (a, b, c) in &lines {
        println!("{a:<w0$}  {b:<w1$}  {c}");
    }
    println!(
        "{verb} {} places; {} in shared deals are held by their writers (see SECURITY.md, Erasure)",
        r["erased"].as_u64().unwrap_or(0),
        r["kept"].as_u64().unwrap_or(0)
    );
    if r["database_rewrite"] == true {
        println!("restart the node (`cosell serve`) to rewrite its database file: until then pages it freed may still hold the value");
    }
}

fn join(v: &Value) -> String {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}
