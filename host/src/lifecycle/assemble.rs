//! Building the next plugin set from a config, reusing what has not changed.
//!
//! Everything that can fail happens here, before anything serves: trust
//! verification (every plugin, every time, so a revocation bites even if the
//! files did not change), compilation, the probe and the conformance gate.
//! Refusals are recorded as they happen; the events that make plugins serve
//! or stop serving are returned, to be made durable before the swap.

use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::audit::{
    AuditError, AuditLog, Code, Event, KeyId, PluginId, Sha256Digest, UnloadCause, Version,
};
use crate::config::{PluginConfig, WardConfig};
use crate::sandbox::{Plugin, Runtime};
use crate::trust::verify;

use super::breaker::Breaker;
use super::conformance;
use super::error::LifecycleError;
use super::set::{Active, Entry, PluginSet, Slot};

pub(crate) struct NextSet {
    pub set: PluginSet,
    /// `plugin.load.accepted` and `plugin.unloaded`, in config order.
    pub events: Vec<Event>,
}

pub(crate) fn assemble(
    runtime: &Runtime,
    config: &WardConfig,
    old: &PluginSet,
    audit: Option<&AuditLog>,
    now_ms: u64,
) -> Result<NextSet, LifecycleError> {
    let mut next = NextSet {
        set: PluginSet::empty(),
        events: Vec::new(),
    };
    for plugin in &config.plugins {
        let audit_id = PluginId::new(&plugin.id)?;
        let was_active = old.active(&plugin.id).is_some();
        let unloaded = |cause| Event::Unloaded {
            plugin_id: audit_id.clone(),
            cause,
        };
        let slot = if !(config.plugins_enabled && plugin.enabled) {
            if was_active {
                next.events.push(unloaded(UnloadCause::Disabled));
            }
            Slot::Disabled
        } else {
            match load_one(runtime, config, plugin, &audit_id, old, audit, now_ms)? {
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
        next.set.entries.push(Entry {
            id: Arc::from(plugin.id.as_str()),
            audit_id,
            route: plugin.route.clone(),
            slot,
        });
    }
    for gone in &old.entries {
        if matches!(gone.slot, Slot::Active(_)) && !config.plugins.iter().any(|p| *p.id == *gone.id)
        {
            next.events.push(Event::Unloaded {
                plugin_id: gone.audit_id.clone(),
                cause: UnloadCause::Removed,
            });
        }
    }
    Ok(next)
}

enum Loaded {
    Revoked,
    Kept(Arc<Active>),
    New(Arc<Active>, Event),
}

fn load_one(
    runtime: &Runtime,
    config: &WardConfig,
    plugin: &PluginConfig,
    audit_id: &PluginId,
    old: &PluginSet,
    audit: Option<&AuditLog>,
    now_ms: u64,
) -> Result<Loaded, LifecycleError> {
    let refuse = |reason: &'static str| -> LifecycleError {
        let recorded = Code::new(reason).and_then(|reason| {
            record(
                audit,
                Event::LoadRefused {
                    reason,
                    plugin_id: Some(audit_id.clone()),
                    signer_key_id: None,
                },
            )
        });
        match recorded {
            Ok(_) => LifecycleError::PluginRefused {
                plugin_id: plugin.id.clone(),
                reason,
            },
            Err(err) => LifecycleError::Audit(err),
        }
    };
    let Some(files) = &plugin.files else {
        return Err(refuse("plugin-files-missing"));
    };
    let verified = match verify(
        &files.envelope,
        files.component.clone(),
        &config.trust,
        now_ms,
    ) {
        Ok(verified) => verified,
        // A revoked plugin is unloaded, not a reason to keep the old set:
        // refusing the reload would keep the revoked plugin serving.
        Err(refusal) if refusal.code() == "revoked" => {
            let event = Event::LoadRefused {
                reason: Code::new("revoked")?,
                plugin_id: Some(audit_id.clone()),
                signer_key_id: None,
            };
            record(audit, event)?;
            return Ok(Loaded::Revoked);
        }
        Err(refusal) => return Err(refuse(refusal.code())),
    };
    if verified.payload().plugin_id() != plugin.id {
        return Err(refuse("plugin-id-mismatch"));
    }
    let fingerprint = fingerprint(plugin, verified.manifest_sha256(), verified.entry_sha256());
    if let Some(kept) = old
        .active(&plugin.id)
        .filter(|a| a.fingerprint == fingerprint)
    {
        check_conformance(&kept.plugin, plugin, audit_id, audit, now_ms)
            .map_err(|e| e.unwrap_or_else(|| refuse("conformance-failed")))?;
        return Ok(Loaded::Kept(Arc::clone(kept)));
    }
    let loaded = runtime
        .load(verified, plugin.options.clone())
        .map_err(|err| refuse(err.code()))?;
    check_conformance(&loaded, plugin, audit_id, audit, now_ms)
        .map_err(|e| e.unwrap_or_else(|| refuse("conformance-failed")))?;
    let accepted = Event::LoadAccepted {
        plugin_id: audit_id.clone(),
        version: Version::new(loaded.version())?,
        signer_key_id: KeyId::new(loaded.signer_key_id())?,
        entry_sha256: digest(loaded.entry_sha256()),
        manifest_sha256: digest(loaded.manifest_sha256()),
    };
    let active = Active {
        plugin: loaded,
        breaker: Breaker::new(plugin.breaker),
        fingerprint,
    };
    Ok(Loaded::New(Arc::new(active), accepted))
}

/// `Err(None)`: the plugin failed a case (recorded); `Err(Some)`: the record failed.
fn check_conformance(
    loaded: &Plugin,
    plugin: &PluginConfig,
    audit_id: &PluginId,
    audit: Option<&AuditLog>,
    now_ms: u64,
) -> Result<(), Option<LifecycleError>> {
    let Err(failure) = conformance::run(loaded, &plugin.conformance, now_ms) else {
        return Ok(());
    };
    let event = Event::ConformanceFailed {
        plugin_id: audit_id.clone(),
        case_index: failure.case_index,
        expected: failure.expected,
        got: failure.got,
    };
    record(audit, event).map_err(|e| Some(e.into()))?;
    Err(None)
}

/// Records a refusal durably; `ward check` runs without a log.
fn record(audit: Option<&AuditLog>, event: Event) -> Result<(), AuditError> {
    audit.map_or(Ok(()), |log| log.lifecycle(event).map(drop))
}

fn fingerprint(plugin: &PluginConfig, manifest_sha256: &str, entry_sha256: &str) -> [u8; 32] {
    let mut hash = Sha256::new();
    let mut field = |bytes: &[u8]| {
        hash.update((bytes.len() as u64).to_be_bytes());
        hash.update(bytes);
    };
    field(manifest_sha256.as_bytes());
    field(entry_sha256.as_bytes());
    for (key, value) in &plugin.options.settings {
        field(key.as_bytes());
        field(value.as_bytes());
    }
    for (name, bytes) in &plugin.options.keys {
        field(name.as_bytes());
        field(bytes);
    }
    field(format!("{:?}|{:?}", plugin.options.limits, plugin.breaker).as_bytes());
    hash.finalize().into()
}

/// The gate's lowercase hex digests, as audit digests.
fn digest(hex_digest: &str) -> Sha256Digest {
    let mut bytes = [0u8; 32];
    // The gate computed this hex itself; a failure here would be a bug, and
    // an all-zero digest in the record would show it rather than hide it.
    let _ = hex::decode_to_slice(hex_digest, &mut bytes);
    Sha256Digest(bytes)
}
