//! The hub: local delivery. This instance's live connections, which rooms they follow, and
//! delivery to them (with each connection's outbox and the rooms' recent messages).
//!
//! The lowest layer above `domain`: it knows nothing of storage, Redis or WebSocket framing.
//! Local state only, under a `std::sync::Mutex` that is never held across an `.await`.
//! A delivery carries one serialised frame; each recipient gets a refcounted clone of it
//! (CONTRACT: serialise once). Each connection has a bounded outbox: a full one marks the
//! connection slow (its session closes it with 1008) instead of growing or stalling the room.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::domain::{ChatId, Json, UserId};
use crate::stats;
pub use backfill::{Backfill, PausedJoin};
pub use late::{CatchUp, Followed};
pub use order::LocalJoin;
use outbox::Outbox;
use recent::Recent;
use resume::Resuming;

/// A membership change that travels with the system message announcing it, so every
/// instance applies it at exactly that point of the room's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Membership {
    /// Add the user's local connections to the room before delivering.
    Joined(UserId),
    /// Remove them after delivering: the leaver sees its own "left" message, nothing after.
    Left(UserId),
}

/// One frame for one room's local participants.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub chat_id: ChatId,
    /// The frame's JSON text, serialised once and shared by every recipient.
    pub frame: Json,
    /// A user whose connections must not get it (the author of a typing event).
    pub skip: Option<UserId>,
    pub membership: Option<Membership>,
    /// The stored message's place in its room (its timestamp in µs); `None` for typing.
    /// The hub drops a delivery at or below what it already delivered in the room, so a
    /// replay after a Redis reconnect never duplicates.
    pub seq: Option<u64>,
}

/// What a session leaves in the hub to be written to.
pub type Outbound = Arc<Outbox>;

/// The hub's maps and sets. The delivery loop looks up every recipient, and SipHash (std's
/// default) was a measurable share of a delivery; foldhash is several times faster on short
/// keys, and its `quality` variant is seeded per process, so ids that clients choose cannot be
/// aimed at one bucket.
pub(crate) type Map<K, V> = HashMap<K, V, foldhash::quality::RandomState>;
pub(crate) type Set<K> = HashSet<K, foldhash::quality::RandomState>;

#[derive(Default)]
struct UserConns {
    conns: Vec<(u64, Outbound)>,
    rooms: Set<ChatId>,
    /// Per room, the user's last join or leave delivered here while it was connected: its
    /// sequence, and whether a join. A connect's reading of the store, or a bucket notice,
    /// older than it is out of date (see `follow.rs`).
    marks: Map<ChatId, (u64, bool)>,
    /// Per room, the sequence of the user's last join delivered here: a join at or below it
    /// is a copy (see `follow.rs`, `joined`).
    joins: Map<ChatId, u64>,
    /// Per room, its latest position here while the user's connections followed it (where
    /// they began, or the leave): a join before that is applied or passed (`backfill.rs`).
    followed: Map<ChatId, u64>,
    /// Joins delivered while the user's bucket waits for its replay (`None`: not waiting).
    paused: Option<Vec<PausedJoin>>,
    /// The store's clock when the user's first connection here read its rooms (0: not yet):
    /// that read covers every membership change before it.
    since: u64,
    /// Per connection that read its rooms, the store's clock then (0: unknown; see
    /// `floor::read_after`).
    read: Map<u64, u64>,
}

#[derive(Default)]
struct RoomEntry {
    members: Set<UserId>,
    /// Sequence of the last stored message delivered here.
    last: u64,
    /// The room's newest messages, once history was read here (Redis store; see recent.rs).
    /// A room read recently stays followed without local members.
    recent: Option<Recent>,
    /// Messages that came (from the store's reply or from pub/sub) before the one stored just
    /// before them reached this hub: `(the room's sequence before each, it)` (see `order.rs`).
    held: Vec<(u64, Delivery)>,
    /// Users connected here whose join notice came on their bucket channel before the room's
    /// own copy reached this hub, with its sequence: they become members at that message, and
    /// until then the room stays followed (else the join would find no room and be lost).
    /// Flagged: a member by then, as a connection's reading of the store found (see `follow.rs`).
    joining: Vec<(UserId, u64, bool)>,
}

impl RoomEntry {
    /// Nothing keeps the room followed: no member, no recent messages kept, no message held,
    /// no join on its way.
    fn idle(&self) -> bool {
        self.members.is_empty() && self.recent.is_none() && self.held.is_empty() && self.joining.is_empty()
    }
}

#[derive(Default)]
struct State {
    next_id: u64,
    /// Live connections, all users together.
    open: usize,
    users: Map<UserId, UserConns>,
    rooms: Map<ChatId, RoomEntry>,
    /// Rooms whose recent messages are kept (at most `MAX_KEPT_ROOMS`).
    kept: usize,
    /// Rooms whose log is to be replayed here: from when, and whether because a store call
    /// failed (else because a message is held; see `order.rs`).
    rechecks: Map<ChatId, (std::time::Instant, bool)>,
    /// Rooms no longer followed here since last taken (`None`: not tracked, no pub/sub).
    dropped: Option<Vec<ChatId>>,
    /// Joins of users connected here that came for a room not followed here (see `order.rs`).
    unfollowed_joins: Vec<LocalJoin>,
    /// Connections waiting for their resume (`?resume=true`), their frames held (`resume.rs`).
    resuming: Map<u64, Resuming>,
    /// New connections whose live frames are held, or filtered by their floors (`floor.rs`).
    floors: Map<u64, floor::Floors>,
}

/// Cheaply clonable handle to this instance's connections.
#[derive(Clone, Default)]
pub struct Hub {
    state: Arc<Mutex<State>>,
}

impl Hub {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a connection of `user` unless a cap is reached; returns its id for `unregister`.
    /// The check and the insertion happen under one lock, so racing connects cannot overshoot.
    pub fn register(&self, user: &UserId, out: Outbound, caps: Caps) -> Result<u64, Refused> {
        self.register_as(user, out, caps, false)
    }

    /// [`Hub::register`] for a connection that will resume: where its live messages start in
    /// each room is recorded until [`Hub::resumed`].
    pub fn register_resuming(&self, user: &UserId, out: Outbound, caps: Caps) -> Result<u64, Refused> {
        self.register_as(user, out, caps, true)
    }

    fn register_as(&self, user: &UserId, out: Outbound, caps: Caps, resuming: bool) -> Result<u64, Refused> {
        let mut s = self.lock();
        if s.open >= caps.total {
            return Err(Refused::Total(caps.total));
        }
        if s.users.get(user).map_or(0, |e| e.conns.len()) >= caps.per_user {
            return Err(Refused::PerUser(caps.per_user));
        }
        s.next_id += 1;
        s.open += 1;
        let id = s.next_id;
        if resuming {
            s.resuming.insert(id, Resuming::new(out.clone()));
        }
        // Held until its rooms are followed ([`Hub::started`]).
        s.floors.insert(id, floor::Floors::new(out.clone()));
        s.users.entry(user.clone()).or_default().conns.push((id, out));
        Ok(id)
    }

    /// Removes a connection. When it was the user's last one here, returns the rooms it
    /// followed (some may now have no local member).
    pub fn unregister(&self, user: &UserId, id: u64) -> Option<Vec<ChatId>> {
        let mut s = self.lock();
        s.resuming.remove(&id);
        s.floors.remove(&id);
        let entry = s.users.get_mut(user)?;
        let before = entry.conns.len();
        entry.conns.retain(|(c, _)| *c != id);
        entry.read.remove(&id);
        let (removed, left) = (before - entry.conns.len(), entry.conns.len());
        s.open -= removed;
        if left > 0 {
            return None;
        }
        let entry = s.users.remove(user)?;
        for room in &entry.rooms {
            s.unfollow(room, user);
        }
        Some(entry.rooms.into_iter().collect())
    }

    /// Whether some local connection follows the room (its channel is needed).
    pub fn wants_room(&self, room: &ChatId) -> bool {
        self.lock().rooms.contains_key(room)
    }

    /// Whether the user has a local connection (its channel is needed).
    pub fn wants_user(&self, user: &UserId) -> bool {
        self.lock().users.contains_key(user)
    }

    /// Whether `user`'s local connections follow `room`.
    pub fn follows(&self, user: &UserId, room: &ChatId) -> bool {
        self.lock()
            .users
            .get(user)
            .is_some_and(|e| e.rooms.contains(room))
    }

    /// The sequence last delivered in a room, if it is followed here.
    pub fn last_seq(&self, room: &ChatId) -> Option<u64> {
        self.lock().rooms.get(room).map(|r| r.last)
    }

    /// Delivers one frame to the room's local participants, applying its membership change
    /// (then any held message it was the gap before: see `order.rs`).
    pub fn deliver(&self, d: &Delivery) {
        let mut s = self.lock();
        // A join at or below what was delivered is a copy (a replay racing with pub/sub): the
        // user may have left since, and must not be added back.
        let last = s.rooms.get(&d.chat_id).map(|r| r.last);
        if d.seq.is_none_or(|seq| last.is_none_or(|last| seq > last)) {
            s.joined(d, 0);
        }
        s.deliver(d);
        if d.seq.is_some() {
            s.release_held(&d.chat_id);
        }
    }
}

impl State {
    /// Delivers `d` unless the room already had it (keeping it among the room's recent
    /// messages, if kept), then applies a leave it carries.
    fn deliver(&mut self, d: &Delivery) {
        let State {
            rooms,
            users,
            resuming,
            floors,
            ..
        } = self;
        let Some(room) = rooms.get_mut(&d.chat_id) else {
            return;
        };
        let before = room.last;
        if let Some(seq) = d.seq {
            if seq <= room.last {
                return; // already delivered (a replay after a reconnect, or the store's reply)
            }
            room.last = seq;
            if !room.joining.is_empty() {
                room.joins_due(users, floors, &d.chat_id, seq, d.membership.is_some());
            }
            if let Some(recent) = room.recent.as_mut() {
                recent.push(seq, d.frame.clone());
            }
        }
        // The hot path: with no connection new or resuming, each recipient costs one offer.
        let plain = resuming.is_empty() && floors.is_empty();
        let mut sent = 0;
        for user in &room.members {
            if d.skip.as_ref() == Some(user) {
                continue;
            }
            for (id, out) in users.get(user).map_or(&[][..], |e| &e.conns[..]) {
                let queued = if plain {
                    out.queue(&d.frame)
                } else {
                    floor::admit(floors, resuming, *id, out, &d.chat_id, before, d.seq, &d.frame)
                };
                sent += u64::from(queued);
            }
        }
        stats::hot().frames_out.increment(sent);
        if d.membership.is_some() {
            self.membership_changed(d);
        }
    }
}

mod backfill;
mod caps;
mod floor;
mod follow;
mod late;
mod order;
pub mod outbox;
mod reading;
pub mod recent;
mod resume;
mod typists;
pub use caps::{Caps, Refused};
pub use resume::Start;
pub use typists::Typists;
#[cfg(test)]
mod tests;
