//! Lifecycle records that could not be written, by plugin and event: the
//! `ward_audit_unrecorded_total` counter of `/metrics`. Touched only when the
//! audit log fails, so a plain lock is fine.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Mutex, PoisonError};

use crate::audit::PluginId;

#[derive(Default)]
pub(crate) struct Unrecorded {
    /// (plugin id, event name) → count. The labels are config plugin ids and
    /// static event names, so the set is as small as the config.
    counts: Mutex<BTreeMap<(String, &'static str), u64>>,
}

impl Unrecorded {
    pub fn count(&self, plugin: &PluginId, event: &'static str) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        *counts.entry((plugin.as_str().to_owned(), event)).or_default() += 1;
    }

    /// The counter in Prometheus text format (only its help and type while
    /// nothing is counted).
    pub fn write(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "# HELP ward_audit_unrecorded_total Plugin lifecycle records the audit log refused: a breaker that opened (or a revoked plugin that stopped) anyway, or a half-open or close that did not happen.\n# TYPE ward_audit_unrecorded_total counter"
        );
        let counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        for ((plugin, event), count) in counts.iter() {
            let _ = writeln!(out, "ward_audit_unrecorded_total{{plugin=\"{plugin}\",event=\"{event}\"}} {count}");
        }
    }
}
