//! The real `chat-server` binary as a child process, for what only a process can show: exit
//! status on signals, a crash, a failed start, its own log and memory. Killed and reaped when
//! dropped.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{TIMEOUT, TestApp};

/// A running binary and a `TestApp` handle pointing at it.
pub struct ServerProcess {
    child: Child,
    pub port: u16,
    /// Where the process's stdout (its log) goes; removed on drop.
    log: std::path::PathBuf,
}

impl ServerProcess {
    /// Starts the binary on a free port with only these variables (plus `HOST`, `PORT`,
    /// `PATH`), in an empty directory so no `.env` applies, and waits until it is healthy.
    pub async fn start(vars: &[(&str, &str)]) -> (ServerProcess, TestApp) {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_chat-server"));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default());
        cmd.env("HOST", "127.0.0.1")
            .env("PORT", port.to_string())
            .env("RATE_LIMIT_PER_SECOND", "0");
        cmd.envs(vars.iter().copied()).current_dir(std::env::temp_dir());
        let log = std::env::temp_dir().join(format!("chat-test-{}.log", crate::helpers::fresh_prefix()));
        let out = std::fs::File::create(&log).unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let process = ServerProcess { child, port, log };
        let app = TestApp::attach(([127, 0, 0, 1], port).into());
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        while app.http.get(app.url("/health")).send().await.is_err() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the binary never became healthy"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        (process, app)
    }

    /// Runs the binary in `dir` with only these variables (plus `PATH`) until it exits, killing
    /// it after `within`: its exit code (`None` if killed), everything it wrote to stdout and
    /// stderr, and how long it ran. For starts that must fail.
    pub fn run_to_exit(
        dir: &Path,
        vars: &[(&str, &str)],
        within: Duration,
    ) -> (Option<i32>, String, Duration) {
        let out_path = dir.join(format!("chat-test-{}.out", crate::helpers::fresh_prefix()));
        let out = std::fs::File::create(&out_path).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_chat-server"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(vars.iter().copied())
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        let started = Instant::now();
        let code = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status.code();
            }
            if started.elapsed() > within {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let took = started.elapsed();
        let output = std::fs::read_to_string(&out_path).unwrap_or_default();
        let _ = std::fs::remove_file(&out_path);
        (code, output, took)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal (`TERM`, `KILL`) with the `kill` command.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits (bounded) for the process to exit; its exit code.
    pub fn wait(&mut self) -> Option<i32> {
        let deadline = std::time::Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(std::time::Instant::now() < deadline, "the process did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What the process has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Resident memory of the process, from `/proc/PID/status`, in KiB.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}
