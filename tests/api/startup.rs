//! Starting the real binary: a bad `.env` or an unreachable Redis stops it with one clear log
//! line (and no "listening" first); a good start logs the store readably, without colours.

use std::net::TcpListener;
use std::path::PathBuf;
use std::time::Duration;

use crate::helpers::{RedisServer, fresh_prefix, skip_on_cluster};
use crate::server_process::ServerProcess;

/// A fresh empty working directory, removed when dropped.
struct WorkDir(PathBuf);

impl WorkDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("chat-test-{}", fresh_prefix()));
        std::fs::create_dir(&dir).unwrap();
        // The path the server sees as its working directory (symbolic links resolved).
        WorkDir(dir.canonicalize().unwrap())
    }

    fn with_dotenv(content: &[u8]) -> Self {
        let dir = Self::new();
        std::fs::write(dir.0.join(".env"), content).unwrap();
        dir
    }

    fn dotenv(&self) -> String {
        self.0.join(".env").display().to_string()
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the binary in `dir` until it exits (within 10 s): its exit code and its log's messages,
/// each line without its time stamp and level (`ERROR chat_server: ` and the like).
fn failed_start(dir: &WorkDir, vars: &[(&str, &str)]) -> (Option<i32>, Vec<String>, Duration) {
    let (code, output, took) = ServerProcess::run_to_exit(&dir.0, vars, Duration::from_secs(10));
    assert!(
        !output.contains("\x1b["),
        "colours in a log that is not a terminal: {output:?}"
    );
    assert!(!output.contains("listening"), "{output}");
    let messages = output
        .lines()
        .map(|line| match line.split_once(" ERROR chat_server: ") {
            Some((_, message)) => message.to_string(),
            None => line.to_string(),
        })
        .collect();
    (code, messages, took)
}

/// A malformed line stops the server with the file, the line and the reason; neither it nor
/// the lines after it are skipped (before, `STORE=foo` after it was silently ignored).
#[test]
fn malformed_dotenv_names_file_line_and_reason() {
    let bad_name =
        "\"RATE LIMIT\" is not a variable name (letters, digits, _ and ., not starting with a digit)";
    let bad_value = "the value has an unquoted space, an unclosed quote or an unknown escape \
                     (quote a value with spaces: NAME=\"a b\")";
    for (content, line) in [
        (
            "PORT=0\nRATE LIMIT=5\nSTORE=foo\n",
            format!("line 2 \"RATE LIMIT=5\": {bad_name}"),
        ),
        (
            "# chat\n\nPORT=0\nCORS_ORIGINS=http://a.example http://b.example\n",
            format!("line 4 \"CORS_ORIGINS=http://a.example http://b.example\": {bad_value}"),
        ),
    ] {
        let dir = WorkDir::with_dotenv(content.as_bytes());
        let (code, messages, _) = failed_start(&dir, &[]);
        assert_eq!(code, Some(1), "{messages:?}");
        assert_eq!(messages, [format!("cannot load {}: {line}", dir.dotenv())]);
    }
}

/// A `.env` that cannot be read (here: not UTF-8) stops the server too.
#[test]
fn unreadable_dotenv_stops_the_server() {
    let dir = WorkDir::with_dotenv(b"PORT=0\nSTORE=\xff\n");
    let (code, messages, _) = failed_start(&dir, &[]);
    assert_eq!(code, Some(1));
    assert_eq!(
        messages,
        [format!(
            "cannot load {}: stream did not contain valid UTF-8",
            dir.dotenv()
        )]
    );
}

/// A port nothing listens on.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Nothing listening where Redis should be: one line saying what was tried and what to check,
/// at once (no wait for the timeout), and no "listening" before it.
#[test]
fn unreachable_redis_is_one_line_saying_what_to_check() {
    let port = free_port().to_string();
    let vars = [
        ("PORT", "0"),
        ("STORE", "redis"),
        ("REDIS_PORT", port.as_str()),
        ("REDIS_TIMEOUT_SECONDS", "1"),
    ];
    let (code, messages, took) = failed_start(&WorkDir::new(), &vars);
    assert_eq!(code, Some(1), "{messages:?}");
    let want = format!(
        "cannot start: cannot reach Redis at localhost:{port} (REDIS_URL, or REDIS_HOST and \
         REDIS_PORT): connection refused; is redis-server running there?"
    );
    assert_eq!(messages, [want]);
    assert!(!messages[0].contains("bb8"));
    assert!(took < Duration::from_secs(4), "took {took:?}");
}

/// Something that accepts connections but never answers: the same line, after the timeout.
#[test]
fn silent_redis_fails_after_the_timeout() {
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port().to_string();
    let vars = [
        ("PORT", "0"),
        ("STORE", "redis"),
        ("REDIS_HOST", "127.0.0.1"),
        ("REDIS_PORT", port.as_str()),
        ("REDIS_TIMEOUT_SECONDS", "1"),
    ];
    let (code, messages, took) = failed_start(&WorkDir::new(), &vars);
    assert_eq!(code, Some(1), "{messages:?}");
    let want = format!(
        "cannot start: cannot reach Redis at 127.0.0.1:{port} (REDIS_URL, or REDIS_HOST and \
         REDIS_PORT): no answer within 1 s; is redis-server running there?"
    );
    assert_eq!(messages, [want]);
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(4),
        "took {took:?}"
    );
}

/// A log written to a file has no colour codes, and says where it listens and on which store.
#[tokio::test]
async fn log_names_the_store_without_colours() {
    let (process, _app) = ServerProcess::start(&[]).await;
    let log = process.log();
    assert!(!log.contains("\x1b["), "{log:?}");
    let want = format!(
        " INFO chat_server::app: listening addr=127.0.0.1:{} store=memory\n",
        process.port
    );
    assert_eq!(log.matches(&want).count(), 1, "{log}");
}

/// On Redis the store shows as its address and key prefix (never the URL, which may hold a
/// password).
#[tokio::test]
async fn log_names_the_redis_store_by_address_and_prefix() {
    if skip_on_cluster("the log line of one plain Redis, started with a password") {
        return;
    }
    let redis = RedisServer::private_with(&["--requirepass", "s3cret-pass"]);
    let prefix = fresh_prefix();
    let url = format!("redis://:s3cret-pass@127.0.0.1:{}/0", redis.port);
    let vars = [
        ("STORE", "redis"),
        ("REDIS_URL", url.as_str()),
        ("REDIS_KEY_PREFIX", prefix.as_str()),
    ];
    let (process, _app) = ServerProcess::start(&vars).await;
    let log = process.log();
    let want = format!(
        " listening addr=127.0.0.1:{} store=redis at 127.0.0.1:{} (prefix {prefix})\n",
        process.port, redis.port
    );
    assert_eq!(log.matches(&want).count(), 1, "{log}");
    assert!(!log.contains("s3cret") && !log.contains("\x1b["), "{log}");
}
