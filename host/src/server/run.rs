//! `ward serve`'s process: the runtime, the signals, the start-up, the listener.

use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tracing::info;

use super::signals::Signals;
use super::{Gate, ServerError, ServerOptions, serve, systemd, watch};

/// Blocking threads beyond the decision limit. Decisions run on the I/O
/// threads, but each may move a blocking audit write off them
/// (`block_in_place`, which takes a blocking thread); `/readyz`, `/metrics`,
/// reloads and shutdown must not queue behind those.
const BLOCKING_HEADROOM: usize = 16;
/// How long the runtime waits, after the drain, for gate calls that are still
/// running: a guest stuck past every deadline must not keep the process alive.
const EXIT_WAIT: Duration = Duration::from_secs(1);

/// What builds the gate: runs once, on a thread of its own, and may take long
/// (it compiles every plugin).
pub type LoadGate = Box<dyn FnOnce() -> Result<Arc<dyn Gate>, LoadError> + Send>;
/// Why the gate could not be built, in the loader's own words.
pub type LoadError = Box<dyn std::error::Error + Send + Sync>;

/// Runs the server for an already built gate; see [`run_loading`].
pub fn run(gate: Arc<dyn Gate>, options: ServerOptions) -> Result<(), ServerError> {
    run_loading(Box::new(move || Ok(gate)), options)
}

/// Installs the signal handlers, builds the gate with `load`, then serves
/// until SIGTERM or SIGINT, on a multi-thread runtime of its own. Returns `Ok`
/// after a graceful stop, so the process can exit 0.
///
/// The handlers come first, so no signal during a long start-up gets its
/// default action (SIGHUP's is to end the process): a SIGHUP while `load`
/// runs is kept and reloads once, right after the gate is ready (the
/// operator may have edited the config during the start); SIGTERM or SIGINT
/// while `load` runs stop at once, without serving. The port is bound after
/// `load`, so a proxy sees a refused connection, not a hanging one, while
/// plugins compile.
pub fn run_loading(load: LoadGate, options: ServerOptions) -> Result<(), ServerError> {
    options.validate()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("ward-serve")
        .max_blocking_threads(options.max_in_flight_decisions.saturating_add(BLOCKING_HEADROOM))
        .build()
        .map_err(ServerError::Runtime)?;
    let mut gate = None;
    let result = runtime.block_on(start_and_serve(load, options, &mut gate));
    runtime.shutdown_timeout(EXIT_WAIT);
    // Dropped here, after the runtime: whatever the gate owns may block when
    // dropped, and tokio forbids blocking on its threads.
    drop(gate);
    result
}

/// `kept` receives the gate as soon as it is built, for the caller to drop.
async fn start_and_serve(load: LoadGate, options: ServerOptions, kept: &mut Option<Arc<dyn Gate>>) -> Result<(), ServerError> {
    let (hangups, stop) = Signals::install()?.split();
    let mut stop = pin!(stop);
    let gate = tokio::select! {
        biased;
        () = &mut stop => {
            info!("stopped before the gate was ready");
            return Ok(());
        }
        loaded = loaded(load) => loaded?,
    };
    *kept = Some(Arc::clone(&gate));
    let listener = TcpListener::bind(options.listen).await.map_err(|source| ServerError::Bind { addr: options.listen, source })?;
    // Kept until the server stops; dropping it ends the watch.
    let (_watch, changes) = match &options.watch_config {
        Some(config) => watch::start(config).map(|(watch, changes)| (Some(watch), Some(changes)))?,
        None => (None, None),
    };
    let reloads = hangups.start(gate.clone(), options.tls.clone(), changes);
    systemd::notify("READY=1");
    let stop = async {
        stop.await;
        systemd::notify("STOPPING=1");
    };
    let result = serve(listener, gate, options, stop).await;
    reloads.abort();
    result
}

/// Runs `load` on a plain thread: the runtime's threads stay free to take
/// signals, and a stop during the load does not wait for it.
async fn loaded(load: LoadGate) -> Result<Arc<dyn Gate>, ServerError> {
    let (done, loaded) = oneshot::channel();
    std::thread::Builder::new()
        .name("ward-load".into())
        .spawn(move || {
            let _ = done.send(load());
        })
        .map_err(ServerError::Runtime)?;
    match loaded.await {
        Ok(result) => result.map_err(ServerError::Load),
        // The sender went without a word: `load` panicked.
        Err(_) => Err(ServerError::Load("the gate's start-up panicked".into())),
    }
}
