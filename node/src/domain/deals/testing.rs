//! Two (or more) engines in one process, each with its own store, syncing by hand: for tests
//! of workflows that need a partition (one side acting on what it has not received yet).

use super::Deals;
use crate::domain::partners;
use crate::store::shared::{self, PartnerRecord, PartnerStatus};
use crate::store::Store;
use policy::Policy;
use protocol::deal::{DealId, Role};
use protocol::records::{Account, AccountStatus, Amount, Currency, Domain, Opportunity, Stage};
use std::sync::Arc;

pub(crate) struct Side {
    _dir: tempfile::TempDir,
    pub store: Arc<Store>,
    pub deals: Deals,
}

pub(crate) fn side(seed: u8, name: &str) -> Side {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&dir.path().join("db")).unwrap());
    crate::store::ensure_tables(&store).unwrap();
    let deals = Deals::open(
        store.clone(),
        [seed; 32],
        1,
        name,
        crate::clock::Clock::system(),
    )
    .unwrap();
    Side {
        _dir: dir,
        store,
        deals,
    }
}

pub(crate) fn befriend(a: &Side, b: &Side) {
    for (x, y) in [(a, b), (b, a)] {
        let txn = x.store.write().unwrap();
        shared::put_partner_in(
            &txn,
            &PartnerRecord {
                id: y.deals.me().to_string(),
                name: y.deals.name().to_string(),
                partner_type: Some("reseller".into()),
                status: PartnerStatus::Active,
                since_ms: 1,
                last_seen_ms: None,
                addrs: vec![],
                removed_ms: None,
                ended_by_partner: false,
            },
        )
        .unwrap();
        txn.commit().unwrap();
    }
}

/// Exchanges messages between two engines until neither has anything to say.
pub(crate) fn sync(a: &Side, b: &Side) {
    let (ida, idb) = (a.deals.me().clone(), b.deals.me().clone());
    let mut to_b = a.deals.generate(&idb, None).unwrap();
    let mut to_a = b.deals.generate(&ida, None).unwrap();
    for _ in 0..20 {
        if to_a.is_empty() && to_b.is_empty() {
            return;
        }
        let got_b = b.deals.receive(&ida, std::mem::take(&mut to_b), 1).unwrap();
        let got_a = a.deals.receive(&idb, std::mem::take(&mut to_a), 1).unwrap();
        to_a = got_b.reply;
        to_b = got_a.reply;
    }
    panic!("sync did not settle");
}

/// The vendor shares its opportunity on acme.example ([`opportunity`]) with the reseller,
/// under a policy sharing `fields` (set at time 2, shared at time 3): the deal's id.
pub(crate) fn share_with(vendor: &Side, reseller: &Side, fields: &[&str]) -> DealId {
    let opp = opportunity(&vendor.store);
    let partner = reseller.deals.me().to_string();
    let record = partners::resolve(&vendor.store, &partner).unwrap();
    let fields: Vec<String> = fields.iter().map(|f| format!("{f:?}")).collect();
    let policy = Policy::from_toml(&format!(
        "[opportunities]\nfields = [{}]\n",
        fields.join(", ")
    ))
    .unwrap();
    partners::set_policy(&vendor.store, &record, &policy, "test", 2).unwrap();
    vendor
        .deals
        .share(&opp, &[partner], Role::Vendor, 3)
        .unwrap()
}

/// Account Acme (acme.example) and its opportunity "Big deal" in `store`: its id.
pub(crate) fn opportunity(store: &Store) -> String {
    let account = Account {
        id: "01JACC0000000000000000000A".into(),
        external_id: None,
        name: "Acme".into(),
        domain: Some(Domain::parse("acme.example").unwrap()),
        industry: None,
        country: None,
        status: AccountStatus::Prospect,
        owner: Some("SECRET-OWNER".into()),
        tags: vec![],
    };
    store.put_account(&account).unwrap();
    let opp = Opportunity {
        id: "01JDEA10000000000000000000".into(),
        external_id: None,
        account_id: "01JACC0000000000000000000A".into(),
        name: "Big deal".into(),
        stage: Stage::Qualified,
        amount: Some(Amount::parse("100000").unwrap()),
        currency: Some(Currency::parse("USD").unwrap()),
        close_date: None,
        owner: None,
        next_step: None,
        description: Some("SECRET-DESCRIPTION".into()),
        tags: vec![],
    };
    store.put_opportunity(&opp).expect("opportunity stored");
    opp.id
}
