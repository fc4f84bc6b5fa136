//! The shape of `ward.json` exactly as written: every object refuses unknown
//! fields, so a typo is an error at its JSON path instead of a silently
//! ignored setting. Checks that need more than the shape live in `load.rs`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawConfig {
    /// Read by `trust.rs`, which predates this file and keeps its own checks.
    pub trust: Value,
    pub identity: RawIdentity,
    pub audit: RawAudit,
    #[serde(default)]
    pub server: RawServer,
    #[serde(default)]
    pub allow_dirs: Vec<PathBuf>,
    #[serde(default = "yes")]
    pub plugins_enabled: bool,
    pub plugins: Vec<RawPlugin>,
    #[serde(default)]
    pub key_material_fetch: RawFetch,
    /// A directory for compiled plugins (`sandbox/compile_cache.rs`).
    pub compile_cache: Option<PathBuf>,
    /// Route policy and the signed assertion: `routes.rs`.
    pub routes: Option<super::routes::RawRoutes>,
    pub assertion: Option<super::routes::RawAssertion>,
    /// Lets the annotated example and operators' files carry a `$schema` key.
    #[serde(default, rename = "$schema")]
    pub _schema: Option<String>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawIdentity {
    pub key_file: PathBuf,
    pub label_keys: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawAudit {
    /// Required with the file store (the default); refused with another.
    pub file: Option<PathBuf>,
    pub store: Option<super::audit_store::RawAuditStore>,
    pub key_file: PathBuf,
    #[serde(default)]
    pub overflow: RawOverflow,
    pub block_max_wait_ms: Option<u64>,
    #[serde(default)]
    pub record_allowed: bool,
    pub max_file_bytes: Option<u64>,
    pub queue_capacity: Option<usize>,
}

#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum RawOverflow {
    #[default]
    Block,
    DropAndCount,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawServer {
    pub listen: Option<String>,
    pub max_connections: Option<usize>,
    pub max_header_bytes: Option<usize>,
    pub header_timeout_ms: Option<u64>,
    pub request_timeout_ms: Option<u64>,
    pub drain_timeout_ms: Option<u64>,
    #[serde(default)]
    pub json_logs: bool,
    pub tls: Option<super::tls::RawTls>,
    #[serde(default)]
    pub watch_config: bool,
    #[serde(default)]
    pub decision_log: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawPlugin {
    pub id: String,
    pub envelope: PathBuf,
    /// The signed entry: a component, or with `"runtime": "js"` an `.mjs`.
    pub component: PathBuf,
    #[serde(default)]
    pub runtime: RawRuntime,
    pub route: RawRoute,
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
    #[serde(default)]
    pub limits: RawLimits,
    pub conformance: Option<PathBuf>,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub key_material: Vec<RawKeyMaterial>,
    #[serde(default)]
    pub breaker: RawBreaker,
}

/// What the signed entry is; said explicitly, never guessed from content.
#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RawRuntime {
    #[default]
    Wasm,
    Js,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawRoute {
    pub header: String,
    pub scheme: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawLimits {
    pub fuel: Option<u64>,
    pub timeout_ms: Option<u64>,
    pub memory_bytes: Option<usize>,
    pub table_elements: Option<usize>,
    pub max_credential_bytes: Option<usize>,
    pub max_concurrent: Option<usize>,
    #[serde(default)]
    pub code: RawCodeLimits,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawCodeLimits {
    pub functions: Option<u32>,
    pub function_bytes: Option<u32>,
    pub locals: Option<u32>,
    pub nesting: Option<u32>,
    pub locals_by_blocks: Option<u64>,
    pub locals_by_blocks_total: Option<u64>,
    pub code_bytes: Option<u64>,
    pub data_bytes: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawBreaker {
    pub failures: Option<u32>,
    pub window_ms: Option<u64>,
    pub cooldown_ms: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawKeyMaterial {
    pub name: String,
    pub file: Option<PathBuf>,
    pub url: Option<String>,
    pub max_bytes: Option<u64>,
    pub refresh_seconds: Option<u64>,
    pub max_stale_seconds: Option<u64>,
    pub format: Option<String>,
    pub max_entries: Option<u64>,
    pub refetch_min_seconds: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawFetch {
    #[serde(default)]
    pub allow_http_hosts: Vec<String>,
    #[serde(default)]
    pub allow_cidrs: Vec<String>,
    pub ca_file: Option<PathBuf>,
    pub public_roots: Option<bool>,
    pub connect_timeout_ms: Option<u64>,
    pub total_timeout_ms: Option<u64>,
}

/// One conformance case, as the fixtures file writes it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawCase {
    pub credential: String,
    pub scheme: String,
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
    pub expect: RawExpect,
    #[serde(alias = "subject_hash")]
    pub subject_hash: Option<String>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RawExpect {
    Allow,
    Deny,
}
