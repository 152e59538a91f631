//! The AsyncAPI document: committed file == generated == served, its schemas are the OpenAPI
//! ones (same Rust types), and it declares the channel and both operations.

use chat_server::domain::Message;
use chat_server::http::asyncapi::{FRAME_SCHEMAS, document};
use chat_server::http::docs::ApiDoc;
use chat_server::ws::close::Close;
use chat_server::ws::frames::decode;
use serde_json::Value;
use utoipa::OpenApi;

use crate::helpers::{TestApp, assert_committed, committed_json};

fn generated() -> String {
    serde_json::to_string_pretty(&document()).unwrap() + "\n"
}

fn committed() -> Value {
    committed_json("asyncapi.json")
}

/// The committed document is exactly what the code generates (regenerate with UPDATE_OPENAPI=1).
#[test]
fn committed_asyncapi_matches_code() {
    assert_committed("asyncapi.json", &generated(), "asyncapi");
}

/// `GET /asyncapi.json` serves the committed document.
#[tokio::test]
async fn served_asyncapi_equals_committed_file() {
    let app = TestApp::spawn().await;
    let (status, served) = app.get("/asyncapi.json").await;
    assert_eq!(status, 200);
    assert_eq!(served, committed());
    let (status, body) = app.post_json("/asyncapi.json", serde_json::json!({})).await;
    assert_eq!(status, 405, "{body}");
}

/// Every frame schema is the OpenAPI component of the same name, byte for byte: one Rust type,
/// one JSON schema, in both documents.
#[test]
fn frame_schemas_are_the_openapi_ones() {
    let openapi = serde_json::to_value(ApiDoc::openapi()).unwrap();
    let doc = committed();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in FRAME_SCHEMAS {
        assert!(schemas.contains_key(name), "{name} missing");
    }
    for (name, schema) in schemas {
        // The same schema, in AsyncAPI's dialect (only `discriminator` is spelled differently).
        let mut expected = openapi["components"]["schemas"][name].clone();
        chat_server::http::asyncapi::rewrite_refs(&mut expected, &mut Vec::new());
        assert_eq!(schema, &expected, "{name} differs from the OpenAPI schema");
    }
    assert_eq!(schemas["ClientFrame"]["discriminator"], "type");
    assert_eq!(
        doc["components"]["messages"]["clientFrame"]["payload"]["$ref"],
        "#/components/schemas/ClientFrame"
    );
    assert_eq!(schemas["ClientFrame"]["oneOf"].as_array().unwrap().len(), 6);
}

/// Every `$ref` of the document points at something the document holds.
#[test]
fn every_ref_resolves() {
    fn walk(v: &Value, doc: &Value) {
        match v {
            Value::Object(map) => {
                if let Some(Value::String(target)) = map.get("$ref") {
                    let pointer = target
                        .strip_prefix('#')
                        .unwrap_or_else(|| panic!("external {target}"));
                    assert!(doc.pointer(pointer).is_some(), "dangling $ref {target}");
                }
                map.values().for_each(|c| walk(c, doc));
            }
            Value::Array(items) => items.iter().for_each(|c| walk(c, doc)),
            _ => {}
        }
    }
    let doc = committed();
    walk(&doc, &doc);
}

/// AsyncAPI 3.0.0, the `/ws/{user_id}` channel, a send and a receive operation.
#[test]
fn declares_the_channel_and_operations() {
    let doc = committed();
    assert_eq!(doc["asyncapi"], "3.0.0");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    let chat = &doc["channels"]["chat"];
    assert_eq!(chat["address"], "/ws/{user_id}");
    assert!(chat["parameters"]["user_id"].is_object());
    // Every close the server sends, with its reason; 1011 is never sent.
    let description = chat["description"].as_str().unwrap();
    for close in Close::ALL {
        let row = format!("| {} | `{}` |", close.code(), close.reason());
        assert!(description.contains(&row), "close {close:?} undocumented: {row}");
        assert!(doc["info"]["description"].as_str().unwrap().contains(&row));
    }
    assert!(description.contains("| 1000 | | normal close (either side) |"));
    assert!(!description.contains("1011"));
    let ops = &doc["operations"];
    assert_eq!(ops["sendFrame"]["action"], "send");
    assert_eq!(ops["sendFrame"]["channel"]["$ref"], "#/channels/chat");
    assert_eq!(
        ops["sendFrame"]["messages"],
        serde_json::json!([{"$ref": "#/channels/chat/messages/clientFrame"}])
    );
    assert_eq!(ops["receiveFrames"]["action"], "receive");
    assert_eq!(ops["receiveFrames"]["channel"]["$ref"], "#/channels/chat");
    assert_eq!(
        ops["receiveFrames"]["messages"],
        serde_json::json!([
            {"$ref": "#/channels/chat/messages/serverMessage"},
            {"$ref": "#/channels/chat/messages/receipt"},
            {"$ref": "#/channels/chat/messages/resumed"},
            {"$ref": "#/channels/chat/messages/errorFrame"},
        ])
    );
}

/// The examples are frames the server really accepts and sends: client examples decode as
/// `ClientFrame`s, server examples deserialise as `Message`s, error examples are error frames.
#[test]
fn examples_are_real_frames() {
    let doc = committed();
    let examples = |message: &str| -> Vec<Value> {
        doc["components"]["messages"][message]["examples"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["payload"].clone())
            .collect()
    };
    let client = examples("clientFrame");
    let types: Vec<_> = client.iter().map(|p| p["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        ["text", "typing", "join", "leave", "text", "resume", "read"]
    );
    for payload in &client {
        decode(&payload.to_string()).unwrap_or_else(|e| panic!("{payload}: {e}"));
    }
    assert_eq!(
        client[0],
        serde_json::json!({"type": "text", "content": "Hello, world!", "chat_id": "chat1", "user_id": "user1"})
    );
    let server = examples("serverMessage");
    for payload in &server {
        let m: Message = serde_json::from_value(payload.clone()).unwrap_or_else(|e| panic!("{payload}: {e}"));
        assert_eq!(&serde_json::to_value(&m).unwrap(), payload);
    }
    assert!(server.iter().any(|p| p["type"] == "text"));
    assert!(
        server
            .iter()
            .any(|p| p["type"] == "system" && p["content"] == "user1 joined the chat")
    );
    for payload in examples("errorFrame") {
        let obj = payload.as_object().unwrap();
        assert_eq!(obj.len(), 2, "{payload}");
        assert_eq!(payload["type"], "error");
        assert!(payload["detail"].is_string());
    }
}
