//! New connections' floors: where each new connection's live messages start in its rooms.
//!
//! A connection is registered before the store reads its rooms (so a join racing with the
//! connect reaches it), but the hub may lag behind the store in a room it follows already
//! (catching up after an outage): delivering at the hub's position would show the new
//! connection messages stored before it connected. So its live frames are held from
//! registration until its rooms are followed ([`Hub::started`]), and then, per room, frames at
//! or below the store's last sequence when its rooms were read (its floor) are dropped for it.
//! A join applied here after a connection read its rooms, but stored before, gives it a floor
//! in that room too (`read_after`), and so does a room the user's connections follow here
//! that its reading did not find (left since, the leave still to come here: [`Hub::started`]).
//! A floor goes once the room's order passes it. A connection with no floor left costs the
//! delivery loop nothing; this must not know storage.

use super::resume::Resuming;
use super::{Hub, Map, Outbound, UserConns};
use crate::domain::{ChatId, Json, UserId};

/// A frame held for a new connection: its room, the room's sequence before it, its own.
type Held = (ChatId, u64, Option<u64>, Json);

/// One new connection's floors, and its frames held until they are known.
pub(super) struct Floors {
    out: Outbound,
    /// Frames that came before the connection's rooms were followed (`None` after).
    held: Option<Vec<Held>>,
    /// Per room, the store's last sequence when the connection's rooms were read.
    rooms: Map<ChatId, u64>,
}

impl Floors {
    pub(super) fn new(out: Outbound) -> Self {
        Self {
            out,
            held: Some(Vec::new()),
            rooms: Map::default(),
        }
    }
}

/// Offers a frame to connection `id` when a new connection (or a resuming one) may need it
/// held or dropped; true if queued or held.
#[allow(clippy::too_many_arguments)] // the delivery's parts, not copied into a struct per recipient
pub(super) fn admit(
    floors: &mut Map<u64, Floors>,
    resuming: &mut Map<u64, Resuming>,
    id: u64,
    out: &Outbound,
    room: &ChatId,
    before: u64,
    seq: Option<u64>,
    frame: &Json,
) -> bool {
    if let Some(f) = floors.get_mut(&id) {
        if let Some(held) = &mut f.held {
            if held.len() >= out.cap() {
                out.overflow();
                return false;
            }
            held.push((room.clone(), before, seq, frame.clone()));
            return true;
        }
        if let (Some(seq), Some(floor)) = (seq, f.rooms.get(room)) {
            if seq <= *floor {
                return false; // stored before the connection read its rooms
            }
            // The room's order is past the floor for good.
            f.rooms.remove(room);
            if f.rooms.is_empty() {
                floors.remove(&id);
            }
        }
    }
    match resuming.get_mut(&id) {
        Some(r) => r.hold(room, before, seq, frame),
        None => out.queue(frame),
    }
}

/// A join at `seq` applied here: each of the user's connections that read its rooms after it
/// gets nothing stored before that reading in the room. (Such a reading did not find the room:
/// the user's room index is written apart from the room, after the join.)
pub(super) fn read_after(floors: &mut Map<u64, Floors>, user: &UserConns, room: &ChatId, seq: u64) {
    for (id, out) in &user.conns {
        let Some(read) = user.read.get(id).filter(|read| **read > seq) else {
            continue;
        };
        let f = floors.entry(*id).or_insert_with(|| Floors {
            out: out.clone(),
            held: None,
            rooms: Map::default(),
        });
        let floor = f.rooms.entry(room.clone()).or_default();
        *floor = (*floor).max(read - 1);
    }
}

impl Hub {
    /// Connection `conn` of `user` has its rooms followed: `floors` holds each room's last
    /// sequence in the store when its rooms were read, `since` the store's clock just before
    /// (0: unknown). Its held frames are released, but for those at or below their room's
    /// floor, and so are the next ones. A room the user's connections follow here but not
    /// among `floors` gets the floor `since - 1`.
    pub fn started(
        &self,
        user: &UserId,
        conn: u64,
        floors: impl IntoIterator<Item = (ChatId, u64)>,
        since: u64,
    ) {
        let mut s = self.lock();
        let super::State {
            floors: all,
            resuming,
            rooms,
            users,
            ..
        } = &mut *s;
        if let Some(entry) = users.get_mut(user) {
            if entry.since == 0 {
                entry.since = since;
            }
            entry.read.insert(conn, since);
        }
        let Some(f) = all.get_mut(&conn) else { return };
        f.rooms = floors.into_iter().collect();
        // A room the user's connections follow here that the reading did not find: the user
        // left it before the reading, and the hub, behind the store there (catching up after
        // an outage), has the leave still to deliver. Nothing stored there before the reading
        // is this connection's; the older connections get it up to the leave.
        // The reading is the user's mark there (see `UserConns::marks`): the leave, older than
        // the user's first reading if that is this one, is applied all the same when it comes
        // (`membership_changed`; soak seed 712212218: a join backfilled while the first reading
        // was under way).
        if since > 0
            && let Some(entry) = users.get_mut(user)
        {
            for room in &entry.rooms {
                if f.rooms.contains_key(room) {
                    continue;
                }
                f.rooms.insert(room.clone(), since - 1);
                if rooms.get(room).is_some_and(|r| r.last < since)
                    && entry.marks.get(room).is_none_or(|(at, _)| *at < since)
                {
                    entry.marks.insert(room.clone(), (since, false));
                }
            }
        }
        let held = f.held.take().unwrap_or_default();
        let out = f.out.clone();
        // In a room it was not in when its rooms were read, nothing stored before is its. Which
        // rooms those are is taken now: a frame released past the connection's last floor
        // removes its floors, and the frames held after it would all pass.
        let read: super::Set<ChatId> = f.rooms.keys().cloned().collect();
        for (room, before, seq, frame) in held {
            let old = seq.is_some_and(|seq| seq < since) && !read.contains(&room);
            if !old {
                admit(all, resuming, conn, &out, &room, before, seq, &frame);
            }
        }
        // A room the hub has delivered up to its floor already can bring nothing below it.
        if let Some(f) = all.get_mut(&conn) {
            f.rooms
                .retain(|room, floor| rooms.get(room).is_none_or(|r| r.last < *floor));
            if f.rooms.is_empty() {
                all.remove(&conn);
            }
        }
    }

    /// The floor of `conn` in `room`, if it has one.
    pub(super) fn floor_of(floors: &Map<u64, Floors>, conn: u64, room: &ChatId) -> Option<u64> {
        floors.get(&conn).and_then(|f| f.rooms.get(room).copied())
    }
}
