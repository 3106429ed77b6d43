//! Attribution: who sourced and who influenced a deal, as each participant proposes it and the
//! others accept it.

use super::{Deals, DealsError};
use protocol::deal::{DealId, DealView, ParticipantStatus};
use protocol::identity::NodeId;
use serde_json::{json, Value};

impl Deals {
    /// This node proposes who sourced and who influenced the deal (participants, by id or name).
    pub fn propose_attribution(
        &self,
        id: DealId,
        sourced_by: &str,
        influenced_by: &[String],
        now_ms: u64,
    ) -> Result<(), DealsError> {
        self.require_deal(id)?;
        let sourced = self.participant(id, sourced_by)?;
        let influenced = influenced_by
            .iter()
            .map(|w| self.participant(id, w))
            .collect::<Result<Vec<_>, _>>()?;
        self.edit(id, now_ms, |doc, signer| {
            doc.propose_attribution(signer, now_ms, &sourced, &influenced)
        })
    }

    /// This node accepts another participant's attribution proposal (the only other one when
    /// `proposer` is `None`).
    pub fn accept_attribution(
        &self,
        id: DealId,
        proposer: Option<&str>,
        now_ms: u64,
    ) -> Result<(), DealsError> {
        self.require_deal(id)?;
        let proposer = match proposer {
            Some(p) => self.participant(id, p)?,
            None => {
                let inner = self.lock();
                let view = inner.docs[&id].read_view();
                let others: Vec<NodeId> = view
                    .attribution
                    .proposals
                    .keys()
                    .filter(|n| *n != &self.me)
                    .cloned()
                    .collect();
                let name_of = |n: &NodeId| {
                    view.participants
                        .get(n)
                        .map(|p| p.name.clone())
                        .unwrap_or_else(|| n.to_string())
                };
                match others.as_slice() {
                    // Accepting another's proposal when this node proposed something else
                    // would drop this node's own silently: the caller must say so by name.
                    [one]
                        if view.attribution.proposals.get(&self.me).is_some_and(|mine| {
                            Some(mine) != view.attribution.proposals.get(one)
                        }) =>
                    {
                        return Err(DealsError::Invalid(format!(
                            "your own attribution proposal differs from {}'s: to accept theirs instead of yours, name the proposer (--proposer \"{}\")",
                            name_of(one),
                            name_of(one)
                        )))
                    }
                    [one] => one.clone(),
                    [] => {
                        return Err(DealsError::Invalid(
                            "no other participant has proposed an attribution".into(),
                        ))
                    }
                    _ => {
                        let names: Vec<String> = others.iter().map(name_of).collect();
                        return Err(DealsError::Invalid(format!(
                            "several proposals ({}): name the proposer (--proposer NAME)",
                            names.join(", ")
                        )));
                    }
                }
            }
        };
        self.edit(id, now_ms, |doc, signer| {
            doc.accept_attribution(signer, now_ms, &proposer)
        })
    }

    /// Resolves a participant of a deal by node id or (unique, case-insensitive) name.
    fn participant(&self, id: DealId, who: &str) -> Result<NodeId, DealsError> {
        let inner = self.lock();
        let view = inner
            .docs
            .get(&id)
            .ok_or_else(|| DealsError::NotFound(format!("no deal with id {id}")))?
            .read_view();
        let who = who.trim();
        if let Some((n, _)) = view.participants.iter().find(|(n, _)| n.as_str() == who) {
            return Ok(n.clone());
        }
        let named: Vec<&NodeId> = view
            .participants
            .iter()
            .filter(|(_, p)| p.name.eq_ignore_ascii_case(who))
            .map(|(n, _)| n)
            .collect();
        match named.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(DealsError::Invalid(format!(
                "'{who}' is not a participant of deal {id}"
            ))),
            _ => Err(DealsError::Invalid(format!(
                "'{who}' names several participants: use a node id"
            ))),
        }
    }
}

/// Attribution as proposed and accepted: `{proposals:[{by, sourced_by, influenced_by,
/// accepted_by}], agreed, disputed}`. A proposal is agreed once every other participant that
/// accepted the deal accepted exactly its current content (an acceptance of content the proposer
/// later changed does not count); disputed while proposals differ and none is agreed.
pub fn attribution_json(view: &DealView) -> Value {
    let a = &view.attribution;
    let members: Vec<&NodeId> = view
        .participants
        .iter()
        .filter(|(n, p)| {
            view.origin.as_ref() == Some(*n) || p.status == Some(ParticipantStatus::Accepted)
        })
        .map(|(n, _)| n)
        .collect();
    let mut proposals = Vec::new();
    let mut agreed = Value::Null;
    for (by, p) in &a.proposals {
        let accepted_by: Vec<&NodeId> = a
            .acceptances
            .iter()
            .filter(|(n, proposer)| {
                *proposer == by
                    && *n != by
                    && a.accepted_content.get(*n).is_none_or(|c| {
                        c.sourced_by == p.sourced_by && c.influenced_by == p.influenced_by
                    })
            })
            .map(|(n, _)| n)
            .collect();
        let everyone =
            members.len() > 1 && members.iter().all(|m| *m == by || accepted_by.contains(m));
        let entry = json!({
            "by": by.to_string(),
            "sourced_by": p.sourced_by.as_ref().map(|n| n.to_string()),
            "influenced_by": p.influenced_by.iter().map(|n| n.to_string()).collect::<Vec<_>>(),
            "accepted_by": accepted_by.iter().map(|n| n.to_string()).collect::<Vec<_>>(),
        });
        if everyone && agreed.is_null() {
            agreed = entry.clone();
        }
        proposals.push(entry);
    }
    let mut contents: Vec<(Option<&NodeId>, &Vec<NodeId>)> = a
        .proposals
        .values()
        .map(|p| (p.sourced_by.as_ref(), &p.influenced_by))
        .collect();
    contents.sort();
    contents.dedup();
    let disputed = agreed.is_null() && contents.len() > 1;
    json!({"proposals": proposals, "agreed": agreed, "disputed": disputed})
}
