//! Typed identifiers. Ids are opaque strings minted outside the core (the
//! control layer uses UUIDv7 so that id order follows creation order, which
//! keeps marker paging stable); the newtypes stop a pool id from being
//! passed where a listener id is expected.
//!
//! Ids arrive from the wire in paths, bodies and query strings.
//! [`well_formed`] is the one shape check every front end relies on: an id
//! that fails it cannot name a stored resource, so lookups answer "not
//! found" without asking the database (PostgreSQL refuses a NUL byte in
//! text outright, which would fail the whole group commit the lookup runs
//! in).

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
    /// A TLS certificate with its private key.
    CertificateId,
    /// An operator's flavor profile (Octavia's provider settings).
    FlavorProfileId,
    /// An operator's flavor: a named profile tenants pick on create.
    FlavorId,
    /// An L7 policy of an HTTP listener.
    L7PolicyId,
    /// A rule of an L7 policy.
    L7RuleId,
    /// A key-manager secret (Barbican's).
    SecretId,
    /// A key-manager container of named secrets.
    ContainerId,
    /// An access control list of a project ([`crate::acl`]).
    AclId,
);

/// Longest id accepted anywhere (UUIDs take 36; operators' and clouds'
/// prefixed ids fit with room to spare).
pub const MAX_ID_LEN: usize = 128;

/// Whether `id` can be an id at all: 1 to [`MAX_ID_LEN`] bytes of printable
/// ASCII without spaces. Every id Weir mints or stores has this shape; a
/// NUL byte, a control character, non-ASCII text or an over-long string
/// does not.
pub fn well_formed(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_ID_LEN && id.bytes().all(|b| b.is_ascii_graphic())
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_bounded_printable_ascii() {
        assert!(well_formed("0190d6e2-7c1e-7a55-9d1e-7f7c3b0f5e2a"));
        assert!(well_formed("lb-2ze8z4m1k0"));
        assert!(well_formed(&"a".repeat(MAX_ID_LEN)));
        for bad in ["", "a\0b", "\0", "a b", "tab\there", "é", "id\n"] {
            assert!(!well_formed(bad), "{bad:?}");
        }
        assert!(!well_formed(&"a".repeat(MAX_ID_LEN + 1)));
    }
}
