//! The client-certificate headers of an HTTPS listener (Octavia's
//! `X-SSL-*` insert_headers), written after the client's own fields, and
//! the test that drops every `X-SSL-*` field a client sends on a TLS
//! listener (whether or not a header is on: a header turned off must not
//! let a client's claim through in its place).

/// `X-SSL-` and anything after it, in any case.
pub(super) fn is_claim(name: &str) -> bool {
    name.len() >= 6 && name.as_bytes()[..6].eq_ignore_ascii_case(b"x-ssl-")
}

/// The client-certificate headers `on` asks for (Octavia's formats):
/// Verify `0` (a certificate that did not verify never got past the
/// handshake), Has-Cert `true`/`false`; the certificate's facts only when
/// one was presented.
pub(super) fn push(
    out: &mut Vec<u8>,
    on: weir_core::model::ClientCertHeaders,
    cert: Option<&weir_tls::client_facts::CertFacts>,
) {
    for (i, name) in weir_core::model::ClientCertHeaders::NAMES
        .iter()
        .enumerate()
    {
        if !on.has(i) {
            continue;
        }
        let value: &str = match (i, cert) {
            (0, _) => "0",
            (1, Some(_)) => "true",
            (1, None) => "false",
            (_, None) => continue,
            (2, Some(c)) => &c.dn,
            (3, Some(c)) => &c.cn,
            (4, Some(c)) => &c.issuer,
            (5, Some(c)) => &c.sha1,
            (6, Some(c)) => &c.not_before,
            (_, Some(c)) => &c.not_after,
        };
        super::head::push_header(out, name, value.as_bytes());
    }
}
