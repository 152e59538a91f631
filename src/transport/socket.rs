//! A WebSocket connection as the session sees it: its methods are the only ways to write, so
//! the rules that keep two writers (tungstenite and our raw batches) apart cannot be broken.
//!
//! - Deliveries go out as a batch of raw text frames in one vectored write (`wire.rs`), after whatever
//!   tungstenite holds is flushed, so raw bytes never land inside one of its frames.
//! - Everything else (pings, error frames, the close) goes through tungstenite, written at
//!   once (its write buffer is 0: see `upgrade.rs`).
//! - The close is sent once and the connection ended through the sink (the stream's own
//!   `close(frame)` would send a second close frame).

use futures_util::{SinkExt, StreamExt};
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tungstenite::protocol::CloseFrame;
use warp::hyper::upgrade::Upgraded;

use super::readahead::ReadAhead;
use super::wire;
use crate::hub::outbox::Batch;

pub use tungstenite::{Error, Message};

/// An upgraded connection, read through the thread's buffer (`readahead.rs`).
pub struct Socket {
    inner: WebSocketStream<ReadAhead<TokioIo<Upgraded>>>,
}

impl Socket {
    pub(super) fn new(inner: WebSocketStream<ReadAhead<TokioIo<Upgraded>>>) -> Self {
        Self { inner }
    }

    /// The next message from the client (tungstenite answers pings and a close by itself);
    /// `None` once the connection is gone.
    pub async fn next(&mut self) -> Option<Result<Message, Error>> {
        self.inner.next().await
    }

    /// Writes a batch of deliveries, in order, in one write.
    pub async fn send_batch(&mut self, frames: Batch) -> Result<(), Error> {
        // What tungstenite holds (a pong, an error frame) goes first and whole.
        self.inner.flush().await?;
        wire::write_batch(self.inner.get_mut(), &frames).await?;
        Ok(())
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
