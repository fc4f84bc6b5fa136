//! Building the next plugin set from a plan, reusing what has not changed.
//!
//! Everything that can fail happens here, before anything serves: trust
//! verification (every plugin, every time, so a revocation bites even if the
//! files did not change), compilation, the probe and the conformance gate.
//! Refusals are recorded as they happen; the events that make plugins serve
//! or stop serving are returned, to be made durable before the swap.

use std::sync::Arc;

use crate::audit::{AuditError, AuditLog, Code, Event, KeyId, KeyMaterialName, PluginId, RequestQueue, Sha256Digest, UnloadCause, Version};
use crate::keymaterial::{Fetcher, KeyMaterialError, KeyMaterialSource, RefreshTask};
use crate::sandbox::{CallKeys, Plugin, Runtime};
use crate::trust::verify_for;

use super::breaker::Breaker;
use super::conformance;
use super::error::LifecycleError;
use super::fingerprint::Fingerprint;
use super::plan::{Plan, PluginSpec};
use super::set::{Active, Entry, PluginSet, Routing, Slot, current_keys};

pub(crate) struct NextSet {
    pub set: PluginSet,
    /// `plugin.load.accepted` and `plugin.unloaded`, in plan order.
    pub events: Vec<Event>,
}

/// Where `url` key material is fetched from and refreshed on; `ward check`
/// fetches once and refreshes nothing.
pub(crate) struct KeyFetching<'a> {
    pub refresher: Option<&'a tokio::runtime::Handle>,
}

pub(crate) fn assemble(
    runtime: &Runtime,
    plan: &Plan,
    old: &PluginSet,
    audit: Option<&AuditLog>,
    now_ms: u64,
    keys: &KeyFetching<'_>,
) -> Result<NextSet, LifecycleError> {
    let serving = |p: &&PluginSpec| plan.plugins_enabled && p.enabled;
    let fetcher = if plan.plugins.iter().filter(serving).any(|p| !p.key_urls.is_empty()) { Some(Arc::new(Fetcher::new(plan.fetch.clone())?)) } else { None };
    let keys = Keys { fetcher, refresher: keys.refresher };
    let mut next = NextSet { set: PluginSet::empty(), events: Vec::new() };
    next.set.routing = Routing { policy: plan.routes.clone(), signer: plan.assertion.clone() };
    for plugin in &plan.plugins {
        let audit_id = PluginId::new(&plugin.id)?;
        let was_active = old.active(&plugin.id).is_some();
        let unloaded = |cause| Event::Unloaded { plugin_id: audit_id.clone(), cause };
        let slot = if !(plan.plugins_enabled && plugin.enabled) {
            if was_active {
                next.events.push(unloaded(UnloadCause::Disabled));
            }
            Slot::Disabled
        } else {
            match load_one(&Ctx { runtime, plan, old, audit, now_ms, keys: &keys }, plugin, &audit_id)? {
                Loaded::Revoked => {
                    if was_active {
                        next.events.push(unloaded(UnloadCause::Revoked));
                    }
                    Slot::Revoked
                }
                Loaded::Kept(active) => Slot::Active(active),
                Loaded::New(active, accepted) => {
                    next.events.push(accepted);
                    Slot::Active(active)
                }
            }
        };
        next.set.entries.push(Entry { id: Arc::from(plugin.id.as_str()), audit_id, route: plugin.route.clone(), slot });
    }
    for gone in &old.entries {
        if matches!(gone.slot, Slot::Active(_)) && !plan.plugins.iter().any(|p| *p.id == *gone.id) {
            next.events.push(Event::Unloaded { plugin_id: gone.audit_id.clone(), cause: UnloadCause::Removed });
        }
    }
    Ok(next)
}

enum Loaded {
    Revoked,
    Kept(Arc<Active>),
    New(Arc<Active>, Event),
}

/// What every plugin of one assembly shares.
struct Ctx<'a> {
    runtime: &'a Runtime,
    plan: &'a Plan,
    old: &'a PluginSet,
    audit: Option<&'a AuditLog>,
    now_ms: u64,
    keys: &'a Keys<'a>,
}

fn load_one(ctx: &Ctx<'_>, plugin: &PluginSpec, audit_id: &PluginId) -> Result<Loaded, LifecycleError> {
    let Ctx { runtime, plan, old, audit, now_ms, keys } = *ctx;
    let refuse = |reason: &'static str| -> LifecycleError {
        let recorded =
            Code::new(reason).and_then(|reason| record(audit, Event::LoadRefused { reason, plugin_id: Some(audit_id.clone()), signer_key_id: None }));
        match recorded {
            Ok(_) => LifecycleError::PluginRefused { plugin_id: plugin.id.clone(), reason },
            Err(err) => LifecycleError::Audit(err),
        }
    };
    let Some(files) = &plugin.files else {
        return Err(refuse("plugin-files-missing"));
    };
    let verified = match verify_for(&files.envelope, files.component.clone(), &plan.trust, now_ms, plugin.options.runtime.core_contract()) {
        Ok(verified) => verified,
        // A revoked plugin is unloaded, not a reason to keep the old set:
        // refusing the reload would keep the revoked plugin serving.
        Err(refusal) if refusal.code() == "revoked" => {
            let event = Event::LoadRefused { reason: Code::new("revoked")?, plugin_id: Some(audit_id.clone()), signer_key_id: None };
            record(audit, event)?;
            return Ok(Loaded::Revoked);
        }
        Err(refusal) => return Err(refuse(refusal.code())),
    };
    if verified.payload().plugin_id() != plugin.id {
        return Err(refuse("plugin-id-mismatch"));
    }
    let fingerprint = Fingerprint::of(plugin, &plan.fetch, verified.manifest_sha256(), verified.entry_sha256());
    if let Some(kept) = old.active(&plugin.id).filter(|a| a.fingerprint == fingerprint) {
        check_conformance(&kept.plugin, plugin, &kept.sources, audit_id, audit, now_ms).map_err(|e| e.unwrap_or_else(|| refuse("conformance-failed")))?;
        return Ok(Loaded::Kept(Arc::clone(kept)));
    }
    let loaded = runtime.load(verified, plugin.options.clone()).map_err(|err| refuse(err.code()))?;
    let (sources, refresh) = match keys.sources(plugin, audit_id, audit) {
        Ok(sources) => sources,
        // An indexed file that does not index refuses the plugin, with its code.
        Err(LifecycleError::KeyMaterial(err)) if matches!(err, KeyMaterialError::Index(_)) => return Err(refuse(err.code())),
        Err(err) => return Err(err),
    };
    check_conformance(&loaded, plugin, &sources, audit_id, audit, now_ms).map_err(|e| e.unwrap_or_else(|| refuse("conformance-failed")))?;
    let accepted = Event::LoadAccepted {
        plugin_id: audit_id.clone(),
        version: Version::new(loaded.version())?,
        signer_key_id: KeyId::new(loaded.signer_key_id())?,
        entry_sha256: digest(loaded.entry_sha256()),
        manifest_sha256: digest(loaded.manifest_sha256()),
    };
    let active = Active { plugin: loaded, breaker: Breaker::new(plugin.breaker), fingerprint, sources, _refresh: refresh };
    Ok(Loaded::New(Arc::new(active), accepted))
}

/// `Err(None)`: the plugin failed a case (recorded); `Err(Some)`: the record failed.
fn check_conformance(
    loaded: &Plugin,
    plugin: &PluginSpec,
    sources: &[Arc<KeyMaterialSource>],
    audit_id: &PluginId,
    audit: Option<&AuditLog>,
    now_ms: u64,
) -> Result<(), Option<LifecycleError>> {
    // A url entry not fetched yet is left out: its cases deny, as its calls would.
    let available: Vec<Arc<KeyMaterialSource>> = sources.iter().filter(|s| s.current().is_ok()).cloned().collect();
    let current = current_keys(&available, KeyMaterialSource::current).unwrap_or_default();
    let raw = current.raw();
    let keys = CallKeys { raw: &raw, sets: current.sets() };
    let Err(failure) = conformance::run(loaded, &plugin.conformance, &keys, now_ms) else {
        return Ok(());
    };
    let event = Event::ConformanceFailed { plugin_id: audit_id.clone(), case_index: failure.case_index, expected: failure.expected, got: failure.got };
    record(audit, event).map_err(|e| Some(e.into()))?;
    Err(None)
}

pub(crate) struct Keys<'a> {
    fetcher: Option<Arc<Fetcher>>,
    refresher: Option<&'a tokio::runtime::Handle>,
}

impl Keys<'_> {
    /// Indexes each indexed `file` entry, fetches each `url` entry once now
    /// (so a plugin starts with its keys) and starts its background
    /// refresh. A failed first fetch does not refuse the plugin: its calls
    /// deny with `key-material-unavailable` until a refresh succeeds, which
    /// is the documented behaviour. A file that does not index refuses it.
    /// Every failed refresh is audited (`keymaterial.update.failed`).
    fn sources(
        &self,
        plugin: &PluginSpec,
        audit_id: &PluginId,
        audit: Option<&AuditLog>,
    ) -> Result<(Vec<Arc<KeyMaterialSource>>, Vec<RefreshTask>), LifecycleError> {
        let (mut sources, mut tasks) = (Vec::new(), Vec::new());
        for file in &plugin.indexed_files {
            match KeyMaterialSource::fixed_indexed(file) {
                Ok(source) => sources.push(Arc::new(source)),
                Err(err) => {
                    record_key_failure(audit, audit_id, &file.name, &err);
                    return Err(err.into());
                }
            }
        }
        let Some(fetcher) = &self.fetcher else {
            return Ok((sources, tasks));
        };
        for (name, url) in &plugin.key_urls {
            let source = KeyMaterialSource::url(name.clone(), url.clone(), Arc::clone(fetcher))?;
            let source = match (audit, KeyMaterialName::new(name)) {
                (Some(log), Ok(material)) => {
                    let (queue, plugin_id) = (log.request_queue(), audit_id.clone());
                    source.on_failure(Arc::new(move |err: &KeyMaterialError| queue_key_failure(&queue, &plugin_id, &material, err)))
                }
                _ => source,
            };
            let source = Arc::new(source);
            if let Err(err) = source.refresh_blocking() {
                // `ward check` has no later refresh: an unreachable source is a finding.
                if self.refresher.is_none() {
                    return Err(err.into());
                }
                tracing::warn!(plugin = %plugin.id, key_material = %name, code = err.code(), "first fetch failed; calls deny until a refresh succeeds");
            }
            if let Some(handle) = self.refresher {
                tasks.push(source.spawn_refresh(handle));
            }
            sources.push(source);
        }
        Ok((sources, tasks))
    }
}

/// `keymaterial.update.failed`, queued (a refresh fails on its own task,
/// which must not wait on the disk; the record is not a precondition of
/// anything, since the last good copy keeps serving).
fn queue_key_failure(queue: &RequestQueue, plugin_id: &PluginId, material: &KeyMaterialName, err: &KeyMaterialError) {
    let Ok(reason) = Code::new(err.code()) else { return };
    // A drop is counted, and the count itself recorded (`audit.dropped`).
    let _ = queue.request(Event::KeyMaterialFailed { plugin_id: plugin_id.clone(), key_material: material.clone(), reason });
}

fn record_key_failure(audit: Option<&AuditLog>, plugin_id: &PluginId, name: &str, err: &KeyMaterialError) {
    if let (Some(log), Ok(material)) = (audit, KeyMaterialName::new(name)) {
        queue_key_failure(&log.request_queue(), plugin_id, &material, err);
    }
}

/// Records a refusal durably; `ward check` runs without a log.
fn record(audit: Option<&AuditLog>, event: Event) -> Result<(), AuditError> {
    audit.map_or(Ok(()), |log| log.lifecycle(event).map(drop))
}

/// The gate's lowercase hex digests, as audit digests.
fn digest(hex_digest: &str) -> Sha256Digest {
    let mut bytes = [0u8; 32];
    // The gate computed this hex itself; a failure here would be a bug, and
    // an all-zero digest in the record would show it rather than hide it.
    let _ = hex::decode_to_slice(hex_digest, &mut bytes);
    Sha256Digest(bytes)
}
