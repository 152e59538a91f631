//! Which rooms the hub follows: users' connections following rooms, a join announced on the
//! bucket channel, and (with the Redis bus) the rooms that stop being followed here.

use super::{Delivery, Hub, Membership, RoomEntry, State, UserConns};
use crate::domain::{ChatId, UserId};

impl Hub {
    /// Makes `user`'s local connections follow `rooms`; a room new to this hub starts
    /// after the given sequence (what the store last holds for it), and a room the user left
    /// here after it is skipped. Returns the rooms new here.
    pub fn follow(&self, user: &UserId, rooms: impl IntoIterator<Item = (ChatId, u64)>) -> Vec<ChatId> {
        self.lock().follow(user, rooms)
    }

    /// [`Hub::follow`] for a connection's reading of the store (`rooms`: those its user is a
    /// member of, each with the store's last sequence then). In a room this hub is behind in,
    /// which the user's connections here do not follow though they read their rooms before
    /// (its join is still to come here), the user becomes a member at its join (`joined`), or
    /// at that last sequence at the latest (`RoomEntry::joins_due`): at once, those
    /// connections would get the room's messages from before the join.
    pub fn follow_read(&self, user: &UserId, rooms: impl IntoIterator<Item = (ChatId, u64)>) -> Vec<ChatId> {
        let mut s = self.lock();
        let State {
            users, rooms: index, ..
        } = &mut *s;
        let tracked = users.get(user).is_some_and(|e| e.since != 0);
        let rooms: Vec<_> = rooms
            .into_iter()
            .filter(|(room, last)| match index.get_mut(room) {
                Some(r) if tracked && r.last < *last && !r.members.contains(user) => {
                    r.joining.push((user.clone(), *last, true));
                    false
                }
                _ => true,
            })
            .collect();
        s.follow(user, rooms)
    }

    /// The users with a connection here.
    pub fn local_users(&self) -> Vec<UserId> {
        self.lock().users.keys().cloned().collect()
    }

    /// Starts recording the rooms that stop being followed here, for [`Hub::take_dropped`]
    /// (the Redis bus unsubscribes from them).
    pub fn track_dropped(&self) {
        self.lock().dropped.get_or_insert_with(Vec::new);
    }

    /// The rooms that stopped being followed here since the last call.
    pub fn take_dropped(&self) -> Vec<ChatId> {
        self.lock()
            .dropped
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Puts back rooms taken by [`Hub::take_dropped`] whose unsubscribe failed.
    pub fn drop_again(&self, rooms: Vec<ChatId>) {
        if let Some(dropped) = &mut self.lock().dropped {
            dropped.extend(rooms);
        }
    }
}

impl RoomEntry {
    /// Before delivering `seq` here: users that are members by then (flagged in `joining`)
    /// become members if they are not yet; once a membership change is delivered, the joins
    /// announced up to it are applied (or were never to come: a later one replaced them).
    pub(super) fn joins_due(
        &mut self,
        users: &mut super::Map<UserId, UserConns>,
        floors: &mut super::Map<u64, super::floor::Floors>,
        chat: &ChatId,
        seq: u64,
        membership: bool,
    ) {
        let members = &mut self.members;
        self.joining.retain(|(user, at, by_then)| {
            if *at > seq {
                return true;
            }
            if *by_then && let Some(entry) = users.get_mut(user) {
                // The join is at `at` at the latest: as at a join applied here (`joined`), a
                // connection that read its rooms after it gets nothing stored before its
                // reading (one that did not find the room read them after the user left, the
                // leave still to come here).
                // Waiting for its bucket's replay, as a join delivered here does (`joined`).
                if !entry.paused_join(user, chat, *at, true) {
                    super::floor::read_after(floors, entry, chat, *at);
                    entry.begin(chat, *at);
                    members.insert(user.clone());
                }
            }
            !*by_then && !membership
        });
    }
}

impl State {
    /// See [`Hub::follow`].
    pub(super) fn follow(
        &mut self,
        user: &UserId,
        rooms: impl IntoIterator<Item = (ChatId, u64)>,
    ) -> Vec<ChatId> {
        let State {
            users, rooms: index, ..
        } = self;
        let mut new = Vec::new();
        let Some(entry) = users.get_mut(user) else {
            return new;
        };
        for (room, last) in rooms {
            // A leave delivered here after the store was read: the user is no member any more.
            if entry
                .marks
                .get(&room)
                .is_some_and(|(at, joined)| *at > last && !joined)
            {
                continue;
            }
            // A join here waits for the bucket's replay: followed now, the room would go to
            // the user's older connections from past it (see `backfill.rs`). The replay
            // follows it, as this reading found the user a member (soak seed 701531709).
            if entry.waits_in(&room) {
                entry.found_in(user, &room, last);
                continue;
            }
            let r = index.entry(room.clone()).or_insert_with(|| {
                new.push(room.clone());
                RoomEntry {
                    last,
                    ..RoomEntry::default()
                }
            });
            r.members.insert(user.clone());
            entry.begin(&room, r.last);
        }
        new
    }

    /// Applies a join carried by `d`: the user's local connections follow the room (which,
    /// new here, starts after `last`).
    pub(super) fn joined(&mut self, d: &Delivery, last: u64) {
        let State {
            users, rooms, floors, ..
        } = self;
        // A join older than the user's connections' reading of its rooms is covered by that
        // read (a hub catching up on the room): applied, it could follow a room left since.
        // One at or below the user's last join delivered here is a copy (two replays of a room
        // racing, the first dropping it with the user's leave): it would follow the room again
        // from before that leave. Not its last leave: a room followed here from past the join
        // (for another reading or member) delivers the leave first, and this join is then new.
        if let Some(Membership::Joined(user)) = &d.membership
            && let Some(entry) = users.get_mut(user)
            && d.seq.is_none_or(|seq| {
                seq >= entry.since && entry.joins.get(&d.chat_id).is_none_or(|at| *at < seq)
            })
        {
            if let Some(seq) = d.seq {
                if entry.paused_join(user, &d.chat_id, seq, false) {
                    return;
                }
                super::floor::read_after(floors, entry, &d.chat_id, seq);
            }
            entry.begin(&d.chat_id, d.seq.unwrap_or(last));
            rooms
                .entry(d.chat_id.clone())
                .or_insert_with(|| RoomEntry {
                    last,
                    ..RoomEntry::default()
                })
                .members
                .insert(user.clone());
        }
    }

    /// After delivering `d`: a user's join or leave is its mark (see `UserConns::marks`),
    /// and a leave takes its local connections out of the room.
    pub(super) fn membership_changed(&mut self, d: &Delivery) {
        let Some(membership) = &d.membership else {
            return;
        };
        let (user, joined) = match membership {
            Membership::Joined(user) => (user, true),
            Membership::Left(user) => (user, false),
        };
        let mut leave = !joined;
        if let Some(entry) = self.users.get_mut(user) {
            // A join left to the bucket's replay is no mark yet: the replay applies it.
            let paused = joined && entry.paused.is_some();
            // A reading that did not find the room, while this hub was behind it there.
            let left = entry.marks.get(&d.chat_id);
            let left = left.is_some_and(|(at, joined)| !joined && d.seq.is_some_and(|seq| *at > seq));
            if let Some(seq) = d.seq.filter(|_| !paused) {
                entry.marks.insert(d.chat_id.clone(), (seq, joined));
                if joined {
                    entry.joins.insert(d.chat_id.clone(), seq);
                }
                // A leave older than the user's connections' reading of its rooms is covered
                // by that read, as a join is (`joined`): the user followed the room only if it
                // joined again since (a hub catching up on the room would undo that join).
                // A reading that did not find the room is that leave's (`Hub::started`).
                leave &= seq >= entry.since || left;
            }
            if leave {
                entry.end(&d.chat_id, d.seq.unwrap_or_default());
            }
        }
        if leave {
            self.unfollow(&d.chat_id, user);
        }
    }

    pub(super) fn unfollow(&mut self, room: &ChatId, user: &UserId) {
        if let Some(entry) = self.rooms.get_mut(room) {
            entry.members.remove(user);
            if entry.idle() {
                self.rooms.remove(room);
                if let Some(dropped) = &mut self.dropped {
                    dropped.push(room.clone());
                }
            }
        }
    }
}
