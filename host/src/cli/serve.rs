//! `ward serve [--config ward.json]`: the forward-auth sidecar.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use ward::config::ServerConfig;
use ward::lifecycle::{DEFAULT_RELOAD_DEADLINE, Gateway};
use ward::server::{Gate, ListenerTls, LoadError, ServerOptions};

use super::CliError;
use super::config_arg::ConfigArg;

/// Arguments of `ward serve`.
#[derive(clap::Args)]
pub struct Args {
    /// The ward.json to serve; SIGHUP re-reads it (and a change to it, with
    /// `server.watchConfig`).
    #[command(flatten)]
    config: ConfigArg,
    /// Listen here instead of `server.listen`.
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Landlock and seccomp on Linux (docs/SECURITY.md, "Second layer"):
    /// auto applies what the kernel supports, require refuses to serve
    /// without both, off applies neither.
    #[arg(long, env = "WARD_LOCKDOWN", default_value = "auto")]
    lockdown: ward::lockdown::Mode,
    /// Longest a reload may take; past it the reload is refused
    /// (`reload-timeout`) and the previous plugin set keeps serving.
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_RELOAD_DEADLINE.as_secs(), value_parser = clap::value_parser!(u64).range(1..=3600))]
    reload_timeout: u64,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    // Every error before the port is bound is the configuration's (the file,
    // a plugin it names, an option, a lockdown the kernel cannot give):
    // starting again changes nothing, so it ends with EXIT_CONFIG, which the
    // systemd unit does not restart on (docs/deployment.md).
    let config = ward::config::load(&args.config.path()).map_err(|e| CliError::new(e.to_string()).config())?;
    ward::server::init_logging(config.server.json_logs);
    let mut options = ServerOptions { watch_config: config.server.watch_config.then(|| config.path.clone()), ..server_options(&config.server, args.listen) };
    options.validate().map_err(|e| CliError::new(e.to_string()).config())?;
    // Read again here (the load checked them): from now on SIGHUP re-reads them.
    options.tls = config.server.tls.clone().map(|files| ListenerTls::new(Box::new(files))).transpose().map_err(|e| CliError::new(e.to_string()).config())?;
    // The readiness socket is opened before the lockdown, whose seccomp
    // filter allows no new UNIX socket.
    ward::server::systemd::connect().map_err(|e| CliError::new(e.to_string()))?;
    if let Some(cache) = &config.plan.compile_cache {
        ward::sandbox::create_compile_cache_dir(cache).map_err(|e| CliError::new(e.to_string()).config())?;
    }
    let memory_reset = if ward::sandbox::prepare_memory_reset() { "pagemap-scan" } else { "whole-region" };
    tracing::info!(memory_reset, "guest memory reset");
    // Before anything starts a thread (the signal handlers' runtime, the
    // gateway): Landlock here confines the calling thread and its children.
    ward::lockdown::apply(&ward::lockdown::Plan::for_serve(&config, options.listen), args.lockdown).map_err(|e| CliError::new(e.to_string()).config())?;
    // From here on a log line never waits for stderr (the writer thread
    // could not start before the lockdown, which wants one thread); dropped
    // last, it flushes what is queued.
    let _flush = ward::server::queue_logs();
    // The gateway is built inside `run_loading`, after the signal handlers
    // are in place: loading may take long, and a SIGHUP meanwhile must not
    // end the process.
    let reload_deadline = Duration::from_secs(args.reload_timeout);
    let load = move || -> Result<Arc<dyn Gate>, LoadError> {
        // SIGHUP re-reads the same file.
        let (plan, file) = config.into_plan();
        let gateway = Gateway::start(plan, file)?.with_reload_deadline(reload_deadline);
        for status in gateway.plugins() {
            tracing::info!(plugin = %status.id, state = status.state, version = status.version.as_deref().unwrap_or("-"), "plugin");
        }
        Ok(Arc::new(gateway))
    };
    ward::server::run_loading(Box::new(load), options).map_err(|e| {
        let error = CliError::new(e.to_string());
        if e.is_config() { error.config() } else { error }
    })?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn server_options(config: &ServerConfig, listen: Option<SocketAddr>) -> ServerOptions {
    let defaults = ServerOptions::default();
    ServerOptions {
        listen: listen.unwrap_or(config.listen),
        max_connections: config.max_connections.unwrap_or(defaults.max_connections),
        max_header_bytes: config.max_header_bytes.unwrap_or(defaults.max_header_bytes),
        header_read_timeout: config.header_timeout.unwrap_or(defaults.header_read_timeout),
        request_timeout: config.request_timeout.unwrap_or(defaults.request_timeout),
        drain_timeout: config.drain_timeout.unwrap_or(defaults.drain_timeout),
        decision_log: config.decision_log,
        ..defaults
    }
}
