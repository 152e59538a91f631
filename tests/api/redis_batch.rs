//! The room script's runs of texts (room.lua's "texts"): texts one connection sent at once go
//! to Redis as one pipeline, one call per run of texts to a room (backend/redis/batch.rs), and
//! a text that needs its sender to join first is run again, with the join notice, after the
//! pipeline. The batch's mark it leaves (ARGV[16]) makes the batch's later texts to that room
//! wait for the join too, even if the sender became a member in between: otherwise a later
//! text would be stored before the earlier one.
//!
//! These tests run the script as the server does (EVAL of the same file) on one Redis, the only
//! deployment that pipelines texts.

use crate::helpers::{Deployment, RedisServer, TestApp, fresh_prefix, room};
use crate::resp::{Resp, redis_command};

const ROOM_LUA: &str = include_str!("../../src/backend/redis/room.lua");
const RATE_LUA: &str = include_str!("../../src/backend/redis/rate.lua");

/// Runs room.lua's "texts" for `user`'s `texts` to room `r`, each its content and, if it has
/// one, its client_msg_id; `batch`: the batch's id. Returns each text's part of the reply.
async fn texts(
    port: u16,
    prefix: &str,
    user: &str,
    batch: &str,
    texts: &[(&str, Option<&str>)],
) -> Vec<String> {
    let room = format!("{prefix}:room:{{r}}");
    let mut keys = vec![
        room.clone(),
        format!("{room}:members"),
        format!("{room}:log"),
        format!("{room}:followers"),
        format!("{room}:reads"),
    ];
    keys.extend(
        texts
            .iter()
            .filter_map(|(_, id)| id.map(|id| format!("{room}:sent:{user}|{id}"))),
    );
    keys.push(format!("{room}:batch:{batch}"));
    let mut args: Vec<String> = vec!["EVAL".into(), ROOM_LUA.into(), keys.len().to_string()];
    args.extend(keys);
    let channel = format!("{prefix}:ch:room:{{r}}");
    let argv = [
        "texts",
        "r",
        user,
        "100",
        &channel,
        "2026-01-01T00:00:00Z",
        "",
        "",
        "",
        "instance-1",
        "",
        "",
        "10000",
        "PUBLISH",
        "",
        "10000",
    ];
    args.extend(argv.map(str::to_string));
    for (content, id) in texts {
        let head =
            format!(r#"{{"id":"x","chat_id":"r","user_id":"{user}","content":"{content}","timestamp":""#);
        args.extend([head, "\"}".into(), id.map_or("", |_| "1").into()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match redis_command(port, &args).await.as_slice() {
        [Resp::Text(reply)] => reply.split('\x1e').map(str::to_string).collect(),
        other => panic!("unexpected reply {other:?}"),
    }
}

/// A stored text's part of the reply: "ok", the room's epoch, its previous sequence, the
/// text's own, its JSON; returns the sequences and the JSON's content.
fn stored(part: &str) -> (u64, u64, String) {
    let lines: Vec<&str> = part.split('\n').collect();
    let [ok, epoch, prev, seq, json] = lines[..] else {
        panic!("not a stored text: {part:?}");
    };
    assert_eq!(ok, "ok", "{part}");
    // The room's epoch: the digits of its created_at.
    assert!(
        epoch.len() >= 14 && epoch.bytes().all(|b| b.is_ascii_digit()),
        "{part}"
    );
    let json: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(json["epoch"], epoch, "{part}");
    let seq: u64 = seq.parse().unwrap();
    assert_eq!(json["seq"], seq, "{part}");
    (
        prev.parse().unwrap(),
        seq,
        json["content"].as_str().unwrap().to_string(),
    )
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

/// A run whose sender is not a member answers "needjoin" for each text and leaves the mark; a
/// later run of the batch to the room then needs the join as well, though the sender is a
/// member by then; a run of another batch does not.
#[tokio::test]
async fn a_batch_mark_keeps_later_texts_behind_the_first_that_needs_the_join() {
    let (redis, prefix, _app) = room_r(&["owner"]).await;
    let port = redis.port;
    let run = texts(port, &prefix, "u1", "b1", &[("a", None), ("b", None)]).await;
    assert_eq!(run, ["needjoin", "needjoin"]);
    let mark = format!("{prefix}:room:{{r}}:batch:b1");
    assert_eq!(exists(port, &mark).await, [Resp::Int(1)]);
    let members = format!("{prefix}:room:{{r}}:members");
    redis_command(port, &["SADD", &members, "u1"]).await;
    let later = texts(port, &prefix, "u1", "b1", &[("c", None)]).await;
    assert_eq!(later, ["needjoin"], "a later run of the batch waits for the join");
    let other = texts(port, &prefix, "u1", "b2", &[("d", None)]).await;
    assert_eq!(stored(&other[0]).2, "d");
    assert_eq!(
        exists(port, &format!("{prefix}:room:{{r}}:batch:b2")).await,
        [Resp::Int(0)]
    );
    let log = format!("{prefix}:room:{{r}}:log");
    assert_eq!(redis_command(port, &["XLEN", &log]).await, [Resp::Int(1)]);
}

/// A member's run stores each text in order, each reply naming the one before it, leaves no
/// mark, and moves the sender's read position to the last.
#[tokio::test]
async fn a_run_of_a_member_stores_each_text_in_order() {
    let (redis, prefix, _app) = room_r(&["u1"]).await;
    let port = redis.port;
    let run = texts(
        port,
        &prefix,
        "u1",
        "b3",
        &[("a", None), ("b", None), ("c", None)],
    )
    .await;
    let run: Vec<(u64, u64, String)> = run.iter().map(|p| stored(p)).collect();
    assert_eq!(
        run.iter().map(|r| r.2.as_str()).collect::<Vec<_>>(),
        ["a", "b", "c"]
    );
    assert!(run[0].0 < run[0].1);
    assert_eq!(
        (run[1].0, run[2].0),
        (run[0].1, run[1].1),
        "each names the one before"
    );
    assert!(run[1].0 < run[1].1 && run[2].0 < run[2].1);
    assert_eq!(
        exists(port, &format!("{prefix}:room:{{r}}:batch:b3")).await,
        [Resp::Int(0)]
    );
    let log = format!("{prefix}:room:{{r}}:log");
    assert_eq!(redis_command(port, &["XLEN", &log]).await, [Resp::Int(3)]);
    let reads = format!("{prefix}:room:{{r}}:reads");
    let [Resp::Text(read)] = &redis_command(port, &["HGET", &reads, "u1"]).await[..] else {
        panic!("no read position");
    };
    assert!(read.starts_with(&format!("{}:", run[2].1)), "{read}");
}

/// A retry inside a run (same client_msg_id as a stored text) is answered with the original
/// and stores nothing; the texts around it are stored.
#[tokio::test]
async fn a_retry_in_a_run_is_answered_with_its_original() {
    let (redis, prefix, _app) = room_r(&["u1"]).await;
    let port = redis.port;
    let first = texts(port, &prefix, "u1", "b4", &[("a", Some("k1"))]).await;
    let (_, seq, _) = stored(&first[0]);
    let json = first[0].rsplit('\n').next().unwrap().to_string();
    let run = texts(
        port,
        &prefix,
        "u1",
        "b5",
        &[("b", None), ("again", Some("k1")), ("c", Some("k2"))],
    )
    .await;
    assert_eq!(run.len(), 3);
    let (b, c) = (stored(&run[0]), stored(&run[2]));
    assert_eq!((b.0, b.2.as_str()), (seq, "b"));
    assert_eq!(run[1], format!("dup\n{json}"));
    assert_eq!((c.0, c.2.as_str()), (b.1, "c"));
    let log = format!("{prefix}:room:{{r}}:log");
    assert_eq!(redis_command(port, &["XLEN", &log]).await, [Resp::Int(3)]);
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
