//! The deal the protocol targets work against: made with the protocol API (genesis, accept,
//! section, registration, decision, attribution) by fixed keys at fixed times, so it is the same
//! bytes on every run and every machine. Fuzzed changes and messages are fed to a replica
//! restored from its envelopes, as a node restores a deal from storage.

use automerge::ChangeHash;
use ed25519_dalek::{Signer as _, SigningKey};
use protocol::deal::{
    DealDoc, DealId, Decision, Invite, Role, SectionUpdate, SharedFields, Signer,
};
use protocol::envelope::{signing_message, SignedChange};
use protocol::identity::{NodeId, NodeKey};
use protocol::records::{Amount, Currency, Date, Domain, Stage};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// Secret keys: 0 the origin (a vendor), 1 a reseller that accepted and wrote, 2 an integrator
/// still invited, 3 a stranger (no participant).
pub const SECRETS: [[u8; 32]; 4] = [[0x11; 32], [0x22; 32], [0x33; 32], [0x44; 32]];
pub const ORIGIN: usize = 0;
pub const RESELLER: usize = 1;
pub const INTEGRATOR: usize = 2;
pub const STRANGER: usize = 3;

/// The fixture's clock: 2026-01-01T00:00:00Z, one millisecond per edit.
pub const T0: u64 = 1_767_225_600_000;

/// Key `i` (modulo the four).
pub fn key(i: usize) -> NodeKey {
    NodeKey::from_secret_bytes(&SECRETS[i % SECRETS.len()])
}

/// Node id of key `i`.
pub fn node(i: usize) -> NodeId {
    key(i).node_id().clone()
}

/// The signer of key `i` in process run 1.
pub fn signer(i: usize) -> Signer {
    Signer::new(key(i), 1)
}

/// The deal's id and its envelopes, in causal order.
pub struct Fixture {
    pub id: DealId,
    pub envelopes: Vec<SignedChange>,
}

/// The fixture, built once per process.
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(build)
}

/// A replica of the whole deal: restored (and so verified) from the envelopes once, then cloned
/// for every input (a restore costs about a millisecond, a clone microseconds).
pub fn doc() -> DealDoc {
    doc_prefix(usize::MAX)
}

/// A replica holding the first `n` changes only (all of them for `n` over their count).
pub fn doc_prefix(n: usize) -> DealDoc {
    static PREFIXES: OnceLock<Vec<DealDoc>> = OnceLock::new();
    let prefixes = PREFIXES.get_or_init(|| {
        let f = fixture();
        (0..=f.envelopes.len())
            .map(|n| {
                DealDoc::restore(f.id, f.envelopes[..n].to_vec()).expect("a causal prefix restores")
            })
            .collect()
    });
    prefixes[n.min(prefixes.len() - 1)].clone()
}

fn build() -> Fixture {
    let (origin, reseller) = (signer(ORIGIN), signer(RESELLER));
    let invites = [
        Invite {
            node: node(RESELLER),
            name: "Reseller B".into(),
            role: Role::Reseller,
        },
        Invite {
            node: node(INTEGRATOR),
            name: "Integrator C".into(),
            role: Role::Services,
        },
    ];
    let shared = SharedFields {
        title: Some("Acme rollout".into()),
        stage: Some(Stage::Qualified),
        amount: Some(Amount::parse("120000.50").expect("amount")),
        currency: Some(Currency::USD),
        close_date: Some(Date::new(2026, 8, 17).expect("date")),
        account_name: Some("Acme".into()),
        account_domain: Some(Domain::parse("acme.example").expect("domain")),
        other: BTreeMap::from([("owner".to_string(), Some("Ada".to_string()))]),
        clear: Default::default(),
    };
    let (mut doc, _) =
        DealDoc::create(&origin, T0, "Vendor A", Role::Vendor, &invites, &shared).expect("genesis");
    doc.accept(&reseller, T0 + 1).expect("accept");
    let section = SectionUpdate {
        add_notes: vec!["met the CFO".into()],
        next_step: Some("demo".into()),
        contacts: Some(vec!["cfo@acme.example".into()]),
        contribution: Some("services".into()),
        stage: Some(Stage::Qualified),
        linked_opportunity: Some("opp-1".into()),
    };
    doc.update_section(&reseller, T0 + 2, &section)
        .expect("section");
    doc.register(&reseller, T0 + 3, &node(ORIGIN), Some("first"))
        .expect("register");
    let terms = BTreeMap::from([("amount".to_string(), "120000.5".to_string())]);
    let approved = Decision::Approved {
        expires_at_ms: T0 + 90 * 86_400_000,
    };
    doc.decide_registration(&origin, T0 + 4, &node(RESELLER), &approved, &terms)
        .expect("decide");
    doc.set_attribution(&origin, T0 + 5, &node(RESELLER), &[node(INTEGRATOR)])
        .expect("attribution");
    doc.propose_attribution(&reseller, T0 + 6, &node(RESELLER), &[])
        .expect("proposal");
    doc.accept_attribution(&origin, T0 + 7, &node(RESELLER))
        .expect("acceptance");
    Fixture {
        id: doc.id(),
        envelopes: doc.envelopes(),
    }
}

const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];

/// Unsigned LEB128.
pub fn uleb(mut value: u64, out: &mut Vec<u8>) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// The hash Automerge gives a chunk of `chunk_type` with `data`: SHA-256 over the type, the
/// data length (uLEB128) and the data.
pub fn chunk_hash(chunk_type: u8, data: &[u8]) -> ChangeHash {
    let mut header = vec![chunk_type];
    uleb(data.len() as u64, &mut header);
    let mut hasher = Sha256::new();
    hasher.update(&header);
    hasher.update(data);
    ChangeHash(hasher.finalize().into())
}

/// An uncompressed change chunk around `data`, with the right checksum.
pub fn change_chunk(data: &[u8]) -> Vec<u8> {
    let hash = chunk_hash(1, data);
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&hash.0[..4]);
    out.push(1);
    uleb(data.len() as u64, &mut out);
    out.extend_from_slice(data);
    out
}

/// The data of a chunk (what follows its header), if the header reads.
pub fn chunk_data(chunk: &[u8]) -> Option<(u8, &[u8])> {
    if chunk.len() < 9 || chunk[..4] != MAGIC {
        return None;
    }
    let chunk_type = chunk[8];
    let (mut len, mut shift, mut at) = (0u64, 0u32, 9);
    loop {
        let byte = *chunk.get(at)?;
        at += 1;
        if shift > 63 {
            return None;
        }
        len |= u64::from(byte & 0x7f).checked_shl(shift)?;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    let end = at.checked_add(usize::try_from(len).ok()?)?;
    Some((chunk_type, chunk.get(at..end)?))
}

/// Key `author`'s signature on a change hash, as [`SignedChange::sign`] makes it.
pub fn sign(author: usize, hash: &ChangeHash) -> [u8; 64] {
    SigningKey::from_bytes(&SECRETS[author % SECRETS.len()])
        .sign(&signing_message(hash))
        .to_bytes()
}
