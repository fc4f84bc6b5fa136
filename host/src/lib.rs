//! ward: run third-party authentication plugins as signed, sandboxed, audited
//! WebAssembly components.
//!
//! The rooms, in the order a plugin passes through them:
//! - [`trust`]: the signed-envelope gate; nothing loads without its proof token.
//! - [`sandbox`]: the zero-capability wasmtime runtime that calls the plugin.
//! - [`identity`]: claims sanitizing and the host-keyed identity.
//! - [`audit`]: the tamper-evident event log.
//! - [`lifecycle`]: which plugins serve; breaker, reload, revocation, kill switch.
//! - [`policy`]: route policy (which plugin, what the identity must carry);
//!   [`assertion`]: the signed identity assertion for upstreams.
//! - [`config`]: the operator's `ward.json`.
//! - [`keymaterial`]: key material fetched by the host (SSRF-guarded) and cached for plugins.
//! - [`server`]: the forward-auth HTTP sidecar.
//! - [`lockdown`]: `ward serve`'s second layer on Linux (Landlock, seccomp).
//!
//! Which room may import which (no cycles; `host/tests/rooms.rs` checks it)
//! is in `docs/architecture.md`, "Room order".
//!
//! A plugin's path through the library, each step with a runnable example:
//! [`trust::verify`] → [`sandbox::Runtime::load`] →
//! [`sandbox::Plugin::authenticate`].
#![forbid(unsafe_code)]

pub mod assertion;
pub mod audit;
mod capped_read;
pub mod config;
pub mod identity;
mod keyed_mac;
pub mod keymaterial;
pub mod lifecycle;
pub mod lockdown;
mod operator_file;
pub mod policy;
pub mod sandbox;
mod secret_file;
pub mod server;
pub mod trust;
mod unique_keys;
