//! The room script's calls (room.lua's KEYS and ARGV): one op on a room, or a run of texts one
//! connection sent to it at once; each with what its reply is read against (`Pending`).

use std::time::Duration;

use super::announce::Publisher;
use super::script::Pending;
use super::stamp::{Halves, Unstamped};
use super::{RedisStore, keys};
use crate::domain::{ChatId, Draft, UserId, time};

/// room.lua's ARGV[1] to ARGV[16] that differ between calls.
struct Args<'a> {
    op: &'a str,
    notice: &'a Halves,
    bucket: Option<&'a str>,
    text: &'a Halves,
    window: Option<Duration>,
    publish: Publisher,
    kept: bool,
    batch: bool,
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl RedisStore {
    /// Builds the room script's call for `op` and what its reply is read against.
    pub(super) fn room_call<'a>(
        &self,
        op: &str,
        chat: &'a ChatId,
        user: &'a UserId,
        text: Option<Unstamped>,
        with_notice: bool,
    ) -> (redis::Cmd, Pending<'a>) {
        let k = &self.keys;
        let sent_id = text.as_ref().and_then(|t| t.message.client_msg_id.as_deref());
        let window = (!self.window.is_zero()).then_some(self.window);
        let remembered = sent_id.zip(window);
        // On a cluster, the client retries a call after a reconnect: the run keeps its reply,
        // so that a second run answers the same instead of storing again.
        let kept = self.is_cluster().then(uuid::Uuid::now_v7);
        let joined = matches!(op, "send" | "join" | "add");
        // A send's notice is only needed when the sender is new to the room (the script
        // then answers "needjoin" and `send` asks again with it).
        let notice =
            (op != "send" || with_notice).then(|| Unstamped::new(Draft::membership(chat, user, joined)));
        let no_halves = Halves::default();
        let halves = notice.as_ref().map_or(&no_halves, |n| &n.halves);
        let text_halves = text.as_ref().map_or(&no_halves, |t| &t.halves);
        let publish = self.publisher();
        // The script announces (and logs) a join on the user's bucket channel only on one
        // Redis (on a cluster that channel is in another slot) and only when it publishes at
        // all; only a call with the notice can join.
        let bucket = (joined && notice.is_some() && publish == Publisher::Script("PUBLISH"))
            .then(|| k.user_channel(user));
        let keys = 5
            + usize::from(remembered.is_some())
            + usize::from(bucket.is_some())
            + usize::from(kept.is_some());
        let size = 512 + halves.json.len() + text_halves.json.len();
        let mut cmd = self.script_cmd(chat, keys, 16, size);
        if let Some((id, _)) = remembered {
            cmd.arg(k.sent_id(chat, user, id));
        }
        if bucket.is_some() {
            cmd.arg(k.user_joins(user));
        }
        if let Some(op) = &kept {
            cmd.arg(k.room_op(chat, op));
        }
        let args = Args {
            op,
            notice: halves,
            bucket: bucket.as_deref(),
            text: text_halves,
            window: remembered.map(|(_, w)| w),
            publish,
            kept: kept.is_some(),
            batch: false,
        };
        self.args(&mut cmd, chat, user, args);
        let pending = Pending {
            chat,
            user,
            text,
            notice,
            joined,
            publish,
        };
        (cmd, pending)
    }

    /// Builds the call storing `texts` (one connection's, sent at once to one room, in order)
    /// in one run of the script (room.lua's "texts"), and what each text's part of its reply
    /// is read against: a lone send's reply, without its notice. Only with a batch (one
    /// Redis, no replicas to wait for: see batch.rs).
    pub(super) fn texts_call<'a>(
        &self,
        chat: &'a ChatId,
        user: &'a UserId,
        texts: Vec<Unstamped>,
        batch: &str,
    ) -> (redis::Cmd, Vec<Pending<'a>>) {
        let k = &self.keys;
        let window = (!self.window.is_zero()).then_some(self.window);
        let ids: Vec<Option<&str>> = texts
            .iter()
            .map(|t| window.and(t.message.client_msg_id.as_deref()))
            .collect();
        let keys = 6 + ids.iter().flatten().count();
        let size = 512 + texts.iter().map(|t| t.halves.json.len()).sum::<usize>();
        let mut cmd = self.script_cmd(chat, keys, 16 + 3 * texts.len(), size);
        for id in ids.iter().flatten() {
            cmd.arg(k.sent_id(chat, user, id));
        }
        cmd.arg(k.room_batch(chat, batch));
        let (none, publish) = (Halves::default(), self.publisher());
        let args = Args {
            op: "texts",
            notice: &none,
            bucket: None,
            text: &none,
            window,
            publish,
            kept: false,
            batch: true,
        };
        self.args(&mut cmd, chat, user, args);
        for (t, id) in texts.iter().zip(&ids) {
            let flag = if id.is_some() { "1" } else { "" };
            cmd.arg(t.halves.head()).arg(t.halves.tail()).arg(flag);
        }
        let pending = texts
            .into_iter()
            .map(|t| Pending {
                chat,
                user,
                text: Some(t),
                notice: None,
                joined: true,
                publish,
            })
            .collect();
        (cmd, pending)
    }

    /// An `EVALSHA` of the room script with `keys` keys, the room's five first, written straight
    /// into one buffer sized for the call up front (no `String` per key).
    fn script_cmd(&self, chat: &ChatId, keys: usize, args: usize, size: usize) -> redis::Cmd {
        let mut cmd = redis::Cmd::with_capacity(3 + keys + args, size);
        cmd.arg("EVALSHA").arg(self.room_script.get_hash()).arg(keys);
        for suffix in ["", keys::MEMBERS, keys::LOG, keys::FOLLOWERS, keys::READS] {
            cmd.arg(self.keys.room_name(keys::ROOM, chat, suffix));
        }
        cmd
    }

    /// room.lua's ARGV[1] to ARGV[16], in order.
    fn args(&self, cmd: &mut redis::Cmd, chat: &ChatId, user: &UserId, a: Args<'_>) {
        cmd.arg(a.op)
            .arg(chat.as_str())
            .arg(user.as_str())
            .arg(self.max_messages)
            .arg(self.keys.room_name(keys::ROOM_CHANNEL, chat, ""));
        cmd.arg(time::format(&time::now()))
            .arg(a.notice.head())
            .arg(a.notice.tail())
            .arg(a.bucket.unwrap_or_default())
            .arg(&self.instance)
            .arg(a.text.head())
            .arg(a.text.tail());
        match a.window {
            Some(w) => cmd.arg(ms(w)),
            None => cmd.arg(""),
        };
        cmd.arg(match a.publish {
            Publisher::Script(cmd) => cmd,
            Publisher::Caller => "",
        });
        // Both marks outlive any retry of their call.
        let marks = ms(self.timeout * 2);
        for on in [a.kept, a.batch] {
            match on {
                true => cmd.arg(marks),
                false => cmd.arg(""),
            };
        }
    }
}
