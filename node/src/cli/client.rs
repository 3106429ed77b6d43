//! The CLI's way to the running node: its URL from `node.json`, the admin token from
//! `admin.token`, JSON errors turned back into sentences.

use crate::app::datadir::DataDir;
use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;
use std::io::Read;

/// An HTTP client for one node's API.
pub struct Client {
    base: String,
    token: String,
    agent: ureq::Agent,
}

/// An answer that was not a success, as the API put it.
#[derive(Debug)]
pub struct ApiFailure {
    /// The HTTP status.
    pub status: u16,
    /// The API's sentence.
    pub error: String,
    /// The API's details.
    pub details: Vec<Value>,
}

impl ApiFailure {
    /// The API's sentence with every detail it does not already say (`invalid user: password:
    /// has at least 10 characters`), so the CLI never drops the reason.
    pub fn sentence(&self) -> String {
        let mut out = self.error.clone();
        for d in &self.details {
            let Some(message) = d["message"].as_str() else {
                continue;
            };
            if out.contains(message) {
                continue;
            }
            let name = d["field"].as_str().or_else(|| d["parameter"].as_str());
            match name {
                Some(name) => out.push_str(&format!("; {name}: {message}")),
                None => out.push_str(&format!("; {message}")),
            }
        }
        out
    }
}

impl Client {
    /// A client for the node serving `dir`; fails clearly when it is not running.
    pub fn for_data_dir(dir: &DataDir) -> Result<Client> {
        dir.require_initialized()?;
        let path = dir.node_json();
        let text = std::fs::read_to_string(&path).map_err(|_| {
            anyhow!(
                "the node is not running (no {}): start it with `cosell serve --data {}`",
                path.display(),
                dir.root().display()
            )
        })?;
        let info: Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not valid JSON", path.display()))?;
        let base = info["http"]
            .as_str()
            .ok_or_else(|| anyhow!("{} has no http address", path.display()))?
            .trim_end_matches('/')
            .to_string();
        Ok(Client {
            base,
            token: dir.read_admin_token()?,
            agent: crate::cli::health::agent(dir, std::time::Duration::from_secs(5))?,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base)
    }

    /// Sends a request; `Ok(Err(..))` is an answer from the API that was not a success.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: Option<Box<dyn Read + '_>>,
    ) -> Result<std::result::Result<Value, ApiFailure>> {
        let request = self
            .agent
            .request(method, &self.url(path))
            .set("Authorization", &format!("Bearer {}", self.token))
            .set("Content-Type", content_type);
        let result = match body {
            Some(reader) => request.send(reader),
            None => request.call(),
        };
        match result {
            Ok(response) => Ok(Ok(response.into_json().unwrap_or(Value::Null))),
            Err(ureq::Error::Status(status, response)) => {
                let body: Value = response.into_json().unwrap_or(Value::Null);
                Ok(Err(ApiFailure {
                    status,
                    error: body["error"]
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| format!("the node answered HTTP {status}")),
                    details: body["details"].as_array().cloned().unwrap_or_default(),
                }))
            }
            Err(ureq::Error::Transport(t)) => bail!(
                "cannot reach the node at {} ({t}): is `cosell serve` running?",
                self.base
            ),
        }
    }

    /// `GET path` whose body is copied to `out` as it arrives (a backup); the bytes copied.
    pub fn download(&self, path: &str, out: &mut dyn std::io::Write) -> Result<u64> {
        let request = self
            .agent
            .get(&self.url(path))
            .set("Authorization", &format!("Bearer {}", self.token));
        match request.call() {
            Ok(response) => std::io::copy(&mut response.into_reader(), out)
                .with_context(|| format!("the download of {path} broke off")),
            Err(ureq::Error::Status(status, response)) => {
                let body: Value = response.into_json().unwrap_or(Value::Null);
                bail!(
                    "{}",
                    body["error"]
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| format!("the node answered HTTP {status}"))
                )
            }
            Err(ureq::Error::Transport(t)) => bail!(
                "cannot reach the node at {} ({t}): is `cosell serve` running?",
                self.base
            ),
        }
    }

    /// A request whose failure is an error sentence.
    pub fn json(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value> {
        let bytes = body.map(serde_json::to_vec).transpose()?;
        let reader: Option<Box<dyn Read>> =
            bytes.map(|b| Box::new(std::io::Cursor::new(b)) as Box<dyn Read>);
        match self.send(method, path, "application/json", reader)? {
            Ok(v) => Ok(v),
            Err(f) => Err(anyhow!(f.sentence())),
        }
    }

    /// Every item of a list route (`{"items","next_cursor"}`), following the cursors.
    pub fn list_all(&self, path: &str) -> Result<Vec<Value>> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut url = format!("{path}{sep}limit=1000");
            if let Some(c) = &cursor {
                url.push_str("&cursor=");
                url.push_str(&crate::cli::partners::segment(c));
            }
            let page = self.json("GET", &url, None)?;
            items.extend(page["items"].as_array().into_iter().flatten().cloned());
            match page["next_cursor"].as_str() {
                Some(c) if Some(c) != cursor.as_deref() => cursor = Some(c.to_string()),
                _ => return Ok(items),
            }
        }
    }
}
