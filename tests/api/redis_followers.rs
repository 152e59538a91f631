//! Publishing only where it is read: the room script publishes a stored message on the room's
//! channel only when an instance besides the one that stored it follows the room (is in the
//! room's follower set). The storing instance delivers to its own connections from the
//! script's reply. Absence of a publish is proved by the next publish (pub/sub keeps order).

use std::time::Duration;

use serde_json::Value;

use crate::helpers::{TIMEOUT, TestApp, WsClient, room, text};
use crate::multi_instance::redis_of;
use crate::resp::{Resp, Subscriber, redis_command};

/// Sends `content` to room `r` and returns the echo.
async fn say(ws: &mut WsClient, content: &str) -> Value {
    ws.send_json(text("r", content)).await;
    let echo = ws.recv_json().await;
    assert_eq!(echo["content"], content, "{echo}");
    echo
}

/// The stored message a published payload (`<seq>|<mark>|<user>|<json>`) carries.
fn published(payload: &str) -> Value {
    let json = payload.splitn(4, '|').nth(3).expect("a four-part payload");
    serde_json::from_str(json).expect("the payload ends with the message's JSON")
}

/// Polls (bounded) until the room's follower set has `want` members.
async fn wait_followers(port: u16, key: &str, want: i64) {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let got = redis_command(port, &["SCARD", key]).await;
        if got == [Resp::Int(want)] {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{got:?}, want {want}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_message_is_published_only_when_another_instance_follows_the_room() {
    let (a, b) = TestApp::spawn_pair(&[]).await;
    let (port, prefix) = redis_of(&a);
    room(&a, "r", &["p", "q"]).await;
    let followers = format!("{prefix}:room:{{r}}:followers");
    let count = async || redis_command(port, &["SCARD", &followers]).await;
    assert_eq!(count().await, [Resp::Int(0)]);
    let mut channel = Subscriber::open(port, &format!("{prefix}:ch:room:r")).await;

    // p connects to A: A registers before the handshake completes, and is alone.
    let mut p = a.ws("p").await;
    assert_eq!(count().await, [Resp::Int(1)]);
    say(&mut p, "one").await;

    // q connects to B: now a message stored on A is published, and reaches q through B.
    let mut q = b.ws("q").await;
    assert_eq!(count().await, [Resp::Int(2)]);
    let two = say(&mut p, "two").await;
    assert_eq!(q.recv_json().await, two);
    assert_eq!(published(&channel.next().await), two, "\"one\" was not published");

    // q leaves: B leaves the set, and A's messages are no longer published.
    q.close().await;
    wait_followers(port, &followers, 1).await;
    say(&mut p, "three").await;
    let mut q = b.ws("q").await;
    assert_eq!(count().await, [Resp::Int(2)]);
    let four = say(&mut p, "four").await;
    assert_eq!(q.recv_json().await, four);
    assert_eq!(
        published(&channel.next().await),
        four,
        "\"three\" was not published"
    );

    // A message stored on B is published for A, whose p gets it after its own.
    let five = say(&mut q, "five").await;
    assert_eq!(p.recv_json().await, five);
    assert_eq!(published(&channel.next().await), five);
}

/// Shutting an instance down takes it out of the follower sets of the rooms it followed.
#[tokio::test]
async fn a_stopped_instance_leaves_the_follower_sets() {
    let (a, b) = TestApp::spawn_pair(&[]).await;
    let (port, prefix) = redis_of(&a);
    room(&a, "r", &["p", "q"]).await;
    let followers = format!("{prefix}:room:{{r}}:followers");
    let _p = a.ws("p").await;
    let _q = b.ws("q").await;
    assert_eq!(redis_command(port, &["SCARD", &followers]).await, [Resp::Int(2)]);
    b.stop().await;
    assert_eq!(redis_command(port, &["SCARD", &followers]).await, [Resp::Int(1)]);
}
