//! The facts of every document, flattened for counting (the partner program, analytics and
//! QBR packs): who took part and how, the stage and amount, attribution as agreed,
//! registrations and their decisions, invitations and when they were answered. Read under the
//! engine's lock once, then counted without it.

use super::attribution::attribution_json;
use super::kinds::{kind_of, DocKind};
use super::Deals;
use protocol::deal::{ParticipantStatus, RegistrationStatus};
use protocol::identity::NodeId;
use protocol::records::{Amount, Currency, Date, Stage};

/// One shared deal as counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DealFact {
    /// The deal id.
    pub id: String,
    /// The node that shared it.
    pub origin: Option<String>,
    /// When it was created (the origin's signed claim), ms since the epoch.
    pub created_at_ms: Option<u64>,
    /// Every participant with its status (`invited`, `accepted`, …).
    pub participants: Vec<(String, Option<ParticipantStatus>)>,
    /// This node's view of the stage: its own section's (from its linked opportunity), else
    /// the shared one.
    pub stage: Option<Stage>,
    /// The shared amount and currency (absent when the policy withheld them).
    pub amount: Option<(Amount, Currency)>,
    /// The shared close date.
    pub close_date: Option<Date>,
    /// Agreed attribution: who sourced it.
    pub sourced_by: Option<String>,
    /// Agreed attribution: who influenced it.
    pub influenced_by: Vec<String>,
    /// The account's name, when shared.
    pub account: Option<String>,
    /// The deal's name, when shared.
    pub title: Option<String>,
}

/// One registration as counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationFact {
    /// The registration id.
    pub id: String,
    /// The partner that registered.
    pub registrant: Option<String>,
    /// The vendor it registered with.
    pub vendor: Option<String>,
    /// When it was submitted (the registrant's claim).
    pub registered_at_ms: Option<u64>,
    /// The vendor's decision and when.
    pub status: Option<RegistrationStatus>,
    /// When the vendor decided.
    pub decided_at_ms: Option<u64>,
}

/// One invitation to a deal as counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitationFact {
    /// The deal it invites to.
    pub deal: String,
    /// Who invited.
    pub from: Option<String>,
    /// Who was invited.
    pub invitee: String,
    /// When it was sent.
    pub sent_at_ms: Option<u64>,
    /// The invitee's answer, if any.
    pub status: Option<ParticipantStatus>,
    /// When the invitee answered (the time of its latest signed change).
    pub answered_at_ms: Option<u64>,
}

/// Everything counted, read at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// This node's id.
    pub me: String,
    /// Shared deals.
    pub deals: Vec<DealFact>,
    /// Registrations.
    pub registrations: Vec<RegistrationFact>,
    /// Invitations.
    pub invitations: Vec<InvitationFact>,
}

impl Deals {
    /// The facts of every initialized document, in id order.
    pub fn facts(&self) -> Facts {
        let me = self.me.clone();
        let inner = self.lock();
        let mut ids: Vec<_> = inner.docs.keys().copied().collect();
        ids.sort();
        let mut facts = Facts {
            me: me.to_string(),
            ..Facts::default()
        };
        for id in ids {
            let Some(doc) = inner.docs.get(&id).filter(|d| d.is_initialized()) else {
                continue;
            };
            let view = doc.read_view();
            let text = |n: &NodeId| n.to_string();
            match kind_of(&view) {
                DocKind::Deal => {
                    let agreed = &attribution_json(&view)["agreed"];
                    let stage = view
                        .sections
                        .get(&me)
                        .and_then(|s| s.stage)
                        .or(view.shared.stage);
                    let shared = &view.shared;
                    facts.deals.push(DealFact {
                        id: id.to_string(),
                        origin: view.origin.as_ref().map(text),
                        created_at_ms: view.created_at_ms,
                        participants: view
                            .participants
                            .iter()
                            .map(|(n, p)| (n.to_string(), p.status))
                            .collect(),
                        stage,
                        amount: shared.amount.zip(shared.currency),
                        close_date: shared.close_date,
                        sourced_by: agreed["sourced_by"].as_str().map(str::to_string),
                        influenced_by: agreed["influenced_by"]
                            .as_array()
                            .map(|a| {
                                a.iter()
                                    .filter_map(|v| v.as_str().map(str::to_string))
                                    .collect()
                            })
                            .unwrap_or_default(),
                        account: shared.account_name.clone(),
                        title: shared.title.clone(),
                    });
                }
                DocKind::Registration => {
                    let r = &view.registration;
                    let registrant = r.registered_by.clone();
                    let claim = registrant.as_ref().and_then(|n| r.claims.get(n));
                    let vendor = claim.and_then(|c| c.vendor.clone());
                    let decision = vendor.as_ref().and_then(|v| r.decisions.get(v));
                    facts.registrations.push(RegistrationFact {
                        id: id.to_string(),
                        registrant: registrant.as_ref().map(text),
                        vendor: vendor.as_ref().map(text),
                        registered_at_ms: claim.and_then(|c| c.registered_at_ms),
                        status: r.status,
                        decided_at_ms: decision.and_then(|d| d.decided_at_ms),
                    });
                }
                // Other declared kinds (MDF …) are counted by their own modules.
                DocKind::Declared(_) => {}
                DocKind::Invitation { deal } => {
                    for (invitee, p) in &view.participants {
                        if view.origin.as_ref() == Some(invitee) {
                            continue;
                        }
                        let answered_at_ms = p
                            .status
                            .filter(|s| *s != ParticipantStatus::Invited)
                            .and_then(|_| {
                                doc.automerge()
                                    .get_changes(&[])
                                    .iter()
                                    .filter(|c| {
                                        doc.envelope(&c.hash())
                                            .is_some_and(|e| e.author() == invitee)
                                    })
                                    .map(|c| u64::try_from(c.timestamp()).unwrap_or(0))
                                    .max()
                            });
                        facts.invitations.push(InvitationFact {
                            deal: deal.to_string(),
                            from: view.origin.as_ref().map(text),
                            invitee: invitee.to_string(),
                            sent_at_ms: view.created_at_ms,
                            status: p.status,
                            answered_at_ms,
                        });
                    }
                }
            }
        }
        facts
    }
}
