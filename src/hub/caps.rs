//! Connection caps (`MAX_CONNECTIONS`, `MAX_CONNECTIONS_PER_USER`) and why a connection was
//! refused by one.

/// Connection caps (`MAX_CONNECTIONS`, `MAX_CONNECTIONS_PER_USER`), per instance.
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    pub total: usize,
    pub per_user: usize,
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    Total(usize),
    PerUser(usize),
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::Total(n) => write!(f, "server at its connection limit ({n}): try again later"),
            Refused::PerUser(n) => write!(f, "too many connections for this user (limit {n})"),
        }
    }
}
