//! Erasure of one person's data (GDPR art. 17; SECURITY.md "Erasure"): `cosell erase --email E
//! | --name N [--dry-run]` and `POST /api/v1/erase`. Finds every place this node holds the value
//! — local records, the audit log, webhook deliveries, e-mail notifications, deal metadata and
//! tombstones, mapping matrices, partner records, and shared deals — and replaces it by
//! [`ERASED`] (a field that was only the value is emptied), in one transaction for the local
//! stores; in shared deals it overwrites what this node wrote with a signed change
//! ([`Deals::erase`]). The report says what was (or, in a dry run, would be) erased where; the
//! audit entry that records the erasure names the kind of value and the counts, never the value.

use crate::domain::audit::{self, AuditKind};
use crate::domain::deals::{DealErasure, Deals, DealsError};
use crate::store::tables::{
    AUDIT, DEALS, DEAL_TOMBSTONES, EVENTS_PUBLISHED, MAPPING_MATRICES, NOTIFY_DIGEST, NOTIFY_SENT,
    NOTIFY_SETTINGS, PARTNERS, WEBHOOK_DELIVERIES,
};
use crate::store::{OpportunityFilter, Store, WriteTables};
use protocol::deal::DealId;
use protocol::records::{Account, FieldError, Opportunity};
use redb::ReadableTable;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// What an erased value is replaced by.
pub const ERASED: &str = "[erased]";
/// Shortest value erased (a shorter one would match too much).
pub const NEEDLE_CHARS_MIN: usize = 3;
/// Longest value erased.
pub const NEEDLE_CHARS_MAX: usize = 320;

/// The value to erase: an e-mail address or a person's name, matched without regard to case.
#[derive(Debug, Clone)]
pub struct Needle {
    kind: &'static str,
    matcher: Matcher,
}

/// How a needle recognizes the value.
#[derive(Debug, Clone)]
enum Matcher {
    /// The value itself, lowercased: any occurrence.
    Text(String),
    /// Only a digest of it ([`Needle::digest`]), from another node's erasure request: a run of
    /// `words` whitespace-separated words (without surrounding punctuation) whose digest it is.
    Digest { digest: [u8; 32], words: usize },
}

/// Characters an address or a name in running text may be wrapped in.
const WRAPPING: &[char] = &[
    '<', '>', '(', ')', '[', ']', '{', '}', ',', ';', ':', '"', '\'', '.', '!', '?',
];

/// The digest an erasure request carries instead of the value.
fn digest_of(kind: &str, normalized: &str) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"cosell-erasure/1\n");
    h.update(kind.as_bytes());
    h.update(b"\n");
    h.update(normalized.as_bytes());
    h.finalize().into()
}

/// Lowercase, words joined by one space: what a digest is taken of.
fn normalize(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

impl Needle {
    /// An e-mail address (`kind` "email") or a name ("name"), checked.
    pub fn new(kind: &'static str, value: &str) -> Result<Needle, DealsError> {
        let field = kind;
        let bad = |m: String| Err(DealsError::fields(vec![(field, m)]));
        let n = value.chars().count();
        if !(NEEDLE_CHARS_MIN..=NEEDLE_CHARS_MAX).contains(&n) {
            return bad(format!(
                "must be {NEEDLE_CHARS_MIN} to {NEEDLE_CHARS_MAX} characters"
            ));
        }
        if value.chars().any(char::is_control) {
            return bad("holds a control character".into());
        }
        if value.trim() != value {
            return bad("starts or ends with a space".into());
        }
        if kind == "email" {
            let ok = value.split_once('@').is_some_and(|(local, domain)| {
                let d: Vec<char> = domain.chars().collect();
                !local.is_empty()
                    && !domain.contains('@')
                    && d.len() >= 3
                    && d[1..d.len() - 1].contains(&'.')
            });
            if !ok || value.contains(char::is_whitespace) {
                return bad("is not an e-mail address (name@example.com)".into());
            }
        }
        Ok(Needle {
            kind,
            matcher: Matcher::Text(value.to_lowercase()),
        })
    }

    /// The needle of another node's erasure request (`{"kind", "words", "digest"}`), which
    /// carries a digest of the value, never the value.
    pub fn from_request(request: &Value) -> Option<Needle> {
        let kind = match request["kind"].as_str()? {
            "email" => "email",
            "name" => "name",
            _ => return None,
        };
        let words = usize::try_from(request["words"].as_u64()?).ok()?;
        if !(1..=16).contains(&words) {
            return None;
        }
        let digest: [u8; 32] = hex::decode(request["digest"].as_str()?)
            .ok()?
            .try_into()
            .ok()?;
        Some(Needle {
            kind,
            matcher: Matcher::Digest { digest, words },
        })
    }

    /// The erasure request this needle sends to the other participants of a deal this node
    /// started: `{"kind", "words", "digest", "at"}`. A value's digest can be tested against
    /// guesses, but every participant already held the value.
    pub fn request(&self, at_ms: u64) -> Value {
        let (digest, words) = match &self.matcher {
            Matcher::Text(lower) => (
                digest_of(self.kind, &normalize(lower)),
                lower.split_whitespace().count(),
            ),
            Matcher::Digest { digest, words } => (*digest, *words),
        };
        json!({"kind": self.kind, "words": words, "digest": hex::encode(digest), "at": at_ms})
    }

    /// `email` or `name`.
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// Whether `text` is the value (and nothing else).
    pub fn is(&self, text: &str) -> bool {
        match &self.matcher {
            Matcher::Text(lower) => text.trim().to_lowercase() == *lower,
            Matcher::Digest { digest, .. } => digest_of(self.kind, &normalize(text)) == *digest,
        }
    }

    /// `text` with every occurrence of the value replaced by [`ERASED`] (an empty string when the
    /// text was only the value), or `None` when it holds none.
    pub fn scrub(&self, text: &str) -> Option<String> {
        self.scrub_as(text, ERASED)
    }

    /// [`Needle::scrub`] with `marker` in place of [`ERASED`] (`""` removes the value: the text
    /// never grows, so it still fits a field it fitted).
    fn scrub_as(&self, text: &str, marker: &str) -> Option<String> {
        if self.is(text) {
            return Some(String::new());
        }
        let wanted = match &self.matcher {
            Matcher::Text(lower) => lower,
            Matcher::Digest { digest, words } => {
                return self.scrub_digest(text, digest, *words, marker)
            }
        };
        let lower = text.to_lowercase();
        // Lowercasing keeps byte offsets only where it keeps lengths: otherwise match by chars.
        if lower.len() != text.len() {
            return self.scrub_by_chars(text, marker);
        }
        if !lower.contains(wanted.as_str()) {
            return None;
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = 0;
        for (at, _) in lower.match_indices(wanted.as_str()) {
            if at < rest {
                continue;
            }
            out.push_str(&text[rest..at]);
            out.push_str(marker);
            rest = at + wanted.len();
        }
        out.push_str(&text[rest..]);
        Some(out)
    }

    /// Runs of `words` words whose digest is `digest`, each replaced by [`ERASED`].
    fn scrub_digest(
        &self,
        text: &str,
        digest: &[u8; 32],
        words: usize,
        marker: &str,
    ) -> Option<String> {
        let mut spans: Vec<(usize, usize)> = Vec::new();
        let mut start = None;
        for (i, c) in text.char_indices() {
            match (c.is_whitespace(), start) {
                (true, Some(s)) => {
                    spans.push((s, i));
                    start = None;
                }
                (false, None) => start = Some(i),
                _ => {}
            }
        }
        if let Some(s) = start {
            spans.push((s, text.len()));
        }
        let mut out = String::new();
        let mut last = 0;
        let mut found = false;
        let mut i = 0;
        while i + words <= spans.len() {
            let (s, _) = spans[i];
            let (_, e) = spans[i + words - 1];
            let raw = &text[s..e];
            let core = raw.trim_matches(WRAPPING);
            if !core.is_empty() && digest_of(self.kind, &normalize(core)) == *digest {
                let at = s + (raw.len() - raw.trim_start_matches(WRAPPING).len());
                out.push_str(&text[last..at]);
                out.push_str(marker);
                last = at + core.len();
                found = true;
                i += words;
            } else {
                i += 1;
            }
        }
        found.then(|| {
            out.push_str(&text[last..]);
            out
        })
    }

    fn scrub_by_chars(&self, text: &str, marker: &str) -> Option<String> {
        let Matcher::Text(wanted) = &self.matcher else {
            return None;
        };
        let chars: Vec<char> = text.chars().collect();
        let low: Vec<String> = chars.iter().map(|c| c.to_lowercase().collect()).collect();
        let mut out = String::new();
        let mut i = 0;
        let mut found = false;
        while i < chars.len() {
            // The shortest run of characters from `i` whose lowercase is the value.
            let mut acc = String::new();
            let mut end = None;
            for (j, l) in low.iter().enumerate().skip(i) {
                acc.push_str(l);
                if acc == *wanted {
                    end = Some(j + 1);
                    break;
                }
                if !wanted.starts_with(acc.as_str()) {
                    break;
                }
            }
            match end {
                Some(e) => {
                    out.push_str(marker);
                    i = e;
                    found = true;
                }
                None => {
                    out.push(chars[i]);
                    i += 1;
                }
            }
        }
        found.then_some(out)
    }

    /// Scrubs every string (and object key) in `value`; returns how many were changed.
    pub fn scrub_json(&self, value: &mut Value) -> usize {
        self.scrub_json_as(value, ERASED)
    }

    fn scrub_json_as(&self, value: &mut Value, marker: &str) -> usize {
        match value {
            Value::String(s) => match self.scrub_as(s, marker) {
                Some(clean) => {
                    *s = clean;
                    1
                }
                None => 0,
            },
            Value::Array(items) => items
                .iter_mut()
                .map(|v| self.scrub_json_as(v, marker))
                .sum(),
            Value::Object(map) => {
                let mut n = 0;
                let keys: Vec<String> = map.keys().cloned().collect();
                for k in keys {
                    if let Some(clean) = self.scrub_as(&k, marker) {
                        if let Some(v) = map.remove(&k) {
                            map.insert(clean, v);
                            n += 1;
                        }
                    }
                }
                n + map
                    .values_mut()
                    .map(|v| self.scrub_json_as(v, marker))
                    .sum::<usize>()
            }
            _ => 0,
        }
    }
}

/// One local record that held the value.
#[derive(Debug, Clone, Serialize)]
pub struct RecordErasure {
    /// `account` or `opportunity`.
    pub kind: &'static str,
    /// Its id.
    pub id: String,
    /// The fields that held it.
    pub fields: Vec<String>,
    /// Fields that hold the value inside a typed value no text can replace (a domain such as
    /// `ana-example.com` when erasing the name "Ana"): left as they were.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kept: Vec<String>,
}

/// A local record as it will be after the erasure: every one is checked before anything is
/// written, so an erasure that cannot complete writes nothing.
enum ScrubbedRecord {
    Account(Account),
    Opportunity(Opportunity),
}

/// What an erasure found and did.
#[derive(Debug, Clone)]
pub struct ErasureReport {
    /// `email` or `name`.
    pub kind: &'static str,
    /// Nothing was changed: this is what would be erased.
    pub dry_run: bool,
    /// Local records.
    pub records: Vec<RecordErasure>,
    /// Rows per stored table (audit log, deliveries, notifications…), by table name.
    pub tables: BTreeMap<&'static str, usize>,
    /// Shared deals.
    pub deals: Vec<DealErasure>,
    /// The deals changed (to offer to their participants).
    pub changed_deals: Vec<DealId>,
}

impl ErasureReport {
    /// The API's and the CLI's JSON.
    pub fn to_json(&self) -> Value {
        let places = self.records.len()
            + self.tables.values().sum::<usize>()
            + self.deals.iter().map(|d| d.erased.len()).sum::<usize>();
        let kept: usize = self.deals.iter().map(|d| d.kept.len()).sum();
        json!({
            "kind": self.kind,
            "dry_run": self.dry_run,
            "records": self.records,
            "audit_entries": self.tables.get("audit").copied().unwrap_or(0),
            "tables": self.tables,
            "deals": self.deals.iter().map(DealErasure::to_json).collect::<Vec<_>>(),
            "erased": places,
            "kept": kept,
            "database_rewrite": !self.dry_run,
        })
    }
}

/// Finds and (unless `dry_run`) erases `needle` everywhere on this node; audits the erasure
/// (kind and counts only).
pub fn erase(
    store: &Store,
    deals: &Deals,
    needle: &Needle,
    dry_run: bool,
    now_ms: u64,
) -> Result<ErasureReport, DealsError> {
    run(store, deals, needle, dry_run, now_ms, None)
}

/// After a partner's changes were stored: applies each new erasure request of a changed deal —
/// one its origin signed, or, on the origin, one a participant wrote in its own section — to
/// what this node wrote in that deal (the origin passes the request on to every participant)
/// and the rows it stored (audit, deliveries, notifications…; not its own records, which are its
/// own business), once per request. Returns the deals changed, to offer them on.
pub fn apply_requests(
    deals: &Deals,
    changed: &[DealId],
    now_ms: u64,
) -> anyhow::Result<Vec<DealId>> {
    let store = deals.store();
    let mut out = Vec::new();
    for (deal, origin, request) in deals.erasure_requests(changed) {
        let Some(needle) = Needle::from_request(&request) else {
            continue;
        };
        let once = format!(
            "erasure/{deal}/{}/{}",
            request["digest"].as_str().unwrap_or(""),
            request["at"].as_u64().unwrap_or(0)
        );
        if store
            .read()?
            .open_table(EVENTS_PUBLISHED)?
            .get(once.as_str())?
            .is_some()
        {
            continue;
        }
        let report = run(
            store,
            deals,
            &needle,
            false,
            now_ms,
            Some((deal, origin.as_str())),
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        let txn = store.write()?;
        txn.open_table(EVENTS_PUBLISHED)?
            .insert(once.as_str(), now_ms)?;
        txn.commit()?;
        out.extend(report.changed_deals);
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// One erasure: everywhere (`asked_by` `None`), or what an origin's request about one deal
/// covers (`Some((deal, origin))`).
fn run(
    store: &Store,
    deals: &Deals,
    needle: &Needle,
    dry_run: bool,
    now_ms: u64,
    asked_by: Option<(DealId, &str)>,
) -> Result<ErasureReport, DealsError> {
    // The local records are scrubbed and checked first: a record that cannot hold its
    // erased text stops the erasure before anything is written.
    let planned = match asked_by {
        None => plan_records(store, needle)?,
        // Asked about one deal: on its origin, the opportunity it was shared from goes too, or
        // the next re-projection would share the value again.
        Some((deal, _)) => match crate::store::shared::deal_meta(store, &deal.to_string())?
            .and_then(|m| m.opportunity_id)
        {
            Some(opp) => plan_opportunity(store, needle, &opp)?,
            None => Vec::new(),
        },
    };
    // Shared deals next: their signed changes add history entries, not audit text.
    let (mut deal_report, mut changed_deals) =
        deals.erase(needle, dry_run, now_ms, asked_by.map(|(d, _)| d))?;
    // Account plans: the stakeholders this node added (each company erases its own).
    if asked_by.is_none() {
        let (plans, changed) = crate::domain::plans::erase(deals, needle, dry_run, now_ms)?;
        deal_report.extend(plans);
        changed_deals.extend(changed);
    }
    let mut tables = BTreeMap::new();
    let txn = store.write()?;
    if !dry_run {
        let mut records = WriteTables::open(&txn)?;
        for (_, clean) in &planned {
            match clean {
                ScrubbedRecord::Account(a) => records.put_account(a)?,
                ScrubbedRecord::Opportunity(o) => records.put_opportunity(o)?,
            };
        }
        records.flush()?;
    }
    let records: Vec<RecordErasure> = planned.into_iter().map(|(r, _)| r).collect();
    {
        let mut count = |name: &'static str, n: usize| {
            if n > 0 {
                tables.insert(name, n);
            }
        };
        count("audit", scrub_u64_table(&txn, AUDIT, needle, dry_run)?);
        count(
            "webhook_deliveries",
            scrub_pair_table(&txn, WEBHOOK_DELIVERIES, needle, dry_run)?,
        );
        for (name, table) in [
            ("notify_digest", NOTIFY_DIGEST),
            ("notify_settings", NOTIFY_SETTINGS),
            ("deals", DEALS),
            ("deal_tombstones", DEAL_TOMBSTONES),
            ("mapping_matrices", MAPPING_MATRICES),
            ("partners", PARTNERS),
        ] {
            count(name, scrub_str_table(&txn, table, needle, dry_run)?);
        }
        count("notify_sent", scrub_sent_keys(&txn, needle, dry_run)?);
    }
    let report = ErasureReport {
        kind: needle.kind(),
        dry_run,
        records,
        tables,
        deals: deal_report,
        changed_deals,
    };
    if dry_run {
        drop(txn);
        return Ok(report);
    }
    let v = report.to_json();
    let why = match asked_by {
        None => String::new(),
        Some((deal, origin)) => {
            format!(" at the request of {origin}, which erased it from deal {deal}")
        }
    };
    audit::record_in(
        &txn,
        now_ms,
        AuditKind::Erasure,
        None,
        format!(
            "erased a person's data (by {}){why}: {} places on this node, {} in shared deals still held by their writers",
            needle.kind(),
            v["erased"],
            v["kept"]
        ),
        json!({"kind": needle.kind(), "asked_by": asked_by.map(|(d, o)| json!({"deal": d.to_string(), "origin": o})),
               "records": report.records.len(), "tables": report.tables,
               "deals": report.deals.iter().map(|d| json!({"id": d.id.to_string(), "erased": d.erased, "kept": d.kept.iter().map(|(p, _)| p).collect::<Vec<_>>(), "request_sent": d.request_sent})).collect::<Vec<_>>()}),
    )?;
    txn.commit().map_err(anyhow::Error::from)?;
    // Freed pages of the file may still hold the old rows: rewritten at the next start.
    store.ask_rewrite()?;
    Ok(report)
}

/// Accounts and opportunities: each text field holding the value is scrubbed (the record
/// stays); written later through the store's record tables so the indexes follow.
fn plan_records(
    store: &Store,
    needle: &Needle,
) -> Result<Vec<(RecordErasure, ScrubbedRecord)>, DealsError> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = store.list_accounts(None, cursor.as_deref(), 1000)?;
        for a in &page.items {
            if let Some((clean, erasure)) =
                scrub_record(a, "account", &a.id, needle, |a: &Account| a.validate())?
            {
                out.push((erasure, ScrubbedRecord::Account(clean)));
            }
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let mut cursor: Option<String> = None;
    loop {
        let page =
            store.list_opportunities(&OpportunityFilter::default(), cursor.as_deref(), 1000)?;
        for o in &page.items {
            out.extend(scrub_opportunity(o, needle)?);
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    Ok(out)
}

/// The opportunity `id` only (a deal this node started was shared from it).
fn plan_opportunity(
    store: &Store,
    needle: &Needle,
    id: &str,
) -> Result<Vec<(RecordErasure, ScrubbedRecord)>, DealsError> {
    match store.opportunity(id)? {
        Some(o) => Ok(scrub_opportunity(&o, needle)?.into_iter().collect()),
        None => Ok(Vec::new()),
    }
}

fn scrub_opportunity(
    o: &Opportunity,
    needle: &Needle,
) -> Result<Option<(RecordErasure, ScrubbedRecord)>, DealsError> {
    let scrubbed = scrub_record(o, "opportunity", &o.id, needle, |o: &Opportunity| {
        o.validate()
    })?;
    Ok(scrubbed.map(|(clean, erasure)| (erasure, ScrubbedRecord::Opportunity(clean))))
}

/// `record` with the value scrubbed from its text fields (ids untouched) such that the store
/// still accepts it, and what was erased; `None` when it holds none. Each field gets
/// [`ERASED`] where it fits, else loses the value without a marker (the text never grows, so
/// it still fits); a required name that was only the value becomes [`ERASED`]; a tag emptied is
/// dropped; a field that can hold neither (a domain) is kept and named in the report.
fn scrub_record<T: Serialize + DeserializeOwned>(
    record: &T,
    kind: &'static str,
    id: &str,
    needle: &Needle,
    valid: impl Fn(&T) -> Result<(), FieldError>,
) -> Result<Option<(T, RecordErasure)>, DealsError> {
    let Value::Object(original) = serde_json::to_value(record).map_err(anyhow::Error::from)? else {
        return Ok(None);
    };
    let accepted = |map: &Map<String, Value>| -> Option<T> {
        let t: T = serde_json::from_value(Value::Object(map.clone())).ok()?;
        valid(&t).is_ok().then_some(t)
    };
    let mut clean = original.clone();
    let mut erasure = RecordErasure {
        kind,
        id: id.to_string(),
        fields: Vec::new(),
        kept: Vec::new(),
    };
    for (k, v) in &original {
        if matches!(k.as_str(), "id" | "account_id" | "external_id") {
            continue;
        }
        let choice = [ERASED, ""].into_iter().find_map(|marker| {
            let mut scrubbed = v.clone();
            if needle.scrub_json_as(&mut scrubbed, marker) == 0 {
                return None;
            }
            tidy_field(k, &mut scrubbed);
            let mut trial = original.clone();
            trial.insert(k.clone(), scrubbed.clone());
            accepted(&trial).map(|_| scrubbed)
        });
        match choice {
            Some(scrubbed) => {
                clean.insert(k.clone(), scrubbed);
                erasure.fields.push(k.clone());
            }
            None if needle.scrub_json(&mut v.clone()) > 0 => erasure.kept.push(k.clone()),
            None => {}
        }
    }
    if erasure.fields.is_empty() && erasure.kept.is_empty() {
        return Ok(None);
    }
    match accepted(&clean) {
        Some(t) => Ok(Some((t, erasure))),
        None => Err(DealsError::Conflict(format!(
            "{kind} {id}: its {} cannot be erased together and stay a valid record; \
             edit the record, then erase again",
            erasure.fields.join(", ")
        ))),
    }
}

/// A field after scrubbing: a name left empty reads [`ERASED`]; emptied tags are dropped and
/// tags that became the same are kept once.
fn tidy_field(key: &str, value: &mut Value) {
    match (key, value) {
        ("name", Value::String(s)) if s.trim().is_empty() => *s = ERASED.to_string(),
        ("tags", Value::Array(tags)) => {
            let mut seen = std::collections::BTreeSet::new();
            tags.retain(|t| match t.as_str() {
                Some(t) => !t.trim().is_empty() && seen.insert(t.trim().to_string()),
                None => true,
            });
        }
        _ => {}
    }
}

/// Scrubs one JSON row; `Some(new bytes)` when it held the value.
fn scrub_row(bytes: &[u8], needle: &Needle) -> Option<Vec<u8>> {
    let mut v: Value = serde_json::from_slice(bytes).ok()?;
    (needle.scrub_json(&mut v) > 0).then(|| serde_json::to_vec(&v).ok())?
}

macro_rules! scrub_table_fn {
    ($name:ident, $key:ty, $owned:ty, |$ki:ident| $to_owned:expr, |$kb:ident| $borrow:expr) => {
        fn $name(
            txn: &redb::WriteTransaction,
            def: redb::TableDefinition<$key, &[u8]>,
            needle: &Needle,
            dry_run: bool,
        ) -> anyhow::Result<usize> {
            let mut table = txn.open_table(def)?;
            let mut hits: Vec<($owned, Vec<u8>)> = Vec::new();
            for entry in table.iter()? {
                let (k, v) = entry?;
                if let Some(new) = scrub_row(v.value(), needle) {
                    let $ki = k.value();
                    hits.push(($to_owned, new));
                }
            }
            if !dry_run {
                for ($kb, new) in &hits {
                    table.insert($borrow, new.as_slice())?;
                }
            }
            Ok(hits.len())
        }
    };
}

scrub_table_fn!(scrub_u64_table, u64, u64, |k| k, |k| *k);
scrub_table_fn!(scrub_str_table, &str, String, |k| k.to_string(), |k| k
    .as_str());
scrub_table_fn!(
    scrub_pair_table,
    (&str, &str),
    (String, String),
    |k| (k.0.to_string(), k.1.to_string()),
    |k| (k.0.as_str(), k.1.as_str())
);

/// What was mailed once is keyed by its subject: a key holding the value is rewritten.
fn scrub_sent_keys(
    txn: &redb::WriteTransaction,
    needle: &Needle,
    dry_run: bool,
) -> anyhow::Result<usize> {
    let mut table = txn.open_table(NOTIFY_SENT)?;
    let mut hits: Vec<(String, String, u64)> = Vec::new();
    for entry in table.iter()? {
        let (k, v) = entry?;
        if let Some(clean) = needle.scrub(k.value()) {
            hits.push((k.value().to_string(), clean, v.value()));
        }
    }
    if !dry_run {
        for (old, new, at) in &hits {
            table.remove(old.as_str())?;
            table.insert(new.as_str(), *at)?;
        }
    }
    Ok(hits.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_needle_scrubs_every_occurrence_in_any_case_and_nothing_else() {
        let n = Needle::new("email", "Ana.Lopez@Example.com").unwrap();
        assert_eq!(n.scrub("ana.lopez@example.com"), Some(String::new()));
        assert_eq!(
            n.scrub("call ANA.LOPEZ@example.COM or ana.lopez@example.com!"),
            Some("call [erased] or [erased]!".into())
        );
        assert_eq!(n.scrub("ana@example.com"), None);
        let mut v = json!({"a": ["x ana.lopez@example.com"], "ana.lopez@example.com": 1, "n": 2});
        assert_eq!(n.scrub_json(&mut v), 2);
        assert_eq!(v, json!({"a": ["x [erased]"], "": 1, "n": 2}));
        // Lowercasing that changes lengths (İ) still matches by characters.
        let n = Needle::new("name", "İlker Çelik").unwrap();
        assert_eq!(
            n.scrub("met İLKER ÇELIK today"),
            Some("met [erased] today".into())
        );
        for bad in ["a@b", "no-at.example.com", "x y@example.com"] {
            assert!(Needle::new("email", bad).is_err(), "{bad}");
        }
        assert!(Needle::new("name", "ab").is_err());
        // A request carries a digest only; the receiving node finds the value in running text.
        let asked = Needle::new("name", "Ana Lopez").unwrap().request(5);
        assert!(
            !asked.to_string().to_lowercase().contains("lopez"),
            "{asked}"
        );
        let got = Needle::from_request(&asked).unwrap();
        assert_eq!(
            got.scrub("met ANA  lopez, (Ana Lopez) and Ana Lopezz"),
            Some("met [erased], ([erased]) and Ana Lopezz".into())
        );
        assert!(got.is(" ana lopez "));
        let mail = Needle::new("email", "a.b@c.example").unwrap().request(1);
        let got = Needle::from_request(&mail).unwrap();
        assert_eq!(
            got.scrub("write <A.B@c.example>."),
            Some("write <[erased]>.".into())
        );
        assert!(Needle::new("name", "a\u{7}bc").is_err());
    }
}
