//! Certifications as attestations: statements a vendor signs with its node key ("Jane Doe of
//! Resellerco holds Solutions Architect, professional, until 2027-12-31") that anyone can check
//! offline, and the signed revocation list that withdraws them.
//!
//! The format is small on purpose so a verifier in any language is a few lines (documented in
//! `docs/attestations.md`): a JSON file `{"format", "payload", "signature"}` where `payload` is
//! a JSON text kept as a string — its exact bytes are what was signed, so no canonical JSON is
//! needed — and `signature` is the hex ed25519 signature of `"<format>\n" ‖ payload` by the key
//! `issuer_key` (hex) inside the payload. `issuer` is the issuer's node id, which is derived
//! from that key; a verifier decides which issuers it trusts.
//!
//! Pure: the issue date, the id's randomness and "today" come from the caller.

use crate::identity::{NodeId, NodeKey};
use crate::records::Date;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The `format` of an attestation file.
pub const ATTESTATION_FORMAT: &str = "cosell-attestation-v1";
/// The `format` of a revocation list file.
pub const REVOCATIONS_FORMAT: &str = "cosell-revocations-v1";
/// The largest file either format may be (a revocation list of ~100k entries).
pub const ATTEST_FILE_BYTES_MAX: usize = 16 * 1024 * 1024;
/// The longest text field (subject, certification, level, company name, reason), in characters.
pub const ATTEST_TEXT_CHARS_MAX: usize = 200;

/// Who an attestation is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubjectKind {
    /// A person (who counts toward "certified people").
    Person,
    /// A company as a whole.
    Company,
}

/// What the issuer states.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attestation {
    /// Unique id (32 hex digits), what a revocation names.
    pub id: String,
    /// The issuer's node id.
    pub issuer: String,
    /// The issuer's ed25519 public key, hex; `issuer` is derived from it.
    pub issuer_key: String,
    /// The issuer's company name when it signed.
    pub issuer_name: String,
    /// The person's or company's name.
    pub subject: String,
    /// Person or company.
    pub subject_kind: SubjectKind,
    /// The partner company's node id, when the subject belongs to a partner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    /// The partner company's name as the issuer knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    /// The certification (`Solutions Architect`).
    pub certification: String,
    /// Its level (`professional`).
    pub level: String,
    /// The day it was issued (YYYY-MM-DD).
    pub issued: String,
    /// The last day it is valid (YYYY-MM-DD).
    pub expires: String,
}

/// One withdrawn attestation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revocation {
    /// The attestation's id.
    pub id: String,
    /// The day it was revoked.
    pub revoked: String,
    /// Why, if the issuer said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// An issuer's list of revoked attestations, signed as a whole; a newer list replaces an older
/// one (`sequence`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevocationList {
    /// The issuer's node id.
    pub issuer: String,
    /// The issuer's public key, hex.
    pub issuer_key: String,
    /// Grows with every new list.
    pub sequence: u64,
    /// The revoked attestations.
    pub revoked: Vec<Revocation>,
}

/// Why an attestation does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttestError {
    /// Not an attestation or revocation file at all.
    #[error("not a {0} file: {1}")]
    Malformed(&'static str, String),
    /// The signature does not match the payload, or the key does not match the issuer.
    #[error("tampered: {0}")]
    Tampered(String),
    /// Past its last valid day.
    #[error("expired on {0}")]
    Expired(String),
    /// Not valid before its issue day.
    #[error("not valid before {0}")]
    NotYetValid(String),
    /// On the issuer's revocation list.
    #[error("revoked on {revoked}{}", reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default())]
    Revoked {
        /// The day.
        revoked: String,
        /// The issuer's reason.
        reason: Option<String>,
    },
    /// Signed by a node the verifier does not trust.
    #[error("unknown issuer {issuer} ({name}); trust it with --issuer {issuer}")]
    UnknownIssuer {
        /// The issuer's node id.
        issuer: String,
        /// The name it signed with.
        name: String,
    },
    /// A field the issuer was asked to sign is not acceptable.
    #[error("{field}: {message}")]
    Invalid {
        /// Which field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
}

impl AttestError {
    /// One word for scripts and the API: `malformed`, `tampered`, `expired`, `not_yet_valid`,
    /// `revoked`, `unknown_issuer`, `invalid`.
    pub fn code(&self) -> &'static str {
        match self {
            AttestError::Malformed(..) => "malformed",
            AttestError::Tampered(_) => "tampered",
            AttestError::Expired(_) => "expired",
            AttestError::NotYetValid(_) => "not_yet_valid",
            AttestError::Revoked { .. } => "revoked",
            AttestError::UnknownIssuer { .. } => "unknown_issuer",
            AttestError::Invalid { .. } => "invalid",
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignedFile {
    format: String,
    payload: String,
    signature: String,
}

impl Attestation {
    /// Checks the fields an issuer signs: texts present and short, dates valid and in order.
    pub fn validate(&self) -> Result<(), AttestError> {
        let text = |field: &'static str, value: &str| -> Result<(), AttestError> {
            let chars = value.chars().count();
            if value.trim().is_empty() || value.trim() != value {
                return Err(invalid(
                    field,
                    "must not be empty or start or end with spaces",
                ));
            }
            if chars > ATTEST_TEXT_CHARS_MAX || value.chars().any(char::is_control) {
                return Err(invalid(
                    field,
                    &format!("at most {ATTEST_TEXT_CHARS_MAX} characters, no control characters"),
                ));
            }
            Ok(())
        };
        text("subject", &self.subject)?;
        text("certification", &self.certification)?;
        text("level", &self.level)?;
        text("issuer_name", &self.issuer_name)?;
        if let Some(name) = &self.company_name {
            text("company_name", name)?;
        }
        if let Some(company) = &self.company {
            NodeId::parse(company).map_err(|e| invalid("company", &e.to_string()))?;
        }
        let day = |field: &'static str, text: &str| {
            if text.len() != 10 {
                return Err(invalid(field, "must be a day, YYYY-MM-DD"));
            }
            Date::parse(text).map_err(|e| invalid(field, e.message()))
        };
        let issued = day("issued", &self.issued)?;
        let expires = day("expires", &self.expires)?;
        if expires < issued {
            return Err(invalid("expires", "is before the issue day"));
        }
        if self.id.len() != 32 || !self.id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid("id", "must be 32 hex digits"));
        }
        Ok(())
    }

    /// Signs `self` (after [`Attestation::validate`]) with the issuer's key, which also sets
    /// `issuer` and `issuer_key`. Returns the file's text.
    pub fn sign(mut self, key: &NodeKey) -> Result<String, AttestError> {
        self.issuer = key.node_id().to_string();
        self.issuer_key = hex::encode(key.public());
        self.validate()?;
        let payload = serde_json::to_string(&self)
            .map_err(|e| AttestError::Malformed(ATTESTATION_FORMAT, e.to_string()))?;
        Ok(signed_file(ATTESTATION_FORMAT, payload, key))
    }

    /// Reads an attestation file and checks its signature against the key it names (and that
    /// the key is the issuer's). Trust, expiry and revocation are [`Attestation::check`]'s.
    pub fn open(text: &str) -> Result<Attestation, AttestError> {
        let payload = open_signed(text, ATTESTATION_FORMAT)?;
        let attestation: Attestation = serde_json::from_str(&payload.text)
            .map_err(|e| AttestError::Malformed(ATTESTATION_FORMAT, format!("payload: {e}")))?;
        payload.check_issuer(&attestation.issuer, &attestation.issuer_key)?;
        attestation.validate()?;
        Ok(attestation)
    }

    /// Whether an opened attestation holds on `today` for a verifier trusting `trusted` issuers,
    /// given the issuers' revocation lists (lists of other issuers are ignored).
    pub fn check(
        &self,
        today: Date,
        trusted: &[NodeId],
        revocations: &[RevocationList],
    ) -> Result<(), AttestError> {
        if !trusted.iter().any(|t| t.as_str() == self.issuer) {
            return Err(AttestError::UnknownIssuer {
                issuer: self.issuer.clone(),
                name: self.issuer_name.clone(),
            });
        }
        let newest = revocations
            .iter()
            .filter(|l| l.issuer == self.issuer)
            .max_by_key(|l| l.sequence);
        if let Some(r) = newest.and_then(|l| l.revoked.iter().find(|r| r.id == self.id)) {
            return Err(AttestError::Revoked {
                revoked: r.revoked.clone(),
                reason: r.reason.clone(),
            });
        }
        // Both dates were validated by `open`.
        let issued = Date::parse(&self.issued).map_err(|e| invalid("issued", e.message()))?;
        let expires = Date::parse(&self.expires).map_err(|e| invalid("expires", e.message()))?;
        if today < issued {
            return Err(AttestError::NotYetValid(self.issued.clone()));
        }
        if today > expires {
            return Err(AttestError::Expired(self.expires.clone()));
        }
        Ok(())
    }
}

impl RevocationList {
    /// Signs the list with the issuer's key (setting `issuer` and `issuer_key`).
    pub fn sign(mut self, key: &NodeKey) -> Result<String, AttestError> {
        self.issuer = key.node_id().to_string();
        self.issuer_key = hex::encode(key.public());
        for r in &self.revoked {
            Date::parse(&r.revoked).map_err(|e| invalid("revoked", e.message()))?;
        }
        let payload = serde_json::to_string(&self)
            .map_err(|e| AttestError::Malformed(REVOCATIONS_FORMAT, e.to_string()))?;
        Ok(signed_file(REVOCATIONS_FORMAT, payload, key))
    }

    /// Reads a revocation list file and checks its signature.
    pub fn open(text: &str) -> Result<RevocationList, AttestError> {
        let payload = open_signed(text, REVOCATIONS_FORMAT)?;
        let list: RevocationList = serde_json::from_str(&payload.text)
            .map_err(|e| AttestError::Malformed(REVOCATIONS_FORMAT, format!("payload: {e}")))?;
        payload.check_issuer(&list.issuer, &list.issuer_key)?;
        Ok(list)
    }
}

fn invalid(field: &'static str, message: &str) -> AttestError {
    AttestError::Invalid {
        field,
        message: message.to_string(),
    }
}

/// What was signed: `"<format>\n" ‖ payload`.
fn signing_bytes(format: &str, payload: &str) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(format.len() + 1 + payload.len());
    bytes.extend_from_slice(format.as_bytes());
    bytes.push(b'\n');
    bytes.extend_from_slice(payload.as_bytes());
    bytes
}

fn signed_file(format: &'static str, payload: String, key: &NodeKey) -> String {
    let signature = key.sign(&signing_bytes(format, &payload));
    let file = SignedFile {
        format: format.to_string(),
        payload,
        signature: hex::encode(signature),
    };
    // A struct of three strings always serializes.
    serde_json::to_string_pretty(&file).unwrap_or_default() + "\n"
}

/// A payload whose signature held under `key`.
struct OpenedPayload {
    text: String,
    key: [u8; 32],
}

impl OpenedPayload {
    /// The payload's own `issuer` and `issuer_key` must be the key that signed.
    fn check_issuer(&self, issuer: &str, issuer_key: &str) -> Result<(), AttestError> {
        if issuer_key != hex::encode(self.key) {
            return Err(AttestError::Tampered("issuer_key changed".into()));
        }
        let derived =
            NodeId::from_public_key(&self.key).map_err(|e| AttestError::Tampered(e.to_string()))?;
        if derived.as_str() != issuer {
            return Err(AttestError::Tampered(
                "issuer is not the node id of issuer_key".into(),
            ));
        }
        Ok(())
    }
}

fn open_signed(text: &str, format: &'static str) -> Result<OpenedPayload, AttestError> {
    if text.len() > ATTEST_FILE_BYTES_MAX {
        return Err(AttestError::Malformed(
            format,
            format!("larger than {ATTEST_FILE_BYTES_MAX} bytes"),
        ));
    }
    let file: SignedFile =
        serde_json::from_str(text).map_err(|e| AttestError::Malformed(format, e.to_string()))?;
    if file.format != format {
        return Err(AttestError::Malformed(
            format,
            format!("format is \"{}\"", file.format),
        ));
    }
    // The key is read before the signature is checked, only to know what to check with.
    #[derive(Deserialize)]
    struct KeyOnly {
        issuer_key: String,
    }
    let key_hex = serde_json::from_str::<KeyOnly>(&file.payload)
        .map_err(|e| AttestError::Malformed(format, format!("payload: {e}")))?
        .issuer_key;
    let key: [u8; 32] = hex::decode(&key_hex)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| AttestError::Tampered("issuer_key is not 32 hex bytes".into()))?;
    let signature: [u8; 64] = hex::decode(&file.signature)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| AttestError::Tampered("signature is not 64 hex bytes".into()))?;
    let verifying = VerifyingKey::from_bytes(&key)
        .map_err(|_| AttestError::Tampered("issuer_key is not a valid key".into()))?;
    verifying
        .verify(
            &signing_bytes(format, &file.payload),
            &Signature::from_bytes(&signature),
        )
        .map_err(|_| AttestError::Tampered("the signature does not match the content".into()))?;
    Ok(OpenedPayload {
        text: file.payload,
        key,
    })
}

impl fmt::Display for SubjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SubjectKind::Person => "person",
            SubjectKind::Company => "company",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> NodeKey {
        NodeKey::from_secret_bytes(&[seed; 32])
    }

    fn day(s: &str) -> Date {
        Date::parse(s).expect("date")
    }

    fn jane() -> Attestation {
        Attestation {
            id: "0123456789abcdef0123456789abcdef".into(),
            issuer: String::new(),
            issuer_key: String::new(),
            issuer_name: "Vendorco".into(),
            subject: "Jane Doe".into(),
            subject_kind: SubjectKind::Person,
            company: Some(key(2).node_id().to_string()),
            company_name: Some("Resellerco".into()),
            certification: "Solutions Architect".into(),
            level: "professional".into(),
            issued: "2026-01-15".into(),
            expires: "2027-01-14".into(),
        }
    }

    #[test]
    fn a_signed_attestation_opens_and_holds_for_a_verifier_trusting_its_issuer() {
        let vendor = key(1);
        let file = jane().sign(&vendor).expect("signs");
        let opened = Attestation::open(&file).expect("opens");
        assert_eq!(opened.subject, "Jane Doe");
        assert_eq!(opened.issuer, vendor.node_id().to_string());
        let trusted = [vendor.node_id().clone()];
        assert_eq!(opened.check(day("2026-06-01"), &trusted, &[]), Ok(()));
    }

    #[test]
    fn any_changed_byte_of_the_payload_is_tampering() {
        let file = jane().sign(&key(1)).expect("signs");
        let forged = file.replace("professional", "expert");
        assert_ne!(file, forged);
        assert_eq!(
            Attestation::open(&forged).map_err(|e| e.code()),
            Err("tampered")
        );
        // A forger re-signing with its own key while keeping the vendor's id is caught too.
        let mut relabelled = jane();
        relabelled.issuer_name = "Vendorco".into();
        let by_forger = relabelled.sign(&key(9)).expect("signs");
        let vendor_id = key(1).node_id().to_string();
        let forger_id = key(9).node_id().to_string();
        let claimed = by_forger.replace(&forger_id, &vendor_id);
        assert_eq!(
            Attestation::open(&claimed).map_err(|e| e.code()),
            Err("tampered")
        );
    }

    #[test]
    fn an_attestation_from_an_untrusted_issuer_is_refused_by_name() {
        let opened = Attestation::open(&jane().sign(&key(9)).expect("signs")).expect("opens");
        let err = opened
            .check(day("2026-06-01"), &[key(1).node_id().clone()], &[])
            .expect_err("unknown");
        assert_eq!(err.code(), "unknown_issuer");
        assert!(err.to_string().contains("Vendorco"), "{err}");
    }

    #[test]
    fn expiry_and_issue_day_bound_validity() {
        let vendor = key(1);
        let opened = Attestation::open(&jane().sign(&vendor).expect("signs")).expect("opens");
        let trusted = [vendor.node_id().clone()];
        assert_eq!(opened.check(day("2027-01-14"), &trusted, &[]), Ok(()));
        assert_eq!(
            opened.check(day("2027-01-15"), &trusted, &[]),
            Err(AttestError::Expired("2027-01-14".into()))
        );
        assert_eq!(
            opened
                .check(day("2026-01-14"), &trusted, &[])
                .map_err(|e| e.code()),
            Err("not_yet_valid")
        );
    }

    #[test]
    fn the_newest_signed_revocation_list_of_the_issuer_decides() {
        let vendor = key(1);
        let opened = Attestation::open(&jane().sign(&vendor).expect("signs")).expect("opens");
        let trusted = [vendor.node_id().clone()];
        let list = |sequence, revoked: Vec<Revocation>| {
            let text = RevocationList {
                issuer: String::new(),
                issuer_key: String::new(),
                sequence,
                revoked,
            }
            .sign(&vendor)
            .expect("signs");
            RevocationList::open(&text).expect("opens")
        };
        let revoked = Revocation {
            id: opened.id.clone(),
            revoked: "2026-03-01".into(),
            reason: Some("left the company".into()),
        };
        let lists = [list(1, vec![revoked]), list(0, vec![])];
        let err = opened
            .check(day("2026-06-01"), &trusted, &lists)
            .expect_err("revoked");
        assert_eq!(err.to_string(), "revoked on 2026-03-01: left the company");
        // A list signed by someone else cannot revoke the vendor's attestation.
        let mut other = list(5, vec![]);
        other.issuer = key(3).node_id().to_string();
        assert_eq!(opened.check(day("2026-06-01"), &trusted, &[other]), Ok(()));
        // A tampered list does not open.
        let text = RevocationList {
            issuer: String::new(),
            issuer_key: String::new(),
            sequence: 2,
            revoked: vec![],
        }
        .sign(&vendor)
        .expect("signs");
        assert_eq!(
            RevocationList::open(&text.replace("\\\"sequence\\\":2", "\\\"sequence\\\":3"))
                .map_err(|e| e.code()),
            Err("tampered")
        );
    }

    #[test]
    fn bad_fields_are_refused_before_signing() {
        let mut a = jane();
        a.expires = "2025-01-01".into();
        assert_eq!(a.sign(&key(1)).map_err(|e| e.code()), Err("invalid"));
        let mut a = jane();
        a.subject = " ".into();
        assert!(a.sign(&key(1)).is_err());
        assert_eq!(
            Attestation::open("{}").map_err(|e| e.code()),
            Err("malformed")
        );
    }
}
