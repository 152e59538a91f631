//! History by `seq`: `after_seq` forwards and `before_seq` backwards each visit every
//! message exactly once; malformed values and mixed cursors are 400s.

use serde_json::{Value, json};

use super::say;
use crate::helpers::TestApp;

async fn page(app: &TestApp, query: &str) -> Vec<Value> {
    let (status, body) = app.get(&format!("/chat/r/messages?{query}")).await;
    assert_eq!(status, 200, "{query}: {body}");
    body.as_array().unwrap().clone()
}

#[tokio::test]
async fn paging_by_seq_walks_everything_both_ways() {
    let app = TestApp::spawn().await;
    let mut ws = app.ws("alice").await;
    for i in 0..12 {
        say(&mut ws, "r", &format!("m{i}")).await;
    }
    let all = app.history("r").await; // the join notice and 12 texts
    assert_eq!(all.len(), 13);

    let (mut forward, mut after) = (Vec::new(), 0);
    loop {
        let p = page(&app, &format!("limit=5&after_seq={after}")).await;
        let Some(last) = p.last() else { break };
        after = last["seq"].as_u64().unwrap();
        forward.extend(p);
    }
    assert_eq!(forward, all);

    let (mut backward, mut before) = (Vec::new(), i64::MAX as u64);
    loop {
        let p = page(&app, &format!("limit=5&before_seq={before}")).await;
        let Some(first) = p.first() else { break };
        before = first["seq"].as_u64().unwrap();
        backward.splice(0..0, p);
    }
    assert_eq!(backward, all);

    let mid = all[6]["seq"].as_u64().unwrap();
    assert_eq!(page(&app, &format!("limit=2&after_seq={mid}")).await, all[7..9]);
    assert_eq!(page(&app, &format!("limit=2&before_seq={mid}")).await, all[4..6]);
    assert_eq!(page(&app, "before_seq=0").await, Vec::<Value>::new());
    // Bounds combine: above after_seq and below before_seq (or before, or both).
    let (lo, hi) = (all[2]["seq"].as_u64().unwrap(), all[6]["seq"].as_u64().unwrap());
    assert_eq!(
        page(&app, &format!("after_seq={lo}&before_seq={hi}")).await,
        all[3..6]
    );
    assert_eq!(
        page(&app, &format!("limit=2&after_seq={lo}&before_seq={hi}")).await,
        all[3..5]
    );
    let at = all[6]["timestamp"].as_str().unwrap();
    let q = format!("after_seq={lo}&before={at}&before_seq={}", all[9]["seq"]);
    assert_eq!(page(&app, &q).await, all[3..6]);
    assert_eq!(
        page(&app, &format!("after_seq={hi}&before_seq={lo}")).await,
        Vec::<Value>::new()
    );
}

#[tokio::test]
async fn bad_seq_queries_are_400() {
    let app = TestApp::spawn().await;
    let mut ws = app.ws("alice").await;
    say(&mut ws, "r", "hi").await;
    let bad = |name: &str| json!({"detail": format!("Invalid {name}: expected a message's seq, an integer from 0 to 9223372036854775807")});
    for (query, name) in [
        ("after_seq=-1", "after_seq"),
        ("after_seq=x", "after_seq"),
        ("before_seq=18446744073709551616", "before_seq"),
        ("after_seq=9223372036854775808", "after_seq"),
        ("before_seq=", "before_seq"),
    ] {
        assert_eq!(
            app.get(&format!("/chat/r/messages?{query}")).await,
            (400, bad(name)),
            "{query}"
        );
    }
    assert_eq!(app.get("/chat/none/messages?after_seq=0").await.0, 404);
}
