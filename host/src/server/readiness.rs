//! Whether the gate is ready, asked off the I/O threads: `/readyz` and the
//! gRPC health check answer from the same question.

use tokio::task::{JoinError, spawn_blocking};
use tokio::time::timeout;
use tracing::{error, warn};

use super::shared::Shared;

/// Whether the gate is ready to serve, asked off the I/O threads within
/// `request_timeout`: `/readyz` and the gRPC health check.
pub(crate) async fn ready(shared: &Shared) -> bool {
    let gate = shared.gate.clone();
    match timeout(shared.options.request_timeout, spawn_blocking(move || gate.is_ready())).await {
        Ok(Ok(ready)) => ready,
        Err(_) => false,
        Ok(Err(join)) => {
            join_failed("is_ready", &join);
            false
        }
    }
}

/// The panic payload is not logged: it is the gate's text and could hold anything.
pub(crate) fn join_failed(call: &'static str, join: &JoinError) {
    if join.is_panic() {
        error!(call, "gate panicked; answering 503");
    } else {
        warn!(call, "gate call cancelled; answering 503");
    }
}
