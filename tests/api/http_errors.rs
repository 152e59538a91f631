//! HTTP edges: unknown routes, wrong methods, oversized bodies, probes, CORS and the docs UI.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TIMEOUT, TestApp};

/// Sends a request and returns the raw response (for its headers).
async fn raw(req: reqwest::RequestBuilder) -> reqwest::Response {
    tokio::time::timeout(TIMEOUT, req.send())
        .await
        .expect("request timed out")
        .unwrap()
}

/// The value of header `name`, or "" when absent.
fn header(resp: &reqwest::Response, name: &str) -> String {
    resp.headers()
        .get(name)
        .map_or(String::new(), |v| v.to_str().unwrap().to_string())
}

/// Splits a comma-separated header into its sorted items.
fn items(value: &str) -> Vec<String> {
    let mut v: Vec<String> = value.split(',').map(|s| s.trim().to_ascii_uppercase()).collect();
    v.sort();
    v
}

async fn body(resp: reqwest::Response) -> Value {
    serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap_or(Value::Null)
}

/// A path no route knows is 404 `Not Found`, whatever the method.
#[tokio::test]
async fn unknown_route_is_404() {
    let app = TestApp::spawn().await;
    let not_found = (404, json!({"detail": "Not Found"}));
    assert_eq!(app.get("/nope").await, not_found);
    assert_eq!(app.get("/chat/c1/messages/extra").await, not_found);
    assert_eq!(app.post_json("/nope", json!({})).await, not_found);
    assert_eq!(app.delete("/user/u1/chats/c1").await, not_found);
}

/// A known path with a wrong method is 405 `Method Not Allowed` with the path's `Allow` list.
#[tokio::test]
async fn wrong_method_is_405_with_allow() {
    let app = TestApp::spawn().await;
    let cases = [
        ("/chat", "POST", Method::GET),
        ("/chat/x", "GET", Method::POST),
        ("/chat/x/messages", "GET, POST", Method::DELETE),
        ("/chat/x/participants", "POST", Method::GET),
        ("/chat/x/participants/y", "DELETE", Method::GET),
        ("/user", "POST", Method::GET),
        ("/user/x", "GET", Method::DELETE),
        ("/user/x/chats", "GET", Method::POST),
        ("/health", "GET", Method::POST),
    ];
    for (path, allow, method) in cases {
        for m in [method, Method::PUT, Method::PATCH] {
            let resp = raw(app.http.request(m.clone(), app.url(path))).await;
            assert_eq!(resp.status().as_u16(), 405, "{m} {path}");
            assert_eq!(header(&resp, "allow"), allow, "{m} {path}");
            assert_eq!(
                body(resp).await,
                json!({"detail": "Method Not Allowed"}),
                "{m} {path}"
            );
        }
    }
}

/// A trailing slash names the same resource (POST /chat/ creates), so a wrong method on it
/// is a 405 whose `Allow` lists that path's methods, never the refused method itself.
#[tokio::test]
async fn trailing_slash_wrong_method_allows_the_paths_methods() {
    let app = TestApp::spawn().await;
    let created = app.post_json("/chat/", json!({"id": "c1", "name": "R"})).await;
    assert_eq!(created.0, 201, "{}", created.1);
    let mut got = Vec::new();
    for path in [
        "/chat/",
        "/user/",
        "/chat/c1/participants/",
        "/chat/c1/participants/u1/",
    ] {
        let resp = raw(app.http.get(app.url(path))).await;
        let allow = header(&resp, "allow");
        got.push((path, resp.status().as_u16(), allow, body(resp).await));
    }
    let detail = json!({"detail": "Method Not Allowed"});
    let want = |path, allow: &str| (path, 405, allow.to_string(), detail.clone());
    let expected = [
        want("/chat/", "POST"),
        want("/user/", "POST"),
        want("/chat/c1/participants/", "POST"),
        want("/chat/c1/participants/u1/", "DELETE"),
    ];
    assert_eq!(got, expected);
}

/// A body over 64 KiB is a 413; exactly 64 KiB is read (and here judged on its content).
#[tokio::test]
async fn body_over_64_kib_is_413() {
    let app = TestApp::spawn().await;
    let sized = |n: usize| format!(r#"{{"name": "{}"}}"#, "n".repeat(n - 12));
    assert_eq!(sized(65536).len(), 65536);
    for (path, len, want) in [
        ("/chat", 65537, json!({"detail": "Request body too large"})),
        ("/user", 65537, json!({"detail": "Request body too large"})),
        (
            "/chat/c1/participants",
            100_000,
            json!({"detail": "Request body too large"}),
        ),
    ] {
        let req = app
            .http
            .post(app.url(path))
            .header("content-type", "application/json");
        assert_eq!(app.send(req.body(sized(len))).await, (413, want), "{path}");
    }
    let req = app
        .http
        .post(app.url("/chat"))
        .header("content-type", "application/json");
    let name = "Invalid name: must be 1 to 200 characters, not blank";
    assert_eq!(
        app.send(req.body(sized(65536))).await,
        (400, json!({"detail": name}))
    );
}

/// A chunked body (no Content-Length) over 64 KiB is also a 413.
#[tokio::test]
async fn chunked_body_over_64_kib_is_413() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn().await;
    let payload = format!(r#"{{"name": "{}"}}"#, "n".repeat(70_000));
    let mut tcp = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let head = "POST /chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    let req = format!("{head}{:x}\r\n{payload}\r\n0\r\n\r\n", payload.len());
    tcp.write_all(req.as_bytes()).await.unwrap();
    let mut resp = String::new();
    tokio::time::timeout(TIMEOUT, tcp.read_to_string(&mut resp))
        .await
        .unwrap()
        .unwrap();
    assert!(resp.starts_with("HTTP/1.1 413 "), "{resp}");
    assert!(resp.ends_with(r#"{"detail":"Request body too large"}"#), "{resp}");
}

/// A plain GET on the WebSocket route is a 426 telling the client to upgrade.
#[tokio::test]
async fn plain_get_on_websocket_route_is_426() {
    let app = TestApp::spawn().await;
    let resp = raw(app.http.get(app.url("/ws/user1"))).await;
    assert_eq!(resp.status().as_u16(), 426);
    assert_eq!(header(&resp, "upgrade"), "websocket");
    let detail = "This endpoint speaks WebSocket: send an upgrade request";
    assert_eq!(body(resp).await, json!({"detail": detail}));
}

/// The liveness and readiness probes answer 200 with their status.
#[tokio::test]
async fn health_and_ready_probes() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get("/health").await, (200, json!({"status": "ok"})));
    assert_eq!(app.get("/ready").await, (200, json!({"status": "ready"})));
}

/// By default any origin's preflight is answered with its origin and the allowed methods.
#[tokio::test]
async fn cors_preflight_is_answered_for_any_origin_by_default() {
    let app = TestApp::spawn().await;
    for path in ["/chat", "/chat/c1/participants/u1", "/user/u1", "/nope"] {
        let req = app
            .http
            .request(Method::OPTIONS, app.url(path))
            .header("origin", "https://any.example")
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type");
        let resp = raw(req).await;
        assert_eq!(resp.status().as_u16(), 200, "{path}");
        assert_eq!(
            header(&resp, "access-control-allow-origin"),
            "https://any.example"
        );
        assert_eq!(
            items(&header(&resp, "access-control-allow-methods")),
            ["DELETE", "GET", "OPTIONS", "POST"]
        );
        assert!(items(&header(&resp, "access-control-allow-headers")).contains(&"CONTENT-TYPE".into()));
    }
    let resp = raw(app
        .http
        .get(app.url("/health"))
        .header("origin", "https://any.example"))
    .await;
    assert_eq!(
        header(&resp, "access-control-allow-origin"),
        "https://any.example"
    );
}

/// With `CORS_ORIGINS` set, a listed origin is served with the header; others get a 403.
#[tokio::test]
async fn cors_origins_list_admits_only_listed_origins() {
    let app = TestApp::spawn_with(&[("CORS_ORIGINS", "https://a.example")]).await;
    let from = |origin: &str| app.http.get(app.url("/health")).header("origin", origin);
    let resp = raw(from("https://a.example")).await;
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(header(&resp, "access-control-allow-origin"), "https://a.example");
    assert_eq!(body(resp).await, json!({"status": "ok"}));
    let resp = raw(from("https://b.example")).await;
    assert_eq!(resp.status().as_u16(), 403);
    assert_eq!(header(&resp, "access-control-allow-origin"), "");
    assert_eq!(
        body(resp).await,
        json!({"detail": "CORS request forbidden: origin not allowed"})
    );
    let preflight = app
        .http
        .request(Method::OPTIONS, app.url("/chat"))
        .header("origin", "https://b.example")
        .header("access-control-request-method", "POST");
    let resp = raw(preflight).await;
    assert_eq!(resp.status().as_u16(), 403);
    assert_eq!(
        body(resp).await,
        json!({"detail": "CORS request forbidden: origin not allowed"})
    );
    assert_eq!(app.get("/health").await, (200, json!({"status": "ok"})));
}

/// Every error response, whatever produced it, is JSON with exactly one string field `detail`.
#[tokio::test]
async fn every_error_body_is_exactly_a_detail_string() {
    let app = TestApp::spawn().await;
    let json_post = |path: &str, body: &str| {
        app.http
            .post(app.url(path))
            .header("content-type", "application/json")
            .body(body.to_string())
    };
    let requests = [
        app.http.get(app.url("/nope")),
        app.http.put(app.url("/chat")),
        app.http.get(app.url("/chat/x")),
        app.http.get(app.url("/chat/b!d")),
        app.http.get(app.url("/user/x")),
        app.http.get(app.url("/ws/x")),
        json_post("/chat", "{"),
        json_post("/chat", "not json"),
        json_post("/user", r#"{"username": ""}"#),
        app.http.post(app.url("/chat")),
        json_post("/user", &"x".repeat(70_000)),
    ];
    for req in requests {
        let resp = raw(req).await;
        let status = resp.status().as_u16();
        let content_type = header(&resp, "content-type");
        let body = body(resp).await;
        assert!((400..500).contains(&status), "{status} {body}");
        assert_eq!(content_type, "application/json", "{status} {body}");
        let obj = body.as_object().expect("error body is a JSON object");
        assert!(obj.len() == 1 && obj["detail"].is_string(), "{status} {body}");
    }
}

/// `/docs` redirects to `/docs/`, which serves the Swagger UI page.
#[tokio::test]
async fn docs_redirects_and_serves_html() {
    let app = TestApp::spawn().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = raw(client.get(app.url("/docs"))).await;
    assert_eq!(resp.status().as_u16(), 303);
    assert_eq!(header(&resp, "location"), "/docs/");
    let resp = raw(client.get(app.url("/docs/"))).await;
    assert_eq!(resp.status().as_u16(), 200);
    assert!(
        header(&resp, "content-type").starts_with("text/html"),
        "{}",
        header(&resp, "content-type")
    );
    let page = resp.text().await.unwrap();
    assert!(page.contains("swagger-ui"), "{page}");
}
