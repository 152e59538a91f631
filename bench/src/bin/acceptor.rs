//! The ceiling for "connections opened/s" on a machine: a WebSocket acceptor that answers the
//! upgrade with `101` and then only reads, with no chat behind it. Measured with the generator's
//! `idle` scenario, whose connect phase it completes (its join phase then fails: there are no
//! rooms here, so the run reports itself incomplete; read `connections_per_s`):
//!
//! ```text
//! PORT=9100 cargo run --release -p chat-bench --bin acceptor &
//! cargo run --release -p chat-bench --bin loadgen -- --url http://127.0.0.1:9100 --server-pid $! \
//!     --json ceiling.json idle --connections 10000 --settle 0.2 --hold 0.2 --duration 6
//! ```
//!
//! Its accept loop is the relay's (`chat_bench::listen`: one thread, the server's accept queue
//! and `TCP_NODELAY`), so what it reaches is what the kernel's handshakes and the generator
//! allow (docs/performance.md).

use std::error::Error;

use chat_bench::listen;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tungstenite::handshake::derive_accept_key;

fn main() -> Result<(), Box<dyn Error>> {
    listen::serve(9100, hold)
}

/// Reads the request head, answers 101, then reads until the peer goes away.
async fn hold(mut stream: TcpStream) {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 512];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&head);
    let key = text
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("sec-websocket-key"))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default();
    let answer = format!(
        "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        derive_accept_key(key.as_bytes())
    );
    if stream.write_all(answer.as_bytes()).await.is_err() {
        return;
    }
    while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
}
