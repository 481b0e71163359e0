//! Every front end's request parsing, signature checks and translation:
//! a raw HTTP/1.1 request (seeded from the captured SDK requests and the
//! golden fixtures) goes through the merged router, signed again with a
//! real key where it carried credentials. A panic or a 500 is a finding:
//! every bad input must be a client error in its dialect's shape.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weir_fuzz::Harness;

fuzz_target!(|raw: &[u8]| {
    let harness = Harness::get();
    let Some(request) = harness.rewrite(raw) else {
        return;
    };
    let described = format!("{} {}", request.method, request.target);
    let (status, body) = harness.send(request);
    assert!(
        status != axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        "{described}: 500 {}",
        String::from_utf8_lossy(&body)
    );
});
