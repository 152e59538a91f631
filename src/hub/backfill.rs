//! Joins this hub passed without applying them, after a bucket channel was lost.
//!
//! - A join learnt of only from its bucket's log (see `redis/pubsub/refollow.rs`), in a room
//!   followed here from past it (another user's reading): its join message never went through
//!   this hub, and the user may have left again since (soak seed 130419584). The user's
//!   connections that had read their rooms still need that stretch: it is read from the
//!   room's log and written to them under the hub's lock, at the room's position here, so what
//!   comes live follows it in order; the user follows the room on only if still a member.
//!   In a room not followed here at all, nothing of it came here since the join: the log to
//!   its end is the stretch, and a user still a member follows the room from there (soak seed
//!   712212226: a connection that read its rooms between the join and the user's next leave
//!   got neither).
//! - A join that reaches this hub another way while the user's bucket waits for its replay
//!   (the room's channel, the store's reply to the user's own join, or a new connection's
//!   reading): applied at once, it would have the room followed past an earlier join the
//!   replay has still to bring. It waits for the replay (`pause_joins`), which then writes it
//!   the same way, in order after the notices it found. Nothing is held meanwhile: the
//!   user's connections get nothing from the room until its stretch is written.

use super::{Hub, Membership, UserConns};
use crate::domain::{ChatId, Json, UserId};

/// A join delivered here while its user waited for its bucket's replay (see
/// [`Hub::pause_joins`]): at `seq`, or, `found`, where a connection's reading found the user a
/// member while this hub was behind it (`RoomEntry::joins_due`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PausedJoin {
    pub user: UserId,
    pub room: ChatId,
    pub seq: u64,
    pub found: bool,
}

/// What [`Hub::backfill`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Backfill {
    /// The stretch was written (or nothing was to be: the user follows the room, its join
    /// went through here, or it has no connection here).
    Done,
    /// The room is followed here but not past the join, or not followed and its log does
    /// not reach the join: the notice is followed as one that came live
    /// ([`Hub::follow_new`]).
    NotPast,
    /// The room moved on past the log read: read it again.
    Behind,
    /// As `Done`, and the room, not followed here before, is followed from the log's end:
    /// its channel is to be subscribed and replayed from there.
    New,
}

impl Hub {
    /// `user` joined `room` at `seq` (or was found a member there, `found`) and this hub may
    /// have passed it without applying it. `log` is the room's log from there on (sequence,
    /// membership change, frame), read after this hub's position there. Each of the user's
    /// connections that read its rooms gets, from what was stored since its reading, the
    /// messages while the user was a member (its own leave included) up to the room's
    /// position here, and the user follows the room on if still a member.
    pub fn backfill(
        &self,
        (user, room, seq, found): (&UserId, &ChatId, u64, bool),
        log: &[(u64, Option<Membership>, Json)],
    ) -> Backfill {
        let mut s = self.lock();
        let super::State {
            users, rooms, floors, ..
        } = &mut *s;
        let end = match rooms.get(room) {
            Some(r) if r.last >= seq => r.last,
            Some(_) => return Backfill::NotPast,
            // Not followed here: nothing of it came here since the join, and the log up to its
            // end is the stretch (soak seed 712212226: the user left again meanwhile, the
            // leave's mark here making the notice stale). A log not holding the join yet is
            // left to the notice.
            None => match log.last() {
                Some((at, ..)) if *at >= seq => *at,
                _ => return Backfill::NotPast,
            },
        };
        let Some(entry) = users.get_mut(user) else {
            return Backfill::Done;
        };
        // Followed here at the join or past it: from then on it went to the connections (or
        // their reading covered it), and a stretch written now would come after it.
        let followed = entry
            .followed
            .get(room)
            .is_some_and(|at| *at >= seq.saturating_sub(1));
        if entry.rooms.contains(room) || followed {
            return Backfill::Done;
        }
        if log.last().is_none_or(|(at, ..)| *at < end) {
            return Backfill::Behind;
        }
        // A member from `seq` on: its join, or where a reading found it one (`joins_due`).
        let (mut member, mut last_join, mut mark) = (true, seq, None);
        let mut frames = Vec::new();
        for (at, change, frame) in log.iter().filter(|(at, ..)| *at >= seq && *at <= end) {
            match change {
                Some(Membership::Joined(u)) if u == user => {
                    member = true;
                    last_join = *at;
                    mark = Some((*at, true));
                }
                Some(Membership::Left(u)) if u == user && member => {
                    frames.push((*at, frame));
                    member = false;
                    mark = Some((*at, false));
                }
                _ => {}
            }
            if member {
                frames.push((*at, frame));
            }
        }
        tracing::debug!(%user, %room, seq, end, followed = ?entry.followed.get(room), marks = ?entry.marks.get(room), since = entry.since, frames = frames.len(), "a logged join's stretch written");
        for (id, out) in &entry.conns {
            // One still reading its rooms gets what its reading finds.
            let Some(read) = entry.read.get(id) else { continue };
            for (_, frame) in frames.iter().filter(|(at, _)| at >= read) {
                out.queue(frame);
            }
        }
        let join = last_join;
        // The stretch is the connections' now: the same notice read again changes nothing.
        entry.followed.insert(room.clone(), end);
        entry.joins.insert(room.clone(), join);
        if let Some((at, joined)) = mark
            && entry.marks.get(room).is_none_or(|(m, _)| *m < at)
        {
            entry.marks.insert(room.clone(), (at, joined));
        }
        // Short of the user's first reading of its rooms here, a leave before that reading
        // would not be applied when it comes (`membership_changed`): only a reading that found
        // the user a member (or one to come) has it follow the room.
        if !(member && (found || end >= entry.since)) {
            return Backfill::Done;
        }
        super::floor::read_after(floors, entry, room, join);
        entry.rooms.insert(room.clone());
        let new = !rooms.contains_key(room);
        let r = rooms.entry(room.clone()).or_insert_with(|| super::RoomEntry {
            last: end,
            ..super::RoomEntry::default()
        });
        r.members.insert(user.clone());
        if new { Backfill::New } else { Backfill::Done }
    }
}

impl Hub {
    /// The users `which` picks have their bucket channel lost: the joins delivered here for
    /// them until [`Hub::resume_joins`] wait for its replay, which applies them in order with
    /// the notices it finds (one applied first would have the room followed past them).
    pub fn pause_joins(&self, which: impl Fn(&UserId) -> bool) {
        for (user, entry) in &mut self.lock().users {
            if which(user) && entry.paused.is_none() {
                entry.paused = Some(Vec::new());
            }
        }
    }

    /// [`Hub::pause_joins`] for one user connected here (a connect while its bucket waits
    /// for its replay): the caller resumes it should the replay be done by then.
    pub fn pause_user(&self, user: &UserId) {
        if let Some(entry) = self.lock().users.get_mut(user) {
            entry.paused.get_or_insert_with(Vec::new);
        }
    }

    /// A join at `seq` that a connecting reading found its user's older connections here
    /// missed (see `redis/pubsub/connect.rs`), while the user waits for its bucket's replay:
    /// left to that replay, in order before the user's later joins in the room it holds. False
    /// if the user waits no more (the caller writes its stretch itself).
    pub fn pause_join(&self, user: &UserId, room: &ChatId, seq: u64) -> bool {
        let mut s = self.lock();
        s.users
            .get_mut(user)
            .is_some_and(|e| e.paused_join(user, room, seq, false))
    }

    /// The replay of the users `which` picks is done: their joins apply again, and those
    /// delivered meanwhile are returned, in order, to be backfilled.
    pub fn resume_joins(&self, which: impl Fn(&UserId) -> bool) -> Vec<PausedJoin> {
        let mut joins = Vec::new();
        for (user, entry) in &mut self.lock().users {
            if which(user) {
                joins.extend(entry.paused.take().unwrap_or_default());
            }
        }
        joins
    }
}

impl UserConns {
    /// The user's connections follow `room` from `at` on (if they did not already).
    pub(super) fn begin(&mut self, room: &ChatId, at: u64) {
        if self.rooms.insert(room.clone()) {
            self.followed.insert(room.clone(), at);
        }
    }

    /// The user's connections stop following `room` at `at`.
    pub(super) fn end(&mut self, room: &ChatId, at: u64) {
        if self.rooms.remove(room) {
            self.followed.insert(room.clone(), at);
        }
    }

    /// Whether a join of the user in `room` waits for its bucket's replay.
    pub(super) fn waits_in(&self, room: &ChatId) -> bool {
        self.paused
            .as_ref()
            .is_some_and(|p| p.iter().any(|j| j.room == *room))
    }

    /// A reading found the user a member of `room` at `last` while a join there waits for
    /// the bucket's replay: the replay follows the room on whatever the user's position there
    /// (the reading may be past the room's position here), so the joins it found are marked
    /// `found`, or, none being that old, one is kept at `last`.
    pub(super) fn found_in(&mut self, user: &UserId, room: &ChatId, last: u64) {
        let Some(paused) = &mut self.paused else { return };
        let mut any = false;
        for j in paused.iter_mut().filter(|j| j.room == *room && j.seq <= last) {
            j.found = true;
            any = true;
        }
        if !any {
            self.paused_join(user, room, last, true);
        }
    }

    /// A join delivered at `seq` (or a membership `found` there) while the user waits for
    /// its bucket's replay: kept for it, before the user's later joins in the room it holds
    /// (one found by a reading can come after them, see `Hub::pause_join`).
    pub(super) fn paused_join(&mut self, user: &UserId, room: &ChatId, seq: u64, found: bool) -> bool {
        let Some(paused) = &mut self.paused else {
            return false;
        };
        let at = paused
            .iter()
            .position(|j| j.room == *room && j.seq > seq)
            .unwrap_or(paused.len());
        let join = PausedJoin {
            user: user.clone(),
            room: room.clone(),
            seq,
            found,
        };
        paused.insert(at, join);
        true
    }
}
