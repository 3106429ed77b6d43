//! The handler shape every declared kind's step routes share (MDF requests, account plans):
//! resolve the document's id (a full id or a unique prefix), take the step in the domain off
//! the async runtime, offer the change to the other participants, answer the document.

use super::{blocking, ApiError, AppState, Caller};
use crate::clock::now_ms;
use crate::domain::auth::Role;
use crate::domain::deals::Deals;
use crate::domain::error::DomainError;
use protocol::deal::DealId;
use serde_json::Value;

/// How a kind resolves the id in a path.
pub type Resolve = fn(&Deals, &str) -> Result<DealId, DomainError>;

/// Runs `f` (one step, as a manager) on the document `id` names and syncs it.
pub async fn step<T: Send + 'static>(
    state: AppState,
    caller: Caller,
    resolve: Resolve,
    id: String,
    f: impl FnOnce(&Deals, DealId, u64) -> Result<T, DomainError> + Send + 'static,
) -> Result<T, ApiError> {
    caller.require(Role::Manager)?;
    let deals = state.network.deals.clone();
    let (doc, out) = blocking(move || {
        let doc = resolve(&deals, &id)?;
        Ok((doc, f(&deals, doc, now_ms())?))
    })
    .await?;
    state.network.handle.sync(vec![doc]).await?;
    Ok(out)
}

/// Reads the document `id` names (as a viewer) with `f`.
pub async fn read(
    state: AppState,
    caller: Caller,
    resolve: Resolve,
    id: String,
    f: impl FnOnce(&Deals, DealId, u64) -> Result<Value, DomainError> + Send + 'static,
) -> Result<Value, ApiError> {
    caller.require(Role::Viewer)?;
    let deals = state.network.deals.clone();
    blocking(move || {
        let doc = resolve(&deals, &id)?;
        Ok(f(&deals, doc, now_ms())?)
    })
    .await
}
