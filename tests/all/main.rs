//! One integration-test binary, a module per room (link time is the cost of
//! every extra test binary that links wasmtime).

mod api_key;
mod caddy;
mod config_docs;
mod host_crypto;
mod hostile_wasi;
mod jwt;
mod lifecycle;
mod nginx;
mod proxy;
mod proxy_checks;
mod sandbox_guests;
mod sandbox_wat;
mod site;
mod support;
use ward_wat_guests as wat_guests;
