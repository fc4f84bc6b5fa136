//! `--plugin js`: the Haechi benchmark plugin's logic as a JavaScript plugin
//! (tests/vectors/haechi-js/plugin.mjs, a string-prefix check returning
//! subject, issuer and scopes), fresh instance per call, beside the
//! example-token (Rust) plugin in the same run. Also load time: the first
//! load in the process (engine compile + snapshot + component compile) and
//! a second load of the same module.

use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;
use ward::identity::IdentityKey;
use ward::sandbox::{Credential, Plugin, PluginOptions, PluginRuntime, Runtime, RuntimeConfig};
use ward::trust::{SignRequest, SigningSecret, TrustPolicy, sign, verify_for};

use crate::load::{build_plugin, load_signed};
use crate::measure::{Latency, interleaved_latency, throughput};
use crate::{BenchError, fail, read_file};

const NOW_MS: u64 = 1_763_856_000_000;
/// Calls per batch in the latency run, the two plugins' batches in turn.
/// Alternating every 10 calls added ~10 µs to each JS call and ~3 µs to
/// each example-token call (session 15, docs/javascript.md): after the
/// other plugin has run, the engine's code and memory come back into the
/// caches and TLBs, ~100 µs per switch for JS. Batches of 100 make that a
/// tenth as large, so the p50 is a call's own cost; the 10-call figures are
/// reported beside it.
const BATCH: usize = 100;
const SHORT_BATCH: usize = 10;
const MODULE: &str = "tests/vectors/haechi-js/plugin.mjs";

#[derive(Serialize)]
struct Report {
    js_first_load_ms: f64,
    js_second_load_ms: f64,
    /// Median load in a fresh runtime over a `compileCache` an earlier
    /// runtime filled: what a restart costs.
    js_cached_restart_load_ms: f64,
    js_cached_restart_load_runs: usize,
    /// Per call, in batches of [`BATCH`] calls alternating with example-token's.
    js: Latency,
    example_token: Latency,
    /// The same in batches of [`SHORT_BATCH`]: each batch starts after the
    /// other plugin ran.
    js_alternating_every_10_calls: Latency,
    example_token_alternating_every_10_calls: Latency,
    /// JS p50 over example-token p50 in the same run. This VM runs in
    /// speed modes that last a whole process and move both p50s alike
    /// (docs/javascript.md, session 14): compare builds by this ratio.
    js_p50_over_example_token: f64,
    js_calls_per_s_2_threads: f64,
    example_token_calls_per_s_2_threads: f64,
}

/// Signs the module as Haechi would (a 1.x core range) and loads it as JS.
fn load_js(runtime: &Runtime, source: &[u8]) -> Result<(Plugin, Duration), BenchError> {
    let key = SigningSecret::generate();
    let mut request = SignRequest::auth_provider("haechi-js", "1.0.0", "bench", &["readsCredentials"]);
    request.core_version_range = ">=1.0.0 <2.0.0".into();
    let envelope = serde_json::to_vec(&sign(&request, source, &key).map_err(|e| fail(e.to_string()))?).map_err(|e| fail(e.to_string()))?;
    let policy = TrustPolicy::default().with_anchor("bench", key.verifying_key()).allow("readsCredentials");
    let started = Instant::now();
    let verified = verify_for(&envelope, source.to_vec(), &policy, NOW_MS, PluginRuntime::Js.core_contract())
        .map_err(|r| fail(format!("js bench envelope refused: {}", r.code())))?;
    let plugin = runtime
        .load(verified, PluginOptions { runtime: PluginRuntime::Js, ..PluginOptions::default() })
        .map_err(|e| fail(format!("js plugin refused: {}", e.code())))?;
    Ok((plugin, started.elapsed()))
}

/// Loads in a new runtime per run over one compile cache, the first run
/// filling it; the later runs' times, sorted.
fn cached_restart_loads(identity: &IdentityKey, source: &[u8], runs: usize) -> Result<Vec<f64>, BenchError> {
    let cache = std::env::temp_dir().join(format!("ward-bench-compile-cache-{}", std::process::id()));
    let mut times = Vec::with_capacity(runs);
    let mut measure = || -> Result<(), BenchError> {
        for run in 0..=runs {
            let config = RuntimeConfig { compile_cache: Some(cache.clone()), ..RuntimeConfig::default() };
            let runtime = Runtime::new(config, identity.clone()).map_err(|e| fail(e.to_string()))?;
            let (_, took) = load_js(&runtime, source)?;
            if run > 0 {
                times.push(took.as_secs_f64() * 1e3);
            }
        }
        Ok(())
    };
    let measured = measure();
    let _ = std::fs::remove_dir_all(&cache);
    measured?;
    times.sort_by(f64::total_cmp);
    Ok(times)
}

pub fn run(samples: usize, seconds: u64) -> Result<(), BenchError> {
    let identity = IdentityKey::from_bytes(vec![7; 32]).map_err(|e| fail(e.to_string()))?;
    let mut config = RuntimeConfig::default();
    if let Some(bytes) = std::env::var("WARD_BENCH_KEEP_RESIDENT").ok().and_then(|v| v.parse().ok()) {
        config.engine.memory_keep_resident = bytes;
    }
    // The reset without the kernel's dirty-page scan, for comparison.
    if std::env::var_os("WARD_BENCH_NO_PAGEMAP").is_some() {
        config.engine.pagemap_scan = false;
    }
    let runtime = Runtime::new(config, identity.clone()).map_err(|e| fail(e.to_string()))?;
    let source = read_file(Path::new(MODULE), "the JavaScript bench module")?;
    let (_, first) = load_js(&runtime, &source)?;
    let (js, second) = load_js(&runtime, &source)?;
    let restarts = cached_restart_loads(&identity, &source, 5)?;
    if !js.authenticate(Credential { scheme: "bearer", token: "good-token-alice" }, NOW_MS).is_allow() {
        return Err(fail("the JavaScript bench plugin denied its good token"));
    }
    let example = build_plugin(Path::new("plugins/example-token"), &[])?;
    let secret = "bench-secret-0123456789abcdef";
    let settings = vec![("secret".to_owned(), secret.to_owned())];
    let rust = load_signed(&runtime, example, "example-token", &["readsCredentials"], PluginOptions { settings, ..PluginOptions::default() })?;
    let token = example_token_check::mint(secret.as_bytes(), "alice");
    if !rust.authenticate(Credential { scheme: "bearer", token: &token }, NOW_MS).is_allow() {
        return Err(fail("example-token denied its good token"));
    }
    let js_call = |_: usize| {
        let _ = js.authenticate(Credential { scheme: "bearer", token: "good-token-alice" }, NOW_MS);
    };
    let rust_call = |_: usize| {
        let _ = rust.authenticate(Credential { scheme: "bearer", token: &token }, NOW_MS);
    };
    let mut ops: [&mut dyn FnMut(usize); 2] = [&mut { js_call }, &mut { rust_call }];
    let mut latencies = interleaved_latency(200, samples, BATCH, &mut ops).into_iter();
    let (Some(js_latency), Some(rust_latency)) = (latencies.next(), latencies.next()) else { return Err(fail("no latency")) };
    let mut latencies = interleaved_latency(0, samples, SHORT_BATCH, &mut ops).into_iter();
    let (Some(js_alternating), Some(rust_alternating)) = (latencies.next(), latencies.next()) else { return Err(fail("no latency")) };
    let duration = Duration::from_secs(seconds);
    let report = Report {
        js_first_load_ms: first.as_secs_f64() * 1e3,
        js_second_load_ms: second.as_secs_f64() * 1e3,
        js_cached_restart_load_ms: restarts.get(restarts.len() / 2).copied().unwrap_or(f64::NAN),
        js_cached_restart_load_runs: restarts.len(),
        js_p50_over_example_token: js_latency.p50_us / rust_latency.p50_us,
        js: js_latency,
        example_token: rust_latency,
        js_alternating_every_10_calls: js_alternating,
        example_token_alternating_every_10_calls: rust_alternating,
        js_calls_per_s_2_threads: throughput(2, duration, || js_call),
        example_token_calls_per_s_2_threads: throughput(2, duration, || rust_call),
    };
    println!("{}", serde_json::to_string_pretty(&report).map_err(|e| fail(e.to_string()))?);
    Ok(())
}
