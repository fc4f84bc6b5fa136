//! Process signals: SIGHUP reloads the gate, SIGTERM and SIGINT stop the server.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use tokio::task::{JoinHandle, spawn_blocking};
use tracing::{error, info, warn};

use super::{Gate, ServerError};

/// Installed handlers. Installing them first thing means that from then on
/// no signal can end the process by its default action, during start-up
/// included.
pub(crate) struct Signals {
    #[cfg(unix)]
    hangup: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
}

/// SIGHUPs, received from installation on; the ones that arrive before
/// [`Hangups::start`] wait for it.
pub(crate) struct Hangups {
    #[cfg(unix)]
    hangup: tokio::signal::unix::Signal,
}

impl Signals {
    /// Must run inside the runtime.
    #[cfg(unix)]
    pub(crate) fn install() -> Result<Self, ServerError> {
        use tokio::signal::unix::{SignalKind, signal};
        let install = |kind, name| signal(kind).map_err(|source| ServerError::Signal { signal: name, source });
        Ok(Self {
            hangup: install(SignalKind::hangup(), "SIGHUP")?,
            terminate: install(SignalKind::terminate(), "SIGTERM")?,
            interrupt: install(SignalKind::interrupt(), "SIGINT")?,
        })
    }

    #[cfg(not(unix))]
    pub(crate) fn install() -> Result<Self, ServerError> {
        Ok(Self {})
    }

    /// The SIGHUPs, and a future that completes at the first SIGTERM or SIGINT.
    #[cfg(unix)]
    pub(crate) fn split(self) -> (Hangups, impl Future<Output = ()>) {
        let Self { hangup, mut terminate, mut interrupt } = self;
        let stop = async move {
            let signal = tokio::select! {
                _ = terminate.recv() => "SIGTERM",
                _ = interrupt.recv() => "SIGINT",
            };
            info!(signal, "shutting down");
        };
        (Hangups { hangup }, stop)
    }

    #[cfg(not(unix))]
    pub(crate) fn split(self) -> (Hangups, impl Future<Output = ()>) {
        let stop = async {
            let _ = tokio::signal::ctrl_c().await;
            info!(signal = "ctrl-c", "shutting down");
        };
        (Hangups {}, stop)
    }
}

impl Hangups {
    /// Starts the reload loop: SIGHUP calls `gate.reload()`.
    #[cfg(unix)]
    pub(crate) fn start(self, gate: Arc<dyn Gate>) -> JoinHandle<()> {
        let Self { mut hangup } = self;
        tokio::spawn(async move {
            // One reload at a time: signals that arrive meanwhile coalesce into one more.
            while hangup.recv().await.is_some() {
                reload(gate.clone()).await;
            }
        })
    }

    #[cfg(not(unix))]
    pub(crate) fn start(self, _gate: Arc<dyn Gate>) -> JoinHandle<()> {
        tokio::spawn(async {})
    }
}

#[cfg(unix)]
async fn reload(gate: Arc<dyn Gate>) {
    info!(signal = "SIGHUP", "reloading");
    let started = Instant::now();
    let result = spawn_blocking(move || gate.reload()).await;
    let millis = started.elapsed().as_millis() as u64;
    match result {
        Ok(Ok(())) => info!(code = "ok", millis, "reload done"),
        Ok(Err(code)) => warn!(code, millis, "reload refused; the previous plugin set keeps serving"),
        Err(_) => error!(code = "panicked", millis, "reload panicked; the previous plugin set keeps serving"),
    }
}
