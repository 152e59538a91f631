//! The AsyncAPI document's messages: what a client sends and each kind of server frame, with
//! examples (the schemas come from the OpenAPI components).

use serde_json::{Value, json};

use super::ASYNCAPI_SCHEMAS;

/// The messages: what a client sends, and each kind of server frame, with examples.
pub(super) fn messages() -> Value {
    let schema = |name: &str| json!({ "$ref": format!("{ASYNCAPI_SCHEMAS}{name}") });
    json!({
        "clientFrame": {
            "name": "clientFrame",
            "title": "Client frame",
            "summary": "A frame a client sends: `text`, `typing`, `join`, `leave`, `resume` or `read`",
            "payload": schema("ClientFrame"),
            "examples": [
                {
                    "name": "text",
                    "summary": "Send a message (the seed example)",
                    "payload": {"type": "text", "content": "Hello, world!", "chat_id": "chat1", "user_id": "user1"},
                },
                {
                    "name": "typing",
                    "summary": "Tell the room you are typing",
                    "payload": {"type": "typing", "content": "typing", "chat_id": "chat1", "user_id": "user1"},
                },
                {
                    "name": "join",
                    "summary": "Join a room",
                    "payload": {"type": "join", "chat_id": "chat1"},
                },
                {
                    "name": "leave",
                    "summary": "Leave a room",
                    "payload": {"type": "leave", "chat_id": "chat1"},
                },
                {
                    "name": "textWithClientMsgId",
                    "summary": "Send a message that is safe to retry",
                    "payload": {"type": "text", "content": "Hello again", "chat_id": "chat1", "client_msg_id": "c-7f3a-0001"},
                },
                {
                    "name": "resume",
                    "summary": "First frame after reconnecting with ?resume=true",
                    "payload": {"type": "resume", "positions": {"chat1": {"seq": 1704067200000000_u64, "epoch": "20240101000000000000"}}},
                },
                {
                    "name": "read",
                    "summary": "Mark a room read up to a message",
                    "payload": {"type": "read", "chat_id": "chat1", "seq": 1704067200000000_u64},
                },
            ],
        },
        "serverMessage": {
            "name": "serverMessage",
            "title": "Message",
            "summary": "A message of one of your rooms: `text`, `system` (join/leave) or `typing`",
            "payload": schema("Message"),
            "examples": [
                {
                    "name": "text",
                    "summary": "A text message (also the sender's acknowledgement)",
                    "payload": {
                        "id": "0192f0c1-7d3e-7b7a-9c1d-2f4e6a8b0c12", "chat_id": "chat1",
                        "user_id": "user1", "content": "Hello, world!", "type": "text",
                        "timestamp": "2024-01-01T00:00:00.000000Z", "seq": 1704067200000000_u64,
                        "epoch": "20231231235959000000", "metadata": {}, "reply_to": null,
                    },
                },
                {
                    "name": "system",
                    "summary": "A join notice",
                    "payload": {
                        "id": "0192f0c1-7d3e-7b7a-9c1d-2f4e6a8b0c11", "chat_id": "chat1",
                        "user_id": "system", "content": "user1 joined the chat", "type": "system",
                        "timestamp": "2023-12-31T23:59:59.000000Z", "seq": 1704067199000000_u64,
                        "epoch": "20231231235959000000", "metadata": {}, "reply_to": null,
                    },
                },
                {
                    "name": "typing",
                    "summary": "Another participant is typing (never stored)",
                    "payload": {
                        "id": "0192f0c1-7d3e-7b7a-9c1d-2f4e6a8b0c13", "chat_id": "chat1",
                        "user_id": "user2", "content": "typing", "type": "typing",
                        "timestamp": "2024-01-01T00:00:01.000000Z", "metadata": {}, "reply_to": null,
                    },
                },
            ],
        },
        "receipt": {
            "name": "receipt",
            "title": "Read receipt",
            "summary": "Another participant has read a room up to a message (never stored)",
            "payload": schema("Receipt"),
            "examples": [{
                "name": "receipt",
                "summary": "user2 read chat1 up to a message",
                "payload": {"type": "receipt", "chat_id": "chat1", "user_id": "user2", "seq": 1704067200000000_u64},
            }],
        },
        "resumed": {
            "name": "resumed",
            "title": "Resumed",
            "summary": "The answer to a `resume`, per room: after the replayed messages, before the live ones",
            "payload": schema("Resumed"),
            "examples": [
                {
                    "name": "recovered",
                    "summary": "Every message after the position came just before",
                    "payload": {"type": "resumed", "chat_id": "chat1", "recovered": true, "epoch": "20231231235959000000", "replayed": 2},
                },
                {
                    "name": "notRecovered",
                    "summary": "History trimmed or lost: the newest messages instead",
                    "payload": {"type": "resumed", "chat_id": "chat1", "recovered": false, "epoch": "20240301000000000000", "messages": []},
                },
            ],
        },
        "errorFrame": {
            "name": "errorFrame",
            "title": "Error frame",
            "summary": "Why a frame was refused; the connection stays open",
            "payload": schema("ErrorFrame"),
            "examples": [
                {
                    "name": "emptyContent",
                    "summary": "A text frame with empty content",
                    "payload": {"type": "error", "detail": "content must not be empty"},
                },
                {
                    "name": "rateLimited",
                    "summary": "Over the rate limit: nothing was stored",
                    "payload": {"type": "error", "detail": "Rate limit exceeded: retry in 50 ms"},
                },
            ],
        },
    })
}
