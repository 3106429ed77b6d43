//! The node's identity: one ed25519 key per node, kept in `identity.key` (mode 0600). Its libp2p
//! PeerId is the node id partners know it by, and the same key signs every change it authors.

use crate::app::datadir::write_private;
use anyhow::{bail, Context, Result};
use libp2p_identity::{Keypair, PeerId};
use std::path::Path;
use zeroize::Zeroizing;

/// The node's key pair. The secret's bytes are wiped from memory when it is dropped (libp2p's
/// key pair wipes its own copy).
#[derive(Clone)]
pub struct Identity {
    keypair: Keypair,
    secret: Zeroizing<[u8; 32]>,
}

impl Identity {
    /// A fresh random identity.
    pub fn generate() -> Result<Identity> {
        let mut secret = Zeroizing::new([0u8; 32]);
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, secret.as_mut());
        Identity::from_secret(secret)
    }

    fn from_secret(secret: Zeroizing<[u8; 32]>) -> Result<Identity> {
        // `ed25519_from_bytes` wipes the copy it is given.
        let keypair = Keypair::ed25519_from_bytes(*secret).context("invalid ed25519 secret key")?;
        Ok(Identity { keypair, secret })
    }

    /// Reads the key file, refusing one that others may read.
    pub fn load(path: &Path) -> Result<Identity> {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path)
            .with_context(|| format!("cannot read the identity key {}", path.display()))?;
        if meta.permissions().mode() & 0o077 != 0 {
            bail!(
                "the identity key {} is readable by others (mode {:o}); run `chmod 600 {}`",
                path.display(),
                meta.permissions().mode() & 0o777,
                path.display()
            );
        }
        let bytes = Zeroizing::new(std::fs::read(path)?);
        let secret: Zeroizing<[u8; 32]> =
            Zeroizing::new(bytes.as_slice().try_into().map_err(|_| {
                anyhow::anyhow!("the identity key {} is not 32 bytes", path.display())
            })?);
        Identity::from_secret(secret)
    }

    /// Writes the key file with mode 0600.
    pub fn save(&self, path: &Path) -> Result<()> {
        write_private(path, self.secret.as_slice())
    }

    /// The node id (libp2p PeerId, base58).
    pub fn node_id(&self) -> String {
        self.peer_id().to_base58()
    }

    /// The libp2p PeerId.
    pub fn peer_id(&self) -> PeerId {
        PeerId::from(self.keypair.public())
    }

    /// The libp2p key pair.
    pub fn keypair(&self) -> &Keypair {
        &self.keypair
    }

    /// The 32-byte ed25519 secret, for the protocol crate's signer (a copy: the holder wipes
    /// it).
    pub fn secret_bytes(&self) -> [u8; 32] {
        *self.secret
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compiles only for a type that wipes its memory when dropped.
    fn wiped_on_drop<T: zeroize::ZeroizeOnDrop>(_: &T) {}

    #[test]
    fn the_identity_secret_is_wiped_from_memory_when_dropped() {
        // Security review (issue 19, low): the node's ed25519 secret stayed in freed memory.
        let identity = Identity::generate().expect("identity");
        wiped_on_drop(&identity.secret);
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("identity.key");
        identity.save(&path).expect("save");
        let loaded = Identity::load(&path).expect("load");
        assert_eq!(loaded.node_id(), identity.node_id());
        assert_eq!(loaded.secret_bytes(), identity.secret_bytes());
    }
}
