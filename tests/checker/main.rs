//! The seeded fault-injection checker (issue 19): N instances of the real server on one
//! private Redis, clients doing random operations and faults at random times, all drawn from
//! one seed, and every history checked against a model of what was stored. How to run it
//! and what it checks: docs/testing.md, "The checker".
//!
//! - `short_profile` (CI, about a minute): a fixed set of seeds and one fresh one, printed.
//!   `CHECKER_SEED=<n>` runs only that seed: the same seed replays the same schedule.
//! - `soak` (ignored; `scripts/checker-soak.sh [minutes]`): seeds one after another for a
//!   while, its result written to `CHECKER_REPORT` (docs/checker-soak.md by the script).
//! - `replays`: one test per violation found, each replaying its seed.
//!
//! One module per concern: `schedule` (seed → steps, drawn by `plan`), `cluster` (the processes), `client`
//! (one WebSocket client), `faults` (faults and HTTP steps), `run` (the driver), `model`
//! (what was stored), `checks/`, `report`, `journal` (what happened), `resp` (raw Redis).

mod checks;
mod client;
mod cluster;
mod faults;
mod journal;
mod model;
mod plan;
#[path = "../api/redis_server.rs"]
mod redis_server;
mod replays;
mod report;
mod resp;
mod run;
mod schedule;
mod soak;
mod soak_replays;

use run::{Outcome, run};
use schedule::Profile;

/// The seeds CI runs every time (besides a fresh one).
const CI_SEEDS: &[u64] = &[1, 2, 3];

/// `CHECKER_SEED`, if set.
fn seed_from_env() -> Option<u64> {
    let s = std::env::var("CHECKER_SEED").ok()?;
    Some(s.trim().parse().expect("CHECKER_SEED is a number"))
}

/// The CI profile, its run `CHECKER_RUN_SECONDS` long if set (`default_secs` if not): the run
/// length is part of the schedule, so a soak seed replays with the soak's length.
fn profile(default_secs: u64) -> Profile {
    let secs = std::env::var("CHECKER_RUN_SECONDS")
        .ok()
        .map_or(default_secs, |v| {
            v.trim().parse().expect("CHECKER_RUN_SECONDS is a number")
        });
    Profile {
        duration_ms: secs * 1000,
        ..Profile::short()
    }
}

/// A seed no earlier run is likely to have used.
fn fresh_seed() -> u64 {
    journal::now_us() as u64 % 1_000_000_007
}

/// Whether known holes fail the run too (`CHECKER_STRICT=1`).
fn strict() -> bool {
    std::env::var("CHECKER_STRICT").is_ok_and(|v| v == "1")
}

/// Whether a run failed: a violation that is not a known hole (or any, when strict).
fn failed(o: &Outcome) -> bool {
    o.violations.iter().any(|v| strict() || v.known().is_none())
}

/// Runs a seed, prints its figures (and its violations), and says whether it failed.
async fn run_seed(seed: u64, p: &Profile) -> Outcome {
    let o = run(seed, p).await;
    println!("{}", report::figures(&o));
    if !o.violations.is_empty() {
        println!("{}", report::violations(&o));
    }
    o
}

/// The CI profile: the fixed seeds and a fresh one (or only `CHECKER_SEED`), each a run of
/// about 15 s with 3 instances, 8 clients and every kind of fault.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_profile() {
    let seeds: Vec<u64> = match seed_from_env() {
        Some(s) => vec![s],
        None => CI_SEEDS.iter().copied().chain([fresh_seed()]).collect(),
    };
    println!("checker seeds: {seeds:?}");
    let mut failing = Vec::new();
    for seed in seeds {
        if failed(&run_seed(seed, &profile(Profile::short().duration_ms / 1000)).await) {
            failing.push(seed);
        }
    }
    assert!(
        failing.is_empty(),
        "the checker found violations with seeds {failing:?}: replay one with CHECKER_SEED=<seed>"
    );
}
