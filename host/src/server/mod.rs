//! The forward-auth HTTP sidecar (`ward serve`), and Envoy's `ext_authz`
//! over gRPC on the same port (`grpc/`).
//!
//! The server knows HTTP; a [`Gate`] knows plugins. Guarantees of this room
//! (`docs/http-api.md` has the full contract):
//! - `/auth` answers 200 with `X-Ward-*` identity headers only for an allow;
//!   every other path, including a failure inside ward, is 401, 403 or 503.
//!   gRPC `Check` makes the same decision (`decide.rs`, `respond::verdict`):
//!   an OK only for an allow, a denied response or an error status otherwise.
//! - No request header is ever echoed; `X-Ward-*` headers on a request are
//!   dropped before the gate sees them.
//! - Decisions run on the I/O threads, as futures that yield at every epoch
//!   tick, so a slow guest never stalls other connections for more than a
//!   tick, and one that runs past a whole tick moves to the slow lane, at a
//!   lower CPU priority (`lane.rs`); every other gate call runs on the
//!   blocking pool.
//! - Metrics labels and log fields are plugin ids and static codes, never
//!   request content.
//! - With TLS (`ServerOptions::tls`), a connection that does not complete
//!   the handshake (under mutual TLS: without a certificate from the client
//!   CA) is closed before any HTTP is read; a certificate re-read at SIGHUP
//!   that fails keeps the previous certificates serving.

mod certs;
mod conn;
mod decide;
mod encode;
mod error;
mod gate;
mod grpc;
mod handshake;
mod lane;
mod listen;
mod logging;
mod metrics;
mod options;
mod process;
mod readiness;
mod respond;
mod routes;
mod run;
mod shared;
mod signals;
mod sniff;
pub mod systemd;
mod tls;
mod watch;

pub use certs::{CertRefusal, CertSource, ListenerTls};
pub use error::ServerError;
pub use gate::{Deciding, Gate, GateDecision, GateStats, PluginState, PluginStats, UnrecordedCount};
pub use listen::serve;
pub use logging::{init_logging, queue_logs};
pub use metrics::render_gate_stats;
pub use options::{MAX_HEADER_BYTES, MIN_HEADER_BYTES, ServerOptions};
pub use run::{LoadError, LoadGate, run, run_loading};
pub use tls::{TlsError, TlsFile, TlsPem, server_config as tls_server_config};
