//! HTTP user endpoints: creation, details, a user's rooms, and presence driven by WebSocket.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::helpers::{TIMEOUT, TestApp, WsClient};
use crate::http_chats::{is_timestamp, is_uuid_v7};

fn user(id: &str, username: &str, email: Value, metadata: Value) -> Value {
    json!({"id": id, "username": username, "email": email, "is_active": false,
        "last_seen": null, "metadata": metadata})
}

/// Polls `GET /user/{id}` until `done` holds (bounded by `TIMEOUT`); returns that body.
async fn poll_user(app: &TestApp, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let (status, body) = app.get(&format!("/user/{id}")).await;
        assert_eq!(status, 200, "{body}");
        if done(&body) {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition never held: {body}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Closes `ws` and waits until the server has closed the TCP connection, which it does only
/// after the session has ended and handed its presence update to the store.
async fn close_fully(mut ws: WsClient) {
    ws.stream.close(None).await.expect("close frame sent");
    tokio::time::timeout(TIMEOUT, async { while ws.stream.next().await.is_some() {} })
        .await
        .expect("server did not close the connection");
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// `POST /user` answers 201 with the full user, and `GET /user/{id}` returns the same.
#[tokio::test]
async fn create_user_returns_the_full_user() {
    let app = TestApp::spawn().await;
    let body = json!({"id": "alice", "username": "Alice A.", "email": "alice@example.com",
        "metadata": {"lang": "en", "n": [1]}});
    let want = user(
        "alice",
        "Alice A.",
        json!("alice@example.com"),
        json!({"lang": "en", "n": [1]}),
    );
    assert_eq!(app.post_json("/user", body).await, (201, want.clone()));
    assert_eq!(app.get("/user/alice").await, (200, want));
}

/// Omitted fields default: no email, inactive, never seen, empty metadata.
#[tokio::test]
async fn create_user_defaults() {
    let app = TestApp::spawn().await;
    let want = user("bob", "Bob", Value::Null, json!({}));
    assert_eq!(
        app.post_json("/user", json!({"id": "bob", "username": "Bob"}))
            .await,
        (201, want)
    );
}

/// Without an `id` the user gets a UUID v7, under which it can be fetched.
#[tokio::test]
async fn create_user_without_id_assigns_a_uuid_v7() {
    let app = TestApp::spawn().await;
    let (status, body) = app.post_json("/user", json!({"username": "Carol"})).await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_str().expect("id is a string");
    assert!(is_uuid_v7(id), "{id}");
    assert_eq!(body, user(id, "Carol", Value::Null, json!({})));
    assert_eq!(app.get(&format!("/user/{id}")).await, (200, body));
}

/// Creating a user whose id exists (created by `POST /user` or by connecting) is a 409.
#[tokio::test]
async fn create_user_with_a_taken_id_is_409() {
    let app = TestApp::spawn().await;
    let conflict = (409, json!({"detail": "User already exists"}));
    assert_eq!(
        app.post_json("/user", json!({"id": "u1", "username": "One"}))
            .await
            .0,
        201
    );
    assert_eq!(
        app.post_json("/user", json!({"id": "u1", "username": "Two"}))
            .await,
        conflict
    );
    assert_eq!(app.get("/user/u1").await.1["username"], "One");
    let _ws = app.ws("u2").await;
    assert_eq!(
        app.post_json("/user", json!({"id": "u2", "username": "Two"}))
            .await,
        conflict
    );
}

/// Emails need exactly one `@` with text on both sides, no spaces, at most 254 characters.
#[tokio::test]
async fn create_user_validates_email() {
    let app = TestApp::spawn().await;
    let detail = "Invalid email: expected one @ with text on both sides, at most 254 characters";
    let too_long = format!("{}@x.y", "a".repeat(251));
    for bad in ["", "user", "@example.com", "user@", "a@b@c", "a b@c", &too_long] {
        let got = app
            .post_json("/user", json!({"id": "u1", "username": "U", "email": bad}))
            .await;
        assert_eq!(got, (400, json!({"detail": detail})), "{bad:?}");
    }
    let longest = format!("{}@x.y", "a".repeat(250));
    let got = app
        .post_json("/user", json!({"id": "u1", "username": "U", "email": longest}))
        .await;
    assert_eq!(got, (201, user("u1", "U", json!(longest), json!({}))));
}

/// A username must be 1 to 128 characters and not blank; 128 characters fit.
#[tokio::test]
async fn create_user_validates_username() {
    let app = TestApp::spawn().await;
    let detail = "Invalid username: must be 1 to 128 characters, not blank";
    for bad in [String::new(), " \t ".into(), "é".repeat(129)] {
        let got = app.post_json("/user", json!({"id": "u1", "username": bad})).await;
        assert_eq!(got, (400, json!({"detail": detail})), "{bad:?}");
    }
    let longest = "é".repeat(128);
    let got = app
        .post_json("/user", json!({"id": "u1", "username": longest}))
        .await;
    assert_eq!(got, (201, user("u1", &longest, Value::Null, json!({}))));
}

/// Ids are checked: `system` is reserved, other ids need the contract's alphabet; bodies are strict.
#[tokio::test]
async fn create_user_rejects_bad_ids_and_bodies() {
    let app = TestApp::spawn().await;
    let cases = [
        (
            json!({"id": "system", "username": "S"}),
            r#"Invalid user_id: "system" is reserved"#,
        ),
        (
            json!({"id": "a/b", "username": "S"}),
            "Invalid user_id: must be 1 to 128 characters of A-Z a-z 0-9 . _ - : @",
        ),
        (
            json!({"id": "u1", "username": "S", "mail": "a@b"}),
            "Invalid request data: unknown field `mail`, expected one of `id`, `username`, `email`, `metadata` at line 1 column 17",
        ),
        (
            json!({"id": "u1", "username": 7}),
            "Invalid request data: invalid type: integer `7`, expected a string at line 1 column 23",
        ),
    ];
    for (body, detail) in cases {
        assert_eq!(
            app.post_json("/user", body.clone()).await,
            (400, json!({"detail": detail})),
            "{body}"
        );
    }
    assert_eq!(
        app.get("/user/system").await,
        (404, json!({"detail": "User not found"}))
    );
}

/// `GET /user/{id}` is a 404 for an unknown user and a 400 for an invalid id.
#[tokio::test]
async fn get_user_unknown_is_404_and_invalid_is_400() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.get("/user/nobody").await,
        (404, json!({"detail": "User not found"}))
    );
    let bad = json!({"detail": "Invalid user_id: must be 1 to 128 characters of A-Z a-z 0-9 . _ - : @"});
    assert_eq!(
        app.get(&format!("/user/{}", "u".repeat(129))).await,
        (400, bad.clone())
    );
    assert_eq!(app.get("/user/bad!id/chats").await, (400, bad));
}

/// A user's rooms are its current rooms, as full room objects sorted by id (with its unread
/// counts and each room's newest message).
#[tokio::test]
async fn user_chats_lists_full_rooms_sorted_by_id() {
    let app = TestApp::spawn().await;
    let mut rooms = Vec::new();
    for (id, members) in [
        ("c2", json!(["u1"])),
        ("c1", json!(["u1", "u2"])),
        ("c3", json!(["u2"])),
    ] {
        let (status, room) = app
            .post_json("/chat", json!({"id": id, "name": id, "participants": members}))
            .await;
        assert_eq!(status, 201, "{room}");
        rooms.push(room);
    }
    // Listed with the user's unread count and the room's newest message (none yet).
    for room in &mut rooms {
        room["unread"] = json!(0);
        room["last_message"] = Value::Null;
    }
    assert_eq!(
        app.get("/user/u1/chats").await,
        (200, json!([rooms[1], rooms[0]]))
    );
    assert_eq!(
        app.post_json("/chat/c3/participants", json!({"user_id": "u1"}))
            .await
            .0,
        200
    );
    // c3 as listed: u1's join notice is its newest message, and u1 has read up to it.
    let (_, mut c3) = app.get("/chat/c3").await;
    let (_, page) = app.get("/chat/c3/messages").await;
    c3.as_object_mut().unwrap().remove("read_positions");
    c3["unread"] = json!(0);
    c3["last_message"] = page[0].clone();
    assert_eq!(
        app.get("/user/u1/chats").await,
        (200, json!([rooms[1], rooms[0], c3]))
    );
}

/// A known user in no room has an empty list; an unknown user is a 404.
#[tokio::test]
async fn user_chats_empty_and_unknown() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.post_json("/user", json!({"id": "u1", "username": "U"}))
            .await
            .0,
        201
    );
    assert_eq!(app.get("/user/u1/chats").await, (200, json!([])));
    assert_eq!(
        app.get("/user/u9/chats").await,
        (404, json!({"detail": "User not found"}))
    );
}

/// While a WebSocket is open the user is active; `last_seen` stays null until it closes.
#[tokio::test]
async fn open_websocket_makes_the_user_active() {
    let app = TestApp::spawn().await;
    let _ws = app.ws("u1").await;
    let want = json!({"id": "u1", "username": "u1", "email": null, "is_active": true,
        "last_seen": null, "metadata": {}});
    assert_eq!(app.get("/user/u1").await, (200, want));
}

/// When the only connection closes the user turns inactive and `last_seen` is the close time.
#[tokio::test]
async fn closing_the_last_websocket_sets_inactive_and_last_seen() {
    let app = TestApp::spawn().await;
    let ws = app.ws("u1").await;
    let before = now();
    ws.close().await;
    let got = poll_user(&app, "u1", |u| u["is_active"] == false).await;
    let seen = got["last_seen"].as_str().expect("last_seen is set").to_string();
    assert!(is_timestamp(&seen) && before <= seen && seen <= now(), "{seen}");
    let want = json!({"id": "u1", "username": "u1", "email": null, "is_active": false,
        "last_seen": seen, "metadata": {}});
    assert_eq!(got, want);
}

/// With two connections, closing one keeps the user active; closing both makes it inactive.
///
/// The first close is fully processed before the check: the server closes the TCP connection
/// only after handing that close to presence, and a sentinel user's later close is then
/// observed too, so a presence flag that ignored the count would already read false.
#[tokio::test]
async fn closing_one_of_two_connections_keeps_the_user_active() {
    let app = TestApp::spawn().await;
    let (a, mut b) = (app.ws("u1").await, app.ws("u1").await);
    close_fully(a).await;
    close_fully(app.ws("sentinel").await).await;
    poll_user(&app, "sentinel", |u| u["is_active"] == false).await;
    let (status, got) = app.get("/user/u1").await;
    assert_eq!(
        (status, &got["is_active"], &got["last_seen"]),
        (200, &json!(true), &Value::Null)
    );
    b.assert_nothing_pending().await;
    close_fully(b).await;
    let got = poll_user(&app, "u1", |u| u["is_active"] == false).await;
    assert!(
        is_timestamp(got["last_seen"].as_str().expect("last_seen is set")),
        "{got}"
    );
}
