//! Texts one connection sent at once, stored in one round trip: each run of them to one room is
//! one room-script call (room.lua's "texts"), the calls go to Redis as one pipeline, in the
//! order sent, and each text's part of its call's reply is read as a lone send's.
//!
//! A connection's frames are handled one after another, each send waiting for its reply; a
//! client that sends several at once (a window of unacknowledged texts) then costs a round
//! trip, a wake-up and a write of deliveries per text. Together they cost one of each, and a
//! run costs one call's keys, arguments and reply rather than one per text.

use bb8_redis::redis::{self, RedisError, RedisResult};

use super::RedisStore;
use super::rooms::corrupt;
use super::stamp::Unstamped;
use super::store::{Recheck, evalsha, no_script};
use crate::backend::StoreError;
use crate::domain::{ChatId, Draft, UserId};
use crate::hub::Hub;

impl RedisStore {
    /// Stores `drafts` (texts of one connection, in the order sent) as `send` would one by one,
    /// with one pipeline, and hands each text's outcome to `each`, in order, as soon as its
    /// messages went to `hub`. Consecutive texts to one room go as one run of the room script
    /// (room.lua's "texts"). A failed call fails every text in it (its room is then replayed,
    /// as after a lone send's failure).
    pub async fn send_many(&self, drafts: Vec<Draft>, hub: &Hub, each: &mut super::super::Each<'_>) {
        // A pipeline spans rooms: on a cluster their slots may be on different nodes; with
        // replicas to wait for, each text waits on its own (`WAIT` follows each call).
        if drafts.len() < 2 || self.is_cluster() || self.wait_replicas > 0 {
            for draft in drafts {
                each(self.send(draft, hub).await);
            }
            return;
        }
        // Runs of consecutive texts to the same room, in order: each run's room and sender,
        // and its texts.
        let mut runs: Vec<(ChatId, UserId)> = Vec::new();
        let mut texts: Vec<Vec<Unstamped>> = Vec::new();
        let mut left = drafts.len();
        for draft in drafts {
            let same = runs
                .last()
                .is_some_and(|(c, u)| *c == draft.chat_id && *u == draft.user_id);
            if !same {
                runs.push((draft.chat_id.clone(), draft.user_id.clone()));
                texts.push(Vec::with_capacity(left)); // texts are large: no regrowing
            }
            left -= 1;
            if let Some(run) = texts.last_mut() {
                run.push(Unstamped::new(draft));
            }
        }
        let batch = uuid::Uuid::now_v7().simple().to_string();
        let mut cmds = Vec::with_capacity(runs.len());
        let mut pending = Vec::with_capacity(runs.len());
        for ((chat, user), texts) in runs.iter().zip(texts) {
            let (cmd, p) = self.texts_call(chat, user, texts, &batch);
            cmds.push(cmd);
            pending.push(p);
        }
        let all = pending.iter().map(Vec::len).sum();
        let mut guards: Vec<Recheck> = runs.iter().map(|(chat, _)| Recheck::new(hub, chat)).collect();
        let script = &self.room_script;
        // A burst to one room (the usual one) is one call, without a pipeline's encoding and
        // list of replies.
        let replies = match <[redis::Cmd; 1]>::try_from(cmds) {
            Ok([cmd]) => {
                self.call(|mut c| async move { evalsha(script, &cmd, &mut c).await.map(|r| vec![Ok(r)]) })
                    .await
            }
            Err(cmds) => {
                let mut pipe = redis::pipe();
                pipe.ignore_errors();
                cmds.into_iter().for_each(|cmd| {
                    pipe.add_command(cmd);
                });
                self.call(|mut c| async move { run(script, &pipe, &mut c).await })
                    .await
            }
        };
        let replies = match replies {
            Ok(replies) if replies.len() == runs.len() => replies,
            Ok(_) => {
                let wrong = StoreError::Unavailable("Redis answered a pipeline with the wrong count".into());
                return fail(&wrong, each, all);
            }
            Err(e) => return fail(&e, each, all),
        };
        let runs = replies.into_iter().zip(pending).zip(&mut guards).zip(&runs);
        for (((reply, pending), guard), (chat, user)) in runs {
            let n = pending.len();
            let reply = match reply {
                Ok(reply) => bytes::Bytes::from(reply),
                Err(e) => {
                    fail(&StoreError::Unavailable(e.to_string()), each, n);
                    continue; // its guard stays armed: the script may have run
                }
            };
            let parts = std::str::from_utf8(&reply).map(|r| r.split('\x1e').collect::<Vec<_>>());
            let parts = match parts {
                Ok(parts) if parts.len() == n => parts,
                _ => {
                    fail(&corrupt("reply", "texts"), each, n);
                    continue;
                }
            };
            guard.armed = false;
            for (part, p) in parts.into_iter().zip(pending) {
                let sent = match self.settle_part(p, &reply, part, hub).await {
                    Ok(outcome) => self.sent(outcome, chat, user, hub).await,
                    Err(e) => Err(e),
                };
                each(sent);
            }
        }
    }
}

/// Answers `n` texts with the same error.
fn fail(e: &StoreError, each: &mut super::super::Each<'_>, n: usize) {
    (0..n).for_each(|_| each(Err(e.clone())));
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
