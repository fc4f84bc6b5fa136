//! The seccomp layer: a BPF allowlist of the system calls `ward serve` makes
//! after start-up, found by tracing it (`strace -f`) through start, `/auth`
//! allows and denies over HTTP/1.1 and h2c, `/metrics`, key-material
//! fetches with name resolution, a SIGHUP reload and a stop
//! (`docs/SECURITY.md`, "Second layer", has the method and the list).
//!
//! Every other call fails with `ENOSYS`, as if the kernel lacked it, rather
//! than killing the process: libraries treat that as an old kernel and take
//! their fallback (glibc starts threads with `clone` when `clone3` is
//! missing), and whatever has no fallback fails that one operation, which
//! ward turns into a deny or a refused reload (fail closed) and keeps
//! serving. Killing would be stricter against a probe but would turn a
//! call this list missed on some other libc into an outage.
//!
//! Where the arguments say more than the number, they are checked too:
//! `clone` only starts threads (no new process, no namespace), `ioctl`
//! only asks how many bytes are waiting (`FIONREAD`) or makes a socket
//! non-blocking (`FIONBIO`), `socket`
//! only makes IPv4 and IPv6 sockets, `socketpair` only UNIX ones (tokio's
//! signal pipe), `prctl` only names threads, `tgkill` only signals this
//! process, `process_madvise` only advises this process, `setpriority`
//! only lowers the caller's own priority.
//!
//! x86_64 only for now: the numbers and the legacy calls differ by
//! architecture, and the list was traced there. Elsewhere the layer reports
//! itself unsupported.

use std::collections::BTreeMap;

use super::{Layer, LayerStatus, LockdownError};

/// What a call not on the list returns.
const DENIED_ERRNO: u32 = libc::ENOSYS as u32;

/// `PAGEMAP_SCAN` (linux/fs.h: `_IOWR('f', 16, struct pm_scan_arg)`, a
/// 96-byte argument): wasmtime asks `/proc/self/pagemap` which pages of a
/// finished call's memory were written (sandbox/engine.rs, `pagemap_scan`).
const PAGEMAP_SCAN: u64 = 0xC060_6610;

/// `PRIO_PROCESS` (sys/resource.h): `setpriority`'s `which` for a process
/// or, with `who` 0 on Linux, the calling thread.
const PRIO_PROCESS: u64 = libc::PRIO_PROCESS as u64;
/// A nice value `v` passes `v & SMALL_NICE_MASK == 0` only if `0 <= v < 32`
/// as an unsigned 32-bit number (the kernel caps it at 19): a negative one,
/// which would raise the priority, fails.
const SMALL_NICE_MASK: u64 = !31 & 0xFFFF_FFFF;

/// `PIDFD_SELF`: the pidfd that names the calling process (Linux 6.13).
const PIDFD_SELF: u64 = (-10000_i32) as u32 as u64;

/// Namespace flags: `clone` with any of them would create a namespace.
const CLONE_NAMESPACES: u64 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWCGROUP) as u32 as u64;

/// Calls allowed whatever their arguments: (name, number), in groups by
/// purpose.
type Calls = &'static [(&'static str, i64)];

/// `calls![SYS_read]` is `&[("SYS_read", libc::SYS_read)]`: the name
/// travels with the number, for the log and the docs test.
macro_rules! calls {
    ($($name:ident),* $(,)?) => {
        &[$((stringify!($name), libc::$name)),*]
    };
}

const GROUPS: &[Calls] = &[
    // Memory: the allocator, thread stacks, wasmtime's pooling allocator (reset by madvise), JIT
    // code made executable by mprotect, memory images in sealed memfds.
    calls![SYS_brk, SYS_mmap, SYS_munmap, SYS_mprotect, SYS_mremap, SYS_madvise, SYS_memfd_create],
    // Threads and locks: tokio, the blocking pool, the audit writer, the epoch ticker, rayon's
    // compile pool.
    calls![
        SYS_futex,
        SYS_set_robust_list,
        SYS_rseq,
        SYS_sched_yield,
        SYS_sched_getaffinity,
        SYS_gettid,
        SYS_getpid,
        SYS_exit,
        SYS_exit_group,
        SYS_restart_syscall,
    ],
    // Signals: SIGHUP/SIGTERM/SIGINT handlers and wasmtime's trap handlers (SIGSEGV, SIGILL, SIGFPE,
    // SIGBUS on an alternate stack).
    calls![SYS_rt_sigaction, SYS_rt_sigprocmask, SYS_rt_sigreturn, SYS_sigaltstack],
    // Time: deadlines, the epoch ticker, timers (usually the vDSO, the calls are its fallback).
    calls![SYS_clock_gettime, SYS_clock_getres, SYS_clock_nanosleep, SYS_nanosleep, SYS_gettimeofday],
    // Files, judged by the Landlock layer: reading the config and every file it names at reload
    // (cap-std uses openat2), the audit log (lock, append, fdatasync, rotate by rename, repair by
    // ftruncate), logs to stderr; resolving a symlinked path (std::fs::canonicalize); the compile
    // cache (wasmtime's cache makes directories, and its cleanup removes files and directories).
    calls![
        SYS_openat,
        SYS_openat2,
        SYS_open,
        SYS_close,
        SYS_read,
        SYS_pread64,
        SYS_readv,
        SYS_write,
        SYS_pwrite64,
        SYS_writev,
        SYS_lseek,
        SYS_fstat,
        SYS_newfstatat,
        SYS_statx,
        SYS_getdents64,
        SYS_fcntl,
        SYS_flock,
        SYS_fchmod,
        SYS_fsync,
        SYS_fdatasync,
        SYS_ftruncate,
        SYS_rename,
        SYS_renameat,
        SYS_renameat2,
        SYS_mkdir,
        SYS_mkdirat,
        SYS_unlink,
        SYS_unlinkat,
        SYS_rmdir,
        SYS_getcwd,
        SYS_readlink,
        SYS_readlinkat,
    ],
    // Network, judged by the Landlock layer where the kernel can: serving HTTP on the listener,
    // fetching key material over HTTP(S), name resolution (UDP and TCP to DNS).
    calls![
        SYS_accept4,
        SYS_accept,
        SYS_bind,
        SYS_listen,
        SYS_connect,
        SYS_getsockname,
        SYS_getpeername,
        SYS_getsockopt,
        SYS_setsockopt,
        SYS_shutdown,
        SYS_recvfrom,
        SYS_recvmsg,
        SYS_sendto,
        SYS_sendmsg,
        SYS_sendmmsg,
    ],
    // Waiting: tokio's reactor (epoll, eventfd wake-ups), glibc's resolver (poll).
    calls![SYS_epoll_create1, SYS_epoll_ctl, SYS_epoll_wait, SYS_epoll_pwait, SYS_epoll_pwait2, SYS_eventfd2, SYS_poll, SYS_ppoll,],
    // The rest: random numbers (hash seeds, ring, rustls), uname (glibc's resolver).
    calls![SYS_getrandom, SYS_uname],
    // `server.watchConfig` (server/watch.rs): inotify on the config's directory, set up after
    // the lockdown (it starts a thread). It observes names Landlock already lets ward read.
    calls![SYS_inotify_init1, SYS_inotify_add_watch, SYS_inotify_rm_watch],
];

/// A check on one argument: (index, mask or `None` for equality, value).
type Check = (u8, Option<u64>, u64);

/// Calls allowed only with these arguments; each inner list is one way to
/// be allowed (any one suffices), its checks all hold.
fn conditional(pid: u32) -> Vec<(&'static str, i64, Vec<Vec<Check>>)> {
    let arg0 = |value: u64| vec![(0, None, value)];
    let af = |family: i32| arg0(family as u32 as u64);
    let thread = libc::CLONE_THREAD as u32 as u64;
    vec![
        // A thread, never a process or a namespace. glibc tries `clone3`
        // first, whose flags live in memory seccomp cannot read; it is not
        // allowed, and on ENOSYS glibc falls back to this.
        ("SYS_clone", libc::SYS_clone, vec![vec![(0, Some(thread | CLONE_NAMESPACES), thread)]]),
        ("SYS_socket", libc::SYS_socket, vec![af(libc::AF_INET), af(libc::AF_INET6)]),
        // tokio's signal handling wakes its reactor through a socket pair.
        ("SYS_socketpair", libc::SYS_socketpair, vec![af(libc::AF_UNIX)]),
        // glibc's resolver sizes a UDP answer before reading it; the Redis
        // audit store's client (std's `connect_timeout`) makes its socket
        // non-blocking with FIONBIO, which `fcntl` (allowed) can do anyway;
        // the memory reset scans its own page map (read-only: it reports,
        // and ward never asks it to write-protect).
        ("SYS_ioctl", libc::SYS_ioctl, vec![vec![(1, None, libc::FIONREAD)], vec![(1, None, libc::FIONBIO)], vec![(1, None, PAGEMAP_SCAN)]]),
        ("SYS_prctl", libc::SYS_prctl, vec![arg0(libc::PR_SET_NAME as u64), arg0(libc::PR_GET_NAME as u64)]),
        // abort() raises SIGABRT on itself.
        ("SYS_tgkill", libc::SYS_tgkill, vec![arg0(u64::from(pid))]),
        ("SYS_process_madvise", libc::SYS_process_madvise, vec![arg0(PIDFD_SELF)]),
        // wasmtime's compile-cache worker lowers its own thread's priority
        // (nice + 3; denied, it logs a warning at every start). Only its
        // own (`who` 0), and only to a nice value that is not negative.
        ("SYS_getpriority", libc::SYS_getpriority, vec![vec![(0, None, PRIO_PROCESS), (1, None, 0)]]),
        ("SYS_setpriority", libc::SYS_setpriority, vec![vec![(0, None, PRIO_PROCESS), (1, None, 0), (2, Some(SMALL_NICE_MASK), 0)]]),
    ]
}

/// Installs the filter on every thread of the process (there is one).
pub(super) fn apply() -> Result<LayerStatus, LockdownError> {
    let program = program(std::process::id())?;
    let count = allowed_names().count();
    match seccompiler::apply_filter_all_threads(&program) {
        Ok(()) => Ok(LayerStatus::Applied(format!("{count} system calls allowed, the rest fail with ENOSYS"))),
        Err(seccompiler::Error::Seccomp(err)) if matches!(err.raw_os_error(), Some(libc::EINVAL | libc::ENOSYS)) => {
            Ok(LayerStatus::Unsupported(format!("the kernel has no seccomp filters (CONFIG_SECCOMP_FILTER): {err}")))
        }
        Err(err) => Err(LockdownError::apply(Layer::Seccomp, err.to_string())),
    }
}

/// Every call the filter lets through (some only with checked arguments),
/// without the `SYS_` prefix.
pub(super) fn allowed_names() -> impl Iterator<Item = &'static str> {
    let plain = GROUPS.iter().flat_map(|calls| calls.iter()).map(|&(name, _)| name);
    let checked = conditional(0).into_iter().map(|(name, _, _)| name);
    plain.chain(checked).map(|name| name.trim_start_matches("SYS_"))
}

/// The compiled filter for a process whose id is `pid`.
fn program(pid: u32) -> Result<seccompiler::BpfProgram, LockdownError> {
    use seccompiler::{SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule, TargetArch};
    let failed = |err: seccompiler::BackendError| LockdownError::apply(Layer::Seccomp, err.to_string());
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = GROUPS.iter().flat_map(|calls| calls.iter()).map(|&(_, call)| (call, Vec::new())).collect();
    for (_, call, ways) in conditional(pid) {
        let mut allowed = Vec::with_capacity(ways.len());
        for checks in ways {
            let conditions = checks
                .into_iter()
                .map(|(arg, mask, value)| {
                    let op = mask.map_or(SeccompCmpOp::Eq, SeccompCmpOp::MaskedEq);
                    SeccompCondition::new(arg, SeccompCmpArgLen::Dword, op, value)
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(failed)?;
            allowed.push(SeccompRule::new(conditions).map_err(failed)?);
        }
        rules.insert(call, allowed);
    }
    let filter = SeccompFilter::new(rules, SeccompAction::Errno(DENIED_ERRNO), SeccompAction::Allow, TargetArch::x86_64).map_err(failed)?;
    filter.try_into().map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/SECURITY.md lists every allowed call, and nothing else, in the
    /// table under its marker: the list there is the one in force.
    #[test]
    fn the_security_doc_lists_exactly_the_allowed_calls() {
        let doc = include_str!("../../../docs/SECURITY.md");
        let table = doc.split("<!-- seccomp allowlist: host/src/lockdown/seccomp.rs -->").nth(1).unwrap_or_default();
        let listed: std::collections::BTreeSet<&str> = table
            .trim_start()
            .lines()
            .take_while(|line| line.starts_with('|'))
            .filter_map(|line| line.split(" | ").nth(1))
            .flat_map(|calls| calls.split(", "))
            .map(|call| call.trim().trim_matches('`'))
            .filter(|call| !call.is_empty() && call.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'))
            .collect();
        let allowed: std::collections::BTreeSet<&str> = allowed_names().collect();
        assert_eq!(listed, allowed, "docs/SECURITY.md's seccomp table and seccomp.rs differ");
    }

    #[test]
    fn the_filter_compiles_and_every_call_is_listed_once() {
        let names: Vec<&str> = allowed_names().collect();
        let unique: std::collections::BTreeSet<&str> = names.iter().copied().collect();
        assert_eq!(names.len(), unique.len(), "a call is listed twice");
        assert!(program(1).is_ok());
        assert!(!unique.contains("clone3") && !unique.contains("execve") && !unique.contains("ptrace"));
    }
}
