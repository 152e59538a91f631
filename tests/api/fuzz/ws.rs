//! Fuzzing WebSocket frames: the frame decoder never panics and agrees with the contract, and a
//! live server answers arbitrary text and binary frames with an error frame or messages, never
//! a close, the connection answering after each.

use std::cell::RefCell;

use chat_server::ws::frames::{self, ClientFrame};
use futures_util::{SinkExt, StreamExt};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{Value, json};
use tokio::runtime::Runtime;
use tokio_tungstenite::tungstenite::Message;

use super::strategies::{frame_text, nasty_string, nested};
use super::{FUZZER, config, fail, run_cases};
use crate::helpers::{TIMEOUT, TestApp, WsClient};

// --- pure properties -------------------------------------------------------------------------

/// The decoder's verdict is consistent: an error has a non-empty detail; a frame is accepted
/// only for a JSON object whose `type` is one of the six client types.
fn check_decode(text: &str) -> Result<(), TestCaseError> {
    match frames::decode(text) {
        Err(detail) => prop_assert!(!detail.trim().is_empty(), "empty detail for {text:?}"),
        Ok(frame) => {
            let v: Value = serde_json::from_str(text).map_err(|e| fail(format!("accepted non-JSON: {e}")))?;
            let kind = v.get("type").and_then(Value::as_str);
            prop_assert_eq!(kind, Some(frame.kind()), "accepted {}", text);
            match frame {
                ClientFrame::Text(_) | ClientFrame::Typing(_) => {
                    prop_assert!(v["content"].is_string() && v["chat_id"].is_string())
                }
                ClientFrame::Join(_) | ClientFrame::Leave(_) => prop_assert!(v["chat_id"].is_string()),
                ClientFrame::Read(_) => prop_assert!(v["chat_id"].is_string() && v["seq"].is_u64()),
                ClientFrame::Resume(_) => prop_assert!(v["positions"].is_object()),
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(2000))]

    /// `frames::decode` on any string: no panic, and a non-empty detail when refused.
    #[test]
    fn decode_any_string(s in nasty_string()) {
        check_decode(&s)?;
    }

    /// `frames::decode` on JSON of random shape, frame-shaped JSON and deep JSON.
    #[test]
    fn decode_any_json(s in frame_text()) {
        check_decode(&s)?;
    }
}

// --- live server -----------------------------------------------------------------------------

/// Checks one server frame: an error frame with a non-empty detail, or a message object.
fn check_server_frame(v: &Value) -> Result<(), TestCaseError> {
    let obj = v
        .as_object()
        .ok_or_else(|| fail(format!("not a JSON object: {v}")))?;
    if obj.get("type") == Some(&json!("error")) {
        prop_assert_eq!(obj.len(), 2, "error frame with extra fields: {}", v);
        let detail = obj.get("detail").and_then(Value::as_str).unwrap_or("");
        prop_assert!(!detail.trim().is_empty(), "error frame without a detail: {}", v);
        return Ok(());
    }
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort();
    // A stored message has its place (`seq`, `epoch`); a typing event does not; a retry's
    // answer may carry the client's `client_msg_id`.
    let mut want = vec![
        "chat_id",
        "content",
        "id",
        "metadata",
        "reply_to",
        "timestamp",
        "type",
        "user_id",
    ];
    if obj.get("type") != Some(&json!("typing")) {
        want.extend(["epoch", "seq"]);
    }
    if obj.contains_key("client_msg_id") {
        want.push("client_msg_id");
    }
    want.sort();
    prop_assert_eq!(keys, want, "neither an error frame nor a message: {}", v);
    prop_assert!(
        matches!(v["type"].as_str(), Some("text" | "system" | "typing")),
        "{}",
        v
    );
    prop_assert!(v["metadata"].is_object(), "{}", v);
    Ok(())
}

/// The next data frame, or why there is none (a close, an error, silence).
async fn next_frame(ws: &mut WsClient) -> Result<Value, TestCaseError> {
    loop {
        let msg = tokio::time::timeout(TIMEOUT, ws.stream.next())
            .await
            .map_err(|_| fail("no frame within the timeout"))?
            .ok_or_else(|| fail("the connection ended"))?
            .map_err(|e| fail(format!("websocket error: {e}")))?;
        match msg {
            Message::Text(t) => {
                return serde_json::from_str(&t)
                    .map_err(|e| fail(format!("server frame is not JSON ({e}): {t}")));
            }
            Message::Ping(_) | Message::Pong(_) => continue,
            Message::Close(f) => return Err(fail(format!("the server closed the connection: {f:?}"))),
            other => return Err(fail(format!("unexpected frame {other:?}"))),
        }
    }
}

/// A connection that still answers: sends a probe the server refuses with a detail naming it,
/// and returns every frame that arrived before that answer (each checked).
async fn frames_until_probe(ws: &mut WsClient, probe: u64) -> Result<Vec<Value>, TestCaseError> {
    let tag = format!("fuzz-probe-{probe}");
    let probe = json!({"type": tag}).to_string();
    tokio::time::timeout(TIMEOUT, ws.stream.send(Message::text(probe)))
        .await
        .map_err(|_| fail("probe send timed out"))?
        .map_err(|e| fail(format!("probe send failed: {e}")))?;
    let mut before = Vec::new();
    loop {
        let v = next_frame(ws).await?;
        check_server_frame(&v)?;
        if v["type"] == "error" && v["detail"].as_str().is_some_and(|d| d.contains(&tag)) {
            return Ok(before);
        }
        before.push(v);
    }
}

/// What a WebSocket case sends.
#[derive(Debug, Clone)]
enum WsInput {
    Text(String),
    Binary(Vec<u8>),
}

/// Sends one frame and checks the answers: for text `decode` refuses, exactly the error frame
/// with its detail; for binary, exactly the binary refusal; otherwise error frames or messages.
async fn ws_case(ws: &mut WsClient, input: &WsInput, probe: u64) -> Result<(), TestCaseError> {
    let msg = match input {
        WsInput::Text(t) => Message::text(t.clone()),
        WsInput::Binary(b) => Message::binary(b.clone()),
    };
    tokio::time::timeout(TIMEOUT, ws.stream.send(msg))
        .await
        .map_err(|_| fail("send timed out"))?
        .map_err(|e| fail(format!("send failed: {e}")))?;
    let got = frames_until_probe(ws, probe).await?;
    let expected = match input {
        WsInput::Binary(_) => Some("Binary frames are not supported: send JSON text frames".to_string()),
        WsInput::Text(t) => frames::decode(t).err(),
    };
    if let Some(detail) = expected {
        // Leftover deliveries of earlier cases (a bus may deliver late) may precede it.
        let errors: Vec<&Value> = got.iter().filter(|v| v["type"] == "error").collect();
        let want = json!({"type": "error", "detail": detail});
        prop_assert_eq!(errors, vec![&want]);
    }
    Ok(())
}

/// Runs WebSocket cases on one server and one connection (reopened after a failed case, so
/// shrinking sees a healthy connection).
fn ws_fuzz(cases: u32, strategy: impl Strategy<Value = WsInput>) {
    let rt = Runtime::new().unwrap();
    let app = rt.block_on(TestApp::spawn());
    let conn: RefCell<Option<WsClient>> = RefCell::new(None);
    let probes = std::sync::atomic::AtomicU64::new(0);
    run_cases(cases, strategy, |input| {
        let probe = probes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut ws = match conn.borrow_mut().take() {
            Some(ws) => ws,
            None => rt.block_on(app.ws(FUZZER)),
        };
        let result = rt.block_on(ws_case(&mut ws, &input, probe));
        if result.is_ok() {
            *conn.borrow_mut() = Some(ws);
        }
        result
    });
}

/// Arbitrary text frames (any string, JSON of any shape, frame-shaped, deep) are answered
/// with an error frame or messages, never a close, and the connection keeps answering.
#[test]
fn ws_arbitrary_text_frames() {
    ws_fuzz(300, frame_text().prop_map(WsInput::Text));
}

/// Arbitrary binary frames are refused with an error frame; the connection keeps answering.
#[test]
fn ws_arbitrary_binary_frames() {
    let bytes = prop_oneof![vec(any::<u8>(), 0..64), vec(any::<u8>(), 0..4096)];
    ws_fuzz(100, bytes.prop_map(WsInput::Binary));
}

/// 10 000 nested arrays (and objects, and inside `metadata`) in a text frame: an error frame,
/// and the connection and the server still serve.
#[test]
fn ws_deep_json_is_an_error() {
    let rt = Runtime::new().unwrap();
    rt.block_on(async {
        let app = TestApp::spawn().await;
        let mut ws = app.ws(FUZZER).await;
        let frames = [
            nested(10_000, None, "1"),
            nested(10_000, Some("a"), "1"),
            format!(
                r#"{{"type":"text","chat_id":"lobby","content":"x","metadata":{}}}"#,
                nested(10_000, Some("m"), "1")
            ),
        ];
        for (i, frame) in frames.into_iter().enumerate() {
            let got = ws_case(&mut ws, &WsInput::Text(frame), i as u64).await;
            got.unwrap_or_else(|e| panic!("deep frame {i}: {e}"));
        }
        assert_eq!(app.get("/health").await.0, 200);
    });
}
