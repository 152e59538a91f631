//! Redis Cluster (issue 18): the server on a cluster of three masters with a replica each,
//! whatever `TEST_STORE` says (each test starts its cluster, or shares the binary's).

mod config;
mod harness;
