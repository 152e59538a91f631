//! A real-time chat API server: rooms, live messages, typing and presence over WebSocket,
//! history and rooms over HTTP, described by OpenAPI and AsyncAPI.
//!
//! # Layers (each module names only modules above it in this list)
//! - [`domain`]: ids, times, messages and their shared JSON, pages, rooms, users. Pure.
//! - [`config`]: environment → validated `Settings`. [`stats`]: metric names and the
//!   recorder. [`telemetry`]: logs.
//! - [`hub`]: local delivery. This instance's connections, the rooms they follow, each
//!   connection's bounded outbox, in-order delivery, the rooms' recent messages.
//! - [`backend`]: storage, fan-out between instances, presence and the shared rate limit, as
//!   one value chosen in one `match`: [`backend::memory`] or [`backend::redis`] (every line of
//!   Redis code lives under it).
//! - [`error`]: `ApiError`, the one place `{"detail"}` errors are built. [`auth`]: tokens.
//! - [`state`]: the context every handler and session shares.
//! - [`usecases`]: the chat's rules, shared by HTTP and WebSocket.
//! - [`transport`]: our own accept loop, WebSocket upgrade, read-ahead socket and frame
//!   writer: the parts of warp and tungstenite we replace, and why (its header says).
//! - [`ws`]: the WebSocket session: frames, close codes, one task per connection.
//! - [`http`]: every route (the `/ws` upgrade included), OpenAPI, AsyncAPI, Swagger UI, demo.
//! - [`app`]: [`run`], which builds all of the above from `Settings` and serves.
//!
//! # A text message, from a socket to every recipient
//! 1. `ws::session` reads the frame from its `transport::Socket` and decodes it (`ws::frames`).
//! 2. `usecases::send_text` checks the content and the rate, then calls `Backend::send`.
//! 3. The backend stores it and, in the same step, hands it to this instance's `hub`: memory
//!    under the room's lock, Redis from the room script's reply (and publishes it on the
//!    room's channel when another instance follows the room, whose `pubsub` listener hands it
//!    to its own hub).
//! 4. The `hub` puts the one serialised JSON into the outbox of each local connection in the
//!    room, in stored order (sender included: that is the echo).
//! 5. Each session takes its outbox whole and writes it in one write (`Socket::send_batch`).
//!
//! `run` is the entry point: `main` calls it with the configured address, tests with port 0.

pub mod app;
pub mod auth;
pub mod backend;
pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod hub;
pub mod state;
pub mod stats;
pub mod telemetry;
pub mod transport;
pub mod usecases;
pub mod ws;

pub use app::{StartError, run};
