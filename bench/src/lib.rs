//! What the bench's binaries share: the accept loop of its do-nothing servers (`acceptor`,
//! `relay`). The load generator (`src/bin/loadgen`) stands alone.

pub mod listen;
