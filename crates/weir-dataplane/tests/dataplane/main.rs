//! The data plane through real sockets on 127.x: backends are small
//! loopback servers that tag their replies with their name.

mod support;

mod acl;
mod check_requests;
mod events;
mod fail_open;
mod gray;
mod h2;
mod hashing;
mod health_privacy;
mod http;
mod http_limits;
mod https;
mod l7;
mod latency;
mod limits;
mod mtls;
mod ping;
mod policy;
mod pool;
mod rebind;
mod reencrypt;
mod reencrypt_mtls;
mod smuggling;
mod sticky;
mod tcp;
mod tls_checks;
mod udp;
mod websocket;
