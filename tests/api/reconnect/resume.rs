//! `resume`: exactly the missed messages, in order, before the room's live ones; an explicit
//! `recovered: false` when the history no longer reaches back or was lost.

use serde_json::json;

use super::{frames, position, resuming, say};
use crate::helpers::{TestApp, room};

/// Alice saw m1..m3, left; m4..m6 were posted while she was away and m7 once her new
/// connection was open but before her resume: she gets m4, m5, m6, `resumed`, then m7.
#[tokio::test]
async fn resume_replays_exactly_what_was_missed_then_goes_live() {
    let app = TestApp::spawn().await;
    room(&app, "r", &["alice", "bob"]).await;
    let (mut alice, mut bob) = (app.ws("alice").await, app.ws("bob").await);
    for i in 1..=3 {
        say(&mut bob, "r", &format!("m{i}")).await;
    }
    let seen = frames(&mut alice, 3).await;
    alice.close().await;
    for i in 4..=6 {
        say(&mut bob, "r", &format!("m{i}")).await;
    }
    let mut back = resuming(&app, "alice").await;
    let m7 = say(&mut bob, "r", "m7").await; // stored after the new connection opened
    back.send_json(json!({"type": "resume", "positions": {"r": position(&seen[2])}}))
        .await;
    let got = frames(&mut back, 5).await;
    let history = app.history("r").await;
    assert_eq!(got[..3], history[3..6], "m4..m6 replayed, as stored");
    let resumed = json!({"type": "resumed", "chat_id": "r", "recovered": true,
        "epoch": seen[2]["epoch"], "replayed": 3});
    assert_eq!(got[3], resumed);
    assert_eq!(got[4], m7, "then live");
    back.assert_nothing_pending().await;
}

/// Nothing missed: an empty replay, `recovered: true`, and the live stream as usual.
#[tokio::test]
async fn resume_at_the_newest_message_replays_nothing() {
    let app = TestApp::spawn().await;
    room(&app, "r", &["alice", "bob"]).await;
    let mut bob = app.ws("bob").await;
    let last = say(&mut bob, "r", "hi").await;
    let mut alice = resuming(&app, "alice").await;
    alice
        .send_json(json!({"type": "resume", "positions": {"r": position(&last)}}))
        .await;
    let resumed = json!({"type": "resumed", "chat_id": "r", "recovered": true,
        "epoch": last["epoch"], "replayed": 0});
    assert_eq!(alice.recv_json().await, resumed);
    let next = say(&mut bob, "r", "next").await;
    assert_eq!(alice.recv_json().await, next);
}

/// Position 0 in a room whose history was never trimmed: everything.
#[tokio::test]
async fn resume_from_zero_replays_the_whole_history() {
    let app = TestApp::spawn().await;
    let mut bob = app.ws("bob").await;
    say(&mut bob, "r", "a").await;
    say(&mut bob, "r", "b").await;
    let history = app.history("r").await; // bob's join notice, a, b
    let mut alice = resuming(&app, "alice").await;
    alice.send_json(json!({"type": "join", "chat_id": "r"})).await; // not a resume: live at once
    let joined = alice.recv_json().await;
    assert_eq!(joined["content"], "alice joined the chat");
    let mut again = resuming(&app, "alice").await;
    let epoch = &history[0]["epoch"];
    again
        .send_json(json!({"type": "resume", "positions": {"r": {"seq": 0, "epoch": epoch}}}))
        .await;
    let got = frames(&mut again, 5).await;
    assert_eq!(got[..3], history[..]);
    assert_eq!(got[3], joined);
    assert_eq!(got[4]["replayed"], 4);
}

/// The history was trimmed past the position: `recovered: false` with the newest page.
#[tokio::test]
async fn resume_past_the_trimmed_history_is_not_recovered() {
    let app = TestApp::spawn_with(&[("MAX_MESSAGES_PER_ROOM", "3")]).await;
    room(&app, "r", &["alice", "bob"]).await;
    let mut bob = app.ws("bob").await;
    let first = say(&mut bob, "r", "m1").await;
    for i in 2..=6 {
        say(&mut bob, "r", &format!("m{i}")).await;
    }
    let mut alice = resuming(&app, "alice").await;
    alice
        .send_json(json!({"type": "resume", "positions": {"r": position(&first)}}))
        .await;
    let history = app.history("r").await;
    assert_eq!(history.len(), 3);
    let want = json!({"type": "resumed", "chat_id": "r", "recovered": false,
        "epoch": first["epoch"], "messages": history});
    assert_eq!(alice.recv_json().await, want);
    alice.assert_nothing_pending().await;
}

/// Another epoch (the history was lost and the room made again): `recovered: false`.
#[tokio::test]
async fn resume_with_another_epoch_is_not_recovered() {
    let app = TestApp::spawn().await;
    room(&app, "r", &["alice", "bob"]).await;
    let mut bob = app.ws("bob").await;
    let m = say(&mut bob, "r", "hi").await;
    let mut alice = resuming(&app, "alice").await;
    let stale = json!({"seq": m["seq"], "epoch": "19990101000000000000"});
    alice
        .send_json(json!({"type": "resume", "positions": {"r": stale}}))
        .await;
    let want = json!({"type": "resumed", "chat_id": "r", "recovered": false,
        "epoch": m["epoch"], "messages": [m]});
    assert_eq!(alice.recv_json().await, want);
}

/// Refusals: a resume on a connection not opened with `?resume=true`, or not as its first
/// frame; rooms the user is not in, or that do not exist, get an error frame each while the
/// other rooms resume; a bad `resume` query is a 400.
#[tokio::test]
async fn resume_refusals_are_precise() {
    let app = TestApp::spawn().await;
    room(&app, "r", &["alice"]).await;
    room(&app, "closed", &["bob"]).await;
    let resume_r = json!({"type": "resume", "positions": {"r": {"seq": 0, "epoch": ""}}});
    let mut plain = app.ws("alice").await;
    plain.send_json(resume_r.clone()).await;
    let not_first = "resume must be the first frame of a connection opened with ?resume=true";
    plain.expect_error(not_first).await;

    let mut late = resuming(&app, "alice").await;
    late.assert_nothing_pending().await; // its first frame
    late.send_json(resume_r).await;
    late.expect_error(not_first).await;

    let mut alice = resuming(&app, "alice").await;
    let positions = json!({"closed": {"seq": 0, "epoch": ""}, "ghost": {"seq": 0, "epoch": ""},
        "r": {"seq": 0, "epoch": "x"}});
    alice
        .send_json(json!({"type": "resume", "positions": positions}))
        .await;
    alice
        .expect_error("Cannot resume chat closed: You are not a participant of chat closed")
        .await;
    alice
        .expect_error("Cannot resume chat ghost: Chat not found")
        .await;
    let resumed = alice.recv_json().await;
    assert_eq!(
        (resumed["type"].as_str(), resumed["recovered"].as_bool()),
        (Some("resumed"), Some(false))
    );

    assert_eq!(app.ws_refused("alice?resume=maybe").await, 400);
    let mut bad = resuming(&app, "alice").await;
    bad.send_json(json!({"type": "resume", "positions": {"r": {"seq": -1, "epoch": ""}}}))
        .await;
    let frame = bad.recv_json().await;
    assert_eq!(frame["type"], "error", "{frame}");
    assert!(
        frame["detail"].as_str().unwrap().starts_with("Invalid frame: "),
        "{frame}"
    );
}

/// A resuming connection that never sends a frame gets its live messages after one heartbeat
/// interval (`WS_TIMEOUT_SECONDS`), in order.
#[tokio::test]
async fn held_messages_flow_after_a_heartbeat_without_resume() {
    let app = TestApp::spawn_with(&[("WS_TIMEOUT_SECONDS", "1")]).await;
    room(&app, "r", &["alice", "bob"]).await;
    let mut alice = resuming(&app, "alice").await;
    let mut bob = app.ws("bob").await;
    let a = say(&mut bob, "r", "a").await;
    let b = say(&mut bob, "r", "b").await;
    assert_eq!(frames(&mut alice, 2).await, [a, b]);
}
