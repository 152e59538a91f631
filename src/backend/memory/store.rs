//! The embedded store: everything in this process, lost on exit. The default, so
//! `cargo run` needs nothing else installed.
//!
//! Locks: the rooms map, then one room, then the users map; never the other way round, and
//! never across an `.await` (every method here is synchronous). A room's lock is what makes
//! append + trim + hand-off to the hub one step, so delivery order is stored order.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::room::Room;
use crate::backend::{Access, JoinMode, Joined, Left, Marked, Replay, Sent, StoreResult};
use crate::domain::message::seq_of;
use crate::domain::{
    ChatId, ChatRoom, Draft, Json, Message, Page, RoomSpec, User, UserId, UserRoom, UserSpec, Window, time,
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

/// In-process store; clones share the data.
#[derive(Clone)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

struct Inner {
    max_messages: usize,
    /// How long a `client_msg_id` is remembered.
    window: Duration,
    rooms: Mutex<HashMap<ChatId, Arc<Mutex<Room>>>>,
    users: Mutex<HashMap<UserId, UserRec>>,
}

impl MemoryStore {
    /// A store that keeps each room's newest `max_messages`, and each `client_msg_id` for
    /// `window`.
    pub fn new(max_messages: usize, window: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                max_messages,
                window,
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
            .or_insert_with(|| Arc::new(Mutex::new(Room::new(RoomSpec::implicit(id), self.inner.window))))
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
        let message = draft.store(ts, &room.epoch);
        let json = Json::of(&message);
        let seq = seq_of(ts);
        room.push(seq, json.clone(), self.inner.max_messages);
        hub.deliver(&Delivery {
            chat_id: room.meta.id.clone(),
            frame: json,
            skip: None,
            membership,
            seq: Some(seq),
        });
        message
    }

    fn join_locked(&self, room: &mut Room, user: &UserId, hub: &Hub) -> Message {
        room.set_member(user, true);
        self.link(user, &room.meta.id, true);
        let draft = Draft::membership(&room.meta.id, user, true);
        let notice = self.append(room, draft, Some(Membership::Joined(user.clone())), hub);
        room.read_all(user);
        notice
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
        let room = Room::new(spec, self.inner.window);
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
        let user = draft.user_id.clone();
        if let Some(id) = &draft.client_msg_id
            && let Some(original) = room.sent_before(&user, id)
        {
            return Ok(Sent::Again(original));
        }
        if !room.is_member(&user) {
            if room.meta.is_private {
                return Ok(Sent::Private);
            }
            self.join_locked(&mut room, &user, hub);
        }
        let message = self.append(&mut room, draft, None, hub);
        room.read_all(&user);
        room.remember_sent(&message);
        Ok(Sent::Stored(message))
    }

    /// A page of history (see [`Window`]); `None` for no room.
    pub fn history(&self, chat: &ChatId, limit: usize, window: Window) -> StoreResult<Option<Page>> {
        Ok(self.room(chat).map(|r| lock(&r).page(limit, window)))
    }

    /// What a resume of `chat` after `after` needs; `None` for no room.
    pub fn replay(&self, chat: &ChatId, user: &UserId, after: u64) -> StoreResult<Option<Replay>> {
        Ok(self.room(chat).map(|r| lock(&r).replay(user, after)))
    }

    /// Moves a participant's read position forward; `None` for no room.
    pub fn mark_read(&self, chat: &ChatId, user: &UserId, seq: u64) -> StoreResult<Option<Marked>> {
        Ok(self.room(chat).map(|r| lock(&r).mark_read(user, seq)))
    }

    /// Each participant's read position; `None` for no room.
    pub fn read_positions(&self, chat: &ChatId) -> StoreResult<Option<BTreeMap<UserId, u64>>> {
        Ok(self.room(chat).map(|r| lock(&r).read_positions()))
    }

    pub fn user_rooms(&self, id: &UserId) -> StoreResult<Option<Vec<UserRoom>>> {
        // Copy the ids first: the users lock must not be held while rooms are locked.
        let Some(chats) = lock(&self.inner.users).get(id).map(|r| r.chats.clone()) else {
            return Ok(None);
        };
        let mut out = Vec::with_capacity(chats.len());
        for room in chats.iter().filter_map(|c| self.room(c)) {
            let room = lock(&room);
            let last = room.messages.back().map(|(_, m)| m.parse()).transpose();
            out.push(UserRoom {
                room: room.meta.clone(),
                unread: room.unread(id),
                last_message: last.map_err(|e| crate::backend::StoreError::Unavailable(e.to_string()))?,
            });
        }
        Ok(Some(out))
    }
}

fn new_user(spec: UserSpec) -> UserRec {
    UserRec {
        user: User::from(spec),
        conns: 0,
        chats: BTreeSet::new(),
    }
}
