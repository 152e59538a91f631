//! `GET /metrics`: the process's metrics in the Prometheus text format (see `stats.rs`).

use warp::filters::BoxedFilter;
use warp::http::header;
use warp::reply::Response;
use warp::{Filter, Reply};

/// `GET /metrics`.
pub fn route() -> BoxedFilter<(Response,)> {
    super::routes::METRICS
        .path0()
        .and(warp::get())
        .map(|| {
            let mut resp = crate::stats::render().into_response();
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            resp
        })
        .boxed()
}
