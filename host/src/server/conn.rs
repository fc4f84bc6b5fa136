//! One client connection: the TLS handshake if `server.tls` is set
//! (`handshake.rs`), protocol detection (ALPN, else the first bytes), hyper,
//! and the idle watchdog.
//!
//! hyper's HTTP/1.1 `header_read_timeout` covers slow request heads, but
//! nothing in hyper bounds the time before the protocol is known or an idle
//! HTTP/2 connection. The watchdog closes any connection that has had no
//! request in flight for `header_read_timeout`, so a client that sends
//! nothing, or a preface byte by byte, cannot hold a connection slot.

use std::convert::Infallible;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, watch};
use tokio::time::{Instant, sleep_until, timeout};
use tracing::debug;

use super::handshake;
use super::routes::{self, Reply};
use super::shared::Shared;
use super::sniff::{Prefixed, Protocol, sniff};

/// After the watchdog asks an idle connection to close, how long it has to do so.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Serves one accepted connection until it closes, the watchdog closes it,
/// or `stop` turns true (then in-flight requests finish first). The permit is
/// the connection's slot under `max_connections`.
pub(crate) async fn serve(stream: TcpStream, shared: Arc<Shared>, mut stop: watch::Receiver<bool>, _slot: OwnedSemaphorePermit) {
    // Answers are a few hundred bytes; Nagle would only delay them.
    let _ = stream.set_nodelay(true);
    let Some(tls) = shared.options.tls.clone() else {
        return serve_stream(stream, None, shared, stop).await;
    };
    // Bounded like a request head: a client that never finishes the
    // handshake cannot hold a connection slot.
    let accepted = tokio::select! {
        accepted = handshake::accept(&tls, stream, shared.options.header_read_timeout, &shared.metrics) => accepted,
        _ = stop.wait_for(|stop| *stop) => return,
    };
    if let Some((stream, protocol)) = accepted {
        serve_stream(stream, protocol, shared, stop).await;
    }
}

/// Serves a plaintext or decrypted stream; `known` is the protocol ALPN
/// chose, else the first bytes tell.
async fn serve_stream<S>(stream: S, known: Option<Protocol>, shared: Arc<Shared>, mut stop: watch::Receiver<bool>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Arc::new(Activity::new());
    let idle = shared.options.header_read_timeout;
    let (protocol, io) = match known {
        Some(protocol) => (protocol, Prefixed::unread(stream)),
        None => {
            let sniffed = tokio::select! {
                sniffed = timeout(idle, sniff(stream)) => sniffed,
                _ = stop.wait_for(|stop| *stop) => return,
            };
            match sniffed {
                Ok(Ok(sniffed)) => sniffed,
                Ok(Err(err)) => return debug!(error = %err, "connection closed before a request"),
                Err(_) => return debug!("connection sent no request head in time"),
            }
        }
    };
    let io = TokioIo::new(io);
    let service = {
        let (shared, activity) = (shared.clone(), activity.clone());
        service_fn(move |request: Request<Incoming>| {
            let (shared, activity) = (shared.clone(), activity.clone());
            async move {
                let _busy = activity.begin();
                Ok::<Response<Reply>, Infallible>(routes::handle(&shared, request).await)
            }
        })
    };
    match protocol {
        Protocol::Http1 => {
            let conn = shared.h1.serve_connection(io, service);
            drive(conn, |conn| conn.graceful_shutdown(), &activity, idle, &mut stop).await;
        }
        Protocol::Http2 => {
            let conn = shared.h2.serve_connection(io, service);
            drive(conn, |conn| conn.graceful_shutdown(), &activity, idle, &mut stop).await;
        }
    }
}

/// Polls the connection to its end, starting a graceful close at shutdown or
/// when idle too long.
async fn drive<C>(conn: C, graceful: fn(Pin<&mut C>), activity: &Activity, idle: Duration, stop: &mut watch::Receiver<bool>)
where
    C: Future<Output = Result<(), hyper::Error>>,
{
    let mut conn = pin!(conn);
    let mut closing = false;
    // Set only when the watchdog closes: at shutdown the drain deadline rules.
    let mut hard_deadline: Option<Instant> = None;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(err) = result {
                    debug!(error = %err, "connection ended with an error");
                }
                return;
            }
            _ = stop.wait_for(|stop| *stop), if !closing => {
                graceful(conn.as_mut());
                closing = true;
            }
            () = sleep_until(activity.idle_deadline(idle)), if !closing => {
                if activity.idle_deadline(idle) <= Instant::now() {
                    debug!("closing an idle connection");
                    graceful(conn.as_mut());
                    closing = true;
                    hard_deadline = Some(Instant::now() + CLOSE_GRACE.min(idle));
                }
            }
            () = sleep_until(hard_deadline.unwrap_or_else(Instant::now)), if hard_deadline.is_some() => return,
        }
    }
}

/// Requests in flight on one connection, and when the last one ended.
struct Activity {
    opened: Instant,
    in_flight: AtomicUsize,
    /// Milliseconds after `opened` when the connection last became idle.
    idle_since_ms: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Self { opened: Instant::now(), in_flight: AtomicUsize::new(0), idle_since_ms: AtomicU64::new(0) }
    }

    fn begin(self: &Arc<Self>) -> Busy {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        Busy(self.clone())
    }

    /// When the connection counts as idle for too long; a busy connection is
    /// looked at again one `idle` later.
    fn idle_deadline(&self, idle: Duration) -> Instant {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return Instant::now() + idle;
        }
        self.opened + Duration::from_millis(self.idle_since_ms.load(Ordering::Acquire)) + idle
    }
}

/// Marks a request in flight until dropped: answered, or abandoned by the client.
struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        let now = u64::try_from(self.0.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.0.idle_since_ms.store(now, Ordering::Release);
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}
