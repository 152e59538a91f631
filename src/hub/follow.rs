//! Which rooms the hub follows: users' connections following rooms, a join announced on the
//! bucket channel, and (with the Redis bus) the rooms that stop being followed here.

use super::{Hub, RoomEntry, State};
use crate::domain::{ChatId, UserId};

impl Hub {
    /// Makes `user`'s local connections follow `rooms`; a room new to this hub starts
    /// after the given sequence (what the store last holds for it). Returns the rooms new here.
    pub fn follow(&self, user: &UserId, rooms: impl IntoIterator<Item = (ChatId, u64)>) -> Vec<ChatId> {
        self.lock().follow(user, rooms)
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
            let r = index.entry(room.clone()).or_insert_with(|| {
                new.push(room.clone());
                RoomEntry {
                    last,
                    ..RoomEntry::default()
                }
            });
            r.members.insert(user.clone());
            entry.rooms.insert(room);
        }
        new
    }
}
