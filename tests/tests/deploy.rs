//! What an operator relies on in production (deploy/): health endpoints and `cosell health`,
//! JSON logs, backup and restore while the node works, HTTPS, and upgrades that keep data.
//!
//! Goal: each promise of deploy/README.md holds against real `cosell` processes on loopback.
//! Method: nodes from tests/lib.rs; signals sent by pid; backups taken while an import and a
//! partner sync run; a self-signed certificate made in the test; the data directory and the
//! wire messages recorded from release 0.1.0 (tests/fixtures) read by this build.

use cosell_e2e::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Sends `signal` to the node's process without waiting.
fn signal(node: &Node, signal: i32) {
    // SAFETY: plain kill(2) on our own child's pid.
    unsafe {
        libc::kill(node.pid() as libc::pid_t, signal);
    }
}

/// `GET url` without credentials: (status, body).
fn get_plain(url: &str) -> (u16, String) {
    let r = http("GET", url, None, None, None);
    (r.status, r.text)
}

#[test]
fn health_endpoints_answer_unauthenticated_and_readiness_turns_503_while_the_node_drains() {
    let mut node = Node::init("Health Co");
    set_setting(&node, "shutdown_delay_ms", "4000");
    node.serve();
    let url = node.url().to_string();
    // One word of status, nothing else (no id, version or counts for whoever can reach it).
    assert_eq!(
        get_plain(&format!("{url}/healthz")),
        (200, r#"{"status":"ok"}"#.to_string())
    );
    assert_eq!(
        get_plain(&format!("{url}/readyz")),
        (200, r#"{"status":"ready"}"#.to_string())
    );
    let out = node.cli(&["health"]);
    assert!(out.ok(), "health: {}", out.stderr);
    assert_eq!(out.stdout.trim(), "ready");
    assert!(node.cli(&["health", "--live"]).ok());

    signal(&node, libc::SIGTERM);
    let (status, body) = wait("/readyz 503 while draining", || {
        let r = try_http("GET", &format!("{url}/readyz"), None, None, None).ok()?;
        (r.status == 503).then_some((r.status, r.text))
    });
    assert_eq!(
        (status, body.as_str()),
        (503, r#"{"status":"shutting down"}"#)
    );
    // Still alive and still serving while it drains.
    assert_eq!(get_plain(&format!("{url}/healthz")).0, 200);
    assert_eq!(node.get("/api/v1/node").status, 200);
    let out = node.cli(&["health"]);
    assert!(!out.ok(), "not ready while draining");
    assert!(out.stderr.contains("shutting down"), "{}", out.stderr);
    node.stop();
    let out = node.cli(&["health"]);
    assert!(!out.ok());
    assert!(out.stderr.contains("not running"), "{}", out.stderr);
}

#[test]
fn json_logs_are_one_object_per_line_and_never_hold_a_token_or_password() {
    let mut vendor = Node::init("Json Vendor");
    let mut reseller = Node::init("Json Reseller");
    vendor.serve_with(&[P2P_TCP_LOOPBACK], &[("COSELL_LOG_FORMAT", "json")]);
    reseller.serve_with(&[P2P_TCP_LOOPBACK], &[("COSELL_LOG_FORMAT", "json")]);
    // Secrets that pass through the node: the admin token, an invite, an API token, a password.
    let invite = vendor.cli(&["partner", "invite", "--type", "reseller"]);
    assert!(invite.ok(), "{}", invite.stderr);
    let invite = invite.stdout.trim().to_string();
    let join = reseller.cli(&["partner", "join", &invite, "--type", "vendor"]);
    assert!(join.ok(), "{}", join.stderr);
    let api_token = post_ok(
        &vendor,
        "/api/v1/tokens",
        json!({"name": "ci", "role": "viewer"}),
        201,
    )["token"]
        .as_str()
        .expect("token")
        .to_string();
    let password = "correct horse battery staple";
    post_ok(
        &vendor,
        "/api/v1/users",
        json!({"username": "ana", "password": password, "role": "manager"}),
        201,
    );
    let wrong = http(
        "POST",
        &format!("{}/api/v1/session", vendor.url()),
        None,
        Some("application/json"),
        Some(br#"{"username":"ana","password":"not the password!"}"#),
    );
    assert_eq!(wrong.status, 401);
    let r = vendor.post_csv("/api/v1/import/accounts", accounts_csv(5).as_bytes());
    assert_eq!(r.status, 200, "{}", r.text);
    let bad = http(
        "GET",
        &format!("{}/api/v1/node", vendor.url()),
        Some("wrong-token-value-1234"),
        None,
        None,
    );
    assert_eq!(bad.status, 401);
    let secrets = [
        vendor.token(),
        reseller.token(),
        invite,
        api_token,
        password.to_string(),
        "wrong-token-value-1234".to_string(),
    ];
    vendor.stop();
    reseller.stop();
    for node in [&vendor, &reseller] {
        let log = node.log();
        let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
        assert!(lines.len() >= 3, "too few log lines:\n{log}");
        for line in &lines {
            let v: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not one JSON object per line ({e}): {line}"));
            for key in ["timestamp", "level", "target"] {
                assert!(v.get(key).is_some(), "no {key} in {line}");
            }
            // cosell's own events always say something (a library may log fields only).
            if v["target"]
                .as_str()
                .is_some_and(|t| t.starts_with("cosell"))
            {
                assert!(v["message"].is_string(), "no message in {line}");
            }
        }
        assert!(
            lines.iter().any(|l| l.contains(r#""message":"node ready""#)
                && l.contains(&format!(r#""id":"{}""#, node.id))),
            "the ready line carries its fields:\n{log}"
        );
        for secret in &secrets {
            assert!(
                !log.contains(secret.as_str()),
                "a secret in the log:\n{log}"
            );
        }
    }
}

/// The deal's view on `node`, once it has it.
fn deal_view(node: &Node, deal: &str) -> Option<Value> {
    let r = node.get(&format!("/api/v1/deals/{deal}"));
    (r.status == 200).then_some(r.json)
}

/// The notes `author` wrote in its section of `deal`, as `node` sees them.
fn notes(node: &Node, deal: &str, author: &str) -> Vec<String> {
    deal_view(node, deal)
        .and_then(|v| v["sections"][author]["notes"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|n| n.as_str().map(str::to_string))
        .collect()
}

fn write_note(node: &Node, deal: &str, note: &str) {
    let r = node.patch(&format!("/api/v1/deals/{deal}"), &json!({"note": note}));
    assert_eq!(r.status, 200, "note: {}", r.text);
}

#[test]
fn a_backup_taken_during_an_import_and_a_sync_restores_a_node_that_converges_with_nothing_lost() {
    let (mut vendor, reseller) = vendor_and_reseller(&[], NAME_STAGE_AND_DOMAIN);
    let r = vendor.post_csv("/api/v1/import/accounts", accounts_csv(50).as_bytes());
    assert_eq!(r.status, 200, "{}", r.text);
    let deal = shared_deal(&vendor, &reseller, "backup.example");
    let r = reseller.post(&format!("/api/v1/deals/{deal}/accept"), &json!({}));
    assert_eq!(r.status, 200, "{}", r.text);
    wait("the deal on the reseller", || deal_view(&reseller, &deal));
    write_note(&vendor, &deal, "vendor before the backup");
    let before = vendor.counts();

    // An import of 20k opportunities and a stream of shared changes run while the backup is
    // taken; the backup holds all of the import or none of it.
    let url = vendor.url().to_string();
    let token = vendor.token();
    let importer = std::thread::spawn(move || {
        let csv = opportunities_csv(20_000, 50);
        http(
            "POST",
            &format!("{url}/api/v1/import/opportunities"),
            Some(&token),
            Some("text/csv"),
            Some(csv.as_bytes()),
        )
    });
    let syncer = {
        let url = reseller.url().to_string();
        let token = reseller.token();
        let deal = deal.clone();
        std::thread::spawn(move || {
            for i in 0..6 {
                let r = http(
                    "PATCH",
                    &format!("{url}/api/v1/deals/{deal}"),
                    Some(&token),
                    Some("application/json"),
                    Some(
                        json!({"note": format!("reseller during {i}")})
                            .to_string()
                            .as_bytes(),
                    ),
                );
                assert_eq!(r.status, 200, "{}", r.text);
                std::thread::sleep(Duration::from_millis(150));
            }
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let file = vendor.scratch().join("vendor.backup");
    let out = vendor.cli(&["backup", file.to_str().expect("path")]);
    assert!(out.ok(), "backup: {}", out.stderr);
    assert!(
        out.stderr
            .contains("identity.key, cosell.toml, admin.token"),
        "{}",
        out.stderr
    );
    let imported = importer.join().expect("import thread");
    assert_eq!(imported.status, 200, "{}", imported.text);
    syncer.join().expect("sync thread");

    // Shared changes after the backup, by both sides: the partner holds them all.
    write_note(&vendor, &deal, "vendor after the backup");
    write_note(&reseller, &deal, "reseller after the backup");
    wait("the reseller holds every vendor note", || {
        (notes(&reseller, &deal, &vendor.id).len() == 2).then_some(())
    });
    let reseller_notes = notes(&reseller, &deal, &reseller.id);
    assert_eq!(reseller_notes.len(), 7, "{reseller_notes:?}");

    // The vendor's machine is lost; its backup is restored elsewhere.
    vendor.kill9();
    let mut restored = Node::uninitialized("Restored Vendor");
    let out = restore_backup(&file, &restored.dir());
    assert!(out.ok(), "restore: {}", out.stderr);
    assert_eq!(out.stdout.trim(), vendor.id, "the same node id");
    restored.id = out.stdout.trim().to_string();
    {
        // The partner sync states are as old as the backup: restore drops them (with them, each
        // side could believe the other holds everything and never send what changed since).
        use redb::{ReadableDatabase, ReadableTableMetadata};
        let states: redb::TableDefinition<(&str, &str), &[u8]> =
            redb::TableDefinition::new("sync_states");
        let db = redb::Database::create(restored.dir().join("cosell.redb")).expect("open");
        let txn = db.begin_read().expect("read");
        assert_eq!(
            txn.open_table(states).expect("table").len().expect("len"),
            0
        );
    }
    restored.serve();
    assert_eq!(restored.get("/api/v1/node").json["id"], vendor.id.as_str());
    let (accounts, opportunities) = restored.counts();
    assert_eq!(accounts, before.0, "accounts from before the backup");
    assert!(
        opportunities == before.1 || opportunities == before.1 + 20_000,
        "the import is in the backup whole or not at all: {opportunities}"
    );
    // Every shared change made since the backup comes back from the partner.
    let view = wait_for(SYNC_WAIT, || {
        let mine = notes(&restored, &deal, &vendor.id);
        let theirs = notes(&restored, &deal, &reseller.id);
        (mine.len() == 2 && theirs.len() == 7).then_some((mine, theirs))
    })
    .unwrap_or_else(|| {
        panic!(
            "the restored vendor did not converge with its partner: it holds {:?}\n\
             restored vendor's log:\n{}\nreseller's log:\n{}",
            deal_view(&restored, &deal),
            restored.log(),
            reseller.log()
        )
    });
    assert_eq!(
        view.0,
        ["vendor before the backup", "vendor after the backup"]
    );
    assert_eq!(view.1, reseller_notes);
    // The restored node writes again under a fresh actor, and its partner takes it.
    write_note(&restored, &deal, "restored vendor writes");
    wait("the reseller takes the restored vendor's change", || {
        (notes(&reseller, &deal, &vendor.id).len() == 3).then_some(())
    });
    assert!(
        !reseller.log().contains("refused"),
        "the partner refused something:\n{}",
        reseller.log()
    );
}

#[test]
fn restore_refuses_a_truncated_or_corrupt_backup_and_a_non_empty_directory() {
    let mut node = Node::init("Backup Co");
    node.serve();
    let r = node.post_csv("/api/v1/import/accounts", accounts_csv(30).as_bytes());
    assert_eq!(r.status, 200);
    node.stop();
    // A stopped node: the backup opens the store itself; `-` writes to standard output.
    let file = node.scratch().join("node.backup");
    let out = node.cli(&["backup", file.to_str().expect("path")]);
    assert!(out.ok(), "{}", out.stderr);
    let bytes = std::fs::read(&file).expect("backup");
    assert!(bytes.starts_with(b"COSELL-BACKUP\n"));
    let target = node.scratch().join("restored");
    let restore = |file: &Path| restore_backup(file, &target);
    let truncated = node.scratch().join("truncated.backup");
    std::fs::write(&truncated, &bytes[..bytes.len() * 2 / 3]).expect("write");
    let out = restore(&truncated);
    assert!(!out.ok());
    assert!(out.stderr.contains("is truncated"), "{}", out.stderr);
    assert!(!target.exists(), "nothing written for a truncated backup");
    let corrupt = node.scratch().join("corrupt.backup");
    let mut flipped = bytes.clone();
    let at = bytes.len() - 100;
    flipped[at] ^= 1;
    std::fs::write(&corrupt, &flipped).expect("write");
    let out = restore(&corrupt);
    assert!(!out.ok());
    assert!(
        out.stderr.contains("checksum does not match"),
        "{}",
        out.stderr
    );
    assert!(!target.exists());
    let out = restore(&node.dir().join("cosell.toml"));
    assert!(
        out.stderr.contains("is not a cosell backup"),
        "{}",
        out.stderr
    );

    std::fs::create_dir_all(&target).expect("dir");
    std::fs::write(target.join("notes.txt"), "mine").expect("write");
    let out = restore(&file);
    assert!(!out.ok());
    assert!(out.stderr.contains("is not empty"), "{}", out.stderr);
    assert_eq!(
        std::fs::read_to_string(target.join("notes.txt")).expect("kept"),
        "mine"
    );
    std::fs::remove_file(target.join("notes.txt")).expect("rm");

    let out = restore(&file);
    assert!(out.ok(), "{}", out.stderr);
    let mut restored = Node::uninitialized("Backup Co");
    std::fs::remove_dir(restored.dir()).ok();
    std::fs::rename(&target, restored.dir()).expect("move");
    restored.id = out.stdout.trim().to_string();
    assert_eq!(restored.id, node.id);
    restored.serve();
    assert_eq!(restored.counts(), (30, 0));
    // The restored node's backup to standard output is a backup too.
    let out = restored.cli(&["backup", "-"]);
    assert!(out.ok(), "{}", out.stderr);
    assert!(out.stdout.starts_with("COSELL-BACKUP\n"));
}

/// A self-signed certificate for localhost and 127.0.0.1, as PEM (certificate, key).
fn self_signed() -> (String, String) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
        .expect("certificate");
    (cert.cert.pem(), cert.key_pair.serialize_pem())
}

/// A client that trusts exactly `cert_pem`.
fn https_agent(cert_pem: &str) -> ureq::Agent {
    let mut roots = rustls::RootCertStore::empty();
    let der = rustls::pki_types::pem::PemObject::from_pem_slice(cert_pem.as_bytes())
        .expect("PEM certificate");
    roots.add(der).expect("root");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    ureq::AgentBuilder::new()
        .tls_config(Arc::new(tls))
        .timeout(Duration::from_secs(30))
        .build()
}

#[test]
fn an_https_node_serves_the_ui_and_the_api_and_its_session_cookie_is_secure() {
    let mut node = Node::init("Tls Co");
    let (cert, key) = self_signed();
    std::fs::create_dir_all(node.dir().join("tls")).expect("dir");
    write_file(&node.dir().join("tls"), "cert.pem", cert.as_bytes());
    write_file(&node.dir().join("tls"), "key.pem", key.as_bytes());
    let config = node.dir().join("cosell.toml");
    let mut text = std::fs::read_to_string(&config).expect("toml");
    text.push_str("tls_cert = \"tls/cert.pem\"\ntls_key = \"tls/key.pem\"\n");
    std::fs::write(&config, text).expect("toml");
    node.serve();
    let url = node.url().to_string();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let agent = https_agent(&cert);
    let ui = agent
        .get(&format!("{url}/"))
        .call()
        .expect("the web UI over HTTPS");
    assert_eq!(ui.status(), 200);
    assert!(ui.into_string().expect("html").contains("<html"));
    let api = agent
        .get(&format!("{url}/api/v1/node"))
        .set("Authorization", &format!("Bearer {}", node.token()))
        .call()
        .expect("the API over HTTPS");
    let info: Value = api.into_json().expect("json");
    assert_eq!(info["id"], node.id.as_str());
    assert_eq!(
        agent
            .get(&format!("{url}/readyz"))
            .call()
            .expect("readyz")
            .status(),
        200
    );
    // The CLI reaches its own HTTPS node (it pins the node's certificate).
    let out = node.cli(&["health"]);
    assert!(out.ok(), "health over HTTPS: {}", out.stderr);
    let created = agent
        .post(&format!("{url}/api/v1/users"))
        .set("Authorization", &format!("Bearer {}", node.token()))
        .send_json(
            json!({"username": "ana", "password": "a long enough password", "role": "manager"}),
        )
        .expect("user created over HTTPS");
    assert_eq!(created.status(), 201);
    let signed_in = agent
        .post(&format!("{url}/api/v1/session"))
        .send_json(json!({"username": "ana", "password": "a long enough password"}));
    let signed_in = match signed_in {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("sign-in: {e}"),
    };
    assert_eq!(signed_in.status(), 200, "sign-in");
    let cookie = signed_in
        .header("set-cookie")
        .expect("a session cookie")
        .to_string();
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    // Plain HTTP on the HTTPS port gets nothing useful.
    let plain = url.replacen("https://", "http://", 1);
    let r = try_http(
        "GET",
        &format!("{plain}/api/v1/node"),
        Some(&node.token()),
        None,
        None,
    );
    assert!(r.map(|r| r.status != 200).unwrap_or(true));
    node.stop();

    // A key that is not the certificate's, or a missing file, stops `serve` naming the file.
    let (_, other_key) = self_signed();
    write_file(&node.dir().join("tls"), "key.pem", other_key.as_bytes());
    let serve = |node: &Node| {
        run_cosell(
            &[
                "serve",
                "--data",
                node.dir().to_str().expect("path"),
                "--http",
                "127.0.0.1:0",
                "--p2p",
                P2P_TCP_LOOPBACK,
            ],
            &[],
            CLI_TIMEOUT,
        )
    };
    let out = serve(&node);
    assert!(!out.ok());
    assert!(
        out.stderr.contains("does not fit tls_cert"),
        "{}",
        out.stderr
    );
    std::fs::remove_file(node.dir().join("tls/cert.pem")).expect("rm");
    let out = serve(&node);
    assert!(!out.ok());
    assert!(
        out.stderr.contains("cannot read the TLS file") && out.stderr.contains("cert.pem"),
        "{}",
        out.stderr
    );
}

/// The data directory release 0.1.0 wrote (tests/fixtures), copied to `to`.
fn copy_fixture(to: &Path) {
    let from = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/datadir-0.1.0");
    std::fs::create_dir_all(to).expect("dir");
    for name in ["cosell.redb", "cosell.toml", "identity.key", "admin.token"] {
        std::fs::copy(from.join(name), to.join(name)).expect("copy fixture");
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o700)).expect("mode");
    std::fs::set_permissions(
        to.join("identity.key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .expect("mode");
}

#[test]
fn the_data_directory_of_release_0_1_0_opens_and_a_newer_schema_is_refused() {
    let mut node = Node::uninitialized("Fixture Co");
    copy_fixture(&node.dir());
    node.id = "12D3KooWHdeSAfVUWWGpm7zSyPQp14yKAGvsLoGuFSs2SmcU3skH".to_string();
    node.serve();
    assert_eq!(node.get("/api/v1/node").json["id"], node.id.as_str());
    assert_eq!(node.counts(), (2, 3));
    let opps = node.list_all("/api/v1/opportunities", "", 100);
    let renewal = find_by_external_id(&opps, "opp-1");
    assert_eq!(renewal["name"], "Northwind renewal");
    assert_eq!(cents(&renewal["amount"]), 1_200_050);
    assert_eq!(renewal["stage"], "committed");
    let accounts = node.list_all("/api/v1/accounts", "", 100);
    assert_eq!(
        find_by_external_id(&accounts, "acc-2")["domain"],
        "contoso.example"
    );
    node.stop();

    // The same directory as a newer cosell would leave it: refused, untouched, naming why.
    let db = node.dir().join("cosell.redb");
    {
        let meta: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("meta");
        let database = redb::Database::create(&db).expect("open the copy");
        let txn = database.begin_write().expect("write");
        txn.open_table(meta)
            .expect("meta")
            .insert("schema_version", 99u64.to_be_bytes().as_slice())
            .expect("insert");
        txn.commit().expect("commit");
    }
    let out = run_cosell(
        &[
            "serve",
            "--data",
            node.dir().to_str().expect("path"),
            "--http",
            "127.0.0.1:0",
            "--p2p",
            P2P_TCP_LOOPBACK,
        ],
        &[],
        CLI_TIMEOUT,
    );
    assert!(!out.ok());
    assert!(
        out.stderr
            .contains("written by a newer cosell (schema version 99"),
        "{}",
        out.stderr
    );
}

#[test]
fn recorded_wire_messages_of_version_1_still_decode_and_a_newer_version_is_refused_by_name() {
    use protocol::wire::{WireError, WireMessage};
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/wire-v1");
    let mut read = 0;
    let mut with_changes = 0;
    for i in 0..5 {
        let bytes = std::fs::read(dir.join(format!("exchange-{i}.cbor"))).expect("recorded");
        let message = WireMessage::decode(&bytes)
            .unwrap_or_else(|e| panic!("exchange-{i} no longer decodes: {e}"));
        assert_eq!(
            message.encode(),
            bytes,
            "exchange-{i} re-encodes byte for byte"
        );
        let WireMessage::Sync(docs) = &message;
        with_changes += docs.iter().filter(|d| !d.changes.is_empty()).count();
        read += 1;
        // The same message from a newer node: refused naming the version, so the node can
        // tell a newer partner (and say so) from a broken one.
        let mut newer = bytes.clone();
        assert_eq!(newer[1], 1, "version 1 follows the array header");
        newer[1] = 2;
        assert_eq!(
            WireMessage::decode(&newer),
            Err(WireError::UnknownVersion(2))
        );
    }
    assert_eq!(read, 5);
    assert!(with_changes > 0, "the recording holds signed changes");
}

#[test]
fn under_systemd_the_node_reports_ready_and_stopping_on_the_notify_socket() {
    // cosell.service is Type=notify: systemd waits for READY=1 before it counts the node as
    // started. A socket of the test's own stands in for systemd's.
    let mut node = Node::init("Notify Co");
    let path = node.scratch().join("notify.sock");
    let socket = std::os::unix::net::UnixDatagram::bind(&path).expect("bind");
    socket
        .set_read_timeout(Some(SERVE_READY_TIMEOUT))
        .expect("timeout");
    node.serve_with(
        &[P2P_TCP_LOOPBACK],
        &[("NOTIFY_SOCKET", path.to_str().expect("path"))],
    );
    let mut buf = [0u8; 256];
    let n = socket
        .recv(&mut buf)
        .expect("READY=1 within the start timeout");
    assert_eq!(&buf[..n], b"READY=1");
    assert_eq!(get_plain(&format!("{}/readyz", node.url())).0, 200);
    node.stop();
    let n = socket.recv(&mut buf).expect("STOPPING=1");
    assert_eq!(&buf[..n], b"STOPPING=1");
}

#[test]
fn init_adopts_an_admin_token_given_by_the_operator_and_refuses_a_weak_one() {
    // Kubernetes hands the admin token from a Secret to `cosell init` (COSELL_ADMIN_TOKEN).
    let token = format!("cosell_{}", "ab12".repeat(16));
    let mut node = Node::uninitialized("Secret Co");
    let dir = node.dir();
    let dir = dir.to_str().expect("path");
    let weak = run_cosell(
        &["init", "--name", "Secret Co", "--data", dir],
        &[("COSELL_ADMIN_TOKEN", "hunter2")],
        CLI_TIMEOUT,
    );
    assert!(!weak.ok());
    assert!(weak.stderr.contains("64 hex digits"), "{}", weak.stderr);
    assert!(
        !Path::new(dir).join("cosell.toml").exists(),
        "nothing left behind"
    );
    let out = run_cosell(
        &["init", "--name", "Secret Co", "--data", dir],
        &[("COSELL_ADMIN_TOKEN", token.as_str())],
        CLI_TIMEOUT,
    );
    assert!(out.ok(), "{}", out.stderr);
    node.id = out.stdout.trim().to_string();
    assert_eq!(node.token(), token);
    node.serve();
    let r = http(
        "GET",
        &format!("{}/api/v1/node", node.url()),
        Some(&token),
        None,
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["id"], node.id.as_str());
}
