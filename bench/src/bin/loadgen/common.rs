//! What every scenario shares: the target, WebSocket connections from many loopback source
//! addresses, the process sampler (/proc), latency histograms, global counters and the
//! once-a-second progress line.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Mutex;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::client::generate_key;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

pub type Ws = WebSocketStream<TcpStream>;
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

static EPOCH: OnceLock<Instant> = OnceLock::new();

/// Microseconds on the generator's monotonic clock: senders embed it in the content and every
/// receiver subtracts it from its own reading, so all latencies are on one clock.
pub fn now_us() -> u64 {
    EPOCH.get_or_init(Instant::now).elapsed().as_micros() as u64
}

// ------------------------------------------------------------------ counters and progress

pub static CONNS: AtomicU64 = AtomicU64::new(0);
pub static JOINED: AtomicU64 = AtomicU64::new(0);
pub static SENT: AtomicU64 = AtomicU64::new(0);
pub static DELIVERED: AtomicU64 = AtomicU64::new(0);
pub static REQUESTS: AtomicU64 = AtomicU64::new(0);
pub static ERRORS: AtomicU64 = AtomicU64::new(0);
pub static CLOSED: AtomicU64 = AtomicU64::new(0);
/// `now_us()` of the newest measured delivery.
pub static LAST_DELIVERY_US: AtomicU64 = AtomicU64::new(0);
static FIRST_ERROR: Mutex<Option<String>> = Mutex::new(None);
static PHASE: Mutex<&'static str> = Mutex::new("start");
static STOP_PROGRESS: AtomicBool = AtomicBool::new(false);

/// Counts an error and keeps the first one's text for the report.
pub fn note_error(detail: impl Into<String>) {
    ERRORS.fetch_add(1, Relaxed);
    let mut first = FIRST_ERROR.lock().unwrap();
    if first.is_none() {
        let detail = detail.into();
        eprintln!("loadgen: first error: {detail}");
        *first = Some(detail);
    }
}

pub fn first_error() -> Option<String> {
    FIRST_ERROR.lock().unwrap().clone()
}

pub fn set_phase(phase: &'static str) {
    *PHASE.lock().unwrap() = phase;
}

/// Prints one line a second to stderr until `stop_progress`.
pub fn spawn_progress(scenario: &'static str) {
    tokio::spawn(async move {
        let start = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.tick().await;
        let (mut last_delivered, mut last_requests, mut last_sent) = (0, 0, 0);
        loop {
            tick.tick().await;
            if STOP_PROGRESS.load(Relaxed) {
                break;
            }
            let (d, r, s) = (
                DELIVERED.load(Relaxed),
                REQUESTS.load(Relaxed),
                SENT.load(Relaxed),
            );
            let mut line = format!(
                "[{scenario} {:>4.0}s] {:<8} conns {} joined {} sent {} (+{}/s) delivered {} (+{}/s)",
                start.elapsed().as_secs_f64(),
                *PHASE.lock().unwrap(),
                CONNS.load(Relaxed),
                JOINED.load(Relaxed),
                s,
                s - last_sent,
                d,
                d - last_delivered,
            );
            if r > 0 {
                line += &format!(" requests {r} (+{}/s)", r - last_requests);
            }
            line += &format!(" errors {} closed {}", ERRORS.load(Relaxed), CLOSED.load(Relaxed));
            eprintln!("{line}");
            (last_delivered, last_requests, last_sent) = (d, r, s);
        }
    });
}

pub fn stop_progress() {
    STOP_PROGRESS.store(true, Relaxed);
}

// ------------------------------------------------------------------ target and connections

#[derive(Clone)]
pub struct Target {
    pub addr: SocketAddr,
    /// `host:port` as given, for URLs.
    pub authority: String,
    /// Loopback source network `127.a.b.0`, chosen at random per run so that the ports a run
    /// leaves in TIME_WAIT do not starve the next run.
    pub src: [u8; 2],
    /// Each WebSocket's read buffer (see `connect`).
    pub read_buffer: usize,
}

/// Connections per source address: below the ~28k ephemeral ports of one (source, destination) pair.
const PER_SOURCE: usize = 20_000;

impl Target {
    pub async fn new(url: &str) -> Result<Self, BoxError> {
        let authority = url
            .trim_start_matches("http://")
            .trim_start_matches("ws://")
            .trim_end_matches('/')
            .to_string();
        let addr = tokio::net::lookup_host(&authority)
            .await?
            .find(|a| a.is_ipv4())
            .ok_or("no IPv4 address for the target")?;
        if !addr.ip().is_loopback() {
            return Err("the generator only drives servers on loopback (127.0.0.0/8)".into());
        }
        let seed = std::process::id() as u64 ^ now_nanos();
        let src = [1 + (seed % 254) as u8, ((seed >> 8) % 256) as u8];
        Ok(Self {
            addr,
            authority,
            src,
            read_buffer: 16 * 1024,
        })
    }

    pub fn http(&self, path: &str) -> String {
        format!("http://{}{path}", self.authority)
    }

    /// Opens the WebSocket `/ws/{user}` from source address number `i / PER_SOURCE`.
    ///
    /// The opening handshake (RFC 6455 §4.1) is written here: one write, reads until the end
    /// of the answer's head, the status and `Sec-WebSocket-Accept` checked. tungstenite's
    /// client handshake builds an `http::Request`, a header map and a zeroed 4 KiB read chunk
    /// per connection: the generator then needed more CPU per connection than the server it
    /// measured, on the same two cores, and set the connections-per-second figure itself.
    pub async fn connect(&self, user: &str, i: usize) -> Result<Ws, BoxError> {
        let host = 1 + (i / PER_SOURCE) as u8;
        let src = Ipv4Addr::new(127, self.src[0], self.src[1], host);
        let socket = TcpSocket::new_v4()?;
        socket.bind(SocketAddr::new(src.into(), 0))?;
        let mut stream = socket.connect(self.addr).await?;
        stream.set_nodelay(true)?;
        let key = generate_key();
        let request = format!(
            "GET /ws/{user} HTTP/1.1\r\nHost: {}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n\r\n",
            self.authority
        );
        stream.write_all(request.as_bytes()).await?;
        let (head, rest) = read_head(&mut stream).await?;
        check_switch(&head, &key)?;
        // tungstenite's default read buffer is 128 KiB, zeroed on first read: with thousands
        // of connections that made the generator, not the server, the limit on connections
        // opened per second. 16 KiB still takes a burst of frames in one read; idle
        // connections, which receive a few small frames, get less (see idle.rs).
        let config = WebSocketConfig::default().read_buffer_size(self.read_buffer);
        Ok(WebSocketStream::from_partially_read(stream, rest, Role::Client, Some(config)).await)
    }
}

/// The head of an HTTP answer (up to its blank line) and the bytes read past it (the first
/// frames, if the server wrote some at once).
async fn read_head(stream: &mut TcpStream) -> Result<(String, Vec<u8>), BoxError> {
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 512];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err("connection closed during the handshake".into());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return Ok((String::from_utf8_lossy(&buf).into_owned(), rest));
        }
        if buf.len() > 16 * 1024 {
            return Err("handshake answer head over 16 KiB".into());
        }
    }
}

/// Accepts `101 Switching Protocols` with the accept value derived from `key`; anything else
/// is an error that names the status line.
fn check_switch(head: &str, key: &str) -> Result<(), BoxError> {
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or_default();
    if status.split(' ').nth(1) != Some("101") {
        return Err(format!("handshake refused: {status}").into());
    }
    let expected = derive_accept_key(key.as_bytes());
    let accepted = lines.filter_map(|l| l.split_once(':')).any(|(name, value)| {
        name.trim().eq_ignore_ascii_case("sec-websocket-accept") && value.trim() == expected
    });
    if !accepted {
        return Err("handshake: missing or wrong Sec-WebSocket-Accept".into());
    }
    Ok(())
}

pub fn now_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// A run prefix for user and room ids, so repeated runs against a persistent store never collide.
pub fn run_prefix() -> String {
    format!(
        "lg{:x}",
        (now_nanos() / 1000) ^ ((std::process::id() as u64) << 40)
    )
}

/// A client frame; `chat_id` and content never need escaping (ids and our own content are
/// from the id alphabet, digits, `|` and `x`).
pub fn text_frame(chat_id: &str, content: &str) -> String {
    format!(r#"{{"type":"text","chat_id":"{chat_id}","content":"{content}"}}"#)
}

pub fn join_frame(chat_id: &str) -> String {
    format!(r#"{{"type":"join","chat_id":"{chat_id}"}}"#)
}

/// The fields of a server frame that the generator reads.
#[derive(serde::Deserialize)]
pub struct Frame<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    pub chat_id: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    pub content: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    pub detail: Option<std::borrow::Cow<'a, str>>,
}

// ------------------------------------------------------------------ /proc sampling

#[derive(Clone, Copy, Default)]
pub struct ProcSample {
    /// utime + stime, in clock ticks.
    pub ticks: u64,
    pub rss_kib: u64,
}

pub fn sample(pid: Option<u32>) -> Option<ProcSample> {
    let pid = pid?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start at field 3 (state);
    // utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    Some(ProcSample { ticks, rss_kib })
}

/// The sum over several processes (the nodes of a Redis Cluster); `None` if any is missing.
pub fn sample_all(pids: &[u32]) -> Option<ProcSample> {
    let mut sum = ProcSample::default();
    for pid in pids {
        let s = sample(Some(*pid))?;
        sum.ticks += s.ticks;
        sum.rss_kib += s.rss_kib;
    }
    (!pids.is_empty()).then_some(sum)
}

/// CPU time and memory of the server (and of its Redis, if any: all of a cluster's nodes)
/// over a measured phase.
#[derive(Clone)]
pub struct Procs {
    pub server: Option<u32>,
    pub redis: Vec<u32>,
    pub clk_tck: u64,
}

pub struct Mark {
    server: Option<ProcSample>,
    redis: Option<ProcSample>,
    generator: Option<ProcSample>,
}

pub struct Usage {
    pub server_cpu_s: Option<f64>,
    pub redis_cpu_s: Option<f64>,
    /// This process: near the machine's cores means the generator, not the server, was the limit.
    pub generator_cpu_s: Option<f64>,
    pub server_rss_kib: Option<u64>,
    pub redis_rss_kib: Option<u64>,
}

impl Procs {
    pub fn mark(&self) -> Mark {
        Mark {
            server: sample(self.server),
            redis: sample_all(&self.redis),
            generator: sample(Some(std::process::id())),
        }
    }

    pub fn since(&self, mark: &Mark) -> Usage {
        let now = self.mark();
        let cpu = |a: Option<ProcSample>, b: Option<ProcSample>| {
            Some((b?.ticks.saturating_sub(a?.ticks)) as f64 / self.clk_tck as f64)
        };
        Usage {
            server_cpu_s: cpu(mark.server, now.server),
            redis_cpu_s: cpu(mark.redis, now.redis),
            generator_cpu_s: cpu(mark.generator, now.generator),
            server_rss_kib: now.server.map(|s| s.rss_kib),
            redis_rss_kib: now.redis.map(|s| s.rss_kib),
        }
    }

    pub fn rss(&self) -> (Option<u64>, Option<u64>) {
        (
            sample(self.server).map(|s| s.rss_kib),
            sample_all(&self.redis).map(|s| s.rss_kib),
        )
    }
}

impl Usage {
    /// `count` per server CPU-second, per server+Redis CPU-second, and the raw CPU figures.
    pub fn per_cpu(&self, name: &str, count: f64) -> serde_json::Map<String, Value> {
        let mut m = serde_json::Map::new();
        m.insert("server_cpu_s".into(), json!(self.server_cpu_s.map(round3)));
        m.insert("redis_cpu_s".into(), json!(self.redis_cpu_s.map(round3)));
        m.insert("generator_cpu_s".into(), json!(self.generator_cpu_s.map(round3)));
        let per = |cpu: Option<f64>| cpu.filter(|c| *c > 0.0).map(|c| (count / c).round());
        m.insert(format!("{name}_per_server_cpu_s"), json!(per(self.server_cpu_s)));
        let total = self.server_cpu_s.map(|s| s + self.redis_cpu_s.unwrap_or(0.0));
        m.insert(format!("{name}_per_total_cpu_s"), json!(per(total)));
        m.insert("server_rss_kib".into(), json!(self.server_rss_kib));
        m.insert("redis_rss_kib".into(), json!(self.redis_rss_kib));
        m
    }
}

pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

// ------------------------------------------------------------------ latency

pub fn histogram() -> Histogram<u64> {
    Histogram::new(3).expect("3 significant figures is valid")
}

/// Percentiles in milliseconds of a histogram recorded in microseconds.
pub fn latency_json(h: &Histogram<u64>) -> Value {
    let ms = |us: u64| round3(us as f64 / 1000.0);
    json!({
        "count": h.len(),
        "p50_ms": ms(h.value_at_quantile(0.50)),
        "p90_ms": ms(h.value_at_quantile(0.90)),
        "p99_ms": ms(h.value_at_quantile(0.99)),
        "p999_ms": ms(h.value_at_quantile(0.999)),
        "max_ms": ms(h.max()),
        "mean_ms": round3(h.mean() / 1000.0),
    })
}

/// Per (receiver, sender) sequence check: contiguous and increasing, or it counts a loss, a
/// duplicate or a reordering.
#[derive(Default, Clone)]
pub struct SeqTrack {
    next: u64,
    missing: std::collections::BTreeSet<u64>,
}

pub enum Seen {
    InOrder,
    Reordered,
    Duplicate,
}

impl SeqTrack {
    pub fn see(&mut self, seq: u64) -> Seen {
        if seq == self.next {
            self.next += 1;
            Seen::InOrder
        } else if seq > self.next {
            // Cap the gap so that a garbled number cannot exhaust memory.
            for s in self.next..seq.min(self.next + 1_000_000) {
                self.missing.insert(s);
            }
            self.next = seq + 1;
            Seen::InOrder
        } else if self.missing.remove(&seq) {
            Seen::Reordered
        } else {
            Seen::Duplicate
        }
    }

    /// Distinct sequence numbers received.
    pub fn received(&self) -> u64 {
        self.next - self.missing.len() as u64
    }
}
