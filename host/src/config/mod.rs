//! The operator's `ward.json`: one file that names everything ward serves.
//!
//! Parsing runs in two stages, as the style guide asks (`CONTRIBUTING.md`,
//! "Errors and input"): deserialize into the raw shape (`raw.rs`: every
//! object refuses unknown fields, errors carry the JSON path), then validate
//! into the library's types (`load.rs`), reading every file the config names
//! through the confined directories of `dir.rs`.
//! The schema is in `docs/ward.schema.json`, an annotated example in
//! `docs/configuration.md`.
//!
//! An outer room: it builds the lifecycle's [`Plan`] (and maps its raw JSON
//! into the lifecycle's types: routes, breakers, conformance cases), and
//! [`ConfigFile`] builds the next plan on each reload.

mod audit_store;
mod dir;
mod error;
mod json;
mod load;
mod raw;
mod routes;
mod shape;
mod source;
mod tls;
pub mod trust;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::lifecycle::Plan;

pub use error::{ConfigError, MAX_CONFIG_BYTES};
pub use load::load;
pub use source::ConfigFile;
pub use tls::TlsFiles;
pub use trust::{read_trust_policy, trust_policy_from_json};

/// A validated `ward.json`, with every file it names already read: the
/// plan the lifecycle runs, and what only the outer rooms use.
#[derive(Debug)]
#[non_exhaustive]
pub struct WardConfig {
    /// Where it was read from (reloads read the same path).
    pub path: PathBuf,
    /// `allowDirs`: directories outside the config's own that it may name.
    pub allow_dirs: Vec<PathBuf>,
    /// The HTTP sidecar.
    pub server: ServerConfig,
    /// Trust policy, identity, audit, key-material fetching and plugins, in
    /// routing order: what [`crate::lifecycle::Gateway`] starts and reloads.
    pub plan: Plan,
}

/// The `server` section; `ward serve` maps it onto the server's options.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Listen address. Default `127.0.0.1:8181`.
    pub listen: SocketAddr,
    /// Connections served at once.
    pub max_connections: Option<usize>,
    /// Largest request head accepted.
    pub max_header_bytes: Option<usize>,
    /// Time a client has to send its request head.
    pub header_timeout: Option<Duration>,
    /// Time a whole request may take.
    pub request_timeout: Option<Duration>,
    /// How long SIGTERM waits for in-flight requests.
    pub drain_timeout: Option<Duration>,
    /// Log as JSON lines instead of text.
    pub json_logs: bool,
    /// `server.tls`: TLS (and with a client CA, mutual TLS) on the listener.
    pub tls: Option<TlsFiles>,
    /// Reload when the config file changes, as SIGHUP does.
    pub watch_config: bool,
    /// One `info` line per decision (never the credential).
    pub decision_log: bool,
}
