//! Our own HTTP/WebSocket transport: the parts of warp and tungstenite we replace, each for a
//! measured reason (figures in docs/performance.md), kept in this one folder.
//!
//! What is ours:
//! - `server.rs`: the accept loop (hyper-util's connection builder serving warp's routes):
//!   a long accept queue, a bound on the first byte and on reading request headers, graceful
//!   drain, and hyper's upgrade handle passed on to our upgrade.
//! - `upgrade.rs`: the WebSocket handshake and switch, instead of `warp::ws`, so that each
//!   connection's buffers are small (warp keeps tungstenite's 128 KiB read buffer).
//! - `readahead.rs`: reads a socket through one buffer per thread, so a burst of client frames
//!   costs one system call and an idle connection holds no read-ahead bytes.
//! - `wire.rs` + `socket.rs`: deliveries encoded as raw text frames and written in one write
//!   per batch, instead of one tungstenite flush every few frames.
//!
//! What stays the library's: HTTP parsing and routing (hyper, warp), the WebSocket handshake
//! key, reading and unmasking client frames, pings, pongs, close replies and the frames the
//! server writes one at a time (tungstenite).
//!
//! The rule that ties the two writers together (whatever tungstenite holds is flushed before
//! raw bytes, so that no frame lands inside another) is kept by [`socket::Socket`]: the only
//! way the rest of the server writes to a connection.

pub mod readahead;
pub mod server;
pub mod socket;
pub mod upgrade;
pub mod wire;

pub use socket::Socket;
