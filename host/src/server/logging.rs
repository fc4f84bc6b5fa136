//! Process-wide structured logs for `ward serve`.

use tracing::warn;
use tracing_subscriber::EnvFilter;

/// The level when `RUST_LOG` is unset or unusable.
const DEFAULT_FILTER: &str = "info";

/// Sends `tracing` events to stderr, as text or as JSON lines, filtered by
/// `RUST_LOG` (default `info`). An unparseable `RUST_LOG` falls back to `info`
/// with a warning. If a subscriber is already installed (tests, an embedding
/// program) that one is kept.
pub fn init_logging(json: bool) {
    let configured = std::env::var_os(EnvFilter::DEFAULT_ENV).is_some();
    let (filter, problem) = match EnvFilter::try_from_default_env() {
        Ok(filter) => (filter, None),
        Err(err) => (EnvFilter::new(DEFAULT_FILTER), configured.then(|| err.to_string())),
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let installed = if json { builder.json().try_init().is_ok() } else { builder.try_init().is_ok() };
    if let (true, Some(problem)) = (installed, problem) {
        warn!(error = %problem, "RUST_LOG is invalid; logging at info");
    }
}
