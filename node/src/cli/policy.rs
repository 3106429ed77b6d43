//! `cosell policy …`: templates and checks work offline; previews ask the running node.

use crate::app::datadir::DataDir;
use crate::cli::client::Client;
use crate::cli::PolicyCommand;
use anyhow::{anyhow, Context, Result};
use policy::Policy;
use std::path::Path;

/// Runs one policy command.
pub fn run(dir: &DataDir, command: PolicyCommand) -> Result<()> {
    match command {
        PolicyCommand::Init { template } => {
            let text = policy::templates::get(&template).ok_or_else(|| {
                anyhow!(
                    "no template named '{template}' (templates: {})",
                    policy::templates::NAMES.join(", ")
                )
            })?;
            print!("{text}");
            Ok(())
        }
        PolicyCommand::Check { file } => {
            let policy = read_policy(&file)?;
            let o = policy.opportunities();
            println!(
                "{}: valid; shares {} opportunity field(s); accounts: {}",
                file.display(),
                o.fields().len(),
                policy.accounts().sharing().as_str()
            );
            for advice in policy::advice(&policy) {
                eprintln!("warning: {advice}");
            }
            Ok(())
        }
        PolicyCommand::Set { partner, file } => {
            let text = read_text(&file)?;
            parse(&file, &text)?;
            let client = Client::for_data_dir(dir)?;
            let content_type = if is_json(&file) {
                "application/json"
            } else {
                "application/toml"
            };
            let answer = client
                .send(
                    "PUT",
                    &format!("/partners/{}/policy", url_escape(&partner)),
                    content_type,
                    Some(Box::new(std::io::Cursor::new(text.into_bytes()))),
                )?
                .map_err(|f| anyhow!(f.error))?;
            eprintln!(
                "policy for {} is now version {}",
                answer["name"].as_str().unwrap_or(&partner),
                answer["version"]
            );
            for line in answer["diff"].as_array().into_iter().flatten() {
                eprintln!("  {}", line.as_str().unwrap_or_default());
            }
            for advice in answer["warnings"].as_array().into_iter().flatten() {
                eprintln!("warning: {}", advice.as_str().unwrap_or_default());
            }
            Ok(())
        }
        PolicyCommand::Show { partner, json } => {
            let client = Client::for_data_dir(dir)?;
            let answer = client.json(
                "GET",
                &format!("/partners/{}/policy", url_escape(&partner)),
                None,
            )?;
            if json {
                println!("{}", serde_json::to_string_pretty(&answer)?);
            } else if answer["default_deny"].as_bool() == Some(true) {
                eprintln!("no policy set: nothing is shared with this partner");
            } else {
                eprintln!(
                    "# version {} of {}",
                    answer["version"],
                    answer["versions"].as_array().map(Vec::len).unwrap_or(0)
                );
                print!("{}", answer["text"].as_str().unwrap_or_default());
            }
            Ok(())
        }
        PolicyCommand::Preview {
            file,
            opportunity,
            json,
        } if !file.exists() => {
            let client = Client::for_data_dir(dir)?;
            let partner = file.to_string_lossy().to_string();
            let mut path = format!("/partners/{}/policy/preview", url_escape(&partner));
            if let Some(id) = &opportunity {
                path.push_str(&format!("?opportunity_id={}", url_escape(id)));
            }
            let answer = client.json("GET", &path, None)?;
            print_preview(&answer, json)
        }
        PolicyCommand::Preview {
            file,
            opportunity,
            json,
        } => {
            let text = read_text(&file)?;
            // Check locally first, so errors name the file even when the node is down.
            parse(&file, &text)?;
            let client = Client::for_data_dir(dir)?;
            let path = match &opportunity {
                Some(id) => format!("/policy/preview?opportunity_id={}", url_escape(id)),
                None => "/policy/preview".to_string(),
            };
            let content_type = if is_json(&file) {
                "application/json"
            } else {
                "application/toml"
            };
            let answer = client
                .send(
                    "POST",
                    &path,
                    content_type,
                    Some(Box::new(std::io::Cursor::new(text.into_bytes()))),
                )?
                .map_err(|f| anyhow!(f.error))?;
            print_preview(&answer, json)
        }
    }
}

fn print_preview(answer: &serde_json::Value, json: bool) -> Result<()> {
    {
        {
            if json {
                println!("{}", serde_json::to_string_pretty(&answer)?);
                return Ok(());
            }
            println!(
                "shared: {}   withheld: {}",
                answer["shared"].as_u64().unwrap_or(0),
                answer["withheld"].as_u64().unwrap_or(0)
            );
            let ids = answer["opportunity_ids"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            for (i, item) in answer["items"].as_array().into_iter().flatten().enumerate() {
                let id = ids.get(i).and_then(|v| v.as_str()).unwrap_or("?");
                println!("\n{id}");
                if let Some(fields) = item.as_object() {
                    for (k, v) in fields {
                        let shown = match v {
                            serde_json::Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        println!("  {k}: {shown}");
                    }
                }
            }
            let withheld = answer["withheld_items"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if !withheld.is_empty() {
                println!("\nwithheld:");
                for w in &withheld {
                    println!(
                        "  {}  {}",
                        w["opportunity_id"].as_str().unwrap_or("?"),
                        w["reason"].as_str().unwrap_or("?")
                    );
                }
            }
            // Account mapping can reveal more accounts than the deal policy suggests.
            if let Some(rows) = answer["mapping"].as_array().filter(|r| !r.is_empty()) {
                println!("\naccount mapping reveals:");
                for r in rows {
                    println!(
                        "  {:<20} {:<9} {:>6} accounts: {}",
                        r["population"].as_str().unwrap_or("?"),
                        r["level"].as_str().unwrap_or("?"),
                        r["accounts"].as_u64().unwrap_or(0),
                        r["reveals"].as_str().unwrap_or("?")
                    );
                }
            }
            Ok(())
        }
    }
}

fn is_json(file: &Path) -> bool {
    file.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

fn read_text(file: &Path) -> Result<String> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    String::from_utf8(bytes).map_err(|_| anyhow!("{} is not UTF-8 text", file.display()))
}

fn parse(file: &Path, text: &str) -> Result<Policy> {
    let parsed = if is_json(file) {
        Policy::from_json(text)
    } else {
        Policy::from_toml(text)
    };
    parsed.map_err(|errors| {
        for e in errors.errors() {
            eprintln!("{}: {e}", file.display());
        }
        let n = errors.errors().len();
        anyhow!(
            "{} is not a valid policy ({n} {})",
            file.display(),
            if n == 1 { "error" } else { "errors" }
        )
    })
}

/// Reads and validates a policy file.
pub fn read_policy(file: &Path) -> Result<Policy> {
    let text = read_text(file)?;
    parse(file, &text)
}

pub(crate) fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
