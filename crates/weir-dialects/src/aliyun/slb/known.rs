//! The parameters each action reads, so that one Weir does not read is
//! refused (`UnsupportedOperation`, nothing written) instead of being
//! accepted and dropped (a Describe filter dropped answers more than was
//! asked for): a caller told "success" for a setting that is not
//! applied is the worst answer a load balancer can give. Each list is the
//! action's request fields in the SDKs (aliyun-python-sdk-slb 3.3.22), the
//! parameters Weir also reads for it (the health-check family on every
//! listener action, so a misplaced one gets the handler's own error), and
//! nothing else. Whether a listed parameter is honoured or refused for a
//! given value is the handler's business; this is only the fence.
//!
//! The caller-identity fields every SDK request offers (`OwnerId`,
//! `OwnerAccount`, `ResourceOwnerId`, `ResourceOwnerAccount`: acting for
//! another Alibaba account) and STS's `SecurityToken` are in no list: an
//! access key acts for its own project only.

use crate::aliyun::{AliError, Params};

/// Transport and signature parameters, read before any action.
const COMMON: &[&str] = &[
    "Action",
    "Format",
    "Version",
    "AccessKeyId",
    "Signature",
    "SignatureMethod",
    "SignatureVersion",
    "SignatureNonce",
    "SignatureType",
    "Timestamp",
    "RegionId",
];

/// Per action, the parameters it reads; `Tag` stands for the
/// `Tag.N.Key`/`Tag.N.Value` list.
pub(super) const KNOWN: &[(&str, &[&str])] = &[
    (
        "DescribeLoadBalancers",
        &[
            "LoadBalancerId",
            "VpcId",
            "VSwitchId",
            "LoadBalancerName",
            "PageNumber",
            "PageSize",
            "Address",
            "AddressIPVersion",
            "AddressType",
            "NetworkType",
            "LoadBalancerStatus",
        ],
    ),
    ("DescribeLoadBalancerAttribute", &["LoadBalancerId"]),
    (
        "DescribeLoadBalancerHTTPListenerAttribute",
        &["LoadBalancerId", "ListenerPort", "ListenerProtocol"],
    ),
    (
        "DescribeLoadBalancerHTTPSListenerAttribute",
        &["LoadBalancerId", "ListenerPort", "ListenerProtocol"],
    ),
    (
        "DescribeLoadBalancerTCPListenerAttribute",
        &["LoadBalancerId", "ListenerPort", "ListenerProtocol"],
    ),
    (
        "DescribeLoadBalancerUDPListenerAttribute",
        &["LoadBalancerId", "ListenerPort", "ListenerProtocol"],
    ),
    (
        "DescribeDomainExtensions",
        &["LoadBalancerId", "ListenerPort", "DomainExtensionId"],
    ),
    ("DescribeDomainExtensionAttribute", &["DomainExtensionId"]),
    (
        "DescribeHealthStatus",
        &["LoadBalancerId", "ListenerPort", "ListenerProtocol"],
    ),
    (
        "DescribeVServerGroups",
        // The listeners are always included; SLB's forwarding rules are
        // not served, so there are none to include.
        &[
            "LoadBalancerId",
            "Description",
            "IncludeListener",
            "IncludeRule",
        ],
    ),
    ("DescribeVServerGroupAttribute", &["VServerGroupId"]),
    (
        "DescribeServerCertificates",
        &["ServerCertificateId", "ResourceGroupId", "Tag"],
    ),
    (
        "DescribeAccessControlLists",
        &[
            "AclName",
            "AddressIPVersion",
            "PageNumber",
            "PageSize",
            "ResourceGroupId",
            "Tag",
        ],
    ),
    (
        "DescribeAccessControlListAttribute",
        &["AclId", "AclEntryComment", "Page", "PageSize"],
    ),
    (
        "CreateLoadBalancer",
        &[
            "Address",
            "AddressIPVersion",
            "AddressType",
            "ClientToken",
            "DeleteProtection",
            "InstanceChargeType",
            "InternetChargeType",
            "LoadBalancerName",
            "ModificationProtectionStatus",
            "PayType",
            "VSwitchId",
            "VpcId",
        ],
    ),
    (
        "SetLoadBalancerStatus",
        &["LoadBalancerId", "LoadBalancerStatus"],
    ),
    ("DeleteLoadBalancer", &["LoadBalancerId"]),
    (
        "CreateLoadBalancerTCPListener",
        &[
            "AclId",
            "AclStatus",
            "AclType",
            "BackendServerPort",
            "Bandwidth",
            "ConnectionDrain",
            "ConnectionDrainTimeout",
            "Description",
            "EstablishedTimeout",
            "HealthCheckConnectPort",
            "HealthCheckConnectTimeout",
            "HealthCheckDomain",
            "HealthCheckHttpCode",
            "HealthCheckSwitch",
            "HealthCheckType",
            "HealthCheckURI",
            "HealthyThreshold",
            "ListenerPort",
            "LoadBalancerId",
            "MasterSlaveServerGroupId",
            "PersistenceTimeout",
            "ProxyProtocolV2Enabled",
            "Scheduler",
            "Tag",
            "UnhealthyThreshold",
            "VServerGroupId",
            "healthCheckInterval",
            "HealthCheck",
            "HealthCheckTimeout",
            "HealthCheckMethod",
            "HealthCheckReq",
            "HealthCheckExp",
            "SynProxy",
        ],
    ),
    (
        "CreateLoadBalancerUDPListener",
        &[
            "AclId",
            "AclStatus",
            "AclType",
            "BackendServerPort",
            "Bandwidth",
            "Description",
            "HealthCheckConnectPort",
            "HealthCheckConnectTimeout",
            "HealthCheckSwitch",
            "HealthyThreshold",
            "ListenerPort",
            "LoadBalancerId",
            "MasterSlaveServerGroupId",
            "ProxyProtocolV2Enabled",
            "Scheduler",
            "Tag",
            "UnhealthyThreshold",
            "VServerGroupId",
            "healthCheckExp",
            "healthCheckInterval",
            "healthCheckReq",
            "HealthCheck",
            "HealthCheckType",
            "HealthCheckTimeout",
            "HealthCheckURI",
            "HealthCheckHttpCode",
            "HealthCheckMethod",
            "HealthCheckDomain",
            "EstablishedTimeout",
            "ConnectionDrain",
            "ConnectionDrainTimeout",
            "PersistenceTimeout",
            "SynProxy",
        ],
    ),
    (
        "CreateLoadBalancerHTTPListener",
        &[
            "AclId",
            "AclStatus",
            "AclType",
            "BackendServerPort",
            "Bandwidth",
            "Cookie",
            "CookieTimeout",
            "Description",
            "ForwardPort",
            "Gzip",
            "HealthCheck",
            "HealthCheckConnectPort",
            "HealthCheckDomain",
            "HealthCheckHttpCode",
            "HealthCheckInterval",
            "HealthCheckMethod",
            "HealthCheckTimeout",
            "HealthCheckURI",
            "HealthyThreshold",
            "IdleTimeout",
            "ListenerForward",
            "ListenerPort",
            "LoadBalancerId",
            "RequestTimeout",
            "Scheduler",
            "StickySession",
            "StickySessionType",
            "Tag",
            "UnhealthyThreshold",
            "VServerGroupId",
            "XForwardedFor",
            "XForwardedFor_ClientSrcPort",
            "XForwardedFor_SLBID",
            "XForwardedFor_SLBIP",
            "XForwardedFor_SLBPORT",
            "XForwardedFor_proto",
            "HealthCheckSwitch",
            "HealthCheckType",
            "HealthCheckConnectTimeout",
            "HealthCheckReq",
            "HealthCheckExp",
            "EnableHttp2",
            "TLSCipherPolicy",
            "CACertificateId",
            "ServerCertificateId",
        ],
    ),
    (
        "CreateLoadBalancerHTTPSListener",
        &[
            "AclId",
            "AclStatus",
            "AclType",
            "BackendServerPort",
            "Bandwidth",
            "CACertificateId",
            "Cookie",
            "CookieTimeout",
            "Description",
            "EnableHttp2",
            "Gzip",
            "HealthCheck",
            "HealthCheckConnectPort",
            "HealthCheckDomain",
            "HealthCheckHttpCode",
            "HealthCheckInterval",
            "HealthCheckMethod",
            "HealthCheckTimeout",
            "HealthCheckURI",
            "HealthyThreshold",
            "IdleTimeout",
            "ListenerPort",
            "LoadBalancerId",
            "RequestTimeout",
            "Scheduler",
            "ServerCertificateId",
            "StickySession",
            "StickySessionType",
            "TLSCipherPolicy",
            "Tag",
            "UnhealthyThreshold",
            "VServerGroupId",
            "XForwardedFor",
            "XForwardedFor_ClientSrcPort",
            "XForwardedFor_SLBID",
            "XForwardedFor_SLBIP",
            "XForwardedFor_SLBPORT",
            "XForwardedFor_proto",
            "HealthCheckSwitch",
            "HealthCheckType",
            "HealthCheckConnectTimeout",
            "HealthCheckReq",
            "HealthCheckExp",
            "ListenerForward",
            "ForwardPort",
        ],
    ),
    (
        "SetLoadBalancerHTTPSListenerAttribute",
        &[
            "AclId",
            "AclStatus",
            "AclType",
            "Bandwidth",
            "CACertificateId",
            "Cookie",
            "CookieTimeout",
            "Description",
            "EnableHttp2",
            "Gzip",
            "HealthCheck",
            "HealthCheckConnectPort",
            "HealthCheckDomain",
            "HealthCheckHttpCode",
            "HealthCheckInterval",
            "HealthCheckMethod",
            "HealthCheckTimeout",
            "HealthCheckURI",
            "HealthyThreshold",
            "IdleTimeout",
            "ListenerPort",
            "LoadBalancerId",
            "RequestTimeout",
            "Scheduler",
            "ServerCertificateId",
            "StickySession",
            "StickySessionType",
            "TLSCipherPolicy",
            "UnhealthyThreshold",
            "VServerGroup",
            "VServerGroupId",
            "XForwardedFor",
            "XForwardedFor_ClientSrcPort",
            "XForwardedFor_SLBID",
            "XForwardedFor_SLBIP",
            "XForwardedFor_SLBPORT",
            "XForwardedFor_proto",
            "HealthCheckSwitch",
            "HealthCheckType",
            "HealthCheckConnectTimeout",
            "HealthCheckReq",
            "HealthCheckExp",
            "ListenerForward",
            "ForwardPort",
        ],
    ),
    (
        "SetLoadBalancerTCPListenerAttribute",
        &[
            "AclId",
            "AclStatus",
            "AclType",
            "Bandwidth",
            "ConnectionDrain",
            "ConnectionDrainTimeout",
            "Description",
            "EstablishedTimeout",
            "HealthCheckConnectPort",
            "HealthCheckConnectTimeout",
            "HealthCheckDomain",
            "HealthCheckHttpCode",
            "HealthCheckInterval",
            "HealthCheckSwitch",
            "HealthCheckType",
            "HealthCheckURI",
            "HealthyThreshold",
            "ListenerPort",
            "LoadBalancerId",
            "MasterSlaveServerGroup",
            "MasterSlaveServerGroupId",
            "PersistenceTimeout",
            "ProxyProtocolV2Enabled",
            "Scheduler",
            "SynProxy",
            "UnhealthyThreshold",
            "VServerGroup",
            "VServerGroupId",
            "HealthCheck",
            "HealthCheckTimeout",
            "HealthCheckMethod",
            "HealthCheckReq",
            "HealthCheckExp",
        ],
    ),
    (
        "SetLoadBalancerUDPListenerAttribute",
        &[
            "AclId",
            "AclStatus",
            "AclType",
            "Bandwidth",
            "Description",
            "HealthCheckConnectPort",
            "HealthCheckConnectTimeout",
            "HealthCheckInterval",
            "HealthCheckSwitch",
            "HealthyThreshold",
            "ListenerPort",
            "LoadBalancerId",
            "MasterSlaveServerGroup",
            "MasterSlaveServerGroupId",
            "ProxyProtocolV2Enabled",
            "Scheduler",
            "UnhealthyThreshold",
            "VServerGroup",
            "VServerGroupId",
            "healthCheckExp",
            "healthCheckReq",
            "HealthCheck",
            "HealthCheckType",
            "HealthCheckTimeout",
            "HealthCheckURI",
            "HealthCheckHttpCode",
            "HealthCheckMethod",
            "HealthCheckDomain",
            "EstablishedTimeout",
            "ConnectionDrain",
            "ConnectionDrainTimeout",
            "PersistenceTimeout",
            "SynProxy",
        ],
    ),
    (
        "CreateDomainExtension",
        &[
            "Domain",
            "ListenerPort",
            "LoadBalancerId",
            "ServerCertificateId",
        ],
    ),
    (
        "SetDomainExtensionAttribute",
        &["DomainExtensionId", "ServerCertificateId"],
    ),
    ("DeleteDomainExtension", &["DomainExtensionId"]),
    (
        "StartLoadBalancerListener",
        &["ListenerPort", "ListenerProtocol", "LoadBalancerId"],
    ),
    (
        "StopLoadBalancerListener",
        &["ListenerPort", "ListenerProtocol", "LoadBalancerId"],
    ),
    (
        "DeleteLoadBalancerListener",
        &["ListenerPort", "ListenerProtocol", "LoadBalancerId"],
    ),
    ("AddBackendServers", &["BackendServers", "LoadBalancerId"]),
    (
        "RemoveBackendServers",
        &["BackendServers", "LoadBalancerId"],
    ),
    ("SetBackendServers", &["BackendServers", "LoadBalancerId"]),
    (
        "CreateVServerGroup",
        &["BackendServers", "LoadBalancerId", "VServerGroupName"],
    ),
    (
        "AddVServerGroupBackendServers",
        &["BackendServers", "VServerGroupId"],
    ),
    (
        "RemoveVServerGroupBackendServers",
        &["BackendServers", "VServerGroupId"],
    ),
    (
        "SetVServerGroupAttribute",
        &["BackendServers", "VServerGroupId", "VServerGroupName"],
    ),
    (
        "ModifyVServerGroupBackendServers",
        &["NewBackendServers", "OldBackendServers", "VServerGroupId"],
    ),
    ("DeleteVServerGroup", &["VServerGroupId"]),
    (
        "UploadServerCertificate",
        &[
            "AliCloudCertificateId",
            "AliCloudCertificateName",
            "AliCloudCertificateRegionId",
            "PrivateKey",
            "ResourceGroupId",
            "ServerCertificate",
            "ServerCertificateName",
            "Tag",
        ],
    ),
    ("DeleteServerCertificate", &["ServerCertificateId"]),
    (
        "UploadCACertificate",
        &[
            "CACertificate",
            "CACertificateName",
            "ResourceGroupId",
            "Tag",
        ],
    ),
    (
        "DescribeCACertificates",
        &["CACertificateId", "ResourceGroupId", "Tag"],
    ),
    ("DeleteCACertificate", &["CACertificateId"]),
    (
        "CreateAccessControlList",
        &["AclName", "AddressIPVersion", "ResourceGroupId", "Tag"],
    ),
    ("AddAccessControlListEntry", &["AclEntrys", "AclId"]),
    ("RemoveAccessControlListEntry", &["AclEntrys", "AclId"]),
    ("SetAccessControlListAttribute", &["AclId", "AclName"]),
    ("DeleteAccessControlList", &["AclId"]),
];

/// A parameter's name as the table spells it: `Tag.1.Key` is `Tag`.
fn family(name: &str) -> &str {
    match name.split_once('.') {
        Some((head, _)) if head.eq_ignore_ascii_case("Tag") => "Tag",
        _ => name,
    }
}

/// Refuses the first parameter `action` does not read (every action the
/// dispatcher serves is in [`KNOWN`]; an unknown one is its own answer).
pub(super) fn check(action: &str, params: &Params) -> Result<(), AliError> {
    let Some((_, known)) = KNOWN.iter().find(|(a, _)| *a == action) else {
        return Ok(());
    };
    let listed = |name: &str| {
        COMMON
            .iter()
            .chain(known.iter())
            .any(|k| k.eq_ignore_ascii_case(name))
    };
    match params.names().find(|name| !listed(family(name))) {
        None => Ok(()),
        Some(name) => Err(super::https::unsupported(
            name,
            &format!("not supported by Weir for {action}; nothing was changed"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_is_fenced_once() {
        for action in super::super::ACTIONS {
            assert!(
                KNOWN.iter().any(|(a, _)| a == action),
                "{action} is not fenced"
            );
        }
        for (i, (action, names)) in KNOWN.iter().enumerate() {
            assert!(super::super::ACTIONS.contains(action), "{action}");
            assert!(
                !KNOWN[..i].iter().any(|(a, _)| a == action),
                "{action} twice"
            );
            for name in *names {
                assert!(!COMMON.contains(name), "{action}: {name} is common");
            }
        }
    }

    #[test]
    fn unknown_and_identity_parameters_are_refused() {
        let params = |pairs: &[(&str, &str)]| Params {
            pairs: pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        };
        let ok = params(&[("Action", "DeleteVServerGroup"), ("VServerGroupId", "x")]);
        assert!(check("DeleteVServerGroup", &ok).is_ok());
        for extra in [
            "OwnerId",
            "ResourceOwnerAccount",
            "SecurityToken",
            "Whatever",
        ] {
            let p = params(&[("VServerGroupId", "x"), (extra, "1")]);
            let e = check("DeleteVServerGroup", &p).unwrap_err();
            assert_eq!(e.code, "UnsupportedOperation", "{extra}");
            assert!(e.message.starts_with(extra), "{}", e.message);
        }
        // Tags by family, first letter in either case.
        let tagged = params(&[("Tag.1.Key", "k"), ("healthCheckInterval", "2")]);
        assert!(check("CreateLoadBalancerTCPListener", &tagged).is_ok());
        let e = check("CreateVServerGroup", &tagged).unwrap_err();
        assert!(e.message.starts_with("Tag.1.Key:"), "{}", e.message);
        // Reads are fenced too: a filter not applied is refused.
        assert!(check("DescribeLoadBalancers", &params(&[("ServerId", "i-1")])).is_err());
        assert!(check("NoSuchAction", &params(&[("Foo", "1")])).is_ok());
    }
}
