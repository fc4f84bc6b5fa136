//! The process's own resource use, for the `process_*` metrics every
//! Prometheus client library exports, read from `/proc/self` as they read it
//! (Linux only). A value that cannot be read or parsed is `None` and its
//! metric is left out: a scrape never fails, and never panics, because
//! procfs is missing, masked or closed by the lockdown. procfs files are
//! generated in memory, so no read waits on a disk; the server still reads
//! them on the blocking pool.

use std::fs::File;

use crate::capped_read::read_capped;

/// The clock-tick unit of `/proc/<pid>/stat` (`USER_HZ`): fixed at 100 by
/// the kernel's ABI on the architectures ward runs on (the kernel converts
/// from its internal HZ). Prometheus's own procfs reader assumes the same.
const USER_HZ: f64 = 100.0;

/// Far more than any of the files read here holds (`/proc/stat` grows with
/// CPUs and interrupts, to tens of KiB on large machines).
const MAX_PROC_FILE_BYTES: u64 = 1024 * 1024;

/// The values of the `process_*` metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct ProcessStats {
    /// `VmRSS` of `/proc/self/status`.
    pub resident_memory_bytes: Option<u64>,
    /// Entries of `/proc/self/fd` (the one listing it included, as Prometheus's clients count).
    pub open_fds: Option<u64>,
    /// The soft `Max open files` of `/proc/self/limits`.
    pub max_fds: Option<u64>,
    /// User and system CPU time (`utime` + `stime` of `/proc/self/stat`).
    pub cpu_seconds: Option<f64>,
    /// Start time since the Unix epoch: `btime` of `/proc/stat` plus
    /// `starttime` of `/proc/self/stat`.
    pub start_time_seconds: Option<f64>,
}

/// Reads every value now; blocking (file reads), but brief.
pub(crate) fn sample() -> ProcessStats {
    let stat = read("/proc/self/stat");
    let fields = stat.as_deref().and_then(stat_fields);
    let field = |n: usize| fields.as_ref().and_then(|f| f.get(n)).and_then(|v| v.parse::<u64>().ok());
    let cpu_seconds = field(STAT_UTIME).zip(field(STAT_STIME)).map(|(user, system)| ticks(user.saturating_add(system)));
    let boot_time = read("/proc/stat").as_deref().and_then(boot_time);
    let start_time_seconds = field(STAT_STARTTIME).zip(boot_time).map(|(start, boot)| boot as f64 + ticks(start));
    ProcessStats {
        resident_memory_bytes: read("/proc/self/status").as_deref().and_then(resident_bytes),
        open_fds: open_fds(),
        max_fds: read("/proc/self/limits").as_deref().and_then(max_open_files),
        cpu_seconds,
        start_time_seconds,
    }
}

/// Indexes into [`stat_fields`] (fields 14, 15 and 22 of proc(5), counted
/// from the state, field 3).
const STAT_UTIME: usize = 14 - 3;
const STAT_STIME: usize = 15 - 3;
const STAT_STARTTIME: usize = 22 - 3;

fn ticks(ticks: u64) -> f64 {
    ticks as f64 / USER_HZ
}

fn read(path: &str) -> Option<String> {
    let bytes = read_capped(File::open(path).ok()?, MAX_PROC_FILE_BYTES).ok()?;
    String::from_utf8(bytes).ok()
}

/// The fields after the command name, which is in parentheses and may
/// itself hold spaces and parentheses: everything after the last `)`.
fn stat_fields(stat: &str) -> Option<Vec<&str>> {
    let (_, rest) = stat.rsplit_once(')')?;
    Some(rest.split_ascii_whitespace().collect())
}

/// `VmRSS:    1234 kB`, in bytes.
fn resident_bytes(status: &str) -> Option<u64> {
    let line = status.lines().find_map(|line| line.strip_prefix("VmRSS:"))?;
    let kib = line.trim().strip_suffix("kB")?.trim().parse::<u64>().ok()?;
    kib.checked_mul(1024)
}

/// `Max open files   1024   1048576   files`: the soft limit (none when unlimited).
fn max_open_files(limits: &str) -> Option<u64> {
    let line = limits.lines().find_map(|line| line.strip_prefix("Max open files"))?;
    line.split_ascii_whitespace().next()?.parse().ok()
}

/// `btime 1700000000` of `/proc/stat`: the boot time, in seconds since the epoch.
fn boot_time(stat: &str) -> Option<u64> {
    stat.lines().find_map(|line| line.strip_prefix("btime "))?.trim().parse().ok()
}

/// Every entry of `/proc/self/fd`, or none if one cannot be read.
fn open_fds() -> Option<u64> {
    let mut count = 0u64;
    for entry in std::fs::read_dir("/proc/self/fd").ok()? {
        entry.ok()?;
        count = count.saturating_add(1);
    }
    Some(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_start_after_the_last_parenthesis_of_the_name() {
        // A command name may hold spaces and `)`.
        let stat = "4242 (ward) x (y) S 1 4242 4242 0 -1 4194560 1 0 0 0 250 125 0 0 20 0 9 0 123456 1000 200 18446744073709551615";
        let fields = stat_fields(stat).unwrap();
        assert_eq!(fields.first(), Some(&"S"));
        assert_eq!(fields.get(STAT_UTIME), Some(&"250"));
        assert_eq!(fields.get(STAT_STIME), Some(&"125"));
        assert_eq!(fields.get(STAT_STARTTIME), Some(&"123456"));
    }

    #[test]
    fn status_limits_and_boot_time_are_parsed_and_anything_else_is_none() {
        assert_eq!(resident_bytes("Name:\tward\nVmRSS:\t   2048 kB\nVmSwap:\t0 kB\n"), Some(2048 * 1024));
        assert_eq!(resident_bytes("Name:\tward\n"), None);
        assert_eq!(resident_bytes("VmRSS:\t2048 MB\n"), None);
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max open files            1024                 1048576              files     \n";
        assert_eq!(max_open_files(limits), Some(1024));
        assert_eq!(max_open_files("Max open files            unlimited            unlimited            files\n"), None);
        assert_eq!(boot_time("cpu  1 2 3\nbtime 1700000000\nprocesses 9\n"), Some(1_700_000_000));
        assert_eq!(boot_time("cpu  1 2 3\n"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_has_every_value() {
        let stats = sample();
        assert!(stats.resident_memory_bytes.is_some_and(|b| b > 0), "{stats:?}");
        assert!(stats.open_fds.is_some_and(|n| n >= 3), "{stats:?}");
        assert!(stats.max_fds.is_some_and(|n| n > 0), "{stats:?}");
        assert!(stats.cpu_seconds.is_some(), "{stats:?}");
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
        // Started in the last day, and not in the future (btime is whole seconds).
        assert!(stats.start_time_seconds.is_some_and(|t| t <= now + 1.0 && t > now - 86_400.0), "{stats:?}");
    }
}
