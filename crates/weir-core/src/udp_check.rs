//! UDP payload health checks (issue 16): a check that sends a chosen
//! datagram and, when told what to expect, passes only on a matching
//! answer (Aliyun's `HealthCheckReq`/`HealthCheckExp`, UCloud's
//! `RequestMsg`/`ResponseMsg`).
//!
//! The rules, one place for every dialect:
//!
//! - The payload and the expected answer are text of 1 to
//!   [`MAX_PAYLOAD_BYTES`] printable ASCII characters (space to `~`):
//!   both clouds document strings, the store keeps them as text, views
//!   show them as given, and a bound keeps a tenant from making the data
//!   plane send (or compare) large datagrams every interval.
//! - An expectation needs a payload: an answer is to something sent.
//! - Without an expectation the check is UDP-CONNECT's, with the
//!   tenant's payload: it fails on an ICMP port unreachable within the
//!   timeout and passes otherwise.
//! - With one, the member is up only when its first answer within the
//!   timeout, less one trailing line end (`\n` or `\r\n`, which line
//!   oriented servers add), is exactly the expected text ([`answer_matches`]);
//!   another answer, silence until the timeout, or an ICMP unreachable is
//!   down.

use crate::Error;

/// Longest payload or expected answer, in bytes.
pub const MAX_PAYLOAD_BYTES: usize = 512;

/// Checks a payload or expected answer (`field` names it in errors).
pub fn check_text(field: &str, text: &str) -> Result<(), Error> {
    if text.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if text.len() > MAX_PAYLOAD_BYTES {
        return Err(Error::invalid(
            field,
            format!("longer than {MAX_PAYLOAD_BYTES} bytes"),
        ));
    }
    if let Some(c) = text.chars().find(|c| !(' '..='~').contains(c)) {
        return Err(Error::invalid(
            field,
            format!("{c:?} is not printable ASCII (space to ~)"),
        ));
    }
    Ok(())
}

/// Whether `answer`, the first datagram a member sent back, is `expect`:
/// the same bytes, with at most one trailing `\n` or `\r\n` besides.
pub fn answer_matches(expect: &str, answer: &[u8]) -> bool {
    let body = answer
        .strip_suffix(b"\r\n")
        .or_else(|| answer.strip_suffix(b"\n"))
        .unwrap_or(answer);
    body == expect.as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_bounded_printable_text() {
        assert!(check_text("send", "ping 1~").is_ok());
        assert!(check_text("send", &"a".repeat(MAX_PAYLOAD_BYTES)).is_ok());
        for bad in [
            String::new(),
            "a".repeat(MAX_PAYLOAD_BYTES + 1),
            "line\nbreak".to_owned(),
            "nul\0".to_owned(),
            "é".to_owned(),
        ] {
            assert!(
                matches!(check_text("send", &bad), Err(Error::InvalidField { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_udp_check_takes_a_payload_and_an_expectation_and_nothing_else_does() {
        use crate::model::CheckKind;
        use crate::pool::{plan_health_check, HealthCheckSpec};
        use crate::settings::Capabilities;
        let spec = |kind: &str, send: Option<&str>, expect: Option<&str>| HealthCheckSpec {
            kind: kind.into(),
            send: send.map(str::to_owned),
            expect: expect.map(str::to_owned),
            ..HealthCheckSpec::default()
        };
        let caps = Capabilities::default();
        let planned =
            plan_health_check(&spec("udp-connect", Some("hi"), Some("ok")), caps).unwrap();
        assert_eq!(
            planned.kind,
            CheckKind::UdpPayload {
                send: "hi".into(),
                expect: Some("ok".into())
            }
        );
        let bare = plan_health_check(&spec("udp-connect", Some("hi"), None), caps).unwrap();
        assert_eq!(
            bare.kind,
            CheckKind::UdpPayload {
                send: "hi".into(),
                expect: None
            }
        );
        let plain = plan_health_check(&spec("udp-connect", None, None), caps).unwrap();
        assert_eq!(plain.kind, CheckKind::UdpConnect);
        let long = "x".repeat(MAX_PAYLOAD_BYTES + 1);
        for (bad, field) in [
            (spec("udp-connect", None, Some("ok")), "health_check.expect"),
            (spec("tcp", Some("hi"), None), "health_check.send"),
            (spec("http", None, Some("ok")), "health_check.send"),
            (spec("udp-connect", Some(&long), None), "health_check.send"),
            (
                spec("udp-connect", Some("hi"), Some("")),
                "health_check.expect",
            ),
        ] {
            match plan_health_check(&bad, caps) {
                Err(Error::InvalidField { field: got, .. }) => assert_eq!(got, field, "{bad:?}"),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn an_answer_matches_exactly_less_one_line_end() {
        assert!(answer_matches("ok", b"ok"));
        assert!(answer_matches("ok", b"ok\n"));
        assert!(answer_matches("ok", b"ok\r\n"));
        for bad in [&b"ok\n\n"[..], b"OK", b"okay", b"o", b"", b" ok", b"ok\r"] {
            assert!(!answer_matches("ok", bad), "{bad:?}");
        }
    }
}
