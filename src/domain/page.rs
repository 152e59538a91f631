//! A page of history as the store holds it: each message's JSON, oldest first.
//!
//! Messages are serialised once, when stored (the same bytes every connection receives);
//! history answers with those bytes joined into one JSON array, rather than parsing and
//! serialising every message again on each request.

use super::json::Json;
use super::message::Message;

/// Which part of a room's history a page holds: always returned oldest first, so paging
/// either way visits every message once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// The `limit` newest messages whose `seq` is below this (`u64::MAX`: the newest).
    Before(u64),
    /// The `limit` oldest messages whose `seq` is above this.
    After(u64),
    /// The `limit` oldest messages whose `seq` is above the first and below the second.
    Between(u64, u64),
}

impl Window {
    /// The newest messages.
    pub const NEWEST: Window = Window::Before(u64::MAX);

    /// For a page read oldest first from a lower bound: `(above, below)`; `None` for a page
    /// of the newest below a bound.
    pub fn forward(self) -> Option<(u64, u64)> {
        match self {
            Window::Before(_) => None,
            Window::After(a) => Some((a, u64::MAX)),
            Window::Between(a, b) => Some((a, b)),
        }
    }
}

/// Stored messages, oldest first, each as its JSON object.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page(pub Vec<Json>);

impl Page {
    /// The page as a JSON array.
    pub fn to_json(&self) -> Vec<u8> {
        let len = self.0.iter().map(|m| m.len() + 1).sum::<usize>() + 2;
        let mut out = Vec::with_capacity(len);
        out.push(b'[');
        for (i, m) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(m.as_bytes());
        }
        out.push(b']');
        out
    }

    /// The messages, parsed (for callers that need their fields).
    pub fn messages(&self) -> serde_json::Result<Vec<Message>> {
        self.0
            .iter()
            .map(|m| serde_json::from_slice(m.as_bytes()))
            .collect()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_the_stored_objects_into_an_array() {
        assert_eq!(Page::default().to_json(), b"[]");
        let page = Page(vec![r#"{"a":1}"#.into(), r#"{"b":"x,y"}"#.into()]);
        assert_eq!(page.to_json(), br#"[{"a":1},{"b":"x,y"}]"#);
        let parsed: serde_json::Value = serde_json::from_slice(&page.to_json()).unwrap();
        assert_eq!(parsed, serde_json::json!([{"a": 1}, {"b": "x,y"}]));
    }
}
