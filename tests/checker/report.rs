//! What a run prints: one line of figures, and for each violation (the first few in full)
//! the seed, the check that failed, and the operations and faults around it, with the command
//! that replays the seed.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::run::Outcome;

/// How many violations of each check are shown (the first with its context).
const SHOWN: usize = 5;
/// At most this many lines of context.
const CONTEXT: usize = 60;

/// Seed, operations, faults, connections, messages, deliveries, violations, time.
pub fn figures(o: &Outcome) -> String {
    let known = o.violations.iter().filter(|v| v.known().is_some()).count();
    format!(
        "seed {}: {} steps, {} faults, {} connections, {} messages stored, {} deliveries checked, \
         {} violations ({known} of known holes), {:.1} s",
        o.seed,
        o.journal.ops,
        o.journal.faults.len(),
        o.journal.conns.len(),
        o.stored,
        o.deliveries,
        o.violations.len(),
        o.took.as_secs_f64()
    )
}

/// The violations, counted per check, the first few with their context.
pub fn violations(o: &Outcome) -> String {
    let mut s = String::new();
    let mut per: BTreeMap<&str, usize> = BTreeMap::new();
    for v in &o.violations {
        *per.entry(v.check).or_default() += 1;
    }
    let _ = writeln!(s, "CHECKER VIOLATION, seed {}: {per:?}", o.seed);
    let _ = writeln!(
        s,
        "replay: CHECKER_SEED={} cargo test --test checker short_profile -- --nocapture (instance logs: {})",
        o.seed, o.logs
    );
    let start = o.journal.start;
    let mut shown: BTreeMap<&str, usize> = BTreeMap::new();
    for v in &o.violations {
        let n = shown.entry(v.check).or_default();
        *n += 1;
        if *n > SHOWN {
            continue;
        }
        let known = v.known().map_or(String::new(), |k| format!(" [known hole: {k}]"));
        let _ = writeln!(s, "\n-- check `{}` failed{known}: {}", v.check, v.detail);
        if *n > 1 {
            continue; // the context of the first of each check only
        }
        let Some(at) = v.at else {
            let _ = writeln!(s, "   the run's faults:");
            for (t, what) in o
                .journal
                .events
                .iter()
                .filter(|(_, w)| w.starts_with("fault begins"))
            {
                let _ = writeln!(s, "   {:>7} ms  {what}", (t - start) / 1000);
            }
            continue;
        };
        let _ = writeln!(s, "   at {} ms; what happened around it:", (at - start) / 1000);
        let around = o.journal.events.iter().filter(|(t, what)| {
            let near = *t >= at - 1_500_000 && *t <= at + 500_000;
            let near = near && (v.focus.is_empty() || v.focus.iter().any(|w| what.contains(w.as_str())));
            near || (what.starts_with("fault") && *t >= at - 10_000_000 && *t <= at)
        });
        for (t, what) in around.take(CONTEXT) {
            let _ = writeln!(s, "   {:>7} ms  {what}", (t - start) / 1000);
        }
    }
    s
}
