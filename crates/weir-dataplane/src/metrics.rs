//! The Prometheus text exposition of what the data plane counts: the
//! operator's `/metrics` (every listener and backend, and the process)
//! and a `prometheus` listener's scrape, which is the same families
//! filtered to its own load balancer's listeners and backends, so a
//! tenant's scrape never names another tenant's resources or the
//! process-wide gauges.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, Weak};

use weir_core::ids::{BackendId, LoadBalancerId};
use weir_core::status::ListenerLive;

use crate::fd::{self, FdBudget};
use crate::listener::ListenerRuntime;
use crate::pool::{lock, BackendRuntime};
use crate::Running;

type ListenerFamily = (&'static str, &'static str, fn(&ListenerRuntime) -> u64);
type BackendFamily = (&'static str, &'static str, fn(&BackendRuntime) -> u64);

const LISTENER_FAMILIES: [ListenerFamily; 11] = [
    ("weir_listener_connections_total", "counter", |l| {
        l.connections.load(Ordering::Relaxed)
    }),
    ("weir_listener_failures_total", "counter", |l| {
        l.failures.load(Ordering::Relaxed)
    }),
    ("weir_listener_denied_total", "counter", |l| {
        l.denied.load(Ordering::Relaxed)
    }),
    (
        "weir_listener_tls_handshake_failures_total",
        "counter",
        |l| l.tls_handshake_failures.load(Ordering::Relaxed),
    ),
    ("weir_listener_up", "gauge", |l| {
        u64::from(l.status() == ListenerLive::Active)
    }),
    ("weir_listener_active_connections", "gauge", |l| {
        l.slots.open() as u64
    }),
    ("weir_listener_max_connections", "gauge", |l| {
        l.slots.limit() as u64
    }),
    ("weir_listener_saturated_total", "counter", |l| {
        l.slots.saturated.load(Ordering::Relaxed)
    }),
    ("weir_listener_upgrades_total", "counter", |l| {
        l.upgrades.load(Ordering::Relaxed)
    }),
    ("weir_listener_h2_connections_total", "counter", |l| {
        l.h2_connections.load(Ordering::Relaxed)
    }),
    ("weir_listener_h2_streams_total", "counter", |l| {
        l.h2_streams.load(Ordering::Relaxed)
    }),
];

const BACKEND_FAMILIES: [BackendFamily; 10] = [
    ("weir_backend_active_connections", "gauge", |b| {
        b.active.load(Ordering::Relaxed)
    }),
    ("weir_backend_connections_total", "counter", |b| {
        b.total.load(Ordering::Relaxed)
    }),
    ("weir_backend_bytes_sent_total", "counter", |b| {
        b.bytes_out.load(Ordering::Relaxed)
    }),
    ("weir_backend_bytes_received_total", "counter", |b| {
        b.bytes_in.load(Ordering::Relaxed)
    }),
    ("weir_backend_connect_failures_total", "counter", |b| {
        b.connect_failures.load(Ordering::Relaxed)
    }),
    // Also counted among the connect failures: a failed handshake sent
    // nothing of the request.
    ("weir_backend_tls_failures_total", "counter", |b| {
        b.tls_failures.load(Ordering::Relaxed)
    }),
    ("weir_backend_failed_responses_total", "counter", |b| {
        b.response_failures.load(Ordering::Relaxed)
    }),
    ("weir_backend_check_latency_microseconds", "gauge", |b| {
        b.check_latency_us.load(Ordering::Relaxed)
    }),
    ("weir_backend_checks_total", "counter", |b| {
        b.checks.load(Ordering::Relaxed)
    }),
    ("weir_backend_healthy", "gauge", |b| {
        u64::from(b.live().state == weir_core::status::BackendState::Healthy)
    }),
];

/// The listener families, of every listener or of `lb`'s.
pub(crate) fn render_listeners(out: &mut String, running: &Running, lb: Option<&LoadBalancerId>) {
    let mut listeners: Vec<_> = running
        .listeners
        .iter()
        .filter(|(_, l)| lb.is_none_or(|lb| l.spec().lb_id == *lb))
        .collect();
    listeners.sort_by(|a, b| a.0.cmp(b.0));
    for (name, kind, value) in LISTENER_FAMILIES {
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for (id, l) in &listeners {
            let _ = writeln!(out, "{name}{{listener=\"{id}\"}} {}", value(l));
        }
    }
    let name = "weir_listener_request_duration_seconds";
    let _ = writeln!(out, "# TYPE {name} histogram");
    for (id, l) in &listeners {
        l.request_duration.render(out, name, "listener", id);
    }
}

/// The process-wide gauges: the operator's alone.
pub(crate) fn render_process(out: &mut String, fds: &FdBudget) {
    let _ = writeln!(out, "# TYPE weir_process_open_fds gauge");
    let _ = writeln!(out, "weir_process_open_fds {}", fd::open_fds().unwrap_or(0));
    let _ = writeln!(out, "# TYPE weir_process_max_fds gauge");
    let _ = writeln!(out, "weir_process_max_fds {}", fds.limit());
    let _ = writeln!(out, "# TYPE weir_dataplane_fd_reserve gauge");
    let _ = writeln!(out, "weir_dataplane_fd_reserve {}", fds.reserve());
    let _ = writeln!(out, "# TYPE weir_dataplane_fd_refusals_total counter");
    let _ = writeln!(
        out,
        "weir_dataplane_fd_refusals_total {}",
        fds.refusals.load(Ordering::Relaxed)
    );
}

/// The backend families, of every backend or of those in `lb`'s pools
/// (the topology's pools name their load balancer).
pub(crate) fn render_backends(
    out: &mut String,
    running: &Running,
    registry: &HashMap<BackendId, Arc<BackendRuntime>>,
    lb: Option<&LoadBalancerId>,
) {
    let backends: Vec<(&BackendId, &Arc<BackendRuntime>)> = match lb {
        None => registry.iter().collect(),
        Some(lb) => {
            let mut mine: Vec<_> = running
                .topology
                .pools
                .values()
                .filter(|p| p.lb_id == *lb)
                .flat_map(|p| p.backends.iter())
                .filter_map(|b| registry.get_key_value(&b.id))
                .collect();
            mine.sort_by(|a, b| a.0.cmp(b.0));
            mine.dedup_by(|a, b| a.0 == b.0);
            mine
        }
    };
    for (name, kind, value) in BACKEND_FAMILIES {
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for (id, b) in &backends {
            let _ = writeln!(out, "{name}{{backend=\"{id}\"}} {}", value(b));
        }
    }
    let _ = writeln!(out, "# TYPE weir_backend_http_responses_total counter");
    for (id, b) in &backends {
        for (class, counter) in b.responses.iter().enumerate() {
            let _ = writeln!(
                out,
                "weir_backend_http_responses_total{{backend=\"{id}\",class=\"{}xx\"}} {}",
                class + 1,
                counter.load(Ordering::Relaxed)
            );
        }
    }
    let name = "weir_backend_connect_duration_seconds";
    let _ = writeln!(out, "# TYPE {name} histogram");
    for (id, b) in &backends {
        b.connect_duration.render(out, name, "backend", id);
    }
}

/// What a `prometheus` listener reads: weak handles on the data plane's
/// state (the data plane owns them; a listener task outliving it renders
/// nothing rather than keeping it alive).
#[derive(Default)]
pub(crate) struct Scraper {
    pub(crate) running: Weak<Mutex<Running>>,
    pub(crate) registry: Weak<Mutex<HashMap<BackendId, Arc<BackendRuntime>>>>,
}

impl Scraper {
    /// The exposition of `lb`'s own listeners and backends.
    pub(crate) fn render(&self, lb: &LoadBalancerId) -> String {
        let mut out = String::new();
        let (Some(running), Some(registry)) = (self.running.upgrade(), self.registry.upgrade())
        else {
            return out;
        };
        let running = lock(&running);
        render_listeners(&mut out, &running, Some(lb));
        render_backends(&mut out, &running, &lock(&registry), Some(lb));
        out
    }
}
