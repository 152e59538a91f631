//! The one integration-test binary: each module tests one area against a real server on port 0.

mod helpers;
mod smoke;
mod http_chats;
mod http_users;
mod http_errors;
mod ws_frames;
mod ws_delivery;
mod ws_lifecycle;
mod openapi;
