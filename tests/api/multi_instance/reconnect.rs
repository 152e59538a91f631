//! Reconnect semantics across instances: a client resumes on the other instance while both
//! keep posting and sees every message once, in order; a retry on the other instance answers
//! the original; receipts and a typer's end cross instances.

use serde_json::{Value, json};

use crate::helpers::{TestApp, WsClient, room, text};
use crate::reconnect::position;

/// Sends `n` texts from `ws`, each after the echo of the one before.
async fn post(mut ws: WsClient, who: &str, n: usize) {
    for i in 0..n {
        ws.send_json(text("r", &format!("{who} {i}"))).await;
        loop {
            let f = ws.recv_json().await;
            if f["user_id"] == who && f["content"] == format!("{who} {i}") {
                break;
            }
        }
    }
}

/// Carol reads on A while Alice (on A) and Bob (on B) post 40 texts each; after 15 she drops
/// and resumes on B: what she got before and after, resumed frame aside, is the history.
#[tokio::test]
async fn resume_on_the_other_instance_while_both_post() {
    let (a, b) = TestApp::spawn_pair(&[]).await;
    room(&a, "r", &["alice", "bob", "carol"]).await;
    let mut carol = a.ws("carol").await;
    let alice = tokio::spawn(post(a.ws("alice").await, "alice", 40));
    let bob = tokio::spawn(post(b.ws("bob").await, "bob", 40));
    let mut got: Vec<Value> = Vec::new();
    while got.len() < 15 {
        got.push(carol.recv_json().await);
    }
    carol.close().await;
    let mut back = b.ws_at("/ws/carol?resume=true").await;
    back.send_json(json!({"type": "resume", "positions": {"r": position(&got[14])}}))
        .await;
    alice.await.unwrap();
    bob.await.unwrap();
    let history = a.history("r").await;
    assert_eq!(history.len(), 80);
    let last = history[79]["seq"].clone();
    let mut resumed = Vec::new();
    while got.last().map(|m| &m["seq"]) != Some(&last) {
        let f = back.recv_json().await;
        if f["type"] == "resumed" {
            resumed.push(f);
        } else {
            got.push(f);
        }
    }
    assert_eq!(resumed.len(), 1, "{resumed:?}");
    assert_eq!(resumed[0]["recovered"], true);
    let seqs = |ms: &[Value]| ms.iter().map(|m| m["seq"].as_u64().unwrap()).collect::<Vec<_>>();
    assert_eq!(seqs(&got), seqs(&history), "every message once, in stored order");
    assert_eq!(got, history);
    back.assert_nothing_pending().await;
}

/// A retry with the same `client_msg_id` on the other instance answers the original.
#[tokio::test]
async fn a_retry_on_the_other_instance_answers_the_original() {
    let (a, b) = TestApp::spawn_pair(&[]).await;
    room(&a, "r", &["alice"]).await;
    let keyed = json!({"type": "text", "chat_id": "r", "content": "once", "client_msg_id": "k1"});
    let mut on_a = a.ws("alice").await;
    on_a.send_json(keyed.clone()).await;
    let original = on_a.recv_json().await;
    let mut on_b = b.ws("alice").await;
    on_b.send_json(keyed).await;
    assert_eq!(on_b.recv_json().await, original);
    assert_eq!(b.history("r").await, [original]);
}

/// A receipt made on A reaches B; a typer on B who disconnects is stopped for A.
#[tokio::test]
async fn receipts_and_typing_ends_cross_instances() {
    let (a, b) = TestApp::spawn_pair(&[("TYPING_TIMEOUT_SECONDS", "60")]).await;
    room(&a, "r", &["alice", "bob"]).await;
    let (mut alice, mut bob) = (a.ws("alice").await, b.ws("bob").await);
    bob.send_json(text("r", "hello")).await;
    let m = bob.recv_json().await;
    assert_eq!(alice.recv_json().await, m);
    alice
        .send_json(json!({"type": "read", "chat_id": "r", "seq": m["seq"]}))
        .await;
    let receipt = json!({"type": "receipt", "chat_id": "r", "user_id": "alice", "seq": m["seq"]});
    assert_eq!(bob.recv_json().await, receipt);
    bob.send_json(json!({"type": "typing", "chat_id": "r", "content": "typing"}))
        .await;
    assert_eq!(alice.recv_json().await["content"], "typing");
    bob.close().await;
    let stopped = alice.recv_json().await;
    assert_eq!(
        (stopped["type"].as_str(), stopped["content"].as_str()),
        (Some("typing"), Some("stopped"))
    );
    assert_eq!(stopped["user_id"], "bob");
}
