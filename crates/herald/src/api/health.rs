//! Liveness, readiness and Prometheus metrics: no token needed (bind the API to a private
//! address), nothing personal in them.

use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::error::ApiError;

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
}

#[derive(Serialize, utoipa::ToSchema)]
struct Health {
    /// `ok`.
    status: &'static str,
}

/// The process is up and answering.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, body = Health)))]
async fn healthz() -> axum::Json<Health> {
    axum::Json(Health { status: "ok" })
}

/// Ready to serve: the database answers.
#[utoipa::path(get, path = "/readyz", tag = "health", responses(
    (status = 200, body = Health),
    (status = 503, body = super::error::ErrorBody),
))]
async fn readyz(
    axum::extract::State(state): axum::extract::State<ApiState>,
) -> Result<axum::Json<Health>, ApiError> {
    state.parts().store.ping().await.map_err(|e| {
        tracing::warn!(error = %e, "readiness: the database does not answer");
        ApiError::unavailable("the database does not answer")
    })?;
    Ok(axum::Json(Health { status: "ok" }))
}

/// Prometheus text exposition: calls, registrations, RTP packets, late packets, DTMF,
/// recordings, audit entries and errors by kind.
#[utoipa::path(get, path = "/metrics", tag = "health", responses(
    (status = 200, description = "Prometheus text format", content_type = "text/plain"),
))]
async fn metrics(axum::extract::State(state): axum::extract::State<ApiState>) -> impl IntoResponse {
    let body = state
        .parts()
        .metrics
        .as_ref()
        .map(|handle| handle.render())
        .unwrap_or_default();
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        body,
    )
}
