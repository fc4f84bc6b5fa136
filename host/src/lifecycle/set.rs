//! One immutable plugin set: what serves between two reloads. A reload builds
//! a whole new set and swaps it in at once; calls in flight keep the `Arc`
//! of the set they started on, so every call is answered entirely by one set.

use std::sync::Arc;

use crate::audit::PluginId;
use crate::sandbox::Plugin;

use super::breaker::Breaker;
use super::route::Route;

pub(crate) struct PluginSet {
    pub entries: Vec<Entry>,
}

pub(crate) struct Entry {
    pub id: Arc<str>,
    pub audit_id: PluginId,
    pub route: Route,
    pub slot: Slot,
}

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
    pub fingerprint: [u8; 32],
}

impl PluginSet {
    pub fn empty() -> Self {
        Self {
            entries: Vec::new(),
        }
    }

    pub fn active(&self, id: &str) -> Option<&Arc<Active>> {
        self.entries
            .iter()
            .find(|e| &*e.id == id)
            .and_then(|e| match &e.slot {
                Slot::Active(active) => Some(active),
                _ => None,
            })
    }
}
