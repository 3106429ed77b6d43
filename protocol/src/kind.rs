//! Declared kinds of shared documents: what a kind's steps may carry and who may take them.
//!
//! A document of a declared kind is a deal document whose genesis names the kind (root key
//! `kind`) and holds an append-only list `steps`. Each step is one map written by one signed
//! change: the transition it takes (`step`), the state its author saw (`from`), its author
//! (`by`), its time (`at`) and the values of the fields that transition writes. A kind is a
//! [`KindSpec`]: its fields with their types and limits, its states, and its transitions — from
//! which states, into which, by which party, writing which fields — plus guards between fields
//! (an approved amount not above the requested one) and its views (which fields a listing shows).
//!
//! Two places enforce a declaration, and both are pure:
//! - receipt ([`KindSpec::check_step`], called by the path authorizer for every step a change
//!   creates): the transition exists, the author's party may take it from the state it names,
//!   the fields are exactly the ones it writes, each well typed and within its limit. This does
//!   not depend on the document's state, so every honest replica decides alike (like a foreign
//!   section write, a refused change is never applied and the node audits it);
//! - reading ([`fold`]): steps are replayed in list order (the same on every replica); a step
//!   whose `from` is not the current state, or that breaks a guard, is kept in history but
//!   changes nothing (it is `stale`). Two concurrent steps from the same state: the first in list
//!   order wins on every replica.
//!
//! Adding a kind is one declaration file in `kinds/` plus its domain logic in the node.

use std::collections::BTreeMap;

use crate::records::{Amount, Currency, Date};

/// Root key naming a document's kind (genesis only).
pub const KIND_KEY: &str = "kind";
/// Root key of a declared document's list of steps.
pub const STEPS_KEY: &str = "steps";
/// Step key: the transition's name.
pub const STEP_KEY: &str = "step";
/// Step key: the state the author saw (empty for a creating transition).
pub const FROM_KEY: &str = "from";
/// Step key: the author's node id (must be the change's signer).
pub const BY_KEY: &str = "by";
/// Step key: the author's clock, ms since the epoch.
pub const AT_KEY: &str = "at";
/// The field naming the item a [`Party::ItemOwner`] transition acts on.
pub const ITEM_KEY: &str = "item";

/// Whether `item` (`<node id>/<rest>`, rest not empty) belongs to the node `author`.
pub fn owns_item(author: &str, item: &str) -> bool {
    !author.is_empty()
        && item
            .strip_prefix(author)
            .and_then(|rest| rest.strip_prefix('/'))
            .is_some_and(|rest| !rest.is_empty())
}

/// Who may take a transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    /// The node that created the document.
    Origin,
    /// A participant with the vendor role.
    Vendor,
    /// A participant with any other role.
    Partner,
    /// Any participant.
    Any,
    /// The participant that owns the item the step names: its `item` field (see [`ITEM_KEY`])
    /// is `<the author's node id>/<rest>`. Per-owner items (a plan's tasks, each edited only by
    /// the company that owns it) without a state-dependent check: the owner is in the id.
    ItemOwner,
}

impl Party {
    /// Whether a participant that is (or is not) the origin and has (or has not) the vendor
    /// role is this party.
    pub fn admits(self, is_origin: bool, is_vendor: bool) -> bool {
        match self {
            Party::Origin => is_origin,
            Party::Vendor => is_vendor,
            Party::Partner => !is_vendor,
            Party::Any => true,
            // Needs the author's id: [`KindSpec::check_step_by`].
            Party::ItemOwner => false,
        }
    }
}

/// A field's type and limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// Text of at most `chars_max` characters, not blank.
    Text { chars_max: usize },
    /// An exact non-negative decimal ([`Amount`]).
    Decimal,
    /// An ISO 4217 code.
    Currency,
    /// YYYY-MM-DD.
    Date,
    /// A whole number.
    Count,
    /// 64 lowercase hex digits (a SHA-256).
    Sha256,
    /// Raw bytes, at most `bytes_max`.
    Bytes { bytes_max: usize },
    /// One of the listed words.
    Choice(&'static [&'static str]),
}

/// One shared field of a kind.
#[derive(Debug, Clone, Copy)]
pub struct FieldSpec {
    pub name: &'static str,
    pub ty: FieldType,
}

/// A rule between fields, checked when a step is replayed (it depends on earlier steps).
#[derive(Debug, Clone, Copy)]
pub enum Guard {
    /// Decimal `field` is never above decimal `limit` (as it stands when the step applies).
    NotAbove {
        field: &'static str,
        limit: &'static str,
    },
    /// `hash` is the SHA-256 of `bytes` whenever a step writes both (checked on receipt).
    HashOf {
        hash: &'static str,
        bytes: &'static str,
    },
}

/// One transition: from which states (none: it creates the document's state), into which, by
/// whom, writing which fields.
#[derive(Debug, Clone, Copy)]
pub struct TransitionSpec {
    pub name: &'static str,
    pub from: &'static [&'static str],
    pub to: &'static str,
    pub by: Party,
    pub required: &'static [&'static str],
    pub optional: &'static [&'static str],
}

/// A kind's declaration.
#[derive(Debug)]
pub struct KindSpec {
    pub name: &'static str,
    pub states: &'static [&'static str],
    pub fields: &'static [FieldSpec],
    pub transitions: &'static [TransitionSpec],
    pub guards: &'static [Guard],
    /// The fields a listing shows (every party sees the whole document: both sides signed it).
    pub summary: &'static [&'static str],
}

/// A step's value as written in the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepValue {
    Text(String),
    Bytes(Vec<u8>),
}

impl StepValue {
    /// The text, if this is text.
    pub fn text(&self) -> Option<&str> {
        match self {
            StepValue::Text(t) => Some(t),
            StepValue::Bytes(_) => None,
        }
    }
}

/// Why a step was refused: the field (or step key) and the rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepDenied {
    pub field: String,
    pub rule: &'static str,
}

/// Kinds are told apart by name (names are unique in [`KINDS`]).
impl PartialEq for KindSpec {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for KindSpec {}

impl KindSpec {
    /// The transition called `name`.
    pub fn transition(&self, name: &str) -> Option<&TransitionSpec> {
        self.transitions.iter().find(|t| t.name == name)
    }

    /// The field called `name`.
    pub fn field(&self, name: &str) -> Option<&FieldSpec> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Checks one step on receipt: `values` are its fields (the step keys `step`, `from`, `by`,
    /// `at` excluded), taken by a participant that is (or not) the origin and a vendor. A
    /// [`Party::ItemOwner`] transition is never admitted here: see [`Self::check_step_by`].
    pub fn check_step(
        &self,
        transition: &str,
        from: &str,
        is_origin: bool,
        is_vendor: bool,
        values: &BTreeMap<String, StepValue>,
    ) -> Result<&TransitionSpec, StepDenied> {
        self.check_step_by(transition, from, "", is_origin, is_vendor, values)
    }

    /// [`Self::check_step`] by the node `author` (its id as text), which a
    /// [`Party::ItemOwner`] transition needs.
    pub fn check_step_by(
        &self,
        transition: &str,
        from: &str,
        author: &str,
        is_origin: bool,
        is_vendor: bool,
        values: &BTreeMap<String, StepValue>,
    ) -> Result<&TransitionSpec, StepDenied> {
        let deny = |field: &str, rule| {
            Err(StepDenied {
                field: field.to_string(),
                rule,
            })
        };
        let Some(t) = self.transition(transition) else {
            return deny(STEP_KEY, "not a transition of this kind");
        };
        let admitted = match t.by {
            Party::ItemOwner => values
                .get(ITEM_KEY)
                .and_then(StepValue::text)
                .is_some_and(|item| owns_item(author, item)),
            party => party.admits(is_origin, is_vendor),
        };
        if !admitted {
            return deny(STEP_KEY, "this party may not take this transition");
        }
        let from_ok = if t.from.is_empty() {
            from.is_empty()
        } else {
            t.from.contains(&from)
        };
        if !from_ok {
            return deny(FROM_KEY, "the transition is not allowed from this state");
        }
        for name in t.required {
            if !values.contains_key(*name) {
                return deny(name, "the transition requires this field");
            }
        }
        for (name, value) in values {
            if !t.required.contains(&name.as_str()) && !t.optional.contains(&name.as_str()) {
                return deny(name, "the transition does not write this field");
            }
            let Some(spec) = self.field(name) else {
                return deny(name, "not a field of this kind");
            };
            if let Err(rule) = check_value(spec.ty, value) {
                return deny(name, rule);
            }
        }
        for guard in self.guards {
            if let Guard::HashOf { hash, bytes } = guard {
                if let (Some(StepValue::Text(h)), Some(StepValue::Bytes(b))) =
                    (values.get(*hash), values.get(*bytes))
                {
                    if *h != sha256_hex(b) {
                        return deny(hash, "is not the SHA-256 of the attachment it signs");
                    }
                }
            }
        }
        Ok(t)
    }
}

/// The SHA-256 of `bytes` as 64 lowercase hex digits (how a kind signs an attachment).
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks one value against its type and limit.
pub fn check_value(ty: FieldType, value: &StepValue) -> Result<(), &'static str> {
    let text = match (ty, value) {
        (FieldType::Bytes { bytes_max }, StepValue::Bytes(b)) => {
            return if b.len() > bytes_max {
                Err("the attachment is larger than the kind allows")
            } else {
                Ok(())
            };
        }
        (FieldType::Bytes { .. }, StepValue::Text(_)) => return Err("must be bytes"),
        (_, StepValue::Bytes(_)) => return Err("must be text"),
        (_, StepValue::Text(t)) => t.as_str(),
    };
    let ok = match ty {
        FieldType::Text { chars_max } => {
            !text.trim().is_empty() && text.chars().count() <= chars_max
        }
        FieldType::Decimal => Amount::parse(text).is_ok_and(|a| a.to_string() == text),
        FieldType::Currency => Currency::parse(text).is_ok_and(|c| c.as_str() == text),
        FieldType::Date => Date::parse(text).is_ok_and(|d| d.to_string() == text),
        FieldType::Count => text.parse::<u64>().is_ok_and(|n| n.to_string() == text),
        FieldType::Sha256 => {
            text.len() == 64
                && text
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        }
        FieldType::Choice(words) => words.contains(&text),
        FieldType::Bytes { .. } => false,
    };
    if ok {
        Ok(())
    } else {
        Err(match ty {
            FieldType::Text { .. } => "must be non-blank text within the kind's limit",
            FieldType::Decimal => "must be a non-negative decimal in canonical form",
            FieldType::Currency => "must be an ISO 4217 currency code",
            FieldType::Date => "must be a date YYYY-MM-DD",
            FieldType::Count => "must be a whole number",
            FieldType::Sha256 => "must be 64 lowercase hex digits",
            FieldType::Choice(_) => "is not one of the kind's words",
            FieldType::Bytes { .. } => "must be bytes",
        })
    }
}

/// One step as read from a document, in list order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub transition: String,
    pub from: String,
    /// The author's node id as text.
    pub by: String,
    pub at_ms: u64,
    pub values: BTreeMap<String, StepValue>,
    /// The author was the origin / a vendor (from the participant list).
    pub by_origin: bool,
    pub by_vendor: bool,
}

/// A step after replay: did it change the document?
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replayed {
    pub step: Step,
    /// `None`: applied. Otherwise why it changed nothing (it came from another state, or broke
    /// a guard).
    pub stale: Option<&'static str>,
}

/// The state of a declared document: replaying its steps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Folded {
    pub state: Option<&'static str>,
    /// Every field's latest applied value.
    pub fields: BTreeMap<String, StepValue>,
    pub history: Vec<Replayed>,
}

/// Replays `steps` (in list order) under `spec`. Pure and deterministic.
pub fn fold(spec: &KindSpec, steps: Vec<Step>) -> Folded {
    let mut out = Folded::default();
    for step in steps {
        let stale = apply(spec, &mut out, &step).err();
        out.history.push(Replayed { step, stale });
    }
    out
}

fn apply(spec: &KindSpec, folded: &mut Folded, step: &Step) -> Result<(), &'static str> {
    let t = spec
        .check_step_by(
            &step.transition,
            &step.from,
            &step.by,
            step.by_origin,
            step.by_vendor,
            &step.values,
        )
        .map_err(|d| d.rule)?;
    if folded.state.unwrap_or("") != step.from {
        return Err("taken from a state the document was no longer in");
    }
    let mut fields = folded.fields.clone();
    // A transition rewrites its optional fields: one it leaves out is cleared.
    for name in t.optional {
        fields.remove(*name);
    }
    fields.extend(step.values.clone());
    for guard in spec.guards {
        if let Guard::NotAbove { field, limit } = guard {
            let read = |name: &str| {
                fields
                    .get(name)
                    .and_then(StepValue::text)
                    .and_then(|t| Amount::parse(t).ok())
            };
            if let (Some(value), Some(limit)) = (read(field), read(limit)) {
                if value > limit {
                    return Err("breaks a guard: an amount above its limit");
                }
            }
        }
    }
    folded.fields = fields;
    folded.state = Some(t.to);
    Ok(())
}

/// Every declared kind.
pub const KINDS: &[&KindSpec] = &[
    &crate::kinds::mdf::MDF,
    &crate::kinds::lead::LEAD,
    &crate::kinds::plan::PLAN,
    &crate::kinds::announcement::ANNOUNCEMENT,
    &crate::kinds::standing::STANDING,
];

/// The declared kind called `name`.
pub fn lookup(name: &str) -> Option<&'static KindSpec> {
    KINDS.iter().copied().find(|k| k.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A kind with per-owner items: the origin opens it, each company adds and completes only
    /// its own items.
    static ITEMS: KindSpec = KindSpec {
        name: "items-test",
        states: &["open"],
        fields: &[
            FieldSpec {
                name: "item",
                ty: FieldType::Text { chars_max: 200 },
            },
            FieldSpec {
                name: "title",
                ty: FieldType::Text { chars_max: 200 },
            },
        ],
        transitions: &[
            TransitionSpec {
                name: "open",
                from: &[],
                to: "open",
                by: Party::Origin,
                required: &[],
                optional: &[],
            },
            TransitionSpec {
                name: "done",
                from: &["open"],
                to: "open",
                by: Party::ItemOwner,
                required: &["item"],
                optional: &["title"],
            },
        ],
        guards: &[],
        summary: &[],
    };

    fn item(id: &str) -> BTreeMap<String, StepValue> {
        BTreeMap::from([("item".to_string(), StepValue::Text(id.to_string()))])
    }

    #[test]
    fn only_the_owner_named_in_an_item_id_may_take_an_item_owner_transition() {
        let ok = ITEMS.check_step_by("done", "open", "nodeA", false, false, &item("nodeA/1"));
        assert!(ok.is_ok());
        for (author, id) in [
            ("nodeB", "nodeA/1"),
            ("nodeA", "nodeA"),
            ("nodeA", "nodeA/"),
            ("node", "nodeA/1"),
            ("", "/1"),
        ] {
            let denied = ITEMS
                .check_step_by("done", "open", author, true, true, &item(id))
                .unwrap_err();
            assert_eq!(
                denied.rule, "this party may not take this transition",
                "{author} {id}"
            );
        }
        // Without the author (the old entry point) it is never admitted.
        assert!(ITEMS
            .check_step("done", "open", true, true, &item("nodeA/1"))
            .is_err());
        // Replay applies the owner's step and keeps another company's as stale.
        let step = |by: &str, t: &str, from: &str, values| Step {
            transition: t.into(),
            from: from.into(),
            by: by.into(),
            at_ms: 1,
            values,
            by_origin: by == "nodeA",
            by_vendor: false,
        };
        let folded = fold(
            &ITEMS,
            vec![
                step("nodeA", "open", "", BTreeMap::new()),
                step("nodeB", "done", "open", item("nodeA/1")),
                step("nodeA", "done", "open", item("nodeA/1")),
            ],
        );
        let applied: Vec<bool> = folded.history.iter().map(|r| r.stale.is_none()).collect();
        assert_eq!(applied, [true, false, true]);
    }
}
