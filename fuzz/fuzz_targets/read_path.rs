//! cargo-fuzz target for our WebSocket read path (issue 19): each input is a client byte
//! stream, raw or built frame by frame, and how it is cut into reads; it goes through our read
//! path and plain tungstenite (`tests/read_path/harness.rs`, shared with the proptest), which
//! must agree. A panic, a disagreement, a stuck reader or an allocation over libFuzzer's
//! `-malloc_limit_mb` (set by scripts/fuzz.sh) is a finding.
#![no_main]

#[path = "../../tests/read_path/harness.rs"]
mod harness;

use harness::{Case, Frame};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;

/// The frame and message limits tried: a control frame's, a small one, the server's default.
const LIMITS: [usize; 3] = [125, 1000, 65_536];

fn frame(u: &mut Unstructured<'_>) -> Result<Frame> {
    let opcode: u8 = u.arbitrary()?;
    Ok(Frame {
        fin: u.ratio(4, 5)?,
        rsv: if u.ratio(1, 16)? { u.arbitrary()? } else { 0 },
        opcode: opcode & 15,
        mask: if u.ratio(1, 20)? {
            None
        } else {
            Some(u.arbitrary()?)
        },
        form: u.int_in_range(0..=2)?,
        claimed: if u.ratio(1, 8)? {
            Some(u.arbitrary()?)
        } else {
            None
        },
        payload: u.arbitrary()?,
    })
}

fn case(data: &[u8]) -> Result<Case> {
    let mut u = Unstructured::new(data);
    let max = LIMITS[usize::from(u.arbitrary::<u8>()? % 3)];
    let reads: Vec<u16> = u.arbitrary()?;
    let bytes = if u.arbitrary()? {
        u.take_rest().to_vec()
    } else {
        let mut bytes = Vec::new();
        while !u.is_empty() {
            frame(&mut u)?.encode(&mut bytes);
        }
        bytes
    };
    Ok(Case { bytes, reads, max })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(case) = case(data) {
        if let Err(e) = harness::differ(&case) {
            panic!("{e}\n{case:?}");
        }
    }
});
