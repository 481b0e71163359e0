//! VServer options beyond the basics (`CreateVServer`,
//! `UpdateVServerAttribute`): HTTPS VServers, which are made without a
//! certificate and serve nothing (DescribeVServer `Status` 1) until
//! `BindSSL` gives them one; `UnbindSSL`; the HTTP → HTTPS redirect
//! (`ForwardPort`), `ClientTimeout`, session persistence; and what Weir
//! refuses rather than ignores (compression, TLS security policies);
//! a UDP VServer's check messages (`RequestMsg`/`ResponseMsg`).

use serde_json::{json, Value};
use weir_core::ids::*;
use weir_core::loadbalancer::ListenerUpdate;
use weir_core::model::*;
use weir_core::pool::{PersistenceSpec, PoolUpdate};

use super::{codes, Call, UcError};

type ActionResult = Result<Value, UcError>;

fn fail(e: weir_control::ControlError) -> UcError {
    UcError::from_control(e)
}

fn refuse(name: &str, why: &str) -> UcError {
    UcError::invalid(format!("Params [{name}] not valid: {why}"))
}

/// What a VServer's optional parameters ask of the core.
#[derive(Default)]
pub(super) struct VServerOptions {
    pub idle_timeout_ms: Option<u64>,
    /// `Some(None)`: no redirect (`ForwardPort=0`).
    pub redirect_https_port: Option<Option<u32>>,
    /// `Some(None)`: persistence off.
    pub persistence: Option<Option<PersistenceSpec>>,
    /// The health check's Host (`Domain`).
    pub check_host: Option<String>,
    /// `EnableHTTP2` as the listener's ALPN list (`None`: not given).
    pub alpn: Option<Vec<String>>,
    /// A UDP VServer's `Port` check: the datagram sent (`RequestMsg`)
    /// and the answer that means up (`ResponseMsg`), held to
    /// [`weir_core::udp_check`] by the core.
    pub check_send: Option<String>,
    pub check_expect: Option<String>,
}

/// Reads a VServer's options for `protocol` (lower case), refusing what
/// Weir does not do.
pub(super) fn options(call: &Call, protocol: &str) -> Result<VServerOptions, UcError> {
    let p = &call.params;
    // UCloud's default is off: h2 is offered only when asked for.
    let alpn = match p.int("EnableHTTP2")? {
        None => None,
        // Off is what every other VServer is: 0 says nothing new.
        Some(0) if protocol != "https" => None,
        Some(_) if protocol != "https" => {
            return Err(refuse("EnableHTTP2", "only an HTTPS VServer speaks HTTP/2"))
        }
        Some(0) => Some(vec!["http/1.1".to_owned()]),
        Some(1) => Some(vec!["h2".to_owned(), "http/1.1".to_owned()]),
        Some(other) => return Err(refuse("EnableHTTP2", &format!("{other} is not 0 or 1"))),
    };
    if p.int("EnableCompression")?.is_some_and(|v| v != 0) {
        return Err(refuse(
            "EnableCompression",
            "Weir does not compress responses; send 0",
        ));
    }
    if p.opt("SecurityPolicyId").is_some() {
        return Err(refuse(
            "SecurityPolicyId",
            "Weir serves one TLS policy: TLS 1.2 and 1.3 with ECDHE AEAD suites",
        ));
    }
    let check_send = p.opt("RequestMsg").map(str::to_owned);
    let check_expect = p.opt("ResponseMsg").map(str::to_owned);
    for (name, given) in [("RequestMsg", &check_send), ("ResponseMsg", &check_expect)] {
        if given.is_some() && protocol != "udp" {
            return Err(refuse(name, "check messages are for UDP VServers"));
        }
        if given.is_some() && p.opt("MonitorType") != Some("Port") {
            return Err(refuse(name, "check messages go with MonitorType Port"));
        }
    }
    let http = protocol == "http" || protocol == "https";
    let idle_timeout_ms = match p.int("ClientTimeout")? {
        None => None,
        Some(s) if (1..=86400).contains(&s) => Some(s.unsigned_abs() * 1000),
        Some(s) => {
            return Err(refuse(
                "ClientTimeout",
                &format!("{s} is not 1-86400 seconds"),
            ))
        }
    };
    let redirect_https_port = match p.int("ForwardPort")? {
        None => None,
        Some(0) => Some(None),
        Some(_) if protocol != "http" => {
            return Err(refuse(
                "ForwardPort",
                "only an HTTP VServer redirects to HTTPS",
            ))
        }
        Some(port) => Some(Some(u32::try_from(port).unwrap_or(0))),
    };
    let persistence = match p.opt("PersistenceType") {
        None => None,
        Some("None") => Some(None),
        Some(_) if !http => {
            return Err(refuse(
                "PersistenceType",
                "cookie persistence needs an HTTP or HTTPS VServer",
            ))
        }
        Some("ServerInsert") => Some(Some(PersistenceSpec {
            kind: "http-cookie".into(),
            cookie_name: None,
        })),
        Some("UserDefined") => Some(Some(PersistenceSpec {
            kind: "app-cookie".into(),
            cookie_name: Some(p.req("PersistenceInfo")?.to_owned()),
        })),
        Some(other) => {
            return Err(refuse(
                "PersistenceType",
                &format!("{other:?} is not None, ServerInsert or UserDefined"),
            ))
        }
    };
    Ok(VServerOptions {
        idle_timeout_ms,
        redirect_https_port,
        persistence,
        check_host: p.opt("Domain").map(str::to_owned),
        alpn,
        check_send,
        check_expect,
    })
}

/// The VServer named by `VServerId` on the ULB named by `ULBId`.
async fn vserver(call: &Call) -> Result<Listener, UcError> {
    let p = &call.params;
    let lb_id = LoadBalancerId::new(p.req("ULBId")?);
    let control = &call.dialects.control;
    let lb = control
        .get_load_balancer(&call.principal, &lb_id)
        .await
        .map_err(fail)?;
    let id = p.req("VServerId")?;
    let l = control
        .get_listener(&call.principal, &ListenerId::new(id))
        .await
        .map_err(fail)?;
    if l.lb_id != lb.id {
        return Err(UcError::new(
            codes::VSERVER_NOT_FOUND,
            format!("VServer {id} is not on ULB {}", lb.id),
        ));
    }
    Ok(l)
}

/// `BindSSL`: the certificate joins the VServer's (the first bound is the
/// default; later ones are offered by SNI).
pub(super) async fn bind(call: &Call) -> ActionResult {
    let ssl = call.params.req("SSLId")?.to_owned();
    let l = vserver(call).await?;
    if l.protocol != Protocol::Https {
        return Err(refuse(
            "VServerId",
            "only an HTTPS VServer takes a certificate",
        ));
    }
    // The list is changed as the writer's transaction reads it, so two
    // binds (or a bind and an unbind) at once both take effect.
    let vserver_id = l.id.clone();
    set_certificates(call, l.id, move |current| {
        if current.contains(&ssl) {
            return Err(UcError::new(
                codes::CONFLICT,
                format!("SSL {ssl} is already bound to VServer {}", vserver_id),
            ));
        }
        let mut ids = current.to_vec();
        ids.push(ssl);
        Ok(ids)
    })
    .await
}

/// `UnbindSSL`: the VServer stops serving the certificate; without any
/// it serves nothing until one is bound again.
pub(super) async fn unbind(call: &Call) -> ActionResult {
    let ssl = call.params.req("SSLId")?.to_owned();
    let l = vserver(call).await?;
    let vserver_id = l.id.clone();
    set_certificates(call, l.id, move |current| {
        if !current.contains(&ssl) {
            return Err(UcError::new(
                codes::RESOURCE_NOT_FOUND,
                format!("SSL {ssl} is not bound to VServer {}", vserver_id),
            ));
        }
        Ok(current.iter().filter(|c| **c != ssl).cloned().collect())
    })
    .await
}

/// Sets a VServer's certificates to what `change` makes of the ones it
/// has, inside the writer's transaction.
async fn set_certificates(
    call: &Call,
    id: ListenerId,
    change: impl FnOnce(&[String]) -> Result<Vec<String>, UcError> + Send + 'static,
) -> ActionResult {
    call.dialects
        .control
        .update_listener_with(&call.principal, id, move |current| {
            let ids: Vec<String> = current
                .certificate_ids
                .iter()
                .map(ToString::to_string)
                .collect();
            Ok(ListenerUpdate {
                certificate_ids: Some(change(&ids)?),
                certificates_later: true,
                ..ListenerUpdate::default()
            })
        })
        .await
        .map_err(fail)??;
    Ok(json!({}))
}

/// The certificates a VServer serves, as DescribeVServer's `SSLSet`.
pub(super) async fn ssl_set(call: &Call, l: &Listener) -> Result<Vec<Value>, UcError> {
    let mut set = Vec::with_capacity(l.certificate_ids.len());
    for id in &l.certificate_ids {
        let c = call
            .dialects
            .control
            .get_certificate(&call.principal, id)
            .await
            .map_err(fail)?;
        set.push(json!({
            "SSLId": c.id.as_str(),
            "SSLName": c.name,
            "SSLType": "Pem",
            "Domains": c.names.join(","),
            "HashValue": c.fingerprint_sha256,
            "NotAfter": c.not_after.millis() / 1000,
        }));
    }
    Ok(set)
}

/// `UpdateVServerAttribute`: the name, method, options; what it cannot
/// change (`Protocol`, `ListenType`) must be what it is.
pub(super) async fn update(call: &Call, scheduler: Option<&'static str>) -> ActionResult {
    let p = &call.params;
    let l = vserver(call).await?;
    if let Some(protocol) = p.opt("Protocol") {
        if !protocol.eq_ignore_ascii_case(l.protocol.as_str()) {
            return Err(refuse(
                "Protocol",
                "a VServer's protocol is not changed; create another",
            ));
        }
    }
    if let Some(name) = ["ListenType", "MonitorType", "Path"]
        .into_iter()
        .find(|name| p.opt(name).is_some())
    {
        return Err(refuse(
            name,
            "the listen type and health check are set when the VServer is created",
        ));
    }
    let o = options(call, l.protocol.as_str())?;
    for (name, given) in [
        ("Domain", o.check_host.is_some()),
        ("RequestMsg", o.check_send.is_some()),
        ("ResponseMsg", o.check_expect.is_some()),
    ] {
        if given {
            return Err(refuse(
                name,
                "the health check is set when the VServer is created",
            ));
        }
    }
    let control = &call.dialects.control;
    let l = control
        .update_listener(
            &call.principal,
            l.id,
            ListenerUpdate {
                name: p.opt("VServerName").map(str::to_owned),
                scheduler: scheduler.map(str::to_owned),
                idle_timeout_ms: o.idle_timeout_ms.map(Some),
                redirect_https_port: o.redirect_https_port,
                alpn_protocols: o.alpn.clone(),
                ..ListenerUpdate::default()
            },
        )
        .await
        .map_err(fail)?;
    if o.persistence.is_some() {
        let update = PoolUpdate {
            persistence: o.persistence,
            ..PoolUpdate::default()
        };
        control
            .update_pool(&call.principal, l.default_pool_id, update)
            .await
            .map_err(fail)?;
    }
    Ok(json!({}))
}
