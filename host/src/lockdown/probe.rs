//! A test hook, compiled into debug builds only. Right after lockdown,
//! `ward serve` tries what `host/tests/lockdown.rs` asks through the
//! environment and logs each outcome as `ok` or `denied (ERRNO)`:
//! - `WARD_LOCKDOWN_PROBE=<path>[:<path>...]`: for each path, open it for
//!   reading (Landlock's business; nothing is read) and `lchown` it to its
//!   own owner, a no-op whose call the seccomp filter does not allow;
//! - `WARD_LOCKDOWN_PROBE_CONNECT=<ip:port>`: a TCP connect (Landlock's,
//!   from ABI 4).

use std::net::{SocketAddr, TcpStream};

use tracing::info;

pub(super) fn run_if_asked() {
    if let Some(paths) = std::env::var_os("WARD_LOCKDOWN_PROBE") {
        for path in std::env::split_paths(&paths) {
            let open = outcome(std::fs::File::open(&path).map(drop));
            let chown = outcome(std::os::unix::fs::lchown(&path, None, None));
            info!(path = %path.display(), open = open.as_str(), chown = chown.as_str(), "lockdown probe");
        }
    }
    if let Some(addr) = std::env::var("WARD_LOCKDOWN_PROBE_CONNECT").ok().and_then(|a| a.parse::<SocketAddr>().ok()) {
        // A plain blocking connect: Landlock's rule is what is probed.
        let connect = outcome(TcpStream::connect(addr).map(drop));
        info!(%addr, connect = connect.as_str(), "lockdown probe");
    }
}

fn outcome(result: std::io::Result<()>) -> String {
    match result {
        Ok(()) => "ok".to_owned(),
        Err(err) => format!("denied ({})", err.raw_os_error().map_or_else(|| err.kind().to_string(), errno_name)),
    }
}

/// The errno names the tests expect, so the log does not depend on libc's wording.
fn errno_name(code: i32) -> String {
    match code {
        libc::EPERM => "EPERM".to_owned(),
        libc::EACCES => "EACCES".to_owned(),
        libc::ENOSYS => "ENOSYS".to_owned(),
        libc::ECONNREFUSED => "ECONNREFUSED".to_owned(),
        other => format!("errno {other}"),
    }
}
