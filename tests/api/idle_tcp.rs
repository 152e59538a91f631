//! Idle TCP connections (issue 19): one that sends nothing, part of a request, or nothing
//! after a request is dropped within `WS_TIMEOUT_SECONDS`; a WebSocket that answers pings is
//! not, and a silent connection does not hold up shutdown.

use std::io::ErrorKind;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{TIMEOUT, TestApp};

/// The server's `WS_TIMEOUT_SECONDS` in these tests.
const BOUND: Duration = Duration::from_secs(1);
/// How late a drop may come (a busy 2-core machine runs the suite in parallel).
const SLACK: Duration = Duration::from_millis(750);
/// How early: the server's clock starts when it accepts, just after our connect returns.
const EARLY: Duration = Duration::from_millis(50);

async fn spawn() -> TestApp {
    TestApp::spawn_with(&[("WS_TIMEOUT_SECONDS", "1")]).await
}

/// Reads until the server ends the connection (end of stream or a reset) and returns what it
/// sent; fails if it is still open after `BOUND + SLACK` from `since`.
async fn until_dropped(tcp: &mut TcpStream, since: Instant) -> (Vec<u8>, Duration) {
    let mut got = Vec::new();
    let read = tokio::time::timeout_at(since + BOUND + SLACK, tcp.read_to_end(&mut got))
        .await
        .unwrap_or_else(|_| panic!("still open {:?} after connecting", BOUND + SLACK));
    match read {
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        Err(e) => panic!("unexpected read error {e}"),
    }
    (got, since.elapsed())
}

fn assert_about_the_bound(waited: Duration) {
    assert!(
        waited >= BOUND - EARLY && waited <= BOUND + SLACK,
        "dropped after {waited:?}, want about {BOUND:?}"
    );
}

/// A connection that never sends a byte is closed, without a byte from the server, about
/// `WS_TIMEOUT_SECONDS` after connecting (it used to stay open for good).
#[tokio::test]
async fn silent_connection_is_closed_at_the_timeout() {
    let app = spawn().await;
    let mut tcp = TcpStream::connect(app.addr).await.unwrap();
    let since = Instant::now();
    let (got, waited) = until_dropped(&mut tcp, since).await;
    assert_eq!(got, b"", "the server sent {:?}", String::from_utf8_lossy(&got));
    assert_about_the_bound(waited);
    assert_eq!(app.get("/health").await.0, 200, "the server still serves");
}

/// A request whose headers never end is dropped about `WS_TIMEOUT_SECONDS` after its first
/// bytes, with nothing sent back.
#[tokio::test]
async fn partial_request_is_dropped_at_the_timeout() {
    let app = spawn().await;
    let mut tcp = TcpStream::connect(app.addr).await.unwrap();
    tcp.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let since = Instant::now();
    let (got, waited) = until_dropped(&mut tcp, since).await;
    assert_eq!(got, b"", "the server sent {:?}", String::from_utf8_lossy(&got));
    assert_about_the_bound(waited);
}

/// A keep-alive connection left idle after a whole request is answered, then dropped about
/// `WS_TIMEOUT_SECONDS` after the answer.
#[tokio::test]
async fn idle_keep_alive_is_dropped_at_the_timeout() {
    let app = spawn().await;
    let mut tcp = TcpStream::connect(app.addr).await.unwrap();
    tcp.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut head = [0u8; 15];
    tokio::time::timeout(TIMEOUT, tcp.read_exact(&mut head))
        .await
        .expect("no answer")
        .unwrap();
    let since = Instant::now();
    assert_eq!(&head, b"HTTP/1.1 200 OK");
    let (_rest_of_answer, waited) = until_dropped(&mut tcp, since).await;
    assert_about_the_bound(waited);
}

/// A WebSocket that answers the server's pings stays open for three times
/// `WS_TIMEOUT_SECONDS`: the bound is on the handshake, not on the connection.
#[tokio::test]
async fn websocket_answering_pings_outlives_the_timeout() {
    let app = spawn().await;
    let mut ws = app.ws("patient").await;
    let until = Instant::now() + 3 * BOUND;
    let mut pings = 0;
    // Reading answers the pings (tungstenite queues each pong and sends it on the next read).
    while let Ok(msg) = tokio::time::timeout_at(until, ws.stream.next()).await {
        match msg.expect("stream ended").expect("websocket error") {
            Message::Ping(_) => pings += 1,
            other => panic!("unexpected frame {other:?}"),
        }
    }
    assert!(pings >= 2, "{pings} pings in {:?}", 3 * BOUND);
    ws.assert_nothing_pending().await;
}

/// A connection waiting for its first byte has no request to finish: shutdown drops it at once
/// instead of waiting for `WS_TIMEOUT_SECONDS` (here 30 s).
#[tokio::test]
async fn silent_connection_does_not_delay_shutdown() {
    let app = TestApp::spawn_with(&[("WS_TIMEOUT_SECONDS", "30")]).await;
    let mut tcp = TcpStream::connect(app.addr).await.unwrap();
    // Connections are accepted in order: once this request is answered, the silent one is
    // accepted and waiting.
    assert_eq!(app.get("/health").await.0, 200);
    let since = Instant::now();
    tokio::time::timeout(Duration::from_secs(2), app.stop())
        .await
        .expect("shutdown waited for the silent connection");
    let mut got = Vec::new();
    let read = tokio::time::timeout(TIMEOUT, tcp.read_to_end(&mut got))
        .await
        .expect("silent connection still open after shutdown");
    assert!(
        read.is_ok() || read.is_err_and(|e| e.kind() == ErrorKind::ConnectionReset),
        "closed"
    );
    assert_eq!(got, b"");
    assert!(since.elapsed() < Duration::from_secs(2));
}

/// An HTTP/2 client (h2c, prior knowledge) that sends the preface and then nothing: the
/// server's keep-alive ping goes unanswered and the connection is dropped within two
/// `WS_TIMEOUT_SECONDS` (it used to stay open for good, and to hold up shutdown).
#[tokio::test]
async fn silent_http2_connection_is_dropped() {
    let app = spawn().await;
    let mut tcp = TcpStream::connect(app.addr).await.unwrap();
    tcp.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").await.unwrap();
    let since = Instant::now();
    let mut got = Vec::new();
    let read = tokio::time::timeout_at(since + 2 * BOUND + SLACK, tcp.read_to_end(&mut got)).await;
    match read {
        Ok(Ok(_)) => {}
        Ok(Err(e)) if e.kind() == ErrorKind::ConnectionReset => {}
        Ok(Err(e)) => panic!("unexpected read error {e}"),
        Err(_) => panic!("still open {:?} after the preface", 2 * BOUND + SLACK),
    }
    assert!(
        since.elapsed() >= BOUND - EARLY,
        "dropped after {:?}",
        since.elapsed()
    );
    assert_eq!(app.get("/health").await.0, 200, "the server still serves");
}
