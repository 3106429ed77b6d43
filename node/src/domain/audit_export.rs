//! A verifiable export of the audit log: a hash-chained text file whose head is signed by the
//! node key, so an auditor can check offline, in any language, that no entry was changed,
//! removed, added or moved since the node wrote the file. The format is in SECURITY.md
//! ("Audit export").
//!
//! ```text
//! {"format":"cosell-audit-export/1","node":"12D3…","public_key":"<hex>",…}   header (JSON)
//! <hex chain_1> <entry 1 JSON>
//! …
//! <hex chain_n> <entry n JSON>
//! {"head":"<hex chain_n>","entries":n,"signature":"<hex>"}               footer (JSON)
//! ```
//!
//! `chain_0 = SHA-256(header line)`, `chain_i = SHA-256(chain_{i-1} ‖ entry i's JSON bytes)`
//! (the raw 32-byte digest, then the bytes after the first space of the line), and the
//! signature is ed25519 over the ASCII text `cosell-audit-export/1 head <hex chain_n>`.

use super::audit_retention::Checkpoint;
use crate::store::shared::AuditEntry;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The format's name, first in the header and in the signed message.
pub const FORMAT: &str = "cosell-audit-export/1";

/// The message the footer's signature covers.
fn signed_message(head_hex: &str) -> String {
    format!("{FORMAT} head {head_hex}")
}

fn chain_next(previous: &[u8; 32], bytes: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(previous);
    h.update(bytes);
    h.finalize().into()
}

/// Writes the export of `entries` (oldest first), signed with `key` (the node key's secret).
/// `from_ms`/`to_ms` are the period asked for, recorded in the header. `retention`: the
/// checkpoint of the last removal of old entries, if any (`domain::audit_retention`), carried
/// in the header so a verifier knows where the log starts.
pub fn write(
    entries: &[AuditEntry],
    node: &str,
    node_name: &str,
    secret: &[u8; 32],
    period: (u64, u64),
    now_ms: u64,
    retention: Option<&Checkpoint>,
) -> String {
    let key = SigningKey::from_bytes(secret);
    let mut header = json!({
        "format": FORMAT,
        "node": node,
        "node_name": node_name,
        "public_key": hex::encode(key.verifying_key().to_bytes()),
        "from": super::audit::rfc3339(period.0),
        "to": super::audit::rfc3339(period.1),
        "exported_at": super::audit::rfc3339(now_ms),
    });
    if let Some(cp) = retention {
        header["retention"] = json!(cp);
    }
    let header = header.to_string();
    let mut out = String::with_capacity(entries.len() * 300 + 512);
    out.push_str(&header);
    out.push('\n');
    let mut chain: [u8; 32] = Sha256::digest(header.as_bytes()).into();
    for entry in entries {
        let line = super::audit::to_json(entry).to_string();
        chain = chain_next(&chain, line.as_bytes());
        out.push_str(&hex::encode(chain));
        out.push(' ');
        out.push_str(&line);
        out.push('\n');
    }
    let head = hex::encode(chain);
    let signature = key.sign(signed_message(&head).as_bytes());
    let footer = json!({
        "head": head,
        "entries": entries.len(),
        "signature": hex::encode(signature.to_bytes()),
    });
    out.push_str(&footer.to_string());
    out.push('\n');
    out
}

/// What a file that verified holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The node id the header names (its public key signed the head).
    pub node: String,
    /// The company name the header names.
    pub node_name: String,
    /// The public key that signed the head, hex.
    pub public_key: String,
    /// The period exported.
    pub from: String,
    pub to: String,
    /// How many entries the file holds.
    pub entries: usize,
    /// The signed head, hex.
    pub head: String,
    /// The retention checkpoint the header carries (its signature checked), if old entries
    /// were removed before the export.
    pub retention: Option<Checkpoint>,
}

/// Checks an export: the header's key belongs to the node it names, every line's chain value
/// follows from the one before and the entry's bytes, entries' sequence numbers increase, and
/// the footer's head is the last chain value, signed by that key. The error names the line and
/// what is wrong with it (an entry changed, removed or moved breaks the chain at that line).
pub fn verify(text: &str) -> Result<Verified, String> {
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() < 2 {
        return Err("not a cosell audit export: it needs a header and a footer line".into());
    }
    let header_line = lines[0];
    let header: Value = serde_json::from_str(header_line)
        .map_err(|e| format!("line 1: the header is not JSON ({e})"))?;
    if header["format"] != FORMAT {
        return Err(format!(
            "line 1: not a cosell audit export (format {} ≠ {FORMAT})",
            header["format"]
        ));
    }
    let text_of = |v: &Value, key: &str, line: usize| -> Result<String, String> {
        v[key]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("line {line}: \"{key}\" is missing"))
    };
    let node = text_of(&header, "node", 1)?;
    let public_hex = text_of(&header, "public_key", 1)?;
    let public: [u8; 32] = hex::decode(&public_hex)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or("line 1: public_key is not 32 bytes of hex")?;
    let key = VerifyingKey::from_bytes(&public)
        .map_err(|_| "line 1: public_key is not an ed25519 key".to_string())?;
    let derived = protocol::identity::NodeId::from_public_key(&public)
        .map_err(|e| format!("line 1: public_key: {e}"))?;
    if derived.as_str() != node {
        return Err(format!(
            "line 1: the public key is node {derived}'s, not node {node}'s"
        ));
    }
    let retention: Option<Checkpoint> = match header.get("retention") {
        None => None,
        Some(v) => {
            let cp: Checkpoint = serde_json::from_value(v.clone())
                .map_err(|e| format!("line 1: the retention checkpoint is malformed ({e})"))?;
            cp.verify(&key).map_err(|e| format!("line 1: {e}"))?;
            Some(cp)
        }
    };
    let mut chain: [u8; 32] = Sha256::digest(header_line.as_bytes()).into();
    let body = &lines[1..lines.len() - 1];
    let mut last_seq: Option<u64> = None;
    for (i, line) in body.iter().enumerate() {
        let n = i + 2;
        let (stated, entry) = line
            .split_once(' ')
            .ok_or_else(|| format!("line {n}: not `<chain> <entry>`"))?;
        chain = chain_next(&chain, entry.as_bytes());
        if hex::encode(chain) != stated {
            return Err(format!(
                "line {n}: the hash chain breaks here: this entry, or one before it, was changed, removed, added or moved"
            ));
        }
        let value: Value = serde_json::from_str(entry)
            .map_err(|e| format!("line {n}: the entry is not JSON ({e})"))?;
        let seq = value["seq"]
            .as_u64()
            .ok_or_else(|| format!("line {n}: the entry has no seq"))?;
        if last_seq.is_some_and(|last| seq <= last) {
            return Err(format!(
                "line {n}: entry {seq} comes after entry {}: entries were moved",
                last_seq.unwrap_or(0)
            ));
        }
        // A period reaching back to removed entries starts at the first one kept: one
        // missing there would otherwise look like the start of the log.
        if let (None, Some(cp)) = (last_seq, &retention) {
            let from = header["from"]
                .as_str()
                .and_then(|t| parse_time(t, false).ok())
                .unwrap_or(0);
            if from <= cp.before_ms && seq != cp.first_kept_seq {
                return Err(format!(
                    "line {n}: the log's first kept entry is {} (retention checkpoint) but this file starts at entry {seq}: entries were removed",
                    cp.first_kept_seq
                ));
            }
        }
        last_seq = Some(seq);
    }
    let n = lines.len();
    let footer: Value = serde_json::from_str(lines[n - 1])
        .map_err(|e| format!("line {n}: the footer is not JSON ({e})"))?;
    let head = text_of(&footer, "head", n)?;
    if head != hex::encode(chain) {
        return Err(format!(
            "line {n}: the signed head does not match the entries: entries were changed, removed, added or moved"
        ));
    }
    if footer["entries"].as_u64() != Some(body.len() as u64) {
        return Err(format!(
            "line {n}: the footer counts {} entries but the file holds {}",
            footer["entries"],
            body.len()
        ));
    }
    let signature: [u8; 64] = hex::decode(text_of(&footer, "signature", n)?)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| format!("line {n}: the signature is not 64 bytes of hex"))?;
    key.verify(
        signed_message(&head).as_bytes(),
        &Signature::from_bytes(&signature),
    )
    .map_err(|_| format!("line {n}: the signature over the head is not node {node}'s"))?;
    Ok(Verified {
        node,
        node_name: header["node_name"].as_str().unwrap_or("").to_string(),
        public_key: public_hex,
        from: header["from"].as_str().unwrap_or("").to_string(),
        to: header["to"].as_str().unwrap_or("").to_string(),
        entries: body.len(),
        head,
        retention,
    })
}

/// Milliseconds since the epoch of `YYYY-MM-DD` (the day's start; with `end`, its last
/// millisecond) or of an RFC 3339 UTC time `YYYY-MM-DDTHH:MM:SS[.mmm]Z`.
pub fn parse_time(text: &str, end: bool) -> Result<u64, String> {
    let t = text.trim();
    let bad = || format!("'{t}' is not a date (YYYY-MM-DD) or a UTC time (YYYY-MM-DDTHH:MM:SSZ)");
    let date = t.get(..10).ok_or_else(bad)?;
    let d = protocol::records::Date::parse(date).map_err(|_| bad())?;
    // A time before 1970 reads as the epoch: no entry is older.
    let days = days_from_civil(d.to_string().as_str());
    let day_ms = days.map_or(0, |d| d as u64 * 86_400_000);
    if t.len() == 10 {
        return Ok(match days {
            None => 0,
            Some(_) if end => day_ms + 86_399_999,
            Some(_) => day_ms,
        });
    }
    let rest = t[10..].strip_prefix('T').ok_or_else(bad)?;
    let rest = rest.strip_suffix('Z').ok_or_else(bad)?;
    let (hms, millis) = match rest.split_once('.') {
        Some((hms, ms)) => (hms, ms),
        None => (rest, "0"),
    };
    let parts: Vec<u64> = hms
        .split(':')
        .map(|p| p.parse::<u64>().map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    let [h, m, s] = parts[..] else {
        return Err(bad());
    };
    let ms: u64 = format!("{millis:0<3}")[..3].parse().map_err(|_| bad())?;
    if h > 23 || m > 59 || s > 59 {
        return Err(bad());
    }
    if days.is_none() {
        return Ok(0);
    }
    Ok(day_ms + ((h * 60 + m) * 60 + s) * 1000 + ms)
}

/// Days since 1970-01-01 of a valid `YYYY-MM-DD` at or after the epoch (Hinnant's algorithm).
fn days_from_civil(date: &str) -> Option<i64> {
    let y: i64 = date.get(..4)?.parse().ok()?;
    let m: i64 = date.get(5..7)?.parse().ok()?;
    let d: i64 = date.get(8..10)?.parse().ok()?;
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    (days >= 0).then_some(days)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::shared::AuditKind;

    fn entry(seq: u64, summary: &str) -> AuditEntry {
        AuditEntry {
            seq,
            at_ms: 1_700_000_000_000 + seq,
            kind: AuditKind::Policy,
            peer: None,
            actor: Some("token 'admin' (admin)".into()),
            summary: summary.into(),
            details: json!({}),
        }
    }

    fn export() -> String {
        let key = protocol::identity::NodeKey::from_secret_bytes(&[7; 32]);
        let entries = [entry(1, "one"), entry(2, "two"), entry(3, "three")];
        write(
            &entries,
            key.node_id().as_str(),
            "Vendorco",
            &[7; 32],
            (0, 2_000_000_000_000),
            1,
            None,
        )
    }

    #[test]
    fn an_export_verifies_and_each_tampering_is_named() {
        let text = export();
        let ok = verify(&text).expect("verifies");
        assert_eq!(ok.entries, 3);
        let lines: Vec<&str> = text.lines().collect();
        let changed = text.replace("\"two\"", "\"tw0\"");
        assert!(verify(&changed).unwrap_err().starts_with("line 3:"));
        let removed = [lines[0], lines[1], lines[3], lines[4]].join("\n");
        assert!(verify(&removed).unwrap_err().starts_with("line 3:"));
        let moved = [lines[0], lines[2], lines[1], lines[3], lines[4]].join("\n");
        assert!(verify(&moved).unwrap_err().starts_with("line 2:"));
        let truncated = [lines[0], lines[1], lines[2], lines[4]].join("\n");
        assert!(verify(&truncated).unwrap_err().starts_with("line 4:"));
    }

    #[test]
    fn times_parse_as_days_or_utc_times() {
        assert_eq!(parse_time("1970-01-02", false), Ok(86_400_000));
        assert_eq!(parse_time("1970-01-01", true), Ok(86_399_999));
        assert_eq!(
            parse_time("2023-11-14T22:13:20.123Z", false),
            Ok(1_700_000_000_123)
        );
        assert!(parse_time("yesterday", false).is_err());
        assert_eq!(
            parse_time("1969-12-31", true),
            Ok(0),
            "before 1970: the epoch"
        );
        assert_eq!(parse_time("0001-01-01T10:00:00Z", false), Ok(0));
    }
}
