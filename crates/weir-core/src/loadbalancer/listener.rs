//! Listener rules: a listener's ports, protocol and options on create and
//! update, the redirect from HTTP to an HTTPS sibling, and what keeps a
//! listener from being deleted.

use super::*;

/// A listener as requested; exactly one of `port`, `port_ranges` and
/// `all_ports` describes its ports.
#[derive(Debug, Clone, Default)]
pub struct NewListener {
    pub name: String,
    pub protocol: String,
    pub port: Option<u32>,
    pub port_ranges: Option<Vec<(u32, u32)>>,
    pub all_ports: bool,
    pub forwarding_mode: Option<String>,
    pub scheduler: Option<String>,
    /// `none` (default), `v1` or `v2`; TCP listeners only.
    pub proxy_protocol: Option<String>,
    /// Aliyun `BackendServerPort`: single-port listeners only.
    pub backend_port: Option<u32>,
    /// A server group of the same load balancer to forward to (Aliyun
    /// `VServerGroupId`); checked by [`check_group_pool`].
    pub group_pool_id: Option<String>,
    /// See [`crate::limits`]; `None`: the data plane's defaults.
    pub max_connections: Option<u64>,
    pub idle_timeout_ms: Option<u64>,
    pub connect_timeout_ms: Option<u64>,
    pub backend_timeout_ms: Option<u64>,
    pub inspect_timeout_ms: Option<u64>,
    /// Client networks that may connect; empty: any.
    pub allowed_cidrs: Vec<IpNet>,
    /// An access control list of the project and its mode; the caller
    /// checks it with [`crate::acl::check_attach`].
    pub acl: Option<crate::acl::ListenerAcl>,
    pub description: Option<String>,
    /// Created stopped (Octavia `admin_state_up: false`).
    pub disabled: bool,
    /// The headers an HTTP listener adds; `None`: the default.
    pub forwarded_headers: Option<ForwardedHeaders>,
    /// Checked by [`crate::tags::validate`].
    pub tags: Vec<String>,
    /// HTTPS listeners: the certificates served, the default first
    /// (checked by [`crate::certificate::listener_certificate_ids`]; the
    /// caller checks that they are the project's with
    /// [`crate::certificate::check_owned`]).
    pub certificate_ids: Vec<String>,
    /// HTTPS listeners serving from the key manager instead (checked by
    /// [`crate::keymgr::listener_tls_refs`]; the caller resolves them).
    pub tls_refs: Vec<crate::keymgr::TlsRef>,
    /// HTTPS listeners: versions, suites, ALPN ([`crate::tls::check`]).
    pub tls_options: crate::tls::TlsOptions,
    /// HTTPS listeners: client-certificate verification
    /// ([`crate::client_auth::check`]; the caller resolves the refs and
    /// holds their bytes to `weir-tls`'s rules).
    pub client_auth: crate::client_auth::ClientAuth,
    /// An HTTPS listener made before its certificate (UCloud's VServer,
    /// bound with `BindSSL` later): it may name none, and serves nothing
    /// until it does.
    pub certificates_later: bool,
    /// HTTP listeners: answer every request with a redirect to the HTTPS
    /// listener of the same load balancer on this port ([`redirect_target`]).
    pub redirect_https_port: Option<u32>,
}

/// The port an HTTP listener redirects to: an HTTPS listener of the same
/// load balancer (`siblings`) listens on it. Only an HTTP listener
/// redirects (an HTTPS one is already there; TCP and UDP carry no URL).
pub fn redirect_target(
    protocol: Protocol,
    port: Option<u32>,
    siblings: &[Listener],
) -> Result<Option<u16>, Error> {
    const FIELD: &str = "redirect_https_port";
    let Some(port) = port else { return Ok(None) };
    if protocol != Protocol::Http {
        return Err(Error::invalid(
            FIELD,
            format!("only an http listener redirects to https, not {protocol}"),
        ));
    }
    let port = parse_port(FIELD, port)?;
    let target = siblings
        .iter()
        .any(|l| l.protocol == Protocol::Https && l.single_port() == Some(port));
    if !target {
        return Err(Error::invalid(
            FIELD,
            format!("no https listener of this load balancer listens on port {port}"),
        ));
    }
    Ok(Some(port))
}

/// Checks an updated listener's redirect against the load balancer's
/// other listeners (the planner has checked the protocol and port).
pub fn check_redirect(next: &Listener, siblings: &[Listener]) -> Result<(), Error> {
    let others: Vec<Listener> = siblings
        .iter()
        .filter(|l| l.id != next.id)
        .cloned()
        .collect();
    redirect_target(
        next.protocol,
        next.redirect_https_port.map(u32::from),
        &others,
    )
    .map(|_| ())
}

/// An HTTPS listener an HTTP listener redirects to is not deleted: the
/// redirect would send every client to a closed port.
pub fn check_listener_delete(listener: &Listener, siblings: &[Listener]) -> Result<(), Error> {
    if listener.protocol != Protocol::Https {
        return Ok(());
    }
    let port = listener.single_port();
    match siblings.iter().find(|l| {
        l.id != listener.id && l.redirect_https_port.is_some() && l.redirect_https_port == port
    }) {
        None => Ok(()),
        Some(from) => Err(Error::conflict(format!(
            "listener {} redirects to listener {}; change or delete it first",
            from.id, listener.id
        ))),
    }
}

/// Only an HTTP (or HTTPS) listener adds headers, and only one that
/// terminates TLS (https) has client certificates to describe.
fn check_forwarded_headers(protocol: Protocol, headers: ForwardedHeaders) -> Result<(), Error> {
    if !protocol.is_http() && headers != ForwardedHeaders::default() {
        return Err(Error::invalid(
            "forwarded_headers",
            "only an http or https listener adds headers",
        ));
    }
    if protocol != Protocol::Https && headers.client_cert.any() {
        return Err(Error::invalid(
            "forwarded_headers",
            format!(
                "{} only on an https listener (TLS terminated by Weir)",
                headers.client_cert.names().collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    Ok(())
}

/// A listener that forwards nothing (`prometheus`) has no pool to name.
fn no_pool(protocol: Protocol) -> Error {
    Error::invalid(
        "group_pool_id",
        format!("a {protocol} listener answers itself and has no pool"),
    )
}

/// What a `prometheus` listener cannot have: it serves one port of its
/// load balancer's VIP in proxy mode and forwards nothing, so a pool, a
/// backend port, a scheduler or a PROXY header would be settings it then
/// ignores.
fn check_prometheus(
    protocol: Protocol,
    req: &NewListener,
    ports: &ListenerPorts,
    mode: ForwardingMode,
) -> Result<(), Error> {
    if protocol.forwards() {
        return Ok(());
    }
    if req.group_pool_id.is_some() {
        return Err(no_pool(protocol));
    }
    let refused = [
        ("port", !ports.is_single(), "a single port"),
        (
            "forwarding_mode",
            mode != ForwardingMode::Proxy,
            "proxy mode",
        ),
        (
            "backend_port",
            req.backend_port.is_some(),
            "no backend port",
        ),
        ("scheduler", req.scheduler.is_some(), "no scheduler"),
    ];
    match refused.into_iter().find(|(_, bad, _)| *bad) {
        Some((field, _, wants)) => Err(Error::invalid(
            field,
            format!("a {protocol} listener answers itself: it takes {wants}"),
        )),
        None => Ok(()),
    }
}

/// A new listener together with its default pool.
#[derive(Debug, Clone)]
pub struct ListenerPlan {
    pub listener: Listener,
    pub default_pool: Pool,
}

/// A change to a listener's name, scheduler or PROXY protocol (Octavia
/// sets the last two through its pool's `lb_algorithm` and `protocol`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListenerUpdate {
    pub name: Option<String>,
    /// Stops (false) or starts (true) serving the listener.
    pub enabled: Option<bool>,
    pub scheduler: Option<String>,
    pub proxy_protocol: Option<String>,
    /// `Some(None)`: back to the data plane's default.
    pub max_connections: Option<Option<u64>>,
    pub idle_timeout_ms: Option<Option<u64>>,
    pub connect_timeout_ms: Option<Option<u64>>,
    pub backend_timeout_ms: Option<Option<u64>>,
    pub inspect_timeout_ms: Option<Option<u64>>,
    /// Replaces the allow list (empty: any client).
    pub allowed_cidrs: Option<Vec<IpNet>>,
    /// `Some(None)`: no ACL; `Some(Some(_))`: this one (the caller checks
    /// it with [`crate::acl::check_attach`]).
    pub acl: Option<Option<crate::acl::ListenerAcl>>,
    pub description: Option<String>,
    /// The server group to forward to; `Some(None)`: none (back to the
    /// listener's own pool). The caller checks the group with
    /// [`crate::group::check_attach`].
    pub group_pool_id: Option<Option<String>>,
    pub forwarded_headers: Option<ForwardedHeaders>,
    /// Replaces the tags (empty clears them); `None` leaves them.
    pub tags: Option<Vec<String>>,
    /// Replaces an HTTPS listener's certificates (rotation); the caller
    /// checks ownership as on create.
    pub certificate_ids: Option<Vec<String>>,
    /// Replaces the key-manager refs (rotation); the caller resolves them.
    pub tls_refs: Option<Vec<crate::keymgr::TlsRef>>,
    /// `Some(empty)`: back to the default versions.
    pub tls_versions: Option<Vec<crate::tls::TlsVersion>>,
    /// `Some(None)`: back to every suite.
    pub tls_ciphers: Option<Option<String>>,
    /// `Some(empty)`: back to the default ALPN.
    pub alpn_protocols: Option<Vec<String>>,
    /// Replaces the client-certificate verification whole (the caller
    /// merges a dialect's per-field changes and resolves the refs).
    pub client_auth: Option<crate::client_auth::ClientAuth>,
    /// As [`NewListener::certificates_later`]: the new list may be empty.
    pub certificates_later: bool,
    /// `Some(None)`: forward again; `Some(Some(port))`: redirect (the
    /// caller checks the target with [`check_redirect`]).
    pub redirect_https_port: Option<Option<u32>>,
}

/// Applies `update` under the same rules as creation; `lb` is the
/// listener's load balancer (its VIP's family bounds the allow list).
pub fn plan_listener_update(
    lb: &LoadBalancer,
    current: &Listener,
    update: &ListenerUpdate,
    now: Timestamp,
) -> Result<Listener, Error> {
    let mut next = current.clone();
    if let Some(text) = &update.description {
        validate_description("description", text)?;
        next.description = text.clone();
    }
    if let Some(group) = &update.group_pool_id {
        if group.is_some() && !next.protocol.forwards() {
            return Err(no_pool(next.protocol));
        }
        next.group_pool_id = group.as_deref().map(PoolId::new);
    }
    if let Some(refs) = &update.tls_refs {
        next.tls_refs = keymgr::listener_tls_refs(next.protocol, refs)?;
    }
    if let Some(ids) = &update.certificate_ids {
        next.certificate_ids = if update.certificates_later {
            certificate::listener_certificate_ids_later(next.protocol, ids)?
        } else {
            certificate::listener_certificate_ids(next.protocol, ids, !next.tls_refs.is_empty())?
        };
    }
    if let Some(port) = update.redirect_https_port {
        next.redirect_https_port = match port {
            None => None,
            Some(_) if next.protocol != Protocol::Http => {
                return Err(Error::invalid(
                    "redirect_https_port",
                    format!(
                        "only an http listener redirects to https, not {}",
                        next.protocol
                    ),
                ))
            }
            Some(p) => Some(parse_port("redirect_https_port", p)?),
        };
    }
    // Certificates or key-manager refs, never both; none only for a
    // listener whose certificate comes later (UCloud's BindSSL).
    let tls_changed = update.certificate_ids.is_some() || update.tls_refs.is_some();
    if next.protocol == Protocol::Https
        && tls_changed
        && !(next.certificate_ids.is_empty() && update.certificates_later)
        && next.certificate_ids.is_empty() == next.tls_refs.is_empty()
    {
        return Err(Error::invalid(
            "certificate_ids",
            "an https listener serves either certificates or key-manager refs",
        ));
    }
    if let Some(versions) = &update.tls_versions {
        next.tls_options.versions = versions.clone();
    }
    if let Some(ciphers) = &update.tls_ciphers {
        next.tls_options.ciphers = ciphers.clone();
    }
    if let Some(alpn) = &update.alpn_protocols {
        next.tls_options.alpn = alpn.clone();
    }
    crate::tls::check(next.protocol, &next.tls_options)?;
    if let Some(auth) = &update.client_auth {
        crate::client_auth::check(next.protocol, auth)?;
        next.client_auth = auth.clone();
    }
    if let Some(headers) = update.forwarded_headers {
        check_forwarded_headers(next.protocol, headers)?;
        next.forwarded_headers = headers;
    }
    if let Some(name) = &update.name {
        validate_name("name", name)?;
        next.name = name.clone();
    }
    if let Some(enabled) = update.enabled {
        next.enabled = enabled;
    }
    if let Some(cap) = update.max_connections {
        next.max_connections = limits::max_connections(cap)?;
    }
    if let Some(idle) = update.idle_timeout_ms {
        next.idle_timeout_ms = limits::idle_timeout_ms(idle)?;
    }
    if let Some(ms) = update.connect_timeout_ms {
        next.connect_timeout_ms = limits::connect_timeout_ms(ms)?;
    }
    if let Some(ms) = update.backend_timeout_ms {
        next.backend_timeout_ms = limits::backend_timeout_ms(ms)?;
    }
    if let Some(ms) = update.inspect_timeout_ms {
        next.inspect_timeout_ms = limits::inspect_timeout_ms(ms)?;
    }
    if let Some(cidrs) = &update.allowed_cidrs {
        next.allowed_cidrs = limits::allowed_cidrs(lb.vip, cidrs)?;
    }
    if let Some(acl) = &update.acl {
        next.acl = acl.clone();
    }
    tags::apply("tags", &mut next.tags, update.tags.as_deref())?;
    if let Some(s) = &update.scheduler {
        next.scheduler = parse_enum("scheduler", s, Scheduler::NAMES)?;
    }
    if let Some(p) = &update.proxy_protocol {
        next.proxy_protocol = parse_enum("proxy_protocol", p, ProxyProtocol::NAMES)?;
        if next.proxy_protocol != ProxyProtocol::None && !next.protocol.is_stream_relay() {
            return Err(Error::invalid(
                "proxy_protocol",
                "the PROXY protocol is only sent on tcp listeners",
            ));
        }
    }
    if next != *current {
        next.updated_at = now;
    }
    Ok(next)
}

fn listener_ports(req: &NewListener) -> Result<ListenerPorts, Error> {
    match (req.port, &req.port_ranges, req.all_ports) {
        (Some(p), None, false) => Ok(ListenerPorts::Single(parse_port("port", p)?)),
        (None, Some(ranges), false) => {
            if ranges.is_empty() {
                return Err(Error::invalid(
                    "port_ranges",
                    "must name at least one range",
                ));
            }
            let mut parsed = Vec::with_capacity(ranges.len());
            for (i, (start, end)) in ranges.iter().enumerate() {
                let start = parse_port(&format!("port_ranges[{i}].start"), *start)?;
                let end = parse_port(&format!("port_ranges[{i}].end"), *end)?;
                if start > end {
                    return Err(Error::invalid(
                        format!("port_ranges[{i}]"),
                        "start is after end",
                    ));
                }
                parsed.push(PortRange { start, end });
            }
            parsed.sort();
            if let Some(w) = parsed.windows(2).find(|w| w[0].overlaps(&w[1])) {
                return Err(Error::invalid(
                    "port_ranges",
                    format!(
                        "ranges {}-{} and {}-{} overlap",
                        w[0].start, w[0].end, w[1].start, w[1].end
                    ),
                ));
            }
            Ok(ListenerPorts::Ranges(parsed))
        }
        (None, None, true) => Ok(ListenerPorts::All),
        _ => Err(Error::invalid(
            "port",
            "give exactly one of port, port_ranges or all_ports",
        )),
    }
}

/// Plans a listener on `lb`. Its ports must not overlap a listener of the
/// same protocol on the same load balancer.
pub fn plan_listener(
    lb: &LoadBalancer,
    siblings: &[Listener],
    req: &NewListener,
    ids: &mut dyn IdSource,
    now: Timestamp,
) -> Result<ListenerPlan, Error> {
    validate_name("name", &req.name)?;
    let protocol: Protocol = parse_enum("protocol", &req.protocol, Protocol::NAMES)?;
    let ports = listener_ports(req)?;
    let forwarding_mode = match &req.forwarding_mode {
        Some(m) => parse_enum("forwarding_mode", m, ForwardingMode::NAMES)?,
        None => ForwardingMode::Proxy,
    };
    let scheduler = match &req.scheduler {
        Some(s) => parse_enum("scheduler", s, Scheduler::NAMES)?,
        None => Scheduler::Wrr,
    };
    let proxy_protocol = match &req.proxy_protocol {
        Some(p) => parse_enum("proxy_protocol", p, ProxyProtocol::NAMES)?,
        None => ProxyProtocol::None,
    };
    if proxy_protocol != ProxyProtocol::None && !protocol.is_stream_relay() {
        return Err(Error::invalid(
            "proxy_protocol",
            "the PROXY protocol is sent to backends of tcp listeners only (http listeners add X-Forwarded-For)",
        ));
    }
    if protocol.is_http() && forwarding_mode != ForwardingMode::Proxy {
        return Err(Error::invalid(
            "forwarding_mode",
            format!("an {protocol} listener terminates HTTP and can only forward in proxy mode"),
        ));
    }
    check_prometheus(protocol, req, &ports, forwarding_mode)?;
    let tls_refs = keymgr::listener_tls_refs(protocol, &req.tls_refs)?;
    let certificate_ids = if req.certificates_later && tls_refs.is_empty() {
        certificate::listener_certificate_ids_later(protocol, &req.certificate_ids)?
    } else {
        certificate::listener_certificate_ids(protocol, &req.certificate_ids, !tls_refs.is_empty())?
    };
    crate::tls::check(protocol, &req.tls_options)?;
    crate::client_auth::check(protocol, &req.client_auth)?;
    let redirect_https_port = redirect_target(protocol, req.redirect_https_port, siblings)?;
    let backend_port = match req.backend_port {
        None => None,
        Some(_) if !ports.is_single() => {
            return Err(Error::invalid(
                "backend_port",
                "only a single-port listener can name the port of its backends",
            ))
        }
        Some(p) => Some(parse_port("backend_port", p)?),
    };
    let max_connections = limits::max_connections(req.max_connections)?;
    let idle_timeout_ms = limits::idle_timeout_ms(req.idle_timeout_ms)?;
    let connect_timeout_ms = limits::connect_timeout_ms(req.connect_timeout_ms)?;
    let backend_timeout_ms = limits::backend_timeout_ms(req.backend_timeout_ms)?;
    let inspect_timeout_ms = limits::inspect_timeout_ms(req.inspect_timeout_ms)?;
    let allowed_cidrs = limits::allowed_cidrs(lb.vip, &req.allowed_cidrs)?;
    let mine = ports.ranges();
    // Ports collide by transport: a TCP, an HTTP and a TLS listener on one
    // VIP port would all need the same TCP socket.
    for other in siblings
        .iter()
        .filter(|l| l.protocol.is_tcp() == protocol.is_tcp())
    {
        let clash = other
            .ports
            .ranges()
            .iter()
            .any(|theirs| mine.iter().any(|r| r.overlaps(theirs)));
        if clash {
            return Err(Error::ListenerPortInUse {
                reason: format!(
                    "{protocol} port(s) {} overlap listener {} ({})",
                    ports.to_spec(),
                    other.id,
                    other.ports.to_spec()
                ),
            });
        }
    }
    let description = req.description.clone().unwrap_or_default();
    validate_description("description", &description)?;
    let forwarded_headers = req.forwarded_headers.unwrap_or_default();
    check_forwarded_headers(protocol, forwarded_headers)?;
    let tags = tags::validate("tags", &req.tags)?;
    let id = ListenerId::new(ids.next_id());
    let mut pool = Pool::new(
        PoolId::new(ids.next_id()),
        (&lb.project_id, &lb.id),
        Some(id.clone()),
        format!("{}-default", req.name),
        now,
    );
    // An HTTP(S) listener's own pool is spoken to in HTTP: what lets it
    // carry cookie persistence (Aliyun's StickySession on the listener).
    if protocol.is_http() {
        pool.protocol = Some(PoolProtocol::Http);
    }
    Ok(ListenerPlan {
        listener: Listener {
            id,
            project_id: lb.project_id.clone(),
            lb_id: lb.id.clone(),
            name: req.name.clone(),
            protocol,
            ports,
            forwarding_mode,
            scheduler,
            proxy_protocol,
            backend_port,
            group_pool_id: req.group_pool_id.as_deref().map(PoolId::new),
            enabled: !req.disabled,
            max_connections,
            idle_timeout_ms,
            connect_timeout_ms,
            backend_timeout_ms,
            inspect_timeout_ms,
            allowed_cidrs,
            acl: req.acl.clone(),
            forwarded_headers,
            certificate_ids,
            tls_refs,
            tls_options: req.tls_options.clone(),
            client_auth: req.client_auth.clone(),
            domain_extensions: Vec::new(),
            redirect_https_port,
            default_pool_id: pool.id.clone(),
            description,
            created_at: now,
            updated_at: now,
            tags,
        },
        default_pool: pool,
    })
}
