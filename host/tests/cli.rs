//! `ward keygen`, `ward sign` and `ward verify` through the real binary:
//! exit codes, stdout JSON, stderr lines, file modes.
// Test code: a broken assumption should stop the test loudly, so unwrap,
// expect, panic and indexing are allowed (clippy.toml does the same for
// `#[cfg(test)]` modules).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use ward_wat_guests as wat_guests;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors");
const NOW: &str = "1795392000000";

struct Run {
    code: i32,
    json: Value,
    stderr: String,
}

fn ward(dir: &Path, args: &[&str]) -> Run {
    let output: Output = Command::new(env!("CARGO_BIN_EXE_ward")).args(args).current_dir(dir).env("RUST_BACKTRACE", "1").output().unwrap_or_else(|e| Output {
        status: std::process::ExitStatus::default(),
        stdout: Vec::new(),
        stderr: e.to_string().into_bytes(),
    });
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!stderr.contains("panicked") && !stderr.contains("backtrace"), "{args:?}: {stderr}");
    Run { code: output.status.code().unwrap_or(-1), json: serde_json::from_slice(&output.stdout).unwrap_or(Value::Null), stderr }
}

/// A bad-input failure: exit 2, `ward: <problem>` on one line, at most a hint after it.
fn assert_input_error(run: &Run, mentions: &str) {
    assert_eq!(run.code, 2, "{}", run.stderr);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert!(lines.first().is_some_and(|l| l.starts_with("ward: ") && l.contains(mentions)), "{:?} lacks {mentions}", run.stderr);
    assert!(lines.len() == 1 || (lines.len() == 2 && lines.get(1).is_some_and(|l| l.starts_with("hint: "))), "{:?}", run.stderr);
}

struct Setup {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

/// keygen + an entry + a signed envelope in a fresh directory.
fn setup() -> Setup {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path().to_path_buf();
    let keygen = ward(&dir, &["keygen", "--key-id", "acme", "--out-dir", "keys"]);
    assert_eq!(keygen.code, 0, "{}", keygen.stderr);
    std::fs::write(dir.join("plugin.wasm"), b"\0asm fake component").unwrap_or_default();
    let sign =
        ward(&dir, &["sign", "plugin.wasm", "--key", "keys/acme.key", "--signer-key-id", "acme", "--plugin-id", "acme-auth", "--plugin-version", "1.0.0"]);
    assert_eq!(sign.code, 0, "{}", sign.stderr);
    assert_eq!(sign.json["outPath"], "acme-auth.signed.json");
    Setup { _tmp: tmp, dir }
}

fn verify(dir: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["verify", "acme-auth.signed.json", "--entry", "plugin.wasm", "--now", NOW];
    args.extend_from_slice(extra);
    ward(dir, &args)
}

#[test]
fn keygen_sign_verify_round_trip() {
    let s = setup();
    let ok = verify(&s.dir, &["--anchor", "keys/acme.pub", "--allow-capability", "readsCredentials"]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert_eq!(ok.json["valid"], true);
    assert_eq!(ok.json["pluginId"], "acme-auth");
    assert_eq!(ok.json["signerKeyId"], "acme");
    assert_eq!(ok.json["coreVersionRange"], ">=0.1.0 <0.2.0");
    assert_eq!(ok.json["capabilities"]["readsCredentials"], true);
    let envelope: Value = serde_json::from_slice(&std::fs::read(s.dir.join("acme-auth.signed.json")).unwrap_or_default()).unwrap_or(Value::Null);
    let fields: Vec<&String> = envelope["payload"].as_object().map(|m| m.keys().collect()).unwrap_or_default();
    assert_eq!(fields, ["pluginId", "kind", "version", "capabilities", "coreVersionRange", "entrySha256", "notBefore", "notAfter"]);
    assert_eq!(envelope["payload"]["notBefore"], Value::Null);
}

#[cfg(unix)]
#[test]
fn key_files_are_0600_and_never_printed() {
    use std::os::unix::fs::PermissionsExt as _;
    let tmp = tempfile::tempdir().expect("temp dir");
    let run = ward(tmp.path(), &["keygen", "--key-id", "k", "--out-dir", "."]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mode = std::fs::metadata(tmp.path().join("k.key")).map(|m| m.permissions().mode() & 0o777).unwrap_or(0);
    assert_eq!(mode, 0o600);
    let printed = run.json.to_string();
    assert!(!printed.contains("PRIVATE") && printed.contains("BEGIN PUBLIC KEY"), "{printed}");
    let private = std::fs::read_to_string(tmp.path().join("k.key")).unwrap_or_default();
    let body = private.lines().nth(1).unwrap_or("missing");
    assert!(!printed.contains(body));

    let again = ward(tmp.path(), &["keygen", "--key-id", "k", "--out-dir", "."]);
    assert_input_error(&again, "already exists");
    assert_eq!(std::fs::read_to_string(tmp.path().join("k.key")).unwrap_or_default(), private);
    std::fs::set_permissions(tmp.path().join("k.key"), std::fs::Permissions::from_mode(0o644)).unwrap_or_default();
    assert_eq!(ward(tmp.path(), &["keygen", "--key-id", "k", "--out-dir", ".", "--force"]).code, 0);
    let mode = std::fs::metadata(tmp.path().join("k.key")).map(|m| m.permissions().mode() & 0o777).unwrap_or(0);
    assert_eq!(mode, 0o600);

    let identity = ward(tmp.path(), &["keygen", "--identity-key", "id.key"]);
    assert_eq!(identity.code, 0, "{}", identity.stderr);
    let meta = std::fs::metadata(tmp.path().join("id.key"));
    assert_eq!(meta.as_ref().map(|m| (m.len(), m.permissions().mode() & 0o777)).ok(), Some((32, 0o600)));
    assert_input_error(&ward(tmp.path(), &["keygen", "--identity-key", "id.key"]), "id.key");
    assert_input_error(&ward(tmp.path(), &["keygen", "--key-id", "../escape"]), "--key-id");
}

#[test]
fn tampered_entry_is_refused_with_exit_1() {
    let s = setup();
    std::fs::write(s.dir.join("plugin.wasm"), b"\0asm fake componenT").unwrap_or_default();
    let run = verify(&s.dir, &["--anchor", "keys/acme.pub", "--allow-capability", "readsCredentials"]);
    assert_eq!(run.code, 1);
    assert_eq!(run.json["valid"], false);
    assert_eq!(run.json["reason"], "tampered-entry");
    assert!(run.stderr.contains("tampered-entry"), "{}", run.stderr);
}

#[test]
fn wrong_anchor_is_refused() {
    let s = setup();
    assert_eq!(ward(&s.dir, &["keygen", "--key-id", "other", "--out-dir", "keys"]).code, 0);
    let run = verify(&s.dir, &["--anchor", "keys/other.pub", "--allow-capability", "readsCredentials"]);
    assert_eq!((run.code, run.json["reason"].as_str()), (1, Some("invalid-signature")));
    let run = verify(&s.dir, &["--anchor", "keys/acme.pub", "--anchor-key-id", "other", "--allow-capability", "readsCredentials"]);
    assert_eq!((run.code, run.json["reason"].as_str()), (1, Some("unknown-signer")));
}

#[test]
fn missing_allowlist_and_pins() {
    let s = setup();
    let run = verify(&s.dir, &["--anchor", "keys/acme.pub"]);
    assert_eq!((run.code, run.json["reason"].as_str()), (1, Some("capability-not-allowlisted")));
    let zero = "0".repeat(64);
    let run = verify(&s.dir, &["--anchor", "keys/acme.pub", "--allow-capability", "readsCredentials", "--pin", &zero]);
    assert_eq!((run.code, run.json["reason"].as_str()), (1, Some("pin-mismatch")));
}

#[test]
fn config_trust_section() {
    let s = setup();
    let pem = std::fs::read_to_string(s.dir.join("keys/acme.pub")).unwrap_or_default();
    let config = |trust: Value| {
        std::fs::write(s.dir.join("ward.json"), serde_json::json!({ "later": {}, "trust": trust }).to_string()).unwrap_or_default();
        verify(&s.dir, &["--config", "ward.json"])
    };
    let ok = config(serde_json::json!({ "trustAnchors": [{ "keyId": "acme", "publicKey": pem }], "allowCapabilities": ["readsCredentials"] }));
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    let revoked =
        config(serde_json::json!({ "trustAnchors": { "acme": pem }, "allowCapabilities": ["readsCredentials"], "revoked": { "signerKeyIds": ["acme"] } }));
    assert_eq!((revoked.code, revoked.json["reason"].as_str()), (1, Some("revoked")));
    let floor =
        config(serde_json::json!({ "trustAnchors": { "acme": pem }, "allowCapabilities": ["readsCredentials"], "versionFloor": { "acme-auth": "1.0.1" } }));
    assert_eq!(floor.json["reason"], "below-version-floor");
    assert_input_error(&config(serde_json::json!({ "trustAnchors": [] })), "trust.trustAnchors: is empty");
    assert_input_error(&config(serde_json::json!({ "trustAnchors": { "acme": pem }, "typo": 1 })), "unknown field `typo`");
    // A second "revoked" would cancel the first if the last one won.
    let text =
        serde_json::json!({ "trust": { "trustAnchors": { "acme": pem }, "allowCapabilities": ["readsCredentials"], "revoked": { "signerKeyIds": ["acme"] } } })
            .to_string();
    let revoked = "\"revoked\":{\"signerKeyIds\":[\"acme\"]}";
    let twice = text.replacen(revoked, &format!("{revoked},\"revoked\":{{}}"), 1);
    assert_ne!(twice, text);
    std::fs::write(s.dir.join("ward.json"), twice).unwrap_or_default();
    assert_input_error(&verify(&s.dir, &["--config", "ward.json"]), "ward.json: trust.revoked: duplicate key");
}

#[test]
fn bad_inputs_are_one_line_errors_with_exit_2() {
    let s = setup();
    let d = &s.dir;
    let allow = ["--allow-capability", "readsCredentials"];
    assert_input_error(&ward(d, &["verify", "nope.json", "--entry", "plugin.wasm", "--anchor", "keys/acme.pub"]), "nope.json");
    assert_input_error(&verify(d, &["--anchor", "keys/missing.pub"]), "keys/missing.pub");
    assert_input_error(&ward(d, &["verify", "acme-auth.signed.json", "--entry", "missing.wasm", "--anchor", "keys/acme.pub"]), "missing.wasm");
    // A private key where the anchor belongs.
    assert_input_error(&verify(d, &["--anchor", "keys/acme.key", "--allow-capability", "readsCredentials"]), "expected \"PUBLIC KEY\"");
    // A public key where the signing key belongs.
    assert_input_error(
        &ward(d, &["sign", "plugin.wasm", "--key", "keys/acme.pub", "--signer-key-id", "a", "--plugin-id", "p", "--plugin-version", "1"]),
        "expected \"PRIVATE KEY\"",
    );
    let rsa = rsa_public_key(d);
    let mut args = vec!["--anchor", rsa.to_str().unwrap_or_default()];
    args.extend_from_slice(&allow);
    assert_input_error(&verify(d, &args), "rsa");
    std::fs::write(d.join("ward.json"), "not json").unwrap_or_default();
    assert_input_error(&verify(d, &["--config", "ward.json"]), "not a JSON object");
    assert_input_error(
        &ward(
            d,
            &["sign", "plugin.wasm", "--key", "keys/acme.key", "--signer-key-id", "a", "--plugin-id", "p", "--plugin-version", "1", "--capabilities", "{x"],
        ),
        "--capabilities",
    );
    assert_input_error(
        &ward(d, &["sign", "plugin.wasm", "--key", "keys/acme.key", "--signer-key-id", "a", "--plugin-id", "p", "--plugin-version", "1", "--core-range", "^1"]),
        "core range",
    );
    // clap's own usage errors also exit 2.
    assert_eq!(ward(d, &["verify", "acme-auth.signed.json", "--entry", "plugin.wasm"]).code, 2);
}

/// Every malformed envelope is a refusal with one reason and one exit code:
/// an envelope that is not JSON, holds a number beyond f64 or a lone
/// surrogate (which serde_json refuses while parsing) is `manifest-invalid`
/// like one with a repeated key or a field of the wrong type, never an
/// "unusable input" exit 2.
#[test]
fn every_malformed_envelope_is_manifest_invalid_with_exit_1() {
    let s = setup();
    let good = std::fs::read_to_string(s.dir.join("acme-auth.signed.json")).unwrap_or_default();
    let signer = "\"signerKeyId\": \"acme\"";
    assert!(good.contains(signer), "{good}");
    let malformed = [
        ("not JSON", "{ not json".to_owned()),
        ("number out of range", good.replacen(signer, &format!("\"x\": 1e400, {signer}"), 1)),
        ("lone surrogate", good.replacen(signer, "\"signerKeyId\": \"\\ud800\"", 1)),
        ("trailing bytes", format!("{good} x")),
        ("repeated key", good.replacen(signer, &format!("{signer}, {signer}"), 1)),
        ("wrong type", good.replacen(signer, "\"signerKeyId\": 7", 1)),
    ];
    for (what, text) in malformed {
        std::fs::write(s.dir.join("bad.signed.json"), &text).unwrap_or_default();
        // Without --anchor-key-id the CLI reads signerKeyId itself; with it, it does not.
        for key_id in [&[][..], &["--anchor-key-id", "acme"][..]] {
            let mut args = vec![
                "verify",
                "bad.signed.json",
                "--entry",
                "plugin.wasm",
                "--now",
                NOW,
                "--anchor",
                "keys/acme.pub",
                "--allow-capability",
                "readsCredentials",
            ];
            args.extend_from_slice(key_id);
            let run = ward(&s.dir, &args);
            assert_eq!((run.code, run.json["reason"].as_str()), (1, Some("manifest-invalid")), "{what} {key_id:?}: {}", run.stderr);
            assert!(run.stderr.starts_with("ward: verify refused: manifest-invalid"), "{what}: {}", run.stderr);
        }
    }
}

/// An RSA public key: made with openssl when present, else the checked-in one.
fn rsa_public_key(dir: &Path) -> PathBuf {
    let made = dir.join("rsa.pub");
    let ok = Command::new("openssl")
        .args(["genpkey", "-algorithm", "rsa", "-pkeyopt", "rsa_keygen_bits:1024", "-out", "rsa.key"])
        .current_dir(dir)
        .output()
        .is_ok_and(|o| o.status.success())
        && Command::new("openssl").args(["pkey", "-in", "rsa.key", "-pubout", "-out", "rsa.pub"]).current_dir(dir).output().is_ok_and(|o| o.status.success());
    if ok { made } else { PathBuf::from(format!("{VECTORS}/rsa-test.pub")) }
}

#[test]
fn ward_sign_writes_the_same_bytes_as_haechi_plugin_sign() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let run = ward(
        tmp.path(),
        &[
            "sign",
            &format!("{VECTORS}/entry.bin"),
            "--key",
            &format!("{VECTORS}/test-signer.key"),
            "--signer-key-id",
            "ward-test-signer",
            "--plugin-id",
            "acme-auth",
            "--kind",
            "authProvider",
            "--plugin-version",
            "1.0.0",
            "--core-range",
            ">=0.1.0 <0.2.0",
            "--capabilities",
            "{\"readsCredentials\":true}",
            "--not-before",
            "1763856000000",
            "--out",
            "out.json",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let ours = std::fs::read(tmp.path().join("out.json")).unwrap_or_default();
    let haechi = std::fs::read(format!("{VECTORS}/haechi-plugin-sign.signed.json")).unwrap_or_default();
    assert_eq!(String::from_utf8_lossy(&ours), String::from_utf8_lossy(&haechi));
}

#[test]
fn every_command_has_help() {
    let tmp = tempfile::tempdir().expect("temp dir");
    for command in ["keygen", "sign", "verify", "authenticate", "plugin", "check", "serve", "audit", "apikey"] {
        let out = Command::new(env!("CARGO_BIN_EXE_ward")).args([command, "--help"]).current_dir(tmp.path()).output();
        assert!(out.is_ok_and(|o| o.status.success() && !o.stdout.is_empty()), "{command}");
    }
    // The plugin-author loop with keys starts from this line of the help.
    let help = Command::new(env!("CARGO_BIN_EXE_ward")).args(["authenticate", "--help"]).output().map(|o| o.stdout).unwrap_or_default();
    let help = String::from_utf8_lossy(&help);
    assert!(help.contains("--key-material") && help.contains("NAME=FILE:FORMAT") && help.contains("`api-keys`"), "{help}");
}

// ---------------------------------------------------------------- serve

/// A directory `ward serve` can start from: the signer's public key as the
/// trust anchor, an identity key, an audit key, and a `ward.json` serving
/// `plugins` on loopback.
fn serve_setup(plugins: Value, edit: impl FnOnce(&mut Value)) -> Setup {
    serve_setup_in(setup(), plugins, edit)
}

/// [`serve_setup`] in a directory made by [`setup`].
fn serve_setup_in(s: Setup, plugins: Value, edit: impl FnOnce(&mut Value)) -> Setup {
    for key in ["id.key", "audit.key"] {
        let run = ward(&s.dir, &["keygen", "--identity-key", key]);
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    serve_config(&s.dir, plugins, edit);
    s
}

/// (Re)writes `dir/ward.json` for [`serve_setup`]'s keys.
fn serve_config(dir: &Path, plugins: Value, edit: impl FnOnce(&mut Value)) {
    let pem = std::fs::read_to_string(dir.join("keys/acme.pub")).unwrap_or_default();
    let mut config = serde_json::json!({
        "trust": { "trustAnchors": { "acme": pem }, "allowCapabilities": ["readsCredentials"] },
        "identity": { "keyFile": "id.key" },
        "audit": { "file": "audit.log", "keyFile": "audit.key" },
        "plugins": plugins,
    });
    edit(&mut config);
    std::fs::write(dir.join("ward.json"), config.to_string()).unwrap_or_default();
}

/// A loopback port nothing listens on (bound and released at once).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// `ward serve` as a child process, its stderr collected by a thread.
struct Served {
    child: std::process::Child,
    stderr: Arc<Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
    port: u16,
}

/// How long any step of a serve test may take on a busy 2-core machine; the
/// tests wait for conditions, this only bounds a failure.
const SERVE_PATIENCE: Duration = Duration::from_secs(60);

impl Served {
    fn start(dir: &Path) -> Self {
        Self::start_with(dir, &[])
    }

    fn start_with(dir: &Path, extra: &[&str]) -> Self {
        Self::start_env(dir, &[&["--config", "ward.json"], extra].concat(), &[])
    }

    /// `ward serve --listen <a free port>` with exactly `args`, and `env` added.
    fn start_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        let port = free_port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_ward"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(args)
            .envs(env.iter().copied())
            .current_dir(dir)
            .env("RUST_BACKTRACE", "1")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ward serve starts");
        let stderr = Arc::new(Mutex::new(String::new()));
        let pipe = child.stderr.take().expect("piped stderr");
        let sink = Arc::clone(&stderr);
        let reader = std::thread::spawn(move || {
            use std::io::BufRead as _;
            for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
                if let Ok(mut text) = sink.lock() {
                    text.push_str(&line);
                    text.push('\n');
                }
            }
        });
        Self { child, stderr, reader: Some(reader), port }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn signal(&self, name: &str) {
        let sent = Command::new("kill").args([format!("-{name}"), self.pid().to_string()]).status();
        assert!(sent.is_ok_and(|s| s.success()), "kill -{name} failed");
    }

    /// `GET path` on the served port: the status line, or `None` if nothing answers.
    fn get(&self, path: &str) -> Option<String> {
        self.get_with(path, "")
    }

    /// `/auth` with a bearer token: the status code.
    fn auth(&self) -> Option<u16> {
        let line = self.get_with("/auth", "authorization: Bearer anything\r\n")?;
        line.split(' ').nth(1)?.parse().ok()
    }

    /// [`Served::get`] with `headers` (complete lines) added.
    fn get_with(&self, path: &str, headers: &str) -> Option<String> {
        use std::io::{Read as _, Write as _};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(SERVE_PATIENCE)).ok()?;
        stream.write_all(format!("GET {path} HTTP/1.1\r\nhost: x\r\n{headers}connection: close\r\n\r\n").as_bytes()).ok()?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).ok()?;
        answer.lines().next().map(str::to_owned)
    }

    /// Waits until `/readyz` answers 200; fails if the process ends first.
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + SERVE_PATIENCE;
        loop {
            let ended = self.child.try_wait();
            assert!(!matches!(ended, Ok(Some(_))), "ward serve ended before it was ready ({ended:?}):\n{}", self.stderr());
            if self.get("/readyz").is_some_and(|line| line.contains(" 200 ")) {
                return;
            }
            assert!(Instant::now() < deadline, "never ready:\n{}", self.stderr());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until stderr contains `needle`.
    fn wait_log(&self, needle: &str) {
        let deadline = Instant::now() + SERVE_PATIENCE;
        while !self.stderr().contains(needle) {
            assert!(Instant::now() < deadline, "no {needle:?} in:\n{}", self.stderr());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for the process to end: its exit status and all of stderr.
    fn finish(mut self) -> (std::process::ExitStatus, String) {
        let deadline = Instant::now() + SERVE_PATIENCE;
        let status = loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                break status;
            }
            // (`Drop` kills it.)
            assert!(Instant::now() < deadline, "ward serve did not stop:\n{}", self.stderr());
            std::thread::sleep(Duration::from_millis(20));
        };
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        (status, self.stderr())
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        // A failed assertion must not leave a server running.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Finding 5 of issue 15: the gateway's key-material runtime was dropped on a
/// server thread at every stop, a panic with a backtrace (exit still 0).
#[test]
fn serve_stops_on_sigterm_and_sigint_with_exit_0_and_no_panic() {
    for signal in ["TERM", "INT"] {
        let s = serve_setup(serde_json::json!([]), |_| {});
        let mut served = Served::start(&s.dir);
        served.wait_ready();
        served.signal(signal);
        let (status, stderr) = served.finish();
        assert_eq!(status.code(), Some(0), "SIG{signal}: {stderr}");
        assert!(!stderr.contains("panicked") && !stderr.contains("backtrace"), "SIG{signal}: {stderr}");
        assert!(stderr.contains("ward serve stopped"), "SIG{signal}: {stderr}");
    }
}

/// Issue 18: a module and envelope made by Haechi's own `signPluginManifest`
/// (tests/vectors/haechi-js), with Haechi's anchor, served by `ward serve`
/// unchanged: its good token allowed, any other a 401 (Haechi's deny).
#[test]
fn serve_runs_a_haechi_signed_module_unchanged() {
    let s = setup();
    let vectors = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors");
    for name in ["plugin.mjs", "plugin.signed.json"] {
        std::fs::copy(vectors.join("haechi-js").join(name), s.dir.join(name)).expect("fixture copied");
    }
    let anchor = std::fs::read_to_string(vectors.join("test-signer.pub")).expect("anchor");
    let plugin = serde_json::json!({
        "id": "haechi-js", "envelope": "plugin.signed.json", "component": "plugin.mjs", "runtime": "js",
        "route": { "header": "Authorization", "scheme": "Bearer" },
    });
    let s = serve_setup_in(s, serde_json::json!([plugin]), |c| c["trust"]["trustAnchors"] = serde_json::json!({ "ward-test-signer": anchor }));
    let mut served = Served::start(&s.dir);
    served.wait_ready();
    let status = |token: &str| served.get_with("/auth", &format!("authorization: Bearer {token}\r\n")).unwrap_or_default();
    assert!(status("good-token-alice").starts_with("HTTP/1.1 200"), "{}", served.stderr());
    assert!(status("bad-token").starts_with("HTTP/1.1 401"), "{}", served.stderr());
}

/// Finding 5, second half: with the port taken the same drop panicked on the
/// main thread (exit 101) and the bind error was never printed.
#[test]
fn serve_on_a_taken_port_exits_2_naming_the_bind_error() {
    let s = serve_setup(serde_json::json!([]), |_| {});
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let addr = taken.local_addr().expect("its address");
    let run = ward(&s.dir, &["serve", "--config", "ward.json", "--listen", &addr.to_string()]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.lines().any(|l| l.starts_with(&format!("ward: cannot listen on {addr}"))), "{}", run.stderr);
}

/// Writes a WAT plugin that allows everyone as `<id>.wasm`, signed by the
/// setup's signer, and returns its `plugins[]` entry.
fn serve_plugin(dir: &Path, id: &str) -> Value {
    std::fs::write(dir.join(format!("{id}.wasm")), wat_guests::component(&wat_guests::allow_fixed())).unwrap_or_default();
    let envelope = format!("{id}.signed.json");
    let component = format!("{id}.wasm");
    let sign = ward(
        dir,
        &["sign", &component, "--key", "keys/acme.key", "--signer-key-id", "acme", "--plugin-id", id, "--plugin-version", "1.0.0", "--out", &envelope],
    );
    assert_eq!(sign.code, 0, "{}", sign.stderr);
    serde_json::json!({ "id": id, "envelope": envelope, "component": component, "route": { "header": "Authorization", "scheme": "Bearer" } })
}

/// Accepts one connection on `listener` while `served` runs; fails if it ends first.
fn accept_while_running(listener: &std::net::TcpListener, served: &mut Served) -> std::net::TcpStream {
    listener.set_nonblocking(true).expect("non-blocking listener");
    let deadline = Instant::now() + SERVE_PATIENCE;
    loop {
        if let Ok((stream, _)) = listener.accept() {
            stream.set_nonblocking(false).expect("blocking stream");
            return stream;
        }
        let ended = served.child.try_wait();
        assert!(!matches!(ended, Ok(Some(_))), "ward serve ended ({ended:?}):\n{}", served.stderr());
        assert!(Instant::now() < deadline, "ward never fetched its key material:\n{}", served.stderr());
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `keyMaterialFetch` allowing this test's loopback servers, with a fetch
/// timeout far beyond any wait here.
fn loopback_fetch() -> Value {
    serde_json::json!({ "allowHttpHosts": ["127.0.0.1"], "allowCidrs": ["127.0.0.0/8"], "totalTimeoutMs": 300_000 })
}

/// A setup whose plugin fetches its key material at load from the returned
/// listener: until the test answers, ward is provably still starting.
fn slow_start() -> (Setup, std::net::TcpListener) {
    let keys = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let url = format!("http://{}/jwks", keys.local_addr().expect("its address"));
    let s = setup();
    let mut plugin = serve_plugin(&s.dir, "slow-start");
    plugin["keyMaterial"] = serde_json::json!([{ "name": "jwks", "url": url }]);
    (serve_setup_in(s, serde_json::json!([plugin]), |c| c["keyMaterialFetch"] = loopback_fetch()), keys)
}

/// Finding 8 of issue 15: the handlers were installed after every plugin had
/// compiled, so a SIGHUP during start-up ended ward (exit 129).
#[test]
fn serve_keeps_a_sighup_sent_during_start_up_and_reloads_once_ready() {
    let (s, keys) = slow_start();
    let mut served = Served::start(&s.dir);
    let mut fetch = accept_while_running(&keys, &mut served);
    served.signal("HUP");
    served.signal("HUP");
    {
        use std::io::{Read as _, Write as _};
        let mut request = [0u8; 4096];
        let _ = fetch.read(&mut request);
        let body = "{\"keys\":[]}";
        let answer = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
        fetch.write_all(answer.as_bytes()).expect("answer the fetch");
    }
    drop(fetch);
    served.wait_ready();
    // The two SIGHUPs sent while loading make one reload, after the start.
    served.wait_log("reload done");
    let audit = std::fs::read_to_string(s.dir.join("audit.log")).unwrap_or_default();
    assert_eq!(audit.matches("\"config.reload.applied\"").count(), 1, "{audit}");
    served.signal("TERM");
    let (status, stderr) = served.finish();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert_eq!(stderr.matches("reload done").count(), 1, "{stderr}");
}

/// A SIGTERM while plugins load stops ward at once, with exit 0, without serving.
#[test]
fn serve_stops_at_once_on_sigterm_during_start_up() {
    let (s, keys) = slow_start();
    let mut served = Served::start(&s.dir);
    let _fetch = accept_while_running(&keys, &mut served);
    served.signal("TERM");
    let (status, stderr) = served.finish();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("stopped before the gate was ready"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// Issue 15, finding 4: a reload that hung held the reload lock, so a later
/// SIGHUP revoking the signer was never applied and the revoked plugin kept
/// answering 200. The hang here is a key-material server that accepts and
/// never answers (its fetch timeout is far beyond the reload deadline).
#[test]
fn serve_applies_a_revocation_while_a_reload_hangs_then_refuses_the_hung_one() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let url = format!("http://{}/jwks", silent.local_addr().expect("its address"));
    let fetch = loopback_fetch();
    let s = setup();
    let plugin = serve_plugin(&s.dir, "steady");
    let s = serve_setup_in(s, serde_json::json!([plugin.clone()]), |c| c["keyMaterialFetch"] = fetch.clone());
    // Lockdown fixes the ports ward may connect to at start, and the silent
    // server's port only enters the config at the first reload: with it on,
    // that fetch is refused at once instead of hanging (docs/deployment.md).
    let mut served = Served::start_with(&s.dir, &["--reload-timeout", "10", "--lockdown", "off"]);
    served.wait_ready();
    assert_eq!(served.auth(), Some(200));

    // SIGHUP 1: the plugin now fetches key material, from the silent server.
    let mut hanging = plugin;
    hanging["keyMaterial"] = serde_json::json!([{ "name": "jwks", "url": url }]);
    serve_config(&s.dir, serde_json::json!([hanging.clone()]), |c| c["keyMaterialFetch"] = fetch.clone());
    served.signal("HUP");
    let _held = accept_while_running(&silent, &mut served);

    // SIGHUP 2 revokes the signer: the plugin stops while reload 1 hangs.
    serve_config(&s.dir, serde_json::json!([hanging]), |c| {
        c["keyMaterialFetch"] = fetch.clone();
        c["trust"]["revoked"] = serde_json::json!({ "signerKeyIds": ["acme"] });
    });
    served.signal("HUP");
    let deadline = Instant::now() + SERVE_PATIENCE;
    while served.auth() == Some(200) {
        assert!(Instant::now() < deadline, "the revoked plugin still answers 200:\n{}", served.stderr());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(served.auth(), Some(503));
    let audit = std::fs::read_to_string(s.dir.join("audit.log")).unwrap_or_default();
    assert!(audit.contains("\"cause\":\"revoked\""), "{audit}");
    assert!(!audit.contains("reload-timeout"), "the revocation waited for reload 1's deadline: {audit}");

    // Reload 1 is refused at its deadline; the queued one then applies the
    // revoking config in full.
    served.wait_log("reload-timeout");
    served.wait_log("reload done");
    let audit = std::fs::read_to_string(s.dir.join("audit.log")).unwrap_or_default();
    assert!(audit.contains("\"event\":\"config.reload.refused\"") && audit.contains("\"reason\":\"reload-timeout\""), "{audit}");
    assert_eq!(audit.matches("\"config.reload.applied\"").count(), 1, "{audit}");
    assert_eq!(served.auth(), Some(503));
    served.signal("TERM");
    let (status, stderr) = served.finish();
    assert_eq!(status.code(), Some(0), "{stderr}");
}

/// `--runtime js`: Haechi's own envelope for a JavaScript module verifies
/// (its `>=1.0.0 <2.0.0` names the Haechi contract) and `ward authenticate`
/// runs the module; without the flag the range is ward's and is refused.
#[test]
fn runtime_js_verifies_and_runs_a_haechi_signed_module() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let common = |extra: &[&str]| {
        let mut args = vec!["verify", "plugin.signed.json", "--entry", "plugin.mjs", "--anchor", "test-signer.pub", "--allow-capability", "readsCredentials"];
        args.extend_from_slice(extra);
        ward(dir, &args)
    };
    for (from, to) in [("haechi-js/plugin.signed.json", "plugin.signed.json"), ("haechi-js/plugin.mjs", "plugin.mjs"), ("test-signer.pub", "test-signer.pub")] {
        std::fs::copy(format!("{VECTORS}/{from}"), dir.join(to)).unwrap();
    }
    let run = common(&["--runtime", "js"]);
    assert_eq!((run.code, &run.json["pluginId"]), (0, &Value::from("haechi-js")), "{}", run.stderr);
    let run = common(&[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("manifest-invalid"), "{}", run.stderr);

    std::fs::write(dir.join("identity.key"), [7u8; 32]).unwrap();
    std::fs::set_permissions(dir.join("identity.key"), std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ward"))
        .args(["authenticate", "--envelope", "plugin.signed.json", "--component", "plugin.mjs", "--runtime", "js", "--anchor", "test-signer.pub"])
        .args(["--allow-capability", "readsCredentials", "--identity-key", "identity.key", "--timeout-ms", "5000"])
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"good-token-alice").unwrap();
    let out = child.wait_with_output().unwrap();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    assert_eq!(json["decision"], "allow", "{}", String::from_utf8_lossy(&out.stderr));
}

/// `ward plugin inspect --runtime js`: the module's own size and hash (what
/// the envelope's entrySha256 must be), and the component ward makes of it
/// (exports the authenticator, imports only the engine's entropy for
/// `Math.random`); a module the engine
/// refuses prints the load refusal's code, never the module's text, and
/// exits 1.
#[test]
fn plugin_inspect_runtime_js_describes_the_module_and_what_it_becomes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::copy(format!("{VECTORS}/haechi-js/plugin.mjs"), dir.join("plugin.mjs")).unwrap();
    let run = ward(dir, &["plugin", "inspect", "--runtime", "js", "plugin.mjs"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let envelope: Value = serde_json::from_slice(&std::fs::read(format!("{VECTORS}/haechi-js/plugin.signed.json")).unwrap()).unwrap();
    assert_eq!(run.json["kind"], "javascript");
    assert_eq!(run.json["sha256"], envelope["payload"]["entrySha256"]);
    assert_eq!(run.json["component"]["kind"], "component");
    assert_eq!(run.json["component"]["imports"], serde_json::json!(["wasi:random/random@0.2.12"]));
    assert!(run.json["component"]["exports"].as_array().unwrap().iter().any(|e| e.as_str().unwrap().starts_with("ward:auth/authenticator@")), "{}", run.json);

    std::fs::write(dir.join("broken.mjs"), "export default function ( SECRET-MARKER-7f3a").unwrap();
    let run = ward(dir, &["plugin", "inspect", "--runtime", "js", "broken.mjs"]);
    assert_eq!((run.code, &run.json["refusal"]), (1, &Value::from("js-syntax")), "{}", run.stderr);
    assert!(!run.json.to_string().contains("SECRET-MARKER") && !run.stderr.contains("SECRET-MARKER"));
    // Without --runtime js a module is just a file that is not wasm.
    let run = ward(dir, &["plugin", "inspect", "plugin.mjs"]);
    assert_eq!((run.code, &run.json["kind"]), (0, &Value::from("not-wasm")), "{}", run.stderr);
}

// ------------------------------------------------ operating conventions (issue 20)

/// A setup serving one allow-everyone plugin, with `server` set to `server`.
fn operated(server: Value) -> Setup {
    let s = setup();
    let plugin = serve_plugin(&s.dir, "steady");
    serve_setup_in(s, serde_json::json!([plugin]), |c| c["server"] = server)
}

/// `dir/<name>`'s config with the plugin disabled: `/auth` then answers 503.
fn disabled_config(dir: &Path) -> String {
    let mut config: Value = serde_json::from_slice(&std::fs::read(dir.join("ward.json")).unwrap()).unwrap();
    config["plugins"][0]["enabled"] = Value::Bool(false);
    config.to_string()
}

impl Served {
    /// Waits until `/auth` no longer answers 200.
    fn wait_not_allowed(&self) {
        let deadline = Instant::now() + SERVE_PATIENCE;
        while self.auth() == Some(200) {
            assert!(Instant::now() < deadline, "the change was never applied:\n{}", self.stderr());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn reloads_applied(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("audit.log")).unwrap_or_default().matches("\"config.reload.applied\"").count()
}

/// `server.watchConfig`: an edit of ward.json reloads as SIGHUP does (the
/// same audit event), once for a save's several events, with the default
/// lockdown on (its seccomp filter allows the inotify calls).
#[test]
fn watch_config_reloads_on_an_edit_once_as_sighup_does() {
    let s = operated(serde_json::json!({ "watchConfig": true }));
    let mut served = Served::start(&s.dir);
    served.wait_ready();
    assert_eq!(served.auth(), Some(200));
    let changed = disabled_config(&s.dir);
    std::fs::write(s.dir.join("ward.json"), &changed).unwrap();
    served.wait_not_allowed();
    served.wait_log("reload done");
    assert!(served.stderr().contains("config-change"), "{}", served.stderr());
    // Nothing else asks for a reload: not the reload's own read of the file,
    // not the audit log written beside it.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(reloads_applied(&s.dir), 1);
    assert_eq!(served.stderr().matches("reload done").count(), 1, "{}", served.stderr());
    served.signal("TERM");
    let (status, stderr) = served.finish();
    assert_eq!(status.code(), Some(0), "{stderr}");
}

/// A Kubernetes ConfigMap volume: `ward.json` is a symlink to
/// `..data/ward.json` that never changes itself; an update writes a new
/// timestamped directory and renames a new `..data` link over the old one.
#[test]
fn watch_config_reloads_when_kubernetes_swaps_its_data_link() {
    let s = operated(serde_json::json!({ "watchConfig": true }));
    let dir = &s.dir;
    let changed = disabled_config(dir);
    std::fs::create_dir(dir.join("..2026_12_07_05_00_00.1")).unwrap();
    std::fs::rename(dir.join("ward.json"), dir.join("..2026_12_07_05_00_00.1/ward.json")).unwrap();
    std::os::unix::fs::symlink("..2026_12_07_05_00_00.1", dir.join("..data")).unwrap();
    std::os::unix::fs::symlink("..data/ward.json", dir.join("ward.json")).unwrap();
    let mut served = Served::start(dir);
    served.wait_ready();
    assert_eq!(served.auth(), Some(200));

    // What the kubelet's atomic writer does.
    std::fs::create_dir(dir.join("..2026_12_07_05_01_00.2")).unwrap();
    std::fs::write(dir.join("..2026_12_07_05_01_00.2/ward.json"), changed).unwrap();
    std::os::unix::fs::symlink("..2026_12_07_05_01_00.2", dir.join("..data_tmp")).unwrap();
    std::fs::rename(dir.join("..data_tmp"), dir.join("..data")).unwrap();
    std::fs::remove_dir_all(dir.join("..2026_12_07_05_00_00.1")).unwrap();

    served.wait_not_allowed();
    served.wait_log("reload done");
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(reloads_applied(dir), 1);
    served.signal("TERM");
    assert_eq!(served.finish().0.code(), Some(0));
}

/// Without `server.watchConfig` an edit changes nothing until SIGHUP.
#[test]
fn without_watch_config_an_edit_waits_for_sighup() {
    let s = operated(serde_json::json!({}));
    let mut served = Served::start(&s.dir);
    served.wait_ready();
    std::fs::write(s.dir.join("ward.json"), disabled_config(&s.dir)).unwrap();
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(served.auth(), Some(200));
    served.signal("HUP");
    served.wait_not_allowed();
}

/// `server.decisionLog`: one info line per decision with the identity id,
/// plugin, outcome, reason and duration, and never the credential.
#[test]
fn decision_log_names_the_decision_and_never_the_credential() {
    const MARKER: &str = "MARKER-cred-7f3a9c";
    let s = operated(serde_json::json!({ "decisionLog": true, "jsonLogs": true }));
    let mut served = Served::start(&s.dir);
    served.wait_ready();
    let allowed = served.get_with("/auth", &format!("authorization: Bearer {MARKER}\r\n"));
    assert!(allowed.is_some_and(|line| line.contains(" 200 ")));
    let denied = served.get_with("/auth", &format!("x-other: {MARKER}\r\n"));
    assert!(denied.is_some_and(|line| line.contains(" 401 ")));
    served.wait_log("missing-credential");
    served.signal("TERM");
    let (status, stderr) = served.finish();
    assert_eq!(status.code(), Some(0), "{stderr}");
    let lines: Vec<Value> =
        stderr.lines().filter_map(|line| serde_json::from_str::<Value>(line).ok()).filter(|line| line["fields"]["message"] == "decision").collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    let (allow, deny) = (&lines[0], &lines[1]);
    assert_eq!(allow["level"], "INFO");
    assert!(allow["fields"]["identity"].as_str().is_some_and(|id| id.starts_with("steady:") && id.len() == "steady:".len() + 32), "{allow}");
    assert_eq!(
        (&allow["fields"]["plugin"], &allow["fields"]["outcome"], &allow["fields"]["status"]),
        (&Value::from("steady"), &Value::from("allow"), &Value::from(200))
    );
    assert!(allow["fields"]["micros"].is_u64(), "{allow}");
    assert_eq!(
        (&deny["fields"]["outcome"], &deny["fields"]["reason"], &deny["fields"]["identity"]),
        (&Value::from("deny"), &Value::from("missing-credential"), &Value::from(""))
    );
    assert!(!stderr.contains(MARKER), "the credential reached the log:\n{stderr}");
}

/// Off by default: no per-request line at info.
#[test]
fn decision_log_is_off_by_default() {
    let s = operated(serde_json::json!({}));
    let mut served = Served::start(&s.dir);
    served.wait_ready();
    assert_eq!(served.auth(), Some(200));
    served.signal("TERM");
    let (_, stderr) = served.finish();
    assert!(!stderr.contains("decision"), "{stderr}");
}

/// A config that cannot serve exits 78 (EX_CONFIG), which the systemd unit
/// does not restart on; a port in use stays 2 (it may free up).
#[test]
fn serve_exits_78_on_a_configuration_that_cannot_serve() {
    let s = operated(serde_json::json!({}));
    std::fs::write(s.dir.join("broken.json"), "{").unwrap();
    let mut unsigned: Value = serde_json::from_slice(&std::fs::read(s.dir.join("ward.json")).unwrap()).unwrap();
    unsigned["plugins"][0]["component"] = Value::from("plugin.wasm");
    std::fs::write(s.dir.join("unsigned.json"), unsigned.to_string()).unwrap();
    for config in ["broken.json", "missing.json", "unsigned.json"] {
        let run = ward(&s.dir, &["serve", "--config", config, "--listen", &format!("127.0.0.1:{}", free_port())]);
        assert_eq!(run.code, 78, "{config}: {}", run.stderr);
        assert!(run.stderr.contains("ward: "), "{config}: {}", run.stderr);
    }
}

/// `--config`, then `WARD_CONFIG`, then /etc/ward/ward.json; `check FILE`
/// still works, with a note on stderr.
#[test]
fn every_command_finds_the_config_the_same_way() {
    let s = operated(serde_json::json!({}));
    let check = |args: &[&str], env: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_ward"));
        command.args(args).current_dir(&s.dir).env_remove("WARD_CONFIG");
        if let Some(value) = env {
            command.env("WARD_CONFIG", value);
        }
        command.output().unwrap()
    };
    let flag = check(&["check", "--config", "ward.json"], Some("elsewhere.json"));
    assert!(flag.status.success(), "{}", String::from_utf8_lossy(&flag.stderr));
    assert!(String::from_utf8_lossy(&flag.stdout).starts_with("ward.json: ok"));
    let env = check(&["check"], Some("ward.json"));
    assert!(env.status.success() && flag.stdout == env.stdout && env.stderr.is_empty(), "{}", String::from_utf8_lossy(&env.stderr));
    let positional = check(&["check", "ward.json"], None);
    assert!(positional.status.success() && flag.stdout == positional.stdout);
    assert!(String::from_utf8_lossy(&positional.stderr).contains("deprecated: use ward check --config FILE"));
    if !Path::new("/etc/ward/ward.json").exists() {
        let default = check(&["check"], None);
        assert_eq!(default.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&default.stderr).contains("/etc/ward/ward.json"));
    }
    // WARD_CONFIG set for serve does not conflict with --anchor.
    let anchored = check(&["verify", "acme-auth.signed.json", "--entry", "plugin.wasm", "--anchor", "keys/acme.pub", "--now", NOW], Some("ward.json"));
    assert_eq!(anchored.status.code(), Some(1), "{}", String::from_utf8_lossy(&anchored.stderr));
    assert!(String::from_utf8_lossy(&anchored.stderr).contains("capability"), "{}", String::from_utf8_lossy(&anchored.stderr));
    // Without --anchor, WARD_CONFIG's trust section decides.
    let from_env = check(&["verify", "acme-auth.signed.json", "--entry", "plugin.wasm", "--now", NOW], Some("ward.json"));
    assert_eq!(from_env.status.code(), Some(0), "{}", String::from_utf8_lossy(&from_env.stderr));
}

/// `--version` names the commit it was built from.
#[test]
fn version_names_the_commit() {
    let out = Command::new(env!("CARGO_BIN_EXE_ward")).arg("--version").output().unwrap();
    let version = String::from_utf8_lossy(&out.stdout).into_owned();
    let head = Command::new("git").args(["rev-parse", "--short=12", "HEAD"]).current_dir(env!("CARGO_MANIFEST_DIR")).output();
    match head {
        Ok(head) if head.status.success() => {
            let head = String::from_utf8_lossy(&head.stdout).trim().to_owned();
            assert_eq!(version.trim(), format!("ward {} ({head})", env!("CARGO_PKG_VERSION")));
        }
        _ => assert!(version.contains("(unknown)"), "{version}"),
    }
}

/// `Type=notify`: READY=1 once `/readyz` could answer, STOPPING=1 at SIGTERM,
/// to the datagram socket `NOTIFY_SOCKET` names, with the lockdown on.
#[test]
fn serve_tells_systemd_when_it_is_ready_and_when_it_stops() {
    let s = operated(serde_json::json!({}));
    let socket_path = s.dir.join("notify.sock");
    let systemd = std::os::unix::net::UnixDatagram::bind(&socket_path).unwrap();
    systemd.set_read_timeout(Some(SERVE_PATIENCE)).unwrap();
    let socket = socket_path.to_str().unwrap();
    let served = Served::start_env(&s.dir, &["--config", "ward.json"], &[("NOTIFY_SOCKET", socket)]);
    let mut message = [0u8; 256];
    let n = systemd.recv(&mut message).unwrap();
    assert_eq!(&message[..n], b"READY=1", "{}", served.stderr());
    assert!(served.get("/readyz").is_some_and(|line| line.contains(" 200 ")), "{}", served.stderr());
    served.signal("TERM");
    let n = systemd.recv(&mut message).unwrap();
    assert_eq!(&message[..n], b"STOPPING=1");
    assert_eq!(served.finish().0.code(), Some(0));
}

/// `ward __generate`: completions for three shells and a man page per
/// command, from the parser itself.
#[test]
fn generate_writes_completions_and_man_pages() {
    let tmp = tempfile::tempdir().unwrap();
    let run = ward(tmp.path(), &["__generate", "--out-dir", "out"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let read = |file: &str| std::fs::read_to_string(tmp.path().join("out").join(file)).unwrap_or_default();
    assert!(read("completions/ward.bash").contains("--config"));
    assert!(read("completions/_ward").contains("serve"));
    assert!(read("completions/ward.fish").contains("check"));
    assert!(read("man/ward.1").contains("apikey"));
    assert!(read("man/ward-serve.1").contains("WARD_CONFIG"));
    assert!(!tmp.path().join("out/man/ward-__generate.1").exists());
}
