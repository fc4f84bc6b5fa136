//! Process signals: SIGHUP (or a config change, with `server.watchConfig`)
//! applies revocations, re-reads the listener's certificates (with
//! `server.tls`) and reloads the gate; SIGTERM and SIGINT stop the server.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::{JoinError, JoinHandle, JoinSet, spawn_blocking};
use tokio::time::timeout;
use tracing::{error, info, warn};

use super::certs::ListenerTls;
use super::{Gate, ServerError};

/// How long a SIGHUP waits for `Gate::revoke` before the full reload starts
/// anyway. It reads one small file, so past this the file system is stalled,
/// and the reload (which the gate bounds by its own deadline) reports it.
const REVOKE_WAIT: Duration = Duration::from_secs(5);

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
    /// Starts the reload loop. Each SIGHUP, and each settled change of the
    /// config file from `changes` (`server.watchConfig`, `watch.rs`), first
    /// applies revocations (`Gate::revoke`), then starts the full reload
    /// (`Gate::reload`) on the blocking pool, or, while one runs, queues one
    /// more: the requests that arrive meanwhile coalesce into it. A running
    /// reload never holds up the loop, so the revocations of a later request
    /// apply at once. The certificates are re-read between the two,
    /// independently of the gate: either may be refused while the other
    /// applies.
    #[cfg(unix)]
    pub(crate) fn start(self, gate: Arc<dyn Gate>, tls: Option<ListenerTls>, mut changes: Option<mpsc::Receiver<()>>) -> JoinHandle<()> {
        let Self { mut hangup } = self;
        tokio::spawn(async move {
            // Holds at most one reload.
            let mut running = JoinSet::new();
            let mut queued = false;
            loop {
                let trigger = tokio::select! {
                    received = hangup.recv() => {
                        if received.is_none() {
                            return;
                        }
                        "SIGHUP"
                    }
                    Some(()) = changed(&mut changes) => "config-change",
                    Some(done) = running.join_next() => {
                        report(done);
                        if std::mem::take(&mut queued) {
                            running.spawn_blocking(reload(gate.clone()));
                        }
                        continue;
                    }
                };
                info!(signal = trigger, "reloading");
                revoke(&gate).await;
                if let Some(tls) = &tls {
                    reload_certificates(tls).await;
                }
                if running.is_empty() {
                    running.spawn_blocking(reload(gate.clone()));
                } else if !std::mem::replace(&mut queued, true) {
                    info!("a reload is running; one more follows it");
                }
            }
        })
    }

    #[cfg(not(unix))]
    pub(crate) fn start(self, _gate: Arc<dyn Gate>, _tls: Option<ListenerTls>, _changes: Option<mpsc::Receiver<()>>) -> JoinHandle<()> {
        tokio::spawn(async {})
    }
}

/// The next settled config change; never, without a watch or once it ended.
#[cfg(unix)]
async fn changed(changes: &mut Option<mpsc::Receiver<()>>) -> Option<()> {
    match changes {
        Some(receiver) => match receiver.recv().await {
            Some(()) => Some(()),
            None => {
                *changes = None;
                std::future::pending().await
            }
        },
        None => std::future::pending().await,
    }
}

/// Applies revocations, waiting at most [`REVOKE_WAIT`].
#[cfg(unix)]
async fn revoke(gate: &Arc<dyn Gate>) {
    let gate = gate.clone();
    match timeout(REVOKE_WAIT, spawn_blocking(move || gate.revoke())).await {
        Ok(Ok(Ok(0))) => {}
        Ok(Ok(Ok(stopped))) => warn!(stopped, "revoked plugins stopped before the reload"),
        Ok(Ok(Err(code))) => warn!(code, "revocations could not be read; the reload follows"),
        Ok(Err(_)) => error!(code = "panicked", "the revocation check panicked; the reload follows"),
        Err(_) => warn!(waited_ms = REVOKE_WAIT.as_millis() as u64, "the revocation check is still running; the reload starts anyway"),
    }
}

/// Re-reads the listener's certificates, waiting at most [`REVOKE_WAIT`]
/// (a few small files, like the revocations). A refusal keeps the
/// certificates in use; it is logged with the file and the problem, never
/// the files' content.
#[cfg(unix)]
async fn reload_certificates(tls: &ListenerTls) {
    let tls = tls.clone();
    match timeout(REVOKE_WAIT, spawn_blocking(move || tls.reload())).await {
        Ok(Ok(Ok(()))) => info!(code = "ok", "TLS certificates re-read"),
        Ok(Ok(Err(refusal))) => warn!(code = refusal.code, error = %refusal, "TLS certificates not re-read; the previous ones keep serving"),
        Ok(Err(_)) => error!(code = "panicked", "the TLS certificate re-read panicked; the previous ones keep serving"),
        Err(_) => warn!(waited_ms = REVOKE_WAIT.as_millis() as u64, "the TLS certificate re-read is still running; the reload goes on"),
    }
}

/// One full reload, timed.
#[cfg(unix)]
fn reload(gate: Arc<dyn Gate>) -> impl FnOnce() -> (Result<(), &'static str>, u64) {
    move || {
        let started = Instant::now();
        let result = gate.reload();
        (result, started.elapsed().as_millis() as u64)
    }
}

#[cfg(unix)]
fn report(done: Result<(Result<(), &'static str>, u64), JoinError>) {
    match done {
        Ok((Ok(()), millis)) => info!(code = "ok", millis, "reload done"),
        Ok((Err(code), millis)) => warn!(code, millis, "reload refused; the previous plugin set keeps serving"),
        Err(_) => error!(code = "panicked", "reload panicked; the previous plugin set keeps serving"),
    }
}
