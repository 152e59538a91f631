//! The one integration-test binary: each module tests one area against a real server on port 0.

mod asyncapi;
mod auth;
mod config_docs;
mod demo;
mod fuzz;
mod helpers;
mod http_chats;
mod http_errors;
mod http_users;
mod layout;
mod multi_instance;
mod openapi;
mod redis_followers;
mod redis_outage;
mod redis_server;
mod resp;
mod server_process;
mod smoke;
mod startup;
mod store_contract;
mod ws_delivery;
mod ws_frames;
mod ws_heartbeat;
mod ws_lifecycle;
mod ws_limits;
mod ws_rate_limit;
