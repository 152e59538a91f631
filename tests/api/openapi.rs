//! The OpenAPI document: committed file == generated == served, and what clients rely on is in it.

use chat_server::http::docs::ApiDoc;
use serde_json::Value;
use utoipa::OpenApi;

use crate::helpers::{TestApp, assert_committed, committed_json};

fn generated() -> String {
    ApiDoc::openapi().to_pretty_json().unwrap() + "\n"
}

fn committed() -> Value {
    committed_json("openapi.json")
}

/// The committed spec is exactly what the code generates (regenerate with UPDATE_OPENAPI=1).
#[test]
fn committed_spec_matches_code() {
    assert_committed("openapi.json", &generated(), "openapi");
}

/// `GET /openapi.json` serves the committed document.
#[tokio::test]
async fn served_spec_equals_committed_file() {
    let app = TestApp::spawn().await;
    let (status, served) = app.get("/openapi.json").await;
    assert_eq!(status, 200);
    assert_eq!(served, committed());
}

/// Every HTTP path of the contract is documented with its methods, as OpenAPI 3.1.
#[test]
fn documents_every_path_and_method() {
    let spec = committed();
    assert_eq!(spec["openapi"], "3.1.0");
    let paths = spec["paths"].as_object().unwrap();
    let want = [
        ("/chat", "post"),
        ("/chat/{chat_id}", "get"),
        ("/chat/{chat_id}/messages", "get"),
        ("/chat/{chat_id}/participants", "post"),
        ("/chat/{chat_id}/participants/{user_id}", "delete"),
        ("/user", "post"),
        ("/user/{user_id}", "get"),
        ("/user/{user_id}/chats", "get"),
        ("/ws/{user_id}", "get"),
        ("/health", "get"),
        ("/ready", "get"),
    ];
    for (path, method) in want {
        let op = &paths[path][method];
        assert!(op.is_object(), "{method} {path} missing");
        assert!(
            op["operationId"].is_string(),
            "{method} {path} has no operationId"
        );
        for (status, resp) in op["responses"].as_object().unwrap() {
            assert!(
                resp["description"].is_string(),
                "{method} {path} {status} has no description"
            );
        }
    }
    assert_eq!(paths.len(), want.len());
}

/// The WebSocket route is a GET answering 101, and its frames are schemas in `components`.
#[test]
fn websocket_frames_are_components() {
    let spec = committed();
    assert!(spec["paths"]["/ws/{user_id}"]["get"]["responses"]["101"].is_object());
    let schemas = &spec["components"]["schemas"];
    for name in [
        "ClientFrame",
        "ServerFrame",
        "TextFrame",
        "TypingFrame",
        "RoomFrame",
        "ResumeFrame",
        "ReadFrame",
        "Receipt",
        "Resumed",
        "ErrorFrame",
    ] {
        assert!(schemas[name].is_object(), "{name} missing");
    }
    let variants = schemas["ClientFrame"]["oneOf"].as_array().unwrap();
    assert_eq!(variants.len(), 6);
    let error_refs =
        spec["paths"]["/chat/{chat_id}"]["get"]["responses"]["404"]["content"]["application/json"]["schema"]
            ["$ref"]
            .as_str()
            .unwrap();
    assert_eq!(error_refs, "#/components/schemas/Detail");
}
