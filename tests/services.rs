//! What a node under test talks to, run by the test: a loopback webhook endpoint, an SMTP
//! server (Python's aiosmtpd) and a browser run (Chromium through Playwright, with axe).

use crate::*;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

// A loopback webhook endpoint.

/// One request a [`webhook_endpoint`] received.
pub struct Hook {
    /// The headers, names as sent.
    pub headers: Vec<(String, String)>,
    /// The raw body (what the signature covers).
    pub body: Vec<u8>,
}

impl Hook {
    /// The value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The event kind (`X-Cosell-Event`), empty when absent.
    pub fn event(&self) -> &str {
        self.header("X-Cosell-Event").unwrap_or_default()
    }

    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// A loopback HTTP endpoint answering `statuses` in turn, then 200 to every later request,
/// reporting each request it gets. Returns its URL and the reports; it stops accepting once the
/// reports are no longer received.
pub fn webhook_endpoint(statuses: &[u16]) -> (String, mpsc::Receiver<Hook>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let statuses = statuses.to_vec();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for i in 0.. {
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
                    headers.push((k.trim().to_string(), v.trim().to_string()));
                }
            }
            let hook = Hook {
                headers,
                body: Vec::new(),
            };
            let length: usize = hook
                .header("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0u8; length];
            let _ = reader.read_exact(&mut body);
            let status = statuses.get(i).copied().unwrap_or(200);
            let mut stream = reader.into_inner();
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            if tx.send(Hook { body, ..hook }).is_err() {
                return;
            }
        }
    });
    (url, rx)
}

/// Registers a webhook on `node` for `events`, to an endpoint answering 200; returns what the
/// endpoint receives.
pub fn hook(node: &Node, events: &[&str]) -> mpsc::Receiver<Hook> {
    let (url, rx) = webhook_endpoint(&[]);
    post_ok(
        node,
        "/api/v1/webhooks",
        json!({"url": url, "events": events}),
        201,
    );
    rx
}

/// Waits (at most [`SYNC_WAIT`]) for an event of `kind` at a webhook endpoint, skipping
/// others; returns its body.
pub fn expect_event(rx: &mpsc::Receiver<Hook>, kind: &str) -> Value {
    let deadline = Instant::now() + SYNC_WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let hook = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no {kind} event arrived"));
        if hook.event() == kind {
            return hook.json();
        }
    }
}

/// `python3 -m aiosmtpd` on a free loopback port, storing mails in a maildir; stopped on drop.
pub struct SmtpServer {
    child: std::process::Child,
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    /// Where the mails arrive (`new/`).
    pub maildir: PathBuf,
}

impl SmtpServer {
    /// Starts it; panics when Python has no aiosmtpd.
    pub fn start() -> SmtpServer {
        let probe = Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .status()
            .expect("cannot run python3");
        assert!(
            probe.success(),
            "no aiosmtpd: run `python3 -m pip install aiosmtpd` (.ci/run does)"
        );
        let maildir = std::env::temp_dir().join(format!("cosell-mail-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&maildir);
        // A maildir: aiosmtpd's Mailbox handler writes into tmp/ and moves the mail to new/.
        for sub in ["tmp", "new", "cur"] {
            std::fs::create_dir_all(maildir.join(sub)).expect("maildir");
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("cannot start aiosmtpd");
        let up = wait_for(Duration::from_secs(20), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()
        });
        assert!(up.is_some(), "aiosmtpd did not listen on port {port}");
        SmtpServer {
            child,
            port,
            maildir,
        }
    }

    /// Points a node (before `serve`) at this server.
    pub fn configure(&self, node: &Node, from: &str) {
        let path = node.dir().join("cosell.toml");
        let mut text = std::fs::read_to_string(&path).expect("cosell.toml");
        text.push_str(&format!("smtp_url = \"smtp://127.0.0.1:{}\"\n", self.port));
        std::fs::write(&path, text).expect("write cosell.toml");
        set_setting(node, "smtp_from", &format!("{from:?}"));
    }
}

impl SmtpServer {
    /// Waits (at most [`SYNC_WAIT`]) for a mail containing `needle` once its headers are
    /// unfolded and quoted-printable soft breaks joined; returns that text.
    pub fn wait_mail(&self, needle: &str) -> String {
        wait(&format!("a mail with {needle:?}"), || {
            self.mails().into_iter().find_map(|m| {
                let text = m
                    .replace("=\r\n", "")
                    .replace("=\n", "")
                    .replace("\r\n ", " ")
                    .replace("\n ", " ");
                text.contains(needle).then_some(text)
            })
        })
    }

    /// The raw text of every mail that arrived so far.
    pub fn mails(&self) -> Vec<String> {
        std::fs::read_dir(self.maildir.join("new"))
            .map(|dir| {
                dir.filter_map(Result::ok)
                    .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.maildir);
    }
}

/// Creates the manager `username` on `node`, signs them in and saves their e-mail notification
/// choices (a session: notification settings belong to a person, not to an API token).
pub fn opt_in_to_mail(node: &Node, username: &str, email: &str, events: &[&str]) {
    let created = node.post(
        "/api/v1/users",
        &json!({"username": username, "password": "a long enough password", "role": "manager"}),
    );
    assert_eq!(created.status, 201, "{}", created.text);
    let session = ureq::post(&format!("{}/api/v1/session", node.url()))
        .send_json(json!({"username": username, "password": "a long enough password"}))
        .expect("sign in");
    let cookie = session
        .header("set-cookie")
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_string();
    let csrf = session.into_json::<Value>().expect("JSON")["csrf_token"]
        .as_str()
        .expect("a CSRF token")
        .to_string();
    let saved = ureq::put(&format!("{}/api/v1/me/notifications", node.url()))
        .set("Cookie", &cookie)
        .set("X-CSRF-Token", &csrf)
        .send_json(json!({"email": email, "events": events, "digest": false}))
        .expect("notification settings saved");
    assert_eq!(saved.status(), 200);
}

/// What a browser run needs: Debian's Chromium and Playwright in `tests/browser/`, and where
/// screenshots go (`target/browser-screenshots/`).
pub struct BrowserRun {
    /// The Chromium executable.
    pub chromium: String,
    /// `tests/browser/`.
    pub dir: PathBuf,
    /// Where the scripts write screenshots.
    pub shots: PathBuf,
}

/// Checks for Chromium and Playwright and serves this checkout's web UI (sets `COSELL_WEB_UI`:
/// call it before starting nodes, in a test binary with no other test). `None` when
/// `COSELL_BROWSER_TESTS=0`; panics naming what is missing otherwise.
pub fn browser_run() -> Option<BrowserRun> {
    if std::env::var("COSELL_BROWSER_TESTS").as_deref() == Ok("0") {
        println!("browser tests skipped: COSELL_BROWSER_TESTS=0");
        return None;
    }
    let chromium = std::env::var("COSELL_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).is_file(),
        "no Chromium at {chromium}: `apt-get install -y chromium` (or set COSELL_BROWSER_TESTS=0 to skip)"
    );
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("browser");
    assert!(
        dir.join("node_modules/playwright-core").is_dir(),
        "no playwright-core: run `(cd tests/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci)`"
    );
    std::env::set_var(
        "COSELL_WEB_UI",
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../web-ui"),
    );
    let exe = std::env::current_exe().expect("current exe");
    let shots = exe
        .ancestors()
        .nth(3)
        .expect("target dir above target/debug/deps")
        .join("browser-screenshots");
    std::fs::create_dir_all(&shots).expect("screenshot dir");
    Some(BrowserRun {
        chromium,
        dir,
        shots,
    })
}

impl BrowserRun {
    /// Runs `script` (in `tests/browser/`) under `node --test` with `envs`, `COSELL_CHROMIUM`
    /// and `COSELL_SCREENSHOTS`; panics when it does not end within `timeout`.
    pub fn run(&self, script: &str, envs: &[(&str, &str)], timeout: Duration) -> ExitStatus {
        let mut child = Command::new("node")
            .args(["--test", "--test-reporter=spec", script])
            .current_dir(&self.dir)
            .envs(envs.iter().copied())
            .env("COSELL_CHROMIUM", &self.chromium)
            .env("COSELL_SCREENSHOTS", &self.shots)
            .spawn()
            .expect("cannot start `node` (install Node.js 20+)");
        wait_bounded(&mut child, timeout).unwrap_or_else(|| {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{script} did not finish within {timeout:?}")
        })
    }
}
