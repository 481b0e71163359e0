//! Row decoding: every model type from the named columns of a row, and
//! the column forms the writes use.

use super::*;

pub(super) fn parsed<T: FromStr>(row: &impl Columns, name: &str) -> StoreResult<T> {
    let text = row.text(name)?;
    text.parse()
        .map_err(|_| StoreError::Corrupt(format!("{name}: cannot parse {text:?}")))
}

pub(super) fn ts(row: &impl Columns, name: &str) -> StoreResult<Timestamp> {
    Ok(Timestamp(row.int(name)?))
}

pub(super) fn u64_col(row: &impl Columns, name: &str) -> StoreResult<u64> {
    let v = row.int(name)?;
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("{name}: {v}")))
}

/// An optional millisecond setting.
pub(super) fn millis_col(row: &impl Columns, name: &str) -> StoreResult<Option<u64>> {
    row.opt_int(name)?
        .map(|n| u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("{name}: {n}"))))
        .transpose()
}

pub(super) fn port_col(row: &impl Columns, name: &str) -> StoreResult<Option<u16>> {
    row.opt_int(name)?
        .map(|p| u16::try_from(p).map_err(|_| StoreError::Corrupt(format!("{name}: {p}"))))
        .transpose()
}

/// Tags as stored: a JSON array of strings (`[]` for none).
pub(super) fn tags_to_text(tags: &[String]) -> String {
    serde_json::Value::from(tags).to_string()
}

/// A listener's certificates as their column: a JSON list of ids, in the
/// listener's order.
pub(super) fn certificate_ids_to_text(ids: &[CertificateId]) -> String {
    serde_json::Value::from(ids.iter().map(CertificateId::as_str).collect::<Vec<_>>()).to_string()
}

/// A listener's domain extensions as their column: a JSON list of
/// `[id, domain, certificate id]`.
pub(super) fn domain_extensions_to_text(list: &[DomainExtension]) -> String {
    serde_json::Value::from(
        list.iter()
            .map(|d| vec![d.id.as_str(), d.domain.as_str(), d.certificate_id.as_str()])
            .collect::<Vec<_>>(),
    )
    .to_string()
}

fn domain_extensions_col(row: &impl Columns) -> StoreResult<Vec<DomainExtension>> {
    let text = row.text("domain_extensions")?;
    let triples: Vec<(String, String, String)> = serde_json::from_str(&text)
        .map_err(|_| StoreError::Corrupt(format!("domain_extensions: {text:?}")))?;
    Ok(triples
        .into_iter()
        .map(|(id, domain, certificate)| DomainExtension {
            id,
            domain,
            certificate_id: CertificateId::new(certificate),
        })
        .collect())
}

pub(super) fn tags_col(row: &impl Columns, name: &str) -> StoreResult<Vec<String>> {
    let text = row.text(name)?;
    serde_json::from_str(&text)
        .map_err(|_| StoreError::Corrupt(format!("{name}: not a JSON list of strings: {text:?}")))
}

pub(super) fn project_from(row: &impl Columns) -> StoreResult<Project> {
    Ok(Project {
        id: ProjectId::new(row.text("id")?),
        name: row.text("name")?,
        access_key_id: row.text("access_key_id")?,
        created_at: ts(row, "created_at")?,
    })
}

pub(super) fn certificate_from(row: &impl Columns) -> StoreResult<Certificate> {
    Ok(Certificate {
        id: CertificateId::new(row.text("id")?),
        project_id: ProjectId::new(row.text("project_id")?),
        name: row.text("name")?,
        kind: {
            let kind = row.text("kind")?;
            weir_core::model::CertificateKind::parse(&kind)
                .ok_or_else(|| StoreError::Corrupt(format!("certificate kind {kind:?}")))?
        },
        subject: row.text("subject")?,
        names: tags_col(row, "names")?,
        fingerprint_sha256: row.text("fingerprint_sha256")?,
        not_before: ts(row, "not_before")?,
        not_after: ts(row, "not_after")?,
        key_type: row.text("key_type")?,
        chain_length: u32::try_from(row.int("chain_length")?)
            .map_err(|_| StoreError::Corrupt("chain_length".into()))?,
        created_at: ts(row, "created_at")?,
    })
}

pub(super) fn credential_from(row: &impl Columns) -> StoreResult<Credential> {
    Ok(Credential {
        access_key_id: row.text("access_key_id")?,
        project_id: ProjectId::new(row.text("project_id")?),
        role: enum_col(row, "role")?,
        name: row.text("name")?,
        created_at: ts(row, "created_at")?,
    })
}

pub(super) fn vpc_from(row: &impl Columns) -> StoreResult<Vpc> {
    Ok(Vpc {
        id: VpcId::new(row.text("id")?),
        project_id: ProjectId::new(row.text("project_id")?),
        name: row.text("name")?,
        // The empty text: a network a project made, which names no CIDR
        // (migration 0027).
        cidr: match row.text("cidr")?.as_str() {
            "" => None,
            _ => Some(parsed(row, "cidr")?),
        },
        has_border_gateway: row.flag("has_border_gateway")?,
        shared: row.flag("shared")?,
        created_at: ts(row, "created_at")?,
    })
}

pub(super) fn subnet_from(row: &impl Columns) -> StoreResult<Subnet> {
    Ok(Subnet {
        id: SubnetId::new(row.text("id")?),
        project_id: ProjectId::new(row.text("project_id")?),
        vpc_id: VpcId::new(row.text("vpc_id")?),
        name: row.text("name")?,
        cidr: parsed(row, "cidr")?,
        shared: row.flag("shared")?,
        granted: row.flag("granted")?,
        created_at: ts(row, "created_at")?,
    })
}

pub(super) fn enum_col<T: FromStr<Err = ()>>(row: &impl Columns, name: &str) -> StoreResult<T> {
    parsed(row, name)
}

pub(super) fn instance_from(row: &impl Columns) -> StoreResult<Instance> {
    Ok(Instance {
        id: InstanceId::new(row.text("id")?),
        project_id: ProjectId::new(row.text("project_id")?),
        subnet_id: SubnetId::new(row.text("subnet_id")?),
        vpc_id: VpcId::new(row.text("vpc_id")?),
        name: row.text("name")?,
        instance_type: enum_col(row, "instance_type")?,
        state: enum_col(row, "state")?,
        private_ip: parsed(row, "private_ip")?,
        created_at: ts(row, "created_at")?,
    })
}

pub(super) fn lb_from(row: &impl Columns) -> StoreResult<LoadBalancer> {
    Ok(LoadBalancer {
        id: LoadBalancerId::new(row.text("id")?),
        project_id: ProjectId::new(row.text("project_id")?),
        name: row.text("name")?,
        subnet_id: SubnetId::new(row.text("subnet_id")?),
        vpc_id: VpcId::new(row.text("vpc_id")?),
        vip: parsed(row, "vip")?,
        status: enum_col(row, "status")?,
        default_pool_id: PoolId::new(row.text("default_pool_id")?),
        description: row.text("description")?,
        created_at: ts(row, "created_at")?,
        updated_at: ts(row, "updated_at")?,
        tags: tags_col(row, "tags")?,
        flavor_id: row.opt_text("flavor_id")?.map(FlavorId::new),
        vip_mode: match row.opt_text("vip_mode")? {
            None => None,
            Some(text) => {
                Some(weir_core::cluster::VipMode::parse(&text).ok_or_else(|| {
                    StoreError::Corrupt(format!("load_balancers.vip_mode {text:?}"))
                })?)
            }
        },
    })
}

pub(super) fn flavor_profile_from(row: &impl Columns) -> StoreResult<FlavorProfile> {
    Ok(FlavorProfile {
        id: FlavorProfileId::new(row.text("id")?),
        name: row.text("name")?,
        provider: row.text("provider")?,
        data: row.text("data")?,
        created_at: ts(row, "created_at")?,
        updated_at: ts(row, "updated_at")?,
    })
}

pub(super) fn flavor_from(row: &impl Columns) -> StoreResult<Flavor> {
    Ok(Flavor {
        id: FlavorId::new(row.text("id")?),
        name: row.text("name")?,
        description: row.text("description")?,
        profile_id: FlavorProfileId::new(row.text("profile_id")?),
        enabled: row.flag("enabled")?,
        created_at: ts(row, "created_at")?,
        updated_at: ts(row, "updated_at")?,
    })
}

pub(super) fn listener_from(row: &impl Columns) -> StoreResult<Listener> {
    let spec = row.text("ports")?;
    Ok(Listener {
        id: ListenerId::new(row.text("id")?),
        project_id: ProjectId::new(row.text("project_id")?),
        lb_id: LoadBalancerId::new(row.text("lb_id")?),
        name: row.text("name")?,
        protocol: enum_col(row, "protocol")?,
        ports: ListenerPorts::from_spec(&spec)
            .ok_or_else(|| StoreError::Corrupt(format!("listener ports {spec:?}")))?,
        forwarding_mode: enum_col(row, "forwarding_mode")?,
        scheduler: enum_col(row, "scheduler")?,
        proxy_protocol: enum_col(row, "proxy_protocol")?,
        backend_port: port_col(row, "backend_port")?,
        group_pool_id: row.opt_text("group_pool_id")?.map(PoolId::new),
        enabled: row.flag("enabled")?,
        max_connections: row
            .opt_int("max_connections")?
            .map(|n| {
                u32::try_from(n).map_err(|_| StoreError::Corrupt(format!("max_connections: {n}")))
            })
            .transpose()?,
        idle_timeout_ms: millis_col(row, "idle_timeout_ms")?,
        connect_timeout_ms: millis_col(row, "connect_timeout_ms")?,
        backend_timeout_ms: millis_col(row, "backend_timeout_ms")?,
        inspect_timeout_ms: millis_col(row, "inspect_timeout_ms")?,
        allowed_cidrs: {
            let spec = row.text("allowed_cidrs")?;
            spec.split(',')
                .filter(|n| !n.is_empty())
                .map(|n| {
                    n.parse()
                        .map_err(|_| StoreError::Corrupt(format!("allowed_cidrs {spec:?}")))
                })
                .collect::<StoreResult<_>>()?
        },
        forwarded_headers: {
            let spec = row.text("forwarded_headers")?;
            ForwardedHeaders::from_spec(&spec)
                .ok_or_else(|| StoreError::Corrupt(format!("forwarded_headers {spec:?}")))?
        },
        default_pool_id: PoolId::new(row.text("default_pool_id")?),
        description: row.text("description")?,
        created_at: ts(row, "created_at")?,
        updated_at: ts(row, "updated_at")?,
        tags: tags_col(row, "tags")?,
        certificate_ids: tags_col(row, "certificate_ids")?
            .into_iter()
            .map(CertificateId::new)
            .collect(),
        tls_refs: super::keymgr::tls_refs_col(row)?,
        tls_options: super::keymgr::tls_options_col(row)?,
        client_auth: super::keymgr::client_auth_col(row)?,
        domain_extensions: domain_extensions_col(row)?,
        redirect_https_port: port_col(row, "redirect_https_port")?,
        acl: super::acls::listener_acl_col(row)?,
    })
}

pub(super) fn pool_from(row: &impl Columns) -> StoreResult<Pool> {
    let health_check = match row.opt_text("hc_type")?.as_deref() {
        None => None,
        Some(kind) => {
            let kind = match kind {
                "tcp" => CheckKind::Tcp,
                "udp-connect" => CheckKind::UdpConnect,
                "udp-payload" => CheckKind::UdpPayload {
                    send: row
                        .opt_text("hc_send")?
                        .ok_or_else(|| StoreError::Corrupt("udp-payload without hc_send".into()))?,
                    expect: row.opt_text("hc_expect")?,
                },
                "tls-hello" => CheckKind::TlsHello,
                "ping" => CheckKind::Ping,
                kind @ ("http" | "https") => {
                    let codes = row.text("hc_codes")?;
                    let path = row.text("hc_path")?;
                    let expected = weir_core::pool::parse_codes("hc_codes", &codes)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    let request = check_request_from(row)?;
                    if kind == "https" {
                        CheckKind::Https {
                            path,
                            expected,
                            request,
                        }
                    } else {
                        CheckKind::Http {
                            path,
                            expected,
                            request,
                        }
                    }
                }
                other => return Err(StoreError::Corrupt(format!("hc_type {other:?}"))),
            };
            let count = |name: &str| {
                let v = row.int(name)?;
                u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("{name}: {v}")))
            };
            Some(HealthCheck {
                kind,
                interval_ms: u64_col(row, "hc_interval_ms")?,
                timeout_ms: u64_col(row, "hc_timeout_ms")?,
                rise: count("hc_rise")?,
                fall: count("hc_fall")?,
                port: port_col(row, "hc_port")?,
            })
        }
    };
    Ok(Pool {
        id: PoolId::new(row.text("id")?),
        project_id: ProjectId::new(row.text("project_id")?),
        lb_id: LoadBalancerId::new(row.text("lb_id")?),
        listener_id: row.opt_text("listener_id")?.map(ListenerId::new),
        name: row.text("name")?,
        health_check,
        drain_timeout_ms: u64_col(row, "drain_timeout_ms")?,
        slow_start_ms: u64_col(row, "slow_start_ms")?,
        scheduler: row
            .opt_text("scheduler")?
            .map(|s| {
                s.parse()
                    .map_err(|()| StoreError::Corrupt(format!("pool scheduler {s:?}")))
            })
            .transpose()?,
        protocol: row
            .opt_text("protocol")?
            .map(|s| {
                s.parse()
                    .map_err(|()| StoreError::Corrupt(format!("pool protocol {s:?}")))
            })
            .transpose()?,
        persistence: row
            .opt_text("persistence")?
            .map(|s| {
                Persistence::from_stored(&s)
                    .ok_or_else(|| StoreError::Corrupt(format!("pool persistence {s:?}")))
            })
            .transpose()?,
        enabled: row.flag("enabled")?,
        description: row.text("description")?,
        monitor_name: row.text("monitor_name")?,
        monitor_enabled: row.flag("monitor_enabled")?,
        fail_open: row.flag("fail_open")?,
        created_at: ts(row, "created_at")?,
        updated_at: ts(row, "updated_at")?,
        tags: tags_col(row, "tags")?,
        monitor_tags: tags_col(row, "monitor_tags")?,
        upstream_tls: super::keymgr::upstream_tls_col(row)?,
    })
}

/// An HTTP check's request; NULL columns (rows older than them) are the
/// defaults checks always sent.
fn check_request_from(row: &impl Columns) -> StoreResult<CheckRequest> {
    let mut request = CheckRequest::default();
    if let Some(m) = row.opt_text("hc_method")? {
        request.method = m
            .parse()
            .map_err(|()| StoreError::Corrupt(format!("hc_method {m:?}")))?;
    }
    if let Some(v) = row.opt_text("hc_version")? {
        request.version = v
            .parse()
            .map_err(|()| StoreError::Corrupt(format!("hc_version {v:?}")))?;
    }
    request.host = row.opt_text("hc_host")?;
    Ok(request)
}

/// The health-check columns of a pool, in statement order.
pub(super) struct HcColumns {
    pub(super) kind: Option<&'static str>,
    pub(super) interval_ms: Option<i64>,
    pub(super) timeout_ms: Option<i64>,
    pub(super) rise: Option<i64>,
    pub(super) fall: Option<i64>,
    pub(super) port: Option<i64>,
    pub(super) path: Option<String>,
    pub(super) codes: Option<String>,
    pub(super) method: Option<&'static str>,
    pub(super) version: Option<&'static str>,
    pub(super) host: Option<String>,
    pub(super) send: Option<String>,
    pub(super) expect: Option<String>,
}

pub(super) fn hc_columns(check: Option<&HealthCheck>) -> HcColumns {
    let Some(c) = check else {
        return HcColumns {
            kind: None,
            interval_ms: None,
            timeout_ms: None,
            rise: None,
            fall: None,
            port: None,
            path: None,
            codes: None,
            method: None,
            version: None,
            host: None,
            send: None,
            expect: None,
        };
    };
    let (kind, path, codes, request) = match &c.kind {
        CheckKind::Tcp => ("tcp", None, None, None),
        CheckKind::UdpConnect => ("udp-connect", None, None, None),
        CheckKind::UdpPayload { .. } => ("udp-payload", None, None, None),
        CheckKind::TlsHello => ("tls-hello", None, None, None),
        CheckKind::Ping => ("ping", None, None, None),
        CheckKind::Http {
            path,
            expected,
            request,
        } => (
            "http",
            Some(path.clone()),
            Some(weir_core::pool::format_codes(expected)),
            Some(request),
        ),
        CheckKind::Https {
            path,
            expected,
            request,
        } => (
            "https",
            Some(path.clone()),
            Some(weir_core::pool::format_codes(expected)),
            Some(request),
        ),
    };
    HcColumns {
        kind: Some(kind),
        interval_ms: i64::try_from(c.interval_ms).ok(),
        timeout_ms: i64::try_from(c.timeout_ms).ok(),
        rise: Some(i64::from(c.rise)),
        fall: Some(i64::from(c.fall)),
        port: c.port.map(i64::from),
        path,
        codes,
        method: request.map(|r| r.method.as_str()),
        version: request.map(|r| r.version.as_str()),
        host: request.and_then(|r| r.host.clone()),
        send: match &c.kind {
            CheckKind::UdpPayload { send, .. } => Some(send.clone()),
            _ => None,
        },
        expect: match &c.kind {
            CheckKind::UdpPayload { expect, .. } => expect.clone(),
            _ => None,
        },
    }
}

/// Backend ports as stored: NULL inherits, `80` is one port, `[80,443]` a
/// list (kept distinct from one port so a one-element list round-trips).
pub(super) fn ports_to_text(ports: &BackendPorts) -> Option<String> {
    match ports {
        BackendPorts::Inherit => None,
        BackendPorts::One(p) => Some(p.to_string()),
        BackendPorts::List(list) => Some(format!(
            "[{}]",
            list.iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(",")
        )),
    }
}

pub(super) fn ports_from_text(text: Option<String>) -> StoreResult<BackendPorts> {
    let corrupt = |t: &str| StoreError::Corrupt(format!("backend ports {t:?}"));
    match text {
        None => Ok(BackendPorts::Inherit),
        Some(t) => match t.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            Some(list) => list
                .split(',')
                .map(|p| p.parse::<u16>().map_err(|_| corrupt(&t)))
                .collect::<StoreResult<Vec<_>>>()
                .map(BackendPorts::List),
            None => t.parse().map(BackendPorts::One).map_err(|_| corrupt(&t)),
        },
    }
}

pub(super) fn backend_from(row: &impl Columns) -> StoreResult<Backend> {
    let weight = row.int("weight")?;
    let address = parsed(row, "address")?;
    let monitor_address = row
        .opt_text("monitor_address")?
        .map(|a| {
            a.parse()
                .map_err(|_| StoreError::Corrupt(format!("monitor_address {a:?}")))
        })
        .transpose()?;
    Ok(Backend {
        id: BackendId::new(row.text("id")?),
        project_id: ProjectId::new(row.text("project_id")?),
        pool_id: PoolId::new(row.text("pool_id")?),
        lb_id: LoadBalancerId::new(row.text("lb_id")?),
        listener_id: row.opt_text("listener_id")?.map(ListenerId::new),
        instance_id: row.opt_text("instance_id")?.map(InstanceId::new),
        subnet_id: row.opt_text("subnet_id")?.map(SubnetId::new),
        address_text: spelling_col(row, "address_text", Some(address))?,
        address,
        ports: ports_from_text(row.opt_text("ports")?)?,
        weight: u16::try_from(weight)
            .map_err(|_| StoreError::Corrupt(format!("weight {weight}")))?,
        enabled: row.flag("enabled")?,
        backup: row.flag("backup")?,
        name: row.text("name")?,
        monitor_address_text: spelling_col(row, "monitor_address_text", monitor_address)?,
        monitor_address,
        monitor_port: port_col(row, "monitor_port")?,
        created_at: ts(row, "created_at")?,
        updated_at: ts(row, "updated_at")?,
        tags: tags_col(row, "tags")?,
    })
}

/// A caller's spelling of an address (migration 0028): read back only if
/// it is still a literal of that very address, so a row edited behind
/// Weir's back can never make an API echo arbitrary text.
fn spelling_col(
    row: &impl Columns,
    name: &str,
    address: Option<std::net::IpAddr>,
) -> StoreResult<Option<String>> {
    match (row.opt_text(name)?, address) {
        (None, _) => Ok(None),
        (Some(text), Some(address))
            if weir_core::address::spelling(&text, address).as_deref() == Some(&text) =>
        {
            Ok(Some(text))
        }
        (Some(text), _) => Err(StoreError::Corrupt(format!("{name} {text:?}"))),
    }
}

pub(super) fn change_from(row: &impl Columns) -> StoreResult<ChangeRecord> {
    Ok(ChangeRecord {
        revision: u64_col(row, "revision")?,
        project_id: ProjectId::new(row.text("project_id")?),
        project_revision: u64_col(row, "project_revision")?,
        entity: row.text("entity")?,
        entity_id: row.text("entity_id")?,
        op: row.text("op")?,
        lb_id: row.opt_text("lb_id")?.map(LoadBalancerId::new),
        pool_id: row.opt_text("pool_id")?.map(PoolId::new),
    })
}

pub(super) fn all<R: Columns, T>(rows: Vec<R>, f: fn(&R) -> StoreResult<T>) -> StoreResult<Vec<T>> {
    rows.iter().map(f).collect()
}

pub(super) fn one<R: Columns, T>(
    row: Option<R>,
    f: fn(&R) -> StoreResult<T>,
) -> StoreResult<Option<T>> {
    row.as_ref().map(f).transpose()
}
