//! Documents of a declared kind ([`crate::kind`]): creating one, taking a step, reading the
//! replayed state.

use automerge::transaction::Transactable;
use automerge::{ObjType, ReadDoc, ScalarValue, Value, ROOT};
use std::collections::BTreeMap;

use super::{get_obj, DealDoc, DealError, Invite, Role, SharedFields, Signer, VerifiedChange};
use crate::identity::NodeId;
use crate::kind::{self, fold, Folded, KindSpec, Step, StepValue};

/// A declared document as read: its kind and its replayed steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindView {
    pub spec: &'static KindSpec,
    pub folded: Folded,
}

impl DealDoc {
    /// Creates a document of the declared `kind`: the genesis change, by `signer` as origin
    /// (with `origin_name` and `origin_role`), inviting `participants`.
    pub fn create_kind(
        signer: &Signer,
        now_ms: u64,
        origin: (&str, Role),
        participants: &[Invite],
        shared: &SharedFields,
        kind: &'static KindSpec,
    ) -> Result<(DealDoc, VerifiedChange), DealError> {
        DealDoc::create_as(signer, now_ms, origin, participants, shared, Some(kind))
    }

    /// The declared kind, if the genesis named one.
    pub fn kind(&self) -> Option<&'static KindSpec> {
        self.authority.kind()
    }

    /// Takes transition `transition` with `values` from the current state: one signed change.
    /// Refused (nothing written) when the declaration does not allow this node to take it now,
    /// or when it would break a guard.
    pub fn take_step(
        &mut self,
        signer: &Signer,
        now_ms: u64,
        transition: &str,
        values: &BTreeMap<String, StepValue>,
    ) -> Result<VerifiedChange, DealError> {
        self.require_participant(signer)?;
        let Some(view) = self.kind_view() else {
            return Err(DealError::Invalid(
                "the document has no declared kind".into(),
            ));
        };
        let me = signer.node_id();
        let step = Step {
            transition: transition.to_string(),
            from: view.folded.state.unwrap_or("").to_string(),
            by: me.as_str().to_string(),
            at_ms: now_ms,
            values: values.clone(),
            by_origin: self.authority.origin() == Some(me),
            by_vendor: self.authority.role_of(me) == Some(Role::Vendor),
        };
        let mut steps: Vec<Step> = view.folded.history.into_iter().map(|r| r.step).collect();
        steps.push(step.clone());
        let replayed = fold(view.spec, steps);
        if let Some(rule) = replayed.history.last().and_then(|r| r.stale) {
            return Err(DealError::NotAllowed(rule));
        }
        let list = self.object_at(&[kind::STEPS_KEY])?;
        self.edit(signer, now_ms, |tx| {
            let end = tx.length(&list);
            let obj = tx.insert_object(&list, end, ObjType::Map)?;
            tx.put(&obj, kind::STEP_KEY, step.transition.as_str())?;
            tx.put(&obj, kind::FROM_KEY, step.from.as_str())?;
            tx.put(&obj, kind::BY_KEY, step.by.as_str())?;
            tx.put(&obj, kind::AT_KEY, now_ms)?;
            for (key, value) in &step.values {
                match value {
                    StepValue::Text(t) => tx.put(&obj, key.as_str(), t.as_str())?,
                    StepValue::Bytes(b) => {
                        tx.put(&obj, key.as_str(), ScalarValue::Bytes(b.clone()))?
                    }
                }
            }
            Ok(())
        })
    }

    /// The kind and replayed state of a declared document (`None` for a deal, an invitation or
    /// a registration, or before the genesis arrived).
    pub fn kind_view(&self) -> Option<KindView> {
        let spec = self.authority.kind()?;
        let doc = &self.doc;
        let mut steps = Vec::new();
        if let Some(list) = get_obj(doc, &ROOT, kind::STEPS_KEY) {
            for index in 0..doc.length(&list) {
                let Ok(Some((Value::Object(ObjType::Map), obj))) = doc.get(&list, index) else {
                    continue;
                };
                let mut raw: BTreeMap<String, ScalarValue> = BTreeMap::new();
                for key in doc.keys(&obj) {
                    if let Ok(Some((Value::Scalar(v), _))) = doc.get(&obj, key.as_str()) {
                        raw.insert(key, v.into_owned());
                    }
                }
                steps.push(self.step_of(raw));
            }
        }
        Some(KindView {
            spec,
            folded: fold(spec, steps),
        })
    }

    fn step_of(&self, mut raw: BTreeMap<String, ScalarValue>) -> Step {
        let mut text = |key: &str| match raw.remove(key) {
            Some(ScalarValue::Str(s)) => s.to_string(),
            _ => String::new(),
        };
        let transition = text(kind::STEP_KEY);
        let from = text(kind::FROM_KEY);
        let by = text(kind::BY_KEY);
        let at_ms = match raw.remove(kind::AT_KEY) {
            Some(ScalarValue::Uint(n)) => n,
            _ => 0,
        };
        let values = raw
            .into_iter()
            .filter_map(|(k, v)| match v {
                ScalarValue::Str(s) => Some((k, StepValue::Text(s.to_string()))),
                ScalarValue::Bytes(b) => Some((k, StepValue::Bytes(b))),
                _ => None,
            })
            .collect();
        let node = NodeId::parse(&by).ok();
        let by_origin = node.is_some() && self.authority.origin() == node.as_ref();
        let by_vendor = node
            .as_ref()
            .is_some_and(|n| self.authority.role_of(n) == Some(Role::Vendor));
        Step {
            transition,
            from,
            by,
            at_ms,
            values,
            by_origin,
            by_vendor,
        }
    }
}
