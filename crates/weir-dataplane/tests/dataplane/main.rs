//! The data plane through real sockets on 127.x: backends are small
//! loopback servers that tag their replies with their name.

mod support;

mod http;
mod limits;
mod pool;
mod tcp;
mod udp;
