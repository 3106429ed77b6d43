//! The command line as an API client: what it prints when the node refuses a request.
//!
//! Goal: a CLI command the API refuses says why, not only that it was refused. Method: a real
//! `cosell` command against a serving node, with input the API rejects, and its stderr read.

use cosell_e2e::Node;

#[test]
fn the_cli_says_why_the_api_refused_not_only_that_it_did() {
    // Bug: `cosell webhooks add ftp://x` printed only "error: invalid webhook", dropping the
    // reason the API gave in its details.
    let mut node = Node::init("Acme");
    node.serve();
    let out = node.cli(&[
        "webhooks",
        "add",
        "ftp://example.invalid/hook",
        "--events",
        "nope.*",
    ]);
    assert!(!out.ok(), "{}", out.stdout);
    assert!(out.stderr.contains("invalid webhook; "), "{}", out.stderr);
    assert!(out.stderr.contains("matches no event"), "{}", out.stderr);
}
