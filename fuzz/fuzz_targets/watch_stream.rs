//! The watch stream's two readers: a position as a client sends it
//! (`since=`, `Last-Event-ID`: `weir_core::watch::parse_position`) is a
//! plain decimal integer or refused, never a panic, and reads back as
//! itself; and `weir_api::sse::SseParser`, which `weir watch` reads a
//! stream with, yields the same events however the bytes are split, and
//! never more than it was fed.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use weir_api::sse::SseParser;
use weir_core::watch::parse_position;

#[derive(Arbitrary, Debug)]
struct Case {
    position: String,
    stream: Vec<u8>,
    cuts: Vec<u16>,
}

fuzz_target!(|case: Case| {
    if let Ok(n) = parse_position(&case.position) {
        assert!(case.position.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(case.position.trim_start_matches('0').parse::<u64>().unwrap_or(0), n);
    }

    let whole = SseParser::new().feed(&case.stream);
    let mut parser = SseParser::new();
    let mut pieces = Vec::new();
    let mut at = 0usize;
    let mut cuts: Vec<usize> = case
        .cuts
        .iter()
        .map(|&c| usize::from(c) % (case.stream.len() + 1))
        .collect();
    cuts.sort_unstable();
    let mut failed = false;
    for cut in cuts.into_iter().chain([case.stream.len()]) {
        match parser.feed(&case.stream[at..cut]) {
            Ok(events) => pieces.extend(events),
            Err(_) => {
                failed = true;
                break;
            }
        }
        at = cut;
    }
    match whole {
        Ok(events) => {
            assert!(!failed);
            assert_eq!(events, pieces);
            let fed: usize = events.iter().map(|e| e.data.len()).sum();
            assert!(fed <= case.stream.len() * 3, "replacement characters at most");
        }
        Err(_) => assert!(failed),
    }
});
