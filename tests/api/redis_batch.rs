//! The room script's batch mark (room.lua, ARGV[16]): texts one connection sent at once go
//! to Redis as one pipeline (backend/redis/batch.rs), and a text that needs its sender to join
//! first is run again, with the join notice, after the pipeline. The mark it leaves makes the
//! batch's later texts to that room wait for the join too, even if the sender became a member
//! in between: otherwise a later text would be stored before the earlier one.
//!
//! These tests run the script as the server does (EVAL of the same file) on one Redis, the only
//! deployment that pipelines texts.

use crate::helpers::{Deployment, RedisServer, TestApp, fresh_prefix, room};
use crate::resp::{Resp, redis_command};

const ROOM_LUA: &str = include_str!("../../src/backend/redis/room.lua");
const RATE_LUA: &str = include_str!("../../src/backend/redis/rate.lua");

/// Runs a `send` of `user`'s text to room `r` without the join notice; `batch`: the batch's
/// mark key, if any. Returns the reply's text.
async fn send(port: u16, prefix: &str, user: &str, batch: Option<&str>) -> String {
    let room = format!("{prefix}:room:{{r}}");
    let keys = [
        room.clone(),
        format!("{room}:members"),
        format!("{room}:log"),
        format!("{room}:followers"),
        format!("{room}:reads"),
    ];
    let mut args: Vec<String> = vec!["EVAL".into(), ROOM_LUA.into()];
    args.push((keys.len() + usize::from(batch.is_some())).to_string());
    args.extend(keys);
    args.extend(batch.map(str::to_string));
    let text_head = format!(r#"{{"id":"x","chat_id":"r","user_id":"{user}","content":"hi","timestamp":""#);
    let argv = [
        "send",
        "r",
        user,
        "100",
        &format!("{prefix}:ch:room:{{r}}"),
        "2026-01-01T00:00:00Z",
        "",
        "",
        "",
        "instance-1",
        &text_head,
        "\"}",
        "",
        "PUBLISH",
        "",
        if batch.is_some() { "10000" } else { "" },
    ]
    .map(str::to_string);
    args.extend(argv);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match redis_command(port, &args).await.as_slice() {
        [Resp::Text(reply)] => reply.clone(),
        other => panic!("unexpected reply {other:?}"),
    }
}

/// A server on the binary's Redis under a fresh prefix, with a public room `r` of `members`.
async fn room_r(members: &[&str]) -> (std::sync::Arc<RedisServer>, String, TestApp) {
    let redis = RedisServer::shared();
    let prefix = fresh_prefix();
    let app = TestApp::start(&[], Deployment::Redis(redis.clone(), prefix.clone())).await;
    room(&app, "r", members).await;
    (redis, prefix, app)
}

async fn exists(port: u16, key: &str) -> Vec<Resp> {
    redis_command(port, &["EXISTS", key]).await
}

/// A text that needs the join leaves the mark; the batch's next text to the room then needs
/// the join as well, though the sender is a member by then; a text outside the batch does not.
#[tokio::test]
async fn a_batch_mark_keeps_later_texts_behind_the_first_that_needs_the_join() {
    let (redis, prefix, _app) = room_r(&["owner"]).await;
    let mark = format!("{prefix}:room:{{r}}:batch:b1");
    assert_eq!(send(redis.port, &prefix, "u1", Some(&mark)).await, "needjoin");
    assert_eq!(exists(redis.port, &mark).await, [Resp::Int(1)]);
    let members = format!("{prefix}:room:{{r}}:members");
    redis_command(redis.port, &["SADD", &members, "u1"]).await;
    assert_eq!(
        send(redis.port, &prefix, "u1", Some(&mark)).await,
        "needjoin",
        "a later text of the batch waits for the join"
    );
    let alone = send(redis.port, &prefix, "u1", None).await;
    assert!(alone.starts_with("ok\n"), "{alone}");
    let log = format!("{prefix}:room:{{r}}:log");
    assert_eq!(redis_command(redis.port, &["XLEN", &log]).await, [Resp::Int(1)]);
}

/// A batch whose texts find the sender a member stores them and leaves no mark.
#[tokio::test]
async fn a_batch_of_a_member_stores_and_leaves_no_mark() {
    let (redis, prefix, _app) = room_r(&["u1"]).await;
    let mark = format!("{prefix}:room:{{r}}:batch:b2");
    for _ in 0..2 {
        let reply = send(redis.port, &prefix, "u1", Some(&mark)).await;
        assert!(reply.starts_with("ok\n"), "{reply}");
    }
    assert_eq!(exists(redis.port, &mark).await, [Resp::Int(0)]);
    let log = format!("{prefix}:room:{{r}}:log");
    assert_eq!(redis_command(redis.port, &["XLEN", &log]).await, [Resp::Int(2)]);
}

/// The texts of a burst take their rate cells in one call (rate.lua), in order: with a burst of
/// 3, the first three are taken and the rest refused, each with the same wait (a refused cell
/// leaves the allowance as it was); nothing is left until a cell comes free.
#[tokio::test]
async fn a_burst_takes_its_rate_cells_in_one_call() {
    let (redis, prefix, _app) = room_r(&["owner"]).await;
    let key = format!("{prefix}:user:{{u1}}:rate");
    let port = redis.port;
    let cells = |n: &'static str| {
        let key = key.clone();
        async move {
            let args = ["EVAL", RATE_LUA, "1", &key, "1000000", "3", n];
            redis_command(port, &args).await
        }
    };
    let waits = cells("5").await;
    assert_eq!(waits[..3], [Resp::Int(0), Resp::Int(0), Resp::Int(0)]);
    let [Resp::Int(w4), Resp::Int(w5)] = waits[3..] else {
        panic!("unexpected reply {waits:?}");
    };
    assert!(w4 > 0 && w4 <= 1_000_000, "{w4}");
    assert!(w5 > 0 && w5 <= w4, "{w5} after {w4}");
    let again = cells("2").await;
    assert_eq!(again.len(), 2);
    assert!(
        again.iter().all(|w| matches!(w, Resp::Int(w) if *w > 0)),
        "{again:?}"
    );
    assert_eq!(cells("0").await, []);
}
