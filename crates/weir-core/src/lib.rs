//! Weir's domain core: the model, the validation rules of all five cloud
//! dialects, and pure planners that turn a command plus a snapshot of the
//! relevant state into the change to write.
//!
//! The core knows nothing of HTTP, SQL, async or the clock: a caller loads a
//! snapshot, passes `now` and fresh ids in, and gets back either a [`Error`]
//! or the rows to write. That keeps every rule testable without tokio and
//! makes each dialect a pure translation layer.
//!
//! Module map:
//! - [`model`]: entities (VPC, subnet, instance, load balancer, listener,
//!   pool, backend) and their enums.
//! - [`ids`]: typed identifiers.
//! - [`error`]: the canonical [`Error`] every dialect maps exhaustively.
//! - [`settings`]: operator settings the rules depend on.
//! - [`address`]: canonical addresses (IPv4-mapped IPv6 as IPv4), range
//!   membership, the VIP rules.
//! - [`inventory`]: VPC, subnet and instance rules.
//! - [`loadbalancer`]: load balancer and listener rules, VIP allocation.
//! - [`flavor`]: flavor profiles and flavors (Octavia API 2.6): the one
//!   capability, `loadbalancer_topology`, and the in-use rules.
//! - [`register`]: the backend registration planner (the union of the five
//!   pages) and its per-dialect [`register::RegisterPolicy`].
//! - [`backend`]: backend update rules.
//! - [`pool`]: pool settings: health checks and drain timeout.
//! - [`l7`]: L7 policies and rules of HTTP listeners (Octavia's), their
//!   validation, positions, and the compiled matcher the HTTP engine runs.
//! - [`acl`]: access control lists, a listener's allow or deny rule.
//! - [`udp_check`]: UDP payload health checks: payload rules, the match.
//! - [`limits`]: per-listener connection caps and idle timeouts.
//! - [`tags`]: the tags every resource keeps (Octavia API 2.5).
//! - [`status`]: live state reported by the data plane.
//! - [`topology`]: what the data plane must run, compiled from the model.
//! - [`idempotency`]: client-token replay decisions.
//! - [`time`]: the injected timestamp type.
//! - [`cluster`]: node states, VIP lease timings and who should hold
//!   which VIP.
//! - [`takeover`]: the messages a running server and its successor
//!   exchange when one hands its sockets to the other.

pub mod acl;
pub mod address;
pub mod backend;
pub mod certificate;
pub mod client_auth;
pub mod cluster;
pub mod error;
pub mod fail_open;
pub mod flavor;
pub mod group;
pub mod idempotency;
pub mod ids;
pub mod inventory;
pub mod keymgr;
pub mod l7;
pub mod limits;
pub mod loadbalancer;
pub mod model;
pub mod pool;
pub mod quota;
pub mod register;
pub mod settings;
pub mod sni;
pub mod status;
pub mod tags;
pub mod takeover;
pub mod time;
pub mod tls;
pub mod topology;
pub mod udp_check;
pub mod upstream_tls;
pub mod watch;

pub use error::{Error, ResourceKind};
pub use time::Timestamp;
