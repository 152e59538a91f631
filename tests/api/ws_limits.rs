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
