//! One connection's outbox: the frames waiting to be written, bounded, and holding memory only
//! while frames wait.
//!
//! tokio's bounded channel allocates its first block of 32 slots up front, per connection:
//! more than the rest of an idle connection (docs/performance.md). Here a [`Batch`] sits under a
//! mutex with the writer's waker; the writer takes the whole batch at once, so any buffer is
//! freed as soon as a burst is written. A batch keeps its first frame inline: a client that
//! reads as fast as frames come gets them one at a time, and queueing and taking one frame
//! then allocates nothing. A full outbox marks the connection slow (CONTRACT: a slow consumer
//! is closed with 1008) instead of growing.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Poll, Waker};

use crate::domain::Json;
use crate::stats;

/// What became of an offered frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offered {
    Queued,
    /// Dropped: the outbox was full. `newly_slow` is true the first time, when the
    /// connection is marked slow.
    Dropped {
        newly_slow: bool,
    },
}

/// Frames taken from an outbox at once, oldest first: one inline, more in a queue
/// (allocated only for a burst). An enum, so an idle outbox is no larger than a bare queue.
#[derive(Debug, Default, PartialEq)]
pub enum Batch {
    #[default]
    Empty,
    One(Json),
    Many(VecDeque<Json>),
}

impl Batch {
    fn push(&mut self, frame: Json) {
        *self = match std::mem::take(self) {
            Batch::Empty => Batch::One(frame),
            Batch::One(first) => {
                let mut q = VecDeque::with_capacity(4);
                q.extend([first, frame]);
                Batch::Many(q)
            }
            Batch::Many(mut q) => {
                q.push_back(frame);
                Batch::Many(q)
            }
        };
    }

    pub fn len(&self) -> usize {
        match self {
            Batch::Empty => 0,
            Batch::One(_) => 1,
            Batch::Many(q) => q.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `i`-th frame, oldest first.
    pub fn get(&self, i: usize) -> Option<&Json> {
        match self {
            Batch::Empty => None,
            Batch::One(f) => (i == 0).then_some(f),
            Batch::Many(q) => q.get(i),
        }
    }

    /// The frames, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &Json> {
        (0..self.len()).filter_map(|i| self.get(i))
    }
}

#[derive(Default)]
struct Queue {
    frames: Batch,
    slow: bool,
    /// The writer, waiting for frames.
    waker: Option<Waker>,
}

/// A bounded queue with one writer; shared (in an `Arc`) by the hub and the session.
pub struct Outbox {
    cap: usize,
    queue: Mutex<Queue>,
}

impl Outbox {
    /// Queues a frame without waiting (true if queued); a full outbox marks the connection
    /// slow (counted in the metrics, and logged once).
    pub fn queue(&self, frame: &Json) -> bool {
        match self.offer(frame) {
            Offered::Queued => true,
            Offered::Dropped { newly_slow } => {
                metrics::counter!(stats::DELIVERIES_DROPPED).increment(1);
                if newly_slow {
                    tracing::warn!("outbox full: closing a slow consumer");
                    metrics::counter!(stats::SLOW_CLOSED).increment(1);
                }
                false
            }
        }
    }

    /// An outbox holding at most `cap` frames.
    pub fn new(cap: usize) -> Self {
        Self {
            cap,
            queue: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a copy of `frame` (a refcount: frames are serialised once), without waiting.
    pub fn offer(&self, frame: &Json) -> Offered {
        let mut q = self.lock();
        let offered = if q.frames.len() < self.cap && !q.slow {
            q.frames.push(frame.clone());
            Offered::Queued
        } else {
            let newly_slow = !std::mem::replace(&mut q.slow, true);
            Offered::Dropped { newly_slow }
        };
        let waker = q.waker.take();
        drop(q); // wake outside the lock
        if let Some(w) = waker {
            w.wake();
        }
        offered
    }

    /// Marks the connection slow (its session closes it with 1008), as a full outbox does.
    pub fn overflow(&self) {
        let mut q = self.lock();
        q.slow = true;
        let waker = q.waker.take();
        drop(q);
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// How many frames it holds at most.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Whether a frame was dropped for lack of room (the connection must close).
    pub fn is_slow(&self) -> bool {
        self.lock().slow
    }

    /// Takes every waiting frame now (empty if none).
    pub fn take(&self) -> Batch {
        std::mem::take(&mut self.lock().frames)
    }

    /// Waits for frames and takes them all; `None` once the connection is marked slow.
    pub async fn ready(&self) -> Option<Batch> {
        poll_fn(|cx| {
            let mut q = self.lock();
            if q.slow {
                return Poll::Ready(None);
            }
            if !q.frames.is_empty() {
                return Poll::Ready(Some(std::mem::take(&mut q.frames)));
            }
            // Registered under the lock that `offer` pushes under: no wake-up is lost.
            q.waker = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(frames: Batch) -> Vec<String> {
        frames.iter().map(|f| f.to_string()).collect()
    }

    #[test]
    fn holds_up_to_its_bound_then_turns_slow_once() {
        let out = Outbox::new(2);
        assert_eq!(out.offer(&Json::from("a")), Offered::Queued);
        assert_eq!(out.offer(&Json::from("b")), Offered::Queued);
        assert_eq!(out.offer(&Json::from("c")), Offered::Dropped { newly_slow: true });
        assert_eq!(
            out.offer(&Json::from("d")),
            Offered::Dropped { newly_slow: false }
        );
        assert!(out.is_slow());
        assert_eq!(texts(out.take()), ["a", "b"]);
    }

    #[test]
    fn taking_frees_room_and_memory() {
        let out = Outbox::new(1);
        assert_eq!(out.offer(&Json::from("a")), Offered::Queued);
        assert_eq!(texts(out.take()), ["a"]);
        assert_eq!(out.lock().frames, Batch::Empty);
        assert_eq!(out.offer(&Json::from("b")), Offered::Queued);
        assert!(!out.is_slow());
    }

    /// Every connection holds one: the inline frame costs an idle outbox 8 bytes (the
    /// enum's tag) over a bare queue.
    #[test]
    fn an_idle_outbox_stays_small() {
        assert!(
            std::mem::size_of::<Outbox>() <= 80,
            "{}",
            std::mem::size_of::<Outbox>()
        );
    }

    #[tokio::test]
    async fn ready_wakes_on_offer_and_reports_slow() {
        let out = std::sync::Arc::new(Outbox::new(1));
        let writer = tokio::spawn({
            let out = out.clone();
            async move { out.ready().await.map(texts) }
        });
        tokio::task::yield_now().await;
        out.offer(&Json::from("x"));
        let got = tokio::time::timeout(std::time::Duration::from_secs(5), writer).await;
        assert_eq!(got.unwrap().unwrap(), Some(vec!["x".to_string()]));
        out.offer(&Json::from("y"));
        out.offer(&Json::from("z"));
        assert_eq!(out.ready().await, None);
    }
}
