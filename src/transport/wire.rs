//! Encodes a batch of deliveries as raw WebSocket text frames, into one buffer for one write.
//!
//! A server's data frames are unmasked (RFC 6455 §5.1), so a frame is a 2 to 10 byte header
//! and the payload as is. Encoding a whole batch into one buffer and writing it at once costs
//! one `sendto` per batch, where tungstenite's write buffer flushes each time it fills. The
//! buffer lives only while the batch is written, so an idle connection holds none.

use std::collections::VecDeque;

use crate::domain::Json;

/// Text frame, final fragment (FIN bit and opcode 1).
const FIN_TEXT: u8 = 0x81;

/// Appends `payload` as one unmasked, final text frame.
fn encode_text(buf: &mut Vec<u8>, payload: &[u8]) {
    buf.push(FIN_TEXT);
    let len = payload.len();
    if len < 126 {
        buf.push(len as u8);
    } else if let Ok(len) = u16::try_from(len) {
        buf.push(126);
        buf.extend_from_slice(&len.to_be_bytes());
    } else {
        buf.push(127);
        buf.extend_from_slice(&(len as u64).to_be_bytes());
    }
    buf.extend_from_slice(payload);
}

/// The frames of a batch, in order, as the bytes to write.
pub fn encode_batch(frames: &VecDeque<Json>) -> Vec<u8> {
    let size = frames.iter().map(|f| f.len() + 10).sum();
    let mut buf = Vec::with_capacity(size);
    for frame in frames {
        encode_text(&mut buf, frame.as_bytes());
    }
    buf
}

#[cfg(test)]
mod tests {
    use super::*;
    use tungstenite::protocol::frame::Frame;
    use tungstenite::protocol::frame::coding::{Data, OpCode};

    /// Our bytes are tungstenite's own encoding of the same frame, at each length boundary.
    #[test]
    fn frames_match_tungstenite_at_every_length_form() {
        for len in [0, 1, 125, 126, 127, 65535, 65536, 70000] {
            let payload = vec![b'x'; len];
            let mut ours = Vec::new();
            encode_text(&mut ours, &payload);
            let mut theirs = Vec::new();
            Frame::message(payload, OpCode::Data(Data::Text), true)
                .format(&mut theirs)
                .unwrap();
            assert_eq!(ours, theirs, "length {len}");
        }
    }

    #[test]
    fn a_batch_is_its_frames_back_to_back() {
        let frames: VecDeque<Json> = [Json::from("a"), Json::from("bc")].into();
        assert_eq!(encode_batch(&frames), [0x81, 1, b'a', 0x81, 2, b'b', b'c']);
    }
}
