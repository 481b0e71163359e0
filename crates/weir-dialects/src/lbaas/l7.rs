//! `/l7policies` and their rules: Weir has no L7 routing yet (the
//! listener-policy work), so there are never any to list or show, and
//! creating one is the provider's "unsupported" (501), which Octavia
//! clients and the tempest plugin read as such — never a 2xx for a policy
//! that would not be enforced.

use super::*;

pub(super) async fn list_l7policies(
    Query(q): Query<Vec<(String, String)>>,
    Here(here): Here,
) -> LbResult {
    ok(listing::list(Vec::new(), &q, "l7policies", &here)?)
}

// Each handler reads the body it is sent before answering: an answer to
// a request whose body is left unread closes the connection under a client
// still writing it.

pub(super) async fn create_l7policy(RawBody(_): RawBody) -> LbaasError {
    LbaasError::unsupported("L7 policies (Weir routes by listener and pool only, for now)")
}

pub(super) async fn create_l7rule(
    Path(p): Path<HashMap<String, String>>,
    RawBody(_): RawBody,
) -> LbaasError {
    l7policy_not_found(&p)
}

pub(super) async fn missing_l7policy(
    Path(p): Path<HashMap<String, String>>,
    RawBody(_): RawBody,
) -> LbaasError {
    l7policy_not_found(&p)
}

fn l7policy_not_found(p: &HashMap<String, String>) -> LbaasError {
    LbaasError::not_found(format!(
        "L7 Policy {} could not be found.",
        param(p, "l7policy_id")
    ))
}
