//! The senders and readers of the failover traffic: a WebSocket connection that sends texts
//! (each after the answer to the one before) and then only reads, recording every frame; an
//! HTTP poster. What they acknowledged and how many sends failed go to `Shared`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use crate::helpers::{TestApp, WsClient, text};

/// Between two sends of one sender.
pub const PACE: Duration = Duration::from_millis(20);
/// The bound on one send's answer (the tests' Redis timeout is 1 s).
pub const ANSWER: Duration = Duration::from_secs(10);

/// An acknowledged send: its room, content, when it was sent, and the stored message.
#[derive(Clone, Debug)]
pub struct Ack {
    pub room: String,
    pub content: String,
    pub sent_at: Instant,
    pub message: Value,
}

/// What every task shares.
#[derive(Clone, Default)]
pub struct Shared {
    pub acks: Arc<Mutex<Vec<Ack>>>,
    pub failed: Arc<AtomicUsize>,
    pub sending: Arc<AtomicUsize>,
    pub stop_sending: CancellationToken,
    pub stop_listening: CancellationToken,
}

/// One connection: if `sends`, it sends texts to `room` until told to stop (each after the
/// answer to the one before), then it only reads until told to stop; it records every frame.
pub async fn connection(
    mut ws: WsClient,
    me: String,
    room: String,
    sends: bool,
    frames: Arc<Mutex<Vec<Value>>>,
    shared: Shared,
) -> WsClient {
    if sends {
        shared.sending.fetch_add(1, Ordering::SeqCst);
        for i in 0.. {
            if shared.stop_sending.is_cancelled() {
                break;
            }
            let (content, sent_at) = (format!("{room} {me} {i}"), Instant::now());
            ws.send_json(text(&room, &content)).await;
            loop {
                let answer = tokio::time::timeout_at(sent_at + ANSWER, next_frame(&mut ws, &me)).await;
                let frame =
                    answer.unwrap_or_else(|_| panic!("{me}: no answer to {content:?} within {ANSWER:?}"));
                frames.lock().unwrap().push(frame.clone());
                if frame["type"] == "error" {
                    shared.failed.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                if frame["user_id"] == me.as_str() && frame["content"] == content.as_str() {
                    let ack = Ack {
                        room: room.clone(),
                        content,
                        sent_at,
                        message: frame,
                    };
                    shared.acks.lock().unwrap().push(ack);
                    break;
                }
            }
            tokio::time::sleep(PACE).await;
        }
        shared.sending.fetch_sub(1, Ordering::SeqCst);
    }
    loop {
        tokio::select! {
            _ = shared.stop_listening.cancelled() => return ws,
            frame = next_frame(&mut ws, &me) => frames.lock().unwrap().push(frame),
        }
    }
}

/// The next data frame as JSON; a failover must not end the connection.
async fn next_frame(ws: &mut WsClient, me: &str) -> Value {
    loop {
        match ws.stream.next().await {
            Some(Ok(Message::Text(t))) => return serde_json::from_str(&t).expect("a JSON frame"),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("{me}'s connection ended: {other:?}"),
        }
    }
}

/// Posts texts to `room` as `me` over HTTP until told to stop, each after the answer to the
/// one before: 201 is acknowledged, 503 (exactly `{"detail": ...}`) failed, anything else
/// fails the test.
pub async fn post(app: Arc<TestApp>, me: String, room: String, shared: Shared) {
    for i in 0.. {
        if shared.stop_sending.is_cancelled() {
            return;
        }
        let (content, sent_at) = (format!("{room} {me} {i}"), Instant::now());
        let body = json!({"content": content, "user_id": me});
        let (status, body) = app.post_json(&format!("/chat/{room}/messages"), body).await;
        match status {
            201 => {
                assert_eq!(
                    (body["user_id"].as_str(), body["content"].as_str()),
                    (Some(me.as_str()), Some(content.as_str()))
                );
                let ack = Ack {
                    room: room.clone(),
                    content,
                    sent_at,
                    message: body,
                };
                shared.acks.lock().unwrap().push(ack);
            }
            503 => {
                let detail = body
                    .as_object()
                    .filter(|o| o.len() == 1)
                    .and_then(|o| o["detail"].as_str());
                assert!(
                    detail.is_some(),
                    "{me}: a 503 is exactly {{\"detail\": ...}}: {body}"
                );
                shared.failed.fetch_add(1, Ordering::Relaxed);
            }
            _ => panic!("{me}: {status} {body}"),
        }
        tokio::time::sleep(PACE).await;
    }
}
