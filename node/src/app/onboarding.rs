//! Onboarding links: a one-time code that lets the first user of a node (a hosted workspace,
//! whose company has no command line) set a password from the browser. Only the code's SHA-256
//! is kept, in `onboarding.code` (0600) in the data directory; redeeming it removes the file.

use crate::app::datadir::{write_private, DataDir};
use anyhow::{Context, Result};
use sha2::Digest;

/// Issues a new code for the node in `dir` (a previous one stops working) and answers it.
pub fn issue(dir: &DataDir) -> Result<String> {
    let mut raw = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut raw);
    let code = hex::encode(raw);
    write_private(&dir.onboarding_code(), digest(&code).as_bytes())?;
    Ok(code)
}

/// Whether `code` is the node's waiting onboarding code (compared in constant time).
pub fn matches(dir: &DataDir, code: &str) -> Result<bool> {
    let path = dir.onboarding_code();
    let kept = match std::fs::read_to_string(&path) {
        Ok(kept) => kept,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let given = digest(code);
    Ok(subtle::ConstantTimeEq::ct_eq(kept.trim().as_bytes(), given.as_bytes()).into())
}

/// Removes the node's onboarding code (it was used).
pub fn spend(dir: &DataDir) -> Result<()> {
    match std::fs::remove_file(dir.onboarding_code()) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).context("cannot remove the onboarding code")
        }
        _ => Ok(()),
    }
}

fn digest(code: &str) -> String {
    hex::encode(sha2::Sha256::digest(code.trim().as_bytes()))
}
