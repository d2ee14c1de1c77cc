//! Calls: live and recent calls, one call's path, hang-up, recording control for CTI and
//! linking identifiers (e-mail, name) a CTI system knows to a call's subject index.

use axum::extract::State;
use herald_store::{CallRecord, CallRecordWithEvents, RecordingRecord, SubjectKind};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::auth::Caller;
use super::error::{
    ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody, checked_id, checked_limit, checked_text,
};
use crate::app::AppNotice;
use crate::app::control::{
    ControlError, ControlRequest, LiveCallView, LiveRecording, RecordingControl,
};
use crate::compliance::subjects::Identifier;
use crate::config::ApiRole;

const READERS: &[ApiRole] = &[ApiRole::Supervisor, ApiRole::Cti, ApiRole::Admin];
const HANGUP: &[ApiRole] = &[ApiRole::Supervisor, ApiRole::Admin];
const CONTROL: &[ApiRole] = &[ApiRole::Cti, ApiRole::Supervisor];

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list_calls))
        .routes(routes!(show_call))
        .routes(routes!(hangup))
        .routes(routes!(pause_recording))
        .routes(routes!(resume_recording))
        .routes(routes!(start_recording))
        .routes(routes!(stop_recording))
        .routes(routes!(link_identifiers))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// How many recent calls (1-1000, default 50).
    limit: Option<u32>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct CallList {
    /// Calls in progress on this node, oldest first.
    active: Vec<LiveCallView>,
    /// The most recent call records (this node and others sharing the database), newest first.
    #[schema(value_type = Vec<Object>)]
    recent: Vec<CallRecord>,
}

/// Live and recent calls.
#[utoipa::path(get, path = "/api/v1/calls", tag = "calls", params(ListQuery),
    security(("bearer" = [])),
    responses((status = 200, body = CallList), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_calls(
    State(state): State<ApiState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<axum::Json<CallList>, ApiError> {
    let role = caller.require(READERS)?;
    let limit = checked_limit(query.limit, 50)?;
    state
        .audit(
            (&caller, role),
            "calls-list",
            "calls",
            None,
            serde_json::json!({ "limit": limit }),
        )
        .await?;
    let active = ask(&state, |reply| ControlRequest::List { reply }).await?;
    let recent = state.parts().store.recent_calls(limit).await?;
    Ok(axum::Json(CallList { active, recent }))
}

#[derive(Serialize, utoipa::ToSchema)]
struct CallDetails {
    /// The call record with its events (the IVR path), once written.
    #[schema(value_type = Option<Object>)]
    record: Option<CallRecordWithEvents>,
    /// The live call, while it lasts on this node.
    live: Option<LiveCallView>,
    /// Its recordings' metadata.
    #[schema(value_type = Vec<Object>)]
    recordings: Vec<RecordingRecord>,
}

/// One call: its record and IVR path, its live state, its recordings.
#[utoipa::path(get, path = "/api/v1/calls/{id}", tag = "calls",
    params(("id" = String, Path, description = "the call's id")),
    security(("bearer" = [])),
    responses((status = 200, body = CallDetails), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn show_call(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<axum::Json<CallDetails>, ApiError> {
    let role = caller.require(READERS)?;
    let id = checked_id("call", &id)?;
    state
        .audit(
            (&caller, role),
            "call-read",
            id,
            None,
            serde_json::json!({}),
        )
        .await?;
    let live = ask(&state, |reply| ControlRequest::Show {
        id: id.to_owned(),
        reply,
    })
    .await?;
    let store = &state.parts().store;
    let record = store.call(id).await?;
    if record.is_none() && live.is_none() {
        return Err(ApiError::not_found(format!("no call {id}")));
    }
    let recordings = store.recordings_of_calls(&[id.to_owned()]).await?;
    Ok(axum::Json(CallDetails {
        record,
        live,
        recordings,
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
struct Done {
    /// What was done.
    status: &'static str,
}

/// Hangs up a live call (BYE, or 480 while it rings).
#[utoipa::path(post, path = "/api/v1/calls/{id}/hangup", tag = "calls",
    params(("id" = String, Path, description = "the call's id")),
    security(("bearer" = [])),
    responses((status = 200, body = Done), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn hangup(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<axum::Json<Done>, ApiError> {
    let role = caller.require(HANGUP)?;
    let id = checked_id("call", &id)?.to_owned();
    state
        .audit(
            (&caller, role),
            "call-hangup",
            &id,
            None,
            serde_json::json!({}),
        )
        .await?;
    ask(&state, |reply| ControlRequest::Hangup { id, reply })
        .await?
        .map_err(control_error)?;
    Ok(axum::Json(Done {
        status: "hanging-up",
    }))
}

/// Why the recording is paused, stopped or started.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ControlBody {
    /// For the call record and the audit log, e.g. "customer reads card number" (1-200 characters).
    reason: String,
}

async fn control(
    state: &ApiState,
    caller: &Caller,
    id: String,
    body: ControlBody,
    control: RecordingControl,
) -> Result<axum::Json<LiveRecording>, ApiError> {
    let role = caller.require(CONTROL)?;
    let id = checked_id("call", &id)?.to_owned();
    let reason = checked_text("reason", &body.reason, 200)?;
    let action = match control {
        RecordingControl::Pause => "recording-pause",
        RecordingControl::Resume => "recording-resume",
        RecordingControl::Start => "recording-start",
        RecordingControl::Stop => "recording-stop",
    };
    state
        .audit(
            (caller, role),
            action,
            &id,
            Some(&reason),
            serde_json::json!({}),
        )
        .await?;
    let actor = caller.actor();
    let result = ask(state, |reply| ControlRequest::Recording {
        id,
        control,
        actor,
        reason,
        reply,
    })
    .await?
    .map_err(control_error)?;
    Ok(axum::Json(result))
}

/// Pauses the call's recording (a gap with reason `api` in the recording). The IVR's own
/// pauses (secure input) are kept apart: resuming here never resumes those.
#[utoipa::path(post, path = "/api/v1/calls/{id}/recording/pause", tag = "calls",
    params(("id" = String, Path, description = "the call's id")), request_body = ControlBody,
    security(("bearer" = [])),
    responses((status = 200, body = LiveRecording), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn pause_recording(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ControlBody>,
) -> Result<axum::Json<LiveRecording>, ApiError> {
    control(&state, &caller, id, body, RecordingControl::Pause).await
}

/// Resumes a recording the API paused.
#[utoipa::path(post, path = "/api/v1/calls/{id}/recording/resume", tag = "calls",
    params(("id" = String, Path, description = "the call's id")), request_body = ControlBody,
    security(("bearer" = [])),
    responses((status = 200, body = LiveRecording), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn resume_recording(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ControlBody>,
) -> Result<axum::Json<LiveRecording>, ApiError> {
    control(&state, &caller, id, body, RecordingControl::Resume).await
}

/// Starts recording the call, where the route's policy and the caller's decision allow it.
#[utoipa::path(post, path = "/api/v1/calls/{id}/recording/start", tag = "calls",
    params(("id" = String, Path, description = "the call's id")), request_body = ControlBody,
    security(("bearer" = [])),
    responses((status = 200, body = LiveRecording), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn start_recording(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ControlBody>,
) -> Result<axum::Json<LiveRecording>, ApiError> {
    control(&state, &caller, id, body, RecordingControl::Start).await
}

/// Stops the call's recording, unless the route's policy requires recording.
#[utoipa::path(post, path = "/api/v1/calls/{id}/recording/stop", tag = "calls",
    params(("id" = String, Path, description = "the call's id")), request_body = ControlBody,
    security(("bearer" = [])),
    responses((status = 200, body = LiveRecording), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn stop_recording(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ControlBody>,
) -> Result<axum::Json<LiveRecording>, ApiError> {
    control(&state, &caller, id, body, RecordingControl::Stop).await
}

/// Identifiers a CTI system knows for the caller of a call.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct Identifiers {
    email: Option<String>,
    name: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct Linked {
    /// How many identifiers were linked.
    linked: usize,
}

/// Links an e-mail address and/or a name to the call's subject index (keyed hashes only),
/// so data-subject requests by those find the call.
#[utoipa::path(post, path = "/api/v1/calls/{id}/identifiers", tag = "calls",
    params(("id" = String, Path, description = "the call's id")), request_body = Identifiers,
    security(("bearer" = [])),
    responses((status = 200, body = Linked), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn link_identifiers(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<Identifiers>,
) -> Result<axum::Json<Linked>, ApiError> {
    let role = caller.require(CONTROL)?;
    let id = checked_id("call", &id)?;
    let dsr = state.dsr()?;
    let mut identifiers = Vec::new();
    for (kind, value) in [
        (SubjectKind::Email, &body.email),
        (SubjectKind::Name, &body.name),
    ] {
        if let Some(value) = value {
            let identifier = Identifier::new(kind, value)
                .map_err(|e| ApiError::invalid(format!("`{}`: {e}", kind.as_str())))?;
            identifiers.push(identifier);
        }
    }
    if identifiers.is_empty() {
        return Err(ApiError::invalid("give `email`, `name` or both"));
    }
    let store = &state.parts().store;
    if store.call(id).await?.is_none() {
        return Err(ApiError::not_found(format!(
            "no call {id} (it may not be written yet)"
        )));
    }
    state
        .audit(
            (&caller, role),
            "subject-link",
            id,
            None,
            serde_json::json!({ "identifiers": identifiers.len() }),
        )
        .await?;
    let at = crate::serve::unix_ms_now();
    for identifier in &identifiers {
        let hash = dsr.subject_key().hash(identifier);
        store.link_subject(identifier.kind, &hash, id, at).await?;
    }
    Ok(axum::Json(Linked {
        linked: identifiers.len(),
    }))
}

/// Sends a request to the call application and waits for its answer.
async fn ask<T>(
    state: &ApiState,
    request: impl FnOnce(oneshot::Sender<T>) -> ControlRequest,
) -> Result<T, ApiError> {
    let (reply, answer) = oneshot::channel();
    state
        .parts()
        .calls
        .send(AppNotice::Control(request(reply)))
        .map_err(|_| ApiError::unavailable("the call application is shutting down"))?;
    answer
        .await
        .map_err(|_| ApiError::unavailable("the call application is shutting down"))
}

fn control_error(error: ControlError) -> ApiError {
    match error {
        ControlError::NoSuchCall => ApiError::not_found("no live call with this id on this node"),
        ControlError::Ended => ApiError::conflict("conflict", "the call has already ended"),
        ControlError::Refused(reason) => ApiError::conflict("refused", reason),
        ControlError::Conflict(message) => ApiError::conflict("conflict", message),
    }
}
