//! The long soak: seeds one after another for `CHECKER_MINUTES` (30 by default), each run
//! `CHECKER_RUN_SECONDS` long (30), from `CHECKER_FIRST_SEED` (a fresh one by default). Its
//! result (seeds, figures, violations) goes to the Markdown file `CHECKER_REPORT`, if set.
//! `scripts/checker-soak.sh [minutes]` runs it and writes docs/checker-soak.md.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::{Duration, Instant};

use crate::schedule::Profile;
use crate::{failed, fresh_seed, profile, run_seed};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().map_or(default, |v| {
        v.trim().parse().unwrap_or_else(|_| panic!("{name} is a number"))
    })
}

/// The soak (ignored by `cargo test`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the long soak: run it with scripts/checker-soak.sh [minutes]"]
async fn soak() {
    let minutes = env_u64("CHECKER_MINUTES", 30);
    let first = env_u64("CHECKER_FIRST_SEED", fresh_seed());
    let p = profile(30);
    let began = Instant::now();
    let mut rows = Vec::new();
    let mut per: BTreeMap<&'static str, Vec<u64>> = BTreeMap::new();
    let mut failing = Vec::new();
    let mut seed = first;
    while began.elapsed() < Duration::from_secs(minutes * 60) {
        let o = run_seed(seed, &p).await;
        for v in &o.violations {
            let seeds = per.entry(v.check).or_default();
            if seeds.last() != Some(&seed) {
                seeds.push(seed);
            }
        }
        if failed(&o) {
            failing.push(seed);
        }
        rows.push((
            seed,
            o.journal.ops,
            o.journal.faults.len(),
            o.journal.conns.len(),
            o.stored,
            o.deliveries,
            o.violations.len(),
        ));
        seed += 1;
    }
    if let Ok(path) = std::env::var("CHECKER_REPORT") {
        std::fs::write(&path, markdown(&p, began.elapsed(), &rows, &per))
            .expect("the soak report is written");
        println!("soak report written to {path}");
    }
    assert!(failing.is_empty(), "violations with seeds {failing:?}");
}

type Row = (u64, usize, usize, usize, usize, usize, usize);

fn markdown(p: &Profile, took: Duration, rows: &[Row], per: &BTreeMap<&'static str, Vec<u64>>) -> String {
    let sum = |f: fn(&Row) -> usize| rows.iter().map(f).sum::<usize>();
    let mut s = String::from("# The checker's last soak\n\n");
    let _ = writeln!(
        s,
        "Written by `scripts/checker-soak.sh` (docs/testing.md, \"The checker\"); replay any seed with\n\
         `CHECKER_SEED=<seed> CHECKER_RUN_SECONDS={} cargo test --test checker short_profile -- --nocapture`\n\
         (the run length is part of the schedule).\n",
        p.duration_ms / 1000
    );
    let _ = writeln!(s, "| | |\n| --- | ---: |");
    let _ = writeln!(s, "| duration | {:.1} min |", took.as_secs_f64() / 60.0);
    let _ = writeln!(
        s,
        "| runs (seeds {} to {}) | {} |",
        rows.first().map_or(0, |r| r.0),
        rows.last().map_or(0, |r| r.0),
        rows.len()
    );
    let _ = writeln!(
        s,
        "| instances, clients, users, rooms per run | {}, {}, {}, {} |",
        p.instances, p.clients, p.users, p.rooms
    );
    let _ = writeln!(s, "| seconds of operations per run | {} |", p.duration_ms / 1000);
    let _ = writeln!(s, "| operations | {} |", sum(|r| r.1));
    let _ = writeln!(s, "| faults | {} |", sum(|r| r.2));
    let _ = writeln!(s, "| connections | {} |", sum(|r| r.3));
    let _ = writeln!(s, "| messages stored | {} |", sum(|r| r.4));
    let _ = writeln!(s, "| deliveries checked | {} |", sum(|r| r.5));
    let _ = writeln!(s, "| violations | {} |", sum(|r| r.6));
    let _ = writeln!(s, "\n## Violations by check\n");
    if per.is_empty() {
        let _ = writeln!(s, "None.");
    }
    for (check, seeds) in per {
        let known = crate::checks::KNOWN
            .iter()
            .find(|(c, _)| c == check)
            .map_or("new", |(_, why)| why);
        let _ = writeln!(s, "- `{check}` ({known}): {} runs, seeds {seeds:?}", seeds.len());
    }
    let _ = writeln!(
        s,
        "\n## Runs\n\n| seed | operations | faults | connections | stored | deliveries | violations |\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for r in rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} |",
            r.0, r.1, r.2, r.3, r.4, r.5, r.6
        );
    }
    s
}
