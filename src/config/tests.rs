//! The settings' unit tests: defaults, bad values, and the messages that name the variable.

use super::*;

/// Settings from literal pairs.
pub(super) fn from_pairs(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    Settings::from_map(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

#[test]
fn defaults_match_the_contract() {
    let s = from_pairs(&[]).unwrap();
    assert_eq!((s.host.as_str(), s.port), ("127.0.0.1", 8000));
    assert_eq!(s.store, StoreKind::Memory);
    assert_eq!(s.max_messages_per_room, 1000);
    assert_eq!(s.ws_timeout, Duration::from_secs(5));
    assert_eq!(s.redis_timeout, Duration::from_secs(5));
    assert_eq!(s.cors_origins, CorsOrigins::Any);
    assert_eq!((s.rate_limit_per_second, s.rate_limit_burst), (20, 40));
    assert_eq!((s.max_content_chars, s.max_frame_bytes), (4096, 65536));
}

#[test]
fn bad_values_name_their_variable() {
    for (var, value) in [
        ("PORT", "eighty"),
        ("MAX_MESSAGES_PER_ROOM", "0"),
        ("REDIS_TIMEOUT_SECONDS", "-1"),
        ("STORE", "postgres"),
        ("REDIS_KEY_PREFIX", "a b"),
        ("REDIS_URL", "http://x"),
        ("REDIS_POOL_SIZE", "0"),
        ("LOG_FORMAT", "xml"),
        ("MAX_CONNECTIONS_PER_USER", "0"),
        ("SHUTDOWN_DRAIN_SECONDS", "-1"),
        ("WORKER_THREADS", "many"),
        ("CORS_ORIGINS", "example.com"),
        ("REDIS_DB", "99"),
        ("AUTH_SECRET", "too-short"),
    ] {
        let err = from_pairs(&[(var, value)]).unwrap_err();
        assert_eq!(err.var, var);
        assert!(err.to_string().contains(var), "{err}");
    }
}

#[test]
fn cors_list_is_trimmed() {
    let s = from_pairs(&[("CORS_ORIGINS", "https://a.example, http://b.example/")]).unwrap();
    assert_eq!(
        s.cors_origins,
        CorsOrigins::List(vec!["https://a.example".into(), "http://b.example".into()])
    );
}

/// Each variable of `.env.example` has its own comment, and the file loads as valid settings
/// (that it lists every variable with the code's default: `tests/api/config_docs.rs`).
#[test]
fn env_example_is_commented_and_loads() {
    let example = include_str!("../../.env.example");
    let lines: Vec<&str> = example.lines().collect();
    let is_var = |l: &str| {
        let l = l.strip_prefix("# ").unwrap_or(l);
        l.split_once('=')
            .is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
    };
    let mut seen = 0;
    for (at, line) in lines.iter().enumerate().filter(|(_, l)| is_var(l)) {
        assert!(
            at > 0 && lines[at - 1].starts_with("# ") && !is_var(lines[at - 1]),
            "{line} has no comment"
        );
        seen += 1;
    }
    assert_eq!(seen, 31);
    let pairs = dotenvy::from_read_iter(example.as_bytes()).map(|kv| kv.unwrap());
    let s = Settings::from_map(pairs.collect()).unwrap();
    assert_eq!((s.port, s.store, s.auth_secret), (8000, StoreKind::Memory, None));
}
