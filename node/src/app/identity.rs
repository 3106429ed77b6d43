//! The node's identity: one ed25519 key per node, kept in `identity.key` (mode 0600). Its libp2p
//! PeerId is the node id partners know it by, and the same key signs every change it authors.

use crate::app::datadir::write_private;
use anyhow::{bail, Context, Result};
use libp2p_identity::{Keypair, PeerId};
use std::path::Path;

/// The node's key pair.
#[derive(Clone)]
pub struct Identity {
    keypair: Keypair,
    secret: [u8; 32],
}

impl Identity {
    /// A fresh random identity.
    pub fn generate() -> Result<Identity> {
        let mut secret = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut secret);
        Identity::from_secret(secret)
    }

    fn from_secret(secret: [u8; 32]) -> Result<Identity> {
        let keypair = Keypair::ed25519_from_bytes(secret).context("invalid ed25519 secret key")?;
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
        let bytes = std::fs::read(path)?;
        let secret: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| anyhow::anyhow!("the identity key {} is not 32 bytes", path.display()))?;
        Identity::from_secret(secret)
    }

    /// Writes the key file with mode 0600.
    pub fn save(&self, path: &Path) -> Result<()> {
        write_private(path, &self.secret)
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

    /// The 32-byte ed25519 secret, for the protocol crate's signer.
    pub fn secret_bytes(&self) -> [u8; 32] {
        self.secret
    }
}
