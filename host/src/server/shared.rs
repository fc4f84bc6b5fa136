//! What every connection of one server shares: the gate, the settings, the
//! protocol builders, the limits and the metrics.

use std::sync::Arc;

use http::HeaderValue;
use hyper::server::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::sync::Semaphore;

use super::lane::SlowLane;
use super::metrics::Metrics;
use super::{Gate, ServerOptions};

/// hyper refuses a smaller read buffer.
const MIN_BUF_BYTES: usize = 8192;
/// Room past the header limit so that hyper reports 431 for a head that is
/// complete but too long, rather than a bare buffer overflow.
const BUF_SLACK_BYTES: usize = 4096;

pub(crate) struct Shared {
    pub gate: Arc<dyn Gate>,
    pub options: ServerOptions,
    pub metrics: Metrics,
    /// One permit per decision under way.
    pub decisions: Arc<Semaphore>,
    /// One permit per open connection.
    pub connections: Arc<Semaphore>,
    pub retry_after: HeaderValue,
    pub h1: http1::Builder,
    pub h2: http2::Builder<TokioExecutor>,
    /// Where decisions go once their guest has run for a tick (`lane.rs`).
    pub slow_lane: SlowLane,
}

impl Shared {
    /// Expects validated options.
    pub(crate) fn new(gate: Arc<dyn Gate>, options: ServerOptions, slow_lane: SlowLane) -> Self {
        let mut h1 = http1::Builder::new();
        h1.timer(TokioTimer::new())
            .header_read_timeout(options.header_read_timeout)
            .max_header_size(options.max_header_bytes)
            .max_buf_size(options.max_header_bytes.saturating_add(BUF_SLACK_BYTES).max(MIN_BUF_BYTES))
            .keep_alive(true);
        let mut h2 = http2::Builder::new(TokioExecutor::new());
        h2.timer(TokioTimer::new())
            .max_header_list_size(u32::try_from(options.max_header_bytes).unwrap_or(u32::MAX))
            .max_concurrent_streams(options.h2_max_concurrent_streams);
        Self {
            gate,
            metrics: Metrics::default(),
            decisions: Arc::new(Semaphore::new(options.max_in_flight_decisions)),
            connections: Arc::new(Semaphore::new(options.max_connections)),
            retry_after: HeaderValue::from(options.retry_after_secs),
            h1,
            h2,
            slow_lane,
            options,
        }
    }

    pub(crate) fn open_connections(&self) -> usize {
        self.options.max_connections.saturating_sub(self.connections.available_permits())
    }
}
