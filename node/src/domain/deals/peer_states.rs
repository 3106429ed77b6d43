//! The in-memory sync state per peer and document, by peer first: a partner that connects or
//! goes away drops its own states in one step, not in a scan over every partner's (a hub's
//! reconnect storm of 1,000 partners with 10 deals each was 1,000 scans of 10,000 states,
//! under the engine's lock).

use protocol::deal::DealId;
use protocol::identity::NodeId;
use protocol::sync::PeerSync;
use std::collections::HashMap;

/// Sync states per (peer, document); see the module comment.
#[derive(Default)]
pub(crate) struct PeerStates(HashMap<NodeId, HashMap<DealId, PeerSync>>);

impl PeerStates {
    pub fn get(&self, peer: &NodeId, id: &DealId) -> Option<&PeerSync> {
        self.0.get(peer)?.get(id)
    }

    pub fn get_mut(&mut self, peer: &NodeId, id: &DealId) -> Option<&mut PeerSync> {
        self.0.get_mut(peer)?.get_mut(id)
    }

    pub fn contains(&self, peer: &NodeId, id: &DealId) -> bool {
        self.get(peer, id).is_some()
    }

    pub fn insert(&mut self, peer: &NodeId, id: DealId, state: PeerSync) {
        self.0.entry(peer.clone()).or_default().insert(id, state);
    }

    pub fn remove(&mut self, peer: &NodeId, id: &DealId) {
        if let Some(states) = self.0.get_mut(peer) {
            states.remove(id);
            if states.is_empty() {
                self.0.remove(peer);
            }
        }
    }

    /// Drops every state of `peer`.
    pub fn remove_peer(&mut self, peer: &NodeId) {
        self.0.remove(peer);
    }

    /// Keeps only the states of documents `keep` says yes to (documents that went away).
    pub fn retain_documents(&mut self, keep: impl Fn(&DealId) -> bool) {
        for states in self.0.values_mut() {
            states.retain(|id, _| keep(id));
        }
        self.0.retain(|_, states| !states.is_empty());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::identity::NodeKey;

    #[test]
    fn a_peer_leaving_drops_its_states_only() {
        let a = NodeKey::from_secret_bytes(&[1; 32]).node_id().clone();
        let b = NodeKey::from_secret_bytes(&[2; 32]).node_id().clone();
        let (d1, d2) = (DealId::from_bytes([1; 32]), DealId::from_bytes([2; 32]));
        let mut states = PeerStates::default();
        states.insert(&a, d1, PeerSync::new());
        states.insert(&a, d2, PeerSync::new());
        states.insert(&b, d1, PeerSync::new());
        states.remove_peer(&a);
        assert!(!states.contains(&a, &d1) && !states.contains(&a, &d2));
        assert!(states.contains(&b, &d1));
        states.retain_documents(|id| *id != d1);
        assert!(!states.contains(&b, &d1));
        states.insert(&b, d2, PeerSync::new());
        states.remove(&b, &d2);
        assert!(states.get(&b, &d2).is_none());
    }
}
