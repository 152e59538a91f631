//! The embedded store: everything in this process, lost on exit. The default, so
//! `cargo run` needs nothing else installed.
//!
//! Locks: the rooms map, then one room, then the users map; never the other way round, and
//! never across an `.await` (every method here is synchronous). A room's lock is what makes
//! append + trim + hand-off to the hub one step, so delivery order is stored order.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::backend::{Access, JoinMode, Joined, Left, Sent, StoreResult};
use crate::domain::{
    ChatId, ChatRoom, Draft, Json, Message, Page, RoomSpec, Timestamp, User, UserId, UserSpec, time,
};
use crate::hub::{Delivery, Hub, Membership};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

struct UserRec {
    user: User,
    conns: u32,
    chats: BTreeSet<ChatId>,
}

struct Room {
    /// The room as served; `participants` kept sorted.
    meta: ChatRoom,
    /// Each message's timestamp and JSON (the bytes delivered, shared with history).
    messages: VecDeque<(Timestamp, Json)>,
    last_ts: Option<Timestamp>,
}

impl Room {
    fn is_member(&self, user: &UserId) -> bool {
        self.meta.participants.binary_search(user).is_ok()
    }

    /// Adds or removes a participant; returns whether anything changed.
    fn set_member(&mut self, user: &UserId, member: bool) -> bool {
        let list = &mut self.meta.participants;
        match (list.binary_search(user), member) {
            (Err(at), true) => list.insert(at, user.clone()),
            (Ok(at), false) => drop(list.remove(at)),
            _ => return false,
        }
        true
    }
}

/// In-process store; clones share the data.
#[derive(Clone)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

struct Inner {
    max_messages: usize,
    rooms: Mutex<HashMap<ChatId, Arc<Mutex<Room>>>>,
    users: Mutex<HashMap<UserId, UserRec>>,
}

impl MemoryStore {
    /// A store that keeps each room's newest `max_messages`.
    pub fn new(max_messages: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                max_messages,
                rooms: Mutex::default(),
                users: Mutex::default(),
            }),
        }
    }

    fn room(&self, id: &ChatId) -> Option<Arc<Mutex<Room>>> {
        lock(&self.inner.rooms).get(id).cloned()
    }

    fn room_or_create(&self, id: &ChatId) -> Arc<Mutex<Room>> {
        let mut rooms = lock(&self.inner.rooms);
        rooms
            .entry(id.clone())
            .or_insert_with(|| Arc::new(Mutex::new(new_room(RoomSpec::implicit(id)))))
            .clone()
    }

    /// Adds or removes `chat` in `user`'s room list, creating the user if needed.
    fn link(&self, user: &UserId, chat: &ChatId, member: bool) {
        let mut users = lock(&self.inner.users);
        let rec = users
            .entry(user.clone())
            .or_insert_with(|| new_user(UserSpec::implicit(user)));
        if member {
            rec.chats.insert(chat.clone());
        } else {
            rec.chats.remove(chat);
        }
    }

    /// Stamps, stores and trims `draft` in `room` (whose lock the caller holds), and hands it
    /// to `hub` under that lock: this process is the only instance.
    fn append(&self, room: &mut Room, draft: Draft, membership: Option<Membership>, hub: &Hub) -> Message {
        let ts = time::next_after(room.last_ts);
        room.last_ts = Some(ts);
        let message = draft.stamp(ts);
        let json = Json::of(&message);
        room.messages.push_back((ts, json.clone()));
        while room.messages.len() > self.inner.max_messages {
            room.messages.pop_front();
        }
        hub.deliver(&Delivery {
            chat_id: room.meta.id.clone(),
            frame: json,
            skip: None,
            membership,
            seq: u64::try_from(ts.timestamp_micros()).ok(),
        });
        message
    }

    fn join_locked(&self, room: &mut Room, user: &UserId, hub: &Hub) -> Message {
        room.set_member(user, true);
        self.link(user, &room.meta.id, true);
        let draft = Draft::membership(&room.meta.id, user, true);
        self.append(room, draft, Some(Membership::Joined(user.clone())), hub)
    }

    pub fn create_user(&self, spec: UserSpec) -> StoreResult<Option<User>> {
        let mut users = lock(&self.inner.users);
        if users.contains_key(&spec.id) {
            return Ok(None);
        }
        let rec = new_user(spec);
        let user = rec.user.clone();
        users.insert(user.id.clone(), rec);
        Ok(Some(user))
    }

    pub fn get_user(&self, id: &UserId) -> StoreResult<Option<User>> {
        Ok(lock(&self.inner.users).get(id).map(|r| r.user.clone()))
    }

    pub fn connect(&self, id: &UserId) -> StoreResult<Vec<ChatId>> {
        let mut users = lock(&self.inner.users);
        let rec = users
            .entry(id.clone())
            .or_insert_with(|| new_user(UserSpec::implicit(id)));
        rec.conns += 1;
        rec.user.is_active = true;
        Ok(rec.chats.iter().cloned().collect())
    }

    pub fn disconnect(&self, id: &UserId) -> StoreResult<()> {
        if let Some(rec) = lock(&self.inner.users).get_mut(id) {
            rec.conns = rec.conns.saturating_sub(1);
            if rec.conns == 0 {
                rec.user.is_active = false;
                rec.user.last_seen = Some(time::now());
            }
        }
        Ok(())
    }

    pub fn create_room(&self, spec: RoomSpec) -> StoreResult<Option<ChatRoom>> {
        let mut rooms = lock(&self.inner.rooms);
        if rooms.contains_key(&spec.id) {
            return Ok(None);
        }
        let room = new_room(spec);
        for user in &room.meta.participants {
            self.link(user, &room.meta.id, true);
        }
        let view = room.meta.clone();
        rooms.insert(room.meta.id.clone(), Arc::new(Mutex::new(room)));
        Ok(Some(view))
    }

    pub fn get_room(&self, id: &ChatId) -> StoreResult<Option<ChatRoom>> {
        Ok(self.room(id).map(|r| lock(&r).meta.clone()))
    }

    pub fn access(&self, chat: &ChatId, user: &UserId) -> StoreResult<Access> {
        Ok(match self.room(chat) {
            None => Access::NoRoom,
            Some(room) => {
                let room = lock(&room);
                if room.is_member(user) {
                    Access::Member
                } else {
                    Access::Outsider {
                        private: room.meta.is_private,
                    }
                }
            }
        })
    }

    pub fn join(&self, chat: &ChatId, user: &UserId, mode: JoinMode, hub: &Hub) -> StoreResult<Joined> {
        let room = match mode {
            JoinMode::Member => self.room_or_create(chat),
            JoinMode::Added => match self.room(chat) {
                Some(room) => room,
                None => return Ok(Joined::NoRoom),
            },
        };
        let mut room = lock(&room);
        if room.is_member(user) {
            return Ok(Joined::Already);
        }
        if room.meta.is_private && mode == JoinMode::Member {
            return Ok(Joined::Private);
        }
        Ok(Joined::Now(self.join_locked(&mut room, user, hub)))
    }

    pub fn leave(&self, chat: &ChatId, user: &UserId, hub: &Hub) -> StoreResult<Left> {
        let Some(room) = self.room(chat) else {
            return Ok(Left::NoRoom);
        };
        let mut room = lock(&room);
        if !room.set_member(user, false) {
            return Ok(Left::NotMember);
        }
        self.link(user, chat, false);
        let draft = Draft::membership(chat, user, false);
        let left = Some(Membership::Left(user.clone()));
        Ok(Left::Now(self.append(&mut room, draft, left, hub)))
    }

    pub fn send(&self, draft: Draft, hub: &Hub) -> StoreResult<Sent> {
        let room = self.room_or_create(&draft.chat_id);
        let mut room = lock(&room);
        if !room.is_member(&draft.user_id) {
            if room.meta.is_private {
                return Ok(Sent::Private);
            }
            self.join_locked(&mut room, &draft.user_id, hub);
        }
        Ok(Sent::Stored(self.append(&mut room, draft, None, hub)))
    }

    pub fn history(
        &self,
        chat: &ChatId,
        limit: usize,
        before: Option<Timestamp>,
    ) -> StoreResult<Option<Page>> {
        let Some(room) = self.room(chat) else {
            return Ok(None);
        };
        let room = lock(&room);
        // Timestamps strictly increase, so the deque is sorted by them.
        let end = match before {
            Some(b) => room.messages.partition_point(|(t, _)| *t < b),
            None => room.messages.len(),
        };
        let start = end.saturating_sub(limit);
        Ok(Some(Page(
            room.messages.range(start..end).map(|(_, m)| m.clone()).collect(),
        )))
    }

    pub fn user_rooms(&self, id: &UserId) -> StoreResult<Option<Vec<ChatRoom>>> {
        // Copy the ids first: the users lock must not be held while rooms are locked.
        let Some(chats) = lock(&self.inner.users).get(id).map(|r| r.chats.clone()) else {
            return Ok(None);
        };
        Ok(Some(
            chats
                .iter()
                .filter_map(|c| self.room(c))
                .map(|r| lock(&r).meta.clone())
                .collect(),
        ))
    }
}

fn new_user(spec: UserSpec) -> UserRec {
    UserRec {
        user: User::from(spec),
        conns: 0,
        chats: BTreeSet::new(),
    }
}

fn new_room(spec: RoomSpec) -> Room {
    Room {
        meta: spec.into_room(time::now()),
        messages: VecDeque::new(),
        last_ts: None,
    }
}
