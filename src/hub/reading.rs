//! The hub's side of history reads on Redis: the recent messages kept per followed room
//! (see `recent.rs`), and how long a room stays followed for reading.

use super::recent::{MAX_KEPT_ROOMS, READ_FOLLOW, Recent};
use super::{Hub, RoomEntry};
use crate::domain::{ChatId, Json, Page, Window};

impl Hub {
    /// A history page from the room's recent messages, if they hold the whole answer (pages
    /// before a point only: pages after one are read from the store).
    pub fn recent_page(&self, room: &ChatId, limit: usize, window: Window) -> Option<Page> {
        let before = match window {
            Window::Before(u64::MAX) => None,
            Window::Before(b) => Some(b),
            Window::After(_) | Window::Between(..) => return None,
        };
        let mut s = self.lock();
        let recent = s.rooms.get_mut(room)?.recent.as_mut()?;
        let page = recent.page(limit, before)?;
        recent.read_at = std::time::Instant::now();
        Some(page)
    }

    /// Keeps `page` (the room's newest messages, oldest first; `complete` if that is all of
    /// them) as the room's recent messages, if it ends exactly at what the hub last delivered
    /// there; a room not followed here is followed from its end. Returns the id to pass to
    /// [`Hub::recent_live`] once the room's subscription is confirmed and caught up, or
    /// `None` if nothing was kept (the room moved on meanwhile, is kept already, or
    /// `MAX_KEPT_ROOMS` rooms are kept: reading many rooms once must not cost a subscription
    /// and up to `RECENT_MESSAGES` messages each).
    pub fn keep_recent(
        &self,
        room: &ChatId,
        page: Vec<(u64, Json)>,
        complete: bool,
        cap: usize,
    ) -> Option<u64> {
        let mut s = self.lock();
        if s.kept >= MAX_KEPT_ROOMS {
            return None;
        }
        let newest = page.last().map_or(0, |(seq, _)| *seq);
        s.next_id += 1;
        let id = s.next_id;
        let entry = s.rooms.entry(room.clone()).or_insert_with(|| RoomEntry {
            last: newest,
            ..RoomEntry::default()
        });
        if entry.recent.is_some() || entry.last != newest {
            return None;
        }
        entry.recent = Some(Recent::new(page, complete, cap, id));
        s.kept += 1;
        Some(id)
    }

    /// The room's subscription is confirmed and caught up: its recent messages `id` may serve.
    pub fn recent_live(&self, room: &ChatId, id: u64) {
        if let Some(recent) = self.lock().rooms.get_mut(room).and_then(|r| r.recent.as_mut())
            && recent.id == id
        {
            recent.live = true;
        }
    }

    /// Forgets every room's recent messages (the pub/sub link dropped: some may be missing).
    pub fn forget_recent(&self) {
        let mut s = self.lock();
        for entry in s.rooms.values_mut() {
            entry.recent = None;
        }
        s.kept = 0;
    }

    /// Forgets recent messages not read for `READ_FOLLOW`; returns the rooms no longer
    /// followed at all (their channels may go).
    pub fn expire_recent(&self) -> Vec<ChatId> {
        let mut s = self.lock();
        let mut gone = Vec::new();
        let super::State { rooms, kept, .. } = &mut *s;
        rooms.retain(|room, entry| {
            if entry
                .recent
                .as_ref()
                .is_some_and(|r| r.read_at.elapsed() > READ_FOLLOW)
            {
                entry.recent = None;
                *kept -= 1;
            }
            let last = entry.last;
            entry.joining.retain(|(_, at, _)| *at > last);
            let keep = !entry.idle();
            if !keep {
                gone.push(room.clone());
            }
            keep
        });
        gone
    }
}
