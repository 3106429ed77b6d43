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

    /// A GET whose answer is text (an export); its failure is an error sentence.
    pub fn text(&self, path: &str) -> Result<String> {
        let result = self
            .agent
            .get(&self.url(path))
            .set("Authorization", &format!("Bearer {}", self.token))
            .call();
        match result {
            Ok(response) => Ok(response.into_string()?),
            Err(ureq::Error::Status(status, response)) => {
                let body: Value = response.into_json().unwrap_or(Value::Null);
                let failure = ApiFailure {
                    status,
                    error: body["error"]
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| format!("the node answered HTTP {status}")),
                    details: body["details"].as_array().cloned().unwrap_or_default(),
                };
                Err(anyhow!(failure.sentence()))
            }
            Err(ureq::Error::Transport(t)) => bail!(
                "cannot reach the node at {} ({t}): is `cosell serve` running?",
                self.base
            ),
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

impl Client {
    /// Streams `body` to `path` (an import) and reads the node's answer even when the node
    /// answers before it has read the whole body — a bad row early in a large file is refused at
    /// once, and the node stops reading: the upload then fails with a broken pipe, but the
    /// answer (422 with the reason) is what the user needs. The body is written on its own
    /// thread while this one reads the answer (HTTP/1.1, chunked). Only plain `http://` bases
    /// (the node's own listener); others go through [`Client::send`].
    pub fn upload(
        &self,
        path: &str,
        content_type: &str,
        body: Box<dyn Read + Send>,
    ) -> Result<std::result::Result<Value, ApiFailure>> {
        use std::io::{BufRead, BufReader, Write};
        use std::net::{TcpStream, ToSocketAddrs};
        let Some(authority) = self.base.strip_prefix("http://") else {
            return self.send("POST", path, content_type, Some(body));
        };
        let authority = authority.split('/').next().unwrap_or(authority).to_string();
        let unreachable = |e: &dyn std::fmt::Display| {
            anyhow!(
                "cannot reach the node at {} ({e}): is `cosell serve` running?",
                self.base
            )
        };
        let addr = authority
            .to_socket_addrs()
            .map_err(|e| unreachable(&e))?
            .next()
            .ok_or_else(|| unreachable(&"no address"))?;
        let stream = TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(5))
            .map_err(|e| unreachable(&e))?;
        let mut writer = stream.try_clone()?;
        let head = format!(
            "POST /api/v1{path} HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Bearer {}\r\nContent-Type: {content_type}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
            self.token
        );
        let upload = std::thread::spawn(move || -> std::io::Result<()> {
            let mut body = body;
            writer.write_all(head.as_bytes())?;
            let mut buf = vec![0u8; 256 * 1024];
            loop {
                let n = body.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                write!(writer, "{n:x}\r\n")?;
                writer.write_all(&buf[..n])?;
                writer.write_all(b"\r\n")?;
            }
            writer.write_all(b"0\r\n\r\n")?;
            writer.flush()
        });
        let mut reader = BufReader::new(stream.try_clone()?);
        let answer = (|| -> std::io::Result<(u16, Vec<u8>)> {
            let mut status_line = String::new();
            reader.read_line(&mut status_line)?;
            let status: u16 = status_line
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| std::io::Error::other("no HTTP answer"))?;
            let mut length: Option<usize> = None;
            let mut chunked = false;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
                    break;
                }
                let (name, value) = line.split_once(':').unwrap_or((line.as_str(), ""));
                let name = name.trim().to_ascii_lowercase();
                if name == "content-length" {
                    length = value.trim().parse().ok();
                } else if name == "transfer-encoding"
                    && value.to_ascii_lowercase().contains("chunked")
                {
                    chunked = true;
                }
            }
            let mut body = Vec::new();
            if chunked {
                loop {
                    let mut size = String::new();
                    reader.read_line(&mut size)?;
                    let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or(""), 16)
                        .map_err(|_| std::io::Error::other("bad chunk"))?;
                    if n == 0 {
                        break;
                    }
                    let start = body.len();
                    body.resize(start + n, 0);
                    reader.read_exact(&mut body[start..])?;
                    let mut crlf = [0u8; 2];
                    reader.read_exact(&mut crlf)?;
                }
            } else if let Some(n) = length {
                body.resize(n, 0);
                reader.read_exact(&mut body)?;
            } else {
                reader.read_to_end(&mut body)?;
            }
            Ok((status, body))
        })();
        // The answer is in: stop an upload the node no longer reads.
        let _ = stream.shutdown(std::net::Shutdown::Both);
        let sent = upload
            .join()
            .map_err(|_| anyhow!("the upload thread failed"))?;
        let (status, bytes) = match answer {
            Ok(a) => a,
            Err(e) => {
                return Err(match sent {
                    Err(w) => unreachable(&w),
                    Ok(()) => unreachable(&e),
                })
            }
        };
        let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            if let Err(e) = sent {
                bail!("the node answered before the whole file was sent ({e})");
            }
            return Ok(Ok(value));
        }
        Ok(Err(ApiFailure {
            status,
            error: value["error"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| format!("the node answered HTTP {status}")),
            details: value["details"].as_array().cloned().unwrap_or_default(),
        }))
    }
}
