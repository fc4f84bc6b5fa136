//! Building a plugin crate and loading its component through the real trust
//! gate, as an operator would: what every bench run does first.

use std::path::{Path, PathBuf};

use ward::sandbox::{Plugin, PluginOptions, Runtime};
use ward::trust::{SignRequest, SigningSecret, TrustPolicy, sign, verify};

use crate::{BenchError, fail};

const NOW_MS: u64 = 1_763_856_000_000;

/// Builds the plugin crate at `dir` with `features` into `target/guests`.
pub fn build_plugin(dir: &Path, features: &[&str]) -> Result<Vec<u8>, BenchError> {
    let opts = ward_guest_build::BuildOptions {
        target_dir: Some(PathBuf::from("target/guests")),
        locked: true,
        features: features.iter().map(|f| (*f).to_owned()).collect(),
        ..Default::default()
    };
    let built = ward_guest_build::build(dir, &opts).map_err(|e| fail(e.to_string()))?;
    built.into_iter().next().map(|b| b.bytes).ok_or_else(|| fail(format!("{} built no component", dir.display())))
}

/// Signs `component` as `id` declaring `capabilities`, verifies it under a
/// policy that allows exactly those, and loads it with `options`.
pub fn load_signed(runtime: &Runtime, component: Vec<u8>, id: &str, capabilities: &[&str], options: PluginOptions) -> Result<Plugin, BenchError> {
    let key = SigningSecret::generate();
    let request = SignRequest::auth_provider(id, "0.1.0", "bench", capabilities);
    let envelope = sign(&request, &component, &key).map_err(|e| fail(e.to_string()))?;
    let envelope = serde_json::to_vec(&envelope).map_err(|e| fail(e.to_string()))?;
    let policy = capabilities.iter().fold(TrustPolicy::default().with_anchor("bench", key.verifying_key()), |policy, c| policy.allow(*c));
    let verified = verify(&envelope, component, &policy, NOW_MS).map_err(|r| fail(format!("{id}: bench envelope refused: {}", r.code())))?;
    runtime.load(verified, options).map_err(|e| fail(format!("{id}: plugin refused: {}", e.code())))
}
