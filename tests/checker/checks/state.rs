//! What converges once the run has quiesced, read through every instance: presence
//! (`is_active` true exactly for users with an open connection, within the presence TTL),
//! membership (each room's participants and each user's rooms are the log's), follower sets
//! (no entry of an instance that is gone), and history (every instance's pages, walked back
//! with `before`, are the log; every page read during the run is a slice of it).

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::Value;

use super::Violation;
use crate::cluster::{PREFIX, PRESENCE_TTL};
use crate::journal::{Conn, PageRead, now_us};
use crate::model::Model;
use crate::resp::command;

/// Where to read: the instances' ports, Redis's, and the run's users and rooms.
pub struct Ctx {
    pub http: reqwest::Client,
    pub ports: Vec<u16>,
    pub redis_port: u16,
    pub users: Vec<String>,
    pub rooms: Vec<String>,
}

impl Ctx {
    /// `GET` through instance `i`: status and JSON body (`None` if no answer).
    pub async fn get(&self, i: usize, path: &str) -> Option<(u16, Value)> {
        let url = format!("http://127.0.0.1:{}{path}", self.ports[i]);
        let resp = self
            .http
            .get(url)
            .timeout(Duration::from_secs(3))
            .send()
            .await
            .ok()?;
        let status = resp.status().as_u16();
        Some((status, resp.json().await.unwrap_or(Value::Null)))
    }
}

/// Every page read during the run is a run of consecutive stored messages, and a page shorter
/// than its limit starts at the room's first message.
pub fn pages_during_run(model: &Model, pages: &[PageRead], out: &mut Vec<Violation>) {
    for p in pages {
        let log: Vec<&Value> = model.entries(&p.room).iter().map(|e| &e.json).collect();
        let start = p.page.first().and_then(|m| log.iter().position(|l| *l == m));
        let ok = match start {
            None => p.page.is_empty(),
            Some(s) => {
                log.len() >= s + p.page.len()
                    && p.page.iter().zip(&log[s..]).all(|(a, b)| a == *b)
                    && (p.page.len() == p.limit || s == 0)
            }
        };
        if !ok {
            out.push(Violation::new(
                "history-page-during-run",
                Some(p.at),
                format!(
                    "a page of {} (limit {}) read through i{} is not a slice of the stored history: {:?}",
                    p.room, p.limit, p.instance, p.page
                ),
            ));
        }
    }
}

/// Presence: `is_active` of each user through instance 0 equals whether the user has an open
/// connection, within the presence TTL and a second.
pub async fn presence(ctx: &Ctx, live: &BTreeSet<String>, check: &'static str, out: &mut Vec<Violation>) {
    let deadline = tokio::time::Instant::now() + PRESENCE_TTL + Duration::from_secs(1);
    for user in &ctx.users {
        let want = live.contains(user);
        loop {
            let got = ctx.get(0, &format!("/user/{user}")).await;
            let active = got.as_ref().map(|(_, b)| b["is_active"].as_bool());
            if active == Some(Some(want)) || (got.as_ref().is_some_and(|g| g.0 == 404) && !want) {
                break;
            }
            if tokio::time::Instant::now() > deadline {
                let key = format!("{PREFIX}:user:{{{user}}}:conns");
                let counts = command(ctx.redis_port, &["HGETALL", &key]).await;
                out.push(Violation::new(
                    check,
                    None,
                    format!(
                        "{user}: is_active should be {want} (users with open connections: {live:?}), \
                     /user says {got:?}; its connection counts per instance: {counts:?}"
                    ),
                ));
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Membership through every instance: each room's participants and each user's rooms are
/// what the log's join and leave notices say.
pub async fn membership(ctx: &Ctx, model: &Model, out: &mut Vec<Violation>) {
    for i in 0..ctx.ports.len() {
        for room in &ctx.rooms {
            let want = model.members(room);
            let got = ctx.get(i, &format!("/chat/{room}")).await;
            let names = |b: &Value| -> BTreeSet<String> {
                b["participants"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            };
            if got.as_ref().map(|(s, b)| (*s, names(b))) != Some((200, want.clone())) {
                out.push(Violation::new(
                    "membership-room",
                    Some(now_us()),
                    format!("{room} through i{i}: participants should be {want:?} (the log's), got {got:?}"),
                ));
            }
        }
        for user in &ctx.users {
            let want: BTreeSet<String> = ctx
                .rooms
                .iter()
                .filter(|r| model.members(r).contains(user))
                .cloned()
                .collect();
            let got = ctx.get(i, &format!("/user/{user}/chats")).await;
            let ids = |b: &Value| -> BTreeSet<String> {
                b.as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|r| r["id"].as_str().map(String::from))
                    .collect()
            };
            let ok = match &got {
                Some((200, b)) => ids(b) == want,
                Some((404, _)) => want.is_empty(),
                _ => false,
            };
            if !ok {
                out.push(Violation::new(
                    "membership-user",
                    Some(now_us()),
                    format!("{user}'s rooms through i{i} should be {want:?} (the log's), got {got:?}"),
                ));
            }
        }
    }
}

/// No room's follower set names an instance that is gone (no heartbeat within the TTL).
pub async fn followers(ctx: &Ctx, out: &mut Vec<Violation>) {
    let key = format!("{PREFIX}:instances");
    let Some(reply) = command(ctx.redis_port, &["ZRANGE", &key, "0", "-1", "WITHSCORES"]).await else {
        return out.push(Violation::new("followers", None, "Redis did not answer".into()));
    };
    let fresh = now_us() / 1000 - PRESENCE_TTL.as_millis() as i64;
    let live: BTreeSet<&str> = reply
        .items()
        .chunks(2)
        .filter(|p| {
            p.get(1)
                .and_then(|s| s.text())
                .and_then(|s| s.parse::<f64>().ok())
                .is_some_and(|s| s as i64 >= fresh)
        })
        .filter_map(|p| p[0].text())
        .collect();
    for room in &ctx.rooms {
        let key = format!("{PREFIX}:room:{{{room}}}:followers");
        let Some(set) = command(ctx.redis_port, &["SMEMBERS", &key]).await else {
            continue;
        };
        let stale: Vec<&str> = set
            .items()
            .iter()
            .filter_map(|r| r.text())
            .filter(|id| !live.contains(id))
            .collect();
        if !stale.is_empty() {
            out.push(Violation::new(
                "stale-follower",
                None,
                format!("{room}'s followers name instances that are gone: {stale:?} (live: {live:?})"),
            ));
        }
    }
}

/// Every instance's history of each room, walked back in pages of 7 with `before`, is the
/// log; so is one page of 1000.
pub async fn history(ctx: &Ctx, model: &Model, out: &mut Vec<Violation>) {
    for i in 0..ctx.ports.len() {
        for room in &ctx.rooms {
            let log: Vec<Value> = model.entries(room).iter().map(|e| e.json.clone()).collect();
            let mut walked: Vec<Value> = Vec::new();
            let mut before: Option<String> = None;
            let whole = loop {
                let q = before.as_ref().map_or(String::new(), |b| format!("&before={b}"));
                let Some((200, Value::Array(page))) =
                    ctx.get(i, &format!("/chat/{room}/messages?limit=7{q}")).await
                else {
                    break false;
                };
                if page.is_empty() {
                    break true;
                }
                before = page[0]["timestamp"].as_str().map(String::from);
                walked.splice(0..0, page);
            };
            if !whole || walked != log {
                out.push(Violation::new(
                    "history-pages",
                    Some(now_us()),
                    format!(
                        "{room} through i{i}: pages of 7 walked back give {} messages, the log holds {}",
                        walked.len(),
                        log.len()
                    ),
                ));
            }
            let one = ctx.get(i, &format!("/chat/{room}/messages?limit=1000")).await;
            let tail = &log[log.len().saturating_sub(1000)..];
            if one.as_ref().map(|(s, b)| (*s, b.as_array().map(Vec::as_slice))) != Some((200, Some(tail))) {
                out.push(Violation::new(
                    "history-page",
                    Some(now_us()),
                    format!("{room} through i{i}: one page of 1000 is not the log's newest 1000"),
                ));
            }
        }
    }
}

/// The users with an open connection.
pub fn live_users(conns: &[Conn]) -> BTreeSet<String> {
    conns
        .iter()
        .filter(|c| c.end.is_none())
        .map(|c| c.user.clone())
        .collect()
}
