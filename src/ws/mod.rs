//! The WebSocket session: the frames clients and the server exchange, the close codes, and
//! one session per connection (read client frames, call the use cases, write the outbox).
//! The `/ws/{user_id}` route that starts a session lives with the other routes in `http/`.

pub mod close;
pub mod frames;
pub mod handle;
pub mod session;
