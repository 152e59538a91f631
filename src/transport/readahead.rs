//! Reads a connection's socket through one large buffer per thread, keeping per connection
//! only the bytes read ahead and not yet taken (none, for an idle connection).
//!
//! tungstenite reads at most its read buffer's size per system call, and that buffer is small
//! (`upgrade::READ_BUFFER_BYTES`), allocated per connection and kept: a burst of client frames
//! then took a `recvfrom` per 256 bytes, and one more that found nothing. Here a read takes
//! whatever the socket holds, up to `SCRATCH_BYTES`, into the thread's scratch buffer; what
//! tungstenite's buffer cannot take yet waits in a vector that is freed once taken. A short
//! read also tells tokio the socket is drained, so no read comes back empty.

use std::cell::RefCell;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The most one `recvfrom` takes (a loopback burst of frames is rarely larger).
const SCRATCH_BYTES: usize = 16 * 1024;

thread_local! {
    static SCRATCH: RefCell<Box<[u8]>> = RefCell::new(vec![0; SCRATCH_BYTES].into_boxed_slice());
}

/// A stream whose reads go through the thread's scratch buffer; writes pass through.
pub struct ReadAhead<S> {
    inner: S,
    /// Read from the socket, not yet taken by the reader (empty and unallocated when idle).
    rest: Vec<u8>,
    /// How much of `rest` was taken.
    taken: usize,
}

impl<S> ReadAhead<S> {
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            rest: Vec::new(),
            taken: 0,
        }
    }

    /// Gives what was read ahead first; true if it gave anything.
    fn give_rest(&mut self, buf: &mut ReadBuf<'_>) -> bool {
        if self.taken == self.rest.len() {
            return false;
        }
        let n = buf.remaining().min(self.rest.len() - self.taken);
        buf.put_slice(&self.rest[self.taken..self.taken + n]);
        self.taken += n;
        if self.taken == self.rest.len() {
            (self.rest, self.taken) = (Vec::new(), 0); // freed: idle connections hold none
        }
        true
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for ReadAhead<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.give_rest(buf) {
            return Poll::Ready(Ok(()));
        }
        if buf.remaining() >= SCRATCH_BYTES {
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        }
        SCRATCH.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            let mut ahead = ReadBuf::new(&mut scratch[..]);
            match Pin::new(&mut this.inner).poll_read(cx, &mut ahead) {
                Poll::Ready(Ok(())) => {
                    let got = ahead.filled();
                    let n = buf.remaining().min(got.len());
                    buf.put_slice(&got[..n]);
                    if n < got.len() {
                        this.rest.extend_from_slice(&got[n..]);
                    }
                    Poll::Ready(Ok(()))
                }
                other => other,
            }
        })
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for ReadAhead<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn small_reads_take_a_burst_in_order_and_free_what_was_read_ahead() {
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let burst: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
        client.write_all(&burst).await.unwrap();
        let mut ahead = ReadAhead::new(server);
        let mut got = Vec::new();
        let mut chunk = [0u8; 256];
        while got.len() < burst.len() {
            let n = ahead.read(&mut chunk).await.unwrap();
            assert!(n > 0 && n <= 256);
            got.extend_from_slice(&chunk[..n]);
            if got.len() < burst.len() {
                // All 1000 bytes came in one read; the rest waits here.
                assert_eq!(ahead.rest.len() - ahead.taken, burst.len() - got.len());
            }
        }
        assert_eq!(got, burst);
        assert_eq!((ahead.rest.capacity(), ahead.taken), (0, 0));
        drop(client);
        assert_eq!(
            ahead.read(&mut chunk).await.unwrap(),
            0,
            "end of stream after the rest"
        );
    }

    #[tokio::test]
    async fn writes_pass_through() {
        let (mut client, server) = tokio::io::duplex(1024);
        let mut ahead = ReadAhead::new(server);
        ahead.write_all(b"hello").await.unwrap();
        let mut buf = [0u8; 5];
        client.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hello");
    }
}
