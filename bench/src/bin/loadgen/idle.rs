//! idle: N connections, opened as fast as the server accepts them (a bounded number in
//! flight), then each joins a room of `members`. Reports connections opened per second and the
//! server's resident memory per connection before and after joining, then holds them for a
//! while (longer than a heartbeat interval) and counts the ones the server dropped.

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use futures_util::stream::SplitStream;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{oneshot, watch};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use crate::common::*;

pub struct IdleCfg {
    pub connections: usize,
    pub concurrency: usize,
    pub members: usize,
    pub settle: Duration,
    pub hold: Duration,
    pub duration: Duration,
}

pub async fn run(cfg: IdleCfg, mut target: Target, procs: Procs, prefix: String) -> Value {
    // Fresh pages for 10k buffers of 16 KiB cost the generator more than the server's whole
    // handshake; an idle connection reads a few frames of a few hundred bytes.
    target.read_buffer = 512;
    let deadline = Instant::now() + cfg.duration;
    let mut complete = true;
    let (stop_tx, stop_rx) = watch::channel(false);
    let (base_server, base_redis) = procs.rss();

    // 1. Open.
    set_phase("connect");
    let mark = procs.mark();
    let t0 = Instant::now();
    let opening = futures_util::stream::iter(0..cfg.connections)
        .map(|i| {
            let target = target.clone();
            let user = format!("{prefix}-i{i}");
            let stop = stop_rx.clone();
            // A task per handshake, so that handshakes run on every worker thread of the
            // generator, not only on the one polling this stream.
            let opening = tokio::spawn(async move {
                match target.connect(&user, i).await {
                    Ok(ws) => {
                        CONNS.fetch_add(1, Relaxed);
                        let (sink, stream) = ws.split();
                        let (joined_tx, joined_rx) = oneshot::channel();
                        let notice = format!("\"{user} joined the chat\"");
                        tokio::spawn(keep_alive(stream, notice, joined_tx, stop));
                        Some((i, sink, joined_rx))
                    }
                    Err(e) => {
                        note_error(format!("connect {user}: {e}"));
                        None
                    }
                }
            });
            async move { opening.await.ok().flatten() }
        })
        .buffer_unordered(cfg.concurrency);
    let mut sinks = Vec::with_capacity(cfg.connections);
    let mut opening = std::pin::pin!(opening);
    loop {
        match tokio::time::timeout_at(deadline, opening.next()).await {
            Ok(Some(Some(s))) => sinks.push(s),
            Ok(Some(None)) => {}
            Ok(None) => break,
            Err(_) => {
                complete = false;
                break;
            }
        }
    }
    let connect_s = t0.elapsed().as_secs_f64();
    let connect_usage = procs.since(&mark);
    let opened = sinks.len();
    if opened < cfg.connections {
        complete = false;
    }
    set_phase("settle");
    tokio::time::sleep(cfg.settle.min(deadline.saturating_duration_since(Instant::now()))).await;
    let (conn_server, conn_redis) = procs.rss();

    // 2. Join: connection i joins room i / members; at most `concurrency` joins are
    // outstanding (sent, own notice or error frame not yet back), like the handshakes.
    set_phase("join");
    let t_join = Instant::now();
    let joining = futures_util::stream::iter(sinks.iter_mut())
        .map(|(i, sink, joined)| {
            let frame = join_frame(&format!("{prefix}-idle{}", *i / cfg.members));
            async move {
                if let Err(e) = sink.send(Message::text(frame)).await {
                    note_error(format!("send join: {e}"));
                    return;
                }
                let _ = joined.await;
            }
        })
        .buffer_unordered(cfg.concurrency)
        .collect::<Vec<()>>();
    if tokio::time::timeout_at(deadline, joining).await.is_err() {
        complete = false;
    }
    let joined = JOINED.load(Relaxed) as usize;
    if joined < opened {
        complete = false;
    }
    let join_s = t_join.elapsed().as_secs_f64();
    set_phase("settle");
    tokio::time::sleep(cfg.settle.min(deadline.saturating_duration_since(Instant::now()))).await;
    let (join_server, join_redis) = procs.rss();

    // 3. Hold (the server pings; the keep-alive readers answer).
    set_phase("hold");
    let closed_before = CLOSED.load(Relaxed);
    tokio::time::sleep(cfg.hold.min(deadline.saturating_duration_since(Instant::now()))).await;
    let closed_during_hold = CLOSED.load(Relaxed) - closed_before;
    let held = opened as u64 - CLOSED.load(Relaxed);
    let _ = stop_tx.send(true);
    set_phase("close");
    drop(sinks);

    let per_conn = |after: Option<u64>, before: Option<u64>| -> Value {
        match (after, before) {
            (Some(a), Some(b)) if opened > 0 => {
                json!(round3((a as f64 - b as f64) / opened as f64))
            }
            _ => Value::Null,
        }
    };
    let mut out = json!({
        "complete": complete,
        "params": {
            "connections": cfg.connections, "concurrency": cfg.concurrency,
            "members_per_room": cfg.members, "settle_s": cfg.settle.as_secs_f64(),
            "hold_s": cfg.hold.as_secs_f64(), "duration_s": cfg.duration.as_secs_f64(),
        },
        "opened": opened,
        "connect_failures": cfg.connections - opened,
        "connect_s": round3(connect_s),
        "connections_per_s": (opened as f64 / connect_s.max(1e-9)).round(),
        "joined": joined,
        "join_s": round3(join_s),
        "joins_per_s": (joined as f64 / join_s.max(1e-9)).round(),
        "closed_during_hold": closed_during_hold,
        "held": held,
        "server_rss_kib": { "baseline": base_server, "connected": conn_server, "joined": join_server },
        "redis_rss_kib": { "baseline": base_redis, "connected": conn_redis, "joined": join_redis },
        "kib_per_conn": per_conn(conn_server, base_server),
        "kib_per_conn_joined": per_conn(join_server, base_server),
        "redis_kib_per_conn_joined": per_conn(join_redis, base_redis),
    });
    let cpu = connect_usage.per_cpu("connections", opened as f64);
    let obj = out.as_object_mut().unwrap();
    for k in [
        "connections_per_server_cpu_s",
        "connections_per_total_cpu_s",
        "server_cpu_s",
        "redis_cpu_s",
        "generator_cpu_s",
    ] {
        obj.insert(k.into(), cpu[k].clone());
    }
    out
}

/// Polls the connection (which also answers the server's pings) until told to stop; reports
/// the join's outcome (its own notice, or an error frame) on `joined`.
async fn keep_alive(
    mut stream: SplitStream<Ws>,
    join_notice: String,
    joined_tx: oneshot::Sender<bool>,
    mut stop: watch::Receiver<bool>,
) {
    let mut joined_tx = Some(joined_tx);
    loop {
        let msg = tokio::select! {
            m = stream.next() => m,
            _ = stop.changed() => return,
        };
        match msg {
            Some(Ok(Message::Text(t))) => {
                if joined_tx.is_some() && t.as_str().contains(&join_notice) {
                    JOINED.fetch_add(1, Relaxed);
                    if let Some(tx) = joined_tx.take() {
                        let _ = tx.send(true);
                    }
                } else if t.as_str().contains(r#""type":"error""#) {
                    note_error(format!("error frame: {}", t.as_str()));
                    if let Some(tx) = joined_tx.take() {
                        let _ = tx.send(false);
                    }
                }
            }
            Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                CLOSED.fetch_add(1, Relaxed);
                return;
            }
            Some(Ok(_)) => {}
        }
    }
}
