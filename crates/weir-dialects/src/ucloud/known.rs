//! The parameters each ULB action reads, so that one Weir does not read
//! is refused (RetCode 230, nothing written) instead of being accepted and
//! dropped; and CreateULB's mode, billing and grouping parameters, which
//! are accepted only when they say what Weir does. Each list is the
//! action's request schema in ucloud-sdk-python3 (0.11.150) less what Weir
//! does not read, so a field UCloud adds is refused until it is honoured.

use super::{Call, Params, UcError};

/// Transport and signature parameters, read before any action.
const COMMON: &[&str] = &["Action", "PublicKey", "Signature", "Region", "ProjectId"];

/// Per action, the parameters it reads; `Backends` stands for the
/// flattened `Backends.N` list.
const KNOWN: &[(&str, &[&str])] = &[
    (
        "CreateULB",
        &[
            "ULBName",
            "VPCId",
            "SubnetId",
            "PrivateIp",
            "IPVersion",
            "InnerMode",
            "OuterMode",
            "ListenType",
            "Remark",
            "ChargeType",
            "Tag",
        ],
    ),
    (
        "DescribeULB",
        &["ULBId", "VPCId", "SubnetId", "Offset", "Limit"],
    ),
    (
        "DescribeULBSimple",
        &["ULBId", "VPCId", "SubnetId", "Offset", "Limit"],
    ),
    ("DeleteULB", &["ULBId", "ReleaseEip"]),
    (
        "CreateVServer",
        &[
            "ULBId",
            "VServerName",
            "Protocol",
            "FrontendPort",
            "ListenType",
            "Method",
            "MonitorType",
            "Path",
            "Domain",
            "ClientTimeout",
            "PersistenceType",
            "PersistenceInfo",
            "ForwardPort",
            "EnableHTTP2",
            "EnableCompression",
            "SecurityPolicyId",
            "RequestMsg",
            "ResponseMsg",
        ],
    ),
    (
        "DescribeVServer",
        &["ULBId", "VServerId", "Offset", "Limit"],
    ),
    (
        "UpdateVServerAttribute",
        &[
            "ULBId",
            "VServerId",
            "VServerName",
            "Protocol",
            "Method",
            "MonitorType",
            "Path",
            "Domain",
            "ClientTimeout",
            "PersistenceType",
            "PersistenceInfo",
            "ForwardPort",
            "EnableHTTP2",
            "EnableCompression",
            "SecurityPolicyId",
            "RequestMsg",
            "ResponseMsg",
        ],
    ),
    ("DeleteVServer", &["ULBId", "VServerId"]),
    (
        "AllocateBackend",
        &[
            "ULBId",
            "VServerId",
            "ResourceType",
            "ResourceId",
            "ResourceIP",
            "VPCId",
            "SubnetId",
            "Port",
            "Weight",
            "Enabled",
            "IsBackup",
        ],
    ),
    (
        "AllocateBackendBatch",
        &["ULBId", "VServerId", "ApiVersion", "Backends"],
    ),
    (
        "UpdateBackendAttribute",
        &[
            "ULBId",
            "BackendId",
            "Port",
            "Weight",
            "Enabled",
            "IsBackup",
        ],
    ),
    ("ReleaseBackend", &["ULBId", "BackendId"]),
    (
        "CreateSSL",
        &[
            "SSLName",
            "SSLType",
            "SSLContent",
            "UserCert",
            "PrivateKey",
            "CaCert",
            "USSLId",
        ],
    ),
    ("DescribeSSL", &["SSLId", "Offset", "Limit"]),
    ("DeleteSSL", &["SSLId"]),
    ("BindSSL", &["ULBId", "VServerId", "SSLId"]),
    ("UnbindSSL", &["ULBId", "VServerId", "SSLId"]),
];

/// A parameter's name as the table spells it: `Backends.0` is `Backends`.
fn family(name: &str) -> &str {
    match name.split_once('.') {
        Some((head, index)) if index.bytes().all(|b| b.is_ascii_digit()) => head,
        _ => name,
    }
}

/// Refuses the first parameter `action` does not read (an unknown action
/// is the dispatcher's own answer).
pub(super) fn check(action: &str, params: &Params) -> Result<(), UcError> {
    let Some((_, known)) = KNOWN.iter().find(|(a, _)| *a == action) else {
        return Ok(());
    };
    let listed = |name: &str| COMMON.iter().chain(known.iter()).any(|k| *k == name);
    let mut names: Vec<&str> = params.names().map(family).collect();
    names.sort_unstable();
    match names.into_iter().find(|name| !listed(name)) {
        None => Ok(()),
        Some(name) => Err(UcError::invalid(format!(
            "Params [{name}] not valid: not supported by Weir for {action}; nothing was changed"
        ))),
    }
}

/// CreateULB's parameters that only say what Weir does: an intranet
/// (inner-mode) ULB, pay-as-you-go, in the default business group, its
/// VServers' listen type set on each. `IPVersion` must be the subnet's.
pub(super) fn check_create_ulb(call: &Call, subnet_is_v6: Option<bool>) -> Result<(), UcError> {
    let p = &call.params;
    const SAYS_WHAT_WEIR_DOES: &[(&str, &str, &str)] = &[
        (
            "InnerMode",
            "Yes",
            "Weir's ULBs are inner mode (an address of the subnet)",
        ),
        (
            "OuterMode",
            "No",
            "there are no outer-mode (public) ULBs; send InnerMode=Yes",
        ),
        (
            "ListenType",
            "RequestProxy",
            "set ListenType on each VServer (CreateVServer)",
        ),
        (
            "ChargeType",
            "Dynamic",
            "there is no billing; only Dynamic is accepted",
        ),
        (
            "Tag",
            "Default",
            "business groups are not kept; only Default is accepted",
        ),
    ];
    for (name, served, why) in SAYS_WHAT_WEIR_DOES {
        if let Some(v) = p.opt(name) {
            if v != *served {
                return Err(UcError::invalid(format!(
                    "Params [{name}] not valid: {v:?}: {why}"
                )));
            }
        }
    }
    if let (Some(asked), Some(v6)) = (p.opt("IPVersion"), subnet_is_v6) {
        let wanted_v6 = match asked {
            "IPv4" => false,
            "IPv6" => true,
            other => {
                return Err(UcError::invalid(format!(
                    "Params [IPVersion] not valid: {other:?} is not IPv4 or IPv6"
                )))
            }
        };
        if wanted_v6 != v6 {
            return Err(UcError::invalid(format!(
                "Params [IPVersion] not valid: the subnet is {}, not {asked}",
                if v6 { "IPv6" } else { "IPv4" }
            )));
        }
    }
    Ok(())
}

/// Whether the caller's subnet `id` is IPv6; `None` when it is not one of
/// theirs (the create answers that itself).
pub(super) async fn subnet_is_v6(call: &Call, id: &str) -> Result<Option<bool>, UcError> {
    let subnets = call
        .dialects
        .control
        .list_subnets(&call.principal)
        .await
        .map_err(UcError::from_control)?;
    Ok(subnets
        .iter()
        .find(|s| s.id.as_str() == id)
        .map(|s| s.cidr.addr().is_ipv6()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Params::new(&pairs)
    }

    #[test]
    fn every_fenced_action_is_served() {
        for (action, names) in KNOWN {
            assert!(super::super::ulb::ACTIONS.contains(action), "{action}");
            for name in *names {
                assert!(!COMMON.contains(name), "{action}: {name}");
            }
        }
        assert_eq!(KNOWN.len(), super::super::ulb::ACTIONS.len());
    }

    #[test]
    fn parameters_an_action_does_not_read_are_230() {
        let ok = params(&[("ULBId", "u"), ("VServerId", "v"), ("Backends.0", "x")]);
        assert!(check("AllocateBackendBatch", &ok).is_ok());
        for extra in ["FirewallId", "BusinessId", "Zone", "Backends.x"] {
            let p = params(&[("ULBId", "u"), (extra, "1")]);
            let e = check("DeleteULB", &p).unwrap_err();
            assert_eq!(e.code, 230, "{extra}");
            assert!(e.message.contains(extra), "{}", e.message);
        }
    }
}
