//! The two ways to reach Redis, behind one connection type: one Redis (a bb8 pool of
//! auto-reconnecting multiplexed connections) or a Redis Cluster (redis-rs's cluster client:
//! one multiplexed connection per node, each command routed to the node of its keys' slot).
//! The choice is made once, in [`Links::open`]; everything above takes a [`Conn`].

use std::time::Duration;

use bb8_redis::redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use bb8_redis::redis::cluster::ClusterClientBuilder;
use bb8_redis::redis::cluster_async::ClusterConnection;
use bb8_redis::redis::cluster_routing::{
    MultipleNodeRoutingInfo, ResponsePolicy, Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr,
};
use bb8_redis::redis::{self, Cmd, IntoConnectionInfo, Pipeline, RedisError, RedisFuture, Value};

use crate::config::RedisSettings;

/// A connection to one Redis or to a cluster; clones share the same sockets.
#[derive(Clone)]
pub enum Conn {
    One(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::One(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::One(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::One(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

impl Conn {
    /// A PING answered by one Redis, or by every master of the cluster (each shard reachable).
    pub async fn ping_all(&mut self) -> Result<(), RedisError> {
        match self {
            Conn::One(c) => redis::cmd("PING").query_async(c).await,
            Conn::Cluster(c) => {
                let all = RoutingInfo::MultiNode((
                    MultipleNodeRoutingInfo::AllMasters,
                    Some(ResponsePolicy::AllSucceeded),
                ));
                c.route_command(redis::cmd("PING"), all).await.map(drop)
            }
        }
    }
}

impl Conn {
    /// `WAIT`s until `replicas` replicas have this connection's writes so far, on the node of
    /// `key`'s slot (a cluster routes a keyless `WAIT` to every master); returns how many did.
    pub async fn wait_replicas(
        &mut self,
        key: &str,
        replicas: u32,
        timeout: Duration,
    ) -> Result<i64, RedisError> {
        let mut cmd = redis::cmd("WAIT");
        cmd.arg(replicas)
            .arg(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX).max(1));
        match self {
            Conn::One(c) => cmd.query_async(c).await,
            Conn::Cluster(c) => {
                let node = SingleNodeRoutingInfo::SpecificNode(Route::with_key(key, SlotAddr::Master));
                redis::from_redis_value(c.route_command(cmd, RoutingInfo::SingleNode(node)).await?)
                    .map_err(RedisError::from)
            }
        }
    }
}

/// bb8 manager of auto-reconnecting connections with the configured timeouts (bb8-redis's own
/// manager fixes a 500 ms response timeout).
pub struct Manager {
    client: redis::Client,
    timeout: Duration,
}

impl bb8::ManageConnection for Manager {
    type Connection = ConnectionManager;
    type Error = RedisError;

    async fn connect(&self) -> Result<ConnectionManager, RedisError> {
        // No response timeout here: `call` bounds every call (checkout included) already, and
        // a second timer per command cost CPU for nothing (redis-rs's default is 500 ms).
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(None)
            .set_connection_timeout(Some(self.timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        ConnectionManager::new_with_config(self.client.clone(), config).await
    }

    async fn is_valid(&self, conn: &mut ConnectionManager) -> Result<(), RedisError> {
        redis::cmd("PING").query_async(conn).await
    }

    fn has_broken(&self, _: &mut ConnectionManager) -> bool {
        false // a ConnectionManager reconnects by itself
    }
}

/// Where connections come from.
pub enum Links {
    One(bb8::Pool<Manager>),
    /// One cluster connection: it multiplexes every call over its per-node connections.
    Cluster(ClusterConnection),
}

/// TCP settings for every connection: redis-rs leaves Nagle's algorithm on, which holds a
/// command back while an earlier one is unacknowledged, and with many commands pipelined on
/// one connection that is a wait on most of them.
fn tcp() -> redis::io::tcp::TcpSettings {
    redis::io::tcp::TcpSettings::default().set_nodelay(true)
}

/// A client for `url` whose connections send each command at once.
pub fn client(url: &str) -> redis::RedisResult<redis::Client> {
    redis::Client::open(url.into_connection_info()?.set_tcp_settings(tcp()))
}

/// A cluster connection from the seed nodes (RESP3 with `push`, for pub/sub).
pub async fn cluster(
    settings: &RedisSettings,
    timeout: Duration,
    push: Option<tokio::sync::mpsc::UnboundedSender<redis::PushInfo>>,
) -> redis::RedisResult<ClusterConnection> {
    let mut builder = ClusterClientBuilder::new(settings.cluster.clone())
        .tcp_settings(tcp())
        .connection_timeout(timeout)
        .response_timeout(timeout);
    if let Some(tx) = push {
        builder = builder
            .use_protocol(redis::ProtocolVersion::RESP3)
            .push_sender(tx);
    }
    builder.build()?.get_async_connection().await
}

/// Why Redis could not be used at start-up.
pub enum Failure {
    /// Nothing answered (refused, or silent for the whole timeout).
    Unreachable(String),
    /// Redis answered with an error (a wrong or missing password, a database out of range).
    Refused(String),
}

impl Links {
    /// Connects and checks that Redis (every master of a cluster) answers, bounded by
    /// `timeout`: the actual cause (refused, a wrong password, no answer), where a pool would
    /// only say that its checkout timed out.
    pub async fn open(settings: &RedisSettings, timeout: Duration) -> Result<Self, Failure> {
        let no_answer = || Failure::Unreachable(format!("no answer within {} s", timeout.as_secs_f64()));
        let attempt = async {
            if settings.cluster.is_empty() {
                let client = client(&settings.url)?;
                let config = redis::AsyncConnectionConfig::new()
                    .set_connection_timeout(None)
                    .set_response_timeout(None);
                let mut conn = client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await?;
                redis::cmd("PING").query_async::<()>(&mut conn).await?;
                let pool = bb8::Pool::builder()
                    .max_size(settings.pool_size)
                    .connection_timeout(timeout)
                    .test_on_check_out(false)
                    .build_unchecked(Manager { client, timeout });
                Ok::<_, RedisError>(Links::One(pool))
            } else {
                let conn = cluster(settings, timeout, None).await?;
                Conn::Cluster(conn.clone()).ping_all().await?;
                Ok(Links::Cluster(conn))
            }
        };
        match tokio::time::timeout(timeout, attempt).await {
            Ok(Ok(links)) => Ok(links),
            Ok(Err(e)) if e.is_connection_refusal() => Err(Failure::Unreachable("connection refused".into())),
            Ok(Err(e)) if e.is_timeout() => Err(no_answer()),
            Ok(Err(e)) if e.is_io_error() => Err(Failure::Unreachable(e.to_string())),
            Ok(Err(e)) => Err(Failure::Refused(e.to_string())),
            Err(_) => Err(no_answer()),
        }
    }

    /// A connection for one call (a clone: it shares the socket with concurrent calls).
    pub async fn get(&self) -> Result<Conn, String> {
        match self {
            Links::One(pool) => Ok(Conn::One(pool.get().await.map_err(|e| e.to_string())?.clone())),
            Links::Cluster(c) => Ok(Conn::Cluster(c.clone())),
        }
    }

    pub fn is_cluster(&self) -> bool {
        matches!(self, Links::Cluster(_))
    }
}
