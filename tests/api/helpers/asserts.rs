//! Format and content checks of what the server sends: ids, timestamps, stored messages.

use serde_json::{Value, json};

/// Asserts `s` is a hyphenated UUID v7 (version digit at index 14, RFC variant at 19).
pub fn assert_uuid_v7(s: &str) {
    let b = s.as_bytes();
    assert_eq!(b.len(), 36, "not a UUID: {s}");
    for (i, c) in b.iter().enumerate() {
        match i {
            8 | 13 | 18 | 23 => assert_eq!(*c, b'-', "not a UUID: {s}"),
            _ => assert!(
                c.is_ascii_hexdigit() && !c.is_ascii_uppercase(),
                "not a UUID: {s}"
            ),
        }
    }
    assert_eq!(b[14], b'7', "not a UUID v7: {s}");
    assert!(
        matches!(b[19], b'8' | b'9' | b'a' | b'b'),
        "not an RFC 4122 variant: {s}"
    );
}

/// Asserts `s` is `YYYY-MM-DDTHH:MM:SS.ffffffZ` (RFC 3339, UTC, microseconds).
pub fn assert_timestamp(s: &str) {
    let b = s.as_bytes();
    assert_eq!(b.len(), 27, "not a microsecond UTC timestamp: {s}");
    for (i, c) in b.iter().enumerate() {
        let want = match i {
            4 | 7 => b'-',
            10 => b'T',
            13 | 16 => b':',
            19 => b'.',
            26 => b'Z',
            _ => {
                assert!(c.is_ascii_digit(), "not a microsecond UTC timestamp: {s}");
                continue;
            }
        };
        assert_eq!(*c, want, "not a microsecond UTC timestamp: {s}");
    }
}

/// Checks a server message's id and timestamp formats, a stored message's `seq` (its
/// timestamp in µs) and `epoch` (digits), and compares the rest with `expected`.
pub fn assert_message(got: &Value, kind: &str, chat: &str, user: &str, content: &str) {
    assert_uuid_v7(got["id"].as_str().expect("id is a string"));
    let ts = got["timestamp"].as_str().expect("timestamp is a string");
    assert_timestamp(ts);
    let mut expected = json!({
        "id": got["id"], "chat_id": chat, "user_id": user, "content": content, "type": kind,
        "timestamp": got["timestamp"], "metadata": {}, "reply_to": null
    });
    if kind != "typing" {
        let micros = chrono::DateTime::parse_from_rfc3339(ts)
            .unwrap()
            .timestamp_micros();
        assert_eq!(
            got["seq"].as_i64(),
            Some(micros),
            "seq is the timestamp in µs: {got}"
        );
        let epoch = got["epoch"].as_str().expect("a stored message has an epoch");
        assert!(
            !epoch.is_empty() && epoch.bytes().all(|b| b.is_ascii_digit()),
            "{got}"
        );
        expected["seq"] = got["seq"].clone();
        expected["epoch"] = got["epoch"].clone();
    }
    assert_eq!(got, &expected);
}
