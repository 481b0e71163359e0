//! A client certificate described for the `X-SSL-*` headers
//! (`weir_tls::client_facts::facts`): the DER is the client's, so any
//! bytes must never panic, and every value it yields must be a header
//! value that cannot start a line of its own (visible ASCII and space).

#![no_main]

use libfuzzer_sys::fuzz_target;
use weir_tls::client_facts::facts;

fuzz_target!(|data: &[u8]| {
    if let Some(f) = facts(data) {
        for v in [&f.dn, &f.cn, &f.issuer, &f.sha1, &f.not_before, &f.not_after] {
            assert!(v.bytes().all(|b| (b' '..=b'~').contains(&b)), "{v:?}");
        }
    }
});
