//! Users: the stored shape, and the validated request to create one.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ids::UserId;
use super::message::Metadata;
use super::time::{Timestamp, serde_ts_opt};

/// The longest username `POST /user` accepts.
pub const MAX_USERNAME_CHARS: usize = 128;
/// The longest email address accepted (RFC 5321's path limit).
pub const MAX_EMAIL_CHARS: usize = 254;

/// A user as `GET /user/{user_id}` returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "id": "user1", "username": "username", "email": "user@example.com", "is_active": true,
    "last_seen": "2024-01-01T00:00:00.000000Z", "metadata": {"locale": "en"}
}))]
pub struct User {
    /// The user id.
    #[schema(value_type = String, example = "user1")]
    pub id: UserId,
    /// Display name; users created by a WebSocket connection are named after their id.
    #[schema(example = "username")]
    pub username: String,
    /// Email address, if known.
    #[schema(example = "user@example.com")]
    pub email: Option<String>,
    /// True while the user has at least one live WebSocket connection.
    #[schema(example = true)]
    pub is_active: bool,
    /// When the user's last connection closed; null until then.
    #[serde(with = "serde_ts_opt")]
    #[schema(value_type = Option<String>, format = DateTime, example = "2024-01-01T00:00:00.000000Z")]
    pub last_seen: Option<Timestamp>,
    /// Free-form JSON object.
    #[schema(value_type = HashMap<String, serde_json::Value>, example = json!({"locale": "en"}))]
    pub metadata: Metadata,
}

/// Body of `POST /user`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"id": "user1", "username": "username", "email": "user@example.com", "metadata": {"locale": "en"}}))]
pub struct NewUser {
    /// User id; a UUID v7 is assigned when absent.
    #[schema(example = "user1", pattern = "^(?!system$)[A-Za-z0-9._:@-]{1,128}$")]
    pub id: Option<String>,
    /// Display name, 1 to 128 characters, not blank.
    #[schema(example = "username", min_length = 1, max_length = 128, pattern = "\\S")]
    pub username: String,
    /// Email address: at most 254 characters, one `@` with text on both sides.
    #[schema(
        example = "user@example.com",
        max_length = 254,
        pattern = "^[^@\\s]+@[^@\\s]+$"
    )]
    pub email: Option<String>,
    /// Free-form JSON object, default `{}`.
    #[schema(value_type = Option<HashMap<String, serde_json::Value>>, example = json!({"locale": "en"}))]
    pub metadata: Option<Metadata>,
}

/// A validated `NewUser`: what the store creates.
#[derive(Debug, Clone)]
pub struct UserSpec {
    pub id: UserId,
    pub username: String,
    pub email: Option<String>,
    pub metadata: Metadata,
}

impl UserSpec {
    /// The user a WebSocket connection or a join creates on first use: named after its id.
    pub fn implicit(id: &UserId) -> Self {
        Self {
            id: id.clone(),
            username: id.to_string(),
            email: None,
            metadata: Metadata::new(),
        }
    }
}

impl From<UserSpec> for User {
    /// A new user: not connected yet, never seen.
    fn from(spec: UserSpec) -> Self {
        User {
            id: spec.id,
            username: spec.username,
            email: spec.email,
            is_active: false,
            last_seen: None,
            metadata: spec.metadata,
        }
    }
}

fn valid_email(e: &str) -> bool {
    let mut parts = e.split('@');
    matches!((parts.next(), parts.next(), parts.next()), (Some(l), Some(d), None) if !l.is_empty() && !d.is_empty())
        && e.chars().count() <= MAX_EMAIL_CHARS
        && !e.chars().any(super::text::is_space)
}

impl NewUser {
    /// Checks every field; the error is the `detail` of a 400.
    pub fn validate(self) -> Result<UserSpec, String> {
        let id = match self.id {
            Some(id) => UserId::parse_client(&id).map_err(|e| e.to_string())?,
            None => UserId::parse(&uuid::Uuid::now_v7().to_string()).map_err(|e| e.to_string())?,
        };
        let chars = self.username.chars().count();
        if super::text::is_blank(&self.username) || chars > MAX_USERNAME_CHARS {
            return Err(format!(
                "Invalid username: must be 1 to {MAX_USERNAME_CHARS} characters, not blank"
            ));
        }
        if let Some(e) = &self.email
            && !valid_email(e)
        {
            return Err(
                "Invalid email: expected one @ with text on both sides, at most 254 characters".into(),
            );
        }
        Ok(UserSpec {
            id,
            username: self.username,
            email: self.email,
            metadata: self.metadata.unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_rules() {
        assert!(valid_email("user@example.com"));
        for bad in [
            "",
            "user",
            "@x",
            "x@",
            "a@b@c",
            "a b@c",
            &format!("{}@x", "a".repeat(253)),
        ] {
            assert!(!valid_email(bad), "{bad}");
        }
    }
}
