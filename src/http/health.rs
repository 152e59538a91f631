//! Liveness and readiness probes.

use serde::Serialize;
use utoipa::ToSchema;
use warp::filters::BoxedFilter;
use warp::reply::{Response, json};
use warp::{Filter, Reply};

use super::filters::with_state;
use super::routes::{HEALTH, READY};
use crate::error::{ApiError, Detail};
use crate::state::AppState;

/// Body of a successful probe.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"status": "ok"}))]
pub struct Status {
    /// `ok` (health) or `ready` (readiness).
    #[schema(example = "ok")]
    pub status: &'static str,
}

pub fn routes(s: AppState) -> BoxedFilter<(Response,)> {
    let health = HEALTH.path0().and(warp::get()).then(health);
    let ready = READY.path0().and(warp::get()).and(with_state(s)).then(ready);
    health
        .map(Reply::into_response)
        .or(ready.map(Reply::into_response))
        .unify()
        .boxed()
}

/// Liveness
///
/// 200 while the process serves, whether storage is up or not.
#[utoipa::path(get, path = "/health", tag = "operations", operation_id = "health",
    responses((status = 200, description = "The process serves", body = Status)))]
pub async fn health() -> Response {
    json(&Status { status: "ok" }).into_response()
}

/// Readiness
///
/// 503 while storage is unreachable.
#[utoipa::path(get, path = "/ready", tag = "operations", operation_id = "ready",
    responses(
        (status = 200, description = "Ready to serve", body = Status, example = json!({"status": "ready"})),
        (status = 503, description = "Storage unreachable", body = Detail, example = json!({"detail": "Storage unavailable"})),
    ))]
pub async fn ready(s: AppState) -> Result<Response, ApiError> {
    s.backend.ping().await?;
    Ok(json(&Status { status: "ready" }).into_response())
}
