//! Fuzzing ids, times and URLs: the id parsers and the time parser agree with the contract, and
//! a live server answers arbitrary history queries and path segments on the id routes with the
//! documented status (400 for a bad id or query, before any 404), never a 5xx.

use chat_server::domain::ids::is_valid_id;
use chat_server::domain::{ChatId, UserId, time};
use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::json;

use super::strategies::{ID_CHARS, id_like, matching, nasty_string, percent_encode};
use super::{FUZZER, ROOM, config, fail, http_app, id_rule, run_cases, send};

// --- pure properties -------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(2000))]

    /// Id parsers accept exactly the strings of the contract's alphabet and length.
    #[test]
    fn ids_follow_the_contract_rule(s in prop_oneof![id_like(), nasty_string(), matching(&format!("{ID_CHARS}{{0,140}}"))]) {
        let ok = id_rule(&s);
        prop_assert_eq!(is_valid_id(&s), ok, "is_valid_id({:?})", s);
        prop_assert_eq!(ChatId::parse(&s).is_ok(), ok, "ChatId::parse({:?})", s);
        prop_assert_eq!(UserId::parse(&s).is_ok(), ok, "UserId::parse({:?})", s);
        prop_assert_eq!(UserId::parse_client(&s).is_ok(), ok && s != "system", "UserId::parse_client({:?})", s);
        if let Ok(id) = ChatId::parse(&s) {
            prop_assert_eq!(id.as_str(), s.as_str());
        }
        if let Err(e) = ChatId::parse(&s) {
            prop_assert_eq!(e.to_string(), "Invalid chat_id: must be 1 to 128 characters of A-Z a-z 0-9 . _ - : @");
        }
    }

    /// `time::parse` never panics; what it accepts within years 0..=9999 formats to the wire
    /// form and reads back as the same instant (to the microsecond).
    #[test]
    fn time_parse_never_panics(s in prop_oneof![
        nasty_string(),
        "[+-]?[0-9]{1,6}-[0-9]{1,2}-[0-9]{1,2}[T ][0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(\\.[0-9]{0,20})?(Z|z|[+-][0-9]{2}:[0-9]{2})?",
        "(0000|9999|1970|2024)-(01|02|12)-(01|28|29|31)T(00|23):(00|59):(00|59|60)(\\.[0-9]{1,12})?(Z|[+-](00|14|23):(00|59))?",
    ]) {
        use chrono::Datelike;
        if let Some(t) = time::parse(&s)
            && (0..=9999).contains(&t.year())
        {
            let wire = time::format(&t);
            prop_assert_eq!(wire.len(), 27, "{:?} formats as {:?}", s, wire);
            // The wire carries microseconds: finer fractions are cut, not rounded.
            let micros = t - chrono::TimeDelta::nanoseconds(i64::from(t.timestamp_subsec_nanos() % 1_000));
            prop_assert_eq!(time::parse(&wire), Some(micros), "{:?} → {:?}", s, wire);
        }
    }
}

// --- live server -----------------------------------------------------------------------------

/// A query parameter: `limit`, `before` or anything, with a plausible or arbitrary value.
fn query_pair() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        3 => Just("limit".to_string()),
        3 => Just("before".to_string()),
        1 => "[a-z]{1,8}",
        1 => nasty_string(),
    ];
    let value = prop_oneof![
        2 => (0u64..1200).prop_map(|n| n.to_string()),
        1 => "[+-]?[0-9]{1,25}",
        2 => "(19|20|99)[0-9]{2}-[01][0-9]-[0-3][0-9]([T ][0-2][0-9]:[0-5][0-9]:[0-6][0-9](\\.[0-9]{0,12})?(Z|[+-][01][0-9]:[0-5][0-9])?)?",
        2 => nasty_string(),
        1 => vec(any::<u8>(), 0..20).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ];
    let raw = prop_oneof![
        Just("%".to_string()),
        Just("%zz".to_string()),
        Just("%C3".to_string()),
        Just("&&==".to_string()),
        Just("+".to_string()),
    ];
    let unreserved = |b: u8| b.is_ascii_alphanumeric() || b"-._~".contains(&b);
    prop_oneof![
        8 => (key, value, any::<bool>()).prop_map(move |(k, v, plus)| {
            let enc = |s: &str| {
                let e = percent_encode(s.as_bytes(), unreserved);
                if plus { e.replace("%20", "+") } else { e }
            };
            format!("{}={}", enc(&k), enc(&v))
        }),
        1 => raw,
    ]
}

/// Arbitrary query strings on `GET /chat/{id}/messages`: 200 with an array exactly when
/// `limit` and `before` (if given) are valid, else 400 `{"detail"}`.
#[test]
fn http_arbitrary_history_queries() {
    let (rt, app) = http_app();
    rt.block_on(async {
        let mut ws = app.ws(FUZZER).await;
        ws.send_json(json!({"type": "text", "chat_id": ROOM, "content": "one"}))
            .await;
        ws.recv_json().await; // the join notice
        ws.recv_json().await; // the echo
    });
    run_cases(300, vec(query_pair(), 0..4), |pairs| {
        let url = reqwest::Url::parse(&format!(
            "{}?{}",
            app.url(&format!("/chat/{ROOM}/messages")),
            pairs.join("&")
        ))
        .map_err(|e| fail(format!("test built a bad URL: {e}")))?;
        // What the server should conclude from the pairs (when neither key is repeated).
        let decoded: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let only = |k: &str| {
            let v: Vec<&String> = decoded
                .iter()
                .filter(|(key, _)| key == k)
                .map(|(_, v)| v)
                .collect();
            (v.len() <= 1).then(|| v.first().map(|s| s.to_string()))
        };
        let expected = match (only("limit"), only("before")) {
            (Some(limit), Some(before)) => {
                let limit_ok =
                    limit.is_none_or(|l| l.parse::<usize>().is_ok_and(|n| (1..=1000).contains(&n)));
                let before_ok = before.is_none_or(|b| time::parse(&b).is_some());
                Some(if limit_ok && before_ok { 200 } else { 400 })
            }
            _ => None,
        };
        rt.block_on(async {
            let what = format!("GET {url}");
            let reply = send(app.http.get(url.clone())).await?;
            let v = reply.check(&what, &[200, 400])?;
            if let Some(want) = expected {
                prop_assert_eq!(reply.status, want, "{}: {}", what, v);
            }
            if reply.status == 200 {
                prop_assert!(v.is_array(), "{}: {}", what, v);
            }
            Ok(())
        })
    });
}

/// A path segment: percent-encoded random bytes, random text, or an id.
fn path_segment() -> impl Strategy<Value = String> {
    let pchar = |b: u8| b.is_ascii_alphanumeric() || b"-_:@".contains(&b);
    prop_oneof![
        3 => vec(any::<u8>(), 1..40).prop_map(move |b| percent_encode(&b, pchar)),
        2 => "[\\PC]{1,20}".prop_map(move |s| percent_encode(s.as_bytes(), pchar)),
        2 => id_like().prop_filter("non-empty", |s| !s.is_empty()).prop_map(move |s| percent_encode(s.as_bytes(), pchar)),
        1 => Just(ROOM.to_string()),
    ]
}

/// Arbitrary path segments on the id routes: 400 when the segment is not a valid id (before
/// any 404), else 404 or 200; always `{"detail"}` on errors, never a 5xx.
#[test]
fn http_arbitrary_path_segments() {
    let (rt, app) = http_app();
    let routes = proptest::sample::select(
        &[
            ("GET", "/chat/{}"),
            ("GET", "/user/{}"),
            ("GET", "/chat/{}/messages"),
            ("GET", "/user/{}/chats"),
            ("DELETE", "/chat/fuzz-room/participants/{}"),
        ][..],
    );
    run_cases(300, (routes, path_segment()), |((method, template), seg)| {
        let path = template.replace("{}", &seg);
        let url = reqwest::Url::parse(&app.url(&path)).map_err(|e| fail(format!("bad URL: {e}")))?;
        // The URL parser resolves `.`/`..` segments (also as %2E): those test the client.
        prop_assume!(url.path() == path);
        // Ids are judged once percent-decoded (`a%2E` is `a.`); `system` is a valid id that is
        // never a participant (404 on DELETE).
        let id = percent_encoding::percent_decode_str(&seg).decode_utf8_lossy();
        let valid = is_valid_id(&id);
        rt.block_on(async {
            let req = app.http.request(method.parse().unwrap(), url.clone());
            let what = format!("{method} {path}");
            let reply = send(req).await?;
            let allowed: &[u16] = if valid { &[200, 404] } else { &[400] };
            reply.check(&what, allowed)?;
            Ok(())
        })
    });
}

/// A valid id with some of its unreserved characters percent-encoded names the same resource
/// (RFC 3986 §6.2.2.2: such URIs are equivalent); the seed's FastAPI server decoded them too.
#[test]
fn http_percent_encoded_ids_name_the_same_resource() {
    let (rt, app) = http_app();
    let strategy = ("[a-z0-9._-]{1,12}", vec(any::<bool>(), 12));
    run_cases(20, strategy, |(id, encode)| {
        let user = format!("u-{id}");
        let enc: String = user
            .bytes()
            .zip(encode.iter().chain(std::iter::repeat(&false)))
            .map(|(b, &e)| {
                if e {
                    format!("%{b:02X}")
                } else {
                    (b as char).to_string()
                }
            })
            .collect();
        prop_assume!(enc != user);
        rt.block_on(async {
            let created = app.post_json("/user", json!({"id": user, "username": "x"})).await;
            prop_assert!(matches!(created.0, 201 | 409), "{:?}", created);
            let plain = send(app.http.get(app.url(&format!("/user/{user}")))).await?;
            let encoded = send(app.http.get(app.url(&format!("/user/{enc}")))).await?;
            prop_assert_eq!(plain.status, 200);
            prop_assert_eq!(
                (encoded.status, encoded.json()?),
                (200, plain.json()?),
                "GET /user/{} (the same id as /user/{})",
                enc,
                user
            );
            Ok(())
        })
    });
}
