//! A private Redis Cluster for tests: six `redis-server` children (three masters with a
//! replica each) on free ports of 127.0.0.1, formed with `redis-cli --cluster create`. The
//! binary's tests share one (`shared`) while any holds it and for a short linger after, so
//! that tests in a row do not form a cluster each; failover tests take their own (`private`).
//! Dropping it kills every process and removes its files; the processes are never daemonized,
//! and the kernel kills them if the test binary dies first (see `spawn_server`).
// Each test uses part of it.
#![allow(dead_code)]

// Paths spelled out: other test binaries include this file with `#[path]`.
#[path = "redis_cluster/slots.rs"]
mod slots;
#[path = "redis_cluster/wire.rs"]
mod wire;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once, OnceLock, Weak, mpsc};
use std::time::{Duration, Instant};

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
    fn wait_ping(&self, port: u16) -> bool {
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
    fn settle(&self, what: &str, deadline: Instant) -> Vec<u16> {
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

    /// `CLUSTER FAILOVER` on `replica` (its master hands over without losing a write), then
    /// waits (bounded) until it is master and the cluster is settled; returns how long it took.
    pub fn failover(&self, replica: u16) -> Duration {
        let start = Instant::now();
        let ok = self.command(replica, &["CLUSTER", "FAILOVER"]);
        assert_eq!(ok, Reply::Status("OK".into()), "CLUSTER FAILOVER on {replica}");
        self.settle_with_master(replica, start)
    }

    /// Kills `master` with SIGKILL, then waits (bounded) until its replica is promoted and the
    /// rest of the cluster is settled; returns the promoted node and how long it took.
    pub fn kill_master(&self, master: u16) -> (u16, Duration) {
        let replica = self.replica_of(master);
        let start = Instant::now();
        self.kill(master);
        (replica, self.settle_with_master(replica, start))
    }

    fn settle_with_master(&self, node: u16, start: Instant) -> Duration {
        let deadline = start + SETTLE;
        loop {
            let masters = self.settle("failing over", deadline);
            if masters.contains(&node) {
                return start.elapsed();
            }
            assert!(Instant::now() < deadline, "{node} was not promoted: {masters:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts a killed node again on its port with its cluster file: it rejoins, as a replica
    /// when its slots went to another; waits (bounded) until the cluster is settled and, if it
    /// is a replica, its replication link is up; returns how long it took.
    pub fn restart(&self, node: u16) -> Duration {
        self.restart_nodes(&[node])
    }

    /// Kills a master and its replica (SIGKILL): no node serves their slots; waits (bounded)
    /// until every other node says `cluster_state:fail`.
    pub fn kill_shard(&self, master: u16, replica: u16) {
        self.kill(master);
        self.kill(replica);
        let deadline = Instant::now() + SETTLE;
        for port in self.ports() {
            loop {
                let info = self.command(port, &["CLUSTER", "INFO"]);
                if info.text().contains("cluster_state:fail") {
                    break;
                }
                assert!(Instant::now() < deadline, "{port} did not see the shard fail");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// Starts a killed shard (its master and replica) again, as `restart` does.
    pub fn restart_shard(&self, master: u16, replica: u16) -> Duration {
        self.restart_nodes(&[master, replica])
    }

    fn restart_nodes(&self, ports: &[u16]) -> Duration {
        let start = Instant::now();
        for &port in ports {
            let child = spawn_server(&self.dir, port);
            let mut nodes = self.nodes.lock().unwrap();
            let slot = nodes
                .iter_mut()
                .find(|n| n.port == port)
                .expect("a node of this cluster");
            assert!(slot.child.is_none(), "{port} is running");
            slot.child = Some(child);
        }
        for &port in ports {
            assert!(self.wait_ping(port), "{port} did not start again");
        }
        let deadline = start + SETTLE;
        for &port in ports {
            loop {
                let role = self.command(port, &["ROLE"]);
                let info = self.command(port, &["INFO", "replication"]);
                let linked = info.text().contains("master_link_status:up");
                if role.items()[0] == Reply::Bulk("master".into()) || linked {
                    break;
                }
                assert!(Instant::now() < deadline, "{port} did not rejoin: {info:?}");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        self.settle("rejoining", deadline);
        start.elapsed()
    }

    /// Stops a node's process (SIGSTOP): it holds its connections but answers nothing, as a
    /// stalled replica would.
    pub fn pause(&self, node: u16) {
        self.signal(node, "STOP");
    }

    /// Lets a paused node run again (SIGCONT), then waits (bounded) until the cluster has
    /// settled; returns how long that took.
    pub fn resume(&self, node: u16) -> Duration {
        let start = Instant::now();
        self.signal(node, "CONT");
        self.settle("resuming", start + SETTLE);
        start.elapsed()
    }

    fn signal(&self, node: u16, name: &str) {
        let nodes = self.nodes.lock().unwrap();
        let child = nodes
            .iter()
            .find(|n| n.port == node)
            .and_then(|n| n.child.as_ref());
        let pid = child.expect("a running node").id().to_string();
        let status = Command::new("kill")
            .args([&format!("-{name}"), &pid])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name} {pid}");
    }

    /// Kills one node (SIGKILL) and waits for it.
    fn kill(&self, port: u16) {
        let mut nodes = self.nodes.lock().unwrap();
        let node = nodes
            .iter_mut()
            .find(|n| n.port == port)
            .expect("a node of this cluster");
        if let Some(mut child) = node.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
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

/// Keeps `cluster` alive until nobody else has held it for `LINGER` (a keeper thread polls).
fn linger(cluster: &Arc<RedisCluster>) {
    static KEEPER: Once = Once::new();
    *KEEP.lock().unwrap_or_else(|e| e.into_inner()) = Some((cluster.clone(), Instant::now()));
    KEEPER.call_once(|| {
        std::thread::spawn(|| {
            loop {
                std::thread::sleep(Duration::from_millis(200));
                let mut keep = KEEP.lock().unwrap_or_else(|e| e.into_inner());
                let expired = match keep.as_mut() {
                    Some((cluster, idle_since)) => {
                        if Arc::strong_count(cluster) > 1 {
                            *idle_since = Instant::now();
                        }
                        idle_since.elapsed() > LINGER
                    }
                    None => false,
                };
                let gone = if expired { keep.take() } else { None };
                drop(keep);
                drop(gone); // the last reference: kills the cluster, outside the lock
            }
        });
    });
}

/// A port P below 55535 with P and its cluster bus port P+10000 both free; both below the
/// kernel's ephemeral range (32768 and up), so outgoing connections never take them.
fn free_port_pair() -> u16 {
    use std::net::TcpListener;
    let seed = uuid::Uuid::new_v4().as_u128();
    (0..2000u128)
        .map(|i| 12000 + ((seed + i * 7919) % 10000) as u16)
        .find(|p| {
            TcpListener::bind(("127.0.0.1", *p)).is_ok()
                && TcpListener::bind(("127.0.0.1", p + 10000)).is_ok()
        })
        .expect("no free port pair in 12000..22000")
}

/// Starts `redis-server` as a cluster node on `port`, its files in `dir`. Every node is
/// forked by one thread that lives as long as the process, under `setpriv --pdeathsig KILL`
/// when there is one (util-linux): the kernel kills the node when that thread ends, i.e. when
/// the test binary exits or dies, even with a cluster still lingering or a test hung.
fn spawn_server(dir: &Path, port: u16) -> Child {
    type Job = (Vec<String>, mpsc::Sender<std::io::Result<Child>>);
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::spawn(move || {
            let setpriv = Path::new("/usr/bin/setpriv").exists();
            for (args, reply) in rx {
                let mut cmd = if setpriv {
                    let mut c = Command::new("/usr/bin/setpriv");
                    c.args(["--pdeathsig", "KILL", "--", "redis-server"]);
                    c
                } else {
                    Command::new("redis-server")
                };
                cmd.args(args)
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null());
                let _ = reply.send(cmd.spawn());
            }
        });
        Mutex::new(tx)
    });
    let d = dir.display();
    let args = [
        "--port".into(),
        port.to_string(),
        "--cluster-enabled".into(),
        "yes".into(),
        "--cluster-config-file".into(),
        format!("{d}/nodes-{port}.conf"),
        "--cluster-node-timeout".into(),
        "1000".into(),
        "--save".into(),
        String::new(),
        "--appendonly".into(),
        "no".into(),
        // A replica's full sync starts at once, not after the default 5 s wait for others.
        "--repl-diskless-sync-delay".into(),
        "0".into(),
        "--bind".into(),
        "127.0.0.1".into(),
        "--dir".into(),
        d.to_string(),
        "--logfile".into(),
        format!("{d}/{port}.log"),
    ];
    assert!(on_path("redis-server") && on_path("redis-cli"), "{NOT_INSTALLED}");
    let (tx, rx) = mpsc::channel();
    spawner.lock().unwrap().send((args.to_vec(), tx)).unwrap();
    rx.recv()
        .unwrap()
        .unwrap_or_else(|e| panic!("cannot run redis-server: {e}"))
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
}

/// Removes the folders of clusters whose test binary is gone (killed before `Drop` ran: its
/// nodes were killed by the kernel, their files stayed). Linux only (`/proc`).
fn sweep_stale_dirs() {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix("chat-test-cluster-")
            .and_then(|r| r.split('-').next())
        else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}
