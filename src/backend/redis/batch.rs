//! Texts one connection sent at once, stored in one round trip: their room-script calls go to
//! Redis as one pipeline, in the order they were sent, and each reply is read as a lone send's.
//!
//! A connection's frames are handled one after another, each send waiting for its reply; a
//! client that sends several at once (a window of unacknowledged texts) then costs a round
//! trip, a wake-up and a write of deliveries per text. Together they cost one of each.

use bb8_redis::redis::{self, RedisError, RedisResult};

use super::RedisStore;
use super::stamp::Unstamped;
use super::store::Recheck;
use super::store::no_script;
use crate::backend::StoreError;
use crate::domain::{ChatId, Draft, UserId};
use crate::hub::Hub;

impl RedisStore {
    /// Stores `drafts` (texts of one connection, in the order sent) as `send` would one by one,
    /// with one pipeline, and hands each text's outcome to `each`, in order, as soon as its
    /// messages went to `hub`. A failed call fails every text in it (each room is then
    /// replayed, as after a lone send's failure).
    pub async fn send_many(&self, drafts: Vec<Draft>, hub: &Hub, each: &mut super::super::Each<'_>) {
        // A pipeline spans rooms: on a cluster their slots may be on different nodes; with
        // replicas to wait for, each text waits on its own (`WAIT` follows each call).
        if drafts.len() < 2 || self.is_cluster() || self.wait_replicas > 0 {
            for draft in drafts {
                each(self.send(draft, hub).await);
            }
            return;
        }
        let ids: Vec<(ChatId, UserId)> = drafts
            .iter()
            .map(|d| (d.chat_id.clone(), d.user_id.clone()))
            .collect();
        let batch = uuid::Uuid::now_v7().simple().to_string();
        let mut pipe = redis::pipe();
        pipe.ignore_errors();
        let mut pending = Vec::with_capacity(drafts.len());
        for (draft, (chat, user)) in drafts.into_iter().zip(&ids) {
            let text = Some(Unstamped::new(draft));
            let (cmd, p) = self.room_call("send", chat, user, text, false, Some(&batch));
            pipe.add_command(cmd);
            pending.push(p);
        }
        let mut guards: Vec<Recheck> = ids.iter().map(|(chat, _)| Recheck::new(hub, chat)).collect();
        let script = &self.room_script;
        let replies = self
            .call(|mut c| async move { run(script, &pipe, &mut c).await })
            .await;
        let replies = match replies {
            Ok(replies) if replies.len() == ids.len() => replies,
            Ok(_) => {
                let wrong = StoreError::Unavailable("Redis answered a pipeline with the wrong count".into());
                return ids.iter().for_each(|_| each(Err(wrong.clone())));
            }
            Err(e) => return ids.iter().for_each(|_| each(Err(e.clone()))),
        };
        for (((reply, p), guard), (chat, user)) in replies.into_iter().zip(pending).zip(&mut guards).zip(&ids)
        {
            let reply = match reply {
                Ok(reply) => reply,
                Err(e) => {
                    each(Err(StoreError::Unavailable(e.to_string())));
                    continue; // its guard stays armed: the script may have run
                }
            };
            guard.armed = false;
            let sent = match self.settle_reply(p, reply, hub).await {
                Ok(outcome) => self.sent(outcome, chat, user, hub).await,
                Err(e) => Err(e),
            };
            each(sent);
        }
    }
}

/// Runs the pipeline of room-script calls; those Redis refused for want of the script (a
/// restart, a failover, `SCRIPT FLUSH`) run again, in order, once it is loaded.
async fn run(
    script: &redis::Script,
    pipe: &redis::Pipeline,
    c: &mut super::conn::Conn,
) -> Result<Vec<RedisResult<String>>, RedisError> {
    let mut replies: Vec<RedisResult<String>> = pipe.query_async(c).await?;
    let again: Vec<usize> = (0..replies.len())
        .filter(|i| replies[*i].as_ref().is_err_and(no_script))
        .collect();
    if again.is_empty() {
        return Ok(replies);
    }
    script.load_async(c).await?;
    let mut retry = redis::pipe();
    retry.ignore_errors();
    let cmds: Vec<&redis::Cmd> = pipe.cmd_iter().collect();
    for i in &again {
        if let Some(cmd) = cmds.get(*i) {
            retry.add_command((*cmd).clone());
        }
    }
    let retried: Vec<RedisResult<String>> = retry.query_async(c).await?;
    for (i, reply) in again.into_iter().zip(retried) {
        replies[i] = reply;
    }
    Ok(replies)
}
