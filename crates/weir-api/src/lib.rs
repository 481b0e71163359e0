//! The native `/v1` REST API: JSON over HTTP with bearer tokens. It is
//! "dialect zero": it only translates between its wire format and
//! `weir_control` calls, and maps errors in one place ([`error`]).
//!
//! - [`edge`]: request ids, authentication, the JSON body extractor.
//! - [`error`]: the one `core::Error` → (status, code) table.
//! - [`views`]: response bodies.
//! - [`routes`]: the handlers and the router.
//! - [`sse`]: reading a Server-Sent Events stream (clients of `/v1/watch`).
//! - [`ui`]: the web console's embedded files at `/ui`.

pub mod edge;
pub mod error;
pub mod routes;
pub mod sse;
pub mod ui;
pub mod views;

/// The native API with the web console beside it (the console needs no
/// token to load; every call it makes is an API call with one).
pub fn router(control: weir_control::Control) -> axum::Router {
    routes::router(control).merge(ui::router())
}

/// The OpenAPI document served at `/v1/openapi.json`.
pub const OPENAPI: &str = include_str!("../openapi.json");
