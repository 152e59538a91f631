//! A message's JSON, serialised once and shared: every recipient's copy, the history cache and
//! the stored page hold the same bytes (a clone is a reference count, not a copy).

use bytes::Bytes;

use super::message::Message;

/// UTF-8 JSON text, immutable and cheaply clonable.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Json(Bytes);

impl Json {
    /// A frame's JSON (a message's: the one serialisation every delivery and history read
    /// shares).
    pub fn of(frame: &impl serde::Serialize) -> Self {
        // Our frames always serialise: strings, numbers, UUIDs, timestamps and JSON maps.
        Self::from(serde_json::to_string(frame).unwrap_or_default())
    }

    /// A part of `whole` (`part` must be a slice of `whole`'s bytes, starting and ending on a
    /// character boundary): sharing them, not copied (a message's JSON in the room script's
    /// reply, see `backend/redis/script.rs`).
    pub fn part_of(whole: &Bytes, part: &str) -> Self {
        Self(whole.slice_ref(part.as_bytes()))
    }

    /// The message this JSON holds (for callers that need its fields).
    pub fn parse(&self) -> serde_json::Result<Message> {
        serde_json::from_slice(&self.0)
    }

    /// The bytes, as written to a socket.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The text (checked again: for tests and logs, not the delivery path).
    pub fn to_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for Json {
    fn from(s: String) -> Self {
        Self(Bytes::from(s))
    }
}

impl From<&'static str> for Json {
    fn from(s: &'static str) -> Self {
        Self(Bytes::from_static(s.as_bytes()))
    }
}

impl std::fmt::Debug for Json {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.to_str(), f)
    }
}

impl std::fmt::Display for Json {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.to_str())
    }
}
