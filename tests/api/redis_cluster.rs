//! A private Redis Cluster for tests: six `redis-server` children (three masters with a
//! replica each) on free ports of 127.0.0.1, formed with `redis-cli --cluster create`. The
//! binary's tests share one (`shared`) while any holds it and for a short linger after, so
//! that tests in a row do not form a cluster each; failover tests take their own (`private`).
//! Dropping it kills every process and removes its files; the processes are never daemonized,
//! and the kernel kills them if the test binary dies first (see `spawn_server`).
// Each test uses part of it.
#![allow(dead_code)]

// Paths spelled out: other test binaries include this file with `#[path]`.
#[path = "redis_cluster/faults.rs"]
mod faults;
#[path = "redis_cluster/process.rs"]
mod process;
#[path = "redis_cluster/slots.rs"]
mod slots;
#[path = "redis_cluster/wire.rs"]
mod wire;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use process::{free_port_pair, linger, spawn_server, sweep_stale_dirs};

pub use slots::NodeLine;
pub use wire::Reply;

/// Three masters and three replicas.
const NODES: usize = 6;
/// The bound on forming the cluster, and on each failover or restart settling.
const SETTLE: Duration = Duration::from_secs(20);
/// How long the shared cluster outlives its last holder.
const LINGER: Duration = Duration::from_secs(3);
/// The bound on one command to one node.
const CALL: Duration = Duration::from_secs(2);

const NOT_INSTALLED: &str = "redis-server and redis-cli must be on PATH for the Redis Cluster \
     tests (they start their own): `sudo apt-get install redis-server` (Debian, Ubuntu) or \
     `brew install redis` (macOS)";

/// A running Redis Cluster of child processes.
pub struct RedisCluster {
    dir: PathBuf,
    nodes: Mutex<Vec<Node>>,
}

/// One `redis-server`; `child` is `None` once killed.
struct Node {
    port: u16,
    child: Option<Child>,
}

static SHARED: Mutex<Weak<RedisCluster>> = Mutex::new(Weak::new());
/// The shared cluster's linger: a strong reference, and since when nobody else held one.
static KEEP: Mutex<Option<(Arc<RedisCluster>, Instant)>> = Mutex::new(None);

impl RedisCluster {
    /// The binary's shared cluster: upgraded if alive, else formed (about 2 s).
    pub fn shared() -> Arc<RedisCluster> {
        let mut slot = SHARED.lock().unwrap_or_else(|e| e.into_inner());
        let cluster = match slot.upgrade() {
            Some(cluster) => cluster,
            None => Arc::new(Self::start()),
        };
        *slot = Arc::downgrade(&cluster);
        linger(&cluster);
        cluster
    }

    /// A cluster of one's own (failover tests).
    pub fn private() -> Arc<RedisCluster> {
        Arc::new(Self::start())
    }

    fn start() -> RedisCluster {
        static N: AtomicUsize = AtomicUsize::new(0);
        sweep_stale_dirs();
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("chat-test-cluster-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // Built first, so a panic below drops it and kills what was started.
        let cluster = RedisCluster {
            dir,
            nodes: Mutex::new(Vec::new()),
        };
        for _ in 0..NODES {
            cluster.add_node();
        }
        cluster.create();
        let formed = cluster.settle("forming", Instant::now() + SETTLE);
        assert_eq!(formed.len(), 3, "three masters expected: {formed:?}");
        cluster
    }

    /// Starts a node on a fresh port pair, retrying when a port was taken meanwhile.
    fn add_node(&self) {
        for _ in 0..10 {
            let port = free_port_pair();
            let child = spawn_server(&self.dir, port);
            self.nodes.lock().unwrap().push(Node {
                port,
                child: Some(child),
            });
            if self.wait_ping(port) {
                return;
            }
            self.kill(port);
            self.nodes.lock().unwrap().retain(|n| n.port != port);
        }
        panic!("could not start a cluster node (see {})", self.dir.display());
    }

    /// Waits (bounded) until the node on `port` answers PING; false if its process ended.
    pub(super) fn wait_ping(&self, port: u16) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if matches!(wire::call(port, &["PING"], CALL), Ok(Reply::Status(s)) if s == "PONG") {
                return true;
            }
            let mut nodes = self.nodes.lock().unwrap();
            let node = nodes.iter_mut().find(|n| n.port == port).unwrap();
            let exited = node
                .child
                .as_mut()
                .is_none_or(|c| !matches!(c.try_wait(), Ok(None)));
            if exited || Instant::now() > deadline {
                return false;
            }
            drop(nodes);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `redis-cli --cluster create` over every node, bounded.
    fn create(&self) {
        let log = self.dir.join("create.log");
        let mut cmd = Command::new("redis-cli");
        cmd.arg("--cluster").arg("create");
        cmd.args(self.ports().iter().map(|p| format!("127.0.0.1:{p}")));
        cmd.args(["--cluster-replicas", "1", "--cluster-yes"]);
        let out = std::fs::File::create(&log).unwrap();
        cmd.stdout(out.try_clone().unwrap())
            .stderr(out)
            .stdin(Stdio::null());
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("{NOT_INSTALLED} ({e})"));
        let deadline = Instant::now() + SETTLE;
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("redis-cli --cluster create did not finish within {SETTLE:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(status.success(), "redis-cli --cluster create failed: {text}");
    }

    /// Polls until every live node says `cluster_state:ok` and all of them see the same slot
    /// map, covering every slot with live masters; returns the masters, in slot order.
    pub(super) fn settle(&self, what: &str, deadline: Instant) -> Vec<u16> {
        loop {
            let why = match self.agreed() {
                Ok(masters) => return masters,
                Err(why) => why,
            };
            assert!(
                Instant::now() < deadline,
                "the cluster did not settle ({what}) within {SETTLE:?}: {why}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The masters in slot order if the cluster is settled, else why not: every live node is
    /// ok and sees the same slot map (every slot on a live master) and the same roles (every
    /// live node a slot owner or the replica of one, its replication link up).
    fn agreed(&self) -> Result<Vec<u16>, String> {
        let live = self.ports();
        let mut seen = Vec::new();
        for &port in &live {
            let info = wire::call(port, &["CLUSTER", "INFO"], CALL).map_err(|e| format!("{port}: {e}"))?;
            if !info.text().contains("cluster_state:ok") {
                let nodes = self.command(port, &["CLUSTER", "NODES"]);
                return Err(format!("{port} is not ok: {}", nodes.text()));
            }
            let view = self.view(port);
            let map = slots::slot_map(&view).ok_or(format!("{port}: incomplete map"))?;
            if let Some(dead) = map.iter().find(|(_, _, owner)| !live.contains(owner)) {
                return Err(format!("{port} still maps slots to the dead {}", dead.2));
            }
            let roles = slots::roles(&view, &live);
            let owners: Vec<u16> = map.iter().map(|m| m.2).collect();
            for (node, master) in &roles {
                if !owners.contains(master.as_ref().unwrap_or(node)) {
                    return Err(format!(
                        "{port} sees {node} neither owning slots nor replicating an owner"
                    ));
                }
            }
            // A replica whose first sync has not completed never fails over (its data counts
            // as too old), so a settled cluster has every replication link up.
            if roles
                .iter()
                .any(|(node, master)| *node == port && master.is_some())
            {
                let info = self.command(port, &["INFO", "replication"]);
                if !info.text().contains("master_link_status:up") {
                    return Err(format!("{port}: replication link down"));
                }
            }
            seen.push((map, roles));
        }
        if seen.windows(2).any(|w| w[0] != w[1]) {
            return Err(format!("the nodes disagree: {seen:?}"));
        }
        let mut masters: Vec<u16> = Vec::new();
        for (_, _, owner) in &seen[0].0 {
            if !masters.contains(owner) {
                masters.push(*owner);
            }
        }
        Ok(masters)
    }

    /// The ports of the live nodes.
    pub fn ports(&self) -> Vec<u16> {
        let nodes = self.nodes.lock().unwrap();
        nodes
            .iter()
            .filter(|n| n.child.is_some())
            .map(|n| n.port)
            .collect()
    }

    /// `REDIS_CLUSTER_NODES`: every live node, `127.0.0.1:P1,127.0.0.1:P2,...`.
    pub fn nodes(&self) -> String {
        let seeds: Vec<String> = self.ports().iter().map(|p| format!("127.0.0.1:{p}")).collect();
        seeds.join(",")
    }

    /// How the node on `port` sees the cluster (`CLUSTER NODES`).
    pub fn view(&self, port: u16) -> Vec<NodeLine> {
        slots::parse_nodes(self.command(port, &["CLUSTER", "NODES"]).text())
    }

    /// The masters, in slot order (the cluster must be settled).
    pub fn masters(&self) -> Vec<u16> {
        self.agreed()
            .unwrap_or_else(|why| panic!("the cluster is not settled: {why}"))
    }

    /// The live replica of `master`.
    pub fn replica_of(&self, master: u16) -> u16 {
        let live = self.ports();
        let view = self.view(master);
        let id = &view
            .iter()
            .find(|n| n.port == master)
            .expect("the master in its own view")
            .id;
        view.iter()
            .find(|n| n.master.as_ref() == Some(id) && !n.is_failing() && live.contains(&n.port))
            .unwrap_or_else(|| panic!("{master} has no live replica: {view:?}"))
            .port
    }

    /// The master serving `slot`.
    pub fn master_of_slot(&self, slot: u16) -> u16 {
        let port = self.ports()[0];
        let map = slots::slot_map(&self.view(port)).expect("a settled cluster");
        map.iter().find(|(a, b, _)| (*a..=*b).contains(&slot)).unwrap().2
    }

    /// The slot of `key` (hash tags honoured), as `CLUSTER KEYSLOT` computes it.
    pub fn slot_of(key: &str) -> u16 {
        slots::slot_of(key)
    }

    /// The master serving `key`.
    pub fn owner_of(&self, key: &str) -> u16 {
        self.master_of_slot(Self::slot_of(key))
    }

    /// Sends one command to one node and returns its whole reply (an error reply included).
    pub fn command(&self, node: u16, args: &[&str]) -> Reply {
        wire::call(node, args, CALL).unwrap_or_else(|e| panic!("{node} {args:?}: {e}"))
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        let mut nodes = self.nodes.lock().unwrap_or_else(|e| e.into_inner());
        for child in nodes.iter_mut().filter_map(|n| n.child.as_mut()) {
            let _ = child.kill();
        }
        for node in nodes.iter_mut() {
            if let Some(mut child) = node.child.take() {
                let _ = child.wait();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
