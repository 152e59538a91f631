//! The journal of a run: what was done and seen, with wall-clock times in µs since the epoch
//! (the clock Redis stamps messages with, on this same machine). The clients, the driver and
//! the faults write to it; the checks read it after the run.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

/// Now, in µs since the epoch.
pub fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// How a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// The server sent a close frame with this code and reason.
    Closed(u16, String),
    /// The client sent a close frame (a disconnect, a reconnect, the end of the run).
    ByClient,
    /// The client dropped the TCP connection without a close frame.
    Dropped,
    /// The connection broke (an instance killed, a reset, a send that timed out).
    Lost(String),
}

/// A frame a client sent.
#[derive(Debug, Clone)]
pub struct Sent {
    pub at: i64,
    pub kind: &'static str,
    pub room: String,
    /// A text's content: unique in the run (`c<client>-<n>`), so its echo and its stored
    /// copy can be found.
    pub content: Option<String>,
}

/// One WebSocket connection, from its handshake to its end.
#[derive(Debug, Clone)]
pub struct Conn {
    pub id: usize,
    pub client: usize,
    pub user: String,
    pub instance: usize,
    /// When the handshake started and when the 101 came back.
    pub t0: i64,
    pub t1: i64,
    /// Every data frame received, with when.
    pub frames: Vec<(i64, Value)>,
    pub sent: Vec<Sent>,
    /// `None` while open.
    pub end: Option<(i64, End)>,
}

/// A history page read while the run went on.
#[derive(Debug, Clone)]
pub struct PageRead {
    pub at: i64,
    pub instance: usize,
    pub room: String,
    pub limit: usize,
    pub page: Vec<Value>,
}

/// Everything recorded in a run.
#[derive(Debug, Default)]
pub struct Journal {
    pub start: i64,
    /// One line per operation or fault carried out, with its outcome.
    pub events: Vec<(i64, String)>,
    pub conns: Vec<Conn>,
    pub pages: Vec<PageRead>,
    /// Operations carried out (not skipped).
    pub ops: usize,
    /// When each fault started.
    pub faults: Vec<i64>,
    /// When Redis last came back from a stop or a restart.
    pub redis_back: Option<i64>,
}

/// The journal, shared by the run's tasks.
#[derive(Clone, Default)]
pub struct Shared(Arc<Mutex<Journal>>);

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, Journal> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn event(&self, what: String) {
        self.lock().events.push((now_us(), what));
    }

    /// Records a new open connection; its index.
    pub fn open(&self, client: usize, user: &str, instance: usize, t0: i64) -> usize {
        let mut j = self.lock();
        let id = j.conns.len();
        j.conns.push(Conn {
            id,
            client,
            user: user.to_string(),
            instance,
            t0,
            t1: now_us(),
            frames: Vec::new(),
            sent: Vec::new(),
            end: None,
        });
        id
    }

    pub fn frame(&self, conn: usize, v: Value) {
        self.lock().conns[conn].frames.push((now_us(), v));
    }

    pub fn sent(&self, conn: usize, s: Sent) {
        self.lock().conns[conn].sent.push(s);
    }

    pub fn end(&self, conn: usize, end: End) {
        let mut j = self.lock();
        let what = format!("conn {conn} ended: {end:?}");
        let c = &mut j.conns[conn];
        if c.end.is_none() {
            c.end = Some((now_us(), end));
            j.events.push((now_us(), what));
        }
    }
}
