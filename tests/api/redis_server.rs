//! A private `redis-server` for tests: started on a free port, shared by the tests of this
//! binary while any of them holds it, killed (and its files removed) when the last one is done.
// Shared by two test binaries, each using part of it.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// A running redis-server child process.
pub struct RedisServer {
    pub port: u16,
    child: Mutex<Option<Child>>,
    dir: PathBuf,
    /// Append-only file on, so a restart keeps the data (outage tests).
    durable: bool,
    /// Extra arguments (e.g. `--requirepass`).
    extra: Vec<String>,
}

static SHARED: Mutex<Weak<RedisServer>> = Mutex::new(Weak::new());

/// Why a Redis test fails on a machine without Redis, and the fix.
const NOT_INSTALLED: &str = "redis-server is not installed (not found on PATH), and the Redis tests \
     start their own: install it with `sudo apt-get install redis-server` (Debian, Ubuntu) or \
     `brew install redis` (macOS); the other tests do not need it";

impl RedisServer {
    /// The binary's shared server: upgraded if alive, else started.
    pub fn shared() -> Arc<RedisServer> {
        let mut slot = SHARED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(server) = slot.upgrade() {
            return server;
        }
        let server = Arc::new(Self::start(false, &[]));
        *slot = Arc::downgrade(&server);
        server
    }

    /// A server of one's own (tests that stop and restart Redis), durable across restarts.
    pub fn private() -> Arc<RedisServer> {
        Arc::new(Self::start(true, &[]))
    }

    /// A server of one's own started with extra arguments.
    pub fn private_with(extra: &[&str]) -> Arc<RedisServer> {
        Arc::new(Self::start(false, extra))
    }

    fn start(durable: bool, extra: &[&str]) -> RedisServer {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = std::env::temp_dir().join(format!("chat-test-redis-{port}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let extra = extra.iter().map(|s| s.to_string()).collect();
        let server = RedisServer {
            port,
            child: Mutex::new(None),
            dir,
            durable,
            extra,
        };
        server.boot();
        server
    }

    /// Starts the process on `self.port` and waits (bounded) until it answers PING.
    pub fn boot(&self) {
        let mut cmd = Command::new("redis-server");
        cmd.args([
            "--port",
            &self.port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ]);
        cmd.args(["--dir", self.dir.to_str().unwrap()]);
        if self.durable {
            cmd.args(["--appendonly", "yes", "--appendfsync", "always"]);
        } else {
            cmd.args(["--appendonly", "no"]);
        }
        cmd.args(&self.extra);
        let child = match cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn() {
            Ok(child) => child,
            // One line, the same in every Redis test that fails for it, saying what to do.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!("{NOT_INSTALLED}"),
            Err(e) => panic!("cannot run redis-server: {e}"),
        };
        *self.child.lock().unwrap() = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.answers_ping() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not start on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether the server is up (a password-protected one answers `-NOAUTH`).
    fn answers_ping(&self) -> bool {
        use std::io::{Read, Write};
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
        let mut buf = [0u8; 7];
        s.write_all(b"PING\r\n").is_ok()
            && s.read_exact(&mut buf).is_ok()
            && (&buf == b"+PONG\r\n" || &buf == b"-NOAUTH")
    }

    /// Kills the process (as a crash would) and waits for it to exit.
    pub fn stop(&self) {
        if let Some(mut child) = self.child.lock().unwrap().take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends one command (RESP) and returns the first line of the reply, e.g. `+OK`.
    pub fn command(&self, args: &[&str]) -> String {
        self.commands(&[args]).pop().unwrap_or_default()
    }

    /// Sends commands on one connection (so `AUTH` and `SELECT` apply to the next ones) and
    /// returns the first line of each reply.
    pub fn commands(&self, cmds: &[&[&str]]) -> Vec<String> {
        use std::io::{BufRead, BufReader, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut reader = BufReader::new(s.try_clone().unwrap());
        cmds.iter()
            .map(|args| {
                let mut req = format!("*{}\r\n", args.len());
                for a in *args {
                    req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
                }
                s.write_all(req.as_bytes()).unwrap();
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                line.trim_end().to_string()
            })
            .collect()
    }

    /// `redis://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
