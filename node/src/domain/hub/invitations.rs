//! Invitations from a hub: an ACE opportunity invitation or an incoming Microsoft referral
//! waits in the inbox, as a partner's deal invitation does, until someone accepts it (the
//! account and opportunity are created, or the matching ones updated, with the hub record as
//! their source) or declines it. Both answers are audited; an answered invitation stays, with
//! its answer and (accepted) the opportunity's id.

use super::write::{invalid, upsert};
use super::{Mapped, Source};
use crate::domain::audit;
use crate::domain::error::DomainError;
use crate::store::tables::HUB_INVITATIONS;
use crate::store::Store;
use anyhow::Result;
use protocol::records::{Account, Opportunity, Stage};
use redb::{ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Statuses an invitation may have.
pub const STATUSES: [&str; 3] = ["invited", "accepted", "declined"];

/// One stored invitation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Invitation {
    /// This node's id for it (a ULID).
    pub id: String,
    /// `invited`, `accepted` or `declined`.
    pub status: String,
    /// Who sent it.
    pub from: String,
    /// When the hub says it was sent.
    pub invited_at: Option<String>,
    /// When the hub says it expires.
    pub expires_at: Option<String>,
    /// When this node received it (ms since the epoch).
    pub received_ms: u64,
    /// The hub record.
    pub source: Source,
    /// The customer, as the hub gives it.
    pub account: Account,
    /// The opportunity offered.
    pub opportunity: Opportunity,
    /// The opportunity created (or updated) on accepting.
    pub opportunity_id: Option<String>,
}

impl Invitation {
    /// The inbox's view: who, what, for which customer, and the answer.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id, "hub": self.source.format.as_str(),
            "external_id": self.source.external_id, "from": self.from,
            "title": self.opportunity.name, "account_name": self.account.name,
            "account_domain": self.account.domain.as_ref().map(|d| d.as_str()),
            "stage": self.opportunity.stage.as_str(),
            "amount": self.opportunity.amount.map(|a| a.to_string()),
            "currency": self.opportunity.currency.map(|c| c.as_str().to_string()),
            "close_date": self.opportunity.close_date.map(|d| d.to_string()),
            "status": self.status, "invited_at": self.invited_at, "expires_at": self.expires_at,
            "received_at": audit::rfc3339(self.received_ms),
            "opportunity_id": self.opportunity_id,
        })
    }
}

/// Stores an invitation read from a hub file; the same hub record again replaces it while it
/// is unanswered (and is left as it is once answered). Returns its id.
pub(super) fn receive(txn: &WriteTransaction, item: Mapped, now_ms: u64) -> Result<String> {
    let mut table = txn.open_table(HUB_INVITATIONS)?;
    let mut found: Option<Invitation> = None;
    for entry in table.iter()? {
        let (_, v) = entry?;
        let inv: Invitation = serde_json::from_slice(v.value())?;
        if inv.source.format == item.source.format
            && inv.source.external_id == item.source.external_id
        {
            found = Some(inv);
            break;
        }
    }
    let from = item.invitation.clone().unwrap_or(super::InvitationFrom {
        from: String::new(),
        invited_at: None,
        expires_at: None,
    });
    let inv = match found {
        Some(inv) if inv.status != "invited" => return Ok(inv.id),
        Some(inv) => Invitation {
            id: inv.id,
            received_ms: inv.received_ms,
            ..new(item, from, now_ms)
        },
        None => new(item, from, now_ms),
    };
    table.insert(inv.id.as_str(), serde_json::to_vec(&inv)?.as_slice())?;
    Ok(inv.id)
}

fn new(item: Mapped, from: super::InvitationFrom, now_ms: u64) -> Invitation {
    Invitation {
        id: ulid::Ulid::new().to_string(),
        status: "invited".into(),
        from: from.from,
        invited_at: from.invited_at,
        expires_at: from.expires_at,
        received_ms: now_ms,
        source: item.source,
        account: item.account,
        opportunity: item.opportunity,
        opportunity_id: None,
    }
}

/// Every invitation, newest first; `status` filters.
pub fn list(store: &Store, status: Option<&str>) -> Result<Vec<Invitation>> {
    let txn = store.read()?;
    let Some(table) = crate::store::open_table_if_exists(&txn, HUB_INVITATIONS)? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for entry in table.iter()? {
        let (_, v) = entry?;
        let inv: Invitation = serde_json::from_slice(v.value())?;
        if status.is_none_or(|s| inv.status == s) {
            out.push(inv);
        }
    }
    out.reverse();
    Ok(out)
}

/// Accepts (`accept`) or declines invitation `id`: accepting writes its account and
/// opportunity (a Microsoft referral accepted is Active: qualified at least). Returns the
/// invitation as answered and whether a stored record was updated.
pub fn answer(
    store: &Store,
    id: &str,
    accept: bool,
    now_ms: u64,
) -> Result<(Invitation, bool), DomainError> {
    let txn = store.write()?;
    let mut inv: Invitation = {
        let table = txn
            .open_table(HUB_INVITATIONS)
            .map_err(anyhow::Error::from)?;
        let found = table.get(id).map_err(anyhow::Error::from)?;
        match found {
            Some(v) => serde_json::from_slice(v.value()).map_err(anyhow::Error::from)?,
            None => {
                return Err(DomainError::NotFound(format!(
                    "no hub invitation with id {id}"
                )))
            }
        }
    };
    if inv.status != "invited" {
        return Err(DomainError::Conflict(format!(
            "hub invitation {id} was {} already",
            inv.status
        )));
    }
    let mut matched = false;
    if accept {
        let mut opportunity = inv.opportunity.clone();
        if inv.source.format == super::Hub::Ms && opportunity.stage == Stage::Prospect {
            opportunity.stage = Stage::Qualified;
        }
        let item = Mapped {
            account: inv.account.clone(),
            opportunity,
            source: inv.source.clone(),
            invitation: None,
        };
        let written = upsert(&txn, item, "invitation")?.map_err(|p| invalid(vec![p]))?;
        matched = written.outcome == "updated";
        inv.opportunity_id = written.opportunity_id;
        inv.status = "accepted".into();
    } else {
        inv.status = "declined".into();
    }
    let bytes = serde_json::to_vec(&inv).map_err(anyhow::Error::from)?;
    txn.open_table(HUB_INVITATIONS)
        .and_then(|mut t| t.insert(id, bytes.as_slice()).map(drop).map_err(Into::into))
        .map_err(anyhow::Error::from)?;
    audit::record_in(
        &txn,
        now_ms,
        audit::AuditKind::Record,
        None,
        format!(
            "{} {} invitation {} from {} ({})",
            inv.status,
            inv.source.format.as_str(),
            inv.source.external_id,
            inv.from,
            inv.opportunity.name
        ),
        json!({"event": "hub_invitation_answered", "id": id, "status": inv.status,
               "hub": inv.source.format.as_str(), "external_id": inv.source.external_id,
               "opportunity_id": inv.opportunity_id}),
    )?;
    txn.commit().map_err(anyhow::Error::from)?;
    Ok((inv, matched))
}
