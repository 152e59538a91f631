//! Rooms: the stored shape, and the validated request to create one.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ids::{ChatId, UserId};
use super::message::Metadata;
use super::time::{Timestamp, serde_ts};

/// The longest room name `POST /chat` accepts.
pub const MAX_NAME_CHARS: usize = 200;

/// A chat room as `GET /chat/{chat_id}` returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "id": "chat1", "name": "Chat Room Name", "created_at": "2024-01-01T00:00:00.000000Z",
    "participants": ["user1", "user2"], "is_private": false, "metadata": {"topic": "rust"}
}))]
pub struct ChatRoom {
    /// The room id (client-chosen, or a UUID v7).
    #[schema(value_type = String, example = "chat1")]
    pub id: ChatId,
    /// Display name; rooms created by a WebSocket frame are named after their id.
    #[schema(example = "Chat Room Name")]
    pub name: String,
    /// Creation time: RFC 3339, UTC, microseconds.
    #[serde(with = "serde_ts")]
    #[schema(value_type = String, format = DateTime, example = "2024-01-01T00:00:00.000000Z")]
    pub created_at: Timestamp,
    /// Participant user ids, sorted.
    #[schema(value_type = Vec<String>, example = json!(["user1", "user2"]))]
    pub participants: Vec<UserId>,
    /// Private rooms are readable and writable by participants only.
    #[schema(example = false)]
    pub is_private: bool,
    /// Free-form JSON object.
    #[schema(value_type = HashMap<String, serde_json::Value>, example = json!({"topic": "rust"}))]
    pub metadata: Metadata,
}

/// A room in a participant's list (`GET /user/{user_id}/chats`): the room, how many of its
/// messages the user has not read, and its newest message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "id": "chat1", "name": "Chat Room Name", "created_at": "2024-01-01T00:00:00.000000Z",
    "participants": ["user1", "user2"], "is_private": false, "metadata": {"topic": "rust"},
    "unread": 2, "last_message": null
}))]
pub struct UserRoom {
    #[serde(flatten)]
    pub room: ChatRoom,
    /// Messages stored after the user's read position (see the `read` frame); the user's own
    /// texts and joins move that position, so they never count.
    #[schema(example = 2)]
    pub unread: u64,
    /// The room's newest message, if it has any.
    pub last_message: Option<super::message::Message>,
}

/// A room as `GET /chat/{chat_id}` returns it: the room and its participants' read positions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "id": "chat1", "name": "Chat Room Name", "created_at": "2024-01-01T00:00:00.000000Z",
    "participants": ["user1", "user2"], "is_private": false, "metadata": {"topic": "rust"},
    "read_positions": {"user1": 1704067200000000_u64}
}))]
pub struct RoomDetails {
    #[serde(flatten)]
    pub room: ChatRoom,
    /// For each participant that has read anything: the `seq` it has read up to.
    #[schema(value_type = HashMap<String, u64>, example = json!({"user1": 1704067200000000_u64}))]
    pub read_positions: std::collections::BTreeMap<UserId, u64>,
}

/// Body of `POST /chat`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"id": "chat1", "name": "Chat Room Name", "is_private": false,
    "participants": ["user1", "user2"], "metadata": {"topic": "rust"}}))]
pub struct NewChat {
    /// Room id; a UUID v7 is assigned when absent.
    #[schema(example = "chat1", pattern = "^[A-Za-z0-9._:@-]{1,128}$")]
    pub id: Option<String>,
    /// Display name, 1 to 200 characters, not blank.
    #[schema(example = "Chat Room Name", min_length = 1, max_length = 200, pattern = "\\S")]
    pub name: String,
    /// Defaults to `false`.
    #[schema(example = false)]
    pub is_private: Option<bool>,
    /// Initial participants (created if they do not exist); no system message is stored for them.
    #[schema(value_type = Option<Vec<crate::domain::ids::IdSchema>>, example = json!(["user1", "user2"]))]
    pub participants: Option<Vec<String>>,
    /// Free-form JSON object, default `{}`.
    #[schema(value_type = Option<HashMap<String, serde_json::Value>>, example = json!({"topic": "rust"}))]
    pub metadata: Option<Metadata>,
}

/// A validated `NewChat`: what the store creates.
#[derive(Debug, Clone)]
pub struct RoomSpec {
    pub id: ChatId,
    pub name: String,
    pub is_private: bool,
    pub participants: Vec<UserId>,
    pub metadata: Metadata,
}

impl RoomSpec {
    /// The room a WebSocket frame creates on first use: public, named after its id.
    pub fn implicit(id: &ChatId) -> Self {
        Self {
            id: id.clone(),
            name: id.to_string(),
            is_private: false,
            participants: Vec::new(),
            metadata: Metadata::new(),
        }
    }
}

impl RoomSpec {
    /// The room as created at `created_at` (participants sorted, each once).
    pub fn into_room(mut self, created_at: Timestamp) -> ChatRoom {
        self.participants.sort();
        self.participants.dedup();
        ChatRoom {
            id: self.id,
            name: self.name,
            created_at,
            participants: self.participants,
            is_private: self.is_private,
            metadata: self.metadata,
        }
    }
}

impl NewChat {
    /// Checks every field; the error is the `detail` of a 400.
    pub fn validate(self) -> Result<RoomSpec, String> {
        let id = match self.id {
            Some(id) => ChatId::parse(&id).map_err(|e| e.to_string())?,
            None => ChatId::parse(&uuid::Uuid::now_v7().to_string()).map_err(|e| e.to_string())?,
        };
        let chars = self.name.chars().count();
        if super::text::is_blank(&self.name) || chars > MAX_NAME_CHARS {
            return Err(format!(
                "Invalid name: must be 1 to {MAX_NAME_CHARS} characters, not blank"
            ));
        }
        let mut participants = Vec::new();
        for p in self.participants.unwrap_or_default() {
            let user = UserId::parse_client(&p).map_err(|e| format!("Invalid participants: {e}"))?;
            participants.push(user);
        }
        participants.sort();
        participants.dedup();
        Ok(RoomSpec {
            id,
            name: self.name,
            is_private: self.is_private.unwrap_or(false),
            participants,
            metadata: self.metadata.unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_chat(v: serde_json::Value) -> Result<RoomSpec, String> {
        serde_json::from_value::<NewChat>(v).unwrap().validate()
    }

    #[test]
    fn defaults_and_dedup() {
        let spec = new_chat(serde_json::json!({"name": "R", "participants": ["b", "a", "b"]})).unwrap();
        assert_eq!(spec.id.as_str().len(), 36);
        assert!(!spec.is_private);
        let names: Vec<_> = spec.participants.iter().map(|u| u.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
    }

    #[test]
    fn refuses_blank_names_and_bad_ids() {
        assert!(new_chat(serde_json::json!({"name": " "})).is_err());
        assert!(new_chat(serde_json::json!({"name": "x".repeat(201)})).is_err());
        assert!(new_chat(serde_json::json!({"name": "R", "id": "a b"})).is_err());
        let err = new_chat(serde_json::json!({"name": "R", "participants": ["system"]}));
        assert_eq!(
            err.unwrap_err(),
            "Invalid participants: Invalid user_id: \"system\" is reserved"
        );
    }
}
