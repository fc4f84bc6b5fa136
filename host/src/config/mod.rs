//! The operator's `ward.json`: one file that names everything ward serves.
//!
//! Parsing runs in two stages, as the style guide asks: deserialize into the
//! raw shape (`raw.rs`: every object refuses unknown fields, errors carry the
//! JSON path), then validate into the library's types (`load.rs`), reading
//! every file the config names through the confined directories of `dir.rs`.
//! The schema is in `docs/ward.schema.json`, an annotated example in
//! `docs/configuration.md`.

mod dir;
mod error;
mod json;
mod load;
mod raw;
mod shape;
pub mod trust;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::audit::{AuditKey, AuditOptions};
use crate::identity::{ClaimsPolicy, IdentityKey};
use crate::keymaterial::{FetchPolicy, UrlSource};
use crate::lifecycle::{BreakerSettings, ConformanceCase, Route};
use crate::sandbox::PluginOptions;
use crate::trust::TrustPolicy;

pub use error::{ConfigError, MAX_CONFIG_BYTES};
pub use load::load;
pub use trust::{read_trust_policy, trust_policy_from_json};

/// A validated `ward.json`, with every file it names already read.
#[derive(Debug)]
#[non_exhaustive]
pub struct WardConfig {
    /// Where it was read from (reloads read the same path).
    pub path: PathBuf,
    /// `allowDirs`: directories outside the config's own that it may name.
    pub allow_dirs: Vec<PathBuf>,
    /// The trust gate's policy.
    pub trust: TrustPolicy,
    /// The identity HMAC key (never enters a sandbox).
    pub identity_key: IdentityKey,
    /// The claims sanitizer's label-key allowlist.
    pub claims: ClaimsPolicy,
    /// The audit log.
    pub audit: AuditConfig,
    /// The HTTP sidecar.
    pub server: ServerConfig,
    /// The global kill switch: `false` unloads every plugin.
    pub plugins_enabled: bool,
    /// Plugins, in routing order.
    pub plugins: Vec<PluginConfig>,
    /// How `url` key material is fetched (`keyMaterialFetch`).
    pub fetch: FetchPolicy,
}

/// The `audit` section.
#[derive(Debug)]
#[non_exhaustive]
pub struct AuditConfig {
    /// The live log file.
    pub file: PathBuf,
    /// The chain key (separate from the identity key).
    pub key: AuditKey,
    /// Rotation, queue and overflow policy.
    pub options: AuditOptions,
}

/// The `server` section; `ward serve` maps it onto the server's options.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Listen address. Default `127.0.0.1:8181`.
    pub listen: SocketAddr,
    /// Connections served at once.
    pub max_connections: Option<usize>,
    /// Largest request head accepted.
    pub max_header_bytes: Option<usize>,
    /// Time a client has to send its request head.
    pub header_timeout: Option<Duration>,
    /// Time a whole request may take.
    pub request_timeout: Option<Duration>,
    /// How long SIGTERM waits for in-flight requests.
    pub drain_timeout: Option<Duration>,
    /// Log as JSON lines instead of text.
    pub json_logs: bool,
}

/// One `plugins[]` entry.
#[derive(Debug)]
#[non_exhaustive]
pub struct PluginConfig {
    /// The operator's id for it; must equal the signed envelope's `pluginId`.
    pub id: String,
    /// The `enabled` switch.
    pub enabled: bool,
    /// Which requests it handles.
    pub route: Route,
    /// The envelope and component bytes, or `None` when disabled (a disabled
    /// plugin's files are not read, so an operator can switch off one whose
    /// files are gone).
    pub files: Option<PluginFiles>,
    /// Limits, settings and file key material.
    pub options: PluginOptions,
    /// `url` key material: (name, source), fetched by the host.
    pub key_urls: Vec<(String, UrlSource)>,
    /// Conformance cases that must pass before it serves.
    pub conformance: Vec<ConformanceCase>,
    /// Its circuit breaker.
    pub breaker: BreakerSettings,
}

/// A plugin's signed envelope and component, as read from disk.
#[derive(Clone)]
pub struct PluginFiles {
    /// The Haechi-compatible signed envelope (JSON).
    pub envelope: Vec<u8>,
    /// The component the envelope signs.
    pub component: Vec<u8>,
}

impl std::fmt::Debug for PluginFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PluginFiles {{ envelope: {} bytes, component: {} bytes }}",
            self.envelope.len(),
            self.component.len()
        )
    }
}
