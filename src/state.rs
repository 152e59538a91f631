//! The one context every handler and session shares: settings, the backend, the hub.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::Auth;
use crate::backend::Backend;
use crate::config::Settings;
use crate::hub::{Hub, Typists};

/// Shared server state: one allocation, so a clone (per request, per connection) is one
/// reference count, not one per field (cloning and dropping the fields one by one showed in
/// the server's profile while opening connections).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// What [`AppState`] shares.
pub struct Shared {
    pub settings: Arc<Settings>,
    /// Storage, fan-out between instances, presence and the rate limit.
    pub backend: Backend,
    /// This instance's connections: local delivery.
    pub hub: Hub,
    /// Token verification (`AUTH_SECRET`), or trust when it is unset.
    pub auth: Auth,
    /// Cancelled when the server shuts down: every session closes with 1001.
    pub shutdown: CancellationToken,
    /// Tracks sessions and their clean-up, so shutdown can wait for them.
    pub tasks: TaskTracker,
    /// Who is typing where, on this instance (ended by the server when they go quiet).
    pub typists: Typists,
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
