//! Partnerships: a one-time invite joins one node, and the partner list pages like every list.
//!
//! Goal: a partnership starts only from an unused invite, and a refused join says why. Method:
//! real `cosell` processes on loopback invite and join through the CLI and the API
//! (`POST /api/v1/partners/join`), then read `GET /api/v1/partners` page by page.

use cosell_e2e::{partner, Node};
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

#[test]
fn the_partner_list_pages_by_limit_and_cursor_like_every_other_list() {
    // Goal: `GET /partners` honours `limit` (at most 1000) and `cursor` as the other lists do.
    // Method: a vendor with two partners reads them one per page, then asks for too many.
    let mut vendor = Node::init("Vendor Co");
    let mut reseller = Node::init("Reseller Co");
    let mut si = Node::init("SI Co");
    vendor.serve();
    reseller.serve();
    si.serve();
    partner(&vendor, &reseller, "reseller", "vendor");
    partner(&vendor, &si, "si", "vendor");

    let first = vendor.get("/api/v1/partners?limit=1");
    assert_eq!(first.status, 200, "{}", first.text);
    let items = first.json["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{}", first.text);
    let cursor = first.json["next_cursor"].as_str().expect("a next page");
    assert_eq!(items[0]["id"], cursor);
    let second = vendor.get(&format!("/api/v1/partners?limit=1&cursor={cursor}"));
    assert_eq!(second.status, 200, "{}", second.text);
    let rest = second.json["items"].as_array().expect("items");
    assert_eq!(rest.len(), 1, "{}", second.text);
    assert_ne!(rest[0]["id"], items[0]["id"]);
    assert_eq!(second.json["next_cursor"], serde_json::Value::Null);

    let too_many = vendor.get("/api/v1/partners?limit=1001");
    assert_eq!(too_many.status, 400, "{}", too_many.text);
    assert_eq!(too_many.json["error"], "limit: must be 1 to 1000, not 1001");
    // Zero is named the same way, with the parameter in the details.
    let zero = vendor.get("/api/v1/accounts?limit=0");
    assert_eq!(zero.status, 400, "{}", zero.text);
    assert_eq!(
        zero.json["details"][0]["parameter"], "limit",
        "{}",
        zero.text
    );
    let stage = vendor.get("/api/v1/opportunities?stage=bad");
    assert_eq!(stage.status, 400, "{}", stage.text);
    assert_eq!(
        stage.json["details"][0]["parameter"], "stage",
        "{}",
        stage.text
    );
    assert!(
        stage.json["error"]
            .as_str()
            .unwrap_or_default()
            .starts_with("stage: 'bad' is not a stage"),
        "{}",
        stage.text
    );
    let bad = vendor.get("/api/v1/partners?cursor=not-a-node-id");
    assert_eq!(bad.status, 400, "{}", bad.text);
    let out = vendor.cli(&["partner", "list"]);
    assert!(out.ok(), "{}", out.stderr);
    assert!(
        out.stdout.contains("Reseller Co") && out.stdout.contains("SI Co"),
        "{}",
        out.stdout
    );
}
