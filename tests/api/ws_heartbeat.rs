//! Heartbeat (WS_TIMEOUT_SECONDS): the server pings; a peer that never answers is closed.

use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{TIMEOUT, TestApp};

/// Opens `/ws/{user}` by hand and returns the socket right after the 101 response, so that
/// nothing answers the server's pings.
async fn raw_upgrade(app: &TestApp, user: &str) -> TcpStream {
    let mut tcp = TcpStream::connect(app.addr).await.unwrap();
    let req = format!(
        "GET /ws/{user} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        app.addr
    );
    tcp.write_all(req.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(
            tokio::time::timeout(TIMEOUT, tcp.read_u8())
                .await
                .unwrap()
                .unwrap(),
        );
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    tcp
}

/// Reads one unmasked server frame: (opcode, payload).
async fn read_frame(tcp: &mut TcpStream) -> (u8, Vec<u8>) {
    let b0 = tokio::time::timeout(TIMEOUT, tcp.read_u8())
        .await
        .expect("no frame in time")
        .unwrap();
    let len = tcp.read_u8().await.unwrap() & 0x7f;
    assert!(len < 126, "control frames are short");
    let mut payload = vec![0; usize::from(len)];
    tcp.read_exact(&mut payload).await.unwrap();
    (b0 & 0x0f, payload)
}

/// A peer that never answers pings gets pinged, then closed with 1008 "heartbeat timeout".
#[tokio::test]
async fn silent_peer_is_closed_with_1008() {
    let app = TestApp::spawn_with(&[("WS_TIMEOUT_SECONDS", "0.2")]).await;
    let mut tcp = raw_upgrade(&app, "ghost").await;
    assert_eq!(read_frame(&mut tcp).await, (0x9, vec![]), "first a ping");
    let (opcode, payload) = read_frame(&mut tcp).await;
    assert_eq!(opcode, 0x8, "then a close");
    assert_eq!(u16::from_be_bytes([payload[0], payload[1]]), 1008);
    assert_eq!(&payload[2..], b"heartbeat timeout: no pong");
}

/// A client that answers pings (as every WebSocket library does) stays connected across
/// several heartbeat rounds.
#[tokio::test]
async fn answering_peer_stays_connected() {
    let app = TestApp::spawn_with(&[("WS_TIMEOUT_SECONDS", "0.1")]).await;
    let mut ws = app.ws("alive").await;
    let mut pings = 0;
    while pings < 4 {
        let msg = tokio::time::timeout(TIMEOUT, ws.stream.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        match msg {
            Message::Ping(_) => pings += 1,
            other => panic!("unexpected frame {other:?}"),
        }
    }
    ws.assert_nothing_pending().await;
    let (status, user) = app.get("/user/alive").await;
    assert_eq!((status, user["is_active"].as_bool()), (200, Some(true)));
}

/// A client that opens a TCP connection and never completes its handshake is dropped within
/// WS_TIMEOUT_SECONDS, and nothing of it reaches the store.
#[tokio::test]
async fn unfinished_handshake_is_dropped_within_the_timeout() {
    let app = TestApp::spawn_with(&[("WS_TIMEOUT_SECONDS", "0.3")]).await;
    let mut tcp = TcpStream::connect(app.addr).await.unwrap();
    tcp.write_all(b"GET /ws/stalled HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n")
        .await
        .unwrap();
    let started = tokio::time::Instant::now();
    let mut rest = Vec::new();
    // EOF or a reset both mean the server dropped it; only the timeout elapsing fails.
    let _ = tokio::time::timeout(TIMEOUT, tcp.read_to_end(&mut rest))
        .await
        .expect("never dropped");
    let waited = started.elapsed();
    assert!(
        waited < std::time::Duration::from_millis(1500),
        "dropped after {waited:?}"
    );
    assert!(
        !String::from_utf8_lossy(&rest).contains("101"),
        "no upgrade happened"
    );
    assert_eq!(app.get("/user/stalled").await.0, 404);
}
