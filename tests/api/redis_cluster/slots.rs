//! Slots as Redis Cluster computes them (CRC16/XMODEM of the key or of its hash tag, modulo
//! 16384) and a node's view of the cluster, read from `CLUSTER NODES`.

/// How many hash slots a Redis Cluster has.
pub const SLOTS: u32 = 16384;

/// The slot of `key`: CRC16/XMODEM of its hash tag (the text between the first `{` and the
/// first `}` after it, when not empty), else of the whole key.
pub fn slot_of(key: &str) -> u16 {
    let bytes = key.as_bytes();
    let hashed = match bytes.iter().position(|&b| b == b'{') {
        Some(open) => match bytes[open + 1..].iter().position(|&b| b == b'}') {
            Some(len) if len > 0 => &bytes[open + 1..open + 1 + len],
            _ => bytes,
        },
        None => bytes,
    };
    (u32::from(crc16_xmodem(hashed)) % SLOTS) as u16
}

fn crc16_xmodem(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in data {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// One line of `CLUSTER NODES`: a node as the answering node sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeLine {
    pub id: String,
    /// 0 while the node's address is unknown (during a handshake).
    pub port: u16,
    /// `myself`, `master`, `slave`, `fail?`, `fail`, `handshake`, `noaddr`...
    pub flags: Vec<String>,
    /// The id of its master, for a replica.
    pub master: Option<String>,
    /// The slot ranges it serves (inclusive), migrations left out.
    pub slots: Vec<(u16, u16)>,
}

impl NodeLine {
    pub fn is_master(&self) -> bool {
        self.flags.iter().any(|f| f == "master")
    }

    /// Marked failing (`fail`, or `fail?` while not yet agreed).
    pub fn is_failing(&self) -> bool {
        self.flags.iter().any(|f| f == "fail" || f == "fail?")
    }
}

/// Parses the text of `CLUSTER NODES`.
pub fn parse_nodes(text: &str) -> Vec<NodeLine> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let f: Vec<&str> = line.split(' ').collect();
            let addr = f[1].split([',', '@']).next().unwrap_or_default();
            let port = addr.rsplit_once(':').map_or(0, |(_, p)| p.parse().unwrap_or(0));
            let slots = f[8..]
                .iter()
                .filter(|s| !s.starts_with('['))
                .map(|s| match s.split_once('-') {
                    Some((a, b)) => (a.parse().unwrap(), b.parse().unwrap()),
                    None => (s.parse().unwrap(), s.parse().unwrap()),
                })
                .collect();
            NodeLine {
                id: f[0].to_string(),
                port,
                flags: f[2].split(',').map(str::to_string).collect(),
                master: (f[3] != "-").then(|| f[3].to_string()),
                slots,
            }
        })
        .collect()
}

/// A node's slot map: each slot range with the port of the master serving it, sorted; what
/// every node must agree on. `None` when a range's owner is failing or unknown, or the
/// ranges do not cover every slot exactly once.
pub fn slot_map(view: &[NodeLine]) -> Option<Vec<(u16, u16, u16)>> {
    let mut map: Vec<(u16, u16, u16)> = Vec::new();
    for n in view.iter().filter(|n| !n.slots.is_empty()) {
        if n.is_failing() || n.port == 0 || !n.is_master() {
            return None;
        }
        map.extend(n.slots.iter().map(|&(a, b)| (a, b, n.port)));
    }
    map.sort_unstable();
    let mut next: u32 = 0;
    for &(a, b, _) in &map {
        if u32::from(a) != next {
            return None;
        }
        next = u32::from(b) + 1;
    }
    (next == SLOTS).then_some(map)
}

/// Each of the `live` nodes with the port of its master (`None` for a master), sorted; a
/// live node missing from the view is listed with itself as master, so views disagree.
pub fn roles(view: &[NodeLine], live: &[u16]) -> Vec<(u16, Option<u16>)> {
    let port_of = |id: &str| view.iter().find(|n| n.id == id).map_or(0, |n| n.port);
    let mut roles: Vec<(u16, Option<u16>)> = live
        .iter()
        .map(|&port| match view.iter().find(|n| n.port == port) {
            Some(n) if n.is_master() => (port, None),
            Some(n) => (port, n.master.as_deref().map(port_of)),
            None => (port, Some(port)),
        })
        .collect();
    roles.sort_unstable();
    roles
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Known values: CRC16/XMODEM's check value, and Redis's documented `CLUSTER KEYSLOT somekey`.
    #[test]
    fn slots_follow_hash_tags() {
        assert_eq!(crc16_xmodem(b"123456789"), 0x31c3);
        assert_eq!(slot_of("somekey"), 11058);
        assert_eq!(slot_of("foo{bar}baz"), slot_of("bar"));
        assert_eq!(slot_of("{}x"), slot_of("{}x"));
        assert_ne!(slot_of("{}x"), slot_of("x"));
        assert_eq!(slot_of("a{b}{c}"), slot_of("b"));
        assert_eq!(slot_of("a{b"), slot_of("a{b"));
    }
}
