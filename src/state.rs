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

/// Shared server state: one allocation, so a clone (per request, per connection) is one
/// reference count, not one per field (cloning and dropping the fields one by one was 3 % of
/// the server's profile while opening connections).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// What [`AppState`] shares.
pub struct Shared {
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

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}
