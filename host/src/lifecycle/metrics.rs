//! The gateway's part of `/metrics` (`docs/http-api.md` lists every metric).
//! Label values are config plugin ids and static names, never request content.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use super::reload::Serving;
use super::set::Slot;

/// Appends the plugin states, breakers, reloads and audit counters.
pub(crate) fn write(serving: &Serving, audit_dropped: u64, out: &mut String) {
    let set = serving.current.load();
    let _ = writeln!(
        out,
        "# HELP ward_plugin_state 1 for the state each configured plugin is in.\n# TYPE ward_plugin_state gauge"
    );
    for entry in &set.entries {
        let state = entry.slot.state();
        let _ = writeln!(out, "ward_plugin_state{{plugin=\"{}\",state=\"{state}\"}} 1", entry.audit_id.as_str());
    }
    let _ = writeln!(
        out,
        "# HELP ward_breaker_open 1 while a plugin's circuit breaker is open or half-open.\n# TYPE ward_breaker_open gauge"
    );
    for entry in &set.entries {
        if let Slot::Active(active) = &entry.slot {
            let _ = writeln!(
                out,
                "ward_breaker_open{{plugin=\"{}\"}} {}",
                entry.audit_id.as_str(),
                u8::from(active.breaker.is_tripped())
            );
        }
    }
    let _ = writeln!(out, "# HELP ward_reloads_total Config reloads by result.\n# TYPE ward_reloads_total counter");
    let _ = writeln!(out, "ward_reloads_total{{result=\"applied\"}} {}", serving.reloads_applied.load(Ordering::Relaxed));
    let _ = writeln!(out, "ward_reloads_total{{result=\"refused\"}} {}", serving.reloads_refused.load(Ordering::Relaxed));
    let _ = writeln!(
        out,
        "# HELP ward_audit_dropped_total Request audit events dropped by the overflow policy (each recorded as audit.dropped).\n# TYPE ward_audit_dropped_total counter"
    );
    let _ = writeln!(out, "ward_audit_dropped_total {audit_dropped}");
    serving.unrecorded.write(out);
}
