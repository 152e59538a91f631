//! A real-time chat API server: rooms, live messages, typing and presence over WebSocket,
//! history and rooms over HTTP, described by OpenAPI.
//!
//! Layout (each module one job):
//! - `config`: environment → validated `Settings`.
//! - `domain`: ids, times, messages, rooms, users; pure.
//! - `chat`: the rules, shared by HTTP and WebSocket.
//! - `store`: storage behind one interface: in-memory (default) or Redis.
//! - `bus`: fan-out of stored messages and typing events to the hubs.
//! - `ws`: frames, the hub of local connections, one session per connection.
//! - `http`: routes per resource, OpenAPI and Swagger UI.
//! - `error`: the one place `{"detail"}` errors are built.
//! - `stats`: Prometheus metrics; `telemetry`: logs.
//!
//! `run` is the entry point: `main` calls it with the configured address, tests with port 0.

pub mod auth;
pub mod bus;
pub mod chat;
pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod limits;
pub mod server;
pub mod state;
pub mod stats;
pub mod store;
pub mod telemetry;
pub mod ws;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::Auth;
use crate::bus::{Bus, RedisBus};
use crate::config::{Settings, StoreKind};
use crate::limits::RateLimit;
use crate::state::{AppState, Shared};
use crate::store::{MemoryStore, RedisStore, Store};
use crate::ws::hub::Hub;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Store(#[from] store::StoreError),
}

/// Serves on `listener` until `shutdown` completes, then drains: every WebSocket gets a 1001
/// close, in-flight requests finish, presence is written, and only then does `run` return.
/// Fails at once (within `REDIS_TIMEOUT_SECONDS`) if the configured store is unreachable.
pub async fn run(
    listener: TcpListener,
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    stats::handle(); // install the metrics recorder before anything records
    let hub = Hub::default();
    let token = CancellationToken::new();
    let tasks = TaskTracker::new();
    let (store, bus) = match &settings.store {
        StoreKind::Memory => (
            Store::Memory(MemoryStore::new(settings.max_messages_per_room, hub.clone())),
            Bus::Local(hub.clone()),
        ),
        StoreKind::Redis(redis) => {
            let timeout = settings.redis_timeout;
            let store = RedisStore::open(redis, timeout, settings.max_messages_per_room, hub.clone()).await?;
            store.heartbeat().await?;
            let bus = RedisBus::start(
                redis,
                timeout,
                hub.clone(),
                store.clone(),
                token.clone(),
                tasks.clone(),
            )
            .await?;
            (Store::Redis(Arc::new(store)), Bus::Redis(bus))
        }
    };
    let (rate, burst) = (settings.rate_limit_per_second, settings.rate_limit_burst);
    let limits = match &store {
        Store::Memory(_) => RateLimit::local(rate, burst),
        Store::Redis(s) => RateLimit::shared(s.clone(), rate, burst),
    };
    let state = AppState::new(Shared {
        store,
        bus,
        hub,
        auth: Auth::new(settings.auth_secret.as_ref().map(|s| s.0.as_str())),
        limits,
        shutdown: token.clone(),
        tasks,
        settings: Arc::new(settings),
    });
    // Rate-limit state of users who have been quiet is dropped every minute.
    let quiet = state.clone();
    let stop = state.shutdown.clone();
    state
        .tasks
        .spawn(every(Duration::from_secs(60), stop, move || quiet.limits.prune()));
    // The recorder is per process, its upkeep per server: a second one only drains sooner.
    let stop = state.shutdown.clone();
    state.tasks.spawn(every(stats::UPKEEP_EVERY, stop, stats::upkeep));
    let signal = async move {
        shutdown.await;
        tracing::info!("shutting down: closing connections");
        token.cancel();
    };
    let header_timeout = state.settings.ws_timeout;
    server::serve(listener, http::routes(state.clone()), header_timeout, signal).await;
    state.tasks.close();
    state.tasks.wait().await;
    if let Store::Redis(store) = &state.store {
        let _ = store.retire().await;
    }
    tracing::info!("stopped");
    Ok(())
}

/// Runs `task` every `period` (the first time at once) until `stop` is cancelled.
async fn every(period: Duration, stop: CancellationToken, mut task: impl FnMut()) {
    let mut ticks = tokio::time::interval(period);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = ticks.tick() => task(),
        }
    }
}
