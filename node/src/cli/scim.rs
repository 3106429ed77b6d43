//! `cosell scim …`: tokens for an identity provider's SCIM provisioning (admin).

use crate::app::datadir::DataDir;
use crate::cli::client::Client;
use anyhow::{bail, Result};
use clap::Subcommand;
use serde_json::json;

/// SCIM provisioning tokens.
#[derive(Debug, Subcommand)]
pub enum ScimCommand {
    /// Create a SCIM bearer token for the identity provider; prints the token alone (shown
    /// once). It works on /scim/v2 only.
    Token {
        /// A label for people (e.g. the provider's name).
        #[arg(long, default_value = "scim")]
        name: String,
    },
    /// List SCIM tokens: id (the token's SHA-256), created, name.
    Tokens {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a SCIM token by its id (or a unique prefix of it).
    Revoke {
        /// The token id from `cosell scim tokens`.
        id: String,
    },
}

/// Runs a `cosell scim` command against the node at `dir`.
pub fn run(dir: &DataDir, command: ScimCommand) -> Result<()> {
    let client = Client::for_data_dir(dir)?;
    match command {
        ScimCommand::Token { name } => {
            let answer = client.json("POST", "/scim/tokens", Some(&json!({"name": name})))?;
            println!("{}", answer["token"].as_str().unwrap_or_default());
        }
        ScimCommand::Tokens { json } => {
            let page = client.json("GET", "/scim/tokens", None)?;
            let items = page["items"].as_array().cloned().unwrap_or_default();
            if json {
                println!("{}", serde_json::to_string_pretty(&items)?);
            } else {
                for t in items {
                    println!(
                        "{}  {}  {}",
                        t["id"].as_str().unwrap_or_default(),
                        crate::domain::audit::rfc3339(t["created_at_ms"].as_u64().unwrap_or(0)),
                        t["name"].as_str().unwrap_or_default()
                    );
                }
            }
        }
        ScimCommand::Revoke { id } => {
            let page = client.json("GET", "/scim/tokens", None)?;
            let wanted = id.trim().to_ascii_lowercase();
            let matches: Vec<String> = page["items"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|t| t["id"].as_str())
                .filter(|t| t.starts_with(&wanted))
                .map(str::to_string)
                .collect();
            let full = match matches.as_slice() {
                [one] => one.clone(),
                [] => bail!("no SCIM token with id {id} (see `cosell scim tokens`)"),
                _ => bail!(
                    "{} tokens start with {id}; give more of the id",
                    matches.len()
                ),
            };
            client.json("DELETE", &format!("/scim/tokens/{full}"), None)?;
            println!("revoked {full}");
        }
    }
    Ok(())
}
