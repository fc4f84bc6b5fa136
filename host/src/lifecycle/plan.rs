//! What the lifecycle runs, and where its reloads read the next one.
//!
//! The lifecycle owns its input: a [`Plan`] names every plugin to serve and
//! what they share. An outer room builds it (`config`, from `ward.json`) and
//! hands the gateway a [`PlanSource`] that builds the next one on each
//! reload, so this room never reads a config.

use std::path::PathBuf;
use std::sync::Arc;

use crate::assertion::Signer;
use crate::audit::{AuditKey, AuditOptions, RedisTarget, ReplicaId};
use crate::identity::{ClaimsPolicy, IdentityKey};
use crate::keymaterial::{FetchPolicy, IndexedFile, UrlSource};
use crate::policy::RoutePolicy;
use crate::sandbox::PluginOptions;
use crate::trust::TrustPolicy;

use super::breaker::BreakerSettings;
use super::conformance::ConformanceCase;
use super::error::LifecycleError;
use super::route::Route;

/// Everything a gateway starts or reloads from.
#[derive(Debug)]
#[non_exhaustive]
pub struct Plan {
    /// The trust gate's policy.
    pub trust: TrustPolicy,
    /// The identity HMAC key (never enters a sandbox). A reload may not change it.
    pub identity_key: IdentityKey,
    /// The claims sanitizer's label-key allowlist. A reload may not change it.
    pub claims: ClaimsPolicy,
    /// The audit log. A reload may not change it.
    pub audit: AuditSpec,
    /// The global kill switch: `false` unloads every plugin.
    pub plugins_enabled: bool,
    /// Plugins, in routing order.
    pub plugins: Vec<PluginSpec>,
    /// How `url` key material is fetched.
    pub fetch: FetchPolicy,
    /// Where compiled plugins are kept between runs (`compileCache`). A
    /// reload may not change it.
    pub compile_cache: Option<PathBuf>,
    /// Route policy: with it, the route a request matches names the plugin
    /// and what the identity must carry; without it, the first plugin whose
    /// credential header the request carries decides.
    pub routes: Option<Arc<RoutePolicy>>,
    /// Signs the identity assertion for the routes that opt in, and
    /// publishes its keys. A reload may change it (key rotation).
    pub assertion: Option<Arc<Signer>>,
}

/// The audit log a gateway opens.
#[derive(Debug)]
#[non_exhaustive]
pub struct AuditSpec {
    /// The live log file.
    pub file: PathBuf,
    /// The chain key (separate from the identity key).
    pub key: AuditKey,
    /// Rotation, queue and overflow policy.
    pub options: AuditOptions,
    /// The fleet's shared chain in Redis instead of `file` (`audit.store`).
    pub redis: Option<RedisAudit>,
}

/// The Redis audit store of a plan (`audit.store` of type `redis`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedisAudit {
    /// Where, and how to connect.
    pub target: RedisTarget,
    /// This replica's `replicaId`, on every record it writes.
    pub replica: ReplicaId,
}

/// One plugin of a plan.
#[derive(Debug)]
#[non_exhaustive]
pub struct PluginSpec {
    /// The operator's id for it; must equal the signed envelope's `pluginId`.
    pub id: String,
    /// The `enabled` switch.
    pub enabled: bool,
    /// Which requests it handles.
    pub route: Route,
    /// The envelope and component bytes, or `None` when disabled (a disabled
    /// plugin's files need not exist, so an operator can switch off one
    /// whose files are gone).
    pub files: Option<PluginFiles>,
    /// Limits, settings and `raw` file key material.
    pub options: PluginOptions,
    /// Indexed (`jwks`, `api-keys`) file key material, as read; indexed when
    /// the plugin is built.
    pub indexed_files: Vec<IndexedFile>,
    /// `url` key material: (name, source), fetched by the host.
    pub key_urls: Vec<(String, UrlSource)>,
    /// Conformance cases that must pass before it serves.
    pub conformance: Vec<ConformanceCase>,
    /// Its circuit breaker.
    pub breaker: BreakerSettings,
}

/// A plugin's signed envelope and component, as read.
#[derive(Clone)]
pub struct PluginFiles {
    /// The Haechi-compatible signed envelope (JSON).
    pub envelope: Vec<u8>,
    /// The component the envelope signs.
    pub component: Vec<u8>,
}

impl std::fmt::Debug for PluginFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PluginFiles {{ envelope: {} bytes, component: {} bytes }}", self.envelope.len(), self.component.len())
    }
}

/// Where a gateway's reloads read the next plan: for `ward serve`, the
/// config file, read afresh on each call. Both calls run where the gateway
/// needs them: [`PlanSource::plan`] on the reload's own thread, within its
/// deadline; [`PlanSource::trust_policy`] on the caller's, for the
/// revocation fast path, so it should read as little as it can.
pub trait PlanSource: Send + Sync {
    /// The next plan, whole. A failure refuses the reload with its code
    /// (usually [`LifecycleError::Source`]); the running set keeps serving.
    fn plan(&self) -> Result<Plan, LifecycleError>;

    /// Only the trust policy, whose revocation lists the fast path applies.
    fn trust_policy(&self) -> Result<TrustPolicy, LifecycleError>;
}
