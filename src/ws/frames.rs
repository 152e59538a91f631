//! WebSocket frames: what clients send, what the server sends, and the decoder between them.
//!
//! Decoding never fails silently: every refusal is a `detail` for an error frame
//! (CONTRACT: invalid JSON, missing field, unknown type, `system` from a client...).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::events::{Receipt, Resumed};
use crate::domain::{Message, Metadata};

/// `text`: store a message and deliver it to the room (the sender gets it back as the ack).
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"type": "text", "content": "Hello, world!", "chat_id": "chat1", "user_id": "user1"}))]
pub struct TextFrame {
    /// 1 to 4096 characters (`MAX_CONTENT_LENGTH`).
    #[schema(example = "Hello, world!")]
    pub content: String,
    /// The room; created (public) if it does not exist.
    #[schema(example = "chat1")]
    pub chat_id: String,
    /// Optional; when present it must be the connection's own user id.
    #[schema(example = "user1")]
    pub user_id: Option<String>,
    /// Free-form JSON object, stored with the message.
    #[schema(value_type = Option<HashMap<String, serde_json::Value>>, example = json!({"client": "web"}))]
    pub metadata: Option<Metadata>,
    /// Id of the message this one answers.
    #[schema(
        example = "0192f0c1-7d3e-7b7a-9c1d-2f4e6a8b0c12",
        pattern = "^[A-Za-z0-9._:@-]{1,128}$"
    )]
    pub reply_to: Option<String>,
    /// Your own id for this message (1 to 128 characters of A-Z a-z 0-9 . _ - : @). Sending
    /// it again (same user and room, within `IDEMPOTENCY_WINDOW_SECONDS`, on any connection or
    /// instance) stores nothing and answers this connection alone with the original message.
    #[schema(example = "c-7f3a-0001", pattern = "^[A-Za-z0-9._:@-]{1,128}$")]
    pub client_msg_id: Option<String>,
}

/// `typing`: tell the room's other participants you are typing (or stopped); not stored.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"type": "typing", "content": "typing", "chat_id": "chat1", "user_id": "user1"}))]
pub struct TypingFrame {
    /// `typing` or `stopped`.
    #[schema(example = "typing")]
    pub content: String,
    /// The room; it must exist and you must be a participant.
    #[schema(example = "chat1")]
    pub chat_id: String,
    /// Optional; when present it must be the connection's own user id.
    #[schema(example = "user1")]
    pub user_id: Option<String>,
}

/// `join` / `leave`: change membership; a `system` message is stored and delivered.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"type": "join", "chat_id": "chat1"}))]
pub struct RoomFrame {
    /// The room to join or leave.
    #[schema(example = "chat1")]
    pub chat_id: String,
    /// Optional; when present it must be the connection's own user id.
    #[schema(example = "user1")]
    pub user_id: Option<String>,
}

/// Where a client stands in one room: the `seq` and `epoch` of the last message it saw (`seq`
/// 0: none).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"seq": 1704067200000000_u64, "epoch": "20240101000000000000"}))]
pub struct PositionFrame {
    #[schema(example = 1704067200000000_u64, minimum = 0)]
    pub seq: u64,
    #[schema(example = "20240101000000000000")]
    pub epoch: String,
}

/// `resume`: on a connection opened with `?resume=true`, its first frame. For each room
/// named, the messages after the position arrive in order, then a `resumed` frame, and only
/// then that room's live messages.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"type": "resume", "positions": {"chat1": {"seq": 1704067200000000_u64, "epoch": "20240101000000000000"}}}))]
pub struct ResumeFrame {
    /// Room id → the last message seen there (at most 1000 rooms).
    pub positions: std::collections::HashMap<String, PositionFrame>,
}

/// `read`: you have read `chat_id` up to `seq`. Only forward moves count; the room's other
/// participants get a `receipt`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"type": "read", "chat_id": "chat1", "seq": 1704067200000000_u64}))]
pub struct ReadFrame {
    #[schema(example = "chat1")]
    pub chat_id: String,
    /// The `seq` of the newest message read.
    #[schema(example = 1704067200000000_u64, minimum = 0)]
    pub seq: u64,
    /// Optional; when present it must be the connection's own user id.
    #[schema(example = "user1")]
    pub user_id: Option<String>,
}

/// A frame a client sends: a JSON text frame with a `type`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "lowercase")]
#[schema(example = json!({"type": "text", "content": "Hello, world!", "chat_id": "chat1"}))]
pub enum ClientFrame {
    Text(TextFrame),
    Typing(TypingFrame),
    Join(RoomFrame),
    Leave(RoomFrame),
    Resume(ResumeFrame),
    Read(ReadFrame),
}

impl ClientFrame {
    /// The frame's `type`, as a metrics label.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Text(_) => "text",
            Self::Typing(_) => "typing",
            Self::Join(_) => "join",
            Self::Leave(_) => "leave",
            Self::Resume(_) => "resume",
            Self::Read(_) => "read",
        }
    }
}

/// The error frame: the connection stays open.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"type": "error", "detail": "content must not be empty"}))]
pub struct ErrorFrame {
    /// Always `error`.
    #[serde(rename = "type")]
    #[schema(example = "error")]
    pub kind: ErrorTag,
    /// What was wrong with the frame.
    #[schema(example = "content must not be empty")]
    pub detail: String,
}

/// The `type` of an error frame.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(example = "error")]
pub enum ErrorTag {
    Error,
}

/// A frame the server sends: a message (`text`, `system`, `typing`), a `receipt`, a
/// `resumed`, or an error.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
#[schema(example = json!({
    "id": "0192f0c1-7d3e-7b7a-9c1d-2f4e6a8b0c12", "chat_id": "chat1", "user_id": "system",
    "content": "user1 joined the chat", "type": "system", "timestamp": "2024-01-01T00:00:00.000000Z",
    "metadata": {}, "reply_to": null
}))]
pub enum ServerFrame {
    Message(Message),
    Receipt(Receipt),
    Resumed(Resumed),
    Error(ErrorFrame),
}

/// The error frame's JSON for `detail`.
pub fn error_frame(detail: impl Into<String>) -> String {
    let frame = ErrorFrame {
        kind: ErrorTag::Error,
        detail: detail.into(),
    };
    serde_json::to_string(&frame).unwrap_or_default()
}

/// Every client frame `type`.
const CLIENT_TYPES: [&str; 6] = ["text", "typing", "join", "leave", "resume", "read"];

/// Decodes a client's text frame, or says precisely why not.
pub fn decode(text: &str) -> Result<ClientFrame, String> {
    // The usual text frame, `type` first, decodes straight to its fields: serde's internally
    // tagged enum would buffer every field first. `type` is not a field of `TextFrame`, so it
    // is skipped there; a frame that names `type` again, or fails, goes the enum's way.
    if let Some(rest) = text.strip_prefix(r#"{"type":"text","#)
        && !rest.contains(r#""type""#)
        && let Ok(frame) = serde_json::from_str::<TextFrame>(text)
    {
        return Ok(ClientFrame::Text(frame));
    }
    // Any other well-formed frame decodes straight to its type (without a `serde_json::Value`
    // tree first); anything else goes the long way, to say why.
    if let Ok(frame) = serde_json::from_str(text) {
        return Ok(frame);
    }
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("Invalid JSON: {e}"))?;
    let Some(obj) = value.as_object() else {
        return Err("Invalid frame: expected a JSON object with a \"type\"".into());
    };
    match obj.get("type") {
        None => return Err("Invalid frame: missing field `type`".into()),
        Some(serde_json::Value::String(t)) if t == "system" => {
            return Err("Clients cannot send system messages".into());
        }
        Some(serde_json::Value::String(t)) if !CLIENT_TYPES.contains(&t.as_str()) => {
            return Err(format!(
                "Unknown frame type {t:?}: expected text, typing, join, leave, resume or read"
            ));
        }
        Some(serde_json::Value::String(_)) => {}
        Some(_) => return Err("Invalid frame: `type` must be a string".into()),
    }
    serde_json::from_value(value).map_err(|e| format!("Invalid frame: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A text frame with `type` first decodes as the enum would decode it; one naming `type`
    /// twice goes the long way, as before.
    #[test]
    fn a_text_frame_type_first_decodes_as_the_enum_does() {
        let text = r#"{"type":"text","chat_id":"r","content":"a \"type\" b","metadata":{"k":1},"client_msg_id":"c"}"#;
        let Ok(ClientFrame::Text(fast)) = decode(text) else {
            panic!("not a text frame");
        };
        let Ok(ClientFrame::Text(slow)) = serde_json::from_str::<ClientFrame>(text) else {
            panic!("not a text frame");
        };
        assert_eq!(format!("{fast:?}"), format!("{slow:?}"));
        assert_eq!(fast.content, "a \"type\" b");
        let twice = r#"{"type":"text","chat_id":"r","content":"x","type":"join"}"#;
        // The long way reads it as a `Value`, whose last `type` wins.
        assert_eq!(decode(twice).map(|f| f.kind()), Ok("join"));
    }

    #[test]
    fn decodes_the_seed_examples() {
        let f = decode(r#"{"type":"text","content":"Hello, world!","chat_id":"chat1","user_id":"user1"}"#);
        assert!(
            matches!(f, Ok(ClientFrame::Text(TextFrame { ref content, .. })) if content == "Hello, world!")
        );
        let f = decode(r#"{"type":"typing","content":"typing","chat_id":"uuid","user_id":"uuid"}"#);
        assert!(matches!(f, Ok(ClientFrame::Typing(_))));
    }

    #[test]
    fn refusals_are_precise() {
        let cases = [
            (
                "{",
                "Invalid JSON: EOF while parsing an object at line 1 column 1",
            ),
            ("[1]", "Invalid frame: expected a JSON object with a \"type\""),
            ("{}", "Invalid frame: missing field `type`"),
            (r#"{"type":5}"#, "Invalid frame: `type` must be a string"),
            (
                r#"{"type":"system","content":"x","chat_id":"c"}"#,
                "Clients cannot send system messages",
            ),
            (
                r#"{"type":"shout"}"#,
                "Unknown frame type \"shout\": expected text, typing, join, leave, resume or read",
            ),
            (
                r#"{"type":"text","chat_id":"c"}"#,
                "Invalid frame: missing field `content`",
            ),
            (
                r#"{"type":"join","chat_id":7}"#,
                "Invalid frame: invalid type: integer `7`, expected a string",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(decode(input).unwrap_err(), want, "{input}");
        }
    }

    #[test]
    fn error_frame_shape() {
        let f = error_frame("nope");
        assert_eq!(f, r#"{"type":"error","detail":"nope"}"#);
    }
}
