//! The accept loop: warp's routes served by hyper, with what warp's own server does not let
//! us set.
//!
//! - A bound on reading a request's headers (`WS_TIMEOUT_SECONDS`): a client that opens a TCP
//!   connection and never completes its HTTP request or WebSocket handshake, or leaves a
//!   keep-alive connection idle, is dropped within it.
//! - The same bound on the first byte: a client that connects and sends nothing is dropped
//!   within it too (hyper's bound starts only once a byte has come: see [`first_byte`]).
//! - Graceful shutdown: stop accepting, let in-flight requests finish, then return.
//! - WebSocket upgrades handed to our own filter, which sizes each connection's buffers.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use warp::http::Request;
use warp::hyper::body::Incoming;
use warp::hyper::service::service_fn;
use warp::hyper::upgrade::OnUpgrade;

use super::upgrade::UpgradeSlot;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use warp::filters::BoxedFilter;
use warp::reply::Response;

/// Accept queue length asked of the kernel (capped by `net.core.somaxconn`). tokio's own
/// `TcpListener::bind` asks for 128: a burst of handshakes (a reconnect storm after a restart,
/// the bench's 256 in flight) then overflows it and each dropped SYN costs its client a 1 s
/// retransmit.
const BACKLOG: u32 = 4096;

/// Listens on the first address `host:port` resolves to, with a long accept queue.
pub async fn bind(host: &str, port: u16) -> std::io::Result<TcpListener> {
    let addr = tokio::net::lookup_host((host, port))
        .await?
        .next()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no address"))?;
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// Serves `routes` on `listener` until `shutdown` completes, then waits for open requests.
pub async fn serve(
    listener: TcpListener,
    routes: BoxedFilter<(Response,)>,
    header_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    // HTTP/2 (h2c) has no header timeout: a client that sent the preface and nothing else
    // held its connection for good, and held up a graceful shutdown with it. A keep-alive ping
    // it does not answer within the timeout now drops it, as a silent WebSocket is dropped.
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(header_timeout)
        .keep_alive_timeout(header_timeout);
    let builder = Arc::new(builder);
    let graceful = GracefulShutdown::new();
    // Connections still waiting for their first byte have no request to finish: at shutdown
    // they are dropped at once rather than holding the drain for up to `header_timeout`.
    let silent = CancellationToken::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let routes = warp::service(routes.clone());
        let (builder, silent, watcher) = (builder.clone(), silent.clone(), graceful.watcher());
        tokio::spawn(async move {
            if !first_byte(&stream, header_timeout, &silent).await {
                return; // dropped: the socket is closed
            }
            drop(silent);
            // hyper's upgrade handle is not `Clone`, so warp filters cannot reach it: hand it
            // over in a slot the WebSocket route takes it from (upgrade.rs).
            let service = service_fn(move |mut req: Request<Incoming>| {
                if let Some(on) = req.extensions_mut().remove::<OnUpgrade>() {
                    req.extensions_mut().insert(UpgradeSlot::new(on));
                }
                let mut routes = routes.clone();
                tower_service::Service::call(&mut routes, req)
            });
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            if let Err(e) = watcher.watch(conn).await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener); // refuse new connections while the others finish
    silent.cancel();
    graceful.shutdown().await;
}

/// Waits until the client has sent something (or closed); false if it sent nothing within
/// `within`, or the server is stopping.
///
/// Why here: hyper bounds reading a request's headers only from its first byte on, and before
/// that hyper-util's `auto` builder waits, unbounded, for the bytes that tell HTTP/1 from
/// HTTP/2. A client that connected and stayed silent was therefore never dropped, and enough of
/// them would exhaust the server's file descriptors. A peek, not `readable()`: readiness can be
/// reported with nothing to read, and only a byte (or the end of the stream) ends this wait.
async fn first_byte(stream: &TcpStream, within: Duration, stopping: &CancellationToken) -> bool {
    let mut byte = [0u8; 1];
    tokio::select! {
        _ = stopping.cancelled() => false,
        // `Ok(0)`, the end of the stream, is nothing to serve either.
        peeked = tokio::time::timeout(within, stream.peek(&mut byte)) => matches!(peeked, Ok(Ok(n)) if n > 0),
    }
}
