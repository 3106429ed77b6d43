//! Reading a deal document: the typed values and views its maps and lists hold. Every reader
//! returns a value or `None`, never panics, whatever a peer wrote.

use super::*;

pub(super) fn get_obj(doc: &Automerge, parent: &ObjId, key: &str) -> Option<ObjId> {
    match doc.get(parent, key).ok()?? {
        (Value::Object(_), id) => Some(id),
        _ => None,
    }
}

pub(super) fn scalar_str(value: &Value<'_>) -> Option<String> {
    match value {
        Value::Scalar(s) => match s.as_ref() {
            ScalarValue::Str(s) => Some(s.to_string()),
            _ => None,
        },
        _ => None,
    }
}

pub(super) fn ref_str(value: &ValueRef<'_>) -> Option<String> {
    match value {
        ValueRef::Scalar(ScalarValueRef::Str(s)) => Some(s.to_string()),
        _ => None,
    }
}

/// A participant's status. When concurrent writes left several values, `removed` wins: a
/// participant's own answer written before it saw its removal does not undo the removal.
pub(super) fn read_status(doc: &Automerge, entry: &ObjId) -> Option<ParticipantStatus> {
    let all = doc.get_all(entry, keys::STATUS).ok()?;
    let statuses: Vec<ParticipantStatus> = all
        .iter()
        .filter_map(|(value, _)| scalar_str(value))
        .filter_map(|s| ParticipantStatus::parse(&s).ok())
        .collect();
    if statuses.contains(&ParticipantStatus::Removed) {
        return Some(ParticipantStatus::Removed);
    }
    get_str(doc, entry, keys::STATUS).and_then(|s| ParticipantStatus::parse(&s).ok())
}

pub(super) fn get_str(doc: &Automerge, obj: &ObjId, key: &str) -> Option<String> {
    let (value, _) = doc.get(obj, key).ok()??;
    scalar_str(&value)
}

pub(super) fn get_u64(doc: &Automerge, obj: &ObjId, key: &str) -> Option<u64> {
    match doc.get(obj, key).ok()?? {
        (Value::Scalar(s), _) => match s.as_ref() {
            ScalarValue::Uint(u) => Some(*u),
            ScalarValue::Int(i) => u64::try_from(*i).ok(),
            _ => None,
        },
        _ => None,
    }
}

pub(super) fn get_node(doc: &Automerge, obj: &ObjId, key: &str) -> Option<NodeId> {
    get_str(doc, obj, key).and_then(|s| NodeId::parse(&s).ok())
}

pub(super) fn str_list(doc: &Automerge, obj: &ObjId, key: &str) -> Vec<String> {
    let Some(list) = get_obj(doc, obj, key) else {
        return Vec::new();
    };
    doc.list_range(&list, ..)
        .filter_map(|item| ref_str(&item.value))
        .collect()
}

/// Entries of a map keyed by node id whose values are objects.
pub(super) fn node_entries(doc: &Automerge, map: &ObjId) -> Vec<(NodeId, ObjId)> {
    doc.map_range(map, ..)
        .filter_map(|item| {
            let node = NodeId::parse(item.key.as_ref()).ok()?;
            match item.value {
                ValueRef::Object(_) => Some((node, item.id())),
                _ => None,
            }
        })
        .collect()
}

pub(super) fn read_shared(doc: &Automerge, shared: &ObjId) -> SharedView {
    let text = |key| get_str(doc, shared, key);
    let account = get_obj(doc, shared, keys::ACCOUNT);
    let reserved = [
        keys::TITLE,
        keys::STAGE,
        keys::AMOUNT,
        keys::CURRENCY,
        keys::CLOSE_DATE,
        keys::ACCOUNT,
    ];
    let other = doc
        .map_range(shared, ..)
        .filter(|item| !reserved.contains(&item.key.as_ref()))
        .filter_map(|item| Some((item.key.to_string(), ref_str(&item.value)?)))
        .collect();
    SharedView {
        title: text(keys::TITLE),
        stage: text(keys::STAGE).and_then(|s| Stage::parse(&s).ok()),
        amount: text(keys::AMOUNT).and_then(|s| Amount::parse(&s).ok()),
        currency: text(keys::CURRENCY).and_then(|s| Currency::parse(&s).ok()),
        close_date: text(keys::CLOSE_DATE).and_then(|s| Date::parse(&s).ok()),
        account_name: account.as_ref().and_then(|a| get_str(doc, a, keys::NAME)),
        account_domain: account
            .as_ref()
            .and_then(|a| get_str(doc, a, keys::DOMAIN))
            .and_then(|s| Domain::parse(&s).ok()),
        other,
    }
}

pub(super) fn read_section(doc: &Automerge, s: &ObjId) -> SectionView {
    SectionView {
        notes: str_list(doc, s, keys::NOTES),
        next_step: get_str(doc, s, keys::NEXT_STEP),
        contacts: str_list(doc, s, keys::CONTACTS),
        contribution: get_str(doc, s, keys::CONTRIBUTION),
        stage: get_str(doc, s, keys::STAGE).and_then(|s| Stage::parse(&s).ok()),
        linked_opportunity: get_str(doc, s, keys::LINKED_OPPORTUNITY),
    }
}

pub(super) fn read_registration(doc: &Automerge, registration: &ObjId) -> RegistrationView {
    let mut view = RegistrationView::default();
    if let Some(claims) = get_obj(doc, registration, keys::CLAIMS) {
        for (node, c) in node_entries(doc, &claims) {
            view.claims.insert(
                node,
                RegistrationClaim {
                    vendor: get_node(doc, &c, keys::VENDOR),
                    registered_at_ms: get_u64(doc, &c, keys::REGISTERED_AT),
                    notes: get_str(doc, &c, keys::NOTES),
                },
            );
        }
    }
    if let Some(decisions) = get_obj(doc, registration, keys::DECISIONS) {
        for (node, d) in node_entries(doc, &decisions) {
            view.decisions.insert(
                node,
                RegistrationDecision {
                    registrant: get_node(doc, &d, keys::REGISTRANT),
                    status: get_str(doc, &d, keys::STATUS)
                        .and_then(|s| RegistrationStatus::parse(&s)),
                    decided_at_ms: get_u64(doc, &d, keys::DECIDED_AT),
                    expires_at_ms: get_u64(doc, &d, keys::EXPIRES_AT),
                    reason: get_str(doc, &d, keys::REASON),
                    terms: get_obj(doc, &d, keys::TERMS).map(|t| {
                        doc.map_range(&t, ..)
                            .filter_map(|item| Some((item.key.to_string(), ref_str(&item.value)?)))
                            .collect()
                    }),
                },
            );
        }
    }
    let first = view
        .claims
        .iter()
        .min_by_key(|(node, c)| (c.registered_at_ms.unwrap_or(u64::MAX), (*node).clone()));
    if let Some((node, claim)) = first {
        view.registered_by = Some(node.clone());
        let decision = claim.vendor.as_ref().and_then(|v| view.decisions.get(v));
        view.status = match decision {
            Some(d) if d.registrant.as_ref() == Some(node) => d.status,
            _ => Some(RegistrationStatus::Pending),
        };
    }
    view
}

pub(super) fn read_attribution(doc: &Automerge, attribution: &ObjId) -> AttributionView {
    let nodes = |obj: &ObjId| -> Vec<NodeId> {
        str_list(doc, obj, keys::INFLUENCED_BY)
            .iter()
            .filter_map(|s| NodeId::parse(s).ok())
            .collect()
    };
    let mut view = AttributionView {
        sourced_by: get_node(doc, attribution, keys::SOURCED_BY),
        influenced_by: nodes(attribution),
        ..AttributionView::default()
    };
    if let Some(proposals) = get_obj(doc, attribution, keys::PROPOSALS) {
        for (node, p) in node_entries(doc, &proposals) {
            view.proposals.insert(
                node,
                AttributionProposal {
                    sourced_by: get_node(doc, &p, keys::SOURCED_BY),
                    influenced_by: nodes(&p),
                },
            );
        }
    }
    if let Some(acceptances) = get_obj(doc, attribution, keys::ACCEPTANCES) {
        for (node, a) in node_entries(doc, &acceptances) {
            if let Some(proposer) = get_node(doc, &a, keys::PROPOSAL) {
                if let Some(sourced_by) = get_node(doc, &a, keys::SOURCED_BY) {
                    view.accepted_content.insert(
                        node.clone(),
                        AttributionProposal {
                            sourced_by: Some(sourced_by),
                            influenced_by: nodes(&a),
                        },
                    );
                }
                view.acceptances.insert(node, proposer);
            }
        }
    }
    view
}
