//! A join that reaches this hub after the room's order has passed it. Joins made elsewhere
//! are announced on the user's bucket channel, which on a Redis Cluster lives on another node
//! than the room (and than other users' buckets), so the notices of one room's joins arrive
//! in any order. A user whose notice comes late must still get every message from its join
//! on, once and in order: its connections here are held as resuming ones are (live frames
//! kept back), the messages from its join to where the room stands are read from the store
//! and written to them, then what was held follows.

use super::Hub;
use super::resume::Resuming;
use crate::domain::{ChatId, Json, UserId};

/// Connections held until a late joiner's backlog is written: the messages of the room after
/// `after` up to `upto`.
#[derive(Debug, PartialEq, Eq)]
pub struct CatchUp {
    pub room: ChatId,
    /// Each connection, and the store's clock when it read its rooms: nothing stored before
    /// that is its (see `floor::read_after`).
    pub conns: Vec<(u64, u64)>,
    pub after: u64,
    pub upto: u64,
}

/// What a join notice did here (see [`Hub::follow_new`]).
#[derive(Debug, PartialEq, Eq)]
pub enum Followed {
    /// The room is new here: followed from the notice on (the subscription's replay brings it).
    New,
    /// Nothing to do now: the notice is still to come here (and adds the user at its place),
    /// or the user follows the room already.
    Nothing,
    /// The room's order is past the notice: the user follows it now, its connections held
    /// until the backlog is written ([`Hub::caught_up`]).
    Late(CatchUp),
}

impl Hub {
    /// A user connected here joined a room with the notice at `seq` (`prev` just before it).
    /// A notice at or below the user's last join or leave delivered here, or older than its
    /// connections' reading of the store, is stale: the membership it announces is over (or
    /// applied), and following from it would replay it. A new room's notice (`seq` 0, see
    /// `redis/announce.rs`) is never older than a reading. A notice still to come here keeps
    /// the room followed until it adds the user at its place.
    pub fn follow_new(&self, user: &UserId, room: &ChatId, prev: u64, seq: u64) -> Followed {
        let mut s = self.lock();
        let Some(entry) = s.users.get(user) else {
            return Followed::Nothing;
        };
        let marked = entry.marks.get(room).is_some_and(|(at, _)| *at >= seq);
        // A join delivered here waiting for the bucket's replay: left to it (`backfill.rs`).
        if marked || entry.waits_in(room) || (seq > 0 && seq < entry.since) {
            return Followed::Nothing;
        }
        let follows = entry.rooms.contains(room);
        // One still reading its rooms is not caught up: its reading covers what was stored
        // before it, and it gets what comes after live (see `floor.rs`).
        let conns: Vec<_> = entry
            .conns
            .iter()
            .filter_map(|(id, out)| Some((*id, *entry.read.get(id)?, out.clone())))
            .collect();
        let last = match s.rooms.get_mut(room) {
            None => {
                s.follow(user, [(room.clone(), prev)]);
                return Followed::New;
            }
            Some(r) if r.last < seq => {
                r.joining.push((user.clone(), seq, false));
                return Followed::Nothing;
            }
            Some(_) if follows => return Followed::Nothing,
            Some(r) => r.last,
        };
        let mut held = Vec::new();
        for (id, read, out) in conns {
            // One waiting for its own resume is left to it.
            if let std::collections::hash_map::Entry::Vacant(v) = s.resuming.entry(id) {
                v.insert(Resuming::new(out));
                held.push((id, read));
            }
        }
        s.follow(user, [(room.clone(), prev)]);
        if held.is_empty() {
            return Followed::Nothing;
        }
        Followed::Late(CatchUp {
            room: room.clone(),
            conns: held,
            after: prev,
            upto: last,
        })
    }

    /// Whether `user`'s connections here had read their rooms by `seq`: a join notice at `seq`
    /// found in a log (not live) is then one they may have missed; an older one is covered by
    /// their reading, and one during a first reading cannot be told from a stale one.
    pub fn read_by(&self, user: &UserId, seq: u64) -> bool {
        self.lock()
            .users
            .get(user)
            .is_some_and(|e| e.since != 0 && e.since <= seq)
    }

    /// Writes a late joiner's backlog (`frames` with their sequences, in order) to its held
    /// connections, but for what was stored before each read its rooms, then what was held
    /// meanwhile.
    pub fn caught_up(&self, catch_up: &CatchUp, frames: &[(u64, Json)]) {
        let mut s = self.lock();
        for (id, read) in &catch_up.conns {
            let Some(r) = s.resuming.remove(id) else { continue };
            for (_, frame) in frames.iter().filter(|(seq, _)| seq >= read) {
                r.out().queue(frame);
            }
            r.release();
        }
    }
}
