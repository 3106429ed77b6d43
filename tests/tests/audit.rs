//! Governance: every audit entry names who acted (a user or token with its role, a partner node,
//! or the node itself), registration decisions are audited, and the signed audit export
//! verifies offline and catches an entry changed, removed or moved.
//!
//! Goal: an auditor can answer "who did this" and trust an exported copy. Method: real `cosell`
//! processes on loopback; actions through the CLI (the admin token), a second API token and a
//! signed-in user; the audit log read through the API; the export written by `cosell audit
//! export`, checked by `cosell audit verify`, then edited three ways and checked again.

use cosell_e2e::{opportunity, partner, post_ok, put_policy, wait, Node};
use serde_json::{json, Value};

fn audit(node: &Node, kind: &str) -> Vec<Value> {
    node.get(&format!("/api/v1/audit?kind={kind}&limit=1000"))
        .json["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn entry_with<'a>(entries: &'a [Value], summary_part: &str) -> &'a Value {
    entries
        .iter()
        .find(|e| e["summary"].as_str().unwrap_or("").contains(summary_part))
        .unwrap_or_else(|| panic!("no audit entry saying {summary_part:?} in {entries:#?}"))
}

#[test]
fn every_entry_names_its_actor_and_registration_decisions_are_audited() {
    let mut vendor = Node::init("Vendor Co");
    let mut reseller = Node::init("Reseller Co");
    vendor.serve();
    reseller.serve();
    partner(&vendor, &reseller, "reseller", "vendor");
    put_policy(
        &vendor,
        &reseller.id,
        "[opportunities]\nfields = [\"name\", \"stage\"]\n",
    );

    // A manager token and a user, made by the admin token (audited, naming it).
    let token = post_ok(
        &vendor,
        "/api/v1/tokens",
        json!({"name": "crm sync", "role": "manager"}),
        201,
    )["token"]
        .as_str()
        .unwrap()
        .to_string();
    post_ok(
        &vendor,
        "/api/v1/users",
        json!({"username": "vera", "password": "correct horse battery", "role": "admin"}),
        201,
    );
    let access = audit(&vendor, "access");
    let made = entry_with(&access, "created API token 'crm sync'");
    assert_eq!(made["actor"], "token 'admin token from init' (admin)");
    entry_with(&access, "created user vera");

    // The manager token shares: the share names it.
    let opp = opportunity(&vendor, "acme.example", json!({}));
    let r = cosell_e2e::http(
        "POST",
        &format!("{}/api/v1/deals", vendor.url()),
        Some(&token),
        Some("application/json"),
        Some(
            json!({"opportunity_id": opp, "partners": [reseller.id]})
                .to_string()
                .as_bytes(),
        ),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let shares = audit(&vendor, "share");
    assert_eq!(
        shares.last().unwrap()["actor"],
        "token 'crm sync' (manager)"
    );
    // The policy was set by the admin token.
    assert_eq!(
        audit(&vendor, "policy").last().unwrap()["actor"],
        "token 'admin token from init' (admin)"
    );

    // A signed-in user: the sign-in is audited with the user as actor.
    let r = cosell_e2e::try_http(
        "POST",
        &format!("{}/api/v1/session", vendor.url()),
        None,
        Some("application/json"),
        Some(br#"{"username":"vera","password":"correct horse battery"}"#),
    )
    .expect("sign in");
    assert_eq!(r.status, 200, "{}", r.text);
    let signed_in = entry_with(&audit(&vendor, "access"), "vera signed in").clone();
    assert_eq!(signed_in["actor"], "user 'vera' (admin)");

    // Registrations: submitted on the partner, approved and rejected on the vendor — each in
    // `audit --kind registration`, naming who acted.
    let register = |domain: &str| {
        let out = reseller.cli(&[
            "register",
            "--vendor",
            "Vendor Co",
            "--account-domain",
            domain,
            "--account-name",
            "Some Account",
        ]);
        assert!(out.ok(), "register: {}", out.stderr);
        out.stdout.trim().to_string()
    };
    let first = register("first.example");
    let second = register("second.example");
    for id in [&first, &second] {
        wait("the registration on the vendor", || {
            (vendor.get(&format!("/api/v1/registrations/{id}")).status == 200).then_some(())
        });
    }
    let out = vendor.cli(&["registrations", "approve", &first]);
    assert!(out.ok(), "approve: {}", out.stderr);
    let out = vendor.cli(&["registrations", "reject", &second, "--reason", "not a fit"]);
    assert!(out.ok(), "reject: {}", out.stderr);
    let out = vendor.cli(&["audit", "--kind", "registration"]);
    assert!(out.ok(), "{}", out.stderr);
    assert!(
        out.stdout
            .contains(&format!("approved registration {first}"))
            && out
                .stdout
                .contains(&format!("rejected registration {second}"))
            && out.stdout.contains("not a fit")
            && out
                .stdout
                .contains("[by token 'admin token from init' (admin)]"),
        "{}",
        out.stdout
    );
    let submitted = audit(&reseller, "registration");
    let on_partner = entry_with(&submitted, "registered Some Account (first.example)");
    assert_eq!(on_partner["actor"], "token 'admin token from init' (admin)");

    // Every entry on both nodes names an actor.
    for node in [&vendor, &reseller] {
        let all = node.get("/api/v1/audit?limit=1000").json["items"]
            .as_array()
            .cloned()
            .unwrap();
        assert!(!all.is_empty());
        for e in &all {
            assert!(
                e["actor"].as_str().is_some_and(|a| !a.is_empty()),
                "no actor: {e}"
            );
        }
    }
    // The reseller's side of the partnership the vendor started (it joined by the CLI).
    let partner_entries = audit(&reseller, "partner");
    assert!(partner_entries
        .iter()
        .all(|e| e["actor"] == "token 'admin token from init' (admin)"
            || e["actor"].as_str().unwrap().starts_with("partner node")));
}

#[test]
fn an_audit_export_verifies_offline_and_catches_a_changed_a_removed_and_a_moved_entry() {
    let mut vendor = Node::init("Vendor Co");
    let mut reseller = Node::init("Reseller Co");
    vendor.serve();
    reseller.serve();
    partner(&vendor, &reseller, "reseller", "vendor");
    for fields in ["name", "name\", \"stage", "stage"] {
        put_policy(
            &vendor,
            &reseller.id,
            &format!("[opportunities]\nfields = [\"{fields}\"]\n"),
        );
    }
    let file = vendor.scratch().join("audit.export");
    let file_s = file.to_str().unwrap();
    let out = vendor.cli(&[
        "audit",
        "export",
        "--from",
        "2020-01-01",
        "--to",
        "2999-12-31",
        file_s,
    ]);
    assert!(out.ok(), "export: {}", out.stderr);
    let out = vendor.cli(&["audit", "export", file_s]);
    assert!(!out.ok() && out.stderr.contains("exists"), "{}", out.stderr);

    // Verified offline: the node is stopped first.
    vendor.stop();
    let out = vendor.cli(&["audit", "verify", file_s, "--node", &vendor.id]);
    assert!(out.ok(), "verify: {}", out.stderr);
    assert!(out.stdout.starts_with("verified:"), "{}", out.stdout);
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // Header, the partnership and three policies (at least), footer.
    assert!(lines.len() >= 6, "{text}");
    assert!(text.contains("\"actor\":\"token 'admin token from init' (admin)\""));

    let verify = |name: &str, contents: String| -> String {
        let path = vendor.scratch().join(name);
        std::fs::write(&path, contents).unwrap();
        let out = vendor.cli(&["audit", "verify", path.to_str().unwrap()]);
        assert!(!out.ok(), "{name} verified: {}", out.stdout);
        out.stderr
    };
    // An entry changed: its summary says someone else acted.
    let changed = text.replacen("(admin)", "(viewer)", 1);
    assert_ne!(changed, text);
    let why = verify("changed", changed);
    assert!(why.contains("hash chain breaks"), "{why}");
    // An entry removed.
    let mut removed = lines.clone();
    removed.remove(2);
    let why = verify("removed", removed.join("\n") + "\n");
    assert!(
        why.contains("line 3") && why.contains("hash chain breaks"),
        "{why}"
    );
    // Two entries swapped.
    let mut moved = lines.clone();
    moved.swap(2, 3);
    let why = verify("moved", moved.join("\n") + "\n");
    assert!(
        why.contains("line 3") && why.contains("hash chain breaks"),
        "{why}"
    );
    // The last entry dropped together with its chain value: the signed head no longer matches.
    let mut truncated = lines.clone();
    truncated.remove(lines.len() - 2);
    let why = verify("truncated", truncated.join("\n") + "\n");
    assert!(why.contains("signed head does not match"), "{why}");
    // Another node's id.
    let out = vendor.cli(&["audit", "verify", file_s, "--node", &reseller.id]);
    assert!(
        !out.ok() && out.stderr.contains("not by node"),
        "{}",
        out.stderr
    );
}

#[test]
fn old_entries_are_removed_under_a_signed_checkpoint_and_later_exports_still_verify() {
    // Goal: `audit_retention_days` keeps the log bounded without making later exports
    // unverifiable, and an auditor sees where the log now starts. Method: a node keeping
    // entries for 0.00005 days (4.3 s); tokens made (audited), then more after the first are
    // old; the export of all time is written and verified offline.
    let mut vendor = Node::init("Vendor Co");
    cosell_e2e::set_setting(&vendor, "audit_retention_days", "0.00005");
    vendor.serve();
    let token = |name: &str| {
        let r = vendor.post("/api/v1/tokens", &json!({"name": name, "role": "viewer"}));
        assert_eq!(r.status, 201, "{}", r.json);
    };
    token("early");
    let said = |entries: &[Value], what: &str| {
        entries
            .iter()
            .any(|e| e["summary"].as_str().unwrap_or("").contains(what))
    };
    assert!(said(&audit(&vendor, "access"), "early"));
    let removal = wait("the retention timer to remove the early entry", || {
        let retention = audit(&vendor, "retention");
        (!said(&audit(&vendor, "access"), "early") && !retention.is_empty())
            .then(|| retention[0].clone())
    });
    assert_eq!(removal["actor"], "this node");
    assert!(
        removal["details"]["checkpoint"]["signature"].is_string(),
        "{removal}"
    );
    token("late");
    let file = vendor.scratch().join("audit.export");
    let file_s = file.to_str().unwrap();
    let out = vendor.cli(&["audit", "export", "--from", "2020-01-01", file_s]);
    assert!(out.ok(), "export: {}", out.stderr);
    vendor.stop();
    let out = vendor.cli(&["audit", "verify", file_s, "--node", &vendor.id]);
    assert!(out.ok(), "verify: {}", out.stderr);
    assert!(
        out.stdout.contains("retention:") && out.stdout.contains("the log starts at entry"),
        "{}",
        out.stdout
    );
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("'late'"), "{text}");
    assert!(!text.contains("'early'"), "{text}");
    // A changed checkpoint in the header no longer verifies.
    let forged = text.replacen("\"first_kept_seq\":", "\"first_kept_seq\":1", 1);
    let path = vendor.scratch().join("forged");
    std::fs::write(&path, forged).unwrap();
    let out = vendor.cli(&["audit", "verify", path.to_str().unwrap()]);
    assert!(!out.ok(), "{}", out.stdout);
}
