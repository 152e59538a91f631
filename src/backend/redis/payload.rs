//! The pub/sub payloads between instances, decoded and encoded in this one place.
//!
//! On a room's channel:
//! - a stored message, `<prev>|<seq>|<mark>|<user>|<json>`: the room's sequence before it, its
//!   own, `j` or `l` when it is the notice of `<user>` joining or leaving (else `-`), and the
//!   message's JSON. Published by room.lua (`publish` there writes this same format).
//! - an event that is not stored (typing, a read receipt), `t|<instance>|<user>|<json>`: from
//!   which instance and user (whose connections do not get it).
//!
//! On a user bucket's channel (see `keys::user_bucket`), a join made on some instance,
//! `<prev>|<seq>|<chat>|<user>`: the notice's place in the room, so an instance where the user
//! is connected follows the room from exactly there. Published by room.lua too.
//!
//! Ids never contain `|` (see `domain::ids`) and the JSON comes last, so splitting on the
//! first separators is exact.

use crate::domain::{ChatId, UserId};
use crate::hub::Membership;

/// A payload on a room's channel.
#[derive(Debug, Clone, PartialEq)]
pub enum RoomPayload<'a> {
    Stored {
        prev: u64,
        seq: u64,
        mark: Mark,
        /// The author, or the user who joined or left.
        user: UserId,
        json: &'a str,
    },
    /// An event delivered live and never stored: typing, a read receipt.
    Live {
        instance: &'a str,
        user: UserId,
        json: &'a str,
    },
}

impl<'a> RoomPayload<'a> {
    /// Parses a room channel's payload; `None` for anything malformed.
    pub fn decode(payload: &'a str) -> Option<Self> {
        let (head, rest) = payload.split_once('|')?;
        if head == "t" {
            let mut parts = rest.splitn(3, '|');
            let (instance, user, json) = (parts.next()?, parts.next()?, parts.next()?);
            let user = UserId::parse(user).ok()?;
            return Some(Self::Live { instance, user, json });
        }
        let mut parts = rest.splitn(4, '|');
        let (seq, mark, user, json) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let user = UserId::parse(user).ok()?;
        let mark = match mark {
            "j" => Mark::Joined,
            "l" => Mark::Left,
            "-" => Mark::Text,
            _ => return None,
        };
        Some(Self::Stored {
            prev: head.parse().ok()?,
            seq: seq.parse().ok()?,
            mark,
            user,
            json,
        })
    }

    /// The payload as published. Stored messages are published by room.lua; this encoding is
    /// what the round-trip test holds that script's format to.
    pub fn encode(&self) -> String {
        match self {
            Self::Live { instance, user, json } => format!("t|{instance}|{user}|{json}"),
            Self::Stored {
                prev,
                seq,
                mark,
                user,
                json,
            } => {
                let mark = match mark {
                    Mark::Text => "-",
                    Mark::Joined => "j",
                    Mark::Left => "l",
                };
                format!("{prev}|{seq}|{mark}|{user}|{json}")
            }
        }
    }
}

/// What a stored message does to membership.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// Nothing: a text (its author is the payload's user).
    Text,
    /// The notice of the payload's user joining.
    Joined,
    /// The notice of the payload's user leaving.
    Left,
}

impl Mark {
    /// The membership change `user` makes with this message, if any.
    pub fn membership(self, user: UserId) -> Option<Membership> {
        match self {
            Mark::Text => None,
            Mark::Joined => Some(Membership::Joined(user)),
            Mark::Left => Some(Membership::Left(user)),
        }
    }
}

/// A join made on some instance, on the joining user's bucket channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinNotice {
    /// The room's sequence before the join notice, and the notice's own.
    pub prev: u64,
    pub seq: u64,
    pub chat: ChatId,
    pub user: UserId,
}

impl JoinNotice {
    /// Parses a bucket channel's payload; `None` for anything malformed.
    pub fn decode(payload: &str) -> Option<Self> {
        let mut parts = payload.splitn(4, '|');
        let (prev, seq, chat, user) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        Some(Self {
            prev: prev.parse().ok()?,
            seq: seq.parse().ok()?,
            chat: ChatId::parse(chat).ok()?,
            user: UserId::parse(user).ok()?,
        })
    }

    /// The payload as room.lua publishes it.
    pub fn encode(&self) -> String {
        format!("{}|{}|{}|{}", self.prev, self.seq, self.chat, self.user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(u: &str) -> UserId {
        UserId::parse(u).unwrap()
    }

    #[test]
    fn room_payloads_round_trip() {
        let json = r#"{"content":"a|b","user_id":"u"}"#;
        let cases = [
            RoomPayload::Stored {
                prev: 5,
                seq: 7,
                mark: Mark::Joined,
                user: user("u"),
                json,
            },
            RoomPayload::Stored {
                prev: 7,
                seq: 9,
                mark: Mark::Left,
                user: user("u@x"),
                json,
            },
            RoomPayload::Stored {
                prev: 9,
                seq: 12,
                mark: Mark::Text,
                user: user("u"),
                json,
            },
            RoomPayload::Live {
                instance: "0192f0c1-7d3e",
                user: user("u:1"),
                json,
            },
        ];
        for p in cases {
            assert_eq!(
                RoomPayload::decode(&p.encode()),
                Some(p.clone()),
                "{}",
                p.encode()
            );
        }
    }

    /// The exact strings room.lua publishes (`prev .. '|' .. us .. '|' .. (mark or '-') ..
    /// '|' .. user .. '|' .. json`): a text carries its author, with no mark.
    #[test]
    fn decodes_what_the_room_script_publishes() {
        assert_eq!(
            RoomPayload::decode("10|11|-|alice|{\"x\":1}"),
            Some(RoomPayload::Stored {
                prev: 10,
                seq: 11,
                mark: Mark::Text,
                user: user("alice"),
                json: "{\"x\":1}"
            })
        );
        assert_eq!(
            RoomPayload::decode("0|3|j|bob|{}"),
            Some(RoomPayload::Stored {
                prev: 0,
                seq: 3,
                mark: Mark::Joined,
                user: user("bob"),
                json: "{}"
            })
        );
        let notice = JoinNotice::decode("10|11|room:1|bob").unwrap();
        assert_eq!(notice.chat.as_str(), "room:1");
        assert_eq!(notice.encode(), "10|11|room:1|bob");
    }

    #[test]
    fn malformed_payloads_are_refused() {
        for bad in [
            "",
            "x|1|-|u|{}",
            "1|2|q|u|{}",
            "1|x|-|u|{}",
            "1|2|-|bad id|{}",
            "1|2|-",
            "t|inst",
            "t|i|bad id|{}",
        ] {
            assert_eq!(RoomPayload::decode(bad), None, "{bad}");
        }
        for bad in ["1|2|c", "x|2|c|u", "1|2|c|bad id", "1|2|bad id|u"] {
            assert_eq!(JoinNotice::decode(bad), None, "{bad}");
        }
    }
}
