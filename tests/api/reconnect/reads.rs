//! `read` frames: forward-only read positions, receipts to the others, unread counts in the
//! rooms list and positions in the room's details.

use serde_json::{Value, json};

use super::{frames, say};
use crate::helpers::{TestApp, room};

fn read(chat: &str, seq: &Value) -> Value {
    json!({"type": "read", "chat_id": chat, "seq": seq})
}

/// `unread` and `last_message` of `chat` in `user`'s rooms list.
async fn listed(app: &TestApp, user: &str, chat: &str) -> (u64, Value) {
    let (status, rooms) = app.get(&format!("/user/{user}/chats")).await;
    assert_eq!(status, 200, "{rooms}");
    let room = rooms
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == chat)
        .expect("listed")
        .clone();
    (
        room["unread"].as_u64().expect("unread"),
        room["last_message"].clone(),
    )
}

#[tokio::test]
async fn reading_moves_forward_sends_receipts_and_counts_unread() {
    let app = TestApp::spawn().await;
    room(&app, "r", &["alice", "bob"]).await;
    let (mut alice, mut bob) = (app.ws("alice").await, app.ws("bob").await);
    let mut sent = Vec::new();
    for i in 1..=3 {
        sent.push(say(&mut bob, "r", &format!("m{i}")).await);
    }
    assert_eq!(frames(&mut alice, 3).await, sent);
    assert_eq!(listed(&app, "alice", "r").await, (3, sent[2].clone()));
    assert_eq!(
        listed(&app, "bob", "r").await,
        (0, sent[2].clone()),
        "own texts are read"
    );

    alice.send_json(read("r", &sent[1]["seq"])).await;
    let receipt = json!({"type": "receipt", "chat_id": "r", "user_id": "alice", "seq": sent[1]["seq"]});
    assert_eq!(bob.recv_json().await, receipt);
    assert_eq!(listed(&app, "alice", "r").await.0, 1);
    let (_, details) = app.get("/chat/r").await;
    let positions = json!({"alice": sent[1]["seq"], "bob": sent[2]["seq"]});
    assert_eq!(details["read_positions"], positions);

    // Backwards or again: nothing changes, nobody is told.
    alice.send_json(read("r", &sent[0]["seq"])).await;
    alice.send_json(read("r", &sent[1]["seq"])).await;
    alice.assert_nothing_pending().await;
    bob.assert_nothing_pending().await;
    assert_eq!(listed(&app, "alice", "r").await.0, 1);

    alice.send_json(read("r", &sent[2]["seq"])).await;
    assert_eq!(bob.recv_json().await["seq"], sent[2]["seq"]);
    assert_eq!(listed(&app, "alice", "r").await.0, 0);
    let newer = say(&mut bob, "r", "m4").await;
    assert_eq!(listed(&app, "alice", "r").await, (1, newer));
    assert!(
        app.history("r").await.iter().all(|m| m["type"] != "receipt"),
        "receipts are not stored"
    );
}

/// A join reads everything before it; sending reads everything up to the sent text.
#[tokio::test]
async fn joining_and_sending_read_up_to_there() {
    let app = TestApp::spawn().await;
    let mut bob = app.ws("bob").await;
    for i in 0..4 {
        say(&mut bob, "r", &format!("m{i}")).await;
    }
    let mut alice = app.ws("alice").await;
    alice.send_json(json!({"type": "join", "chat_id": "r"})).await;
    let joined = alice.recv_json().await;
    assert_eq!(listed(&app, "alice", "r").await, (0, joined));
    say(&mut bob, "r", "after").await;
    say(&mut bob, "r", "after 2").await;
    frames(&mut alice, 2).await;
    assert_eq!(listed(&app, "alice", "r").await.0, 2);
    say(&mut alice, "r", "mine").await;
    assert_eq!(listed(&app, "alice", "r").await.0, 0);
}

/// Refusals: past the newest message, a room the user is not in, a room that does not exist.
#[tokio::test]
async fn read_refusals_are_precise() {
    let app = TestApp::spawn().await;
    room(&app, "r", &["alice"]).await;
    room(&app, "other", &["bob"]).await;
    let mut alice = app.ws("alice").await;
    let m = say(&mut alice, "r", "hi").await;
    let past = m["seq"].as_u64().unwrap() + 1;
    alice.send_json(read("r", &json!(past))).await;
    alice
        .expect_error(&format!("seq {past} is past the newest message of chat r"))
        .await;
    alice.send_json(read("other", &json!(1))).await;
    alice
        .expect_error("You are not a participant of chat other")
        .await;
    alice.send_json(read("ghost", &json!(1))).await;
    alice.expect_error("Chat not found").await;
}
