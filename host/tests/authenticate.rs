//! `ward authenticate` end to end through the real binary: keygen, sign,
//! authenticate with the credential on stdin; exit codes; and a marker
//! credential that must appear in no output.
// Test code: a broken assumption should stop the test loudly, so unwrap,
// expect, panic and indexing are allowed (clippy.toml does the same for
// `#[cfg(test)]` modules).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use ward_wat_guests as wat_guests;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const MARKER: &str = "MARKER-7f3a9c1e-credential";

struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    /// Keys and an identity key; `body` becomes the plugin's `authenticate`.
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let out = ward(&["keygen", "--key-id", "t-signer", "--out-dir", dir.path().to_str().unwrap()], None);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let out = ward(&["keygen", "--identity-key", dir.path().join("id.key").to_str().unwrap()], None);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        Self { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes and signs a WAT plugin; returns (envelope, component) paths.
    fn plugin(&self, name: &str, body: &str) -> (PathBuf, PathBuf) {
        let component = self.path(&format!("{name}.wasm"));
        std::fs::write(&component, wat_guests::component(body)).unwrap();
        let envelope = self.path(&format!("{name}.signed.json"));
        let out = ward(
            &[
                "sign",
                component.to_str().unwrap(),
                "--key",
                self.path("t-signer.key").to_str().unwrap(),
                "--signer-key-id",
                "t-signer",
                "--plugin-id",
                name,
                "--plugin-version",
                "1.0.0",
                "--out",
                envelope.to_str().unwrap(),
            ],
            None,
        );
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        (envelope, component)
    }

    fn authenticate(&self, plugin: &(PathBuf, PathBuf), credential: &str, extra: &[&str]) -> Output {
        let mut args = vec![
            "authenticate".to_string(),
            "--envelope".into(),
            plugin.0.display().to_string(),
            "--component".into(),
            plugin.1.display().to_string(),
            "--anchor".into(),
            self.path("t-signer.pub").display().to_string(),
            "--identity-key".into(),
            self.path("id.key").display().to_string(),
            "--allow-capability".into(),
            "readsCredentials".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        ward(&args, Some(credential))
    }
}

fn ward(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ward"))
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    if let Some(input) = stdin {
        // ward may exit before reading stdin (a refused plugin never gets to
        // the credential); a broken pipe here is that, not a failure.
        let _ = pipe.write_all(input.as_bytes());
    }
    drop(pipe);
    child.wait_with_output().unwrap()
}

fn stdout_json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("stdout is not JSON: {}", String::from_utf8_lossy(&out.stdout)))
}

fn assert_no_marker(out: &Output) {
    for stream in [&out.stdout, &out.stderr] {
        assert!(!String::from_utf8_lossy(stream).contains(MARKER), "the credential leaked: {}", String::from_utf8_lossy(stream));
    }
}

#[test]
fn allow_prints_a_host_built_identity_and_exits_0() {
    let setup = Setup::new();
    let plugin = setup.plugin("wat-allow", &wat_guests::allow_fixed());
    let out = setup.authenticate(&plugin, &format!("{MARKER}\n"), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let json = stdout_json(&out);
    assert_eq!(json["decision"], "allow");
    let id = json["identity"]["id"].as_str().unwrap();
    assert!(id.starts_with("wat-allow:") && id.len() == "wat-allow:".len() + 32, "{id}");
    assert_eq!(json["identity"]["principalType"], "user");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("wat-user"), "raw subject printed");
    assert_no_marker(&out);
}

#[test]
fn deny_prints_the_reason_and_exits_1() {
    let setup = Setup::new();
    let plugin = setup.plugin("wat-deny", &wat_guests::deny_case(2));
    let out = setup.authenticate(&plugin, MARKER, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout_json(&out), serde_json::json!({ "decision": "deny", "reason": "plugin:bad-signature" }));
    assert_no_marker(&out);
}

#[test]
fn a_trapping_plugin_denies_with_trap_and_leaks_nothing() {
    let setup = Setup::new();
    let plugin = setup.plugin("wat-trap", "unreachable");
    let out = setup.authenticate(&plugin, MARKER, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout_json(&out)["reason"], "trap");
    assert_no_marker(&out);
}

#[test]
fn an_oversized_credential_is_denied_not_truncated() {
    let setup = Setup::new();
    let plugin = setup.plugin("wat-allow", &wat_guests::allow_fixed());
    let out = setup.authenticate(&plugin, &format!("{MARKER}{}", "x".repeat(9000)), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout_json(&out)["reason"], "oversized");
    assert_no_marker(&out);
}

#[test]
fn a_swapped_component_is_refused_by_the_gate_with_exit_2() {
    let setup = Setup::new();
    let plugin = setup.plugin("wat-allow", &wat_guests::allow_fixed());
    std::fs::write(&plugin.1, wat_guests::component("unreachable")).unwrap();
    let out = setup.authenticate(&plugin, MARKER, &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("tampered-entry"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_no_marker(&out);
}

/// A malformed envelope gets the gate's one reason, whatever is wrong with
/// it, even where the CLI first looks for the signerKeyId to bind `--anchor` to.
#[test]
fn a_malformed_envelope_is_refused_by_the_gate_as_manifest_invalid() {
    let setup = Setup::new();
    let plugin = setup.plugin("wat-allow", &wat_guests::allow_fixed());
    let good = std::fs::read_to_string(&plugin.0).unwrap_or_default();
    for text in
        ["{ not json".to_owned(), good.replacen('{', "{\"x\": 1e400,", 1), good.replacen("\"signerKeyId\": \"t-signer\"", "\"signerKeyId\": \"\\ud800\"", 1)]
    {
        assert_ne!(text, good);
        std::fs::write(&plugin.0, &text).unwrap_or_default();
        let out = setup.authenticate(&plugin, MARKER, &[]);
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.starts_with("ward: the trust gate refused the plugin: manifest-invalid"), "{text}: {stderr}");
        assert_no_marker(&out);
    }
}

#[test]
fn missing_files_and_a_group_readable_identity_key_are_one_line_errors() {
    let setup = Setup::new();
    let plugin = setup.plugin("wat-allow", &wat_guests::allow_fixed());
    let missing = (plugin.0.clone(), setup.path("nope.wasm"));
    let out = setup.authenticate(&missing, MARKER, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("ward: cannot read component"));

    set_mode(&setup.path("id.key"), 0o644);
    let out = setup.authenticate(&plugin, MARKER, &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("readable by group or others"), "{stderr}");
    assert_no_marker(&out);
}

#[test]
fn refuse_mode_is_selectable() {
    let setup = Setup::new();
    let plugin = setup.plugin("wat-allow", &wat_guests::allow_fixed());
    let out = setup.authenticate(&plugin, "t", &["--wasi", "refuse"]);
    assert_eq!(out.status.code(), Some(0), "a plugin importing nothing loads in refuse mode too");
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}
