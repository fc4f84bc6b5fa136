//! Plugin lifecycle: which plugins serve, and how that changes safely.
//!
//! - [`Plan`]: what to serve, built by an outer room (`config`); reloads read
//!   the next one from a [`PlanSource`] (`plan.rs`). This room reads no config.
//! - [`Gateway`]: routes a request to one plugin (`route.rs`, or with route
//!   policy `routed.rs`), runs it behind
//!   its circuit breaker (`breaker.rs`), records the outcome in the audit log.
//! - Reloads build a whole new set (`assemble.rs`: trust gate, compile,
//!   conformance gate in `conformance.rs`) and swap it in at once (`set.rs`),
//!   each on a thread of its own within a deadline (`reload.rs`), unless it
//!   changes what only a restart may (`restart.rs`).
//! - Revocation and the kill switches unload without a restart; a revocation
//!   takes a fast path that waits for no reload (`reload.rs`).

mod assemble;
mod breaker;
mod conformance;
mod error;
mod fingerprint;
mod gateway;
mod plan;
mod refresher;
mod reload;
mod restart;
mod route;
mod routed;
mod set;
mod stats;
mod unrecorded;

pub use breaker::{Admission, Breaker, BreakerSettings, Transition};
pub use conformance::{ConformanceCase, ConformanceFailure, Expect};
pub use error::LifecycleError;
pub use gateway::{Gateway, PluginStatus};
pub use plan::{AuditSpec, Plan, PlanSource, PluginFiles, PluginSpec, RedisAudit};
pub use reload::DEFAULT_RELOAD_DEADLINE;
pub use route::{Route, RouteError, Slice};
