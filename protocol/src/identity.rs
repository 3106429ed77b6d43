//! Node identity: one ed25519 key per node. The node id is the libp2p PeerId of that key in its
//! base58 text form (`12D3KooW…`), so the id the network authenticates is the id that signs
//! changes. The Automerge actor id of a node is its 32-byte public key followed by an 8-byte
//! big-endian run counter: the signer is readable from every change, and a restarted node never
//! reuses an actor (Automerge rejects a reused actor with a repeated sequence number).

use automerge::ActorId;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use std::fmt;
use std::str::FromStr;

use crate::limits::NODE_ID_BYTES_MAX;

/// Why a node id, key or actor id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// The text is not a base58 PeerId.
    #[error("'{0}' is not a node id")]
    NotPeerId(String),
    /// The PeerId is valid but does not inline an ed25519 public key.
    #[error("node id '{0}' does not carry an ed25519 key")]
    NotEd25519(String),
    /// The text is longer than any node id.
    #[error("node id is longer than {NODE_ID_BYTES_MAX} bytes")]
    TooLong,
    /// The public key bytes are not a valid ed25519 point.
    #[error("invalid ed25519 public key")]
    BadPublicKey,
}

/// Length of an actor id: 32-byte public key and 8-byte run counter.
pub const ACTOR_ID_BYTES: usize = 40;

/// A node's signing key. Debug output never shows the secret.
#[derive(Clone)]
pub struct NodeKey {
    signing: SigningKey,
    id: NodeId,
}

impl NodeKey {
    /// The key whose secret scalar seed is `secret` (the 32 bytes the node keeps in its key file).
    pub fn from_secret_bytes(secret: &[u8; 32]) -> Self {
        let signing = SigningKey::from_bytes(secret);
        let id = NodeId::from_verifying_key(signing.verifying_key());
        NodeKey { signing, id }
    }

    /// The 32 secret bytes, for the node to store (mode 0600).
    pub fn secret_bytes(&self) -> [u8; 32] {
        self.signing.to_bytes()
    }

    /// The public key.
    pub fn public(&self) -> [u8; 32] {
        self.signing.verifying_key().to_bytes()
    }

    /// This node's id (its PeerId).
    pub fn node_id(&self) -> &NodeId {
        &self.id
    }

    /// The Automerge actor id for this key in process run `run_counter`. The node persists the
    /// counter and increments it on every start.
    pub fn actor_id(&self, run_counter: u64) -> ActorId {
        actor_id(&self.public(), run_counter)
    }

    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message).to_bytes()
    }
}

impl fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeKey").field("id", &self.id).finish()
    }
}

/// A node id: the base58 PeerId of an ed25519 key. Always canonical text, and it always carries
/// the 32 bytes of an ed25519 public key, so signatures can be checked against the id alone.
/// Whether those bytes are a valid curve point is checked when a signature is verified (point
/// decompression costs more than the rest of parsing, and most ids are only compared).
#[derive(Clone)]
pub struct NodeId {
    text: String,
    key: [u8; 32],
}

/// The identity-multihash prefix of an inlined ed25519 libp2p public key: multihash code 0x00,
/// length 36, then the protobuf `{type: Ed25519 (1), data: 32 bytes}`.
const PEER_ID_ED25519_PREFIX: [u8; 6] = [0x00, 0x24, 0x08, 0x01, 0x12, 0x20];

impl NodeId {
    /// Parses and validates a node id.
    pub fn parse(input: &str) -> Result<Self, IdentityError> {
        if input.len() > NODE_ID_BYTES_MAX {
            return Err(IdentityError::TooLong);
        }
        let peer = libp2p_identity::PeerId::from_str(input)
            .map_err(|_| IdentityError::NotPeerId(input.to_string()))?;
        let bytes = peer.to_bytes();
        let Some(key) = bytes.strip_prefix(&PEER_ID_ED25519_PREFIX[..]) else {
            return Err(IdentityError::NotEd25519(input.to_string()));
        };
        let key: [u8; 32] = key
            .try_into()
            .map_err(|_| IdentityError::NotEd25519(input.to_string()))?;
        if peer.to_base58() != input {
            return Err(IdentityError::NotPeerId(input.to_string()));
        }
        Ok(NodeId {
            text: input.to_string(),
            key,
        })
    }

    /// The node id of an ed25519 public key.
    pub fn from_public_key(public: &[u8; 32]) -> Result<Self, IdentityError> {
        let key = VerifyingKey::from_bytes(public).map_err(|_| IdentityError::BadPublicKey)?;
        Ok(NodeId::from_verifying_key(key))
    }

    fn from_verifying_key(key: VerifyingKey) -> Self {
        let public = libp2p_identity::ed25519::PublicKey::try_from_bytes(key.as_bytes())
            .expect("a dalek verifying key is a valid libp2p ed25519 key");
        let text = libp2p_identity::PublicKey::from(public)
            .to_peer_id()
            .to_base58();
        NodeId {
            text,
            key: key.to_bytes(),
        }
    }

    /// The base58 text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The ed25519 public key this id carries.
    pub fn public_key(&self) -> [u8; 32] {
        self.key
    }

    /// The key as a verifier, if the bytes are a valid curve point.
    pub(crate) fn verifying_key(&self) -> Option<VerifyingKey> {
        VerifyingKey::from_bytes(&self.key).ok()
    }
}

impl PartialEq for NodeId {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}
impl Eq for NodeId {}
impl std::hash::Hash for NodeId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.text.hash(state)
    }
}
impl PartialOrd for NodeId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for NodeId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.text.cmp(&other.text)
    }
}
impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}
impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({})", self.text)
    }
}
impl FromStr for NodeId {
    type Err = IdentityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NodeId::parse(s)
    }
}

/// The actor id `public ‖ run_counter (big endian)`.
pub fn actor_id(public: &[u8; 32], run_counter: u64) -> ActorId {
    let mut bytes = [0u8; ACTOR_ID_BYTES];
    bytes[..32].copy_from_slice(public);
    bytes[32..].copy_from_slice(&run_counter.to_be_bytes());
    ActorId::from(bytes)
}

/// The public key an actor id names, if it has the cosell actor shape.
pub fn actor_public_key(actor: &ActorId) -> Option<[u8; 32]> {
    let bytes = actor.to_bytes();
    if bytes.len() != ACTOR_ID_BYTES {
        return None;
    }
    let mut public = [0u8; 32];
    public.copy_from_slice(&bytes[..32]);
    Some(public)
}
