//! Alibaba Cloud SLB: project A's key on every action, with B's load
//! balancer, listener port, VServer group and servers. Each request has
//! its own `SignatureNonce`.

use serde_json::json;

use crate::probe::{Dialect::Aliyun, Expect, Ids, Sweep};

type Params = fn(&Ids, &Ids) -> Vec<(&'static str, String)>;

fn servers(instance: &str) -> String {
    json!([{"ServerId": instance, "Weight": "1"}]).to_string()
}

fn group_servers(instance: &str) -> String {
    json!([{"ServerId": instance, "Port": "9090", "Weight": "1"}]).to_string()
}

/// Removing a server that is not attached is not an error
/// (docs/dialects/aliyun.md): A's own list comes back unchanged, for B's
/// server as for one that exists nowhere.
const ABSENT_IS_NO_ERROR: Expect =
    Expect::Uniform("removing a server not attached answers A's own list");

const NOT_IN_VPC: Expect =
    Expect::Uniform("A's subnet is not in any other VPC: the VPC is compared, never read");

pub fn sweep(s: &mut Sweep) {
    let probes: &[(&str, Expect, Params)] = &[
        ("CreateLoadBalancer", Expect::NotFound, |_, t| {
            vec![
                ("VSwitchId", t.get("subnet").into()),
                ("VpcId", t.get("vpc").into()),
            ]
        }),
        ("CreateLoadBalancer", Expect::NotFound, |a, t| {
            vec![
                ("VSwitchId", t.get("subnet").into()),
                ("VpcId", a.get("vpc").into()),
            ]
        }),
        // A's own subnet said to be in B's VPC: refused as not in that VPC,
        // which is never looked up.
        ("CreateLoadBalancer", NOT_IN_VPC, |a, t| {
            vec![
                ("VSwitchId", a.get("subnet").into()),
                ("VpcId", t.get("vpc").into()),
            ]
        }),
        ("DescribeLoadBalancers", Expect::Empty, |_, t| {
            vec![("LoadBalancerId", t.get("aliyun.lb").into())]
        }),
        ("DescribeLoadBalancers", Expect::Empty, |_, t| {
            vec![("VpcId", t.get("vpc").into())]
        }),
        ("DescribeLoadBalancers", Expect::Empty, |a, t| {
            vec![(
                "LoadBalancerId",
                format!("{},{}", a.get("aliyun.lb"), t.get("aliyun.lb")),
            )]
        }),
        ("DescribeLoadBalancers", Expect::Empty, |_, t| {
            vec![("VSwitchId", t.get("subnet").into())]
        }),
        ("DescribeLoadBalancerAttribute", Expect::NotFound, |_, t| {
            vec![("LoadBalancerId", t.get("aliyun.lb").into())]
        }),
        ("SetLoadBalancerStatus", Expect::NotFound, |_, t| {
            vec![
                ("LoadBalancerId", t.get("aliyun.lb").into()),
                ("LoadBalancerStatus", "inactive".into()),
            ]
        }),
        ("DeleteLoadBalancer", Expect::NotFound, |_, t| {
            vec![("LoadBalancerId", t.get("aliyun.lb").into())]
        }),
        ("CreateLoadBalancerTCPListener", Expect::NotFound, |_, t| {
            vec![
                ("LoadBalancerId", t.get("aliyun.lb").into()),
                ("ListenerPort", "80".into()),
                ("BackendServerPort", "8081".into()),
                ("Bandwidth", "-1".into()),
            ]
        }),
        // A's own load balancer, forwarding to B's server group.
        ("CreateLoadBalancerTCPListener", Expect::NotFound, |a, t| {
            vec![
                ("LoadBalancerId", a.get("aliyun.lb").into()),
                ("ListenerPort", "82".into()),
                ("Bandwidth", "-1".into()),
                ("VServerGroupId", t.get("aliyun.group").into()),
            ]
        }),
        ("CreateLoadBalancerUDPListener", Expect::NotFound, |_, t| {
            vec![
                ("LoadBalancerId", t.get("aliyun.lb").into()),
                ("ListenerPort", "80".into()),
                ("BackendServerPort", "8081".into()),
                ("Bandwidth", "-1".into()),
            ]
        }),
        (
            "CreateLoadBalancerHTTPListener",
            Expect::NotFound,
            |_, t| {
                vec![
                    ("LoadBalancerId", t.get("aliyun.lb").into()),
                    ("ListenerPort", "80".into()),
                    ("BackendServerPort", "8081".into()),
                    ("Bandwidth", "-1".into()),
                ]
            },
        ),
        (
            "CreateLoadBalancerHTTPSListener",
            Expect::NotFound,
            |a, t| {
                vec![
                    ("LoadBalancerId", t.get("aliyun.lb").into()),
                    ("ListenerPort", "8443".into()),
                    ("ServerCertificateId", a.get("certificate").into()),
                ]
            },
        ),
        // A's own load balancer serving B's certificate.
        (
            "CreateLoadBalancerHTTPSListener",
            Expect::NotFound,
            |a, t| {
                vec![
                    ("LoadBalancerId", a.get("aliyun.lb").into()),
                    ("ListenerPort", "8443".into()),
                    ("ServerCertificateId", t.get("certificate").into()),
                ]
            },
        ),
        (
            "DescribeLoadBalancerHTTPListenerAttribute",
            Expect::NotFound,
            |_, t| {
                vec![
                    ("LoadBalancerId", t.get("aliyun.lb").into()),
                    ("ListenerPort", "80".into()),
                ]
            },
        ),
        (
            "DescribeLoadBalancerTCPListenerAttribute",
            Expect::NotFound,
            |_, t| {
                vec![
                    ("LoadBalancerId", t.get("aliyun.lb").into()),
                    ("ListenerPort", "80".into()),
                ]
            },
        ),
        (
            "SetLoadBalancerTCPListenerAttribute",
            Expect::NotFound,
            |_, t| {
                vec![
                    ("LoadBalancerId", t.get("aliyun.lb").into()),
                    ("ListenerPort", "80".into()),
                    ("Description", "x".into()),
                ]
            },
        ),
        (
            "DescribeLoadBalancerUDPListenerAttribute",
            Expect::NotFound,
            |_, t| {
                vec![
                    ("LoadBalancerId", t.get("aliyun.lb").into()),
                    ("ListenerPort", "53".into()),
                ]
            },
        ),
        (
            "SetLoadBalancerUDPListenerAttribute",
            Expect::NotFound,
            |_, t| {
                vec![
                    ("LoadBalancerId", t.get("aliyun.lb").into()),
                    ("ListenerPort", "53".into()),
                    ("Description", "x".into()),
                ]
            },
        ),
        (
            "DescribeLoadBalancerHTTPSListenerAttribute",
            Expect::NotFound,
            |_, t| {
                vec![
                    ("LoadBalancerId", t.get("aliyun.lb").into()),
                    ("ListenerPort", "443".into()),
                ]
            },
        ),
        (
            "SetLoadBalancerHTTPSListenerAttribute",
            Expect::NotFound,
            |_, t| {
                vec![
                    ("LoadBalancerId", t.get("aliyun.lb").into()),
                    ("ListenerPort", "443".into()),
                    ("Description", "x".into()),
                ]
            },
        ),
        (
            "SetLoadBalancerHTTPSListenerAttribute",
            Expect::NotFound,
            |a, t| {
                vec![
                    ("LoadBalancerId", a.get("aliyun.lb").into()),
                    ("ListenerPort", "443".into()),
                    ("ServerCertificateId", t.get("certificate").into()),
                ]
            },
        ),
        ("CreateDomainExtension", Expect::NotFound, |a, t| {
            vec![
                ("LoadBalancerId", t.get("aliyun.lb").into()),
                ("ListenerPort", "443".into()),
                ("Domain", "a.example.test".into()),
                ("ServerCertificateId", a.get("certificate").into()),
            ]
        }),
        ("CreateDomainExtension", Expect::NotFound, |a, t| {
            vec![
                ("LoadBalancerId", a.get("aliyun.lb").into()),
                ("ListenerPort", "443".into()),
                ("Domain", "www.example.test".into()),
                ("ServerCertificateId", t.get("certificate").into()),
            ]
        }),
        ("DescribeDomainExtensions", Expect::NotFound, |_, t| {
            vec![
                ("LoadBalancerId", t.get("aliyun.lb").into()),
                ("ListenerPort", "443".into()),
            ]
        }),
        (
            "DescribeDomainExtensionAttribute",
            Expect::NotFound,
            |_, t| vec![("DomainExtensionId", t.get("aliyun.extension").into())],
        ),
        ("SetDomainExtensionAttribute", Expect::NotFound, |a, t| {
            vec![
                ("DomainExtensionId", t.get("aliyun.extension").into()),
                ("ServerCertificateId", a.get("certificate").into()),
            ]
        }),
        ("SetDomainExtensionAttribute", Expect::NotFound, |a, t| {
            vec![
                ("DomainExtensionId", a.get("aliyun.extension").into()),
                ("ServerCertificateId", t.get("certificate").into()),
            ]
        }),
        ("DeleteDomainExtension", Expect::NotFound, |_, t| {
            vec![("DomainExtensionId", t.get("aliyun.extension").into())]
        }),
        ("StartLoadBalancerListener", Expect::NotFound, |_, t| {
            vec![
                ("LoadBalancerId", t.get("aliyun.lb").into()),
                ("ListenerPort", "80".into()),
            ]
        }),
        ("StopLoadBalancerListener", Expect::NotFound, |_, t| {
            vec![
                ("LoadBalancerId", t.get("aliyun.lb").into()),
                ("ListenerPort", "80".into()),
            ]
        }),
        ("DeleteLoadBalancerListener", Expect::NotFound, |_, t| {
            vec![
                ("LoadBalancerId", t.get("aliyun.lb").into()),
                ("ListenerPort", "80".into()),
            ]
        }),
        ("AddBackendServers", Expect::NotFound, |a, t| {
            vec![
                ("LoadBalancerId", t.get("aliyun.lb").into()),
                ("BackendServers", servers(a.get("vm0"))),
            ]
        }),
        ("AddBackendServers", Expect::NotFound, |a, t| {
            vec![
                ("LoadBalancerId", a.get("aliyun.lb").into()),
                ("BackendServers", servers(t.get("vm2"))),
            ]
        }),
        ("RemoveBackendServers", Expect::NotFound, |_, t| {
            vec![
                ("LoadBalancerId", t.get("aliyun.lb").into()),
                ("BackendServers", servers(t.get("vm0"))),
            ]
        }),
        ("RemoveBackendServers", ABSENT_IS_NO_ERROR, |a, t| {
            vec![
                ("LoadBalancerId", a.get("aliyun.lb").into()),
                ("BackendServers", servers(t.get("vm0"))),
            ]
        }),
        ("SetBackendServers", Expect::NotFound, |_, t| {
            vec![
                ("LoadBalancerId", t.get("aliyun.lb").into()),
                ("BackendServers", servers(t.get("vm0"))),
            ]
        }),
        ("SetBackendServers", Expect::NotFound, |a, t| {
            vec![
                ("LoadBalancerId", a.get("aliyun.lb").into()),
                ("BackendServers", servers(t.get("vm0"))),
            ]
        }),
        ("DescribeHealthStatus", Expect::NotFound, |_, t| {
            vec![("LoadBalancerId", t.get("aliyun.lb").into())]
        }),
        ("CreateVServerGroup", Expect::NotFound, |a, t| {
            vec![
                ("LoadBalancerId", t.get("aliyun.lb").into()),
                ("VServerGroupName", "x".into()),
                ("BackendServers", group_servers(a.get("vm1"))),
            ]
        }),
        ("CreateVServerGroup", Expect::NotFound, |a, t| {
            vec![
                ("LoadBalancerId", a.get("aliyun.lb").into()),
                ("VServerGroupName", "x".into()),
                ("BackendServers", group_servers(t.get("vm2"))),
            ]
        }),
        ("DescribeVServerGroups", Expect::NotFound, |_, t| {
            vec![("LoadBalancerId", t.get("aliyun.lb").into())]
        }),
        ("DescribeVServerGroupAttribute", Expect::NotFound, |_, t| {
            vec![("VServerGroupId", t.get("aliyun.group").into())]
        }),
        ("AddVServerGroupBackendServers", Expect::NotFound, |a, t| {
            vec![
                ("VServerGroupId", t.get("aliyun.group").into()),
                ("BackendServers", group_servers(a.get("vm1"))),
            ]
        }),
        ("AddVServerGroupBackendServers", Expect::NotFound, |a, t| {
            vec![
                ("VServerGroupId", a.get("aliyun.group").into()),
                ("BackendServers", group_servers(t.get("vm2"))),
            ]
        }),
        (
            "RemoveVServerGroupBackendServers",
            Expect::NotFound,
            |_, t| {
                vec![
                    ("VServerGroupId", t.get("aliyun.group").into()),
                    ("BackendServers", group_servers(t.get("vm1"))),
                ]
            },
        ),
        (
            "RemoveVServerGroupBackendServers",
            ABSENT_IS_NO_ERROR,
            |a, t| {
                vec![
                    ("VServerGroupId", a.get("aliyun.group").into()),
                    ("BackendServers", group_servers(t.get("vm1"))),
                ]
            },
        ),
        ("SetVServerGroupAttribute", Expect::NotFound, |_, t| {
            vec![
                ("VServerGroupId", t.get("aliyun.group").into()),
                ("VServerGroupName", "x".into()),
            ]
        }),
        ("SetVServerGroupAttribute", Expect::NotFound, |a, t| {
            vec![
                ("VServerGroupId", a.get("aliyun.group").into()),
                ("BackendServers", group_servers(t.get("vm1"))),
            ]
        }),
        (
            "ModifyVServerGroupBackendServers",
            Expect::NotFound,
            |_, t| {
                vec![
                    ("VServerGroupId", t.get("aliyun.group").into()),
                    ("OldBackendServers", group_servers(t.get("vm1"))),
                    ("NewBackendServers", group_servers(t.get("vm2"))),
                ]
            },
        ),
        (
            "ModifyVServerGroupBackendServers",
            Expect::NotFound,
            |a, t| {
                vec![
                    ("VServerGroupId", a.get("aliyun.group").into()),
                    ("OldBackendServers", group_servers(a.get("vm1"))),
                    ("NewBackendServers", group_servers(t.get("vm2"))),
                ]
            },
        ),
        ("DeleteVServerGroup", Expect::NotFound, |_, t| {
            vec![("VServerGroupId", t.get("aliyun.group").into())]
        }),
        ("DescribeServerCertificates", Expect::Empty, |_, t| {
            vec![("ServerCertificateId", t.get("certificate").into())]
        }),
        ("DeleteServerCertificate", Expect::NotFound, |_, t| {
            vec![("ServerCertificateId", t.get("certificate").into())]
        }),
        (
            "UploadServerCertificate",
            Expect::Uniform("names no tenant's id; a bad PEM is 400 for anyone"),
            |_, _| {
                vec![
                    ("ServerCertificate", "x".into()),
                    ("PrivateKey", "y".into()),
                ]
            },
        ),
        // The target's certificate as a CA certificate id: a CA certificate
        // of another project is as invisible as its server certificates.
        ("DescribeCACertificates", Expect::Empty, |_, t| {
            vec![("CACertificateId", t.get("certificate").into())]
        }),
        ("DeleteCACertificate", Expect::NotFound, |_, t| {
            vec![("CACertificateId", t.get("certificate").into())]
        }),
        (
            "UploadCACertificate",
            Expect::Uniform("names no tenant's id; a bad PEM is 400 for anyone"),
            |_, _| vec![("CACertificate", "x".into())],
        ),
        (
            "CreateAccessControlList",
            Expect::Uniform("names no tenant's id"),
            |_, _| vec![("AclName", String::new())],
        ),
        (
            "DescribeAccessControlLists",
            Expect::Uniform("lists the caller's own ACLs; names no id"),
            |_, _| vec![("AclName", "office".into())],
        ),
        (
            "DescribeAccessControlListAttribute",
            Expect::NotFound,
            |_, t| vec![("AclId", t.get("aliyun.acl").into())],
        ),
        ("AddAccessControlListEntry", Expect::NotFound, |_, t| {
            vec![
                ("AclId", t.get("aliyun.acl").into()),
                ("AclEntrys", r#"[{"entry": "198.51.100.0/24"}]"#.into()),
            ]
        }),
        ("RemoveAccessControlListEntry", Expect::NotFound, |_, t| {
            vec![
                ("AclId", t.get("aliyun.acl").into()),
                ("AclEntrys", r#"[{"entry": "192.0.2.0/24"}]"#.into()),
            ]
        }),
        ("SetAccessControlListAttribute", Expect::NotFound, |_, t| {
            vec![
                ("AclId", t.get("aliyun.acl").into()),
                ("AclName", "mine".into()),
            ]
        }),
        ("DeleteAccessControlList", Expect::NotFound, |_, t| {
            vec![("AclId", t.get("aliyun.acl").into())]
        }),
        // A's own listener naming B's ACL.
        ("CreateLoadBalancerTCPListener", Expect::NotFound, |a, t| {
            vec![
                ("LoadBalancerId", a.get("aliyun.lb").into()),
                ("ListenerPort", "81".into()),
                ("AclStatus", "on".into()),
                ("AclType", "white".into()),
                ("AclId", t.get("aliyun.acl").into()),
            ]
        }),
        (
            "SetLoadBalancerHTTPSListenerAttribute",
            Expect::NotFound,
            |a, t| {
                vec![
                    ("LoadBalancerId", a.get("aliyun.lb").into()),
                    ("ListenerPort", "443".into()),
                    ("AclStatus", "on".into()),
                    ("AclType", "black".into()),
                    ("AclId", t.get("aliyun.acl").into()),
                ]
            },
        ),
        (
            "SetLoadBalancerTCPListenerAttribute",
            Expect::NotFound,
            |a, t| {
                vec![
                    ("LoadBalancerId", a.get("aliyun.lb").into()),
                    ("ListenerPort", "80".into()),
                    ("AclStatus", "on".into()),
                    ("AclType", "white".into()),
                    ("AclId", t.get("aliyun.acl").into()),
                ]
            },
        ),
    ];
    for &(action, expect, params) in probes {
        s.probe(Aliyun, action, expect, move |c, a, t| {
            let params = params(a, t);
            let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
            c.aliyun(action, &pairs, false)
        });
    }
}
