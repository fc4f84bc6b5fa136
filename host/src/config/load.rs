//! Raw shape → validated [`WardConfig`], reading every named file through
//! [`ConfinedDirs`]. The first problem wins and names its JSON path.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use zeroize::Zeroizing;

use crate::audit::{AuditKey, AuditOptions, OverflowPolicy};
use crate::identity::{ClaimsPolicy, IdentityKey};
use crate::keymaterial::{self, Cidr, FetchPolicy, IndexedFile, KeyFormat, Shape, UrlSource};
use crate::lifecycle::{AuditSpec, BreakerSettings, ConformanceCase, Expect, Plan, PluginFiles, PluginSpec, Route};
use crate::sandbox::{Limits, MAX_TIMEOUT, PluginOptions, PluginRuntime};

use super::audit_store;
use super::dir::{ConfinedDirs, read_config_file};
use super::json;
use super::raw::{RawAudit, RawBreaker, RawCase, RawConfig, RawExpect, RawFetch, RawLimits, RawOverflow, RawPlugin, RawRuntime, RawServer};
use super::routes;
use super::shape;
use super::tls::TlsFiles;
use super::trust::trust_policy_from_section;
use super::{ConfigError, ServerConfig, WardConfig};
use crate::operator_file::FileRefusal;

const MAX_COMPONENT_BYTES: u64 = 64 << 20;
const MAX_FIXTURES_BYTES: u64 = 4 << 20;
const MAX_SECRET_BYTES: u64 = 4096;
const DEFAULT_LISTEN: &str = "127.0.0.1:8181";
/// Timeouts beyond this are mistakes, not policy (`sandbox::MAX_TIMEOUT`).
const MAX_TIMEOUT_MS: u64 = MAX_TIMEOUT.as_millis() as u64;

/// Reads and validates `path` and every file it names.
pub fn load(path: &Path) -> Result<WardConfig, ConfigError> {
    let shown = path.display().to_string();
    let bytes = read_config_file(path)?;
    let raw: RawConfig = parse(&bytes, &shown, "", &shape::CONFIG)?;
    let base = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Loader { shown: &shown, dirs: None }.run(raw, path, &base)
}

/// Deserializes with the JSON path of the first problem; `prefix` places a
/// separate file's paths (fixtures) under its config field.
fn parse<'de, T: Deserialize<'de>>(bytes: &'de [u8], shown: &str, prefix: &str, arrays: &shape::ArrayPaths) -> Result<T, ConfigError> {
    // The shape first, on a plain tree that refuses repeated keys (a config
    // is small): serde would otherwise read an array where an object belongs
    // by position.
    let tree = json::tree(bytes, shown, prefix)?;
    if let Some(at) = shape::misplaced_array(&tree, arrays) {
        return Err(ConfigError::Invalid {
            path: shown.to_owned(),
            at: if at.is_empty() { "(top level)".to_owned() } else { format!("{prefix}{at}") },
            problem: "invalid type: array, expected an object".to_owned(),
        });
    }
    json::typed(bytes, shown, prefix)
}

struct Loader<'a> {
    shown: &'a str,
    dirs: Option<ConfinedDirs>,
}

impl Loader<'_> {
    fn invalid(&self, at: impl Into<String>, problem: impl Into<String>) -> ConfigError {
        ConfigError::Invalid { path: self.shown.to_owned(), at: at.into(), problem: problem.into() }
    }

    fn run(mut self, raw: RawConfig, path: &Path, base: &Path) -> Result<WardConfig, ConfigError> {
        let dirs = ConfinedDirs::open(base, &raw.allow_dirs).map_err(|(index, e)| match index {
            usize::MAX => self.invalid("(config directory)", e.to_string()),
            i => self.invalid(format!("allowDirs[{i}]"), e.to_string()),
        })?;
        self.dirs = Some(dirs);
        let trust = trust_policy_from_section(raw.trust, self.shown)?;
        let identity_key = IdentityKey::from_bytes(self.secret(&raw.identity.key_file, "identity.keyFile")?.to_vec())
            .map_err(|e| self.invalid("identity.keyFile", key_problem(&e.to_string())))?;
        let claims = match raw.identity.label_keys {
            None => ClaimsPolicy::default(),
            Some(keys) => {
                if let Some(i) = keys.iter().position(|k| k.is_empty() || k.len() > 64 || !k.bytes().all(|b| b.is_ascii_graphic())) {
                    return Err(self.invalid(format!("identity.labelKeys[{i}]"), "must be 1 to 64 visible ASCII characters"));
                }
                ClaimsPolicy::with_label_keys(keys)
            }
        };
        let audit = self.audit(raw.audit)?;
        let server = self.server(raw.server, base, &raw.allow_dirs)?;
        let fetch = self.fetch(raw.key_material_fetch)?;
        // Created and checked (owner only) when the runtime starts, like the audit log.
        let compile_cache = match raw.compile_cache {
            Some(dir) => Some(self.dirs()?.resolve_for_writing(&dir).map_err(|e| self.file_problem("compileCache", &dir, &e))?),
            None => None,
        };
        let mut plugins = Vec::with_capacity(raw.plugins.len());
        for (index, plugin) in raw.plugins.into_iter().enumerate() {
            let at = format!("plugins[{index}]");
            if plugins.iter().any(|p: &PluginSpec| p.id == plugin.id) {
                return Err(self.invalid(format!("{at}.id"), "repeats another plugin's id"));
            }
            plugins.push(self.plugin(plugin, &at, raw.plugins_enabled, &fetch)?);
        }
        let invalid = |at: String, problem: String| self.invalid(at, problem);
        let secret = |path: &Path, at: &str| self.secret(path, at);
        let read = |path: &Path, at: &str| self.read(path, MAX_SECRET_BYTES, at);
        let cx = routes::Context { invalid: &invalid, secret: &secret, read: &read };
        let (routes, assertion) = routes::build(&cx, raw.routes, raw.assertion, &plugins, &claims)?;
        Ok(WardConfig {
            path: path.to_path_buf(),
            allow_dirs: raw.allow_dirs,
            server,
            plan: Plan { trust, identity_key, claims, audit, plugins_enabled: raw.plugins_enabled, plugins, fetch, routes, assertion, compile_cache },
        })
    }

    fn fetch(&self, raw: RawFetch) -> Result<FetchPolicy, ConfigError> {
        let at = "keyMaterialFetch";
        let mut policy = FetchPolicy { allow_http_hosts: raw.allow_http_hosts, ..FetchPolicy::default() };
        for (i, cidr) in raw.allow_cidrs.iter().enumerate() {
            let parsed: Cidr = cidr.parse().map_err(|_| self.invalid(format!("{at}.allowCidrs[{i}]"), "must be an address block such as 10.20.0.0/16"))?;
            policy.allow_cidrs.push(parsed);
        }
        if let Some(ca) = &raw.ca_file {
            policy.ca_file = Some(self.dirs()?.resolve_for_writing(ca).map_err(|e| self.file_problem(&format!("{at}.caFile"), ca, &e))?);
        }
        if let Some(public_roots) = raw.public_roots {
            policy.public_roots = public_roots;
        }
        if let Some(ms) = raw.connect_timeout_ms {
            policy.connect_timeout = Duration::from_millis(ms);
        }
        if let Some(ms) = raw.total_timeout_ms {
            policy.total_timeout = Duration::from_millis(ms);
        }
        policy.validate().map_err(|e| self.invalid(at, e.to_string()))?;
        Ok(policy)
    }

    fn dirs(&self) -> Result<&ConfinedDirs, ConfigError> {
        self.dirs.as_ref().ok_or_else(|| self.invalid("(config directory)", "not opened"))
    }

    fn read(&self, path: &Path, max: u64, at: &str) -> Result<Vec<u8>, ConfigError> {
        self.dirs()?.read(path, max).map_err(|e| self.file_problem(at, path, &e))
    }

    fn secret(&self, path: &Path, at: &str) -> Result<Zeroizing<Vec<u8>>, ConfigError> {
        self.dirs()?.read_secret(path, MAX_SECRET_BYTES).map_err(|e| self.file_problem(at, path, &e))
    }

    fn file_problem(&self, at: &str, path: &Path, err: &FileRefusal) -> ConfigError {
        self.invalid(at, format!("{} {err}", path.display()))
    }

    fn audit(&self, raw: RawAudit) -> Result<AuditSpec, ConfigError> {
        let redis = audit_store::redis_store(raw.store, self)?;
        let file = match (&raw.file, &redis) {
            (Some(file), None) => self.dirs()?.resolve_for_writing(file).map_err(|e| self.file_problem("audit.file", file, &e))?,
            (None, Some(_)) => PathBuf::new(),
            (None, None) => return Err(self.invalid("audit.file", "is required (unless audit.store names another store)")),
            (Some(_), Some(_)) => return Err(self.invalid("audit.file", "is not used with a redis audit.store; remove it")),
        };
        let key = AuditKey::from_bytes(self.secret(&raw.key_file, "audit.keyFile")?.to_vec())
            .map_err(|e| self.invalid("audit.keyFile", key_problem(&e.to_string())))?;
        let mut options = AuditOptions { record_allowed: raw.record_allowed, ..AuditOptions::default() };
        options.policy = match (raw.overflow, raw.block_max_wait_ms) {
            (RawOverflow::Block, wait) => OverflowPolicy::Block { max_wait: timeout_ms(wait.unwrap_or(1000), "audit.blockMaxWaitMs", self)? },
            (RawOverflow::DropAndCount, None) => OverflowPolicy::DropAndCount,
            (RawOverflow::DropAndCount, Some(_)) => {
                return Err(self.invalid("audit.blockMaxWaitMs", "only applies to overflow \"block\""));
            }
        };
        if let Some(max) = raw.max_file_bytes {
            options.max_file_bytes = positive(max, "audit.maxFileBytes", self)?;
        }
        if let Some(capacity) = raw.queue_capacity {
            options.queue_capacity = positive(capacity, "audit.queueCapacity", self)?;
        }
        Ok(AuditSpec { file, key, options, redis })
    }

    fn server(&self, raw: RawServer, base: &Path, allow_dirs: &[PathBuf]) -> Result<ServerConfig, ConfigError> {
        let listen = raw.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
        let listen: SocketAddr = listen.parse().map_err(|_| self.invalid("server.listen", "must be an IP:port address such as 127.0.0.1:8181"))?;
        let ms = |value: Option<u64>, at: &str| -> Result<Option<Duration>, ConfigError> { value.map(|v| timeout_ms(v, at, self)).transpose() };
        Ok(ServerConfig {
            listen,
            max_connections: raw.max_connections.map(|v| positive(v, "server.maxConnections", self)).transpose()?,
            max_header_bytes: raw.max_header_bytes.map(|v| positive(v, "server.maxHeaderBytes", self)).transpose()?,
            header_timeout: ms(raw.header_timeout_ms, "server.headerTimeoutMs")?,
            request_timeout: ms(raw.request_timeout_ms, "server.requestTimeoutMs")?,
            drain_timeout: ms(raw.drain_timeout_ms, "server.drainTimeoutMs")?,
            json_logs: raw.json_logs,
            tls: raw.tls.map(|tls| TlsFiles::new(tls, self.shown, base, allow_dirs, self.dirs()?)).transpose()?,
            watch_config: raw.watch_config,
            decision_log: raw.decision_log,
        })
    }

    fn plugin(&self, raw: RawPlugin, at: &str, plugins_enabled: bool, fetch: &FetchPolicy) -> Result<PluginSpec, ConfigError> {
        // The audit log's plugin-id alphabet: the id must be recordable as is.
        if crate::audit::PluginId::new(&raw.id).is_err() {
            return Err(self.invalid(format!("{at}.id"), "must be 1 to 64 characters of [A-Za-z0-9._-]"));
        }
        let route = Route::new(&raw.route.header, raw.route.scheme.as_deref()).map_err(|e| self.invalid(format!("{at}.route"), e.to_string()))?;
        let limits = self.limits(&raw.limits, &format!("{at}.limits"))?;
        let breaker = self.breaker(&raw.breaker, &format!("{at}.breaker"))?;
        let serving = raw.enabled && plugins_enabled;
        let files = if serving {
            Some(PluginFiles {
                envelope: self.read(
                    &raw.envelope,
                    // The gate's own cap: a larger envelope can never verify.
                    crate::trust::MAX_ENVELOPE_BYTES as u64,
                    &format!("{at}.envelope"),
                )?,
                component: self.read(&raw.component, MAX_COMPONENT_BYTES, &format!("{at}.component"))?,
            })
        } else {
            None
        };
        let mut keys: Vec<(String, Vec<u8>)> = Vec::new();
        let mut indexed_files: Vec<IndexedFile> = Vec::new();
        let mut key_urls: Vec<(String, UrlSource)> = Vec::new();
        for (i, material) in raw.key_material.iter().enumerate() {
            let at = format!("{at}.keyMaterial[{i}]");
            let taken = keys
                .iter()
                .map(|(name, _)| name)
                .chain(indexed_files.iter().map(|file| &file.name))
                .chain(key_urls.iter().map(|(name, _)| name))
                .any(|name| *name == material.name);
            if material.name.is_empty() || taken {
                return Err(self.invalid(format!("{at}.name"), "must be non-empty and unique within the plugin"));
            }
            let format = match material.format.as_deref() {
                None => KeyFormat::Raw,
                Some(name) => KeyFormat::from_name(name).ok_or_else(|| self.invalid(format!("{at}.format"), "must be raw, jwks or api-keys"))?,
            };
            let shape = Shape { format, max_entries: material.max_entries.unwrap_or(keymaterial::DEFAULT_MAX_ENTRIES) };
            if material.max_entries.is_some() && !format.is_indexed() {
                return Err(self.invalid(format!("{at}.maxEntries"), "only applies to indexed formats (jwks, api-keys)"));
            }
            if material.refetch_min_seconds.is_some() && !(format == KeyFormat::Jwks && material.url.is_some()) {
                return Err(self.invalid(format!("{at}.refetchMinSeconds"), "only applies to jwks key material from a url"));
            }
            let max = material.max_bytes.unwrap_or(keymaterial::DEFAULT_MAX_BYTES);
            if let Err(err) = shape.validate(max) {
                let field = match &err {
                    keymaterial::KeyMaterialError::InvalidOption { field, .. } => *field,
                    _ => "maxBytes",
                };
                return Err(self.invalid(format!("{at}.{field}"), err.to_string()));
            }
            match (&material.file, &material.url) {
                (Some(file), None) => {
                    let bytes = if serving { self.read(file, max, &format!("{at}.file"))? } else { Vec::new() };
                    if format.is_indexed() {
                        // Indexed when the plugin is built; a bad file refuses it there, with its code.
                        if serving {
                            indexed_files.push(IndexedFile { name: material.name.clone(), shape, bytes });
                        }
                    } else {
                        keys.push((material.name.clone(), bytes));
                    }
                }
                (None, Some(url)) => {
                    let mut source = UrlSource::new(url.clone());
                    source.max_bytes = max;
                    source.shape = shape;
                    if let Some(seconds) = material.refresh_seconds {
                        source.refresh = Duration::from_secs(seconds);
                    }
                    if let Some(seconds) = material.refetch_min_seconds {
                        source.refetch_min = Duration::from_secs(seconds);
                    }
                    source.max_stale = material.max_stale_seconds.map(Duration::from_secs);
                    source.validate(fetch).map_err(|e| self.invalid(at.clone(), e.to_string()))?;
                    key_urls.push((material.name.clone(), source));
                }
                _ => return Err(self.invalid(at, "needs exactly one of file or url")),
            }
            if (material.refresh_seconds.is_some() || material.max_stale_seconds.is_some()) && material.url.is_none() {
                let field = if material.refresh_seconds.is_some() { "refreshSeconds" } else { "maxStaleSeconds" };
                return Err(self.invalid(format!("{at}.{field}"), "only applies to url key material (files are re-read on reload)"));
            }
        }
        let conformance = match (&raw.conformance, serving) {
            (Some(fixtures), true) => self.fixtures(fixtures, &format!("{at}.conformance"))?,
            _ => Vec::new(),
        };
        Ok(PluginSpec {
            id: raw.id,
            enabled: raw.enabled,
            route,
            files,
            options: PluginOptions {
                limits,
                settings: raw.settings.into_iter().collect(),
                keys,
                key_sets: Vec::new(),
                runtime: match raw.runtime {
                    RawRuntime::Wasm => PluginRuntime::Wasm,
                    RawRuntime::Js => PluginRuntime::Js,
                },
            },
            indexed_files,
            key_urls,
            conformance,
            breaker,
        })
    }

    fn limits(&self, raw: &RawLimits, at: &str) -> Result<Limits, ConfigError> {
        let mut limits = Limits::default();
        let field = |name: &str| format!("{at}.{name}");
        if let Some(v) = raw.fuel {
            limits.fuel = positive(v, &field("fuel"), self)?;
        }
        if let Some(v) = raw.timeout_ms {
            limits.timeout = timeout_ms(v, &field("timeoutMs"), self)?;
        }
        if let Some(v) = raw.memory_bytes {
            limits.memory_bytes = positive(v, &field("memoryBytes"), self)?;
        }
        if let Some(v) = raw.table_elements {
            limits.table_elements = positive(v, &field("tableElements"), self)?;
        }
        if let Some(v) = raw.max_credential_bytes {
            limits.max_credential_bytes = positive(v, &field("maxCredentialBytes"), self)?;
        }
        if let Some(v) = raw.max_concurrent {
            limits.max_concurrent = positive(v, &field("maxConcurrent"), self)?;
        }
        let (code, at) = (&raw.code, format!("{at}.code"));
        let field = |name: &str| format!("{at}.{name}");
        let bounds = &mut limits.code;
        if let Some(v) = code.functions {
            bounds.functions = positive(v, &field("functions"), self)?;
        }
        if let Some(v) = code.function_bytes {
            bounds.function_bytes = positive(v, &field("functionBytes"), self)?;
        }
        if let Some(v) = code.locals {
            bounds.locals = positive(v, &field("locals"), self)?;
        }
        if let Some(v) = code.nesting {
            bounds.nesting = positive(v, &field("nesting"), self)?;
        }
        if let Some(v) = code.locals_by_blocks {
            bounds.locals_by_blocks = positive(v, &field("localsByBlocks"), self)?;
        }
        if let Some(v) = code.locals_by_blocks_total {
            bounds.locals_by_blocks_total = positive(v, &field("localsByBlocksTotal"), self)?;
        }
        if let Some(v) = code.code_bytes {
            bounds.code_bytes = positive(v, &field("codeBytes"), self)?;
        }
        if let Some(v) = code.data_bytes {
            bounds.data_bytes = positive(v, &field("dataBytes"), self)?;
        }
        Ok(limits)
    }

    fn breaker(&self, raw: &RawBreaker, at: &str) -> Result<BreakerSettings, ConfigError> {
        let mut breaker = BreakerSettings::default();
        if let Some(v) = raw.failures {
            breaker.failures = positive(v, &format!("{at}.failures"), self)?;
        }
        if let Some(v) = raw.window_ms {
            breaker.window = Duration::from_millis(positive(v, &format!("{at}.windowMs"), self)?);
        }
        if let Some(v) = raw.cooldown_ms {
            breaker.cooldown = Duration::from_millis(positive(v, &format!("{at}.cooldownMs"), self)?);
        }
        Ok(breaker)
    }

    fn fixtures(&self, path: &Path, at: &str) -> Result<Vec<ConformanceCase>, ConfigError> {
        let bytes = self.read(path, MAX_FIXTURES_BYTES, at)?;
        let shown = format!("{} (fixtures of {})", path.display(), self.shown);
        let cases: Vec<RawCase> = parse(&bytes, &shown, "", &shape::FIXTURES)?;
        if cases.is_empty() {
            return Err(self.invalid(at, "the fixtures file has no cases"));
        }
        Ok(cases
            .into_iter()
            .map(|case| ConformanceCase {
                credential: Zeroizing::new(case.credential),
                scheme: case.scheme.to_ascii_lowercase(),
                settings: case.settings.into_iter().collect(),
                expect: match case.expect {
                    RawExpect::Allow => Expect::Allow,
                    RawExpect::Deny => Expect::Deny,
                },
                subject_hash: case.subject_hash,
            })
            .collect())
    }
}

impl audit_store::StoreContext for Loader<'_> {
    fn invalid(&self, at: &str, problem: String) -> ConfigError {
        Loader::invalid(self, at, problem)
    }

    fn secret(&self, path: &Path, at: &str) -> Result<Zeroizing<Vec<u8>>, ConfigError> {
        Loader::secret(self, path, at)
    }

    fn timeout(&self, ms: u64, at: &str) -> Result<Duration, ConfigError> {
        timeout_ms(ms, at, self)
    }
}

fn positive<T: PartialOrd + Default>(value: T, at: &str, loader: &Loader<'_>) -> Result<T, ConfigError> {
    if value > T::default() { Ok(value) } else { Err(loader.invalid(at, "must be greater than 0")) }
}

fn timeout_ms(value: u64, at: &str, loader: &Loader<'_>) -> Result<Duration, ConfigError> {
    if value == 0 || value > MAX_TIMEOUT_MS {
        return Err(loader.invalid(at, format!("must be 1 to {MAX_TIMEOUT_MS} ms")));
    }
    Ok(Duration::from_millis(value))
}

/// The key types' own messages name "<memory>" as the path; the config names
/// the field instead, so keep only the reason.
fn key_problem(message: &str) -> String {
    message.split_once("; ").map_or(message, |(_, why)| why).to_owned()
}
