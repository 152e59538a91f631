//! Fuzzing HTTP request bodies: the `POST /chat` and `POST /user` validators never panic and
//! accept only what the contract allows, and a live server answers arbitrary bodies (random
//! bytes, any JSON, shaped JSON, deep JSON, bodies around the size limit) with a documented
//! status and `{"detail"}` on errors, never a 5xx.

use chat_server::domain::{NewChat, NewUser, UserId};
use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::Value;

use super::strategies::{CHAT_KEYS, USER_KEYS, deep_json, json_value, nested, shaped_object};
use super::{ROOM, config, fail, http_app, id_rule, run_cases, send};
use crate::helpers::TIMEOUT;

// --- pure properties -------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(2000))]

    /// A `POST /chat` body of random shape never panics the validator, and what it accepts
    /// satisfies the contract's rules.
    #[test]
    fn new_chat_validate_never_panics(body in prop_oneof![3 => shaped_object(CHAT_KEYS), 1 => json_value()]) {
        let Ok(chat) = serde_json::from_str::<NewChat>(&body) else { return Ok(()) };
        let (name, participants) = (chat.name.clone(), chat.participants.clone());
        if let Ok(spec) = chat.validate() {
            prop_assert!(id_rule(spec.id.as_str()));
            let n = name.chars().count();
            prop_assert!((1..=200).contains(&n) && !name.trim().is_empty(), "name {:?}", name);
            let mut want: Vec<String> = participants.unwrap_or_default();
            prop_assert!(want.iter().all(|p| id_rule(p) && p != "system"), "participants {:?}", want);
            want.sort();
            want.dedup();
            let got: Vec<&str> = spec.participants.iter().map(UserId::as_str).collect();
            prop_assert_eq!(got, want.iter().map(String::as_str).collect::<Vec<_>>());
        }
    }

    /// A `POST /user` body of random shape never panics the validator, and what it accepts
    /// satisfies the contract's rules.
    #[test]
    fn new_user_validate_never_panics(body in prop_oneof![3 => shaped_object(USER_KEYS), 1 => json_value()]) {
        let Ok(user) = serde_json::from_str::<NewUser>(&body) else { return Ok(()) };
        let (username, email) = (user.username.clone(), user.email.clone());
        if let Ok(spec) = user.validate() {
            prop_assert!(id_rule(spec.id.as_str()) && spec.id.as_str() != "system");
            let n = username.chars().count();
            prop_assert!((1..=128).contains(&n) && !username.trim().is_empty(), "username {:?}", username);
            if let Some(e) = email {
                let parts: Vec<&str> = e.split('@').collect();
                prop_assert!(parts.len() == 2 && parts.iter().all(|p| !p.is_empty()), "email {:?}", e);
                prop_assert!(e.chars().count() <= 254, "email {:?}", e);
            }
        }
    }
}

// --- live server -----------------------------------------------------------------------------

/// A request body: random bytes, JSON of any shape, or shaped like the endpoint's body.
fn body_for(keys: &'static [&'static str]) -> impl Strategy<Value = (Vec<u8>, Option<&'static str>)> {
    let body = prop_oneof![
        2 => vec(any::<u8>(), 0..512),
        2 => json_value().prop_map(String::into_bytes),
        6 => shaped_object(keys).prop_map(String::into_bytes),
        1 => deep_json().prop_map(String::into_bytes),
    ];
    let content_type = proptest::sample::select(
        &[
            Some("application/json"),
            Some("application/json"),
            Some("application/json; charset=utf-8"),
            Some("text/plain"),
            None,
        ][..],
    );
    (body, content_type)
}

/// Arbitrary bodies POSTed to `/chat`, `/user` and `/chat/{id}/participants`: a documented
/// status, `{"detail"}` on errors, the created resource on success.
#[test]
fn http_arbitrary_bodies() {
    const PARTICIPANT_KEYS: &[&str] = &["user_id"];
    let (rt, app) = http_app();
    let participants = format!("/chat/{ROOM}/participants");
    let strategy = prop_oneof![
        body_for(CHAT_KEYS).prop_map(|b| ("/chat", b)),
        body_for(USER_KEYS).prop_map(|b| ("/user", b)),
        body_for(PARTICIPANT_KEYS).prop_map(|b| ("participants", b)),
    ];
    run_cases(400, strategy, |(path, (body, content_type))| {
        let path = if path == "participants" {
            participants.as_str()
        } else {
            path
        };
        rt.block_on(async {
            let mut req = app.http.post(app.url(path)).body(body.clone());
            if let Some(ct) = content_type {
                req = req.header("content-type", ct);
            }
            let what = format!("POST {path} {}", String::from_utf8_lossy(&body));
            let reply = send(req).await?;
            let v = reply.check(&what, &[200, 201, 400, 404, 409, 413])?;
            if reply.status < 300 {
                prop_assert!(v["id"].as_str().is_some_and(id_rule), "{}: {}", what, v);
            }
            Ok(())
        })
    });
}

/// Sends `request` on a fresh connection and reads one response (status, headers as text,
/// body); the body to send may be refused half-way (the server need not read it all).
async fn raw_exchange(
    tcp: &mut tokio::net::TcpStream,
    request: &[u8],
) -> Result<(u16, String, String), TestCaseError> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _ = tokio::time::timeout(TIMEOUT, tcp.write_all(request)).await;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&buf).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let head = text[..end].to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                let status = head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
                return Ok((status, head, text[end + 4..end + 4 + len].to_string()));
            }
        }
        let n = tokio::time::timeout(TIMEOUT, tcp.read(&mut chunk))
            .await
            .map_err(|_| fail("no response within the timeout"))?
            .map_err(|e| fail(format!("connection failed before a whole response: {e}")))?;
        if n == 0 {
            return Err(fail(format!(
                "connection closed before a whole response; got {:?}",
                String::from_utf8_lossy(&buf)
            )));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Bodies around 64 KiB, on a keep-alive connection: over it a 413, at or under it judged on
/// their content (400 here). Either way the client can go on: the connection answers the next
/// request, or the response said `Connection: close`.
#[test]
fn http_bodies_around_the_size_limit() {
    let (rt, app) = http_app();
    let sizes = prop_oneof![65_520usize..65_552, 65_552usize..200_000];
    let paths = proptest::sample::select(&["/chat", "/user", "/chat/fuzz-room/participants"][..]);
    run_cases(30, (sizes, paths), |(size, path)| {
        let body = format!(r#"{{"name": "{}"}}"#, "n".repeat(size - 12));
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {size}\r\n\r\n{body}"
        );
        rt.block_on(async {
            let what = format!("POST {path} with {size} bytes");
            let mut tcp = tokio::net::TcpStream::connect(app.addr).await.unwrap();
            let (status, head, body) = raw_exchange(&mut tcp, request.as_bytes()).await?;
            let want = if size > 65_536 { 413 } else { 400 };
            prop_assert_eq!(status, want, "{}: {}", what, body);
            let v: Value = serde_json::from_str(&body).map_err(|e| fail(format!("{what}: {e}: {body}")))?;
            prop_assert!(
                v.as_object()
                    .is_some_and(|o| o.len() == 1 && o["detail"].is_string()),
                "{}: {}",
                what,
                v
            );
            if !head
                .lines()
                .any(|l| l.starts_with("connection:") && l.contains("close"))
            {
                let next = raw_exchange(&mut tcp, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n").await;
                let next = next.map_err(|e| {
                    fail(format!(
                        "{what}: answered {status} without `Connection: close`, then the connection \
                     did not answer the next request: {e}"
                    ))
                })?;
                prop_assert_eq!(next.0, 200, "{}: the next request", what);
            }
            Ok(())
        })
    });
}

/// 10 000 nested arrays or objects as a body, or inside `metadata`: a 400, and the server
/// still serves.
#[test]
fn http_deep_json_is_a_400() {
    let (rt, app) = http_app();
    rt.block_on(async {
        let bodies = [
            ("/chat", nested(10_000, None, "1")),
            ("/user", nested(10_000, Some("a"), "1")),
            (
                "/chat",
                format!(
                    r#"{{"name":"deep","metadata":{}}}"#,
                    nested(10_000, Some("m"), "1")
                ),
            ),
            (
                "/user",
                format!(
                    r#"{{"username":"deep","metadata":{{"m":{}}}}}"#,
                    nested(10_000, None, "1")
                ),
            ),
            ("/chat/fuzz-room/participants", nested(10_000, None, "1")),
        ];
        for (path, body) in bodies {
            let req = app
                .http
                .post(app.url(path))
                .header("content-type", "application/json");
            let reply = send(req.body(body)).await.unwrap();
            reply.check(&format!("deep JSON to {path}"), &[400]).unwrap();
        }
        assert_eq!(app.get("/health").await.0, 200);
    });
}
