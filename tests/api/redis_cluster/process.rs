//! The cluster's processes: ports, spawning under a parent-death signal, the shared
//! cluster's linger, and the folders a killed test binary left behind.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, Once, OnceLock, mpsc};
use std::time::{Duration, Instant};

use super::{KEEP, LINGER, NOT_INSTALLED, RedisCluster};

/// Keeps `cluster` alive until nobody else has held it for `LINGER` (a keeper thread polls).
pub(super) fn linger(cluster: &Arc<RedisCluster>) {
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
pub(super) fn free_port_pair() -> u16 {
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
pub(super) fn spawn_server(dir: &Path, port: u16) -> Child {
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
pub(super) fn sweep_stale_dirs() {
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
