//! history: seed one room with `seed` messages over WebSocket, then `concurrency` keep-alive
//! HTTP clients call `GET /chat/{id}/messages?limit=N` back to back for `send_for`.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use crate::common::*;

pub struct HistoryCfg {
    pub concurrency: usize,
    pub seed: u64,
    pub limit: usize,
    pub size: usize,
    pub send_for: Duration,
    pub duration: Duration,
}

pub async fn run(cfg: HistoryCfg, target: Target, procs: Procs, prefix: String) -> Value {
    let deadline = Instant::now() + cfg.duration;
    let room = format!("{prefix}-hist");
    let mut complete = true;

    // 1. Seed.
    set_phase("seed");
    let t_seed = Instant::now();
    let seeded = match tokio::time::timeout_at(deadline, seed(&target, &prefix, &room, &cfg)).await {
        Ok(Ok(n)) => n,
        Ok(Err(e)) => {
            note_error(format!("seed: {e}"));
            0
        }
        Err(_) => 0,
    };
    let seed_s = t_seed.elapsed().as_secs_f64();
    if seeded < cfg.seed {
        complete = false;
    }

    // 2. Check one page, then load.
    let client = match reqwest::Client::builder()
        .pool_max_idle_per_host(cfg.concurrency)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(10))
        .build()
    {
        Ok(c) => c,
        Err(e) => return json!({"complete": false, "error": e.to_string()}),
    };
    let url = target.http(&format!("/chat/{room}/messages?limit={}", cfg.limit));
    let page_ok = match client.get(&url).send().await {
        Ok(r) if r.status().is_success() => match r.json::<Vec<Value>>().await {
            Ok(page) => page.len() as u64 == seeded.min(cfg.limit as u64) + extra(seeded, cfg.limit),
            Err(_) => false,
        },
        _ => false,
    };
    if !page_ok {
        note_error("the first page is not a JSON array of `limit` messages");
        complete = false;
    }

    set_phase("load");
    let stop_at = deadline.min(Instant::now() + cfg.send_for);
    let mark = procs.mark();
    let t0 = Instant::now();
    let workers: Vec<_> = (0..cfg.concurrency)
        .map(|_| {
            let (client, url) = (client.clone(), url.clone());
            tokio::spawn(async move {
                let mut hist = histogram();
                let (mut ok, mut failed) = (0u64, 0u64);
                while Instant::now() < stop_at {
                    let t = now_us();
                    let res = tokio::time::timeout_at(stop_at + Duration::from_secs(2), async {
                        let r = client.get(&url).send().await?;
                        let status = r.status();
                        let body = r.bytes().await?;
                        Ok::<_, reqwest::Error>((status, body.len()))
                    })
                    .await;
                    match res {
                        Ok(Ok((status, len))) if status.is_success() && len > 2 => {
                            hist.record(now_us() - t).ok();
                            ok += 1;
                            REQUESTS.fetch_add(1, Relaxed);
                        }
                        Ok(Ok((status, _))) => {
                            failed += 1;
                            note_error(format!("GET history: {status}"));
                        }
                        Ok(Err(e)) => {
                            failed += 1;
                            note_error(format!("GET history: {e}"));
                        }
                        Err(_) => break,
                    }
                }
                (hist, ok, failed)
            })
        })
        .collect();
    let mut hist = histogram();
    let (mut ok, mut failed) = (0, 0);
    for w in workers {
        if let Ok((h, o, f)) = w.await {
            hist.add(&h).ok();
            ok += o;
            failed += f;
        }
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let usage = procs.since(&mark);
    if failed > 0 || Instant::now() > deadline {
        complete = false;
    }
    let mut out = json!({
        "complete": complete,
        "params": {
            "concurrency": cfg.concurrency, "seed": cfg.seed, "limit": cfg.limit, "size": cfg.size,
            "send_for_s": cfg.send_for.as_secs_f64(), "duration_s": cfg.duration.as_secs_f64(),
        },
        "seeded": seeded,
        "seed_s": round3(seed_s),
        "requests": ok,
        "failed": failed,
        "elapsed_s": round3(elapsed),
        "requests_per_s": (ok as f64 / elapsed).round(),
        "latency": latency_json(&hist),
    });
    out.as_object_mut()
        .unwrap()
        .extend(usage.per_cpu("requests", ok as f64));
    out
}

/// The join notice is stored in the room too: the newest page holds it while the room has
/// fewer than `limit` text messages.
fn extra(seeded: u64, limit: usize) -> u64 {
    u64::from(seeded < limit as u64)
}

/// Sends `cfg.seed` messages from one connection, at most 32 unacknowledged.
async fn seed(target: &Target, prefix: &str, room: &str, cfg: &HistoryCfg) -> Result<u64, BoxError> {
    let me = format!("{prefix}-seeder");
    let ws = target.connect(&me, 0).await?;
    CONNS.fetch_add(1, Relaxed);
    let (mut sink, mut stream) = ws.split();
    let window = Arc::new(Semaphore::new(32));
    let needle = format!(r#""user_id":"{me}""#);
    let total = cfg.seed;
    let reader = {
        let window = window.clone();
        tokio::spawn(async move {
            let mut echoes = 0u64;
            while echoes < total {
                match stream.next().await {
                    Some(Ok(Message::Text(t))) => {
                        if t.as_str().contains(&needle) && t.as_str().contains(r#""type":"text""#) {
                            echoes += 1;
                            DELIVERED.fetch_add(1, Relaxed);
                            window.add_permits(1);
                        } else if t.as_str().contains(r#""type":"error""#) {
                            note_error(format!("seed: {}", t.as_str()));
                        }
                    }
                    Some(Ok(_)) => {}
                    _ => break,
                }
            }
            echoes
        })
    };
    for seq in 0..total {
        window.acquire().await?.forget();
        let mut content = format!("0|{seq}|{}|", now_us());
        while content.len() < cfg.size {
            content.push('x');
        }
        sink.send(Message::text(text_frame(room, &content))).await?;
        SENT.fetch_add(1, Relaxed);
    }
    let echoes = reader.await?;
    let _ = sink.close().await;
    Ok(echoes)
}
