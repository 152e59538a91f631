//! The floor for the `paced` scenario's latency on a machine: a relay that speaks just enough
//! of the contract's frames for the generator (a join answered with the room's join notice, a
//! text copied to every member of its room, the sender included) and does nothing else: no
//! storage, no checks, no ids or timestamps. What the generator measures against it is what
//! the machine's wake-ups and loopback sends cost a message, whatever the server
//! (docs/performance.md):
//!
//! ```text
//! PORT=9101 cargo run --release -p chat-bench --bin relay &
//! cargo run --release -p chat-bench --bin loadgen -- --url http://127.0.0.1:9101 --server-pid $! \
//!     --json floor.json paced --rooms 50 --members 10 --rate 500 --send-for 10 --duration 40
//! ```
//!
//! The acceptor's accept loop (`chat_bench::listen`: one thread like the server under test
//! with `WORKER_THREADS=1`, `TCP_NODELAY`), and frames queued while a connection writes go out
//! in one flush, as in the server.

use std::collections::HashMap;
use std::error::Error;
use std::sync::{Arc, Mutex, PoisonError};

use chat_bench::listen;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

/// Each room's members: the queue of each one's connection.
type Rooms = Arc<Mutex<HashMap<String, Vec<mpsc::UnboundedSender<Utf8Bytes>>>>>;

/// The fields of a client frame the relay reads.
#[derive(Deserialize)]
struct Frame {
    #[serde(rename = "type")]
    kind: String,
    chat_id: String,
    #[serde(default)]
    content: String,
}

fn main() -> Result<(), Box<dyn Error>> {
    let rooms = Rooms::default();
    listen::serve(9101, move |stream| session(stream, rooms.clone()))
}

/// One connection: its user is the last segment of the upgrade's path (`/ws/{user}`).
async fn session(stream: TcpStream, rooms: Rooms) {
    let mut user = String::new();
    // The error type is tungstenite's handshake callback's, not ours to size.
    #[allow(clippy::result_large_err)]
    let name_user = |req: &Request, resp: Response| {
        user = req
            .uri()
            .path()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string();
        Ok(resp)
    };
    let config = WebSocketConfig::default().read_buffer_size(4096);
    let Ok(ws) = tokio_tungstenite::accept_hdr_async_with_config(stream, name_user, Some(config)).await
    else {
        return;
    };
    let (mut sink, mut frames) = ws.split();
    let (tx, mut queue) = mpsc::unbounded_channel::<Utf8Bytes>();
    loop {
        tokio::select! {
            frame = frames.next() => match frame {
                Some(Ok(Message::Text(text))) => relay(&rooms, &user, &tx, text.as_str()),
                Some(Ok(_)) => {}
                _ => break,
            },
            Some(first) = queue.recv() => {
                let mut batch = Some(first);
                while let Some(text) = batch {
                    if sink.feed(Message::Text(text)).await.is_err() {
                        return;
                    }
                    batch = queue.try_recv().ok();
                }
                if sink.flush().await.is_err() {
                    return;
                }
            }
        }
    }
}

/// A join adds the connection to its room and announces it there; a text goes to the room.
fn relay(rooms: &Rooms, user: &str, me: &mpsc::UnboundedSender<Utf8Bytes>, text: &str) {
    let Ok(frame) = serde_json::from_str::<Frame>(text) else {
        return;
    };
    let mut rooms = rooms.lock().unwrap_or_else(PoisonError::into_inner);
    let members = rooms.entry(frame.chat_id.clone()).or_default();
    let out = match frame.kind.as_str() {
        "join" => {
            members.push(me.clone());
            let notice = format!("{user} joined the chat");
            serde_json::json!({"type": "system", "chat_id": frame.chat_id, "content": notice})
        }
        "text" => serde_json::json!({
            "type": "text", "chat_id": frame.chat_id, "user_id": user, "content": frame.content
        }),
        _ => return,
    };
    let out = Utf8Bytes::from(out.to_string());
    members.retain(|m| m.send(out.clone()).is_ok());
}
