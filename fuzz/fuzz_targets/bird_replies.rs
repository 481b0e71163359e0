//! BIRD's control-socket replies (`weir_core::cluster::bird`): whatever
//! the socket sends, reading never panics, never claims more bytes than
//! it was given and never returns a reply without a line; a reply read
//! from a prefix is the same once more bytes follow it.

#![no_main]

use libfuzzer_sys::fuzz_target;
use weir_core::cluster::bird::parse_reply;

fuzz_target!(|data: &[u8]| {
    let Ok(Some((reply, used))) = parse_reply(data) else {
        return;
    };
    assert!(used <= data.len());
    assert!(!reply.lines.is_empty());
    // The reply ends at `used`: what follows does not change it.
    let again = parse_reply(&data[..used]).expect("a prefix that was a reply");
    assert_eq!(again, Some((reply, used)));
});
