//! Allocations per delivery: a counting global allocator around a real server (memory store,
//! then a private Redis), whose readers take each frame as it comes. Its own test binary,
//! because the allocator is process-wide.
//!
//! The readers and the sender speak raw WebSocket over TCP with fixed buffers, so that in the
//! measured part only the server allocates. The same N messages go to M1 and then M2 readers;
//! what the server allocates per message (decoding, storing, serialising once) does not
//! depend on M, what it would allocate per delivery does: the difference between the two runs
//! must stay far below one allocation per extra delivery.

#[path = "api/helpers.rs"]
mod helpers;
#[path = "api/redis_cluster.rs"]
mod redis_cluster;
#[path = "api/redis_server.rs"]
mod redis_server;

use std::alloc::System;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use helpers::TestApp;

/// Counts every allocation of the process (stats_alloc: our code holds no `unsafe`).
#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Allocations and reallocations so far.
fn allocated() -> usize {
    let s = GLOBAL.stats();
    s.allocations + s.reallocations
}

const ROOM: &str = "alloc-room";

/// Opens a raw WebSocket for `user` and reads the 101 answer.
async fn open(app: &TestApp, user: &str) -> TcpStream {
    let mut s = TcpStream::connect(app.addr).await.unwrap();
    s.set_nodelay(true).unwrap();
    let req = format!(
        "GET /ws/{user} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        s.read_exact(&mut b).await.unwrap();
        head.push(b[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    s
}

/// Reads frames forever, adding each complete frame to `count` (server frames are unmasked;
/// a fixed buffer, no allocation).
async fn read_frames(mut s: TcpStream, count: Arc<AtomicUsize>) {
    let mut buf = [0u8; 8192];
    let (mut filled, mut start) = (0usize, 0usize);
    loop {
        // Parse every whole frame in buf[start..filled].
        loop {
            let avail = &buf[start..filled];
            if avail.len() < 2 {
                break;
            }
            let (hlen, len) = match avail[1] & 0x7f {
                126 if avail.len() >= 4 => (4, usize::from(u16::from_be_bytes([avail[2], avail[3]]))),
                126 | 127 => break,
                n => (2, usize::from(n)),
            };
            if avail.len() < hlen + len {
                break;
            }
            start += hlen + len;
            count.fetch_add(1, Ordering::Release);
        }
        buf.copy_within(start..filled, 0);
        (filled, start) = (filled - start, 0);
        match s.read(&mut buf[filled..]).await {
            Ok(0) | Err(_) => return,
            Ok(n) => filled += n,
        }
    }
}

/// A masked client text frame (mask key 0, so the payload goes as is) in `out`.
fn client_text(out: &mut [u8; 256], payload: &[u8]) -> usize {
    assert!(payload.len() < 126);
    out[0] = 0x81;
    out[1] = 0x80 | payload.len() as u8;
    out[2..6].copy_from_slice(&[0, 0, 0, 0]);
    out[6..6 + payload.len()].copy_from_slice(payload);
    6 + payload.len()
}

/// Waits until every counter has reached `n` (each frame is read as soon as it comes).
async fn all_reached(counts: &[Arc<AtomicUsize>], n: usize) {
    let wait = async {
        while counts.iter().any(|c| c.load(Ordering::Acquire) < n) {
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .expect("deliveries within 10 s");
}

/// Allocations made while `messages` texts, each waited for by all `readers`, are delivered
/// (after a warm-up of the same kind).
async fn allocations(redis: bool, readers: usize, messages: usize) -> usize {
    let vars = [("WS_TIMEOUT_SECONDS", "60")];
    let app = if redis {
        let prefix = format!("alloc{readers}");
        TestApp::spawn_redis(redis_server::RedisServer::shared(), &prefix, &vars).await
    } else {
        TestApp::spawn_exact(&vars).await
    };
    let users: Vec<String> = (0..readers).map(|i| format!("r{i}")).collect();
    let mut participants = users.clone();
    participants.push("sender".into());
    let body = serde_json::json!({"id": ROOM, "name": "alloc", "participants": participants});
    let resp = app.http.post(app.url("/chat")).json(&body).send().await.unwrap();
    assert_eq!(resp.status(), 201);
    let mut counts = Vec::new();
    for user in &users {
        let count = Arc::new(AtomicUsize::new(0));
        tokio::spawn(read_frames(open(&app, user).await, count.clone()));
        counts.push(count);
    }
    let mut sender = open(&app, "sender").await;
    let (mut frame, warmup) = ([0u8; 256], 20);
    let mut sent = 0;
    let mut send = async |sender: &mut TcpStream, sent: &mut usize| {
        let mut payload = [0u8; 96];
        let text = format!(
            "{{\"type\":\"text\",\"content\":\"m{:05}\",\"chat_id\":\"{ROOM}\"}}",
            *sent
        );
        payload[..text.len()].copy_from_slice(text.as_bytes());
        let n = client_text(&mut frame, &payload[..text.len()]);
        sender.write_all(&frame[..n]).await.unwrap();
        *sent += 1;
        all_reached(&counts, *sent).await;
    };
    for _ in 0..warmup {
        send(&mut sender, &mut sent).await;
    }
    let before = allocated();
    for _ in 0..messages {
        send(&mut sender, &mut sent).await;
    }
    let after = allocated();
    drop(sender);
    after - before
}

/// Delivering N messages to 60 readers allocates about what delivering them to 10 does: the
/// 10,000 extra deliveries cost well under one allocation in ten.
async fn a_delivery_allocates_nothing_on(redis: bool) {
    const MESSAGES: usize = 200;
    let few = allocations(redis, 10, MESSAGES).await;
    let many = allocations(redis, 60, MESSAGES).await;
    let extra_deliveries = MESSAGES * (60 - 10);
    println!(
        "allocations ({}): {few} for 10 readers, {many} for 60 ({extra_deliveries} more deliveries)",
        if redis { "redis" } else { "memory" }
    );
    assert!(
        many.saturating_sub(few) < extra_deliveries / 10,
        "{} more allocations for {extra_deliveries} more deliveries ({few} with 10 readers, {many} with 60)",
        many.saturating_sub(few)
    );
}

/// Both stores in one test: the counter is process-wide, so two tests at once would count
/// each other's allocations. On Redis each message also takes the room script and its pub/sub
/// copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_allocates_nothing() {
    a_delivery_allocates_nothing_on(false).await;
    a_delivery_allocates_nothing_on(true).await;
}
