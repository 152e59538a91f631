//! The checks, and what a violation is. `delivery` checks each connection against the model;
//! `state` checks what converges (presence, membership, follower sets, history pages).
//!
//! Known holes: a check listed in `KNOWN` names a violation whose fix is in `src/` and has not
//! landed; it is reported in every run but fails one only with `CHECKER_STRICT=1` (its replay
//! test in `replays.rs` is `#[ignore]`d until the fix lands). Remove the entry with the fix.

pub mod delivery;
pub mod state;

/// Checks whose violations are known holes awaiting a fix in `src/`, with the hole.
pub const KNOWN: &[(&str, &str)] = &[];

/// One failed check.
#[derive(Debug, Clone)]
pub struct Violation {
    /// The check's name (stable: `KNOWN` and the replay tests refer to it).
    pub check: &'static str,
    /// When it happened (µs since the epoch), for the operations and faults around it.
    pub at: Option<i64>,
    pub detail: String,
    /// Words that mark the steps and events about it (its connection, client, room), so the
    /// report shows those among everything around it; empty: show everything.
    pub focus: Vec<String>,
}

impl Violation {
    pub fn new(check: &'static str, at: Option<i64>, detail: String) -> Self {
        Self {
            check,
            at,
            detail,
            focus: Vec::new(),
        }
    }

    /// The known hole this violation is, if any.
    pub fn known(&self) -> Option<&'static str> {
        KNOWN.iter().find(|(c, _)| *c == self.check).map(|(_, why)| *why)
    }
}
