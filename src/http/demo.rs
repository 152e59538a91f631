//! A small demo chat page at `/`: plain HTML, CSS and JavaScript embedded in the binary, speaking
//! only the public API (WebSocket `/ws/{user_id}` and the HTTP endpoints). No build step, no
//! external assets.

use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use warp::reply::Response;

use super::routes::{DEMO_CSS, DEMO_JS, DEMO_PAGE};

const INDEX_HTML: &str = include_str!("demo/index.html");
const APP_JS: &str = include_str!("demo/app.js");
const STYLE_CSS: &str = include_str!("demo/style.css");

/// The page may load only its own files and talk only to its own origin (HTTP and WebSocket).
const CSP: &str = "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; \
    base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// `GET /`, `GET /demo/app.js` and `GET /demo/style.css`.
pub fn routes() -> BoxedFilter<(Response,)> {
    let index = DEMO_PAGE
        .path0()
        .and(warp::get())
        .map(|| asset(INDEX_HTML, "text/html; charset=utf-8"));
    let js = DEMO_JS
        .path0()
        .and(warp::get())
        .map(|| asset(APP_JS, "text/javascript; charset=utf-8"));
    let css = DEMO_CSS
        .path0()
        .and(warp::get())
        .map(|| asset(STYLE_CSS, "text/css; charset=utf-8"));
    index.or(js).unify().or(css).unify().boxed()
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut resp = Response::new(body.into());
    let headers = resp.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Small files: revalidate every time, so a new binary's page is never mixed with old assets.
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("content-security-policy", HeaderValue::from_static(CSP));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    resp
}
