//! The model: what was actually stored, read from Redis once the run has quiesced (each
//! room's log stream, in stored order, with its join and leave marks), and what it implies
//! for each user: which of a room's messages its connections must get. Join and leave
//! notices carry the membership change, so membership is read off the log itself, at the
//! exact place of each change, never from wall-clock guesses.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::Value;

use crate::cluster::PREFIX;
use crate::resp::{Reply, command};

/// A stored message.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Its sequence: the timestamp in µs (the stream entry's id).
    pub seq: i64,
    pub json: Value,
    /// `('j', user)` or `('l', user)` for a join or leave notice.
    pub mark: Option<(char, String)>,
}

/// Every room's stored history.
#[derive(Debug, Default)]
pub struct Model {
    pub rooms: BTreeMap<String, Vec<Entry>>,
    /// Per room: sequence → index in its history.
    index: HashMap<String, HashMap<i64, usize>>,
}

/// The sequence (µs) of a message's `timestamp`.
pub fn seq_of(message: &Value) -> Option<i64> {
    let ts = message["timestamp"].as_str()?;
    chrono::DateTime::parse_from_rfc3339(ts)
        .ok()
        .map(|t| t.timestamp_micros())
}

impl Model {
    /// Reads every room's log (`XRANGE`); `None` if Redis did not answer.
    pub async fn read(redis_port: u16, rooms: &[String]) -> Option<Model> {
        let mut model = Model::default();
        for room in rooms {
            let key = format!("{PREFIX}:room:{{{room}}}:log");
            let reply = command(redis_port, &["XRANGE", &key, "-", "+"]).await?;
            let entries: Vec<Entry> = reply.items().iter().filter_map(entry).collect();
            let index = entries.iter().enumerate().map(|(i, e)| (e.seq, i)).collect();
            model.index.insert(room.clone(), index);
            model.rooms.insert(room.clone(), entries);
        }
        Some(model)
    }

    pub fn entries(&self, room: &str) -> &[Entry] {
        self.rooms.get(room).map_or(&[], |v| v)
    }

    /// The index of the stored message with this sequence.
    pub fn find(&self, room: &str, seq: i64) -> Option<usize> {
        self.index.get(room)?.get(&seq).copied()
    }

    /// For each message of `room`, whether `user`'s connections are to get it: every message
    /// while the user is a member, its own join notice included, and its own leave notice
    /// (its acknowledgement), nothing after it.
    pub fn addressed(&self, room: &str, user: &str) -> Vec<bool> {
        let mut member = false;
        self.entries(room)
            .iter()
            .map(|e| match &e.mark {
                Some(('j', u)) if u == user => {
                    member = true;
                    true
                }
                Some(('l', u)) if u == user => std::mem::replace(&mut member, false),
                _ => member,
            })
            .collect()
    }

    /// The members of `room` after its last message.
    pub fn members(&self, room: &str) -> BTreeSet<String> {
        let mut members = BTreeSet::new();
        for e in self.entries(room) {
            match &e.mark {
                Some(('j', u)) => members.insert(u.clone()),
                Some(('l', u)) => members.remove(u),
                _ => false,
            };
        }
        members
    }

    /// How many messages are stored, all rooms together.
    pub fn stored(&self) -> usize {
        self.rooms.values().map(Vec::len).sum()
    }
}

/// One `XRANGE` entry: `[id, [field, value, ...]]`.
fn entry(r: &Reply) -> Option<Entry> {
    let [id, fields] = r.items() else {
        return None;
    };
    let seq = id.text()?.strip_suffix("-0")?.parse().ok()?;
    let mut json = None;
    let mut mark = None;
    for pair in fields.items().chunks(2) {
        let (Some(k), Some(v)) = (pair[0].text(), pair.get(1).and_then(Reply::text)) else {
            continue;
        };
        match k {
            "m" => json = serde_json::from_str(v).ok(),
            "j" => mark = Some(('j', v.to_string())),
            "l" => mark = Some(('l', v.to_string())),
            _ => {}
        }
    }
    Some(Entry {
        seq,
        json: json?,
        mark,
    })
}
