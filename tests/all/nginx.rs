//! ward behind a real nginx: the `auth_request` block of `docs/deployment.md`,
//! read out of that file, in front of an upstream that echoes the identity
//! headers it receives, with ward served in-process (`Gateway::start` +
//! `ward::server::serve`). Everything listens on loopback ports picked at run
//! time; nginx runs without root from a temporary directory.
//!
//! Checks: an allow reaches the upstream with ward's identity and never the
//! client's forged `X-Ward-*`; 401 with `WWW-Authenticate`; 403; 503 for a
//! plugin that spins to its deadline and for one that traps; and with ward
//! stopped nginx fails closed. No deny ever reaches the upstream.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
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
use ward::sandbox::Decision;
use ward::server::{ServerOptions, serve};

use crate::site::Site;

const SECRET: &str = "nginx-e2e-secret";
/// The three addresses the documented block names; the test replaces them.
const DOC_WARD: &str = "127.0.0.1:8181";
const DOC_APP: &str = "127.0.0.1:8080";
const DOC_LISTEN: &str = "listen 80;";
/// Every wait in this file: a noisy 2-core VM running builds beside the tests.
const PATIENCE: Duration = Duration::from_secs(30);

/// `demo.<user>.<base64url(HMAC-SHA256(secret, user))>`, as
/// `plugins/example-token/README.md` defines it.
fn example_token(secret: &str, user: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(user.as_bytes());
    format!("demo.{user}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

// ---------------------------------------------------------------- nginx

fn nginx_binary() -> PathBuf {
    let found = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/sbin")])
        .map(|dir| dir.join("nginx"))
        .find(|candidate| candidate.is_file());
    match found {
        Some(path) => path,
        None => panic!("nginx is not installed (the end-to-end test needs it): run `bash .ci/setup`"),
    }
}

/// The block `docs/deployment.md` marks as tested, verbatim.
fn documented_block() -> String {
    let doc_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/deployment.md");
    let doc = std::fs::read_to_string(&doc_path).unwrap();
    let marker = doc.find("<!-- tested: tests/all/nginx.rs").expect("docs/deployment.md lost its tested-block marker");
    let rest = &doc[marker..];
    let start = rest.find("```nginx\n").expect("no nginx block after the marker") + "```nginx\n".len();
    let end = rest[start..].find("\n```").expect("the nginx block is not closed");
    rest[start..start + end].to_owned()
}

/// The documented block with this run's ports, inside the minimal main
/// config that lets nginx run as any user from `dir`.
fn nginx_config(dir: &Path, listen: u16, ward: SocketAddr, app: SocketAddr) -> String {
    let block = documented_block();
    for placeholder in [DOC_WARD, DOC_APP, DOC_LISTEN] {
        assert_eq!(block.matches(placeholder).count(), 1, "docs/deployment.md's nginx block must name `{placeholder}` exactly once");
    }
    let block = block
        .replace(DOC_WARD, &ward.to_string())
        .replace(DOC_APP, &app.to_string())
        .replace(DOC_LISTEN, &format!("listen 127.0.0.1:{listen};"));
    let d = dir.display();
    format!(
        "worker_processes 1;\n\
         events {{ worker_connections 256; }}\n\
         http {{\n\
         access_log {d}/access.log;\n\
         client_body_temp_path {d}/client_body;\n\
         proxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fastcgi;\n\
         uwsgi_temp_path {d}/uwsgi;\n\
         scgi_temp_path {d}/scgi;\n\
         {block}\n\
         }}\n"
    )
}

struct Nginx {
    child: Child,
    port: u16,
    dir: TempDir,
}

impl Nginx {
    fn start(ward: SocketAddr, app: SocketAddr) -> Self {
        let binary = nginx_binary();
        // A port picked now may be taken before nginx binds it: try again.
        for _ in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            let port = free_port();
            let conf = dir.path().join("nginx.conf");
            std::fs::write(&conf, nginx_config(dir.path(), port, ward, app)).unwrap();
            let log = std::fs::File::create(dir.path().join("error.log")).unwrap();
            let globals = format!("daemon off; pid {}/nginx.pid;", dir.path().display());
            let child = Command::new(&binary)
                .arg("-p")
                .arg(dir.path())
                .arg("-c")
                .arg(&conf)
                .args(["-e", "stderr", "-g", &globals])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()));
            let mut nginx = Self { child, port, dir };
            match nginx.wait_listening() {
                Ok(()) => return nginx,
                Err(log) if log.contains("Address already in use") => continue,
                Err(log) => panic!("nginx did not start:\n{log}"),
            }
        }
        panic!("nginx could not bind a free loopback port in 5 tries");
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

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    /// SIGTERM lets the master stop its workers (a SIGKILL would orphan them
    /// with the port still open); SIGKILL only if that does not happen.
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

fn free_port() -> u16 {
    std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap().local_addr().unwrap().port()
}

// ---------------------------------------------------------------- upstream

/// Answers 200 with every `x-ward-*` header it received, one `name: value`
/// line each, and counts the requests that reached it.
async fn start_upstream(hits: Arc<AtomicUsize>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
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

// ---------------------------------------------------------------- client

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The upstream's echo: every `x-ward-*` line it received.
    fn upstream_saw(&self) -> Vec<(String, String)> {
        self.body
            .lines()
            .filter_map(|line| line.split_once(": "))
            .filter(|(name, _)| name.starts_with("x-ward-"))
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect()
    }

    fn upstream_values(&self, name: &str) -> Vec<String> {
        self.upstream_saw().into_iter().filter(|(n, _)| n == name).map(|(_, v)| v).collect()
    }
}

/// One HTTP/1.1 request with `Connection: close`, read to the end.
fn get(port: u16, path: &str, headers: &[(&str, &str)]) -> Answer {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no response head: {text:?}"));
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status = status_line.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers = lines.filter_map(|l| l.split_once(':')).map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned())).collect();
    Answer { status, headers, body: body.to_owned() }
}

// ---------------------------------------------------------------- the test

#[test]
fn nginx_auth_request_forwards_only_ward_identities_and_fails_closed() {
    // Before anything slow, so a machine without nginx fails at once.
    nginx_binary();
    let site = Site::new();
    site.add_plugin("example-token", &std::fs::read(ward_tests::EXAMPLE_TOKEN).unwrap());
    site.add_plugin("hostile", &std::fs::read(ward_tests::HOSTILE).unwrap());
    let mut example = Site::plugin("example-token", json!({ "header": "Authorization", "scheme": "Bearer" }));
    example["settings"] = json!({ "secret": SECRET, "scopes": "orders:read orders:write", "team": "payments" });
    // A bare-key route for the hostile guest. `loop` spins until this
    // deadline: the fuel is set so high that the deadline comes first.
    let mut hostile = Site::plugin("hostile", json!({ "header": "X-Api-Key" }));
    hostile["limits"] = json!({ "timeoutMs": 2000, "fuel": 10_000_000_000_000u64 });
    // Faults on purpose below must not open the breaker between checks.
    hostile["breaker"] = json!({ "failures": 1000 });
    let config = site.config(vec![example, hostile], |_| {});
    let gateway = Arc::new(site.gateway(&config).unwrap());

    let good = example_token(SECRET, "alice");
    let forged = format!("demo.alice.{}", example_token(SECRET, "mallory").rsplit('.').next().unwrap());
    // What ward itself says alice is: the id the upstream must see.
    let mut alice_headers = HeaderMap::new();
    alice_headers.insert("authorization", HeaderValue::from_str(&format!("Bearer {good}")).unwrap());
    let Decision::Allow(alice) = gateway.authenticate(&alice_headers, 0).decision else { panic!("the example plugin denied a good token") };

    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let app = runtime.block_on(start_upstream(hits.clone()));
    let listener = runtime.block_on(tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))).unwrap();
    let ward_addr = listener.local_addr().unwrap();
    let (stop_ward, stopped) = oneshot::channel::<()>();
    let ward_task = runtime.spawn(serve(listener, gateway.clone(), ServerOptions::default(), async move {
        let _ = stopped.await;
    }));
    let nginx = Nginx::start(ward_addr, app);
    let port = nginx.port;
    let context = |what: &str, answer: &Answer| format!("{what}: {} {:?}\n{}\nnginx log:\n{}", answer.status, answer.headers, answer.body, nginx.log());

    // Allow: the upstream gets ward's identity, and only ward's, even when
    // the client forges every identity header (twice, in two spellings).
    let before = hits.load(Ordering::SeqCst);
    let answer = get(port, "/orders/42", &[
        ("Authorization", &format!("Bearer {good}")),
        ("X-Ward-Id", "example-token:forged"),
        ("x-ward-id", "admin"),
        ("X-Ward-Provider", "forged"),
        ("X-Ward-Type", "service"),
        ("X-Ward-Scopes", "admin:all"),
        ("X-Ward-Labels", "team=admins"),
    ]);
    assert_eq!(answer.status, 200, "{}", context("allow", &answer));
    assert_eq!(hits.load(Ordering::SeqCst), before + 1);
    assert_eq!(answer.upstream_values("x-ward-id"), vec![alice.id.clone()], "{}", context("allow", &answer));
    assert_eq!(answer.upstream_values("x-ward-provider"), vec!["example-token"]);
    assert_eq!(answer.upstream_values("x-ward-type"), vec!["user"]);
    assert_eq!(answer.upstream_values("x-ward-scopes"), vec!["orders:read orders:write"]);
    assert_eq!(answer.upstream_values("x-ward-labels"), vec!["team=payments"]);
    assert!(answer.body.starts_with("path: /orders/42\n"), "{}", answer.body);
    for forged_value in ["forged", "admin", "service", "admins"] {
        assert!(!answer.body.contains(forged_value), "a client-sent value reached the upstream: {}", answer.body);
    }

    // An identity without scopes or labels: ward's empty values send nothing,
    // and the client's forged ones are still dropped.
    let answer = get(port, "/", &[("X-Api-Key", "ok:bob"), ("X-Ward-Scopes", "admin:all"), ("X-Ward-Labels", "role=admin")]);
    assert_eq!(answer.status, 200, "{}", context("hostile allow", &answer));
    assert_eq!(answer.upstream_values("x-ward-provider"), vec!["hostile"]);
    assert_eq!(answer.upstream_values("x-ward-id").len(), 1);
    assert!(answer.upstream_values("x-ward-id")[0].starts_with("hostile:"));
    assert!(!answer.body.contains("admin"), "a client-sent value reached the upstream: {}", answer.body);

    let after_allows = hits.load(Ordering::SeqCst);

    // 401: ward's challenge reaches the client through nginx.
    for (what, headers) in [
        ("forged MAC", vec![("Authorization", format!("Bearer {forged}"))]),
        ("malformed token", vec![("Authorization", "Bearer not-a-demo-token".to_owned())]),
        ("no credential", vec![]),
        ("forged identity only", vec![("X-Ward-Id", alice.id.clone())]),
    ] {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let answer = get(port, "/", &headers);
        assert_eq!(answer.status, 401, "{}", context(what, &answer));
        assert_eq!(answer.header("WWW-Authenticate"), Some("Bearer realm=\"ward\""), "{}", context(what, &answer));
    }

    // 403: the plugin's `denied` and `insufficient-scope`.
    for token in ["deny:denied", "deny:insufficient-scope"] {
        let answer = get(port, "/", &[("X-Api-Key", token)]);
        assert_eq!(answer.status, 403, "{}", context(token, &answer));
    }

    // 503: a plugin that spins to its deadline, and one that traps.
    for token in ["loop", "unreachable"] {
        let started = Instant::now();
        let answer = get(port, "/", &[("X-Api-Key", token)]);
        assert_eq!(answer.status, 503, "{}", context(token, &answer));
        assert_eq!(answer.header("Retry-After"), Some("1"), "{}", context(token, &answer));
        if token == "loop" {
            assert!(started.elapsed() >= Duration::from_millis(1900), "`loop` answered before its deadline");
        }
    }
    assert_eq!(hits.load(Ordering::SeqCst), after_allows, "a denied request reached the upstream");

    // ward's own view: each 503 was the plugin's fault, not nginx's.
    let metrics = get(ward_addr.port(), "/metrics", &[]).body;
    let unavailable = |reason: &str| metrics.contains(&format!("ward_decisions_total{{plugin=\"hostile\",outcome=\"unavailable\",reason=\"{reason}\"}} 1"));
    assert!(unavailable("timeout"), "{metrics}");
    assert!(unavailable("trap"), "{metrics}");
    assert!(metrics.contains("ward_decisions_total{plugin=\"hostile\",outcome=\"deny\",reason=\"plugin:insufficient-scope\"} 1"), "{metrics}");

    // The nginx path never changes the allow: the same token still works.
    assert_eq!(get(port, "/", &[("Authorization", &format!("Bearer {good}"))]).status, 200);
    let before_down = hits.load(Ordering::SeqCst);

    // ward stops (drains, closes its kept-alive connections): nginx fails
    // closed with 503 and never forwards, whatever the client sends.
    stop_ward.send(()).unwrap();
    runtime.block_on(ward_task).unwrap().unwrap();
    for headers in [
        vec![("Authorization", format!("Bearer {good}"))],
        vec![("X-Api-Key", "ok:bob".to_owned()), ("X-Ward-Id", alice.id.clone())],
        vec![],
    ] {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let answer = get(port, "/", &headers);
        assert!([500, 503].contains(&answer.status), "{}", context("ward down", &answer));
        assert_eq!(answer.status, 503, "the documented block maps an unreachable ward to 503: {}", context("ward down", &answer));
        assert!(answer.upstream_saw().is_empty());
    }
    assert_eq!(hits.load(Ordering::SeqCst), before_down, "a request reached the upstream with ward down");
    assert!(nginx.log().contains("Connection refused") || nginx.log().contains("connect() failed"), "nginx log:\n{}", nginx.log());

    // The audit log verifies and never holds a credential.
    gateway.flush_audit().unwrap();
    site.assert_audit("plugin.trap", 2);
    assert!(!site.audit_text().contains(&good), "a credential in the audit log");
    drop(nginx);
}
