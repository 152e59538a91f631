//! The accept loop of the bench's do-nothing servers (`acceptor`, `relay`): one thread, the
//! server's accept queue (4096) and `TCP_NODELAY` (`src/transport/server.rs` at the repository's
//! root), so that what they reach differs from the server only by the work the server does.

use std::error::Error;
use std::future::Future;

use tokio::net::{TcpSocket, TcpStream};

/// Serves 127.0.0.1:`$PORT` (default `default_port`), running `conn` on each connection in
/// its own task, until accepting fails.
pub fn serve<F, Fut>(default_port: u16, mut conn: F) -> Result<(), Box<dyn Error>>
where
    F: FnMut(TcpStream) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let port: u16 = match std::env::var("PORT") {
        Ok(p) => p.parse()?,
        Err(_) => default_port,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let socket = TcpSocket::new_v4()?;
        socket.set_reuseaddr(true)?;
        socket.bind(([127, 0, 0, 1], port).into())?;
        let listener = socket.listen(4096)?;
        loop {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            tokio::spawn(conn(stream));
        }
    })
}
