//! Crash safety: a node killed with SIGKILL in the middle of a large import restarts with either
//! all of it or none of it, never a part.
//!
//! Goal: an import is one durable transaction. Method: a real `cosell` process on loopback is
//! SIGKILLed while a 200,000-row import is in flight (early and near its commit), restarted, and
//! its record count read.

use cosell_e2e::Node;
use std::time::{Duration, Instant};

/// Rows in the import that gets killed.
const ROWS: usize = 200_000;

/// Accounts `acc-FIRST`… `acc-(FIRST+n-1)` in cosell's columns.
fn accounts_from(first: usize, n: usize) -> Vec<u8> {
    let mut s = String::from("external_id,name,domain,industry,country,status,owner\n");
    for i in first..first + n {
        s.push_str(&format!(
            "acc-{i},Company {i},company-{i}.example,Software,Germany,customer,Owner {}\n",
            i % 7
        ));
    }
    s.into_bytes()
}

/// Posts `csv` as an accounts import from a thread, SIGKILLs the node after `delay`, and says
/// whether the answer had come before the kill (and after how long).
fn import_and_kill(node: &mut Node, csv: Vec<u8>, delay: Duration) -> (bool, Duration) {
    let url = format!("{}/api/v1/import/accounts", node.url());
    let token = node.token();
    let started = Instant::now();
    let request = std::thread::spawn(move || {
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(300))
            .build();
        let answer = agent
            .post(&url)
            .set("Authorization", &format!("Bearer {token}"))
            .set("Content-Type", "text/csv")
            .send_bytes(&csv);
        (answer.is_ok(), started.elapsed())
    });
    std::thread::sleep(delay / 2);
    // Meanwhile the node answers reads, and they see none of the uncommitted rows.
    let (before, _) = node.counts();
    std::thread::sleep(delay / 2);
    node.kill9();
    let (answered, took) = request.join().expect("request thread");
    if !answered {
        assert!(
            before == 0 || before % ROWS as u64 == 0,
            "a read during the import saw {before} accounts: a partial import is visible"
        );
    }
    (answered, took)
}

#[test]
fn sigkill_during_a_200k_row_import_leaves_all_of_it_or_none() {
    // Goal: SIGKILL a node while a 200,000-row import is in flight, restart it, and find none or
    // all of the rows (and no read sees a part while it runs). Twice: early (the body is still arriving, rows are being written) and
    // late (near the measured length of a whole import: around the commit), the late one on top
    // of a first 200k already stored. Then the node still imports.
    let mut node = Node::init("Acme");
    node.serve();
    let n = ROWS as u64;

    let early = Duration::from_millis(800);
    let (answered, took) = import_and_kill(&mut node, accounts_from(1, ROWS), early);
    assert!(
        !answered,
        "the import answered after {took:?}, before the kill at {early:?}: nothing was tested"
    );
    node.serve();
    let (accounts, _) = node.counts();
    assert!(
        accounts == 0 || accounts == n,
        "after SIGKILL {early:?} into an import the node holds {accounts} of {ROWS} accounts"
    );

    // A whole import, timed.
    let started = Instant::now();
    let r = node.post_csv("/api/v1/import/accounts", &accounts_from(1, ROWS));
    let whole = started.elapsed();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(node.counts().0, n);

    let late = whole.mul_f64(0.9);
    let (answered, took) = import_and_kill(&mut node, accounts_from(ROWS + 1, ROWS), late);
    node.serve();
    let (accounts, _) = node.counts();
    eprintln!(
        "whole import {whole:?}; killed at {late:?} (answered before the kill: {answered}, \
         after {took:?}); after restart: {accounts} accounts"
    );
    if answered {
        assert_eq!(
            accounts,
            2 * n,
            "the import answered 200 but its rows are gone"
        );
    } else {
        assert!(
            accounts == n || accounts == 2 * n,
            "after SIGKILL {late:?} into an import the node holds {} of {ROWS} new accounts",
            accounts - n
        );
    }

    // The database is healthy: it takes another import.
    let r = node.post_csv("/api/v1/import/accounts", &accounts_from(3 * ROWS, 1000));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(node.counts().0, accounts + 1000);
    node.stop();
}
