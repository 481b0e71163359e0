//! SLB actions: load balancers, TCP/UDP/HTTP/HTTPS listeners (with
//! HTTPS domain extensions) and the default
//! server group (`AddBackendServers` of seed 003, `RemoveBackendServers`,
//! `SetBackendServers`), translated to control calls. The default server
//! group is the load balancer's LB-wide pool; each listener dials its
//! servers on `BackendServerPort`.
//!
//! This module holds the action list, the dispatcher and what every
//! family shares; the actions are in [`loadbalancers`], [`listeners`]
//! (with [`https`]: the HTTP(S) options and attributes; [`stream`]: the
//! TCP and UDP attributes; [`domains`]),
//! [`servers`] (the default server group and health) and [`groups`]
//! (VServer groups), [`acls`] (access control lists and a listener's
//! ACL parameters); certificates are `super::certificates`. [`known`]
//! fences every write action to the parameters it reads.

use serde::Deserialize;
use serde_json::{json, Value};
use weir_control::{RegisterRequest, RegisterTarget};
use weir_core::backend::{BackendSelector, BackendUpdate, WhenMissing};
use weir_core::group::{is_server_group, NewServerGroup, WhenInUse};
use weir_core::ids::*;
use weir_core::loadbalancer::{LbAction, NewListener, NewLoadBalancer};
use weir_core::model::*;
use weir_core::pool::{HealthCheckSpec, PoolUpdate};
use weir_core::register::{BackendSpec, DuplicatePolicy, NameRule, RegisterPolicy};
use weir_core::status::BackendState;
use weir_core::Timestamp;

use super::{AliError, Call};
use crate::common::Lenient;

mod acls;
mod domains;
mod groups;
mod https;
mod known;
mod listeners;
mod loadbalancers;
mod servers;
mod stream;

use groups::*;
use listeners::*;
use loadbalancers::*;
use servers::*;

/// Most servers one call may name (seed 003).
const PER_CALL: usize = 20;

/// Remove, Set and Modify name at most [`PER_CALL`] servers, as Add does.
fn at_most_per_call(len: usize, param: &str) -> Result<(), AliError> {
    if len > PER_CALL {
        return Err(AliError::invalid(format!(
            "The parameter {param} names more than {PER_CALL} servers."
        )));
    }
    Ok(())
}

/// Seed 003's rules: at most 20 servers per call, duplicates in one call
/// first-wins, weight 0-100 defaulting to 100; the ECS must be running
/// (a rule of every dialect).
pub fn policy() -> RegisterPolicy {
    RegisterPolicy {
        duplicates: DuplicatePolicy::FirstWins,
        weight_range: (0, 100),
        default_weight: 100,
        max_per_request: Some(PER_CALL),
        unique_instance_per_listener: true,
        address_requires_instance: false,
        bare_metal_by_address_only: false,
        name_rule: NameRule::Free,
        ..RegisterPolicy::native()
    }
}

/// VServer groups give each server its port, so one ECS may serve on
/// several ports of a group.
pub fn group_policy() -> RegisterPolicy {
    RegisterPolicy {
        unique_instance_per_listener: false,
        ..policy()
    }
}

type ActionResult = Result<Value, AliError>;

/// Every action the SLB dispatcher serves, in its order; the tenant
/// isolation sweep (`tests/isolation.rs`) checks that it probes each one
/// and that this list is the dispatcher's.
pub const ACTIONS: &[&str] = &[
    "CreateLoadBalancer",
    "DescribeLoadBalancers",
    "DescribeLoadBalancerAttribute",
    "SetLoadBalancerStatus",
    "DeleteLoadBalancer",
    "CreateLoadBalancerTCPListener",
    "CreateLoadBalancerUDPListener",
    "CreateLoadBalancerHTTPListener",
    "CreateLoadBalancerHTTPSListener",
    "DescribeLoadBalancerHTTPListenerAttribute",
    "DescribeLoadBalancerHTTPSListenerAttribute",
    "SetLoadBalancerHTTPSListenerAttribute",
    "DescribeLoadBalancerTCPListenerAttribute",
    "DescribeLoadBalancerUDPListenerAttribute",
    "SetLoadBalancerTCPListenerAttribute",
    "SetLoadBalancerUDPListenerAttribute",
    "CreateDomainExtension",
    "DescribeDomainExtensions",
    "DescribeDomainExtensionAttribute",
    "SetDomainExtensionAttribute",
    "DeleteDomainExtension",
    "StartLoadBalancerListener",
    "StopLoadBalancerListener",
    "DeleteLoadBalancerListener",
    "AddBackendServers",
    "RemoveBackendServers",
    "SetBackendServers",
    "DescribeHealthStatus",
    "CreateVServerGroup",
    "DescribeVServerGroups",
    "DescribeVServerGroupAttribute",
    "AddVServerGroupBackendServers",
    "RemoveVServerGroupBackendServers",
    "SetVServerGroupAttribute",
    "ModifyVServerGroupBackendServers",
    "DeleteVServerGroup",
    "UploadServerCertificate",
    "DescribeServerCertificates",
    "DeleteServerCertificate",
    "UploadCACertificate",
    "DescribeCACertificates",
    "DeleteCACertificate",
    "CreateAccessControlList",
    "AddAccessControlListEntry",
    "RemoveAccessControlListEntry",
    "DescribeAccessControlLists",
    "DescribeAccessControlListAttribute",
    "SetAccessControlListAttribute",
    "DeleteAccessControlList",
];

pub(super) async fn dispatch(call: &Call, action: &str) -> ActionResult {
    known::check(action, &call.params)?;
    match action {
        "CreateLoadBalancer" => create_load_balancer(call).await,
        "DescribeLoadBalancers" => describe_load_balancers(call).await,
        "DescribeLoadBalancerAttribute" => describe_load_balancer_attribute(call).await,
        "SetLoadBalancerStatus" => set_load_balancer_status(call).await,
        "DeleteLoadBalancer" => delete_load_balancer(call).await,
        "CreateLoadBalancerTCPListener" => create_listener(call, "tcp").await,
        "CreateLoadBalancerUDPListener" => create_listener(call, "udp").await,
        "CreateLoadBalancerHTTPListener" => create_listener(call, "http").await,
        "CreateLoadBalancerHTTPSListener" => create_listener(call, "https").await,
        "DescribeLoadBalancerHTTPListenerAttribute" => {
            https::describe_attribute(call, Protocol::Http).await
        }
        "DescribeLoadBalancerHTTPSListenerAttribute" => {
            https::describe_attribute(call, Protocol::Https).await
        }
        "SetLoadBalancerHTTPSListenerAttribute" => https::set_https_attribute(call).await,
        "DescribeLoadBalancerTCPListenerAttribute" => {
            stream::describe_attribute(call, Protocol::Tcp).await
        }
        "DescribeLoadBalancerUDPListenerAttribute" => {
            stream::describe_attribute(call, Protocol::Udp).await
        }
        "SetLoadBalancerTCPListenerAttribute" => stream::set_attribute(call, Protocol::Tcp).await,
        "SetLoadBalancerUDPListenerAttribute" => stream::set_attribute(call, Protocol::Udp).await,
        "CreateDomainExtension" => domains::create(call).await,
        "DescribeDomainExtensions" => domains::describe(call).await,
        "DescribeDomainExtensionAttribute" => domains::describe_attribute(call).await,
        "SetDomainExtensionAttribute" => domains::set_attribute(call).await,
        "DeleteDomainExtension" => domains::delete(call).await,
        "StartLoadBalancerListener" => set_listener_enabled(call, true).await,
        "StopLoadBalancerListener" => set_listener_enabled(call, false).await,
        "DeleteLoadBalancerListener" => delete_listener(call).await,
        "AddBackendServers" => add_backend_servers(call).await,
        "RemoveBackendServers" => remove_backend_servers(call).await,
        "SetBackendServers" => set_backend_servers(call).await,
        "DescribeHealthStatus" => describe_health_status(call).await,
        "CreateVServerGroup" => create_vserver_group(call).await,
        "DescribeVServerGroups" => describe_vserver_groups(call).await,
        "DescribeVServerGroupAttribute" => describe_vserver_group(call).await,
        "AddVServerGroupBackendServers" => add_vserver_group_servers(call).await,
        "RemoveVServerGroupBackendServers" => remove_vserver_group_servers(call).await,
        "SetVServerGroupAttribute" => set_vserver_group_attribute(call).await,
        "ModifyVServerGroupBackendServers" => modify_vserver_group_servers(call).await,
        "DeleteVServerGroup" => delete_vserver_group(call).await,
        "UploadServerCertificate" => super::certificates::upload(call).await,
        "DescribeServerCertificates" => super::certificates::describe(call).await,
        "DeleteServerCertificate" => super::certificates::delete(call).await,
        "UploadCACertificate" => super::certificates::upload_ca(call).await,
        "DescribeCACertificates" => super::certificates::describe_ca(call).await,
        "DeleteCACertificate" => super::certificates::delete_ca(call).await,
        "CreateAccessControlList" => acls::create(call).await,
        "AddAccessControlListEntry" => acls::add_entries(call).await,
        "RemoveAccessControlListEntry" => acls::remove_entries(call).await,
        "DescribeAccessControlLists" => acls::describe(call).await,
        "DescribeAccessControlListAttribute" => acls::describe_attribute(call).await,
        "SetAccessControlListAttribute" => acls::set_attribute(call).await,
        "DeleteAccessControlList" => acls::delete(call).await,
        other => Err(AliError::new(
            axum::http::StatusCode::NOT_FOUND,
            "InvalidAction.NotFound",
            format!("Specified api {other} is not found, please check your url and method."),
        )),
    }
}

fn fail(e: weir_control::ControlError) -> AliError {
    AliError::from_control(e)
}

fn status_name(s: LbStatus) -> &'static str {
    match s {
        LbStatus::Running => "active",
        LbStatus::Stopped => "inactive",
        LbStatus::Creating => "inactive",
        LbStatus::Error => "locked",
    }
}

fn time_fields(t: Timestamp) -> (String, i64) {
    let text = t.to_string();
    // Alibaba prints minutes: 2026-11-24T18:05Z.
    (format!("{}Z", &text[..16]), t.millis())
}

async fn lb(call: &Call) -> Result<LoadBalancer, AliError> {
    let id = call.params.req("LoadBalancerId")?;
    call.dialects
        .control
        .get_load_balancer(&call.principal, &LoadBalancerId::new(id))
        .await
        .map_err(fail)
}
