//! End-to-end tests of the `weir` binary: one integration test binary.

mod support;

mod acls;
mod cli_output;
mod cluster;
mod dashboard;
mod fail_open;
mod fds;
mod flavors;
mod groups;
mod l7;
mod metrics_doc;
mod mtls;
mod parity;
mod pool_ca;
mod process;
mod prometheus;
mod shared_store;
mod standby_live;
mod takeover;
mod traffic;
mod ui;
mod vip_mode;
