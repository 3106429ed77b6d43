//! The node as a program and an HTTP service: `init`, `serve` and stopping by signal; the
//! admin token; the API's conventions (401, 404, 405, 400, 413 and 415 as JSON errors that name
//! what was wrong), OpenAPI, metrics and the web UI at the root.
//!
//! Goal: a node starts, answers and stops as documented, and every refusal is one sentence.
//! Method: every test starts the real binary on loopback (port 0) in its own temporary
//! directory, with good and bad arguments, requests and signals, and reads its exit status,
//! stderr, files and answers.

use cosell_e2e::{accounts_csv, assert_error_shape, program, run_cosell, Node};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

/// Every file in `dir` with its mode and contents.
fn snapshot(dir: &Path) -> BTreeMap<String, (u32, Vec<u8>)> {
    std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| {
            let e = e.expect("dir entry");
            let meta = e.metadata().expect("metadata");
            let contents = if meta.is_file() {
                std::fs::read(e.path()).expect("read")
            } else {
                Vec::new()
            };
            (
                e.file_name().to_string_lossy().into_owned(),
                (meta.permissions().mode(), contents),
            )
        })
        .collect()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// An error sentence on stderr: exactly one non-empty line, no panic, no backtrace.
fn assert_one_sentence(stderr: &str) {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one error line, got:\n{stderr}");
    assert!(
        !stderr.contains("panicked"),
        "a panic, not an error: {stderr}"
    );
}

#[test]
fn the_test_harness_runs_the_binary_cargo_built() {
    assert_eq!(
        program(),
        Path::new(env!("CARGO_BIN_EXE_cosell-under-test"))
    );
}

#[test]
fn init_prints_the_node_id_alone_and_writes_secrets_with_mode_0600() {
    let node = Node::init("Acme");
    // Node::init took stdout as the id: it must be one libp2p PeerId and nothing else.
    assert!(node.id.starts_with("12D3KooW"), "id {:?}", node.id);
    assert!(
        !node.id.contains(char::is_whitespace),
        "stdout held more than the id: {:?}",
        node.id
    );
    assert_eq!(mode(&node.dir().join("identity.key")), 0o600);
    assert_eq!(mode(&node.dir().join("admin.token")), 0o600);
    // The CRM data and token hashes are as private as the key (bug: the database was 0644).
    assert_eq!(mode(&node.dir().join("cosell.redb")), 0o600);
    assert_eq!(mode(&node.dir()), 0o700, "a data directory init created");
    assert!(!node.token().is_empty());
}

#[test]
fn init_prints_exactly_one_line_on_stdout() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("d");
    let out = run_cosell(
        &["init", "--name", "Acme", "--data", data.to_str().unwrap()],
        &[],
        Duration::from_secs(60),
    );
    assert!(out.ok(), "{}", out.stderr);
    assert_eq!(out.stdout.lines().count(), 1, "stdout: {:?}", out.stdout);
    assert!(out.stdout.ends_with('\n'));
}

#[test]
fn init_twice_is_refused_and_leaves_the_directory_untouched() {
    let node = Node::init("Acme");
    let before = snapshot(&node.dir());
    let out = node.cli(&["init", "--name", "Other"]);
    assert!(!out.ok(), "second init succeeded: {}", out.stdout);
    assert!(out.stdout.is_empty(), "stdout: {}", out.stdout);
    assert_one_sentence(&out.stderr);
    assert_eq!(
        snapshot(&node.dir()),
        before,
        "the refused init changed the directory"
    );
}

#[test]
fn init_refuses_to_replace_a_stray_file_and_names_it() {
    // Bug: an (empty) `admin.token` left in an uninitialized directory was silently replaced.
    // Every file init would write is refused by name, and nothing is written.
    for stray in [
        "admin.token",
        "cosell.toml",
        "identity.key",
        "cosell.redb",
        "admin.tmp",
    ] {
        let tmp = tempfile::tempdir().expect("tmp");
        let data = tmp.path().join("d");
        std::fs::create_dir(&data).expect("dir");
        std::fs::write(data.join(stray), b"").expect("stray file");
        std::fs::write(data.join("notes.txt"), b"mine").expect("another file");
        let before = snapshot(&data);
        let out = run_cosell(
            &["init", "--name", "Acme", "--data", data.to_str().unwrap()],
            &[],
            Duration::from_secs(60),
        );
        assert!(!out.ok(), "{stray}: init succeeded: {}", out.stdout);
        assert!(out.stdout.is_empty(), "stdout: {}", out.stdout);
        assert_one_sentence(&out.stderr);
        assert!(
            out.stderr.contains(&data.join(stray).display().to_string()),
            "{stray}: {}",
            out.stderr
        );
        assert_eq!(
            snapshot(&data),
            before,
            "{stray}: the refused init changed the directory"
        );
    }
}

#[test]
fn serve_writes_node_json_and_sigterm_stops_cleanly_removing_it() {
    let mut node = Node::init("Acme Cloud");
    node.serve();
    let info = node.node_json().expect("node.json");
    assert_eq!(info["id"], node.id.as_str());
    assert_eq!(info["name"], "Acme Cloud");
    let http = info["http"].as_str().expect("http");
    assert!(http.starts_with("http://127.0.0.1:"), "{http}");
    assert!(
        !http.ends_with(":0"),
        "port 0 must be replaced by the real port"
    );
    let p2p = info["p2p"].as_array().expect("p2p is a list");
    for addr in p2p {
        let addr = addr.as_str().expect("p2p address");
        assert!(
            addr.starts_with("/ip4/127.0.0.1/tcp/") && addr.ends_with(&format!("/p2p/{}", node.id)),
            "{addr}"
        );
    }
    let me = node.get("/api/v1/node");
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.json["id"], node.id.as_str());
    assert_eq!(me.json["name"], "Acme Cloud");
    assert_eq!(me.json["http"], http);
    assert!(me.json["version"].is_string());

    node.stop();
    assert!(
        !node.dir().join("node.json").exists(),
        "node.json is left behind after a clean stop"
    );
    // The log went to a file: plain text, no terminal colour codes (bug: ANSI escapes).
    let log = node.log();
    assert!(log.contains("INFO"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "colour codes in a log file: {log:?}"
    );
}

#[test]
fn serve_with_a_bad_p2p_address_fails_with_one_sentence_before_starting_anything() {
    let node = Node::init("Acme");
    let data = node.dir();
    let data_arg = data.to_str().unwrap();
    // Each cause once, before anything starts (no log lines, no node.json), in a sentence that
    // names the address and what is wrong, never the multiaddr parser's words (bug: `/tcp/-1`
    // and `/unix/x` answered with libp2p's parse errors): no leading slash, a port out of
    // range, no IP address, a protocol or transport the node does not run (named), the old
    // QUIC spelling, a node id copied along from node.json, and no address at all (an empty
    // COSELL_P2P would start a node no partner can reach).
    const IS_NOT: &str = "is not a listen address:";
    for (p2p, env, says) in [
        (
            Some("tcp/7601"),
            None,
            format!("'tcp/7601' {IS_NOT} it must start with /; use /ip4/ADDRESS/tcp/PORT"),
        ),
        (
            Some("/ip4/127.0.0.1/tcp/99999"),
            None,
            format!(
                "'/ip4/127.0.0.1/tcp/99999' {IS_NOT} 99999 is not a port number (0 to 65535; 0 \
                 picks a free one)\n"
            ),
        ),
        (
            Some("/tcp/-1"),
            None,
            format!("'/tcp/-1' {IS_NOT} -1 is not a port number (0 to 65535; 0 picks a free one)"),
        ),
        (
            Some("/tcp/7601"),
            None,
            format!("'/tcp/7601' {IS_NOT} it has no IP address before /tcp; use /ip4/ADDRESS"),
        ),
        (
            Some("/unix/x"),
            None,
            format!("'/unix/x' {IS_NOT} unix is not a protocol the node listens on; use /ip4/"),
        ),
        (
            Some("/dns/localhost/tcp/0"),
            None,
            format!("{IS_NOT} a name (dns) cannot be listened on, only an IP address"),
        ),
        (
            Some("/ip4/300.0.0.1/tcp/0"),
            None,
            format!("{IS_NOT} 300.0.0.1 is not an IPv4 address"),
        ),
        (
            Some("/ip4/127.0.0.1/udp/0/quic"),
            None,
            format!(
                "'/ip4/127.0.0.1/udp/0/quic' {IS_NOT} it uses the old QUIC draft; write \
                 /udp/0/quic-v1"
            ),
        ),
        (
            Some("/ip4/127.0.0.1/udp/0"),
            None,
            format!("{IS_NOT} UDP needs QUIC; write /udp/0/quic-v1"),
        ),
        (
            Some("/ip4/127.0.0.1/tcp/0/ws"),
            None,
            format!(
                "'/ip4/127.0.0.1/tcp/0/ws' {IS_NOT} /ws after /tcp/0 is not something the node \
                 listens on; use /ip4/ADDRESS/tcp/PORT"
            ),
        ),
        (
            Some("/ip4/127.0.0.1/tcp/0/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN"),
            None,
            format!("{IS_NOT} a listen address ends at the port, without the node's id (/p2p/"),
        ),
        (
            None,
            Some(("COSELL_P2P", "")),
            "no address to listen on for partners".to_string(),
        ),
    ] {
        let mut args = vec!["serve", "--data", data_arg, "--http", "127.0.0.1:0"];
        args.extend(p2p.map(|a| ["--p2p", a]).into_iter().flatten());
        let out = run_cosell(&args, &Vec::from_iter(env), Duration::from_secs(30));
        assert!(!out.ok(), "{p2p:?}");
        assert_one_sentence(&out.stderr);
        assert!(out.stderr.contains(&says), "{p2p:?}: {}", out.stderr);
        assert!(!out.stderr.contains("INFO"), "{p2p:?}: {}", out.stderr);
        for parser_word in ["invalid", "multiaddr", "Multiaddr", "parse"] {
            assert!(!out.stderr.contains(parser_word), "{p2p:?}: {}", out.stderr);
        }
        assert!(!data.join("node.json").exists());
    }
}

#[test]
fn a_second_serve_on_the_same_directory_fails_with_a_clear_message() {
    let mut node = Node::init("Acme");
    node.serve();
    let before = node.node_json().expect("node.json");
    let dir = node.dir();
    let out = run_cosell(
        &[
            "serve",
            "--data",
            dir.to_str().unwrap(),
            "--http",
            "127.0.0.1:0",
            "--p2p",
            "/ip4/127.0.0.1/tcp/0",
        ],
        &[],
        Duration::from_secs(30),
    );
    assert!(!out.ok(), "second serve succeeded");
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    let last = out.stderr.lines().rev().find(|l| !l.trim().is_empty());
    let last = last.unwrap_or_default().to_lowercase();
    assert!(
        last.contains("already") || last.contains("running") || last.contains("lock"),
        "the error should say the node is already running: {}",
        out.stderr
    );
    // The first node is unharmed.
    assert_eq!(node.node_json(), Some(before));
    assert_eq!(node.get("/api/v1/node").status, 200);
    node.stop();
}

#[test]
fn serve_on_an_uninitialized_directory_fails_with_one_sentence() {
    let tmp = tempfile::tempdir().expect("tmp");
    let out = run_cosell(
        &[
            "serve",
            "--data",
            tmp.path().to_str().unwrap(),
            "--http",
            "127.0.0.1:0",
        ],
        &[("RUST_LOG", "off")],
        Duration::from_secs(30),
    );
    assert!(!out.ok());
    assert_one_sentence(&out.stderr);
}

#[test]
fn api_without_a_token_or_with_a_bad_one_is_401_with_a_json_error() {
    let mut node = Node::init("Acme");
    node.serve();
    let url = format!("{}/api/v1/accounts", node.url());
    let none = cosell_e2e::http("GET", &url, None, None, None);
    assert_error_shape(&none, 401);
    let bad = cosell_e2e::http("GET", &url, Some("not-the-token"), None, None);
    assert_error_shape(&bad, 401);
    let almost = format!("{}x", node.token());
    let almost = cosell_e2e::http("GET", &url, Some(&almost), None, None);
    assert_error_shape(&almost, 401);

    // A write without a token writes nothing.
    let import = cosell_e2e::http(
        "POST",
        &format!("{}/api/v1/import/accounts", node.url()),
        None,
        Some("text/csv"),
        Some(accounts_csv(3).as_bytes()),
    );
    assert_error_shape(&import, 401);
    assert_eq!(node.counts(), (0, 0));

    assert_eq!(node.get("/api/v1/accounts").status, 200);
}

#[test]
fn an_unknown_api_route_is_a_json_404() {
    let mut node = Node::init("Acme");
    node.serve();
    let r = node.get("/api/v1/no-such-thing");
    assert_error_shape(&r, 404);
    // The message names the path the caller asked for, prefix included (bug: "/no-such-thing").
    assert_eq!(
        r.json["error"], "no route GET /api/v1/no-such-thing",
        "{}",
        r.text
    );
    // Paths outside the nested API router too (bug: an empty 404 from the web UI's files).
    for path in ["/api/v1/", "/api/v2/node"] {
        let r = node.get(path);
        assert_error_shape(&r, 404);
        assert_eq!(
            r.json["error"],
            format!("no route GET {path}"),
            "{}",
            r.text
        );
    }
    assert_error_shape(
        &node.get("/api/v1/opportunities/01J000000000000000000000"),
        404,
    );
    assert_error_shape(&node.get("/api/v1/accounts/nope"), 404);
}

#[test]
fn openapi_json_documents_every_route() {
    let mut node = Node::init("Acme");
    node.serve();
    let doc = cosell_e2e::http(
        "GET",
        &format!("{}/api/v1/openapi.json", node.url()),
        None,
        None,
        None,
    );
    assert_eq!(doc.status, 200, "{}", doc.text);
    assert!(doc.json["openapi"].is_string(), "not an OpenAPI document");
    let paths = doc.json["paths"].as_object().expect("paths");
    let documented: BTreeSet<String> = paths
        .iter()
        .flat_map(|(path, ops)| {
            let path = path.strip_prefix("/api/v1").unwrap_or(path).to_string();
            ops.as_object()
                .into_iter()
                .flat_map(|o| o.keys())
                .map(move |m| format!("{} {path}", m.to_uppercase()))
        })
        .collect();
    for route in [
        "GET /node",
        "GET /accounts",
        "POST /accounts",
        "GET /accounts/{id}",
        "GET /opportunities",
        "POST /opportunities",
        "GET /opportunities/{id}",
        "PATCH /opportunities/{id}",
        "POST /import/accounts",
        "POST /import/opportunities",
        "GET /openapi.json",
    ] {
        assert!(
            documented.contains(route),
            "{route} is not in openapi.json: {documented:?}"
        );
    }
    // Bug: the list routes did not list their query parameters. Each lists what its handler
    // reads, from the same declaration.
    let query = |path: &str| -> Vec<String> {
        paths[path]["get"]["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "query")
            .map(|p| p["name"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(query("/accounts"), ["q", "limit", "cursor"]);
    assert_eq!(
        query("/opportunities"),
        ["stage", "account_id", "q", "limit", "cursor"]
    );
    assert_eq!(
        query("/deals"),
        ["status", "stage", "partner", "limit", "cursor"]
    );
    assert_eq!(query("/inbox"), ["status", "limit", "cursor"]);
    for path in ["/partners", "/registrations", "/audit"] {
        let names = query(path);
        assert!(
            names.contains(&"limit".to_string()) && names.contains(&"cursor".to_string()),
            "{path}: {names:?}"
        );
    }
}

#[test]
fn metrics_count_requests_by_route_and_status_and_records_by_kind() {
    let mut node = Node::init("Acme");
    node.serve();
    let r = node.post_csv("/api/v1/import/accounts", accounts_csv(5).as_bytes());
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(node.get("/api/v1/accounts").status, 200);
    assert_eq!(node.get("/api/v1/nope").status, 404);
    let m = cosell_e2e::http("GET", &format!("{}/metrics", node.url()), None, None, None);
    assert_eq!(m.status, 200);
    assert!(
        m.content_type.starts_with("text/plain"),
        "{}",
        m.content_type
    );
    let has = |needle: &str| m.text.lines().any(|l| l.contains(needle));
    assert!(
        has("# TYPE cosell_http_requests_total counter"),
        "{}",
        m.text
    );
    assert!(
        m.text
            .lines()
            .any(|l| l.starts_with("cosell_http_requests_total{")
                && l.contains("route=\"/api/v1/accounts\"")
                && l.contains("status=\"200\"")),
        "{}",
        m.text
    );
    assert!(
        has("cosell_http_requests_total{") && has("status=\"404\""),
        "{}",
        m.text
    );
    assert!(
        has("cosell_http_request_duration_seconds_bucket"),
        "{}",
        m.text
    );
    assert_eq!(node.counts(), (5, 0));
}

#[test]
fn sigint_stops_the_node_cleanly_too() {
    let mut node = Node::init("Acme");
    node.serve();
    node.stop_with(libc::SIGINT);
    assert!(!node.dir().join("node.json").exists());
}

#[test]
fn serve_on_a_busy_http_port_fails_with_one_sentence_and_leaves_the_other_node_alone() {
    let mut first = Node::init("First");
    first.serve();
    let busy = first.url().trim_start_matches("http://").to_string();
    let second = Node::init("Second");
    let dir = second.dir();
    let out = run_cosell(
        &["serve", "--data", dir.to_str().unwrap(), "--http", &busy],
        &[("RUST_LOG", "off")],
        Duration::from_secs(30),
    );
    assert!(!out.ok(), "serve on a busy port succeeded");
    assert_one_sentence(&out.stderr);
    assert!(
        out.stderr.contains(&busy),
        "name the address: {}",
        out.stderr
    );
    assert!(
        !dir.join("node.json").exists(),
        "node.json of a node that never ran"
    );
    assert_eq!(first.get("/api/v1/node").json["name"], "First");
}

#[test]
fn serve_on_a_p2p_port_another_node_listens_on_fails_with_one_sentence() {
    // Bug: libp2p's listener sets SO_REUSEPORT, so the second node started on the same port
    // and the kernel split partner connections between the two.
    let mut first = Node::init("First");
    first.serve();
    let info = first.node_json().expect("node.json");
    let taken = info["p2p"][0].as_str().expect("p2p address");
    let taken = &taken[..taken.find("/p2p/").expect("/p2p/ suffix")];
    let second = Node::init("Second");
    let dir = second.dir();
    let out = run_cosell(
        &[
            "serve",
            "--data",
            dir.to_str().unwrap(),
            "--http",
            "127.0.0.1:0",
            "--p2p",
            taken,
        ],
        &[("RUST_LOG", "off")],
        Duration::from_secs(30),
    );
    assert!(!out.ok(), "a second node started on {taken}");
    assert_one_sentence(&out.stderr);
    assert!(out.stderr.contains("in use"), "{}", out.stderr);
    assert!(!dir.join("node.json").exists());
    assert_eq!(first.get("/api/v1/node").json["name"], "First");
}

#[test]
fn a_node_json_left_by_a_killed_node_is_removed_even_when_the_next_start_fails() {
    let mut first = Node::init("First");
    first.serve();
    let busy = first.url().trim_start_matches("http://").to_string();
    let mut second = Node::init("Second");
    second.serve();
    second.kill9();
    let dir = second.dir();
    assert!(dir.join("node.json").exists(), "kill -9 leaves node.json");
    let out = run_cosell(
        &["serve", "--data", dir.to_str().unwrap(), "--http", &busy],
        &[("RUST_LOG", "off")],
        Duration::from_secs(30),
    );
    assert!(!out.ok(), "serve on a busy port succeeded");
    // Bug: the dead node's address stayed in node.json, so the CLI kept dialling it.
    assert!(
        !dir.join("node.json").exists(),
        "stale node.json left behind"
    );
}

#[test]
fn the_admin_token_is_not_stored_in_the_database() {
    let node = Node::init("Acme");
    let token = node.token();
    assert!(
        token.len() >= 32,
        "a guessable token: {} chars",
        token.len()
    );
    let db = std::fs::read(node.dir().join("cosell.redb")).expect("database");
    assert!(
        !db.windows(token.len()).any(|w| w == token.as_bytes()),
        "the admin token is stored in clear in cosell.redb"
    );
    let config = std::fs::read_to_string(node.dir().join("cosell.toml")).expect("config");
    assert!(
        !config.contains(&token),
        "the admin token is in cosell.toml"
    );
}

#[test]
fn a_wrong_method_on_a_known_route_is_a_json_405() {
    let mut node = Node::init("Acme");
    node.serve();
    let r = node.request("DELETE", "/api/v1/accounts", None, None);
    assert_error_shape(&r, 405);
    let r = node.request("PUT", "/api/v1/node", Some("application/json"), Some(b"{}"));
    assert_error_shape(&r, 405);
}

#[test]
fn a_json_body_over_the_limit_is_a_json_413() {
    let mut node = Node::init("Acme");
    node.serve();
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(2 * 1024 * 1024));
    // The node answers 413 from the Content-Length and closes the connection; a client still
    // writing the body may see a broken pipe first and lose the answer (a race in every HTTP
    // stack, not a node failure), so a transport error is retried, a wrong answer is not.
    let url = format!("{}/api/v1/accounts", node.url());
    let token = node.token();
    let r = (0..5)
        .find_map(|_| {
            cosell_e2e::try_http(
                "POST",
                &url,
                Some(&token),
                Some("application/json"),
                Some(big.as_bytes()),
            )
            .ok()
        })
        .expect("five transport failures in a row");
    assert_error_shape(&r, 413);
    assert_eq!(node.counts(), (0, 0));
}

#[test]
fn the_web_ui_is_served_at_the_root() {
    let mut node = Node::init("Acme");
    node.serve();
    let r = cosell_e2e::http("GET", &format!("{}/", node.url()), None, None, None);
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.content_type.starts_with("text/html"),
        "{}",
        r.content_type
    );
}

#[test]
fn a_bad_query_parameter_is_a_400_naming_the_parameter_and_what_it_takes() {
    // Bug: `GET /api/v1/accounts?limit=abc` answered serde's text ("invalid query: Failed to
    // deserialize query string: limit: invalid digit found in string"), and the inbox and
    // registrations lists answered it as plain text, not the API's error JSON.
    let mut node = Node::init("Acme");
    node.serve();
    let not_a_number = |value: &str| format!("'{value}' is not a whole number (1 to 1000)");
    for (path, value) in [
        ("/api/v1/accounts", "abc"),
        ("/api/v1/opportunities", "1.5"),
        ("/api/v1/deals", "ten"),
        ("/api/v1/inbox", "x"),
        ("/api/v1/registrations", "-1"),
        ("/api/v1/audit", ""),
        ("/api/v1/partners", "1e3"),
    ] {
        let r = node.get(&format!("{path}?limit={value}"));
        assert_eq!(r.status, 400, "{path}: {}", r.text);
        let message = not_a_number(value);
        assert_eq!(
            r.json,
            json!({"error": format!("limit: {message}"),
                   "details": [{"parameter": "limit", "message": message}]}),
            "{path}"
        );
    }
    // A filter's value it cannot have is refused too, not answered with nothing.
    let r = node.get("/api/v1/audit?kind=bogus");
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.json["details"][0]["parameter"], "kind", "{}", r.text);
    let out = node.cli(&["audit", "--kind", "bogus"]);
    assert!(!out.ok(), "{}", out.stdout);
    assert!(
        out.stderr.contains("is not a kind of audit entry"),
        "{}",
        out.stderr
    );
    let r = node.get("/api/v1/audit?kind=registration");
    assert_eq!(r.status, 200, "{}", r.text);
    let r = node.get("/api/v1/accounts?limit=5&limit=6");
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.json["error"], "limit: given twice; give it once");
    // Good values, and parameters a route does not read, still work.
    let r = node.get("/api/v1/opportunities?limit=5&stage=Technical%20Validation&_=17");
    assert_eq!(r.status, 200, "{}", r.text);
}

#[test]
fn a_body_that_is_no_json_or_too_large_is_told_what_the_route_takes() {
    // Bugs: a POST without a JSON body answered "invalid JSON body: Expected request with
    // `Content-Type: application/json`", and a body over the limit "invalid JSON body: Failed
    // to buffer the request body: length limit exceeded", naming no limit.
    let mut node = Node::init("Acme");
    node.serve();
    let r = node.request("POST", "/api/v1/accounts", None, None);
    assert_eq!(r.status, 415, "{}", r.text);
    assert!(
        r.json["error"]
            .as_str()
            .unwrap_or_default()
            .starts_with("this route takes a JSON body"),
        "{}",
        r.text
    );
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let r = node.request(
        "POST",
        "/api/v1/accounts",
        Some("application/json"),
        Some(big.as_bytes()),
    );
    assert_eq!(r.status, 413, "{}", r.text);
    assert_eq!(
        r.json["error"],
        "the request body is larger than this route takes (1024 KiB of JSON)"
    );
}

#[test]
fn a_body_far_over_the_limit_is_answered_413_not_cut_off() {
    // Bug (flaky in CI): the node answered 413 as soon as the declared length was over the
    // limit and closed the connection with the rest of the body unread; the kernel then reset
    // it, and a client still sending (ureq, Python's requests) saw "broken pipe" instead of
    // the answer. What a handler leaves of a body is now read off (up to a bound) first.
    let mut node = Node::init("Acme");
    node.serve();
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(8 * 1024 * 1024));
    for _ in 0..5 {
        let r = cosell_e2e::try_http(
            "POST",
            &format!("{}/api/v1/accounts", node.url()),
            Some(&node.token()),
            Some("application/json"),
            Some(big.as_bytes()),
        )
        .unwrap_or_else(|e| panic!("no answer to an 8 MiB body: {e}"));
        assert_eq!(r.status, 413, "{}", r.text);
    }
}

#[test]
fn a_node_stops_promptly_while_a_browser_holds_the_event_stream() {
    // Bug: `serve` waited for ever on SIGTERM while a client held `GET /api/v1/events` open
    // (the web UI always does); it stopped only when the client went away.
    use std::io::{Read, Write};
    let mut node = Node::init("Acme");
    node.serve();
    let addr = node.url().trim_start_matches("http://").to_string();
    let mut stream = std::net::TcpStream::connect(&addr).expect("connect");
    write!(
        stream,
        "GET /api/v1/events HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\r\n",
        node.token()
    )
    .expect("request");
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).expect("response");
    assert_eq!(&head, b"HTTP/1.1 200", "the stream is open");
    // `stop` fails unless the node exits cleanly within its bound (STOP_TIMEOUT).
    node.stop();
    drop(stream);
}

#[test]
fn every_response_carries_the_security_headers() {
    // Security review (issue 19, low): no response said what a browser may do with it. Every
    // answer (web UI files, API, errors, metrics) forbids framing, sniffing, referrers, and
    // content from anywhere but the node itself.
    let mut node = Node::init("Headers Co");
    node.serve();
    let token = node.token();
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(30))
        .build();
    for (path, with_token, status) in [
        ("/", false, 200),
        ("/js/app.js", false, 200),
        ("/style.css", false, 200),
        ("/no-such-file", false, 404),
        ("/api/v1/node", true, 200),
        ("/api/v1/node", false, 401),
        ("/api/v1/no-such-route", true, 404),
        ("/api/v1/openapi.json", false, 200),
        ("/metrics", false, 200),
    ] {
        let mut request = agent.get(&format!("{}{path}", node.url()));
        if with_token {
            request = request.set("Authorization", &format!("Bearer {token}"));
        }
        let response = match request.call() {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("GET {path}: {e}"),
        };
        assert_eq!(response.status(), status, "{path}");
        let csp = response
            .header("content-security-policy")
            .unwrap_or_else(|| panic!("{path}: no Content-Security-Policy"));
        for directive in [
            "default-src 'self'",
            "frame-ancestors 'none'",
            "object-src 'none'",
            "base-uri 'none'",
        ] {
            assert!(csp.contains(directive), "{path}: {csp}");
        }
        assert!(!csp.contains("unsafe"), "{path}: {csp}");
        assert_eq!(response.header("x-frame-options"), Some("DENY"), "{path}");
        assert_eq!(
            response.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(
            response.header("referrer-policy"),
            Some("no-referrer"),
            "{path}"
        );
    }
}

#[test]
fn the_web_ui_needs_nothing_the_content_security_policy_forbids() {
    // The policy allows scripts and styles from the node's own files only: no inline
    // <script>, <style>, style="…" or on…= handler may appear in the pages.
    let web_ui = Path::new(env!("CARGO_MANIFEST_DIR")).join("../web-ui");
    let mut pages = 0;
    for entry in std::fs::read_dir(&web_ui).expect("web-ui") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("html") {
            continue;
        }
        pages += 1;
        let html = std::fs::read_to_string(&path).expect("page").to_lowercase();
        for (at, _) in html.match_indices("<script") {
            let tag = &html[at..at + html[at..].find('>').expect("tag end")];
            assert!(
                tag.contains(" src="),
                "{}: inline script {tag}",
                path.display()
            );
        }
        assert!(!html.contains("<style"), "{}: <style>", path.display());
        assert!(!html.contains(" style="), "{}: style=", path.display());
        let handler = html
            .split(|c: char| c.is_whitespace())
            .find(|w| w.starts_with("on") && w.contains('='));
        assert_eq!(handler, None, "{}: inline handler", path.display());
    }
    assert!(pages > 0, "no pages in {}", web_ui.display());
}
