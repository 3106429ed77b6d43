//! Certifications this node signs: issue (one, or many from an LMS completion export), list,
//! revoke, the signed revocation list, and verification with this node's trust (itself and its
//! partners). The file format and its checks are `protocol::attest`'s; a certified person of a
//! partner counts toward the program's `certified_people`.

use crate::domain::audit::{self, AuditKind};
use crate::domain::error::DomainError;
use crate::store::shared;
use crate::store::tables::ATTESTATIONS;
use crate::store::Store;
use anyhow::Result;
use protocol::attest::{Attestation, Revocation, RevocationList, SubjectKind};
use protocol::identity::{NodeId, NodeKey};
use protocol::records::Date;
use redb::ReadableTable;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Most attestations one import issues.
pub const IMPORT_ROWS_MAX: usize = 10_000;

/// An attestation this node issued.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Issued {
    /// The signed file, exactly as handed out.
    pub file: String,
    /// What it states.
    pub attestation: Attestation,
    /// When it was issued.
    pub issued_at_ms: u64,
    /// Its revocation, once revoked.
    #[serde(default)]
    pub revoked: Option<Revocation>,
}

impl Issued {
    /// The API's shape (with the file when `with_file`).
    pub fn to_json(&self, with_file: bool) -> Value {
        let a = &self.attestation;
        let mut v = json!({
            "id": a.id, "subject": a.subject, "subject_kind": a.subject_kind.to_string(),
            "company": a.company, "company_name": a.company_name,
            "certification": a.certification, "level": a.level,
            "issued": a.issued, "expires": a.expires,
            "revoked": self.revoked.as_ref().map(|r| json!({"on": r.revoked, "reason": r.reason})),
        });
        if with_file {
            v["file"] = json!(self.file);
        }
        v
    }
}

/// What an issuer fills in.
#[derive(Debug, Clone, Default)]
pub struct NewAttestation {
    /// Person's or company's name.
    pub subject: String,
    /// Person (default) or company.
    pub subject_kind: Option<SubjectKind>,
    /// The partner (node id or name) the subject belongs to, if any.
    pub partner: Option<String>,
    /// The certification.
    pub certification: String,
    /// Its level.
    pub level: String,
    /// Issue day (default today).
    pub issued: Option<String>,
    /// Last valid day.
    pub expires: String,
}

/// The day of `ms` (UTC).
pub fn day_of(ms: u64) -> Date {
    Date::from_days_since_epoch((ms / 86_400_000) as i64)
        .unwrap_or_else(|_| Date::new(1970, 1, 1).expect("the epoch is a date"))
}

fn random_id() -> String {
    let bytes: [u8; 16] = rand::random();
    hex::encode(bytes)
}

/// Builds, signs and checks one attestation (not stored yet).
fn build(
    store: &Store,
    key: &NodeKey,
    issuer_name: &str,
    new: NewAttestation,
    now_ms: u64,
) -> Result<Issued, DomainError> {
    let (company, company_name) = match new.partner.as_deref().map(str::trim) {
        Some(p) if !p.is_empty() => {
            let partner = crate::domain::partners::resolve(store, p)
                .map_err(|e| DomainError::fields(vec![("partner", e.to_string())]))?;
            (Some(partner.id), Some(partner.name))
        }
        _ => (None, None),
    };
    let attestation = Attestation {
        id: random_id(),
        issuer: String::new(),
        issuer_key: String::new(),
        issuer_name: issuer_name.to_string(),
        subject: new.subject,
        subject_kind: new.subject_kind.unwrap_or(SubjectKind::Person),
        company,
        company_name,
        certification: new.certification,
        level: new.level,
        issued: new.issued.unwrap_or_else(|| day_of(now_ms).to_string()),
        expires: new.expires,
    };
    let file = attestation
        .sign(key)
        .map_err(|e| DomainError::Invalid(e.to_string()))?;
    let attestation = Attestation::open(&file).map_err(|e| DomainError::Internal(e.into()))?;
    Ok(Issued {
        file,
        attestation,
        issued_at_ms: now_ms,
        revoked: None,
    })
}

fn store_issued(store: &Store, issued: &[Issued], now_ms: u64, summary: String) -> Result<()> {
    let txn = store.write()?;
    {
        let mut table = txn.open_table(ATTESTATIONS)?;
        for i in issued {
            let bytes = serde_json::to_vec(i)?;
            table.insert(i.attestation.id.as_str(), bytes.as_slice())?;
        }
    }
    let ids: Vec<&str> = issued.iter().map(|i| i.attestation.id.as_str()).collect();
    audit::record_in(
        &txn,
        now_ms,
        AuditKind::Program,
        issued
            .first()
            .and_then(|i| i.attestation.company.as_deref())
            .filter(|_| issued.len() == 1),
        summary,
        json!({"event": "attestation_issued", "ids": ids}),
    )?;
    txn.commit()?;
    Ok(())
}

/// Issues one attestation, signed with the node key, and keeps it.
pub fn issue(
    store: &Store,
    key: &NodeKey,
    issuer_name: &str,
    new: NewAttestation,
    now_ms: u64,
) -> Result<Issued, DomainError> {
    let issued = build(store, key, issuer_name, new, now_ms)?;
    let a = &issued.attestation;
    let summary = format!(
        "issued attestation {} to {} ({}, {})",
        a.id, a.subject, a.certification, a.level
    );
    store_issued(store, std::slice::from_ref(&issued), now_ms, summary)?;
    Ok(issued)
}

/// Issues one attestation per row of an LMS completion export (CSV with a header): `name`
/// (or `subject`/`learner`), `partner` (or `company`), `certification` (or `course`), `level`,
/// `completed` (or `issued`), `expires`. All rows or none: every bad row is named.
pub fn import_csv(
    store: &Store,
    key: &NodeKey,
    issuer_name: &str,
    csv_text: &str,
    now_ms: u64,
) -> Result<Vec<Issued>, DomainError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .trim(csv::Trim::All)
        .from_reader(csv_text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| DomainError::Invalid(format!("line 1: {e}")))?
        .clone();
    let column = |names: &[&str]| {
        headers
            .iter()
            .position(|h| names.iter().any(|n| h.eq_ignore_ascii_case(n)))
    };
    let subject = column(&["name", "subject", "learner", "full name"]);
    let partner = column(&["partner", "company", "organization"]);
    let certification = column(&["certification", "course", "credential"]);
    let level = column(&["level"]);
    let issued = column(&["completed", "issued", "completion date"]);
    let expires = column(&["expires", "expiry", "expiration date"]);
    let mut missing = Vec::new();
    for (found, name) in [
        (subject, "name"),
        (certification, "certification"),
        (expires, "expires"),
    ] {
        if found.is_none() {
            missing.push(name);
        }
    }
    if !missing.is_empty() {
        return Err(DomainError::Invalid(format!(
            "line 1: missing column(s) {} (found: {})",
            missing.join(", "),
            headers.iter().collect::<Vec<_>>().join(", ")
        )));
    }
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        if out.len() + errors.len() >= IMPORT_ROWS_MAX {
            return Err(DomainError::Invalid(format!(
                "more than {IMPORT_ROWS_MAX} rows; split the file"
            )));
        }
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                errors.push(format!("line {line}: {e}"));
                continue;
            }
        };
        let cell = |c: Option<usize>| c.and_then(|c| record.get(c)).unwrap_or("").to_string();
        let new = NewAttestation {
            subject: cell(subject),
            subject_kind: None,
            partner: partner.map(|_| cell(partner)).filter(|p| !p.is_empty()),
            certification: cell(certification),
            level: level.map_or("completed".to_string(), |_| cell(level)),
            issued: issued.map(|_| cell(issued)).filter(|d| !d.is_empty()),
            expires: cell(expires),
        };
        match build(store, key, issuer_name, new, now_ms) {
            Ok(i) => out.push(i),
            Err(e) => errors.push(format!("line {line}: {e}")),
        }
    }
    if !errors.is_empty() {
        return Err(DomainError::Invalid(format!(
            "nothing imported; {} bad row(s): {}",
            errors.len(),
            errors.join("; ")
        )));
    }
    if out.is_empty() {
        return Err(DomainError::Invalid("the file has no rows".into()));
    }
    let summary = format!("issued {} attestations from an LMS import", out.len());
    store_issued(store, &out, now_ms, summary)?;
    Ok(out)
}

/// Every attestation issued, newest first.
pub fn list(store: &Store) -> Result<Vec<Issued>> {
    let txn = store.read()?;
    let Some(table) = crate::store::open_table_if_exists(&txn, ATTESTATIONS)? else {
        return Ok(Vec::new());
    };
    let mut out: Vec<Issued> = Vec::new();
    for entry in table.iter()? {
        let (_, v) = entry?;
        out.push(serde_json::from_slice(v.value())?);
    }
    out.sort_by(|a, b| {
        b.issued_at_ms
            .cmp(&a.issued_at_ms)
            .then(a.attestation.id.cmp(&b.attestation.id))
    });
    Ok(out)
}

/// One issued attestation by id (or unique id prefix of 6+ digits).
pub fn get(store: &Store, id: &str) -> Result<Option<Issued>, DomainError> {
    let id = id.trim().to_ascii_lowercase();
    let all = list(store)?;
    let found: Vec<Issued> = all
        .into_iter()
        .filter(|i| i.attestation.id == id || (id.len() >= 6 && i.attestation.id.starts_with(&id)))
        .collect();
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.into_iter().next()),
        n => Err(DomainError::Invalid(format!(
            "'{id}' is the start of {n} attestation ids; give more digits"
        ))),
    }
}

/// Revokes an attestation (audited). Revoking twice keeps the first revocation.
pub fn revoke(
    store: &Store,
    id: &str,
    reason: Option<String>,
    now_ms: u64,
) -> Result<Issued, DomainError> {
    let mut issued = get(store, id)?.ok_or_else(|| {
        DomainError::NotFound(format!(
            "no attestation '{}' issued by this node",
            id.trim()
        ))
    })?;
    if reason
        .as_ref()
        .is_some_and(|r| r.chars().count() > protocol::attest::ATTEST_TEXT_CHARS_MAX)
    {
        let max = protocol::attest::ATTEST_TEXT_CHARS_MAX;
        return Err(DomainError::fields(vec![(
            "reason",
            format!("at most {max} characters"),
        )]));
    }
    if issued.revoked.is_some() {
        return Ok(issued);
    }
    let reason = reason
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    issued.revoked = Some(Revocation {
        id: issued.attestation.id.clone(),
        revoked: day_of(now_ms).to_string(),
        reason: reason.clone(),
    });
    save_revoked(store, &issued, reason, now_ms)?;
    Ok(issued)
}

fn save_revoked(store: &Store, issued: &Issued, reason: Option<String>, now_ms: u64) -> Result<()> {
    let txn = store.write()?;
    {
        let mut table = txn.open_table(ATTESTATIONS)?;
        let bytes = serde_json::to_vec(issued)?;
        table.insert(issued.attestation.id.as_str(), bytes.as_slice())?;
    }
    let a = &issued.attestation;
    audit::record_in(
        &txn,
        now_ms,
        AuditKind::Program,
        a.company.as_deref(),
        format!(
            "revoked attestation {} of {} ({})",
            a.id, a.subject, a.certification
        ),
        json!({"event": "attestation_revoked", "id": a.id, "reason": reason}),
    )?;
    txn.commit()?;
    Ok(())
}

/// This node's signed revocation list (its sequence is the number of revocations, which only
/// grows).
pub fn revocation_list(store: &Store, key: &NodeKey) -> Result<String> {
    let mut revoked: Vec<Revocation> = list(store)?.into_iter().filter_map(|i| i.revoked).collect();
    revoked.sort_by(|a, b| a.id.cmp(&b.id));
    let list = RevocationList {
        issuer: String::new(),
        issuer_key: String::new(),
        sequence: revoked.len() as u64,
        revoked,
    };
    Ok(list.sign(key)?)
}

/// Checks an attestation file as this node would: trusting itself and its active partners,
/// with its own revocations and any lists given.
pub fn verify(
    store: &Store,
    key: &NodeKey,
    file: &str,
    extra_lists: &[String],
    now_ms: u64,
) -> Result<Value> {
    let attestation = match Attestation::open(file) {
        Ok(a) => a,
        Err(e) => return Ok(json!({"valid": false, "code": e.code(), "reason": e.to_string()})),
    };
    let mut trusted: Vec<NodeId> = vec![key.node_id().clone()];
    for p in shared::partners(store)? {
        if p.status == shared::PartnerStatus::Active {
            if let Ok(id) = NodeId::parse(&p.id) {
                trusted.push(id);
            }
        }
    }
    let mut lists = vec![RevocationList::open(&revocation_list(store, key)?)?];
    for text in extra_lists {
        match RevocationList::open(text) {
            Ok(l) => lists.push(l),
            Err(e) => {
                return Ok(
                    json!({"valid": false, "code": "malformed", "reason": format!("revocation list: {e}")}),
                )
            }
        }
    }
    let summary = json!({
        "id": attestation.id, "issuer": attestation.issuer, "issuer_name": attestation.issuer_name,
        "subject": attestation.subject, "company_name": attestation.company_name,
        "certification": attestation.certification, "level": attestation.level,
        "issued": attestation.issued, "expires": attestation.expires,
    });
    Ok(match attestation.check(day_of(now_ms), &trusted, &lists) {
        Ok(()) => json!({"valid": true, "attestation": summary}),
        Err(e) => {
            json!({"valid": false, "code": e.code(), "reason": e.to_string(), "attestation": summary})
        }
    })
}

/// People of `partner` holding a valid (unexpired, unrevoked) attestation this node issued.
pub fn certified_people(store: &Store, partner: &str, now_ms: u64) -> Result<u64> {
    let today = day_of(now_ms).to_string();
    let mut people: Vec<String> = list(store)?
        .into_iter()
        .filter(|i| {
            let a = &i.attestation;
            i.revoked.is_none()
                && a.subject_kind == SubjectKind::Person
                && a.company.as_deref() == Some(partner)
                && a.issued <= today
                && a.expires >= today
        })
        .map(|i| i.attestation.subject.to_lowercase())
        .collect();
    people.sort();
    people.dedup();
    Ok(people.len() as u64)
}
