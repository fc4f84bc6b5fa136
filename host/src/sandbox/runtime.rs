//! `Runtime` (one engine, one linker, the epoch ticker) and `Plugin` (one
//! loaded, verified component ready to be called).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use wasmtime::Engine;
use wasmtime::component::{Component, ComponentExportIndex, InstancePre, Linker};

use crate::identity::{ClaimsPolicy, Identity, IdentityKey, SanitizedClaims};
use crate::trust::VerifiedPlugin;

use super::abi::{
    AUTHENTICATE_FUNC, AUTHENTICATOR_INTERFACE, AUTHENTICATOR_INTERFACE_0_2, AUTHENTICATOR_INTERFACE_0_3, AuthenticateParams, AuthenticateResults,
};
use super::blocking::run_to_completion;
use super::call::{CallSpec, CallState, armed_store, call_once, classify};
use super::compile_cache::{CompileCache, CompileCacheError, CompileCacheStats};
use super::crypto::add_host_crypto;
use super::decision::{Decision, DenyReason, PluginDeny};
use super::engine::{EngineSettings, EpochTicker, build_engine};
use super::imports::{Granted, Needs, WasiMode, check_imports};
use super::keys::{KEY_LOOKUP_CAPABILITY, KeySet, add_key_lookup};
use super::limits::Limits;
use super::load::{LoadError, precheck};
use super::wasi::add_deny_all_wasi;

/// Runtime-wide configuration.
#[derive(Debug, Clone, Default)]
pub struct RuntimeConfig {
    /// Engine and pool sizing.
    pub engine: EngineSettings,
    /// How WASI imports are treated.
    pub wasi: WasiMode,
    /// The claims sanitizer's operator settings.
    pub claims: ClaimsPolicy,
    /// Where compiled components and JavaScript snapshots are kept between
    /// runs (`compileCache` in ward.json); none: every start compiles.
    pub compile_cache: Option<PathBuf>,
}

/// Why a runtime could not be built (host resources, not plugin input).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// wasmtime refused the engine configuration.
    #[error("cannot create the wasm engine: {0}")]
    Engine(String),
    /// The epoch ticker thread could not start.
    #[error("cannot start the epoch ticker: {0}")]
    Ticker(std::io::Error),
    /// The compile cache directory is unusable or open to others.
    #[error("{0}")]
    CompileCache(#[from] CompileCacheError),
}

/// Per-plugin options from the operator.
#[derive(Debug, Clone, Default)]
pub struct PluginOptions {
    /// Resource limits for each call.
    pub limits: Limits,
    /// Settings passed to the guest as `request-context.settings`.
    pub settings: Vec<(String, String)>,
    /// Key material passed to the guest as `request-context.keys`.
    pub keys: Vec<(String, Vec<u8>)>,
    /// Indexed key material the guest may look up (`ward:auth/keys`), fixed
    /// for the plugin's life. `ward serve` passes its sets per call instead
    /// (they are refreshed); the CLI and embedders put them here.
    pub key_sets: Vec<KeySet>,
    /// What the verified entry is: a component, or a JavaScript module run
    /// by ward's engine (`sandbox/js`).
    pub runtime: PluginRuntime,
}

/// What a plugin's signed entry is; the operator says so (`"runtime"` in
/// ward.json), ward never guesses from the bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PluginRuntime {
    /// A WebAssembly component.
    #[default]
    Wasm,
    /// An ES module, made into a component at load (`sandbox/js`).
    Js,
}

impl PluginRuntime {
    /// What the envelope's `coreVersionRange` is checked against.
    pub fn core_contract(self) -> crate::trust::CoreContract {
        match self {
            Self::Wasm => crate::trust::CoreContract::Ward,
            Self::Js => crate::trust::CoreContract::Haechi,
        }
    }

    /// A guest's deny as this runtime's contract means it: Haechi's plugin
    /// denies, which ward's JavaScript engine returns as `denied`, are
    /// "not authenticated" (401).
    fn plugin_deny(self, deny: PluginDeny) -> PluginDeny {
        match (self, deny) {
            (Self::Js, PluginDeny::Denied) => PluginDeny::NotAuthenticated,
            (_, deny) => deny,
        }
    }
}

/// The credential slice the host cut out of a request.
#[derive(Clone, Copy)]
pub struct Credential<'a> {
    /// Lower-case scheme: `bearer`, `basic`, `api-key`.
    pub scheme: &'a str,
    /// The credential as received.
    pub token: &'a str,
}

impl std::fmt::Debug for Credential<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credential {{ scheme: {:?}, token: <{} bytes redacted> }}", self.scheme, self.token.len())
    }
}

struct Shared {
    identity_key: IdentityKey,
    claims: ClaimsPolicy,
    // Held by every plugin too, so deadlines keep working while any plugin lives.
    _ticker: EpochTicker,
}

/// One linker per combination of host interfaces, so that a plugin's
/// linker defines nothing it was not allowed to import.
struct Linkers {
    /// WASI allowlist (or nothing), in every linker.
    base: Linker<CallState>,
    /// Plus `ward:auth/crypto`: for plugins allowed `hostCrypto`.
    crypto: Linker<CallState>,
    /// Plus `ward:auth/keys`: for plugins allowed `keyLookup`.
    keys: Linker<CallState>,
    /// Plus both.
    crypto_keys: Linker<CallState>,
}

impl Linkers {
    fn new(engine: &Engine, wasi: WasiMode) -> wasmtime::Result<Self> {
        let mut base = Linker::new(engine);
        if wasi == WasiMode::DenyAll {
            add_deny_all_wasi(&mut base)?;
        }
        let mut crypto = base.clone();
        add_host_crypto(&mut crypto)?;
        let mut keys = base.clone();
        add_key_lookup(&mut keys, CallState::key_sets)?;
        let mut crypto_keys = crypto.clone();
        add_key_lookup(&mut crypto_keys, CallState::key_sets)?;
        Ok(Self { base, crypto, keys, crypto_keys })
    }

    fn for_needs(&self, needs: Needs) -> &Linker<CallState> {
        match (needs.crypto, needs.keys) {
            (false, false) => &self.base,
            (true, false) => &self.crypto,
            (false, true) => &self.keys,
            (true, true) => &self.crypto_keys,
        }
    }
}

/// Loads plugins and owns what they share. `Send + Sync`; clone it freely.
#[derive(Clone)]
pub struct Runtime {
    engine: Engine,
    linkers: Arc<Linkers>,
    config: Arc<RuntimeConfig>,
    shared: Arc<Shared>,
    compile_cache: Option<Arc<CompileCache>>,
}

impl Runtime {
    /// Builds the engine, the linkers (WASI allowlist or nothing; the same
    /// plus host crypto, key lookup, or both) and the ticker.
    pub fn new(config: RuntimeConfig, identity_key: IdentityKey) -> Result<Self, RuntimeError> {
        let compile_cache = config.compile_cache.as_deref().map(CompileCache::open).transpose()?.map(Arc::new);
        let engine = build_engine(&config.engine, compile_cache.as_ref().map(|cache| cache.compiled())).map_err(|err| RuntimeError::Engine(err.to_string()))?;
        let linkers = Linkers::new(&engine, config.wasi).map_err(|err| RuntimeError::Engine(err.to_string()))?;
        let ticker = EpochTicker::start(engine.clone(), config.engine.epoch_tick).map_err(RuntimeError::Ticker)?;
        let shared = Arc::new(Shared { identity_key, claims: config.claims.clone(), _ticker: ticker });
        Ok(Self { engine, linkers: Arc::new(linkers), config: Arc::new(config), shared, compile_cache })
    }

    /// What the compile cache has answered so far; `None` without one.
    pub fn compile_cache_stats(&self) -> Option<CompileCacheStats> {
        self.compile_cache.as_deref().map(CompileCache::stats)
    }

    /// Loads a verified plugin: compile from the very bytes that were hashed,
    /// check imports and exports, then instantiate once as a probe (type check
    /// of `authenticate`, start functions bounded like a call).
    ///
    /// The second link of the chain: only a [`VerifiedPlugin`] (from
    /// [`crate::trust::verify`]) can be loaded; the plugin keeps the id its
    /// envelope signed.
    ///
    /// ```
    /// use ward::identity::IdentityKey;
    /// use ward::sandbox::{PluginOptions, Runtime, RuntimeConfig};
    /// # use ward::trust::{SignRequest, SigningSecret, TrustPolicy, envelope_file_text, now_ms, sign, verify};
    /// # let component = ward_wat_guests::component(&ward_wat_guests::allow_fixed());
    /// # let key = SigningSecret::from_seed(&[42; 32]);
    /// # let request = SignRequest::auth_provider("doc-plugin", "1.0.0", "doc-signer", &["readsCredentials"]);
    /// # let envelope = envelope_file_text(&sign(&request, &component, &key)?)?;
    /// # let policy = TrustPolicy::default().with_anchor("doc-signer", key.verifying_key()).allow("readsCredentials");
    /// let verified = verify(envelope.as_bytes(), component, &policy, now_ms())?;
    ///
    /// let runtime = Runtime::new(RuntimeConfig::default(), IdentityKey::from_bytes(vec![7; 32])?)?;
    /// let plugin = runtime.load(verified, PluginOptions::default())?;
    /// assert_eq!(plugin.id(), "doc-plugin");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn load(&self, plugin: VerifiedPlugin, options: PluginOptions) -> Result<Plugin, LoadError> {
        let limits = options.limits;
        if limits.memory_bytes > self.config.engine.max_memory_bytes {
            return Err(LoadError::LimitsExceedRuntime { why: "memory_bytes is above the runtime's max_memory_bytes" });
        }
        // A JavaScript plugin becomes a component here; from then on it is
        // checked, compiled and called like any other.
        let js_component;
        let entry = match options.runtime {
            PluginRuntime::Wasm => plugin.entry(),
            PluginRuntime::Js => {
                js_component = super::js::component(plugin.entry(), self.compile_cache.as_deref()).map_err(LoadError::JavaScript)?;
                js_component.as_slice()
            }
        };
        precheck(entry, limits.memory_bytes, &limits.code)?;
        let started = std::time::Instant::now();
        let component = Component::new(&self.engine, entry).map_err(|_| LoadError::InvalidComponent { why: "the component does not validate or compile" })?;
        let compiled = started.elapsed();
        // The trust gate accepted `hostCrypto: true` and `keyLookup: true`
        // only if the operator allows them.
        let payload = plugin.payload();
        let granted = Granted { host_crypto: payload.has_capability(HOST_CRYPTO_CAPABILITY), key_lookup: payload.has_capability(KEY_LOOKUP_CAPABILITY) };
        let needs = check_imports(&component, &self.engine, self.config.wasi, granted).map_err(|name| LoadError::ForbiddenImport { name })?;
        let needs_wasi = needs.wasi;
        let func = authenticate_export(&component, &self.engine)?;
        let linker = self.linkers.for_needs(needs);
        let pre =
            linker.instantiate_pre(&component).map_err(|_| LoadError::InvalidComponent { why: "imports do not match the WASI 0.2 interfaces ward serves" })?;
        let linked = started.elapsed();
        probe(&self.engine, &pre, &func, &limits)?;
        // Load time has a target (50 ms for the example plugin; 22.8 ms
        // measured on 2026-11-24); this line shows where it goes on the
        // operator's own machine.
        tracing::debug!(
            plugin = plugin.payload().plugin_id(),
            bytes = entry.len(),
            compile_us = compiled.as_micros() as u64,
            link_us = (linked - compiled).as_micros() as u64,
            probe_us = (started.elapsed() - linked).as_micros() as u64,
            "plugin compiled"
        );
        let payload = plugin.payload();
        Ok(Plugin {
            inner: Arc::new(PluginInner {
                id: payload.plugin_id().to_owned(),
                version: payload.version().to_owned(),
                signer_key_id: plugin.signer_key_id().to_owned(),
                entry_sha256: plugin.entry_sha256().to_owned(),
                manifest_sha256: plugin.manifest_sha256().to_owned(),
                runtime: options.runtime,
                engine: self.engine.clone(),
                pre,
                func,
                limits,
                needs_wasi,
                needs_crypto: needs.crypto,
                needs_keys: needs.keys,
                settings: options.settings,
                keys: options.keys,
                key_sets: options.key_sets,
                in_flight: AtomicUsize::new(0),
                shared: Arc::clone(&self.shared),
            }),
        })
    }
}

/// The envelope capability that lets a plugin import `ward:auth/crypto`.
pub const HOST_CRYPTO_CAPABILITY: &str = "hostCrypto";

fn authenticate_export(component: &Component, engine: &Engine) -> Result<ComponentExportIndex, LoadError> {
    const WRONG_EXPORTS: LoadError =
        LoadError::InvalidComponent { why: "it must export exactly ward:auth/authenticator@0.1.0 (or its identical @0.2.0 or @0.3.0)" };
    let component_type = component.component_type();
    let mut exports = component_type.exports(engine).map(|(name, _)| name);
    let name = match exports.next() {
        Some(name) if [AUTHENTICATOR_INTERFACE, AUTHENTICATOR_INTERFACE_0_2, AUTHENTICATOR_INTERFACE_0_3].contains(&name) => name,
        _ => return Err(WRONG_EXPORTS),
    };
    if exports.next().is_some() {
        return Err(WRONG_EXPORTS);
    }
    let (_, interface) = component.get_export(None, name).ok_or(WRONG_EXPORTS)?;
    let (_, func) = component.get_export(Some(&interface), AUTHENTICATE_FUNC).ok_or(WRONG_EXPORTS)?;
    Ok(func)
}

/// How long past its own deadline a call run by [`run_to_completion`] may
/// take before the host gives up on it: a backstop, as the epoch deadline
/// ends every guest first.
const BLOCKING_SLACK: Duration = Duration::from_secs(1);

fn blocking_bound(limits: &Limits) -> Duration {
    limits.timeout.saturating_add(BLOCKING_SLACK)
}

fn probe(engine: &Engine, pre: &InstancePre<CallState>, func: &ComponentExportIndex, limits: &Limits) -> Result<(), LoadError> {
    let fault = |reason| LoadError::InstantiationFault { reason };
    let mut store = armed_store(engine, limits, 0, &[]).map_err(fault)?;
    let instance = run_to_completion(pre.instantiate_async(&mut store), blocking_bound(limits))
        .ok_or(fault(DenyReason::Timeout))?
        .map_err(|err| fault(classify(&err, &store)))?;
    instance
        .get_typed_func::<AuthenticateParams<'_>, AuthenticateResults>(&mut store, func)
        .map_err(|_| LoadError::InvalidComponent { why: "authenticate does not have the ward:auth@0.1.0 signature" })?;
    Ok(())
}

/// Key material one call receives besides the plugin's fixed material:
/// what `ward serve` fetched and refreshed.
#[derive(Default)]
pub(crate) struct CallKeys<'a> {
    /// `raw` entries, after the plugin's own in `request-context.keys`.
    pub raw: &'a [(&'a str, &'a [u8])],
    /// Indexed entries, after the plugin's own.
    pub sets: &'a [KeySet],
}

/// A loaded plugin. Cheap to clone; `Send + Sync`; calls need no lock.
#[derive(Clone)]
pub struct Plugin {
    inner: Arc<PluginInner>,
}

struct PluginInner {
    id: String,
    version: String,
    signer_key_id: String,
    entry_sha256: String,
    manifest_sha256: String,
    runtime: PluginRuntime,
    engine: Engine,
    pre: InstancePre<CallState>,
    func: ComponentExportIndex,
    limits: Limits,
    needs_wasi: bool,
    needs_crypto: bool,
    needs_keys: bool,
    settings: Vec<(String, String)>,
    keys: Vec<(String, Vec<u8>)>,
    key_sets: Vec<KeySet>,
    in_flight: AtomicUsize,
    shared: Arc<Shared>,
}

impl PluginInner {
    /// A call's outcome as the gateway sees it: claims become the host-built
    /// identity, a guest's deny is read under this plugin's runtime.
    fn decision(&self, outcome: Result<Result<SanitizedClaims, PluginDeny>, DenyReason>) -> Decision {
        match outcome {
            Ok(Ok(claims)) => Decision::Allow(Identity::derive(&self.shared.identity_key, &self.id, claims)),
            Ok(Err(deny)) => Decision::Deny(DenyReason::Plugin(self.runtime.plugin_deny(deny))),
            Err(reason) => Decision::Deny(reason),
        }
    }
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("id", &self.inner.id)
            .field("version", &self.inner.version)
            .field("entry_sha256", &self.inner.entry_sha256)
            .field("limits", &self.inner.limits)
            .finish_non_exhaustive()
    }
}

/// Releases a concurrency slot when the call ends, however it ends.
struct Slot<'a>(&'a AtomicUsize);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Plugin {
    /// Authenticates one credential. Never fails and never panics: every
    /// problem, the host's or the guest's, is a [`Decision::Deny`].
    ///
    /// The last link of the chain ([`crate::trust::verify`], then
    /// [`Runtime::load`]): the example guest allows any credential, and the
    /// identity is the host's keyed HMAC under the plugin's id, never the
    /// guest's raw subject.
    ///
    /// ```
    /// use ward::sandbox::{Credential, Decision};
    /// # use ward::identity::IdentityKey;
    /// # use ward::sandbox::{PluginOptions, Runtime, RuntimeConfig};
    /// # use ward::trust::{SignRequest, SigningSecret, TrustPolicy, envelope_file_text, now_ms, sign, verify};
    /// # let component = ward_wat_guests::component(&ward_wat_guests::allow_fixed());
    /// # let key = SigningSecret::from_seed(&[42; 32]);
    /// # let request = SignRequest::auth_provider("doc-plugin", "1.0.0", "doc-signer", &["readsCredentials"]);
    /// # let envelope = envelope_file_text(&sign(&request, &component, &key)?)?;
    /// # let policy = TrustPolicy::default().with_anchor("doc-signer", key.verifying_key()).allow("readsCredentials");
    /// # let verified = verify(envelope.as_bytes(), component, &policy, now_ms())?;
    /// # let runtime = Runtime::new(RuntimeConfig::default(), IdentityKey::from_bytes(vec![7; 32])?)?;
    /// # let plugin = runtime.load(verified, PluginOptions::default())?;
    /// let decision = plugin.authenticate(Credential { scheme: "bearer", token: "any-token" }, now_ms());
    /// let Decision::Allow(identity) = decision else { panic!("the example guest allows") };
    /// assert!(identity.id.starts_with("doc-plugin:"));
    /// assert!(!identity.id.contains("wat-user"), "the guest's subject never leaves raw");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn authenticate(&self, credential: Credential<'_>, now_ms: u64) -> Decision {
        self.authenticate_with(credential, now_ms, &self.inner.settings, &CallKeys::default())
    }

    /// [`Plugin::authenticate`] for async callers: the guest yields to the
    /// executor at every epoch tick, so a guest that spins to its deadline
    /// holds the polling thread one tick at a time. Dropping the future ends
    /// the call.
    pub async fn authenticate_async(&self, credential: Credential<'_>, now_ms: u64) -> Decision {
        self.call(credential, now_ms, &self.inner.settings, &CallKeys::default()).await
    }

    /// [`Plugin::authenticate`] with other settings: conformance cases may set their own.
    /// Key material the host fetched (URL entries) follows the plugin's fixed keys.
    pub(crate) fn authenticate_with(&self, credential: Credential<'_>, now_ms: u64, settings: &[(String, String)], call_keys: &CallKeys<'_>) -> Decision {
        run_to_completion(self.call(credential, now_ms, settings, call_keys), blocking_bound(&self.inner.limits)).unwrap_or(Decision::Deny(DenyReason::Timeout))
    }

    /// One call, however it is driven: [`Plugin::authenticate_with`]'s async form.
    pub(crate) async fn call(&self, credential: Credential<'_>, now_ms: u64, settings: &[(String, String)], call_keys: &CallKeys<'_>) -> Decision {
        let inner = &*self.inner;
        if credential.token.len().saturating_add(credential.scheme.len()) > inner.limits.max_credential_bytes {
            return Decision::Deny(DenyReason::Oversized);
        }
        if inner.in_flight.fetch_add(1, Ordering::AcqRel) >= inner.limits.max_concurrent {
            inner.in_flight.fetch_sub(1, Ordering::AcqRel);
            return Decision::Deny(DenyReason::OverCapacity);
        }
        let _slot = Slot(&inner.in_flight);
        // Only a plugin that imports `keys` is handed sets: the others could
        // not look them up, and the snapshot would cost them a clone each.
        let joined;
        let key_sets = match (inner.needs_keys, inner.key_sets.is_empty(), call_keys.sets.is_empty()) {
            (false, _, _) => &[][..],
            (true, _, true) => &inner.key_sets[..],
            (true, true, false) => call_keys.sets,
            (true, false, false) => {
                joined = inner.key_sets.iter().chain(call_keys.sets).cloned().collect::<Vec<_>>();
                &joined[..]
            }
        };
        let spec = CallSpec { settings, fetched_keys: call_keys.raw, key_sets, ..self.spec() };
        inner.decision(call_once(&spec, credential.scheme, credential.token, now_ms).await)
    }

    fn spec(&self) -> CallSpec<'_> {
        let inner = &*self.inner;
        CallSpec {
            engine: &inner.engine,
            pre: &inner.pre,
            func: &inner.func,
            limits: &inner.limits,
            settings: &inner.settings,
            keys: &inner.keys,
            fetched_keys: &[],
            key_sets: &[],
            claims_policy: &inner.shared.claims,
        }
    }

    /// The plugin id from its verified envelope.
    pub fn id(&self) -> &str {
        &self.inner.id
    }
    /// The plugin version from its verified envelope.
    pub fn version(&self) -> &str {
        &self.inner.version
    }
    /// The key id that signed it.
    pub fn signer_key_id(&self) -> &str {
        &self.inner.signer_key_id
    }
    /// sha256 of the component bytes, lowercase hex.
    pub fn entry_sha256(&self) -> &str {
        &self.inner.entry_sha256
    }
    /// sha256 of the canonical signed payload, lowercase hex.
    pub fn manifest_sha256(&self) -> &str {
        &self.inner.manifest_sha256
    }
    /// Whether the component imports WASI (served by the deny-all context).
    pub fn imports_wasi(&self) -> bool {
        self.inner.needs_wasi
    }
    /// Whether the component imports `ward:auth/crypto` (host crypto).
    pub fn imports_host_crypto(&self) -> bool {
        self.inner.needs_crypto
    }
    /// Whether the component imports `ward:auth/keys` (key lookup).
    pub fn imports_key_lookup(&self) -> bool {
        self.inner.needs_keys
    }
    /// The limits each call runs under.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }
    /// The operator's settings for this plugin.
    pub fn settings(&self) -> &[(String, String)] {
        &self.inner.settings
    }
}

/// The reused-instance baseline of `ward-bench`; only with the non-default
/// `bench-baseline` feature, never in the product (see the module).
#[cfg(feature = "bench-baseline")]
#[doc(hidden)]
pub mod bench_support;
