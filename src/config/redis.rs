//! The Redis settings: `REDIS_URL`, or the URL built from `REDIS_HOST`, `REDIS_PORT`,
//! `REDIS_DB` and `REDIS_PASSWORD`, or a cluster's seed nodes (`REDIS_CLUSTER_NODES`), plus
//! the pool, key prefix, replicas to wait for and presence TTL.

use std::time::Duration;

use super::{Config, ConfigError, StoreKind, fail, int, seconds};

/// How to reach and use Redis.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisSettings {
    /// `redis://[:password@]host:port/db` (from `REDIS_URL`, or built from the parts).
    pub url: String,
    /// `host:port` for messages (the URL may hold a password).
    pub address: String,
    pub pool_size: u32,
    /// Every key and channel starts with this.
    pub key_prefix: String,
    /// A crashed instance's connections stop counting as active after this long.
    pub presence_ttl: Duration,
    /// A Redis Cluster's seed nodes, as `redis://[:password@]host:port` URLs (empty: one Redis
    /// at `url`).
    pub cluster: Vec<String>,
    /// How many replicas must have each stored message before it is acknowledged (`WAIT`).
    pub wait_replicas: u32,
}

impl std::fmt::Debug for RedisSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never log the URL: it may carry the password.
        f.debug_struct("Redis")
            .field("address", &self.address)
            .field("prefix", &self.key_prefix)
            .field("cluster", &!self.cluster.is_empty())
            .finish()
    }
}

/// `redis at localhost:6379 (prefix chat)`: for the start-up log, so never the URL.
impl std::fmt::Display for RedisSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = if self.cluster.is_empty() {
            "redis"
        } else {
            "redis cluster"
        };
        write!(f, "{kind} at {} (prefix {})", self.address, self.key_prefix)
    }
}

/// `memory`, or the Redis settings' own `Display`.
impl std::fmt::Display for StoreKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreKind::Memory => f.write_str("memory"),
            StoreKind::Redis(redis) => redis.fmt(f),
        }
    }
}

impl Config {
    /// The Redis variables, checked even with `STORE=memory` so a typo does not wait.
    pub(super) fn redis_settings(&self) -> Result<RedisSettings, ConfigError> {
        let port: u16 = int("REDIS_PORT", &self.redis_port, 1, u16::MAX)?;
        let db: u32 = int("REDIS_DB", &self.redis_db, 0, 15)?;
        let host = self.redis_host.trim();
        if host.is_empty() || host.contains(['/', '@', ' ']) {
            return Err(fail("REDIS_HOST", host, "expected a host name or IP address"));
        }
        let prefix = self.redis_key_prefix.trim();
        if prefix.is_empty()
            || !prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-:".contains(c))
        {
            return Err(fail(
                "REDIS_KEY_PREFIX",
                prefix,
                "expected letters, digits, . _ - or :",
            ));
        }
        let (url, address) = match self.redis_url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
            Some(url) => {
                if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                    return Err(fail(
                        "REDIS_URL",
                        "<hidden>",
                        "expected redis://[:password@]host:port/db",
                    ));
                }
                let rest = url.split_once("://").map_or(url, |(_, r)| r);
                let address = rest.rsplit_once('@').map_or(rest, |(_, a)| a);
                (
                    url.to_string(),
                    address.split('/').next().unwrap_or(address).to_string(),
                )
            }
            None => {
                let auth = match self.redis_password.as_deref().filter(|p| !p.is_empty()) {
                    Some(p) => format!(":{}@", percent_encode(p)),
                    None => String::new(),
                };
                let host = if host.contains(':') {
                    format!("[{host}]")
                } else {
                    host.to_string()
                };
                (
                    format!("redis://{auth}{host}:{port}/{db}"),
                    format!("{host}:{port}"),
                )
            }
        };
        let wait_replicas = int("REDIS_WAIT_REPLICAS", &self.redis_wait_replicas, 0, 16)?;
        let nodes = self
            .redis_cluster_nodes
            .as_deref()
            .map(str::trim)
            .unwrap_or_default();
        let (cluster, address) = if nodes.is_empty() {
            (Vec::new(), address)
        } else {
            if db != 0 {
                return Err(fail(
                    "REDIS_DB",
                    &db.to_string(),
                    "a Redis Cluster has only database 0 (REDIS_CLUSTER_NODES is set)",
                ));
            }
            self.cluster_nodes(nodes)?
        };
        Ok(RedisSettings {
            url,
            address,
            cluster,
            wait_replicas,
            pool_size: int("REDIS_POOL_SIZE", &self.redis_pool_size, 1, 256)?,
            key_prefix: prefix.to_string(),
            presence_ttl: seconds("PRESENCE_TTL_SECONDS", &self.presence_ttl_seconds)?,
        })
    }
}

impl Config {
    /// The cluster's seed nodes as URLs (with `REDIS_PASSWORD`), and the list for messages.
    fn cluster_nodes(&self, nodes: &str) -> Result<(Vec<String>, String), ConfigError> {
        let auth = match self.redis_password.as_deref().filter(|p| !p.is_empty()) {
            Some(p) => format!(":{}@", percent_encode(p)),
            None => String::new(),
        };
        let mut urls = Vec::new();
        for node in nodes.split(',').map(str::trim) {
            let port = node.rsplit_once(':').map(|(_, p)| p.parse::<u16>());
            if node.contains(['/', '@', ' ']) || !matches!(port, Some(Ok(1..))) {
                return Err(fail(
                    "REDIS_CLUSTER_NODES",
                    node,
                    "expected host:port[,host:port...]",
                ));
            }
            urls.push(format!("redis://{auth}{node}"));
        }
        Ok((urls, nodes.to_string()))
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters (for the password).
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::StoreKind;

    #[test]
    fn redis_url_from_parts_or_whole() {
        let s = super::super::tests::from_pairs(&[
            ("STORE", "redis"),
            ("REDIS_PASSWORD", "p@ss w"),
            ("REDIS_DB", "2"),
        ])
        .unwrap();
        let StoreKind::Redis(r) = s.store else {
            panic!("not redis")
        };
        assert_eq!(r.url, "redis://:p%40ss%20w@localhost:6379/2");
        assert_eq!(r.address, "localhost:6379");
        assert_eq!(
            format!("{r:?}"),
            r#"Redis { address: "localhost:6379", prefix: "chat", cluster: false }"#
        );
        let s =
            super::super::tests::from_pairs(&[("STORE", "redis"), ("REDIS_URL", "redis://:pw@cache:7000/1")])
                .unwrap();
        let StoreKind::Redis(r) = s.store else {
            panic!("not redis")
        };
        assert_eq!(
            (r.url.as_str(), r.address.as_str()),
            ("redis://:pw@cache:7000/1", "cache:7000")
        );
        // What the start-up log shows: no password.
        assert_eq!(
            StoreKind::Redis(r).to_string(),
            "redis at cache:7000 (prefix chat)"
        );
        assert_eq!(StoreKind::Memory.to_string(), "memory");
    }

    #[test]
    fn cluster_nodes_take_the_password_and_refuse_a_database() {
        let s = super::super::tests::from_pairs(&[
            ("STORE", "redis"),
            ("REDIS_PASSWORD", "pw"),
            ("REDIS_CLUSTER_NODES", "10.0.0.1:7000, 10.0.0.2:7001"),
            ("REDIS_WAIT_REPLICAS", "1"),
        ])
        .unwrap();
        let StoreKind::Redis(r) = s.store else {
            panic!("not redis")
        };
        assert_eq!(
            r.cluster,
            ["redis://:pw@10.0.0.1:7000", "redis://:pw@10.0.0.2:7001"]
        );
        assert_eq!(r.wait_replicas, 1);
        assert_eq!(
            StoreKind::Redis(r).to_string(),
            "redis cluster at 10.0.0.1:7000, 10.0.0.2:7001 (prefix chat)"
        );
        let e = super::super::tests::from_pairs(&[("REDIS_CLUSTER_NODES", "a:1"), ("REDIS_DB", "3")]);
        assert!(e.unwrap_err().to_string().contains("REDIS_DB"));
        let e = super::super::tests::from_pairs(&[("REDIS_CLUSTER_NODES", "a:1,b")]);
        assert!(e.unwrap_err().to_string().contains("REDIS_CLUSTER_NODES"));
    }
}
