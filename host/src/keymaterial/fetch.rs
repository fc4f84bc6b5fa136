//! One guarded fetch: parse, resolve once, check every address, connect to a
//! checked address, TLS with the URL's name, one HTTP/1.1 GET, a counted
//! body. Everything runs under the total deadline.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use http::header::{ACCEPT, ACCEPT_ENCODING, CONNECTION, HOST, USER_AGENT};
use http::{Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Empty};
use hyper::body::{Body, Bytes, Incoming};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::error::KeyMaterialError;
use super::guard::AddressGuard;
use super::options::{FetchPolicy, UrlSource};
use super::resolve::{Resolve, SystemResolver};
use super::target::{Host, Scheme, Target};
use super::tls::client_config;

/// The response head (status line and headers) must fit in this; hyper's
/// floor is 8 KiB and key-material servers send little.
const MAX_HEAD_BYTES: usize = 64 * 1024;
const MAX_HEADERS: usize = 64;
const USER_AGENT_VALUE: &str = concat!("ward-keymaterial/", env!("CARGO_PKG_VERSION"));

/// Fetches key material under one [`FetchPolicy`]. Build it once (it reads
/// the CA file and builds the TLS configuration) and share it in an `Arc`.
pub struct Fetcher {
    policy: FetchPolicy,
    guard: AddressGuard,
    tls: TlsConnector,
    resolver: Arc<dyn Resolve>,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetcher").field("policy", &self.policy).finish_non_exhaustive()
    }
}

impl Fetcher {
    /// A fetcher using the operating system's resolver.
    pub fn new(policy: FetchPolicy) -> Result<Self, KeyMaterialError> {
        Self::with_resolver(policy, Arc::new(SystemResolver))
    }

    /// A fetcher using `resolver` for host names (address literals in URLs
    /// are not resolved).
    pub fn with_resolver(policy: FetchPolicy, resolver: Arc<dyn Resolve>) -> Result<Self, KeyMaterialError> {
        policy.validate()?;
        let tls = TlsConnector::from(client_config(&policy)?);
        let guard = AddressGuard::new(&policy.allow_cidrs);
        Ok(Self { policy, guard, tls, resolver })
    }

    /// The policy this fetcher enforces.
    pub fn policy(&self) -> &FetchPolicy {
        &self.policy
    }

    /// Fetches `source.url` once. Needs a tokio runtime with IO and time
    /// enabled (`ward serve`'s has both); from sync code use
    /// [`Fetcher::fetch_blocking`].
    pub async fn fetch(&self, source: &UrlSource) -> Result<Vec<u8>, KeyMaterialError> {
        let target = self.policy.target(&source.url)?;
        source.shape.validate(source.max_bytes)?;
        let total = self.policy.total_timeout;
        match tokio::time::timeout(total, self.fetch_target(&target, source.max_bytes)).await {
            Ok(result) => result,
            Err(_) => Err(KeyMaterialError::Timeout { host: target.host_text, timeout_ms: millis(total) }),
        }
    }

    /// [`Fetcher::fetch`] for sync code (config load, reload, the CLI). It
    /// runs on a private single-threaded runtime; when called from inside a
    /// tokio runtime it does so on a scoped thread, because a runtime cannot
    /// block on another one on its own thread.
    pub fn fetch_blocking(&self, source: &UrlSource) -> Result<Vec<u8>, KeyMaterialError> {
        block_on(|| self.fetch(source))
    }

    async fn fetch_target(&self, target: &Target, max_bytes: u64) -> Result<Vec<u8>, KeyMaterialError> {
        let addrs = self.resolve(target).await?;
        // Every address, not just the one we would use: a name that also
        // points inside is refused as a whole, so the outcome never depends
        // on which answer the resolver lists first.
        for &addr in &addrs {
            if let Some(range) = self.guard.check(addr) {
                return Err(KeyMaterialError::DeniedAddress { host: target.host_text.clone(), addr, range });
            }
        }
        let (tcp, addr) = self.connect(target, &addrs).await?;
        match target.scheme {
            Scheme::Http => exchange(tcp, target, max_bytes).await,
            Scheme::Https => {
                let tls = self.handshake(target, tcp, addr).await?;
                exchange(tls, target, max_bytes).await
            }
        }
    }

    async fn resolve(&self, target: &Target) -> Result<Vec<IpAddr>, KeyMaterialError> {
        let name = match &target.host {
            Host::Ip(ip) => return Ok(vec![*ip]),
            Host::Name(name) => name.clone(),
        };
        let resolver = Arc::clone(&self.resolver);
        let port = target.port;
        let resolve_error = |reason: String| KeyMaterialError::Resolve { host: target.host_text.clone(), reason };
        let answer = tokio::task::spawn_blocking(move || resolver.resolve(&name, port))
            .await
            .map_err(|_| resolve_error("the resolver failed".to_owned()))?
            .map_err(|err| resolve_error(err.to_string()))?;
        let mut addrs: Vec<IpAddr> = Vec::with_capacity(answer.len());
        for addr in answer {
            if !addrs.contains(&addr) {
                addrs.push(addr);
            }
        }
        if addrs.is_empty() {
            return Err(KeyMaterialError::NoAddress { host: target.host_text.clone() });
        }
        Ok(addrs)
    }

    /// Tries the checked addresses in the resolver's order. A mapped
    /// `::ffff:a.b.c.d` is dialled as `a.b.c.d`, the destination the guard
    /// judged it by.
    async fn connect(&self, target: &Target, addrs: &[IpAddr]) -> Result<(TcpStream, IpAddr), KeyMaterialError> {
        let timeout = self.policy.connect_timeout;
        let host = || target.host_text.clone();
        let mut last = KeyMaterialError::NoAddress { host: host() };
        for &addr in addrs {
            let socket = SocketAddr::new(addr.to_canonical(), target.port);
            match tokio::time::timeout(timeout, TcpStream::connect(socket)).await {
                Ok(Ok(stream)) => {
                    // Best effort: one small request, latency over throughput.
                    let _ = stream.set_nodelay(true);
                    return Ok((stream, addr));
                }
                Ok(Err(err)) => last = KeyMaterialError::Connect { host: host(), addr, reason: err.to_string() },
                Err(_) => last = KeyMaterialError::ConnectTimeout { host: host(), addr, timeout_ms: millis(timeout) },
            }
        }
        Err(last)
    }

    async fn handshake(&self, target: &Target, tcp: TcpStream, addr: IpAddr) -> Result<tokio_rustls::client::TlsStream<TcpStream>, KeyMaterialError> {
        let tls_error = |reason: String| KeyMaterialError::Tls { host: target.host_text.clone(), reason };
        // SNI and certificate check use the URL's host, never the address
        // dialled: the certificate must be for the name the operator wrote.
        let server_name = match &target.host {
            Host::Name(name) => ServerName::try_from(name.clone()).map_err(|_| tls_error("the host name is not valid for TLS".to_owned()))?,
            Host::Ip(ip) => ServerName::IpAddress((*ip).into()),
        };
        let timeout = self.policy.connect_timeout;
        match tokio::time::timeout(timeout, self.tls.connect(server_name, tcp)).await {
            Ok(Ok(stream)) => Ok(stream),
            Ok(Err(err)) => Err(tls_error(err.to_string())),
            Err(_) => Err(KeyMaterialError::ConnectTimeout { host: target.host_text.clone(), addr, timeout_ms: millis(timeout) }),
        }
    }
}

/// One GET over a stream we connected ourselves. The connection future is
/// driven here rather than spawned, so when the deadline drops this future
/// the socket closes with it.
async fn exchange<S>(io: S, target: &Target, max_bytes: u64) -> Result<Vec<u8>, KeyMaterialError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let http_error = |err: hyper::Error| KeyMaterialError::Http { host: target.host_text.clone(), reason: err.to_string() };
    let (mut sender, conn) = hyper::client::conn::http1::Builder::new()
        .max_buf_size(MAX_HEAD_BYTES)
        .max_headers(MAX_HEADERS)
        .handshake::<_, Empty<Bytes>>(TokioIo::new(io))
        .await
        .map_err(http_error)?;
    let request = Request::builder()
        .method(Method::GET)
        .uri(Uri::from(target.path_and_query.clone()))
        .header(HOST, target.host_header())
        .header(USER_AGENT, USER_AGENT_VALUE)
        .header(ACCEPT, "*/*")
        // The guest gets the bytes as served; no decompression bomb to defuse.
        .header(ACCEPT_ENCODING, "identity")
        .header(CONNECTION, "close")
        .body(Empty::new())
        .map_err(|_| KeyMaterialError::InvalidUrl { reason: "cannot form a request from it" })?;
    let work = async move {
        let response = sender.send_request(request).await.map_err(http_error)?;
        read_body(response, target, max_bytes).await
    };
    let mut conn = pin!(conn);
    let mut work = pin!(work);
    tokio::select! {
        biased;
        result = &mut work => result,
        // The connection ended first (closed, or failed): the request side
        // then completes with the body or with hyper's error.
        _ = &mut conn => work.await,
    }
}

async fn read_body(response: http::Response<Incoming>, target: &Target, max_bytes: u64) -> Result<Vec<u8>, KeyMaterialError> {
    let host = || target.host_text.clone();
    let status = response.status();
    if status.is_redirection() {
        return Err(KeyMaterialError::Redirect { host: host(), status: status.as_u16() });
    }
    if status != StatusCode::OK {
        return Err(KeyMaterialError::Status { host: host(), status: status.as_u16() });
    }
    let mut body = response.into_body();
    // Content-Length, when present, refuses early; the count below is what
    // actually holds, whatever the header said.
    let announced = body.size_hint().lower();
    if announced > max_bytes {
        return Err(KeyMaterialError::TooLarge { max_bytes });
    }
    let mut out = Vec::with_capacity(usize::try_from(announced.min(64 * 1024)).unwrap_or(0));
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|err| KeyMaterialError::Http { host: host(), reason: err.to_string() })?;
        if let Ok(data) = frame.into_data() {
            let len = u64::try_from(out.len().saturating_add(data.len())).unwrap_or(u64::MAX);
            if len > max_bytes {
                return Err(KeyMaterialError::TooLarge { max_bytes });
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out)
}

/// Runs an async key-material operation to completion from sync code.
pub(crate) fn block_on<'a, F, Fut, T>(make: F) -> Result<T, KeyMaterialError>
where
    F: FnOnce() -> Fut + Send + 'a,
    Fut: Future<Output = Result<T, KeyMaterialError>>,
    T: Send,
{
    if tokio::runtime::Handle::try_current().is_err() {
        return run_on_private_runtime(make);
    }
    std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name("ward-keymaterial".to_owned())
            .spawn_scoped(scope, move || run_on_private_runtime(make))
            .map_err(|err| KeyMaterialError::Setup { reason: format!("cannot start a thread: {err}") })?;
        worker.join().unwrap_or_else(|_| Err(KeyMaterialError::Setup { reason: "the fetch thread panicked".to_owned() }))
    })
}

fn run_on_private_runtime<F, Fut, T>(make: F) -> Result<T, KeyMaterialError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, KeyMaterialError>>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|err| KeyMaterialError::Setup { reason: format!("cannot start a runtime: {err}") })?;
    let result = runtime.block_on(make());
    // A resolver stuck past the deadline keeps its blocking thread; do not
    // wait for it here.
    runtime.shutdown_background();
    result
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
