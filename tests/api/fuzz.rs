//! Property-based fuzzing (proptest), bounded so the whole module takes seconds.
//!
//! Pure properties: the WebSocket frame decoder, the id parsers, the time parser and the
//! `POST /chat` / `POST /user` validators never panic on anything, and agree with reference
//! predicates written here from the contract.
//!
//! Live properties: one real server per test function, reused across the cases (a server per
//! case would be far too slow), driven from a runtime the test owns. Arbitrary WebSocket text
//! and binary frames, request bodies, query strings and path segments are answered within the
//! contract: an error frame or a message on WebSocket (never a close, and the connection keeps
//! answering), a documented status with exactly `{"detail": "..."}` on HTTP, never a 5xx.
//!
//! `PROPTEST_CASES=N` replaces every test's case count (for a longer run).

use std::cell::RefCell;

use chat_server::domain::ids::is_valid_id;
use chat_server::domain::{ChatId, NewChat, NewUser, UserId, time};
use chat_server::ws::frames::{self, ClientFrame};
use futures_util::{SinkExt, StreamExt};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{TestCaseError, TestRunner};
use serde_json::{Value, json};
use tokio::runtime::Runtime;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{TIMEOUT, TestApp, WsClient};

// --- configuration ---------------------------------------------------------------------------

/// `cases` cases (or `PROPTEST_CASES`), no regression files, shrinking bounded in time.
fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(cases);
    ProptestConfig {
        cases,
        failure_persistence: None,
        max_shrink_time: 20_000,
        ..ProptestConfig::default()
    }
}

/// Runs `check` on `cases` values of `strategy`; a failure reports the shrunk input.
fn run_cases<S: Strategy>(cases: u32, strategy: S, check: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S::Value: std::fmt::Debug,
{
    let mut runner = TestRunner::new(config(cases));
    if let Err(e) = runner.run(&strategy, check) {
        panic!("{e}");
    }
}

fn fail(why: impl Into<String>) -> TestCaseError {
    TestCaseError::fail(why.into())
}

// --- generators ------------------------------------------------------------------------------

/// The contract's id alphabet.
const ID_CHARS: &str = "[A-Za-z0-9._:@-]";

/// Field names the server knows (frames and bodies), so random objects often hit them.
const KNOWN_KEYS: &[&str] = &[
    "type",
    "content",
    "chat_id",
    "user_id",
    "metadata",
    "reply_to",
    "id",
    "name",
    "is_private",
    "participants",
    "username",
    "email",
];

/// `s` as a JSON string literal.
fn quoted(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

/// Strings matching `pattern`.
fn matching(pattern: &str) -> proptest::string::RegexGeneratorStrategy<String> {
    proptest::string::string_regex(pattern).expect("valid regex")
}

/// Strings a person would not think of: unicode, controls, escapes, long runs.
fn nasty_string() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => any::<String>(),
        2 => "[\\PC]{0,40}",
        1 => "[\\x00-\\x1f\"\\\\/]{0,10}",
        1 => "[\u{0}-\u{10ffff}]{0,8}",
        1 => (0usize..300).prop_map(|n| "é".repeat(n)),
        1 => Just(String::new()),
        1 => Just(" \t\n".to_string()),
        1 => Just("system".to_string()),
    ]
}

/// An id: mostly valid, sometimes one character off, sometimes at or past the length bound.
fn id_like() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => matching(&format!("{ID_CHARS}{{1,20}}")),
        1 => matching(&format!("{ID_CHARS}{{127,129}}")),
        1 => (matching(&format!("{ID_CHARS}{{0,8}}")), any::<char>(), matching(&format!("{ID_CHARS}{{0,8}}")))
            .prop_map(|(a, c, b)| format!("{a}{c}{b}")),
        1 => Just("system".to_string()),
        1 => Just(String::new()),
    ]
}

/// A JSON scalar as text, including numbers no Rust integer or float holds.
fn json_leaf() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("null".to_string()),
        Just("true".to_string()),
        Just("false".to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        "-?[1-9][0-9]{19,80}",                              // big integers
        "-?[0-9]{1,3}\\.[0-9]{1,30}([eE][+-]?[0-9]{1,6})?", // floats, incl. 1e999999
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| f.to_string()),
        nasty_string().prop_map(|s| quoted(&s)),
        id_like().prop_map(|s| quoted(&s)),
    ]
}

/// A key: a known field name or anything.
fn json_key() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => proptest::sample::select(KNOWN_KEYS).prop_map(str::to_string),
        1 => nasty_string(),
    ]
}

fn object_of(fields: &[(String, String)]) -> String {
    let body: Vec<String> = fields.iter().map(|(k, v)| format!("{}:{v}", quoted(k))).collect();
    format!("{{{}}}", body.join(","))
}

/// Any JSON value as text, of random shape (nested arrays and objects, known keys).
fn json_value() -> impl Strategy<Value = String> {
    json_leaf().prop_recursive(6, 48, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(|v| format!("[{}]", v.join(","))),
            vec((json_key(), inner), 0..6).prop_map(|kv| object_of(&kv)),
        ]
    })
}

/// `depth` nested arrays around `core` (or objects under `key`).
fn nested(depth: usize, key: Option<&str>, core: &str) -> String {
    match key {
        None => format!("{}{core}{}", "[".repeat(depth), "]".repeat(depth)),
        Some(k) => format!(
            "{}{core}{}",
            format!("{{{}:", quoted(k)).repeat(depth),
            "}".repeat(depth)
        ),
    }
}

/// Nesting around the parser's recursion limit (128) and far past it.
fn deep_json() -> impl Strategy<Value = String> {
    (
        prop_oneof![100usize..140, 140usize..3000],
        any::<bool>(),
        json_leaf(),
    )
        .prop_map(|(depth, arrays, core)| nested(depth, if arrays { None } else { Some("a") }, &core))
}

/// A value for a field: the right type most of the time, anything otherwise.
fn field_value(key: &'static str) -> BoxedStrategy<String> {
    let right: BoxedStrategy<String> = match key {
        "type" => prop_oneof![
            4 => proptest::sample::select(&["text", "typing", "join", "leave"][..]).prop_map(quoted),
            1 => proptest::sample::select(&["system", "error", "TEXT", "Join", ""][..]).prop_map(quoted),
            1 => nasty_string().prop_map(|s| quoted(&s)),
        ]
        .boxed(),
        "content" => prop_oneof![
            proptest::sample::select(&["typing", "stopped", "hi"][..]).prop_map(quoted),
            nasty_string().prop_map(|s| quoted(&s)),
            (4090usize..4100).prop_map(|n| quoted(&"x".repeat(n))),
        ]
        .boxed(),
        "chat_id" | "reply_to" | "id" => prop_oneof![
            3 => proptest::sample::select(&["lobby", "room-1", "a:b@c.d_e-f"][..]).prop_map(quoted),
            2 => id_like().prop_map(|s| quoted(&s)),
        ]
        .boxed(),
        "user_id" => prop_oneof![
            3 => Just(quoted("fuzzer")),
            2 => id_like().prop_map(|s| quoted(&s)),
        ]
        .boxed(),
        "name" | "username" => prop_oneof![
            3 => "[a-zA-Z ]{1,30}".prop_map(|s| quoted(&s)),
            1 => nasty_string().prop_map(|s| quoted(&s)),
            1 => (195usize..205).prop_map(|n| quoted(&"ü".repeat(n))),
        ]
        .boxed(),
        "email" => prop_oneof![
            "[a-z]{1,10}@[a-z]{1,10}\\.com".prop_map(|s| quoted(&s)),
            nasty_string().prop_map(|s| quoted(&s)),
        ]
        .boxed(),
        "is_private" => any::<bool>().prop_map(|b| b.to_string()).boxed(),
        "participants" => vec(id_like(), 0..5)
            .prop_map(|v| format!("[{}]", v.iter().map(|s| quoted(s)).collect::<Vec<_>>().join(",")))
            .boxed(),
        "metadata" => vec((nasty_string(), json_value()), 0..4)
            .prop_map(|kv| object_of(&kv))
            .boxed(),
        _ => json_value().boxed(),
    };
    prop_oneof![4 => right, 1 => json_value()].boxed()
}

/// A JSON object made of some of `keys` (each present or not), sometimes an unknown key too.
fn shaped_object(keys: &'static [&'static str]) -> impl Strategy<Value = String> {
    let fields: Vec<BoxedStrategy<Option<(String, String)>>> = keys
        .iter()
        .map(|k| {
            proptest::option::weighted(0.8, field_value(k).prop_map(move |v| (k.to_string(), v))).boxed()
        })
        .collect();
    let extra = proptest::option::weighted(0.1, (json_key(), json_value()));
    (fields, extra).prop_map(|(fields, extra)| {
        let mut fields: Vec<(String, String)> = fields.into_iter().flatten().collect();
        fields.extend(extra);
        object_of(&fields)
    })
}

const FRAME_KEYS: &[&str] = &["type", "content", "chat_id", "user_id", "metadata", "reply_to"];
const CHAT_KEYS: &[&str] = &["id", "name", "is_private", "participants", "metadata"];
const USER_KEYS: &[&str] = &["id", "username", "email", "metadata"];

/// A frame that is mostly right: a known type, a known room, random content and metadata.
fn plausible_frame() -> impl Strategy<Value = String> {
    let kind = proptest::sample::select(&["text", "text", "typing", "join", "leave"][..]);
    let room = proptest::sample::select(&["lobby", "room-1", "a:b@c.d_e-f"][..]);
    let content = prop_oneof![
        Just("typing".to_string()),
        Just("stopped".to_string()),
        nasty_string()
    ];
    let metadata =
        proptest::option::of(vec((nasty_string(), json_value()), 0..3).prop_map(|kv| object_of(&kv)));
    let user = proptest::option::of(Just(quoted(FUZZER)));
    (kind, room, content, metadata, user).prop_map(|(kind, room, content, metadata, user)| {
        let mut fields = vec![
            ("type".to_string(), quoted(kind)),
            ("chat_id".to_string(), quoted(room)),
            ("content".to_string(), quoted(&content)),
        ];
        fields.extend(metadata.map(|m| ("metadata".to_string(), m)));
        fields.extend(user.map(|u| ("user_id".to_string(), u)));
        object_of(&fields)
    })
}

/// Text a client might send as a frame: anything, any JSON, frame-shaped JSON, deep JSON.
fn frame_text() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => nasty_string(),
        2 => json_value(),
        5 => shaped_object(FRAME_KEYS),
        4 => plausible_frame(),
        1 => deep_json(),
    ]
}

/// Percent-encodes every byte outside `keep`.
fn percent_encode(bytes: &[u8], keep: impl Fn(u8) -> bool) -> String {
    bytes
        .iter()
        .map(|&b| {
            if keep(b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

// --- pure properties -------------------------------------------------------------------------

/// The contract's id rule, written independently of the server's `is_valid_id`.
fn id_rule(s: &str) -> bool {
    let n = s.chars().count();
    (1..=128).contains(&n)
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':' | '@'))
}

/// The decoder's verdict is consistent: an error has a non-empty detail; a frame is accepted
/// only for a JSON object whose `type` is one of the four client types.
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

    /// Id parsers accept exactly the strings of the contract's alphabet and length.
    #[test]
    fn ids_follow_the_contract_rule(s in prop_oneof![id_like(), nasty_string(), matching(&format!("{ID_CHARS}{{0,140}}"))]) {
        let ok = id_rule(&s);
        prop_assert_eq!(is_valid_id(&s), ok, "is_valid_id({:?})", s);
        prop_assert_eq!(ChatId::parse(&s).is_ok(), ok, "ChatId::parse({:?})", s);
        prop_assert_eq!(UserId::parse(&s).is_ok(), ok, "UserId::parse({:?})", s);
        prop_assert_eq!(UserId::parse_client(&s).is_ok(), ok && s != "system", "UserId::parse_client({:?})", s);
        if let Ok(id) = ChatId::parse(&s) {
            prop_assert_eq!(id.as_str(), s.as_str());
        }
        if let Err(e) = ChatId::parse(&s) {
            prop_assert_eq!(e.to_string(), "Invalid chat_id: must be 1 to 128 characters of A-Z a-z 0-9 . _ - : @");
        }
    }

    /// `time::parse` never panics; what it accepts within years 0..=9999 formats to the wire
    /// form and reads back as the same instant (to the microsecond).
    #[test]
    fn time_parse_never_panics(s in prop_oneof![
        nasty_string(),
        "[+-]?[0-9]{1,6}-[0-9]{1,2}-[0-9]{1,2}[T ][0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(\\.[0-9]{0,20})?(Z|z|[+-][0-9]{2}:[0-9]{2})?",
        "(0000|9999|1970|2024)-(01|02|12)-(01|28|29|31)T(00|23):(00|59):(00|59|60)(\\.[0-9]{1,12})?(Z|[+-](00|14|23):(00|59))?",
    ]) {
        use chrono::Datelike;
        if let Some(t) = time::parse(&s)
            && (0..=9999).contains(&t.year())
        {
            let wire = time::format(&t);
            prop_assert_eq!(wire.len(), 27, "{:?} formats as {:?}", s, wire);
            // The wire carries microseconds: finer fractions are cut, not rounded.
            let micros = t - chrono::TimeDelta::nanoseconds(i64::from(t.timestamp_subsec_nanos() % 1_000));
            prop_assert_eq!(time::parse(&wire), Some(micros), "{:?} → {:?}", s, wire);
        }
    }

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

// --- live server: WebSocket ------------------------------------------------------------------

/// The user every WebSocket fuzz connection acts as.
const FUZZER: &str = "fuzzer";

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
    prop_assert_eq!(
        keys,
        [
            "chat_id",
            "content",
            "id",
            "metadata",
            "reply_to",
            "timestamp",
            "type",
            "user_id"
        ],
        "neither an error frame nor a message: {}",
        v
    );
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

// --- live server: HTTP -----------------------------------------------------------------------

/// Status, content type and body of a response.
struct Reply {
    status: u16,
    content_type: String,
    body: Vec<u8>,
}

async fn send(req: reqwest::RequestBuilder) -> Result<Reply, TestCaseError> {
    let resp = tokio::time::timeout(TIMEOUT, req.send())
        .await
        .map_err(|_| fail("request timed out"))?
        .map_err(|e| fail(format!("request failed: {e:?}")))?;
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = resp
        .bytes()
        .await
        .map_err(|e| fail(format!("body: {e}")))?
        .to_vec();
    Ok(Reply {
        status,
        content_type,
        body,
    })
}

impl Reply {
    fn json(&self) -> Result<Value, TestCaseError> {
        prop_assert_eq!(&self.content_type, "application/json", "status {}", self.status);
        serde_json::from_slice(&self.body).map_err(|e| {
            fail(format!(
                "status {}: body is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            ))
        })
    }

    /// Asserts the status is one of `allowed` (never a 5xx) and an error body is exactly
    /// `{"detail": "<non-empty>"}`; returns the JSON body.
    fn check(&self, what: &str, allowed: &[u16]) -> Result<Value, TestCaseError> {
        let body = self.json()?;
        prop_assert!(
            allowed.contains(&self.status),
            "{}: status {} not in {:?}; body {}",
            what,
            self.status,
            allowed,
            body
        );
        if self.status >= 400 {
            let obj = body.as_object();
            let ok = obj.is_some_and(|o| {
                o.len() == 1
                    && o.get("detail")
                        .and_then(Value::as_str)
                        .is_some_and(|d| !d.trim().is_empty())
            });
            prop_assert!(
                ok,
                "{}: status {} with body {} (want exactly {{\"detail\"}})",
                what,
                self.status,
                body
            );
        }
        Ok(body)
    }
}

/// A room every HTTP test can use.
const ROOM: &str = "fuzz-room";

/// One server with `ROOM` created, on a runtime the test owns.
fn http_app() -> (Runtime, TestApp) {
    let rt = Runtime::new().unwrap();
    let app = rt.block_on(async {
        let app = TestApp::spawn().await;
        let (status, body) = app.post_json("/chat", json!({"id": ROOM, "name": "Fuzz"})).await;
        assert_eq!(status, 201, "{body}");
        app
    });
    (rt, app)
}

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

/// A query parameter: `limit`, `before` or anything, with a plausible or arbitrary value.
fn query_pair() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        3 => Just("limit".to_string()),
        3 => Just("before".to_string()),
        1 => "[a-z]{1,8}",
        1 => nasty_string(),
    ];
    let value = prop_oneof![
        2 => (0u64..1200).prop_map(|n| n.to_string()),
        1 => "[+-]?[0-9]{1,25}",
        2 => "(19|20|99)[0-9]{2}-[01][0-9]-[0-3][0-9]([T ][0-2][0-9]:[0-5][0-9]:[0-6][0-9](\\.[0-9]{0,12})?(Z|[+-][01][0-9]:[0-5][0-9])?)?",
        2 => nasty_string(),
        1 => vec(any::<u8>(), 0..20).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ];
    let raw = prop_oneof![
        Just("%".to_string()),
        Just("%zz".to_string()),
        Just("%C3".to_string()),
        Just("&&==".to_string()),
        Just("+".to_string()),
    ];
    let unreserved = |b: u8| b.is_ascii_alphanumeric() || b"-._~".contains(&b);
    prop_oneof![
        8 => (key, value, any::<bool>()).prop_map(move |(k, v, plus)| {
            let enc = |s: &str| {
                let e = percent_encode(s.as_bytes(), unreserved);
                if plus { e.replace("%20", "+") } else { e }
            };
            format!("{}={}", enc(&k), enc(&v))
        }),
        1 => raw,
    ]
}

/// Arbitrary query strings on `GET /chat/{id}/messages`: 200 with an array exactly when
/// `limit` and `before` (if given) are valid, else 400 `{"detail"}`.
#[test]
fn http_arbitrary_history_queries() {
    let (rt, app) = http_app();
    rt.block_on(async {
        let mut ws = app.ws(FUZZER).await;
        ws.send_json(json!({"type": "text", "chat_id": ROOM, "content": "one"}))
            .await;
        ws.recv_json().await; // the join notice
        ws.recv_json().await; // the echo
    });
    run_cases(300, vec(query_pair(), 0..4), |pairs| {
        let url = reqwest::Url::parse(&format!(
            "{}?{}",
            app.url(&format!("/chat/{ROOM}/messages")),
            pairs.join("&")
        ))
        .map_err(|e| fail(format!("test built a bad URL: {e}")))?;
        // What the server should conclude from the pairs (when neither key is repeated).
        let decoded: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let only = |k: &str| {
            let v: Vec<&String> = decoded
                .iter()
                .filter(|(key, _)| key == k)
                .map(|(_, v)| v)
                .collect();
            (v.len() <= 1).then(|| v.first().map(|s| s.to_string()))
        };
        let expected = match (only("limit"), only("before")) {
            (Some(limit), Some(before)) => {
                let limit_ok =
                    limit.is_none_or(|l| l.parse::<usize>().is_ok_and(|n| (1..=1000).contains(&n)));
                let before_ok = before.is_none_or(|b| time::parse(&b).is_some());
                Some(if limit_ok && before_ok { 200 } else { 400 })
            }
            _ => None,
        };
        rt.block_on(async {
            let what = format!("GET {url}");
            let reply = send(app.http.get(url.clone())).await?;
            let v = reply.check(&what, &[200, 400])?;
            if let Some(want) = expected {
                prop_assert_eq!(reply.status, want, "{}: {}", what, v);
            }
            if reply.status == 200 {
                prop_assert!(v.is_array(), "{}: {}", what, v);
            }
            Ok(())
        })
    });
}

/// A path segment: percent-encoded random bytes, random text, or an id.
fn path_segment() -> impl Strategy<Value = String> {
    let pchar = |b: u8| b.is_ascii_alphanumeric() || b"-_:@".contains(&b);
    prop_oneof![
        3 => vec(any::<u8>(), 1..40).prop_map(move |b| percent_encode(&b, pchar)),
        2 => "[\\PC]{1,20}".prop_map(move |s| percent_encode(s.as_bytes(), pchar)),
        2 => id_like().prop_filter("non-empty", |s| !s.is_empty()).prop_map(move |s| percent_encode(s.as_bytes(), pchar)),
        1 => Just(ROOM.to_string()),
    ]
}

/// Arbitrary path segments on the id routes: 400 when the segment is not a valid id (before
/// any 404), else 404 or 200; always `{"detail"}` on errors, never a 5xx.
#[test]
fn http_arbitrary_path_segments() {
    let (rt, app) = http_app();
    let routes = proptest::sample::select(
        &[
            ("GET", "/chat/{}"),
            ("GET", "/user/{}"),
            ("GET", "/chat/{}/messages"),
            ("GET", "/user/{}/chats"),
            ("DELETE", "/chat/fuzz-room/participants/{}"),
        ][..],
    );
    run_cases(300, (routes, path_segment()), |((method, template), seg)| {
        let path = template.replace("{}", &seg);
        let url = reqwest::Url::parse(&app.url(&path)).map_err(|e| fail(format!("bad URL: {e}")))?;
        // The URL parser resolves `.`/`..` segments (also as %2E): those test the client.
        prop_assume!(url.path() == path);
        // Ids are judged once percent-decoded (`a%2E` is `a.`); `system` is a valid id that is
        // never a participant (404 on DELETE).
        let id = percent_encoding::percent_decode_str(&seg).decode_utf8_lossy();
        let valid = is_valid_id(&id);
        rt.block_on(async {
            let req = app.http.request(method.parse().unwrap(), url.clone());
            let what = format!("{method} {path}");
            let reply = send(req).await?;
            let allowed: &[u16] = if valid { &[200, 404] } else { &[400] };
            reply.check(&what, allowed)?;
            Ok(())
        })
    });
}

/// A valid id with some of its unreserved characters percent-encoded names the same resource
/// (RFC 3986 §6.2.2.2: such URIs are equivalent); the seed's FastAPI server decoded them too.
#[test]
fn http_percent_encoded_ids_name_the_same_resource() {
    let (rt, app) = http_app();
    let strategy = ("[a-z0-9._-]{1,12}", vec(any::<bool>(), 12));
    run_cases(20, strategy, |(id, encode)| {
        let user = format!("u-{id}");
        let enc: String = user
            .bytes()
            .zip(encode.iter().chain(std::iter::repeat(&false)))
            .map(|(b, &e)| {
                if e {
                    format!("%{b:02X}")
                } else {
                    (b as char).to_string()
                }
            })
            .collect();
        prop_assume!(enc != user);
        rt.block_on(async {
            let created = app.post_json("/user", json!({"id": user, "username": "x"})).await;
            prop_assert!(matches!(created.0, 201 | 409), "{:?}", created);
            let plain = send(app.http.get(app.url(&format!("/user/{user}")))).await?;
            let encoded = send(app.http.get(app.url(&format!("/user/{enc}")))).await?;
            prop_assert_eq!(plain.status, 200);
            prop_assert_eq!(
                (encoded.status, encoded.json()?),
                (200, plain.json()?),
                "GET /user/{} (the same id as /user/{})",
                enc,
                user
            );
            Ok(())
        })
    });
}
