//! Process-wide structured logs for `ward serve`.

use std::io;
use std::sync::OnceLock;

use tracing::warn;
use tracing_appender::non_blocking::{NonBlocking, WorkerGuard};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::writer::EitherWriter;

/// The level when `RUST_LOG` is unset or unusable.
const DEFAULT_FILTER: &str = "info";

/// Lines waiting for the writer thread. Past this a line is dropped rather
/// than wait: the decision log writes one line per request from the I/O
/// threads, and a stalled stderr reader (a full journald pipe) must not
/// stall the requests.
const QUEUED_LINES: usize = 64 * 1024;

/// The writer thread's queue, once [`queue_logs`] started it.
static QUEUE: OnceLock<NonBlocking> = OnceLock::new();

/// Sends `tracing` events to stderr, as text or as JSON lines, filtered by
/// `RUST_LOG` (default `info`). An unparseable `RUST_LOG` falls back to `info`
/// with a warning. If a subscriber is already installed (tests, an embedding
/// program) that one is kept.
///
/// Lines are written directly until [`queue_logs`] is called, queued after.
pub fn init_logging(json: bool) {
    let configured = std::env::var_os(EnvFilter::DEFAULT_ENV).is_some();
    let (filter, problem) = match EnvFilter::try_from_default_env() {
        Ok(filter) => (filter, None),
        Err(err) => (EnvFilter::new(DEFAULT_FILTER), configured.then(|| err.to_string())),
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(Stderr);
    let installed = if json { builder.json().try_init().is_ok() } else { builder.try_init().is_ok() };
    if let (true, Some(problem)) = (installed, problem) {
        warn!(error = %problem, "RUST_LOG is invalid; logging at info");
    }
}

/// From now on log lines go through a bounded queue to a writer thread of
/// their own, so that writing one never blocks the caller; a line that finds
/// the queue full is dropped. Starts a thread, so `ward serve` calls it after
/// the lockdown (which wants a single thread). Keep the guard until exit:
/// dropping it writes out what is queued. `None` if the queue already runs.
pub fn queue_logs() -> Option<WorkerGuard> {
    let mut guard = None;
    QUEUE.get_or_init(|| {
        let (queue, flush) = tracing_appender::non_blocking::NonBlockingBuilder::default()
            .lossy(true)
            .buffered_lines_limit(QUEUED_LINES)
            .thread_name("ward-log")
            .finish(io::stderr());
        guard = Some(flush);
        queue
    });
    guard
}

/// stderr, directly or through the queue.
struct Stderr;

impl<'a> MakeWriter<'a> for Stderr {
    type Writer = EitherWriter<NonBlocking, io::Stderr>;

    fn make_writer(&'a self) -> Self::Writer {
        match QUEUE.get() {
            Some(queue) => EitherWriter::A(queue.clone()),
            None => EitherWriter::B(io::stderr()),
        }
    }
}
