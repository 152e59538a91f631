//! Delivery across instances: texts and typing cross between instances (typing never back to
//! the sender), every connection and instance agrees on one order per room, and history read
//! through an instance no connection ties to the room follows what the others store.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use futures_util::future::join_all;
use serde_json::{Value, json};

use super::{channels, room_channel, wait_subscriptions};
use crate::helpers::{TIMEOUT, TestApp, WsClient, assert_message, room, text};

/// A text sent on A reaches B's participant as the frame identical to A's echo, and back.
#[tokio::test]
async fn text_crosses_both_ways() {
    let (a, b) = TestApp::spawn_pair(&[]).await;
    room(&a, "r", &["alice", "bob"]).await;
    let (mut alice, mut bob) = (a.ws("alice").await, b.ws("bob").await);

    alice.send_json(text("r", "from A")).await;
    let first = alice.recv_json().await;
    assert_message(&first, "text", "r", "alice", "from A");
    assert_eq!(bob.recv_json().await, first);

    bob.send_json(text("r", "from B")).await;
    let second = bob.recv_json().await;
    assert_message(&second, "text", "r", "bob", "from B");
    assert_eq!(alice.recv_json().await, second);

    // Nothing else (no duplicate) before a later message of the room, on either side.
    alice.send_json(text("r", "marker")).await;
    let marker = alice.recv_json().await;
    assert_message(&marker, "text", "r", "alice", "marker");
    assert_eq!(bob.recv_json().await, marker);

    let stored = vec![first, second, marker];
    assert_eq!(a.history("r").await, stored);
    assert_eq!(b.history("r").await, stored);
}

/// Typing on one instance reaches the other participant on the other instance, never the
/// sender's own connections (proved by the sender's next message coming first).
#[tokio::test]
async fn typing_crosses_and_skips_the_sender() {
    let (a, b) = TestApp::spawn_pair(&[]).await;
    room(&a, "r", &["alice", "bob"]).await;
    let (mut alice, mut bob) = (a.ws("alice").await, b.ws("bob").await);

    typing_round(&mut alice, "alice", &mut bob).await;
    typing_round(&mut bob, "bob", &mut alice).await;
    // Typing is never stored.
    let history = a.history("r").await;
    assert_eq!(history.len(), 2);
    assert!(history.iter().all(|m| m["type"] == "text"), "{history:?}");
}

/// `typist` types: `other` gets the event; `typist`'s next frame is the echo of its
/// following message (so it never got its own event), which `other` gets next.
async fn typing_round(typist: &mut WsClient, name: &str, other: &mut WsClient) {
    typist
        .send_json(json!({"type": "typing", "chat_id": "r", "content": "typing"}))
        .await;
    let event = other.recv_json().await;
    assert_message(&event, "typing", "r", name, "typing");
    typist.send_json(text("r", "after typing")).await;
    let echo = typist.recv_json().await;
    assert_message(&echo, "text", "r", name, "after typing");
    assert_eq!(other.recv_json().await, echo);
}

/// Reads `n` frames.
async fn collect(ws: &mut WsClient, n: usize) -> Vec<Value> {
    let mut frames = Vec::with_capacity(n);
    for _ in 0..n {
        frames.push(ws.recv_json().await);
    }
    frames
}

/// Two senders on each instance and a listener on each, all in one room, 50 messages per
/// sender sent at once: every connection and the history through either instance hold the
/// same 200 messages in the same order, with strictly increasing timestamps.
#[tokio::test]
async fn concurrent_senders_on_both_instances_agree_on_one_order() {
    const EACH: usize = 50;
    let senders = ["s1", "s2", "s3", "s4"];
    let total = EACH * senders.len();
    let (a, b) = TestApp::spawn_pair(&[]).await;
    room(&a, "r", &["s1", "s2", "s3", "s4", "la", "lb"]).await;
    let mut conns = Vec::new();
    for (name, app) in [
        ("s1", &a),
        ("s2", &a),
        ("s3", &b),
        ("s4", &b),
        ("la", &a),
        ("lb", &b),
    ] {
        conns.push((name, app.ws(name).await));
    }

    let runs = conns.into_iter().map(|(name, mut ws)| async move {
        if senders.contains(&name) {
            for i in 0..EACH {
                ws.send_json(text("r", &format!("{name}-{i}"))).await;
            }
        }
        (name, collect(&mut ws, total).await)
    });
    let seen = join_all(runs).await;

    let reference = seen[0].1.clone();
    for (name, frames) in &seen {
        assert_eq!(frames, &reference, "{name} saw another order");
    }
    assert_eq!(a.history("r").await, reference);
    assert_eq!(b.history("r").await, reference);

    // Each sender's messages appear once each, in the order sent; the order is total.
    let mut next: BTreeMap<&str, usize> = senders.iter().map(|s| (*s, 0)).collect();
    let mut ids = BTreeSet::new();
    for m in &reference {
        let author = m["user_id"].as_str().unwrap();
        let i = next.get_mut(author).expect("a sender's message");
        assert_message(m, "text", "r", author, &format!("{author}-{i}"));
        *i += 1;
        assert!(ids.insert(m["id"].as_str().unwrap().to_string()), "duplicate id");
    }
    assert!(next.values().all(|n| *n == EACH), "{next:?}");
    for pair in reference.windows(2) {
        let (t0, t1) = (pair[0]["timestamp"].as_str(), pair[1]["timestamp"].as_str());
        assert!(t0 < t1, "timestamps not strictly increasing: {t0:?} then {t1:?}");
    }
}

/// History read through an instance that no connection ties to the room: the instance keeps
/// the room's recent messages and follows the room for reading, so what another instance
/// stores afterwards reaches its history (as it would reach its clients), in order, and the
/// reads it then serves itself agree with the other instance's.
#[tokio::test]
async fn history_read_elsewhere_follows_the_room() {
    let (a, b) = TestApp::spawn_pair(&[]).await;
    let prefix = a.deployment.prefix().to_string();
    room(&a, "r", &["alice"]).await;
    assert_eq!(b.history("r").await, Vec::<Value>::new());
    // Reading made B follow the room: its channel has one subscriber, B.
    wait_subscriptions(&a, &channels(&[(room_channel(&prefix, "r"), 1)])).await;

    let mut alice = a.ws("alice").await;
    let mut sent = Vec::new();
    for i in 0..3 {
        alice.send_json(text("r", &format!("m{i}"))).await;
        sent.push(alice.recv_json().await);
    }
    // B's history converges on what was sent, in order (bounded wait: it follows pub/sub).
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let got = b.history("r").await;
        if got == sent {
            break;
        }
        assert!(
            sent.starts_with(&got),
            "B's history is not a prefix of what was sent: {got:?}"
        );
        assert!(
            tokio::time::Instant::now() < deadline,
            "B's history stayed at {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Pages, with and without `before`, agree between the instances.
    let page = async |app: &TestApp, q: &str| app.get(&format!("/chat/r/messages?{q}")).await;
    let before = sent[2]["timestamp"].as_str().unwrap().to_string();
    for q in ["limit=2".to_string(), format!("limit=1&before={before}")] {
        assert_eq!(page(&b, &q).await, page(&a, &q).await);
    }
    assert_eq!(page(&b, "limit=2").await, (200, json!(sent[1..])));
}
