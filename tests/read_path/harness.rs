//! The read-path differential, shared by the `read_path` test (proptest) and the cargo-fuzz
//! target `fuzz/fuzz_targets/read_path.rs` (which includes this file by path).
//!
//! The same client bytes go through our read path (the read-ahead socket under tungstenite's
//! async stream, as `chat_server::transport::upgrade::server_stream` builds it for every
//! connection, with the server's own settings) cut into scripted reads, some of which are not
//! ready yet; and through plain tungstenite (its blocking `WebSocket`, default buffers, the
//! whole input at once, the same size limits). Both must read the same messages, end the same
//! way (the peer's close, or the same error) and write back the same bytes (pongs, the close
//! reply). Only the read path differs between the two, so any difference is ours.

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use chat_server::transport::upgrade;
use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tungstenite::protocol::{Role, WebSocketConfig};
use tungstenite::{Error, Message};

/// One input: the client's bytes, how they arrive, and the largest frame and message allowed.
#[derive(Debug, Clone)]
pub struct Case {
    pub bytes: Vec<u8>,
    /// Each read in turn returns at most this many bytes; 0 is a read not ready yet (it wakes
    /// at once). Past the list, reads take all the reader asks for.
    pub reads: Vec<u16>,
    pub max: usize,
}

/// How a reader ended.
#[derive(Debug, Clone, PartialEq)]
pub enum End {
    /// The close handshake finished (or the stream was already closed).
    Closed,
    /// tungstenite's error, as its `Debug` text.
    Failed(String),
}

/// What a reader made of a case.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub messages: Vec<Message>,
    pub end: End,
    /// What it wrote back to the client.
    pub written: Vec<u8>,
}

fn ended(e: Error) -> End {
    match e {
        Error::ConnectionClosed | Error::AlreadyClosed => End::Closed,
        e => End::Failed(format!("{e:?}")),
    }
}

/// The client side of our read path: scripted reads, writes kept.
struct Scripted<'a> {
    case: &'a Case,
    at: usize,
    read: usize,
    written: Rc<RefCell<Vec<u8>>>,
}

impl AsyncRead for Scripted<'_> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let most = match this.case.reads.get(this.read) {
            Some(0) => {
                this.read += 1;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            Some(&n) => usize::from(n),
            None => usize::MAX,
        };
        this.read += 1;
        let n = most.min(buf.remaining()).min(this.case.bytes.len() - this.at);
        buf.put_slice(&this.case.bytes[this.at..this.at + n]);
        this.at += n;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Scripted<'_> {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.written.borrow_mut().extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Polls `f` to completion. Only the scripted reads are ever not ready, and each wakes at
/// once, so more polls in a row than scripted reads means the reader is stuck: a finding.
fn run<F: Future>(f: F, most_pending: usize) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..=most_pending {
        if let Poll::Ready(out) = f.as_mut().poll(&mut cx) {
            return out;
        }
    }
    panic!("the read path is stuck: still pending after every scripted read")
}

/// The case through our read path.
pub fn ours(case: &Case) -> Outcome {
    let written = Rc::new(RefCell::new(Vec::new()));
    let io = Scripted {
        case,
        at: 0,
        read: 0,
        written: written.clone(),
    };
    let (messages, end) = run(
        async {
            let mut ws = upgrade::server_stream(io, upgrade::config(case.max)).await;
            let mut messages = Vec::new();
            loop {
                match ws.next().await {
                    Some(Ok(m)) => messages.push(m),
                    Some(Err(e)) => return (messages, ended(e)),
                    None => return (messages, End::Closed),
                }
            }
        },
        case.reads.len(),
    );
    let written = written.take();
    Outcome {
        messages,
        end,
        written,
    }
}

/// The client side of plain tungstenite: the whole input, writes kept.
struct Plain<'a> {
    rest: &'a [u8],
    written: Vec<u8>,
}

impl Read for Plain<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.rest.read(buf)
    }
}

impl Write for Plain<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.written.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The case through plain tungstenite.
pub fn theirs(case: &Case) -> Outcome {
    let config = WebSocketConfig::default()
        .max_message_size(Some(case.max))
        .max_frame_size(Some(case.max));
    let io = Plain {
        rest: &case.bytes,
        written: Vec::new(),
    };
    let mut ws = tungstenite::WebSocket::from_raw_socket(io, Role::Server, Some(config));
    let mut messages = Vec::new();
    let end = loop {
        match ws.read() {
            Ok(m) => messages.push(m),
            Err(e) => break ended(e),
        }
    };
    Outcome {
        messages,
        end,
        written: std::mem::take(&mut ws.get_mut().written),
    }
}

/// Runs both; `Err` says how they differ.
pub fn differ(case: &Case) -> Result<Outcome, String> {
    let (a, b) = (ours(case), theirs(case));
    if a == b {
        return Ok(a);
    }
    let first = a.messages.iter().zip(&b.messages).position(|(x, y)| x != y);
    Err(format!(
        "our read path and tungstenite differ: {} and {} messages (first different: {first:?}), \
         ends {:?} and {:?}, {} and {} bytes written",
        a.messages.len(),
        b.messages.len(),
        a.end,
        b.end,
        a.written.len(),
        b.written.len()
    ))
}

/// A client frame to encode, with every field a fuzzer may get wrong.
#[derive(Debug, Clone)]
pub struct Frame {
    pub fin: bool,
    /// The three reserved bits (non-zero is a protocol error without an extension).
    pub rsv: u8,
    /// Four bits: 0 continuation, 1 text, 2 binary, 8 close, 9 ping, 10 pong, others reserved.
    pub opcode: u8,
    /// `None`: unmasked (a client must mask).
    pub mask: Option<[u8; 4]>,
    /// 0: the shortest length form; 1: the 16-bit form; 2: the 64-bit form, whatever the length.
    pub form: u8,
    /// The length the header claims, when it lies (the payload is then truncated or padded by
    /// what follows).
    pub claimed: Option<u64>,
    pub payload: Vec<u8>,
}

impl Frame {
    /// The frame's bytes on the wire.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(u8::from(self.fin) << 7 | (self.rsv & 7) << 4 | (self.opcode & 15));
        let len = self.claimed.unwrap_or(self.payload.len() as u64);
        let masked = if self.mask.is_some() { 0x80 } else { 0 };
        match self.form {
            0 if len < 126 => out.push(masked | len as u8),
            0 | 1 if len <= u64::from(u16::MAX) => {
                out.push(masked | 126);
                out.extend_from_slice(&(len as u16).to_be_bytes());
            }
            _ => {
                out.push(masked | 127);
                out.extend_from_slice(&len.to_be_bytes());
            }
        }
        match self.mask {
            Some(key) => {
                out.extend_from_slice(&key);
                out.extend(self.payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
            }
            None => out.extend_from_slice(&self.payload),
        }
    }
}
