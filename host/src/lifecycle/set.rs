//! One immutable plugin set: what serves between two reloads. A reload builds
//! a whole new set and swaps it in at once; calls in flight keep the `Arc`
//! of the set they started on, so every call is answered entirely by one set.

use std::sync::Arc;

use crate::audit::PluginId;
use crate::keymaterial::{KeyMaterialSource, KeyMaterialUnavailable, RefreshTask};
use crate::sandbox::Plugin;

use super::breaker::Breaker;
use super::route::Route;

pub(crate) struct PluginSet {
    pub entries: Vec<Entry>,
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
    /// `url` key material, refreshed in the background.
    pub fetched: Vec<Arc<KeyMaterialSource>>,
    /// Stops the refresh tasks when the plugin is dropped.
    pub _refresh: Vec<RefreshTask>,
}

/// `url` key material as one call sees it.
pub(crate) type FetchedKeys<'a> = Vec<(&'a str, Arc<[u8]>)>;

impl Active {
    /// The current bytes of every `url` entry, or why one is unavailable.
    pub fn fetched_keys(&self) -> Result<FetchedKeys<'_>, KeyMaterialUnavailable> {
        self.fetched.iter().map(|source| Ok((source.name(), source.current()?))).collect()
    }
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
        Self { entries: Vec::new() }
    }

    pub fn active(&self, id: &str) -> Option<&Arc<Active>> {
        self.entries.iter().find(|e| &*e.id == id).and_then(|e| match &e.slot {
            Slot::Active(active) => Some(active),
            _ => None,
        })
    }
}
