//! `cosell program …`, `cosell attest …` and `cosell report qbr …`: the partner program.
//! Checking a program file and verifying an attestation work offline; the rest asks the
//! running node.

use crate::app::datadir::DataDir;
use crate::app::identity::Identity;
use crate::cli::client::Client;
use crate::cli::policy::url_escape;
use anyhow::{anyhow, bail, Context, Result};
use clap::Subcommand;
use policy::program::Program;
use protocol::attest::{Attestation, RevocationList};
use protocol::identity::NodeId;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// `cosell program …`.
#[derive(Debug, Subcommand)]
pub enum ProgramCommand {
    /// Validate a program file (TOML, or JSON by its .json extension); errors name line and key.
    Check {
        /// The program file.
        file: PathBuf,
    },
    /// Set the program in force (validated; every version is kept and audited).
    Set {
        /// The program file.
        file: PathBuf,
    },
    /// Each partner's tier, health score and what the next tier lacks; one partner in detail.
    Show {
        /// A partner (node id or name); all active partners when absent.
        partner: Option<String>,
        /// Print the API's JSON answer.
        #[arg(long)]
        json: bool,
    },
}

/// `cosell attest …`.
#[derive(Debug, Subcommand)]
pub enum AttestCommand {
    /// Issue a certification attestation signed with this node's key and write it to FILE.
    Issue {
        /// The person's (or, with --company, the company's) name.
        #[arg(long)]
        subject: String,
        /// The certification.
        #[arg(long)]
        certification: String,
        /// Its level.
        #[arg(long)]
        level: String,
        /// Last valid day (YYYY-MM-DD).
        #[arg(long)]
        expires: String,
        /// The partner (node id or name) the subject belongs to; counts toward its tier.
        #[arg(long)]
        partner: Option<String>,
        /// The subject is a company, not a person.
        #[arg(long)]
        company: bool,
        /// Issue day (YYYY-MM-DD; default today).
        #[arg(long)]
        issued: Option<String>,
        /// Where to write the attestation (refused if it exists).
        #[arg(long)]
        out: PathBuf,
    },
    /// Check an attestation file offline: exit 0 when valid, 1 naming why (tampered, expired,
    /// revoked, unknown issuer). Trusted: --issuer, this node and (when it runs) its partners.
    Verify {
        /// The attestation file.
        file: PathBuf,
        /// Trust this issuer (node id); repeatable.
        #[arg(long)]
        issuer: Vec<String>,
        /// A revocation list file to honour; repeatable.
        #[arg(long)]
        revocations: Vec<PathBuf>,
    },
    /// Revoke an attestation this node issued (an attestation file or its id).
    Revoke {
        /// The attestation file, or its id.
        attestation: String,
        /// Why.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Issue one attestation per row of an LMS completion export (CSV), all or nothing.
    Import {
        /// The CSV file: name, partner, certification, level, completed, expires.
        file: PathBuf,
    },
    /// The attestations this node issued.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write this node's signed revocation list (for verifiers offline).
    Revocations {
        /// Where to write it (`-`: standard output).
        #[arg(long, default_value = "-")]
        out: PathBuf,
    },
}

/// `cosell report …`.
#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// The QBR pack of a partner for a quarter: DIR/qbr.html (self-contained, charts as inline
    /// SVG) and CSVs of the same numbers.
    Qbr {
        /// The partner (node id or name).
        partner: String,
        /// The quarter, YYYY-QN (e.g. 2026-Q4).
        #[arg(long)]
        quarter: String,
        /// The directory to write into (made when missing).
        #[arg(long)]
        out: PathBuf,
    },
}

fn read(file: &Path) -> Result<String> {
    std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))
}

fn is_json(file: &Path) -> bool {
    file.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

fn parse_program(file: &Path, text: &str) -> Result<Program> {
    let parsed = if is_json(file) {
        Program::from_json(text)
    } else {
        Program::from_toml(text)
    };
    parsed.map_err(|errors| {
        let lines: Vec<String> = errors
            .errors()
            .iter()
            .map(|e| format!("{}: {e}", file.display()))
            .collect();
        anyhow!("{}", lines.join("\n"))
    })
}

/// Runs one `program` command.
pub fn program(dir: &DataDir, command: ProgramCommand) -> Result<()> {
    match command {
        ProgramCommand::Check { file } => {
            let p = parse_program(&file, &read(&file)?)?;
            let tiers: Vec<&str> = p.tiers.iter().map(|t| t.name.as_str()).collect();
            println!(
                "{}: valid; tiers {} (lowest first); amounts in {}",
                file.display(),
                tiers.join(", "),
                p.currency.as_str()
            );
            Ok(())
        }
        ProgramCommand::Set { file } => {
            let text = read(&file)?;
            parse_program(&file, &text)?;
            let content_type = if is_json(&file) {
                "application/json"
            } else {
                "application/toml"
            };
            let answer = Client::for_data_dir(dir)?
                .send(
                    "PUT",
                    "/program",
                    content_type,
                    Some(Box::new(std::io::Cursor::new(text.into_bytes()))),
                )?
                .map_err(|f| anyhow!(f.sentence()))?;
            eprintln!("partner program is now version {}", answer["version"]);
            Ok(())
        }
        ProgramCommand::Show { partner, json } => {
            let client = Client::for_data_dir(dir)?;
            // Our own standing in the programs of the vendors we partner with.
            let received = match &partner {
                Some(_) => Vec::new(),
                None => client.json("GET", "/program/standing", None)?["items"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default(),
            };
            let answer = match &partner {
                Some(p) => {
                    client.json("GET", &format!("/program/partners/{}", url_escape(p)), None)?
                }
                None => match client.send("GET", "/program/partners", "application/json", None)? {
                    Ok(answer) => answer,
                    // No program of our own: a partner shows what its vendors sent it.
                    Err(f) if f.status == 404 && !received.is_empty() => {
                        if json {
                            let answer = json!({"items": [], "received": received});
                            println!("{}", serde_json::to_string_pretty(&answer)?);
                        } else {
                            received.iter().for_each(print_received);
                        }
                        return Ok(());
                    }
                    Err(f) => bail!(f.sentence()),
                },
            };
            let answer = match (partner.is_none(), answer) {
                (true, Value::Object(mut o)) if !received.is_empty() => {
                    o.insert("received".into(), Value::Array(received.clone()));
                    Value::Object(o)
                }
                (_, a) => a,
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&answer)?);
                return Ok(());
            }
            let items = match &partner {
                Some(_) => vec![answer],
                None => answer["items"].as_array().cloned().unwrap_or_default(),
            };
            if items.is_empty() {
                eprintln!("no active partners");
            }
            for s in &items {
                print_standing(s, partner.is_some());
            }
            received.iter().for_each(print_received);
            Ok(())
        }
    }
}

/// The line under a standing: what the next tier lacks, or that this is the highest.
fn print_next(s: &Value) {
    match s["next"].as_object() {
        Some(next) => {
            let lacks: Vec<&str> = next["lacks"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|l| l["text"].as_str())
                .collect();
            println!(
                "  next tier {}: lacks {}",
                next["tier"].as_str().unwrap_or("?"),
                if lacks.is_empty() {
                    "nothing".to_string()
                } else {
                    lacks.join("; ")
                }
            );
        }
        None => println!("  highest tier"),
    }
}

/// Our standing in a vendor's program, as the vendor sent it.
fn print_received(s: &Value) {
    println!(
        "your standing with {}: {} (program version {}, updated {})",
        s["vendor"]["name"].as_str().unwrap_or("?"),
        s["tier"].as_str().unwrap_or("no tier"),
        s["program_version"],
        s["updated_at"].as_str().unwrap_or("?")
    );
    print_next(s);
}

fn print_standing(s: &Value, detail: bool) {
    let name = s["partner"]["name"].as_str().unwrap_or("?");
    let tier = s["tier"].as_str().unwrap_or("no tier");
    println!(
        "{name}: {tier}; {}",
        s["health"]["explanation"].as_str().unwrap_or("")
    );
    print_next(s);
    if detail {
        if let Some(figures) = s["figures"].as_object() {
            for (k, v) in figures {
                println!("  {k}: {}", v.to_string().trim_matches('"'));
            }
        }
    }
}

/// Runs one `attest` command.
pub fn attest(dir: &DataDir, command: AttestCommand) -> Result<()> {
    match command {
        AttestCommand::Issue {
            subject,
            certification,
            level,
            expires,
            partner,
            company,
            issued,
            out,
        } => {
            if out.exists() {
                bail!("{} exists; choose another file", out.display());
            }
            let body = json!({
                "subject": subject, "certification": certification, "level": level,
                "expires": expires, "partner": partner, "issued": issued,
                "subject_kind": if company { "company" } else { "person" },
            });
            let answer = Client::for_data_dir(dir)?.json("POST", "/attestations", Some(&body))?;
            let file = answer["file"]
                .as_str()
                .ok_or_else(|| anyhow!("the node's answer carries no attestation file"))?;
            crate::app::datadir::write_atomic(&out, file.as_bytes(), 0o644)?;
            println!("{}", answer["id"].as_str().unwrap_or_default());
            eprintln!("wrote {}", out.display());
            Ok(())
        }
        AttestCommand::Verify {
            file,
            issuer,
            revocations,
        } => verify(dir, &file, &issuer, &revocations),
        AttestCommand::Revoke {
            attestation,
            reason,
        } => {
            let path = Path::new(&attestation);
            let id = if path.exists() {
                Attestation::open(&read(path)?)
                    .map_err(|e| anyhow!("{}: {e}", path.display()))?
                    .id
            } else {
                attestation.clone()
            };
            let answer = Client::for_data_dir(dir)?.json(
                "POST",
                &format!("/attestations/{}/revoke", url_escape(&id)),
                Some(&json!({"reason": reason})),
            )?;
            eprintln!(
                "revoked {} ({}, {})",
                answer["id"].as_str().unwrap_or(&id),
                answer["subject"].as_str().unwrap_or(""),
                answer["certification"].as_str().unwrap_or("")
            );
            Ok(())
        }
        AttestCommand::Import { file } => {
            let text = read(&file)?;
            let answer = Client::for_data_dir(dir)?
                .send(
                    "POST",
                    "/attestations/import",
                    "text/csv",
                    Some(Box::new(std::io::Cursor::new(text.into_bytes()))),
                )?
                .map_err(|f| anyhow!("{}: {}", file.display(), f.sentence()))?;
            eprintln!("issued {} attestations", answer["issued"]);
            Ok(())
        }
        AttestCommand::List { json } => {
            let answer = Client::for_data_dir(dir)?.json("GET", "/attestations", None)?;
            let items = answer["items"].as_array().cloned().unwrap_or_default();
            if json {
                println!("{}", serde_json::to_string_pretty(&items)?);
                return Ok(());
            }
            for a in &items {
                let revoked = a["revoked"]["on"]
                    .as_str()
                    .map(|d| format!(" REVOKED {d}"))
                    .unwrap_or_default();
                println!(
                    "{}  {}  {} ({})  {} — {}  until {}{revoked}",
                    &a["id"].as_str().unwrap_or("")[..8.min(a["id"].as_str().unwrap_or("").len())],
                    a["subject"].as_str().unwrap_or(""),
                    a["certification"].as_str().unwrap_or(""),
                    a["level"].as_str().unwrap_or(""),
                    a["company_name"].as_str().unwrap_or("-"),
                    a["issued"].as_str().unwrap_or(""),
                    a["expires"].as_str().unwrap_or(""),
                );
            }
            Ok(())
        }
        AttestCommand::Revocations { out } => {
            let text = Client::for_data_dir(dir)?.text("/attestations/revocations")?;
            if out == Path::new("-") {
                print!("{text}");
            } else {
                crate::app::datadir::write_atomic(&out, text.as_bytes(), 0o644)?;
                eprintln!("wrote {}", out.display());
            }
            Ok(())
        }
    }
}

/// Offline verification: the file's own signature, then trust, revocation and dates.
fn verify(dir: &DataDir, file: &Path, issuers: &[String], lists: &[PathBuf]) -> Result<()> {
    let attestation =
        Attestation::open(&read(file)?).map_err(|e| anyhow!("{}: {e}", file.display()))?;
    let mut trusted = Vec::new();
    for i in issuers {
        trusted.push(NodeId::parse(i).map_err(|e| anyhow!("--issuer {i}: {e}"))?);
    }
    let mut revocations = Vec::new();
    for l in lists {
        revocations
            .push(RevocationList::open(&read(l)?).map_err(|e| anyhow!("{}: {e}", l.display()))?);
    }
    // This node and, when it runs, its partners and its own revocations.
    if dir.identity_key().exists() {
        if let Ok(identity) = Identity::load(&dir.identity_key()) {
            if let Ok(id) = NodeId::parse(&identity.node_id()) {
                trusted.push(id);
            }
        }
        if let Ok(client) = Client::for_data_dir(dir) {
            if let Ok(partners) = client.list_all("/partners") {
                for p in partners.iter().filter(|p| p["status"] == "active") {
                    if let Some(id) = p["id"].as_str().and_then(|i| NodeId::parse(i).ok()) {
                        trusted.push(id);
                    }
                }
            }
            if let Ok(text) = client.text("/attestations/revocations") {
                if let Ok(list) = RevocationList::open(&text) {
                    revocations.push(list);
                }
            }
        }
    }
    let today = crate::domain::program::attestations::day_of(crate::clock::now_ms());
    attestation
        .check(today, &trusted, &revocations)
        .map_err(|e| anyhow!("{}: {e}", file.display()))?;
    println!(
        "valid: {} — {} ({}), issued by {} on {}, until {}",
        attestation.subject,
        attestation.certification,
        attestation.level,
        attestation.issuer_name,
        attestation.issued,
        attestation.expires
    );
    Ok(())
}

/// Runs one `report` command.
pub fn report(dir: &DataDir, command: ReportCommand) -> Result<()> {
    match command {
        ReportCommand::Qbr {
            partner,
            quarter,
            out,
        } => {
            let answer = Client::for_data_dir(dir)?.json(
                "GET",
                &format!(
                    "/reports/qbr/{}?quarter={}",
                    url_escape(&partner),
                    url_escape(&quarter)
                ),
                None,
            )?;
            std::fs::create_dir_all(&out)
                .with_context(|| format!("cannot make {}", out.display()))?;
            let html = answer["html"].as_str().unwrap_or_default();
            let path = out.join("qbr.html");
            crate::app::datadir::write_atomic(&path, html.as_bytes(), 0o644)?;
            println!("{}", path.display());
            for (name, text) in answer["files"].as_object().into_iter().flatten() {
                // Names come from this node's own answer; keep them to plain file names anyway.
                if name.contains(['/', '\\']) || name.starts_with('.') {
                    continue;
                }
                let path = out.join(name);
                crate::app::datadir::write_atomic(
                    &path,
                    text.as_str().unwrap_or_default().as_bytes(),
                    0o644,
                )?;
                println!("{}", path.display());
            }
            Ok(())
        }
    }
}
