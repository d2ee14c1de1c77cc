//! Recordings: search and metadata (gaps, evidence, holds), audio for compliance officers on
//! a deployment that holds a private recorder key ("no audit, no key": the audit entry with
//! its purpose is written before the key is used), legal holds with an optional two-person
//! release, and erasure.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use herald_store::{
    RecordingDetails, RecordingFilter, RecordingRecord, RecordingState, ReleaseOutcome,
};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::auth::Caller;
use super::error::{
    ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody, checked_id, checked_limit, checked_text,
};
use crate::compliance::subjects::Identifier;
use crate::config::ApiRole;

const READERS: &[ApiRole] = &[ApiRole::Compliance, ApiRole::Supervisor];
const COMPLIANCE: &[ApiRole] = &[ApiRole::Compliance];

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(search))
        .routes(routes!(show))
        .routes(routes!(audio))
        .routes(routes!(erase))
        .routes(routes!(place_hold))
        .routes(routes!(release_hold))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct SearchQuery {
    /// Started at or after, RFC 3339 (`2026-11-01T00:00:00Z`).
    from: Option<String>,
    /// Started before, RFC 3339.
    to: Option<String>,
    /// The calling number, exactly as recorded.
    caller: Option<String>,
    /// The called number, exactly as recorded.
    callee: Option<String>,
    /// The retention class.
    retention_class: Option<String>,
    /// `recording`, `complete`, `interrupted` or `erased`.
    state: Option<String>,
    /// At most this many, newest first (1-1000, default 100).
    limit: Option<u32>,
}

/// Searches recordings' metadata.
#[utoipa::path(get, path = "/api/v1/recordings", tag = "recordings", params(SearchQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Vec<Object>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn search(
    State(state): State<ApiState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<SearchQuery>,
) -> Result<axum::Json<Vec<RecordingRecord>>, ApiError> {
    let role = caller.require(READERS)?;
    let time = |field: &str, text: &Option<String>| -> Result<Option<i64>, ApiError> {
        text.as_deref()
            .map(|t| {
                t.parse::<jiff::Timestamp>()
                    .map(|t| t.as_millisecond())
                    .map_err(|_| {
                        ApiError::invalid(format!(
                            "`{field}` is not a time such as 2026-11-01T00:00:00Z"
                        ))
                    })
            })
            .transpose()
    };
    let limit = checked_limit(query.limit, 100)?;
    let recording_state = query
        .state
        .as_deref()
        .map(|s| {
            RecordingState::ALL
                .into_iter()
                .find(|state| state.as_str() == s)
                .ok_or_else(|| {
                    ApiError::invalid("`state` is one of recording, complete, interrupted, erased")
                })
        })
        .transpose()?;
    let filter = RecordingFilter {
        started_from: time("from", &query.from)?,
        started_before: time("to", &query.to)?,
        caller: query.caller.clone(),
        callee: query.callee.clone(),
        state: recording_state,
        retention_class: query.retention_class.clone(),
        limit,
    };
    // Whose recordings are looked for, as the subject index knows them (a keyed hash, not
    // the number): an auditor can match it with a subject search, a log reader cannot.
    let detail = serde_json::json!({
        "caller": query.caller.as_deref().map(|n| subject_ref(&state, n)),
        "callee": query.callee.as_deref().map(|n| subject_ref(&state, n)),
    });
    state
        .audit(
            (&caller, role),
            "recordings-search",
            "recordings",
            None,
            detail,
        )
        .await?;
    Ok(axum::Json(state.parts().store.recordings(&filter).await?))
}

/// A recording's metadata: parties, times, gaps, disclosure evidence, holds, keys.
#[utoipa::path(get, path = "/api/v1/recordings/{id}", tag = "recordings",
    params(("id" = String, Path, description = "the recording's id (32 hex digits)")),
    security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn show(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<axum::Json<RecordingDetails>, ApiError> {
    let role = caller.require(READERS)?;
    let id = checked_id("recording", &id)?;
    state
        .audit(
            (&caller, role),
            "recording-read",
            id,
            None,
            serde_json::json!({}),
        )
        .await?;
    Ok(axum::Json(find(&state, id).await?))
}

/// A phone number as an audit entry names it: the start of its keyed hash in the subject
/// index, or `unindexed` when it is not a number.
fn subject_ref(state: &ApiState, number: &str) -> String {
    let identifier = Identifier::new(herald_store::SubjectKind::Phone, number);
    match (state.dsr(), identifier) {
        (Ok(dsr), Ok(identifier)) => dsr.subject_key().audit_ref(&identifier),
        _ => "unindexed".to_owned(),
    }
}

async fn find(state: &ApiState, id: &str) -> Result<RecordingDetails, ApiError> {
    let id = checked_id("recording", id)?;
    state
        .parts()
        .store
        .recording(id)
        .await?
        .filter(|d| d.recording.id == id)
        .ok_or_else(|| ApiError::not_found(format!("no recording {id}")))
}

/// Why the audio is needed: written to the audit log before the key is used.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct Purpose {
    /// E.g. "complaint 4711: customer disputes the disclosure" (1-500 characters).
    purpose: String,
}

/// The recording's audio as a stereo WAV (caller left, Herald/agent right). Only on a
/// deployment with `api.recording_identity`, only for `compliance`, and only after an audit
/// entry with the stated purpose is written.
#[utoipa::path(post, path = "/api/v1/recordings/{id}/audio", tag = "recordings",
    params(("id" = String, Path, description = "the recording's id")), request_body = Purpose,
    security(("bearer" = [])),
    responses((status = 200, description = "audio/wav", content_type = "audio/wav"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn audio(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<Purpose>,
) -> Result<Response, ApiError> {
    let role = caller.require(COMPLIANCE)?;
    let purpose = checked_text("purpose", &body.purpose, 500)?;
    let (Some(identities), Some(blobs)) = (&state.parts().identities, &state.parts().blobs) else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "no-private-key",
            "this deployment holds no private recorder key (api.recording_identity): audio is \
             served only by the compliance deployment",
        ));
    };
    let details = find(&state, &id).await?;
    let r = &details.recording;
    match r.state {
        RecordingState::Erased => {
            return Err(ApiError::conflict(
                "erased",
                format!("recording {} was erased: its key no longer exists", r.id),
            ));
        }
        RecordingState::Recording => {
            return Err(ApiError::conflict(
                "conflict",
                format!("recording {} is still being recorded", r.id),
            ));
        }
        _ => {}
    }
    state
        .audit(
            (&caller, role),
            "recording-audio",
            &r.id,
            Some(&purpose),
            serde_json::json!({}),
        )
        .await?;
    let decrypted =
        crate::compliance::export::decrypt(&state.parts().store, blobs, &details, identities)
            .await
            .map_err(
                |e| match e.downcast_ref::<crate::compliance::export::NoMatchingKey>() {
                    Some(no_key) => ApiError::conflict("no-private-key", no_key.to_string()),
                    None => ApiError::internal(&e),
                },
            )?;
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "audio/wav".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}.wav\"", r.id),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        decrypted.wav,
    )
        .into_response())
}

/// Why a recording is erased.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct EraseBody {
    reason: String,
}

#[derive(Serialize, utoipa::ToSchema)]
struct Erased {
    /// `erased` or `already-erased`.
    status: &'static str,
}

/// Erases a recording (crypto-shredding: its wrapped keys are destroyed, the metadata kept).
/// Refused while under legal hold or still being recorded.
#[utoipa::path(post, path = "/api/v1/recordings/{id}/erase", tag = "recordings",
    params(("id" = String, Path, description = "the recording's id")), request_body = EraseBody,
    security(("bearer" = [])),
    responses((status = 200, body = Erased), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn erase(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<EraseBody>,
) -> Result<axum::Json<Erased>, ApiError> {
    let role = caller.require(COMPLIANCE)?;
    let reason = checked_text("reason", &body.reason, 500)?;
    let details = find(&state, &id).await?;
    let id = details.recording.id.clone();
    if details.recording.state == RecordingState::Recording {
        return Err(ApiError::conflict(
            "conflict",
            format!("recording {id} is still being recorded"),
        ));
    }
    let class = &details.recording.retention_class;
    if state.parts().protected_classes.contains(class) {
        return Err(ApiError::conflict(
            "legal-obligation",
            format!(
                "recording {id} is in retention class {class:?}, kept by legal obligation until it expires"
            ),
        ));
    }
    state
        .audit(
            (&caller, role),
            "recording-erase",
            &id,
            Some(&reason),
            serde_json::json!({}),
        )
        .await?;
    let by = caller.actor();
    let outcome = state
        .parts()
        .store
        .erase_recording(&id, crate::serve::unix_ms_now(), &by, &reason)
        .await?;
    if let Some(blobs) = &state.parts().blobs
        && let Err(error) = blobs.delete(&id).await
    {
        tracing::warn!(recording = %id, %error, "the key is destroyed, but deleting the blob failed");
    }
    Ok(axum::Json(Erased {
        status: match outcome {
            herald_store::EraseOutcome::Erased { .. } => "erased",
            herald_store::EraseOutcome::AlreadyErased => "already-erased",
        },
    }))
}

/// A legal hold to place.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct HoldBody {
    /// The case reference (1-100 characters).
    case_ref: String,
    /// Why (1-500 characters).
    reason: String,
}

#[derive(Serialize, utoipa::ToSchema)]
struct HoldPlaced {
    /// The hold's id.
    hold_id: String,
}

/// Places a legal hold: the recording is neither erased nor expired while it is held.
#[utoipa::path(post, path = "/api/v1/recordings/{id}/holds", tag = "recordings",
    params(("id" = String, Path, description = "the recording's id")), request_body = HoldBody,
    security(("bearer" = [])),
    responses((status = 201, body = HoldPlaced), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn place_hold(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<HoldBody>,
) -> Result<(StatusCode, axum::Json<HoldPlaced>), ApiError> {
    let role = caller.require(COMPLIANCE)?;
    let case_ref = checked_text("case_ref", &body.case_ref, 100)?;
    let reason = checked_text("reason", &body.reason, 500)?;
    let id = checked_id("recording", &id)?;
    state
        .audit(
            (&caller, role),
            "hold-place",
            id,
            Some(&reason),
            serde_json::json!({ "case_ref": case_ref }),
        )
        .await?;
    let hold_id = state
        .parts()
        .store
        .place_hold(
            id,
            &case_ref,
            &reason,
            &caller.name,
            crate::serve::unix_ms_now(),
        )
        .await?;
    Ok((StatusCode::CREATED, axum::Json(HoldPlaced { hold_id })))
}

/// Why a hold is released.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ReleaseBody {
    reason: String,
}

#[derive(Serialize, utoipa::ToSchema)]
struct ReleaseAnswer {
    /// `released`, or `awaiting-second-approval` (two-person rule: another compliance
    /// user must release it too).
    status: &'static str,
    /// Who asked first, while a second approval is awaited.
    requested_by: Option<String>,
}

/// Releases a legal hold. With `api.hold_release_approvals = 2` (the default) the first
/// compliance user's release is a request, and a different compliance user's completes it.
#[utoipa::path(post, path = "/api/v1/holds/{id}/release", tag = "recordings",
    params(("id" = String, Path, description = "the hold's id")), request_body = ReleaseBody,
    security(("bearer" = [])),
    responses((status = 200, body = ReleaseAnswer), (status = 202, body = ReleaseAnswer),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn release_hold(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ReleaseBody>,
) -> Result<(StatusCode, axum::Json<ReleaseAnswer>), ApiError> {
    let role = caller.require(COMPLIANCE)?;
    let reason = checked_text("reason", &body.reason, 500)?;
    let id = checked_id("hold", &id)?;
    let store = &state.parts().store;
    if store.hold(id).await?.is_none() {
        return Err(ApiError::not_found(format!("no hold {id}")));
    }
    state
        .audit(
            (&caller, role),
            "hold-release",
            id,
            Some(&reason),
            serde_json::json!({}),
        )
        .await?;
    let approvals = state.config().hold_release_approvals;
    let outcome = store
        .release_hold_with(
            id,
            &caller.name,
            &reason,
            crate::serve::unix_ms_now(),
            approvals,
        )
        .await?;
    Ok(match outcome {
        ReleaseOutcome::Released => (
            StatusCode::OK,
            axum::Json(ReleaseAnswer {
                status: "released",
                requested_by: None,
            }),
        ),
        ReleaseOutcome::AwaitingSecond { requested_by } => (
            StatusCode::ACCEPTED,
            axum::Json(ReleaseAnswer {
                status: "awaiting-second-approval",
                requested_by: Some(requested_by),
            }),
        ),
    })
}
