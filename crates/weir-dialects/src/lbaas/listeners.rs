//! `/listeners`: create, list, show, update, delete.

use super::*;

/// Every listener the caller sees, across their load balancers, with
/// whether its load balancer runs.
pub(super) async fn all_listeners(
    c: &Control,
    p: &Principal,
) -> Result<Vec<(Listener, bool)>, LbaasError> {
    let mut out = Vec::new();
    for lb in c.list_load_balancers(p).await.map_err(fail)? {
        let running = lb.status == LbStatus::Running;
        out.extend(
            c.list_listeners(p, &lb.id)
                .await
                .map_err(fail)?
                .into_iter()
                .map(|l| (l, running)),
        );
    }
    Ok(out)
}

/// Whether the listener's load balancer runs.
pub(super) async fn lb_running(
    c: &Control,
    p: &Principal,
    l: &Listener,
) -> Result<bool, LbaasError> {
    Ok(c.get_load_balancer(p, &l.lb_id).await.map_err(fail)?.status == LbStatus::Running)
}

pub(super) async fn list_listeners(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<Vec<(String, String)>>,
    Here(here): Here,
) -> LbResult {
    let c = &d.control;
    let mut items = Vec::new();
    for (l, running) in all_listeners(c, &ctx.principal).await? {
        let l7 = l7_refs(c, &ctx.principal, &l.id).await?;
        items.push(listener_view(c, &l, running, l7));
    }
    ok(listing::list(items, &q, "listeners", &here)?)
}

/// Every field of Octavia's (and Huawei's) listener body. What Weir cannot
/// honour yet is refused unless it says "none" ([`Unhonoured`]), and any
/// other field by name: a listener never silently drops a setting.
#[derive(Deserialize)]
pub(super) struct CreateListener {
    loadbalancer_id: Option<String>,
    protocol: Option<String>,
    protocol_port: Option<Lenient>,
    name: Option<String>,
    description: Option<String>,
    admin_state_up: Option<bool>,
    connection_limit: Option<Lenient>,
    default_pool_id: Option<String>,
    insert_headers: Option<Value>,
    project_id: Option<String>,
    tenant_id: Option<String>,
    // Octavia's four timeouts (API 2.1), in milliseconds; on update
    // `null` returns one to the data plane's default. Not flattened: serde
    // loses a flattened field's name in its errors.
    #[serde(default, deserialize_with = "present")]
    timeout_client_data: Option<Option<Lenient>>,
    #[serde(default, deserialize_with = "present")]
    timeout_member_connect: Option<Option<Lenient>>,
    #[serde(default, deserialize_with = "present")]
    timeout_member_data: Option<Option<Lenient>>,
    #[serde(default, deserialize_with = "present")]
    timeout_tcp_inspect: Option<Option<Lenient>>,
    allowed_cidrs: Option<Vec<String>>,
    #[serde(flatten)]
    unhonoured: Unhonoured,
    #[serde(default, deserialize_with = "present")]
    tags: Option<Option<Value>>,
}

/// One Octavia timeout as Weir's milliseconds: absent stays absent,
/// `null` is the default, a negative number is Octavia's 400 (the core
/// bounds the rest).
fn timeout_ms(
    name: &str,
    value: Option<Option<Lenient>>,
) -> Result<Option<Option<u64>>, LbaasError> {
    value
        .map(|v| {
            v.map(|Lenient(n)| {
                u64::try_from(n).map_err(|_| {
                    LbaasError::bad_request(format!(
                        "Invalid input for field/attribute {name}. Value: '{n}'. Value must be at least 0."
                    ))
                })
            })
            .transpose()
        })
        .transpose()
}

/// The four timeouts as Weir's (client idle, backend connect, backend
/// idle, inspection).
type ListenerTimeouts = [Option<Option<u64>>; 4];

/// A body's four timeouts (client data, member connect, member data, TCP
/// inspect) as Weir's.
fn listener_timeouts(values: [Option<Option<Lenient>>; 4]) -> Result<ListenerTimeouts, LbaasError> {
    const NAMES: [&str; 4] = [
        "timeout_client_data",
        "timeout_member_connect",
        "timeout_member_data",
        "timeout_tcp_inspect",
    ];
    let mut out = [None; 4];
    for ((slot, name), value) in out.iter_mut().zip(NAMES).zip(values) {
        *slot = timeout_ms(name, value)?;
    }
    Ok(out)
}

/// Octavia's `allowed_cidrs` as networks (`null`: any client).
fn allowed_cidrs(
    cidrs: Option<Vec<String>>,
) -> Result<Option<Vec<weir_core::limits::Cidr>>, LbaasError> {
    cidrs
        .map(|c| weir_core::limits::parse_cidrs("allowed_cidrs", &c))
        .transpose()
        .map_err(|e| LbaasError::from_control(e.into()))
}

/// Listener fields Weir has no setting for yet (HSTS, nested creation);
/// the TLS ones are [`TlsBody`]'s.
#[derive(Deserialize, Default)]
pub(super) struct Unhonoured {
    #[serde(flatten)]
    tls: TlsBody,
    hsts_max_age: Option<Value>,
    hsts_include_subdomains: Option<Value>,
    hsts_preload: Option<Value>,
    default_pool: Option<Value>,
    l7policies: Option<Value>,
}

/// The listener fields Weir knows (serde cannot deny unknown fields next
/// to a flattened struct, so [`known_fields`] does).
const LISTENER_FIELDS: &[&str] = &[
    "loadbalancer_id",
    "protocol",
    "protocol_port",
    "name",
    "description",
    "admin_state_up",
    "connection_limit",
    "default_pool_id",
    "insert_headers",
    "project_id",
    "tenant_id",
    "default_tls_container_ref",
    "sni_container_refs",
    "client_ca_tls_container_ref",
    "client_authentication",
    "client_crl_container_ref",
    "timeout_client_data",
    "timeout_member_connect",
    "timeout_member_data",
    "timeout_tcp_inspect",
    "allowed_cidrs",
    "tls_ciphers",
    "tls_versions",
    "alpn_protocols",
    "hsts_max_age",
    "hsts_include_subdomains",
    "hsts_preload",
    "default_pool",
    "l7policies",
    "tags",
    // Huawei's.
    "tls_ciphers_policy",
    "http2_enable",
];

/// Refuses a body field outside `known`, by name, as Octavia does.
pub(super) fn known_fields(raw: &[u8], wrapper: &str, known: &[&str]) -> Result<(), LbaasError> {
    let fields: serde_json::Map<String, Value> = body(raw, wrapper)?;
    match fields.keys().find(|k| !known.contains(&k.as_str())) {
        Some(unknown) => Err(LbaasError::bad_request(format!(
            "Invalid input for field/attribute {wrapper}: unknown attribute {unknown}"
        ))),
        None => Ok(()),
    }
}

impl Unhonoured {
    fn refuse(&self) -> Result<(), LbaasError> {
        for (name, value) in [
            ("hsts_max_age", &self.hsts_max_age),
            ("hsts_include_subdomains", &self.hsts_include_subdomains),
            ("hsts_preload", &self.hsts_preload),
            ("default_pool", &self.default_pool),
            ("l7policies", &self.l7policies),
        ] {
            refuse_unhonoured("", name, value.as_ref())?;
        }
        Ok(())
    }
}

/// Octavia's `insert_headers` as the headers an HTTP listener adds:
/// exactly those set to `"true"` (Octavia's meaning; a listener made
/// without the field keeps Weir's default, `X-Forwarded-For` and
/// `X-Forwarded-Proto`), the `X-SSL-*` client-certificate headers
/// included (TERMINATED_HTTPS only, the core's rule). A header Weir
/// cannot add is 501.
pub(super) fn insert_headers(
    headers: Option<&Value>,
) -> Result<Option<ForwardedHeaders>, LbaasError> {
    let Some(map) = headers.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let map = map.as_object().ok_or_else(|| {
        LbaasError::bad_request("Invalid input for field/attribute insert_headers: not an object")
    })?;
    let mut out = ForwardedHeaders {
        forwarded_for: false,
        forwarded_proto: false,
        forwarded_port: false,
        client_cert: Default::default(),
    };
    for (name, value) in map {
        let on = match value {
            Value::Bool(b) => *b,
            Value::String(s) if s.eq_ignore_ascii_case("true") => true,
            Value::String(s) if s.eq_ignore_ascii_case("false") => false,
            _ => {
                return Err(LbaasError::bad_request(format!(
                    "Invalid input for field/attribute insert_headers. Value: '{value}' for {name}: true or false"
                )))
            }
        };
        match name.as_str() {
            "X-Forwarded-For" => out.forwarded_for = on,
            "X-Forwarded-Proto" => out.forwarded_proto = on,
            "X-Forwarded-Port" => out.forwarded_port = on,
            other => match ClientCertHeaders::index(other) {
                // Which protocol may add them is the core's rule (400).
                Some(i) => out.client_cert = out.client_cert.with(i, on),
                None => {
                    return Err(LbaasError::unsupported(format!(
                        "insert_headers {other} (an HTTP listener can add X-Forwarded-For, \
                         X-Forwarded-Proto and X-Forwarded-Port, a TERMINATED_HTTPS one also \
                         the X-SSL-* client-certificate headers)"
                    )))
                }
            },
        }
    }
    Ok(Some(out))
}

/// The `insert_headers` view of what an HTTP listener adds: each header
/// it can add, `"true"` or `"false"`.
pub(super) fn insert_headers_view(l: &Listener) -> Value {
    if !l.protocol.is_http() {
        return json!({});
    }
    let h = l.forwarded_headers;
    let mut out = serde_json::Map::new();
    for (on, name) in [
        (h.forwarded_for, "X-Forwarded-For"),
        (h.forwarded_proto, "X-Forwarded-Proto"),
        (h.forwarded_port, "X-Forwarded-Port"),
    ] {
        out.insert(name.to_owned(), json!(if on { "true" } else { "false" }));
    }
    // The client-certificate headers a TERMINATED_HTTPS listener adds.
    for name in h.client_cert.names() {
        out.insert(name.to_owned(), json!("true"));
    }
    Value::Object(out)
}

/// Octavia's `connection_limit`: -1 (its default) means "the provider's
/// default", here `dataplane.max_connections` (Octavia's amphora driver
/// likewise maps it to HAProxy's default of 50,000); a positive value is
/// the listener's cap (bounded by the core). 0 and other negatives are
/// refused: a listener that accepts nothing is a mistake, not a setting.
pub(super) fn connection_limit(limit: Lenient) -> Result<Option<u64>, LbaasError> {
    match limit.0 {
        -1 => Ok(None),
        n if n > 0 => Ok(Some(n.unsigned_abs())),
        n => Err(LbaasError::bad_request(format!(
            "Invalid input for field/attribute connection_limit. Value: '{n}'. \
             Value must be -1 (the default) or a positive number of connections."
        ))),
    }
}

/// A listener protocol by its Octavia name. SCTP needs the kernel's SCTP
/// sockets, which this data plane does not open; PROMETHEUS (API 2.25)
/// is Octavia's, so Huawei ELB refuses it as any protocol it lacks.
pub(super) fn listener_protocol(p: &str, flavor: Flavor) -> Result<&'static str, LbaasError> {
    match p {
        "PROMETHEUS" if flavor == Flavor::Octavia => Ok("prometheus"),
        "TCP" => Ok("tcp"),
        "UDP" => Ok("udp"),
        "HTTP" => Ok("http"),
        // Octavia's HTTPS passes TLS through to members that terminate it.
        "HTTPS" => Ok("tls-passthrough"),
        // Terminated by Weir, with certificates from the key manager
        // (Octavia) or Weir's certificates (Huawei).
        "TERMINATED_HTTPS" => Ok("https"),
        "SCTP" if flavor == Flavor::Octavia => Err(sctp()),
        other => Err(LbaasError::bad_request(format!(
            "Invalid input for field/attribute protocol. Value: '{other}'. \
             Value should be one of {}",
            match flavor {
                Flavor::Octavia => "HTTP, HTTPS, PROMETHEUS, SCTP, TCP, TERMINATED_HTTPS, UDP",
                Flavor::Huawei => "HTTP, HTTPS, TCP, TERMINATED_HTTPS, UDP",
            }
        ))),
    }
}

/// SCTP (API 2.23), for listeners and pools alike: Weir's data plane
/// opens no SCTP sockets (this host's kernel has no SCTP module loaded,
/// `/proc/net/sctp` is absent), so the provider cannot do it.
pub(super) fn sctp() -> LbaasError {
    LbaasError::unsupported(
        "protocol SCTP (the data plane opens no SCTP sockets: the kernel's SCTP \
         support is not available to it)",
    )
}

pub(super) async fn create_listener(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    headers: axum::http::HeaderMap,
    RawBody(raw): RawBody,
) -> LbResult {
    let req: CreateListener = body(&raw, "listener")?;
    let missing = |f: &str| {
        LbaasError::bad_request(format!(
            "Invalid input for field/attribute {f}. Value: None. Mandatory field missing."
        ))
    };
    known_fields(&raw, "listener", LISTENER_FIELDS)?;
    req.unhonoured.refuse()?;
    let tags = tags_field("", &req.tags)?.unwrap_or_default();
    let lb = req
        .loadbalancer_id
        .ok_or_else(|| missing("loadbalancer_id"))?;
    let owner = d
        .control
        .get_load_balancer(&ctx.principal, &LoadBalancerId::new(lb.as_str()))
        .await
        .map_err(fail)?
        .project_id;
    check_owner([&req.project_id, &req.tenant_id], &owner)?;
    let octavia_protocol = req.protocol.ok_or_else(|| missing("protocol"))?;
    let protocol = listener_protocol(&octavia_protocol, ctx.flavor)?;
    let tls = req
        .unhonoured
        .tls
        .create(ctx.flavor, &headers, &octavia_protocol)?;
    let forwarded_headers = insert_headers(req.insert_headers.as_ref())?;
    let port = req.protocol_port.ok_or_else(|| missing("protocol_port"))?.0;
    let [client, connect, member, inspect] = listener_timeouts([
        req.timeout_client_data,
        req.timeout_member_connect,
        req.timeout_member_data,
        req.timeout_tcp_inspect,
    ])?
    .map(Option::flatten);
    let allowed_cidrs = allowed_cidrs(req.allowed_cidrs)?.unwrap_or_default();
    let c = &d.control;
    let listener = c
        .create_listener(
            &ctx.principal,
            LoadBalancerId::new(lb),
            NewListener {
                name: req.name.unwrap_or_default(),
                protocol: protocol.to_owned(),
                port: Some(u32::try_from(port).unwrap_or(0)),
                port_ranges: None,
                all_ports: false,
                forwarding_mode: None,
                scheduler: None,
                proxy_protocol: None,
                backend_port: None,
                group_pool_id: req.default_pool_id,
                description: req.description,
                disabled: req.admin_state_up == Some(false),
                forwarded_headers,
                max_connections: req
                    .connection_limit
                    .map(connection_limit)
                    .transpose()?
                    .flatten(),
                idle_timeout_ms: client,
                connect_timeout_ms: connect,
                backend_timeout_ms: member,
                inspect_timeout_ms: inspect,
                allowed_cidrs,
                tags,
                certificate_ids: tls.certificate_ids,
                tls_refs: tls.refs,
                tls_options: tls.options,
                client_auth: tls.client_auth,
                ..Default::default()
            },
        )
        .await
        .map_err(fail)?;
    let running = lb_running(c, &ctx.principal, &listener).await?;
    let l7 = l7_refs(c, &ctx.principal, &listener.id).await?;
    created(json!({"listener": listener_view(c, &listener, running, l7)}))
}

pub(super) async fn show_listener(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
) -> LbResult {
    let c = &d.control;
    let l = c
        .get_listener(&ctx.principal, &ListenerId::new(param(&p, "listener_id")))
        .await
        .map_err(fail)?;
    let running = lb_running(c, &ctx.principal, &l).await?;
    let l7 = l7_refs(c, &ctx.principal, &l.id).await?;
    ok(json!({"listener": listener_view(c, &l, running, l7)}))
}

#[derive(Deserialize)]
pub(super) struct UpdateListener {
    name: Option<String>,
    description: Option<String>,
    admin_state_up: Option<bool>,
    connection_limit: Option<Lenient>,
    /// `null` detaches the default pool; absent leaves it.
    #[serde(default, deserialize_with = "present")]
    default_pool_id: Option<Option<String>>,
    insert_headers: Option<Value>,
    // Octavia's four timeouts (API 2.1), in milliseconds; on update
    // `null` returns one to the data plane's default. Not flattened: serde
    // loses a flattened field's name in its errors.
    #[serde(default, deserialize_with = "present")]
    timeout_client_data: Option<Option<Lenient>>,
    #[serde(default, deserialize_with = "present")]
    timeout_member_connect: Option<Option<Lenient>>,
    #[serde(default, deserialize_with = "present")]
    timeout_member_data: Option<Option<Lenient>>,
    #[serde(default, deserialize_with = "present")]
    timeout_tcp_inspect: Option<Option<Lenient>>,
    /// `null` or `[]`: any client.
    #[serde(default, deserialize_with = "present")]
    allowed_cidrs: Option<Option<Vec<String>>>,
    #[serde(flatten)]
    unhonoured: Unhonoured,
    /// Absent leaves them, `null` clears them.
    #[serde(default, deserialize_with = "present")]
    tags: Option<Option<Value>>,
}

pub(super) async fn update_listener(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
    headers: axum::http::HeaderMap,
    RawBody(raw): RawBody,
) -> LbResult {
    let req: UpdateListener = body(&raw, "listener")?;
    known_fields(&raw, "listener", LISTENER_FIELDS)?;
    req.unhonoured.refuse()?;
    let c = &d.control;
    let id = ListenerId::new(param(&p, "listener_id"));
    // Read first so a listener of another project is 404 before the
    // body's own errors, as ever; the merge itself reads it again below.
    c.get_listener(&ctx.principal, &id).await.map_err(fail)?;
    let forwarded_headers = insert_headers(req.insert_headers.as_ref())?;
    let [client, connect, member, inspect] = listener_timeouts([
        req.timeout_client_data,
        req.timeout_member_connect,
        req.timeout_member_data,
        req.timeout_tcp_inspect,
    ])?;
    let cidrs = match req.allowed_cidrs {
        None => None,
        Some(list) => Some(allowed_cidrs(list)?.unwrap_or_default()),
    };
    let fields: serde_json::Map<String, Value> = body(&raw, "listener")?;
    for fixed in [
        "loadbalancer_id",
        "protocol",
        "protocol_port",
        "project_id",
        "tenant_id",
    ] {
        if fields.contains_key(fixed) {
            return Err(LbaasError::bad_request(format!(
                "Invalid input for field/attribute {fixed}: it cannot be changed on a listener."
            )));
        }
    }
    let base = ListenerUpdate {
        name: req.name,
        description: req.description,
        enabled: req.admin_state_up,
        max_connections: req.connection_limit.map(connection_limit).transpose()?,
        group_pool_id: req.default_pool_id,
        forwarded_headers,
        idle_timeout_ms: client,
        connect_timeout_ms: connect,
        backend_timeout_ms: member,
        inspect_timeout_ms: inspect,
        allowed_cidrs: cidrs,
        tags: tags_field("", &req.tags)?,
        ..ListenerUpdate::default()
    };
    // The TLS fields merge into what the listener has (the default
    // certificate with the SNI list, client authentication's three
    // fields): inside the writer's transaction, so a concurrent update's
    // are never lost between the read and the write.
    let (tls, flavor) = (req.unhonoured.tls, ctx.flavor);
    let l = c
        .update_listener_with(&ctx.principal, id, move |current| {
            let tls = tls.change(flavor, &headers, current)?;
            Ok::<_, LbaasError>(ListenerUpdate {
                certificate_ids: tls.certificate_ids,
                tls_refs: tls.refs,
                tls_versions: tls.versions,
                tls_ciphers: tls.ciphers,
                alpn_protocols: tls.alpn,
                client_auth: tls.client_auth,
                ..base
            })
        })
        .await
        .map_err(fail)??;
    let running = lb_running(c, &ctx.principal, &l).await?;
    let l7 = l7_refs(c, &ctx.principal, &l.id).await?;
    ok(json!({"listener": listener_view(c, &l, running, l7)}))
}

pub(super) async fn delete_listener(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
) -> LbResult {
    d.control
        .delete_listener(&ctx.principal, ListenerId::new(param(&p, "listener_id")))
        .await
        .map_err(fail)?;
    no_content()
}

/// `GET /listeners/{id}/stats`.
pub(super) async fn listener_stats(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
) -> LbResult {
    let c = &d.control;
    let l = c
        .get_listener(&ctx.principal, &ListenerId::new(param(&p, "listener_id")))
        .await
        .map_err(fail)?;
    ok(stats_view(c.listener_stats(&l)))
}
