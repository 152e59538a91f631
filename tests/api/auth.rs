//! Authentication and authorisation with AUTH_SECRET set: signed tokens on HTTP and WebSocket,
//! and private rooms readable, joinable and writable by their participants only.

use jsonwebtoken::{EncodingKey, Header, encode};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::helpers::{TIMEOUT, TestApp, WsClient};

const SECRET: &str = "a-test-secret-of-32-characters!!";

pub fn token_for(sub: &str, exp_in_seconds: i64) -> String {
    let claims = json!({"sub": sub, "exp": chrono::Utc::now().timestamp() + exp_in_seconds});
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

pub async fn app() -> TestApp {
    TestApp::spawn_with(&[("AUTH_SECRET", SECRET)]).await
}

/// A request as `user` (a valid one-hour token).
async fn call(app: &TestApp, user: &str, req: reqwest::RequestBuilder) -> (u16, Value) {
    app.send(req.bearer_auth(token_for(user, 3600))).await
}

/// Opens `/ws/{user}` with `token` in the Authorization header or the query; the handshake's
/// HTTP status if it was refused.
async fn ws(app: &TestApp, user: &str, token: &str, in_query: bool) -> Result<WsClient, u16> {
    let url = match in_query {
        true => format!("ws://{}/ws/{user}?token={token}", app.addr),
        false => format!("ws://{}/ws/{user}", app.addr),
    };
    let mut req = url.into_client_request().unwrap();
    if !in_query {
        req.headers_mut().insert(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
        );
    }
    match tokio::time::timeout(TIMEOUT, tokio_tungstenite::connect_async(req))
        .await
        .unwrap()
    {
        Ok((stream, _)) => Ok(WsClient { stream }),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => Err(resp.status().as_u16()),
        Err(e) => panic!("unexpected handshake error {e}"),
    }
}

/// Without a token, HTTP calls are 401 with `WWW-Authenticate: Bearer`; a bad signature, an
/// expired token or a malformed header each say why; probes and docs stay open.
#[tokio::test]
async fn http_needs_a_valid_token() {
    let app = app().await;
    let resp = app.http.get(app.url("/chat/c")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(resp.headers()["www-authenticate"], "Bearer");
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"detail": "Missing bearer token"})
    );
    let forged = encode(
        &Header::default(),
        &json!({"sub": "alice", "exp": chrono::Utc::now().timestamp() + 60}),
        &EncodingKey::from_secret(b"another-secret-another-secret!!"),
    )
    .unwrap();
    let cases = [
        (format!("Bearer {forged}"), "Invalid token: bad signature"),
        (format!("Bearer {}", token_for("alice", -60)), "Token expired"),
        (
            "Token abc".to_string(),
            "Invalid Authorization header: expected `Bearer <token>`",
        ),
    ];
    for (header, detail) in cases {
        let req = app
            .http
            .get(app.url("/user/alice"))
            .header("authorization", header);
        assert_eq!(app.send(req).await, (401, json!({"detail": detail})));
    }
    for open in ["/health", "/ready", "/openapi.json", "/asyncapi.json", "/metrics"] {
        assert_eq!(
            app.http.get(app.url(open)).send().await.unwrap().status(),
            200,
            "{open}"
        );
    }
    assert_eq!(call(&app, "alice", app.http.get(app.url("/chat/c"))).await.0, 404);
}

/// The WebSocket upgrade is refused (401) without a token or with one for another user, and
/// accepted with the user's own token in the header or, for browsers, the `token` query.
#[tokio::test]
async fn websocket_needs_the_users_own_token() {
    let app = app().await;
    assert_eq!(app.ws_refused("alice").await, 401);
    assert_eq!(
        ws(&app, "alice", &token_for("bob", 60), false).await.err(),
        Some(401)
    );
    assert_eq!(
        ws(&app, "alice", &token_for("alice", -60), true).await.err(),
        Some(401)
    );
    let mut by_header = ws(&app, "alice", &token_for("alice", 60), false).await.unwrap();
    by_header.assert_nothing_pending().await;
    let mut by_query = ws(&app, "alice", &token_for("alice", 60), true).await.unwrap();
    by_query.assert_nothing_pending().await;
}

/// A private room is readable only by its participants (403 for others, on details and
/// history); its creator is a participant; only participants may add people; a caller may
/// remove only itself.
#[tokio::test]
async fn private_rooms_belong_to_their_participants() {
    let app = app().await;
    let create = app
        .http
        .post(app.url("/chat"))
        .json(&json!({"id": "p", "name": "P", "is_private": true}));
    let (status, room) = call(&app, "alice", create).await;
    assert_eq!((status, room["participants"].clone()), (201, json!(["alice"])));
    let private = json!({"detail": "Chat p is private and you are not a participant"});
    assert_eq!(
        call(&app, "bob", app.http.get(app.url("/chat/p"))).await,
        (403, private.clone())
    );
    assert_eq!(
        call(&app, "bob", app.http.get(app.url("/chat/p/messages"))).await,
        (403, private)
    );
    let add_carol = app
        .http
        .post(app.url("/chat/p/participants"))
        .json(&json!({"user_id": "carol"}));
    let outsider = json!({"detail": "Only participants can add people to private chat p"});
    assert_eq!(call(&app, "bob", add_carol).await, (403, outsider));
    let add_bob = app
        .http
        .post(app.url("/chat/p/participants"))
        .json(&json!({"user_id": "bob"}));
    assert_eq!(call(&app, "alice", add_bob).await.0, 200);
    let (status, history) = call(&app, "bob", app.http.get(app.url("/chat/p/messages"))).await;
    assert_eq!(
        (status, history[0]["content"].clone()),
        (200, json!("bob joined the chat"))
    );
    let kick = app.http.delete(app.url("/chat/p/participants/alice"));
    let own_only = json!({"detail": "You can only remove yourself from a chat"});
    assert_eq!(call(&app, "bob", kick).await, (403, own_only));
    let (status, room) = call(&app, "bob", app.http.delete(app.url("/chat/p/participants/bob"))).await;
    assert_eq!((status, room["participants"].clone()), (200, json!(["alice"])));
}

/// A caller creates only its own user (the id defaults to the token's) and lists only its
/// own rooms; any caller may read a user's profile.
#[tokio::test]
async fn users_act_for_themselves() {
    let app = app().await;
    let someone_else = app
        .http
        .post(app.url("/user"))
        .json(&json!({"id": "mallory", "username": "M"}));
    let own = json!({"detail": "You can only create your own user"});
    assert_eq!(call(&app, "alice", someone_else).await, (403, own));
    let (status, user) = call(
        &app,
        "alice",
        app.http
            .post(app.url("/user"))
            .json(&json!({"username": "Alice"})),
    )
    .await;
    assert_eq!(
        (status, user["id"].clone(), user["username"].clone()),
        (201, json!("alice"), json!("Alice"))
    );
    assert_eq!(
        call(&app, "bob", app.http.get(app.url("/user/alice"))).await.0,
        200
    );
    let theirs = json!({"detail": "You can only list your own chats"});
    assert_eq!(
        call(&app, "bob", app.http.get(app.url("/user/alice/chats"))).await,
        (403, theirs)
    );
    assert_eq!(
        call(&app, "alice", app.http.get(app.url("/user/alice/chats"))).await,
        (200, json!([]))
    );
}
