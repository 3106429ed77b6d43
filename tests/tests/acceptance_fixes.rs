//! Fixes for what an outside acceptance test found, each a rule stated by one test, with real
//! `cosell` processes on loopback.

mod workflows_common;

use cosell_e2e::Node;
use serde_json::json;

#[test]
fn a_used_invite_is_refused_with_a_sentence_asking_for_a_new_one() {
    // Goal: a second node joining with an invite another node already used learns why it cannot
    // join (not "cannot reach the inviting node"), through the CLI and the API. Method: A
    // invites, B joins; C then joins with the same token, by `partner join` and by
    // `POST /partners/join`.
    let mut a = Node::init("Inviter A");
    let mut b = Node::init("Joiner B");
    let mut c = Node::init("Latecomer C");
    a.serve();
    b.serve();
    c.serve();
    let out = a.cli(&["partner", "invite", "--type", "reseller"]);
    assert!(out.ok(), "invite: {}", out.stderr);
    let token = out.stdout.trim().to_string();
    let out = b.cli(&["partner", "join", &token]);
    assert!(out.ok(), "join: {}", out.stderr);

    let out = c.cli(&["partner", "join", &token]);
    assert!(!out.ok(), "a used invite joins nobody: {}", out.stdout);
    assert!(
        out.stderr.contains(
            "the inviting node refused the invite: it was already used; ask for a new one"
        ),
        "{}",
        out.stderr
    );
    let r = c.post("/api/v1/partners/join", &json!({"token": token}));
    assert_eq!(r.status, 410, "{}", r.text);
    assert_eq!(
        r.json["error"],
        "the inviting node refused the invite: it was already used; ask for a new one"
    );
    let partners = a.get("/api/v1/partners");
    assert!(!partners.text.contains(c.id.as_str()), "{}", partners.text);
}
