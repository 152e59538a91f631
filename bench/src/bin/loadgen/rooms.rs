//! fanout, paced and burst: R rooms of M members, some members send, every member counts.
//!
//! Content of every text message: `<member index>|<seq>|<send time µs>|xxx…` padded to
//! `size`. Each receiver checks, per sender of its room, that seq numbers arrive contiguous and
//! increasing, and records send-to-delivery latency. A message counts once per member of the
//! room, the sender included: the contract delivers the sender's own message back as its
//! acknowledgement (the echo), and the echo also frees one slot of the sender's window.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{Semaphore, oneshot, watch};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use crate::common::*;

pub struct RoomsCfg {
    pub rooms: usize,
    pub members: usize,
    /// The first `senders` members of each room send.
    pub senders: usize,
    /// Per sender; with `send_for`, sending also stops when that time is up (normal end).
    pub messages: u64,
    pub send_for: Option<Duration>,
    pub window: usize,
    pub ack: Ack,
    pub size: usize,
    /// Total messages per second over all senders (open loop, still capped by the window).
    pub rate: Option<f64>,
    /// Hard bound on the whole scenario.
    pub duration: Duration,
    pub connect_concurrency: usize,
    /// Read each frame as it comes: a small read buffer per connection (`EAGER_READ_BUFFER`),
    /// so a read takes one or two frames, as phones and browsers do, instead of a burst.
    pub eager: bool,
}

/// A connection's read buffer in eager mode: about one delivered frame.
pub const EAGER_READ_BUFFER: usize = 256;

/// When a sent message frees its slot of the sender's window.
#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
pub enum Ack {
    /// On the sender's own echo (the contract's acknowledgement).
    Echo,
    /// Once every member of the room received it: one fast sender then cannot outrun the
    /// slowest receiver (which a server may rightly drop as a slow consumer).
    All,
}

struct SenderState {
    sent: AtomicU64,
    window: Semaphore,
    /// With `Ack::All`: deliveries of seq s counted in slot s % window.
    acks: Vec<AtomicUsize>,
}

struct RecvStats {
    /// Send-to-delivery latencies in µs, merged into one histogram at the end: a histogram per
    /// reader grew to cover multi-second latencies, and 10k of them (about 370 KiB each) made
    /// zeroing fresh pages most of the generator's CPU in the 10k-connection run.
    latencies_us: Vec<u32>,
    deliveries: u64,
    echoes: u64,
    tracks: Vec<SeqTrack>,
    duplicated: u64,
    reordered: u64,
    system: u64,
    other: u64,
    closed_early: bool,
}

type Sink = SplitSink<Ws, Message>;

struct Member {
    room: usize,
    idx: usize,
    sink: Option<Sink>,
    reader: tokio::task::JoinHandle<RecvStats>,
    /// The join's outcome: own notice (true) or an error frame first (false).
    joined: oneshot::Receiver<bool>,
}

pub async fn run(cfg: RoomsCfg, mut target: Target, procs: Procs, prefix: String) -> Value {
    if cfg.eager {
        target.read_buffer = EAGER_READ_BUFFER;
    }
    let hard_deadline = Instant::now() + cfg.duration;
    let mut complete = true;
    let (stop_tx, stop_rx) = watch::channel(false);
    let rooms: Vec<String> = (0..cfg.rooms).map(|r| format!("{prefix}-room{r}")).collect();
    let senders: Vec<Vec<Arc<SenderState>>> = (0..cfg.rooms)
        .map(|_| {
            (0..cfg.members)
                .map(|_| {
                    Arc::new(SenderState {
                        sent: AtomicU64::new(0),
                        window: Semaphore::new(cfg.window),
                        acks: (0..cfg.window).map(|_| AtomicUsize::new(0)).collect(),
                    })
                })
                .collect()
        })
        .collect();

    // 1. Connect every member.
    set_phase("connect");
    let t_connect = Instant::now();
    let n = cfg.rooms * cfg.members;
    let connecting = futures_util::stream::iter(0..n)
        .map(|i| {
            let (room, idx) = (i / cfg.members, i % cfg.members);
            let user = format!("{prefix}-r{room}-m{idx}");
            let target = target.clone();
            let (room_id, room_senders) = (rooms[room].clone(), senders[room].clone());
            let stop = stop_rx.clone();
            let ack = cfg.ack;
            async move {
                let ws = match target.connect(&user, i).await {
                    Ok(ws) => ws,
                    Err(e) => {
                        note_error(format!("connect {user}: {e}"));
                        return None;
                    }
                };
                CONNS.fetch_add(1, Relaxed);
                let (sink, stream) = ws.split();
                let (joined_tx, joined) = oneshot::channel();
                let reader = tokio::spawn(reader(
                    stream,
                    user,
                    idx,
                    room_id,
                    room_senders,
                    ack,
                    joined_tx,
                    stop,
                ));
                Some(Member {
                    room,
                    idx,
                    sink: Some(sink),
                    reader,
                    joined,
                })
            }
        })
        .buffer_unordered(cfg.connect_concurrency);
    let mut members: Vec<Member> =
        match tokio::time::timeout_at(hard_deadline, connecting.collect::<Vec<_>>()).await {
            Ok(v) => v.into_iter().flatten().collect(),
            Err(_) => {
                complete = false;
                Vec::new()
            }
        };
    let connect_s = t_connect.elapsed().as_secs_f64();
    let connect_failures = n - members.len();
    if connect_failures > 0 {
        complete = false;
    }

    // 2. Join, wait for each member's own join notice, then let the other notices settle.
    set_phase("join");
    let t_join = Instant::now();
    // At most `connect_concurrency` joins outstanding (sent, own notice or error not yet back):
    // ten thousand joins at once are a thundering herd no client makes.
    let joining = futures_util::stream::iter(members.iter_mut())
        .map(|m| {
            let frame = join_frame(&rooms[m.room]);
            async move {
                let sink = m.sink.as_mut().expect("sinks are taken after the join");
                if let Err(e) = sink.send(Message::text(frame)).await {
                    note_error(format!("send join: {e}"));
                    return 1;
                }
                match (&mut m.joined).await {
                    Ok(true) => 0,
                    _ => 1,
                }
            }
        })
        .buffer_unordered(cfg.connect_concurrency)
        .collect::<Vec<usize>>();
    let joins_missing = match tokio::time::timeout_at(hard_deadline, joining).await {
        Ok(v) => v.iter().sum(),
        Err(_) => n,
    };
    if joins_missing > 0 {
        complete = false;
    }
    let join_s = t_join.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_millis(300)).await;

    // 3. Send. Sending stops `drain` before the hard deadline so what is in flight can land.
    set_phase("send");
    let drain = (cfg.duration / 5).min(Duration::from_secs(10));
    let start = Instant::now();
    let mut send_deadline = hard_deadline - drain;
    if let Some(send_for) = cfg.send_for {
        send_deadline = send_deadline.min(start + send_for);
    }
    let total_senders = (members.len()).min(cfg.rooms * cfg.senders).max(1);
    let interval = cfg
        .rate
        .map(|r| Duration::from_secs_f64(total_senders as f64 / r));
    let mark = procs.mark();
    let t0_us = now_us();
    DELIVERED.store(0, Relaxed);
    let mut idle_sinks = Vec::new();
    let mut writers = Vec::new();
    let mut sender_no = 0usize;
    for m in &mut members {
        let (room, idx) = (m.room, m.idx);
        let sink = m.sink.take().expect("each sink is taken once");
        if idx >= cfg.senders {
            idle_sinks.push(sink);
            continue;
        }
        // Paced senders are staggered evenly over one interval.
        let offset = interval
            .map(|iv| iv.mul_f64(sender_no as f64 / total_senders as f64))
            .unwrap_or_default();
        sender_no += 1;
        writers.push(tokio::spawn(writer(
            sink,
            senders[room][idx].clone(),
            idx,
            rooms[room].clone(),
            cfg.messages,
            cfg.size,
            start + offset,
            interval,
            send_deadline,
        )));
    }
    let mut all_sent = true;
    for w in writers {
        match w.await {
            Ok((sink, done)) => {
                all_sent &= done;
                idle_sinks.push(sink);
            }
            Err(_) => all_sent = false,
        }
    }
    // Time-bounded senders (send_for) end normally when their time is up.
    if !all_sent && cfg.send_for.is_none() {
        complete = false;
    }

    // 4. Drain: wait until every sent message reached every member of its room.
    set_phase("drain");
    let sent_total: u64 = senders.iter().flatten().map(|s| s.sent.load(Relaxed)).sum();
    let expected: u64 = senders
        .iter()
        .map(|room| room.iter().map(|s| s.sent.load(Relaxed)).sum::<u64>() * cfg.members as u64)
        .sum();
    let mut drained = true;
    while DELIVERED.load(Relaxed) < expected {
        if Instant::now() >= hard_deadline {
            drained = false;
            complete = false;
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let end_us = if drained {
        LAST_DELIVERY_US.load(Relaxed).max(t0_us + 1)
    } else {
        now_us()
    };
    let usage = procs.since(&mark);

    // 5. Stop readers and check every (receiver, sender) sequence.
    set_phase("report");
    let _ = stop_tx.send(true);
    let mut hist = histogram();
    let (mut deliveries, mut echoes, mut lost, mut duplicated, mut reordered) = (0, 0, 0, 0, 0);
    let (mut system, mut other, mut closed_early) = (0, 0, 0);
    for m in members {
        let Ok(stats) = m.reader.await else {
            continue;
        };
        for &us in &stats.latencies_us {
            hist.record(u64::from(us)).ok();
        }
        deliveries += stats.deliveries;
        echoes += stats.echoes;
        duplicated += stats.duplicated;
        reordered += stats.reordered;
        system += stats.system;
        other += stats.other;
        closed_early += stats.closed_early as u64;
        for (sender, track) in stats.tracks.iter().enumerate() {
            let sent = senders[m.room][sender].sent.load(Relaxed);
            lost += sent.saturating_sub(track.received());
        }
    }
    drop(idle_sinks);
    if closed_early > 0 {
        complete = false;
    }

    let elapsed = (end_us - t0_us) as f64 / 1e6;
    let mut out = json!({
        "complete": complete,
        "params": {
            "rooms": cfg.rooms, "members": cfg.members, "senders_per_room": cfg.senders,
            "messages_per_sender": if cfg.send_for.is_some() { Value::Null } else { json!(cfg.messages) },
            "send_for_s": cfg.send_for.map(|d| d.as_secs_f64()),
            "window": cfg.window, "ack": format!("{:?}", cfg.ack).to_lowercase(), "size": cfg.size, "rate": cfg.rate,
            "duration_s": cfg.duration.as_secs_f64(),
            "eager": cfg.eager, "read_buffer": target.read_buffer,
        },
        "connections": n - connect_failures,
        "connect_failures": connect_failures,
        "connect_s": round3(connect_s),
        "join_s": round3(join_s),
        "joins_missing": joins_missing,
        "sent": sent_total,
        "stored": echoes,
        "deliveries": deliveries,
        "expected_deliveries": expected,
        "elapsed_s": round3(elapsed),
        "deliveries_per_s": (deliveries as f64 / elapsed).round(),
        "stored_per_s": (echoes as f64 / elapsed).round(),
        "latency": latency_json(&hist),
        "lost": lost,
        "duplicated": duplicated,
        "reordered": reordered,
        "closed_early": closed_early,
        "system_frames": system,
        "other_frames": other,
    });
    let obj = out.as_object_mut().unwrap();
    obj.extend(usage.per_cpu("deliveries", deliveries as f64));
    let stored_cpu = usage.per_cpu("stored", echoes as f64);
    for k in ["stored_per_server_cpu_s", "stored_per_total_cpu_s"] {
        obj.insert(k.into(), stored_cpu[k].clone());
    }
    out
}

#[allow(clippy::too_many_arguments)]
async fn writer(
    mut sink: Sink,
    state: Arc<SenderState>,
    idx: usize,
    room_id: String,
    messages: u64,
    size: usize,
    start: Instant,
    interval: Option<Duration>,
    send_deadline: Instant,
) -> (Sink, bool) {
    for seq in 0..messages {
        if let Some(iv) = interval {
            let at = start + iv.mul_f64(seq as f64);
            if at >= send_deadline {
                return (sink, false);
            }
            tokio::time::sleep_until(at).await;
        }
        match tokio::time::timeout_at(send_deadline, state.window.acquire()).await {
            Ok(Ok(permit)) => permit.forget(),
            _ => return (sink, false),
        }
        let mut content = format!("{idx}|{seq}|{}|", now_us());
        while content.len() < size {
            content.push('x');
        }
        if let Err(e) = sink.send(Message::text(text_frame(&room_id, &content))).await {
            note_error(format!("send: {e}"));
            return (sink, false);
        }
        state.sent.fetch_add(1, Relaxed);
        SENT.fetch_add(1, Relaxed);
    }
    (sink, true)
}

#[allow(clippy::too_many_arguments)]
async fn reader(
    mut stream: SplitStream<Ws>,
    me: String,
    my_idx: usize,
    room_id: String,
    senders: Vec<Arc<SenderState>>,
    ack: Ack,
    joined: oneshot::Sender<bool>,
    mut stop: watch::Receiver<bool>,
) -> RecvStats {
    let mut s = RecvStats {
        latencies_us: Vec::new(),
        deliveries: 0,
        echoes: 0,
        tracks: vec![SeqTrack::default(); senders.len()],
        duplicated: 0,
        reordered: 0,
        system: 0,
        other: 0,
        closed_early: false,
    };
    let join_notice = format!("{me} joined the chat");
    let mut joined = Some(joined);
    loop {
        let msg = tokio::select! {
            m = stream.next() => m,
            _ = stop.changed() => break,
        };
        let text = match msg {
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(Message::Close(c))) => {
                note_error(format!("{me}: closed by the server: {c:?}"));
                CLOSED.fetch_add(1, Relaxed);
                s.closed_early = true;
                break;
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => {
                note_error(format!("{me}: {e}"));
                CLOSED.fetch_add(1, Relaxed);
                s.closed_early = true;
                break;
            }
            None => {
                CLOSED.fetch_add(1, Relaxed);
                s.closed_early = true;
                break;
            }
        };
        let now = now_us();
        let Ok(f) = serde_json::from_str::<Frame>(text.as_str()) else {
            s.other += 1;
            continue;
        };
        match f.kind.as_deref() {
            Some("text") if f.chat_id.as_deref() == Some(room_id.as_str()) => {
                let Some((sender, seq, ts)) = f.content.as_deref().and_then(parse_content) else {
                    s.other += 1;
                    continue;
                };
                if sender >= senders.len() {
                    s.other += 1;
                    continue;
                }
                s.deliveries += 1;
                DELIVERED.fetch_add(1, Relaxed);
                LAST_DELIVERY_US.fetch_max(now, Relaxed);
                let us = now.saturating_sub(ts);
                s.latencies_us.push(u32::try_from(us).unwrap_or(u32::MAX));
                match s.tracks[sender].see(seq) {
                    Seen::InOrder => {}
                    Seen::Reordered => s.reordered += 1,
                    Seen::Duplicate => s.duplicated += 1,
                }
                if sender == my_idx {
                    s.echoes += 1;
                }
                let state = &senders[sender];
                match ack {
                    Ack::Echo if sender == my_idx => state.window.add_permits(1),
                    Ack::Echo => {}
                    Ack::All => {
                        let slot = &state.acks[(seq % state.acks.len() as u64) as usize];
                        if slot.fetch_add(1, Relaxed) + 1 == senders.len() {
                            slot.store(0, Relaxed);
                            state.window.add_permits(1);
                        }
                    }
                }
            }
            Some("system") => {
                s.system += 1;
                if f.content.as_deref() == Some(join_notice.as_str())
                    && let Some(tx) = joined.take()
                {
                    JOINED.fetch_add(1, Relaxed);
                    let _ = tx.send(true);
                }
            }
            Some("error") => {
                note_error(format!(
                    "{me}: error frame: {}",
                    f.detail.as_deref().unwrap_or("")
                ));
                if let Some(tx) = joined.take() {
                    let _ = tx.send(false);
                }
            }
            _ => s.other += 1,
        }
    }
    s
}

fn parse_content(c: &str) -> Option<(usize, u64, u64)> {
    let mut it = c.splitn(4, '|');
    Some((
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
    ))
}
