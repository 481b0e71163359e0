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
    /// The operator's own Keystone, when Octavia's tokens are its (the
    /// built-in Keystone is then not served); `None`: Weir's own.
    pub external_keystone: Option<openstack::ExternalKeystone>,
}

/// What every dialect handler needs.
#[derive(Clone)]
pub struct Dialects {
    pub control: Control,
    pub config: Arc<Config>,
    ucloud_replays: Arc<common::ReplayGuard>,
    tokens: Arc<openstack::Tokens>,
    /// Validates Octavia's tokens with the operator's Keystone, in
    /// external-Keystone mode.
    external_keystone: Option<Arc<openstack::KeystoneClient>>,
    /// Alibaba signature nonces seen within twice the clock-skew window.
    aliyun_nonces: Arc<common::ReplayGuard>,
    /// Zenlayer signatures, each single-use until its timestamp leaves the
    /// window: the SDK signs neither the action nor the path.
    zenlayer_signatures: Arc<common::ReplayGuard>,
    replay_limits: common::ReplayLimits,
}

impl Dialects {
    pub fn new(control: Control, config: Config) -> Self {
        Self::with_replay_limits(control, config, common::ReplayLimits::default())
    }

    /// As [`Dialects::new`], with the replay guards' bounds chosen (tests
    /// fill a small table; operators keep the defaults).
    pub fn with_replay_limits(
        control: Control,
        config: Config,
        limits: common::ReplayLimits,
    ) -> Self {
        let skew_window = Duration::from_secs(2 * common::CLOCK_SKEW_SECS.unsigned_abs());
        let window = config.ucloud_replay_window.unwrap_or_default();
        // A fresh key per process: tokens die with the process, and
        // keystoneauth re-authenticates on the 401 that follows.
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("the OS random source is available");
        let ttl = config
            .keystone_token_ttl
            .unwrap_or(openstack::DEFAULT_TOKEN_TTL);
        let external_keystone = config
            .external_keystone
            .clone()
            .map(|k| Arc::new(openstack::KeystoneClient::new(k)));
        Self {
            control,
            external_keystone,
            config: Arc::new(config),
            ucloud_replays: Arc::new(common::ReplayGuard::with_limits(window, limits)),
            tokens: Arc::new(openstack::Tokens::new(key, ttl)),
            aliyun_nonces: Arc::new(common::ReplayGuard::with_limits(skew_window, limits)),
            // A signature verifies until 15 min (+2 s of rounding) past
            // its timestamp, which may itself be 15 min ahead.
            zenlayer_signatures: Arc::new(common::ReplayGuard::with_limits(
                skew_window + Duration::from_secs(2),
                limits,
            )),
            replay_limits: limits,
        }
    }

    /// The bounds of the replay guards, for the dialects' messages.
    pub fn replay_limits(&self) -> common::ReplayLimits {
        self.replay_limits
    }
}

/// Every dialect's routes, to merge beside the native API.
pub fn router(control: Control, config: Config) -> Router {
    router_with_state(Dialects::new(control, config))
}

/// Every dialect's routes over a prepared [`Dialects`].
pub fn router_with_state(state: Dialects) -> Router {
    Router::new()
        .merge(zenlayer::routes())
        .merge(ucloud::routes())
        .merge(openstack::routes(state.clone()))
        .merge(huawei::routes(state.clone()))
        .merge(aliyun::routes())
        .with_state(state)
}
