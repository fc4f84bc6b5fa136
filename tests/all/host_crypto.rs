//! Host crypto (`ward:auth/crypto@0.2.0`, docs/host-crypto.md): who may
//! import it, and that the 0.2.0 `authenticator` is 0.1.0's. The JWT suite
//! (`jwt.rs`) runs every case against the host-crypto build as well.

use std::sync::Arc;

use ward::keymaterial::{DEFAULT_MAX_ENTRIES, KeyFormat, KeyIndex};
use ward::sandbox::{Decision, DenyReason, HOST_CRYPTO_CAPABILITY, KEY_LOOKUP_CAPABILITY, KeySet, LoadError, PluginOptions};
use ward::trust::{Refusal, TrustPolicy, verify};

use crate::support::{NOW_MS, SIGNER, cred, envelope_with, load_with_capabilities, runtime, signing_key};
use crate::wat_guests::{allow_fixed, componentize_against, core_module_versioned};

fn component(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|err| panic!("guest {path} was not built: {err}"))
}

fn jwt_options() -> PluginOptions {
    let vector = |name: &str| std::fs::read(format!("{}/vectors/jwt/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    PluginOptions {
        settings: vec![
            ("algorithms".into(), "EdDSA".into()),
            ("issuer".into(), "https://issuer.example".into()),
            ("audience".into(), "ward-api".into()),
            ("jwksKey".into(), "jwks".into()),
        ],
        key_sets: vec![KeySet::new("jwks", Arc::new(KeyIndex::build(KeyFormat::Jwks, &vector("jwks.json"), DEFAULT_MAX_ENTRIES).unwrap()))],
        ..PluginOptions::default()
    }
}

/// Envelope and operator both say `hostCrypto`: the import is linked, and
/// the plugin answers (a token that is not a JWT is malformed, not a trap).
#[test]
pub(crate) fn jwt_host_crypto() {
    let capabilities = ["readsCredentials", KEY_LOOKUP_CAPABILITY, HOST_CRYPTO_CAPABILITY];
    let plugin = load_with_capabilities(&runtime(), component(ward_tests::JWT_HOST_CRYPTO), &capabilities, jwt_options()).unwrap();
    assert!(plugin.imports_host_crypto());
    assert!(!plugin.imports_wasi());
    match plugin.authenticate(cred("not-a-jwt"), NOW_MS) {
        Decision::Deny(reason) => assert_eq!(reason.code(), "plugin:malformed"),
        Decision::Allow(_) => panic!("garbage was allowed"),
    }
}

#[test]
fn without_the_capability_in_the_envelope_the_import_is_forbidden() {
    // The operator would allow it; the signer did not declare it.
    let bytes = component(ward_tests::JWT_HOST_CRYPTO);
    let envelope = envelope_with("test-plugin", &bytes, &["readsCredentials", KEY_LOOKUP_CAPABILITY]);
    let policy = TrustPolicy::default()
        .with_anchor(SIGNER, signing_key().verifying_key())
        .allow("readsCredentials")
        .allow(KEY_LOOKUP_CAPABILITY)
        .allow(HOST_CRYPTO_CAPABILITY);
    let verified = verify(&envelope, bytes, &policy, NOW_MS).unwrap();
    let err = runtime().load(verified, jwt_options()).unwrap_err();
    assert_eq!(err.code(), "forbidden-import");
    assert_eq!(err, LoadError::ForbiddenImport { name: "ward:auth/crypto@0.3.0".into() });
}

#[test]
fn a_capability_the_operator_does_not_allow_is_refused_at_the_trust_gate() {
    // Declared and signed, but not in the operator's allowCapabilities: the
    // trust gate refuses it before the sandbox sees the component, so it can
    // never be linked (the sandbox would answer forbidden-import; the gate's
    // code is the more precise one).
    let bytes = component(ward_tests::JWT_HOST_CRYPTO);
    let envelope = envelope_with("test-plugin", &bytes, &["readsCredentials", HOST_CRYPTO_CAPABILITY]);
    let policy = TrustPolicy::default().with_anchor(SIGNER, signing_key().verifying_key()).allow("readsCredentials");
    let refusal = verify(&envelope, bytes, &policy, NOW_MS).unwrap_err();
    assert_eq!(refusal, Refusal::CapabilityNotAllowlisted { capability: HOST_CRYPTO_CAPABILITY.into() });
    assert_eq!(refusal.code(), "capability-not-allowlisted");
}

#[test]
fn the_capability_alone_links_nothing_into_a_plugin_that_does_not_import_it() {
    let capabilities = ["readsCredentials", KEY_LOOKUP_CAPABILITY, HOST_CRYPTO_CAPABILITY];
    let plugin = load_with_capabilities(&runtime(), component(ward_tests::JWT), &capabilities, jwt_options()).unwrap();
    assert!(!plugin.imports_host_crypto() && plugin.imports_key_lookup());
    // 0.1.0 plugins that import nothing keep loading without it, as before.
    let plugin = load_with_capabilities(&runtime(), component(ward_tests::EXAMPLE_TOKEN), &["readsCredentials"], PluginOptions::default()).unwrap();
    assert!(!plugin.imports_host_crypto());
}

/// `wit/0.2.0` repeats `authenticator` because a WIT package version covers
/// every interface in it; the host lifts both with one mirror, so the two
/// texts must stay identical.
#[test]
fn the_0_2_0_authenticator_is_the_0_1_0_one() {
    let root = format!("{}/..", env!("CARGO_MANIFEST_DIR"));
    let interface = |path: &str| {
        let text = std::fs::read_to_string(format!("{root}/{path}")).unwrap();
        let start = text.find("interface authenticator {").unwrap();
        let end = start + text[start..].find("\n}\n").unwrap();
        text[start..end].to_owned()
    };
    assert_eq!(interface("wit/ward-auth.wit"), interface("wit/0.2.0/ward-auth.wit"));
    // And the parser agrees both packages are well-formed, with the crypto
    // interface and worlds where docs/wit-changes.md says.
    let mut resolve = wit_parser::Resolve::default();
    let (pkg, _) = resolve.push_dir(format!("{root}/wit/0.2.0")).unwrap();
    let package = &resolve.packages[pkg];
    assert_eq!(package.name.to_string(), "ward:auth@0.2.0");
    assert!(package.interfaces.contains_key("crypto"));
    assert!(package.worlds.contains_key("plugin-host-crypto"));
    let crypto = &resolve.interfaces[package.interfaces["crypto"]];
    let mut functions: Vec<&str> = crypto.functions.keys().map(String::as_str).collect();
    functions.sort_unstable();
    assert_eq!(functions, ["verify-ecdsa-p256-sha256", "verify-ed25519", "verify-hmac-sha256", "verify-rsa-pkcs1v15-sha256", "verify-rsa-pss-sha256"]);
}

/// A WAT guest that imports `verify-ed25519` and calls it with a message of
/// `message_len` bytes (zeros at 0x10000) before allowing.
fn crypto_caller(message_len: u32) -> Vec<u8> {
    let import = r#"(import "ward:auth/crypto@0.2.0" "verify-ed25519" (func $verify (param i32 i32 i32 i32 i32 i32) (result i32)))"#;
    let body = format!(
        "(drop (call $verify (i32.const 0x800) (i32.const 32) (i32.const 0x10000) (i32.const {message_len}) (i32.const 0x900) (i32.const 64)))
    {}",
        allow_fixed()
    );
    componentize_against(&core_module_versioned("0.2.0", import, 4, &body, ""), "0.2.0", "plugin-host-crypto")
}

/// Arguments past the per-call transfer budget stop the call in wasmtime,
/// before the host function runs. That is the guest breaking the host
/// interface (`trap`), not claims that are too big (`invalid-claims`, which
/// the same budget enforces on the way out).
#[test]
fn oversized_host_call_arguments_are_a_trap_not_invalid_claims() {
    let rt = runtime();
    let caps = ["readsCredentials", HOST_CRYPTO_CAPABILITY];
    let within = load_with_capabilities(&rt, crypto_caller(1024), &caps, PluginOptions::default()).unwrap();
    assert!(within.imports_host_crypto());
    assert!(matches!(within.authenticate(cred("t"), NOW_MS), Decision::Allow(_)), "a call within the caps must go through");
    let oversized = load_with_capabilities(&rt, crypto_caller(100 << 10), &caps, PluginOptions::default()).unwrap();
    match oversized.authenticate(cred("t"), NOW_MS) {
        Decision::Deny(reason) => assert_eq!(reason, DenyReason::Trap),
        Decision::Allow(_) => panic!("an oversized host call was let through"),
    }
    assert!(matches!(within.authenticate(cred("t"), NOW_MS), Decision::Allow(_)), "the runtime must keep serving");
}
