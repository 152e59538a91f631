//! The WebSocket endpoint `/ws/{user_id}`: check the caller, register the connection, follow
//! its rooms, upgrade, then hand the socket to a session (`ws/session.rs`).

use std::sync::Arc;

use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Filter, Reply};

use super::filters::{resume_flag, segment, with_state, ws_credentials};
use crate::domain::UserId;
use crate::error::ApiError;
use crate::hub::Caps;
use crate::hub::outbox::Outbox;
use crate::state::AppState;
use crate::transport::upgrade;
use crate::ws::session::{self, Registration};

/// `GET /ws/{user_id}` with an upgrade; a plain GET is a 426.
pub fn route(state: AppState) -> BoxedFilter<(Response,)> {
    super::routes::WEBSOCKET
        .path1()
        .and(warp::get())
        .and(upgrade::upgrade())
        .and(ws_credentials())
        .and(resume_flag())
        .and(with_state(state))
        .then(connect)
        .map(Reply::into_response)
        .boxed()
}

/// Connects a user to the chat system (WebSocket upgrade)
///
/// The user is created if absent, marked active and subscribed to its rooms before the
/// upgrade completes. Client and server frames are described by the `ClientFrame` and
/// `ServerFrame` schemas.
#[utoipa::path(
    get,
    path = "/ws/{user_id}",
    tag = "websocket",
    operation_id = "connect_websocket",
    params(
        ("user_id" = String, Path, pattern = "^(?!system$)[A-Za-z0-9._:@-]{1,128}$", description = "Your user id (1 to 128 characters of A-Z a-z 0-9 . _ - : @)", example = "user1"),
        ("resume" = Option<bool>, Query, description = "true: you will send a `resume` frame first; live messages wait until it is answered (or for WS_TIMEOUT_SECONDS if it never comes)"),
    ),
    responses(
        (status = 101, description = "Switching Protocols: the connection now speaks WebSocket; send `ClientFrame`s, receive `ServerFrame`s"),
        (status = 400, description = "Invalid user_id or resume", body = crate::error::Detail,
            example = json!({"detail": "Invalid user_id: must be 1 to 128 characters of A-Z a-z 0-9 . _ - : @"})),
        (status = 426, description = "Not a WebSocket upgrade request", body = crate::error::Detail,
            example = json!({"detail": "This endpoint speaks WebSocket: send an upgrade request"})),
    )
)]
pub async fn connect(
    user_id: String,
    ws: upgrade::Upgrade,
    (bearer, token): (Option<String>, Option<String>),
    resume: Result<bool, ApiError>,
    state: AppState,
) -> Result<Response, ApiError> {
    let user = UserId::parse_client(&segment(&user_id))?;
    let resume = resume?;
    // CONTRACT (auth): with AUTH_SECRET, the token must be valid and for this very user.
    if let Some(me) = state.auth.caller(bearer.as_deref(), token.as_deref())?.user()
        && *me != user
    {
        return Err(ApiError::Unauthorized("Token is for another user".into()));
    }
    // Registered before the store reads the user's rooms, so a join racing with this
    // connect reaches the hub either way (CONTRACT: nothing missed after the handshake).
    let out = Arc::new(Outbox::new(state.settings.ws_outbox_frames));
    let caps = Caps {
        total: state.settings.max_connections,
        per_user: state.settings.max_connections_per_user,
    };
    let registered = if resume {
        state.hub.register_resuming(&user, out.clone(), caps)
    } else {
        state.hub.register(&user, out.clone(), caps)
    };
    let conn_id = match registered {
        Ok(id) => id,
        // CONTRACT: over a cap, the upgrade completes and closes at once with 1013.
        Err(refused) => {
            let config = upgrade::config(state.settings.max_frame_bytes);
            return Ok(ws.reply(config, move |socket| session::refuse(socket, refused)));
        }
    };
    let mut reg = Registration::new(&state, &user, conn_id);
    reg.resuming = resume;
    let rooms = state.backend.connect(&user).await?;
    reg.counted = true;
    state.backend.follow(&state.hub, &user, conn_id, rooms).await?;
    let config = upgrade::config(state.settings.max_frame_bytes);
    Ok(ws.reply(config, move |socket| {
        let tasks = reg.state.tasks.clone();
        tasks.track_future(session::run(socket, reg, out))
    }))
}
