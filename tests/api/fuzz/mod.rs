//! Property-based fuzzing (proptest), bounded so the whole module takes seconds.
//!
//! Pure properties: the WebSocket frame decoder, the id parsers, the time parser and the
//! `POST /chat` / `POST /user` validators never panic on anything, and agree with reference
//! predicates written here from the contract.
//!
//! Live properties: one real server per test function, reused across the cases (a server per
//! case would be far too slow), driven from a runtime the test owns. Arbitrary WebSocket text
//! and binary frames, request bodies, query strings and path segments are answered within the
//! contract: an error frame or a message on WebSocket (never a close, and the connection keeps
//! answering), a documented status with exactly `{"detail": "..."}` on HTTP, never a 5xx.
//!
//! `PROPTEST_CASES=N` replaces every test's case count (for a longer run).
//!
//! One file per concern: `ws` (frames), `http_bodies` (request bodies), `ids_queries` (ids,
//! times, query strings, path segments); `strategies` makes the inputs; this file holds the
//! runner and the HTTP side of the live server that `http_bodies` and `ids_queries` share.

mod http_bodies;
mod ids_queries;
mod strategies;
mod ws;

use proptest::prelude::*;
use proptest::test_runner::{TestCaseError, TestRunner};
use serde_json::{Value, json};
use tokio::runtime::Runtime;

use crate::helpers::{TIMEOUT, TestApp};

// --- configuration ---------------------------------------------------------------------------

/// `cases` cases (or `PROPTEST_CASES`), no regression files, shrinking bounded in time.
fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(cases);
    ProptestConfig {
        cases,
        failure_persistence: None,
        max_shrink_time: 20_000,
        ..ProptestConfig::default()
    }
}

/// Runs `check` on `cases` values of `strategy`; a failure reports the shrunk input.
fn run_cases<S: Strategy>(cases: u32, strategy: S, check: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S::Value: std::fmt::Debug,
{
    let mut runner = TestRunner::new(config(cases));
    if let Err(e) = runner.run(&strategy, check) {
        panic!("{e}");
    }
}

fn fail(why: impl Into<String>) -> TestCaseError {
    TestCaseError::fail(why.into())
}

// --- the contract's rules --------------------------------------------------------------------

/// The contract's id rule, written independently of the server's `is_valid_id`.
fn id_rule(s: &str) -> bool {
    let n = s.chars().count();
    (1..=128).contains(&n)
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':' | '@'))
}

/// The user every WebSocket fuzz connection acts as.
const FUZZER: &str = "fuzzer";

// --- live server: HTTP (shared by `http_bodies` and `ids_queries`) --------------------------

/// Status, content type and body of a response.
struct Reply {
    status: u16,
    content_type: String,
    body: Vec<u8>,
}

async fn send(req: reqwest::RequestBuilder) -> Result<Reply, TestCaseError> {
    let resp = tokio::time::timeout(TIMEOUT, req.send())
        .await
        .map_err(|_| fail("request timed out"))?
        .map_err(|e| fail(format!("request failed: {e:?}")))?;
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = resp
        .bytes()
        .await
        .map_err(|e| fail(format!("body: {e}")))?
        .to_vec();
    Ok(Reply {
        status,
        content_type,
        body,
    })
}

impl Reply {
    fn json(&self) -> Result<Value, TestCaseError> {
        prop_assert_eq!(&self.content_type, "application/json", "status {}", self.status);
        serde_json::from_slice(&self.body).map_err(|e| {
            fail(format!(
                "status {}: body is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            ))
        })
    }

    /// Asserts the status is one of `allowed` (never a 5xx) and an error body is exactly
    /// `{"detail": "<non-empty>"}`; returns the JSON body.
    fn check(&self, what: &str, allowed: &[u16]) -> Result<Value, TestCaseError> {
        let body = self.json()?;
        prop_assert!(
            allowed.contains(&self.status),
            "{}: status {} not in {:?}; body {}",
            what,
            self.status,
            allowed,
            body
        );
        if self.status >= 400 {
            let obj = body.as_object();
            let ok = obj.is_some_and(|o| {
                o.len() == 1
                    && o.get("detail")
                        .and_then(Value::as_str)
                        .is_some_and(|d| !d.trim().is_empty())
            });
            prop_assert!(
                ok,
                "{}: status {} with body {} (want exactly {{\"detail\"}})",
                what,
                self.status,
                body
            );
        }
        Ok(body)
    }
}

/// A room every HTTP test can use.
const ROOM: &str = "fuzz-room";

/// One server with `ROOM` created, on a runtime the test owns.
fn http_app() -> (Runtime, TestApp) {
    let rt = Runtime::new().unwrap();
    let app = rt.block_on(async {
        let app = TestApp::spawn().await;
        let (status, body) = app.post_json("/chat", json!({"id": ROOM, "name": "Fuzz"})).await;
        assert_eq!(status, 201, "{body}");
        app
    });
    (rt, app)
}
