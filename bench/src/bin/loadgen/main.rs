//! Load generator for the chat API. It speaks only the public contract (WebSocket `/ws/{user}`
//! with `join` and `text` frames, `GET /chat/{id}/messages`), so it drives any server that
//! implements it: ours and the peers in ../shared/peers.
//!
//! ```text
//! cargo run --release -p chat-bench --bin loadgen -- [--url http://127.0.0.1:8000]
//!     [--server-pid PID] [--redis-pid PID[,PID...]] [--json FILE] <fanout|paced|burst|idle|history>
//!     [options]
//! cargo run --release -p chat-bench --bin loadgen -- report DIR
//!     --servers ours-memory,ours-redis,node,fastapi
//! cargo run --release -p chat-bench --bin loadgen -- merge-idle OUT SHARD.json...
//! ```
//!
//! Every scenario is bounded by `--duration` (it stops then, whatever happens, and reports what
//! was done with `"complete": false`), prints a progress line to stderr every second and ends
//! with one JSON object on stdout (and in `--json FILE`). With `--server-pid` the server's CPU
//! time (utime + stime from /proc/PID/stat) over the measured phase gives every throughput per
//! server CPU-second, and VmRSS from /proc/PID/status its memory; `--redis-pid` adds Redis's.

mod common;
mod history;
mod idle;
mod merge;
mod report;
mod rooms;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use serde_json::json;

use common::{Procs, Target};

#[derive(Parser)]
#[command(about = "Load generator for the chat API contract")]
struct Cli {
    /// The server's base URL (loopback only).
    #[arg(long, global = true, default_value = "http://127.0.0.1:8000")]
    url: String,
    /// Server process to sample (CPU time, resident memory).
    #[arg(long, global = true)]
    server_pid: Option<u32>,
    /// Redis process behind the server, sampled the same way (a cluster's: comma-separated,
    /// summed).
    #[arg(long, global = true, value_delimiter = ',')]
    redis_pid: Vec<u32>,
    /// Clock ticks per second of /proc/PID/stat (`getconf CLK_TCK`).
    #[arg(long, global = true, default_value_t = 100)]
    clk_tck: u64,
    /// Also write the JSON result to this file.
    #[arg(long, global = true)]
    json: Option<PathBuf>,
    /// Name of the server, copied into the JSON (for `report`).
    #[arg(long, global = true, default_value = "server")]
    server_name: String,
    /// Name of this measurement (defaults to the scenario), copied into the JSON.
    #[arg(long, global = true)]
    tag: Option<String>,
    /// Position of this run in a bench (orders the report's rows).
    #[arg(long, global = true, default_value_t = 0)]
    order: u64,
    /// Prefix of every user and room id (default: unique per run).
    #[arg(long, global = true)]
    prefix: Option<String>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// R rooms x M members; every member sends K messages closed-loop with a window.
    Fanout(Fanout),
    /// A fixed total send rate spread over every member of every room; latency.
    Paced(Paced),
    /// One room, one sender at full speed (closed loop, window W): the single-room ceiling.
    Burst(Burst),
    /// N idle connections: connections opened/s, server memory per connection before and after joining a room.
    Idle(Idle),
    /// Concurrent GET /chat/{id}/messages?limit=N on a seeded room.
    History(History),
    /// Markdown table from a directory of JSON results.
    Report(Report),
    /// One idle result from the results of idle runs held at once against instances sharing
    /// one Redis (a run too large for one process's open-file limit).
    MergeIdle(MergeIdle),
}

#[derive(Args)]
struct Common {
    /// Content length of each text message, in bytes.
    #[arg(long, default_value_t = 100)]
    size: usize,
    /// Hard bound on the scenario, in seconds.
    #[arg(long, default_value_t = 120.0)]
    duration: f64,
    /// Connections being opened at once.
    #[arg(long, default_value_t = 64)]
    connect_concurrency: usize,
}

#[derive(Args)]
struct Fanout {
    #[arg(long, default_value_t = 50)]
    rooms: usize,
    #[arg(long, default_value_t = 10)]
    members: usize,
    /// Messages each member sends.
    #[arg(long, default_value_t = 100)]
    messages: u64,
    /// Own messages a member may have in flight (sent, echo not yet received).
    #[arg(long, default_value_t = 8)]
    window: usize,
    /// What frees a window slot: the sender's own echo, or delivery to every member.
    #[arg(long, value_enum, default_value_t = rooms::Ack::Echo)]
    ack: rooms::Ack,
    /// Read each frame as it comes (a small read buffer per connection), not in bursts.
    #[arg(long)]
    eager: bool,
    #[command(flatten)]
    common: Common,
}

#[derive(Args)]
struct Paced {
    #[arg(long, default_value_t = 50)]
    rooms: usize,
    #[arg(long, default_value_t = 10)]
    members: usize,
    /// Messages per second, all senders together.
    #[arg(long, default_value_t = 500.0)]
    rate: f64,
    /// Seconds of sending.
    #[arg(long, default_value_t = 10.0)]
    send_for: f64,
    #[command(flatten)]
    common: Common,
}

#[derive(Args)]
struct Burst {
    /// Members of the room (one sends, all receive).
    #[arg(long, default_value_t = 10)]
    members: usize,
    #[arg(long, default_value_t = 64)]
    window: usize,
    /// What frees a window slot: the sender's own echo, or delivery to every member.
    #[arg(long, value_enum, default_value_t = rooms::Ack::All)]
    ack: rooms::Ack,
    /// Seconds of sending.
    #[arg(long, default_value_t = 10.0)]
    send_for: f64,
    #[command(flatten)]
    common: Common,
}

#[derive(Args)]
struct Idle {
    #[arg(long, default_value_t = 10_000)]
    connections: usize,
    /// Connections being opened at once.
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
    /// Connections per room when they join.
    #[arg(long, default_value_t = 10)]
    members: usize,
    /// Seconds to wait before reading the server's memory.
    #[arg(long, default_value_t = 2.0)]
    settle: f64,
    /// Seconds to hold the joined connections (longer than the server's ping interval).
    #[arg(long, default_value_t = 6.0)]
    hold: f64,
    #[arg(long, default_value_t = 180.0)]
    duration: f64,
}

#[derive(Args)]
struct History {
    /// HTTP clients calling back to back.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Messages stored in the room first.
    #[arg(long, default_value_t = 1000)]
    seed: u64,
    #[arg(long, default_value_t = 50)]
    limit: usize,
    #[arg(long, default_value_t = 100)]
    size: usize,
    /// Seconds of requests.
    #[arg(long, default_value_t = 10.0)]
    send_for: f64,
    #[arg(long, default_value_t = 120.0)]
    duration: f64,
}

#[derive(Args)]
struct Report {
    dir: PathBuf,
    /// Columns, in order.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "ours-memory,ours-redis,node,fastapi"
    )]
    servers: Vec<String>,
}

#[derive(Args)]
struct MergeIdle {
    /// The merged JSON result.
    out: PathBuf,
    /// The shards' JSON results (`--json` of each `idle` run).
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

/// The server's allocator, so that the generator's own allocations cost it no more than they
/// cost the server (glibc's malloc was 5 % of the generator's profile while opening connections).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    common::now_us();
    if let Cmd::Report(r) = &cli.cmd {
        return match report::run(&r.dir, &r.servers) {
            Ok(table) => {
                print!("{table}");
                std::process::ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("loadgen report: {e}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    if let Cmd::MergeIdle(m) = &cli.cmd {
        return match merge::run(&m.out, &m.inputs) {
            Ok(v) => {
                eprintln!(
                    "loadgen merge-idle: {} instances, {} opened, {} -> {}",
                    v["instances"],
                    v["opened"],
                    if v["complete"] == true {
                        "complete"
                    } else {
                        "INCOMPLETE"
                    },
                    m.out.display()
                );
                std::process::ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("loadgen merge-idle: {e}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    let target = match Target::new(&cli.url).await {
        Ok(t) => t,
        Err(e) => {
            eprintln!("loadgen: {}: {e}", cli.url);
            return std::process::ExitCode::FAILURE;
        }
    };
    let procs = Procs {
        server: cli.server_pid,
        redis: cli.redis_pid,
        clk_tck: cli.clk_tck.max(1),
    };
    let prefix = cli.prefix.clone().unwrap_or_else(common::run_prefix);
    let scenario: &'static str = match &cli.cmd {
        Cmd::Fanout(_) => "fanout",
        Cmd::Paced(_) => "paced",
        Cmd::Burst(_) => "burst",
        Cmd::Idle(_) => "idle",
        Cmd::History(_) => "history",
        Cmd::Report(_) | Cmd::MergeIdle(_) => unreachable!("handled above"),
    };
    common::spawn_progress(scenario);
    let started = common::now_nanos();
    let result = match cli.cmd {
        Cmd::Fanout(a) => {
            let cfg = rooms::RoomsCfg {
                rooms: a.rooms,
                members: a.members,
                senders: a.members,
                messages: a.messages,
                send_for: None,
                window: a.window.max(1),
                ack: a.ack,
                size: a.common.size,
                rate: None,
                duration: secs(a.common.duration),
                connect_concurrency: a.common.connect_concurrency,
                eager: a.eager,
            };
            rooms::run(cfg, target, procs, prefix.clone()).await
        }
        Cmd::Paced(a) => {
            let cfg = rooms::RoomsCfg {
                rooms: a.rooms,
                members: a.members,
                senders: a.members,
                messages: u64::MAX,
                send_for: Some(secs(a.send_for)),
                window: 1000,
                ack: rooms::Ack::Echo,
                size: a.common.size,
                rate: Some(a.rate.max(0.001)),
                duration: secs(a.common.duration),
                connect_concurrency: a.common.connect_concurrency,
                eager: false,
            };
            rooms::run(cfg, target, procs, prefix.clone()).await
        }
        Cmd::Burst(a) => {
            let cfg = rooms::RoomsCfg {
                rooms: 1,
                members: a.members,
                senders: 1,
                messages: u64::MAX,
                send_for: Some(secs(a.send_for)),
                window: a.window.max(1),
                ack: a.ack,
                size: a.common.size,
                rate: None,
                duration: secs(a.common.duration),
                connect_concurrency: a.common.connect_concurrency,
                eager: false,
            };
            rooms::run(cfg, target, procs, prefix.clone()).await
        }
        Cmd::Idle(a) => {
            let cfg = idle::IdleCfg {
                connections: a.connections,
                concurrency: a.concurrency.max(1),
                members: a.members.max(1),
                settle: secs(a.settle),
                hold: secs(a.hold),
                duration: secs(a.duration),
            };
            idle::run(cfg, target, procs, prefix.clone()).await
        }
        Cmd::History(a) => {
            let cfg = history::HistoryCfg {
                concurrency: a.concurrency.max(1),
                seed: a.seed,
                limit: a.limit,
                size: a.size,
                send_for: secs(a.send_for),
                duration: secs(a.duration),
            };
            history::run(cfg, target, procs, prefix.clone()).await
        }
        Cmd::Report(_) | Cmd::MergeIdle(_) => unreachable!("handled above"),
    };
    common::stop_progress();
    let mut head = json!({
        "scenario": scenario,
        "tag": cli.tag.unwrap_or_else(|| scenario.to_string()),
        "server": cli.server_name,
        "order": cli.order,
        "url": cli.url,
        "prefix": prefix,
        "started_unix_ms": started / 1_000_000,
        "error_frames_or_failures": common::ERRORS.load(std::sync::atomic::Ordering::Relaxed),
        "first_error": common::first_error(),
    });
    let complete = result["complete"] == json!(true);
    if let (Some(h), Some(r)) = (head.as_object_mut(), result.as_object()) {
        h.extend(r.clone());
    }
    let text = serde_json::to_string_pretty(&head).unwrap_or_default();
    println!("{text}");
    if let Some(path) = cli.json
        && let Err(e) = std::fs::write(&path, text + "\n")
    {
        eprintln!("loadgen: cannot write {}: {e}", path.display());
        return std::process::ExitCode::FAILURE;
    }
    eprintln!(
        "loadgen: {scenario} {}",
        if complete { "complete" } else { "INCOMPLETE" }
    );
    // Leave at once: thousands of sockets close with the process.
    std::process::exit(if complete { 0 } else { 3 });
}
