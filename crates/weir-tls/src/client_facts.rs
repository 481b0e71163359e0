//! What an HTTPS listener tells its members about a client's verified
//! certificate (Octavia's `X-SSL-Client-*` insert_headers): the values in
//! the formats Octavia documents and its amphora's HAProxy writes
//! (`ssl_c_s_dn`, `ssl_c_s_dn(cn)`, `ssl_c_i_dn` as OpenSSL's one-line
//! `/C=../CN=..` form; `ssl_c_sha1,hex`; `ssl_c_notbefore` /
//! `ssl_c_notafter` as `YYMMDDhhmmssZ`), quoted as HAProxy's `%{+Q}`
//! quotes them.
//!
//! A certificate's names are the client's to choose (a CA the tenant
//! trusts may sign anything), so every value is escaped before it reaches
//! a header: bytes outside visible ASCII and space, `"` and `\` are
//! written `\xHH`, so a subject holding CR/LF can never start a header of
//! its own.

use x509_parser::prelude::*;

/// A client certificate's facts, each already a header value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertFacts {
    /// The subject's distinguished name, quoted.
    pub dn: String,
    /// The subject's (first) common name, quoted; `""` without one.
    pub cn: String,
    /// The issuer's distinguished name, quoted.
    pub issuer: String,
    /// The SHA-1 of the certificate's DER, upper-case hex, quoted.
    pub sha1: String,
    /// Validity bounds, `YYMMDDhhmmssZ` (four-digit years from 2050),
    /// quoted.
    pub not_before: String,
    pub not_after: String,
}

/// The facts of the client's leaf certificate (DER); `None` if it does
/// not parse (it passed the handshake's verification, so it does).
pub fn facts(der: &[u8]) -> Option<CertFacts> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let sha1 = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, der);
    let hex: String = sha1.as_ref().iter().map(|b| format!("{b:02X}")).collect();
    let cn = cert
        .subject()
        .iter_common_name()
        .next()
        .map(|a| attribute_text(a.attr_value().data))
        .unwrap_or_default();
    Some(CertFacts {
        dn: quoted(&one_line(cert.subject())),
        cn: quoted(&cn),
        issuer: quoted(&one_line(cert.issuer())),
        sha1: quoted(&hex),
        not_before: quoted(&asn1_time(cert.validity().not_before)),
        not_after: quoted(&asn1_time(cert.validity().not_after)),
    })
}

/// OpenSSL's one-line form: `/SN=value` per attribute, in the
/// certificate's order; an attribute without a short name by its dotted
/// OID.
fn one_line(name: &X509Name<'_>) -> String {
    let registry = x509_parser::objects::oid_registry();
    let mut out = String::new();
    for rdn in name.iter() {
        for attr in rdn.iter() {
            let oid = attr.attr_type();
            let short = x509_parser::objects::oid2abbrev(oid, registry)
                .map(str::to_owned)
                .unwrap_or_else(|_| oid.to_id_string());
            out.push('/');
            out.push_str(&short);
            out.push('=');
            out.push_str(&attribute_text(attr.attr_value().data));
        }
    }
    out
}

/// An attribute's bytes as header-safe text.
fn attribute_text(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("\\x{b:02X}"));
        }
    }
    out
}

fn quoted(s: &str) -> String {
    format!("\"{s}\"")
}

/// `YYMMDDhhmmssZ` (UTCTime's form) before 2050, `YYYYMMDDhhmmssZ`
/// (GeneralizedTime's) from then, as the certificate encodes it.
fn asn1_time(t: ASN1Time) -> String {
    let dt = t.to_datetime();
    let year = dt.year();
    let (m, d) = (u8::from(dt.month()), dt.day());
    let (h, min, s) = (dt.hour(), dt.minute(), dt.second());
    if (1950..2050).contains(&year) {
        format!("{:02}{m:02}{d:02}{h:02}{min:02}{s:02}Z", year % 100)
    } else {
        format!("{year:04}{m:02}{d:02}{h:02}{min:02}{s:02}Z")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_are_octavias_formats_and_header_safe() {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CountryName, "US");
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "Acme");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "client \"one\"\r\nX-Evil: 1");
        params.not_before = rcgen::date_time_ymd(2024, 3, 4);
        params.not_after = rcgen::date_time_ymd(2049, 12, 31);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let f = facts(cert.der()).unwrap();
        assert_eq!(
            f.dn,
            "\"/C=US/O=Acme/CN=client \\x22one\\x22\\x0D\\x0AX-Evil: 1\""
        );
        assert_eq!(f.cn, "\"client \\x22one\\x22\\x0D\\x0AX-Evil: 1\"");
        assert_eq!(f.issuer, f.dn, "self-signed");
        assert_eq!(f.not_before, "\"240304000000Z\"");
        assert_eq!(f.not_after, "\"491231000000Z\"");
        assert_eq!(f.sha1.len(), 42);
        assert!(f.sha1[1..41]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)));
        for v in [
            &f.dn,
            &f.cn,
            &f.issuer,
            &f.sha1,
            &f.not_before,
            &f.not_after,
        ] {
            assert!(v.bytes().all(|b| (b' '..=b'~').contains(&b)), "{v}");
        }
        assert!(facts(b"not a certificate").is_none());
    }
}
