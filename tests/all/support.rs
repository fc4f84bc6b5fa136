//! Shared helpers: a signing key, a runtime, and loading bytes through the
//! real trust gate (tests never build a `VerifiedPlugin` any other way).

use ward::identity::{ClaimsPolicy, IdentityKey};
use ward::sandbox::{Credential, Plugin, PluginOptions, Runtime, RuntimeConfig, WasiMode};
use ward::trust::{SignRequest, SigningSecret, TrustPolicy, sign, verify};

use crate::wat_guests::{allow_fixed, component};

pub const SIGNER: &str = "test-signer";
pub const NOW_MS: u64 = 1_763_856_000_000;

pub fn signing_key() -> SigningSecret {
    SigningSecret::from_seed(&[42; 32])
}

pub fn identity_key() -> IdentityKey {
    IdentityKey::from_bytes(vec![7; 32]).unwrap()
}

pub fn trust_policy() -> TrustPolicy {
    TrustPolicy::default().with_anchor(SIGNER, signing_key().verifying_key()).allow("readsCredentials")
}

pub fn runtime() -> Runtime {
    runtime_with(WasiMode::DenyAll)
}

pub fn runtime_with(wasi: WasiMode) -> Runtime {
    let config = RuntimeConfig { wasi, claims: ClaimsPolicy::default(), ..RuntimeConfig::default() };
    Runtime::new(config, identity_key()).unwrap()
}

/// Signs `bytes` as plugin `plugin_id` and returns the envelope JSON.
pub fn envelope_for(plugin_id: &str, bytes: &[u8]) -> Vec<u8> {
    envelope_with(plugin_id, bytes, &["readsCredentials"])
}

/// The same, declaring each of `capabilities` `true`.
pub fn envelope_with(plugin_id: &str, bytes: &[u8], capabilities: &[&str]) -> Vec<u8> {
    let request = SignRequest::auth_provider(plugin_id, "1.0.0", SIGNER, capabilities);
    let envelope = sign(&request, bytes, &signing_key()).unwrap();
    serde_json::to_vec(&envelope).unwrap()
}

pub fn load(runtime: &Runtime, bytes: Vec<u8>) -> Result<Plugin, ward::sandbox::LoadError> {
    load_with(runtime, bytes, PluginOptions::default())
}

pub fn load_with(runtime: &Runtime, bytes: Vec<u8>, options: PluginOptions) -> Result<Plugin, ward::sandbox::LoadError> {
    let envelope = envelope_for("test-plugin", &bytes);
    let verified = verify(&envelope, bytes, &trust_policy(), NOW_MS).unwrap();
    runtime.load(verified, options)
}

/// Signs with `capabilities` declared and verifies under a policy that
/// allows exactly those, then loads.
pub fn load_with_capabilities(runtime: &Runtime, bytes: Vec<u8>, capabilities: &[&str], options: PluginOptions) -> Result<Plugin, ward::sandbox::LoadError> {
    let envelope = envelope_with("test-plugin", &bytes, capabilities);
    let policy = capabilities.iter().fold(TrustPolicy::default().with_anchor(SIGNER, signing_key().verifying_key()), |p, c| p.allow(*c));
    let verified = verify(&envelope, bytes, &policy, NOW_MS).unwrap();
    runtime.load(verified, options)
}

pub fn cred(token: &str) -> Credential<'_> {
    Credential { scheme: "bearer", token }
}

/// After a hostile plugin, the same runtime must still load and serve a good one.
pub fn assert_still_serves(runtime: &Runtime) {
    let plugin = load(runtime, component(&allow_fixed())).unwrap();
    assert!(plugin.authenticate(cred("ok"), NOW_MS).is_allow(), "runtime stopped serving");
}
