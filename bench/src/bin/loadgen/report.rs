//! `loadgen report DIR`: one Markdown table from the JSON results of a bench run, one row per
//! metric, one column per server (the median over rounds), then ours-redis / node,
//! ours-redis / best peer, and the target. A value marked `*` comes from an incomplete run.
//! A run held by several server instances (merged by `merge-idle`) gets a row with their number
//! and a note under the table, so that nobody reads it as one process's figures.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

#[derive(Clone, Copy, PartialEq)]
enum Better {
    High,
    Low,
    Zero,
}

struct Row {
    scenario: &'static str,
    label: &'static str,
    /// JSON pointer, or several joined by `+` (shown as a/b/c).
    path: &'static str,
    better: Better,
    target: &'static str,
}

const ROWS: &[Row] = &[
    row(
        "fanout",
        "deliveries/s",
        "/deliveries_per_s",
        Better::High,
        "≥ 2.5× node",
    ),
    row(
        "fanout",
        "deliveries / server CPU-s",
        "/deliveries_per_server_cpu_s",
        Better::High,
        "≥ 8× node",
    ),
    row(
        "fanout",
        "deliveries / (server+Redis) CPU-s",
        "/deliveries_per_total_cpu_s",
        Better::High,
        "",
    ),
    row("fanout", "stored msg/s", "/stored_per_s", Better::High, ""),
    row("fanout", "latency p50 ms", "/latency/p50_ms", Better::Low, ""),
    row("fanout", "latency p99 ms", "/latency/p99_ms", Better::Low, ""),
    row("fanout", "latency max ms", "/latency/max_ms", Better::Low, ""),
    row(
        "fanout",
        "lost/dup/reordered",
        "/lost+/duplicated+/reordered",
        Better::Zero,
        "0/0/0",
    ),
    row("paced", "latency p50 ms", "/latency/p50_ms", Better::Low, ""),
    row(
        "paced",
        "latency p99 ms",
        "/latency/p99_ms",
        Better::Low,
        "≤ 0.25× best peer",
    ),
    row("paced", "latency max ms", "/latency/max_ms", Better::Low, ""),
    row(
        "paced",
        "deliveries / server CPU-s",
        "/deliveries_per_server_cpu_s",
        Better::High,
        "",
    ),
    row(
        "paced",
        "lost/dup/reordered",
        "/lost+/duplicated+/reordered",
        Better::Zero,
        "0/0/0",
    ),
    row(
        "burst",
        "stored msg/s (one room)",
        "/stored_per_s",
        Better::High,
        "",
    ),
    row("burst", "deliveries/s", "/deliveries_per_s", Better::High, ""),
    row(
        "burst",
        "deliveries / server CPU-s",
        "/deliveries_per_server_cpu_s",
        Better::High,
        "",
    ),
    row("burst", "latency p99 ms", "/latency/p99_ms", Better::Low, ""),
    row(
        "burst",
        "lost/dup/reordered",
        "/lost+/duplicated+/reordered",
        Better::Zero,
        "0/0/0",
    ),
    row(
        "idle",
        "KiB/conn, connected",
        "/kib_per_conn",
        Better::Low,
        "≤ 4 KiB",
    ),
    row(
        "idle",
        "KiB/conn, joined",
        "/kib_per_conn_joined",
        Better::Low,
        "≤ 6 KiB",
    ),
    row(
        "idle",
        "Redis KiB/conn, joined",
        "/redis_kib_per_conn_joined",
        Better::Low,
        "",
    ),
    row(
        "idle",
        "connections opened/s",
        "/connections_per_s",
        Better::High,
        "≥ 4× node",
    ),
    row(
        "idle",
        "connections / server CPU-s",
        "/connections_per_server_cpu_s",
        Better::High,
        "",
    ),
    row("idle", "held/opened", "/held+/opened", Better::High, "all"),
    row(
        "history",
        "requests/s",
        "/requests_per_s",
        Better::High,
        "≥ 5× node",
    ),
    row(
        "history",
        "requests / server CPU-s",
        "/requests_per_server_cpu_s",
        Better::High,
        "",
    ),
    row("history", "latency p50 ms", "/latency/p50_ms", Better::Low, ""),
    row(
        "history",
        "latency p99 ms",
        "/latency/p99_ms",
        Better::Low,
        "< 2 ms",
    ),
];

/// Shown only for a tag that a server ran as several instances (see merge.rs), so that the
/// tables of single-process runs stay as they were.
const INSTANCES: Row = row(
    "idle",
    "server instances (one Redis)",
    "/instances",
    Better::Zero,
    "",
);

const fn row(
    scenario: &'static str,
    label: &'static str,
    path: &'static str,
    better: Better,
    target: &'static str,
) -> Row {
    Row {
        scenario,
        label,
        path,
        better,
        target,
    }
}

pub fn run(dir: &Path, servers: &[String]) -> Result<String, Box<dyn std::error::Error>> {
    // (tag, server) -> results over rounds; tags in the order the runs happened.
    let mut results: BTreeMap<(String, String), Vec<Value>> = BTreeMap::new();
    let mut tags: Vec<(u64, String, String)> = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let Ok(v) = serde_json::from_str::<Value>(&std::fs::read_to_string(&path)?) else {
            continue;
        };
        let (Some(tag), Some(server), Some(scenario)) =
            (v["tag"].as_str(), v["server"].as_str(), v["scenario"].as_str())
        else {
            continue;
        };
        let order = v["order"].as_u64().unwrap_or(u64::MAX);
        match tags.iter_mut().find(|t| t.1 == tag) {
            Some(t) => t.0 = t.0.min(order),
            None => tags.push((order, tag.to_string(), scenario.to_string())),
        }
        results
            .entry((tag.to_string(), server.to_string()))
            .or_default()
            .push(v);
    }
    // The scenarios in a fixed order, each tag's runs in the order they happened.
    let rank = |tag: &str, scenario: &str| {
        let base = ["fanout", "paced", "burst", "idle", "history"]
            .iter()
            .position(|s| *s == scenario)
            .unwrap_or(5);
        // Variants of fanout (the scaling runs) come last.
        if scenario == "fanout" && tag != "fanout" {
            6
        } else {
            base
        }
    };
    tags.sort_by_key(|(order, tag, scenario)| (rank(tag, scenario), *order));

    let mut out = String::new();
    out += "| scenario | metric |";
    for s in servers {
        out += &format!(" {s} |");
    }
    out += " ours-redis / node | ours-redis / best peer | target |\n|---|---|";
    out += &"---:|".repeat(servers.len() + 2);
    out += "---|\n";
    let peers: Vec<&String> = servers.iter().filter(|s| !s.starts_with("ours")).collect();
    let mut notes = String::new();
    for (_, tag, scenario) in &tags {
        let sharded: Vec<(&String, Vec<u64>)> = servers
            .iter()
            .filter_map(|s| {
                let runs = results.get(&(tag.clone(), s.clone()))?;
                // One instance is an ordinary run, whatever wrote it.
                let mut ks: Vec<u64> = runs
                    .iter()
                    .filter_map(|v| v["instances"].as_u64())
                    .filter(|k| *k > 1)
                    .collect();
                ks.sort_unstable();
                ks.dedup();
                (!ks.is_empty()).then_some((s, ks))
            })
            .collect();
        for (server, ks) in &sharded {
            let ks: Vec<String> = ks.iter().map(u64::to_string).collect();
            notes += &format!(
                "Note: {tag} on {server} ran as {} server instances sharing one Redis, each driven \
                 by its own generator process, not as one process (whose open-file limit was too \
                 low to hold them all). Its figures are over all instances: connections opened/s \
                 = all opened / the slowest instance's connect time; KiB/conn = the instances' \
                 summed RSS growth / all connections; Redis is counted once.\n",
                ks.join(" or ")
            );
        }
        let extra = (!sharded.is_empty()).then_some(&INSTANCES);
        for r in extra
            .into_iter()
            .chain(ROWS.iter().filter(|r| r.scenario == scenario))
        {
            out += &format!("| {tag} | {} |", r.label);
            let mut values: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
            for s in servers {
                let runs = results.get(&(tag.clone(), s.clone()));
                let (cell, vals) = cell(runs.map(|v| v.as_slice()).unwrap_or(&[]), r);
                if let Some(v) = vals {
                    values.insert(s, v);
                }
                out += &format!(" {cell} |");
            }
            let ours = values.get("ours-redis").map(|v| v[0]);
            let ratio = |peer: Option<f64>| match (ours, peer) {
                (Some(o), Some(p)) if r.better != Better::Zero && p != 0.0 => {
                    format!("{:.2}×", o / p)
                }
                _ => "–".to_string(),
            };
            let node = values.get("node").map(|v| v[0]);
            let peer_vals = peers.iter().filter_map(|p| values.get(p.as_str()).map(|v| v[0]));
            let best = match r.better {
                Better::High => peer_vals.fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v)))),
                Better::Low => peer_vals.fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.min(v)))),
                Better::Zero => None,
            };
            // The targets are for the main runs (and idle at any size), not the scaling runs.
            let target = if tag == scenario || tag.starts_with("idle") {
                r.target
            } else {
                ""
            };
            out += &format!(" {} | {} | {target} |\n", ratio(node), ratio(best));
        }
    }
    if !notes.is_empty() {
        out += "\n";
        out += &notes;
    }
    Ok(out)
}

/// The median over rounds of each part of the row's path; `*` (and no value to compare) if a
/// run was incomplete.
fn cell(runs: &[Value], r: &Row) -> (String, Option<Vec<f64>>) {
    if runs.is_empty() {
        return ("–".into(), None);
    }
    let mut parts = Vec::new();
    for p in r.path.split('+') {
        let mut xs: Vec<f64> = runs.iter().filter_map(|v| v.pointer(p)?.as_f64()).collect();
        if xs.is_empty() {
            return ("–".into(), None);
        }
        xs.sort_by(f64::total_cmp);
        parts.push(xs[xs.len() / 2]);
    }
    let incomplete = runs.iter().any(|v| v["complete"] != Value::Bool(true));
    let text: Vec<String> = parts.iter().map(|x| fmt(*x)).collect();
    let mut s = text.join("/");
    if incomplete {
        s += "*";
    }
    // An incomplete run's value is shown, but not compared.
    (s, (!incomplete).then_some(parts))
}

fn fmt(x: f64) -> String {
    let a = x.abs();
    if a >= 10_000.0 {
        format!("{:.1}k", x / 1000.0)
    } else if a >= 100.0 || x.fract() == 0.0 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    fn idle(tag: &str, server: &str, instances: Option<u64>) -> serde_json::Value {
        let mut v = json!({
            "scenario": "idle", "tag": tag, "server": server, "order": 1, "complete": true,
            "opened": 100, "held": 100, "kib_per_conn": 2.5, "kib_per_conn_joined": 3.5,
            "connections_per_s": 1000.0,
        });
        if let Some(k) = instances {
            v["instances"] = json!(k);
        }
        v
    }

    #[test]
    fn a_sharded_run_gets_its_instances_row_and_a_note() {
        let dir = std::env::temp_dir().join(format!("loadgen-report-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (file, v) in [
            (
                "idle-10k.ours-redis.r1.json",
                idle("idle-10k", "ours-redis", None),
            ),
            ("idle-10k.node.r1.json", idle("idle-10k", "node", None)),
            (
                "idle-50k.ours-redis.r1.json",
                idle("idle-50k", "ours-redis", Some(4)),
            ),
        ] {
            std::fs::write(dir.join(file), v.to_string()).unwrap();
        }
        let servers = ["ours-redis".to_string(), "node".to_string()];
        let table = super::run(&dir, &servers);
        std::fs::remove_dir_all(&dir).unwrap();
        let table = table.unwrap();
        let rows: Vec<&str> = table
            .lines()
            .filter(|l| l.starts_with('|') && l.contains("server instances"))
            .collect();
        assert_eq!(
            rows,
            ["| idle-50k | server instances (one Redis) | 4 | – | – | – |  |"]
        );
        assert!(table.contains("Note: idle-50k on ours-redis ran as 4 server instances"));
        assert!(!table.contains("Note: idle-10k"));
        assert!(table.contains("| idle-50k | KiB/conn, connected | 2.50 | – |"));
    }
}
