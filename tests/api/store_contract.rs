//! Store conformance: one suite of store-level tests, run unchanged on both stores.
//!
//! `store_test!` turns each body into a module with two tests, `memory` and `redis`
//! (`store_contract::NAME::` selects both, a name ending `::redis` one store). Every test gets
//! its own store: a fresh `MemoryStore`, or a `RedisStore` on the binary's shared redis-server
//! under a key prefix of its own. The Redis store heartbeats once after opening, as the server
//! does at start-up, so its connections count as active.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chat_server::config::RedisSettings;
use chat_server::domain::{
    ChatId, ChatRoom, Draft, Message, MessageKind, Metadata, NewChat, RoomSpec, Timestamp, User, UserId,
    UserSpec, time,
};
use chat_server::store::{Access, JoinMode, Joined, Left, MemoryStore, Page, RedisStore, Sent, Store};
use chat_server::ws::hub::Hub;
use chrono::TimeDelta;
use serde_json::json;

use crate::helpers::fresh_prefix;
use crate::redis_server::RedisServer;

/// Room size limit unless a test says otherwise: large enough never to trim.
const ROOMY: usize = 1000;

fn memory_store(max: usize) -> Store {
    Store::Memory(MemoryStore::new(max, Hub::default()))
}

async fn redis_store(server: &RedisServer, max: usize) -> Store {
    let settings = RedisSettings {
        url: server.url(),
        address: format!("127.0.0.1:{}", server.port),
        pool_size: 2,
        key_prefix: fresh_prefix(),
        presence_ttl: Duration::from_secs(30),
    };
    let store = RedisStore::open(&settings, Duration::from_secs(5), max, Hub::default())
        .await
        .unwrap();
    store.heartbeat().await.unwrap();
    Store::Redis(Arc::new(store))
}

/// `store_test!(name, [max = N,] |store| { body })`: `name::memory` and `name::redis`.
macro_rules! store_test {
    ($(#[doc = $doc:literal])* $name:ident, |$store:ident| $body:block) => {
        store_test!($(#[doc = $doc])* $name, max = ROOMY, |$store| $body);
    };
    ($(#[doc = $doc:literal])* $name:ident, max = $max:expr, |$store:ident| $body:block) => {
        $(#[doc = $doc])*
        mod $name {
            use super::*;

            async fn run($store: Store) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn memory() {
                run(memory_store($max)).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn redis() {
                let server = RedisServer::shared(); // alive until the test ends
                run(redis_store(&server, $max).await).await;
            }
        }
    };
}

fn uid(s: &str) -> UserId {
    UserId::parse(s).unwrap()
}

fn cid(s: &str) -> ChatId {
    ChatId::parse(s).unwrap()
}

fn text(chat: &str, user: &str, content: &str) -> Draft {
    Draft {
        chat_id: cid(chat),
        user_id: uid(user),
        content: content.into(),
        kind: MessageKind::Text,
        metadata: Metadata::new(),
        reply_to: None,
    }
}

/// A room spec as `POST /chat` builds it (so participants are sorted and de-duplicated).
fn room_spec(body: serde_json::Value) -> RoomSpec {
    serde_json::from_value::<NewChat>(body)
        .unwrap()
        .validate()
        .unwrap()
}

/// The user a connection or a join creates: named after its id, nothing else known.
fn implicit_user(id: &str, is_active: bool) -> User {
    User {
        id: uid(id),
        username: id.into(),
        email: None,
        is_active,
        last_seen: None,
        metadata: Metadata::new(),
    }
}

async fn send_ok(store: &Store, draft: Draft) -> Message {
    match store.send(draft).await.unwrap() {
        Sent::Stored(m) => m,
        other => panic!("expected Stored, got {other:?}"),
    }
}

async fn join_now(store: &Store, chat: &str, user: &str, mode: JoinMode) -> Message {
    match store.join(&cid(chat), &uid(user), mode).await.unwrap() {
        Joined::Now(m) => m,
        other => panic!("expected Now, got {other:?}"),
    }
}

async fn history(store: &Store, chat: &str) -> Vec<Message> {
    parsed(store.history(&cid(chat), ROOMY, None).await.unwrap()).unwrap()
}

/// A page's messages, parsed from the JSON the store keeps.
fn parsed(page: Option<Page>) -> Option<Vec<Message>> {
    page.map(|p| p.messages().unwrap())
}

async fn room_ids(store: &Store, user: &str) -> Vec<String> {
    let rooms = store.user_rooms(&uid(user)).await.unwrap().unwrap();
    rooms.iter().map(|r| r.id.to_string()).collect()
}

/// A join or leave notice: by `system`, of type system, with `content`, in `chat`.
fn assert_notice(m: &Message, chat: &str, content: &str) {
    assert_eq!(m.chat_id, cid(chat));
    assert_eq!(m.user_id, uid("system"));
    assert_eq!(m.kind, MessageKind::System);
    assert_eq!(m.content, content);
    assert_eq!(m.metadata, Metadata::new());
    assert_eq!(m.reply_to, None);
    assert_eq!(m.id.get_version_num(), 7, "message ids are UUID v7");
}

fn assert_strictly_increasing(messages: &[Message]) {
    for pair in messages.windows(2) {
        assert!(pair[0].timestamp < pair[1].timestamp, "{pair:?}");
    }
}

store_test!(
    /// A working store answers ping.
    ping_answers,
    |store| {
        store.ping().await.unwrap();
    }
);

store_test!(
    /// create_user returns the user with the implicit fields; get_user returns the same; a
    /// second create with that id is None and changes nothing.
    users_create_get_conflict,
    |store| {
        assert_eq!(store.get_user(&uid("ann")).await.unwrap(), None);
        let spec = UserSpec {
            id: uid("ann"),
            username: "Ann".into(),
            email: Some("ann@example.com".into()),
            metadata: json!({"lang": "en", "n": [1, {"x": null}]}).as_object().unwrap().clone(),
        };
        let want = User {
            id: uid("ann"),
            username: "Ann".into(),
            email: Some("ann@example.com".into()),
            is_active: false,
            last_seen: None,
            metadata: spec.metadata.clone(),
        };
        assert_eq!(store.create_user(spec).await.unwrap(), Some(want.clone()));
        assert_eq!(store.get_user(&uid("ann")).await.unwrap(), Some(want.clone()));

        let again = UserSpec::implicit(&uid("ann"));
        assert_eq!(store.create_user(again).await.unwrap(), None);
        assert_eq!(store.get_user(&uid("ann")).await.unwrap(), Some(want));

        let bare = UserSpec::implicit(&uid("bo"));
        assert_eq!(store.create_user(bare).await.unwrap(), Some(implicit_user("bo", false)));
        assert_eq!(store.get_user(&uid("bo")).await.unwrap(), Some(implicit_user("bo", false)));
    }
);

store_test!(
    /// connect creates a missing user (username = id, active), keeps an existing user's
    /// fields, and returns the rooms the user takes part in.
    connect_creates_user_and_lists_rooms,
    |store| {
        assert_eq!(store.connect(&uid("cy")).await.unwrap(), Vec::<ChatId>::new());
        assert_eq!(store.get_user(&uid("cy")).await.unwrap(), Some(implicit_user("cy", true)));
        assert_eq!(store.create_user(UserSpec::implicit(&uid("cy"))).await.unwrap(), None);

        join_now(&store, "r2", "cy", JoinMode::Member).await;
        join_now(&store, "r1", "cy", JoinMode::Member).await;
        let mut rooms = store.connect(&uid("cy")).await.unwrap();
        rooms.sort();
        assert_eq!(rooms, [cid("r1"), cid("r2")]);

        let spec = UserSpec { username: "Dee".into(), ..UserSpec::implicit(&uid("dee")) };
        store.create_user(spec).await.unwrap().unwrap();
        store.connect(&uid("dee")).await.unwrap();
        let dee = store.get_user(&uid("dee")).await.unwrap().unwrap();
        assert_eq!((dee.username.as_str(), dee.is_active), ("Dee", true));
    }
);

store_test!(
    /// Presence counts connections: active until the last one closes, which sets last_seen.
    presence_counts_connections,
    |store| {
        let before = time::now();
        store.connect(&uid("pat")).await.unwrap();
        store.connect(&uid("pat")).await.unwrap();
        let user = store.get_user(&uid("pat")).await.unwrap().unwrap();
        assert_eq!((user.is_active, user.last_seen), (true, None));

        store.disconnect(&uid("pat")).await.unwrap();
        let user = store.get_user(&uid("pat")).await.unwrap().unwrap();
        assert_eq!((user.is_active, user.last_seen), (true, None), "one connection is left");

        store.disconnect(&uid("pat")).await.unwrap();
        let user = store.get_user(&uid("pat")).await.unwrap().unwrap();
        assert!(!user.is_active);
        let seen = user.last_seen.expect("last_seen is set by the last disconnect");
        assert!(before <= seen && seen <= time::now(), "{before} <= {seen}");

        store.disconnect(&uid("nobody")).await.unwrap();
        assert_eq!(store.get_user(&uid("nobody")).await.unwrap(), None);
    }
);

store_test!(
    /// create_room stores the room exactly as returned (participants sorted, no system
    /// message), creates missing participants without touching existing ones, lists the
    /// room in their rooms, and refuses a taken id.
    create_room_and_participants,
    |store| {
        let bob = UserSpec { username: "Bob".into(), ..UserSpec::implicit(&uid("bob")) };
        store.create_user(bob).await.unwrap().unwrap();
        let before = time::now();
        let spec = room_spec(json!({"id": "club", "name": "The Club", "is_private": true,
            "participants": ["bob", "al", "bob"], "metadata": {"topic": "rust"}}));
        let room = store.create_room(spec).await.unwrap().unwrap();
        assert_eq!(room.id, cid("club"));
        assert_eq!(room.name, "The Club");
        assert_eq!(room.participants, [uid("al"), uid("bob")]);
        assert!(room.is_private);
        assert_eq!(room.metadata, json!({"topic": "rust"}).as_object().unwrap().clone());
        assert!(before <= room.created_at && room.created_at <= time::now());
        assert_eq!(store.get_room(&cid("club")).await.unwrap(), Some(room.clone()));
        assert_eq!(history(&store, "club").await, []);

        assert_eq!(store.get_user(&uid("al")).await.unwrap(), Some(implicit_user("al", false)));
        assert_eq!(store.get_user(&uid("bob")).await.unwrap().unwrap().username, "Bob");
        for user in ["al", "bob"] {
            let rooms = store.user_rooms(&uid(user)).await.unwrap();
            assert_eq!(rooms, Some(vec![room.clone()]), "{user}");
        }

        let again = room_spec(json!({"id": "club", "name": "Other"}));
        assert!(store.create_room(again).await.unwrap().is_none());
        assert_eq!(store.get_room(&cid("club")).await.unwrap(), Some(room));
        assert_eq!(store.get_room(&cid("nowhere")).await.unwrap(), None);
    }
);

store_test!(
    /// access tells a missing room, a member, and an outsider of a public or private room apart.
    access_outcomes,
    |store| {
        assert_eq!(store.access(&cid("none"), &uid("u")).await.unwrap(), Access::NoRoom);
        store.create_room(room_spec(json!({"id": "pub", "name": "P", "participants": ["u"]}))).await.unwrap();
        store.create_room(room_spec(json!({"id": "priv", "name": "Q", "is_private": true}))).await.unwrap();
        assert_eq!(store.access(&cid("pub"), &uid("u")).await.unwrap(), Access::Member);
        let outsider = store.access(&cid("pub"), &uid("v")).await.unwrap();
        assert_eq!(outsider, Access::Outsider { private: false });
        let outsider = store.access(&cid("priv"), &uid("u")).await.unwrap();
        assert_eq!(outsider, Access::Outsider { private: true });
    }
);

store_test!(
    /// A Member join creates a missing public room named after its id and stores the join
    /// notice; joining again is Already and stores nothing.
    join_member_creates_room,
    |store| {
        let before = time::now();
        let notice = join_now(&store, "lobby", "u", JoinMode::Member).await;
        assert_notice(&notice, "lobby", "u joined the chat");
        let room = store.get_room(&cid("lobby")).await.unwrap().unwrap();
        let want = ChatRoom {
            id: cid("lobby"),
            name: "lobby".into(),
            created_at: room.created_at,
            participants: vec![uid("u")],
            is_private: false,
            metadata: Metadata::new(),
        };
        assert_eq!(room, want);
        assert!(before <= room.created_at && room.created_at <= time::now());
        assert_eq!(store.get_user(&uid("u")).await.unwrap(), Some(implicit_user("u", false)));
        assert_eq!(store.user_rooms(&uid("u")).await.unwrap(), Some(vec![room]));

        let again = store.join(&cid("lobby"), &uid("u"), JoinMode::Member).await.unwrap();
        assert_eq!(again, Joined::Already);
        assert_eq!(history(&store, "lobby").await, [notice]);
    }
);

store_test!(
    /// A private room refuses a Member join but admits an Admin join; an Admin join of a
    /// missing room is NoRoom and creates no room.
    join_private_and_admin,
    |store| {
        store.create_room(room_spec(json!({"id": "vault", "name": "V", "is_private": true}))).await.unwrap();
        let refused = store.join(&cid("vault"), &uid("eve"), JoinMode::Member).await.unwrap();
        assert_eq!(refused, Joined::Private);
        assert_eq!(history(&store, "vault").await, []);

        let notice = join_now(&store, "vault", "eve", JoinMode::Admin).await;
        assert_notice(&notice, "vault", "eve joined the chat");
        assert_eq!(store.access(&cid("vault"), &uid("eve")).await.unwrap(), Access::Member);
        assert_eq!(history(&store, "vault").await, [notice]);
        assert_eq!(room_ids(&store, "eve").await, ["vault"]);
        let again = store.join(&cid("vault"), &uid("eve"), JoinMode::Member).await.unwrap();
        assert_eq!(again, Joined::Already, "a member of a private room is already in");

        let missing = store.join(&cid("ghost"), &uid("eve"), JoinMode::Admin).await.unwrap();
        assert_eq!(missing, Joined::NoRoom);
        assert_eq!(store.get_room(&cid("ghost")).await.unwrap(), None);
    }
);

store_test!(
    /// A refused join (Private, or NoRoom in Admin mode) changes nothing: no user is created.
    refused_join_creates_no_user,
    |store| {
        let spec = room_spec(json!({"id": "vault", "name": "V", "is_private": true}));
        store.create_room(spec).await.unwrap().unwrap();
        let refused = store.join(&cid("vault"), &uid("p1"), JoinMode::Member).await.unwrap();
        assert_eq!(refused, Joined::Private);
        assert_eq!(store.get_user(&uid("p1")).await.unwrap(), None, "after Private");
        let refused = store.join(&cid("ghost"), &uid("p2"), JoinMode::Admin).await.unwrap();
        assert_eq!(refused, Joined::NoRoom);
        assert_eq!(store.get_user(&uid("p2")).await.unwrap(), None, "after NoRoom");
    }
);

store_test!(
    /// leave: NoRoom for a missing room, NotMember for an outsider, else Now with the leave
    /// notice stored; the room leaves the user's rooms and the user the participants.
    leave_outcomes,
    |store| {
        assert_eq!(store.leave(&cid("none"), &uid("u")).await.unwrap(), Left::NoRoom);
        let joined = join_now(&store, "hall", "u", JoinMode::Member).await;
        join_now(&store, "other", "u", JoinMode::Member).await;
        assert_eq!(store.leave(&cid("hall"), &uid("v")).await.unwrap(), Left::NotMember);

        let Left::Now(notice) = store.leave(&cid("hall"), &uid("u")).await.unwrap() else {
            panic!("expected Left::Now");
        };
        assert_notice(&notice, "hall", "u left the chat");
        assert_eq!(history(&store, "hall").await, [joined, notice]);
        assert_eq!(room_ids(&store, "u").await, ["other"]);
        let room = store.get_room(&cid("hall")).await.unwrap().unwrap();
        assert_eq!(room.participants, Vec::<UserId>::new());
        let access = store.access(&cid("hall"), &uid("u")).await.unwrap();
        assert_eq!(access, Access::Outsider { private: false });
        assert_eq!(store.leave(&cid("hall"), &uid("u")).await.unwrap(), Left::NotMember);
    }
);

store_test!(
    /// A text into a new room creates it and joins the sender first: history is the join
    /// notice then the text, exactly as send returned it.
    send_into_new_room,
    |store| {
        store.connect(&uid("sam")).await.unwrap();
        let sent = send_ok(&store, text("fresh", "sam", "hello")).await;
        assert_eq!(sent.chat_id, cid("fresh"));
        assert_eq!(sent.user_id, uid("sam"));
        assert_eq!((sent.content.as_str(), sent.kind), ("hello", MessageKind::Text));
        assert_eq!(sent.id.get_version_num(), 7);

        let stored = history(&store, "fresh").await;
        assert_eq!(stored.len(), 2, "{stored:?}");
        assert_notice(&stored[0], "fresh", "sam joined the chat");
        assert_eq!(stored[1], sent);
        assert!(stored[0].timestamp < sent.timestamp);
        assert_eq!(room_ids(&store, "sam").await, ["fresh"]);
        assert_eq!(store.access(&cid("fresh"), &uid("sam")).await.unwrap(), Access::Member);
    }
);

store_test!(
    /// A text from a user the store has never seen joins them as a join would: the user is
    /// created (username = id) and lists the room.
    send_creates_unknown_sender,
    |store| {
        let sent = send_ok(&store, text("open", "newbie", "hi")).await;
        assert_eq!(history(&store, "open").await[1], sent);
        let user = store.get_user(&uid("newbie")).await.unwrap();
        assert_eq!(user, Some(implicit_user("newbie", false)));
        let room = store.get_room(&cid("open")).await.unwrap().unwrap();
        assert_eq!(store.user_rooms(&uid("newbie")).await.unwrap(), Some(vec![room]));
    }
);

store_test!(
    /// An outsider's text into a private room is refused and stores nothing.
    send_into_private_room_refused,
    |store| {
        store.create_room(room_spec(json!({"id": "safe", "name": "S", "is_private": true,
            "participants": ["owner"]}))).await.unwrap();
        store.connect(&uid("out")).await.unwrap();
        assert_eq!(store.send(text("safe", "out", "let me in")).await.unwrap(), Sent::Private);
        assert_eq!(history(&store, "safe").await, []);
        let access = store.access(&cid("safe"), &uid("out")).await.unwrap();
        assert_eq!(access, Access::Outsider { private: true });

        let sent = send_ok(&store, text("safe", "owner", "mine")).await;
        assert_eq!(history(&store, "safe").await, [sent], "a member writes with no join notice");
    }
);

store_test!(
    /// metadata (nested, with escapes) and reply_to come back from history exactly as sent.
    metadata_and_reply_round_trip,
    |store| {
        let first = send_ok(&store, text("meta", "mo", "first")).await;
        let mut draft = text("meta", "mo", "a \"quoted\" reply: \"timestamp\":\"x\" é ✓");
        draft.metadata = json!({"k": [1, 2.5, {"n": null}], "s": "é\"\\", "b": true, "o": {}})
            .as_object()
            .unwrap()
            .clone();
        draft.reply_to = Some(first.id.to_string());
        let reply = send_ok(&store, draft.clone()).await;
        assert_eq!((&reply.metadata, &reply.reply_to), (&draft.metadata, &draft.reply_to));
        assert_eq!(reply.content, draft.content);
        let stored = history(&store, "meta").await;
        assert_eq!(stored[1..], [first, reply]);
    }
);

store_test!(
    /// 200 quick sends get strictly increasing timestamps and distinct ids, and history holds
    /// them in send order, equal to what send returned.
    timestamps_increase_ids_unique,
    |store| {
        let mut sent = Vec::new();
        for i in 0..200 {
            sent.push(send_ok(&store, text("fast", "fay", &format!("m{i}"))).await);
        }
        assert_strictly_increasing(&sent);
        let ids: HashSet<_> = sent.iter().map(|m| m.id).collect();
        assert_eq!(ids.len(), 200);
        let stored = history(&store, "fast").await;
        assert_eq!(stored.len(), 201);
        assert_eq!(stored[1..], sent[..]);
        assert_strictly_increasing(&stored);
    }
);

store_test!(
    /// With max = 5 a room keeps exactly its newest 5 messages.
    trimming_keeps_newest,
    max = 5,
    |store| {
        let mut sent = Vec::new();
        for i in 0..8 {
            sent.push(send_ok(&store, text("small", "tim", &format!("m{i}"))).await);
        }
        let stored = history(&store, "small").await;
        let contents: Vec<_> = stored.iter().map(|m| m.content.as_str()).collect();
        assert_eq!(contents, ["m3", "m4", "m5", "m6", "m7"]);
        assert_eq!(stored, sent[3..]);
        let page = store.history(&cid("small"), 2, Some(sent[5].timestamp)).await.unwrap();
        assert_eq!(parsed(page), Some(sent[3..5].to_vec()));
    }
);

store_test!(
    /// history: None for a missing room; the `limit` newest, oldest first; `before` exclusive
    /// (at microsecond grain); a `before` older than everything gives an empty page.
    history_limit_and_before,
    |store| {
        assert_eq!(store.history(&cid("none"), 10, None).await.unwrap(), None);
        assert_eq!(store.history(&cid("none"), 10, Some(Timestamp::UNIX_EPOCH)).await.unwrap(), None);
        let mut all = vec![join_now(&store, "h", "hal", JoinMode::Member).await];
        for i in 0..10 {
            all.push(send_ok(&store, text("h", "hal", &format!("m{i}"))).await);
        }
        let h = cid("h");
        let page = async |limit, before| parsed(store.history(&h, limit, before).await.unwrap());
        assert_eq!(page(3, None).await, Some(all[8..].to_vec()));
        assert_eq!(page(100, None).await, Some(all.clone()));
        assert_eq!(page(100, Some(all[5].timestamp)).await, Some(all[..5].to_vec()));
        assert_eq!(page(2, Some(all[5].timestamp)).await, Some(all[3..5].to_vec()));
        let just_after = all[5].timestamp + TimeDelta::nanoseconds(500);
        assert_eq!(page(100, Some(just_after)).await, Some(all[..6].to_vec()));
        assert_eq!(page(100, Some(all[0].timestamp)).await, Some(vec![]));
        let earlier = all[0].timestamp - TimeDelta::seconds(1);
        assert_eq!(page(100, Some(earlier)).await, Some(vec![]));
        assert_eq!(page(100, Some(Timestamp::UNIX_EPOCH)).await, Some(vec![]));
    }
);

store_test!(
    /// Walking backwards with `before` = the oldest timestamp of the previous page visits
    /// every message exactly once.
    history_walk_backwards,
    |store| {
        for i in 0..23 {
            send_ok(&store, text("walk", "wes", &format!("m{i}"))).await;
        }
        let all = history(&store, "walk").await; // the join notice and 23 texts
        assert_eq!(all.len(), 24);
        let (mut pages, mut before) = (Vec::new(), None);
        loop {
            let page = parsed(store.history(&cid("walk"), 5, before).await.unwrap()).unwrap();
            let Some(oldest) = page.first() else { break };
            before = Some(oldest.timestamp);
            pages.push(page);
        }
        assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [5, 5, 5, 5, 4]);
        let walked: Vec<Message> = pages.into_iter().rev().flatten().collect();
        assert_eq!(walked, all);
    }
);

store_test!(
    /// user_rooms: None for an unknown user, Some(empty) for a user in no room, else the
    /// rooms as get_room returns them, sorted by id.
    user_rooms_sorted,
    |store| {
        assert_eq!(store.user_rooms(&uid("ghost")).await.unwrap(), None);
        store.connect(&uid("ros")).await.unwrap();
        assert_eq!(store.user_rooms(&uid("ros")).await.unwrap(), Some(vec![]));
        for room in ["b-room", "c:room", "a.room"] {
            join_now(&store, room, "ros", JoinMode::Member).await;
        }
        store.create_room(room_spec(json!({"id": "B", "name": "B", "participants": ["ros"]}))).await.unwrap();
        let mut want = Vec::new();
        for room in ["B", "a.room", "b-room", "c:room"] {
            want.push(store.get_room(&cid(room)).await.unwrap().unwrap());
        }
        assert_eq!(store.user_rooms(&uid("ros")).await.unwrap(), Some(want));
    }
);

store_test!(
    /// Four tasks sending 25 texts each into one room at once: all 100 are stored after each
    /// sender's join notice, timestamps strictly increase, and each task's texts keep its order.
    concurrent_sends_keep_order,
    |store| {
        let barrier = Arc::new(tokio::sync::Barrier::new(4));
        let tasks: Vec<_> = (0..4)
            .map(|t| {
                let (store, barrier, user) = (store.clone(), barrier.clone(), format!("w{t}"));
                tokio::spawn(async move {
                    barrier.wait().await;
                    let mut sent = Vec::new();
                    for i in 0..25 {
                        sent.push(send_ok(&store, text("busy", &user, &i.to_string())).await);
                        tokio::task::yield_now().await; // let the others interleave
                    }
                    sent
                })
            })
            .collect();
        let mut sent = HashSet::new();
        for task in tasks {
            sent.extend(task.await.unwrap().into_iter().map(|m| m.id));
        }
        let stored = history(&store, "busy").await;
        assert_eq!(stored.len(), 104, "100 texts and 4 join notices");
        assert_strictly_increasing(&stored);
        let texts = stored.iter().filter(|m| m.kind == MessageKind::Text);
        assert_eq!(texts.map(|m| m.id).collect::<HashSet<_>>(), sent);
        for t in 0..4 {
            let user = format!("w{t}");
            let joined = format!("{user} joined the chat");
            let mine: Vec<&str> = stored
                .iter()
                .filter(|m| m.user_id == uid(&user) || m.content == joined)
                .map(|m| m.content.as_str())
                .collect();
            let texts = (0..25).map(|i| i.to_string());
            let want: Vec<String> = std::iter::once(joined.clone()).chain(texts).collect();
            assert_eq!(mine, want, "{user}");
        }
    }
);

store_test!(
    /// Two simultaneous joins of one new user to one new room: one is Now, the other Already,
    /// and exactly one join notice is stored (checked over 20 rooms).
    concurrent_joins_store_one_notice,
    |store| {
        for r in 0..20 {
            let chat = format!("race{r}");
            let joins: Vec<_> = (0..2)
                .map(|_| {
                    let (store, chat) = (store.clone(), cid(&chat));
                    let racer = uid("racer");
                    tokio::spawn(async move { store.join(&chat, &racer, JoinMode::Member).await })
                })
                .collect();
            let mut notices = Vec::new();
            let mut already = 0;
            for join in joins {
                match join.await.unwrap().unwrap() {
                    Joined::Now(m) => notices.push(m),
                    Joined::Already => already += 1,
                    other => panic!("unexpected {other:?}"),
                }
            }
            assert_eq!((notices.len(), already), (1, 1), "{chat}");
            assert_eq!(history(&store, &chat).await, notices, "{chat}");
            let room = store.get_room(&cid(&chat)).await.unwrap().unwrap();
            assert_eq!(room.participants, [uid("racer")]);
        }
        let mut want: Vec<String> = (0..20).map(|r| format!("race{r}")).collect();
        want.sort();
        assert_eq!(room_ids(&store, "racer").await, want);
    }
);
