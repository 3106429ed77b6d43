//! `cosell map …` and `cosell populations …`: thin shells over the running node's account-mapping
//! API (`/partners/{id}/map`, `/partners/{id}/map/propose`, `/populations`). The partner is
//! resolved by the node (a node id or a unique partner name), as for `policy set`.

use crate::app::datadir::DataDir;
use crate::cli::client::Client;
use crate::cli::partners::segment;
use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand};
use serde::Deserialize;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// Widest population name shown in a matrix column before it is cut.
const COLUMN_WIDTH_MAX: usize = 24;

/// `cosell map PARTNER`: run account mapping now and print the matrix.
#[derive(Debug, Args)]
pub struct MapArgs {
    /// Node id or unique partner name.
    pub partner: String,
    /// Print the API's JSON answer.
    #[arg(long)]
    pub json: bool,
    /// Print the latest stored matrix without a new run.
    #[arg(long, visible_alias = "latest")]
    pub show: bool,
    /// Propose a co-sell deal from an overlap of the latest matrix: share this node's open
    /// opportunity on the account with this domain with the partner; prints the deal id.
    #[arg(long, value_name = "DOMAIN", conflicts_with = "show")]
    pub propose: Option<String>,
    /// With --propose: which open opportunity, when the account has several.
    #[arg(long, requires = "propose")]
    pub opportunity: Option<String>,
}

/// Population commands.
#[derive(Debug, Subcommand)]
pub enum PopulationsCommand {
    /// List the populations: the built-ins and this node's custom ones.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Create or replace a custom population: the accounts that pass every given filter (each
    /// filter repeatable or comma-separated: any of its values).
    Set {
        /// The population's name (a-z, 0-9, _ and -), as partners see it in the matrix.
        name: String,
        /// Account statuses (customer, prospect, partner, other).
        #[arg(long = "status", value_delimiter = ',')]
        statuses: Vec<String>,
        /// Industries (case-insensitive).
        #[arg(long = "industry", value_delimiter = ',')]
        industries: Vec<String>,
        /// Countries (case-insensitive).
        #[arg(long = "country", value_delimiter = ',')]
        countries: Vec<String>,
        /// Tags: the account has at least one.
        #[arg(long = "tag", value_delimiter = ',')]
        tags: Vec<String>,
        /// Opportunity stages: the account has an opportunity in one of them.
        #[arg(long = "stage", value_delimiter = ',')]
        stages: Vec<String>,
        /// Read the filters from a file (TOML, or JSON by its .json extension) with the keys
        /// statuses, industries, countries, tags, stages; flags add to it.
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// Remove a custom population.
    Remove {
        /// The population's name.
        name: String,
    },
}

/// Runs `cosell map`.
pub fn map(dir: &DataDir, args: MapArgs) -> Result<()> {
    let client = Client::for_data_dir(dir)?;
    let path = format!("/partners/{}/map", segment(&args.partner));
    if let Some(domain) = &args.propose {
        let deal = client.json(
            "POST",
            &format!("{path}/propose"),
            Some(&json!({"domain": domain, "opportunity_id": args.opportunity})),
        )?;
        let id = deal["id"]
            .as_str()
            .ok_or_else(|| anyhow!("the node answered a deal without an id"))?;
        println!("{id}");
        let fields: Vec<&str> = deal["fields"]
            .as_object()
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default();
        eprintln!(
            "proposed deal {id} to {} on {domain}; shared fields: {}",
            args.partner,
            fields.join(", ")
        );
        return Ok(());
    }
    let method = if args.show { "GET" } else { "POST" };
    let matrix = client.json(method, &path, None)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&matrix)?);
    } else {
        print!("{}", render_matrix(&matrix));
        if let Some(why) = why_all_hidden(&client, &args.partner, &matrix)? {
            println!("\n{why}");
        }
    }
    Ok(())
}

/// Why every cell of a matrix is hidden, when it is: whose policy hides it, and, when this node
/// has set no policy for the partner, that nothing is shared without one.
fn why_all_hidden(client: &Client, partner: &str, m: &Value) -> Result<Option<String>> {
    let cells = m["cells"].as_array().cloned().unwrap_or_default();
    if cells.is_empty() || cells.iter().any(|c| c["level"] != "hidden") {
        return Ok(None);
    }
    let name = m["partner_name"]
        .as_str()
        .filter(|s| !s.is_empty())
        .unwrap_or(partner);
    let mine_hidden = cells.iter().all(|c| c["my_level"] == "hidden");
    let theirs_hidden = cells.iter().all(|c| c["their_level"] == "hidden");
    if mine_hidden {
        let policy = client.json(
            "GET",
            &format!("/partners/{}/policy", segment(partner)),
            None,
        )?;
        let none_set = policy["versions"].as_array().is_none_or(|v| v.is_empty());
        if none_set {
            return Ok(Some(format!(
                "every cell is hidden: you have set no policy for {name}, and without one nothing is shared, account mapping included; set one with `cosell policy set \"{name}\" FILE` (`cosell policy init --template reseller` writes a start; its [accounts] sharing and populations say what mapping reveals)"
            )));
        }
        return Ok(Some(format!(
            "every cell is hidden: your policy for {name} shares no account mapping (its [accounts] sharing level is hidden for these populations; `cosell policy preview \"{name}\"` shows what it reveals)"
        )));
    }
    if theirs_hidden {
        return Ok(Some(format!(
            "every cell is hidden: {name}'s policy for you shares no account mapping of its populations (ask {name} to share counts or overlaps)"
        )));
    }
    Ok(Some(
        "every cell is hidden: a cell shows the lesser of both sides' levels, and for each pair of populations one side hides its own".into(),
    ))
}

/// Runs one population command.
pub fn populations(dir: &DataDir, command: PopulationsCommand) -> Result<()> {
    match command {
        PopulationsCommand::List { json } => {
            let client = Client::for_data_dir(dir)?;
            let answer = client.json("GET", "/populations", None)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&answer)?);
            } else {
                print!("{}", render_populations(&answer));
            }
            Ok(())
        }
        PopulationsCommand::Set {
            name,
            statuses,
            industries,
            countries,
            tags,
            stages,
            file,
        } => {
            let mut filters = match &file {
                Some(f) => read_population_file(f, &name)?,
                None => PopulationFile::default(),
            };
            filters.statuses.extend(statuses);
            filters.industries.extend(industries);
            filters.countries.extend(countries);
            filters.tags.extend(tags);
            filters.stages.extend(stages);
            let client = Client::for_data_dir(dir)?;
            let def = client.json(
                "PUT",
                &format!("/populations/{}", segment(&name)),
                Some(&json!({
                    "name": name,
                    "statuses": filters.statuses,
                    "industries": filters.industries,
                    "countries": filters.countries,
                    "tags": filters.tags,
                    "stages": filters.stages,
                })),
            )?;
            eprintln!(
                "population {} is set: {}",
                def["name"].as_str().unwrap_or(&name),
                describe_filters(&def)
            );
            Ok(())
        }
        PopulationsCommand::Remove { name } => {
            let client = Client::for_data_dir(dir)?;
            client.json("DELETE", &format!("/populations/{}", segment(&name)), None)?;
            eprintln!("population {name} is removed");
            Ok(())
        }
    }
}

/// The filters a population file holds (the API's population without its name).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PopulationFile {
    /// If given, it must be the name on the command line.
    name: Option<String>,
    #[serde(default)]
    statuses: Vec<String>,
    #[serde(default)]
    industries: Vec<String>,
    #[serde(default)]
    countries: Vec<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    stages: Vec<String>,
}

fn read_population_file(path: &Path, name: &str) -> Result<PopulationFile> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let is_json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let file: PopulationFile = if is_json {
        serde_json::from_str(&text).map_err(|e| anyhow!("{}: {e}", path.display()))?
    } else {
        toml::from_str(&text).map_err(|e| anyhow!("{}: {}", path.display(), e.message()))?
    };
    if let Some(n) = &file.name {
        if n != name {
            bail!(
                "{} names the population '{n}', but the command names '{name}'",
                path.display()
            );
        }
    }
    Ok(file)
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

/// "statuses=customer; countries=Germany", or "every account".
fn describe_filters(def: &Value) -> String {
    let parts: Vec<String> = ["statuses", "industries", "countries", "tags", "stages"]
        .into_iter()
        .filter_map(|k| {
            let values = strings(&def[k]);
            (!values.is_empty()).then(|| format!("{k}={}", values.join(",")))
        })
        .collect();
    if parts.is_empty() {
        "every account".to_string()
    } else {
        parts.join("; ")
    }
}

fn render_populations(answer: &Value) -> String {
    let items = answer["items"].as_array().cloned().unwrap_or_default();
    let width = items
        .iter()
        .filter_map(|p| p["name"].as_str())
        .map(str::len)
        .max()
        .unwrap_or(0)
        .max("NAME".len());
    let mut out = format!("{:width$}  {:8}  FILTERS\n", "NAME", "KIND");
    for p in &items {
        let kind = if p["builtin"].as_bool() == Some(true) {
            "built-in"
        } else {
            "custom"
        };
        out.push_str(&format!(
            "{:width$}  {kind:8}  {}\n",
            p["name"].as_str().unwrap_or("?"),
            describe_filters(p)
        ));
    }
    out
}

fn cut(s: &str) -> String {
    if s.chars().count() <= COLUMN_WIDTH_MAX {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(COLUMN_WIDTH_MAX - 1).collect();
        t.push('…');
        t
    }
}

/// A cell in the grid: "5 (overlaps)", "3 (counts)", "- (hidden)".
fn cell_summary(c: &Value) -> String {
    let level = c["level"].as_str().unwrap_or("?");
    match c["count"].as_u64() {
        Some(n) => format!("{n} ({level})"),
        None => format!("- ({level})"),
    }
}

/// "name=Acme, industry=Software" from a partner's shared fields.
fn fields_line(fields: &Value) -> String {
    match fields.as_object() {
        Some(m) if !m.is_empty() => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect::<Vec<_>>()
            .join(", "),
        _ => "(no fields shared)".to_string(),
    }
}

/// The matrix for people: a header, the grid of counts (my populations down, theirs across),
/// then each cell's overlapping accounts with both sides' fields.
pub fn render_matrix(m: &Value) -> String {
    let cells = m["cells"].as_array().cloned().unwrap_or_default();
    let partner = m["partner_name"]
        .as_str()
        .filter(|s| !s.is_empty())
        .unwrap_or("partner");
    let started = match m["initiated_by"].as_str() {
        Some("partner") => " (started by the partner)",
        _ => "",
    };
    let mut out = format!(
        "account mapping with {partner} ({}), computed {}{started}\n\n",
        m["partner"].as_str().unwrap_or("?"),
        m["computed_at"].as_str().unwrap_or("?")
    );
    out.push_str(&render_grid(&cells));
    if cells.iter().any(|c| c["level"] == "counts") {
        out.push_str(COUNTS_WARNING);
    }
    for c in &cells {
        out.push_str(&render_overlaps(c));
    }
    out
}

/// Printed under a matrix with a cell at `counts` (SECURITY.md, account mapping).
pub const COUNTS_WARNING: &str = "\nnote: against a dishonest partner, counts reveals which accounts overlap, as overlaps does; \
to refuse counts with this partner, set counts = \"refused\" in the [accounts] section of its policy (such cells are then hidden)\n";

/// The grid of cell summaries, my populations down and the partner's across, in the order the
/// cells name them.
fn render_grid(cells: &[Value]) -> String {
    let mut mine: Vec<&str> = Vec::new();
    let mut theirs: Vec<&str> = Vec::new();
    for c in cells {
        let (a, b) = (
            c["mine"].as_str().unwrap_or("?"),
            c["theirs"].as_str().unwrap_or("?"),
        );
        if !mine.contains(&a) {
            mine.push(a);
        }
        if !theirs.contains(&b) {
            theirs.push(b);
        }
    }
    let find = |a: &str, b: &str| cells.iter().find(|c| c["mine"] == a && c["theirs"] == b);
    let corner = "mine \\ theirs";
    let first = mine
        .iter()
        .map(|s| cut(s).chars().count())
        .max()
        .unwrap_or(0)
        .max(corner.len());
    let widths: Vec<usize> = theirs
        .iter()
        .map(|t| {
            let body = mine
                .iter()
                .filter_map(|a| find(a, t))
                .map(|c| cell_summary(c).chars().count())
                .max()
                .unwrap_or(0);
            cut(t).chars().count().max(body)
        })
        .collect();
    let mut header = format!("{corner:first$}");
    for (t, w) in theirs.iter().zip(&widths) {
        header.push_str(&format!("  {:w$}", cut(t)));
    }
    let mut out = format!("{}\n", header.trim_end());
    for a in &mine {
        let mut row = format!("{:first$}", cut(a));
        for (t, w) in theirs.iter().zip(&widths) {
            let s = find(a, t).map_or_else(|| "?".to_string(), cell_summary);
            row.push_str(&format!("  {s:w$}"));
        }
        out.push_str(row.trim_end());
        out.push('\n');
    }
    out
}

/// One cell's overlapping accounts (sorted by domain) with my name and opportunities and the
/// partner's shared fields; nothing for a cell without any.
fn render_overlaps(c: &Value) -> String {
    let mut overlaps = c["overlaps"].as_array().cloned().unwrap_or_default();
    overlaps.sort_by(|x, y| x["domain"].as_str().cmp(&y["domain"].as_str()));
    let all = c["partner_accounts"].as_array().map_or(0, Vec::len);
    if overlaps.is_empty() && all == 0 {
        return String::new();
    }
    let mut out = format!(
        "\n{} × {}: {} in common ({})\n",
        c["mine"].as_str().unwrap_or("?"),
        c["theirs"].as_str().unwrap_or("?"),
        c["count"].as_u64().unwrap_or(overlaps.len() as u64),
        c["level"].as_str().unwrap_or("?")
    );
    for o in &overlaps {
        let opportunities = strings(&o["opportunity_ids"]);
        out.push_str(&format!(
            "  {}  mine: {}{}\n    theirs: {}\n",
            o["domain"].as_str().unwrap_or("?"),
            o["name"].as_str().unwrap_or("?"),
            if opportunities.is_empty() {
                String::new()
            } else {
                format!(" (opportunities: {})", opportunities.join(", "))
            },
            fields_line(&o["partner"])
        ));
    }
    if all > 0 {
        out.push_str(&format!(
            "  and the partner's whole population: {all} accounts (see --json)\n"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix_renders_grid_and_overlaps_with_both_sides_fields() {
        let m = json!({
            "partner": "12D3KooWx", "partner_name": "Reseller Co",
            "computed_at": "2026-11-23T20:00:00Z", "initiated_by": "me",
            "cells": [
                {"mine": "customers", "theirs": "prospects", "level": "overlaps", "count": 1,
                 "overlaps": [{"account_id": "A1", "name": "Acme", "domain": "acme.example",
                               "opportunity_ids": ["O1"], "partner": {"name": "ACME GmbH", "industry": "Software"}}]},
                {"mine": "prospects", "theirs": "prospects", "level": "hidden", "count": null, "overlaps": []},
            ]
        });
        let text = render_matrix(&m);
        assert!(
            text.starts_with(
                "account mapping with Reseller Co (12D3KooWx), computed 2026-11-23T20:00:00Z\n"
            ),
            "{text}"
        );
        assert!(text.contains("mine \\ theirs  prospects"), "{text}");
        assert!(text.contains("customers      1 (overlaps)"), "{text}");
        assert!(text.contains("prospects      - (hidden)"), "{text}");
        assert!(
            text.contains("customers × prospects: 1 in common (overlaps)"),
            "{text}"
        );
        assert!(
            text.contains("acme.example  mine: Acme (opportunities: O1)"),
            "{text}"
        );
        assert!(
            text.contains("theirs: industry=Software, name=ACME GmbH"),
            "{text}"
        );
        assert!(text.lines().all(|l| l == l.trim_end()), "{text:?}");
    }

    #[test]
    fn population_file_refuses_unknown_keys_and_another_name() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("p.toml");
        std::fs::write(
            &good,
            "countries = [\"Germany\"]\nstatuses = [\"customer\"]\n",
        )
        .unwrap();
        let f = read_population_file(&good, "de").unwrap();
        assert_eq!(f.countries, vec!["Germany"]);
        let typo = dir.path().join("t.toml");
        std::fs::write(&typo, "country = [\"Germany\"]\n").unwrap();
        assert!(read_population_file(&typo, "de").is_err());
        let named = dir.path().join("n.json");
        std::fs::write(&named, r#"{"name": "other", "tags": ["x"]}"#).unwrap();
        let err = read_population_file(&named, "de").unwrap_err().to_string();
        assert!(err.contains("'other'"), "{err}");
    }
}
