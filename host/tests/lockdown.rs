//! `ward serve`'s second layer (Landlock and seccomp, `host/src/lockdown/`)
//! through the real binary: what a locked-down process can no longer do,
//! that it still serves, reloads, audits and fetches key material, and that
//! `--lockdown off` is what makes the difference.
//!
//! The layers are applied inside the `ward serve` child, never in this test
//! process. What the child can and cannot do is read from its debug-build
//! probe (`host/src/lockdown/probe.rs`) through its JSON log lines. On a
//! kernel without a layer the tests say so and check its "unsupported" line
//! instead.
// Test code: a broken assumption should stop the test loudly, so unwrap,
// expect, panic and indexing are allowed (clippy.toml does the same for
// `#[cfg(test)]` modules).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod exposition;
mod redis_server;
use ward_wat_guests as wat_guests;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// How long a child may take to start or to stop: generous, the tests run
/// beside builds on 2 cores.
const PATIENCE: Duration = Duration::from_secs(120);

fn ward(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ward")).args(args).output().expect("ward runs")
}

/// A deployment in a temp dir: signer, identity and audit keys, two signed
/// WAT plugins (`allow` answers every `Authorization: Bearer` credential,
/// `deny` every `X-Api-Key`), and a `ward.json` with JSON logs.
struct Site {
    dir: tempfile::TempDir,
}

impl Site {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let site = Self { dir };
        let d = site.dir.path().to_str().expect("utf-8 temp dir");
        for args in [
            vec!["keygen", "--key-id", "signer", "--out-dir", d],
            vec!["keygen", "--identity-key", &format!("{d}/identity.key")],
            vec!["audit", "keygen", "--out", &format!("{d}/audit.key")],
        ] {
            let out = ward(&args);
            assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        }
        site.plugin("allow", &wat_guests::allow_fixed());
        site.plugin("deny", &wat_guests::deny_case(2));
        site
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn plugin(&self, id: &str, body: &str) {
        let component = self.path(&format!("{id}.wasm"));
        std::fs::write(&component, wat_guests::component(body)).expect("write component");
        let (key, out) = (self.path("signer.key"), self.path(&format!("{id}.signed.json")));
        let args = [
            "sign",
            component.to_str().expect("utf-8"),
            "--key",
            key.to_str().expect("utf-8"),
            "--signer-key-id",
            "signer",
            "--plugin-id",
            id,
            "--plugin-version",
            "1.0.0",
            "--out",
            out.to_str().expect("utf-8"),
        ];
        let out = ward(&args);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }

    /// Writes `ward.json`; `key_port` gives `allow` a `url` key material
    /// served by [`serve_keys`] (by name, so it is resolved), without which
    /// its calls deny.
    fn config(&self, key_port: Option<u16>, edit: impl FnOnce(&mut Value)) -> PathBuf {
        let anchor = std::fs::read_to_string(self.path("signer.pub")).expect("signer.pub");
        let plugin = |id: &str, header: &str, scheme: Option<&str>| {
            json!({ "id": id, "envelope": format!("{id}.signed.json"), "component": format!("{id}.wasm"),
                    "route": { "header": header, "scheme": scheme }, "limits": { "timeoutMs": 5000 } })
        };
        let mut allow = plugin("allow", "Authorization", Some("Bearer"));
        if let Some(port) = key_port {
            allow["keyMaterial"] = json!([{ "name": "jwks", "url": format!("http://localhost:{port}/jwks"), "refreshSeconds": 1 }]);
        }
        let mut config = json!({
            "trust": { "trustAnchors": { "signer": anchor }, "allowCapabilities": ["readsCredentials"] },
            "identity": { "keyFile": "identity.key" },
            "audit": { "file": "audit.log", "keyFile": "audit.key" },
            "server": { "jsonLogs": true },
            "plugins": [allow, plugin("deny", "X-Api-Key", None)],
            "keyMaterialFetch": { "allowHttpHosts": ["localhost"], "allowCidrs": ["127.0.0.0/8", "::1/128"] },
        });
        edit(&mut config);
        let path = self.path("ward.json");
        std::fs::write(&path, config.to_string()).expect("write ward.json");
        path
    }
}

/// A JWKS-shaped body on a loopback port; returns the port and a count of
/// requests served.
fn serve_keys() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let served = Arc::new(AtomicUsize::new(0));
    let count = served.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let body = b"{\"keys\":[]}";
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body);
            count.fetch_add(1, Ordering::SeqCst);
        }
    });
    (port, served)
}

/// A running `ward serve` and its log lines (JSON), collected as they come.
struct Serve {
    child: Child,
    lines: Arc<Mutex<Vec<Value>>>,
    addr: SocketAddr,
}

impl Serve {
    /// Starts `ward serve --lockdown <mode>` with `env`, and waits until it
    /// listens (panics with its log if it exits first).
    fn start(config: &Path, mode: &str, env: &[(&str, String)]) -> Self {
        Self::try_start(config, mode, env).unwrap_or_else(|(status, log)| panic!("ward serve exited ({status:?}):\n{log}"))
    }

    /// Like [`Serve::start`], or the exit status and log of a `ward serve`
    /// that exited before listening.
    fn try_start(config: &Path, mode: &str, env: &[(&str, String)]) -> Result<Self, (ExitStatus, String)> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ward"))
            .args(["serve", "--config", config.to_str().expect("utf-8"), "--listen", "127.0.0.1:0", "--lockdown", mode])
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ward serve starts");
        let stderr = child.stderr.take().expect("piped stderr");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let value = serde_json::from_str(&line).unwrap_or(Value::String(line));
                sink.lock().expect("log lock").push(value);
            }
        });
        let mut serve = Self { child, lines, addr: SocketAddr::from(([0, 0, 0, 0], 0)) };
        let deadline = Instant::now() + PATIENCE;
        loop {
            let listening = serve.lines.lock().expect("log lock").iter().find(|l| l["fields"]["message"] == "ward serve listening").cloned();
            if let Some(line) = listening {
                let addr = line["fields"]["addr"].as_str().and_then(|a| a.parse().ok());
                serve.addr = addr.unwrap_or_else(|| panic!("no listen address: {}", serve.log()));
                return Ok(serve);
            }
            if let Some(status) = serve.child.try_wait().expect("wait") {
                std::thread::sleep(Duration::from_millis(100)); // the last lines
                return Err((status, serve.log()));
            }
            assert!(Instant::now() < deadline, "ward serve never listened:\n{}", serve.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log(&self) -> String {
        self.lines.lock().expect("log lock").iter().map(Value::to_string).collect::<Vec<_>>().join("\n")
    }

    /// The first log line that satisfies `matches`, waiting for it.
    fn wait_for(&mut self, matches: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(line) = self.lines.lock().expect("log lock").iter().find(|l| matches(l)) {
                return line.clone();
            }
            let exited = self.child.try_wait().ok().flatten();
            assert!(exited.is_none() && Instant::now() < deadline, "ward serve ({exited:?}) never logged the line; log:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The `lockdown` line of `layer`.
    fn layer(&mut self, layer: &str) -> Value {
        self.wait_for(|l| l["fields"]["message"].as_str().is_some_and(|m| m.starts_with("lockdown")) && l["fields"]["layer"] == layer)
    }

    /// Prints both layers' status, so a run on a kernel without one shows it.
    fn show_layers(&mut self) {
        let statuses = ["landlock", "seccomp"].map(|layer| self.layer(layer)["fields"]["status"].as_str().unwrap_or_default().to_owned());
        println!("lockdown: landlock {}, seccomp {}", statuses[0], statuses[1]);
    }

    /// The probe's line for `key` (`path` or `addr`) = `value`.
    fn probe(&mut self, key: &str, value: &str) -> Value {
        self.wait_for(|l| l["fields"]["message"] == "lockdown probe" && l["fields"][key] == value)["fields"].clone()
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill").args([format!("-{signal}"), self.child.id().to_string()]).status().expect("kill runs");
        assert!(status.success());
    }

    /// SIGTERM, then the exit status.
    fn stop(mut self) -> (ExitStatus, String) {
        self.signal("TERM");
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                std::thread::sleep(Duration::from_millis(100)); // the last lines
                return (status, self.log());
            }
            assert!(Instant::now() < deadline, "ward serve did not stop:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `GET /auth` with one header; the status code.
    fn auth(&self, header: &str, value: &str) -> u16 {
        let response = self.get("/auth", &format!("{header}: {value}\r\n"));
        response.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or_else(|| panic!("no status in {response:?}"))
    }

    /// `GET /metrics`; the body.
    fn metrics(&self) -> String {
        let response = self.get("/metrics", "");
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default()
    }

    /// The whole response to `GET path` with `headers` (each ending in CRLF).
    fn get(&self, path: &str, headers: &str) -> String {
        let mut stream = TcpStream::connect(self.addr).expect("connect");
        let request = format!("GET {path} HTTP/1.1\r\nHost: ward\r\n{headers}Connection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).expect("send");
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        response
    }
}

/// A test that fails midway must not leave its `ward serve` running.
impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether `status` of a layer's line means it is in force. When it is not,
/// says why on stdout so a skipped assertion is visible.
fn in_force(line: &Value, test: &str) -> bool {
    let status = line["fields"]["status"].as_str().unwrap_or_default();
    assert!(["applied", "partial", "unsupported"].contains(&status), "{line}");
    if status == "unsupported" {
        println!("{test}: SKIPPED on this kernel, {} is unsupported: {}", line["fields"]["layer"], line["fields"]["reason"]);
        assert_eq!(line["level"], "WARN", "an unsupported layer is a warning: {line}");
    }
    status != "unsupported"
}

fn probe_supported(test: &str) -> bool {
    if !cfg!(debug_assertions) {
        println!("{test}: SKIPPED, the probe exists in debug builds only");
    }
    cfg!(debug_assertions)
}

/// A file next to nothing ward may read: in a temp dir of its own.
fn outside_file() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("secret.txt");
    std::fs::write(&path, "not for ward").expect("write");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    (dir, path)
}

/// A `ward serve --lockdown <mode>` asked to probe a file outside every
/// directory it may read, a file inside its config's directory, and a
/// listening port it has no business with.
struct Probed {
    serve: Serve,
    outside: String,
    inside: String,
    port: String,
    _site: Site,
    _outside_dir: tempfile::TempDir,
    _listener: TcpListener,
}

fn start_probed(mode: &str) -> Probed {
    let site = Site::new();
    let config = site.config(None, |_| {});
    let (outside_dir, outside) = outside_file();
    let inside = site.path("allow.wasm");
    let paths = std::env::join_paths([&outside, &inside]).expect("join").into_string().expect("utf-8");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").to_string();
    let serve = Serve::start(&config, mode, &[("WARD_LOCKDOWN_PROBE", paths), ("WARD_LOCKDOWN_PROBE_CONNECT", port.clone())]);
    let (outside, inside) = (outside.display().to_string(), inside.display().to_string());
    Probed { serve, outside, inside, port, _site: site, _outside_dir: outside_dir, _listener: listener }
}

#[test]
fn locked_down_ward_cannot_open_a_file_outside_its_directories_nor_make_other_calls() {
    const TEST: &str = "locked_down_ward_cannot_open_a_file_outside_its_directories_nor_make_other_calls";
    if !probe_supported(TEST) {
        return;
    }
    let Probed { mut serve, outside, inside, port, .. } = start_probed("auto");
    let landlock = serve.layer("landlock");
    if in_force(&landlock, TEST) {
        assert_eq!(landlock["level"], "INFO", "{landlock}");
        let probe = serve.probe("path", &outside);
        assert_eq!(probe["open"], "denied (EACCES)", "{probe}");
        // Inside the config's directory, the same open succeeds: the denial is the plan, not a broken probe.
        assert_eq!(serve.probe("path", &inside)["open"], "ok");
        if landlock["fields"]["status"] == "applied" {
            assert_eq!(serve.probe("addr", &port)["connect"], "denied (EACCES)");
        }
    }
    let seccomp = serve.layer("seccomp");
    if in_force(&seccomp, TEST) {
        assert_eq!(seccomp["fields"]["status"], "applied", "{seccomp}");
        let probe = serve.probe("path", &inside);
        assert_eq!(probe["chown"], "denied (ENOSYS)", "{probe}");
    }
    let (status, log) = serve.stop();
    assert!(status.code().is_some(), "ward serve died of a signal under lockdown ({status:?}):\n{log}");
}

#[test]
fn with_lockdown_off_the_same_file_opens_and_both_layers_say_off() {
    const TEST: &str = "with_lockdown_off_the_same_file_opens_and_both_layers_say_off";
    if !probe_supported(TEST) {
        return;
    }
    let Probed { mut serve, outside, port, .. } = start_probed("off");
    for layer in ["landlock", "seccomp"] {
        let line = serve.layer(layer);
        assert_eq!((line["level"].as_str(), line["fields"]["status"].as_str()), (Some("WARN"), Some("off")), "{line}");
    }
    let probe = serve.probe("path", &outside);
    assert_eq!((probe["open"].as_str(), probe["chown"].as_str()), (Some("ok"), Some("ok")), "{probe}");
    assert_eq!(serve.probe("addr", &port)["connect"], "ok");
    serve.stop();
}

/// The audit files, rotated ones first, as `ward audit verify` wants them.
fn audit_files(site: &Site) -> Vec<String> {
    let mut rotated: Vec<String> = std::fs::read_dir(site.dir.path())
        .expect("read dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.strip_prefix("audit.log.").is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit())))
        .collect();
    rotated.sort();
    rotated.push("audit.log".to_owned());
    rotated.iter().map(|name| site.path(name).display().to_string()).collect()
}

fn verify_audit(site: &Site) -> String {
    let files = audit_files(site);
    assert!(files.len() > 1, "the audit log never rotated: {files:?}");
    let key = site.path("audit.key").display().to_string();
    let mut args = vec!["audit", "verify", "--key", key.as_str()];
    args.extend(files.iter().map(String::as_str));
    let verify = ward(&args);
    assert!(verify.status.success(), "{}{}", String::from_utf8_lossy(&verify.stdout), String::from_utf8_lossy(&verify.stderr));
    files.iter().map(|f| std::fs::read_to_string(f).expect("audit file")).collect()
}

#[test]
fn locked_down_ward_serves_fetches_keys_reloads_on_sighup_and_audits() {
    let site = Site::new();
    let (key_port, fetched) = serve_keys();
    // Small files: the log rotates (a rename in the audit directory) while serving.
    let small_files = |c: &mut Value| c["audit"]["maxFileBytes"] = json!(2000);
    let config = site.config(Some(key_port), small_files);
    let mut serve = Serve::start(&config, "auto", &[]);
    serve.show_layers();

    // Allow needs the key material, fetched by name through the resolver.
    assert_eq!(serve.auth("Authorization", "Bearer anything"), 200, "{}", serve.log());
    assert!(fetched.load(Ordering::SeqCst) >= 1);
    for _ in 0..10 {
        assert_eq!(serve.auth("X-Api-Key", "anything"), 401);
    }

    // /metrics reads the process's own files under lockdown too.
    let metrics = serve.metrics();
    let families = exposition::parse(&metrics).unwrap_or_else(|err| panic!("{err} in\n{metrics}"));
    for family in exposition::PROCESS_FAMILIES {
        assert!(families.get(family).is_some_and(|values| values.len() == 1), "no {family} under lockdown:\n{metrics}");
    }

    // A reload re-reads ward.json and every file it names, and compiles
    // anew: the allow plugin's route moves to another header.
    site.config(Some(key_port), |c| {
        small_files(c);
        c["plugins"][0]["route"] = json!({ "header": "X-Other", "scheme": null });
    });
    serve.signal("HUP");
    let reload = serve.wait_for(|l| l["fields"]["message"].as_str().is_some_and(|m| m.starts_with("reload")) && l["fields"]["code"].is_string());
    assert_eq!(reload["fields"]["code"], "ok", "{}", serve.log());
    assert_eq!(serve.auth("X-Other", "anything"), 200);
    assert_eq!(serve.auth("Authorization", "Bearer anything"), 401);
    let (status, log) = serve.stop();
    assert!(status.code().is_some(), "ward serve died of a signal ({status:?}):\n{log}");
    let audit = verify_audit(&site);
    for event in ["plugin.load.accepted", "plugin.authenticate.deny", "config.reload.applied"] {
        assert!(audit.contains(event), "no {event} in the audit log:\n{audit}");
    }

    // A torn last line is cut at the next start (an ftruncate in the audit
    // directory), locked down too.
    std::fs::OpenOptions::new().append(true).open(site.path("audit.log")).and_then(|mut f| f.write_all(b"{\"seq\":")).expect("tear");
    let serve = Serve::start(&config, "auto", &[]);
    assert_eq!(serve.auth("X-Api-Key", "anything"), 401);
    serve.stop();
    assert!(verify_audit(&site).contains("audit.recovered"));
}

/// `--lockdown require` serves only where both layers apply, and otherwise
/// exits 78 (a configuration this machine cannot serve: restarting will not
/// help) naming the layer, after its log line said why.
#[test]
fn require_serves_only_when_both_layers_are_applied() {
    let site = Site::new();
    let config = site.config(None, |_| {});
    match Serve::try_start(&config, "require", &[]) {
        Ok(mut serve) => {
            for layer in ["landlock", "seccomp"] {
                assert_eq!(serve.layer(layer)["fields"]["status"], "applied");
            }
            serve.stop();
        }
        Err((status, log)) => {
            println!("require_serves_only_when_both_layers_are_applied: this kernel lacks a layer:\n{log}");
            assert_eq!(status.code(), Some(78), "{log}");
            assert!(log.contains("--lockdown require: the "), "{log}");
            assert!(log.contains("\"status\":\"unsupported\"") || log.contains("\"status\":\"partial\""), "{log}");
        }
    }
}

#[test]
fn an_unknown_lockdown_mode_is_refused() {
    let out = ward(&["serve", "--config", "/nonexistent/ward.json", "--lockdown", "maybe"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected auto, require or off"));
}

/// The Redis audit store under lockdown: ward connects only to the store's
/// port, and must reconnect there after Redis restarts, with no new thread
/// and no system call the filter lacks. Every deny before, during and after
/// the restart ends up in one chain that `ward audit verify --redis` accepts.
#[test]
fn locked_down_ward_audits_to_redis_across_a_redis_restart() {
    let Some(mut redis) = redis_server::Server::start() else { return };
    let site = Site::new();
    let url = redis.url();
    let config = site.config(None, |c| {
        c["audit"] = json!({ "keyFile": "audit.key", "store": { "type": "redis", "url": url, "key": "ward:audit", "replicaId": "ward-1" } });
    });
    let mut serve = Serve::start(&config, "auto", &[]);
    serve.show_layers();
    for _ in 0..5 {
        assert_eq!(serve.auth("X-Api-Key", "anything"), 401);
    }
    redis.kill();
    // Decided while Redis is down: queued, written once it is back.
    for _ in 0..5 {
        assert_eq!(serve.auth("X-Api-Key", "anything"), 401);
    }
    redis.spawn();
    for _ in 0..5 {
        assert_eq!(serve.auth("X-Api-Key", "anything"), 401);
    }
    let (status, log) = serve.stop();
    assert_eq!(status.code(), Some(0), "ward serve did not exit cleanly under lockdown:\n{log}");

    let key = site.path("audit.key").display().to_string();
    let verify = ward(&["audit", "verify", "--redis", &url, "--stream", "ward:audit", "--key", &key]);
    let stdout = String::from_utf8_lossy(&verify.stdout);
    assert!(verify.status.success(), "{stdout}{}", String::from_utf8_lossy(&verify.stderr));
    let exported = site.path("chain.jsonl");
    let export = ward(&["audit", "export", "--redis", &url, "--stream", "ward:audit", "--out", exported.to_str().expect("utf-8")]);
    assert!(export.status.success(), "{}", String::from_utf8_lossy(&export.stderr));
    let chain = std::fs::read_to_string(&exported).expect("exported chain");
    let count = |event: &str| chain.lines().filter(|l| serde_json::from_str::<Value>(l).expect("json line")["event"] == event).count();
    assert_eq!(count("plugin.load.accepted"), 2, "{chain}");
    assert_eq!(count("plugin.authenticate.deny"), 15, "{chain}");
}

/// `compileCache` under lockdown: `ward serve` creates the directory before
/// it locks down, and wasmtime's cache then makes its directories and files
/// inside it (the tree Landlock lets it write, the calls seccomp allows);
/// the next start serves from it.
#[test]
fn locked_down_ward_fills_its_compile_cache_and_starts_from_it() {
    let site = Site::new();
    let config = site.config(None, |c| c["compileCache"] = json!("cache"));
    let cache = site.path("cache");
    assert!(!cache.exists());
    let mut serve = Serve::start(&config, "auto", &[]);
    serve.show_layers();
    assert_eq!(serve.auth("X-Api-Key", "anything"), 401);
    let (status, log) = serve.stop();
    assert_eq!(status.code(), Some(0), "{log}");
    let mode = std::fs::metadata(&cache).expect("the cache directory exists").permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    let files = walk(&cache);
    assert!(files.len() >= 2, "wasmtime's cache wrote no compiled plugin under lockdown: {files:?}\n{log}");
    // The cache's worker lowers its own priority; the filter lets it, so
    // an operator sees no warning at every start.
    assert!(!log.contains("worker thread priority"), "{log}");

    let serve = Serve::start(&config, "auto", &[]);
    assert_eq!(serve.auth("X-Api-Key", "anything"), 401);
    let (status, log) = serve.stop();
    assert_eq!(status.code(), Some(0), "{log}");
    assert_eq!(walk(&cache), files, "the second start compiled again instead of reading the cache");
}

/// Every file under `dir`, recursively, sorted.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir").map(|e| e.expect("entry").path()) {
        if entry.is_dir() { files.extend(walk(&entry)) } else { files.push(entry) }
    }
    files.sort();
    files
}
