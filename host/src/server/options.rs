//! What an operator can tune in the HTTP layer, and the defaults: chosen for a
//! sidecar that a reverse proxy on the same host or network calls.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use super::ServerError;
use super::certs::ListenerTls;

/// The HTTP layer's settings. `Default` gives the documented defaults
/// (`docs/http-api.md`); [`ServerOptions::validate`] refuses values the
/// server could not honour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerOptions {
    /// Where [`crate::server::run`] listens. Default `127.0.0.1:8181`: loopback,
    /// so a default config never exposes ward beyond the host.
    pub listen: SocketAddr,
    /// Most open client connections. At the limit ward stops accepting: new
    /// connections wait in the kernel's listen backlog until one closes, they
    /// are not refused. Default 1024.
    pub max_connections: usize,
    /// Most bytes of request line and headers (HTTP/1.1), or of the decoded
    /// header list (HTTP/2). Over it HTTP/1.1 answers 431 and closes the
    /// connection. Default 32 KiB, like nginx's `large_client_header_buffers`.
    pub max_header_bytes: usize,
    /// How long a client may take to send a complete request head, counted
    /// from the connection opening or the previous response. It is also how
    /// long an idle connection is kept. Default 10 s.
    pub header_read_timeout: Duration,
    /// Longest wait for the gate's answer; past it `/auth` answers 503
    /// (`request-timeout`). Default 5 s.
    pub request_timeout: Duration,
    /// On shutdown, how long in-flight requests may take to finish before
    /// their connections are closed. Default 10 s.
    pub drain_timeout: Duration,
    /// The `Retry-After` value, in seconds, on every 503. Default 1.
    pub retry_after_secs: u32,
    /// Most gate decisions under way at once (each polled on the I/O
    /// threads); the next `/auth` answers 503 (`over-capacity`) at once.
    /// Default 512.
    pub max_in_flight_decisions: usize,
    /// Concurrent HTTP/2 streams per connection. Default 128.
    pub h2_max_concurrent_streams: u32,
    /// Whether denies carry their reason code in `X-Ward-Deny`. Default off:
    /// some proxies (Traefik) pass the auth answer to the client, and codes such
    /// as `plugin:unknown-key` or `timeout` tell a prober how far a forged token got.
    pub deny_reason_header: bool,
    /// TLS on the listener (`server.tls`): every connection must complete a
    /// handshake (and, with a client CA, present a client certificate)
    /// before any HTTP. Default none: plaintext, meant for loopback.
    pub tls: Option<ListenerTls>,
    /// One `info` line per decision: identity id, plugin, outcome, reason,
    /// duration; never the credential. Default off.
    pub decision_log: bool,
    /// Reload, as SIGHUP does, when this config file changes (or the
    /// Kubernetes `..data` link beside it is swapped). Default none.
    pub watch_config: Option<PathBuf>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 8181)),
            max_connections: 1024,
            max_header_bytes: 32 * 1024,
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(5),
            drain_timeout: Duration::from_secs(10),
            retry_after_secs: 1,
            max_in_flight_decisions: 512,
            h2_max_concurrent_streams: 128,
            deny_reason_header: false,
            tls: None,
            decision_log: false,
            watch_config: None,
        }
    }
}

/// A request head must fit a request line and a credential.
pub const MIN_HEADER_BYTES: usize = 1024;
/// Above this a header limit is no longer a limit.
pub const MAX_HEADER_BYTES: usize = 1024 * 1024;
/// Caps that keep semaphores and the blocking pool within sane sizes.
const MAX_CONNECTIONS: usize = 1 << 20;
const MAX_IN_FLIGHT: usize = 1 << 16;

impl ServerOptions {
    /// Checks every value; the first problem is the error.
    pub fn validate(&self) -> Result<(), ServerError> {
        let invalid = |option, problem| Err(ServerError::InvalidOption { option, problem });
        if !(1..=MAX_CONNECTIONS).contains(&self.max_connections) {
            return invalid("max_connections", "must be between 1 and 1048576");
        }
        if !(MIN_HEADER_BYTES..=MAX_HEADER_BYTES).contains(&self.max_header_bytes) {
            return invalid("max_header_bytes", "must be between 1024 and 1048576");
        }
        if !(1..=MAX_IN_FLIGHT).contains(&self.max_in_flight_decisions) {
            return invalid("max_in_flight_decisions", "must be between 1 and 65536");
        }
        if self.h2_max_concurrent_streams == 0 {
            return invalid("h2_max_concurrent_streams", "must be at least 1");
        }
        for (option, value) in
            [("header_read_timeout", self.header_read_timeout), ("request_timeout", self.request_timeout), ("drain_timeout", self.drain_timeout)]
        {
            if value.is_zero() {
                return invalid(option, "must be longer than zero");
            }
        }
        Ok(())
    }
}
