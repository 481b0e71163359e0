//! Who is calling: the operator (admin token) or a project (its token or,
//! for the dialects, its access key).

use sha2::{Digest, Sha256};
use weir_core::ids::ProjectId;
use weir_core::model::{Owned, Role};
use weir_core::{Error, ResourceKind};

use crate::ControlError;

/// The authenticated caller, with what its role lets it do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The operator (the admin token, or an `admin` credential): may
    /// manage the inventory and every project's resources.
    Admin,
    /// A project's `member`: reads and writes its own project's resources.
    Project(ProjectId),
    /// A project's `reader`: reads its own project's resources, writes
    /// nothing.
    Reader(ProjectId),
    /// A global `observer`: reads every project's resources, writes
    /// nothing.
    Observer,
}

impl Principal {
    /// The principal a credential of `project` with `role` acts as.
    pub fn with_role(project: ProjectId, role: Role) -> Self {
        match role {
            Role::Reader => Principal::Reader(project),
            Role::Member => Principal::Project(project),
            Role::Observer => Principal::Observer,
            Role::Admin => Principal::Admin,
        }
    }

    /// The caller's role.
    pub fn role(&self) -> Role {
        match self {
            Principal::Admin => Role::Admin,
            Principal::Project(_) => Role::Member,
            Principal::Reader(_) => Role::Reader,
            Principal::Observer => Role::Observer,
        }
    }

    /// Whether the caller may see resources of `project`.
    pub fn sees(&self, project: &ProjectId) -> bool {
        match self.scope() {
            None => true,
            Some(p) => p == project,
        }
    }

    /// The project filter for list operations (`None`: all projects).
    pub fn scope(&self) -> Option<&ProjectId> {
        match self {
            Principal::Admin | Principal::Observer => None,
            Principal::Project(p) | Principal::Reader(p) => Some(p),
        }
    }

    /// Refuses a write to a principal that only reads. Every command
    /// passes here before it reaches the writer (the `command!` macro
    /// takes the principal for that reason).
    pub fn may_write(&self) -> Result<(), ControlError> {
        if self.role().writes() {
            Ok(())
        } else {
            Err(ControlError::ReadOnly(self.role()))
        }
    }

    /// Hides another project's resource behind "not found", so ids never
    /// leak across tenants.
    pub fn check<T: Owned>(
        &self,
        found: Option<T>,
        kind: ResourceKind,
        id: &str,
    ) -> Result<T, Error> {
        found
            .filter(|r| self.sees(r.owner()))
            .ok_or_else(|| Error::not_found(kind, id))
    }
}

/// The bearer token nodes read each other's live state with
/// (`GET /v1/cluster/live`): SHA-256 over a label and the secrets key
/// every node of a registry shares, so it is neither stored nor
/// configured apart, and a node with another key is refused.
pub fn cluster_token(secrets_key: &[u8; 32]) -> String {
    let mut hash = Sha256::new();
    hash.update(b"weir cluster live state v1\0");
    hash.update(secrets_key);
    format!("wcl_{}", hex(&hash.finalize()))
}

/// SHA-256 of a bearer token, hex; only hashes are stored.
pub fn hash_token(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Equality whose running time does not depend on where the inputs differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A fresh secret: `prefix` and 40 random alphanumerics (about 238 bits).
pub fn random_token(prefix: &str) -> String {
    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    format!("{prefix}{}", random_string(ALNUM, 40))
}

/// `len` random characters from `alphabet`.
pub(crate) fn random_string(alphabet: &[u8], len: usize) -> String {
    let mut bytes = vec![0u8; len];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    // 256 is not a multiple of every alphabet size; the slight bias is
    // irrelevant at these lengths (>= 160 bits of entropy).
    bytes
        .iter()
        .map(|b| alphabet[usize::from(*b) % alphabet.len()] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }

    #[test]
    fn hashes_are_hex_sha256() {
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn projects_see_only_themselves() {
        let p = Principal::Project("a".into());
        assert!(p.sees(&"a".into()));
        assert!(!p.sees(&"b".into()));
        assert!(Principal::Admin.sees(&"b".into()));
    }

    #[test]
    fn readers_read_and_never_write() {
        let reader = Principal::with_role("a".into(), Role::Reader);
        assert!(reader.sees(&"a".into()));
        assert!(!reader.sees(&"b".into()));
        assert!(matches!(
            reader.may_write(),
            Err(ControlError::ReadOnly(Role::Reader))
        ));
        let observer = Principal::with_role("a".into(), Role::Observer);
        assert!(observer.sees(&"b".into()));
        assert_eq!(observer.scope(), None);
        assert!(observer.may_write().is_err());
        assert!(Principal::with_role("a".into(), Role::Member)
            .may_write()
            .is_ok());
        assert_eq!(
            Principal::with_role("a".into(), Role::Admin),
            Principal::Admin
        );
    }
}
