//! A TLS-terminating listener's protocol options (Octavia API 2.15
//! `tls_ciphers`/`tls_versions`, 2.20 `alpn_protocols`): what Weir's TLS
//! (rustls with ring) can honour, and a refusal for the rest. Cipher
//! strings name OpenSSL's suites; each is mapped onto its IANA name here
//! and onto a rustls suite by `weir-tls`, so what a listener says it
//! offers is exactly what it offers.

use crate::model::Protocol;
use crate::Error;

/// A TLS protocol version Weir serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TlsVersion {
    Tls12,
    Tls13,
}

impl TlsVersion {
    /// Octavia's (OpenSSL's) name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tls12 => "TLSv1.2",
            Self::Tls13 => "TLSv1.3",
        }
    }
}

/// What a listener's TLS offers. The empty lists and `None` are the
/// defaults ([`DEFAULT_VERSIONS`], every suite, [`DEFAULT_ALPN`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    pub versions: Vec<TlsVersion>,
    /// An OpenSSL cipher list as given, checked by [`parse_ciphers`].
    pub ciphers: Option<String>,
    /// ALPN protocol ids in preference order.
    pub alpn: Vec<String>,
}

impl TlsOptions {
    /// The versions served.
    pub fn versions(&self) -> Vec<TlsVersion> {
        if self.versions.is_empty() {
            DEFAULT_VERSIONS.to_vec()
        } else {
            self.versions.clone()
        }
    }

    /// The ALPN ids offered.
    pub fn alpn(&self) -> Vec<String> {
        if self.alpn.is_empty() {
            DEFAULT_ALPN.iter().map(|s| (*s).to_owned()).collect()
        } else {
            self.alpn.clone()
        }
    }

    /// The cipher list as shown: the given one, or the OpenSSL names of
    /// every suite served.
    pub fn ciphers(&self) -> String {
        self.ciphers.clone().unwrap_or_else(|| {
            SUITES
                .iter()
                .map(|(openssl, _)| *openssl)
                .collect::<Vec<_>>()
                .join(":")
        })
    }

    /// The IANA names of the suites served; empty: every suite.
    pub fn suites(&self) -> Vec<&'static str> {
        self.ciphers
            .as_deref()
            .and_then(|c| parse_ciphers("tls_ciphers", c).ok())
            .unwrap_or_default()
    }
}

pub const DEFAULT_VERSIONS: &[TlsVersion] = &[TlsVersion::Tls12, TlsVersion::Tls13];
/// HTTP/2 first, so a client offering both speaks h2 (rustls picks the
/// first of the server's list the client offers).
pub const DEFAULT_ALPN: &[&str] = &["h2", "http/1.1"];

/// The suites Weir's TLS offers: OpenSSL's name and the IANA one.
/// TLS 1.3 suites go by their IANA names in OpenSSL strings too.
pub const SUITES: &[(&str, &str)] = &[
    ("TLS_AES_256_GCM_SHA384", "TLS_AES_256_GCM_SHA384"),
    ("TLS_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256"),
    (
        "TLS_CHACHA20_POLY1305_SHA256",
        "TLS_CHACHA20_POLY1305_SHA256",
    ),
    (
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    ),
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    ),
    (
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    ),
    (
        "ECDHE-RSA-AES256-GCM-SHA384",
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    ),
    (
        "ECDHE-RSA-AES128-GCM-SHA256",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    ),
    (
        "ECDHE-RSA-CHACHA20-POLY1305",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    ),
];

/// OpenSSL suites that exist but that Weir's TLS does not offer (finite
/// field DH, CBC modes, RSA key exchange, CCM): a provider limit (501),
/// not a mistake.
const NOT_OFFERED: &[&str] = &[
    "DHE-RSA-AES128-GCM-SHA256",
    "DHE-RSA-AES256-GCM-SHA384",
    "DHE-RSA-CHACHA20-POLY1305",
    "DHE-RSA-AES128-SHA256",
    "DHE-RSA-AES256-SHA256",
    "ECDHE-ECDSA-AES128-SHA256",
    "ECDHE-RSA-AES128-SHA256",
    "ECDHE-ECDSA-AES256-SHA384",
    "ECDHE-RSA-AES256-SHA384",
    "ECDHE-ECDSA-AES128-SHA",
    "ECDHE-RSA-AES128-SHA",
    "ECDHE-ECDSA-AES256-SHA",
    "ECDHE-RSA-AES256-SHA",
    "AES128-GCM-SHA256",
    "AES256-GCM-SHA384",
    "AES128-SHA256",
    "AES256-SHA256",
    "AES128-SHA",
    "AES256-SHA",
    "DES-CBC3-SHA",
    "TLS_AES_128_CCM_SHA256",
    "TLS_AES_128_CCM_8_SHA256",
];

/// Most bytes of a cipher list (OpenSSL's full list is under 2 KiB).
const MAX_CIPHERS_LEN: usize = 2048;

fn is_tls13(iana: &str) -> bool {
    !iana.contains("_WITH_")
}

/// The IANA names of the suites `list` (OpenSSL's colon-separated names)
/// asks for. OpenSSL's keywords and operators (`HIGH`, `!aNULL`, `+`)
/// are not read: each entry must be one suite's name.
pub fn parse_ciphers(field: &str, list: &str) -> Result<Vec<&'static str>, Error> {
    if list.len() > MAX_CIPHERS_LEN {
        return Err(Error::invalid(
            field,
            format!("longer than {MAX_CIPHERS_LEN} characters"),
        ));
    }
    let mut out = Vec::new();
    let mut unknown = Vec::new();
    let mut not_offered = Vec::new();
    for name in list.split(':').map(str::trim).filter(|n| !n.is_empty()) {
        match SUITES.iter().find(|(openssl, _)| *openssl == name) {
            Some((_, iana)) if !out.contains(iana) => out.push(*iana),
            Some(_) => {}
            None if NOT_OFFERED.contains(&name) => not_offered.push(name),
            None => unknown.push(name),
        }
    }
    if !unknown.is_empty() {
        return Err(Error::invalid(
            field,
            format!(
                "unknown cipher suite name(s) {} (OpenSSL names, separated by colons; \
                 keywords such as HIGH are not read)",
                unknown.join(":")
            ),
        ));
    }
    if !not_offered.is_empty() {
        return Err(Error::Unsupported {
            field: field.to_owned(),
            reason: format!(
                "tls_ciphers {} (Weir's TLS offers ECDHE with AES-GCM or ChaCha20-Poly1305, \
                 and the TLS 1.3 suites)",
                not_offered.join(":")
            ),
        });
    }
    if out.is_empty() {
        return Err(Error::invalid(field, "names no cipher suite"));
    }
    Ok(out)
}

/// Octavia's `tls_versions` as Weir's; SSLv3, TLSv1 and TLSv1.1 are not
/// served (501).
pub fn parse_versions(field: &str, names: &[String]) -> Result<Vec<TlsVersion>, Error> {
    if names.is_empty() {
        return Err(Error::invalid(field, "names no TLS version"));
    }
    let mut out = Vec::new();
    for name in names {
        let version = match name.as_str() {
            "TLSv1.2" => TlsVersion::Tls12,
            "TLSv1.3" => TlsVersion::Tls13,
            "SSLv3" | "TLSv1" | "TLSv1.1" => {
                return Err(Error::Unsupported {
                    field: field.to_owned(),
                    reason: format!("tls_versions {name} (TLSv1.2 and TLSv1.3 are served)"),
                })
            }
            other => {
                return Err(Error::invalid(
                    field,
                    format!("{other:?} is not one of SSLv3, TLSv1, TLSv1.1, TLSv1.2, TLSv1.3"),
                ))
            }
        };
        if !out.contains(&version) {
            out.push(version);
        }
    }
    Ok(out)
}

/// Octavia's `alpn_protocols`: `h2` (the data plane's HTTP/2 engine),
/// `http/1.1` and `http/1.0` are served, in the order given.
pub fn parse_alpn(field: &str, names: &[String]) -> Result<Vec<String>, Error> {
    if names.is_empty() {
        return Err(Error::invalid(field, "names no protocol"));
    }
    let mut out: Vec<String> = Vec::new();
    for name in names {
        match name.as_str() {
            "h2" | "http/1.1" | "http/1.0" => {
                if !out.contains(name) {
                    out.push(name.clone());
                }
            }
            other => {
                return Err(Error::invalid(
                    field,
                    format!("{other:?} is not one of h2, http/1.1, http/1.0"),
                ))
            }
        }
    }
    Ok(out)
}

/// Holds a listener's options together: only an https listener has any,
/// and every version it serves keeps at least one suite.
pub fn check(protocol: Protocol, options: &TlsOptions) -> Result<(), Error> {
    if protocol != Protocol::Https {
        if *options != TlsOptions::default() {
            let field = if !options.versions.is_empty() {
                "tls_versions"
            } else if options.ciphers.is_some() {
                "tls_ciphers"
            } else {
                "alpn_protocols"
            };
            return Err(Error::invalid(
                field,
                format!("only a TLS-terminating listener has TLS options, not {protocol}"),
            ));
        }
        return Ok(());
    }
    let suites = match &options.ciphers {
        Some(list) => parse_ciphers("tls_ciphers", list)?,
        None => return Ok(()),
    };
    // A TLS 1.3 suite named restricts TLS 1.3 to those named; a list
    // naming only TLS 1.2 suites leaves TLS 1.3 its own.
    if options.versions().contains(&TlsVersion::Tls12) && suites.iter().all(|s| is_tls13(s)) {
        return Err(Error::invalid(
            "tls_ciphers",
            "names no TLS 1.2 suite, but the listener serves TLSv1.2",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openssl_names_map_onto_offered_suites_and_the_rest_is_refused() {
        assert_eq!(
            parse_ciphers("c", "ECDHE-RSA-AES128-GCM-SHA256:TLS_AES_128_GCM_SHA256").unwrap(),
            [
                "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                "TLS_AES_128_GCM_SHA256"
            ]
        );
        assert!(matches!(
            parse_ciphers("c", "ECDHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES128-GCM-SHA256"),
            Err(Error::Unsupported { .. })
        ));
        assert!(matches!(
            parse_ciphers("c", "HIGH:!aNULL"),
            Err(Error::InvalidField { .. })
        ));
        assert!(parse_ciphers("c", ":").is_err());
    }

    #[test]
    fn only_tls_1_2_and_1_3_are_served() {
        let v = |s: &[&str]| s.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            parse_versions("v", &v(&["TLSv1.3"])).unwrap(),
            [TlsVersion::Tls13]
        );
        assert!(matches!(
            parse_versions("v", &v(&["TLSv1.1", "TLSv1.2"])),
            Err(Error::Unsupported { .. })
        ));
        assert!(matches!(
            parse_versions("v", &v(&["TLSv9"])),
            Err(Error::InvalidField { .. })
        ));
        assert!(parse_versions("v", &[]).is_err());
        assert_eq!(
            parse_alpn("a", &v(&["h2", "http/1.1", "h2"])).unwrap(),
            ["h2", "http/1.1"]
        );
        assert_eq!(parse_alpn("a", &v(&["http/1.1"])).unwrap(), ["http/1.1"]);
    }

    #[test]
    fn options_belong_to_https_listeners_and_keep_a_suite_per_version() {
        let ciphers = |c: &str| TlsOptions {
            ciphers: Some(c.into()),
            ..TlsOptions::default()
        };
        assert!(check(Protocol::Http, &ciphers("ECDHE-RSA-AES128-GCM-SHA256")).is_err());
        assert!(check(Protocol::Http, &TlsOptions::default()).is_ok());
        assert!(check(Protocol::Https, &ciphers("TLS_AES_128_GCM_SHA256")).is_err());
        let only13 = TlsOptions {
            versions: vec![TlsVersion::Tls13],
            ..ciphers("TLS_AES_128_GCM_SHA256")
        };
        assert!(check(Protocol::Https, &only13).is_ok());
        assert!(check(Protocol::Https, &ciphers("ECDHE-RSA-AES128-GCM-SHA256")).is_ok());
    }
}
