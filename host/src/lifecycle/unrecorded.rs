//! Lifecycle records that could not be written, by plugin and event: the
//! `ward_audit_unrecorded_total` counter of `/metrics`. Touched only when the
//! audit log fails, so a plain lock is fine.

use std::sync::{Mutex, PoisonError};

use crate::audit::PluginId;
use crate::server::UnrecordedCount;

#[derive(Default)]
pub(crate) struct Unrecorded {
    /// One count per (plugin id, event name), in the order first seen. The
    /// labels are config plugin ids and static event names, so the list is
    /// as small as the config and a linear search is enough.
    counts: Mutex<Vec<UnrecordedCount>>,
}

impl Unrecorded {
    pub fn count(&self, plugin: &PluginId, event: &'static str) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        match counts.iter_mut().find(|c| c.plugin == *plugin && c.event == event) {
            Some(found) => found.count = found.count.saturating_add(1),
            None => counts.push(UnrecordedCount { plugin: plugin.clone(), event, count: 1 }),
        }
    }

    /// Every count so far.
    pub fn counts(&self) -> Vec<UnrecordedCount> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}
