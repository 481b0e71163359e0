//! HTTP and HTTPS listeners' own parameters: what
//! `CreateLoadBalancerHTTP(S)Listener` and
//! `SetLoadBalancerHTTPSListenerAttribute` may ask and how each is
//! honoured (timeouts, `X-Forwarded-*` headers, sticky sessions, the
//! certificate, the redirect to HTTPS) or refused with
//! `UnsupportedOperation` (bandwidth caps, gzip, the extra
//! `X-Forwarded-SLB*` headers, mutual TLS, HTTP/2, cipher policies other
//! than the one Weir serves); and the two attribute reads.

use super::*;
use weir_core::loadbalancer::ListenerUpdate;
use weir_core::pool::PersistenceSpec;

/// The one cipher policy Weir's rustls configuration is: TLS 1.2 and 1.3,
/// ECDHE with AES-GCM or ChaCha20-Poly1305 only.
pub(super) const CIPHER_POLICY: &str = "tls_cipher_policy_1_2_strict_with_1_3";

pub(super) fn unsupported(name: &str, why: &str) -> AliError {
    AliError::new(
        axum::http::StatusCode::BAD_REQUEST,
        "UnsupportedOperation",
        format!("{name}: {why}"),
    )
}

fn on_off(call: &Call, name: &str) -> Result<Option<bool>, AliError> {
    match call.params.opt(name) {
        None => Ok(None),
        Some("on") => Ok(Some(true)),
        Some("off") => Ok(Some(false)),
        Some(other) => Err(AliError::invalid(format!(
            "The parameter {name} is invalid: {other:?} is not on or off."
        ))),
    }
}

/// Seconds in `range`, as milliseconds.
fn seconds(call: &Call, name: &str, range: (i64, i64)) -> Result<Option<u64>, AliError> {
    match call.params.int(name)? {
        None => Ok(None),
        Some(s) if (range.0..=range.1).contains(&s) => Ok(Some(s.unsigned_abs() * 1000)),
        Some(s) => Err(AliError::invalid(format!(
            "The parameter {name} is invalid: {s} is not {}-{} seconds.",
            range.0, range.1
        ))),
    }
}

/// What an HTTP or HTTPS listener's parameters ask of the core.
#[derive(Default)]
pub(super) struct HttpOptions {
    pub idle_timeout_ms: Option<u64>,
    pub backend_timeout_ms: Option<u64>,
    /// `None` on Set when no `XForwardedFor*` parameter came.
    pub forwarded_headers: Option<ForwardedHeaders>,
    /// `Some(None)`: sticky sessions off.
    pub persistence: Option<Option<PersistenceSpec>>,
    /// HTTP: `ListenerForward`/`ForwardPort`; `Some(None)`: forward again.
    pub redirect_https_port: Option<Option<u32>>,
    /// HTTPS: `EnableHttp2` as the listener's ALPN list; `Some(empty)`:
    /// the default (`h2` first), `None`: unchanged.
    pub alpn: Option<Vec<String>>,
    /// HTTPS: `CACertificateId`, two-way authentication (a CA certificate
    /// of the project; every client presents a certificate it signed);
    /// `Some(off)` for an empty id on Set, `None`: unchanged.
    pub client_auth: Option<weir_core::client_auth::ClientAuth>,
}

/// Reads (and refuses what Weir does not do of) an HTTP or HTTPS
/// listener's parameters. `creating`: Aliyun's defaults apply to what is
/// absent; on Set, absent is unchanged.
pub(super) fn http_options(
    call: &Call,
    https: bool,
    creating: bool,
) -> Result<HttpOptions, AliError> {
    let p = &call.params;
    if let Some(b) = p.int("Bandwidth")? {
        if b != -1 {
            return Err(unsupported(
                "Bandwidth",
                "bandwidth caps are not enforced; only -1 (unlimited) is served",
            ));
        }
    }
    if on_off(call, "Gzip")? == Some(true) {
        return Err(unsupported(
            "Gzip",
            "Weir does not compress responses; send Gzip=off",
        ));
    }
    for name in [
        "XForwardedFor_SLBIP",
        "XForwardedFor_SLBID",
        "XForwardedFor_ClientSrcPort",
    ] {
        if on_off(call, name)? == Some(true) {
            return Err(unsupported(
                name,
                "this header is not added; X-Forwarded-For, -Proto and -Port are",
            ));
        }
    }
    if p.any_prefixed("Tag.") {
        return Err(unsupported("Tag", "tags on SLB listeners are not kept"));
    }
    if p.opt("CookieTimeout").is_some() {
        return Err(unsupported(
            "CookieTimeout",
            "the inserted cookie lasts the browser session; omit CookieTimeout",
        ));
    }
    let mut alpn = None;
    if https {
        // Aliyun's default is on: the default ALPN list, h2 first.
        alpn = match on_off(call, "EnableHttp2")? {
            Some(true) => Some(Vec::new()),
            Some(false) => Some(vec!["http/1.1".to_owned()]),
            None => None,
        };
        if let Some(policy) = p.opt("TLSCipherPolicy") {
            if policy != CIPHER_POLICY {
                return Err(unsupported("TLSCipherPolicy", &format!("Weir serves TLS 1.2 and 1.3 with ECDHE AEAD suites only, which is {CIPHER_POLICY}")));
            }
        }
    } else {
        for name in [
            "EnableHttp2",
            "TLSCipherPolicy",
            "CACertificateId",
            "ServerCertificateId",
        ] {
            if p.opt(name).is_some() {
                return Err(AliError::invalid(format!(
                    "The parameter {name} is only for HTTPS listeners."
                )));
            }
        }
    }
    let headers = [
        "XForwardedFor",
        "XForwardedFor_proto",
        "XForwardedFor_SLBPORT",
    ]
    .iter()
    .map(|name| on_off(call, name))
    .collect::<Result<Vec<_>, _>>()?;
    let forwarded_headers =
        (creating || headers.iter().any(Option::is_some)).then(|| ForwardedHeaders {
            // Aliyun's defaults: the client's address on, the rest off.
            forwarded_for: headers[0].unwrap_or(true),
            forwarded_proto: headers[1].unwrap_or(false),
            forwarded_port: headers[2].unwrap_or(false),
            client_cert: Default::default(),
        });
    let persistence = match on_off(call, "StickySession")? {
        None | Some(false) if p.opt("StickySessionType").is_some() && !creating => {
            return Err(AliError::invalid(
                "The parameter StickySessionType needs StickySession=on.",
            ))
        }
        None => None,
        Some(false) => Some(None),
        Some(true) => Some(Some(match p.req("StickySessionType")? {
            "insert" => PersistenceSpec {
                kind: "http-cookie".into(),
                cookie_name: None,
            },
            "server" => PersistenceSpec {
                kind: "app-cookie".into(),
                cookie_name: Some(p.req("Cookie")?.to_owned()),
            },
            other => {
                return Err(AliError::invalid(format!(
                    "The parameter StickySessionType is invalid: {other:?} is not insert or server."
                )))
            }
        })),
    };
    let redirect_https_port = match (https, on_off(call, "ListenerForward")?) {
        (true, Some(_)) => {
            return Err(AliError::invalid(
                "The parameter ListenerForward is only for HTTP listeners.",
            ))
        }
        (_, Some(true)) => Some(Some(
            u32::try_from(
                p.int("ForwardPort")?
                    .ok_or_else(|| AliError::missing("ForwardPort"))?,
            )
            .unwrap_or(0),
        )),
        (_, Some(false)) => Some(None),
        (_, None) if p.opt("ForwardPort").is_some() => {
            return Err(AliError::invalid(
                "The parameter ForwardPort needs ListenerForward=on.",
            ))
        }
        (_, None) => None,
    };
    // Sent empty (`opt` reads that as absent), it turns two-way
    // authentication off.
    let ca_sent = p.names().any(|n| n.eq_ignore_ascii_case("CACertificateId"));
    let client_auth = (https && ca_sent).then(|| client_ca(p.opt("CACertificateId").unwrap_or("")));
    Ok(HttpOptions {
        client_auth,
        idle_timeout_ms: seconds(call, "IdleTimeout", (1, 60))?,
        backend_timeout_ms: seconds(call, "RequestTimeout", (1, 180))?,
        forwarded_headers,
        persistence,
        redirect_https_port,
        alpn,
    })
}

/// `CACertificateId` as the listener's client verification: SLB's
/// two-way authentication is mandatory (a client without a certificate
/// the CA signed gets no connection); empty turns it off. The control
/// plane holds the id to a CA certificate of the listener's project.
fn client_ca(id: &str) -> weir_core::client_auth::ClientAuth {
    use weir_core::client_auth::{ClientAuth, ClientAuthMode};
    use weir_core::keymgr::{KeyRef, TlsRef};
    if id.is_empty() {
        return ClientAuth::default();
    }
    ClientAuth {
        mode: ClientAuthMode::Mandatory,
        ca: Some(TlsRef {
            href: id.to_owned(),
            target: KeyRef::Certificate(CertificateId::new(id)),
        }),
        crl: None,
    }
}

/// The control plane names any missing certificate as a server
/// certificate; the one `CACertificateId` named is SLB's
/// `CACertificateId.NotFound`.
pub(super) fn ca_not_found(call: &Call, mut err: AliError) -> AliError {
    if let Some(ca) = call.params.opt("CACertificateId") {
        if err.code == "ServerCertificateId.NotFound" && err.message.contains(ca) {
            err.code = "CACertificateId.NotFound";
        }
    }
    err
}

fn scheduler_name(s: Scheduler) -> &'static str {
    match s {
        Scheduler::Wrr => "wrr",
        Scheduler::Lc => "wlc",
        Scheduler::Sh | Scheduler::ShPort => "sch",
    }
}

fn flag(on: bool) -> &'static str {
    if on {
        "on"
    } else {
        "off"
    }
}

/// `DescribeLoadBalancerHTTP(S)ListenerAttribute`.
pub(super) async fn describe_attribute(call: &Call, protocol: Protocol) -> ActionResult {
    let lb = lb(call).await?;
    let l = listener(call, &lb).await?;
    if l.protocol != protocol {
        return Err(AliError::new(
            axum::http::StatusCode::NOT_FOUND,
            "InvalidListener.NotFound",
            format!(
                "There is no {protocol} listener on port {} of load balancer {}.",
                l.single_port().unwrap_or(0),
                lb.id
            ),
        ));
    }
    let (own, _, _) = call
        .dialects
        .control
        .backends_of(&call.principal, &RegisterTarget::Listener(l.id.clone()))
        .await
        .map_err(fail)?;
    let h = l.forwarded_headers;
    let mut out = json!({
        "ListenerPort": l.single_port(),
        "BackendServerPort": l.backend_port,
        "Bandwidth": -1,
        "Status": if l.enabled { "running" } else { "stopped" },
        "Description": l.name,
        "Scheduler": scheduler_name(l.scheduler),
        "XForwardedFor": flag(h.forwarded_for),
        "XForwardedFor_proto": flag(h.forwarded_proto),
        "XForwardedFor_SLBPORT": flag(h.forwarded_port),
        "XForwardedFor_SLBIP": "off",
        "XForwardedFor_SLBID": "off",
        "XForwardedFor_ClientSrcPort": "off",
        "Gzip": "off",
        "IdleTimeout": l.idle_timeout_ms.map(|ms| ms / 1000),
        "RequestTimeout": l.backend_timeout_ms.map(|ms| ms / 1000),
        "VServerGroupId": l.group_pool_id.as_ref().map(PoolId::as_str),
    });
    super::acls::listener_view(&l, &mut out);
    match &own.persistence {
        Some(Persistence::HttpCookie) => {
            out["StickySession"] = json!("on");
            out["StickySessionType"] = json!("insert");
        }
        Some(Persistence::AppCookie { cookie_name }) => {
            out["StickySession"] = json!("on");
            out["StickySessionType"] = json!("server");
            out["Cookie"] = json!(cookie_name);
        }
        _ => out["StickySession"] = json!("off"),
    }
    match &own.health_check {
        None => out["HealthCheck"] = json!("off"),
        Some(check) => {
            out["HealthCheck"] = json!("on");
            out["HealthCheckInterval"] = json!(check.interval_ms / 1000);
            out["HealthCheckTimeout"] = json!(check.timeout_ms / 1000);
            out["HealthyThreshold"] = json!(check.rise);
            out["UnhealthyThreshold"] = json!(check.fall);
            out["HealthCheckConnectPort"] = json!(check.port);
            if let CheckKind::Http {
                path,
                expected,
                request,
            }
            | CheckKind::Https {
                path,
                expected,
                request,
            } = &check.kind
            {
                super::listeners::http_check_view(&mut out, path, expected, request);
            }
        }
    }
    if protocol == Protocol::Https {
        out["ServerCertificateId"] = json!(l.certificate_ids.first().map(CertificateId::as_str));
        out["EnableHttp2"] = json!(flag(l.tls_options.alpn().iter().any(|p| p == "h2")));
        out["TLSCipherPolicy"] = json!(CIPHER_POLICY);
        if let Some(ca) = &l.client_auth.ca {
            out["CACertificateId"] = json!(ca.href);
        }
        out["DomainExtensions"] = json!({"DomainExtension": l.domain_extensions.iter().map(super::domains::view).collect::<Vec<_>>()});
    } else {
        out["ListenerForward"] = json!(flag(l.redirect_https_port.is_some()));
        if let Some(port) = l.redirect_https_port {
            out["ForwardPort"] = json!(port);
        }
    }
    Ok(out)
}

/// `SetLoadBalancerHTTPSListenerAttribute`: everything is read and
/// checked before the first write; the listener is changed in one
/// command, then its pool's health check and sticky session in another.
pub(super) async fn set_https_attribute(call: &Call) -> ActionResult {
    let p = &call.params;
    let options = http_options(call, true, false)?;
    let mut health = health_spec(call, "http")?;
    let scheduler = p.opt("Scheduler").map(scheduler).transpose()?;
    let group = match (on_off(call, "VServerGroup")?, p.opt("VServerGroupId")) {
        (Some(false), _) => Some(None),
        (_, Some(id)) => Some(Some(id.to_owned())),
        (Some(true), None) => return Err(AliError::missing("VServerGroupId")),
        (None, None) => None,
    };
    let lb = lb(call).await?;
    let l = listener(call, &lb).await?;
    let acl = super::acls::AclParams::read(call)?;
    // Refused before the write as ever; merged again below.
    acl.clone().merge(l.acl.as_ref())?;
    if l.protocol != Protocol::Https {
        return Err(AliError::new(
            axum::http::StatusCode::NOT_FOUND,
            "InvalidListener.NotFound",
            format!(
                "There is no HTTPS listener on port {} of load balancer {}.",
                l.single_port().unwrap_or(0),
                lb.id
            ),
        ));
    }
    let new_default = p.opt("ServerCertificateId").map(str::to_owned);
    let update = ListenerUpdate {
        name: p.opt("Description").map(str::to_owned),
        scheduler: scheduler.map(str::to_owned),
        idle_timeout_ms: options.idle_timeout_ms.map(Some),
        backend_timeout_ms: options.backend_timeout_ms.map(Some),
        forwarded_headers: options.forwarded_headers,
        group_pool_id: group,
        alpn_protocols: options.alpn.clone(),
        client_auth: options.client_auth.clone(),
        ..ListenerUpdate::default()
    };
    let control = &call.dialects.control;
    // The certificate list and the ACL merge into the listener's inside
    // the writer's transaction: a concurrent Set's part is not lost.
    let l = control
        .update_listener_with(&call.principal, l.id, move |current| {
            // A new default certificate; the others stay (SNI), without
            // it twice.
            let certificate_ids = new_default.map(|new| {
                std::iter::once(new.clone())
                    .chain(
                        current
                            .certificate_ids
                            .iter()
                            .map(ToString::to_string)
                            .filter(|c| *c != new),
                    )
                    .collect::<Vec<_>>()
            });
            Ok::<_, AliError>(ListenerUpdate {
                certificate_ids,
                acl: acl.merge(current.acl.as_ref())?,
                ..update
            })
        })
        .await
        .map_err(|e| ca_not_found(call, fail(e)))??;
    if let (Some(check), Some(port)) = (health.as_mut(), l.backend_port) {
        check.port = check.port.or(Some(u32::from(port)));
    }
    let switch_given = p.opt("HealthCheck").is_some();
    let pool_update = PoolUpdate {
        health_check: if health.is_some() || switch_given {
            Some(health.clone())
        } else {
            None
        },
        persistence: options.persistence.clone(),
        ..PoolUpdate::default()
    };
    if pool_update.health_check.is_some() || pool_update.persistence.is_some() {
        control
            .update_pool(
                &call.principal,
                l.default_pool_id.clone(),
                pool_update.clone(),
            )
            .await
            .map_err(fail)?;
        // The check also watches the group or default server group served.
        if let Some(check) = pool_update.health_check {
            let served = l
                .group_pool_id
                .clone()
                .unwrap_or(lb.default_pool_id.clone());
            let update = PoolUpdate {
                health_check: Some(check),
                ..PoolUpdate::default()
            };
            control
                .update_pool(&call.principal, served, update)
                .await
                .map_err(fail)?;
        }
    }
    Ok(json!({}))
}
