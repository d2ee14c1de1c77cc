//! Data-subject requests and the audit log, for compliance officers.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use herald_store::{AuditEntry, AuditReport, DsrRequest, DsrState, RecordingRecord};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::auth::Caller;
use super::error::{ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody, checked_id, checked_limit};
use crate::compliance::dsr::{Filing, FilingError, SubjectSelector};
use crate::config::ApiRole;

const COMPLIANCE: &[ApiRole] = &[ApiRole::Compliance];
const AUDITORS: &[ApiRole] = &[ApiRole::Compliance, ApiRole::Admin];

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(subjects))
        .routes(routes!(file_request, list_requests))
        .routes(routes!(show_request))
        .routes(routes!(bundle))
        .routes(routes!(audit_log))
        .routes(routes!(audit_verify))
}

#[derive(Serialize, utoipa::ToSchema)]
struct Subject {
    /// The calls the identifier is linked to, oldest first.
    calls: Vec<String>,
    /// Their recordings' metadata.
    #[schema(value_type = Vec<Object>)]
    recordings: Vec<RecordingRecord>,
}

/// What Herald holds about a data subject, found by phone number (E.164-normalised), e-mail
/// or name through the keyed-hash index.
#[utoipa::path(get, path = "/api/v1/subjects", tag = "dsr", params(SubjectSelector),
    security(("bearer" = [])),
    responses((status = 200, body = Subject), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn subjects(
    State(state): State<ApiState>,
    caller: Caller,
    ApiQuery(selector): ApiQuery<SubjectSelector>,
) -> Result<axum::Json<Subject>, ApiError> {
    let role = caller.require(COMPLIANCE)?;
    let identifier = selector.identifier().map_err(ApiError::invalid)?;
    let dsr = state.dsr()?;
    let target = dsr.subject_key().audit_ref(&identifier);
    state
        .audit(
            (&caller, role),
            "subject-search",
            &target,
            None,
            serde_json::json!({ "kind": identifier.kind.as_str() }),
        )
        .await?;
    let calls = dsr.subject_calls(&identifier).await?;
    let recordings = state.parts().store.recordings_of_calls(&calls).await?;
    Ok(axum::Json(Subject { calls, recordings }))
}

/// Files a data-subject request (export, update or delete); it is processed asynchronously:
/// poll `GET /api/v1/dsr/requests/{id}`.
#[utoipa::path(post, path = "/api/v1/dsr/requests", tag = "dsr", request_body = Filing,
    security(("bearer" = [])),
    responses((status = 202, body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn file_request(
    State(state): State<ApiState>,
    caller: Caller,
    ApiJson(filing): ApiJson<Filing>,
) -> Result<(StatusCode, axum::Json<DsrRequest>), ApiError> {
    let role = caller.require(COMPLIANCE)?;
    let request = state
        .dsr()?
        .file(
            filing,
            (&caller.name, role.as_str()),
            crate::serve::unix_ms_now(),
        )
        .await
        .map_err(|e| match e {
            FilingError::Invalid(message) => ApiError::invalid(message),
            FilingError::Failed(error) => ApiError::internal(&error),
        })?;
    Ok((StatusCode::ACCEPTED, axum::Json(request)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct RequestsQuery {
    /// `pending`, `running`, `done`, `refused` or `failed`.
    state: Option<String>,
    /// At most this many, newest first (1-1000, default 100).
    limit: Option<u32>,
}

/// Data-subject requests, newest first.
#[utoipa::path(get, path = "/api/v1/dsr/requests", tag = "dsr", params(RequestsQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Vec<Object>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_requests(
    State(state): State<ApiState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<RequestsQuery>,
) -> Result<axum::Json<Vec<DsrRequest>>, ApiError> {
    let role = caller.require(COMPLIANCE)?;
    let limit = checked_limit(query.limit, 100)?;
    let filter = query
        .state
        .as_deref()
        .map(|s| {
            s.parse::<DsrState>().map_err(|_| {
                ApiError::invalid("`state` is one of pending, running, done, refused, failed")
            })
        })
        .transpose()?;
    state
        .audit(
            (&caller, role),
            "dsr-list",
            "dsr",
            None,
            serde_json::json!({}),
        )
        .await?;
    Ok(axum::Json(
        state.parts().store.dsr_requests(filter, limit).await?,
    ))
}

/// One request: its state, deadline, result or the reason it was refused.
#[utoipa::path(get, path = "/api/v1/dsr/requests/{id}", tag = "dsr",
    params(("id" = String, Path, description = "the request's id")),
    security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn show_request(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<axum::Json<DsrRequest>, ApiError> {
    let role = caller.require(COMPLIANCE)?;
    let id = checked_id("request", &id)?;
    state
        .audit((&caller, role), "dsr-read", id, None, serde_json::json!({}))
        .await?;
    let request = find_request(&state, id).await?;
    Ok(axum::Json(request))
}

/// A done export request's bundle: a tar archive encrypted with age to the request's
/// recipient (`age -d -i KEY bundle.tar.age | tar x`).
#[utoipa::path(get, path = "/api/v1/dsr/requests/{id}/bundle", tag = "dsr",
    params(("id" = String, Path, description = "the request's id")),
    security(("bearer" = [])),
    responses((status = 200, description = "the encrypted bundle", content_type = "application/octet-stream"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn bundle(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let role = caller.require(COMPLIANCE)?;
    let id = checked_id("request", &id)?;
    let request = find_request(&state, id).await?;
    if request.kind != herald_store::DsrKind::Export || request.state != DsrState::Done {
        return Err(ApiError::conflict(
            "conflict",
            format!("request {id} is not a finished export"),
        ));
    }
    let path = state
        .dsr()?
        .bundle_path(id)
        .map_err(|e| ApiError::internal(&e))?;
    state
        .audit(
            (&caller, role),
            "dsr-bundle",
            id,
            None,
            serde_json::json!({}),
        )
        .await?;
    let bytes = tokio::fs::read(&path).await.map_err(|e| {
        ApiError::not_found(format!("the bundle of {id} is not on this node ({e})"))
    })?;
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{id}.tar.age\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct AuditQuery {
    /// Only entries about this target (a recording, call, hold or request id).
    target: Option<String>,
    /// Only this action (e.g. `recording-audio`, `dsr-delete`).
    action: Option<String>,
    /// At most this many, newest first (1-1000, default 100).
    limit: Option<u32>,
}

/// Audit entries, newest first.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Vec<Object>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn audit_log(
    State(state): State<ApiState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<axum::Json<Vec<AuditEntry>>, ApiError> {
    let role = caller.require(AUDITORS)?;
    let limit = checked_limit(query.limit, 100)?;
    state
        .audit(
            (&caller, role),
            "audit-read",
            "audit",
            None,
            serde_json::json!({}),
        )
        .await?;
    let entries = state
        .parts()
        .store
        .audit_search(query.target.as_deref(), query.action.as_deref(), limit)
        .await?;
    Ok(axum::Json(entries))
}

/// Checks the audit log's hash chain and signed head: any altered, missing or added entry
/// is reported. 200 either way; `intact` says which.
#[utoipa::path(get, path = "/api/v1/audit/verify", tag = "audit",
    security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn audit_verify(
    State(state): State<ApiState>,
    caller: Caller,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    let role = caller.require(AUDITORS)?;
    let report: AuditReport =
        crate::compliance::audit::verify(&state.parts().store, Some(&state.parts().node_key))
            .await
            .map_err(|e| ApiError::internal(&e))?;
    state
        .audit(
            (&caller, role),
            "audit-verify",
            "audit",
            None,
            serde_json::json!({ "intact": report.intact() }),
        )
        .await?;
    let problems: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
    Ok(axum::Json(serde_json::json!({
        "intact": report.intact(),
        "entries": report.entries,
        "head": report.head,
        "problems": problems,
    })))
}

async fn find_request(state: &ApiState, id: &str) -> Result<DsrRequest, ApiError> {
    state
        .parts()
        .store
        .dsr_request(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no request {id}")))
}
