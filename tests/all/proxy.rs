//! What the reverse-proxy end-to-end tests (`nginx.rs`, `caddy.rs`) share:
//! ward served in-process (`Gateway::start` + `ward::server::serve`) in front
//! of an upstream that echoes the identity headers it receives, the proxy's
//! documented block read out of `docs/deployment.md`, the proxy run as the
//! current user from a temporary directory on a loopback port picked at run
//! time, a raw HTTP/1.1 client, and a ward that is down or frozen.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderValue};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::TokioIo;
use serde_json::json;
use sha2::Sha256;
use tempfile::TempDir;
use tokio::sync::oneshot;
use ward::lifecycle::Gateway;
use ward::sandbox::Decision;
use ward::server::{ListenerTls, ServerError, ServerOptions, serve};

use crate::site::Site;

/// The example-token plugin's secret in these tests.
pub const SECRET: &str = "proxy-e2e-secret";
/// Every wait: a noisy 2-core VM running builds beside the tests.
const PATIENCE: Duration = Duration::from_secs(30);

/// `demo.<user>.<base64url(HMAC-SHA256(secret, user))>`, as
/// `plugins/example-token/README.md` defines it.
pub fn example_token(secret: &str, user: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(user.as_bytes());
    format!("demo.{user}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

/// `name` from `PATH` or the sbin directories (Debian puts nginx there).
pub fn binary(name: &str) -> PathBuf {
    let found = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/sbin")])
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file());
    match found {
        Some(path) => path,
        None => {
            panic!("{name} is not installed (its end-to-end test needs it): run `bash .ci/setup`")
        }
    }
}

// ---------------------------------------------------------------- the documented block

/// The first ```` ```fence ```` block after `marker` in `docs/deployment.md`,
/// verbatim.
pub fn documented_block(marker: &str, fence: &str) -> String {
    let doc_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/deployment.md");
    let doc = std::fs::read_to_string(&doc_path).unwrap();
    let at = doc.find(marker).unwrap_or_else(|| panic!("docs/deployment.md lost its marker `{marker}`"));
    let rest = &doc[at..];
    let open = format!("```{fence}\n");
    let start = rest.find(&open).unwrap_or_else(|| panic!("no {fence} block after `{marker}`")) + open.len();
    let end = rest[start..].find("\n```").unwrap_or_else(|| panic!("the {fence} block after `{marker}` is not closed"));
    rest[start..start + end].to_owned()
}

/// `block` with each `(placeholder, value)` replaced; each placeholder must
/// appear exactly once, so an edit of the doc cannot silently test less.
pub fn substitute(block: &str, replacements: &[(&str, &str)]) -> String {
    replacements.iter().fold(block.to_owned(), |block, (placeholder, value)| {
        assert_eq!(block.matches(placeholder).count(), 1, "docs/deployment.md's block must name `{placeholder}` exactly once:\n{block}");
        block.replace(placeholder, value)
    })
}

/// The whole seconds of the `directive 10s` line in `block`: the tests bound
/// their waits by what the doc promises rather than a copy of the number.
pub fn documented_seconds(block: &str, directive: &str) -> Duration {
    let value = block
        .lines()
        .filter_map(|line| line.trim().strip_prefix(directive))
        .find_map(|rest| rest.trim().trim_end_matches(';').strip_suffix('s').and_then(|n| n.parse().ok()))
        .unwrap_or_else(|| panic!("no `{directive} <N>s` in the documented block:\n{block}"));
    Duration::from_secs(value)
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap().local_addr().unwrap().port()
}

// ---------------------------------------------------------------- ward and the upstream

/// ward (the example-token plugin on `Authorization: Bearer`, the hostile
/// guest on `X-Api-Key`) served in-process, and the echoing upstream.
pub struct Backend {
    pub site: Site,
    pub gateway: Arc<Gateway>,
    pub runtime: tokio::runtime::Runtime,
    /// Requests that reached the upstream.
    pub hits: Arc<AtomicUsize>,
    pub app: SocketAddr,
    pub ward: SocketAddr,
    /// alice's good token, and the id ward itself gives her.
    pub good: String,
    pub alice: String,
    serving: Option<Serving>,
}

/// ward's serve task and the signal that stops it.
struct Serving {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), ServerError>>,
}

impl Backend {
    pub fn start() -> Self {
        Self::start_with(|_, _| {})
    }

    /// The same, `edit` changing the config first (route policy, the TLS
    /// variant's `server.tls`); it may write files into the site. ward
    /// serves its `server.tls` as `ward serve` would.
    pub fn start_with(edit: impl FnOnce(&Site, &mut serde_json::Value)) -> Self {
        let site = Site::new();
        site.add_plugin("example-token", &std::fs::read(ward_tests::EXAMPLE_TOKEN).unwrap());
        site.add_plugin("hostile", &std::fs::read(ward_tests::HOSTILE).unwrap());
        let mut example = Site::plugin("example-token", json!({ "header": "Authorization", "scheme": "Bearer" }));
        example["settings"] = json!({ "secret": SECRET, "scopes": "orders:read orders:write", "team": "payments" });
        // A bare-key route for the hostile guest. `loop` spins until this
        // deadline: the fuel is set so high that the deadline comes first.
        let mut hostile = Site::plugin("hostile", json!({ "header": "X-Api-Key" }));
        hostile["limits"] = json!({ "timeoutMs": 2000, "fuel": 10_000_000_000_000u64 });
        // Faults on purpose must not open the breaker between checks.
        hostile["breaker"] = json!({ "failures": 1000 });
        let config = site.config(vec![example, hostile], |config| edit(&site, config));
        let gateway = Arc::new(site.gateway(&config).unwrap());
        let tls = site.load(&config).server.tls.map(|files| ListenerTls::new(Box::new(files)).unwrap());

        let good = example_token(SECRET, "alice");
        let mut alice_headers = HeaderMap::new();
        alice_headers.insert("authorization", HeaderValue::from_str(&format!("Bearer {good}")).unwrap());
        // A plain read of an order, which every route policy of these tests allows.
        alice_headers.insert("x-original-method", HeaderValue::from_static("GET"));
        alice_headers.insert("x-original-uri", HeaderValue::from_static("/orders/1"));
        let Decision::Allow(alice) = gateway.authenticate(&alice_headers, 0).decision else { panic!("the example plugin denied a good token") };

        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let app = runtime.block_on(start_upstream(hits.clone()));
        let listener = runtime.block_on(tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))).unwrap();
        let ward = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = runtime.spawn(serve(listener, gateway.clone(), ServerOptions { tls, ..ServerOptions::default() }, async move {
            let _ = stopped.await;
        }));
        Self { site, gateway, runtime, hits, app, ward, good, alice: alice.id, serving: Some(Serving { stop, task }) }
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// ward drains, closes its kept-alive connections and its port: "ward
    /// down", connections to it are refused.
    pub fn stop_ward(&mut self) {
        let serving = self.serving.take().expect("ward is already stopped");
        serving.stop.send(()).unwrap();
        self.runtime.block_on(serving.task).unwrap().unwrap();
    }

    /// After [`Backend::stop_ward`]: ward's port bound and listening, never
    /// accepting nor answering. This is exactly what a SIGSTOPped (or
    /// otherwise hung) ward looks like on the network: the kernel completes
    /// the TCP handshake into the listen backlog and buffers what the proxy
    /// sends, and no byte ever comes back. Keep the listener alive for as
    /// long as ward is to stay frozen.
    pub fn freeze_ward(&self) -> TcpListener {
        assert!(self.serving.is_none(), "stop ward before freezing its port");
        // std sets SO_REUSEADDR, so ward's TIME_WAIT connections do not block this.
        TcpListener::bind(self.ward).unwrap_or_else(|e| panic!("rebinding ward's port {} to freeze it: {e}", self.ward))
    }
}

/// Answers 200 with every `x-ward-*` header it received, one `name: value`
/// line each, and counts the requests that reached it.
async fn start_upstream(hits: Arc<AtomicUsize>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let hits = hits.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request: http::Request<Incoming>| {
                    hits.fetch_add(1, Ordering::SeqCst);
                    let mut echo = format!("path: {}\n", request.uri().path());
                    for (name, value) in request.headers() {
                        if name.as_str().starts_with("x-ward-") {
                            echo.push_str(&format!("{name}: {}\n", String::from_utf8_lossy(value.as_bytes())));
                        }
                    }
                    async move { Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(Bytes::from(echo)))) }
                });
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    addr
}

// ---------------------------------------------------------------- the proxy process

/// A proxy process running from its own temporary directory, its stdout and
/// stderr in `error.log` there.
pub struct Proxy {
    name: String,
    child: Child,
    pub port: u16,
    dir: TempDir,
}

impl Proxy {
    /// `command(dir, port)` writes the proxy's config into `dir` and returns
    /// the command that serves it on `127.0.0.1:port`. A port picked now may
    /// be taken before the proxy binds it: then it is tried again.
    pub fn start(name: &str, mut command: impl FnMut(&Path, u16) -> Command) -> Self {
        for _ in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            let port = free_port();
            let log = std::fs::File::create(dir.path().join("error.log")).unwrap();
            let child = command(dir.path(), port)
                .current_dir(dir.path())
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("starting {name}: {e}"));
            let mut proxy = Self { name: name.to_owned(), child, port, dir };
            match proxy.wait_listening() {
                Ok(()) => return proxy,
                Err(log) if log.to_lowercase().contains("address already in use") => continue,
                Err(log) => panic!("{name} did not start:\n{log}"),
            }
        }
        panic!("{name} could not bind a free loopback port in 5 tries");
    }

    fn wait_listening(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Err(format!("exited with {status}:\n{}", self.log()));
            }
            if TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!("not listening after {PATIENCE:?}:\n{}", self.log()))
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// An assertion's message: what was asked, the answer, and the log.
    pub fn context(&self, what: &str, answer: &Answer) -> String {
        format!("{what}: {} {:?}\n{}\n{} log:\n{}", answer.status, answer.headers, answer.body, self.name, self.log())
    }

    /// One GET through this proxy.
    pub fn get(&self, path: &str, headers: &[(&str, &str)]) -> Answer {
        get(self.port, path, headers)
    }
}

impl Drop for Proxy {
    /// SIGTERM lets nginx's master stop its workers (a SIGKILL would orphan
    /// them with the port still open) and Caddy stop gracefully; SIGKILL only
    /// if that does not happen.
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------- the client

pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The upstream's echo: every `x-ward-*` line it received.
    pub fn upstream_saw(&self) -> Vec<(String, String)> {
        self.body
            .lines()
            .filter_map(|line| line.split_once(':'))
            .filter(|(name, _)| name.starts_with("x-ward-"))
            .map(|(n, v)| (n.to_owned(), v.trim_start().to_owned()))
            .collect()
    }

    pub fn upstream_values(&self, name: &str) -> Vec<String> {
        self.upstream_saw().into_iter().filter(|(n, _)| n == name).map(|(_, v)| v).collect()
    }
}

/// One HTTP/1.1 request for `Host: app.test` with `Connection: close`, read
/// to the end.
pub fn get(port: u16, path: &str, headers: &[(&str, &str)]) -> Answer {
    try_get(port, path, headers, PATIENCE).unwrap_or_else(|e| panic!("GET {path} through port {port}: {e}"))
}

/// The same, `Err` when no whole answer came within `wait`.
pub fn try_get(port: u16, path: &str, headers: &[(&str, &str)], wait: Duration) -> std::io::Result<Answer> {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port))?;
    stream.set_read_timeout(Some(wait))?;
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no response head: {text:?}"));
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status = status_line.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers = lines.filter_map(|l| l.split_once(':')).map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned())).collect();
    Ok(Answer { status, headers, body: body.to_owned() })
}
