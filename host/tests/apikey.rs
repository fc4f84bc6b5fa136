//! `ward apikey` through the real binary: the key is printed once and stored
//! nowhere, files are written whole and private, broken files are left alone,
//! and a file `ward apikey new` wrote is accepted by the api-key plugin
//! (built from `plugins/api-key` by `ward plugin build`).
// Test code: a broken assumption should stop the test loudly, so unwrap,
// expect, panic and indexing are allowed (clippy.toml does the same for
// `#[cfg(test)]` modules).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use sha2::{Digest as _, Sha256};
use ward::identity::{ClaimsPolicy, IdentityKey, PrincipalType};
use ward::keymaterial::{DEFAULT_MAX_ENTRIES, KeyFormat, KeyIndex};
use ward::sandbox::{Credential, Decision, KeySet, Limits, Plugin, PluginOptions, Runtime, RuntimeConfig};
use ward::trust::{SignRequest, SigningSecret, TrustPolicy, sign, verify};

const NOW_MS: u64 = 1_763_856_000_000;
const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn ward_with_stdin(dir: &Path, args: &[&str], stdin: &[u8]) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ward"))
        .args(args)
        .current_dir(dir)
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ward");
    // A command that does not read stdin may exit first: a broken pipe is fine.
    let _ = child.stdin.take().expect("stdin").write_all(stdin);
    let output = child.wait_with_output().expect("wait for ward");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    Run { code: output.status.code().unwrap_or(-1), stdout: String::from_utf8_lossy(&output.stdout).into_owned(), stderr }
}

fn ward(dir: &Path, args: &[&str]) -> Run {
    ward_with_stdin(dir, args, b"")
}

/// Exit 2, `ward: <problem>` on the first line, at most a hint after it.
fn assert_input_error(run: &Run, mentions: &str) {
    assert_eq!(run.code, 2, "{}", run.stderr);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert!(lines.first().is_some_and(|l| l.starts_with("ward: ") && l.contains(mentions)), "{:?} lacks {mentions}", run.stderr);
    assert!(lines.len() == 1 || (lines.len() == 2 && lines[1].starts_with("hint: ")), "{:?}", run.stderr);
}

fn sha_hex(key: &str) -> String {
    Sha256::digest(key.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn keys_json(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("keys.json")).expect("keys.json")).expect("keys.json is JSON")
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).expect("metadata").permissions().mode() & 0o777
}

/// `ward apikey new` with the usual arguments; returns the printed key.
fn new_key(dir: &Path, subject: &str, extra: &[&str]) -> String {
    let mut args = vec!["apikey", "new", "--file", "keys.json", "--prefix", "wk_live_", "--subject", subject, "--type", "service"];
    args.extend_from_slice(extra);
    let run = ward(dir, &args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let key = run.stdout.strip_suffix('\n').expect("one line").to_owned();
    assert!(!key.contains('\n'), "{:?}", run.stdout);
    // The raw key appears exactly once, on stdout: never on stderr.
    assert!(!run.stderr.contains(&key), "{}", run.stderr);
    assert!(run.stderr.contains(&sha_hex(&key)), "{}", run.stderr);
    key
}

#[test]
fn new_prints_the_key_once_and_stores_only_its_hash() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let first = new_key(dir, "svc-billing", &["--scope", "orders:read", "--scope", "orders:write", "--label", "team=billing"]);
    let rest = first.strip_prefix("wk_live_").expect("prefix");
    assert_eq!(rest.len(), 43, "{first}");
    assert!(rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{first}");
    #[cfg(unix)]
    assert_eq!(mode(&dir.join("keys.json")), 0o600);

    let second = new_key(dir, "svc-billing", &[]);
    assert_ne!(first, second);
    let text = std::fs::read_to_string(dir.join("keys.json")).expect("keys.json");
    for key in [&first, &second] {
        assert!(!text.contains(key.as_str()), "the raw key is in the file");
        assert!(!text.contains(&key["wk_live_".len()..]), "the key's secret part is in the file");
        assert!(text.contains(&sha_hex(key)));
    }
    let file = keys_json(dir);
    assert_eq!(file["version"], 1);
    let entries = file["keys"].as_array().expect("keys");
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["subject"], "svc-billing");
    assert_eq!(entries[0]["type"], "service");
    assert_eq!(entries[0]["scopes"], serde_json::json!(["orders:read", "orders:write"]));
    assert_eq!(entries[0]["labels"], serde_json::json!({ "team": "billing" }));
    assert!(entries[0]["createdMs"].as_u64().is_some());
    // Defaults stay out of the file: the plugin reads every byte on every call.
    assert!(entries[1].get("scopes").is_none() && entries[1].get("labels").is_none() && entries[1].get("revoked").is_none());
    assert_eq!(text.lines().count(), 7, "one line per entry:\n{text}");

    let check = ward(dir, &["apikey", "check", "--file", "keys.json"]);
    assert_eq!(check.code, 0, "{}", check.stderr);
    assert_eq!(serde_json::from_str::<Value>(&check.stdout).expect("json"), serde_json::json!({ "valid": true, "keys": 2, "revoked": 0 }));
}

#[cfg(unix)]
#[test]
fn an_existing_file_keeps_its_mode_and_unknown_to_ward_fields() {
    use std::os::unix::fs::PermissionsExt as _;
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let hand = format!(
        "{{\"version\":1,\"keys\":[{{\"sha256\":\"{}\",\"subject\":\"legacy\",\"type\":\"user\",\"note\":\"from the old system\",\"expiresMs\":1900000000000}}]}}",
        sha_hex("legacy-key-0123456789")
    );
    std::fs::write(dir.join("keys.json"), &hand).expect("write");
    std::fs::set_permissions(dir.join("keys.json"), std::fs::Permissions::from_mode(0o640)).expect("chmod");
    new_key(dir, "svc", &[]);
    assert_eq!(mode(&dir.join("keys.json")), 0o640);
    let file = keys_json(dir);
    assert_eq!(file["keys"][0]["note"], "from the old system");
    assert_eq!(file["keys"][0]["expiresMs"], 1_900_000_000_000u64);
}

#[test]
fn hash_reads_stdin_and_never_echoes_the_key() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    // printf %s test | sha256sum
    let run = ward_with_stdin(dir, &["apikey", "hash"], b"test\n");
    assert_eq!((run.code, run.stdout.as_str()), (0, "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\n"), "{}", run.stderr);
    let marker = "wk_live_MARKERCREDENTIAL0123456789abcdef";
    let run = ward_with_stdin(dir, &["apikey", "hash"], format!("{marker}\r\n").as_bytes());
    assert_eq!(run.stdout.trim_end(), sha_hex(marker));
    for bad in [format!("{marker} x"), format!("{marker}\tx"), String::new(), "\n".to_owned(), format!("{marker}{}", "x".repeat(9000))] {
        let run = ward_with_stdin(dir, &["apikey", "hash"], bad.as_bytes());
        assert_eq!(run.code, 2, "{:?}", run.stderr);
        assert!(run.stdout.is_empty());
        assert!(!run.stderr.contains("MARKER"), "{}", run.stderr);
    }
}

#[test]
fn revoke_marks_the_entry_and_is_idempotent() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let key = new_key(dir, "svc", &[]);
    let other = new_key(dir, "svc2", &[]);
    let hash = sha_hex(&key);
    let run = ward(dir, &["apikey", "revoke", "--file", "keys.json", "--sha256", &hash]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(serde_json::from_str::<Value>(&run.stdout).expect("json")["alreadyRevoked"], false);
    let file = keys_json(dir);
    assert_eq!(file["keys"][0]["revoked"], true);
    assert!(file["keys"][1].get("revoked").is_none(), "only the named entry changes");
    let again = ward(dir, &["apikey", "revoke", "--file", "keys.json", "--sha256", &hash]);
    assert_eq!(serde_json::from_str::<Value>(&again.stdout).expect("json")["alreadyRevoked"], true);
    let check = ward(dir, &["apikey", "check", "--file", "keys.json"]);
    assert_eq!(serde_json::from_str::<Value>(&check.stdout).expect("json")["revoked"], 1);

    assert_input_error(&ward(dir, &["apikey", "revoke", "--file", "keys.json", "--sha256", &"0".repeat(64)]), "no entry with sha256");
    assert_input_error(&ward(dir, &["apikey", "revoke", "--file", "keys.json", "--sha256", &hash.to_uppercase()]), "--sha256");
    // Revoking by the key itself is refused without echoing it.
    let run = ward(dir, &["apikey", "revoke", "--file", "keys.json", "--sha256", &other]);
    assert_input_error(&run, "--sha256");
    assert!(!run.stderr.contains(&other));
}

#[test]
fn broken_files_are_refused_and_left_alone() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let marker = "wk_live_MARKERCREDENTIAL0123456789abcdef";
    let broken = [
        format!("{{\"version\":1,\"keys\":[{{\"sha256\":\"{marker}\",\"subject\":\"a\",\"type\":\"user\"}}]}}"),
        format!("{{\"version\":1,\"keys\":[{{\"key\":\"{marker}\",\"subject\":\"a\",\"type\":\"user\"}}]}}"),
        format!("{marker}\n"),
        "{\"version\":1,\"keys\":[".to_owned(),
    ];
    for text in &broken {
        std::fs::write(dir.join("keys.json"), text).expect("write");
        let run = ward(dir, &["apikey", "new", "--file", "keys.json", "--prefix", "wk_live_", "--subject", "s", "--type", "user"]);
        assert_input_error(&run, "keys file keys.json is refused");
        assert!(run.stdout.is_empty(), "no key is printed when nothing was stored");
        assert!(!run.stderr.contains("MARKER"), "{}", run.stderr);
        assert_eq!(&std::fs::read_to_string(dir.join("keys.json")).expect("read"), text, "the file was changed");
        assert!(!dir.join("keys.json.lock").exists());
        let check = ward(dir, &["apikey", "check", "--file", "keys.json"]);
        assert_eq!(check.code, 1);
        assert_eq!(serde_json::from_str::<Value>(&check.stdout).expect("json")["valid"], false);
        assert!(!check.stdout.contains("MARKER") && !check.stderr.contains("MARKER"));
    }
}

#[test]
fn a_held_lock_and_bad_arguments_stop_before_any_write() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    new_key(dir, "svc", &[]);
    let before = std::fs::read(dir.join("keys.json")).expect("read");
    std::fs::write(dir.join("keys.json.lock"), b"").expect("lock");
    let base = ["apikey", "new", "--file", "keys.json", "--subject", "s", "--type", "user"];
    fn with<'a>(base: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
        [base, extra].concat()
    }
    let run = ward(dir, &with(&base, &["--prefix", "wk_live_"]));
    assert_input_error(&run, "is being edited");
    assert!(run.stdout.is_empty());
    std::fs::remove_file(dir.join("keys.json.lock")).expect("unlock");
    assert_input_error(&ward(dir, &with(&base, &["--prefix", "wk live"])), "--prefix");
    assert_input_error(&ward(dir, &with(&base, &["--prefix", "wk_", "--label", "team"])), "--label");
    assert_input_error(&ward(dir, &with(&base, &["--prefix", "wk_", "--label", "a b=c"])), "--label");
    assert_input_error(&ward(dir, &with(&base, &["--prefix", "wk_", "--scope", "a b"])), "the new entry is refused");
    assert_eq!(std::fs::read(dir.join("keys.json")).expect("read"), before);
    assert!(!dir.join("keys.json.lock").exists());
}

/// Builds `plugins/api-key` with the binary under test, into the target
/// directory the test suite's own guest build shares (so it is usually
/// fresh), and loads it through the real trust gate with `keys` as its key
/// material.
fn load_plugin(dir: &Path, keys: Vec<u8>) -> Plugin {
    let out = dir.join("api-key.wasm");
    let target: PathBuf = [ROOT, "target", "guests"].iter().collect();
    let plugin_dir: PathBuf = [ROOT, "plugins", "api-key"].iter().collect();
    let build = ward(
        dir,
        &[
            "plugin",
            "build",
            plugin_dir.to_str().expect("path"),
            "--locked",
            "--target-dir",
            target.to_str().expect("path"),
            "--out",
            out.to_str().expect("path"),
        ],
    );
    assert_eq!(build.code, 0, "{}", build.stderr);
    let bytes = std::fs::read(&out).expect("component");

    let secret = SigningSecret::from_seed(&[9; 32]);
    let request = SignRequest::auth_provider("api-key", "0.1.0", "signer", &["readsCredentials", "keyLookup"]);
    let envelope = serde_json::to_vec(&sign(&request, &bytes, &secret).expect("sign")).expect("envelope");
    let policy = TrustPolicy::default().with_anchor("signer", secret.verifying_key()).allow("readsCredentials").allow("keyLookup");
    let verified = verify(&envelope, bytes, &policy, NOW_MS).expect("verified");
    let runtime =
        Runtime::new(RuntimeConfig { claims: ClaimsPolicy::default(), ..RuntimeConfig::default() }, IdentityKey::from_bytes(vec![7; 32]).expect("key"))
            .expect("runtime");
    let settings = vec![("prefixes".to_owned(), "wk_live_".to_owned())];
    let limits = Limits { timeout: Duration::from_secs(5), ..Limits::default() };
    // As `ward serve` hands a `format: "api-keys"` entry to the plugin.
    let index = KeyIndex::build(KeyFormat::ApiKeys, &keys, DEFAULT_MAX_ENTRIES).expect("the keys file indexes");
    let key_sets = vec![KeySet::new("api-keys", Arc::new(index))];
    runtime.load(verified, PluginOptions { limits, settings, keys: Vec::new(), key_sets, ..PluginOptions::default() }).expect("load")
}

fn code(decision: Decision) -> &'static str {
    match decision {
        Decision::Allow(_) => "allow",
        Decision::Deny(reason) => reason.code(),
    }
}

#[test]
fn a_file_written_by_new_is_accepted_by_the_plugin() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let key = new_key(dir, "svc-billing", &["--scope", "orders:read", "--label", "team=billing"]);
    let bot = ward(dir, &["apikey", "new", "--file", "keys.json", "--prefix", "wk_live_", "--subject", "bot", "--type", "agent"]);
    let bot = bot.stdout.trim_end().to_owned();
    let plugin = load_plugin(dir, std::fs::read(dir.join("keys.json")).expect("keys.json"));
    let api = |token: &str| plugin.authenticate(Credential { scheme: "api-key", token }, NOW_MS);
    match api(&key) {
        Decision::Allow(identity) => {
            assert_eq!(identity.principal_type, PrincipalType::Service);
            assert_eq!(identity.scopes, ["orders:read"]);
            assert_eq!(identity.labels, [("team".to_owned(), "billing".to_owned())]);
        }
        Decision::Deny(reason) => panic!("the key `ward apikey new` printed was denied: {}", reason.code()),
    }
    assert_eq!(code(api(&bot)), "allow");
    let mut wrong = key.clone();
    wrong.pop();
    wrong.push(if key.ends_with('A') { 'B' } else { 'A' });
    assert_eq!(code(api(&wrong)), "plugin:unknown-key");

    let revoke = ward(dir, &["apikey", "revoke", "--file", "keys.json", "--sha256", &sha_hex(&key)]);
    assert_eq!(revoke.code, 0, "{}", revoke.stderr);
    let plugin = load_plugin(dir, std::fs::read(dir.join("keys.json")).expect("keys.json"));
    assert_eq!(code(plugin.authenticate(Credential { scheme: "api-key", token: &key }, NOW_MS)), "plugin:revoked");
    assert_eq!(code(plugin.authenticate(Credential { scheme: "bearer", token: &bot }, NOW_MS)), "allow");
}
