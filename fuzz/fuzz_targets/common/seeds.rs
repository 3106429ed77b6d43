//! Seed inputs for every target, made with the same APIs a node uses: the fixture deal's
//! envelopes and next edits, the wire and sync messages of a real exchange, the repository's
//! example CSV exports and the policy templates. Written to `fuzz/seeds/<target>/` by
//! `cargo test -p cosell-e2e --test fuzz_replay -- --ignored write_seeds`; `fuzz/run.sh` gives
//! them to libFuzzer beside the corpus, and the CI replay runs them too.

use super::fixture::{self, INTEGRATOR, ORIGIN, RESELLER, STRANGER};
use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ObjId, ReadDoc, Value, ROOT};
use protocol::deal::{DealDoc, Invite, Role, SectionUpdate, SharedFields, VerifiedChange};
use protocol::envelope::SignedChange;
use protocol::identity::actor_id;
use protocol::records::Stage;
use protocol::sync::PeerSync;
use protocol::wire::WireMessage;
use std::path::Path;

/// One target's seeds: (file name, bytes).
pub type Seeds = Vec<(String, Vec<u8>)>;

/// Every target's seeds; `repo` is the repository root (for the example files).
pub fn all(repo: &Path) -> Vec<(&'static str, Seeds)> {
    vec![
        ("envelope", envelope()),
        ("wire", wire()),
        ("sync", sync()),
        ("change", change()),
        ("csv", csv(repo)),
        ("policy", policy(repo)),
    ]
}

/// One typed edit of a deal at a time.
type Edit = fn(&mut DealDoc, u64) -> Option<VerifiedChange>;

/// Changes each participant (and the stranger) could make next, by the typed API and, for
/// paths the typed API never writes, by Automerge directly: (author, envelope).
pub fn next_changes() -> Vec<(usize, SignedChange)> {
    let t = fixture::T0 + 100;
    let edits: Vec<(usize, Edit)> = vec![
        (ORIGIN, |d, t| {
            let update = SharedFields {
                title: Some("Acme rollout, phase 2".into()),
                stage: Some(Stage::Committed),
                ..SharedFields::default()
            };
            d.set_shared(&fixture::signer(ORIGIN), t, &update).ok()
        }),
        (ORIGIN, |d, t| {
            let invite = Invite {
                node: fixture::node(STRANGER),
                name: "Distributor D".into(),
                role: Role::Distributor,
            };
            d.add_participant(&fixture::signer(ORIGIN), t, &invite).ok()
        }),
        (ORIGIN, |d, t| {
            let integrator = fixture::node(INTEGRATOR);
            d.remove_participant(&fixture::signer(ORIGIN), t, &integrator)
                .ok()
        }),
        (ORIGIN, |d, t| {
            let integrator = fixture::node(INTEGRATOR);
            d.expire_participant(&fixture::signer(ORIGIN), t, &integrator)
                .ok()
        }),
        (RESELLER, |d, t| {
            let update = SectionUpdate {
                add_notes: vec!["second call".into()],
                contacts: Some(vec!["cto@acme.example".into(), "cio@acme.example".into()]),
                ..SectionUpdate::default()
            };
            d.update_section(&fixture::signer(RESELLER), t, &update)
                .ok()
        }),
        (RESELLER, |d, t| {
            let (origin, integrator) = (fixture::node(ORIGIN), fixture::node(INTEGRATOR));
            d.propose_attribution(&fixture::signer(RESELLER), t, &origin, &[integrator])
                .ok()
        }),
        (INTEGRATOR, |d, t| {
            d.accept(&fixture::signer(INTEGRATOR), t).ok()
        }),
        (INTEGRATOR, |d, t| {
            d.decline(&fixture::signer(INTEGRATOR), t).ok()
        }),
        (INTEGRATOR, |d, t| {
            let origin = fixture::node(ORIGIN);
            d.register(&fixture::signer(INTEGRATOR), t, &origin, None)
                .ok()
        }),
        (INTEGRATOR, |d, t| {
            let reseller = fixture::node(RESELLER);
            d.accept_attribution(&fixture::signer(INTEGRATOR), t, &reseller)
                .ok()
        }),
    ];
    let mut out: Vec<(usize, SignedChange)> = edits
        .into_iter()
        .filter_map(|(author, edit)| {
            let mut doc = fixture::doc();
            edit(&mut doc, t).map(|v| (author, v.envelope().clone()))
        })
        .collect();
    // Writes the authorizer must refuse: the reseller edits the origin's shared fields and a
    // participant's role, the integrator writes into the reseller's section.
    out.extend(raw_edit(RESELLER, &["shared"], "title", "stolen"));
    out.extend(raw_edit(
        RESELLER,
        &["participants", RESELLER_ID],
        "role",
        "vendor",
    ));
    out.extend(raw_edit(
        INTEGRATOR,
        &["sections", RESELLER_ID],
        "next_step",
        "mine",
    ));
    out.extend(raw_edit(STRANGER, &["sections"], "x", "y"));
    out
}

/// Stands for the reseller's node id in a [`raw_edit`] path.
const RESELLER_ID: &str = "<reseller>";

/// A change by `author` (run 1, next sequence number) that puts `key = value` into the object
/// at `path`, made with Automerge directly and signed as the node would sign it.
fn raw_edit(author: usize, path: &[&str], key: &str, value: &str) -> Option<(usize, SignedChange)> {
    let deal = fixture::doc();
    let mut doc = deal.automerge().clone();
    doc.set_actor(actor_id(&fixture::key(author).public(), 1));
    let mut obj: ObjId = ROOT;
    for step in path {
        let step = if *step == RESELLER_ID {
            fixture::node(RESELLER).as_str().to_string()
        } else {
            step.to_string()
        };
        obj = match doc.get(&obj, step).ok()?? {
            (Value::Object(_), id) => id,
            _ => return None,
        };
    }
    let mut tx = doc.transaction();
    tx.put(&obj, key, value).ok()?;
    let (hash, _) = tx.commit_with(CommitOptions::default().with_time(fixture::T0 as i64 + 200));
    let change = doc.get_change_by_hash(&hash?)?;
    Some((author, SignedChange::sign(&fixture::key(author), &change)))
}

fn envelope() -> Seeds {
    let f = fixture::fixture();
    let mut out: Seeds = f
        .envelopes
        .iter()
        .enumerate()
        .map(|(i, e)| (format!("seed-fixture-{i}"), e.encode()))
        .collect();
    for (i, (_, e)) in next_changes().into_iter().enumerate() {
        out.push((format!("seed-next-{i}"), e.encode()));
    }
    out
}

/// The messages of a full exchange between the fixture deal and an empty replica (wire messages
/// and the persisted peer states after each step), plus one message naming two deals.
fn exchange() -> (Vec<WireMessage>, Vec<Vec<u8>>) {
    let f = fixture::fixture();
    let (mut full, mut empty) = (fixture::doc(), DealDoc::replica(f.id));
    let (mut to_empty, mut to_full) = (PeerSync::new(), PeerSync::new());
    let (mut messages, mut states) = (Vec::new(), Vec::new());
    for _ in 0..8 {
        let mut quiet = true;
        if let Some(m) = full.generate_sync(&mut to_empty) {
            messages.push(WireMessage::Sync(vec![m.clone()]));
            empty.receive_sync(&mut to_full, m);
            quiet = false;
        }
        if let Some(m) = empty.generate_sync(&mut to_full) {
            messages.push(WireMessage::Sync(vec![m.clone()]));
            full.receive_sync(&mut to_empty, m);
            quiet = false;
        }
        states.push(to_empty.encode());
        states.push(to_full.encode());
        if quiet {
            break;
        }
    }
    let other = DealDoc::replica(protocol::deal::DealId::from_bytes([7; 32]));
    let mut docs: Vec<_> = [&fixture::doc_prefix(3), &other]
        .into_iter()
        .filter_map(|d| d.generate_sync(&mut PeerSync::new()))
        .collect();
    if let Some(WireMessage::Sync(first)) = messages.get(1) {
        docs.extend(first.iter().cloned());
    }
    messages.push(WireMessage::Sync(docs));
    (messages, states)
}

fn wire() -> Seeds {
    exchange()
        .0
        .iter()
        .enumerate()
        .map(|(i, m)| (format!("seed-exchange-{i}"), m.encode()))
        .collect()
}

fn sync() -> Seeds {
    let (messages, states) = exchange();
    let mut out: Seeds = Vec::new();
    for (i, WireMessage::Sync(docs)) in messages.iter().enumerate() {
        for (j, d) in docs.iter().enumerate() {
            out.push((format!("seed-message-{i}-{j}"), d.sync.clone()));
        }
    }
    for (i, s) in states.into_iter().enumerate() {
        out.push((format!("seed-state-{i}"), s));
    }
    out.sort();
    out.dedup_by(|a, b| a.1 == b.1);
    out
}

fn change() -> Seeds {
    let f = fixture::fixture();
    let mut out = Seeds::new();
    let mut push = |name: String, control: u8, bytes: &[u8]| {
        let mut input = vec![control];
        input.extend_from_slice(bytes);
        out.push((name, input));
    };
    for (i, (author, e)) in next_changes().into_iter().enumerate() {
        if let Some((_, data)) = fixture::chunk_data(e.change_bytes()) {
            push(format!("seed-next-{i}"), author as u8, data);
        }
        if i == 0 {
            push(
                format!("seed-next-{i}-raw"),
                author as u8 | 0b100,
                e.change_bytes(),
            );
        }
    }
    // The genesis, to an empty replica of the deal it founds.
    if let Some((_, data)) = f
        .envelopes
        .first()
        .and_then(|e| fixture::chunk_data(e.change_bytes()))
    {
        push("seed-genesis".into(), ORIGIN as u8 | 0b1_0000, data);
    }
    out
}

fn read_dir(dir: &Path, out: &mut Seeds, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.ends_with(".csv") || name.ends_with(".txt") {
            if let Ok(bytes) = std::fs::read(&path) {
                out.push((format!("{prefix}{name}"), bytes));
            }
        }
    }
}

fn csv(repo: &Path) -> Seeds {
    let mut out = Seeds::new();
    read_dir(&repo.join("examples"), &mut out, "seed-");
    read_dir(&repo.join("tests/fixtures"), &mut out, "seed-");
    let inline: [(&str, &str); 5] = [
        (
            "sep-line",
            "sep=;\r\nName;Stage;Account Name;Amount;Close Date (DD/MM/YYYY)\r\nA;Qualified;Acme;1.200,50 €;03/04/2026\r\n",
        ),
        (
            "report",
            "Opportunities report\n\nOpportunity Name,Stage,Account ID,Amount,Currency,Close Date\nA,Closed Won,001,\"USD 1,200.00\",USD,1/15/2026 9:30 AM\nB,prospecting,002,¥120000,,2026年1月15日\n\nTotal,,,1200\nGenerated by Salesforce\n",
        ),
        (
            "quoted",
            "\u{feff}name,stage,account_domain,tags\n\"multi\nline\",qualified,HTTP://WWW.Acme.example/,\"a;b|c\"\n'x,#N/A,acme.example,\n",
        ),
        (
            "accounts",
            "Account ID,Account Name,Website,Type,Status,Relationship Type,Billing Country\n'00123,Acme,info@acme.example,Customer - Direct,Active,Partner,Germany\n",
        ),
        ("tabs", "Deal Name\tDeal Stage\tAssociated Company\tAmount\tClose Date\nx\tclosedwon\tAcme;Globex\t€900\t2026-01-15\n"),
    ];
    for (name, text) in inline {
        out.push((format!("seed-{name}.csv"), text.as_bytes().to_vec()));
    }
    // UTF-16 with a byte order mark, as Excel's "Unicode text" writes.
    let utf16: Vec<u8> = [0xfeff_u16]
        .into_iter()
        .chain("Name\tStage\tAccount Name\nÄ\tqualified\tAcme\n".encode_utf16())
        .flat_map(u16::to_le_bytes)
        .collect();
    out.push(("seed-utf16.txt".into(), utf16));
    out
}

fn policy(repo: &Path) -> Seeds {
    let mut out = Seeds::new();
    for name in ::policy::templates::NAMES {
        let Some(text) = ::policy::templates::get(name) else {
            continue;
        };
        out.push((
            format!("seed-template-{name}.toml"),
            text.as_bytes().to_vec(),
        ));
        if let Ok(p) = ::policy::Policy::from_toml(text) {
            out.push((
                format!("seed-template-{name}.json"),
                p.to_canonical_json().into_bytes(),
            ));
        }
    }
    let inline = [
        r#"[opportunities]
fields = ["name", "stage", "close_date", "amount", "currency", "account.name", "account.domain", "tags", "description"]
stages = ["qualified", "committed"]
amount = { buckets = [0, 10000, 100000] }
close_date = "quarter"
countries = ["DE", "United States"]
[accounts]
sharing = "overlap"
fields = ["name", "domain", "status"]
statuses = ["customer"]
"#,
        r#"{"opportunities": {"fields": ["name", "amount"], "amount": {"round_to": 1000}, "close_date": "month"}}"#,
    ];
    for (i, text) in inline.iter().enumerate() {
        out.push((format!("seed-inline-{i}"), text.as_bytes().to_vec()));
    }
    let _ = repo;
    out
}
