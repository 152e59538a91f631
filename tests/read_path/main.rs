//! The WebSocket read path against plain tungstenite (issue 19), a binary of its own because
//! it measures the process's peak heap: arbitrary client byte streams (masked or not,
//! fragmented, control frames, oversized, invalid UTF-8, reserved opcodes and bits, lying
//! lengths, truncated, cut into arbitrary reads) give the same messages, the same end and the
//! same bytes written back through both (`harness.rs`), with no panic, and our path's peak heap
//! stays within a bound set by the input and the frame limit, not by what a header claims.
//!
//! Seeded: `PROPTEST_RNG_SEED=N` replays a run (a failure prints its seed); `PROPTEST_CASES=N`
//! changes the number of cases.

mod harness;

use harness::{Case, Frame, differ};
use peak_alloc::PeakAlloc;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};

#[global_allocator]
static HEAP: PeakAlloc = PeakAlloc;

/// What our path may hold at once beyond the input and two frames' worth: the thread's
/// read-ahead buffer (16 KiB), tungstenite's state and the outcome's bookkeeping.
const HEAP_SLACK: usize = 96 * 1024;

/// Checks one case: the same outcome both ways, and our path's peak heap bounded.
fn check(case: &Case) -> Result<(), TestCaseError> {
    let before = HEAP.current_usage();
    HEAP.reset_peak_usage();
    let ours = harness::ours(case);
    let peak = HEAP.peak_usage().saturating_sub(before);
    let bound = 2 * (case.bytes.len() + case.max) + HEAP_SLACK;
    prop_assert!(peak <= bound, "peak heap {peak} bytes over {bound}");
    drop(ours);
    differ(case).map_err(TestCaseError::fail)?;
    Ok(())
}

fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => "\\PC{0,40}".prop_map(String::into_bytes),
        3 => vec(any::<u8>(), 0..64),
        1 => (0usize..3000).prop_map(|n| vec![b'x'; n]),
        1 => Just(vec![b'a', 0xE2, 0x82]),
    ]
}

/// Mostly valid UTF-8, as a text message's payload usually is.
fn text_payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![6 => "\\PC{0,60}".prop_map(String::into_bytes), 1 => payload()]
}

/// A close frame's payload: a code (valid, reserved or out of range) and a reason (valid,
/// not UTF-8, too long), or a payload too short to hold a code.
fn close_payload() -> impl Strategy<Value = Vec<u8>> {
    let code = prop_oneof![
        prop::sample::select(vec![
            1000u16, 1001, 1002, 1003, 1005, 1006, 1007, 1009, 1011, 1015, 1016, 2999, 3000, 4999, 5000
        ]),
        any::<u16>(),
    ];
    prop_oneof![
        4 => (code, text_payload()).prop_map(|(c, r)| [&c.to_be_bytes()[..], &r].concat()),
        1 => vec(any::<u8>(), 0..2),
    ]
}

/// A well-formed frame: masked, no reserved bit, the shortest length form.
fn frame_of(fin: bool, opcode: u8, mask: [u8; 4], payload: Vec<u8>) -> Frame {
    let (rsv, form, claimed) = (0, 0, None);
    Frame {
        fin,
        rsv,
        opcode,
        mask: Some(mask),
        form,
        claimed,
        payload,
    }
}

/// Any frame: every field may be wrong.
fn any_frame() -> impl Strategy<Value = Frame> {
    let opcode = prop_oneof![4 => Just(1u8), 2 => Just(2), 2 => Just(0), 1 => Just(8), 2 => Just(9), 1 => Just(10), 1 => 0u8..16];
    let claimed =
        prop_oneof![6 => Just(None), 1 => (0u64..200).prop_map(Some), 1 => any::<u64>().prop_map(Some)];
    (
        any::<bool>(),
        prop_oneof![3 => Just(0u8), 1 => 0u8..8],
        opcode,
        prop_oneof![3 => any::<[u8; 4]>().prop_map(Some), 1 => Just(None)],
        prop_oneof![2 => Just(0u8), 1 => Just(1), 1 => Just(2)],
        claimed,
    )
        .prop_flat_map(|(fin, rsv, opcode, mask, form, claimed)| {
            let body = if opcode == 8 {
                close_payload().boxed()
            } else {
                payload().boxed()
            };
            body.prop_map(move |payload| Frame {
                fin,
                rsv,
                opcode,
                mask,
                form,
                claimed,
                payload,
            })
        })
}

/// A text or binary message in one to four fragments, maybe with a ping or pong between two.
fn message() -> impl Strategy<Value = Vec<Frame>> {
    (
        any::<bool>(),
        any::<[u8; 4]>(),
        1usize..5,
        prop::option::of((9u8..11, payload())),
    )
        .prop_flat_map(|(text, mask, parts, control)| {
            let body = if text {
                text_payload().boxed()
            } else {
                payload().boxed()
            };
            (body, vec(any::<prop::sample::Index>(), parts - 1)).prop_map(move |(body, cuts)| {
                let mut at: Vec<usize> = cuts.iter().map(|c| c.index(body.len() + 1)).collect();
                at.sort_unstable();
                at.push(body.len());
                let mut frames = Vec::new();
                let mut from = 0;
                for (i, &to) in at.iter().enumerate() {
                    let opcode = if i > 0 {
                        0
                    } else if text {
                        1
                    } else {
                        2
                    };
                    frames.push(frame_of(i + 1 == at.len(), opcode, mask, body[from..to].to_vec()));
                    from = to;
                }
                if let Some((opcode, payload)) = control.clone() {
                    frames.insert(frames.len() / 2, frame_of(true, opcode, mask, payload));
                }
                frames
            })
        })
}

/// A stream of pieces: mostly well-formed messages and control frames, some frames with any
/// field wrong, some garbage; maybe cut short; delivered in arbitrary reads.
fn case() -> impl Strategy<Value = Case> {
    let encode = |frames: Vec<Frame>| {
        let mut b = Vec::new();
        frames.iter().for_each(|f| f.encode(&mut b));
        b
    };
    let piece = prop_oneof![
        12 => message().prop_map(encode),
        2 => (9u8..11, any::<[u8; 4]>(), payload()).prop_map(move |(op, m, p)| encode(vec![frame_of(true, op, m, p)])),
        1 => (any::<[u8; 4]>(), close_payload()).prop_map(move |(m, p)| encode(vec![frame_of(true, 8, m, p)])),
        2 => any_frame().prop_map(move |f| encode(vec![f])),
        1 => vec(any::<u8>(), 1..16),
    ];
    let read = prop_oneof![1 => Just(0u16), 3 => 1u16..8, 3 => 1u16..300, 1 => 1u16..20_000];
    (
        vec(piece, 0..12),
        prop::option::weighted(0.2, any::<prop::sample::Index>()),
        vec(read, 0..40),
        prop::sample::select(vec![125usize, 1000, 65_536]),
    )
        .prop_map(|(pieces, cut, reads, max)| {
            let mut bytes = pieces.concat();
            if let Some(cut) = cut.filter(|_| !bytes.is_empty()) {
                bytes.truncate(cut.index(bytes.len()));
            }
            Case { bytes, reads, max }
        })
}

/// Inputs that must each be tried whatever the seed.
fn named_cases() -> Vec<(&'static str, Case)> {
    let text = |payload: &[u8], fin: bool, opcode: u8| Frame {
        fin,
        rsv: 0,
        opcode,
        mask: Some([1, 2, 3, 4]),
        form: 0,
        claimed: None,
        payload: payload.to_vec(),
    };
    let encode = |frames: &[Frame]| {
        let mut b = Vec::new();
        frames.iter().for_each(|f| f.encode(&mut b));
        b
    };
    let huge = Frame {
        claimed: Some(u64::MAX),
        ..text(b"", true, 1)
    };
    let fragmented = [text(b"hel", false, 1), text(b"", true, 9), text(b"lo", true, 0)];
    let close = text(&[0x03, 0xe8, b'b', b'y', b'e'], true, 8);
    let burst: Vec<Frame> = (0..200)
        .map(|i| text(format!("{i:0>100}").as_bytes(), true, 1))
        .collect();
    let case = |bytes: Vec<u8>, reads: Vec<u16>| Case {
        bytes,
        reads,
        max: 1000,
    };
    vec![
        ("empty", case(Vec::new(), vec![])),
        ("a header claiming 2^64-1 bytes", case(encode(&[huge]), vec![])),
        (
            "fragments around a ping, byte by byte",
            case(encode(&fragmented), vec![1; 40]),
        ),
        (
            "a close then more",
            case([encode(&[close]), encode(&fragmented)].concat(), vec![0, 3, 0, 2]),
        ),
        (
            "20 KB burst in one read, not ready in between",
            case(encode(&burst), vec![0, 20_000, 0, 7]),
        ),
    ]
}

#[test]
fn read_path_matches_tungstenite() {
    for (name, case) in named_cases() {
        if let Err(e) = check(&case) {
            panic!("{name}: {e}");
        }
    }
    let seed = std::env::var("PROPTEST_RNG_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand_seed);
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2000);
    let config = Config {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        max_shrink_time: 20_000,
        ..Config::default()
    };
    if let Err(e) = TestRunner::new(config).run(&case(), |c| check(&c)) {
        panic!("{e}\nreplay with PROPTEST_RNG_SEED={seed} cargo test --test read_path");
    }
}

/// A fresh seed for each run, from the clock (printed on failure).
fn rand_seed() -> u64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    now.map_or(0, |d| d.as_nanos() as u64)
}
