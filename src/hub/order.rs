//! In-order delivery on the Redis store: each message only right after the one before it.
//!
//! The instance that stores a message delivers it to its local participants from the room
//! script's reply. Pub/sub brings messages stored on other instances, and this instance's own
//! only when another instance follows the room too (see room.lua). Both carry the room's
//! sequence before the message, so whichever path brings a message before its predecessor
//! (a reply overtaking a publish, or a publish overtaking an unpublished reply), it is held
//! and delivered as soon as the predecessor is. A (re)subscription replays the log, so the gap
//! closes.
//!
//! One gap pub/sub does not close: a message this instance stored whose reply it never got
//! (a call that timed out after the script ran), when no other instance follows the room. So
//! a room that held a message for `PATIENCE`, or whose store call failed, is due for a replay
//! of its log, which the bus's keepalive does (`Hub::due_rechecks`).

use std::time::{Duration, Instant};

use super::{Delivery, Hub, Membership, State};
use crate::domain::{ChatId, UserId};

/// A user's join stored in a room at `seq` (`prev` just before it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalJoin {
    pub user: UserId,
    pub room: ChatId,
    pub prev: u64,
    pub seq: u64,
}

/// At most this many messages held per room: more means pub/sub stopped bringing the room
/// (its connection is being repaired, and the resubscription's replay brings them all).
pub(super) const MAX_HELD: usize = 1024;

/// How long a held message waits for pub/sub before the room's log is read instead.
const PATIENCE: Duration = Duration::from_millis(200);

impl Hub {
    /// Delivers a stored message (`prev` is the room's sequence before it) from the store's
    /// reply or from pub/sub: at once when it directly follows what was last delivered in the
    /// room, else once the messages before it are; dropped if delivered already. A room not
    /// followed here gets nothing: a user connected here who joins it follows it through the
    /// join's bucket notice ([`Hub::follow_new`]), and the subscription's replay.
    pub fn deliver_next(&self, prev: u64, d: &Delivery) {
        let mut s = self.lock();
        let seq = d.seq.unwrap_or_default();
        let Some(room) = s.rooms.get_mut(&d.chat_id) else {
            // A join of a user connected here (the store's reply to it): its bucket notice
            // makes its connections follow the room, unless the notice is lost with the
            // pub/sub connection; then nothing else would (once the user has left again, its
            // room index no longer lists it). So the bus handles it as a notice too.
            if let Some(Membership::Joined(user)) = &d.membership
                && s.users.contains_key(user)
                && s.unfollowed_joins.len() < MAX_HELD
            {
                s.unfollowed_joins.push(LocalJoin {
                    user: user.clone(),
                    room: d.chat_id.clone(),
                    prev,
                    seq,
                });
            }
            return;
        };
        if room.last != prev {
            if seq <= room.last {
                return; // delivered already
            }
            if room.held.len() < MAX_HELD {
                room.held.push((prev, d.clone()));
                let at = Instant::now() + PATIENCE;
                s.rechecks.entry(d.chat_id.clone()).or_insert((at, false));
            } else {
                // Too far behind to keep waiting: read the log instead.
                s.rechecks.insert(d.chat_id.clone(), (Instant::now(), true));
            }
            return;
        }
        s.joined(d, prev);
        s.deliver(d);
        s.release_held(&d.chat_id);
    }

    /// The joins of users connected here that came for rooms not followed here, since the
    /// last call (taken).
    pub fn take_unfollowed_joins(&self) -> Vec<LocalJoin> {
        std::mem::take(&mut self.lock().unfollowed_joins)
    }

    /// A store call on the room failed or was abandoned: it may have stored a message whose
    /// reply never came, so the room's log is replayed here at the next recheck.
    pub fn recheck(&self, chat: &ChatId) {
        let mut s = self.lock();
        if s.rooms.contains_key(chat) {
            s.rechecks.insert(chat.clone(), (Instant::now(), true));
        }
    }

    /// The rooms due for a replay of their log (taken: each is returned once per marking).
    pub fn due_rechecks(&self) -> Vec<ChatId> {
        let now = Instant::now();
        let mut due = Vec::new();
        self.lock().rechecks.retain(|chat, (at, _)| {
            let ready = *at <= now;
            if ready {
                due.push(chat.clone());
            }
            !ready
        });
        due
    }
}

impl State {
    /// Delivers the held messages whose predecessors have been delivered, in order; drops
    /// those delivered meanwhile by another path (pub/sub, a replay). Once none is held, a
    /// recheck scheduled for holding is not needed (one for a failed call still is).
    pub(super) fn release_held(&mut self, chat: &ChatId) {
        loop {
            let Some(room) = self.rooms.get_mut(chat) else {
                return;
            };
            if room.held.is_empty() {
                if self.rechecks.get(chat).is_some_and(|(_, failed)| !failed) {
                    self.rechecks.remove(chat);
                }
                return;
            }
            let last = room.last;
            let ready = room
                .held
                .iter()
                .enumerate()
                .filter(|(_, (prev, _))| *prev <= last);
            let Some((i, _)) = ready.min_by_key(|(_, (_, d))| d.seq) else {
                return;
            };
            let (prev, d) = room.held.swap_remove(i);
            if d.seq.is_some_and(|seq| seq > last) {
                self.joined(&d, prev);
                self.deliver(&d);
            }
        }
    }
}
