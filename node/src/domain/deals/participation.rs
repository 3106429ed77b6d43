//! Who takes part in which document, both ways, kept beside the engine's documents: a hub with
//! 1,000 partners and 10,000 deals finds one partner's deals (a connect, a policy change) and
//! one deal's participants (a change to offer) without a scan over all of them.
//!
//! It has its own lock, so the network task reads it without waiting for the engine's (which
//! a sync exchange holds across its durable commit). Lock order: the engine's, then this one.
//! Entries follow [`DealDoc::participants`] at every `Deals::refresh`, the one place a
//! document's change is taken in; an entry of a document dropped since is harmless (a lookup
//! of the document finds nothing and skips it).

use protocol::deal::{DealDoc, DealId};
use protocol::identity::NodeId;
use std::collections::{HashMap, HashSet};
use std::sync::RwLock;

/// The participant index; see the module comment.
#[derive(Default)]
pub struct Participation {
    maps: RwLock<Maps>,
}

#[derive(Default)]
struct Maps {
    by_deal: HashMap<DealId, Vec<NodeId>>,
    by_node: HashMap<NodeId, HashSet<DealId>>,
}

impl Participation {
    /// Records the participants `doc` has now.
    pub(super) fn update(&self, doc: &DealDoc) {
        let id = doc.id();
        let now: Vec<NodeId> = doc.participants().cloned().collect();
        let mut maps = self.maps.write().unwrap_or_else(|p| p.into_inner());
        if maps.by_deal.get(&id) == Some(&now) {
            return;
        }
        let old = maps.by_deal.insert(id, now.clone()).unwrap_or_default();
        for node in old.iter().filter(|n| !now.contains(n)) {
            if let Some(set) = maps.by_node.get_mut(node) {
                set.remove(&id);
                if set.is_empty() {
                    maps.by_node.remove(node);
                }
            }
        }
        for node in now {
            maps.by_node.entry(node).or_default().insert(id);
        }
    }

    /// Forgets a document that is gone.
    pub(super) fn remove(&self, id: &DealId) {
        let mut maps = self.maps.write().unwrap_or_else(|p| p.into_inner());
        for node in maps.by_deal.remove(id).unwrap_or_default() {
            if let Some(set) = maps.by_node.get_mut(&node) {
                set.remove(id);
                if set.is_empty() {
                    maps.by_node.remove(&node);
                }
            }
        }
    }

    /// The participants of document `id`, or `None` when it is not known here (not held, or
    /// still waiting for its genesis).
    pub fn of(&self, id: &DealId) -> Option<Vec<NodeId>> {
        let maps = self.maps.read().unwrap_or_else(|p| p.into_inner());
        maps.by_deal.get(id).cloned()
    }

    /// The documents `node` takes part in, in id order.
    pub fn documents_of(&self, node: &NodeId) -> Vec<DealId> {
        let maps = self.maps.read().unwrap_or_else(|p| p.into_inner());
        let mut ids: Vec<DealId> = maps
            .by_node
            .get(node)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default();
        ids.sort();
        ids
    }
}
