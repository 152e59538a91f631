//! The schedule: every operation and fault of a run, drawn up front from one seed (ChaCha8),
//! so the same seed and profile always give the same steps at the same offsets. Only the
//! schedule is deterministic: the processes run in real time, so the checks compare against
//! what was stored, never against the schedule's timing.
//!
//! Extension points (issue 19; the features do not exist yet): `resume` after a reconnect,
//! `client_msg_id` retries of a send, and `read` frames become new `Action` variants drawn in
//! `connected_op`, carried out in `client.rs` and checked in `checks/`.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::plan::Plan;

/// The shape of a run: how many of each thing, how long, how busy, which faults.
#[derive(Clone, Debug)]
pub struct Profile {
    pub instances: usize,
    pub clients: usize,
    /// Clients share users (client `k` is user `u{k % users}`): a user then holds several
    /// connections, often on several instances.
    pub users: usize,
    pub rooms: usize,
    pub duration_ms: u64,
    /// Mean operations per second, all clients together.
    pub ops_per_sec: u64,
    /// Mean time between faults; 0 for none.
    pub fault_every_ms: u64,
    pub faults: &'static [FaultKind],
}

impl Profile {
    /// The CI profile: a run of about 15 s per seed, all faults.
    pub fn short() -> Self {
        Self {
            instances: 3,
            clients: 8,
            users: 5,
            rooms: 3,
            duration_ms: 8_000,
            ops_per_sec: 40,
            fault_every_ms: 1_800,
            faults: FaultKind::ALL,
        }
    }
}

/// The kinds of fault a profile may draw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    RedisRestart,
    RedisStop,
    KillInstance,
    KillPubsub,
}

impl FaultKind {
    pub const ALL: &'static [FaultKind] = &[
        FaultKind::RedisRestart,
        FaultKind::RedisStop,
        FaultKind::KillInstance,
        FaultKind::KillPubsub,
    ];
}

/// A fault, with its parameters.
#[derive(Clone, Debug)]
pub enum Fault {
    /// `kill -9` of Redis, started again at once (its append-only file keeps the data).
    RedisRestart,
    /// Redis killed and started again `ms` later.
    RedisStop { ms: u64 },
    /// An instance killed with `kill -9`, started again `down_ms` later on the same port.
    KillInstance { instance: usize, down_ms: u64 },
    /// `CLIENT KILL TYPE pubsub`: every instance's pub/sub connection dropped.
    KillPubsub,
}

/// One operation of the schedule.
#[derive(Clone, Debug)]
pub enum Action {
    Connect {
        client: usize,
        instance: usize,
        small_buffer: bool,
    },
    /// Closes the client's connection (if any) and connects to another instance.
    Reconnect {
        client: usize,
        instance: usize,
    },
    /// A WebSocket close (1000).
    Disconnect {
        client: usize,
    },
    /// The TCP connection dropped without a close frame.
    Drop {
        client: usize,
    },
    Join {
        client: usize,
        room: usize,
    },
    Leave {
        client: usize,
        room: usize,
    },
    Send {
        client: usize,
        room: usize,
    },
    Typing {
        client: usize,
        room: usize,
    },
    /// A slow consumer: reads nothing for `ms`.
    StopReading {
        client: usize,
        ms: u64,
    },
    History {
        instance: usize,
        room: usize,
        limit: usize,
    },
    ReadRoom {
        instance: usize,
        room: usize,
    },
    ReadUser {
        instance: usize,
        user: usize,
    },
    /// `POST /chat/{room}/participants`.
    Add {
        instance: usize,
        room: usize,
        user: usize,
    },
    /// `DELETE /chat/{room}/participants/{user}`.
    Remove {
        instance: usize,
        room: usize,
        user: usize,
    },
    Fault(Fault),
}

/// An action at its offset from the start of the run.
#[derive(Clone, Debug)]
pub struct Step {
    pub at_ms: u64,
    pub action: Action,
}

/// The schedule for `seed`: faults first (so the operations know when an instance is down),
/// then operations at random gaps, each client connecting at the start.
pub fn generate(seed: u64, p: &Profile) -> Vec<Step> {
    let mut plan = Plan {
        p,
        rng: ChaCha8Rng::seed_from_u64(seed),
        conn: vec![None; p.clients],
        down: Vec::new(),
        retry: Vec::new(),
        steps: Vec::new(),
    };
    plan.faults();
    let faults = std::mem::take(&mut plan.steps);
    for client in 0..p.clients {
        let at = plan.rng.random_range(0..300);
        plan.connect(at, client);
    }
    let gap = (1000 / p.ops_per_sec.max(1)).max(1);
    let mut t = 300;
    while t < p.duration_ms {
        t += plan.rng.random_range(1..=2 * gap);
        plan.kills_until(t);
        let due: Vec<usize> = plan.retry.iter().filter(|r| r.0 <= t).map(|r| r.1).collect();
        plan.retry.retain(|r| r.0 > t);
        for client in due {
            plan.connect(t, client);
        }
        plan.op(t);
    }
    plan.steps.extend(faults);
    plan.steps.sort_by_key(|s| s.at_ms);
    plan.steps
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same seed gives the same schedule; another seed another one.
    #[test]
    fn a_seed_replays_its_schedule() {
        let p = Profile::short();
        let show = |s: &[Step]| format!("{s:?}");
        assert_eq!(show(&generate(7, &p)), show(&generate(7, &p)));
        assert_ne!(show(&generate(7, &p)), show(&generate(8, &p)));
    }
}
