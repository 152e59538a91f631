//! Writes a batch of deliveries as raw WebSocket text frames: one vectored write of each
//! frame's header (a few bytes on the stack) and its shared payload, so neither the batch nor
//! the payloads are copied or allocated in user space, and a batch costs one system call.
//!
//! A server's data frames are unmasked (RFC 6455 §5.1), so a frame is a 2 to 10 byte header
//! and the payload as is; tungstenite would copy every frame into its write buffer and flush
//! it each time it fills.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;

use crate::hub::outbox::Batch;

/// Text frame, final fragment (FIN bit and opcode 1).
const FIN_TEXT: u8 = 0x81;

/// Frames given to one vectored write at most (two slices each: header and payload); more
/// wait for the next write. Linux takes up to 1024 slices per `writev`.
const FRAMES_PER_WRITE: usize = 64;

/// The header of an unmasked, final text frame of `len` bytes, and its length.
fn header(len: usize) -> ([u8; 10], usize) {
    let mut h = [0u8; 10];
    h[0] = FIN_TEXT;
    if len < 126 {
        h[1] = len as u8;
        (h, 2)
    } else if let Ok(len) = u16::try_from(len) {
        h[1] = 126;
        h[2..4].copy_from_slice(&len.to_be_bytes());
        (h, 4)
    } else {
        h[1] = 127;
        h[2..10].copy_from_slice(&(len as u64).to_be_bytes());
        (h, 10)
    }
}

/// How far a batch's write got: the frame, and the bytes of it (header, then payload) written.
#[derive(Debug, Default, Clone, Copy)]
pub struct Progress {
    frame: usize,
    done: usize,
}

/// Writes what is left of `batch`, in order, as far as the socket takes it now; `Ready` once
/// every frame is written. The slices are rebuilt on the stack at each attempt, so nothing
/// is kept between attempts but `at`.
pub fn poll_write_batch<W: AsyncWrite + Unpin>(
    io: &mut W,
    cx: &mut Context<'_>,
    batch: &Batch,
    at: &mut Progress,
) -> Poll<io::Result<()>> {
    loop {
        if at.frame == batch.len() {
            return Poll::Ready(Ok(()));
        }
        let count = (batch.len() - at.frame).min(FRAMES_PER_WRITE);
        let mut headers = [([0u8; 10], 0usize); FRAMES_PER_WRITE];
        for (i, h) in headers.iter_mut().enumerate().take(count) {
            *h = header(batch.get(at.frame + i).map_or(0, |f| f.len()));
        }
        let mut slices = [IoSlice::new(&[]); 2 * FRAMES_PER_WRITE];
        let mut n = 0;
        for (i, (h, hlen)) in headers.iter().enumerate().take(count) {
            let payload = batch.get(at.frame + i).map_or(&[][..], |f| f.as_bytes());
            // Only the first frame can be partly written already.
            let skip = if i == 0 { at.done } else { 0 };
            if skip < *hlen {
                slices[n] = IoSlice::new(&h[skip..*hlen]);
                n += 1;
            }
            slices[n] = IoSlice::new(&payload[skip.saturating_sub(*hlen)..]);
            n += 1;
        }
        let mut left = match Pin::new(&mut *io).poll_write_vectored(cx, &slices[..n]) {
            Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
            Poll::Ready(Ok(w)) => w,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        };
        // Advance past what was written, frame by frame.
        while left > 0 && at.frame < batch.len() {
            let len = batch.get(at.frame).map_or(0, |f| f.len());
            let rest = header(len).1 + len - at.done;
            if left >= rest {
                left -= rest;
                (at.frame, at.done) = (at.frame + 1, 0);
            } else {
                at.done += left;
                left = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Json;
    use tungstenite::protocol::frame::Frame;
    use tungstenite::protocol::frame::coding::{Data, OpCode};

    fn tungstenite_frame(payload: &[u8]) -> Vec<u8> {
        let mut theirs = Vec::new();
        Frame::message(payload.to_vec(), OpCode::Data(Data::Text), true)
            .format(&mut theirs)
            .unwrap();
        theirs
    }

    /// Our header and payload are tungstenite's own encoding of the same frame, at each
    /// length boundary.
    #[test]
    fn frames_match_tungstenite_at_every_length_form() {
        for len in [0, 1, 125, 126, 127, 65535, 65536, 70000] {
            let payload = vec![b'x'; len];
            let (h, hlen) = header(len);
            let ours = [&h[..hlen], &payload[..]].concat();
            assert_eq!(ours, tungstenite_frame(&payload), "length {len}");
        }
    }

    /// A writer that takes at most `chunk` bytes per call, so writes stop mid-header and
    /// mid-payload.
    struct Trickle {
        out: Vec<u8>,
        chunk: usize,
    }

    impl AsyncWrite for Trickle {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            let n = buf.len().min(self.chunk);
            self.out.extend_from_slice(&buf[..n]);
            Poll::Ready(Ok(n))
        }

        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            let mut n = 0;
            for b in bufs {
                let take = b.len().min(self.chunk - n);
                self.out.extend_from_slice(&b[..take]);
                n += take;
                if n == self.chunk {
                    break;
                }
            }
            Poll::Ready(Ok(n))
        }

        fn is_write_vectored(&self) -> bool {
            true
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut std::task::Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut std::task::Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    /// Every frame of a batch arrives whole and in order, however the writes are cut,
    /// and batches longer than one write's slices go on in the next.
    #[tokio::test]
    async fn a_batch_is_its_frames_back_to_back_however_writes_are_cut() {
        let payloads: Vec<Vec<u8>> = (0..150)
            .map(|i| vec![b'a' + (i % 26) as u8; (i * 7) % 300])
            .collect();
        let outbox = crate::hub::outbox::Outbox::new(1000);
        for p in &payloads {
            outbox.offer(&Json::from(String::from_utf8(p.clone()).unwrap()));
        }
        let batch = outbox.take();
        let want: Vec<u8> = payloads.iter().flat_map(|p| tungstenite_frame(p)).collect();
        for chunk in [1, 2, 3, 7, 64, 1000, 1 << 20] {
            let (mut w, mut at) = (
                Trickle {
                    out: Vec::new(),
                    chunk,
                },
                Progress::default(),
            );
            std::future::poll_fn(|cx| poll_write_batch(&mut w, cx, &batch, &mut at))
                .await
                .unwrap();
            assert_eq!(w.out, want, "chunk {chunk}");
        }
    }
}
