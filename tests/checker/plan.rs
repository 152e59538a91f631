//! The schedule's generator: what it believes of the world while drawing steps (which
//! instance each client is on, when an instance or Redis is down), never what really
//! happened. Draws only from the seeded RNG it is given.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::schedule::{Action, Fault, FaultKind, Profile, Step};

/// What the generator believes of the world at a time (never what really happened).
pub struct Plan<'a> {
    pub p: &'a Profile,
    pub rng: ChaCha8Rng,
    /// Each client's instance, if it believes it connected.
    pub conn: Vec<Option<usize>>,
    /// (from, to): an instance down (killed, restarting), or every one (Redis down).
    pub down: Vec<(Option<usize>, u64, u64)>,
    /// Clients to connect again at a time (after a kill or a slow spell).
    pub retry: Vec<(u64, usize)>,
    pub steps: Vec<Step>,
}

impl Plan<'_> {
    pub fn faults(&mut self) {
        let (p, every) = (self.p, self.p.fault_every_ms);
        if every == 0 || p.faults.is_empty() {
            return;
        }
        let mut t = 500 + self.rng.random_range(0..every);
        while t + 1_000 < p.duration_ms {
            let kind = p.faults[self.rng.random_range(0..p.faults.len())];
            let (fault, span) = match kind {
                FaultKind::RedisRestart => (Fault::RedisRestart, 1_000),
                FaultKind::RedisStop => {
                    let ms = self.rng.random_range(500..2_500);
                    (Fault::RedisStop { ms }, ms + 1_000)
                }
                FaultKind::KillInstance => {
                    let instance = self.rng.random_range(0..p.instances);
                    let down_ms = self.rng.random_range(300..2_000);
                    (Fault::KillInstance { instance, down_ms }, down_ms + 1_000)
                }
                FaultKind::KillPubsub => (Fault::KillPubsub, 100),
            };
            let who = match &fault {
                Fault::KillInstance { instance, .. } => Some(*instance),
                _ => None,
            };
            if !matches!(fault, Fault::KillPubsub) {
                self.down.push((who, t, t + span));
            }
            self.steps.push(Step {
                at_ms: t,
                action: Action::Fault(fault),
            });
            t += span + self.rng.random_range(every / 2..every * 3 / 2);
        }
    }

    /// Clients the plan had on an instance killed by `t` lose their connection, and connect
    /// again elsewhere a little after it.
    pub fn kills_until(&mut self, t: u64) {
        let killed: Vec<(usize, u64)> = self
            .down
            .iter()
            .filter_map(|&(who, from, _)| who.map(|i| (i, from)))
            .filter(|&(_, from)| from <= t)
            .collect();
        for (instance, from) in killed {
            for client in 0..self.p.clients {
                if self.conn[client] == Some(instance) {
                    self.conn[client] = None;
                    let at = from + self.rng.random_range(100..1_500);
                    self.retry.push((at, client));
                }
            }
        }
        self.down.retain(|&(who, from, _)| who.is_none() || from > t);
    }

    fn up_instance(&mut self, t: u64) -> usize {
        let n = self.p.instances;
        let up: Vec<usize> = (0..n)
            .filter(|i| {
                !self
                    .down
                    .iter()
                    .any(|&(w, f, to)| w == Some(*i) && f <= t && t < to)
            })
            .collect();
        if up.is_empty() {
            return self.rng.random_range(0..n);
        }
        up[self.rng.random_range(0..up.len())]
    }

    pub fn connect(&mut self, t: u64, client: usize) {
        let instance = self.up_instance(t);
        let small_buffer = self.rng.random_bool(0.3);
        self.conn[client] = Some(instance);
        self.push(
            t,
            Action::Connect {
                client,
                instance,
                small_buffer,
            },
        );
    }

    fn push(&mut self, at_ms: u64, action: Action) {
        self.steps.push(Step { at_ms, action });
    }

    pub fn op(&mut self, t: u64) {
        let (p, r) = (self.p, &mut self.rng);
        let client = r.random_range(0..p.clients);
        let (room, user, instance) = (
            r.random_range(0..p.rooms),
            r.random_range(0..p.users),
            r.random_range(0..p.instances),
        );
        let roll = r.random_range(0..100);
        if self.conn[client].is_none() && roll < 40 {
            return self.connect(t, client);
        }
        let action = match roll {
            0..=9 => Action::History {
                instance,
                room,
                limit: self.rng.random_range(1..40),
            },
            10..=12 => Action::ReadRoom { instance, room },
            13..=15 => Action::ReadUser { instance, user },
            16..=18 => Action::Add { instance, room, user },
            19..=21 => Action::Remove { instance, room, user },
            _ if self.conn[client].is_none() => return,
            _ => return self.connected_op(t, client, room, roll),
        };
        self.push(t, action);
    }

    fn connected_op(&mut self, t: u64, client: usize, room: usize, roll: u32) {
        let action = match roll {
            22..=57 => Action::Send { client, room },
            58..=71 => Action::Join { client, room },
            72..=80 => Action::Leave { client, room },
            81..=88 => Action::Typing { client, room },
            89..=91 => {
                self.conn[client] = None;
                self.retry.push((t + self.rng.random_range(200..2_000), client));
                Action::Disconnect { client }
            }
            92..=93 => {
                self.conn[client] = None;
                self.retry.push((t + self.rng.random_range(200..2_000), client));
                Action::Drop { client }
            }
            94..=97 => {
                let instance = self.up_instance(t);
                self.conn[client] = Some(instance);
                Action::Reconnect { client, instance }
            }
            _ => {
                let ms = self.rng.random_range(1_500..4_000);
                // The server closes it (heartbeat or full outbox); it comes back after.
                self.conn[client] = None;
                self.retry
                    .push((t + ms + self.rng.random_range(200..1_000), client));
                Action::StopReading { client, ms }
            }
        };
        self.push(t, action);
    }
}
