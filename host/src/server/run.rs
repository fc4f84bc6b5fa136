//! `ward serve`'s process: the runtime, the listener and the signals.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use super::signals::Signals;
use super::{Gate, ServerError, ServerOptions, serve};

/// Blocking threads beyond the decision limit, for `/readyz`, `/metrics`,
/// reloads and shutdown, which must not queue behind decisions.
const BLOCKING_HEADROOM: usize = 16;
/// How long the runtime waits, after the drain, for gate calls that are still
/// running: a guest stuck past every deadline must not keep the process alive.
const EXIT_WAIT: Duration = Duration::from_secs(1);

/// Runs the server until SIGTERM or SIGINT, on a multi-thread runtime of its
/// own. SIGHUP calls `gate.reload()`. Returns `Ok` after a graceful stop, so
/// the process can exit 0.
pub fn run(gate: Arc<dyn Gate>, options: ServerOptions) -> Result<(), ServerError> {
    options.validate()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("ward-serve")
        .max_blocking_threads(options.max_in_flight_decisions.saturating_add(BLOCKING_HEADROOM))
        .build()
        .map_err(ServerError::Runtime)?;
    // The caller's reference outlives the runtime, so the gate is never
    // dropped on one of its threads (whatever the gate owns may block when
    // dropped, and tokio forbids blocking there).
    let serving = Arc::clone(&gate);
    let result = runtime.block_on(async move {
        let signals = Signals::install()?;
        let listener = TcpListener::bind(options.listen)
            .await
            .map_err(|source| ServerError::Bind { addr: options.listen, source })?;
        let (reloads, stop) = signals.start(serving.clone());
        let result = serve(listener, serving, options, stop).await;
        reloads.abort();
        result
    });
    runtime.shutdown_timeout(EXIT_WAIT);
    drop(gate);
    result
}
