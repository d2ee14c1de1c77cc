//! Bearer tokens and roles. A token is configured as its SHA-256 (`[[api.tokens]]`) with a
//! name and roles; every endpoint names the roles it admits and checks them first. The name
//! is who the audit log says acted.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::ApiState;
use super::error::ApiError;
use crate::config::ApiRole;

/// The authenticated client of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The token's configured name.
    pub name: String,
    roles: Vec<ApiRole>,
}

impl Caller {
    /// The first of `allowed` this caller holds (the role it acts in), or 403 naming them.
    pub fn require(&self, allowed: &[ApiRole]) -> Result<ApiRole, ApiError> {
        allowed
            .iter()
            .copied()
            .find(|role| self.roles.contains(role))
            .ok_or_else(|| {
                let need: Vec<&str> = allowed.iter().map(|r| r.as_str()).collect();
                ApiError::new(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    format!(
                        "this operation needs the role {}; token {:?} does not have it",
                        need.join(" or "),
                        self.name
                    ),
                )
            })
    }

    /// `api:NAME`, the actor in call records and recordings.
    pub fn actor(&self) -> String {
        format!("api:{}", self.name)
    }
}

/// 401 with `WWW-Authenticate: Bearer`.
pub struct Unauthorized(&'static str);

impl IntoResponse for Unauthorized {
    fn into_response(self) -> Response {
        let mut response =
            ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", self.0).into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer realm=\"herald\""),
        );
        response
    }
}

impl FromRequestParts<ApiState> for Caller {
    type Rejection = Unauthorized;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, Unauthorized> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or(Unauthorized(
                "an `Authorization: Bearer TOKEN` header is required",
            ))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(Unauthorized(
                "the Authorization header must be `Bearer TOKEN`",
            ))?;
        // Every configured token is compared (in constant time each), so the time taken does
        // not tell which one nearly matched.
        let mut found = None;
        for configured in &state.config().tokens {
            if configured.token_sha256.matches(token) && found.is_none() {
                found = Some(configured);
            }
        }
        let configured = found.ok_or(Unauthorized("unknown token"))?;
        Ok(Caller {
            name: configured.name.clone(),
            roles: configured.roles.clone(),
        })
    }
}
