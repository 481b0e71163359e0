//! UCloud ULB: project A's key on every action with B's ids, and with
//! B's `ProjectId` beside them.

use crate::probe::{Dialect::Ucloud, Expect, Ids, Sweep};

/// Parameters of one action, from A's and the target's ids.
type Params = fn(&Ids, &Ids) -> Vec<(&'static str, String)>;

pub fn sweep(s: &mut Sweep) {
    let probes: &[(&str, Expect, Params)] = &[
        ("CreateULB", Expect::NotFound, |_, t| {
            vec![
                ("VPCId", t.get("vpc").into()),
                ("SubnetId", t.get("subnet").into()),
            ]
        }),
        ("CreateULB", Expect::NotFound, |a, t| {
            vec![
                ("VPCId", a.get("vpc").into()),
                ("SubnetId", t.get("subnet").into()),
            ]
        }),
        (
            "CreateULB",
            Expect::Uniform("A's subnet is not in any other VPC"),
            |a, t| {
                vec![
                    ("VPCId", t.get("vpc").into()),
                    ("SubnetId", a.get("subnet").into()),
                ]
            },
        ),
        ("DescribeULB", Expect::NotFound, |_, t| {
            vec![("ULBId", t.get("ucloud.ulb").into())]
        }),
        ("DescribeULBSimple", Expect::NotFound, |_, t| {
            vec![("ULBId", t.get("ucloud.ulb").into())]
        }),
        ("DescribeULB", Expect::Empty, |_, t| {
            vec![("VPCId", t.get("vpc").into())]
        }),
        ("DescribeULB", Expect::Empty, |_, t| {
            vec![("SubnetId", t.get("subnet").into())]
        }),
        ("DeleteULB", Expect::NotFound, |_, t| {
            vec![("ULBId", t.get("ucloud.ulb").into())]
        }),
        ("CreateVServer", Expect::NotFound, |_, t| {
            vec![
                ("ULBId", t.get("ucloud.ulb").into()),
                ("Protocol", "TCP".into()),
                ("FrontendPort", "80".into()),
            ]
        }),
        ("DescribeVServer", Expect::NotFound, |_, t| {
            vec![("ULBId", t.get("ucloud.ulb").into())]
        }),
        ("DescribeVServer", Expect::NotFound, |a, t| {
            vec![
                ("ULBId", a.get("ucloud.ulb").into()),
                ("VServerId", t.get("ucloud.vserver").into()),
            ]
        }),
        ("UpdateVServerAttribute", Expect::NotFound, |_, t| {
            vec![
                ("ULBId", t.get("ucloud.ulb").into()),
                ("VServerId", t.get("ucloud.vserver").into()),
                ("VServerName", "x".into()),
            ]
        }),
        ("UpdateVServerAttribute", Expect::NotFound, |a, t| {
            vec![
                ("ULBId", a.get("ucloud.ulb").into()),
                ("VServerId", t.get("ucloud.vserver").into()),
                ("VServerName", "x".into()),
            ]
        }),
        ("BindSSL", Expect::NotFound, |a, t| {
            vec![
                ("ULBId", t.get("ucloud.ulb").into()),
                ("VServerId", t.get("ucloud.https").into()),
                ("SSLId", a.get("certificate").into()),
            ]
        }),
        // A's own VServer with B's certificate.
        ("BindSSL", Expect::NotFound, |a, t| {
            vec![
                ("ULBId", a.get("ucloud.ulb").into()),
                ("VServerId", a.get("ucloud.https").into()),
                ("SSLId", t.get("certificate").into()),
            ]
        }),
        ("UnbindSSL", Expect::NotFound, |_, t| {
            vec![
                ("ULBId", t.get("ucloud.ulb").into()),
                ("VServerId", t.get("ucloud.https").into()),
                ("SSLId", t.get("certificate").into()),
            ]
        }),
        ("UnbindSSL", Expect::NotFound, |a, t| {
            vec![
                ("ULBId", a.get("ucloud.ulb").into()),
                ("VServerId", a.get("ucloud.https").into()),
                ("SSLId", t.get("certificate").into()),
            ]
        }),
        ("DeleteVServer", Expect::NotFound, |_, t| {
            vec![
                ("ULBId", t.get("ucloud.ulb").into()),
                ("VServerId", t.get("ucloud.vserver").into()),
            ]
        }),
        ("DeleteVServer", Expect::NotFound, |a, t| {
            vec![
                ("ULBId", a.get("ucloud.ulb").into()),
                ("VServerId", t.get("ucloud.vserver").into()),
            ]
        }),
        ("AllocateBackend", Expect::NotFound, |a, t| {
            vec![
                ("ULBId", t.get("ucloud.ulb").into()),
                ("VServerId", t.get("ucloud.vserver").into()),
                ("ResourceType", "UHost".into()),
                ("ResourceId", a.get("vm0").into()),
                ("Port", "8080".into()),
            ]
        }),
        ("AllocateBackend", Expect::NotFound, |a, t| {
            vec![
                ("ULBId", a.get("ucloud.ulb").into()),
                ("VServerId", a.get("ucloud.vserver").into()),
                ("ResourceType", "UHost".into()),
                ("ResourceId", t.get("vm2").into()),
                ("Port", "8081".into()),
            ]
        }),
        ("AllocateBackendBatch", Expect::NotFound, |a, t| {
            vec![
                ("ULBId", t.get("ucloud.ulb").into()),
                ("VServerId", t.get("ucloud.vserver").into()),
                ("Backends.0", format!("{}|UHost|8080|1|1|0", a.get("vm0"))),
            ]
        }),
        ("AllocateBackendBatch", Expect::NotFound, |a, t| {
            vec![
                ("ULBId", a.get("ucloud.ulb").into()),
                ("VServerId", a.get("ucloud.vserver").into()),
                ("Backends.0", format!("{}|UHost|8081|1|1|0", t.get("vm2"))),
            ]
        }),
        ("UpdateBackendAttribute", Expect::NotFound, |_, t| {
            vec![
                ("ULBId", t.get("ucloud.ulb").into()),
                ("BackendId", t.get("ucloud.backend").into()),
                ("Weight", "1".into()),
            ]
        }),
        ("UpdateBackendAttribute", Expect::NotFound, |a, t| {
            vec![
                ("ULBId", a.get("ucloud.ulb").into()),
                ("BackendId", t.get("ucloud.backend").into()),
                ("Weight", "1".into()),
            ]
        }),
        ("ReleaseBackend", Expect::NotFound, |_, t| {
            vec![
                ("ULBId", t.get("ucloud.ulb").into()),
                ("BackendId", t.get("ucloud.backend").into()),
            ]
        }),
        ("ReleaseBackend", Expect::NotFound, |a, t| {
            vec![
                ("ULBId", a.get("ucloud.ulb").into()),
                ("BackendId", t.get("ucloud.backend").into()),
            ]
        }),
        ("DescribeSSL", Expect::Empty, |_, t| {
            vec![("SSLId", t.get("certificate").into())]
        }),
        ("DeleteSSL", Expect::NotFound, |_, t| {
            vec![("SSLId", t.get("certificate").into())]
        }),
        (
            "CreateSSL",
            Expect::Uniform("names no tenant's id; a bad PEM is refused for anyone"),
            |_, _| vec![("SSLName", "x".into()), ("SSLContent", "x".into())],
        ),
    ];
    for &(action, expect, params) in probes {
        s.probe(Ucloud, action, expect, move |c, a, t| {
            let params = params(a, t);
            let mut pairs: Vec<(&str, &str)> = vec![("Action", action)];
            pairs.extend(params.iter().map(|(k, v)| (*k, v.as_str())));
            c.ucloud(&pairs)
        });
        // The same request naming B's project: refused before any id is
        // looked at (RetCode 172), for B's project as for any other.
        s.probe(
            Ucloud,
            action,
            Expect::Uniform("ProjectId not the key's: RetCode 172 whatever it names"),
            move |c, a, t| {
                let params = params(a, t);
                let mut pairs: Vec<(&str, &str)> = vec![("Action", action)];
                pairs.extend(params.iter().map(|(k, v)| (*k, v.as_str())));
                c.ucloud_in(t.get("project"), &pairs)
            },
        );
    }
}
