//! Counting this process's threads: Landlock confines the calling thread
//! and the threads it starts later, never one that already runs.

use super::LockdownError;

/// Refuses when more than one thread runs. `/proc/self/status` is read
/// before any layer is applied; without `/proc` the count is unknown and
/// the check refuses too (fail closed; `--lockdown off` is the way out).
pub(super) fn ensure_single() -> Result<(), LockdownError> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| LockdownError::apply(super::Layer::Landlock, format!("cannot count threads in /proc/self/status: {e}")))?;
    let threads = status
        .lines()
        .find_map(|line| line.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse::<usize>().ok())
        .ok_or_else(|| LockdownError::apply(super::Layer::Landlock, "no thread count in /proc/self/status"))?;
    if threads > 1 {
        return Err(LockdownError::Threaded { threads });
    }
    Ok(())
}
