//! UCloud's request signature as a pure function: SHA-1 over every
//! parameter but `Signature`, sorted by name, each as name then value,
//! followed by the private key.
//!
//! Nothing time-bound is signed (`U-Timestamp-Ms` is not), so a captured
//! request verifies forever; the transport offers an optional replay
//! window (`dialects.ucloud_replay_window_secs`).

use sha1::{Digest, Sha1};

use crate::common::{constant_time_eq, hex};

/// What the signature covers: every pair but `Signature`, sorted by name
/// (stable, so repeated names keep their order), each as name then value.
pub fn string_to_sign(params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> =
        params.iter().filter(|(k, _)| k != "Signature").collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    sorted.iter().map(|(k, v)| format!("{k}{v}")).collect()
}

/// The signature a client holding `private_key` sends with `params`.
pub fn sign(params: &[(String, String)], private_key: &str) -> String {
    let mut hasher = Sha1::new();
    hasher.update(string_to_sign(params).as_bytes());
    hasher.update(private_key.as_bytes());
    hex(&hasher.finalize())
}

/// Whether `params` carry a valid `Signature` for `private_key`.
pub fn verify(params: &[(String, String)], private_key: &str) -> bool {
    let Some((_, given)) = params.iter().find(|(k, _)| k == "Signature") else {
        return false;
    };
    constant_time_eq(
        sign(params, private_key).as_bytes(),
        given.to_ascii_lowercase().as_bytes(),
    )
}
