//! Helpers for end-to-end tests: start real `cosell` processes and talk to them.
//!
//! Every node lives in its own temporary directory (`ROOT/data` is the data directory, the
//! node's log goes to `ROOT/serve.log`), listens on loopback with port 0 only, and every wait is
//! bounded. Dropping a [`Node`] kills its process and removes the directory.
//!
//! One helper per job, in this order: running the program and waiting; HTTP; [`Node`]; files,
//! settings and generated CSV; API answers; partnerships, policies, opportunities and deals between
//! nodes; and (services.rs) what a node talks to: a webhook endpoint, an SMTP server, a browser.

#[path = "netns/mod.rs"]
pub mod netns;

#[path = "crm_fake/mod.rs"]
pub mod crm_fake;
mod services;
pub use services::*;

use serde_json::{json, Value};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The `cosell` program under test: `COSELL_E2E_PROGRAM` if set, else the `cosell-under-test`
/// binary cargo built beside the running test executable (`target/debug/deps/..`). Integration
/// tests can compare it with `env!("CARGO_BIN_EXE_cosell-under-test")`, which only they see.
pub fn program() -> PathBuf {
    if let Some(p) = std::env::var_os("COSELL_E2E_PROGRAM") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().expect("exe dir");
    let dir = if dir.ends_with("deps") {
        dir.parent().expect("target dir")
    } else {
        dir
    };
    let p = dir.join("cosell-under-test");
    assert!(p.is_file(), "no program under test at {}", p.display());
    p
}

/// Partner connections over TCP on loopback, any port.
pub const P2P_TCP_LOOPBACK: &str = "/ip4/127.0.0.1/tcp/0";
/// Partner connections over QUIC on loopback, any port.
pub const P2P_QUIC_LOOPBACK: &str = "/ip4/127.0.0.1/udp/0/quic-v1";

/// How long a node may take to write `node.json` after `serve` starts.
pub const SERVE_READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a CLI command may run.
pub const CLI_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a node may take to stop after SIGTERM.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(20);
/// Timeout of one HTTP request (imports of large files included).
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(120);

/// What a finished CLI command did.
#[derive(Debug)]
pub struct Output {
    /// Exit status.
    pub status: ExitStatus,
    /// Everything on stdout.
    pub stdout: String,
    /// Everything on stderr.
    pub stderr: String,
}

impl Output {
    /// Whether the command exited 0.
    pub fn ok(&self) -> bool {
        self.status.success()
    }
}

/// An HTTP answer.
#[derive(Debug, Clone)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// Content-Type header, if any.
    pub content_type: String,
    /// The raw body.
    pub text: String,
    /// The body as JSON (`Null` when it is not JSON).
    pub json: Value,
}

/// One `cosell` node in a temporary directory, maybe running.
pub struct Node {
    /// The name given at `init`.
    pub name: String,
    /// The node id `init` printed.
    pub id: String,
    root: tempfile::TempDir,
    child: Option<Child>,
    http: Option<String>,
    /// The network namespace it serves in ([`Node::serve_in`]), where its CLI and HTTP calls
    /// run too; `None`: the machine's own.
    netns: Option<String>,
}

/// Runs `cosell ARGS` with a bounded wait, capturing its output.
pub fn run_cosell(args: &[&str], envs: &[(&str, &str)], timeout: Duration) -> Output {
    run_cosell_with_stdin(args, envs, None, timeout)
}

/// `cosell restore FILE --data DIR`.
pub fn restore_backup(file: &Path, dir: &Path) -> Output {
    let file = file.to_str().expect("backup path");
    let dir = dir.to_str().expect("data path");
    run_cosell(&["restore", file, "--data", dir], &[], CLI_TIMEOUT)
}

/// [`run_cosell`] with `stdin` piped to the program's standard input (from a thread, so a large
/// input cannot block on a full pipe), or standard input empty when `None`.
pub fn run_cosell_with_stdin(
    args: &[&str],
    envs: &[(&str, &str)],
    stdin: Option<Vec<u8>>,
    timeout: Duration,
) -> Output {
    let mut cmd = Command::new(program());
    cmd.args(args)
        .env_remove("COSELL_DATA")
        .env_remove("COSELL_HTTP")
        .env("RUST_LOG", "warn")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("cannot start the cosell program");
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // A program that stops reading early closes the pipe: not this helper's error.
        std::thread::spawn(move || {
            let _ = pipe.write_all(&input);
        });
    }
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out_thread = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        String::from_utf8_lossy(&s).into_owned()
    });
    let err_thread = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        String::from_utf8_lossy(&s).into_owned()
    });
    let status = wait_bounded(&mut child, timeout).unwrap_or_else(|| {
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "`cosell {}` did not finish within {timeout:?}",
            args.join(" ")
        )
    });
    Output {
        status,
        stdout: out_thread.join().unwrap_or_default(),
        stderr: err_thread.join().unwrap_or_default(),
    }
}

/// Waits for a child to exit, at most `timeout`; `None` when it is still running.
pub fn wait_bounded(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("cannot wait for the child process") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Polls `f` until it gives `Some`, at most `timeout`.
pub fn wait_for<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(t) = f() {
            return Some(t);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(5))
        .timeout(HTTP_TIMEOUT)
        .build()
}

/// Sends one HTTP request; any status comes back as a [`Response`] (transport errors panic).
pub fn http(
    method: &str,
    url: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: Option<&[u8]>,
) -> Response {
    try_http(method, url, token, content_type, body).unwrap_or_else(|e| panic!("{e}"))
}

/// [`http`], with a transport failure (refused, reset, broken pipe) as an error instead of a
/// panic.
pub fn try_http(
    method: &str,
    url: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: Option<&[u8]>,
) -> Result<Response, String> {
    let mut req = agent().request(method, url);
    if let Some(t) = token {
        req = req.set("Authorization", &format!("Bearer {t}"));
    }
    if let Some(ct) = content_type {
        req = req.set("Content-Type", ct);
    }
    let result = match body {
        Some(b) => req.send_bytes(b),
        None => req.call(),
    };
    let response = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => return Err(format!("{method} {url}: {e}")),
    };
    let status = response.status();
    let content_type = response.header("content-type").unwrap_or("").to_string();
    let text = response.into_string().expect("readable body");
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Ok(Response {
        status,
        content_type,
        text,
        json,
    })
}

impl Node {
    /// `cosell init --name NAME` in a fresh temporary directory, with `webhook_allow_private =
    /// true` (the webhook endpoints of these tests listen on loopback, which a node refuses by
    /// default); panics unless it succeeds.
    pub fn init(name: &str) -> Node {
        let node = Node::init_plain(name);
        set_setting(&node, "webhook_allow_private", "true");
        node
    }

    /// A node whose data directory does not exist yet (for `cosell restore` or a copied data
    /// directory to fill); `id` is empty until the test sets it.
    pub fn uninitialized(name: &str) -> Node {
        let root = tempfile::Builder::new()
            .prefix("cosell-e2e-")
            .tempdir()
            .expect("temp dir");
        Node {
            name: name.to_string(),
            id: String::new(),
            root,
            child: None,
            http: None,
            netns: None,
        }
    }

    /// `cosell init --name NAME` as an operator runs it: every setting at its default.
    pub fn init_plain(name: &str) -> Node {
        let root = tempfile::Builder::new()
            .prefix("cosell-e2e-")
            .tempdir()
            .expect("temp dir");
        let mut node = Node {
            name: name.to_string(),
            id: String::new(),
            root,
            child: None,
            http: None,
            netns: None,
        };
        let out = node.cli(&["init", "--name", name]);
        assert!(
            out.ok(),
            "init failed: {}\nstderr: {}",
            out.status,
            out.stderr
        );
        node.id = out.stdout.trim().to_string();
        node
    }

    /// The data directory.
    pub fn dir(&self) -> PathBuf {
        self.root.path().join("data")
    }

    /// Where `serve` writes its log.
    pub fn log_path(&self) -> PathBuf {
        self.root.path().join("serve.log")
    }

    /// The node's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// A scratch directory beside the data directory (for generated files).
    pub fn scratch(&self) -> PathBuf {
        let p = self.root.path().join("scratch");
        std::fs::create_dir_all(&p).expect("scratch dir");
        p
    }

    /// Runs `cosell ARGS --data DIR`.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.cli_with_stdin(args, None)
    }

    /// Runs `cosell ARGS --data DIR` with `stdin` on its standard input.
    pub fn cli_with_stdin(&self, args: &[&str], stdin: Option<Vec<u8>>) -> Output {
        let dir = self.dir();
        let mut all: Vec<&str> = args.to_vec();
        all.push("--data");
        all.push(dir.to_str().expect("UTF-8 temp path"));
        match &self.netns {
            None => run_cosell_with_stdin(&all, &[], stdin, CLI_TIMEOUT),
            Some(ns) => {
                let all: Vec<String> = all.iter().map(|a| a.to_string()).collect();
                netns::in_netns(ns, move || {
                    let all: Vec<&str> = all.iter().map(String::as_str).collect();
                    run_cosell_with_stdin(&all, &[], stdin, CLI_TIMEOUT)
                })
            }
        }
    }

    /// The admin token from `DIR/admin.token`.
    pub fn token(&self) -> String {
        std::fs::read_to_string(self.dir().join("admin.token"))
            .expect("admin.token")
            .trim()
            .to_string()
    }

    /// The serving process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("the node is not running").id()
    }

    /// Whether a `serve` process of ours is running.
    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(c) => c.try_wait().ok().flatten().is_none(),
            None => false,
        }
    }

    /// Starts `cosell serve` on loopback (port 0) and waits until `node.json` names its HTTP URL.
    pub fn serve(&mut self) -> &mut Self {
        self.serve_on(&[P2P_TCP_LOOPBACK])
    }

    /// Like [`Node::serve`], listening for partners on exactly `p2p` (each a loopback multiaddr
    /// with port 0, e.g. [`P2P_TCP_LOOPBACK`], [`P2P_QUIC_LOOPBACK`]).
    pub fn serve_on(&mut self, p2p: &[&str]) -> &mut Self {
        self.serve_with(p2p, &[])
    }

    /// [`Node::serve_on`] with extra environment variables for the `serve` process
    /// (`COSELL_LOG_FORMAT`, …).
    pub fn serve_with(&mut self, p2p: &[&str], envs: &[(&str, &str)]) -> &mut Self {
        self.netns = None;
        self.start_serve(p2p, envs)
    }

    /// Starts `cosell serve` in network namespace `ns` (`ip netns exec`, see [`netns`]),
    /// listening for partners on `p2p` (fixed ports are fine: each namespace has its own) and
    /// for HTTP on the namespace's loopback; its CLI and HTTP calls run in `ns` from now on.
    pub fn serve_in(&mut self, ns: &str, p2p: &[&str]) -> &mut Self {
        self.netns = Some(ns.to_string());
        self.start_serve(p2p, &[])
    }

    fn start_serve(&mut self, p2p: &[&str], envs: &[(&str, &str)]) -> &mut Self {
        assert!(self.child.is_none(), "the node is already running");
        assert!(!p2p.is_empty(), "a node needs a p2p address");
        let node_json = self.dir().join("node.json");
        let _ = std::fs::remove_file(&node_json);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("log file");
        let mut command = match &self.netns {
            None => Command::new(program()),
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(program());
                c
            }
        };
        let child = command
            .args(["serve", "--data"])
            .arg(self.dir())
            .args(["--http", "127.0.0.1:0"])
            .args(p2p.iter().flat_map(|a| ["--p2p", a]))
            .env_remove("COSELL_DATA")
            .env_remove("COSELL_HTTP")
            .env("RUST_LOG", "info")
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("cannot start cosell serve");
        self.child = Some(child);
        let started = Instant::now();
        let http = loop {
            if let Some(url) = std::fs::read_to_string(&node_json)
                .ok()
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                .and_then(|v| v["http"].as_str().map(str::to_string))
            {
                break url;
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                panic!("serve exited early ({status}); log:\n{}", self.log());
            }
            if started.elapsed() > SERVE_READY_TIMEOUT {
                panic!(
                    "no node.json after {SERVE_READY_TIMEOUT:?}; log:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        self.http = Some(http.trim_end_matches('/').to_string());
        self
    }

    /// The HTTP base URL (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> &str {
        self.http.as_deref().expect("the node is not serving")
    }

    /// `DIR/node.json` as JSON.
    pub fn node_json(&self) -> Option<Value> {
        let text = std::fs::read_to_string(self.dir().join("node.json")).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Any request with the admin token; `path` starts at the host (`/api/v1/…`, `/metrics`).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: Option<&[u8]>,
    ) -> Response {
        let token = self.token();
        let url = format!("{}{path}", self.url());
        match &self.netns {
            None => http(method, &url, Some(&token), content_type, body),
            Some(ns) => {
                let (method, content_type) = (method.to_string(), content_type.map(str::to_string));
                let body = body.map(<[u8]>::to_vec);
                netns::in_netns(ns, move || {
                    http(
                        &method,
                        &url,
                        Some(&token),
                        content_type.as_deref(),
                        body.as_deref(),
                    )
                })
            }
        }
    }

    /// `GET path` with the admin token.
    pub fn get(&self, path: &str) -> Response {
        self.request("GET", path, None, None)
    }

    /// `POST path` with a JSON body and the admin token.
    pub fn post(&self, path: &str, body: &Value) -> Response {
        let bytes = serde_json::to_vec(body).expect("JSON");
        self.request("POST", path, Some("application/json"), Some(&bytes))
    }

    /// `PATCH path` with a JSON body and the admin token.
    pub fn patch(&self, path: &str, body: &Value) -> Response {
        let bytes = serde_json::to_vec(body).expect("JSON");
        self.request("PATCH", path, Some("application/json"), Some(&bytes))
    }

    /// `POST path` with a CSV body and the admin token.
    pub fn post_csv(&self, path: &str, csv: &[u8]) -> Response {
        self.request("POST", path, Some("text/csv"), Some(csv))
    }

    /// Every item of a list route, following `next_cursor` page by page (`query` may be empty;
    /// `limit` is the page size). Panics on a non-200 page or a cursor loop.
    pub fn list_all(&self, route: &str, query: &str, limit: usize) -> Vec<Value> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..1_000_000 {
            let mut url = format!("{route}?limit={limit}");
            if !query.is_empty() {
                url.push('&');
                url.push_str(query);
            }
            if let Some(c) = &cursor {
                url.push_str("&cursor=");
                url.push_str(&percent_encode(c));
            }
            let page = self.get(&url);
            assert_eq!(page.status, 200, "GET {url}: {}", page.text);
            let page_items = page.json["items"].as_array().expect("items").clone();
            assert!(page_items.len() <= limit, "page larger than limit");
            items.extend(page_items);
            match page.json["next_cursor"].as_str() {
                Some(c) => {
                    assert_ne!(Some(c), cursor.as_deref(), "next_cursor repeats");
                    cursor = Some(c.to_string());
                }
                None => return items,
            }
        }
        panic!("paging did not end");
    }

    /// Record counts from `/metrics` (`cosell_records`): (accounts, opportunities).
    pub fn counts(&self) -> (u64, u64) {
        let m = self.get("/metrics");
        assert_eq!(m.status, 200, "{}", m.text);
        let gauge = |kind: &str| -> u64 {
            let prefix = format!("cosell_records{{kind=\"{kind}\"}} ");
            m.text
                .lines()
                .find_map(|l| l.strip_prefix(&prefix))
                .unwrap_or_else(|| panic!("no {prefix} in /metrics:\n{}", m.text))
                .trim()
                .parse()
                .expect("a count")
        };
        (gauge("accounts"), gauge("opportunities"))
    }

    /// Sends SIGKILL and reaps the process.
    pub fn kill9(&mut self) {
        let mut child = self.child.take().expect("the node is not running");
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe {
            libc::kill(child.id() as libc::pid_t, libc::SIGKILL);
        }
        wait_bounded(&mut child, STOP_TIMEOUT).expect("SIGKILLed node did not go away");
        self.http = None;
    }

    /// Sends SIGTERM, waits (bounded) and asserts a clean exit (status 0). Returns the status.
    pub fn stop(&mut self) -> ExitStatus {
        self.stop_with(libc::SIGTERM)
    }

    /// Sends `signal` (SIGTERM, SIGINT), waits (bounded) and asserts a clean exit (status 0).
    pub fn stop_with(&mut self, signal: i32) -> ExitStatus {
        let mut child = self.child.take().expect("the node is not running");
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe {
            libc::kill(child.id() as libc::pid_t, signal);
        }
        let status = wait_bounded(&mut child, STOP_TIMEOUT).unwrap_or_else(|| {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "node did not stop within {STOP_TIMEOUT:?} of SIGTERM; log:\n{}",
                self.log()
            )
        });
        self.http = None;
        assert!(
            status.success(),
            "node did not stop cleanly: {status}; log:\n{}",
            self.log()
        );
        status
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Percent-encodes everything but unreserved characters (for query values).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The workspace's `examples/` directory.
pub fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

/// Path of an example CRM export (`examples/NAME`).
pub fn example(name: &str) -> PathBuf {
    let p = examples_dir().join(name);
    assert!(p.is_file(), "no example file {}", p.display());
    p
}

/// Writes generated CSV text to `dir/name` and returns the path.
pub fn write_file(dir: &Path, name: &str, contents: &[u8]) -> PathBuf {
    let p = dir.join(name);
    let mut f = std::fs::File::create(&p).expect("create file");
    f.write_all(contents).expect("write file");
    p
}

/// Every file under `dir`, in subdirectories too.
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

/// Whether a stopped node's stored deal changes, decrypted (`cosell debug stored-changes`),
/// hold `needle`: stored changes are encrypted at rest, so [`files_with`] alone cannot see
/// what a node holds of a deal. Panics when the node is running (its database is locked).
pub fn stored_changes_hold(node: &Node, needle: &str) -> bool {
    let out = node.cli(&["debug", "stored-changes"]);
    assert!(
        out.ok(),
        "debug stored-changes (is the node stopped?): {}",
        out.stderr
    );
    out.stdout.contains(needle)
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

/// `n` generated accounts in cosell's own columns: external ids `acc-1`…`acc-N`, domains
/// `company-N.example`.
pub fn accounts_csv(n: usize) -> String {
    let mut s = String::from("external_id,name,domain,industry,country,status,owner\n");
    for i in 1..=n {
        s.push_str(&format!(
            "acc-{i},Company {i},company-{i}.example,Software,Germany,customer,Owner {}\n",
            i % 7
        ));
    }
    s
}

/// One generated opportunity row (cosell's own columns), for account `acc-(i % accounts + 1)`.
pub fn opportunity_row(i: usize, accounts: usize) -> String {
    const STAGES: [&str; 4] = ["prospect", "qualified", "committed", "launched"];
    format!(
        "opp-{i},acc-{},Deal {i},{},{}.00,EUR,2026-{:02}-{:02},Owner {}\n",
        i % accounts + 1,
        STAGES[i % STAGES.len()],
        1000 + i,
        i % 12 + 1,
        i % 28 + 1,
        i % 5
    )
}

/// Header of [`opportunity_row`] files.
pub const OPPORTUNITY_HEADER: &str =
    "external_id,account_external_id,name,stage,amount,currency,close_date,owner\n";

/// `n` generated opportunities over `accounts` accounts (see [`opportunity_row`]).
pub fn opportunities_csv(n: usize, accounts: usize) -> String {
    let mut s = String::from(OPPORTUNITY_HEADER);
    for i in 1..=n {
        s.push_str(&opportunity_row(i, accounts));
    }
    s
}

/// The row numbers (`row N`) named at the start of the CLI's error lines.
pub fn rows_named(stderr: &str) -> Vec<u64> {
    let mut rows: Vec<u64> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("row "))
        .filter_map(|rest| {
            let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
            digits.parse().ok()
        })
        .collect();
    rows.sort_unstable();
    rows.dedup();
    rows
}

/// The record with this external id among `items` (an API list); panics naming it when absent.
pub fn find_by_external_id<'a>(items: &'a [Value], external_id: &str) -> &'a Value {
    items
        .iter()
        .find(|r| r["external_id"] == external_id)
        .unwrap_or_else(|| panic!("no record with external id {external_id} in {items:?}"))
}

/// An exact decimal amount from the API (a string, or a number) in cents.
pub fn cents(v: &Value) -> i64 {
    let s = v
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| v.to_string());
    let (whole, frac) = s.split_once('.').unwrap_or((&s, ""));
    let frac = format!("{frac:0<2}");
    let parse = |digits: &str| {
        digits
            .parse::<i64>()
            .unwrap_or_else(|_| panic!("amount {s}"))
    };
    parse(whole) * 100 + parse(&frac[..2])
}

// API answers.

/// Asserts an error answer: `status`, JSON, a non-empty `error` sentence and a `details` list.
pub fn assert_error_shape(r: &Response, status: u16) {
    assert_eq!(r.status, status, "{}", r.text);
    assert!(
        r.content_type.starts_with("application/json"),
        "content type {:?}",
        r.content_type
    );
    let error = r.json["error"].as_str().expect("error sentence");
    assert!(!error.is_empty());
    assert!(r.json["details"].is_array(), "details: {}", r.text);
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

/// Posts JSON and asserts the status; returns the answer's JSON.
pub fn post_ok(node: &Node, path: &str, body: Value, status: u16) -> Value {
    let r = node.post(path, &body);
    assert_eq!(r.status, status, "POST {path}: {}", r.text);
    r.json
}

// Partnerships, policies, opportunities and deals between nodes.

/// How long a change may take to travel between two nodes.
pub const SYNC_WAIT: Duration = Duration::from_secs(45);

/// Waits for `f` to give a value, panicking with `what` after [`SYNC_WAIT`].
pub fn wait<T>(what: &str, f: impl FnMut() -> Option<T>) -> T {
    wait_for(SYNC_WAIT, f).unwrap_or_else(|| panic!("timed out waiting for {what}"))
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

/// Sets `node`'s policy (TOML) for `partner`; asserts 200.
pub fn put_policy(node: &Node, partner: &str, toml: &str) {
    let r = node.request(
        "PUT",
        &format!("/api/v1/partners/{partner}/policy"),
        Some("application/toml"),
        Some(toml.as_bytes()),
    );
    assert_eq!(r.status, 200, "policy: {}", r.text);
}

/// A policy that shares an opportunity's name and stage and its account's domain.
pub const NAME_STAGE_AND_DOMAIN: &str = r#"
[opportunities]
fields = ["name", "stage", "account.domain"]
"#;

/// A serving vendor ("Vendor Co", with `vendor_settings` in its `cosell.toml`) and reseller
/// ("Reseller Co"), partners, the vendor sharing with the reseller under `policy`.
pub fn vendor_and_reseller(vendor_settings: &[(&str, &str)], policy: &str) -> (Node, Node) {
    let mut vendor = Node::init("Vendor Co");
    for (k, v) in vendor_settings {
        set_setting(&vendor, k, v);
    }
    let mut reseller = Node::init("Reseller Co");
    vendor.serve();
    reseller.serve();
    partner(&vendor, &reseller, "reseller", "vendor");
    put_policy(&vendor, &reseller.id, policy);
    (vendor, reseller)
}

/// An account and an opportunity on `node` (`extra` adds opportunity fields); returns the
/// opportunity id.
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

/// The invitation to `deal` in `node`'s inbox, once it has arrived.
pub fn inbox_item(node: &Node, deal: &str) -> Option<Value> {
    node.get("/api/v1/inbox").json["items"]
        .as_array()?
        .iter()
        .find(|i| i["deal_id"] == deal)
        .cloned()
}

/// Shares a new opportunity on `domain` with `partner` and waits for its invitation; returns
/// the deal id.
pub fn shared_deal(vendor: &Node, partner: &Node, domain: &str) -> String {
    let opp = opportunity(vendor, domain, json!({}));
    let deal = share_deal(vendor, &opp, &[&partner.id]);
    wait("the invitation", || inbox_item(partner, &deal));
    deal
}
