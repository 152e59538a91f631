//! The bus: how a stored message or a typing event reaches the hubs that need it.
//!
//! `Local` hands deliveries straight to this instance's hub. A Redis bus (pub/sub between
//! instances) slots in as another variant; callers only see `publish`.

use crate::ws::hub::{Delivery, Hub};

/// Fan-out behind one interface.
#[derive(Clone)]
pub enum Bus {
    /// One process: deliver to the local hub.
    Local(Hub),
}

impl Bus {
    /// Sends one delivery to every connection that should get it. Never waits: the store
    /// calls this while it holds a room's order, so publish order is stored order.
    pub fn publish(&self, d: Delivery) {
        match self {
            Bus::Local(hub) => hub.deliver(&d),
        }
    }
}
