//! Pool settings: active health checks, the drain timeout and slow start.

use crate::loadbalancer::parse_enum;
use crate::model::{
    CheckKind, CheckRequest, HealthCheck, HttpMethod, HttpVersion, Persistence, PersistenceKind,
    Pool, PoolProtocol, Scheduler, MAX_COOKIE_NAME,
};
use crate::settings::Capabilities;
use crate::{Error, Timestamp};

/// Bounds of the check timing, in milliseconds.
pub const MIN_INTERVAL_MS: u64 = 50;
/// A TLS check costs a handshake (a millisecond of CPU, not a connect's
/// microseconds): a tenant's thousand members checked every 50 ms would
/// take the data plane's cores, so TLS checks run at most once a second.
pub const MIN_TLS_INTERVAL_MS: u64 = 1_000;
pub const MAX_INTERVAL_MS: u64 = 3_600_000;
/// Longest drain timeout (AWS allows an hour as well).
pub const MAX_DRAIN_TIMEOUT_MS: u64 = 3_600_000;
/// Longest slow start (HAProxy and AWS allow minutes; an hour is generous).
pub const MAX_SLOW_START_MS: u64 = 3_600_000;

/// A health check as requested; absent fields take HAProxy's defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthCheckSpec {
    /// `tcp`, `http`, `https`, `tls-hello`, `udp-connect` or `ping`.
    pub kind: String,
    pub interval_ms: Option<u64>,
    pub timeout_ms: Option<u64>,
    pub rise: Option<u32>,
    pub fall: Option<u32>,
    pub port: Option<u32>,
    /// HTTP only; default `/`.
    pub path: Option<String>,
    /// HTTP only: `200`, `200-399`, `200,204,300-302`; default `200-399`.
    pub expected_codes: Option<String>,
    /// HTTP only: an [`HttpMethod`] name; default `GET`.
    pub method: Option<String>,
    /// HTTP only: `1.0` or `1.1` (default).
    pub http_version: Option<String>,
    /// HTTP only: the Host header, a DNS name ([`check_host`]).
    pub host: Option<String>,
    /// `udp-connect` only: the datagram to send ([`crate::udp_check`]).
    pub send: Option<String>,
    /// `udp-connect` with `send` only: the answer that means up.
    pub expect: Option<String>,
}

/// Session persistence as requested.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersistenceSpec {
    /// A [`PersistenceKind`] wire name.
    pub kind: String,
    /// The application cookie's name: required for `app-cookie`, refused
    /// for the other kinds (Octavia's rule).
    pub cookie_name: Option<String>,
}

/// Plans session persistence for a pool whose backends speak `protocol`.
/// The cookie kinds need HTTP, where Weir reads and writes cookies: an
/// HTTP pool serves only HTTP listeners, so no TCP, UDP or passthrough
/// listener ever carries them.
pub fn plan_persistence(
    spec: &PersistenceSpec,
    protocol: Option<PoolProtocol>,
) -> Result<Persistence, Error> {
    let kind: PersistenceKind = parse_enum("persistence", &spec.kind, PersistenceKind::NAMES)?;
    let persistence = match (kind, &spec.cookie_name) {
        (PersistenceKind::AppCookie, Some(name)) => {
            check_cookie_name("cookie_name", name)?;
            Persistence::AppCookie {
                cookie_name: name.clone(),
            }
        }
        (PersistenceKind::AppCookie, None) => {
            return Err(Error::invalid(
                "cookie_name",
                "app-cookie persistence needs the application's cookie name",
            ))
        }
        (_, Some(_)) => {
            return Err(Error::invalid(
                "cookie_name",
                format!("only app-cookie persistence takes a cookie name, not {kind}"),
            ))
        }
        (PersistenceKind::SourceIp, None) => Persistence::SourceIp,
        (PersistenceKind::HttpCookie, None) => Persistence::HttpCookie,
    };
    if kind != PersistenceKind::SourceIp && protocol != Some(PoolProtocol::Http) {
        let protocol = protocol.map_or("unspecified", PoolProtocol::as_str);
        return Err(Error::invalid(
            "persistence",
            format!("{kind} persistence needs an http pool, not {protocol}"),
        ));
    }
    Ok(persistence)
}

/// A cookie name is an RFC 6265 `token` (RFC 9110 §5.6.2): visible ASCII
/// without separators, so no space, `=`, `;`, `,` or control character
/// can end it early or smuggle another cookie in; 1-255 bytes.
pub fn check_cookie_name(field: &str, name: &str) -> Result<(), Error> {
    if name.is_empty() || name.len() > MAX_COOKIE_NAME {
        return Err(Error::invalid(
            field,
            format!("a cookie name is 1-{MAX_COOKIE_NAME} characters"),
        ));
    }
    let tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if !name.bytes().all(tchar) {
        return Err(Error::invalid(
            field,
            format!("{name:?} is not a cookie name (letters, digits and !#$%&'*+-.^_`|~ only)"),
        ));
    }
    Ok(())
}

/// A change to a pool's settings. `health_check: Some(None)` removes the
/// check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolUpdate {
    pub health_check: Option<Option<HealthCheckSpec>>,
    pub drain_timeout_ms: Option<u64>,
    /// 0 turns slow start off.
    pub slow_start_ms: Option<u64>,
    /// Fail open when every backend is down ([`crate::fail_open`]).
    pub fail_open: Option<bool>,
    pub name: Option<String>,
    pub description: Option<String>,
    /// A server group's own algorithm ([`Pool::scheduler`]); `Some(None)`:
    /// back to each listener's.
    pub scheduler: Option<Option<String>>,
    /// Serve (true) or serve nothing (false).
    pub enabled: Option<bool>,
    /// Session persistence ([`plan_persistence`]); `Some(None)`: none.
    pub persistence: Option<Option<PersistenceSpec>>,
    /// The health check's name (Octavia's health monitor `name`).
    pub monitor_name: Option<String>,
    /// Run (true) or keep but not run (false) the health check.
    pub monitor_enabled: Option<bool>,
    /// Replaces the pool's tags (empty clears them); `None` leaves them.
    pub tags: Option<Vec<String>>,
    /// Replaces the health check's tags, likewise. Removing the check
    /// (`health_check: Some(None)`) clears them.
    pub monitor_tags: Option<Vec<String>>,
    /// Members dialled over TLS ([`crate::upstream_tls`]); `Some(None)`:
    /// in the clear again.
    pub upstream_tls: Option<Option<crate::upstream_tls::UpstreamTls>>,
    /// What the pool's listener has its members speak, for a pool that
    /// names no protocol of its own (a native listener's own pool): the
    /// caller reads it ([`crate::upstream_tls::listener_speaks`]).
    pub listener_speaks: Option<crate::model::PoolProtocol>,
}

/// Parses `200`, `200-399`, `200,204,300-302`.
pub fn parse_codes(field: &str, text: &str) -> Result<Vec<(u16, u16)>, Error> {
    let bad = || {
        Error::invalid(
            field,
            format!("{text:?} is not a list of HTTP codes such as 200-399,404"),
        )
    };
    let mut out = Vec::new();
    for part in text.split(',') {
        let (a, b) = part
            .trim()
            .split_once('-')
            .unwrap_or((part.trim(), part.trim()));
        let (a, b): (u16, u16) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
        if !(100..=599).contains(&a) || !(100..=599).contains(&b) || a > b {
            return Err(bad());
        }
        out.push((a, b));
    }
    Ok(out)
}

/// Formats codes the way [`parse_codes`] reads them.
pub fn format_codes(codes: &[(u16, u16)]) -> String {
    codes
        .iter()
        .map(|(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Holds a check's Host to a DNS name (Octavia's `domain_name`): labels
/// of letters, digits and inner hyphens, at most 63 bytes each and 253 in
/// all, an optional final dot. It is written into the check's request as
/// given, so anything else (a space, CR/LF, a colon) could smuggle header
/// lines or another target into it.
pub fn check_host(field: &str, host: &str) -> Result<(), Error> {
    let bad = |why: &str| Error::invalid(field, format!("{host:?} is not a DNS name: {why}"));
    let name = host.strip_suffix('.').unwrap_or(host);
    if name.is_empty() || name.len() > 253 {
        return Err(bad("1-253 characters"));
    }
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(bad("each label has 1-63 characters"));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(bad("only letters, digits, '-' and '.'"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(bad("a label neither starts nor ends with '-'"));
        }
    }
    Ok(())
}

/// The request of an HTTP check from its spec, defaults filled.
fn plan_check_request(spec: &HealthCheckSpec) -> Result<CheckRequest, Error> {
    let f = |name: &str| format!("health_check.{name}");
    let mut request = CheckRequest::default();
    if let Some(method) = &spec.method {
        request.method = parse_enum(&f("method"), method, HttpMethod::NAMES)?;
    }
    if let Some(version) = &spec.http_version {
        request.version = parse_enum(&f("http_version"), version, HttpVersion::NAMES)?;
    }
    if let Some(host) = &spec.host {
        check_host(&f("host"), host)?;
        request.host = Some(host.clone());
    }
    Ok(request)
}

/// The one rule of what a check needs from the data plane: PING needs
/// ICMP. Every dialect gets the same answer (each in its own words) for a
/// deployment whose data plane cannot send an echo request.
pub fn check_supported(kind: &CheckKind, capabilities: Capabilities) -> Result<(), Error> {
    match kind {
        CheckKind::Ping if !capabilities.icmp_echo => Err(Error::Unsupported {
            field: "health_check.type".to_owned(),
            reason: "PING checks need ICMP, and this deployment's data plane cannot send \
                     echo requests (no ping socket admitted by net.ipv4.ping_group_range, \
                     no CAP_NET_RAW)"
                .to_owned(),
        }),
        _ => Ok(()),
    }
}

/// Validates a health check, filling defaults (interval 2 s, timeout 1 s,
/// rise 2, fall 3), and refuses a kind the data plane cannot run
/// ([`check_supported`]).
pub fn plan_health_check(
    spec: &HealthCheckSpec,
    capabilities: Capabilities,
) -> Result<HealthCheck, Error> {
    let f = |name: &str| format!("health_check.{name}");
    let http_only = spec.path.is_some()
        || spec.expected_codes.is_some()
        || spec.method.is_some()
        || spec.http_version.is_some()
        || spec.host.is_some();
    if spec.kind != "udp-connect" && (spec.send.is_some() || spec.expect.is_some()) {
        return Err(Error::invalid(
            f("send"),
            "a payload and an expected answer apply to udp-connect checks only",
        ));
    }
    let kind = match spec.kind.as_str() {
        "tcp" => {
            if http_only {
                return Err(Error::invalid(
                    f("path"),
                    "path, expected_codes, method, http_version and host apply to http checks only",
                ));
            }
            CheckKind::Tcp
        }
        "udp-connect" | "tls-hello" => {
            if http_only {
                return Err(Error::invalid(
                    f("path"),
                    "path, expected_codes, method, http_version and host apply to http checks only",
                ));
            }
            match (spec.kind.as_str(), &spec.send, &spec.expect) {
                ("tls-hello", _, _) => CheckKind::TlsHello,
                (_, None, None) => CheckKind::UdpConnect,
                (_, None, Some(_)) => {
                    return Err(Error::invalid(
                        f("expect"),
                        "an expected answer needs the payload it answers (send)",
                    ))
                }
                (_, Some(send), expect) => {
                    crate::udp_check::check_text(&f("send"), send)?;
                    if let Some(expect) = expect {
                        crate::udp_check::check_text(&f("expect"), expect)?;
                    }
                    CheckKind::UdpPayload {
                        send: send.clone(),
                        expect: expect.clone(),
                    }
                }
            }
        }
        "ping" => {
            if http_only {
                return Err(Error::invalid(
                    f("path"),
                    "path, expected_codes, method, http_version and host apply to http checks only",
                ));
            }
            // An echo request goes to an address; a port would be taken
            // and never used.
            if spec.port.is_some() {
                return Err(Error::invalid(f("port"), "a ping check has no port"));
            }
            CheckKind::Ping
        }
        "http" | "https" => {
            let path = spec.path.clone().unwrap_or_else(|| "/".to_owned());
            if !path.starts_with('/')
                || path.len() > 1024
                || path.chars().any(|c| c.is_control() || c == ' ')
            {
                return Err(Error::invalid(
                    f("path"),
                    "must start with '/' and contain no spaces",
                ));
            }
            let expected = parse_codes(
                &f("expected_codes"),
                spec.expected_codes.as_deref().unwrap_or("200-399"),
            )?;
            let request = plan_check_request(spec)?;
            if spec.kind == "https" {
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
        other => {
            return Err(Error::invalid(
                f("type"),
                format!("{other:?} is not one of tcp, http, https, tls-hello, udp-connect, ping"),
            ))
        }
    };
    check_supported(&kind, capabilities)?;
    let interval_ms = spec.interval_ms.unwrap_or(2_000);
    let min = match kind {
        CheckKind::Https { .. } | CheckKind::TlsHello => MIN_TLS_INTERVAL_MS,
        _ => MIN_INTERVAL_MS,
    };
    if !(min..=MAX_INTERVAL_MS).contains(&interval_ms) {
        return Err(Error::invalid(
            f("interval_ms"),
            format!("must be in {min}-{MAX_INTERVAL_MS} for this check"),
        ));
    }
    // Checks of one backend never overlap (the next starts an interval
    // after the last ended), so a timeout longer than the interval is
    // meaningful, as in Octavia and HAProxy: it only spaces checks out.
    let timeout_ms = spec.timeout_ms.unwrap_or(1_000.min(interval_ms));
    if !(1..=MAX_INTERVAL_MS).contains(&timeout_ms) {
        return Err(Error::invalid(
            f("timeout_ms"),
            format!("must be in 1-{MAX_INTERVAL_MS}"),
        ));
    }
    let count = |name: &str, v: Option<u32>, default: u32| match v.unwrap_or(default) {
        n @ 1..=10 => Ok(n),
        n => Err(Error::invalid(f(name), format!("{n} is not in 1-10"))),
    };
    let port = spec
        .port
        .map(|p| crate::loadbalancer::parse_port(&f("port"), p))
        .transpose()?;
    Ok(HealthCheck {
        kind,
        interval_ms,
        timeout_ms,
        rise: count("rise", spec.rise, 2)?,
        fall: count("fall", spec.fall, 3)?,
        port,
    })
}

/// Applies an update to a pool; a health check is planned against what
/// the data plane can do.
pub fn plan_pool_update(
    current: &Pool,
    update: &PoolUpdate,
    capabilities: Capabilities,
    now: Timestamp,
) -> Result<Pool, Error> {
    let mut next = current.clone();
    if let Some(name) = &update.name {
        crate::inventory::validate_name("name", name)?;
        next.name = name.clone();
    }
    if let Some(text) = &update.description {
        crate::inventory::validate_description("description", text)?;
        next.description = text.clone();
    }
    if let Some(name) = &update.monitor_name {
        crate::inventory::validate_name("monitor_name", name)?;
        next.monitor_name = name.clone();
    }
    if let Some(scheduler) = &update.scheduler {
        next.scheduler = scheduler
            .as_deref()
            .map(|s| parse_enum("scheduler", s, Scheduler::NAMES))
            .transpose()?;
    }
    if let Some(enabled) = update.enabled {
        next.enabled = enabled;
    }
    if let Some(persistence) = &update.persistence {
        next.persistence = persistence
            .as_ref()
            .map(|p| plan_persistence(p, current.protocol))
            .transpose()?;
    }
    if let Some(enabled) = update.monitor_enabled {
        next.monitor_enabled = enabled;
    }
    if let Some(upstream) = &update.upstream_tls {
        if let Some(u) = upstream {
            let protocol = current.protocol.or(update.listener_speaks);
            crate::upstream_tls::check("tls_enabled", protocol, u)?;
        }
        next.upstream_tls = upstream.clone();
    }
    if let Some(check) = &update.health_check {
        next.health_check = check
            .as_ref()
            .map(|c| plan_health_check(c, capabilities))
            .transpose()?;
        if next.health_check.is_none() {
            next.monitor_tags.clear();
        }
    }
    crate::tags::apply("tags", &mut next.tags, update.tags.as_deref())?;
    crate::tags::apply(
        "monitor_tags",
        &mut next.monitor_tags,
        update.monitor_tags.as_deref(),
    )?;
    if let Some(ms) = update.drain_timeout_ms {
        if ms > MAX_DRAIN_TIMEOUT_MS {
            return Err(Error::invalid(
                "drain_timeout_ms",
                format!("must be at most {MAX_DRAIN_TIMEOUT_MS}"),
            ));
        }
        next.drain_timeout_ms = ms;
    }
    if let Some(ms) = update.slow_start_ms {
        if ms > MAX_SLOW_START_MS {
            return Err(Error::invalid(
                "slow_start_ms",
                format!("must be at most {MAX_SLOW_START_MS}"),
            ));
        }
        next.slow_start_ms = ms;
    }
    if let Some(on) = update.fail_open {
        next.fail_open = on;
    }
    if next != *current {
        next.updated_at = now;
    }
    Ok(next)
}

#[cfg(test)]
mod tests;
