//! The room script (room.lua): its runs, its reply, and the hand-off of what it stored to local
//! delivery (the hub). Its calls' arguments are built in call.rs.

use super::RedisStore;
use super::announce::Publisher;
use super::rooms::corrupt;
use super::stamp::Unstamped;
use super::store::{Recheck, evalsha};
use crate::backend::{StoreError, StoreResult};
use crate::domain::{ChatId, Json, Message, Timestamp, UserId};
use crate::hub::{Delivery, Hub, Membership};

/// What a run of the room script did.
pub(super) enum Outcome {
    /// Its status, and the messages it stored.
    Done(String, Vec<Message>),
    /// A send from a user new to the room: run it again with the join notice.
    NeedJoin(Option<Unstamped>),
    /// A retry of a text sent with the same `client_msg_id`: the original.
    Again(Message),
}

impl Outcome {
    pub(super) fn done(self) -> StoreResult<(String, Vec<Message>)> {
        match self {
            Outcome::Done(status, stored) => Ok((status, stored)),
            Outcome::NeedJoin(_) | Outcome::Again(_) => Err(corrupt("reply", "unexpected status")),
        }
    }
}

/// One message as the room script reports it: the room's sequence before it, its own, its JSON.
type ScriptEntry<'a> = (u64, u64, &'a str);

/// Parses the room script's reply: its status line, the room's epoch (for "ok"), then three
/// lines per entry.
fn script_reply(reply: &str) -> StoreResult<(&str, &str, Vec<ScriptEntry<'_>>)> {
    let mut it = reply.split('\n');
    let status = it.next().unwrap_or_default();
    let epoch = if status == "ok" {
        it.next().unwrap_or_default()
    } else {
        ""
    };
    let mut entries = Vec::new();
    while let Some(prev) = it.next() {
        let (Some(seq), Some(json)) = (it.next(), it.next()) else {
            return Err(corrupt("reply", "incomplete entry"));
        };
        let (Ok(prev), Ok(seq)) = (prev.parse(), seq.parse()) else {
            return Err(corrupt("reply", "sequence"));
        };
        entries.push((prev, seq, json));
    }
    Ok((status, epoch, entries))
}

/// A room-script call's side of its reply: what the reply is read against.
pub(super) struct Pending<'a> {
    pub(super) chat: &'a ChatId,
    pub(super) user: &'a UserId,
    pub(super) text: Option<Unstamped>,
    pub(super) notice: Option<Unstamped>,
    pub(super) joined: bool,
    pub(super) publish: Publisher,
}

impl RedisStore {
    /// Runs the room script (see room.lua) for `op`; returns its status and the messages it
    /// stored, stamped, in order. Each is also handed to `hub` (this instance's local delivery)
    /// at once, which delivers it when it directly follows what the hub last delivered in the
    /// room: local participants (the sender's echo among them) need not wait for the pub/sub
    /// hop, whose copy the hub then drops as a duplicate.
    pub(super) async fn room_op(
        &self,
        op: &str,
        chat: &ChatId,
        user: &UserId,
        text: Option<Unstamped>,
        with_notice: bool,
        hub: &Hub,
    ) -> StoreResult<Outcome> {
        let (cmd, pending) = self.room_call(op, chat, user, text, with_notice);
        let mut guard = Recheck::new(hub, chat);
        let (wait, timeout) = (self.wait_replicas, self.timeout);
        let room = if wait > 0 {
            self.keys.room(chat)
        } else {
            String::new()
        };
        let script = &self.room_script;
        let (reply, acked): (String, i64) = self
            .call(|mut c| async move {
                let reply: String = evalsha(script, &cmd, &mut c).await?;
                if wait == 0 || !reply.starts_with("ok") {
                    return Ok((reply, 0));
                }
                Ok((reply, c.wait_replicas(&room, wait, timeout / 2).await?))
            })
            .await?;
        if wait > 0 && reply.starts_with("ok") && acked < i64::from(wait) {
            return Err(StoreError::Unavailable(format!(
                "{acked} of REDIS_WAIT_REPLICAS={wait} replicas acknowledged the write"
            )));
        }
        guard.armed = false;
        self.settle_reply(pending, reply, hub).await
    }

    /// Reads a room-script reply: a retry's original, a send that needs the join, or what
    /// was stored, each message handed to `hub` (and published, where the script did not).
    pub(super) async fn settle_reply(
        &self,
        p: Pending<'_>,
        reply: String,
        hub: &Hub,
    ) -> StoreResult<Outcome> {
        // Each message's frame is its part of the reply, shared (not copied).
        let whole = bytes::Bytes::from(reply);
        let reply = std::str::from_utf8(&whole).map_err(|e| corrupt("reply", e))?;
        self.settle_part(p, &whole, reply, hub).await
    }

    /// `settle_reply` for `reply`, a slice of `whole` (one text's part of a "texts" run's).
    pub(super) async fn settle_part(
        &self,
        p: Pending<'_>,
        whole: &bytes::Bytes,
        reply: &str,
        hub: &Hub,
    ) -> StoreResult<Outcome> {
        if let Some(original) = reply.strip_prefix("dup\n") {
            let message = serde_json::from_str(original).map_err(|e| corrupt("sent message", e))?;
            return Ok(Outcome::Again(message));
        }
        let (status, epoch, entries) = script_reply(reply)?;
        if status == "needjoin" {
            return Ok(Outcome::NeedJoin(p.text));
        }
        if let (1.., Some((_, seq, _))) = (self.wait_replicas, entries.last()) {
            self.confirm(p.chat, *seq).await;
        }
        // The notice was stored if there is an entry beyond the text (a join or leave, or a
        // send that joined the room first), and comes first.
        let notice_stored = entries.len() > usize::from(p.text.is_some());
        let mark = if p.joined {
            Membership::Joined(p.user.clone())
        } else {
            Membership::Left(p.user.clone())
        };
        let notice = p.notice.filter(|_| notice_stored).map(|n| (n, Some(mark)));
        let pending = notice.into_iter().chain(p.text.map(|t| (t, None)));
        let mut stored = Vec::with_capacity(entries.len());
        for ((prev, seq, json), (mut u, membership)) in entries.into_iter().zip(pending) {
            u.message.timestamp = i64::try_from(seq)
                .ok()
                .and_then(Timestamp::from_timestamp_micros)
                .ok_or_else(|| corrupt("reply", "timestamp"))?;
            u.message.seq = Some(seq);
            u.message.epoch = Some(epoch.to_string());
            let delivery = Delivery {
                chat_id: p.chat.clone(),
                frame: Json::part_of(whole, json),
                skip: None,
                membership,
                seq: Some(seq),
            };
            hub.deliver_next(prev, &delivery);
            if p.publish != Publisher::Script("PUBLISH") {
                self.announce(p.publish, prev, &delivery, p.user).await;
            }
            stored.push(u.message);
        }
        Ok(Outcome::Done(status.to_string(), stored))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_a_status_line_then_three_lines_per_entry() {
        let (status, epoch, entries) = script_reply("ok\nE1\n5\n7\n{\"a\":1}\n7\n9\n{}").unwrap();
        assert_eq!((status, epoch), ("ok", "E1"));
        assert_eq!(entries, [(5, 7, "{\"a\":1}"), (7, 9, "{}")]);
        assert_eq!(script_reply("private").unwrap(), ("private", "", vec![]));
        assert!(script_reply("ok\nE\n5\n7").is_err());
        assert!(script_reply("ok\nE\nx\n7\n{}").is_err());
    }
}
