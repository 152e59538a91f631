//! HTTP room endpoints: history paging, room details, room creation and participants.

use serde_json::{Value, json};

use crate::helpers::TestApp;

/// True when `s` is the contract's wire time format `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
pub(crate) fn is_timestamp(s: &str) -> bool {
    s.len() == 27
        && s.bytes().enumerate().all(|(i, c)| match i {
            4 | 7 => c == b'-',
            10 => c == b'T',
            13 | 16 => c == b':',
            19 => c == b'.',
            26 => c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

/// True when `s` is a lowercase hyphenated UUID of version 7 (RFC 9562 variant).
pub(crate) fn is_uuid_v7(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            14 => c == b'7',
            19 => matches!(c, b'8' | b'9' | b'a' | b'b'),
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(&c),
        })
}

/// `author` sends `n` texts to `c1`; returns every stored message as delivered (join notice first).
async fn seed(app: &TestApp, n: usize) -> Vec<Value> {
    let mut ws = app.ws("author").await;
    for i in 0..n {
        ws.send_json(json!({"type": "text", "content": format!("m{i}"), "chat_id": "c1"}))
            .await;
    }
    let mut all = vec![ws.recv_json().await];
    assert_eq!(all[0]["content"], "author joined the chat");
    for i in 0..n {
        all.push(ws.recv_json().await);
        assert_eq!(all[i + 1]["content"], format!("m{i}"));
    }
    all
}

fn ts(m: &Value) -> &str {
    m["timestamp"].as_str().expect("timestamp is a string")
}

/// A room as `GET /chat/{id}` shows it when nobody has read anything yet.
fn details(room: &Value) -> Value {
    let mut got = room.clone();
    got["read_positions"] = json!({});
    got
}

/// Asserts `m` is exactly the stored system message `content` in `chat`.
fn assert_system(m: &Value, chat: &str, content: &str) {
    crate::helpers::assert_message(m, "system", chat, "system", content);
}

/// Creates a room; returns the 201 body after checking its `created_at` format.
async fn create(app: &TestApp, body: Value) -> Value {
    let (status, room) = app.post_json("/chat", body).await;
    assert_eq!(status, 201, "{room}");
    let created_at = room["created_at"].as_str().expect("created_at is a string");
    assert!(is_timestamp(created_at), "{room}");
    room
}

/// Creates room `c1` named `R` with these participants.
async fn room_with(app: &TestApp, members: &[&str]) -> Value {
    create(app, json!({"id": "c1", "name": "R", "participants": members})).await
}

fn with_participants(room: &Value, participants: &[&str]) -> Value {
    let mut room = room.clone();
    room["participants"] = json!(participants);
    room
}

fn detail(status: u16, detail: &str) -> (u16, Value) {
    (status, json!({ "detail": detail }))
}

async fn add(app: &TestApp, chat: &str, user: &str) -> (u16, Value) {
    let path = format!("/chat/{chat}/participants");
    app.post_json(&path, json!({ "user_id": user })).await
}

async fn history(app: &TestApp, query: &str) -> Vec<Value> {
    let (status, body) = app.get(&format!("/chat/c1/messages{query}")).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_value(body).expect("history is an array")
}

const BAD_BEFORE: &str = "Invalid before: expected an ISO 8601 timestamp such as 2024-01-01T00:00:00 or 2024-01-01T00:00:00.000000Z";
const BAD_CHAT: &str = "Invalid chat_id: must be 1 to 128 characters of A-Z a-z 0-9 . _ - : @";

/// Without `limit`, history is the newest 50 messages, oldest first.
#[tokio::test]
async fn history_defaults_to_the_newest_50_oldest_first() {
    let app = TestApp::spawn().await;
    let all = seed(&app, 55).await;
    assert_eq!(history(&app, "").await, all[6..]);
}

/// `limit` 1 and 1000 are accepted: the newest message, and everything there is.
#[tokio::test]
async fn history_limit_bounds_are_accepted() {
    let app = TestApp::spawn().await;
    let all = seed(&app, 3).await;
    assert_eq!(history(&app, "?limit=1").await, all[3..]);
    assert_eq!(history(&app, "?limit=1000").await, all);
}

/// `limit` outside 1..=1000 or not an integer is a 400 naming the field.
#[tokio::test]
async fn history_rejects_bad_limits() {
    let app = TestApp::spawn().await;
    seed(&app, 1).await;
    for bad in ["0", "1001", "-1", "abc", "1.5", ""] {
        let got = app.get(&format!("/chat/c1/messages?limit={bad}")).await;
        let want = detail(400, "Invalid limit: must be an integer from 1 to 1000");
        assert_eq!(got, want, "limit={bad}");
    }
}

/// `before` in Z, naive (UTC) and offset forms names the same instant.
#[tokio::test]
async fn history_before_accepts_zulu_naive_and_offset_forms() {
    let app = TestApp::spawn().await;
    let all = seed(&app, 4).await;
    let zulu = ts(&all[3]);
    let offset = chrono::DateTime::parse_from_rfc3339(zulu)
        .unwrap()
        .with_timezone(&chrono::FixedOffset::east_opt(2 * 3600).unwrap())
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, false);
    assert!(
        offset.ends_with("+02:00") && !offset.starts_with(&zulu[..19]),
        "{offset}"
    );
    for before in [zulu, zulu.trim_end_matches('Z'), &offset.replace('+', "%2B")] {
        assert_eq!(
            history(&app, &format!("?before={before}")).await,
            all[..3],
            "{before}"
        );
    }
    assert!(history(&app, "?before=2024-01-01T00:00:00").await.is_empty());
    assert_eq!(history(&app, "?before=2999-01-01T00:00:00").await, all);
}

/// `before` excludes the message stamped exactly then; `limit` takes the newest older ones.
#[tokio::test]
async fn history_before_is_strict_and_returns_the_newest_older_oldest_first() {
    let app = TestApp::spawn().await;
    let all = seed(&app, 6).await;
    let got = history(&app, &format!("?before={}&limit=2", ts(&all[5]))).await;
    assert_eq!(got, all[3..5]);
}

/// An unparseable `before` is a 400 naming the field and the accepted forms.
#[tokio::test]
async fn history_rejects_bad_before() {
    let app = TestApp::spawn().await;
    seed(&app, 1).await;
    let want = detail(400, BAD_BEFORE);
    for bad in ["yesterday", "2024-13-01T00:00:00", "1700000000"] {
        let got = app.get(&format!("/chat/c1/messages?before={bad}")).await;
        assert_eq!(got, want, "before={bad}");
    }
}

/// An offset's `+` sent unencoded arrives as a space (query-string rules): the 400 says to
/// write it as `%2B`. A space elsewhere keeps the usual message.
#[tokio::test]
async fn history_before_with_an_unencoded_plus_hints_at_percent_2b() {
    let app = TestApp::spawn().await;
    seed(&app, 1).await;
    let want = detail(
        400,
        "Invalid before: a + in a URL query reads as a space; encode the offset's + as %2B, as in 2024-01-01T00:00:00%2B02:00",
    );
    for bad in [
        "2024-01-01T00:00:00+02:00",
        "2024-01-01T00:00:00.5+05:30",
        "2024-01-01%2000:00:00%2002:00",
    ] {
        let got = app.get(&format!("/chat/c1/messages?before={bad}")).await;
        assert_eq!(got, want, "before={bad}");
    }
    for bad in [
        "2024-01-01T00:00:00+",
        "yesterday+02:00",
        "2024-01-01T00:00:00%2099",
    ] {
        let got = app.get(&format!("/chat/c1/messages?before={bad}")).await;
        assert_eq!(got, detail(400, BAD_BEFORE), "before={bad}");
    }
}

/// Paging backwards with `before` = the oldest timestamp of each page visits every message once.
#[tokio::test]
async fn walking_history_backwards_yields_every_message_exactly_once() {
    let app = TestApp::spawn().await;
    let all = seed(&app, 22).await;
    let (mut walked, mut page) = (Vec::new(), history(&app, "?limit=5").await);
    while !page.is_empty() {
        assert!(page.len() <= 5 && walked.len() < all.len(), "{page:?}");
        let before = ts(&page[0]).to_string();
        walked.splice(0..0, page);
        page = history(&app, &format!("?limit=5&before={before}")).await;
    }
    assert_eq!((walked.len(), walked), (23, all));
}

/// Messages stored in a burst have distinct v7 ids and strictly increasing wire-format timestamps.
#[tokio::test]
async fn stored_timestamps_strictly_increase() {
    let app = TestApp::spawn().await;
    let all = seed(&app, 40).await;
    assert_eq!(history(&app, "?limit=1000").await, all);
    for pair in all.windows(2) {
        let (a, b) = (ts(&pair[0]), ts(&pair[1]));
        assert!(is_timestamp(a) && is_timestamp(b) && a < b, "{a} {b}");
        assert!(is_uuid_v7(pair[1]["id"].as_str().unwrap()) && pair[0]["id"] != pair[1]["id"]);
    }
}

/// History, details and participant changes of an unknown room are 404 `Chat not found`.
#[tokio::test]
async fn unknown_chat_is_404() {
    let app = TestApp::spawn().await;
    let not_found = detail(404, "Chat not found");
    assert_eq!(app.get("/chat/nope/messages").await, not_found);
    assert_eq!(app.get("/chat/nope").await, not_found);
    assert_eq!(add(&app, "nope", "u1").await, not_found);
    assert_eq!(app.delete("/chat/nope/participants/u1").await, not_found);
}

/// An invalid chat id is a 400 naming `chat_id`, checked before existence and query parameters.
#[tokio::test]
async fn invalid_chat_id_is_400() {
    let app = TestApp::spawn().await;
    let bad = detail(400, BAD_CHAT);
    let long = format!("/chat/{}/messages", "a".repeat(129));
    for path in ["/chat/bad!id/messages?limit=0", &long, "/chat/bad!id"] {
        assert_eq!(app.get(path).await, bad, "{path}");
    }
    assert_eq!(add(&app, "bad!id", "u1").await, bad);
    assert_eq!(app.delete("/chat/bad!id/participants/u1").await, bad);
}

/// With `MAX_MESSAGES_PER_ROOM=3` a room keeps only its newest 3 messages.
#[tokio::test]
async fn history_is_trimmed_to_max_messages_per_room() {
    let app = TestApp::spawn_with(&[("MAX_MESSAGES_PER_ROOM", "3")]).await;
    let all = seed(&app, 5).await;
    assert_eq!(history(&app, "?limit=1000").await, all[3..]);
}

/// `POST /chat` answers 201 with the full room (participants de-duplicated, sorted); GET agrees.
#[tokio::test]
async fn create_chat_returns_the_full_room_and_get_returns_it() {
    let app = TestApp::spawn().await;
    let body = json!({"id": "c1", "name": "Room One", "is_private": true,
        "participants": ["u2", "u1", "u2"], "metadata": {"topic": "x", "n": [1]}});
    let room = create(&app, body).await;
    let want = json!({"id": "c1", "name": "Room One", "created_at": room["created_at"],
        "participants": ["u1", "u2"], "is_private": true, "metadata": {"topic": "x", "n": [1]}});
    assert_eq!(room, want);
    assert_eq!(app.get("/chat/c1").await, (200, details(&want)));
}

/// Omitted fields default: public, no participants, empty metadata; a 200-char name fits.
#[tokio::test]
async fn create_chat_defaults() {
    let app = TestApp::spawn().await;
    let name = "n".repeat(200);
    let room = create(&app, json!({"id": "c1", "name": name})).await;
    let want = json!({"id": "c1", "name": name, "created_at": room["created_at"],
        "participants": [], "is_private": false, "metadata": {}});
    assert_eq!(room, want);
}

/// Without an `id` the room gets a UUID v7, under which it can be fetched.
#[tokio::test]
async fn create_chat_without_id_assigns_a_uuid_v7() {
    let app = TestApp::spawn().await;
    let room = create(&app, json!({"name": "R"})).await;
    let id = room["id"].as_str().expect("id is a string");
    assert!(is_uuid_v7(id), "{id}");
    assert_eq!(app.get(&format!("/chat/{id}")).await, (200, details(&room)));
}

/// Initial participants are created (username = id), existing users kept, no notice stored.
#[tokio::test]
async fn create_chat_creates_missing_participants_silently() {
    let app = TestApp::spawn().await;
    let user = |id: &str, name: &str| {
        json!({"id": id, "username": name, "email": null, "is_active": false,
            "last_seen": null, "metadata": {}})
    };
    let alice = json!({"id": "u1", "username": "Alice"});
    assert_eq!(app.post_json("/user", alice).await, (201, user("u1", "Alice")));
    room_with(&app, &["u2", "u1"]).await;
    assert_eq!(app.get("/user/u1").await, (200, user("u1", "Alice")));
    assert_eq!(app.get("/user/u2").await, (200, user("u2", "u2")));
    assert!(history(&app, "").await.is_empty());
}

/// Creating a room whose id exists is a 409 and leaves the first room as it was.
#[tokio::test]
async fn create_chat_with_a_taken_id_is_409() {
    let app = TestApp::spawn().await;
    let first = create(&app, json!({"id": "c1", "name": "First"})).await;
    let again = json!({"id": "c1", "name": "Second", "is_private": true});
    let got = app.post_json("/chat", again).await;
    assert_eq!(got, detail(409, "Chat already exists"));
    assert_eq!(app.get("/chat/c1").await, (200, details(&first)));
}

/// Invalid `POST /chat` bodies are 400s whose detail says which field and why; nothing is created.
#[tokio::test]
async fn create_chat_rejects_invalid_bodies() {
    let app = TestApp::spawn().await;
    let name = "Invalid name: must be 1 to 200 characters, not blank";
    let long = format!(r#"{{"id":"c1","name":"{}"}}"#, "n".repeat(201));
    let data = "Invalid request data:";
    let cases = [
        (r#"{"id":"c1","name":""}"#, name.to_string()),
        (r#"{"id":"c1","name":" \t"}"#, name.to_string()),
        (&long, name.to_string()),
        (r#"{"id":"a b","name":"R"}"#, BAD_CHAT.to_string()),
        (
            r#"{"id":"c1","name":"R","participants":["system"]}"#,
            r#"Invalid participants: Invalid user_id: "system" is reserved"#.to_string(),
        ),
        (
            r#"{"id":"c1","name":"R","is_privat":true}"#,
            format!(
                "{data} unknown field `is_privat`, expected one of `id`, `name`, `is_private`, `participants`, `metadata` at line 1 column 33"
            ),
        ),
        (
            r#"{"id":"c1","name":"R","is_private":"yes"}"#,
            format!("{data} invalid type: string \"yes\", expected a boolean at line 1 column 40"),
        ),
        (
            r#"{"id":"c1","name":"R","metadata":[]}"#,
            format!("{data} invalid type: sequence, expected a map at line 1 column 33"),
        ),
        (
            r#"{"id":"c1"}"#,
            format!("{data} missing field `name` at line 1 column 11"),
        ),
        (
            r#"{"id":"c1","name":"#,
            format!("{data} EOF while parsing a value at line 1 column 18"),
        ),
    ];
    for (body, want) in cases {
        let req = app
            .http
            .post(app.url("/chat"))
            .header("content-type", "application/json");
        assert_eq!(
            app.send(req.body(body.to_string())).await,
            detail(400, &want),
            "{body}"
        );
    }
    assert_eq!(app.get("/chat/c1").await, detail(404, "Chat not found"));
}

/// Adding a participant answers 200 with the room and stores `"{user} joined the chat"`.
#[tokio::test]
async fn add_participant_returns_the_room_and_stores_the_join_notice() {
    let app = TestApp::spawn().await;
    let room = room_with(&app, &["u1"]).await;
    assert_eq!(
        add(&app, "c1", "u2").await,
        (200, with_participants(&room, &["u1", "u2"]))
    );
    let msgs = history(&app, "").await;
    assert_eq!(msgs.len(), 1);
    assert_system(&msgs[0], "c1", "u2 joined the chat");
    assert_eq!(app.get("/user/u2").await.1["username"], "u2");
}

/// Adding a current participant again is a 200 with the unchanged room and stores nothing.
#[tokio::test]
async fn add_participant_again_changes_nothing() {
    let app = TestApp::spawn().await;
    let room = room_with(&app, &["u1"]).await;
    assert_eq!(add(&app, "c1", "u1").await, (200, room));
    assert!(history(&app, "").await.is_empty());
}

/// A private room gets its members through this endpoint.
#[tokio::test]
async fn add_participant_works_on_a_private_room() {
    let app = TestApp::spawn().await;
    let room = create(&app, json!({"id": "c1", "name": "R", "is_private": true})).await;
    assert_eq!(
        add(&app, "c1", "u1").await,
        (200, with_participants(&room, &["u1"]))
    );
    assert_system(&history(&app, "").await[0], "c1", "u1 joined the chat");
}

/// The body's `user_id` is validated (alphabet, reserved `system`) and unknown fields refused.
#[tokio::test]
async fn add_participant_rejects_invalid_bodies() {
    let app = TestApp::spawn().await;
    create(&app, json!({"id": "c1", "name": "R"})).await;
    let bad_user = "Invalid user_id: must be 1 to 128 characters of A-Z a-z 0-9 . _ - : @";
    assert_eq!(
        add(&app, "c1", "system").await,
        detail(400, r#"Invalid user_id: "system" is reserved"#)
    );
    assert_eq!(add(&app, "c1", "a b").await, detail(400, bad_user));
    let extra = app
        .post_json("/chat/c1/participants", json!({"user_id": "u1", "role": "x"}))
        .await;
    let want = "Invalid request data: unknown field `role`, expected `user_id` at line 1 column 7";
    assert_eq!(extra, detail(400, want));
    assert!(history(&app, "").await.is_empty());
}

/// Removing a participant answers 200 with the room and stores `"{user} left the chat"`.
#[tokio::test]
async fn remove_participant_returns_the_room_and_stores_the_leave_notice() {
    let app = TestApp::spawn().await;
    let room = room_with(&app, &["u1", "u2"]).await;
    let got = app.delete("/chat/c1/participants/u2").await;
    assert_eq!(got, (200, with_participants(&room, &["u1"])));
    let msgs = history(&app, "").await;
    assert_eq!(msgs.len(), 1);
    assert_system(&msgs[0], "c1", "u2 left the chat");
    assert_eq!(app.get("/user/u2/chats").await, (200, json!([])));
}

/// Removing a user who is not (or no longer) a participant is a 404 and stores nothing.
#[tokio::test]
async fn remove_non_participant_is_404() {
    let app = TestApp::spawn().await;
    room_with(&app, &["u1"]).await;
    let not_member = detail(404, "User is not a participant of this chat");
    assert_eq!(app.delete("/chat/c1/participants/u2").await, not_member);
    assert_eq!(app.delete("/chat/c1/participants/u1").await.0, 200);
    assert_eq!(app.delete("/chat/c1/participants/u1").await, not_member);
    assert_eq!(history(&app, "").await.len(), 1);
}

/// A connected participant receives the notices the HTTP calls store, exactly as stored.
#[tokio::test]
async fn websocket_participant_receives_http_membership_notices() {
    let app = TestApp::spawn().await;
    room_with(&app, &["watcher"]).await;
    let mut ws = app.ws("watcher").await;
    assert_eq!(add(&app, "c1", "u2").await.0, 200);
    let joined = ws.recv_json().await;
    assert_eq!(app.delete("/chat/c1/participants/u2").await.0, 200);
    let left = ws.recv_json().await;
    assert_system(&joined, "c1", "u2 joined the chat");
    assert_system(&left, "c1", "u2 left the chat");
    assert_eq!(history(&app, "").await, [joined, left]);
    ws.assert_nothing_pending().await;
}

/// A user added over HTTP while connected receives its own join notice on that connection.
#[tokio::test]
async fn added_users_open_connection_receives_its_join_notice() {
    let app = TestApp::spawn().await;
    create(&app, json!({"id": "c1", "name": "R"})).await;
    let mut ws = app.ws("u1").await;
    assert_eq!(add(&app, "c1", "u1").await.0, 200);
    let joined = ws.recv_json().await;
    assert_system(&joined, "c1", "u1 joined the chat");
    assert_eq!(history(&app, "").await, [joined]);
    ws.assert_nothing_pending().await;
}
