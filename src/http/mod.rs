//! HTTP: every route in one list, one rejection handler, CORS and request logs around them.

pub mod asyncapi;
pub mod chats;
pub mod demo;
pub mod docs;
pub mod docs_security;
pub mod filters;
pub mod health;
pub mod messages;
pub mod metrics;
pub mod routes;
pub mod users;
pub mod ws;

use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Filter, Reply};

use crate::error::handle_rejection;
use crate::state::AppState;

/// All routes. Path filters come before method filters in each route, and the 405 fallback
/// comes last, so unknown paths are 404 and known paths with a wrong method are 405.
pub fn routes(s: AppState) -> BoxedFilter<(Response,)> {
    let cors = filters::cors(&s.settings);
    chats::routes(s.clone())
        .or(users::routes(s.clone()))
        .unify()
        .or(ws::route(s.clone()))
        .unify()
        .or(health::routes(s))
        .unify()
        .or(docs::routes())
        .unify()
        .or(metrics::route())
        .unify()
        .or(asyncapi::routes())
        .unify()
        .or(demo::routes())
        .unify()
        .or(filters::method_not_allowed())
        .unify()
        .recover(handle_rejection)
        .unify()
        .with(cors)
        .map(Reply::into_response)
        // CORS refusals (origin not allowed) happen outside the inner recover.
        .recover(handle_rejection)
        .unify()
        .with(filters::request_log())
        .map(Reply::into_response)
        .boxed()
}
