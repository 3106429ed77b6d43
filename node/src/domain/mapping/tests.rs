use super::matrix::{audit_details, store_matrix};
use super::schedule::{due_partners, mark_attempt, take_run};
use super::{latest_matrix, Cell, Matrix, MATRICES, RATE_WINDOW_MS};
use crate::store::shared::{PartnerRecord, PartnerStatus};
use crate::store::Store;
use policy::SharingLevel;
use serde_json::json;

const HOUR_MS: u64 = RATE_WINDOW_MS;

fn open(dir: &tempfile::TempDir) -> Store {
    let store = Store::open(&dir.path().join("db")).unwrap();
    crate::store::ensure_tables(&store).unwrap();
    store
}

fn matrix(partner: &str, count: usize) -> Matrix {
    Matrix {
        partner: partner.into(),
        partner_name: "Reseller Co".into(),
        computed_at: "2026-11-23T20:00:00Z".into(),
        initiated_by: "me".into(),
        cells: vec![Cell {
            mine: "customers".into(),
            theirs: "prospects".into(),
            level: SharingLevel::Counts,
            count: Some(count),
            overlaps: vec![],
            partner_accounts: vec![],
            my_level: SharingLevel::Counts,
            their_level: SharingLevel::Counts,
            buckets: (64, 64),
        }],
    }
}

fn node_id(key: &ed25519_dalek::SigningKey) -> String {
    protocol::identity::NodeId::from_public_key(&key.verifying_key().to_bytes())
        .unwrap()
        .as_str()
        .to_string()
}

#[test]
fn stored_matrix_signature_verifies_and_a_tampered_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let signer = node_id(&key);
    let m = matrix("peer-a", 5);
    let audit = audit_details(&m);
    store_matrix(&store, &key, &signer, &m, audit, 1_000).unwrap();
    let stored = latest_matrix(&store, "peer-a").unwrap().expect("stored");
    stored.verify().unwrap();
    assert_eq!(stored.matrix["cells"][0]["count"], 5);

    // Changed on disk after signing: the count is raised.
    let raw = {
        let txn = store.read().unwrap();
        let table = txn.open_table(MATRICES).unwrap();
        let v = table.get("peer-a").unwrap().unwrap();
        String::from_utf8(v.value().to_vec()).unwrap()
    };
    assert!(raw.contains("\"count\":5"), "{raw}");
    let tampered = raw.replace("\"count\":5", "\"count\":6");
    let txn = store.write().unwrap();
    txn.open_table(MATRICES)
        .unwrap()
        .insert("peer-a", tampered.as_bytes())
        .unwrap();
    txn.commit().unwrap();
    let err = latest_matrix(&store, "peer-a").unwrap_err();
    assert!(
        format!("{err:#}").contains("changed after it was signed"),
        "{err:#}"
    );

    // Signed by one key but claiming another signer.
    let other = node_id(&ed25519_dalek::SigningKey::from_bytes(&[8; 32]));
    let mut forged = stored.clone();
    forged.signer = other;
    assert!(forged.verify().is_err());
    // A signature that is not hex of 64 bytes.
    let mut short = stored;
    short.signature.truncate(10);
    assert!(short.verify().is_err());
}

#[test]
fn rate_limit_survives_a_reopen_and_frees_a_slot_after_an_hour() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = 10 * HOUR_MS;
    {
        let store = open(&dir);
        take_run(&store, "peer-a", t0, 2).unwrap();
        take_run(&store, "peer-a", t0 + 1_000, 2).unwrap();
        let err = take_run(&store, "peer-a", t0 + 2_000, 2).unwrap_err();
        assert!(
            err.to_string()
                .contains("at most 2 mapping runs per partner per hour; try again in 60 minutes"),
            "{err}"
        );
        // Another partner has its own count.
        take_run(&store, "peer-b", t0 + 2_000, 2).unwrap();
    }
    let store = open(&dir);
    assert!(take_run(&store, "peer-a", t0 + 3_000, 2).is_err());
    assert!(take_run(&store, "peer-a", t0 + HOUR_MS - 1, 2).is_err());
    take_run(&store, "peer-a", t0 + HOUR_MS, 2).unwrap();
    assert!(take_run(&store, "peer-a", t0 + HOUR_MS + 1, 2).is_err());
}

#[test]
fn schedule_maps_a_partner_one_interval_after_it_joined_or_was_last_mapped() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let since = 5 * HOUR_MS;
    for (id, status) in [
        ("peer-a", PartnerStatus::Active),
        ("peer-gone", PartnerStatus::Removed),
    ] {
        let txn = store.write().unwrap();
        crate::store::shared::put_partner_in(
            &txn,
            &PartnerRecord {
                id: id.into(),
                name: id.into(),
                partner_type: None,
                status,
                since_ms: since,
                last_seen_ms: None,
                addrs: vec![],
                removed_ms: None,
                ended_by_partner: false,
            },
        )
        .unwrap();
        txn.commit().unwrap();
    }
    assert!(due_partners(&store, since + HOUR_MS - 1, HOUR_MS)
        .unwrap()
        .is_empty());
    assert_eq!(
        due_partners(&store, since + HOUR_MS, HOUR_MS).unwrap(),
        vec!["peer-a".to_string()],
        "a removed partner is never due"
    );
    mark_attempt(&store, "peer-a", since + HOUR_MS).unwrap();
    assert!(due_partners(&store, since + 2 * HOUR_MS - 1, HOUR_MS)
        .unwrap()
        .is_empty());
    // A run the partner started counts as well.
    let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let m = matrix("peer-a", 1);
    store_matrix(
        &store,
        &key,
        &node_id(&key),
        &m,
        json!({}),
        since + 2 * HOUR_MS,
    )
    .unwrap();
    assert!(due_partners(&store, since + 3 * HOUR_MS - 1, HOUR_MS)
        .unwrap()
        .is_empty());
    assert_eq!(
        due_partners(&store, since + 3 * HOUR_MS, HOUR_MS).unwrap(),
        vec!["peer-a".to_string()]
    );
}
