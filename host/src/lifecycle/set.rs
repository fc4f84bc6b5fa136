//! One immutable plugin set: what serves between two reloads. A reload builds
//! a whole new set and swaps it in at once; calls in flight keep the `Arc`
//! of the set they started on, so every call is answered entirely by one set.

use std::sync::Arc;

use crate::assertion::Signer;
use crate::audit::PluginId;
use crate::keymaterial::{KeyMaterialSource, KeyMaterialUnavailable, Material, RefreshTask};
use crate::policy::RoutePolicy;
use crate::sandbox::{KeySet, Plugin};

use super::breaker::Breaker;
use super::route::Route;

pub(crate) struct PluginSet {
    pub entries: Vec<Entry>,
    /// Route policy and the assertion signer, swapped with the plugins.
    pub routing: Routing,
}

/// What the plan says about routes and assertions; `None`s without them.
#[derive(Clone, Default)]
pub(crate) struct Routing {
    /// Without it, the credential headers pick the plugin (`route.rs`).
    pub policy: Option<Arc<RoutePolicy>>,
    pub signer: Option<Arc<Signer>>,
}

#[derive(Clone)]
pub(crate) struct Entry {
    pub id: Arc<str>,
    pub audit_id: PluginId,
    pub route: Route,
    pub slot: Slot,
}

#[derive(Clone)]
pub(crate) enum Slot {
    Active(Arc<Active>),
    /// `enabled: false` or `pluginsEnabled: false`.
    Disabled,
    /// Its signer or entry digest is revoked; it stays routed so its calls
    /// deny instead of falling through to another plugin.
    Revoked,
}

pub(crate) struct Active {
    pub plugin: Plugin,
    pub breaker: Breaker,
    /// What must be equal for a reload to keep this compiled plugin.
    pub fingerprint: super::fingerprint::Fingerprint,
    /// Key material served per call: `url` entries, refreshed in the
    /// background, and indexed `file` entries. (`raw` file entries are the
    /// plugin's own, fixed at load.)
    pub sources: Vec<Arc<KeyMaterialSource>>,
    /// Stops the refresh tasks when the plugin is dropped.
    pub _refresh: Vec<RefreshTask>,
}

/// Key material as one call sees it: each source's current copy, taken
/// once when the call starts.
#[derive(Default)]
pub(crate) struct CurrentKeys<'a> {
    raw: Vec<(&'a str, Arc<[u8]>)>,
    sets: Vec<KeySet>,
}

impl CurrentKeys<'_> {
    /// The `raw` entries, as a call takes them (`CallKeys::raw`).
    pub fn raw(&self) -> Vec<(&str, &[u8])> {
        self.raw.iter().map(|(name, bytes)| (*name, &**bytes)).collect()
    }

    /// The indexed entries (`CallKeys::sets`).
    pub fn sets(&self) -> &[KeySet] {
        &self.sets
    }
}

impl Active {
    /// The current material of every source, or why one is unavailable.
    pub fn current_keys(&self) -> Result<CurrentKeys<'_>, KeyMaterialUnavailable> {
        current_keys(&self.sources, |source| source.current())
    }
}

/// The current material of `sources`; `current` reads one (so conformance
/// can skip the unavailable ones instead of failing).
pub(crate) fn current_keys<'a>(
    sources: &'a [Arc<KeyMaterialSource>],
    mut current: impl FnMut(&KeyMaterialSource) -> Result<Material, KeyMaterialUnavailable>,
) -> Result<CurrentKeys<'a>, KeyMaterialUnavailable> {
    let mut keys = CurrentKeys::default();
    for source in sources {
        match current(source)? {
            Material::Raw(bytes) => keys.raw.push((source.name(), bytes)),
            Material::Indexed(index) => {
                let set = KeySet::new(source.shared_name(), index);
                // Only a url can be refetched; a file is re-read on reload.
                let set = if source.refresh_period().is_some() { set.refetching(Arc::clone(source)) } else { set };
                keys.sets.push(set);
            }
        }
    }
    Ok(keys)
}

impl Slot {
    /// `active`, `disabled` or `revoked`: `ward check` (`/metrics` types it as
    /// `server::PluginState`).
    pub fn state(&self) -> &'static str {
        match self {
            Self::Active(_) => "active",
            Self::Disabled => "disabled",
            Self::Revoked => "revoked",
        }
    }
}

impl PluginSet {
    pub fn empty() -> Self {
        Self { entries: Vec::new(), routing: Routing::default() }
    }

    pub fn active(&self, id: &str) -> Option<&Arc<Active>> {
        self.entries.iter().find(|e| &*e.id == id).and_then(|e| match &e.slot {
            Slot::Active(active) => Some(active),
            _ => None,
        })
    }
}
