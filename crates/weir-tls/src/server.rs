//! Serving TLS: an HTTPS listener's rustls configuration, built from the
//! certificates the control plane opened, and the resolver that picks one
//! per handshake by the client's SNI.
//!
//! The pick ([`SniTable::pick`]) is exact name first, then a wildcard
//! (`*.example.com` covers exactly one more label: `a.example.com`, not
//! `example.com` nor `a.b.example.com`), else the listener's first
//! certificate. Names come from the leaf's DNS subject alternative names
//! (what browsers match; the subject's CN is not read). Among
//! certificates claiming the same name the earlier one in the listener's
//! list wins, so the order a tenant gives is the order served.
//!
//! A listener's domain extensions ([`Material::domains`]) come first:
//! a client whose SNI names an extension's domain (exactly, then under an
//! extension's `*.` domain) gets that extension's certificate, whatever
//! the certificates' own names say; only then are those read.
//!
//! The table is built once per configuration (a listener's certificates
//! change by replacing the whole configuration), so a handshake costs one
//! lowercase copy of the SNI and at most two hash lookups, whatever a
//! client sends: rustls has already refused a server name that is not a
//! syntactically valid DNS name (at most 253 bytes) before we see it.

use std::collections::HashMap;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, ServerSessionMemoryCache};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use weir_core::tls::{TlsOptions, TlsVersion};
use x509_parser::prelude::*;

/// TLS sessions one listener remembers for resumption by session id
/// (TLS 1.2; TLS 1.3 resumes by ticket): bounded, about 200 bytes each,
/// evicted oldest first by rustls.
const SESSION_CACHE: usize = 4096;

/// The certificate index each name maps to.
#[derive(Debug, Default, Clone)]
pub struct SniTable {
    exact: HashMap<String, usize>,
    /// Keyed by the parent of a `*.` pattern: `*.example.com` is under
    /// `example.com`.
    wildcard: HashMap<String, usize>,
}

impl SniTable {
    /// A table over each certificate's names, in the listener's order.
    pub fn new<N: AsRef<str>>(names: &[Vec<N>]) -> Self {
        let mut table = Self::default();
        for (index, names) in names.iter().enumerate() {
            for name in names {
                let name = name.as_ref().trim_end_matches('.').to_ascii_lowercase();
                match name.strip_prefix("*.") {
                    // A wildcard covers one whole label: `*.com`-like
                    // patterns are the issuer's business, but a pattern
                    // with another `*` (`f*.example.com`) or an empty
                    // parent matches nothing here.
                    Some(parent) if !parent.is_empty() && !parent.contains('*') => {
                        table.wildcard.entry(parent.to_owned()).or_insert(index);
                    }
                    Some(_) => {}
                    None if name.is_empty() || name.contains('*') => {}
                    None => {
                        table.exact.entry(name).or_insert(index);
                    }
                }
            }
        }
        table
    }

    /// The certificate for a client that named `sni` (or none): exact
    /// name, then wildcard, then the first (index 0).
    pub fn pick(&self, sni: Option<&str>) -> usize {
        sni.and_then(|sni| self.find(&sni.trim_end_matches('.').to_ascii_lowercase()))
            .unwrap_or(0)
    }

    /// The certificate an already lower-cased `name` matches, exactly or
    /// under a wildcard, if any.
    fn find(&self, name: &str) -> Option<usize> {
        if let Some(&i) = self.exact.get(name) {
            return Some(i);
        }
        match name.split_once('.') {
            Some((label, parent)) if !label.is_empty() && !parent.is_empty() => {
                self.wildcard.get(parent).copied()
            }
            _ => None,
        }
    }
}

/// A listener's two tables: its domain extensions, read first, then its
/// certificates' own names.
#[derive(Debug, Default, Clone)]
pub struct SniChoice {
    pub domains: SniTable,
    pub names: SniTable,
}

impl SniChoice {
    /// The certificate for `sni`: an extension's domain, else a
    /// certificate's name, else the first.
    pub fn pick(&self, sni: Option<&str>) -> usize {
        let Some(sni) = sni else { return 0 };
        let name = sni.trim_end_matches('.').to_ascii_lowercase();
        self.domains
            .find(&name)
            .or_else(|| self.names.find(&name))
            .unwrap_or(0)
    }
}

/// Picks a listener's certificate per handshake by SNI.
#[derive(Debug)]
pub struct SniResolver {
    table: SniChoice,
    /// Never empty: [`server_config`] refuses an empty list.
    keys: Vec<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.keys.get(self.table.pick(hello.server_name())).cloned()
    }
}

/// One certificate to serve: its chain and private key, PEM.
pub struct Material<'a> {
    /// For error messages.
    pub id: &'a str,
    pub chain_pem: &'a str,
    pub key_pem: &'a str,
    /// Domains this certificate is chosen for before any certificate's
    /// own names (a domain extension's); empty for most.
    pub domains: &'a [String],
}

/// The server configuration of an HTTPS listener: TLS 1.3 and 1.2 (the
/// provider's cipher suites, [`crate::crypto`]), certificates picked by SNI with the first as the
/// default, the listener's ALPN list (else `weir_core::tls::DEFAULT_ALPN`; rustls
/// picks the first of the server's list the client offers, and a client
/// offering none of them fails the handshake), resumption by session id (a bounded cache)
/// and by ticket (a fresh ticket key per configuration, rotated by
/// rustls every 6 hours; a certificate change makes a new configuration,
/// so resumption after it is a full handshake). Errors name the
/// certificate that cannot be served.
pub fn server_config(certificates: &[Material<'_>]) -> Result<Arc<ServerConfig>, String> {
    server_config_with(certificates, &TlsOptions::default())
}

/// [`server_config`] with a listener's own versions, suites and ALPN
/// ids (checked by `weir_core::tls` before they were stored; one that
/// still cannot be built is an error, never a silent default).
pub fn server_config_with(
    certificates: &[Material<'_>],
    options: &TlsOptions,
) -> Result<Arc<ServerConfig>, String> {
    server_config_verifying(certificates, options, None)
}

/// [`server_config_with`] that also verifies clients' certificates when
/// `clients` names a CA bundle ([`crate::client_auth::verifier`]).
pub fn server_config_verifying(
    certificates: &[Material<'_>],
    options: &TlsOptions,
    clients: Option<&weir_core::client_auth::ClientVerify>,
) -> Result<Arc<ServerConfig>, String> {
    if certificates.is_empty() {
        return Err("no certificate to serve".into());
    }
    let mut keys = Vec::with_capacity(certificates.len());
    let mut names = Vec::with_capacity(certificates.len());
    let domains: Vec<Vec<&str>> = certificates
        .iter()
        .map(|m| m.domains.iter().map(String::as_str).collect())
        .collect();
    for m in certificates {
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(m.chain_pem.as_bytes())
                .collect::<Result<_, _>>()
                .map_err(|e| format!("certificate {}: chain is not PEM: {e}", m.id))?;
        let Some(leaf) = chain.first() else {
            return Err(format!("certificate {}: empty chain", m.id));
        };
        names.push(leaf_dns_names(leaf));
        let key = PrivateKeyDer::from_pem_slice(m.key_pem.as_bytes())
            .map_err(|_| format!("certificate {}: the private key is not PEM", m.id))?;
        let signer =
            crate::crypto::signing_key(&key).map_err(|e| format!("certificate {}: {e}", m.id))?;
        keys.push(Arc::new(CertifiedKey::new(chain, signer)));
    }
    let resolver = SniResolver {
        table: SniChoice {
            domains: SniTable::new(&domains),
            names: SniTable::new(&names),
        },
        keys,
    };
    let mut provider = crate::crypto::provider();
    provider.cipher_suites = cipher_suites(options)?;
    let versions: Vec<&'static rustls::SupportedProtocolVersion> = options
        .versions()
        .iter()
        .map(|v| match v {
            TlsVersion::Tls12 => &rustls::version::TLS12,
            TlsVersion::Tls13 => &rustls::version::TLS13,
        })
        .collect();
    let builder = ServerConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&versions)
        .map_err(|e| e.to_string())?;
    let builder = match clients {
        Some(verify) => builder.with_client_cert_verifier(
            crate::client_auth::verifier(verify)
                .map_err(|e| format!("client certificate verification: {e}"))?,
        ),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_cert_resolver(Arc::new(resolver));
    config.alpn_protocols = options.alpn().into_iter().map(String::into_bytes).collect();
    // The server's order of suites wins, as HAProxy's and nginx's
    // `ssl_prefer_server_ciphers` do: the listener's named order, or
    // AES-128-GCM first (below).
    config.ignore_client_order = true;
    config.session_storage = ServerSessionMemoryCache::new(SESSION_CACHE);
    config.ticketer = crate::crypto::ticketer().map_err(|e| e.to_string())?;
    Ok(Arc::new(config))
}

/// The suites `options` name (IANA names, from `weir_core::tls`), in the
/// order named: a TLS 1.3 suite named restricts TLS 1.3 to those named, so
/// a list of TLS 1.2 suites only leaves TLS 1.3 every suite. None named:
/// every suite, AES-128-GCM ones first. Clients commonly ask for
/// AES-256-GCM-SHA384 first, whose TLS 1.3 key schedule runs HKDF over
/// SHA-384 (13 % of a full handshake's CPU in the profile,
/// docs/BENCHMARKS.md), where SHA-256 has the CPU's SHA instructions;
/// AES-128 is what TLS 1.3 itself mandates (RFC 8446 §9.1).
pub(crate) fn cipher_suites(
    options: &TlsOptions,
) -> Result<Vec<rustls::SupportedCipherSuite>, String> {
    let all = crate::crypto::all_cipher_suites();
    let named = options.suites();
    if named.is_empty() {
        let mut preferred = all.to_vec();
        // Stable: otherwise the provider's order (TLS 1.3 first).
        preferred.sort_by_key(|s| !format!("{:?}", s.suite()).contains("AES_128_GCM"));
        return Ok(preferred);
    }
    let iana = |s: &rustls::SupportedCipherSuite| {
        let name = format!("{:?}", s.suite());
        // rustls names TLS 1.3 suites TLS13_…, IANA TLS_….
        name.replacen("TLS13_", "TLS_", 1)
    };
    let any13 = named.iter().any(|n| !n.contains("_WITH_"));
    let mut out = Vec::new();
    for name in &named {
        match all.iter().find(|s| iana(s) == *name) {
            Some(suite) => out.push(*suite),
            None => return Err(format!("cipher suite {name} is not available")),
        }
    }
    if !any13 {
        out.extend(
            all.iter()
                .filter(|s| matches!(s, rustls::SupportedCipherSuite::Tls13(_))),
        );
    }
    Ok(out)
}

/// The leaf's DNS subject alternative names (IP names cannot be asked
/// for by SNI, RFC 6066 §3).
fn leaf_dns_names(leaf: &CertificateDer<'_>) -> Vec<String> {
    let Ok((_, cert)) = X509Certificate::from_der(leaf) else {
        return Vec::new();
    };
    let Ok(Some(san)) = cert.subject_alternative_name() else {
        return Vec::new();
    };
    san.value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(dns) => Some((*dns).to_owned()),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn table() -> SniTable {
        SniTable::new(&[
            vec!["default.test"],
            vec!["a.example.com", "*.example.com"],
            vec!["*.example.com", "B.Example.Com", "exact.example.com"],
            vec!["f*.other.test", "*.", "*", "*.*.test", ""],
        ])
    }

    #[test]
    fn by_default_every_suite_is_offered_aes_128_gcm_first_tls_1_3_before_1_2() {
        let suites = cipher_suites(&TlsOptions::default()).unwrap();
        assert_eq!(suites.len(), crate::crypto::all_cipher_suites().len());
        let names: Vec<String> = suites.iter().map(|s| format!("{:?}", s.suite())).collect();
        assert_eq!(names[0], "TLS13_AES_128_GCM_SHA256", "{names:?}");
        let first_other = names
            .iter()
            .position(|n| !n.contains("AES_128_GCM"))
            .unwrap();
        assert!(
            names[first_other..]
                .iter()
                .all(|n| !n.contains("AES_128_GCM")),
            "{names:?}"
        );
        assert!(
            names[..first_other].iter().any(|n| n.contains("ECDHE")),
            "{names:?}"
        );
    }

    #[test]
    fn exact_then_wildcard_then_the_first() {
        let t = table();
        assert_eq!(t.pick(None), 0);
        assert_eq!(t.pick(Some("default.test")), 0);
        assert_eq!(t.pick(Some("a.example.com")), 1);
        // Exact in a later certificate beats a wildcard in an earlier one.
        assert_eq!(t.pick(Some("exact.example.com")), 2);
        assert_eq!(
            t.pick(Some("b.example.com")),
            2,
            "names compare without case"
        );
        assert_eq!(
            t.pick(Some("B.EXAMPLE.COM.")),
            2,
            "a trailing dot is the same name"
        );
        // The first certificate claiming a wildcard has it.
        assert_eq!(t.pick(Some("zzz.example.com")), 1);
        // One label only.
        assert_eq!(t.pick(Some("example.com")), 0);
        assert_eq!(t.pick(Some("x.y.example.com")), 0);
        assert_eq!(t.pick(Some(".example.com")), 0);
        // Malformed patterns match nothing.
        assert_eq!(t.pick(Some("foo.other.test")), 0);
        assert_eq!(t.pick(Some("a.b.test")), 0);
        assert_eq!(t.pick(Some("")), 0);
        assert_eq!(t.pick(Some(".")), 0);
    }

    #[test]
    fn a_domain_extension_comes_before_every_certificates_own_names() {
        let choice = SniChoice {
            // Certificate 2 for www.example.com, certificate 1 for any
            // other one label under example.com.
            domains: SniTable::new(&[vec![], vec!["*.example.com"], vec!["www.example.com"]]),
            names: SniTable::new(&[vec!["www.example.com", "api.example.com"], vec![], vec![]]),
        };
        assert_eq!(choice.pick(Some("WWW.example.com")), 2);
        assert_eq!(choice.pick(Some("api.example.com")), 1);
        assert_eq!(choice.pick(Some("other.test")), 0);
        assert_eq!(choice.pick(None), 0);
    }

    proptest! {
        /// Whatever a client names, the pick is a certificate the listener
        /// has, and it is the one a plain reading of the rules gives.
        #[test]
        fn any_name_picks_what_the_rules_say(
            patterns in proptest::collection::vec(
                proptest::collection::vec("(\\*\\.)?[a-cA-C.*]{0,6}", 0..4), 1..6),
            sni in proptest::option::of("[a-cA-C.*\\-]{0,10}"),
        ) {
            let t = SniTable::new(&patterns);
            let got = t.pick(sni.as_deref());
            prop_assert!(got < patterns.len().max(1));
            prop_assert_eq!(got, model(&patterns, sni.as_deref()));
        }
    }

    /// The rules as a direct scan, no tables.
    fn model(patterns: &[Vec<String>], sni: Option<&str>) -> usize {
        let Some(sni) = sni else { return 0 };
        let sni = sni.trim_end_matches('.').to_ascii_lowercase();
        let norm = |p: &String| p.trim_end_matches('.').to_ascii_lowercase();
        let exact = patterns.iter().position(|names| {
            names
                .iter()
                .map(norm)
                .any(|p| !p.starts_with("*.") && !p.is_empty() && !p.contains('*') && p == sni)
        });
        if let Some(i) = exact {
            return i;
        }
        let Some((label, parent)) = sni.split_once('.') else {
            return 0;
        };
        if label.is_empty() || parent.is_empty() {
            return 0;
        }
        patterns
            .iter()
            .position(|names| {
                names.iter().map(norm).any(|p| {
                    p.strip_prefix("*.").is_some_and(|rest| {
                        !rest.is_empty() && !rest.contains('*') && rest == parent
                    })
                })
            })
            .unwrap_or(0)
    }
}
