//! Messages: what is stored in a room's history and sent to every connection.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::ids::{ChatId, UserId};
use super::time::{Timestamp, serde_ts};

/// Free-form JSON object (default `{}`).
pub type Metadata = serde_json::Map<String, serde_json::Value>;

/// The kind of a message. `typing` is delivered live and never stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(example = "text")]
pub enum MessageKind {
    Text,
    System,
    Typing,
}

/// A stored message, exactly as history returns it and WebSocket delivers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "id": "0192f0c1-7d3e-7b7a-9c1d-2f4e6a8b0c12", "chat_id": "chat1", "user_id": "user1",
    "content": "Hello, world!", "type": "text", "timestamp": "2024-01-01T00:00:00.000000Z",
    "seq": 1704067200000000_u64, "epoch": "20240101000000000000",
    "metadata": {"client": "web"}, "reply_to": null
}))]
pub struct Message {
    /// Server-assigned UUID v7.
    #[schema(example = "0192f0c1-7d3e-7b7a-9c1d-2f4e6a8b0c12")]
    pub id: Uuid,
    /// The room.
    #[schema(value_type = String, example = "chat1")]
    pub chat_id: ChatId,
    /// The author; `system` for join and leave notices.
    #[schema(value_type = String, example = "user1")]
    pub user_id: UserId,
    /// The text (for `typing`: `typing` or `stopped`).
    #[schema(example = "Hello, world!")]
    pub content: String,
    /// `text`, `system` or `typing`.
    #[serde(rename = "type")]
    #[schema(example = "text")]
    pub kind: MessageKind,
    /// When the server stored it: RFC 3339, UTC, microseconds; strictly increasing per room.
    #[serde(with = "serde_ts")]
    #[schema(value_type = String, format = DateTime, example = "2024-01-01T00:00:00.000000Z")]
    pub timestamp: Timestamp,
    /// The message's place in its room: strictly increasing within the room (the timestamp in
    /// microseconds since the epoch). Absent on typing events, which are not stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = 1704067200000000_u64, minimum = 1)]
    pub seq: Option<u64>,
    /// The identity of the room's history: the same for as long as that history lasts, and a
    /// new one if it is lost (the store flushed, the room created again). Opaque. Absent on
    /// typing events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "20240101000000000000")]
    pub epoch: Option<String>,
    /// Free-form JSON object supplied by the sender.
    #[schema(value_type = HashMap<String, serde_json::Value>, example = json!({"client": "web"}))]
    pub metadata: Metadata,
    /// Id of the message this one answers, if any.
    #[schema(example = json!(null))]
    pub reply_to: Option<String>,
    /// The sender's own id for this message, when it gave one (see `client_msg_id` on the text
    /// frame): a retry with the same id is answered with this same message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "c-7f3a-0001")]
    pub client_msg_id: Option<String>,
}

/// A message before the store gives it an id and a timestamp.
#[derive(Debug, Clone)]
pub struct Draft {
    pub chat_id: ChatId,
    pub user_id: UserId,
    pub content: String,
    pub kind: MessageKind,
    pub metadata: Metadata,
    pub reply_to: Option<String>,
    pub client_msg_id: Option<String>,
}

impl Draft {
    /// The system notice stored when `user` joins (`true`) or leaves (`false`) `chat`.
    /// CONTRACT: `"user1 joined the chat"` / `"user1 left the chat"`, author `system`.
    pub fn membership(chat: &ChatId, user: &UserId, joined: bool) -> Self {
        let verb = if joined { "joined" } else { "left" };
        Self {
            chat_id: chat.clone(),
            user_id: UserId::system(),
            content: format!("{user} {verb} the chat"),
            kind: MessageKind::System,
            metadata: Metadata::new(),
            reply_to: None,
            client_msg_id: None,
        }
    }

    /// Stamps the draft with a fresh UUID v7 and `timestamp`, as a message that is not stored
    /// (a typing event: no `seq`, no `epoch`).
    pub fn stamp(self, timestamp: Timestamp) -> Message {
        Message {
            id: Uuid::now_v7(),
            chat_id: self.chat_id,
            user_id: self.user_id,
            content: self.content,
            kind: self.kind,
            timestamp,
            seq: None,
            epoch: None,
            metadata: self.metadata,
            reply_to: self.reply_to,
            client_msg_id: self.client_msg_id,
        }
    }

    /// Stamps the draft as stored at `timestamp` in a room whose history is `epoch`: its
    /// `seq` is the timestamp in microseconds.
    pub fn store(self, timestamp: Timestamp, epoch: &str) -> Message {
        let mut m = self.stamp(timestamp);
        m.seq = Some(seq_of(timestamp));
        m.epoch = Some(epoch.to_string());
        m
    }
}

/// The `seq` of a message stored at `t`: microseconds since the Unix epoch (stored messages
/// are never older than it).
pub fn seq_of(t: Timestamp) -> u64 {
    u64::try_from(t.timestamp_micros()).unwrap_or(0)
}

/// The smallest `seq` at or after `t` (so "older than `t`" is "`seq` below this" at µs grain);
/// 0 for any time at or before the Unix epoch (no message is older).
pub fn seq_ceil(t: Timestamp) -> u64 {
    let us = t.timestamp_micros() + i64::from(!t.timestamp_subsec_nanos().is_multiple_of(1000));
    u64::try_from(us).unwrap_or(0)
}

/// The `epoch` of a room's history: the digits of the room's `created_at` as stored
/// (`time::format`; a room created again after its history was lost has a new one).
/// room.lua derives it the same way.
pub fn epoch_of(created_at: &str) -> String {
    created_at.chars().filter(char::is_ascii_digit).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::time;

    #[test]
    fn serialises_with_the_seed_field_names() {
        let chat = ChatId::parse("chat1").unwrap();
        let user = UserId::parse("user1").unwrap();
        let ts = time::parse("2024-01-01T00:00:00Z").unwrap();
        let m = Draft::membership(&chat, &user, true).store(ts, "20240101");
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(v["seq"], 1704067200000000_u64);
        assert_eq!(v["epoch"], "20240101");
        assert_eq!(v["type"], "system");
        assert_eq!(v["user_id"], "system");
        assert_eq!(v["content"], "user1 joined the chat");
        assert_eq!(v["timestamp"], "2024-01-01T00:00:00.000000Z");
        assert_eq!(v["metadata"], serde_json::json!({}));
        assert_eq!(v["reply_to"], serde_json::Value::Null);
        let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys.len(), 10, "client_msg_id is left out when absent: {keys:?}");
        let back: Message = serde_json::from_value(v).unwrap();
        assert_eq!(back, m);
    }
}
