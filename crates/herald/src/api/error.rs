//! The API's errors: every failure is JSON `{"error": {"code": "...", "message": "..."}}` with
//! an HTTP status and a stable, documented `code` that clients can match on; the message is
//! for people. Extractors that reject a request (bad JSON, a wrong type, an unknown field, a
//! body over the limit, a bad query or path) answer in the same shape.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

/// The body of every error answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable: `unauthorized`, `forbidden`, `not-found`, `malformed-json`, `invalid-body`,
    /// `body-too-large`, `unsupported-media-type`, `invalid-query`, `invalid-path`,
    /// `invalid-argument`, `conflict`, `refused`, `legal-hold`, `legal-obligation`,
    /// `no-private-key`, `unavailable`, `internal`.
    pub code: String,
    /// For people.
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid-argument", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    /// A failure of Herald itself: logged in full, answered without detail.
    pub fn internal(error: &anyhow::Error) -> Self {
        tracing::error!(error = %format!("{error:#}"), "API request failed");
        crate::metrics::error("api-internal");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server failed to carry out the request; its log has the reason",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
            },
        };
        (self.status, axum::Json(body)).into_response()
    }
}

impl From<herald_store::StoreError> for ApiError {
    fn from(error: herald_store::StoreError) -> Self {
        use herald_store::StoreError as E;
        match &error {
            E::RecordingNotFound(_) | E::CallNotFound(_) | E::HoldNotFound(_) => {
                Self::not_found(error.to_string())
            }
            E::LegalHold { .. } => Self::conflict("legal-hold", error.to_string()),
            E::HoldReleased(_)
            | E::InvalidRecordingTransition { .. }
            | E::SameApprover { .. }
            | E::AmbiguousPrefix(_) => Self::conflict("conflict", error.to_string()),
            _ => Self::internal(&anyhow::Error::new(error)),
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(error: anyhow::Error) -> Self {
        Self::internal(&error)
    }
}

/// A JSON body: like `axum::Json`, rejected in the API's error shape.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(&rejection)),
        }
    }
}

fn json_rejection(rejection: &JsonRejection) -> ApiError {
    let text = rejection.body_text();
    match rejection {
        JsonRejection::JsonSyntaxError(_) => {
            ApiError::new(StatusCode::BAD_REQUEST, "malformed-json", text)
        }
        JsonRejection::JsonDataError(_) => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid-body", text)
        }
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "the body must be JSON with `Content-Type: application/json`",
        ),
        _ if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
            "the request body is larger than api.max_body_bytes",
        ),
        _ => ApiError::new(rejection.status(), "invalid-body", text),
    }
}

/// A query string: like `axum::extract::Query`, rejected in the API's error shape.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Self(q.0))
            .map_err(|rejection: QueryRejection| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid-query",
                    rejection.body_text(),
                )
            })
    }
}

/// Path parameters: like `axum::extract::Path`, rejected in the API's error shape.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Self(p.0))
            .map_err(|rejection: PathRejection| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid-path",
                    rejection.body_text(),
                )
            })
    }
}

/// An identifier from a path: Herald's ids are lower-case hex (calls and recordings) with
/// `-` and a few letters for holds and requests; anything else (`..`, `/`, `%2e`, control
/// characters, long strings) is refused before it reaches a query or a file name.
pub fn checked_id<'a>(what: &str, id: &'a str) -> Result<&'a str, ApiError> {
    let ok = (1..=80).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(id)
    } else {
        Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid-path",
            format!("{what} ids are 1 to 80 letters, digits, '-' or '_'"),
        ))
    }
}

/// A listing's `limit`: `default` when absent, else 1 to 1000.
pub fn checked_limit(limit: Option<u32>, default: u32) -> Result<u32, ApiError> {
    match limit.unwrap_or(default) {
        limit @ 1..=1000 => Ok(limit),
        _ => Err(ApiError::invalid("`limit` is between 1 and 1000")),
    }
}

/// Free text from a client (a reason, a purpose, a case reference): 1 to `max` characters,
/// no control characters.
pub fn checked_text(field: &str, text: &str, max: usize) -> Result<String, ApiError> {
    crate::compliance::free_text(field, text, max).map_err(ApiError::invalid)
}
