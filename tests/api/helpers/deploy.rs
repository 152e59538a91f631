//! Where a test server keeps its data, and the variables that say so: the memory store, one
//! Redis, or a Redis Cluster, each Redis kind with a key prefix of the test's own.

use std::sync::Arc;

use super::{Backend, fresh_prefix};
use crate::redis_cluster::RedisCluster;
use crate::redis_server::RedisServer;

/// A deployment: the servers of one (two instances with one are one deployment) keep the
/// Redis or cluster alive.
#[derive(Clone)]
pub enum Deployment {
    Memory,
    Redis(Arc<RedisServer>, String),
    Cluster(Arc<RedisCluster>, String),
}

impl Deployment {
    /// The binary's shared Redis under a fresh prefix, or its shared cluster with
    /// `TEST_STORE=redis-cluster`.
    pub fn shared() -> Self {
        match Backend::from_env() {
            Backend::RedisCluster => Deployment::Cluster(RedisCluster::shared(), fresh_prefix()),
            _ => Deployment::Redis(RedisServer::shared(), fresh_prefix()),
        }
    }

    /// The variables a server of this deployment runs with (a child process's too).
    pub fn vars(&self) -> Vec<(String, String)> {
        let pairs: Vec<(&str, String)> = match self {
            Deployment::Memory => Vec::new(),
            Deployment::Redis(server, prefix) => vec![
                ("STORE", "redis".into()),
                ("REDIS_URL", server.url()),
                ("REDIS_KEY_PREFIX", prefix.clone()),
            ],
            // REDIS_URL points where nothing listens: with cluster nodes it must be ignored,
            // and a server that did not ignore it fails to start instead of writing into
            // whatever Redis runs on the default port.
            Deployment::Cluster(cluster, prefix) => vec![
                ("STORE", "redis".into()),
                ("REDIS_CLUSTER_NODES", cluster.nodes()),
                ("REDIS_URL", "redis://127.0.0.1:1".into()),
                ("REDIS_KEY_PREFIX", prefix.clone()),
            ],
        };
        pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }

    /// The key prefix (panics on the memory store).
    pub fn prefix(&self) -> &str {
        match self {
            Deployment::Memory => panic!("a Redis deployment was expected"),
            Deployment::Redis(_, prefix) | Deployment::Cluster(_, prefix) => prefix,
        }
    }

    /// The Redis ports holding the data: the one server, or every live cluster node.
    pub fn ports(&self) -> Vec<u16> {
        match self {
            Deployment::Memory => panic!("a Redis deployment was expected"),
            Deployment::Redis(server, _) => vec![server.port],
            Deployment::Cluster(cluster, _) => cluster.ports(),
        }
    }

    /// The port of the Redis that serves `key`: the one server, or the master of its slot.
    pub fn port_for(&self, key: &str) -> u16 {
        match self {
            Deployment::Cluster(cluster, _) => cluster.owner_of(key),
            _ => self.ports()[0],
        }
    }

    /// Whether room channels are sharded (`SSUBSCRIBE`/`SPUBLISH`): on a cluster.
    pub fn sharded(&self) -> bool {
        matches!(self, Deployment::Cluster(..))
    }
}
