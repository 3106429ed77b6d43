//! `cosell users …`, `cosell tokens …`, `cosell webhooks …`: an admin's commands, through the
//! running node's API.

use crate::app::datadir::DataDir;
use crate::cli::client::Client;
use anyhow::{bail, Result};
use clap::Subcommand;
use serde_json::{json, Value};
use std::io::BufRead;

/// Users who sign in to the web UI.
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Add a user; the password is read from the first line of standard input.
    Add {
        /// Sign-in name.
        username: String,
        /// viewer, manager or admin.
        #[arg(long, default_value = "manager")]
        role: String,
    },
    /// List users and their roles.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove a user and end their sessions.
    Remove {
        /// Sign-in name.
        username: String,
    },
}

/// API tokens.
#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Create an API token with a role; prints the token alone (shown once).
    Create {
        /// A label for people.
        #[arg(long)]
        name: String,
        /// viewer, manager or admin.
        #[arg(long, default_value = "viewer")]
        role: String,
    },
    /// List API tokens: id (the token's SHA-256, never the token), role, name, created.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by its id (from `tokens list`); it stops working at once. The last admin
    /// token cannot be revoked.
    Revoke {
        /// The token id (its SHA-256 in hex), or a unique prefix of it.
        id: String,
    },
}

/// Webhooks.
#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// Register a URL for events (kinds or patterns like deal.*; default all); prints its id
    /// and secret.
    Add {
        /// Where events are POSTed.
        url: String,
        /// Comma-separated event kinds or patterns.
        #[arg(long, value_delimiter = ',')]
        events: Vec<String>,
    },
    /// List webhooks.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove a webhook.
    Remove {
        /// The webhook id.
        id: String,
    },
    /// The newest deliveries of a webhook.
    Deliveries {
        /// The webhook id.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Prints a list: one line per item, or with `--json` the shape every `--json` list prints
/// (the API's list answer, whole: `{"items": [...], "next_cursor": null}`), so one script reads
/// them all.
pub(crate) fn print_items(
    items: &Value,
    json_out: bool,
    line: impl Fn(&Value) -> String,
) -> Result<()> {
    if json_out {
        let answer = json!({"items": items, "next_cursor": null});
        println!("{}", serde_json::to_string_pretty(&answer)?);
    } else {
        for item in items.as_array().into_iter().flatten() {
            println!("{}", line(item));
        }
    }
    Ok(())
}

pub(crate) fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// Runs a `users` command.
pub fn users(dir: &DataDir, command: UsersCommand) -> Result<()> {
    let client = Client::for_data_dir(dir)?;
    match command {
        UsersCommand::Add { username, role } => {
            let mut password = String::new();
            std::io::stdin().lock().read_line(&mut password)?;
            let password = password.trim_end_matches(['\r', '\n']);
            if password.is_empty() {
                bail!("no password on standard input (e.g. `echo 'a long password' | cosell users add NAME`)");
            }
            let user = client.json(
                "POST",
                "/users",
                Some(&json!({"username": username, "password": password, "role": role})),
            )?;
            println!("{}", s(&user["username"]));
            Ok(())
        }
        UsersCommand::List { json } => {
            let page = client.json("GET", "/users", None)?;
            print_items(&page["items"], json, |u| {
                format!("{:<32} {}", s(&u["username"]), s(&u["role"]))
            })
        }
        UsersCommand::Remove { username } => {
            client.json("DELETE", &format!("/users/{username}"), None)?;
            eprintln!("removed user {username}");
            Ok(())
        }
    }
}

/// Runs a `tokens` command.
pub fn tokens(dir: &DataDir, command: TokensCommand) -> Result<()> {
    let client = Client::for_data_dir(dir)?;
    match command {
        TokensCommand::Create { name, role } => {
            let answer = client.json(
                "POST",
                "/tokens",
                Some(&json!({"name": name, "role": role})),
            )?;
            println!("{}", s(&answer["token"]));
            Ok(())
        }
        TokensCommand::List { json } => {
            let page = client.json("GET", "/tokens", None)?;
            print_items(&page["items"], json, |t| {
                format!(
                    "{}  {:<7} {}  {}",
                    s(&t["id"]),
                    s(&t["role"]),
                    crate::domain::audit::rfc3339(t["created_at_ms"].as_u64().unwrap_or(0)),
                    s(&t["name"])
                )
            })
        }
        TokensCommand::Revoke { id } => {
            let page = client.json("GET", "/tokens", None)?;
            let wanted = id.trim().to_ascii_lowercase();
            let matches: Vec<&str> = page["items"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|t| t["id"].as_str())
                .filter(|t| t.starts_with(&wanted))
                .collect();
            let full = match matches.as_slice() {
                [one] => one.to_string(),
                [] => bail!("no API token with id {id} (see `cosell tokens list`)"),
                _ => bail!(
                    "{} tokens start with {id}; give more of the id",
                    matches.len()
                ),
            };
            // The CLI itself signs in with the data directory's admin.token: revoking that one
            // would lock every later command out. (The last admin token the node refuses itself.)
            let admins = page["items"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|t| t["role"] == "admin")
                .count();
            if admins > 1 && crate::domain::auth::token_hash(&dir.read_admin_token()?) == full {
                bail!(
                    "token {full} is the one this command line uses ({}): create another admin token (`cosell tokens create --name NAME --role admin`), write it into that file, then revoke this one",
                    dir.admin_token().display()
                );
            }
            client.json("DELETE", &format!("/tokens/{full}"), None)?;
            eprintln!("revoked token {full}");
            Ok(())
        }
    }
}

/// Runs a `webhooks` command.
pub fn webhooks(dir: &DataDir, command: WebhooksCommand) -> Result<()> {
    let client = Client::for_data_dir(dir)?;
    match command {
        WebhooksCommand::Add { url, events } => {
            let hook = client.json(
                "POST",
                "/webhooks",
                Some(&json!({"url": url, "events": events})),
            )?;
            println!("{}", s(&hook["id"]));
            eprintln!(
                "secret (shown once; verify X-Cosell-Signature with it): {}",
                s(&hook["secret"])
            );
            Ok(())
        }
        WebhooksCommand::List { json } => {
            let page = client.json("GET", "/webhooks", None)?;
            print_items(&page["items"], json, |h| {
                let events: Vec<&str> = h["events"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|e| e.as_str())
                    .collect();
                format!("{}  {}  {}", s(&h["id"]), s(&h["url"]), events.join(","))
            })
        }
        WebhooksCommand::Remove { id } => {
            client.json("DELETE", &format!("/webhooks/{id}"), None)?;
            eprintln!("removed webhook {id}");
            Ok(())
        }
        WebhooksCommand::Deliveries { id, json } => {
            let page = client.json("GET", &format!("/webhooks/{id}/deliveries"), None)?;
            print_items(&page["items"], json, |d| {
                format!(
                    "{}  {:<24} {:<9} attempts {}  {}",
                    s(&d["id"]),
                    s(&d["event"]),
                    s(&d["status"]),
                    d["attempts"],
                    d["last_error"].as_str().unwrap_or("")
                )
            })
        }
    }
}

/// `cosell audit export|verify`.
pub fn audit(dir: &DataDir, what: crate::cli::AuditCommand) -> Result<()> {
    use crate::domain::audit_export;
    match what {
        crate::cli::AuditCommand::Export { from, to, file } => {
            if file.exists() {
                anyhow::bail!(
                    "{} exists; choose a new file name for the export",
                    file.display()
                );
            }
            // Checked here too, so a typo is named before the node is asked.
            for (name, value, end) in [("--from", &from, false), ("--to", &to, true)] {
                if let Some(v) = value {
                    audit_export::parse_time(v, end).map_err(|m| anyhow::anyhow!("{name}: {m}"))?;
                }
            }
            let client = Client::for_data_dir(dir)?;
            let mut path = "/audit/export?".to_string();
            if let Some(f) = &from {
                path.push_str(&format!("from={}&", crate::cli::partners::segment(f)));
            }
            if let Some(t) = &to {
                path.push_str(&format!("to={}", crate::cli::partners::segment(t)));
            }
            let text = client.text(&path)?;
            let report = audit_export::verify(&text)
                .map_err(|e| anyhow::anyhow!("the node's export does not verify: {e}"))?;
            crate::app::datadir::write_atomic(&file, text.as_bytes(), 0o600)?;
            eprintln!(
                "exported {} entries ({} to {}) to {}; head {} signed by node {}",
                report.entries,
                report.from,
                report.to,
                file.display(),
                report.head,
                report.node
            );
            Ok(())
        }
        crate::cli::AuditCommand::Verify { file, node } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
            let report = audit_export::verify(&text)
                .map_err(|e| anyhow::anyhow!("{} does not verify: {e}", file.display()))?;
            if let Some(expected) = node.filter(|n| *n != report.node) {
                anyhow::bail!(
                    "{} was signed by node {}, not by node {expected}",
                    file.display(),
                    report.node
                );
            }
            println!(
                "verified: {} entries ({} to {}), unchanged and in order; head {} signed by {} (node {}, public key {})",
                report.entries,
                report.from,
                report.to,
                report.head,
                report.node_name,
                report.node,
                report.public_key
            );
            if let Some(cp) = &report.retention {
                println!(
                    "retention: {} older entries were removed (written before {}); the log starts at entry {}, as the node signed",
                    cp.removed,
                    crate::domain::audit::rfc3339(cp.before_ms),
                    cp.first_kept_seq
                );
            }
            Ok(())
        }
    }
}
