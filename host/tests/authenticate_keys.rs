//! `ward authenticate --key-material` through the real binary, as a plugin
//! author types it: `ward keygen`, `ward plugin build`, `ward sign` with
//! `keyLookup`, then `ward authenticate` with the shipped `jwt` and
//! `api-key` plugins and their indexed key material (a JWKS, a keys file
//! written by `ward apikey new`). Also `--now`, which is how a fixed token
//! corpus is replayed: `ward serve` has no fake clock.
// Test code: a broken assumption should stop the test loudly, so unwrap,
// expect, panic and indexing are allowed (clippy.toml does the same for
// `#[cfg(test)]` modules).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signer as _, SigningKey};
use serde_json::{Value, json};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
const MARKER: &str = "MARKER-4be1d07c";
const ISSUER: &str = "https://login.partner.example";
const AUDIENCE: &str = "ward-test";
const KID: &str = "issuer-1";
/// The issuer's Ed25519 seed; the JWKS holds its public key.
const ISSUER_SEED: [u8; 32] = [11; 32];

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|_| panic!("stdout is not JSON: {:?} (stderr {:?})", self.stdout, self.stderr))
    }

    /// Exit 1 and `{"decision":"deny","reason":<reason>}`.
    fn assert_deny(&self, reason: &str) {
        assert_eq!((self.code, self.json()), (1, json!({ "decision": "deny", "reason": reason })), "{}", self.stderr);
    }

    fn assert_lacks(&self, secret: &str) {
        assert!(!self.stdout.contains(secret) && !self.stderr.contains(secret), "{secret} leaked: {} / {}", self.stdout, self.stderr);
    }
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

fn ok(run: Run) -> Run {
    assert_eq!(run.code, 0, "{}", run.stderr);
    run
}

/// A directory with a signer key pair and an identity key, and one shipped
/// plugin built (into the target directory the test suite's own guest build
/// shares, so it is usually fresh) and signed with `keyLookup`, as
/// docs/plugins/jwt.md and api-key.md say.
struct Author {
    dir: tempfile::TempDir,
    plugin: &'static str,
}

impl Author {
    fn new(plugin: &'static str) -> Self {
        let author = Self { dir: tempfile::tempdir().expect("temp dir"), plugin };
        let dir = author.dir();
        ok(ward(dir, &["keygen", "--key-id", "author", "--out-dir", "."]));
        ok(ward(dir, &["keygen", "--identity-key", "identity.key"]));
        let target: PathBuf = [ROOT, "target", "guests"].iter().collect();
        let source: PathBuf = [ROOT, "plugins", plugin].iter().collect();
        let wasm = format!("{plugin}.wasm");
        let (source, target) = (source.to_str().expect("path"), target.to_str().expect("path"));
        ok(ward(dir, &["plugin", "build", source, "--locked", "--target-dir", target, "--out", &wasm]));
        #[rustfmt::skip]
        ok(ward(dir, &[
            "sign", &wasm, "--key", "author.key", "--signer-key-id", "author", "--plugin-id", plugin, "--plugin-version", "0.1.0",
            "--capabilities", r#"{"readsCredentials":true,"keyLookup":true}"#, "--out", &format!("{plugin}.signed.json"),
        ]));
        author
    }

    fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.dir().join(name), text).expect("write");
    }

    /// `ward authenticate` with the credential on stdin and `extra` after the
    /// trust arguments.
    fn authenticate(&self, credential: &str, extra: &[&str]) -> Run {
        let (envelope, component) = (format!("{}.signed.json", self.plugin), format!("{}.wasm", self.plugin));
        #[rustfmt::skip]
        let mut args = vec![
            "authenticate", "--envelope", &envelope, "--component", &component, "--anchor", "author.pub",
            "--allow-capability", "readsCredentials", "--allow-capability", "keyLookup", "--identity-key", "identity.key",
            // The default 100 ms is plenty for one call, but this machine is shared.
            "--timeout-ms", "5000",
        ];
        args.extend_from_slice(extra);
        ward_with_stdin(self.dir(), &args, format!("{credential}\n").as_bytes())
    }
}

// ---------------------------------------------------------------- jwt

/// The jwt plugin's settings as in .ci/demo, and the JWKS as indexed key material.
const JWT_ARGS: &[&str] = &[
    "--key-material",
    "jwks=jwks.json:jwks",
    "--setting",
    "algorithms=EdDSA",
    "--setting",
    "issuer=https://login.partner.example",
    "--setting",
    "audience=ward-test",
];

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The JWKS of the issuer's key, written as `jwks.json`.
fn jwt_author() -> Author {
    let author = Author::new("jwt");
    let x = b64(SigningKey::from_bytes(&ISSUER_SEED).verifying_key().as_bytes());
    let jwks = json!({ "keys": [{ "kty": "OKP", "crv": "Ed25519", "x": x, "kid": KID, "alg": "EdDSA", "use": "sig" }] });
    author.write("jwks.json", &jwks.to_string());
    author
}

/// An EdDSA JWS compact token naming [`KID`], valid from `iat_s` for an hour.
fn jwt(seed: [u8; 32], sub: &str, iat_s: u64) -> String {
    let header = json!({ "alg": "EdDSA", "typ": "JWT", "kid": KID });
    let claims = json!({ "iss": ISSUER, "aud": AUDIENCE, "sub": sub, "scope": "orders:read", "iat": iat_s, "exp": iat_s + 3600 });
    let input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
    let signature = SigningKey::from_bytes(&seed).sign(input.as_bytes());
    format!("{input}.{}", b64(&signature.to_bytes()))
}

fn now_s() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs()
}

#[test]
fn jwt_allows_the_jwks_key_and_refuses_another() {
    let author = jwt_author();
    let token = jwt(ISSUER_SEED, MARKER, now_s() - 60);
    let run = author.authenticate(&token, JWT_ARGS);
    assert_eq!(run.code, 0, "{} {}", run.stdout, run.stderr);
    let out = run.json();
    assert_eq!(out["decision"], "allow");
    assert_eq!((&out["identity"]["provider"], &out["identity"]["scopes"]), (&json!("jwt"), &json!(["orders:read"])));
    // The subject is hashed into the id; neither it nor the token is printed.
    run.assert_lacks(MARKER);
    run.assert_lacks(&token);

    // Same kid, same claims, another key: the JWKS decides, not the token.
    let forged = jwt([12; 32], MARKER, now_s() - 60);
    let run = author.authenticate(&forged, JWT_ARGS);
    run.assert_deny("plugin:bad-signature");
    run.assert_lacks(MARKER);
    run.assert_lacks(&forged);
}

/// Replaying a fixed corpus: a token minted long ago is valid at the `--now`
/// it was minted for, and expired at the real time.
#[test]
fn jwt_now_replays_a_token_inside_its_validity() {
    let author = jwt_author();
    let iat_s = 1_700_000_000;
    let token = jwt(ISSUER_SEED, "alice", iat_s);
    let inside = ((iat_s + 600) * 1000).to_string();
    let run = author.authenticate(&token, &[JWT_ARGS, &["--now", &inside]].concat());
    assert_eq!((run.code, &run.json()["decision"]), (0, &json!("allow")), "{} {}", run.stdout, run.stderr);
    author.authenticate(&token, JWT_ARGS).assert_deny("plugin:expired");
}

/// Without `:jwks` the file is raw key material: bytes in
/// `request-context.keys`, no index. The jwt plugin has no raw fallback and
/// its `jwksKey` (`jwks`) then names raw material, which docs/plugins/jwt.md
/// lists as a misconfiguration: every call denies with `denied`, whatever
/// the token.
#[test]
fn jwt_with_a_raw_jwks_denies_every_call() {
    let author = jwt_author();
    let token = jwt(ISSUER_SEED, "alice", now_s() - 60);
    let raw: Vec<&str> = JWT_ARGS.iter().map(|arg| if *arg == "jwks=jwks.json:jwks" { "jwks=jwks.json" } else { arg }).collect();
    author.authenticate(&token, &raw).assert_deny("plugin:denied");
}

/// A JWKS that does not parse refuses the run before any call (exit 2),
/// with the code, and without echoing the file.
#[test]
fn a_malformed_jwks_is_refused_without_its_content() {
    let author = jwt_author();
    author.write("jwks.json", &format!(r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","x":"{MARKER}","kid":"#));
    let run = author.authenticate(&jwt(ISSUER_SEED, "alice", now_s() - 60), JWT_ARGS);
    assert_eq!(run.code, 2, "{} {}", run.stdout, run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(run.stderr.starts_with("ward: ") && run.stderr.contains("keymaterial-jwks-invalid"), "{}", run.stderr);
    run.assert_lacks(MARKER);
}

// ---------------------------------------------------------------- api-key

const API_KEY_ARGS: &[&str] = &["--key-material", "api-keys=keys.json:api-keys", "--scheme", "api-key", "--setting", "prefixes=wk_test_"];

#[test]
fn api_key_allows_a_key_from_apikey_new_and_refuses_an_unknown_one() {
    let author = Author::new("api-key");
    #[rustfmt::skip]
    let new = ok(ward(author.dir(), &[
        "apikey", "new", "--file", "keys.json", "--prefix", "wk_test_", "--subject", "svc-billing", "--type", "service",
        "--scope", "orders:read",
    ]));
    let key = new.stdout.trim_end();
    let run = author.authenticate(key, API_KEY_ARGS);
    assert_eq!(run.code, 0, "{} {}", run.stdout, run.stderr);
    let out = run.json();
    assert_eq!(out["decision"], "allow");
    assert_eq!((&out["identity"]["principalType"], &out["identity"]["scopes"]), (&json!("service"), &json!(["orders:read"])));
    run.assert_lacks(key);
    run.assert_lacks("svc-billing");

    // Well formed (prefix, 43 characters after it), in no keys file.
    let unknown = format!("wk_test_{MARKER}{}", "x".repeat(43 - MARKER.len()));
    let run = author.authenticate(&unknown, API_KEY_ARGS);
    run.assert_deny("plugin:unknown-key");
    run.assert_lacks(MARKER);
}

/// Key material that cannot be handed over stops the run before any call
/// (exit 2, `ward: …`): a value without `=`, a name given twice, a file that
/// is not there.
#[test]
fn unusable_key_material_arguments_exit_2() {
    let author = jwt_author();
    let token = jwt(ISSUER_SEED, "alice", now_s() - 60);
    for (args, mentions) in [
        (&["--key-material", "jwks.json"][..], "NAME=FILE"),
        (&["--key-material", "jwks=jwks.json:jwks", "--key-material", "jwks=jwks.json"][..], "given twice"),
        (&["--key-material", "jwks=missing.json:jwks"][..], "missing.json"),
    ] {
        let run = author.authenticate(&token, args);
        assert_eq!(run.code, 2, "{args:?}: {} {}", run.stdout, run.stderr);
        assert!(run.stdout.is_empty() && run.stderr.contains(mentions), "{args:?}: {}", run.stderr);
    }
}
