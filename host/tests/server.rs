//! The HTTP layer of `ward serve` against fake gates (no wasm): the status
//! table and its headers, what is never reflected, limits, concurrency,
//! h2c, shutdown and signals. Every server listens on 127.0.0.1:0.
// Test code: a broken assumption should stop the test loudly, so unwrap,
// expect, panic and indexing are allowed (clippy.toml does the same for
// `#[cfg(test)]` modules).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod exposition;
// Envoy's ext_authz, gRPC and HTTP, against the fakes below.
mod ext_authz;
// Certificates for ext_authz's gRPC over mutual TLS.
mod pki;

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use http::{HeaderMap, Request, Response, StatusCode, Version};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use ward::audit::PluginId;
use ward::identity::{Identity, PrincipalType};
use ward::sandbox::{Decision, DenyReason, PluginDeny};
use ward::server::{Deciding, Gate, GateDecision, GateStats, PluginState, PluginStats, ServerError, ServerOptions, UnrecordedCount, serve};

// ---------------------------------------------------------------- fakes

type DecideFn = dyn Fn(&HeaderMap) -> GateDecision + Send + Sync;

struct FakeGate {
    decide: Arc<DecideFn>,
    ready: AtomicBool,
    calls: AtomicUsize,
    finished: Arc<AtomicUsize>,
    reloads: AtomicUsize,
    revokes: AtomicUsize,
    /// While set, each `reload` waits for one message on it.
    hold_reloads: Mutex<Option<std::sync::mpsc::Receiver<()>>>,
    shutdowns: AtomicUsize,
    /// Decisions finished when `shutdown` ran.
    finished_at_shutdown: AtomicUsize,
    seen: Mutex<Vec<HeaderMap>>,
}

impl FakeGate {
    fn new(decide: impl Fn(&HeaderMap) -> GateDecision + Send + Sync + 'static) -> Arc<Self> {
        Arc::new(Self {
            decide: Arc::new(decide),
            ready: AtomicBool::new(true),
            calls: AtomicUsize::new(0),
            finished: Arc::new(AtomicUsize::new(0)),
            reloads: AtomicUsize::new(0),
            revokes: AtomicUsize::new(0),
            hold_reloads: Mutex::new(None),
            shutdowns: AtomicUsize::new(0),
            finished_at_shutdown: AtomicUsize::new(usize::MAX),
            seen: Mutex::new(Vec::new()),
        })
    }
}

impl Gate for FakeGate {
    /// The fake's decisions may sleep (a slow gate) or panic (a broken one):
    /// they run on the blocking pool, as a real gate moves blocking work off
    /// the I/O threads, and a panic there is resumed in the future the server
    /// polls, as a real gate's would be raised.
    fn decide<'a>(&'a self, headers: &'a HeaderMap) -> Deciding<'a> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.seen.lock().unwrap().push(headers.clone());
        let (decide, finished, headers) = (Arc::clone(&self.decide), Arc::clone(&self.finished), headers.clone());
        let decided = tokio::task::spawn_blocking(move || {
            let decision = decide(&headers);
            finished.fetch_add(1, Ordering::SeqCst);
            decision
        });
        Box::pin(async move {
            match decided.await {
                Ok(decision) => decision,
                Err(join) => std::panic::resume_unwind(join.try_into_panic().unwrap()),
            }
        })
    }
    fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }
    fn revoke(&self) -> Result<usize, &'static str> {
        self.revokes.fetch_add(1, Ordering::SeqCst);
        Ok(0)
    }
    fn reload(&self) -> Result<(), &'static str> {
        self.reloads.fetch_add(1, Ordering::SeqCst);
        if let Some(hold) = &*self.hold_reloads.lock().unwrap() {
            let _ = hold.recv_timeout(Duration::from_secs(30));
        }
        Err("config-invalid")
    }
    fn stats(&self) -> GateStats {
        let id = |id: &str| PluginId::new(id).unwrap();
        let mut stats = GateStats::default();
        stats.plugins = vec![
            PluginStats { plugin: id("acme"), state: PluginState::Active { breaker_open: false } },
            PluginStats { plugin: id("flaky"), state: PluginState::Active { breaker_open: true } },
            PluginStats { plugin: id("off"), state: PluginState::Disabled },
            PluginStats { plugin: id("old"), state: PluginState::Revoked },
        ];
        stats.reloads_refused = self.reloads.load(Ordering::SeqCst) as u64;
        stats.unrecorded = vec![UnrecordedCount { plugin: id("flaky"), event: "plugin.breaker.opened", count: 2 }];
        stats
    }
    fn shutdown(&self) {
        self.finished_at_shutdown.store(self.finished.load(Ordering::SeqCst), Ordering::SeqCst);
        self.shutdowns.fetch_add(1, Ordering::SeqCst);
    }
}

fn alice() -> Identity {
    Identity {
        id: "acme:0123456789abcdef0123456789abcdef".into(),
        provider: "acme".into(),
        principal_type: PrincipalType::Service,
        scopes: vec!["orders:read".into(), "orders:write".into()],
        labels: vec![("team".into(), "pay,ments=1%".into()), ("env".into(), "prod é".into())],
    }
}

fn allow() -> GateDecision {
    GateDecision { plugin_id: Some("acme".into()), challenge: Some("Bearer".into()), decision: Decision::Allow(alice()), assertion: None }
}

fn deny(reason: DenyReason) -> GateDecision {
    GateDecision { plugin_id: Some("acme".into()), challenge: None, decision: Decision::Deny(reason), assertion: None }
}

fn has(headers: &HeaderMap, name: &str) -> bool {
    headers.contains_key(name)
}

// ---------------------------------------------------------------- server and clients

struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), ServerError>>,
}

impl Server {
    async fn start(gate: Arc<FakeGate>, options: ServerOptions) -> Self {
        logs();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, gate, options, async move {
            let _ = stopped.await;
        }));
        Self { addr, stop: Some(stop), task }
    }

    async fn stop(mut self) -> Result<(), ServerError> {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(20), self.task).await.expect("serve did not return").unwrap()
    }
}

fn options() -> ServerOptions {
    ServerOptions::default()
}

/// One HTTP/1.1 request on a fresh connection.
async fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Response<Bytes> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(conn);
    send(&mut sender, path, headers).await
}

async fn send(sender: &mut hyper::client::conn::http1::SendRequest<Empty<Bytes>>, path: &str, headers: &[(&str, &str)]) -> Response<Bytes> {
    let mut request = Request::get(path).header("host", "ward.test");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    // On a kept-alive connection the previous exchange must be finished first.
    sender.ready().await.unwrap();
    let response = sender.send_request(request.body(Empty::new()).unwrap()).await.unwrap();
    let (parts, body) = response.into_parts();
    Response::from_parts(parts, body.collect().await.unwrap().to_bytes())
}

/// Reads until `needle` appears; `None` when the peer closes or time runs out first.
async fn read_until(stream: &mut TcpStream, needle: &str, within: Duration) -> Option<String> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let mut chunk = [0u8; 4096];
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => seen.extend_from_slice(&chunk[..n]),
            _ => return None,
        }
        let text = String::from_utf8_lossy(&seen).into_owned();
        if text.contains(needle) {
            return Some(text);
        }
    }
}

/// Waits for the server to close the connection; returns what it sent first.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> Option<Vec<u8>> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let mut chunk = [0u8; 4096];
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(seen),
            Ok(Ok(n)) => seen.extend_from_slice(&chunk[..n]),
            Err(_) => return None,
        }
    }
}

async fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

// ---------------------------------------------------------------- logs

static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

/// Everything the `ward` crate logs in this test binary, at every level.
fn logs() -> Arc<Mutex<Vec<u8>>> {
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = buffer.clone();
        let subscriber = tracing_subscriber::fmt().with_env_filter("ward=trace").with_ansi(false).with_writer(move || LogSink(sink.clone())).finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        buffer
    })
    .clone()
}

struct LogSink(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// ---------------------------------------------------------------- status mapping

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_is_200_with_encoded_identity_headers() {
    let server = Server::start(FakeGate::new(|_| allow()), options()).await;
    let response = get(server.addr, "/auth", &[("authorization", "Bearer t")]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers();
    assert_eq!(headers["x-ward-id"], "acme:0123456789abcdef0123456789abcdef");
    assert_eq!(headers["x-ward-provider"], "acme");
    assert_eq!(headers["x-ward-type"], "service");
    assert_eq!(headers["x-ward-scopes"], "orders:read orders:write");
    assert_eq!(headers["x-ward-labels"], "team=pay%2Cments%3D1%25,env=prod%20%C3%A9");
    assert_eq!(headers["cache-control"], "no-store");
    assert!(!has(headers, "www-authenticate") && !has(headers, "x-ward-deny"));
    assert!(response.body().is_empty());
    server.stop().await.unwrap();
}

const STATUS_TABLE: &[(DenyReason, u16)] = &[
    (DenyReason::MissingCredential, 401),
    (DenyReason::MalformedCredential, 401),
    (DenyReason::Oversized, 401),
    (DenyReason::InvalidClaims, 401),
    (DenyReason::Plugin(PluginDeny::MissingCredential), 401),
    (DenyReason::Plugin(PluginDeny::Malformed), 401),
    (DenyReason::Plugin(PluginDeny::BadSignature), 401),
    (DenyReason::Plugin(PluginDeny::Expired), 401),
    (DenyReason::Plugin(PluginDeny::NotYetValid), 401),
    (DenyReason::Plugin(PluginDeny::WrongIssuer), 401),
    (DenyReason::Plugin(PluginDeny::WrongAudience), 401),
    (DenyReason::Plugin(PluginDeny::UnknownKey), 401),
    (DenyReason::Plugin(PluginDeny::Revoked), 401),
    (DenyReason::Plugin(PluginDeny::InsufficientScope), 403),
    (DenyReason::Plugin(PluginDeny::Denied), 403),
    (DenyReason::OverCapacity, 503),
    (DenyReason::PluginUnavailable, 503),
    (DenyReason::PluginsDisabled, 503),
    (DenyReason::KeyMaterialUnavailable, 503),
    (DenyReason::Timeout, 503),
    (DenyReason::FuelExhausted, 503),
    (DenyReason::MemoryLimit, 503),
    (DenyReason::StackOverflow, 503),
    (DenyReason::Trap, 503),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_deny_reason_maps_to_its_status_and_headers() {
    let gate = FakeGate::new(|headers| {
        let case: usize = headers["x-case"].to_str().unwrap().parse().unwrap();
        deny(STATUS_TABLE[case].0)
    });
    let mut opts = options();
    opts.retry_after_secs = 7;
    opts.deny_reason_header = true;
    let server = Server::start(gate, opts).await;
    for (case, (reason, status)) in STATUS_TABLE.iter().enumerate() {
        let response = get(server.addr, "/auth", &[("x-case", &case.to_string())]).await;
        let headers = response.headers();
        assert_eq!(response.status().as_u16(), *status, "{}", reason.code());
        assert_eq!(headers["x-ward-deny"], reason.code());
        assert_eq!(headers["cache-control"], "no-store");
        match status {
            401 => {
                assert_eq!(headers["www-authenticate"], "Bearer realm=\"ward\"", "{}", reason.code());
                assert!(!has(headers, "retry-after"));
            }
            403 => assert!(!has(headers, "www-authenticate") && !has(headers, "retry-after")),
            _ => {
                assert_eq!(headers["retry-after"], "7", "{}", reason.code());
                assert!(!has(headers, "www-authenticate"));
            }
        }
        for identity in ["x-ward-id", "x-ward-provider", "x-ward-type", "x-ward-scopes", "x-ward-labels"] {
            assert!(!has(headers, identity), "{identity} on {}", reason.code());
        }
        let body = std::str::from_utf8(response.body()).unwrap();
        assert!(["unauthorized\n", "forbidden\n", "unavailable\n"].contains(&body), "{body:?}");
    }
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn challenge_uses_the_route_scheme_and_falls_back_to_bearer() {
    let gate = FakeGate::new(|headers| {
        let scheme = headers.get("x-scheme").map(|v| v.to_str().unwrap().into());
        GateDecision { plugin_id: None, challenge: scheme, decision: Decision::Deny(DenyReason::MissingCredential), assertion: None }
    });
    let server = Server::start(gate, options()).await;
    let response = get(server.addr, "/auth", &[("x-scheme", "ApiKey")]).await;
    assert_eq!(response.headers()["www-authenticate"], "ApiKey realm=\"ward\"");
    // A scheme that is not a token would break the challenge's syntax.
    let response = get(server.addr, "/auth", &[("x-scheme", "Bearer realm=\"evil\"")]).await;
    assert_eq!(response.headers()["www-authenticate"], "Bearer realm=\"ward\"");
    // Off by default.
    assert!(!has(response.headers(), "x-ward-deny"));
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_identity_headers_are_neither_reflected_nor_seen_by_the_gate() {
    let gate = FakeGate::new(|headers| if headers.contains_key("authorization") { allow() } else { deny(DenyReason::MissingCredential) });
    let server = Server::start(gate.clone(), options()).await;
    let forged = [
        ("x-ward-id", "forged:admin"),
        ("x-ward-provider", "forged"),
        ("x-ward-type", "user"),
        ("x-ward-scopes", "admin"),
        ("x-ward-labels", "role=admin"),
        ("x-ward-deny", "forged"),
    ];
    let mut with_credential = forged.to_vec();
    with_credential.push(("authorization", "Bearer t"));
    let allowed = get(server.addr, "/auth", &with_credential).await;
    assert_eq!(allowed.status(), StatusCode::OK);
    assert_eq!(allowed.headers()["x-ward-id"], "acme:0123456789abcdef0123456789abcdef");
    assert_eq!(allowed.headers()["x-ward-scopes"], "orders:read orders:write");
    let denied = get(server.addr, "/auth", &forged).await;
    assert_eq!(denied.status(), StatusCode::UNAUTHORIZED);
    for response in [&allowed, &denied] {
        for (name, value) in response.headers() {
            let value = value.to_str().unwrap();
            assert!(!value.contains("forged") && !value.contains("admin"), "{name}: {value}");
        }
        assert_eq!(response.headers().get_all("x-ward-id").iter().count(), usize::from(response.status() == StatusCode::OK));
    }
    for seen in gate.seen.lock().unwrap().iter() {
        assert!(seen.keys().all(|name| !name.as_str().starts_with("x-ward-")), "{seen:?}");
    }
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_identity_that_cannot_be_encoded_is_503_not_a_partial_allow() {
    let gate = FakeGate::new(|_| {
        let mut identity = alice();
        identity.scopes = vec!["a b".into()];
        GateDecision { plugin_id: Some("acme".into()), challenge: None, decision: Decision::Allow(identity), assertion: None }
    });
    let server = Server::start(gate, options()).await;
    let response = get(server.addr, "/auth", &[]).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(!has(response.headers(), "x-ward-id"));
    server.stop().await.unwrap();
}

// ---------------------------------------------------------------- readiness, health, routes

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_ready_is_503_on_auth_and_readyz_while_healthz_stays_200() {
    let gate = FakeGate::new(|_| allow());
    gate.ready.store(false, Ordering::SeqCst);
    let server = Server::start(gate.clone(), options()).await;
    let auth = get(server.addr, "/auth", &[("authorization", "Bearer t")]).await;
    assert_eq!(auth.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(auth.headers()["retry-after"], "1");
    assert_eq!(gate.calls.load(Ordering::SeqCst), 0, "decide must not run before ready");
    assert_eq!(get(server.addr, "/readyz", &[]).await.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(get(server.addr, "/healthz", &[]).await.status(), StatusCode::OK);
    let metrics = get(server.addr, "/metrics", &[]).await;
    let metrics = std::str::from_utf8(metrics.body()).unwrap();
    assert!(metrics.contains("ward_decisions_total{plugin=\"\",outcome=\"unavailable\",reason=\"not-ready\"} 1\n"), "{metrics}");

    gate.ready.store(true, Ordering::SeqCst);
    assert_eq!(get(server.addr, "/readyz", &[]).await.status(), StatusCode::OK);
    assert_eq!(get(server.addr, "/auth", &[]).await.status(), StatusCode::OK);
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_paths_are_404_and_auth_subpaths_are_auth() {
    let server = Server::start(FakeGate::new(|_| allow()), options()).await;
    for path in ["/", "/authx", "/health", "/metrics/x", "/AUTH"] {
        let response = get(server.addr, path, &[]).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(response.body().as_ref(), b"not found\n");
    }
    // Envoy's ext_authz appends the original path to its path_prefix.
    for path in ["/auth/api/orders?x=1", "/auth?rd=/x"] {
        assert_eq!(get(server.addr, path, &[]).await.status(), StatusCode::OK, "{path}");
    }
    server.stop().await.unwrap();
}

// ---------------------------------------------------------------- failures fail closed

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panicking_gate_answers_503_and_the_server_keeps_serving() {
    let gate = FakeGate::new(|headers| {
        if headers.contains_key("x-panic") {
            panic!("fake gate panics on purpose");
        }
        allow()
    });
    let server = Server::start(gate, options()).await;
    for _ in 0..3 {
        let response = get(server.addr, "/auth", &[("x-panic", "1")]).await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.body().as_ref(), b"unavailable\n");
        assert!(!has(response.headers(), "x-ward-id"));
        assert_eq!(get(server.addr, "/auth", &[]).await.status(), StatusCode::OK);
    }
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gate_slower_than_request_timeout_answers_503() {
    let gate = FakeGate::new(|_| {
        std::thread::sleep(Duration::from_millis(800));
        allow()
    });
    let mut opts = options();
    opts.request_timeout = Duration::from_millis(100);
    opts.deny_reason_header = true;
    let server = Server::start(gate, opts).await;
    let started = Instant::now();
    let response = get(server.addr, "/auth", &[]).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["x-ward-deny"], "request-timeout");
    assert!(started.elapsed() < Duration::from_millis(700), "{:?}", started.elapsed());
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decisions_over_the_in_flight_limit_are_over_capacity_at_once() {
    let gate = FakeGate::new(|headers| {
        if headers.contains_key("x-slow") {
            std::thread::sleep(Duration::from_millis(700));
        }
        allow()
    });
    let mut opts = options();
    opts.max_in_flight_decisions = 1;
    opts.deny_reason_header = true;
    let server = Server::start(gate.clone(), opts).await;
    let addr = server.addr;
    let slow = tokio::spawn(async move { get(addr, "/auth", &[("x-slow", "1")]).await });
    wait_for("the slow decision to start", || gate.calls.load(Ordering::SeqCst) == 1).await;
    let started = Instant::now();
    let refused = get(server.addr, "/auth", &[]).await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(refused.headers()["x-ward-deny"], "over-capacity");
    assert!(started.elapsed() < Duration::from_millis(500));
    assert_eq!(slow.await.unwrap().status(), StatusCode::OK);
    assert_eq!(get(server.addr, "/auth", &[]).await.status(), StatusCode::OK);
    server.stop().await.unwrap();
}

// ---------------------------------------------------------------- concurrency

/// One I/O worker: were `decide` run on it, the slow call would hold up everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_slow_decision_does_not_stall_100_fast_requests() {
    let gate = FakeGate::new(|headers| {
        if headers.contains_key("x-slow") {
            std::thread::sleep(Duration::from_secs(2));
        }
        allow()
    });
    let server = Server::start(gate.clone(), options()).await;
    let addr = server.addr;
    let started = Instant::now();
    let slow = tokio::spawn(async move {
        let response = get(addr, "/auth", &[("x-slow", "1")]).await;
        (response.status(), started.elapsed())
    });
    wait_for("the slow decision to start", || gate.calls.load(Ordering::SeqCst) >= 1).await;
    let fast: Vec<_> = (0..100).map(|_| tokio::spawn(async move { get(addr, "/auth", &[("authorization", "Bearer fast")]).await.status() })).collect();
    for request in fast {
        assert_eq!(request.await.unwrap(), StatusCode::OK);
    }
    let fast_done = started.elapsed();
    assert!(fast_done < Duration::from_millis(1500), "100 fast requests took {fast_done:?} beside one slow one");
    assert!(!slow.is_finished(), "the slow request finished before the fast ones");
    let (status, slow_done) = slow.await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert!(slow_done >= Duration::from_secs(2) && slow_done > fast_done);
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_serves_several_requests_on_one_connection() {
    let server = Server::start(FakeGate::new(|_| allow()), options()).await;
    let stream = TcpStream::connect(server.addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(conn);
    for path in ["/auth", "/healthz", "/auth", "/readyz"] {
        assert_eq!(send(&mut sender, path, &[]).await.status(), StatusCode::OK);
    }
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2c_with_prior_knowledge_works_and_idle_h2_connections_are_closed() {
    let gate = FakeGate::new(|_| allow());
    let mut opts = options();
    opts.header_read_timeout = Duration::from_millis(400);
    let server = Server::start(gate, opts).await;
    let stream = TcpStream::connect(server.addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream)).await.unwrap();
    let conn = tokio::spawn(conn);
    for path in ["/auth", "/healthz"] {
        let request = Request::get(format!("http://{}{path}", server.addr))
            .header("authorization", "Bearer t")
            .header("x-ward-id", "forged")
            .body(Empty::<Bytes>::new())
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        assert_eq!(response.version(), Version::HTTP_2);
        assert_eq!(response.status(), StatusCode::OK);
        if path == "/auth" {
            assert_eq!(response.headers()["x-ward-id"], "acme:0123456789abcdef0123456789abcdef");
            assert_eq!(response.headers()["x-ward-type"], "service");
        }
    }
    // No request for header_read_timeout: the server sends GOAWAY and closes.
    tokio::time::timeout(Duration::from_secs(5), conn).await.expect("idle h2 connection was not closed").unwrap().ok();
    server.stop().await.unwrap();
}

// ---------------------------------------------------------------- limits

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_headers_are_rejected_before_the_gate() {
    let gate = FakeGate::new(|_| allow());
    let mut opts = options();
    opts.max_header_bytes = 4096;
    let server = Server::start(gate.clone(), opts).await;
    // Just under the limit is served.
    let fits = "a".repeat(3000);
    assert_eq!(get(server.addr, "/auth", &[("x-pad", &fits)]).await.status(), StatusCode::OK);
    assert_eq!(gate.calls.load(Ordering::SeqCst), 1);
    // Over the limit (complete head), and far over it (buffer never completes a head).
    for size in [6_000, 200_000] {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        let request = format!("GET /auth HTTP/1.1\r\nhost: x\r\nx-pad: {}\r\n\r\n", "a".repeat(size));
        let _ = stream.write_all(request.as_bytes()).await;
        let answer = closed_within(&mut stream, Duration::from_secs(5)).await.expect("connection stayed open");
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 431"), "{size}: {answer}");
    }
    assert_eq!(gate.calls.load(Ordering::SeqCst), 1, "an oversized request reached the gate");
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_head_sent_byte_by_byte_is_cut_off() {
    let gate = FakeGate::new(|_| allow());
    let mut opts = options();
    opts.header_read_timeout = Duration::from_millis(300);
    let server = Server::start(gate.clone(), opts).await;
    // An HTTP/1.1 head, and an HTTP/2 preface, each trickled slower than the timeout allows.
    for trickle in ["GET /auth HTTP/1.1\r\nhost: x\r\nauthorization: Bearer abcdefghijklmnop\r\n\r\n", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"] {
        let stream = TcpStream::connect(server.addr).await.unwrap();
        let (mut reader, mut writer) = stream.into_split();
        let bytes = trickle.as_bytes().to_vec();
        let started = Instant::now();
        let writer = tokio::spawn(async move {
            for byte in bytes {
                if writer.write_all(&[byte]).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
            // Keep the write side open: a FIN would end the connection for another reason.
            tokio::time::sleep(Duration::from_secs(30)).await;
        });
        let mut sink = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), reader.read_to_end(&mut sink)).await;
        let took = started.elapsed();
        assert!(read.is_ok(), "{trickle:?}: connection still open after 5 s");
        assert!(took >= Duration::from_millis(250) && took < Duration::from_millis(2000), "{trickle:?}: cut after {took:?}");
        let sink = String::from_utf8_lossy(&sink);
        assert!(!sink.contains(" 200 "), "{sink}");
        writer.abort();
    }
    assert_eq!(gate.calls.load(Ordering::SeqCst), 0);
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_connection_is_closed_after_the_header_timeout() {
    let mut opts = options();
    opts.header_read_timeout = Duration::from_millis(300);
    let server = Server::start(FakeGate::new(|_| allow()), opts).await;
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    let started = Instant::now();
    assert!(closed_within(&mut silent, Duration::from_secs(5)).await.is_some(), "silent connection kept open");
    assert!(started.elapsed() < Duration::from_secs(2));
    // A keep-alive connection left idle after a response is closed the same way.
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n").await.unwrap();
    assert!(read_until(&mut idle, "ok\n", Duration::from_secs(5)).await.is_some());
    assert!(closed_within(&mut idle, Duration::from_secs(5)).await.is_some(), "idle connection kept open");
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_max_connections_new_clients_wait_for_a_free_slot() {
    let mut opts = options();
    opts.max_connections = 2;
    let server = Server::start(FakeGate::new(|_| allow()), opts).await;
    let request = b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n";
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream.write_all(request).await.unwrap();
        assert!(read_until(&mut stream, "ok\n", Duration::from_secs(5)).await.is_some());
        held.push(stream);
    }
    // The third connects (the kernel's backlog) but is not served while both slots are held.
    let mut third = TcpStream::connect(server.addr).await.unwrap();
    third.write_all(request).await.unwrap();
    assert!(read_until(&mut third, "ok\n", Duration::from_millis(400)).await.is_none(), "served beyond max_connections");
    drop(held.remove(0));
    assert!(read_until(&mut third, "ok\n", Duration::from_secs(5)).await.is_some(), "not served after a slot freed");
    let metrics = get_while_held(&mut held[0]).await;
    assert!(metrics.contains("ward_http_connections_open 2\n"), "{metrics}");
    drop(held);
    server.stop().await.unwrap();
}

/// Reads /metrics over a connection that is already open (no third slot needed).
async fn get_while_held(stream: &mut TcpStream) -> String {
    stream.write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n").await.unwrap();
    read_until(stream, FAKE_GATE_LAST_LINE, Duration::from_secs(5)).await.unwrap()
}

/// The last line of `/metrics` with a [`FakeGate`]: the gate's metrics come last.
const FAKE_GATE_LAST_LINE: &str = "ward_audit_unrecorded_total{plugin=\"flaky\",event=\"plugin.breaker.opened\"} 2\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_body_is_never_waited_for() {
    let server = Server::start(FakeGate::new(|_| allow()), options()).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(b"POST /auth HTTP/1.1\r\nhost: x\r\ncontent-length: 100000000\r\n\r\npartial").await.unwrap();
    let answer = read_until(&mut stream, "\r\n\r\n", Duration::from_secs(5)).await.expect("no answer without the body");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    server.stop().await.unwrap();
}

// ---------------------------------------------------------------- metrics and logs

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_decisions_and_never_carry_request_content() {
    const MARKER: &str = "MARKER-9c41-credential";
    let logs = logs();
    let gate = FakeGate::new(|headers| if headers["authorization"] == "Bearer good" { allow() } else { deny(DenyReason::Plugin(PluginDeny::Expired)) });
    let server = Server::start(gate, options()).await;
    let cookie = format!("session={MARKER}");
    let bearer = format!("Bearer {MARKER}");
    for _ in 0..2 {
        let response = get(server.addr, &format!("/auth/{MARKER}?q={MARKER}"), &[("authorization", "Bearer good"), ("cookie", &cookie)]).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let denied = get(server.addr, "/auth", &[("authorization", &bearer), ("x-ward-id", MARKER), ("user-agent", MARKER)]).await;
    assert_eq!(denied.status(), StatusCode::UNAUTHORIZED);
    for (_, value) in denied.headers() {
        assert!(!value.to_str().unwrap().contains(MARKER));
    }

    let response = get(server.addr, "/metrics", &[("authorization", &bearer)]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let text = std::str::from_utf8(response.body()).unwrap();
    for line in [
        "ward_decisions_total{plugin=\"acme\",outcome=\"allow\",reason=\"\"} 2\n",
        "ward_decisions_total{plugin=\"acme\",outcome=\"deny\",reason=\"plugin:expired\"} 1\n",
        "# TYPE ward_auth_duration_seconds histogram\n",
        "ward_auth_duration_seconds_bucket{le=\"+Inf\"} 3\n",
        "ward_auth_duration_seconds_count 3\n",
        "ward_auth_in_flight 0\n",
        "ward_http_requests_total{endpoint=\"auth\"} 3\n",
        "ward_http_requests_total{endpoint=\"metrics\"} 1\n",
        "ward_plugin_state{plugin=\"acme\",state=\"active\"} 1\n",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    assert!(text.find("ward_decisions_total").unwrap() < text.find("ward_plugin_state").unwrap(), "gate metrics come last");
    assert!(text.ends_with(FAKE_GATE_LAST_LINE), "gate metrics come last:\n{text}");
    let families = exposition::parse(text).unwrap_or_else(|err| panic!("{err} in\n{text}"));
    for family in ["ward_build_info", "ward_decisions_total", "ward_plugin_state"] {
        assert!(families.contains_key(family), "no {family} in\n{text}");
    }
    assert!(!text.contains(MARKER), "a request value reached the metrics:\n{text}");
    server.stop().await.unwrap();

    let logged = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(logged.contains("plugin:expired") && logged.contains("listening"), "logs were not captured:\n{logged}");
    assert!(!logged.contains(MARKER), "a request value reached the logs:\n{logged}");
}

/// Every line of `/metrics` is one Prometheus reads, each family's HELP and
/// TYPE come once, and the page has `ward_build_info`, the process families
/// Prometheus's clients export (Linux), and the gate's families as the
/// server renders its stats.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_page_parses_as_prometheus_text_with_build_process_and_gate_families() {
    let gate = FakeGate::new(|headers| if headers.contains_key("authorization") { allow() } else { deny(DenyReason::MissingCredential) });
    let server = Server::start(gate, options()).await;
    assert_eq!(get(server.addr, "/auth", &[("authorization", "Bearer t")]).await.status(), StatusCode::OK);
    assert_eq!(get(server.addr, "/auth", &[]).await.status(), StatusCode::UNAUTHORIZED);
    let response = get(server.addr, "/metrics", &[]).await;
    let text = std::str::from_utf8(response.body()).unwrap();
    let families = exposition::parse(text).unwrap_or_else(|err| panic!("{err} in\n{text}"));
    let version = format!("ward_build_info{{version=\"{}\"}} 1\n", env!("CARGO_PKG_VERSION"));
    assert!(text.contains(&version), "no {version:?} in\n{text}");
    if cfg!(target_os = "linux") {
        for family in exposition::PROCESS_FAMILIES {
            let values = families.get(family).unwrap_or_else(|| panic!("no {family} in\n{text}"));
            assert!(values.len() == 1 && values.iter().all(|v| *v >= 0.0), "{family}: {values:?}");
        }
    }
    for line in [
        "ward_plugin_state{plugin=\"off\",state=\"disabled\"} 1\n",
        "ward_plugin_state{plugin=\"old\",state=\"revoked\"} 1\n",
        "ward_breaker_open{plugin=\"acme\"} 0\n",
        "ward_breaker_open{plugin=\"flaky\"} 1\n",
        "ward_reloads_total{result=\"applied\"} 0\n",
        "ward_audit_dropped_total 0\n",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    assert_eq!(families.get("ward_breaker_open").map(Vec::len), Some(2), "disabled and revoked plugins have no breaker");
    server.stop().await.unwrap();
}

/// The checker above is not vacuous: it refuses what Prometheus would.
#[test]
fn the_exposition_checker_refuses_what_prometheus_would() {
    let good = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"q\\\"\\n\"} 1\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 0.5\nh_count 1\n";
    assert_eq!(exposition::parse(good).map(|f| f.len()), Ok(2));
    for bad in [
        "a 1",
        "# TYPE a counter\n# TYPE a counter\na 1\n",
        "# HELP a A.\n# HELP a A.\na 1\n",
        "a 1\n# TYPE a counter\n",
        "a 1\nb 1\na 2\n",
        "a{x=\"1\"\n",
        "a{x=\"\\t\"} 1\n",
        "a{x=\"1\",x=\"2\"} 1\n",
        "a{1x=\"1\"} 1\n",
        "a one\n",
        "a 1 1700000000 extra\n",
        "# TYPE a counter\na_bucket{le=\"1\"} 1\n",
        "# TYPE h histogram\nh_bucket 1\n",
        "2a 1\n",
    ] {
        assert!(exposition::parse(bad).is_err(), "accepted {bad:?}");
    }
}

// ---------------------------------------------------------------- shutdown

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_drains_in_flight_requests_then_shuts_the_gate() {
    let gate = FakeGate::new(|headers| {
        if headers.contains_key("x-slow") {
            std::thread::sleep(Duration::from_millis(600));
        }
        allow()
    });
    let server = Server::start(gate.clone(), options()).await;
    let addr = server.addr;
    // An idle keep-alive connection must not hold the drain up.
    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n").await.unwrap();
    assert!(read_until(&mut idle, "ok\n", Duration::from_secs(5)).await.is_some());
    let in_flight = tokio::spawn(async move { get(addr, "/auth", &[("x-slow", "1")]).await });
    wait_for("the slow decision to start", || gate.calls.load(Ordering::SeqCst) == 1).await;

    let started = Instant::now();
    server.stop().await.unwrap();
    let took = started.elapsed();
    let response = in_flight.await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "the in-flight request was not drained");
    assert!(response.headers().contains_key("x-ward-id"));
    assert!(took < Duration::from_secs(5), "drain took {took:?}");
    assert_eq!(gate.shutdowns.load(Ordering::SeqCst), 1);
    assert_eq!(gate.finished_at_shutdown.load(Ordering::SeqCst), 1, "gate.shutdown ran before the decision finished");
    assert!(closed_within(&mut idle, Duration::from_secs(1)).await.is_some(), "idle connection left open");
    assert!(TcpStream::connect(addr).await.is_err(), "still accepting after shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_drain_deadline_bounds_shutdown() {
    let gate = FakeGate::new(|_| {
        std::thread::sleep(Duration::from_millis(1500));
        allow()
    });
    let mut opts = options();
    opts.drain_timeout = Duration::from_millis(200);
    let server = Server::start(gate.clone(), opts).await;
    let addr = server.addr;
    let in_flight = tokio::spawn(async move {
        let stream = TcpStream::connect(addr).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
        tokio::spawn(conn);
        let request = Request::get("/auth").header("host", "x").body(Empty::<Bytes>::new()).unwrap();
        sender.send_request(request).await.map(|r| r.status())
    });
    wait_for("the decision to start", || gate.calls.load(Ordering::SeqCst) == 1).await;
    let started = Instant::now();
    server.stop().await.unwrap();
    assert!(started.elapsed() < Duration::from_millis(1200), "shutdown waited {:?}", started.elapsed());
    assert_eq!(gate.shutdowns.load(Ordering::SeqCst), 1);
    assert!(in_flight.await.unwrap().is_err(), "a request past the drain deadline got an answer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_options_are_refused_with_a_code() {
    let gate = FakeGate::new(|_| allow());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut opts = options();
    opts.max_header_bytes = 10;
    let err = serve(listener, gate.clone(), opts, std::future::pending()).await.unwrap_err();
    assert_eq!(err.code(), "server-invalid-option");
    assert!(err.to_string().contains("max_header_bytes"), "{err}");
    let mut opts = options();
    opts.max_connections = 0;
    assert!(ward::server::run(gate, opts).is_err());
}

// ---------------------------------------------------------------- signals

/// Runs `ward::server::run` (its own runtime, real signal handlers) in a
/// thread and signals this process. The handlers stay registered for the rest
/// of the test binary, so later signals cannot kill it.
#[test]
fn run_reloads_on_sighup_and_stops_on_sigterm() {
    logs();
    let gate = FakeGate::new(|_| allow());
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut opts = options();
    opts.listen = addr;
    let runner = {
        let gate = gate.clone();
        std::thread::spawn(move || ward::server::run(gate, opts))
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(!runner.is_finished(), "run ended early: {:?}", runner.join());
        assert!(Instant::now() < deadline, "run never listened");
        std::thread::sleep(Duration::from_millis(10));
    }
    let signal = |name: &str| {
        let status = std::process::Command::new("sh").arg("-c").arg(format!("kill -{name} {}", std::process::id())).status().unwrap();
        assert!(status.success());
    };
    let wait = |what: &str, counter: &AtomicUsize, want: usize| {
        while counter.load(Ordering::SeqCst) < want {
            assert!(Instant::now() < deadline, "{what}: {} of {want}", counter.load(Ordering::SeqCst));
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    signal("HUP");
    wait("SIGHUP did not revoke", &gate.revokes, 1);
    wait("SIGHUP did not reload", &gate.reloads, 1);

    // A reload that hangs holds up neither the next SIGHUPs' revocations nor
    // the signal loop; the SIGHUPs meanwhile make one more reload, after it.
    let (release, held) = std::sync::mpsc::channel();
    *gate.hold_reloads.lock().unwrap() = Some(held);
    signal("HUP");
    wait("the held reload did not start", &gate.reloads, 2);
    signal("HUP");
    wait("a revocation waited for the held reload", &gate.revokes, 3);
    signal("HUP");
    wait("a revocation waited for the held reload", &gate.revokes, 4);
    assert_eq!(gate.reloads.load(Ordering::SeqCst), 2, "a second reload ran beside the held one");
    release.send(()).unwrap();
    wait("the queued reload did not run", &gate.reloads, 3);
    release.send(()).unwrap();
    *gate.hold_reloads.lock().unwrap() = None;
    // A refused reload is logged and the server keeps serving.
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").unwrap();
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut stream, &mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    signal("TERM");
    while !runner.is_finished() {
        assert!(Instant::now() < deadline, "SIGTERM did not stop run");
        std::thread::sleep(Duration::from_millis(10));
    }
    runner.join().unwrap().unwrap();
    assert_eq!(gate.shutdowns.load(Ordering::SeqCst), 1);
    assert_eq!(gate.reloads.load(Ordering::SeqCst), 3, "the SIGHUPs during the held reload did not coalesce");
    let logged = String::from_utf8_lossy(&logs().lock().unwrap()).into_owned();
    assert!(logged.contains("config-invalid"), "the reload result code was not logged");
}
