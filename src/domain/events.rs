//! Frames that are not stored messages: a read receipt, and the answer to a resume. Built by
//! the use cases (a receipt is delivered like a typing event), described in the AsyncAPI
//! document from these types.

use serde::Serialize;
use utoipa::ToSchema;

use super::ids::{ChatId, UserId};
use super::message::Message;

/// The `type` of a receipt frame.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[schema(example = "receipt")]
#[serde(rename_all = "lowercase")]
pub enum ReceiptTag {
    Receipt,
}

/// `receipt`: a participant has read a room up to `seq` (sent to the room's other
/// participants when a `read` frame moves that user's position forward; not stored).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"type": "receipt", "chat_id": "chat1", "user_id": "user2", "seq": 1704067200000000_u64}))]
pub struct Receipt {
    #[serde(rename = "type")]
    pub kind: ReceiptTag,
    #[schema(value_type = String, example = "chat1")]
    pub chat_id: ChatId,
    /// The reader.
    #[schema(value_type = String, example = "user2")]
    pub user_id: UserId,
    /// The `seq` of the newest message it has read.
    #[schema(example = 1704067200000000_u64)]
    pub seq: u64,
}

/// The `type` of a resume's answer.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[schema(example = "resumed")]
#[serde(rename_all = "lowercase")]
pub enum ResumedTag {
    Resumed,
}

/// `resumed`: the answer to a `resume` frame, one per room it names, after that room's
/// replayed messages and before its live ones.
///
/// `recovered: true`: the messages after the client's position came just before this frame,
/// each as a message frame (`replayed` says how many). `recovered: false`: the history no
/// longer reaches back to the position (trimmed) or the epoch differs (history lost); the
/// room's newest messages are in `messages` instead, and the client should replace what it
/// holds for the room with them.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"type": "resumed", "chat_id": "chat1", "recovered": true, "epoch": "20240101000000000000", "replayed": 2}))]
pub struct Resumed {
    #[serde(rename = "type")]
    pub kind: ResumedTag,
    #[schema(value_type = String, example = "chat1")]
    pub chat_id: ChatId,
    /// Whether every message after the position was replayed.
    pub recovered: bool,
    /// The room's history identity now.
    #[schema(example = "20240101000000000000")]
    pub epoch: String,
    /// With `recovered: true`: how many messages were replayed before this frame.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replayed: Option<usize>,
    /// With `recovered: false`: the room's newest messages (up to 50), oldest first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<Message>>,
}
