//! The native API driven over real sockets: an in-process server on
//! 127.0.0.1:0 with its own SQLite file per test, a blocking HTTP client.
//! One integration binary for the crate keeps link time down.

mod acls;
mod harness;
mod https;
mod pool_tls;

mod backends;
mod edge;
mod resources;
mod tenancy;
mod watch;
