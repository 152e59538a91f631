//! One WebSocket connection: read client frames, write the outbox, close with the right code.
//!
//! A single task per connection `select!`s over shutdown, the slow-consumer flag, the outbox
//! and the next client frame (mini-redis style); no second writer task, to keep each idle
//! connection small. Clean-up (hub, presence) is the `Registration`'s `Drop`, so it also runs
//! when the upgrade never completes.

use std::sync::Arc;

use super::close::Close;
use super::handle::{self, Conn};
use crate::domain::UserId;
use crate::hub::Refused;
use crate::hub::outbox::Outbox;
use crate::state::AppState;
use crate::stats;
use crate::transport::Socket;
use crate::transport::socket::{Error, Sent};
use crate::usecases;

/// A connection registered in the hub and counted in presence; dropping it undoes both.
pub struct Registration {
    pub state: AppState,
    pub user: UserId,
    pub conn_id: u64,
    /// True once the store counted the connection (so presence must be decremented).
    pub counted: bool,
    /// Opened with `?resume=true`: its live messages wait for its first frame.
    pub resuming: bool,
    pub opened: std::time::Instant,
}

impl Registration {
    /// A connection registered in the hub as `conn_id`; counted in the metrics until dropped.
    pub fn new(state: &AppState, user: &UserId, conn_id: u64) -> Self {
        metrics::gauge!(stats::CONNECTIONS_OPEN).increment(1);
        metrics::counter!(stats::CONNECTIONS_OPENED).increment(1);
        let (state, user) = (state.clone(), user.clone());
        Self {
            state,
            user,
            conn_id,
            counted: false,
            resuming: false,
            opened: std::time::Instant::now(),
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Some(rooms) = self.state.hub.unregister(&self.user, self.conn_id) {
            self.state.backend.release(rooms);
            // Its last connection here: it stops typing wherever it was.
            let typing = self.state.typists.gone(&self.user);
            if !typing.is_empty() {
                let state = self.state.clone();
                self.state
                    .tasks
                    .spawn(async move { usecases::stop_typing(&state, typing).await });
            }
        }
        if self.counted {
            let (backend, user) = (self.state.backend.clone(), self.user.clone());
            // Tracked, so graceful shutdown waits until presence is written.
            self.state.tasks.spawn(async move {
                if let Err(e) = backend.disconnect(&user).await {
                    tracing::error!(%user, error = %e, "could not record disconnect");
                }
            });
        }
        metrics::gauge!(stats::CONNECTIONS_OPEN).decrement(1);
        tracing::info!(
            user = %self.user, conn = self.conn_id, seconds = self.opened.elapsed().as_secs_f64(),
            "websocket closed"
        );
    }
}

/// Closes a connection refused by a cap with 1013 (try again later) and the cap's reason.
pub async fn refuse(socket: Socket, refused: Refused) {
    tracing::warn!(%refused, "websocket refused");
    let reason = refused.to_string();
    socket.close(Some((Close::OverCap.code(), &reason))).await;
}

/// Runs a connection until the client leaves, it stalls, or the server shuts down.
///
/// The socket is not split: every branch's future is dropped before its handler runs, so the
/// handlers can write, and an idle connection carries no split lock.
#[allow(clippy::manual_async_fn)] // on purpose: see the first comment inside
pub fn run(mut socket: Socket, reg: Registration, outbox: Arc<Outbox>) -> impl Future<Output = ()> + Send {
    // An `async move` block over the arguments, not an `async fn`: the latter keeps each argument
    // twice in the task (as argument and as local), which every connection would pay for.
    async move {
        let (state, user) = (&reg.state, &reg.user);
        tracing::info!(%user, conn = reg.conn_id, "websocket open");
        // CONTRACT (WS_TIMEOUT_SECONDS): ping every interval; a peer silent for a whole
        // interval after a ping (no pong, no frame) is dead and is closed.
        let period = state.settings.ws_timeout;
        let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut heard = true;
        // Opened with `?resume=true` and no frame answered yet: live messages are held.
        let mut resuming = reg.resuming;
        // At shutdown, the heartbeat's next tick is this connection's turn to close (batches
        // spread over the drain time): one timer per connection, not two.
        let mut draining = false;
        let close: Option<Close> = loop {
            tokio::select! {
                biased;
                _ = state.shutdown.cancelled(), if !draining => {
                    draining = true;
                    heartbeat.reset_after(drain_delay(state, reg.conn_id));
                }
                frames = outbox.ready() => {
                    let Some(frames) = frames else {
                        break Some(Close::SlowConsumer);
                    };
                    // Batch: every waiting frame in one write, most often done at once.
                    let sent = match socket.send_batch(frames) {
                        Sent::Done(result) => result,
                        Sent::Waiting(rest) => rest.await,
                    };
                    if sent.is_err() {
                        break None;
                    }
                }
                _ = heartbeat.tick() => {
                    if std::mem::replace(&mut resuming, false) {
                        // No resume came within a heartbeat: live delivery starts as usual.
                        state.hub.resumed(reg.conn_id, &Default::default());
                    }
                    if draining {
                        break Some(Close::ShuttingDown);
                    }
                    if !std::mem::replace(&mut heard, false) {
                        break Some(Close::NoPong);
                    }
                    // Boxed, like every write here: its future would size the idle task.
                    if Box::pin(socket.ping()).await.is_err() {
                        break None;
                    }
                }
                incoming = socket.next() => match incoming.inspect(|_| heard = true) {
                    None => break None,
                    Some(Err(e)) => break close_for(&e),
                    Some(Ok(msg)) if msg.is_close() => break None,
                    Some(Ok(msg)) => {
                        // Boxed: handling a frame awaits the store, whose futures are large;
                        // inline, they would size every idle connection's task.
                        let conn = Conn { state, user, id: reg.conn_id, resuming, outbox: &outbox };
                        if Box::pin(handle::reply_to(&mut socket, conn, msg)).await.is_err() {
                            break None;
                        }
                        resuming = false;
                    }
                },
            }
        };
        // Boxed: the socket moves into the close, which must not size the idle task.
        Box::pin(socket.close(close.map(|c| (c.code(), c.reason())))).await;
        drop(reg);
    }
}

/// CONTRACT (SHUTDOWN_DRAIN_SECONDS): connections close in ten batches over the drain time,
/// so clients reconnecting elsewhere do not all arrive at once.
fn drain_delay(state: &AppState, conn_id: u64) -> std::time::Duration {
    state.settings.shutdown_drain / 10 * (conn_id % 10) as u32
}

/// The close a read error calls for: an oversized frame, a text frame that is not UTF-8, or
/// nothing for a vanished peer.
fn close_for(e: &Error) -> Option<Close> {
    match e {
        Error::Capacity(_) => Some(Close::TooBig),
        Error::Utf8(_) => Some(Close::NotUtf8),
        _ => None,
    }
}
