//! Key material over the network: the SSRF guard, TLS trust, limits and the
//! cache, against a local HTTPS (or plain HTTP) server on loopback whose
//! certificate comes from a test CA made here. Host names are mapped to
//! addresses by a test resolver, so no real DNS is involved.
// Test code: a broken assumption should stop the test loudly, so unwrap,
// expect, panic and indexing are allowed (clippy.toml does the same for
// `#[cfg(test)]` modules).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

// The test CA, shared with tls.rs and server.rs.
mod pki;

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pki::TestCa;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use ward::keymaterial::{Cidr, DeniedRange, FetchPolicy, Fetcher, KeyMaterialError, KeyMaterialSource, KeyMaterialUnavailable, Resolve, UrlSource};

// ---------------------------------------------------------------- test PKI

/// A server configuration for `names`, its certificate issued by `ca`.
fn server_config(ca: &TestCa, names: &[&str]) -> Arc<rustls::ServerConfig> {
    let leaf = ca.server_named(names);
    let chain = vec![CertificateDer::from_pem_slice(leaf.cert.as_bytes()).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(leaf.key.as_bytes()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    Arc::new(config)
}

/// `ca`'s certificate as `dir/ca.pem`.
fn write_ca(ca: &TestCa, dir: &tempfile::TempDir) -> PathBuf {
    let path = dir.path().join("ca.pem");
    std::fs::write(&path, &ca.pem).unwrap();
    path
}

// ---------------------------------------------------------------- test server

#[derive(Clone)]
enum Reply {
    /// 200 with Content-Length.
    Body(Vec<u8>),
    /// A status with an empty body.
    Status(u16),
    /// A redirect to the given location.
    Redirect(u16, String),
    /// These exact bytes, then close.
    Raw(Vec<u8>),
    /// 200, Content-Length `len`, then one byte every `every`.
    Drip { len: usize, every: Duration },
}

#[derive(Debug, Clone)]
struct Seen {
    sni: Option<String>,
    head: String,
}

struct Server {
    addr: SocketAddr,
    accepts: Arc<AtomicUsize>,
    reply: Arc<Mutex<Reply>>,
    seen: Arc<Mutex<Vec<Seen>>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Server {
    /// A server on its own runtime, so tests can be plain sync code calling
    /// `fetch_blocking`, or async code on a runtime of their own.
    fn start(tls: Option<Arc<rustls::ServerConfig>>, reply: Reply) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        // Bound with std and converted inside the task: a test that is itself
        // async may not block on this runtime.
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        std_listener.set_nonblocking(true).unwrap();
        let addr = std_listener.local_addr().unwrap();
        let accepts = Arc::new(AtomicUsize::new(0));
        let reply = Arc::new(Mutex::new(reply));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let acceptor = tls.map(TlsAcceptor::from);
        let (a, r, s) = (accepts.clone(), reply.clone(), seen.clone());
        runtime.spawn(async move {
            let listener = TcpListener::from_std(std_listener).unwrap();
            loop {
                let Ok((tcp, _)) = listener.accept().await else { return };
                a.fetch_add(1, Ordering::SeqCst);
                let (acceptor, r, s) = (acceptor.clone(), r.clone(), s.clone());
                tokio::spawn(async move {
                    let _ = match acceptor {
                        Some(acceptor) => match acceptor.accept(tcp).await {
                            Ok(tls) => {
                                let sni = tls.get_ref().1.server_name().map(str::to_owned);
                                respond(tls, sni, r, s).await
                            }
                            Err(err) => Err(err),
                        },
                        None => respond(tcp, None, r, s).await,
                    };
                });
            }
        });
        Self { addr, accepts, reply, seen, runtime: Some(runtime) }
    }

    fn port(&self) -> u16 {
        self.addr.port()
    }

    fn set(&self, reply: Reply) {
        *self.reply.lock().unwrap() = reply;
    }

    fn accepts(&self) -> usize {
        self.accepts.load(Ordering::SeqCst)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

async fn respond<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    sni: Option<String>,
    reply: Arc<Mutex<Reply>>,
    seen: Arc<Mutex<Vec<Seen>>>,
) -> io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    seen.lock().unwrap().push(Seen { sni, head: String::from_utf8_lossy(&head).into_owned() });
    let reply = reply.lock().unwrap().clone();
    match reply {
        Reply::Body(body) => {
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(&body).await?;
        }
        Reply::Status(code) => {
            let head = format!("HTTP/1.1 {code} Nope\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            stream.write_all(head.as_bytes()).await?;
        }
        Reply::Redirect(code, location) => {
            let head = format!("HTTP/1.1 {code} Moved\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            stream.write_all(head.as_bytes()).await?;
        }
        Reply::Raw(bytes) => stream.write_all(&bytes).await?,
        Reply::Drip { len, every } => {
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n");
            stream.write_all(head.as_bytes()).await?;
            stream.flush().await?;
            for _ in 0..len {
                tokio::time::sleep(every).await;
                stream.write_all(b"x").await?;
                stream.flush().await?;
            }
        }
    }
    stream.flush().await?;
    stream.shutdown().await
}

// ---------------------------------------------------------------- resolver and helpers

#[derive(Default)]
struct TestResolver {
    names: HashMap<String, Vec<IpAddr>>,
    calls: AtomicUsize,
}

impl TestResolver {
    fn with(entries: &[(&str, &[&str])]) -> Arc<Self> {
        let names = entries.iter().map(|(name, addrs)| ((*name).to_owned(), addrs.iter().map(|a| a.parse().unwrap()).collect())).collect();
        Arc::new(Self { names, calls: AtomicUsize::new(0) })
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl Resolve for TestResolver {
    fn resolve(&self, host: &str, _port: u16) -> io::Result<Vec<IpAddr>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.names.get(host).cloned().ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such test name"))
    }
}

fn cidrs(list: &[&str]) -> Vec<Cidr> {
    list.iter().map(|c| c.parse().unwrap()).collect()
}

/// A policy trusting only `ca_file`, with loopback allowlisted and short
/// timeouts.
fn policy(ca_file: &std::path::Path) -> FetchPolicy {
    FetchPolicy {
        allow_cidrs: cidrs(&["127.0.0.0/8"]),
        ca_file: Some(ca_file.to_owned()),
        public_roots: false,
        connect_timeout: Duration::from_secs(2),
        total_timeout: Duration::from_secs(5),
        ..FetchPolicy::default()
    }
}

fn source(url: String, max_bytes: u64) -> UrlSource {
    UrlSource { max_bytes, ..UrlSource::new(url) }
}

/// The usual setup: a test CA, an HTTPS server for `jwks.test`, and a
/// fetcher resolving `jwks.test` to loopback.
struct Fixture {
    _dir: tempfile::TempDir,
    ca_file: PathBuf,
    server: Server,
    resolver: Arc<TestResolver>,
}

impl Fixture {
    fn new(reply: Reply) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::new("ward test ca");
        let ca_file = write_ca(&ca, &dir);
        let server = Server::start(Some(server_config(&ca, &["jwks.test", "127.0.0.1"])), reply);
        let resolver = TestResolver::with(&[("jwks.test", &["127.0.0.1"])]);
        Self { _dir: dir, ca_file, server, resolver }
    }

    fn fetcher(&self) -> Fetcher {
        self.fetcher_with(policy(&self.ca_file))
    }

    fn fetcher_with(&self, policy: FetchPolicy) -> Fetcher {
        Fetcher::with_resolver(policy, self.resolver.clone()).unwrap()
    }

    fn url(&self, path: &str) -> String {
        format!("https://jwks.test:{}{path}", self.server.port())
    }
}

const JWKS: &[u8] = br#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;

// ---------------------------------------------------------------- the fetch itself

#[test]
fn fetch_succeeds_with_loopback_allowlisted_and_the_test_ca() {
    let fx = Fixture::new(Reply::Body(JWKS.to_vec()));
    let bytes = fx.fetcher().fetch_blocking(&source(fx.url("/.well-known/jwks.json?v=1"), 4096)).unwrap();
    assert_eq!(bytes, JWKS);
    let seen = fx.server.seen();
    assert_eq!(seen.len(), 1);
    // SNI and Host carry the name from the URL, not the address dialled.
    assert_eq!(seen[0].sni.as_deref(), Some("jwks.test"));
    assert!(seen[0].head.starts_with("GET /.well-known/jwks.json?v=1 HTTP/1.1\r\n"), "{}", seen[0].head);
    let host_line = format!("host: jwks.test:{}\r\n", fx.server.port());
    assert!(seen[0].head.to_ascii_lowercase().contains(&host_line), "{}", seen[0].head);
    assert_eq!(fx.resolver.calls(), 1, "resolved exactly once");
}

#[test]
fn an_address_literal_url_uses_the_address_as_tls_name() {
    let fx = Fixture::new(Reply::Body(JWKS.to_vec()));
    let url = format!("https://127.0.0.1:{}/", fx.server.port());
    assert_eq!(fx.fetcher().fetch_blocking(&source(url, 4096)).unwrap(), JWKS);
    assert_eq!(fx.resolver.calls(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_works_async_and_blocking_from_inside_a_runtime() {
    let fx = Fixture::new(Reply::Body(JWKS.to_vec()));
    let fetcher = fx.fetcher();
    let src = source(fx.url("/"), 4096);
    assert_eq!(fetcher.fetch(&src).await.unwrap(), JWKS);
    assert_eq!(fetcher.fetch_blocking(&src).unwrap(), JWKS);
}

#[test]
fn loopback_is_refused_when_not_allowlisted() {
    let fx = Fixture::new(Reply::Body(JWKS.to_vec()));
    let fetcher = fx.fetcher_with(FetchPolicy { allow_cidrs: vec![], ..policy(&fx.ca_file) });
    let err = fetcher.fetch_blocking(&source(fx.url("/"), 4096)).unwrap_err();
    assert_eq!(err, KeyMaterialError::DeniedAddress { host: "jwks.test".into(), addr: "127.0.0.1".parse().unwrap(), range: DeniedRange::Loopback });
    for literal in ["127.0.0.1", "[::ffff:127.0.0.1]", "[::1]", "[::127.0.0.1]", "0.0.0.0", "[::]"] {
        let url = format!("https://{literal}:{}/", fx.server.port());
        let err = fetcher.fetch_blocking(&source(url, 4096)).unwrap_err();
        assert_eq!(err.code(), "keymaterial-denied-address", "{literal}");
    }
    assert_eq!(fx.server.accepts(), 0, "nothing was connected to");
}

#[test]
fn redirects_are_refused_and_never_followed() {
    let fx = Fixture::new(Reply::Status(200));
    let fetcher = fx.fetcher();
    let locations = [
        "https://127.0.0.1/".to_owned(),
        "http://169.254.169.254/latest/meta-data".to_owned(),
        "https://[::ffff:127.0.0.1]/".to_owned(),
        format!("https://jwks.test:{}/other", fx.server.port()),
    ];
    for (i, location) in locations.iter().enumerate() {
        for code in [301, 302, 303, 307, 308] {
            fx.server.set(Reply::Redirect(code, location.clone()));
            let err = fetcher.fetch_blocking(&source(fx.url("/"), 4096)).unwrap_err();
            assert_eq!(err, KeyMaterialError::Redirect { host: "jwks.test".into(), status: code });
            assert!(!err.to_string().contains("169.254") && !err.to_string().contains("/other"), "{err}");
        }
        assert_eq!(fx.server.accepts(), (i + 1) * 5, "one connection per fetch: no hop was followed");
    }
}

#[test]
fn names_resolving_to_denied_addresses_are_refused_before_any_connect() {
    let fx = Fixture::new(Reply::Body(JWKS.to_vec()));
    let cases: &[(&str, DeniedRange)] = &[
        ("10.0.0.1", DeniedRange::Private),
        ("169.254.169.254", DeniedRange::LinkLocal),
        ("::ffff:169.254.169.254", DeniedRange::LinkLocal),
        ("::ffff:127.0.0.1", DeniedRange::Loopback),
        ("64:ff9b::a9fe:a9fe", DeniedRange::LinkLocal),
        ("fd00::1", DeniedRange::UniqueLocal),
        ("fe80::1", DeniedRange::LinkLocal),
        ("100.100.100.200", DeniedRange::SharedAddressSpace),
    ];
    for (addr, range) in cases {
        let resolver = TestResolver::with(&[("evil.test", &[addr])]);
        // Even with no allowlist at all the refusal must come from the guard,
        // not from a failed connect.
        let policy = FetchPolicy { allow_cidrs: vec![], ..policy(&fx.ca_file) };
        let fetcher = Fetcher::with_resolver(policy, resolver).unwrap();
        let url = format!("https://evil.test:{}/", fx.server.port());
        let err = fetcher.fetch_blocking(&source(url, 4096)).unwrap_err();
        assert_eq!(err, KeyMaterialError::DeniedAddress { host: "evil.test".into(), addr: addr.parse().unwrap(), range: *range }, "{addr}");
    }
    assert_eq!(fx.server.accepts(), 0);
}

#[test]
fn a_name_with_one_public_and_one_private_address_is_refused() {
    let fx = Fixture::new(Reply::Body(JWKS.to_vec()));
    for answer in [&["93.184.215.14", "10.0.0.1"][..], &["10.0.0.1", "93.184.215.14"], &["127.0.0.1", "192.168.1.1"]] {
        let resolver = TestResolver::with(&[("mixed.test", answer)]);
        let fetcher = Fetcher::with_resolver(policy(&fx.ca_file), resolver).unwrap();
        let url = format!("https://mixed.test:{}/", fx.server.port());
        let err = fetcher.fetch_blocking(&source(url, 4096)).unwrap_err();
        assert_eq!(err.code(), "keymaterial-denied-address", "{answer:?}");
    }
    // 127.0.0.1 was allowlisted and listening, yet never dialled: a bad
    // address anywhere in the answer refuses the name.
    assert_eq!(fx.server.accepts(), 0);
}

#[test]
fn an_allowlisted_private_cidr_lets_that_block_through_only() {
    let fx = Fixture::new(Reply::Body(JWKS.to_vec()));
    let resolver = TestResolver::with(&[("jwks.test", &["127.0.0.1"]), ("other.test", &["127.0.0.1", "10.0.0.1"])]);
    let fetcher = Fetcher::with_resolver(FetchPolicy { allow_cidrs: cidrs(&["127.0.0.1/32"]), ..policy(&fx.ca_file) }, resolver).unwrap();
    assert_eq!(fetcher.fetch_blocking(&source(fx.url("/"), 4096)).unwrap(), JWKS);
    let url = format!("https://other.test:{}/", fx.server.port());
    assert_eq!(fetcher.fetch_blocking(&source(url, 4096)).unwrap_err().code(), "keymaterial-denied-address");
}

#[test]
fn plain_http_is_refused_unless_allowed_for_that_host() {
    let server = Server::start(None, Reply::Body(JWKS.to_vec()));
    let resolver = TestResolver::with(&[("jwks.test", &["127.0.0.1"]), ("other.test", &["127.0.0.1"])]);
    let base = FetchPolicy { allow_cidrs: cidrs(&["127.0.0.0/8"]), ..FetchPolicy::default() };
    let url = format!("http://jwks.test:{}/jwks", server.port());

    let fetcher = Fetcher::with_resolver(base.clone(), resolver.clone()).unwrap();
    let err = fetcher.fetch_blocking(&source(url.clone(), 4096)).unwrap_err();
    assert_eq!(err, KeyMaterialError::PlainHttpNotAllowed { host: "jwks.test".into() });

    let other = FetchPolicy { allow_http_hosts: vec!["other.test".into()], ..base.clone() };
    let fetcher = Fetcher::with_resolver(other, resolver.clone()).unwrap();
    assert_eq!(fetcher.fetch_blocking(&source(url.clone(), 4096)).unwrap_err().code(), "keymaterial-plain-http");
    assert_eq!(resolver.calls(), 0, "refused before resolving");
    assert_eq!(server.accepts(), 0);

    let allowed = FetchPolicy { allow_http_hosts: vec!["JWKS.test".into()], ..base };
    let fetcher = Fetcher::with_resolver(allowed.clone(), resolver.clone()).unwrap();
    assert_eq!(fetcher.fetch_blocking(&source(url, 4096)).unwrap(), JWKS);

    // The guard applies to allowed plain-http hosts too.
    let no_cidr = FetchPolicy { allow_cidrs: vec![], ..allowed };
    let fetcher = Fetcher::with_resolver(no_cidr, resolver).unwrap();
    let url = format!("http://jwks.test:{}/jwks", server.port());
    assert_eq!(fetcher.fetch_blocking(&source(url, 4096)).unwrap_err().code(), "keymaterial-denied-address");
}

#[test]
fn a_slow_drip_body_is_cut_by_the_total_deadline() {
    let fx = Fixture::new(Reply::Drip { len: 100, every: Duration::from_millis(100) });
    let fetcher = fx.fetcher_with(FetchPolicy { connect_timeout: Duration::from_secs(1), total_timeout: Duration::from_secs(1), ..policy(&fx.ca_file) });
    let started = Instant::now();
    let err = fetcher.fetch_blocking(&source(fx.url("/"), 4096)).unwrap_err();
    assert_eq!(err, KeyMaterialError::Timeout { host: "jwks.test".into(), timeout_ms: 1000 });
    assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());
}

#[test]
fn oversized_bodies_are_refused_with_or_without_content_length() {
    let fx = Fixture::new(Reply::Body(vec![b'a'; 2000]));
    let fetcher = fx.fetcher();
    let too_large = KeyMaterialError::TooLarge { max_bytes: 1000 };
    let fetch = || fetcher.fetch_blocking(&source(fx.url("/"), 1000));

    // Announced by Content-Length.
    assert_eq!(fetch().unwrap_err(), too_large);

    // No Content-Length, body delimited by close.
    let mut raw = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_vec();
    raw.extend(vec![b'a'; 2000]);
    fx.server.set(Reply::Raw(raw));
    assert_eq!(fetch().unwrap_err(), too_large);

    // Chunked.
    let mut raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..4 {
        raw.extend(b"1f4\r\n");
        raw.extend(vec![b'a'; 500]);
        raw.extend(b"\r\n");
    }
    raw.extend(b"0\r\n\r\n");
    fx.server.set(Reply::Raw(raw));
    assert_eq!(fetch().unwrap_err(), too_large);

    // Content-Length that understates: only the announced bytes are read.
    let mut raw = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n".to_vec();
    raw.extend(vec![b'a'; 5000]);
    fx.server.set(Reply::Raw(raw));
    assert_eq!(fetch().unwrap(), vec![b'a'; 10]);

    // Exactly at the cap, no Content-Length: accepted.
    let mut raw = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_vec();
    raw.extend(vec![b'b'; 1000]);
    fx.server.set(Reply::Raw(raw));
    assert_eq!(fetch().unwrap(), vec![b'b'; 1000]);
}

#[test]
fn only_200_is_accepted() {
    let fx = Fixture::new(Reply::Status(404));
    let fetcher = fx.fetcher();
    for code in [204, 404, 500, 503] {
        fx.server.set(Reply::Status(code));
        let err = fetcher.fetch_blocking(&source(fx.url("/"), 4096)).unwrap_err();
        assert_eq!(err, KeyMaterialError::Status { host: "jwks.test".into(), status: code });
    }
}

#[test]
fn a_certificate_from_another_ca_is_refused() {
    let fx = Fixture::new(Reply::Body(JWKS.to_vec()));
    let dir = tempfile::tempdir().unwrap();
    let other_ca = write_ca(&TestCa::new("some other ca"), &dir);
    let fetcher = fx.fetcher_with(policy(&other_ca));
    let err = fetcher.fetch_blocking(&source(fx.url("/"), 4096)).unwrap_err();
    assert_eq!(err.code(), "keymaterial-tls", "{err}");
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");

    // The public roots alone do not know the test CA either.
    let public = fx.fetcher_with(FetchPolicy { ca_file: None, public_roots: true, ..policy(&fx.ca_file) });
    assert_eq!(public.fetch_blocking(&source(fx.url("/"), 4096)).unwrap_err().code(), "keymaterial-tls");
}

#[test]
fn a_certificate_for_another_name_is_refused() {
    let fx = Fixture::new(Reply::Body(JWKS.to_vec()));
    let resolver = TestResolver::with(&[("other.test", &["127.0.0.1"])]);
    let fetcher = Fetcher::with_resolver(policy(&fx.ca_file), resolver).unwrap();
    let url = format!("https://other.test:{}/", fx.server.port());
    let err = fetcher.fetch_blocking(&source(url, 4096)).unwrap_err();
    assert_eq!(err.code(), "keymaterial-tls", "{err}");
}

#[test]
fn a_bad_ca_file_is_refused_when_the_fetcher_is_built() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ca.pem");
    std::fs::write(&path, "not pem at all").unwrap();
    let err = Fetcher::new(policy(&path)).unwrap_err();
    assert_eq!(err.code(), "keymaterial-ca-file");
    let err = Fetcher::new(policy(&dir.path().join("missing.pem"))).unwrap_err();
    assert_eq!(err.code(), "keymaterial-ca-file");
}

#[test]
fn a_ca_file_that_is_a_fifo_or_device_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("ca.pem");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    // On a thread with a deadline: a blocking open would wait for a writer.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(Fetcher::new(policy(&fifo)).map(|_| ()));
    });
    let err = rx.recv_timeout(Duration::from_secs(10)).expect("Fetcher::new blocked on a FIFO caFile").unwrap_err();
    assert_eq!(err.code(), "keymaterial-ca-file");
    assert!(err.to_string().ends_with("is a FIFO, not a regular file"), "{err}");
    let err = Fetcher::new(policy(std::path::Path::new("/dev/null"))).unwrap_err();
    assert!(err.to_string().ends_with("is a character device, not a regular file"), "{err}");
}

#[test]
fn read_file_refuses_fifos_devices_and_directories() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("jwks.json");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    // Opened read-write, so the open itself does not wait; the check refuses it.
    let handle = std::fs::OpenOptions::new().read(true).write(true).open(&fifo).unwrap();
    let err = ward::keymaterial::read_file(handle, 64).unwrap_err();
    assert_eq!((err.code(), err.to_string()), ("keymaterial-read", "cannot read key material: is a FIFO, not a regular file".to_owned()));
    let err = ward::keymaterial::read_file(std::fs::File::open("/dev/null").unwrap(), 64).unwrap_err();
    assert!(err.to_string().ends_with("is a character device, not a regular file"), "{err}");
    let err = ward::keymaterial::read_file(std::fs::File::open(dir.path()).unwrap(), 64).unwrap_err();
    assert!(err.to_string().ends_with("is a directory, not a regular file"), "{err}");
}

#[test]
fn errors_never_show_the_query_path_or_userinfo() {
    let fx = Fixture::new(Reply::Status(401));
    let fetcher = fx.fetcher();
    let err = fetcher.fetch_blocking(&source(fx.url("/tenant-42/keys?access_token=s3cr3t"), 4096)).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("jwks.test") && !text.contains("s3cr3t") && !text.contains("tenant-42"), "{text}");
    let url = format!("https://user:s3cr3t@jwks.test:{}/", fx.server.port());
    let err = fetcher.fetch_blocking(&source(url, 4096)).unwrap_err();
    assert_eq!(err, KeyMaterialError::UrlUserinfo);
    assert!(!err.to_string().contains("s3cr3t"));
}

#[test]
fn an_unresolvable_name_is_a_resolve_error() {
    let fx = Fixture::new(Reply::Body(JWKS.to_vec()));
    let url = format!("https://nowhere.test:{}/", fx.server.port());
    let err = fx.fetcher().fetch_blocking(&source(url, 4096)).unwrap_err();
    assert_eq!(err.code(), "keymaterial-resolve");
}

// ---------------------------------------------------------------- the cache

fn url_source(fx: &Fixture, refresh: Duration, max_stale: Duration) -> KeyMaterialSource {
    let src = UrlSource { refresh, max_stale: Some(max_stale), ..source(fx.url("/jwks"), 4096) };
    KeyMaterialSource::url("jwks", src, Arc::new(fx.fetcher())).unwrap()
}

#[test]
fn unavailable_before_the_first_success() {
    let fx = Fixture::new(Reply::Status(503));
    let source = url_source(&fx, Duration::from_secs(60), Duration::from_secs(3600));
    assert_eq!(raw(&source), Err(KeyMaterialUnavailable::NeverFetched));
    assert_eq!(source.refresh_blocking().unwrap_err().code(), "keymaterial-status");
    assert_eq!(raw(&source), Err(KeyMaterialUnavailable::NeverFetched));
    assert_eq!(source.last_error().map(|e| e.code()), Some("keymaterial-status"));
}

#[test]
fn the_last_good_copy_is_served_when_a_refresh_fails() {
    let fx = Fixture::new(Reply::Body(b"first".to_vec()));
    let source = url_source(&fx, Duration::from_secs(60), Duration::from_secs(3600));
    source.refresh_blocking().unwrap();
    assert_eq!(raw(&source).unwrap(), b"first");

    fx.server.set(Reply::Status(500));
    assert!(source.refresh_blocking().is_err());
    fx.server.set(Reply::Redirect(302, "http://169.254.169.254/".into()));
    assert!(source.refresh_blocking().is_err());
    fx.server.set(Reply::Body(vec![0; 5000]));
    assert_eq!(source.refresh_blocking().unwrap_err().code(), "keymaterial-too-large");
    assert_eq!(raw(&source).unwrap(), b"first");
    assert_eq!(source.last_error().map(|e| e.code()), Some("keymaterial-too-large"));

    fx.server.set(Reply::Body(b"second".to_vec()));
    source.refresh_blocking().unwrap();
    assert_eq!(raw(&source).unwrap(), b"second");
    assert_eq!(source.last_error(), None);
}

#[test]
fn the_last_good_copy_is_unavailable_after_max_staleness() {
    let fx = Fixture::new(Reply::Body(b"keys".to_vec()));
    let source = url_source(&fx, Duration::from_secs(1), Duration::from_millis(1200));
    source.refresh_blocking().unwrap();
    assert_eq!(raw(&source).unwrap(), b"keys");
    fx.server.set(Reply::Status(500));
    assert!(source.refresh_blocking().is_err());
    std::thread::sleep(Duration::from_millis(1300));
    assert!(source.refresh_blocking().is_err());
    assert_eq!(raw(&source), Err(KeyMaterialUnavailable::Stale));

    // A later success makes it available again.
    fx.server.set(Reply::Body(b"fresh".to_vec()));
    source.refresh_blocking().unwrap();
    assert_eq!(raw(&source).unwrap(), b"fresh");
}

#[test]
fn the_background_task_fetches_at_once_then_every_period() {
    let fx = Fixture::new(Reply::Body(b"v1".to_vec()));
    let source = Arc::new(url_source(&fx, Duration::from_secs(1), Duration::from_secs(3600)));
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let task = source.spawn_refresh(runtime.handle());

    let wait_for = |want: &[u8]| {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if raw(&source).as_deref() == Ok(want) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("never saw {:?}; last error {:?}", String::from_utf8_lossy(want), source.last_error());
    };
    wait_for(b"v1");
    fx.server.set(Reply::Body(b"v2".to_vec()));
    wait_for(b"v2");

    // Stopped: no more fetches.
    task.stop();
    std::thread::sleep(Duration::from_millis(50));
    let before = fx.server.accepts();
    fx.server.set(Reply::Body(b"v3".to_vec()));
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(fx.server.accepts(), before);
    assert_eq!(raw(&source).unwrap(), b"v2");
    runtime.shutdown_background();
}

/// The current bytes of a `raw` source.
fn raw(source: &KeyMaterialSource) -> Result<Vec<u8>, KeyMaterialUnavailable> {
    match source.current()? {
        ward::keymaterial::Material::Raw(bytes) => Ok(bytes.to_vec()),
        other => panic!("not raw: {other:?}"),
    }
}
