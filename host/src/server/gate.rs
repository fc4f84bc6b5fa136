//! The contract between the HTTP server and whatever decides requests.
//!
//! The server knows HTTP (routes, status codes, headers, limits, signals); the
//! gate knows plugins (routing a request to one, the breaker, reloads, the
//! audit log). `crate::lifecycle::Gateway` is the real gate; tests use fakes.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::audit::{AuditStats, PluginId};
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
    /// With an allow on a route that opts in: the signed identity assertion
    /// (a compact JWT) for `X-Ward-Assertion`.
    pub assertion: Option<Arc<str>>,
}

/// A decision under way ([`Gate::decide`]).
pub type Deciding<'a> = Pin<Box<dyn Future<Output = GateDecision> + Send + 'a>>;

/// What the server needs from the plugin set. `decide` is async and polled
/// on the server's I/O threads, and `is_ready` is asked there too, before
/// each decision; every other method is blocking and may take
/// long (a whole reload), and the server calls it off those threads.
pub trait Gate: Send + Sync + 'static {
    /// Decides one request from the headers the proxy forwarded. Never fails:
    /// every problem is a deny.
    ///
    /// The future is polled on an I/O thread that serves other connections
    /// too, so it must never block: work that takes long yields (a guest
    /// yields at every epoch tick), and work that must block moves off the
    /// thread first (`tokio::task::block_in_place`). The server drops it at
    /// its request timeout, which must end the call.
    fn decide<'a>(&'a self, headers: &'a http::HeaderMap) -> Deciding<'a>;
    /// True once a plugin set is loaded and may serve. Asked on an I/O
    /// thread before every decision, so it must not block (the gateway's is
    /// an atomic load).
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
    /// The gate's own counters and states for `/metrics` (plugin states,
    /// breakers, reloads, audit drops): data only, which the server renders.
    /// Must be quick: it runs on every scrape.
    fn stats(&self) -> GateStats;
    /// Flushes the audit log before the process exits (SIGTERM).
    fn shutdown(&self);
    /// The public keys of the identity assertion, as a JWK Set document, for
    /// `GET /.well-known/jwks.json`; `None` (404) when none are configured.
    /// Asked on an I/O thread: must not block.
    fn jwks(&self) -> Option<Arc<[u8]>> {
        None
    }
}

/// What a gate reports for `/metrics`. Plain data: the server renders every
/// metric (`server/metrics.rs`), and each label value here is typed so that
/// it cannot come from request content: a checked [`PluginId`] from the
/// plan, an enum, or a `'static` name compiled into ward.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct GateStats {
    /// Every configured plugin, in configuration order.
    pub plugins: Vec<PluginStats>,
    /// Config reloads applied since start.
    pub reloads_applied: u64,
    /// Config reloads refused since start.
    pub reloads_refused: u64,
    /// Request audit events dropped by the overflow policy.
    pub audit_dropped: u64,
    /// The audit log's append loop and queue (`ward_audit_*`).
    pub audit: AuditStats,
    /// Lifecycle records the audit log refused, by plugin and event.
    pub unrecorded: Vec<UnrecordedCount>,
}

/// One configured plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginStats {
    /// Its id in the plan.
    pub plugin: PluginId,
    /// The state it serves in.
    pub state: PluginState,
}

/// The state a configured plugin serves in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginState {
    /// Loaded and called; `breaker_open` while its circuit breaker is open
    /// or half-open.
    Active {
        /// Whether the breaker is open or half-open.
        breaker_open: bool,
    },
    /// `enabled: false` or `pluginsEnabled: false`.
    Disabled,
    /// Its signer or entry digest is revoked.
    Revoked,
}

/// How many records of one lifecycle event for one plugin the audit log refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnrecordedCount {
    /// The plugin the record was about.
    pub plugin: PluginId,
    /// The audit event name, such as `plugin.breaker.opened`: `'static`,
    /// compiled into ward.
    pub event: &'static str,
    /// Records refused.
    pub count: u64,
}
