//! The one context every handler and session shares: cheap clones of settings, store, bus, hub.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::Auth;
use crate::bus::Bus;
use crate::config::Settings;
use crate::limits::RateLimit;
use crate::store::Store;
use crate::ws::hub::Hub;

/// Shared server state.
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub store: Store,
    pub bus: Bus,
    pub hub: Hub,
    /// Token verification (`AUTH_SECRET`), or trust when it is unset.
    pub auth: Auth,
    /// Per-user message rate limit.
    pub limits: RateLimit,
    /// Cancelled when the server shuts down: every session closes with 1001.
    pub shutdown: CancellationToken,
    /// Tracks sessions and their clean-up, so shutdown can wait for them.
    pub tasks: TaskTracker,
}
