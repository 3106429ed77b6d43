//! `cosell workspace …`: the host admin's commands for hosted workspaces (a node with
//! `hosting = true`), through the running host's `/api/v1/workspaces` routes.

use crate::app::datadir::DataDir;
use crate::cli::admin::{print_items, s};
use crate::cli::client::Client;
use anyhow::{Context, Result};
use clap::Subcommand;
use serde_json::json;
use std::path::{Path, PathBuf};

/// Workspace commands.
#[derive(Debug, Subcommand)]
pub enum WorkspaceCommand {
    /// Create a workspace (a company of its own on this host) and print its onboarding link,
    /// which its first user opens to set a password.
    Create {
        /// 1 to 63 of a-z, 0-9 and -; the workspace's web address is HOST/w/NAME/.
        name: String,
        /// Print the API's JSON answer.
        #[arg(long)]
        json: bool,
    },
    /// List the workspaces: name, node id, status.
    List {
        /// Print JSON (items with name, node_id, status, http, p2p).
        #[arg(long)]
        json: bool,
    },
    /// Stop a workspace: its partners and users cannot reach it until `resume`.
    Suspend {
        /// The workspace.
        name: String,
    },
    /// Start a suspended workspace again.
    Resume {
        /// The workspace.
        name: String,
    },
    /// Print a new onboarding link for a workspace (the previous one stops working).
    Onboarding {
        /// The workspace.
        name: String,
    },
    /// Delete a workspace and all its data.
    Delete {
        /// The workspace.
        name: String,
    },
    /// Write a workspace as a normal node data directory DIR (same identity; run it with
    /// `cosell serve --data DIR`) and remove it from this host.
    Export {
        /// The workspace.
        name: String,
        /// A new (or empty) directory.
        dir: PathBuf,
    },
    /// Bring the (stopped) node data directory DIR into this host as a workspace; the
    /// directory is removed once the workspace runs.
    Import {
        /// The node's data directory.
        dir: PathBuf,
        /// The workspace name [default: DIR's last component].
        #[arg(long)]
        name: Option<String>,
    },
}

/// Runs a workspace command against the host serving `dir`.
pub fn run(dir: &DataDir, command: WorkspaceCommand) -> Result<()> {
    let client = Client::for_data_dir(dir)?;
    match command {
        WorkspaceCommand::Create { name, json } => {
            let created = client.json("POST", "/workspaces", Some(&json!({"name": name})))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&created)?);
            } else {
                println!("{}", s(&created["onboarding_url"]));
                eprintln!(
                    "created workspace {} (node {}); send its first user the link above",
                    s(&created["name"]),
                    s(&created["node_id"])
                );
            }
            Ok(())
        }
        WorkspaceCommand::List { json } => {
            let page = client.json("GET", "/workspaces", None)?;
            print_items(&page["items"], json, |w| {
                format!(
                    "{}  {}  {}",
                    s(&w["name"]),
                    s(&w["node_id"]),
                    s(&w["status"])
                )
            })
        }
        WorkspaceCommand::Suspend { name } => {
            client.json("POST", &format!("/workspaces/{name}/suspend"), None)?;
            eprintln!("suspended workspace {name}");
            Ok(())
        }
        WorkspaceCommand::Resume { name } => {
            client.json("POST", &format!("/workspaces/{name}/resume"), None)?;
            eprintln!("resumed workspace {name}");
            Ok(())
        }
        WorkspaceCommand::Onboarding { name } => {
            let link = client.json("POST", &format!("/workspaces/{name}/onboarding"), None)?;
            println!("{}", s(&link["onboarding_url"]));
            Ok(())
        }
        WorkspaceCommand::Delete { name } => {
            client.json("DELETE", &format!("/workspaces/{name}"), None)?;
            eprintln!("deleted workspace {name}");
            Ok(())
        }
        WorkspaceCommand::Export { name, dir: out } => {
            let out = absolute(&out)?;
            let info = client.json(
                "POST",
                &format!("/workspaces/{name}/export"),
                Some(&json!({"dir": out.display().to_string()})),
            )?;
            println!("{}", s(&info["node_id"]));
            eprintln!(
                "exported workspace {name} to {}; run it with `cosell serve --data {}` (set p2p in its cosell.toml to the address it runs at)",
                out.display(),
                out.display()
            );
            Ok(())
        }
        WorkspaceCommand::Import { dir: from, name } => {
            let from = absolute(&from)?;
            let mut body = json!({"dir": from.display().to_string()});
            if let Some(name) = name {
                body["name"] = json!(name);
            }
            let info = client.json("POST", "/workspaces/import", Some(&body))?;
            println!("{}", s(&info["name"]));
            eprintln!(
                "imported node {} as workspace {}",
                s(&info["node_id"]),
                s(&info["name"])
            );
            Ok(())
        }
    }
}

/// `dir` as an absolute path (the host resolves it, not this shell's working directory).
fn absolute(dir: &Path) -> Result<PathBuf> {
    if dir.is_absolute() {
        return Ok(dir.to_path_buf());
    }
    Ok(std::env::current_dir()
        .context("cannot read the current directory")?
        .join(dir))
}
