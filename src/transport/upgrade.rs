//! The WebSocket upgrade, done here rather than by `warp::ws` so that each connection's
//! buffers can be sized: warp leaves tungstenite's 128 KiB read buffer in place (resident
//! memory per idle connection: docs/performance.md).
//!
//! The accept loop (`server.rs`) moves hyper's `OnUpgrade` into an [`UpgradeSlot`] request
//! extension; the [`upgrade`] filter checks the handshake headers and takes it; [`Upgrade`]
//! answers 101 and, once the connection is switched, builds the stream with [`config`].

use std::sync::{Arc, Mutex, PoisonError};

use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use warp::Filter;
use warp::http::{HeaderMap, StatusCode, header};
use warp::hyper::upgrade::OnUpgrade;
use warp::reply::Response;

use super::readahead::ReadAhead;
use super::socket::Socket;
use crate::error::{ApiError, Rejected};

/// Each connection's read buffer, allocated up front and kept: small, since client frames are
/// small and most connections are idle (tungstenite grows it for a large frame). The socket
/// itself is read in larger pieces, through the thread's buffer (`readahead.rs`).
const READ_BUFFER_BYTES: usize = 256;
/// tungstenite writes only pings, pongs, error replies and the close, each at once: deliveries,
/// the bulk, are written in batches (`socket.rs`), with a buffer that lives only while a batch
/// is written. (Through tungstenite, its buffer would keep the largest size it ever reached.)
const WRITE_BUFFER_BYTES: usize = 0;

/// hyper's upgrade handle, shareable so a warp filter can take it (it is not `Clone`).
#[derive(Clone)]
pub struct UpgradeSlot(Arc<Mutex<Option<OnUpgrade>>>);

impl UpgradeSlot {
    pub fn new(on: OnUpgrade) -> Self {
        Self(Arc::new(Mutex::new(Some(on))))
    }

    fn take(&self) -> Option<OnUpgrade> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

/// An accepted handshake: its key, and the connection once switched.
pub struct Upgrade {
    key: String,
    on: OnUpgrade,
}

fn header_has(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// Checks the handshake headers (RFC 6455 §4.2.1); anything else is a 426.
pub fn upgrade() -> impl Filter<Extract = (Upgrade,), Error = warp::Rejection> + Clone {
    warp::header::headers_cloned()
        .and(warp::ext::optional::<UpgradeSlot>())
        .and_then(|headers: HeaderMap, slot: Option<UpgradeSlot>| async move {
            let valid = header_has(&headers, header::CONNECTION, "upgrade")
                && header_has(&headers, header::UPGRADE, "websocket")
                && headers
                    .get(header::SEC_WEBSOCKET_VERSION)
                    .is_some_and(|v| v == "13");
            let key = headers
                .get(header::SEC_WEBSOCKET_KEY)
                .and_then(|k| k.to_str().ok());
            match (valid, key, slot.and_then(|s| s.take())) {
                (true, Some(key), Some(on)) => Ok(Upgrade {
                    key: key.to_string(),
                    on,
                }),
                _ => Err(warp::reject::custom(Rejected(ApiError::UpgradeRequired))),
            }
        })
}

/// The stream settings: small buffers, frames bounded by `MAX_FRAME_BYTES`, and a bound on
/// what may wait unwritten (a client that stops reading is closed by its outbox first).
pub fn config(max_frame_bytes: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(WRITE_BUFFER_BYTES)
        .max_write_buffer_size(4 * 1024 * 1024)
        .max_message_size(Some(max_frame_bytes))
        .max_frame_size(Some(max_frame_bytes))
}

/// Our read path over a switched connection: tungstenite's server side over the read-ahead
/// socket, with `config`. Public only so that the read-path differential test and fuzz target
/// (`tests/read_path/`, `fuzz/`) drive exactly what each connection runs, with scripted bytes.
pub async fn server_stream<S: AsyncRead + AsyncWrite + Unpin>(
    io: S,
    config: WebSocketConfig,
) -> WebSocketStream<ReadAhead<S>> {
    WebSocketStream::from_raw_socket(ReadAhead::new(io), Role::Server, Some(config)).await
}

impl Upgrade {
    /// Answers 101 and runs `session` on the socket once the connection has switched.
    pub fn reply<F, Fut>(self, config: WebSocketConfig, session: F) -> Response
    where
        F: FnOnce(Socket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let accept = derive_accept_key(self.key.as_bytes());
        let on = self.on;
        tokio::spawn(async move {
            match on.await {
                Ok(upgraded) => {
                    let socket = server_stream(TokioIo::new(upgraded), config);
                    // Its own task, so that what waited for the switch (a task larger than the
                    // session's) is freed, not kept per connection.
                    tokio::spawn(session(Socket::new(socket.await)));
                }
                Err(e) => tracing::debug!(error = %e, "websocket upgrade failed"),
            }
        });
        let mut resp = Response::default();
        *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let h = resp.headers_mut();
        h.insert(header::CONNECTION, header::HeaderValue::from_static("upgrade"));
        h.insert(header::UPGRADE, header::HeaderValue::from_static("websocket"));
        if let Ok(v) = header::HeaderValue::from_str(&accept) {
            h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
        }
        resp
    }
}
