//! The contract between the HTTP server and whatever decides requests.
//!
//! The server knows HTTP (routes, status codes, headers, limits, signals); the
//! gate knows plugins (routing a request to one, the breaker, reloads, the
//! audit log). `crate::lifecycle::Gateway` is the real gate; tests use fakes.

use std::sync::Arc;

use crate::sandbox::Decision;

/// One forward-auth decision and what the server needs to answer it.
#[derive(Debug, Clone)]
pub struct GateDecision {
    /// The plugin that decided, when a route matched (a metrics label).
    pub plugin_id: Option<Arc<str>>,
    /// The auth scheme for `WWW-Authenticate` on a 401, e.g. `Bearer`: the
    /// matched route's scheme, or the first configured route's.
    pub challenge: Option<Arc<str>>,
    /// Allow with a host-built identity, or deny with a stable reason.
    pub decision: Decision,
}

/// What the server needs from the plugin set. Every method is blocking and
/// may take up to a plugin's deadline (or a whole reload); the server calls
/// them off the async I/O threads.
pub trait Gate: Send + Sync + 'static {
    /// Decides one request from the headers the proxy forwarded. Never fails:
    /// every problem is a deny.
    fn decide(&self, headers: &http::HeaderMap) -> GateDecision;
    /// True once a plugin set is loaded and may serve.
    fn is_ready(&self) -> bool;
    /// Applies, at once, the revocations of the configuration on disk: stops
    /// every serving plugin it now revokes, and returns how many (each
    /// SIGHUP, before `reload`). Must be quick and must not wait for a
    /// running `reload`, so that a revocation never waits behind one.
    fn revoke(&self) -> Result<usize, &'static str>;
    /// Re-reads the configuration and swaps the plugin set atomically
    /// (SIGHUP). On error the old set keeps serving; the error is a stable
    /// code. Must return within a bounded time even if loading hangs (the
    /// gateway's reload deadline).
    fn reload(&self) -> Result<(), &'static str>;
    /// Appends the gate's own metrics (breaker state, reloads, audit drops) in
    /// Prometheus text format. No label value may come from a credential or claims.
    fn write_metrics(&self, out: &mut String);
    /// Flushes the audit log before the process exits (SIGTERM).
    fn shutdown(&self);
}
