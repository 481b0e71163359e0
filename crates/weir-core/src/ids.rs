//! Typed identifiers. Ids are opaque strings minted outside the core (the
//! control layer uses UUIDv7 so that id order follows creation order, which
//! keeps marker paging stable); the newtypes stop a pool id from being
//! passed where a listener id is expected.

use std::fmt;

macro_rules! id_type {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Wraps an id string as it came from the store or the wire.
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_owned())
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s)
            }
        }
    )*};
}

id_type!(
    /// A tenant; every other resource belongs to exactly one.
    ProjectId,
    /// A virtual private cloud.
    VpcId,
    /// A subnet inside a VPC.
    SubnetId,
    /// A VM or bare-metal instance of the inventory.
    InstanceId,
    /// A load balancer.
    LoadBalancerId,
    /// A listener on a load balancer.
    ListenerId,
    /// A pool of backends.
    PoolId,
    /// A registered backend.
    BackendId,
);

/// Supplies fresh ids to planners, which must not generate them themselves
/// (no randomness or clock in the core).
pub trait IdSource {
    /// Returns a new id string, unique and ordered after earlier ones.
    fn next_id(&mut self) -> String;
}

/// Deterministic ids for tests: `prefix-000001`, `prefix-000002`, ...
#[derive(Debug, Default)]
pub struct SequentialIds {
    next: u64,
}

impl IdSource for SequentialIds {
    fn next_id(&mut self) -> String {
        self.next += 1;
        format!("id-{:06}", self.next)
    }
}
