//! Helpers shared by the workflow tests: partnerships, settings, waiting, data-dir scans, and a
//! loopback webhook endpoint.

#![allow(dead_code)]

use cosell_e2e::{wait_for, Node};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

/// How long a change may take to travel between two nodes here.
pub const SYNC_WAIT: Duration = Duration::from_secs(45);

/// Waits for `f` to give a value, panicking with `what` after [`SYNC_WAIT`].
pub fn wait<T>(what: &str, f: impl FnMut() -> Option<T>) -> T {
    wait_for(SYNC_WAIT, f).unwrap_or_else(|| panic!("timed out waiting for {what}"))
}

/// Sets `key = value` in a stopped node's `cosell.toml` (replacing the line `init` wrote).
pub fn set_setting(node: &Node, key: &str, value: &str) {
    let path = node.dir().join("cosell.toml");
    let text = std::fs::read_to_string(&path).expect("cosell.toml");
    let mut found = false;
    let lines: Vec<String> = text
        .lines()
        .map(|l| {
            if l.split('=').next().map(str::trim) == Some(key) {
                found = true;
                format!("{key} = {value}")
            } else {
                l.to_string()
            }
        })
        .collect();
    assert!(found, "cosell.toml has no {key}");
    std::fs::write(&path, lines.join("\n") + "\n").expect("write cosell.toml");
}

/// `inviter` invites `joiner` (as `joiner_type`); the joiner joins (seeing the inviter as
/// `inviter_type`). Both are serving.
pub fn partner(inviter: &Node, joiner: &Node, joiner_type: &str, inviter_type: &str) {
    let out = inviter.cli(&["partner", "invite", "--type", joiner_type]);
    assert!(out.ok(), "invite: {}", out.stderr);
    let token = out.stdout.trim().to_string();
    let out = joiner.cli(&["partner", "join", &token, "--type", inviter_type]);
    assert!(out.ok(), "join: {}", out.stderr);
    wait("the partnership on the inviter", || {
        inviter.get("/api/v1/partners").json["items"]
            .as_array()?
            .iter()
            .any(|p| p["id"] == joiner.id.as_str() && p["status"] == "active")
            .then_some(())
    });
}

/// Posts JSON and asserts the status; returns the answer's JSON.
pub fn post_ok(node: &Node, path: &str, body: Value, status: u16) -> Value {
    let r = node.post(path, &body);
    assert_eq!(r.status, status, "POST {path}: {}", r.text);
    r.json
}

/// A JSON `PUT` of a policy for a partner.
pub fn put_policy(node: &Node, partner: &str, toml: &str) {
    let r = node.request(
        "PUT",
        &format!("/api/v1/partners/{partner}/policy"),
        Some("application/toml"),
        Some(toml.as_bytes()),
    );
    assert_eq!(r.status, 200, "policy: {}", r.text);
}

/// An account and an opportunity on `node`; returns the opportunity id.
pub fn opportunity(node: &Node, domain: &str, extra: Value) -> String {
    let account = post_ok(
        node,
        "/api/v1/accounts",
        json!({"name": format!("Account {domain}"), "domain": domain, "status": "prospect"}),
        201,
    );
    let mut body = json!({"account_id": account["id"], "name": format!("Deal at {domain}"),
                          "stage": "qualified"});
    for (k, v) in extra.as_object().into_iter().flatten() {
        body[k] = v.clone();
    }
    post_ok(node, "/api/v1/opportunities", body, 201)["id"]
        .as_str()
        .expect("opportunity id")
        .to_string()
}

/// Shares opportunity `opp` of `vendor` with `partners` as a deal (201); returns the deal id.
pub fn share_deal(vendor: &Node, opp: &str, partners: &[&str]) -> String {
    post_ok(
        vendor,
        "/api/v1/deals",
        json!({"opportunity_id": opp, "partners": partners}),
        201,
    )["id"]
        .as_str()
        .expect("deal id")
        .to_string()
}

/// The fields a 422 answer's `details` name, in order.
pub fn detail_fields(answer: &Value) -> Vec<&str> {
    answer["details"]
        .as_array()
        .expect("details")
        .iter()
        .filter_map(|d| d["field"].as_str())
        .collect()
}

/// The invitation to `deal` in `node`'s inbox, once it has arrived.
pub fn inbox_item(node: &Node, deal: &str) -> Option<Value> {
    node.get("/api/v1/inbox").json["items"]
        .as_array()?
        .iter()
        .find(|i| i["deal_id"] == deal)
        .cloned()
}

/// Every file under `dir`.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// The files under `dir` holding `needle`.
pub fn files_with(dir: &Path, needle: &str) -> Vec<PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|f| {
            std::fs::read(f).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
        })
        .collect()
}

/// One request a test endpoint received: the event kind header and the JSON body.
pub struct Hook {
    pub event: String,
    pub body: Value,
}

/// A loopback HTTP endpoint answering 200 to every request, reporting each.
pub fn endpoint() -> (String, mpsc::Receiver<Hook>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || loop {
        let Ok((stream, _)) = listener.accept() else {
            return;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let mut reader = BufReader::new(stream);
        let mut headers = Vec::new();
        let mut line = String::new();
        let _ = reader.read_line(&mut line);
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                break;
            }
            if let Some((k, v)) = line.trim_end().split_once(':') {
                headers.push((k.trim().to_lowercase(), v.trim().to_string()));
            }
        }
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let length: usize = header("content-length").parse().unwrap_or(0);
        let mut body = vec![0u8; length];
        let _ = reader.read_exact(&mut body);
        let mut stream = reader.into_inner();
        let _ = write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        let hook = Hook {
            event: header("x-cosell-event"),
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        };
        if tx.send(hook).is_err() {
            return;
        }
    });
    (url, rx)
}

/// Registers a webhook on `node` for `events`; returns what its endpoint receives.
pub fn hook(node: &Node, events: &[&str]) -> mpsc::Receiver<Hook> {
    let (url, rx) = endpoint();
    post_ok(
        node,
        "/api/v1/webhooks",
        json!({"url": url, "events": events}),
        201,
    );
    rx
}

/// Waits for an event of `kind` at a webhook endpoint; returns its body.
pub fn expect_event(rx: &mpsc::Receiver<Hook>, kind: &str) -> Value {
    let deadline = std::time::Instant::now() + SYNC_WAIT;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let hook = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no {kind} event arrived"));
        if hook.event == kind {
            return hook.body;
        }
    }
}
