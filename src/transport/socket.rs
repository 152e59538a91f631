//! A WebSocket connection as the session sees it: its methods are the only ways to write, so
//! the rules that keep two writers (tungstenite and our raw batches) apart cannot be broken.
//!
//! - Deliveries go out as a batch of raw text frames in one vectored write (`wire.rs`), after whatever
//!   tungstenite holds is flushed, so raw bytes never land inside one of its frames.
//! - Everything else (pings, error frames, the close) goes through tungstenite, written at
//!   once (its write buffer is 0: see `upgrade.rs`).
//! - The close is sent once and the connection ended through the sink (the stream's own
//!   `close(frame)` would send a second close frame).

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::{Sink, SinkExt, StreamExt};
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tungstenite::protocol::CloseFrame;
use warp::hyper::upgrade::Upgraded;

use super::readahead::ReadAhead;
use super::wire::{self, Progress};
use crate::hub::outbox::Batch;

pub use tungstenite::{Error, Message};

/// What became of a batch: written, or the rest of its write to await.
pub enum Sent<'a> {
    Done(Result<(), Error>),
    Waiting(Pin<Box<Sending<'a>>>),
}

/// The write of a batch: tungstenite's buffer flushed first, then the frames (`wire.rs`).
pub struct Sending<'a> {
    inner: &'a mut Stream,
    frames: Batch,
    at: Progress,
    flushed: bool,
}

impl Future for Sending<'_> {
    type Output = Result<(), Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if !this.flushed {
            // What tungstenite holds (a pong, an error frame) goes first and whole.
            std::task::ready!(Pin::new(&mut *this.inner).poll_flush(cx))?;
            this.flushed = true;
        }
        let io = this.inner.get_mut();
        wire::poll_write_batch(io, cx, &this.frames, &mut this.at).map_err(Error::Io)
    }
}

type Stream = WebSocketStream<ReadAhead<TokioIo<Upgraded>>>;

/// What the stream said when [`Socket::ready`] found no message to hand over (its end, an
/// error or a close): `next` says it. Boxed, so that it costs an idle connection one word.
type Held = Option<Box<Option<Result<Message, Error>>>>;

/// An upgraded connection, read through the thread's buffer (`readahead.rs`).
pub struct Socket {
    inner: Stream,
    held: Held,
}

impl Socket {
    pub(super) fn new(inner: Stream) -> Self {
        Self { inner, held: None }
    }

    /// The next message from the client (tungstenite answers pings and a close by itself);
    /// `None` once the connection is gone.
    pub async fn next(&mut self) -> Option<Result<Message, Error>> {
        if let Some(held) = self.held.take() {
            return *held;
        }
        self.inner.next().await
    }

    /// The next message if the client already sent it (it is read, or in the socket), without
    /// waiting: a burst of frames can then be handled together. Its end, an error or a close
    /// is kept for `next`.
    pub fn ready(&mut self) -> Option<Message> {
        if self.held.is_some() {
            return None;
        }
        // The session polls `next` with its own waker before it sleeps again, so the no-op
        // waker registered here is replaced before anything could need it.
        let mut now = Context::from_waker(futures_util::task::noop_waker_ref());
        match self.inner.poll_next_unpin(&mut now) {
            Poll::Pending => None,
            Poll::Ready(Some(Ok(msg))) if !msg.is_close() => Some(msg),
            Poll::Ready(other) => {
                self.held = Some(Box::new(other));
                None
            }
        }
    }

    /// Gives back a message `ready` handed over: `next` hands it over again.
    pub fn hold(&mut self, msg: Message) {
        self.held = Some(Box::new(Some(Ok(msg))));
    }

    /// Writes a batch of deliveries, in order, in one vectored write. Nearly always the socket
    /// has room and the batch goes out here and now, with no future kept (a boxed one per
    /// batch would be an allocation per delivery for a client that reads each frame as it
    /// comes, an inline one would grow every idle connection's task); only a write that must
    /// wait hands back the rest, boxed, to be awaited.
    pub fn send_batch(&mut self, frames: Batch) -> Sent<'_> {
        let mut sending = Sending {
            inner: &mut self.inner,
            frames,
            at: Progress::default(),
            flushed: false,
        };
        let mut now = Context::from_waker(futures_util::task::noop_waker_ref());
        match Pin::new(&mut sending).poll(&mut now) {
            Poll::Ready(result) => Sent::Done(result),
            Poll::Pending => Sent::Waiting(Box::pin(sending)),
        }
    }

    /// Writes one text frame now (an error frame).
    pub async fn send_text(&mut self, text: String) -> Result<(), Error> {
        self.inner.send(Message::text(text)).await
    }

    /// Writes a ping now.
    pub async fn ping(&mut self) -> Result<(), Error> {
        self.inner.send(Message::Ping(Default::default())).await
    }

    /// Sends a close frame with `code` and `reason` (if any), then ends the connection: a
    /// close reply the client is owed is written, and the socket shut.
    pub async fn close(mut self, close: Option<(u16, &str)>) {
        if let Some((code, reason)) = close {
            let frame = CloseFrame {
                code: code.into(),
                reason: reason.to_string().into(),
            };
            let _ = self.inner.send(Message::Close(Some(frame))).await;
        }
        let _ = SinkExt::close(&mut self.inner).await;
    }
}
