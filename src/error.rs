//! Errors: the one place a `{"detail": ...}` body is built and warp's rejections are mapped.
//!
//! Handlers return `Result<T, ApiError>`; warp's own rejections (unknown route, wrong method,
//! oversized body, plain GET on the WebSocket route) reach `handle_rejection`. Both end in the
//! same `Detail` body. A 5xx never carries internals: they go to the log instead.

use std::convert::Infallible;

use serde::Serialize;
use utoipa::ToSchema;
use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::Response;
use warp::{Rejection, Reply};

use crate::backend::StoreError;

/// The body of every HTTP error.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"detail": "Resource not found"}))]
pub struct Detail {
    /// What went wrong, for a person to read.
    #[schema(example = "Resource not found")]
    pub detail: String,
}

/// Every error an HTTP handler can answer with.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(&'static str),
    /// Carries the `Allow` header's value.
    #[error("Method Not Allowed")]
    MethodNotAllowed(&'static str),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(&'static str),
    #[error("Request body too large")]
    PayloadTooLarge,
    #[error("This endpoint speaks WebSocket: send an upgrade request")]
    UpgradeRequired,
    #[error("Rate limit exceeded: retry in {} ms", .0.as_millis().max(1))]
    TooManyRequests(std::time::Duration),
    #[error("Storage unavailable")]
    Unavailable,
    #[error("Internal server error")]
    Internal,
}

impl ApiError {
    /// The one status mapping.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UpgradeRequired => StatusCode::UPGRADE_REQUIRED,
            Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<crate::domain::IdError> for ApiError {
    fn from(e: crate::domain::IdError) -> Self {
        Self::BadRequest(e.to_string())
    }
}

/// The only place a storage error becomes HTTP.
impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(why) => {
                tracing::error!(%why, "storage unavailable");
                Self::Unavailable
            }
        }
    }
}

impl Reply for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = Detail {
            detail: self.to_string(),
        };
        let mut resp = warp::reply::with_status(warp::reply::json(&body), status).into_response();
        let h = resp.headers_mut();
        match self {
            Self::MethodNotAllowed(allow) => {
                h.insert(header::ALLOW, HeaderValue::from_static(allow));
            }
            Self::Unauthorized(_) => {
                h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::UpgradeRequired => {
                h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
                h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
            }
            // The body was not read: the connection cannot carry another request.
            Self::PayloadTooLarge => {
                h.insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            Self::TooManyRequests(wait) => {
                let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                h.insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
            }
            _ => {}
        }
        resp
    }
}

/// Turns an error a filter raised on purpose into a rejection (see `handle_rejection`).
#[derive(Debug)]
pub struct Rejected(pub ApiError);

impl warp::reject::Reject for Rejected {}

/// Maps warp's rejections to the contract's `{"detail"}` errors.
pub async fn handle_rejection(r: Rejection) -> Result<Response, Infallible> {
    let err = if r.is_not_found() {
        ApiError::NotFound("Not Found")
    } else if let Some(Rejected(e)) = r.find::<Rejected>() {
        e.clone()
    } else if r.find::<warp::reject::MethodNotAllowed>().is_some() {
        // Every path has an explicit 405 fallback with its `Allow` list (http/mod.rs);
        // this catches the rest.
        ApiError::MethodNotAllowed("GET")
    } else if r.find::<warp::reject::PayloadTooLarge>().is_some() {
        ApiError::PayloadTooLarge
    } else if r.find::<warp::reject::LengthRequired>().is_some() {
        ApiError::BadRequest("Invalid request data: a Content-Length header is required".into())
    } else if r.find::<warp::reject::UnsupportedMediaType>().is_some() {
        ApiError::BadRequest("Invalid request data: the body must be application/json".into())
    } else if r.find::<warp::reject::InvalidQuery>().is_some() {
        ApiError::BadRequest("Invalid query string".into())
    } else if r.find::<warp::filters::cors::CorsForbidden>().is_some() {
        return Ok(cors_forbidden());
    } else {
        tracing::error!(rejection = ?r, "unhandled rejection");
        ApiError::Internal
    };
    Ok(err.into_response())
}

fn cors_forbidden() -> Response {
    let body = Detail {
        detail: "CORS request forbidden: origin not allowed".into(),
    };
    warp::reply::with_status(warp::reply::json(&body), StatusCode::FORBIDDEN).into_response()
}
