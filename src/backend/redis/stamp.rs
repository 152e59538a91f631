//! A message's JSON with the holes the room script fills in (its timestamp, seq and epoch),
//! made before the call so the script only splices.

use crate::domain::{Draft, Message, Timestamp};

/// A message's JSON and where its timestamp, seq and epoch values go: the room script fills
/// in `<timestamp>","seq":<µs>,"epoch":"<epoch>` between `json[..at]` and `json[after..]`.
pub(super) fn json_halves(message: &Message) -> Halves {
    const FILLED: &str = "1970-01-01T00:00:00.000000Z\",\"seq\":0,\"epoch\":\"";
    // Sized for the message's usual fields up front, rather than grown through them.
    let mut json = Vec::with_capacity(JSON_FIELDS + message.content.len());
    let json = match serde_json::to_writer(&mut json, message) {
        Ok(()) => String::from_utf8(json).unwrap_or_default(),
        Err(_) => String::new(),
    };
    // Keys and string values before it are JSON strings, whose quotes are escaped, so the
    // first unescaped `"timestamp":"` is the field itself; seq and epoch follow it (the
    // field order of `Message`, checked by the test below).
    let at = FIND_MARK.find(json.as_bytes()).map_or(0, |i| i + MARK.len());
    let after = (at + FILLED.len()).min(json.len());
    Halves { json, at, after }
}

/// Where the timestamp's value starts, and the search for it, built once (building it is most
/// of a search's cost).
const MARK: &str = "\"timestamp\":\"";
static FIND_MARK: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(MARK));

/// A message's JSON but its content: ids, names, timestamp, seq, epoch, a little metadata.
const JSON_FIELDS: usize = 320;

/// A message's JSON around the values the room script fills in (see `json_halves`).
#[derive(Default)]
pub(super) struct Halves {
    pub(super) json: String,
    at: usize,
    after: usize,
}

impl Halves {
    pub(super) fn head(&self) -> &str {
        self.json.get(..self.at).unwrap_or_default()
    }
    pub(super) fn tail(&self) -> &str {
        self.json.get(self.after..).unwrap_or_default()
    }
}

/// A message for the room script to stamp: the message, and its JSON around the timestamp.
pub(super) struct Unstamped {
    pub(super) message: Message,
    pub(super) halves: Halves,
}

impl Unstamped {
    pub(super) fn new(draft: Draft) -> Self {
        let message = draft.store(Timestamp::UNIX_EPOCH, "");
        let halves = json_halves(&message);
        Self { message, halves }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ChatId, MessageKind, Metadata, UserId, time};

    #[test]
    fn halves_surround_the_timestamp_value() {
        let chat = ChatId::parse("c").unwrap();
        let draft = Draft {
            chat_id: chat,
            user_id: UserId::parse("u").unwrap(),
            content: "\"timestamp\":\"tricky".into(),
            kind: MessageKind::Text,
            metadata: Metadata::new(),
            reply_to: None,
            client_msg_id: Some("c1".into()),
        };
        let halves = json_halves(&draft.store(Timestamp::UNIX_EPOCH, ""));
        let (a, b) = (halves.head(), halves.tail());
        // What room.lua writes between the halves.
        let json = format!("{a}2024-01-01T00:00:00.000001Z\",\"seq\":1704067200000001,\"epoch\":\"E7{b}");
        let m: Message = serde_json::from_str(&json).unwrap();
        assert_eq!(m.content, "\"timestamp\":\"tricky");
        assert_eq!(time::format(&m.timestamp), "2024-01-01T00:00:00.000001Z");
        assert_eq!(m.seq, Some(1_704_067_200_000_001));
        assert_eq!(m.epoch.as_deref(), Some("E7"));
        assert_eq!(m.client_msg_id.as_deref(), Some("c1"));
        assert!(b.starts_with("\",\"metadata\""), "{b}");
    }
}
