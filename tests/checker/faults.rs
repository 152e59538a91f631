//! Carrying out the steps that are not a client's: faults (on the cluster, one at a time)
//! and HTTP operations (reads of history, rooms and users; participants added and removed),
//! each in a task of its own so the schedule never waits on them.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::checks::state::Ctx;
use crate::cluster::Cluster;
use crate::journal::{PageRead, Shared, now_us};
use crate::resp::command;
use crate::schedule::{Action, Fault};

/// Injects a fault; faults queue behind one another on the cluster's lock.
pub async fn inject(cluster: Arc<Mutex<Cluster>>, fault: Fault, journal: Shared) {
    let mut c = cluster.lock().await;
    journal.lock().faults.push(now_us());
    journal.event(format!("fault begins: {fault:?}"));
    match fault {
        Fault::RedisRestart => {
            c.stop_redis().await;
            c.boot_redis().await;
            journal.lock().redis_back = Some(now_us());
        }
        Fault::RedisStop { ms } => {
            c.stop_redis().await;
            tokio::time::sleep(Duration::from_millis(ms)).await;
            c.boot_redis().await;
            journal.lock().redis_back = Some(now_us());
        }
        Fault::KillInstance { instance, down_ms } => {
            c.kill_instance(instance);
            tokio::time::sleep(Duration::from_millis(down_ms)).await;
            c.start_instance(instance).await;
        }
        Fault::KillPubsub => {
            let got = command(c.redis.port, &["CLIENT", "KILL", "TYPE", "pubsub"]).await;
            journal.event(format!("CLIENT KILL TYPE pubsub: {got:?}"));
        }
    }
    journal.event(format!("fault ends: {fault:?}"));
}

/// Carries out an HTTP step and records its outcome (history pages for the checks).
pub async fn http(ctx: Arc<Ctx>, action: Action, journal: Shared) {
    let (rooms, users) = (&ctx.rooms, &ctx.users);
    let at = now_us();
    let outcome = match action {
        Action::History {
            instance,
            room,
            limit,
        } => {
            let path = format!("/chat/{}/messages?limit={limit}", rooms[room]);
            let got = ctx.get(instance, &path).await;
            if let Some((200, Value::Array(page))) = &got {
                journal.lock().pages.push(PageRead {
                    at,
                    instance,
                    room: rooms[room].clone(),
                    limit,
                    page: page.clone(),
                });
            }
            status(&got)
        }
        Action::ReadRoom { instance, room } => {
            status(&ctx.get(instance, &format!("/chat/{}", rooms[room])).await)
        }
        Action::ReadUser { instance, user } => {
            status(&ctx.get(instance, &format!("/user/{}", users[user])).await)
        }
        Action::Add { instance, room, user } => {
            let url = format!(
                "http://127.0.0.1:{}/chat/{}/participants",
                ctx.ports[instance], rooms[room]
            );
            let req = ctx.http.post(url).json(&json!({"user_id": users[user]}));
            send(req).await
        }
        Action::Remove { instance, room, user } => {
            let url = format!(
                "http://127.0.0.1:{}/chat/{}/participants/{}",
                ctx.ports[instance], rooms[room], users[user]
            );
            send(ctx.http.delete(url)).await
        }
        _ => return,
    };
    journal.event(format!("{action:?} -> {outcome}"));
}

fn status(got: &Option<(u16, Value)>) -> String {
    got.as_ref().map_or("no answer".into(), |(s, _)| s.to_string())
}

async fn send(req: reqwest::RequestBuilder) -> String {
    match req.timeout(Duration::from_secs(3)).send().await {
        Ok(resp) => resp.status().as_u16().to_string(),
        Err(e) => format!("no answer: {e}"),
    }
}
