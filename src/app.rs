//! `run`: builds the server from its settings, serves until shutdown, then drains.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::Auth;
use crate::backend::{Backend, StoreError};
use crate::config::Settings;
use crate::hub::Hub;
use crate::state::{AppState, Shared};
use crate::{http, stats, transport, usecases};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The store's own text, which says what was tried and what to check, without
    /// `StoreError`'s "storage unavailable" (meant for a failed call, not a failed start).
    #[error("cannot start: {}", store_detail(.0))]
    Store(#[from] StoreError),
}

fn store_detail(e: &StoreError) -> &str {
    match e {
        StoreError::Unavailable(detail) => detail,
    }
}

/// Serves on `listener` until `shutdown` completes, then drains: every WebSocket gets a 1001
/// close, in-flight requests finish, presence is written, and only then does `run` return.
/// Fails at once (within `REDIS_TIMEOUT_SECONDS`) if the configured store is unreachable.
pub async fn run(
    listener: TcpListener,
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    stats::install(); // before anything records
    let hub = Hub::default();
    let token = CancellationToken::new();
    let tasks = TaskTracker::new();
    let backend = Backend::open(&settings, &hub, token.clone(), tasks.clone()).await?;
    // Only now: with an unreachable store the server would never serve anything.
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, store = %settings.store, "listening");
    }
    let state = AppState::new(Shared {
        backend,
        hub,
        auth: Auth::new(settings.auth_secret.as_ref().map(|s| s.0.as_str())),
        shutdown: token.clone(),
        tasks,
        typists: crate::hub::Typists::new(settings.typing_timeout),
        settings: Arc::new(settings),
    });
    // Rate-limit state of users who have been quiet is dropped every minute.
    let quiet = state.clone();
    let stop = state.shutdown.clone();
    state.tasks.spawn(every(Duration::from_secs(60), stop, move || {
        quiet.backend.prune()
    }));
    // Typists gone quiet get a `stopped` sent for them.
    let typing = state.clone();
    let stop = state.shutdown.clone();
    state.tasks.spawn(every(usecases::SWEEP_EVERY, stop, move || {
        let quiet = typing.typists.quiet(std::time::Instant::now());
        if !quiet.is_empty() {
            let state = typing.clone();
            typing
                .tasks
                .spawn(async move { usecases::stop_typing(&state, quiet).await });
        }
    }));
    // The recorder is per process, its upkeep per server: a second one only drains sooner.
    let stop = state.shutdown.clone();
    state.tasks.spawn(every(stats::UPKEEP_EVERY, stop, stats::upkeep));
    let signal = async move {
        shutdown.await;
        tracing::info!("shutting down: closing connections");
        token.cancel();
    };
    let header_timeout = state.settings.ws_timeout;
    transport::server::serve(listener, http::routes(state.clone()), header_timeout, signal).await;
    state.tasks.close();
    state.tasks.wait().await;
    if let Err(e) = state.backend.retire().await {
        tracing::debug!(error = %e, "presence entries not removed at shutdown");
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
