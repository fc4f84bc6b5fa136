//! The accept loop, the connection limit and the drain at shutdown.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinSet, spawn_blocking};
use tokio::time::{Instant, sleep, timeout_at};
use tracing::{debug, error, info, warn};

use super::lane::SlowLane;
use super::shared::Shared;
use super::{Gate, ServerError, ServerOptions, conn};

/// A failed `accept` (out of file descriptors, mostly) is retried after this,
/// so a full descriptor table does not turn into a busy loop.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Serves `listener` until `shutdown` completes, then stops accepting, lets
/// in-flight requests finish for up to `drain_timeout`, waits (within the same
/// deadline) for gate calls still running, and calls `gate.shutdown()`.
///
/// At `max_connections` it stops accepting; further clients wait in the
/// listen backlog. Returns an error only for invalid options or an unreadable
/// listener address; a client can never make it fail.
pub async fn serve(listener: TcpListener, gate: Arc<dyn Gate>, options: ServerOptions, shutdown: impl Future<Output = ()>) -> Result<(), ServerError> {
    options.validate()?;
    let addr = listener.local_addr().map_err(ServerError::LocalAddr)?;
    let slow_lane = SlowLane::start(options.max_in_flight_decisions).map_err(ServerError::Runtime)?;
    let shared = Arc::new(Shared::new(gate, options, slow_lane));
    match &shared.options.tls {
        Some(_) => info!(%addr, tls = true, "ward serve listening"),
        None if addr.ip().is_loopback() => info!(%addr, tls = false, "ward serve listening"),
        // Credentials cross the network in the clear between the proxy and ward.
        None => warn!(%addr, tls = false, "ward serve listening in plaintext on a non-loopback address; set server.tls"),
    }
    let (stop, stopped) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut shutdown = pin!(shutdown);
    loop {
        let slot = tokio::select! {
            biased;
            () = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            slot = shared.connections.clone().acquire_owned() => slot,
        };
        let Ok(slot) = slot else { break };
        let accepted = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                debug!(%peer, "connection accepted");
                connections.spawn(conn::serve(stream, shared.clone(), stopped.clone(), slot));
            }
            Err(err) => {
                warn!(error = %err, "accept failed");
                sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
    drop(listener);
    drain(&shared, connections, &stop).await;
    let gate = shared.gate.clone();
    if spawn_blocking(move || gate.shutdown()).await.is_err() {
        error!("gate shutdown panicked");
    }
    info!("ward serve stopped");
    Ok(())
}

async fn drain(shared: &Shared, mut connections: JoinSet<()>, stop: &watch::Sender<bool>) {
    let deadline = Instant::now() + shared.options.drain_timeout;
    info!(connections = connections.len(), "draining");
    stop.send_replace(true);
    let drained = timeout_at(deadline, async { while connections.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        warn!(connections = connections.len(), "drain deadline passed; closing the remaining connections");
        connections.shutdown().await;
    }
    // Decisions of connections closed above end with them; wait for the
    // rest, so that the gate is not shut down under a running call.
    let all = u32::try_from(shared.options.max_in_flight_decisions).unwrap_or(u32::MAX);
    if timeout_at(deadline, shared.decisions.acquire_many(all)).await.is_err() {
        warn!("gate calls still running at the drain deadline");
    }
}
