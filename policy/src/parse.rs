//! Reading a policy from TOML or JSON text: syntax first, into a small tree that remembers where
//! each key and value starts, then a validation pass that collects every error (with the line,
//! the key and a "did you mean") before any [`Policy`] exists.

use protocol::records::{AccountStatus, Amount, Stage, NAME_CHARS_MAX};
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use toml::Spanned;

use crate::limits::{BUCKETS_MAX, LIST_ENTRIES_MAX, POLICY_BYTES_MAX, ROUND_TO_UNITS_MAX};
use crate::model::{
    AccountField, AccountPolicy, AmountTransform, DateTransform, OpportunityField,
    OpportunityPolicy, Policy, Population, SharingLevel, FORMAT_VERSION,
};
use crate::suggest::did_you_mean;

/// One thing wrong with a policy file. Displayed as
/// `line 3, key opportunities.fields: unknown field "amout" (did you mean "amount"?)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// The 1-based line in the TOML (or JSON, for syntax errors) text; `None` for JSON values.
    pub line: Option<usize>,
    /// The dotted key the error is about (`opportunities.fields`); empty for the whole file.
    pub key: String,
    /// What is wrong, as UI text: lowercase, no trailing period.
    pub message: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.key.is_empty()) {
            (Some(line), false) => write!(f, "line {line}, key {}: ", self.key)?,
            (Some(line), true) => write!(f, "line {line}: ")?,
            (None, false) => write!(f, "key {}: ", self.key)?,
            (None, true) => {}
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for PolicyError {}

/// Every error found in a policy file, in file order. Never empty. Displayed one per line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PolicyErrors {
    errors: Vec<PolicyError>,
}

impl PolicyErrors {
    /// The errors, in file order.
    pub fn errors(&self) -> &[PolicyError] {
        &self.errors
    }
}

impl From<Vec<PolicyError>> for PolicyErrors {
    /// Errors found elsewhere (lead routing rules) in the same shape; `errors` is not empty.
    fn from(errors: Vec<PolicyError>) -> Self {
        PolicyErrors { errors }
    }
}

impl fmt::Display for PolicyErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl Policy {
    /// Parses and validates a policy file in TOML. Errors name the line and key.
    pub fn from_toml(text: &str) -> Result<Policy, PolicyErrors> {
        check_size(text)?;
        let root = toml_tree(text, "policies use none")?;
        Checker::new(Some(text)).policy(&root)
    }

    /// Parses and validates the same structure as JSON (what the HTTP API accepts with
    /// `Content-Type: application/json`). Errors name the key; only syntax errors have a line.
    pub fn from_json(text: &str) -> Result<Policy, PolicyErrors> {
        check_size(text)?;
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            let full = e.to_string();
            let message = match full.rfind(" at line ") {
                Some(i) => full[..i].to_string(),
                None => full,
            };
            single(Some(e.line()), "", format!("invalid JSON: {message}"))
        })?;
        Checker::new(None).policy(&Node::from_json(&value))
    }
}

/// The syntax tree of a TOML text (every value with its offset); a syntax error names its line.
/// `no_datetimes` ends the message for a date-time value, which these files never use.
pub(crate) fn toml_tree(text: &str, no_datetimes: &str) -> Result<Node, PolicyErrors> {
    let root = toml::from_str::<RawValue>(text).map_err(|e| {
        let line = e.span().map(|s| line_of(text, s.start));
        let message = if e.message().contains(TOML_DATETIME_KEY) {
            format!("unexpected date-time value ({no_datetimes})")
        } else {
            e.message().trim().replace('\n', "; ")
        };
        single(line, "", message)
    })?;
    Ok(Node {
        offset: None,
        raw: root.0,
    })
}

fn check_size(text: &str) -> Result<(), PolicyErrors> {
    if text.len() > POLICY_BYTES_MAX {
        return Err(single(
            None,
            "",
            format!("policy is larger than {POLICY_BYTES_MAX} bytes"),
        ));
    }
    Ok(())
}

pub(crate) fn single(line: Option<usize>, key: &str, message: String) -> PolicyErrors {
    PolicyErrors {
        errors: vec![PolicyError {
            line,
            key: key.to_string(),
            message,
        }],
    }
}

fn is_empty_list(node: &Node) -> bool {
    matches!(&node.raw, Raw::Array(items) if items.is_empty())
}

pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

// ---------------------------------------------------------------------------------------------
// The syntax tree both formats are read into.

pub(crate) struct Node {
    /// Byte offset in the TOML text where the value starts; `None` for JSON.
    pub(crate) offset: Option<usize>,
    pub(crate) raw: Raw,
}

pub(crate) enum Raw {
    Str(String),
    Int(i64),
    Float(f64),
    Bool,
    Array(Vec<Node>),
    /// Entries in file order: key, key offset, value.
    Table(Vec<(String, Option<usize>, Node)>),
}

impl Raw {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Raw::Str(_) => "a string",
            Raw::Int(_) => "an integer",
            Raw::Float(_) => "a float",
            Raw::Bool => "a boolean",
            Raw::Array(_) => "a list",
            Raw::Table(_) => "a table",
        }
    }
}

impl Node {
    pub(crate) fn from_json(value: &serde_json::Value) -> Node {
        use serde_json::Value as J;
        let raw = match value {
            J::Null => Raw::Table(Vec::new()),
            J::Bool(_) => Raw::Bool,
            J::Number(n) => match n.as_i64() {
                Some(i) => Raw::Int(i),
                None => Raw::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            J::String(s) => Raw::Str(s.clone()),
            J::Array(items) => Raw::Array(items.iter().map(Node::from_json).collect()),
            J::Object(map) => Raw::Table(
                map.iter()
                    .map(|(k, v)| (k.clone(), None, Node::from_json(v)))
                    .collect(),
            ),
        };
        Node { offset: None, raw }
    }
}

/// A TOML value deserialized through serde with its children's spans.
pub(crate) struct RawValue(pub(crate) Raw);

/// The key the `toml` deserializer uses to hand over a date-time as a map; a policy has no
/// date-time values, so seeing it means one was written.
const TOML_DATETIME_KEY: &str = "$__toml_private_datetime";

impl<'de> Deserialize<'de> for RawValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawVisitor)
    }
}

struct SpannedNode(Node);

impl<'de> Deserialize<'de> for SpannedNode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<RawValue>::deserialize(deserializer)?;
        let offset = Some(spanned.span().start);
        Ok(SpannedNode(Node {
            offset,
            raw: spanned.into_inner().0,
        }))
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = RawValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a TOML value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<RawValue, E> {
        let _ = v;
        Ok(RawValue(Raw::Bool))
    }
    fn visit_i64<E>(self, v: i64) -> Result<RawValue, E> {
        Ok(RawValue(Raw::Int(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<RawValue, E> {
        Ok(RawValue(match i64::try_from(v) {
            Ok(i) => Raw::Int(i),
            Err(_) => Raw::Float(v as f64),
        }))
    }
    fn visit_f64<E>(self, v: f64) -> Result<RawValue, E> {
        Ok(RawValue(Raw::Float(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<RawValue, E> {
        Ok(RawValue(Raw::Str(v.to_string())))
    }
    fn visit_string<E>(self, v: String) -> Result<RawValue, E> {
        Ok(RawValue(Raw::Str(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawValue, A::Error> {
        let mut items = Vec::new();
        while let Some(SpannedNode(node)) = seq.next_element::<SpannedNode>()? {
            items.push(node);
        }
        Ok(RawValue(Raw::Array(items)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawValue, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            let offset = Some(key.span().start);
            let SpannedNode(value) = map.next_value::<SpannedNode>()?;
            entries.push((key.into_inner(), offset, value));
        }
        Ok(RawValue(Raw::Table(entries)))
    }
}

// ---------------------------------------------------------------------------------------------
// Validation

const TOP_KEYS: [&str; 3] = ["version", "opportunities", "accounts"];
const OPPORTUNITY_KEYS: [&str; 11] = [
    "fields",
    "stages",
    "amount_min",
    "amount_max",
    "account_statuses",
    "countries",
    "owners",
    "tags_include",
    "tags_exclude",
    "amount",
    "close_date",
];
const ACCOUNT_KEYS: [&str; 5] = ["sharing", "statuses", "fields", "populations", "counts"];
const AMOUNT_TRANSFORM_KEYS: [&str; 2] = ["round_to", "buckets"];
const EMPTY_OPPORTUNITY_FILTER: &str =
    "empty list matches no opportunity (remove the key to allow all)";

/// The entries of one table, by name, after unknown keys were reported.
pub(crate) type Entries<'n> = BTreeMap<&'n str, &'n Node>;

pub(crate) struct Checker<'t> {
    text: Option<&'t str>,
    /// Each error with the byte offset it is about, to report them in file order.
    errors: Vec<(Option<usize>, PolicyError)>,
}

impl<'t> Checker<'t> {
    pub(crate) fn new(text: Option<&'t str>) -> Self {
        Checker {
            text,
            errors: Vec::new(),
        }
    }

    pub(crate) fn error(&mut self, offset: Option<usize>, key: &str, message: impl Into<String>) {
        let line = match (self.text, offset) {
            (Some(text), Some(offset)) => Some(line_of(text, offset)),
            _ => None,
        };
        let error = PolicyError {
            line,
            key: key.to_string(),
            message: message.into(),
        };
        self.errors.push((offset, error));
    }

    pub(crate) fn wrong_type(&mut self, node: &Node, key: &str, expected: &str) {
        let message = format!("expected {expected}, found {}", node.raw.kind());
        self.error(node.offset, key, message);
    }

    fn policy(mut self, root: &Node) -> Result<Policy, PolicyErrors> {
        let mut policy = Policy::deny_all();
        if let Some(entries) = self.table(root, "", &TOP_KEYS) {
            if let Some(node) = entries.get("version") {
                self.version(node);
            }
            if let Some(node) = entries.get("opportunities") {
                if let Some(o) = self.opportunities(node) {
                    policy.opportunities = o;
                }
            }
            if let Some(node) = entries.get("accounts") {
                if let Some(a) = self.accounts(node) {
                    policy.accounts = a;
                }
            }
        }
        self.finish(policy)
    }

    /// `value` when no error was reported, else every error in file order.
    pub(crate) fn finish<T>(mut self, value: T) -> Result<T, PolicyErrors> {
        if self.errors.is_empty() {
            Ok(value)
        } else {
            // Stable: errors about the same place keep their order; errors without one go last.
            self.errors
                .sort_by_key(|(offset, _)| offset.map_or((1, 0), |o| (0, o)));
            let errors = self.errors.into_iter().map(|(_, e)| e).collect();
            Err(PolicyErrors { errors })
        }
    }

    /// The entries of a table; reports keys not in `known` (with a suggestion).
    pub(crate) fn table<'n>(
        &mut self,
        node: &'n Node,
        path: &str,
        known: &[&str],
    ) -> Option<Entries<'n>> {
        let Raw::Table(items) = &node.raw else {
            self.wrong_type(node, path, "a table");
            return None;
        };
        let mut entries = Entries::new();
        for (name, offset, value) in items {
            if known.contains(&name.as_str()) {
                entries.insert(name.as_str(), value);
            } else {
                let message = format!("unknown key \"{name}\"{}", hint(name, known));
                self.error(offset.or(value.offset), path, message);
            }
        }
        Some(entries)
    }

    fn version(&mut self, node: &Node) {
        match node.raw {
            Raw::Int(FORMAT_VERSION) => {}
            Raw::Int(v) => self.error(
                node.offset,
                "version",
                format!(
                    "unsupported policy version {v} (this node reads version {FORMAT_VERSION})"
                ),
            ),
            _ => self.wrong_type(node, "version", "an integer"),
        }
    }

    fn opportunities(&mut self, node: &Node) -> Option<OpportunityPolicy> {
        let entries = self.table(node, "opportunities", &OPPORTUNITY_KEYS)?;
        let mut o = OpportunityPolicy::default();
        match entries.get("fields") {
            Some(n) => o.fields = self.opportunity_fields(n),
            None => self.error(
                node.offset,
                "opportunities",
                "missing key \"fields\" (use fields = [] to share no opportunity data)",
            ),
        }
        if let Some(n) = entries.get("stages") {
            o.stages = self.enum_set(n, "opportunities.stages", "stage", stages());
        }
        if let Some(n) = entries.get("account_statuses") {
            let key = "opportunities.account_statuses";
            o.account_statuses = self.enum_set(n, key, "account status", statuses());
        }
        o.amount_min = entries
            .get("amount_min")
            .and_then(|n| self.amount(n, "opportunities.amount_min"));
        o.amount_max = entries
            .get("amount_max")
            .and_then(|n| self.amount(n, "opportunities.amount_max"));
        if let (Some(min), Some(max)) = (o.amount_min, o.amount_max) {
            if min > max {
                let offset = entries.get("amount_min").and_then(|n| n.offset);
                let message = format!("amount_min {min} is greater than amount_max {max}");
                self.error(offset, "opportunities.amount_min", message);
            }
        }
        for (name, slot) in [("countries", &mut o.countries), ("owners", &mut o.owners)] {
            if let Some(n) = entries.get(name) {
                let key = format!("opportunities.{name}");
                *slot = self.text_set(n, &key, EMPTY_OPPORTUNITY_FILTER);
            }
        }
        if let Some(n) = entries.get("tags_include") {
            o.tags_include = self.tags_include(n);
        }
        if let Some(n) = entries.get("tags_exclude") {
            o.tags_exclude = self
                .text_set(n, "opportunities.tags_exclude", "")
                .unwrap_or_default();
            self.check_tag_conflicts(n, &o);
        }
        if let Some(n) = entries.get("amount") {
            self.require_shared(n, "amount", &o.fields, OpportunityField::Amount);
            o.amount = self.amount_transform(n).unwrap_or_default();
        }
        if let Some(n) = entries.get("close_date") {
            self.require_shared(n, "close_date", &o.fields, OpportunityField::CloseDate);
            o.close_date = self.date_transform(n).unwrap_or_default();
        }
        Some(o)
    }

    fn require_shared(
        &mut self,
        node: &Node,
        name: &str,
        fields: &BTreeSet<OpportunityField>,
        field: OpportunityField,
    ) {
        if !fields.contains(&field) {
            let message =
                format!("transforms a field that is not shared (add \"{name}\" to fields)");
            self.error(node.offset, &format!("opportunities.{name}"), message);
        }
    }

    fn check_tag_conflicts(&mut self, node: &Node, o: &OpportunityPolicy) {
        for tag in &o.tags_exclude {
            let included = o
                .tags_include
                .iter()
                .flatten()
                .any(|t| t.eq_ignore_ascii_case(tag));
            if included {
                let message = format!("tag \"{tag}\" is also in tags_include");
                self.error(node.offset, "opportunities.tags_exclude", message);
            }
        }
    }

    fn accounts(&mut self, node: &Node) -> Option<AccountPolicy> {
        let entries = self.table(node, "accounts", &ACCOUNT_KEYS)?;
        let mut a = AccountPolicy::default();
        match entries.get("sharing") {
            Some(n) => {
                a.sharing = self
                    .sharing_level(n, "accounts.sharing")
                    .unwrap_or_default()
            }
            None => self.error(
                node.offset,
                "accounts",
                "missing key \"sharing\" (one of: hidden, counts, overlaps, all)",
            ),
        }
        if let Some(n) = entries.get("statuses") {
            a.statuses = self.enum_set(n, "accounts.statuses", "account status", statuses());
        }
        if let Some(n) = entries.get("fields") {
            a.fields = self.account_fields(n);
        }
        if let Some(n) = entries.get("counts") {
            match &n.raw {
                Raw::Str(s) if s == "allowed" => {}
                Raw::Str(s) if s == "refused" => a.counts_refused = true,
                Raw::Str(s) => {
                    let names = ["allowed", "refused"];
                    let message = format!("unknown counts choice \"{s}\"{}", hint(s, &names));
                    self.error(n.offset, "accounts.counts", message);
                }
                _ => self.wrong_type(n, "accounts.counts", "a string"),
            }
        }
        if let Some(n) = entries.get("populations") {
            let names = Population::ALL.map(Population::as_str);
            let path = "accounts.populations";
            let Raw::Table(items) = &n.raw else {
                self.wrong_type(n, path, "a table");
                return Some(a);
            };
            for (name, offset, value) in items {
                let population = Population::ALL.into_iter().find(|p| p.as_str() == name);
                match population {
                    Some(p) => {
                        let key = format!("{path}.{name}");
                        if let Some(level) = self.sharing_level(value, &key) {
                            a.populations.insert(p, level);
                        }
                    }
                    None => {
                        let message =
                            format!("unknown population \"{name}\"{}", hint(name, &names));
                        self.error(offset.or(value.offset), path, message);
                    }
                }
            }
        }
        Some(a)
    }

    fn sharing_level(&mut self, node: &Node, key: &str) -> Option<SharingLevel> {
        let Raw::Str(s) = &node.raw else {
            self.wrong_type(node, key, "a string");
            return None;
        };
        let names = SharingLevel::ALL.map(SharingLevel::as_str);
        let level = SharingLevel::ALL.into_iter().find(|l| l.as_str() == s);
        if level.is_none() {
            let message = format!("unknown sharing level \"{s}\"{}", hint(s, &names));
            self.error(node.offset, key, message);
        }
        level
    }

    /// A list of strings: each entry trimmed, non-empty, short, with its offset. Reports the
    /// list's type errors; `None` when the value is not a list at all.
    pub(crate) fn strings(
        &mut self,
        node: &Node,
        key: &str,
    ) -> Option<Vec<(String, Option<usize>)>> {
        let Raw::Array(items) = &node.raw else {
            self.wrong_type(node, key, "a list of strings");
            return None;
        };
        if items.len() > LIST_ENTRIES_MAX {
            self.error(
                node.offset,
                key,
                format!("more than {LIST_ENTRIES_MAX} entries"),
            );
            return None;
        }
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let offset = item.offset.or(node.offset);
            match &item.raw {
                Raw::Str(s) if s.trim().is_empty() => self.error(offset, key, "empty value"),
                Raw::Str(s) if s.chars().count() > NAME_CHARS_MAX => self.error(
                    offset,
                    key,
                    format!("longer than {NAME_CHARS_MAX} characters"),
                ),
                Raw::Str(s) => out.push((s.trim().to_string(), offset)),
                other => {
                    let message = format!("expected a string, found {}", other.kind());
                    self.error(offset, key, message)
                }
            }
        }
        Some(out)
    }

    fn opportunity_fields(&mut self, node: &Node) -> BTreeSet<OpportunityField> {
        let names = OpportunityField::ALL.map(OpportunityField::as_str);
        let key = "opportunities.fields";
        let mut out = BTreeSet::new();
        for (name, offset) in self.strings(node, key).unwrap_or_default() {
            match OpportunityField::from_name(&name) {
                Some(f) if !out.insert(f) => self.duplicate(offset, key, &name),
                Some(_) => {}
                None => {
                    let qualified = format!("account.{name}");
                    let suggestion = match OpportunityField::from_name(&qualified) {
                        Some(f) => format!(" (did you mean \"{}\"?)", f.as_str()),
                        None => hint(&name, &names),
                    };
                    let message = format!("unknown field \"{name}\"{suggestion}");
                    self.error(offset, key, message);
                }
            }
        }
        out
    }

    fn account_fields(&mut self, node: &Node) -> BTreeSet<AccountField> {
        let names = AccountField::ALL.map(AccountField::as_str);
        let key = "accounts.fields";
        let mut out = BTreeSet::new();
        for (name, offset) in self.strings(node, key).unwrap_or_default() {
            let bare = name.strip_prefix("account.").unwrap_or(&name);
            match AccountField::from_name(bare) {
                Some(f) if !out.insert(f) => self.duplicate(offset, key, &name),
                Some(_) => {}
                None => {
                    let message = format!("unknown field \"{name}\"{}", hint(&name, &names));
                    self.error(offset, key, message);
                }
            }
        }
        out
    }

    fn duplicate(&mut self, offset: Option<usize>, key: &str, name: &str) {
        self.error(offset, key, format!("\"{name}\" is listed twice"));
    }

    /// A non-empty list of enum names (`stages`, `statuses`).
    fn enum_set<T: Ord + Copy>(
        &mut self,
        node: &Node,
        key: &str,
        what: &str,
        (names, parse): EnumNames<T>,
    ) -> Option<BTreeSet<T>> {
        let entries = self.strings(node, key)?;
        if is_empty_list(node) {
            let subject = if key.starts_with("accounts.") {
                "account"
            } else {
                "opportunity"
            };
            let message = format!("empty list matches no {subject} (remove the key to allow all)");
            self.error(node.offset, key, message);
            return None;
        }
        let mut out = BTreeSet::new();
        for (name, offset) in entries {
            match parse(&name) {
                Some(v) if !out.insert(v) => self.duplicate(offset, key, &name),
                Some(_) => {}
                None => {
                    let message = format!("unknown {what} \"{name}\"{}", hint(&name, names));
                    self.error(offset, key, message);
                }
            }
        }
        Some(out)
    }

    /// A list of free-text values matched ignoring ASCII case. `empty_message` empty means an
    /// empty list is allowed (and yields an empty set).
    fn text_set(
        &mut self,
        node: &Node,
        key: &str,
        empty_message: &str,
    ) -> Option<BTreeSet<String>> {
        let entries = self.strings(node, key)?;
        if is_empty_list(node) && !empty_message.is_empty() {
            self.error(node.offset, key, empty_message);
            return None;
        }
        let mut out: BTreeSet<String> = BTreeSet::new();
        for (value, offset) in entries {
            if out.iter().any(|v| v.eq_ignore_ascii_case(&value)) {
                self.duplicate(offset, key, &value);
            } else {
                out.insert(value);
            }
        }
        Some(out)
    }

    /// `tags_include = ["a", "b"]` (any of them) or `[["a", "b"], ["c"]]` (one of each list).
    fn tags_include(&mut self, node: &Node) -> Vec<BTreeSet<String>> {
        let key = "opportunities.tags_include";
        let Raw::Array(items) = &node.raw else {
            self.wrong_type(node, key, "a list of strings");
            return Vec::new();
        };
        let nested = !items.is_empty() && items.iter().all(|i| matches!(i.raw, Raw::Array(_)));
        if !nested {
            return self
                .text_set(node, key, EMPTY_OPPORTUNITY_FILTER)
                .into_iter()
                .collect();
        }
        let mut clauses: Vec<BTreeSet<String>> = Vec::new();
        for item in items {
            if let Some(clause) = self.text_set(item, key, EMPTY_OPPORTUNITY_FILTER) {
                if !clauses.contains(&clause) {
                    clauses.push(clause);
                }
            }
        }
        clauses
    }

    pub(crate) fn amount(&mut self, node: &Node, key: &str) -> Option<Amount> {
        let parsed = match &node.raw {
            Raw::Int(i) => Amount::from_units(*i),
            Raw::Str(s) => Amount::parse(s),
            Raw::Float(f) => Amount::parse(&f.to_string()),
            _ => {
                self.wrong_type(node, key, "an amount (a number or a decimal string)");
                return None;
            }
        };
        parsed
            .map_err(|e| self.error(node.offset, key, e.message().to_string()))
            .ok()
    }

    fn amount_transform(&mut self, node: &Node) -> Option<AmountTransform> {
        let path = "opportunities.amount";
        let entries = self.table(node, path, &AMOUNT_TRANSFORM_KEYS)?;
        match (entries.get("round_to"), entries.get("buckets")) {
            (Some(_), Some(_)) => {
                self.error(
                    node.offset,
                    path,
                    "use either round_to or buckets, not both",
                );
                None
            }
            (Some(n), None) => self
                .whole_units(n, "opportunities.amount.round_to", 1)
                .map(AmountTransform::RoundTo),
            (None, Some(n)) => self.buckets(n).map(AmountTransform::Buckets),
            (None, None) => {
                self.error(node.offset, path, "expected round_to or buckets");
                None
            }
        }
    }

    /// A whole number of currency units in `min ..= ROUND_TO_UNITS_MAX`.
    fn whole_units(&mut self, node: &Node, key: &str, min: i64) -> Option<i64> {
        let Raw::Int(v) = node.raw else {
            self.wrong_type(node, key, "a whole number");
            return None;
        };
        if v < min {
            let what = if min == 0 { "negative" } else { "zero or less" };
            self.error(node.offset, key, format!("must not be {what}"));
            return None;
        }
        if v > ROUND_TO_UNITS_MAX {
            let message = format!("must not be more than {ROUND_TO_UNITS_MAX}");
            self.error(node.offset, key, message);
            return None;
        }
        Some(v)
    }

    fn buckets(&mut self, node: &Node) -> Option<Vec<i64>> {
        let key = "opportunities.amount.buckets";
        let Raw::Array(items) = &node.raw else {
            self.wrong_type(node, key, "a list of whole numbers");
            return None;
        };
        if items.is_empty() {
            self.error(node.offset, key, "expected at least one bucket bound");
            return None;
        }
        if items.len() > BUCKETS_MAX {
            let message = format!("more than {BUCKETS_MAX} bucket bounds");
            self.error(node.offset, key, message);
            return None;
        }
        let bounds: Vec<Option<i64>> = items.iter().map(|i| self.whole_units(i, key, 0)).collect();
        let bounds: Vec<i64> = bounds.into_iter().collect::<Option<_>>()?;
        if bounds.windows(2).any(|w| w[0] >= w[1]) {
            self.error(
                node.offset,
                key,
                "bucket bounds must be strictly increasing",
            );
            return None;
        }
        Some(bounds)
    }

    fn date_transform(&mut self, node: &Node) -> Option<DateTransform> {
        let key = "opportunities.close_date";
        let Raw::Str(s) = &node.raw else {
            self.wrong_type(node, key, "a string");
            return None;
        };
        let found = DateTransform::ALL.into_iter().find(|t| t.as_str() == s);
        if found.is_none() {
            let names = DateTransform::ALL.map(DateTransform::as_str);
            let message = format!("unknown close_date coarsening \"{s}\"{}", hint(s, &names));
            self.error(node.offset, key, message);
        }
        found
    }
}

/// The canonical names of an enum (for suggestions) and its lenient parser.
type EnumNames<T> = (&'static [&'static str], fn(&str) -> Option<T>);

const STAGE_NAMES: [&str; 7] = [
    "prospect",
    "qualified",
    "technical_validation",
    "business_validation",
    "committed",
    "launched",
    "closed_lost",
];
const STATUS_NAMES: [&str; 4] = ["customer", "prospect", "partner", "other"];

fn stages() -> EnumNames<Stage> {
    (&STAGE_NAMES, |s| Stage::parse(s).ok())
}

fn statuses() -> EnumNames<AccountStatus> {
    (&STATUS_NAMES, |s| AccountStatus::parse(s).ok())
}

/// ` (did you mean "x"?)` when a known name is close, else ` (one of: a, b, c)`.
pub(crate) fn hint(input: &str, known: &[&str]) -> String {
    match did_you_mean(input, known) {
        Some(s) => format!(" (did you mean \"{s}\"?)"),
        None => format!(" (one of: {})", known.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestion_lists_match_the_record_types() {
        assert_eq!(STAGE_NAMES, Stage::ALL.map(Stage::as_str));
        assert_eq!(STATUS_NAMES, AccountStatus::ALL.map(AccountStatus::as_str));
    }
}
