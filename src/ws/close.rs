//! Every close the server sends, its code and reason: the one table the session sends from and
//! the AsyncAPI document is generated from (CONTRACT: Close codes).

/// Why the server closes a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Close {
    /// The server is shutting down.
    ShuttingDown,
    /// A text frame that is not valid UTF-8 (RFC 6455 says to fail the connection).
    NotUtf8,
    /// The connection's outbox was full: a slow consumer.
    SlowConsumer,
    /// No frame and no pong for a whole interval after a ping: a dead peer.
    NoPong,
    /// A frame over `MAX_FRAME_BYTES`.
    TooBig,
    /// A connection cap was reached (the reason says which).
    OverCap,
}

impl Close {
    /// Every close, in code order (the documents list them so).
    pub const ALL: [Close; 6] = [
        Close::ShuttingDown,
        Close::NotUtf8,
        Close::SlowConsumer,
        Close::NoPong,
        Close::TooBig,
        Close::OverCap,
    ];

    /// The close code (RFC 6455 §7.4).
    pub fn code(self) -> u16 {
        match self {
            Close::ShuttingDown => 1001,
            Close::NotUtf8 => 1007,
            Close::SlowConsumer | Close::NoPong => 1008,
            Close::TooBig => 1009,
            Close::OverCap => 1013,
        }
    }

    /// The close reason sent (`OverCap` sends the cap's own message, see `hub::Refused`).
    pub fn reason(self) -> &'static str {
        match self {
            Close::ShuttingDown => "server shutting down",
            Close::NotUtf8 => "text frame is not valid UTF-8",
            Close::SlowConsumer => "slow consumer: outbox full",
            Close::NoPong => "heartbeat timeout: no pong",
            Close::TooBig => "frame too large",
            Close::OverCap => "too many connections for this user (limit N)",
        }
    }

    /// When it is sent, for the documents.
    pub fn when(self) -> &'static str {
        match self {
            Close::ShuttingDown => "the server is shutting down: reconnect (elsewhere)",
            Close::NotUtf8 => "a text frame that is not valid UTF-8",
            Close::SlowConsumer => {
                "the connection's outbox (`WS_OUTBOX_FRAMES`, 256 by default) was full: it did not read fast enough"
            }
            Close::NoPong => "no frame and no pong for a whole interval after a ping (`WS_TIMEOUT_SECONDS`)",
            Close::TooBig => "a frame over `MAX_FRAME_BYTES` (64 KiB by default)",
            Close::OverCap => {
                "a connection cap was reached at connect (`MAX_CONNECTIONS_PER_USER`, or `MAX_CONNECTIONS`: \
                 reason `server at its connection limit (N): try again later`); the upgrade completes, then closes"
            }
        }
    }

    /// The close codes as a Markdown table (the AsyncAPI document's), with the normal close
    /// that either side may start (tungstenite answers a client's close with its code).
    pub fn table() -> String {
        let mut t = String::from("| code | reason | when |\n| --- | --- | --- |\n");
        t.push_str("| 1000 | | normal close (either side) |\n");
        for c in Close::ALL {
            t.push_str(&format!("| {} | `{}` | {} |\n", c.code(), c.reason(), c.when()));
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_in_order_and_reasons_unique() {
        let codes: Vec<u16> = Close::ALL.iter().map(|c| c.code()).collect();
        assert_eq!(codes, [1001, 1007, 1008, 1008, 1009, 1013]);
        let mut reasons: Vec<&str> = Close::ALL.iter().map(|c| c.reason()).collect();
        reasons.dedup();
        assert_eq!(reasons.len(), Close::ALL.len());
        // A close reason must fit a control frame (125 bytes, 2 of them the code).
        assert!(Close::ALL.iter().all(|c| c.reason().len() <= 123));
    }
}
