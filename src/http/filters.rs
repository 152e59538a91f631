//! Shared filters: state injection, JSON bodies with precise 400s, CORS, and the 405 fallback.

use std::collections::HashMap;
use std::convert::Infallible;

use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use warp::Buf;
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use super::routes::route_of;
use crate::auth::{Auth, Caller};
use crate::config::{CorsOrigins, Settings};
use crate::error::{ApiError, Rejected};
use crate::state::AppState;

/// Request bodies larger than this are a 413 (CONTRACT: 64 KiB).
pub const MAX_BODY_BYTES: u64 = 64 * 1024;

/// Hands a clone of the state to a handler.
pub fn with_state(s: AppState) -> impl Filter<Extract = (AppState,), Error = Infallible> + Clone {
    warp::any().map(move || s.clone())
}

/// A JSON body of type `T`: over 64 KiB is a 413 (announced by Content-Length or found while
/// reading a chunked body), malformed or invalid JSON a 400 that says why.
pub fn json_body<T: DeserializeOwned + Send>() -> impl Filter<Extract = (T,), Error = warp::Rejection> + Clone
{
    warp::header::optional::<u64>("content-length")
        .and(warp::body::stream())
        .and_then(|announced: Option<u64>, body| read_json::<T>(announced, body))
}

async fn read_json<T: DeserializeOwned>(
    announced: Option<u64>,
    mut body: impl futures_util::Stream<Item = Result<impl Buf, warp::Error>> + Unpin,
) -> Result<T, warp::Rejection> {
    let reject = |e: ApiError| warp::reject::custom(Rejected(e));
    if announced.is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(reject(ApiError::PayloadTooLarge));
    }
    let mut buf = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|_| {
            reject(ApiError::BadRequest(
                "Invalid request data: unreadable body".into(),
            ))
        })?;
        if (buf.len() + chunk.remaining()) as u64 > MAX_BODY_BYTES {
            return Err(reject(ApiError::PayloadTooLarge));
        }
        buf.extend_from_slice(chunk.chunk());
    }
    serde_json::from_slice::<T>(&buf)
        .map_err(|e| reject(ApiError::BadRequest(format!("Invalid request data: {e}"))))
}

/// The caller of an HTTP request (401 when authentication is on and the token is bad).
pub fn caller(state: AppState) -> impl Filter<Extract = (Caller,), Error = Rejection> + Clone {
    warp::header::optional::<String>("authorization")
        .and(warp::any().map(move || state.auth.clone()))
        .and_then(|bearer: Option<String>, auth: Auth| async move {
            auth.caller(bearer.as_deref(), None)
                .map_err(|e| warp::reject::custom(Rejected(e)))
        })
}

/// The `Authorization` header and the `token` query parameter of a WebSocket upgrade.
pub fn ws_credentials()
-> impl Filter<Extract = ((Option<String>, Option<String>),), Error = Infallible> + Clone {
    warp::header::optional::<String>("authorization")
        .or(warp::any().map(|| None))
        .unify()
        .and(
            warp::query::<HashMap<String, String>>()
                .map(|mut q: HashMap<String, String>| q.remove("token"))
                .or(warp::any().map(|| None))
                .unify(),
        )
        .map(|bearer, token| (bearer, token))
}

/// The WebSocket's `?resume=true` (or `1`): the client will send a `resume` frame first.
pub fn resume_flag() -> impl Filter<Extract = (Result<bool, ApiError>,), Error = Infallible> + Clone {
    warp::query::<HashMap<String, String>>()
        .or(warp::any().map(HashMap::new))
        .unify()
        .map(
            |q: HashMap<String, String>| match q.get("resume").map(String::as_str) {
                None | Some("false" | "0") => Ok(false),
                Some("true" | "1") => Ok(true),
                Some(_) => Err(ApiError::BadRequest(
                    "Invalid resume: expected true or false".into(),
                )),
            },
        )
}

/// A path segment as the client meant it, `%XX` decoded: RFC 3986 makes `/user/u-%61` and
/// `/user/u-a` the same resource (clients encode `@` and `:` in ids). Bytes that are not
/// UTF-8 decode to U+FFFD, which no id allows.
pub fn segment(raw: &str) -> std::borrow::Cow<'_, str> {
    percent_encoding::percent_decode_str(raw).decode_utf8_lossy()
}

/// CORS as configured: any origin by default, or the listed ones.
pub fn cors(settings: &Settings) -> warp::cors::Builder {
    let builder = warp::cors()
        .allow_methods(["GET", "POST", "DELETE", "OPTIONS"])
        .allow_headers(["content-type", "authorization"])
        .max_age(600);
    match &settings.cors_origins {
        CorsOrigins::Any => builder.allow_any_origin(),
        CorsOrigins::List(list) => builder.allow_origins(list.iter().map(String::as_str)),
    }
}

/// One log line and one metrics sample per request, with its route, status and timing.
pub fn request_log() -> warp::log::Log<impl Fn(warp::log::Info<'_>) + Clone> {
    warp::log::custom(|info| {
        let route = route_of(info.path()).map_or("unmatched", |r| r.label);
        let (status, elapsed) = (info.status().as_u16(), info.elapsed());
        crate::stats::http_request(route, info.method().as_str(), status, elapsed.as_secs_f64());
        tracing::info!(
            method = %info.method(), path = info.path(), route, status,
            micros = elapsed.as_micros() as u64, "request"
        );
    })
}

/// Last in the route list: a known path reached with the wrong method is a 405 with `Allow`;
/// anything else stays a 404.
pub fn method_not_allowed() -> BoxedFilter<(Response,)> {
    warp::path::full()
        .and(warp::method())
        .and_then(
            |path: warp::path::FullPath, method: warp::http::Method| async move {
                match route_of(path.as_str()).map(|r| r.method) {
                    // An allowed method that still got here was refused for another reason
                    // (bad upgrade, bad body): let that rejection speak.
                    Some(allow) if !allow.split(", ").any(|m| m == method.as_str()) => {
                        Ok(ApiError::MethodNotAllowed(allow).into_response())
                    }
                    _ => Err(warp::reject::not_found()),
                }
            },
        )
        .boxed()
}
