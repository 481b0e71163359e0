//! Client-token idempotency: the decision, given what was stored under the
//! token. The control layer owns storage and fingerprints requests.

use crate::Error;

/// What to do with a request carrying a client token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replay<R> {
    /// First use of the token: execute and remember the response.
    Execute,
    /// The same request was already executed: answer with its response and
    /// change nothing.
    Respond(R),
}

/// Decides from the record stored under `token`, if any. The same token
/// with a different request fingerprint is refused rather than silently
/// answered with an unrelated response.
pub fn decide<R>(
    token: &str,
    stored: Option<(String, R)>,
    fingerprint: &str,
) -> Result<Replay<R>, Error> {
    match stored {
        None => Ok(Replay::Execute),
        Some((stored_fp, response)) if stored_fp == fingerprint => Ok(Replay::Respond(response)),
        Some(_) => Err(Error::IdempotencyMismatch {
            token: token.to_owned(),
        }),
    }
}

/// Longest accepted client token.
pub const MAX_TOKEN_LEN: usize = 128;

/// Checks a client token: 1 to [`MAX_TOKEN_LEN`] printable ASCII characters.
pub fn validate_token(field: &str, token: &str) -> Result<(), Error> {
    if token.is_empty()
        || token.len() > MAX_TOKEN_LEN
        || !token.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(Error::invalid(
            field,
            format!("must be 1-{MAX_TOKEN_LEN} printable ASCII characters without spaces"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replays_only_the_same_request() {
        assert_eq!(decide::<u8>("t", None, "a").unwrap(), Replay::Execute);
        assert_eq!(
            decide("t", Some(("a".into(), 7)), "a").unwrap(),
            Replay::Respond(7)
        );
        assert!(matches!(
            decide("t", Some(("a".into(), 7)), "b"),
            Err(Error::IdempotencyMismatch { .. })
        ));
    }
}
