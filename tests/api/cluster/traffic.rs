//! Steady traffic for the failover tests, and what it must come to. Per room: a WebSocket
//! sender on one instance, an HTTP poster on the other and a listener on each; every
//! connection records every frame it gets. A send is acknowledged when its echo comes back
//! (WebSocket) or it gets a 201 (HTTP); one answered with an error frame or a 503 failed, and
//! may or may not have been stored. Every wait is bounded.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::senders::{ANSWER, Ack, Shared, connection, post};
use crate::helpers::{TIMEOUT, TestApp, WsClient, room};

/// One WebSocket connection: its user, room, the frames it got, and its task.
struct Conn {
    user: String,
    room: String,
    frames: Arc<Mutex<Vec<Value>>>,
    task: JoinHandle<WsClient>,
}

/// The running traffic.
pub struct Traffic {
    rooms: Vec<String>,
    apps: [Arc<TestApp>; 2],
    shared: Shared,
    conns: Vec<Conn>,
    posters: Vec<JoinHandle<()>>,
}

impl Traffic {
    /// Creates the rooms (through the first app), connects every connection, then starts the
    /// senders: room k's WebSocket sender on app k % 2, its poster on the other.
    pub async fn start(apps: [Arc<TestApp>; 2], rooms: &[String]) -> Traffic {
        let shared = Shared::default();
        let (mut conns, mut posters) = (Vec::new(), Vec::new());
        for (k, chat) in rooms.iter().enumerate() {
            let users = [
                format!("w{k}"),
                format!("h{k}"),
                format!("la{k}"),
                format!("lb{k}"),
            ];
            let names: Vec<&str> = users.iter().map(String::as_str).collect();
            room(&apps[0], chat, &names).await;
            let plan = [
                (&users[0], k % 2, true),
                (&users[2], 0, false),
                (&users[3], 1, false),
            ];
            for (user, app, sends) in plan {
                let ws = apps[app].ws(user).await;
                let frames = Arc::new(Mutex::new(Vec::new()));
                let run = connection(
                    ws,
                    user.clone(),
                    chat.clone(),
                    sends,
                    frames.clone(),
                    shared.clone(),
                );
                conns.push((user.clone(), chat.clone(), frames, run));
            }
            let poster = post(
                apps[(k + 1) % 2].clone(),
                users[1].clone(),
                chat.clone(),
                shared.clone(),
            );
            posters.push(poster);
        }
        // Every connection is open before the first send, so each must get the whole history.
        let conns = conns
            .into_iter()
            .map(|(user, room, frames, run)| Conn {
                user,
                room,
                frames,
                task: tokio::spawn(run),
            })
            .collect();
        let posters = posters.into_iter().map(tokio::spawn).collect();
        Traffic {
            rooms: rooms.to_vec(),
            apps,
            shared,
            conns,
            posters,
        }
    }

    fn acks(&self) -> Vec<Ack> {
        self.shared.acks.lock().unwrap().clone()
    }

    /// Waits (bounded by `within`) until every room has `n` acknowledged sends sent at or
    /// after `since`.
    pub async fn wait_acks(&self, n: usize, since: Instant, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let acks = self.acks();
            let count = |r: &String| acks.iter().filter(|a| &a.room == r && a.sent_at >= since).count();
            let short: Vec<(&String, usize)> = self
                .rooms
                .iter()
                .map(|r| (r, count(r)))
                .filter(|(_, c)| *c < n)
                .collect();
            if short.is_empty() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "fewer than {n} acknowledged sends in {short:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits (bounded by `within`) until every room has accepted a send through each instance
    /// sent at or after `since` and delivered one of them to each of its connections; returns
    /// how long after `since` that was.
    pub async fn wait_recovered(&self, since: Instant, within: Duration) -> Duration {
        let deadline = since + within;
        loop {
            let acks = self.acks();
            let pending: Vec<String> = self
                .rooms
                .iter()
                .filter(|r| !self.recovered(r, &acks, since))
                .cloned()
                .collect();
            if pending.is_empty() {
                return since.elapsed();
            }
            let stats = self.stats();
            assert!(
                Instant::now() < deadline,
                "within {within:?} of the cluster being ok again, rooms {pending:?} did not both accept \
                 through each instance and deliver to every connection ({stats})"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn recovered(&self, room: &str, acks: &[Ack], since: Instant) -> bool {
        let after: Vec<&Ack> = acks
            .iter()
            .filter(|a| a.room == room && a.sent_at >= since)
            .collect();
        let by = |prefix: char| {
            after.iter().any(|a| {
                a.message["user_id"]
                    .as_str()
                    .is_some_and(|u| u.starts_with(prefix))
            })
        };
        let seqs: Vec<&Value> = after.iter().map(|a| &a.message["seq"]).collect();
        by('w')
            && by('h')
            && self.conns.iter().filter(|c| c.room == room).all(|c| {
                let frames = c.frames.lock().unwrap();
                frames.iter().any(|f| seqs.contains(&&f["seq"]))
            })
    }

    /// Acknowledged and failed sends so far.
    pub fn stats(&self) -> String {
        let acked = self.shared.acks.lock().unwrap().len();
        let failed = self.shared.failed.load(Ordering::Relaxed);
        format!("{acked} sends acknowledged, {failed} failed")
    }

    /// Stops the senders (each finishes its send), reads every room's history, waits (bounded)
    /// until every connection has got up to its room's last message, then stops the
    /// connections and returns what was recorded.
    pub async fn finish(self) -> Outcome {
        self.shared.stop_sending.cancel();
        for poster in self.posters {
            tokio::time::timeout(ANSWER, poster)
                .await
                .expect("a poster did not stop")
                .unwrap();
        }
        let deadline = Instant::now() + ANSWER;
        while self.shared.sending.load(Ordering::SeqCst) > 0 {
            assert!(Instant::now() < deadline, "a WebSocket sender did not stop");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let mut histories = BTreeMap::new();
        for room in &self.rooms {
            let history = full_history(&self.apps[0], room).await;
            assert_eq!(
                full_history(&self.apps[1], room).await,
                history,
                "{room}: the instances differ"
            );
            histories.insert(room.clone(), history);
        }
        let deadline = Instant::now() + TIMEOUT;
        for c in &self.conns {
            let last = histories[&c.room].last().map(|m| m["seq"].clone());
            loop {
                let reached = c
                    .frames
                    .lock()
                    .unwrap()
                    .iter()
                    .any(|f| Some(&f["seq"]) == last.as_ref());
                if reached || last.is_none() {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "{} never got {}'s last message",
                    c.user,
                    c.room
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        self.shared.stop_listening.cancel();
        let mut conns = Vec::new();
        for c in self.conns {
            let ws = tokio::time::timeout(TIMEOUT, c.task)
                .await
                .expect("a connection did not stop")
                .unwrap();
            let frames = c.frames.lock().unwrap().clone();
            conns.push((c.user, c.room, frames, ws));
        }
        let acks = self.shared.acks.lock().unwrap().clone();
        Outcome {
            histories,
            acks,
            conns,
        }
    }
}

/// What the traffic came to: each room's stored history, the acknowledged sends, and each
/// connection's user, room, frames and socket.
pub struct Outcome {
    pub histories: BTreeMap<String, Vec<Value>>,
    pub acks: Vec<Ack>,
    pub conns: Vec<(String, String, Vec<Value>, WsClient)>,
}

/// A room's whole history through `app`, read backwards in pages of 50 by `before_seq`.
pub async fn full_history(app: &TestApp, room: &str) -> Vec<Value> {
    let (mut all, mut before) = (Vec::new(), i64::MAX as u64);
    loop {
        let (status, page) = app
            .get(&format!("/chat/{room}/messages?limit=50&before_seq={before}"))
            .await;
        assert_eq!(status, 200, "{room}: {page}");
        let page = page.as_array().expect("a page is an array").clone();
        let Some(first) = page.first() else { break };
        before = first["seq"].as_u64().expect("a seq");
        all.splice(0..0, page);
    }
    all
}
