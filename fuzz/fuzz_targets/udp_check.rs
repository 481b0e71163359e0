//! UDP payload checks (`weir_core::udp_check`): arbitrary text through
//! `check_text` (what Aliyun's `HealthCheckReq`, UCloud's `RequestMsg` and
//! the native `send`/`expect` hand it) never panics and accepts only
//! bounded printable ASCII; arbitrary answer bytes from a member through
//! `answer_matches` never panic, match an accepted expectation written
//! back with or without one line end, and never match anything longer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weir_core::udp_check::{answer_matches, check_text, MAX_PAYLOAD_BYTES};

fuzz_target!(|input: (String, Vec<u8>)| {
    let (text, answer) = input;
    if check_text("send", &text).is_ok() {
        assert!(!text.is_empty() && text.len() <= MAX_PAYLOAD_BYTES);
        assert!(text.bytes().all(|b| (0x20..=0x7e).contains(&b)));
        assert!(answer_matches(&text, text.as_bytes()));
        assert!(answer_matches(&text, format!("{text}\r\n").as_bytes()));
        if answer_matches(&text, &answer) {
            assert!(answer.len() <= text.len() + 2);
            assert!(answer.starts_with(text.as_bytes()));
        }
    }
});
