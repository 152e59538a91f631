//! Client-chosen identifiers (`user_id`, `chat_id`): validated once at the edge, cheap to clone.
//!
//! CONTRACT: 1 to 128 characters of `A-Z a-z 0-9 . _ - : @`; anything else is a 400 / error frame.

use std::fmt;
use std::sync::Arc;

/// The longest id the contract allows.
pub const MAX_ID_LEN: usize = 128;

/// The user id that system messages carry; no client may take it.
pub const SYSTEM_USER: &str = "system";

/// The OpenAPI schema of an id (the Rust types are validated with `parse`).
#[derive(utoipa::ToSchema)]
#[schema(
    value_type = String,
    description = "A user id a client may use: 1 to 128 characters of A-Z a-z 0-9 . _ - : @, not `system`",
    example = "user1",
    pattern = "^(?!system$)[A-Za-z0-9._:@-]{1,128}$"
)]
pub struct IdSchema(pub String);

/// Why an id was refused; `Display` is the `detail` sent to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("Invalid {0}: must be 1 to 128 characters of A-Z a-z 0-9 . _ - : @")]
    Alphabet(&'static str),
    #[error("Invalid {0}: \"system\" is reserved")]
    Reserved(&'static str),
}

/// True when `s` is 1..=128 characters of the contract's alphabet.
pub fn is_valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_ID_LEN
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':' | b'@'))
}

macro_rules! id_type {
    ($name:ident, $field:literal) => {
        /// A validated identifier; cloning shares the string.
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Arc<str>);

        impl $name {
            /// The field name used in error details.
            pub const FIELD: &'static str = $field;

            /// Validates `s` against the contract's alphabet and length.
            pub fn parse(s: &str) -> Result<Self, IdError> {
                if is_valid_id(s) {
                    Ok(Self(Arc::from(s)))
                } else {
                    Err(IdError::Alphabet($field))
                }
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&*self.0, f)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }
    };
}

id_type!(ChatId, "chat_id");
id_type!(UserId, "user_id");

impl UserId {
    /// Parses an id a client wants to act as: the reserved `system` is refused too.
    pub fn parse_client(s: &str) -> Result<Self, IdError> {
        if s == SYSTEM_USER {
            return Err(IdError::Reserved(Self::FIELD));
        }
        Self::parse(s)
    }

    /// The author of system messages.
    pub fn system() -> Self {
        Self(Arc::from(SYSTEM_USER))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_whole_alphabet_and_the_length_bounds() {
        assert!(ChatId::parse("aZ09._-:@").is_ok());
        assert!(ChatId::parse(&"a".repeat(128)).is_ok());
        assert!(ChatId::parse("0190a5c4-1b2c-7def-8123-456789abcdef").is_ok());
    }

    #[test]
    fn refuses_empty_long_and_foreign_characters() {
        for bad in ["", "a b", "a/b", "é", "a\0", "a#", &"a".repeat(129)] {
            assert_eq!(ChatId::parse(bad), Err(IdError::Alphabet("chat_id")), "{bad:?}");
        }
    }

    #[test]
    fn system_is_reserved_for_clients_only() {
        assert_eq!(UserId::parse_client("system"), Err(IdError::Reserved("user_id")));
        assert!(UserId::parse("system").is_ok());
        assert_eq!(
            IdError::Alphabet("user_id").to_string(),
            "Invalid user_id: must be 1 to 128 characters of A-Z a-z 0-9 . _ - : @"
        );
    }
}
