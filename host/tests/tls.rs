//! `server.tls` through the real binary, with curl as the client (as an
//! operator would check it): plaintext and clients without the proxy's
//! certificate never reach a route, the proxy's certificate is served over
//! h2 and http/1.1, SIGHUP swaps the certificate and a bad new one keeps the
//! old, and bad files fail `ward check` and `ward serve` at their JSON path.
//! The certificates are made at test time (`pki/`).
// Test code: a broken assumption should stop the test loudly, so unwrap,
// expect, panic and indexing are allowed (clippy.toml does the same for
// `#[cfg(test)]` modules).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod pki;

use std::io::Read as _;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use pki::TestCa;

/// Any step on a busy 2-core machine; tests wait for conditions, this only bounds a failure.
const PATIENCE: Duration = Duration::from_secs(60);

fn ward(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ward")).args(args).current_dir(dir).output().unwrap()
}

/// A directory `ward serve` starts from, with no plugins (every `/auth` is
/// a 401: enough to see a request reach the route), the listener's
/// certificate (serial 1) and, with `mutual`, the proxy's CA as client CA.
struct Site {
    _tmp: tempfile::TempDir,
    dir: std::path::PathBuf,
    ca: TestCa,
}

impl Site {
    fn new(mutual: bool) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        for args in
            [&["keygen", "--key-id", "acme", "--out-dir", "keys"][..], &["keygen", "--identity-key", "id.key"], &["keygen", "--identity-key", "audit.key"]]
        {
            assert!(ward(&dir, args).status.success());
        }
        let (ca, proxies) = (TestCa::new("ward test CA"), TestCa::new("proxy CA"));
        ca.server(1).write(&dir, "server");
        std::fs::write(dir.join("ca.pem"), &ca.pem).unwrap();
        std::fs::write(dir.join("proxies.pem"), &proxies.pem).unwrap();
        proxies.client("nginx").write(&dir, "proxy");
        // Issued by a CA ward does not trust.
        TestCa::new("elsewhere").client("nginx").write(&dir, "stranger");
        let site = Self { _tmp: tmp, dir, ca };
        site.config(if mutual {
            serde_json::json!({ "certFile": "server.pem", "keyFile": "server.key", "clientCaFile": "proxies.pem" })
        } else {
            serde_json::json!({ "certFile": "server.pem", "keyFile": "server.key" })
        });
        site
    }

    /// Writes `ward.json` with `server.tls` set to `tls` (null: plaintext).
    fn config(&self, tls: serde_json::Value) {
        let anchor = std::fs::read_to_string(self.dir.join("keys/acme.pub")).unwrap();
        let config = serde_json::json!({
            "trust": { "trustAnchors": { "acme": anchor } },
            "identity": { "keyFile": "id.key" },
            "audit": { "file": "audit.log", "keyFile": "audit.key" },
            "plugins": [],
            "server": { "tls": tls },
        });
        std::fs::write(self.dir.join("ward.json"), config.to_string()).unwrap();
    }
}

/// `ward serve` as a child process; stderr read when asked.
struct Served {
    child: Child,
    port: u16,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Served {
    fn start(dir: &Path, host: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_ward"))
            .args(["serve", "--config", "ward.json", "--listen", &format!("{host}:{port}")])
            .current_dir(dir)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let (mut pipe, sink) = (child.stderr.take().unwrap(), stderr.clone());
        std::thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            while let Ok(n @ 1..) = pipe.read(&mut chunk) {
                sink.lock().unwrap().push_str(&String::from_utf8_lossy(&chunk[..n]));
            }
        });
        Self { child, port, stderr }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    fn wait_log(&self, needle: &str) {
        let deadline = Instant::now() + PATIENCE;
        while !self.stderr().contains(needle) {
            assert!(Instant::now() < deadline, "no {needle:?} in:\n{}", self.stderr());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn signal(&self, name: &str) {
        assert!(Command::new("kill").args([format!("-{name}"), self.child.id().to_string()]).status().unwrap().success());
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// curl's exit code and what `-w` wrote. `args` name the files in `dir`.
fn curl(dir: &Path, url: &str, args: &[&str], write_out: &str) -> (i32, String) {
    let output = Command::new("curl")
        .args(["-sS", "--max-time", "20", "-o", "/dev/null", "-w", write_out])
        .args(args)
        .arg(url)
        .current_dir(dir)
        .output()
        .expect("curl is installed");
    (output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stdout).into_owned())
}

const PROXY: [&str; 6] = ["--cacert", "ca.pem", "--cert", "proxy.pem", "--key", "proxy.key"];

/// Waits until `/readyz` answers 200 to the proxy.
fn wait_ready(site: &Site, served: &Served) {
    let deadline = Instant::now() + PATIENCE;
    let url = format!("https://localhost:{}/readyz", served.port);
    while curl(&site.dir, &url, &PROXY, "%{http_code}").1 != "200" {
        assert!(Instant::now() < deadline, "never ready:\n{}", served.stderr());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The `/metrics` page, fetched with `args` (the client's TLS files).
fn metrics(site: &Site, served: &Served, args: &[&str]) -> String {
    let output = Command::new("curl")
        .args(["-sS", "--max-time", "20"])
        .args(args)
        .arg(format!("https://localhost:{}/metrics", served.port))
        .current_dir(&site.dir)
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn mutual_tls_admits_only_the_proxys_certificate_over_h2_and_http1() {
    let site = Site::new(true);
    let served = Served::start(&site.dir, "127.0.0.1");
    wait_ready(&site, &served);
    let auth = format!("https://localhost:{}/auth", served.port);

    // The proxy's certificate: the request reaches /auth (401, no plugin
    // routes it), over whichever protocol ALPN chose.
    assert_eq!(curl(&site.dir, &auth, &[&PROXY[..], &["--http2"]].concat(), "%{http_code} %{http_version}"), (0, "401 2".to_owned()));
    assert_eq!(curl(&site.dir, &auth, &[&PROXY[..], &["--http1.1"]].concat(), "%{http_code} %{http_version}"), (0, "401 1.1".to_owned()));
    // No ALPN (as nginx towards an upstream): told from the first bytes.
    assert_eq!(curl(&site.dir, &auth, &[&PROXY[..], &["--no-alpn"]].concat(), "%{http_code} %{http_version}"), (0, "401 1.1".to_owned()));
    // TLS 1.2 is still spoken.
    assert_eq!(curl(&site.dir, &auth, &[&PROXY[..], &["--tls-max", "1.2"]].concat(), "%{http_code}"), (0, "401".to_owned()));

    // No client certificate, or one from another CA: no HTTP answer at all.
    let (code, status) = curl(&site.dir, &auth, &["--cacert", "ca.pem"], "%{http_code}");
    assert!(code != 0 && status == "000", "no client certificate: curl {code}, {status}");
    let (code, status) = curl(&site.dir, &auth, &["--cacert", "ca.pem", "--cert", "stranger.pem", "--key", "stranger.key"], "%{http_code}");
    assert!(code != 0 && status == "000", "a stranger's certificate: curl {code}, {status}");
    // Plaintext on the TLS port.
    let (code, status) = curl(&site.dir, &format!("http://127.0.0.1:{}/auth", served.port), &[], "%{http_code}");
    assert!(code != 0 && status == "000", "plaintext: curl {code}, {status}");
    // TLS 1.1 is not spoken.
    let (code, _) = curl(&site.dir, &auth, &[&PROXY[..], &["--tls-max", "1.1"]].concat(), "%{http_code}");
    assert_ne!(code, 0, "a TLS 1.1 client was served");

    // None of them reached a route; each failure is counted under its reason.
    let page = metrics(&site, &served, &PROXY);
    assert!(page.contains("ward_http_requests_total{endpoint=\"auth\"} 4\n"), "{page}");
    assert!(page.contains("ward_tls_handshake_failures_total{reason=\"client-cert\"} 2\n"), "{page}");
    assert!(page.contains("ward_tls_handshake_failures_total{reason=\"protocol\"} 2\n"), "{page}");
    assert!(!served.stderr().contains("BEGIN"), "PEM in the logs:\n{}", served.stderr());
}

#[test]
fn sighup_swaps_the_certificate_and_a_bad_new_one_keeps_the_old() {
    let site = Site::new(false);
    let served = Served::start(&site.dir, "127.0.0.1");
    wait_ready(&site, &served);
    let url = format!("https://localhost:{}/healthz", served.port);
    let serial = || {
        let (code, certs) = curl(&site.dir, &url, &["--cacert", "ca.pem"], "%{certs}");
        assert_eq!(code, 0, "{}", served.stderr());
        certs.lines().find_map(|line| line.strip_prefix("Serial Number:")).map(str::to_owned).unwrap_or_else(|| panic!("no serial in {certs}"))
    };
    assert_eq!(serial(), "01");

    site.ca.server(2).write(&site.dir, "server");
    served.signal("HUP");
    served.wait_log("TLS certificates re-read");
    assert_eq!(serial(), "02", "SIGHUP did not swap the certificate");

    // A new pair that does not match: refused, the serving one stays.
    std::fs::write(site.dir.join("server.pem"), site.ca.server(3).cert).unwrap();
    served.signal("HUP");
    served.wait_log("TLS certificates not re-read");
    assert!(served.stderr().contains("server.tls.keyFile"), "{}", served.stderr());
    assert_eq!(serial(), "02");
    let page = metrics(&site, &served, &["--cacert", "ca.pem"]);
    assert!(page.contains("ward_tls_reloads_total{result=\"applied\"} 1\n") && page.contains("ward_tls_reloads_total{result=\"refused\"} 1\n"), "{page}");
}

/// What a case does to a good site's files.
type Breakage<'a> = dyn Fn(&Path) + 'a;

#[test]
fn bad_tls_files_fail_check_and_serve_naming_the_json_path() {
    let site = Site::new(true);
    let summary = ward(&site.dir, &["check", "ward.json"]);
    assert!(String::from_utf8_lossy(&summary.stdout).contains(", mutual TLS, audit"), "{summary:?}");
    let other = site.ca.server(9);
    let cases: [(&str, &Breakage<'_>, &str); 5] = [
        (
            "server.tls.keyFile",
            &|dir| std::fs::set_permissions(dir.join("server.key"), std::fs::Permissions::from_mode(0o644)).unwrap(),
            "open to group or others",
        ),
        ("server.tls.keyFile", &|dir| std::fs::remove_file(dir.join("server.key")).unwrap(), "cannot be read"),
        ("server.tls.keyFile", &|dir| std::fs::write(dir.join("server.pem"), &other.cert).unwrap(), "tls-key-mismatch"),
        ("server.tls.certFile", &|dir| std::fs::write(dir.join("server.pem"), "-----BEGIN CERTIFICATE-----\n%%%\n").unwrap(), "no PEM CERTIFICATE"),
        ("server.tls.clientCaFile", &|dir| std::fs::write(dir.join("proxies.pem"), "garbage").unwrap(), "tls-client-ca"),
    ];
    for (at, break_it, problem) in cases {
        let fresh = Site::new(true);
        break_it(&fresh.dir);
        for args in [&["check", "ward.json"][..], &["serve", "--config", "ward.json", "--listen", "127.0.0.1:0"]] {
            let run = ward(&fresh.dir, args);
            let stderr = String::from_utf8_lossy(&run.stderr);
            // `ward serve` ends a configuration it cannot serve with 78
            // (EX_CONFIG: the packaged unit does not restart on it).
            let expected = if args.first() == Some(&"serve") { 78 } else { 2 };
            assert_eq!(run.status.code(), Some(expected), "{args:?}: {stderr}");
            assert!(stderr.contains(&format!("ward.json: {at}: ")) && stderr.contains(problem), "{args:?} for {at}: {stderr}");
            assert!(!stderr.contains("BEGIN"), "PEM in an error: {stderr}");
        }
    }
}

#[test]
fn plaintext_is_warned_about_only_off_loopback() {
    let site = Site::new(false);
    site.config(serde_json::Value::Null);
    let loopback = Served::start(&site.dir, "127.0.0.1");
    loopback.wait_log("ward serve listening");
    assert!(!loopback.stderr().contains("plaintext"), "{}", loopback.stderr());
    drop(loopback);
    let everywhere = Served::start(&site.dir, "0.0.0.0");
    everywhere.wait_log("ward serve listening in plaintext on a non-loopback address");
}
