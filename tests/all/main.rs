//! One integration-test binary, a module per room (link time is the cost of
//! every extra test binary that links wasmtime).
// Test code: a broken assumption should stop the test loudly, so unwrap,
// expect, panic and indexing are allowed (clippy.toml does the same for
// `#[cfg(test)]` modules).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod api_key;
mod caddy;
mod config_docs;
mod host_crypto;
mod hostile_wasi;
mod js;
mod jwt;
mod key_index;
mod key_lookup;
mod lifecycle;
mod nginx;
mod proxy;
mod proxy_checks;
mod routes;
mod sandbox_guests;
mod sandbox_wat;
mod serve_isolation;
mod site;
mod support;
use ward_wat_guests as wat_guests;
