//! What survives a reconnect (issue 17), on the store `TEST_STORE` names: `resume` replays
//! exactly what a connection missed, `client_msg_id` retries store once, `read` frames move
//! read positions and unread counts, typing ends by itself, history pages by `seq`, and
//! texts can be posted over HTTP. Across instances: `multi_instance/reconnect.rs`.

mod paging;
mod post;
mod reads;
mod resume;
mod retries;
mod typing;

use serde_json::{Value, json};

use crate::helpers::{TestApp, WsClient, text};

/// Sends a text from `ws` and returns its echo (the stored message), after the sender's
/// own join notice when the text joined it to the room.
pub async fn say(ws: &mut WsClient, chat: &str, content: &str) -> Value {
    ws.send_json(text(chat, content)).await;
    let mut echo = ws.recv_json().await;
    if echo["type"] == "system"
        && echo["content"]
            .as_str()
            .is_some_and(|c| c.ends_with(" joined the chat"))
    {
        echo = ws.recv_json().await;
    }
    assert_eq!(echo["content"], content, "{echo}");
    echo
}

/// Where a client stands after seeing `m`: `{"seq": .., "epoch": ..}`.
pub fn position(m: &Value) -> Value {
    json!({"seq": m["seq"], "epoch": m["epoch"]})
}

/// A connection that will resume (`?resume=true`).
pub async fn resuming(app: &TestApp, user: &str) -> WsClient {
    app.ws_at(&format!("/ws/{user}?resume=true")).await
}

/// The next `n` frames.
pub async fn frames(ws: &mut WsClient, n: usize) -> Vec<Value> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(ws.recv_json().await);
    }
    out
}
