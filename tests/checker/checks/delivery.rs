//! Per connection and per room: every message it received was stored, byte for byte; it got
//! them in stored order, each once; only while its user was a member; with no gap; all of
//! them from its handshake on (the server subscribes before the upgrade completes); and, if
//! it is still open, up to the last. A connection that ended may miss the tail; one the
//! client closed with no fault nearby must have had what was stored 3 s before.
//! Also: no typing event reaches its author's connections; no text is stored twice.

use std::collections::HashMap;

use serde_json::Value;

use super::Violation;
use crate::journal::{Conn, End};
use crate::model::{Model, seq_of};

/// How long before a clean close a stored message must have arrived.
const CLOSE_GRACE_US: i64 = 3_000_000;
/// A clean close this close after a fault is not held to `CLOSE_GRACE_US`.
const FAULT_QUIET_US: i64 = 10_000_000;

/// Checks every connection; `faults` are the times faults started.
pub fn check(model: &Model, conns: &[Conn], faults: &[i64], out: &mut Vec<Violation>) {
    for c in conns {
        for room in model.rooms.keys() {
            let from = out.len();
            check_room(model, c, room, faults, out);
            let focus = focus(c, room);
            for v in &mut out[from..] {
                v.focus = focus.clone();
            }
        }
        acks(c, conns, out);
        for (at, f) in &c.frames {
            if f["type"] == "typing" && f["user_id"] == c.user.as_str() {
                out.push(Violation::new(
                    "typing-to-author",
                    Some(*at),
                    format!("conn {} ({}) got its own user's typing event {f}", c.id, c.user),
                ));
            }
        }
    }
    let mut texts: HashMap<&str, usize> = HashMap::new();
    for e in model.rooms.values().flatten() {
        if let Some(content) = e.json["content"].as_str().filter(|_| e.mark.is_none()) {
            *texts.entry(content).or_default() += 1;
            if texts[content] == 2 {
                out.push(Violation::new(
                    "stored-twice",
                    Some(e.seq),
                    format!("{} stored twice", e.json),
                ));
            }
        }
    }
}

fn check_room(model: &Model, c: &Conn, room: &str, faults: &[i64], out: &mut Vec<Violation>) {
    let entries = model.entries(room);
    let addressed = model.addressed(room, &c.user);
    let who = format!("conn {} ({} on i{}) in {room}", c.id, c.user, c.instance);
    let got: Vec<(i64, &Value)> = c
        .frames
        .iter()
        .filter(|(_, f)| f["chat_id"] == room && matches!(f["type"].as_str(), Some("text" | "system")))
        .map(|(at, f)| (*at, f))
        .collect();
    let mut last: Option<usize> = None;
    for (at, f) in got {
        let Some(i) = seq_of(f)
            .and_then(|s| model.find(room, s))
            .filter(|&i| &entries[i].json == f)
        else {
            out.push(Violation::new(
                "delivered-unstored",
                Some(at),
                format!("{who}: got {f}, which is not stored"),
            ));
            continue;
        };
        let seq = entries[i].seq;
        if c.t0 > seq {
            out.push(Violation::new(
                "delivered-before-connect",
                Some(seq),
                format!(
                    "{who}: got {f}, stored {} µs before the connection's handshake began",
                    c.t0 - seq
                ),
            ));
        }
        if !addressed[i] {
            out.push(Violation::new(
                "delivered-to-non-member",
                Some(seq),
                format!("{who}: got {f} while {} was not a member", c.user),
            ));
        }
        match last {
            Some(l) if i == l => out.push(Violation::new(
                "duplicate",
                Some(seq),
                format!("{who}: got {f} twice"),
            )),
            Some(l) if i < l => out.push(Violation::new(
                "out-of-order",
                Some(seq),
                format!("{who}: got {f} after {}", entries[l].json),
            )),
            Some(l) => {
                if let Some(k) = (l + 1..i).find(|&k| addressed[k]) {
                    out.push(Violation::new(
                        "gap",
                        Some(entries[k].seq),
                        format!(
                            "{who}: got {} then {f}, missing {} in between ({} missing)",
                            entries[l].json,
                            entries[k].json,
                            (l + 1..i).filter(|&k| addressed[k]).count()
                        ),
                    ));
                }
                last = Some(i);
            }
            None => {
                // From the handshake on, nothing addressed to the user may be missing.
                if let Some(k) = (0..i).find(|&k| addressed[k] && entries[k].seq > c.t1) {
                    out.push(Violation::new(
                        "missed-after-connect",
                        Some(entries[k].seq),
                        format!(
                            "{who}: first got {f}, but {} was stored after the handshake",
                            entries[k].json
                        ),
                    ));
                }
                last = Some(i);
            }
        }
    }
    check_tail(entries, &addressed, c, last, faults, &who, out);
}

/// What was addressed to the connection after the last message it got.
fn check_tail(
    entries: &[crate::model::Entry],
    addressed: &[bool],
    c: &Conn,
    last: Option<usize>,
    faults: &[i64],
    who: &str,
    out: &mut Vec<Violation>,
) {
    let from = last.map_or(0, |l| l + 1);
    let mut missing = (from..entries.len()).filter(|&k| addressed[k] && entries[k].seq > c.t1);
    let Some(k) = missing.next() else {
        return;
    };
    let e = &entries[k];
    match &c.end {
        None => out.push(Violation::new(
            "missing-while-open",
            Some(e.seq),
            format!(
                "{who}: open at the end, never got {} ({} missing)",
                e.json,
                1 + missing.count()
            ),
        )),
        Some((t_end, End::ByClient | End::Dropped)) => {
            let quiet = !faults.iter().any(|f| *f <= *t_end && *f > t_end - FAULT_QUIET_US);
            if quiet && e.seq < t_end - CLOSE_GRACE_US {
                out.push(Violation::new(
                    "missing-before-close",
                    Some(e.seq),
                    format!(
                        "{who}: closed by the client {} ms after {} was stored, never got it",
                        (t_end - e.seq) / 1000,
                        e.json
                    ),
                ));
            }
        }
        Some(_) => {} // closed by the server or broken: the tail is allowed to be missing
    }
}

/// Each copy a connection gets of its own client's text answers a text that client sent
/// before it (on this connection or an earlier one), in the room it was sent to.
fn acks(c: &Conn, conns: &[Conn], out: &mut Vec<Violation>) {
    let mine = format!("c{}-", c.client);
    for (at, f) in &c.frames {
        let Some(content) = f["content"]
            .as_str()
            .filter(|s| f["type"] == "text" && s.starts_with(&mine))
        else {
            continue;
        };
        let mut sent = conns
            .iter()
            .filter(|o| o.client == c.client)
            .flat_map(|o| &o.sent);
        let sent = sent.find(|s| s.kind == "text" && s.content.as_deref() == Some(content));
        if !sent.is_some_and(|s| s.at <= *at && f["chat_id"] == s.room.as_str()) {
            out.push(Violation::new(
                "echo-of-unsent",
                Some(*at),
                format!(
                    "conn {}: got the echo {f}, which it never sent (or before sending it)",
                    c.id
                ),
            ));
        }
    }
}

/// The words that mark the steps and events about connection `c` and `room` (`r<n>`).
fn focus(c: &Conn, room: &str) -> Vec<String> {
    let n = room.trim_start_matches('r');
    vec![
        format!("conn {} ", c.id),
        format!("conn {}:", c.id),
        format!("client: {},", c.client),
        format!("client: {} ", c.client),
        format!("c{} ", c.client),
        format!("({})", c.user),
        format!("user: {} ", c.user.trim_start_matches('u')),
        format!("room: {n},"),
        format!("room: {n} "),
        format!(" {room}"),
    ]
}
