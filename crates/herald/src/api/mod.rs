//! The HTTP API (axum): how agent desktops, CTI systems and compliance officers talk to
//! Herald. JSON over HTTP, or HTTPS when `api.tls_certificate` is set; bearer tokens with
//! roles (`[[api.tokens]]`); errors as JSON with a stable code ([`error`]); its OpenAPI
//! document, generated from the handlers, at `/openapi.json`.
//!
//! | path | roles |
//! | --- | --- |
//! | `GET /healthz`, `/readyz`, `/metrics`, `/openapi.json` | none |
//! | `GET /api/v1/calls`, `/api/v1/calls/{id}` | admin, supervisor, cti |
//! | `POST /api/v1/calls/{id}/hangup` | admin, supervisor |
//! | `POST /api/v1/calls/{id}/recording/{pause,resume,start,stop}` | cti, supervisor |
//! | `POST /api/v1/calls/{id}/identifiers` | cti, supervisor |
//! | `GET /api/v1/recordings`, `/api/v1/recordings/{id}` | compliance, supervisor |
//! | `POST /api/v1/recordings/{id}/audio` | compliance (audited first, with a purpose) |
//! | `POST /api/v1/recordings/{id}/holds`, `/api/v1/holds/{id}/release` | compliance |
//! | `GET /api/v1/subjects`, `/api/v1/dsr/requests...` | compliance |
//! | `GET /api/v1/audit`, `/api/v1/audit/verify` | compliance, admin |
//!
//! Every read of personal data, every export, hold and pause is written to the audit log
//! before the answer is given; a failure to audit fails the request.

pub mod auth;
mod calls;
mod compliance;
pub mod error;
mod health;
mod recordings;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use herald_recorder::age::x25519::Identity;
use herald_store::{BlobStore, Store};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio::sync::mpsc::UnboundedSender;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::app::AppNotice;
use crate::compliance::audit::{Audit, Auditor};
use crate::compliance::dsr::DsrService;
use crate::config::{ApiConfig, ApiRole};
use auth::Caller;
use error::ApiError;

/// What every handler shares. Cheap to clone.
#[derive(Clone)]
pub struct ApiState {
    inner: Arc<ApiParts>,
}

/// The parts of the server the API reaches.
pub struct ApiParts {
    pub config: ApiConfig,
    pub store: Store,
    pub blobs: Option<BlobStore>,
    pub calls: UnboundedSender<AppNotice>,
    pub auditor: Auditor,
    pub dsr: Option<DsrService>,
    pub identities: Option<Vec<Identity>>,
    pub metrics: Option<PrometheusHandle>,
    /// This node's public signing key: `audit verify` trusts it over the database's copy.
    pub node_key: herald_recorder::NodePublicKey,
    /// Retention classes kept by legal obligation: their recordings are not erased early.
    pub protected_classes: Vec<String>,
}

impl ApiState {
    pub fn new(parts: ApiParts) -> Self {
        Self {
            inner: Arc::new(parts),
        }
    }

    pub fn config(&self) -> &ApiConfig {
        &self.inner.config
    }

    fn parts(&self) -> &ApiParts {
        &self.inner
    }

    /// Writes an audit entry for `caller` acting as `role`; the request fails without it.
    async fn audit(
        &self,
        (caller, role): (&Caller, ApiRole),
        action: &str,
        target: &str,
        purpose: Option<&str>,
        detail: serde_json::Value,
    ) -> Result<(), ApiError> {
        self.parts()
            .auditor
            .record(
                Audit {
                    actor: &caller.name,
                    role: role.as_str(),
                    action,
                    target,
                    purpose,
                    outcome: "allowed",
                    detail,
                },
                crate::serve::unix_ms_now(),
            )
            .await
            .map(|_| ())
            .map_err(|e| ApiError::internal(&e))
    }

    fn dsr(&self) -> Result<&DsrService, ApiError> {
        self.parts()
            .dsr
            .as_ref()
            .ok_or_else(|| ApiError::unavailable("data-subject requests are not available"))
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Herald API",
        description = "Live calls and recording control, recordings, legal holds, data-subject requests and the audit log of a Herald server."
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "calls", description = "live and recent calls, recording control"),
        (name = "recordings", description = "recording metadata, audio, legal holds"),
        (name = "dsr", description = "data-subject requests"),
        (name = "audit", description = "the hash-chained audit log"),
        (name = "health", description = "liveness, readiness, metrics"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The router with every endpoint, and the OpenAPI document describing it.
pub fn router(state: ApiState) -> Router {
    let (router, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(health::routes())
        .merge(calls::routes())
        .merge(recordings::routes())
        .merge(compliance::routes())
        .split_for_parts();
    let openapi = Arc::new(openapi);
    let max_body = state.config().max_body_bytes;
    router
        .route(
            "/openapi.json",
            axum::routing::get(move || {
                let openapi = openapi.clone();
                async move { axum::Json(openapi.as_ref().clone()) }
            }),
        )
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "this endpoint does not take this method",
            )
        })
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(state)
}

/// Binds the API's listener (before the server reports itself serving).
pub async fn bind(config: &ApiConfig) -> anyhow::Result<TcpListener> {
    TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding the HTTP API on {}", config.listen))
}

/// Serves the API on `listener` until the process ends, over TLS when configured.
pub fn spawn(listener: TcpListener, state: ApiState) -> anyhow::Result<SocketAddr> {
    let address = listener.local_addr()?;
    let tls = tls_acceptor(state.config())?;
    let app = router(state);
    tracing::info!(api_address = %address, tls = tls.is_some(), "HTTP API listening");
    tokio::spawn(accept_loop(listener, app, tls));
    Ok(address)
}

/// How long a client has to send a request's headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a client has to finish a TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

async fn accept_loop(listener: TcpListener, app: Router, tls: Option<tokio_rustls::TlsAcceptor>) {
    loop {
        let (stream, _peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(%error, "accepting an API connection failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let app = app.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let service = hyper_util::service::TowerToHyperService::new(app);
            let mut builder =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
            // A client that trickles its headers is cut off instead of holding a connection.
            builder
                .http1()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT);
            let result = match tls {
                Some(acceptor) => {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls_stream)) => {
                            builder
                                .serve_connection(hyper_util::rt::TokioIo::new(tls_stream), service)
                                .await
                        }
                        _ => return,
                    }
                }
                None => {
                    builder
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await
                }
            };
            if let Err(error) = result {
                tracing::debug!(%error, "API connection ended with an error");
            }
        });
    }
}

fn tls_acceptor(config: &ApiConfig) -> anyhow::Result<Option<tokio_rustls::TlsAcceptor>> {
    let (Some(cert), Some(key)) = (&config.tls_certificate, &config.tls_private_key) else {
        return Ok(None);
    };
    crate::serve::tls_acceptor_from(cert, key).map(Some)
}
