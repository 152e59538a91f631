//! One run of the checker: start the cluster, carry out the seed's schedule in real time,
//! let the run quiesce (faults over, every instance up, presence past its TTL, every slow
//! consumer's pause over, open connections caught up with what was stored), read the model
//! from Redis, check, and stop everything (the cluster's `Drop` kills what is left, a panic
//! included).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::checks::state::{self, Ctx};
use crate::checks::{Violation, delivery};
use crate::client::{self, Cmd};
use crate::cluster::{Cluster, PRESENCE_TTL};
use crate::faults;
use crate::journal::{Journal, Shared, now_us};
use crate::model::Model;
use crate::schedule::{Action, Profile, generate};

/// What a run did and found.
pub struct Outcome {
    pub seed: u64,
    pub journal: Journal,
    pub violations: Vec<Violation>,
    /// Messages stored, and deliveries (frames received) checked against them.
    pub stored: usize,
    pub deliveries: usize,
    pub took: Duration,
    /// The instances' logs, kept when the run found a violation.
    pub logs: String,
}

/// Runs `seed`'s schedule under `p` and checks it.
pub async fn run(seed: u64, p: &Profile) -> Outcome {
    let began = std::time::Instant::now();
    let steps = generate(seed, p);
    let cluster = Cluster::start(p.instances, seed).await;
    let ctx = Arc::new(Ctx {
        http: reqwest::Client::new(),
        ports: cluster.instances.iter().map(|i| i.port).collect(),
        redis_port: cluster.redis.port,
        users: (0..p.users).map(|u| format!("u{u}")).collect(),
        rooms: (0..p.rooms).map(|r| format!("r{r}")).collect(),
    });
    for room in &ctx.rooms {
        let url = format!("http://127.0.0.1:{}/chat", ctx.ports[0]);
        let created = ctx
            .http
            .post(url)
            .json(&json!({"id": room, "name": room}))
            .send()
            .await;
        assert!(
            matches!(&created, Ok(r) if r.status() == 201),
            "room {room}: {created:?}"
        );
    }
    let logs = cluster.dir.display().to_string();
    let cluster = Arc::new(Mutex::new(cluster));
    let journal = Shared::default();
    journal.lock().start = now_us();
    let clients: Vec<_> = (0..p.clients)
        .map(|k| client::spawn(k, ctx.users[k % p.users].clone(), journal.clone()))
        .collect();
    let senders: Vec<mpsc::UnboundedSender<Cmd>> = clients.iter().map(|c| c.0.clone()).collect();

    let mut tasks = Vec::new();
    let start = tokio::time::Instant::now();
    for (n, step) in steps.iter().enumerate() {
        tokio::time::sleep_until(start + Duration::from_millis(step.at_ms)).await;
        journal.event(format!("step {n} @{} ms: {:?}", step.at_ms, step.action));
        journal.lock().ops += 1;
        let to = |c: usize, cmd: Cmd| {
            let _ = senders[c].send(cmd);
        };
        let room = |r: usize| ctx.rooms[r].clone();
        match step.action.clone() {
            Action::Connect {
                client,
                instance,
                small_buffer,
            } => to(
                client,
                Cmd::Connect {
                    instance,
                    port: ctx.ports[instance],
                    small_buffer,
                },
            ),
            Action::Reconnect { client, instance } => {
                to(client, Cmd::Disconnect);
                to(
                    client,
                    Cmd::Connect {
                        instance,
                        port: ctx.ports[instance],
                        small_buffer: false,
                    },
                );
            }
            Action::Disconnect { client } => to(client, Cmd::Disconnect),
            Action::Drop { client } => to(client, Cmd::Drop),
            Action::Join { client, room: r } => to(
                client,
                Cmd::Frame {
                    kind: "join",
                    room: room(r),
                },
            ),
            Action::Leave { client, room: r } => to(
                client,
                Cmd::Frame {
                    kind: "leave",
                    room: room(r),
                },
            ),
            Action::Send { client, room: r } => to(
                client,
                Cmd::Frame {
                    kind: "text",
                    room: room(r),
                },
            ),
            Action::Typing { client, room: r } => to(
                client,
                Cmd::Frame {
                    kind: "typing",
                    room: room(r),
                },
            ),
            Action::StopReading { client, ms } => to(client, Cmd::StopReading(Duration::from_millis(ms))),
            Action::Fault(f) => tasks.push(tokio::spawn(faults::inject(cluster.clone(), f, journal.clone()))),
            other => tasks.push(tokio::spawn(faults::http(ctx.clone(), other, journal.clone()))),
        }
    }

    // Quiesce: every fault over, every instance up, presence past its TTL since the last one.
    for t in tasks {
        let _ = t.await;
    }
    {
        let mut c = cluster.lock().await;
        for i in 0..p.instances {
            if !c.is_up(i) {
                c.start_instance(i).await;
            }
        }
    }
    let last_fault = journal.lock().faults.last().copied().unwrap_or(0);
    let ttl = PRESENCE_TTL.as_micros() as i64;
    // After Redis comes back, every instance's heartbeat had failed: the keepalive (a tick a
    // second) waits a TTL from its last failure before it reaps a dead instance's follower
    // entries (pubsub/reap.rs), so those wait up to the TTL and two ticks (soak seed
    // 343213408: an instance killed, then Redis stopped until 2 s before the end, and the
    // killed one's entries found stale a second before the reaper was due).
    let reaped = journal.lock().redis_back.map_or(0, |back| back + ttl + 3_000_000);
    let settle = ((last_fault + ttl + 1_000_000).max(reaped) - now_us()).max(1_500_000);
    // And every client settled: a slow consumer still paused may not have read yet that the
    // server closed its connection, and the checks take the journal's open connections for
    // the server's (soak seed 130419609: `presence` wanted a user active whose last
    // connection the server had closed for want of a pong, as documented).
    tokio::join!(
        tokio::time::sleep(Duration::from_micros(settle as u64)),
        settle_clients(&senders)
    );
    journal.event("quiesced".into());
    let model = caught_up(&ctx, &journal).await;

    let mut violations = Vec::new();
    let conns = journal.lock().conns.clone();
    let fault_times = journal.lock().faults.clone();
    delivery::check(&model, &conns, &fault_times, &mut violations);
    state::pages_during_run(&model, &journal.lock().pages, &mut violations);
    state::presence(&ctx, &state::live_users(&conns), "presence", &mut violations).await;
    state::membership(&ctx, &model, &mut violations).await;
    state::followers(&ctx, &mut violations).await;
    state::history(&ctx, &model, &mut violations).await;

    // Everyone leaves: nobody is active any more.
    for (tx, _) in &clients {
        let (done, wait) = oneshot::channel();
        let _ = tx.send(Cmd::Finish(done));
        let _ = tokio::time::timeout(Duration::from_secs(3), wait).await;
    }
    state::presence(&ctx, &BTreeSet::new(), "presence-after-close", &mut violations).await;
    drop(senders);
    for (tx, handle) in clients {
        drop(tx);
        let _ = tokio::time::timeout(Duration::from_secs(3), handle).await;
    }
    let cluster = Arc::try_unwrap(cluster).ok().map(Mutex::into_inner);
    if violations.is_empty()
        && let Some(c) = &cluster
    {
        c.remove_logs();
    }
    drop(cluster);
    let journal = std::mem::take(&mut *journal.lock());
    Outcome {
        seed,
        deliveries: journal.conns.iter().map(|c| c.frames.len()).sum(),
        stored: model.stored(),
        journal,
        violations,
        took: began.elapsed(),
        logs,
    }
}

/// Waits (up to 10 s) until every client has settled (`Cmd::Settle`): its pause over and what
/// the server had sent it read.
async fn settle_clients(senders: &[mpsc::UnboundedSender<Cmd>]) {
    let settled = senders.iter().map(|tx| {
        let (done, wait) = oneshot::channel();
        let _ = tx.send(Cmd::Settle(done));
        wait
    });
    let all = futures_util::future::join_all(settled);
    let _ = tokio::time::timeout(Duration::from_secs(10), all).await;
}

/// Waits (up to 10 s) until every open connection has every stored message addressed to it,
/// and returns the model then (the last one read if they never catch up: the checks say who
/// misses what).
async fn caught_up(ctx: &Ctx, journal: &Shared) -> Model {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let model = Model::read(ctx.redis_port, &ctx.rooms)
            .await
            .expect("Redis answers after the run");
        let done = {
            let j = journal.lock();
            j.conns.iter().filter(|c| c.end.is_none()).all(|c| {
                ctx.rooms.iter().all(|room| {
                    let entries = model.entries(room);
                    let addressed = model.addressed(room, &c.user);
                    let Some(k) = (0..entries.len())
                        .rev()
                        .find(|&k| addressed[k] && entries[k].seq > c.t1)
                    else {
                        return true;
                    };
                    c.frames
                        .iter()
                        .any(|(_, f)| f["chat_id"] == room.as_str() && f == &entries[k].json)
                })
            })
        };
        if done || tokio::time::Instant::now() > deadline {
            return model;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
