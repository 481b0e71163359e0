//! The takeover socket's records (`weir_core::takeover`): whatever a peer
//! sends, decoding never panics; anything accepted encodes back to the
//! same bytes and the same message; a tally of arbitrary batches never
//! accepts more descriptors than were received or two API sockets.

#![no_main]

use libfuzzer_sys::fuzz_target;
use weir_core::takeover::{Message, Role, Tally, MAX_SOCKETS};

fuzz_target!(|data: &[u8]| {
    // The first byte steers the tally; the rest is a record.
    let Some((&steer, record)) = data.split_first() else {
        return;
    };
    let Ok(message) = Message::decode(record) else {
        return;
    };
    let encoded = message.encode();
    assert_eq!(Message::decode(&encoded).as_ref(), Ok(&message));
    if let Message::Sockets { last, roles } = &message {
        let mut tally = Tally::default();
        let received = if steer & 1 == 0 {
            roles.len()
        } else {
            usize::from(steer >> 1)
        };
        let api = roles.iter().filter(|r| **r == Role::Api).count();
        match tally.record(*last, roles, received) {
            Ok(done) => {
                assert_eq!(done, *last);
                assert_eq!(received, roles.len());
                assert!(api <= 1 && received <= MAX_SOCKETS);
            }
            Err(_) => assert!(received != roles.len() || api > 1),
        }
    }
});
