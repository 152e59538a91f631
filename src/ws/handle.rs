//! One client frame: decode it, run its use case, and write what it calls for back to this
//! connection alone (an error frame, a retry's original, a resume's replay).

use std::collections::HashMap;

use super::frames::{self, ClientFrame, ResumeFrame, TextFrame};
use crate::domain::{ChatId, Json, UserId};
use crate::error::ApiError;
use crate::hub::outbox::Outbox;
use crate::state::AppState;
use crate::stats;
use crate::transport::Socket;
use crate::transport::socket::{Error, Message};
use crate::usecases::{self, Position, TextInput};

/// At most this many rooms in one `resume` frame.
pub const MAX_RESUME_ROOMS: usize = 1000;

/// At most this many texts handled together (see `texts`).
const MOST_TEXTS_AT_ONCE: usize = 32;

/// The connection a frame came on.
#[derive(Clone, Copy)]
pub struct Conn<'a> {
    pub state: &'a AppState,
    pub user: &'a UserId,
    pub id: u64,
    /// Its live messages are held for a resume (this is its first frame).
    pub resuming: bool,
    /// Its outbox: the answers to texts handled together queue there, behind their echoes.
    pub outbox: &'a Outbox,
}

/// Handles one client frame and writes back what it calls for. The first frame of a
/// resuming connection ends the wait: its live messages follow whatever this wrote.
pub async fn reply_to(socket: &mut Socket, conn: Conn<'_>, msg: Message) -> Result<(), Error> {
    let frame = match decode(&msg) {
        Ok(ClientFrame::Text(first)) if !conn.resuming => match text_behind(socket) {
            Some(second) => {
                texts(socket, conn, first, second).await;
                return Ok(());
            }
            None => Ok(ClientFrame::Text(first)),
        },
        frame => frame,
    };
    let (replies, positions) = answer(conn, frame).await;
    for reply in replies {
        socket.send_text(reply.to_str().to_string()).await?;
    }
    if conn.resuming {
        conn.state.hub.resumed(conn.id, &positions);
    }
    Ok(())
}

/// The next frame if the client already sent it and it is a text; another frame is held for
/// the session's next turn (after the outbox is written, as every frame's).
fn text_behind(socket: &mut Socket) -> Option<TextFrame> {
    let msg = socket.ready()?;
    if let Message::Text(text) = &msg
        && let Ok(ClientFrame::Text(frame)) = frames::decode(text)
    {
        return Some(frame);
    }
    socket.hold(msg);
    None
}

/// Texts the client sent one right behind another, handled together (on Redis, stored in one
/// round trip): each is answered as it would be alone, in order, and its answer (an error, a
/// retry's original) queues in the outbox behind the echoes of the texts before it.
async fn texts(socket: &mut Socket, conn: Conn<'_>, first: TextFrame, second: TextFrame) {
    let mut batch = vec![first, second];
    while batch.len() < MOST_TEXTS_AT_ONCE
        && let Some(frame) = text_behind(socket)
    {
        batch.push(frame);
    }
    // The first was counted as it was decoded.
    stats::hot().frames_in("text").increment(batch.len() as u64 - 1);
    let inputs = batch.into_iter().map(|f| text_input(conn.user, f)).collect();
    let outbox = conn.outbox;
    let mut answer = |posted: Result<usecases::Posted, ApiError>| {
        match posted {
            Ok(posted) if posted.again => outbox.queue(&Json::of(&posted.message)),
            Ok(_) => true,
            Err(e) => outbox.queue(&Json::from(frames::error_frame(e.to_string()))),
        };
    };
    usecases::send_texts(conn.state, conn.user, inputs, &mut answer).await;
}

/// A text frame's input: its sender must be the connection's user, its room a valid id.
fn text_input(user: &UserId, f: TextFrame) -> Result<TextInput, ApiError> {
    check_user(user, f.user_id.as_deref())?;
    Ok(TextInput {
        chat_id: ChatId::parse(&f.chat_id)?,
        content: f.content,
        metadata: f.metadata.unwrap_or_default(),
        reply_to: f.reply_to,
        client_msg_id: f.client_msg_id,
    })
}

/// A client frame, counted in the metrics; or, for one that is not a frame of ours, its answer
/// (an error frame, or nothing for a ping or a pong).
fn decode(msg: &Message) -> Result<ClientFrame, Vec<Json>> {
    if msg.is_binary() {
        stats::hot().frames_in("binary").increment(1);
        let detail = "Binary frames are not supported: send JSON text frames";
        return Err(vec![Json::from(frames::error_frame(detail))]);
    }
    // Ping and pong: tungstenite answers pings itself.
    let Message::Text(text) = msg else {
        return Err(Vec::new());
    };
    match frames::decode(text) {
        Ok(frame) => {
            stats::hot().frames_in(frame.kind()).increment(1);
            Ok(frame)
        }
        Err(detail) => {
            stats::hot().frames_in("invalid").increment(1);
            Err(vec![Json::from(frames::error_frame(detail))])
        }
    }
}

/// The frames for this connection alone, and (for a resume) the positions it named.
async fn answer(conn: Conn<'_>, frame: Result<ClientFrame, Vec<Json>>) -> (Vec<Json>, HashMap<ChatId, u64>) {
    let frame = match frame {
        Ok(frame) => frame,
        Err(replies) => return (replies, HashMap::new()),
    };
    if let ClientFrame::Resume(f) = frame {
        return resume(conn, f).await;
    }
    let replies = match handle(conn, frame).await {
        Ok(replies) => replies,
        Err(e) => vec![Json::from(frames::error_frame(e.to_string()))],
    };
    (replies, HashMap::new())
}

/// The connection's own user id, if the frame names one, must match (no impersonation).
fn check_user(user: &UserId, claimed: Option<&str>) -> Result<(), ApiError> {
    match claimed {
        Some(c) if c != user.as_str() => Err(ApiError::Forbidden(format!(
            "user_id {c:?} does not match this connection's user"
        ))),
        _ => Ok(()),
    }
}

async fn handle(conn: Conn<'_>, frame: ClientFrame) -> Result<Vec<Json>, ApiError> {
    let (state, user) = (conn.state, conn.user);
    match frame {
        ClientFrame::Text(f) => {
            let posted = usecases::send_text(state, user, text_input(user, f)?).await?;
            // A retry delivered nothing: the original is the answer, to this connection.
            Ok(if posted.again {
                vec![Json::of(&posted.message)]
            } else {
                Vec::new()
            })
        }
        ClientFrame::Typing(f) => {
            check_user(user, f.user_id.as_deref())?;
            usecases::typing(state, user, &ChatId::parse(&f.chat_id)?, &f.content).await?;
            Ok(Vec::new())
        }
        ClientFrame::Join(f) => {
            check_user(user, f.user_id.as_deref())?;
            usecases::join(state, user, &ChatId::parse(&f.chat_id)?).await?;
            Ok(Vec::new())
        }
        ClientFrame::Leave(f) => {
            check_user(user, f.user_id.as_deref())?;
            usecases::leave(state, user, &ChatId::parse(&f.chat_id)?).await?;
            Ok(Vec::new())
        }
        ClientFrame::Read(f) => {
            check_user(user, f.user_id.as_deref())?;
            usecases::read(state, user, &ChatId::parse(&f.chat_id)?, f.seq).await?;
            Ok(Vec::new())
        }
        ClientFrame::Resume(_) => Err(not_first()),
    }
}

fn not_first() -> ApiError {
    ApiError::BadRequest("resume must be the first frame of a connection opened with ?resume=true".into())
}

/// A `resume`: for each room, its replay (or why not, as an error frame naming the room), in
/// the frame's order of rooms sorted by id.
async fn resume(conn: Conn<'_>, f: ResumeFrame) -> (Vec<Json>, HashMap<ChatId, u64>) {
    let error = |detail: String| vec![Json::from(frames::error_frame(detail))];
    if !conn.resuming {
        return (error(not_first().to_string()), HashMap::new());
    }
    if f.positions.len() > MAX_RESUME_ROOMS {
        let detail = format!("Invalid resume: at most {MAX_RESUME_ROOMS} rooms");
        return (error(detail), HashMap::new());
    }
    let mut rooms: Vec<_> = f.positions.into_iter().collect();
    rooms.sort_by(|a, b| a.0.cmp(&b.0));
    let (mut out, mut positions) = (Vec::new(), HashMap::new());
    for (chat, pos) in rooms {
        let Ok(chat) = ChatId::parse(&chat) else {
            out.extend(error(format!("Invalid resume: {chat:?} is not a chat id")));
            continue;
        };
        let pos = Position {
            seq: pos.seq,
            epoch: pos.epoch,
        };
        match usecases::resume_room(conn.state, conn.user, conn.id, &chat, &pos).await {
            Ok(frames) => {
                out.extend(frames);
                positions.insert(chat, pos.seq);
            }
            Err(e) => out.extend(error(format!("Cannot resume chat {chat}: {e}"))),
        }
    }
    (out, positions)
}
