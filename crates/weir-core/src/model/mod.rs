//! The domain model shared by every dialect: one registry, five faces.
//!
//! Plain data with validated field types; the rules that relate entities to
//! each other live in the planner modules.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;

use crate::ids::*;
use crate::Timestamp;

/// Parses the lowercase wire names of the small enums below.
macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vdoc])* $variant),* }

        impl $name {
            /// Every accepted wire name, for error messages and docs.
            pub const NAMES: &'static [&'static str] = &[$($text),*];

            /// The canonical wire name.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),* }
            }
        }

        impl FromStr for $name {
            type Err = ();
            fn from_str(s: &str) -> Result<Self, ()> {
                match s { $($text => Ok(Self::$variant),)* _ => Err(()) }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum!(
    /// What kind of machine an instance is; bare metal has extra rules on
    /// Zenlayer ZLB (registered by address, behind a border gateway).
    InstanceType { Vm = "vm", Bm = "bm" }
);
wire_enum!(
    /// Power state of an instance; Aliyun only adds running servers.
    InstanceState { Running = "running", Stopped = "stopped" }
);
wire_enum!(
    /// Load balancer lifecycle, Zenlayer's names.
    LbStatus { Creating = "CREATING", Running = "RUNNING", Stopped = "STOPPED", Error = "ERROR" }
);
wire_enum!(
    /// Listener protocol.
    Protocol {
        Tcp = "tcp",
        Udp = "udp",
        Http = "http",
        /// TLS passed through untouched to backends that terminate it
        /// (Octavia's `HTTPS`): served as TCP, kept as said so that pools
        /// and views know what the bytes are. Terminating TLS is another
        /// protocol, [`Protocol::Https`].
        TlsPassthrough = "tls-passthrough",
        /// TLS terminated by Weir with the listener's certificates, then
        /// HTTP/1.1 served by the same engine as `http`.
        Https = "https",
        /// Serves the Prometheus text exposition of its own load
        /// balancer's listeners, pools and members on `GET /metrics`
        /// (Octavia API 2.25); it forwards nothing, so it has no pools,
        /// L7 policies or added headers ([`Protocol::forwards`]).
        Prometheus = "prometheus"
    }
);

impl Protocol {
    /// Whether the listener takes TCP connections (its ports collide with
    /// every other TCP-borne listener's on the same VIP).
    pub fn is_tcp(self) -> bool {
        !matches!(self, Self::Udp)
    }

    /// Whether Weir relays the listener's bytes untouched (TCP and TLS
    /// passthrough), so a PROXY header may go first.
    pub fn is_stream_relay(self) -> bool {
        matches!(self, Self::Tcp | Self::TlsPassthrough)
    }

    /// Whether Weir reads the requests (HTTP, and HTTPS once TLS is
    /// terminated): forwarded headers, cookie persistence and HTTP pools
    /// apply.
    pub fn is_http(self) -> bool {
        matches!(self, Self::Http | Self::Https)
    }

    /// Whether the listener forwards to backends at all: a `prometheus`
    /// listener answers itself, so pools, members and L7 policies are
    /// refused on it.
    pub fn forwards(self) -> bool {
        !matches!(self, Self::Prometheus)
    }
}
wire_enum!(
    /// How packets reach backends. DR and NAT keep the client's port layout,
    /// so backends get no port of their own on DR listeners.
    ForwardingMode { Proxy = "proxy", Nat = "nat", Dr = "dr" }
);
wire_enum!(
    /// Whether TCP backends get a PROXY protocol header first, so they see
    /// the client's address.
    ProxyProtocol { None = "none", V1 = "v1", V2 = "v2" }
);
wire_enum!(
    /// What a server group's backends speak, when the group says (Octavia's
    /// pool `protocol`): it decides which listeners may forward to the
    /// group and whether they send a PROXY header first.
    PoolProtocol {
        Tcp = "tcp",
        Udp = "udp",
        Http = "http",
        /// TLS the backends terminate; passed through as TCP.
        Https = "https",
        /// TCP after a PROXY protocol v1 header.
        Proxy = "proxy",
        /// TCP after a PROXY protocol v2 header.
        ProxyV2 = "proxyv2"
    }
);

impl PoolProtocol {
    /// Whether a listener of `listener` protocol can forward to a group
    /// of this protocol (Octavia's listener/pool compatibility table, less
    /// what Weir cannot do: an HTTP listener sends no PROXY header).
    pub fn serves(self, listener: Protocol) -> bool {
        match listener {
            Protocol::Tcp => !matches!(self, Self::Udp),
            Protocol::TlsPassthrough => {
                matches!(self, Self::Https | Self::Tcp | Self::Proxy | Self::ProxyV2)
            }
            Protocol::Udp => self == Self::Udp,
            Protocol::Http | Protocol::Https => self == Self::Http,
            Protocol::Prometheus => false,
        }
    }

    /// The PROXY header a listener sends the group's backends first.
    pub fn proxy_header(self) -> ProxyProtocol {
        match self {
            Self::Proxy => ProxyProtocol::V1,
            Self::ProxyV2 => ProxyProtocol::V2,
            _ => ProxyProtocol::None,
        }
    }
}

wire_enum!(
    /// The kinds of [`Persistence`], by wire name.
    PersistenceKind {
        SourceIp = "source-ip",
        HttpCookie = "http-cookie",
        AppCookie = "app-cookie"
    }
);

/// The cookie an HTTP listener inserts for [`Persistence::HttpCookie`]:
/// its value is an opaque token of the backend (a hash of the pool and
/// backend ids), never its address.
pub const STICKY_COOKIE: &str = "WEIRSRV";

/// Longest application cookie name (Octavia's column is 255 wide).
pub const MAX_COOKIE_NAME: usize = 255;

/// How a server group keeps a client on one backend (Octavia's
/// `session_persistence`). Source-IP persistence is consistent hashing
/// of the client address (the `sh` scheduler, Maglev), whatever the
/// group's algorithm; the cookie kinds are HTTP only (the pool's protocol
/// is HTTP, see [`crate::pool::check_persistence`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Persistence {
    SourceIp,
    /// Weir inserts [`STICKY_COOKIE`] naming the backend that answered;
    /// a request carrying it goes back there while that backend is
    /// eligible.
    HttpCookie,
    /// Requests carrying the application's cookie of this name are
    /// consistently hashed (Maglev) on its value.
    AppCookie {
        cookie_name: String,
    },
}

impl Persistence {
    pub fn kind(&self) -> PersistenceKind {
        match self {
            Self::SourceIp => PersistenceKind::SourceIp,
            Self::HttpCookie => PersistenceKind::HttpCookie,
            Self::AppCookie { .. } => PersistenceKind::AppCookie,
        }
    }

    /// Whether the HTTP engine honours it (by cookie).
    pub fn cookie_kind(&self) -> bool {
        !matches!(self, Self::SourceIp)
    }

    /// The application cookie's name, for [`Self::AppCookie`] only.
    pub fn cookie_name(&self) -> Option<&str> {
        match self {
            Self::AppCookie { cookie_name } => Some(cookie_name),
            _ => None,
        }
    }

    /// The stored form (one TEXT column): the kind's wire name, and for
    /// an application cookie `app-cookie:NAME` (a cookie name is a token,
    /// which never holds a colon).
    pub fn to_stored(&self) -> String {
        match self {
            Self::AppCookie { cookie_name } => format!("app-cookie:{cookie_name}"),
            other => other.kind().as_str().to_owned(),
        }
    }

    /// Reads [`Self::to_stored`]'s form back; `None` for anything else.
    pub fn from_stored(text: &str) -> Option<Self> {
        match text.split_once(':') {
            Some(("app-cookie", name)) if !name.is_empty() => Some(Self::AppCookie {
                cookie_name: name.to_owned(),
            }),
            Some(_) => None,
            None => match text.parse().ok()? {
                PersistenceKind::SourceIp => Some(Self::SourceIp),
                PersistenceKind::HttpCookie => Some(Self::HttpCookie),
                PersistenceKind::AppCookie => None,
            },
        }
    }
}

wire_enum!(
    /// Backend selection algorithm: weighted round robin, least connections,
    /// source hashing.
    Scheduler {
        Wrr = "wrr",
        Lc = "lc",
        /// Consistent hashing (Maglev) of the client address: every
        /// connection of one client goes to one backend.
        Sh = "sh",
        /// Consistent hashing of the client address and port (Octavia's
        /// SOURCE_IP_PORT): one connection or UDP flow stays on one
        /// backend, a client's connections spread.
        ShPort = "sh-port"
    }
);

impl Scheduler {
    /// Whether it picks by hashing the client (the pool needs a Maglev
    /// table).
    pub fn hashes(self) -> bool {
        matches!(self, Self::Sh | Self::ShPort)
    }
}

mod backend;
mod listener;
mod pool;
mod tenancy;

pub use backend::*;
pub use listener::*;
pub use pool::*;
pub use tenancy::*;

/// A resource that belongs to one project (every resource but a project
/// itself, which owns itself).
pub trait Owned {
    fn owner(&self) -> &ProjectId;
}

macro_rules! owned_by_project_id {
    ($($t:ty),*) => {$(
        impl Owned for $t {
            fn owner(&self) -> &ProjectId {
                &self.project_id
            }
        }
    )*};
}

owned_by_project_id!(
    crate::keymgr::Secret,
    crate::keymgr::Container,
    Vpc,
    Subnet,
    Instance,
    LoadBalancer,
    Listener,
    Pool,
    Backend,
    Credential,
    Certificate
);

impl Owned for Project {
    fn owner(&self) -> &ProjectId {
        &self.id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listener_port_specs_round_trip() {
        for spec in ["80", "all", "1000-2000,3000"] {
            let parsed = ListenerPorts::from_spec(spec).unwrap();
            assert_eq!(parsed.to_spec(), spec);
        }
        assert_eq!(
            ListenerPorts::from_spec("8080-8080").unwrap().to_spec(),
            "8080"
        );
        assert_eq!(ListenerPorts::from_spec("0"), None);
        assert_eq!(ListenerPorts::from_spec("20-10"), None);
        assert_eq!(ListenerPorts::from_spec("x"), None);
    }

    #[test]
    fn single_port_range_counts_as_single() {
        let ports = ListenerPorts::Ranges(vec![PortRange { start: 9, end: 9 }]);
        assert!(ports.is_single());
        assert!(!ListenerPorts::All.is_single());
    }
}
