//! The zero-capability sandbox: loads verified plugin components into
//! wasmtime and calls them with a fresh instance per call.
//!
//! Guarantees of this room:
//! - Only a [`crate::trust::VerifiedPlugin`] can be loaded, and it is compiled
//!   from the very bytes the trust gate hashed.
//! - A plugin imports nothing, or only the WASI 0.2 interfaces listed in
//!   `imports.rs`, served by a context that grants nothing, and, if its
//!   envelope declares `hostCrypto: true`, `ward:auth/crypto` (`crypto/`),
//!   and if it declares `keyLookup: true`, `ward:auth/keys` (`keys.rs`);
//!   anything else is `forbidden-import` at load.
//! - Every call gets a new store and instance, a fuel budget, an epoch
//!   deadline covering instantiation too, memory/table/instance limits and a
//!   bounded wasm stack; at most `max_concurrent` calls run per plugin.
//!   (The one exception, `bench_support`, exists only with the non-default
//!   `bench-baseline` feature that the benchmark crate enables.)
//! - [`Plugin::authenticate`] returns a [`Decision`]; it never errors or panics.
//!   Guest output is read in place and sanitized before anything is copied.

mod abi;
mod blocking;
mod call;
mod compile_cache;
pub mod crypto;
mod decision;
mod engine;
mod fuel;
mod imports;
mod js;
mod keys;
mod limits;
mod load;
mod output;
mod runtime;
mod wasi;

pub(crate) use blocking::run_to_completion;
pub use compile_cache::{CompileCacheError, CompileCacheStats, create_compile_cache_dir};
pub use decision::{Decision, DenyReason, PluginDeny};
pub use engine::{BoundsChecks, EngineSettings, prepare_memory_reset};
pub use imports::WasiMode;
pub use js::{JsRefusal, MAX_SOURCE_BYTES as MAX_JS_SOURCE_BYTES, javascript_component};
pub use keys::{KEY_LOOKUP_CAPABILITY, KEYS_INTERFACE, KeySet};
pub use limits::{CodeLimits, Limits, MAX_TIMEOUT};
pub use load::LoadError;
pub(crate) use runtime::CallKeys;
#[cfg(feature = "bench-baseline")]
#[doc(hidden)]
pub use runtime::bench_support;
pub use runtime::{Credential, HOST_CRYPTO_CAPABILITY, Plugin, PluginOptions, PluginRuntime, Runtime, RuntimeConfig, RuntimeError};
