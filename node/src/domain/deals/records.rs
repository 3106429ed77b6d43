//! Writes to what deals are projected from — this node's accounts and opportunities, and its
//! policies for partners — each in one call with the re-projection of the deals shared from
//! them: a write cannot leave the deals behind (ARCHITECTURE.md invariant 1 keeps holding for
//! fields a write no longer allows).
//!
//! The deals follow after the write is durable. A failure to bring them in step is logged, not
//! returned: the write itself succeeded, and the next change re-projects again.

use super::Deals;
use crate::domain::partners;
use crate::store::shared::{PartnerRecord, PolicyVersion};
use crate::store::{Store, Upsert};
use anyhow::Result;
use policy::Policy;
use protocol::deal::DealId;

/// What a write to this node's records changed, as far as the deals shared from them go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordWrite {
    /// One account written. A changed account may show in any deal (its name, domain, tags
    /// travel with its opportunities); a new one, or one left as it was, in none.
    Account(Upsert),
    /// One opportunity written. A new one has no deal yet; any other write brings its deals
    /// (and the sections linked to it) in step.
    Opportunity {
        /// The opportunity's id.
        id: String,
        /// How the write changed it.
        outcome: Upsert,
    },
    /// Records written in bulk (an import): `matched` when some row matched a stored record
    /// (changed or not), which may show in any deal.
    Bulk {
        /// Whether some row matched a stored record.
        matched: bool,
    },
}

impl Deals {
    /// Writes to this node's records with `write` (given the store; it returns its result and
    /// what it wrote), then brings the deals shared from what it changed in step. Returns the
    /// result and the documents changed, to offer their participants. The one path of every
    /// record write of the API (record routes, imports).
    pub fn write_records<T, E>(
        &self,
        write: impl FnOnce(&Store) -> Result<(T, RecordWrite), E>,
    ) -> Result<(T, Vec<DealId>), E> {
        let (value, written) = write(self.store())?;
        Ok((value, self.follow_records(&written)))
    }

    /// Sets this node's policy for `partner` (see [`partners::set_policy`]), then re-projects
    /// every deal shared with it under the policies now in force. Returns the version stored
    /// and the documents changed, to offer their participants.
    pub fn set_policy(
        &self,
        partner: &PartnerRecord,
        policy: &Policy,
        by: &str,
        now_ms: u64,
    ) -> Result<(PolicyVersion, Vec<DealId>)> {
        let version = partners::set_policy(self.store(), partner, policy, by, now_ms)?;
        // The policy is set either way: a failure here is logged, and the next change
        // re-projects again.
        let changed = match self.on_policy_changed(&partner.id, now_ms) {
            Ok(ids) => ids,
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), partner = %partner.id, "cannot re-project shared deals");
                Vec::new()
            }
        };
        Ok((version, changed))
    }

    /// Re-projects what `written` may have changed into the deals shared from it; failures are
    /// logged, never returned (the write already succeeded).
    fn follow_records(&self, written: &RecordWrite) -> Vec<DealId> {
        let now_ms = || self.clock.now_ms();
        let changed = match written {
            RecordWrite::Account(Upsert::Updated) | RecordWrite::Bulk { matched: true } => {
                self.on_opportunities_changed(now_ms())
            }
            RecordWrite::Opportunity { id, outcome } if *outcome != Upsert::Inserted => self
                .on_opportunity_changed(id, now_ms())
                .and_then(|mut changed| {
                    changed.extend(self.on_linked_opportunity_changed(id, now_ms())?);
                    Ok(changed)
                }),
            _ => Ok(Vec::new()),
        };
        changed.unwrap_or_else(|e| {
            tracing::error!(error = %format!("{e:#}"), "cannot update shared deals");
            Vec::new()
        })
    }
}
