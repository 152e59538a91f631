//! Connection caps (MAX_CONNECTIONS, MAX_CONNECTIONS_PER_USER) and the batched drain at
//! shutdown (SHUTDOWN_DRAIN_SECONDS).

use std::time::Duration;

use crate::helpers::{TIMEOUT, TestApp, WsClient};

/// Opens connections until one is refused; bounded, since a close frees its slot only once
/// the server has seen it.
async fn connect_when_free(app: &TestApp, user: &str) -> WsClient {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let mut ws = app.ws(user).await;
        match ws.assert_nothing_pending_or_closed().await {
            None => return ws,
            Some(code) => assert_eq!(code, 1013),
        }
        assert!(tokio::time::Instant::now() < deadline, "the slot was never freed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Over the per-user cap, the upgrade completes and closes at once with 1013 and a reason
/// naming the limit; other users are not affected, and a closed connection frees its slot.
#[tokio::test]
async fn per_user_cap_answers_1013() {
    let app = TestApp::spawn_with(&[("MAX_CONNECTIONS_PER_USER", "2")]).await;
    let (mut a1, a2) = (app.ws("alice").await, app.ws("alice").await);
    let mut a3 = app.ws("alice").await;
    assert_eq!(
        a3.recv_close().await,
        (1013, "too many connections for this user (limit 2)".to_string())
    );
    let mut bob = app.ws("bob").await;
    bob.assert_nothing_pending().await;
    a1.assert_nothing_pending().await;
    a2.close().await;
    let mut again = connect_when_free(&app, "alice").await;
    again.assert_nothing_pending().await;
}

/// Over the total cap, any user's connection is refused with 1013.
#[tokio::test]
async fn total_cap_answers_1013() {
    let app = TestApp::spawn_with(&[("MAX_CONNECTIONS", "2")]).await;
    let (_a, _b) = (app.ws("a").await, app.ws("b").await);
    let mut c = app.ws("c").await;
    assert_eq!(
        c.recv_close().await,
        (
            1013,
            "server at its connection limit (2): try again later".to_string()
        )
    );
}

/// At shutdown every connection gets 1001, in batches spread over SHUTDOWN_DRAIN_SECONDS
/// rather than all at once, and the server still stops within the drain time.
#[tokio::test]
async fn shutdown_closes_in_batches() {
    let app = TestApp::spawn_with(&[("SHUTDOWN_DRAIN_SECONDS", "1")]).await;
    let mut clients = Vec::new();
    for i in 0..10 {
        clients.push(app.ws(&format!("u{i}")).await);
    }
    let started = tokio::time::Instant::now();
    let stopping = tokio::spawn(app.stop());
    let mut closed_at = Vec::new();
    for ws in &mut clients {
        let (code, reason) = ws.recv_close().await;
        assert_eq!((code, reason.as_str()), (1001, "server shutting down"));
        closed_at.push(started.elapsed());
    }
    stopping.await.unwrap();
    let (first, last) = (closed_at.iter().min().unwrap(), closed_at.iter().max().unwrap());
    assert!(
        *last - *first >= Duration::from_millis(500),
        "closes were not spread: {closed_at:?}"
    );
    assert!(*last < Duration::from_millis(1800), "drain took {last:?}");
}

/// A text frame whose payload is not UTF-8 breaks the protocol: the server closes with 1007
/// (RFC 6455), and the user's other connections are unaffected.
#[tokio::test]
async fn invalid_utf8_text_closes_with_1007() {
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::protocol::frame::Frame;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
    let app = TestApp::spawn().await;
    let (mut bad, mut other) = (app.ws("u").await, app.ws("u").await);
    let frame = Frame::message(vec![b'{', 0xff, 0xfe, b'}'], OpCode::Data(Data::Text), true);
    bad.send_raw(Message::Frame(frame)).await;
    assert_eq!(
        bad.recv_close().await,
        (1007, "text frame is not valid UTF-8".to_string())
    );
    other.assert_nothing_pending().await;
}

/// Sends texts `range` (8 KB each, one at a time) and returns how long each took to reach
/// `reader`.
async fn latencies(
    sender: &mut WsClient,
    reader: &mut WsClient,
    range: std::ops::Range<usize>,
) -> Vec<Duration> {
    let payload = "x".repeat(8000);
    let mut out = Vec::new();
    for n in range {
        let tag = format!("{n} ");
        let t = tokio::time::Instant::now();
        sender
            .send_json(
                serde_json::json!({"type": "text", "chat_id": "r", "content": format!("{tag}{payload}")}),
            )
            .await;
        let got = reader.recv_json().await;
        assert!(
            got["content"].as_str().unwrap().starts_with(&tag),
            "{}",
            &got["content"].to_string()[..40]
        );
        out.push(t.elapsed());
        let _ = sender.recv_json().await; // the echo
    }
    out
}

/// While one member has stopped reading, the others keep receiving promptly and the server's
/// memory stays bounded: the stalled connection's outbox fills (WS_OUTBOX_FRAMES) and it is
/// closed with 1008, instead of the server buffering the flood (32 MB here) for it.
#[tokio::test]
async fn a_stalled_reader_neither_slows_the_room_nor_grows_memory() {
    use crate::server_process::ServerProcess;
    let vars = [("MAX_CONTENT_LENGTH", "8192"), ("MAX_MESSAGES_PER_ROOM", "10")];
    let (server, app) = ServerProcess::start(&vars).await;
    let (mut sender, mut reader) = (app.ws("sender").await, app.ws("reader").await);
    let join = serde_json::json!({"type": "join", "chat_id": "r"});
    sender.send_json(join.clone()).await;
    assert_eq!(sender.recv_json().await["content"], "sender joined the chat");
    reader.send_json(join).await;
    assert_eq!(reader.recv_json().await["content"], "reader joined the chat");
    assert_eq!(sender.recv_json().await["content"], "reader joined the chat");
    // Baseline latency, nobody stalled.
    let mut base = latencies(&mut sender, &mut reader, 0..200).await;
    let mut stalled = app.ws_small_buffer("stalled").await;
    stalled
        .send_json(serde_json::json!({"type": "join", "chat_id": "r"}))
        .await;
    assert_eq!(reader.recv_json().await["content"], "stalled joined the chat");
    assert_eq!(sender.recv_json().await["content"], "stalled joined the chat");
    let rss_before = server.rss_kib();
    let mut during = latencies(&mut sender, &mut reader, 200..4200).await;
    let grown_kib = server.rss_kib().saturating_sub(rss_before);
    let p99 = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() * 99 / 100]
    };
    let (base_p99, during_p99) = (p99(&mut base), p99(&mut during));
    assert!(
        grown_kib < 16 * 1024,
        "RSS grew by {grown_kib} KiB while 32 MB were sent past a stalled reader"
    );
    assert!(
        during_p99 <= base_p99 * 10 + Duration::from_millis(20),
        "p99 latency {during_p99:?} with a stalled member vs {base_p99:?} without"
    );
    let (_, code) = stalled.recv_until_close().await;
    assert_eq!(code, 1008);
}
