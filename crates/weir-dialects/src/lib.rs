//! The cloud dialects: thin adapters that let each cloud's official SDK
//! drive Weir unmodified. A dialect parses its wire format, verifies its
//! signature with the project's access key, translates the request into
//! `weir_control` calls with its own `RegisterPolicy`, and maps the
//! canonical `weir_core::Error` to its codes in one exhaustive match. It
//! never touches the store or another dialect; rules shared by two
//! dialects live in `weir-core`.
//!
//! - [`common`]: request ids, hashing and HMAC, the replay guard, JSON
//!   parsing with field paths — transport plumbing, no rules.
//! - [`zenlayer`]: Zenlayer Cloud API 2.0, ZLB and BMC (`POST /api/v2/{zlb,bmc}`).
//! - [`ucloud`]: UCloud / SCloud ULB (`POST /ucloud`, form-encoded).
//! - [`openstack`]: Keystone v3 tokens and Octavia (`/v2.0/lbaas`, `/v2/lbaas`).
//! - [`aliyun`]: Alibaba Cloud SLB (`POST /?Action=…` signature v1, or
//!   `x-acs-action` with ACS3-HMAC-SHA256).
//! - [`huawei`]: Huawei ELB v2 (`/v2/{project_id}/elb`, AK/SK).
//! - [`lbaas`]: the OpenStack LBaaS v2 resource model that the OpenStack
//!   and Huawei ELB dialects both speak (shared shapes, one error table).

pub mod aliyun;
pub mod common;
pub mod huawei;
pub mod lbaas;
pub mod openstack;
pub mod ucloud;
pub mod zenlayer;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use weir_control::Control;

/// Operator settings of the dialects.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Refuse an identical signed UCloud write seen within this window
    /// (UCloud signs no timestamp, so a captured request replays forever);
    /// `None`: off.
    pub ucloud_replay_window: Option<Duration>,
    /// Lifetime of Keystone tokens (default one hour).
    pub keystone_token_ttl: Option<Duration>,
}

/// What every dialect handler needs.
#[derive(Clone)]
pub struct Dialects {
    pub control: Control,
    pub config: Arc<Config>,
    ucloud_replays: Arc<common::ReplayGuard>,
    tokens: Arc<openstack::Tokens>,
    /// Alibaba signature nonces seen within twice the clock-skew window.
    aliyun_nonces: Arc<common::ReplayGuard>,
}

impl Dialects {
    pub fn new(control: Control, config: Config) -> Self {
        let window = config.ucloud_replay_window.unwrap_or_default();
        // A fresh key per process: tokens die with the process, and
        // keystoneauth re-authenticates on the 401 that follows.
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("the OS random source is available");
        let ttl = config
            .keystone_token_ttl
            .unwrap_or(openstack::DEFAULT_TOKEN_TTL);
        Self {
            control,
            config: Arc::new(config),
            ucloud_replays: Arc::new(common::ReplayGuard::new(window)),
            tokens: Arc::new(openstack::Tokens::new(key, ttl)),
            aliyun_nonces: Arc::new(common::ReplayGuard::new(Duration::from_secs(
                2 * common::CLOCK_SKEW_SECS.unsigned_abs(),
            ))),
        }
    }
}

/// Every dialect's routes, to merge beside the native API.
pub fn router(control: Control, config: Config) -> Router {
    let state = Dialects::new(control, config);
    Router::new()
        .merge(zenlayer::routes())
        .merge(ucloud::routes())
        .merge(openstack::routes(state.clone()))
        .merge(huawei::routes(state.clone()))
        .merge(aliyun::routes())
        .with_state(state)
}
