//! The generated OpenAPI document and Swagger UI over it.

use std::sync::Arc;

use utoipa::OpenApi;
use utoipa_swagger_ui::Config;
use warp::filters::BoxedFilter;
use warp::http::{StatusCode, Uri, header};
use warp::path::{FullPath, Tail};
use warp::reply::Response;
use warp::{Filter, Reply};

use crate::domain::{ChatRoom, Message, MessageKind, NewChat, NewUser, User};
use crate::error::Detail;
use crate::ws::frames::{ClientFrame, ErrorFrame, ErrorTag, RoomFrame, ServerFrame, TextFrame, TypingFrame};

/// The OpenAPI 3.1 document, generated from the handlers and types.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Chat API",
        description = "Real-time chat: rooms, live messages, typing and presence over WebSocket \
            (`/ws/{user_id}`), history and rooms over HTTP. Every HTTP error is `{\"detail\": \"...\"}`. \
            WebSocket client frames are `ClientFrame`, server frames `ServerFrame` (see components)."
    ),
    servers((url = "http://localhost:8000", description = "Local server")),
    paths(
        super::chats::get_messages, super::chats::get_chat, super::chats::create_chat,
        super::chats::add_participant, super::chats::remove_participant,
        super::users::get_user, super::users::create_user, super::users::get_user_chats,
        crate::ws::connect, super::health::health, super::health::ready,
    ),
    components(schemas(
        Message, MessageKind, ChatRoom, User, NewChat, NewUser, super::chats::AddParticipant, Detail,
        super::health::Status, ClientFrame, TextFrame, TypingFrame, RoomFrame, ServerFrame, ErrorFrame, ErrorTag,
    )),
    tags(
        (name = "chats", description = "Rooms, their history and participants"),
        (name = "users", description = "Users and presence"),
        (name = "websocket", description = "The real-time protocol"),
        (name = "operations", description = "Probes"),
    )
)]
pub struct ApiDoc;

pub fn routes() -> BoxedFilter<(Response,)> {
    let spec = warp::path!("openapi.json")
        .and(warp::get())
        .map(|| warp::reply::json(&ApiDoc::openapi()).into_response());
    let config = Arc::new(Config::from("/openapi.json"));
    // Swagger UI's assets use relative paths, so `/docs` must become `/docs/`.
    let ui = warp::path("docs")
        .and(warp::get())
        .and(warp::path::full())
        .and(warp::path::tail())
        .and(warp::any().map(move || config.clone()))
        .map(|full: FullPath, tail: Tail, config| {
            if full.as_str() == "/docs" {
                warp::redirect::see_other(Uri::from_static("/docs/")).into_response()
            } else {
                swagger(tail, config)
            }
        });
    spec.or(ui).unify().boxed()
}

fn swagger(tail: Tail, config: Arc<Config<'static>>) -> Response {
    match utoipa_swagger_ui::serve(tail.as_str(), config) {
        Ok(Some(file)) => {
            let mut resp = Response::new(file.bytes.into_owned().into());
            if let Ok(v) = file.content_type.parse() {
                resp.headers_mut().insert(header::CONTENT_TYPE, v);
            }
            resp
        }
        Ok(None) => crate::error::ApiError::NotFound("Not Found").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "swagger ui");
            warp::reply::with_status(warp::reply(), StatusCode::INTERNAL_SERVER_ERROR).into_response()
        }
    }
}
