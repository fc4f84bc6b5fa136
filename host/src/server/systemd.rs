//! systemd's readiness protocol (`sd_notify(3)`): one datagram, `READY=1`,
//! to the UNIX socket `$NOTIFY_SOCKET` names, once the port is bound and the
//! plugin set is loaded; `STOPPING=1` when the drain starts. The unit is
//! `Type=notify` (packaging/ward.service), so `systemctl start` returns,
//! and units ordered after ward start, only when ward answers.
//!
//! A few lines over std's `UnixDatagram` rather than a crate: the protocol
//! is a datagram of `KEY=VALUE` lines. Without `$NOTIFY_SOCKET` (not under
//! systemd) every call here does nothing.

use std::io;
use std::sync::OnceLock;

/// The socket, connected before the lockdown: its seccomp filter allows no
/// new UNIX socket, only sending on this one.
#[cfg(unix)]
static SOCKET: OnceLock<std::os::unix::net::UnixDatagram> = OnceLock::new();

/// The variable systemd sets for a `Type=notify` service.
const NOTIFY_SOCKET: &str = "NOTIFY_SOCKET";

/// Connects to `$NOTIFY_SOCKET` if it is set: a path, or an abstract name
/// (`@name`, Linux). An error means systemd asked for readiness and cannot
/// get it, so `ward serve` refuses to start rather than time out later.
#[cfg(unix)]
pub fn connect() -> io::Result<()> {
    use std::os::unix::net::{SocketAddr, UnixDatagram};
    let Some(name) = std::env::var_os(NOTIFY_SOCKET).filter(|name| !name.is_empty()) else {
        return Ok(());
    };
    let address = match name.as_encoded_bytes().strip_prefix(b"@") {
        #[cfg(target_os = "linux")]
        Some(abstract_name) => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(abstract_name)?
        }
        #[cfg(not(target_os = "linux"))]
        Some(_) => return Err(io::Error::new(io::ErrorKind::Unsupported, "abstract NOTIFY_SOCKET outside Linux")),
        None => SocketAddr::from_pathname(std::path::Path::new(&name))?,
    };
    let socket = UnixDatagram::unbound()?;
    socket.connect_addr(&address).map_err(|err| io::Error::new(err.kind(), format!("cannot connect to NOTIFY_SOCKET: {err}")))?;
    socket.set_nonblocking(true)?;
    let _ = SOCKET.set(socket);
    Ok(())
}

#[cfg(not(unix))]
pub fn connect() -> io::Result<()> {
    Ok(())
}

/// Sends one state (`READY=1`, `STOPPING=1`) if [`connect`] connected.
/// Never blocks: a datagram to a full queue is dropped, and systemd then
/// times the start out, which is the right outcome for a wedged manager.
pub(crate) fn notify(state: &str) {
    #[cfg(unix)]
    if let Some(socket) = SOCKET.get()
        && let Err(err) = socket.send(state.as_bytes())
    {
        tracing::warn!(state, error = %err, "cannot notify systemd");
    }
    #[cfg(not(unix))]
    let _ = state;
}
