//! Why the server could not start. Once it serves, nothing a client sends is
//! an error of the server: bad requests get HTTP answers, and failures inside
//! a request answer 503.

use std::io;
use std::net::SocketAddr;

/// Why `serve` or `run` returned early. `code()` is stable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// A [`crate::server::ServerOptions`] value is out of range.
    #[error("server option {option} {problem}")]
    InvalidOption {
        /// The field name, e.g. `max_header_bytes`.
        option: &'static str,
        /// What the value must be.
        problem: &'static str,
    },
    /// The listen address could not be bound (in use, no permission, no such address).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's reason.
        source: io::Error,
    },
    /// The listener's own address could not be read.
    #[error("cannot read the listening address: {0}")]
    LocalAddr(#[source] io::Error),
    /// The async runtime could not be built.
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] io::Error),
    /// The gate could not be built ([`crate::server::run_loading`]); the
    /// message is the loader's own.
    #[error(transparent)]
    Load(crate::server::LoadError),
    /// `server.watchConfig` is on and the config's directory cannot be
    /// watched (an inotify limit, a directory that went away).
    #[error("cannot watch {} for config changes: {problem}", dir.display())]
    Watch {
        /// The config's directory.
        dir: std::path::PathBuf,
        /// The watcher's reason.
        problem: String,
    },
    /// A signal handler could not be installed.
    #[error("cannot install the {signal} handler: {source}")]
    Signal {
        /// `SIGHUP`, `SIGTERM` or `SIGINT`.
        signal: &'static str,
        /// The operating system's reason.
        source: io::Error,
    },
}

impl ServerError {
    /// Stable code for logs, CLI output and tests.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidOption { .. } => "server-invalid-option",
            Self::Bind { .. } => "server-bind",
            Self::LocalAddr(_) => "server-local-addr",
            Self::Runtime(_) => "server-runtime",
            Self::Signal { .. } => "server-signal",
            Self::Load(_) => "server-load",
            Self::Watch { .. } => "server-watch",
        }
    }

    /// Whether starting again with the same configuration would fail the
    /// same way: an option out of range, or a plugin set that does not load.
    /// `ward serve` exits with a code of its own for these
    /// (docs/deployment.md), so that systemd does not restart-loop.
    pub fn is_config(&self) -> bool {
        matches!(self, Self::InvalidOption { .. } | Self::Load(_))
    }
}
