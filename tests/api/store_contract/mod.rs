//! Store conformance: one suite of store-level tests, run unchanged on both stores.
//!
//! `store_test!` turns each body into a module with two tests, `memory` and `redis`
//! (`NAME::` selects both, a name ending `::redis` one store). Every test gets
//! its own store: a fresh memory backend, or a Redis backend on the binary's shared redis-server
//! (its shared Redis Cluster with `TEST_STORE=redis-cluster`) under a key prefix of its own (it heartbeats once when opened, as the server does at
//! start-up, so its connections count as active).
//!
//! The suite is split by concern: `users` (users and presence), `rooms` (rooms and
//! membership), `history` (sending and history); this file holds the store makers, the
//! macro and the helpers they share.

use std::sync::Arc;
use std::time::Duration;

use chat_server::backend::memory::MemoryBackend;
use chat_server::backend::redis::{Open, RedisBackend};
use chat_server::backend::{Backend, JoinMode, Joined, Left, Sent, StoreResult};
use chat_server::config::RedisSettings;
use chat_server::domain::message::seq_ceil;
use chat_server::domain::{
    ChatId, ChatRoom, Draft, Message, MessageKind, Metadata, NewChat, Page, RoomSpec, Timestamp, User,
    UserId, Window,
};
use chat_server::hub::Hub;
use tokio_util::sync::{CancellationToken, DropGuard};
use tokio_util::task::TaskTracker;

use crate::helpers::fresh_prefix;
use crate::redis_cluster::RedisCluster;
use crate::redis_server::RedisServer;

/// Room size limit unless a test says otherwise: large enough never to trim.
const ROOMY: usize = 1000;

/// A backend and the hub its joins, leaves and sends deliver to; the backend's other methods
/// through `Deref`.
#[derive(Clone)]
struct Store {
    backend: Backend,
    hub: Hub,
    /// Stops the Redis backend's pub/sub tasks when the last clone goes.
    _stop: Option<Arc<DropGuard>>,
}

impl std::ops::Deref for Store {
    type Target = Backend;

    fn deref(&self) -> &Backend {
        &self.backend
    }
}

impl Store {
    async fn join(&self, chat: &ChatId, user: &UserId, mode: JoinMode) -> StoreResult<Joined> {
        self.backend.join(chat, user, mode, &self.hub).await
    }

    async fn leave(&self, chat: &ChatId, user: &UserId) -> StoreResult<Left> {
        self.backend.leave(chat, user, &self.hub).await
    }

    async fn send(&self, draft: Draft) -> StoreResult<Sent> {
        self.backend.send(draft, &self.hub).await
    }
}

fn memory_store(max: usize) -> Store {
    Store {
        backend: Backend::Memory(MemoryBackend::new(max, Duration::from_secs(300), None)),
        hub: Hub::default(),
        _stop: None,
    }
}

async fn redis_store(server: &RedisServer, max: usize) -> Store {
    let settings = RedisSettings {
        url: server.url(),
        address: format!("127.0.0.1:{}", server.port),
        pool_size: 2,
        key_prefix: fresh_prefix(),
        presence_ttl: Duration::from_secs(30),
        cluster: Vec::new(),
        wait_replicas: 0,
    };
    open_store(settings, max).await
}

/// A store on a Redis Cluster (`TEST_STORE=redis-cluster`), every node a seed.
async fn cluster_store(cluster: &RedisCluster, max: usize) -> Store {
    let urls: Vec<String> = cluster
        .ports()
        .iter()
        .map(|p| format!("redis://127.0.0.1:{p}"))
        .collect();
    let settings = RedisSettings {
        url: urls[0].clone(),
        address: cluster.nodes(),
        pool_size: 2,
        key_prefix: fresh_prefix(),
        presence_ttl: Duration::from_secs(30),
        cluster: urls,
        wait_replicas: 0,
    };
    open_store(settings, max).await
}

async fn open_store(settings: RedisSettings, max: usize) -> Store {
    let (hub, stop) = (Hub::default(), CancellationToken::new());
    let open = Open {
        timeout: Duration::from_secs(5),
        max_messages: max,
        window: Duration::from_secs(300),
        quota: None,
        hub: &hub,
        shutdown: stop.clone(),
        tasks: TaskTracker::new(),
    };
    let backend = RedisBackend::open(&settings, open).await.unwrap();
    Store {
        backend: Backend::Redis(backend),
        hub,
        _stop: Some(Arc::new(stop.drop_guard())),
    }
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
                if crate::helpers::Backend::from_env() == crate::helpers::Backend::RedisCluster {
                    let cluster = RedisCluster::shared(); // alive until the test ends
                    return run(cluster_store(&cluster, $max).await).await;
                }
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
        client_msg_id: None,
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
    parsed(store.history(&cid(chat), ROOMY, Window::NEWEST).await.unwrap()).unwrap()
}

/// The window of messages older than `t` (the newest without it).
fn at(t: Option<Timestamp>) -> Window {
    t.map_or(Window::NEWEST, |t| Window::Before(seq_ceil(t)))
}

/// A page's messages, parsed from the JSON the store keeps.
fn parsed(page: Option<Page>) -> Option<Vec<Message>> {
    page.map(|p| p.messages().unwrap())
}

/// The rooms `user_rooms` lists, without the user's unread counts and last messages.
async fn listed(store: &Store, user: &str) -> Option<Vec<ChatRoom>> {
    let rooms = store.user_rooms(&uid(user)).await.unwrap();
    rooms.map(|rooms| rooms.into_iter().map(|r| r.room).collect())
}

async fn room_ids(store: &Store, user: &str) -> Vec<String> {
    let rooms = store.user_rooms(&uid(user)).await.unwrap().unwrap();
    rooms.iter().map(|r| r.room.id.to_string()).collect()
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

// After `store_test!`: a `macro_rules!` macro is visible only in the modules declared after it.
mod history;
mod rooms;
mod users;
