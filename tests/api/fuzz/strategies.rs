//! Input generators for the fuzz properties: ids, strings, JSON of any shape, bodies and
//! frames shaped like the contract's, percent-encoding.

use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::Value;

use super::FUZZER;

/// The contract's id alphabet.
pub(super) const ID_CHARS: &str = "[A-Za-z0-9._:@-]";

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
pub(super) fn matching(pattern: &str) -> proptest::string::RegexGeneratorStrategy<String> {
    proptest::string::string_regex(pattern).expect("valid regex")
}

/// Strings a person would not think of: unicode, controls, escapes, long runs.
pub(super) fn nasty_string() -> impl Strategy<Value = String> {
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
pub(super) fn id_like() -> impl Strategy<Value = String> {
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
pub(super) fn json_value() -> impl Strategy<Value = String> {
    json_leaf().prop_recursive(6, 48, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(|v| format!("[{}]", v.join(","))),
            vec((json_key(), inner), 0..6).prop_map(|kv| object_of(&kv)),
        ]
    })
}

/// `depth` nested arrays around `core` (or objects under `key`).
pub(super) fn nested(depth: usize, key: Option<&str>, core: &str) -> String {
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
pub(super) fn deep_json() -> impl Strategy<Value = String> {
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
pub(super) fn shaped_object(keys: &'static [&'static str]) -> impl Strategy<Value = String> {
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
pub(super) const CHAT_KEYS: &[&str] = &["id", "name", "is_private", "participants", "metadata"];
pub(super) const USER_KEYS: &[&str] = &["id", "username", "email", "metadata"];

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
pub(super) fn frame_text() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => nasty_string(),
        2 => json_value(),
        5 => shaped_object(FRAME_KEYS),
        4 => plausible_frame(),
        1 => deep_json(),
    ]
}

/// Percent-encodes every byte outside `keep`.
pub(super) fn percent_encode(bytes: &[u8], keep: impl Fn(u8) -> bool) -> String {
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
