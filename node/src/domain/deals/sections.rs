//! This node's own section of a deal: notes, next step, contacts, contribution, its own stage
//! and the opportunity of its pipeline the deal is linked to.

use super::{Deals, DealsError, DocKind};
use anyhow::{anyhow, Result};
use protocol::deal::{DealId, SectionUpdate};
use protocol::records::Stage;

impl Deals {
    /// Writes this node's own section of a deal. Every text longer than a deal field holds is
    /// refused by its field's name, all at once, before the document is touched.
    pub fn update_section(
        &self,
        id: DealId,
        update: &SectionUpdate,
        now_ms: u64,
    ) -> Result<(), DealsError> {
        self.require_deal(id)?;
        self.refuse_when_origin_ended(id)?;
        let problems = section_problems(update);
        if !problems.is_empty() {
            return Err(DealsError::fields(problems));
        }
        self.edit(id, now_ms, |doc, signer| {
            doc.update_section(signer, now_ms, update)
        })
    }

    /// Links a deal to one of this node's opportunities (or a new one, on the account with the
    /// deal's domain — made when there is none): the opportunity's id and stage go into this
    /// node's section, beside the others' stages. Returns the opportunity id.
    pub fn link(
        &self,
        id: DealId,
        opportunity_id: Option<&str>,
        create: bool,
        force: bool,
        now_ms: u64,
    ) -> Result<String, DealsError> {
        self.require_deal(id)?;
        if create {
            if let Some(linked) = self.linked_opportunity(id)? {
                return Err(DealsError::Conflict(format!(
                    "deal {id} is already linked to opportunity {linked}; to link another, give its opportunity_id"
                )));
            }
        }
        let opp = match (opportunity_id, create) {
            (Some(o), false) => self
                .store
                .opportunity(o)?
                .ok_or_else(|| DealsError::NotFound(format!("no opportunity with id {o}")))?,
            (None, true) => self.create_linked_opportunity(id)?,
            _ => {
                return Err(DealsError::Invalid(
                    "give either opportunity_id or create: true".into(),
                ))
            }
        };
        if !force {
            self.refuse_other_account(id, &opp)?;
        }
        self.update_section(
            id,
            &SectionUpdate {
                stage: Some(opp.stage),
                linked_opportunity: Some(opp.id.clone()),
                ..SectionUpdate::default()
            },
            now_ms,
        )?;
        Ok(opp.id)
    }

    /// Refuses to write a deal whose origin is no partner any more: the change could never be
    /// delivered (the origin relays a deal; it takes nothing from a node it ended with).
    fn refuse_when_origin_ended(&self, id: DealId) -> Result<(), DealsError> {
        let origin = {
            let inner = self.lock();
            inner.docs.get(&id).and_then(|d| d.read_view().origin)
        };
        let Some(origin) = origin.filter(|o| o != &self.me) else {
            return Ok(());
        };
        if let Some(p) =
            crate::store::shared::partner(&self.store, origin.as_str())?.filter(|p| !p.is_active())
        {
            return Err(DealsError::Conflict(format!(
                "the partnership with {}, which shared deal {id}, ended: the deal no longer changes and nothing written to it would be delivered",
                p.name
            )));
        }
        Ok(())
    }

    /// Refuses to link deal `id` to an opportunity on an account whose domain is not the deal's
    /// (a slip of the id, most likely), naming both domains; `force` links anyway.
    fn refuse_other_account(
        &self,
        id: DealId,
        opp: &protocol::records::Opportunity,
    ) -> Result<(), DealsError> {
        let deal_domain = {
            let inner = self.lock();
            inner.docs.get(&id).and_then(|d| {
                d.read_view()
                    .shared
                    .account_domain
                    .map(|d| d.as_str().to_string())
            })
        };
        let Some(deal_domain) = deal_domain else {
            return Ok(());
        };
        let opp_domain = self
            .store
            .account(&opp.account_id)?
            .and_then(|a| a.domain.map(|d| d.as_str().to_string()));
        if opp_domain.as_deref() == Some(deal_domain.as_str()) {
            return Ok(());
        }
        Err(DealsError::Conflict(format!(
            "deal {id} is about {deal_domain}, but opportunity {} ({}) is on {}: link it anyway with --force (\"force\": true), or pick an opportunity on {deal_domain}",
            opp.id,
            opp.name,
            opp_domain.as_deref().unwrap_or("an account without a domain"),
        )))
    }

    fn create_linked_opportunity(
        &self,
        id: DealId,
    ) -> Result<protocol::records::Opportunity, DealsError> {
        use protocol::records::{Account, AccountStatus, Opportunity};
        let shared = {
            let inner = self.lock();
            inner.docs[&id].read_view().shared
        };
        let domain = shared.account_domain.clone().ok_or_else(|| {
            DealsError::Invalid(
                "the deal shares no account domain to match: link an existing opportunity".into(),
            )
        })?;
        let txn = self.store.write()?;
        let opp = {
            let mut tables = crate::store::WriteTables::open(&txn)?;
            let account_id = match tables.account_ids_by_domain(domain.as_str(), 1)?.first() {
                Some(a) => a.clone(),
                None => {
                    let account = Account {
                        id: ulid::Ulid::new().to_string(),
                        external_id: None,
                        name: shared
                            .account_name
                            .clone()
                            .unwrap_or_else(|| domain.as_str().to_string()),
                        domain: Some(domain.clone()),
                        industry: None,
                        country: None,
                        status: AccountStatus::Prospect,
                        owner: None,
                        tags: vec![],
                    };
                    tables.put_account(&account)?;
                    account.id
                }
            };
            let opp = Opportunity {
                id: ulid::Ulid::new().to_string(),
                external_id: None,
                account_id,
                name: shared
                    .title
                    .clone()
                    .unwrap_or_else(|| format!("Co-sell {}", domain.as_str())),
                stage: shared.stage.unwrap_or(Stage::Prospect),
                // An amount the deal shares without its currency is left out.
                amount: shared.currency.and(shared.amount),
                currency: shared.amount.and(shared.currency),
                close_date: shared.close_date,
                owner: None,
                next_step: None,
                description: Some(format!("Linked to co-sell deal {id}")),
                tags: vec!["cosell".into()],
            };
            tables.put_opportunity(&opp)?;
            opp
        };
        txn.commit().map_err(|e| DealsError::Internal(e.into()))?;
        Ok(opp)
    }

    /// Keeps this node's section stage in step with the opportunity its deals are linked to.
    pub fn on_linked_opportunity_changed(
        &self,
        opportunity_id: &str,
        now_ms: u64,
    ) -> Result<Vec<DealId>> {
        let Some(opp) = self.store.opportunity(opportunity_id)? else {
            return Ok(Vec::new());
        };
        let linked: Vec<DealId> = {
            let inner = self.lock();
            inner
                .info
                .iter()
                .filter(|(_, i)| i.kind == DocKind::Deal)
                .filter(|(id, _)| {
                    inner.docs.get(id).is_some_and(|d| {
                        d.read_view().sections.get(&self.me).is_some_and(|s| {
                            s.linked_opportunity.as_deref() == Some(opportunity_id)
                                && s.stage != Some(opp.stage)
                        })
                    })
                })
                .map(|(id, _)| *id)
                .collect()
        };
        for id in &linked {
            self.update_section(
                *id,
                &SectionUpdate {
                    stage: Some(opp.stage),
                    ..SectionUpdate::default()
                },
                now_ms,
            )
            .map_err(|e| anyhow!("deal {id}: {e}"))?;
        }
        Ok(linked)
    }

    /// The opportunity of this node's pipeline that its section of deal `id` links to, if it
    /// still exists.
    pub fn linked_opportunity(&self, id: DealId) -> Result<Option<String>, DealsError> {
        let linked = self
            .lock()
            .docs
            .get(&id)
            .filter(|d| d.is_initialized())
            .and_then(|d| d.read_view().sections.get(&self.me).cloned())
            .and_then(|s| s.linked_opportunity);
        match linked {
            Some(o) if self.store.opportunity(&o)?.is_some() => Ok(Some(o)),
            _ => Ok(None),
        }
    }
}

/// The fields of a section write whose text is longer than a deal field holds
/// ([`FIELD_BYTES_MAX`](protocol::limits::FIELD_BYTES_MAX)), each with why, named as
/// `PATCH /deals/{id}` names them. The document refuses such text too, but without a field.
fn section_problems(update: &SectionUpdate) -> Vec<(&'static str, String)> {
    use protocol::limits::FIELD_BYTES_MAX;
    let may_hold = format!(
        "{FIELD_BYTES_MAX} bytes (about {} Latin characters)",
        FIELD_BYTES_MAX / 1000 * 1000
    );
    let mut problems = Vec::new();
    let too_long = |what: &str, text: &str, holder: &str| {
        (text.len() > FIELD_BYTES_MAX).then(|| {
            format!(
                "{what}is {} bytes long; {holder} may hold {may_hold}",
                text.len()
            )
        })
    };
    let mut listed = |field: &'static str, one: &str, texts: &[String]| {
        let several = texts.len() > 1;
        for (i, text) in texts.iter().enumerate() {
            let what = if several {
                format!("{one} {} ", i + 1)
            } else {
                String::new()
            };
            if let Some(why) = too_long(&what, text, &format!("a {one}")) {
                problems.push((field, why));
            }
        }
    };
    listed("notes", "note", &update.add_notes);
    listed(
        "contacts",
        "contact",
        update.contacts.as_deref().unwrap_or_default(),
    );
    for (field, text) in [
        ("next_step", &update.next_step),
        ("contribution", &update.contribution),
        ("linked_opportunity", &update.linked_opportunity),
    ] {
        if let Some(why) = text.as_deref().and_then(|t| too_long("", t, "it")) {
            problems.push((field, why));
        }
    }
    problems
}
