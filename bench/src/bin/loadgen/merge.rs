//! `loadgen merge-idle OUT IN...`: one idle result from the shards of a sharded idle run (K
//! server instances on one Redis, each driven by its own generator process), with the fields
//! `report` reads, `"instances": K` and every shard's own result under `"shards"`.
//!
//! Why shards: one process holds one descriptor per connection, so where the open-file limit
//! is below the connections wanted, neither one server nor one generator can hold them all
//! (scripts/bench.sh). The shards run at the same time, so the merge is over one moment:
//! - counts (opened, joined, held, ...) and each instance's memory growth are summed;
//! - rates take the slowest shard's time (connections/s = all opened / the longest connect_s);
//! - each instance's and each generator's CPU time is its own, so those are summed, but Redis
//!   is one process that every shard sampled over overlapping windows: summing would count it
//!   up to K times, so its CPU is the largest shard reading and its memory is taken once.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::common::{Usage, round3};

/// How the figures were combined, copied into the result for whoever reads the JSON alone.
const HOW: &str = "counts and server RSS growth summed over the instances; connections_per_s = \
    opened / the longest connect_s; server and generator CPU summed; Redis (one process shared \
    by every instance) counted once: its CPU is the largest shard reading, its RSS baseline the \
    lowest and its connected/joined RSS the highest";

pub fn run(out: &Path, inputs: &[PathBuf]) -> Result<Value, Box<dyn std::error::Error>> {
    let mut shards = Vec::with_capacity(inputs.len());
    for path in inputs {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let v: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        shards.push(v);
    }
    let merged = merge(shards)?;
    std::fs::write(out, serde_json::to_string_pretty(&merged)? + "\n")
        .map_err(|e| format!("{}: {e}", out.display()))?;
    Ok(merged)
}

/// Combines the shards' idle results (see the module's comment for how).
pub fn merge(shards: Vec<Value>) -> Result<Value, String> {
    let first = shards.first().ok_or("no shard to merge")?;
    let (tag, server) = (first["tag"].clone(), first["server"].clone());
    for (i, s) in shards.iter().enumerate() {
        if s["scenario"] != "idle" {
            return Err(format!(
                "shard {i} is not an idle result (scenario {})",
                s["scenario"]
            ));
        }
        // Shards of different runs would add up to a run that never happened.
        if s["tag"] != tag || s["server"] != server {
            return Err(format!(
                "shard {i} is {}/{}, shard 0 {tag}/{server}",
                s["tag"], s["server"]
            ));
        }
    }
    let u64s = |key: &str| {
        shards
            .iter()
            .map(|s| s[key].as_u64())
            .collect::<Option<Vec<u64>>>()
    };
    let sum = |key: &str| u64s(key).map(|v| v.iter().sum::<u64>());
    let f64s = |ptr: &str| {
        shards
            .iter()
            .map(|s| s.pointer(ptr).and_then(Value::as_f64))
            .collect::<Option<Vec<f64>>>()
    };
    let fsum = |ptr: &str| f64s(ptr).map(|v| v.iter().sum::<f64>());
    let fmax = |ptr: &str| f64s(ptr).map(|v| v.iter().copied().fold(f64::MIN, f64::max));
    let fmin = |ptr: &str| f64s(ptr).map(|v| v.iter().copied().fold(f64::MAX, f64::min));

    let opened = sum("opened").ok_or("a shard has no \"opened\"")?;
    let joined = sum("joined").unwrap_or(0);
    let rate = |count: u64, secs: Option<f64>| -> Value {
        match secs {
            Some(s) => json!((count as f64 / s.max(1e-9)).round()),
            None => Value::Null,
        }
    };
    let connect_s = fmax("/connect_s");
    let join_s = fmax("/join_s");
    let per_conn = |kib: Option<f64>| -> Value {
        match kib {
            Some(k) if opened > 0 => json!(round3(k / opened as f64)),
            _ => Value::Null,
        }
    };
    // Each instance's growth from its own baseline, summed.
    let growth = |stage: &str| -> Option<f64> {
        let after = f64s(&format!("/server_rss_kib/{stage}"))?;
        let before = f64s("/server_rss_kib/baseline")?;
        Some(after.iter().zip(&before).map(|(a, b)| a - b).sum())
    };
    // Redis grows through the run (keys are only added until the connections close), so the
    // lowest baseline is the one read before (almost) any shard connected and the highest
    // joined reading the one taken when (almost) all had joined.
    let redis_base = fmin("/redis_rss_kib/baseline");
    let redis_conn = fmax("/redis_rss_kib/connected");
    let redis_join = fmax("/redis_rss_kib/joined");
    let redis_growth = redis_join.zip(redis_base).map(|(j, b)| j - b);

    // The CPU figures and connections per CPU-second, as a single run writes them.
    let usage = Usage {
        server_cpu_s: fsum("/server_cpu_s"),
        redis_cpu_s: fmax("/redis_cpu_s"),
        generator_cpu_s: fsum("/generator_cpu_s"),
        server_rss_kib: None,
        redis_rss_kib: None,
    };
    let mut cpu = usage.per_cpu("connections", opened as f64);
    cpu.retain(|k, _| !k.ends_with("_rss_kib")); // RSS is combined above, per instance
    let kib = |x: Option<f64>| x.map(|k| k.round() as u64);

    let mut params = first["params"].as_object().cloned().unwrap_or_default();
    params.insert(
        "connections".into(),
        json!(
            shards
                .iter()
                .filter_map(|s| s["params"]["connections"].as_u64())
                .sum::<u64>()
        ),
    );
    params.insert(
        "connections_per_instance".into(),
        json!(
            shards
                .iter()
                .map(|s| s["params"]["connections"].clone())
                .collect::<Vec<_>>()
        ),
    );
    let complete = shards.iter().all(|s| s["complete"] == true);
    let first_error = shards
        .iter()
        .map(|s| &s["first_error"])
        .find(|e| !e.is_null())
        .cloned()
        .unwrap_or(Value::Null);

    let mut out = Map::new();
    let mut put = |k: &str, v: Value| {
        out.insert(k.to_string(), v);
    };
    put("scenario", json!("idle"));
    put("tag", tag);
    put("server", server);
    put(
        "order",
        json!(shards.iter().filter_map(|s| s["order"].as_u64()).min()),
    );
    put("instances", json!(shards.len()));
    put("merged", json!(HOW));
    put(
        "urls",
        json!(shards.iter().map(|s| s["url"].clone()).collect::<Vec<_>>()),
    );
    put(
        "started_unix_ms",
        json!(shards.iter().filter_map(|s| s["started_unix_ms"].as_u64()).min()),
    );
    put("error_frames_or_failures", json!(sum("error_frames_or_failures")));
    put("first_error", first_error);
    put("complete", json!(complete));
    put("params", Value::Object(params));
    put("opened", json!(opened));
    put("connect_failures", json!(sum("connect_failures")));
    put("connect_s", json!(connect_s.map(round3)));
    put("connections_per_s", rate(opened, connect_s));
    put("joined", json!(joined));
    put("join_s", json!(join_s.map(round3)));
    put("joins_per_s", rate(joined, join_s));
    put("closed_during_hold", json!(sum("closed_during_hold")));
    put("held", json!(sum("held")));
    put(
        "server_rss_kib",
        json!({
            "baseline": kib(fsum("/server_rss_kib/baseline")),
            "connected": kib(fsum("/server_rss_kib/connected")),
            "joined": kib(fsum("/server_rss_kib/joined")),
        }),
    );
    put(
        "redis_rss_kib",
        json!({ "baseline": kib(redis_base), "connected": kib(redis_conn), "joined": kib(redis_join) }),
    );
    put("kib_per_conn", per_conn(growth("connected")));
    put("kib_per_conn_joined", per_conn(growth("joined")));
    put("redis_kib_per_conn_joined", per_conn(redis_growth));
    out.extend(cpu);
    out.insert("shards".into(), Value::Array(shards));
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A shard's result shaped like idle.rs's (and main.rs's head) output.
    #[allow(clippy::too_many_arguments)]
    fn shard(
        opened: u64,
        connect_s: f64,
        rss: [u64; 3],
        redis_rss: [u64; 3],
        cpu: [f64; 3],
        complete: bool,
        order: u64,
    ) -> Value {
        json!({
            "scenario": "idle", "tag": "idle-50k", "server": "ours-redis", "order": order,
            "url": format!("http://127.0.0.1:{}", 8000 + order), "prefix": "p",
            "started_unix_ms": 1000 + order, "error_frames_or_failures": 0, "first_error": null,
            "complete": complete,
            "params": { "connections": 100, "concurrency": 256, "members_per_room": 10,
                        "settle_s": 3.0, "hold_s": 6.0, "duration_s": 300.0 },
            "opened": opened, "connect_failures": 100 - opened, "connect_s": connect_s,
            "connections_per_s": (opened as f64 / connect_s).round(),
            "joined": opened, "join_s": 0.5, "joins_per_s": (opened as f64 / 0.5).round(),
            "closed_during_hold": 0, "held": opened,
            "server_rss_kib": { "baseline": rss[0], "connected": rss[1], "joined": rss[2] },
            "redis_rss_kib": { "baseline": redis_rss[0], "connected": redis_rss[1], "joined": redis_rss[2] },
            "kib_per_conn": null, "kib_per_conn_joined": null, "redis_kib_per_conn_joined": null,
            "server_cpu_s": cpu[0], "redis_cpu_s": cpu[1], "generator_cpu_s": cpu[2],
            "connections_per_server_cpu_s": null, "connections_per_total_cpu_s": null,
        })
    }

    #[test]
    fn sums_counts_and_memory_and_takes_the_slowest_connect() {
        let a = shard(
            100,
            2.0,
            [1000, 1300, 1500],
            [5000, 5200, 5600],
            [1.0, 0.5, 2.0],
            true,
            7,
        );
        let b = shard(
            100,
            4.0,
            [1100, 1500, 1800],
            [5010, 5300, 5800],
            [1.5, 0.75, 2.5],
            true,
            8,
        );
        let m = merge(vec![a, b]).unwrap();
        assert_eq!(m["instances"], 2);
        assert_eq!(m["complete"], true);
        assert_eq!(m["order"], 7);
        assert_eq!(m["started_unix_ms"], 1007);
        assert_eq!(m["opened"], 200);
        assert_eq!(m["joined"], 200);
        assert_eq!(m["held"], 200);
        assert_eq!(m["connect_failures"], 0);
        assert_eq!(m["closed_during_hold"], 0);
        assert_eq!(m["params"]["connections"], 200);
        assert_eq!(m["params"]["connections_per_instance"], json!([100, 100]));
        // 200 connections in the slowest shard's 4 s, not 100/2 + 100/4.
        assert_eq!(m["connect_s"], 4.0);
        assert_eq!(m["connections_per_s"], 50.0);
        assert_eq!(m["joins_per_s"], 400.0);
        // (300 + 400) / 200 and (500 + 700) / 200.
        assert_eq!(m["kib_per_conn"], 3.5);
        assert_eq!(m["kib_per_conn_joined"], 6.0);
        assert_eq!(
            m["server_rss_kib"],
            json!({"baseline": 2100, "connected": 2800, "joined": 3300})
        );
        // Redis once: lowest baseline 5000, highest joined 5800.
        assert_eq!(
            m["redis_rss_kib"],
            json!({"baseline": 5000, "connected": 5300, "joined": 5800})
        );
        assert_eq!(m["redis_kib_per_conn_joined"], 4.0);
        assert_eq!(m["server_cpu_s"], 2.5);
        assert_eq!(m["redis_cpu_s"], 0.75);
        assert_eq!(m["generator_cpu_s"], 4.5);
        assert_eq!(m["connections_per_server_cpu_s"], 80.0);
        assert_eq!(m["connections_per_total_cpu_s"], 62.0);
        assert_eq!(m["shards"].as_array().map(Vec::len), Some(2));
        assert_eq!(m["shards"][1]["opened"], 100);
    }

    #[test]
    fn one_incomplete_shard_makes_the_run_incomplete() {
        let a = shard(100, 1.0, [1, 2, 3], [1, 2, 3], [1.0, 1.0, 1.0], true, 1);
        let mut b = shard(90, 1.0, [1, 2, 3], [1, 2, 3], [1.0, 1.0, 1.0], false, 1);
        b["first_error"] = json!("connect x: refused");
        b["error_frames_or_failures"] = json!(10);
        let m = merge(vec![a, b]).unwrap();
        assert_eq!(m["complete"], false);
        assert_eq!(m["opened"], 190);
        assert_eq!(m["connect_failures"], 10);
        assert_eq!(m["error_frames_or_failures"], 10);
        assert_eq!(m["first_error"], "connect x: refused");
    }

    #[test]
    fn a_missing_reading_gives_no_figure_rather_than_a_partial_one() {
        let a = shard(100, 1.0, [1000, 1300, 1500], [0, 0, 0], [1.0, 0.0, 1.0], true, 1);
        let mut b = shard(100, 1.0, [1000, 1300, 1500], [0, 0, 0], [1.0, 0.0, 1.0], true, 2);
        b["server_rss_kib"]["connected"] = Value::Null;
        b["server_cpu_s"] = Value::Null;
        b["redis_cpu_s"] = Value::Null;
        let m = merge(vec![a, b]).unwrap();
        assert_eq!(m["kib_per_conn"], Value::Null);
        assert_eq!(m["kib_per_conn_joined"], 5.0);
        assert_eq!(m["server_cpu_s"], Value::Null);
        assert_eq!(m["connections_per_server_cpu_s"], Value::Null);
        assert_eq!(m["redis_cpu_s"], Value::Null);
    }

    #[test]
    fn refuses_what_is_not_shards_of_one_idle_run() {
        assert!(merge(vec![]).is_err());
        let a = shard(100, 1.0, [1, 2, 3], [1, 2, 3], [1.0, 1.0, 1.0], true, 1);
        let mut other_tag = a.clone();
        other_tag["tag"] = json!("idle-10k");
        assert!(merge(vec![a.clone(), other_tag]).is_err());
        let mut fanout = a.clone();
        fanout["scenario"] = json!("fanout");
        assert!(merge(vec![fanout, a.clone()]).is_err());
        assert!(merge(vec![a]).is_ok());
    }
}
