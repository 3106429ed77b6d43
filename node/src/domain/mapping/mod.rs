//! Account mapping between two partners (ARCHITECTURE.md "Account mapping", issue 8): populations,
//! the run over the network, the stored matrix, the run log and the rate limit.
//!
//! # A run
//!
//! The initiator drives; every exchange is one request-response of kind `MAP` ([`wire`]):
//! 1. `open`: the initiator sends its population names with the level its policy for the
//!    responder allows for each; the responder answers with its own. The cells are my populations ×
//!    theirs; a cell's level is the lesser of the two (`hidden < counts < overlaps < all`), so
//!    what a node learns about a partner's population is at most what the partner's policy allows.
//! 2. Per cell not `hidden`: one PSI session pair ([`protocol::psi`]), messages batched under
//!    [`BATCH_BYTES_MAX`] per request; the responder keeps what did not fit and says `more`.
//!    Scalar multiplications run on blocking threads, one job per chunk.
//! 3. Per cell at `overlaps`: both sides send the accounts that matched (keyed by their domain,
//!    which the other side has too), projected by their policy; at `all`, the whole population.
//!    A receiver keeps only records of its own matched domains at `overlaps`.
//! 4. `close`: both sides store their view of the matrix, signed with the node key, and log the
//!    run in the audit.
//!
//! Runs per partner are limited to [`RUNS_PER_HOUR_MAX`] an hour (or fewer, by
//! `mapping_runs_per_hour`), counted on both sides and persisted, so a restart does not reset
//! the count. With `mapping_interval_hours` set, [`Mapper::spawn_schedule`] maps every connected
//! active partner that has not been mapped (by either side) for that long.
//!
//! The files of this folder: `populations` (what a node maps), `run` (the initiator's side of
//! a run), `respond` (the responder's), `exchange` (what both sides do for a cell), `matrix`
//! (the signed result, and proposing a deal from an overlap) and `schedule` (when runs happen:
//! the schedule and the rate limit). [`wire`] is the body of a `MAP` frame.

mod preview;
pub mod wire;

mod exchange;
mod matrix;
mod populations;
mod respond;
mod run;
mod schedule;

#[cfg(test)]
mod tests;

pub use matrix::{
    latest_matrix, opportunity_to_propose, Cell, Matrix, ProposeError, StoredMatrix,
    PROPOSE_OPPORTUNITIES_MAX,
};
pub use populations::{
    builtins, delete_population, level_for, populations, set_population, PopulationDef,
};
pub use preview::mapping_preview;

use crate::clock::Clock;
use crate::domain::error::DomainError;
use crate::domain::peers::Network;
use crate::net::RefusalCode;
use crate::store::tables::{
    MAPPING_LAST_RUN as LAST_RUN, MAPPING_MATRICES as MATRICES, MAPPING_POPULATIONS as POPULATIONS,
    MAPPING_RUNS as RUNS,
};
use crate::store::Store;
use anyhow::{bail, Context, Result};
use libp2p::PeerId;
use respond::ResponderRun;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use wire::Header;

/// Most mapping runs per partner per hour (started by either side). What limits a partner that
/// probes by inserting guessed domains (SECURITY.md).
pub const RUNS_PER_HOUR_MAX: usize = 12;
/// Bytes of PSI messages in one request or answer (a few chunks; far under the frame limit).
pub const BATCH_BYTES_MAX: usize = 4 * 1024 * 1024;
/// Bytes of shared account records in one answer.
pub const RECORDS_BYTES_MAX: usize = 4 * 1024 * 1024;
/// Most populations per node (so at most this squared cells per run).
pub const POPULATIONS_MAX: usize = 16;
/// Exchanges per cell before a run is abandoned as stalled.
pub const EXCHANGES_PER_CELL_MAX: usize = 10_000;
/// How long a responder keeps an unfinished run.
pub const RUN_TTL: Duration = Duration::from_secs(600);
/// Audit entry kind of a mapping run.
pub const AUDIT_KIND: crate::domain::audit::AuditKind = crate::domain::audit::AuditKind::Mapping;
/// Longest population name.
pub const POPULATION_NAME_MAX: usize = 40;
/// The rate limit's window: one hour.
pub const RATE_WINDOW_MS: u64 = 3_600_000;
/// Longest wait between two looks at which partners are due for a scheduled run.
pub const SCHEDULE_TICK_MAX: Duration = Duration::from_secs(60);
/// Shortest wait between two such looks (a tiny interval must not spin).
pub const SCHEDULE_TICK_MIN: Duration = Duration::from_secs(1);

/// The mapping service's settings (`cosell.toml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MappingSettings {
    /// Runs per partner per hour, 1 to [`RUNS_PER_HOUR_MAX`] (a node may be stricter, never
    /// laxer).
    pub runs_per_hour: usize,
    /// How often the schedule maps each partner; `None`: no schedule.
    pub interval: Option<Duration>,
}

impl Default for MappingSettings {
    fn default() -> Self {
        MappingSettings {
            runs_per_hour: RUNS_PER_HOUR_MAX,
            interval: None,
        }
    }
}

/// The mapping service: starts runs, answers partners' runs, enforces the rate limit.
pub struct Mapper {
    store: Arc<Store>,
    network: Arc<Network>,
    settings: MappingSettings,
    clock: Clock,
    runs: tokio::sync::Mutex<HashMap<String, ResponderRun>>,
}

impl Mapper {
    /// Milliseconds since the Unix epoch by the service's clock.
    fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    /// A service over this node's store and network (time from `clock`); call [`Mapper::spawn_responder`] once.
    pub fn new(
        store: Arc<Store>,
        network: Arc<Network>,
        settings: MappingSettings,
        clock: Clock,
    ) -> Result<Arc<Mapper>> {
        assert!(settings.runs_per_hour >= 1, "validated by the config");
        assert!(
            settings.runs_per_hour <= RUNS_PER_HOUR_MAX,
            "validated by the config"
        );
        crate::store::ensure_tables(&store)?;
        Ok(Arc::new(Mapper {
            store,
            network,
            settings,
            clock,
            runs: tokio::sync::Mutex::new(HashMap::new()),
        }))
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .context("a blocking task failed")?
    }

    async fn request(
        &self,
        peer: PeerId,
        header: &Header,
        messages: Vec<Vec<u8>>,
    ) -> Result<(Header, Vec<Vec<u8>>)> {
        let body = wire::encode(header, &messages)?;
        match self.network.handle.map_request(peer, body).await? {
            Ok(answer) => wire::decode(&answer),
            // The partner's own rate limit travels as a refusal code.
            Err(why) if why.code == RefusalCode::RateLimited => {
                Err(DomainError::RateLimited(format!("the partner refused: {why}")).into())
            }
            Err(why) => bail!("the partner refused: {why}"),
        }
    }
}
