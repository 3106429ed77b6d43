//! `GET /network`: how this node reaches and is reached — listen, external and observed
//! addresses, NAT status (AutoNAT), the relays it uses and the one it offers, and per partner
//! the connection type (direct, hole-punched, relayed, offline), address, round-trip time and
//! last error. The operator view behind `cosell network` and the web UI's network section.

use super::{blocking, ApiError, AppState, Caller};
use crate::domain::auth::Role;
use crate::store::shared;
use axum::extract::{Extension, State};
use axum::Json;
use serde_json::{json, Value};

pub async fn status(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let view = state.network.gauges.network_view();
    let store = state.store.clone();
    let partners = blocking(move || Ok(shared::partners(&store)?)).await?;
    let mut links = Vec::new();
    for p in partners.iter().filter(|p| p.is_active()) {
        let link = view.partners.get(&p.id).cloned().unwrap_or_default();
        links.push(json!({
            "id": p.id,
            "name": p.name,
            "connection": if link.connection.is_empty() { "offline" } else { link.connection.as_str() },
            "address": link.address,
            "rtt_ms": link.rtt_ms,
            "last_error": link.last_error,
            "last_error_at": link.last_error_ms.map(crate::domain::audit::rfc3339),
        }));
    }
    Ok(Json(json!({
        "id": view.peer_id,
        "listen": view.listen,
        "external": view.external,
        "observed": view.observed,
        "advertised": view.advertised(),
        "nat": view.nat,
        "nat_address": view.nat_address,
        "relays": view.relays,
        "relay_server": view.relay_server,
        "partners": links,
    })))
}
