//! The gateway's part of `/metrics`, as data: the plugin states, breakers,
//! reloads and audit counters. The server renders it (`server/metrics.rs`).

use std::sync::atomic::Ordering;

use crate::server::{GateStats, PluginState, PluginStats};

use super::reload::Serving;
use super::set::Slot;

/// What serves now and what the counters say.
pub(crate) fn stats(serving: &Serving, audit_dropped: u64) -> GateStats {
    let set = serving.current.load();
    let plugins = set
        .entries
        .iter()
        .map(|entry| PluginStats {
            plugin: entry.audit_id.clone(),
            state: match &entry.slot {
                Slot::Active(active) => PluginState::Active { breaker_open: active.breaker.is_tripped() },
                Slot::Disabled => PluginState::Disabled,
                Slot::Revoked => PluginState::Revoked,
            },
        })
        .collect();
    GateStats {
        plugins,
        reloads_applied: serving.reloads_applied.load(Ordering::Relaxed),
        reloads_refused: serving.reloads_refused.load(Ordering::Relaxed),
        audit_dropped,
        audit: serving.audit.stats(),
        unrecorded: serving.unrecorded.counts(),
    }
}
