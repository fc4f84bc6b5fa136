//! `ward-bench` (`--plugin example-token`, the default): the call path
//! against its baselines.
//!
//! (a) production: a fresh instance per call, sanitizer and HMAC included;
//! (b) one reused instance: the unsafe baseline (what isolation costs);
//! (c) the same token check as native Rust (the ceiling);
//! plus load time (verify + compile + probe).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::json;
use ward::identity::{ClaimsPolicy, Identity, IdentityKey, PrincipalType};
use ward::sandbox::bench_support::ReusedInstance;
use ward::sandbox::{Credential, Plugin, PluginOptions, Runtime, RuntimeConfig};
use ward::trust::{SignRequest, SigningSecret, TrustPolicy, sign, verify};

use crate::load::build_plugin;
use crate::measure::{latency, throughput};
use crate::{BenchError, fail, read_file};

/// `--plugin example-token`: the components to measure and how long.
#[derive(clap::Args)]
#[group(id = "example-token-args")]
#[command(next_help_heading = "--plugin example-token (the default)")]
pub struct Args {
    /// A prebuilt example-token component; default: build `--plugin-dir`.
    #[arg(long)]
    component: Option<PathBuf>,
    /// The example-token plugin crate to build when no --component is given.
    #[arg(long, default_value = "plugins/example-token")]
    plugin_dir: PathBuf,
    /// Threads for the multi-threaded throughput run.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// A prebuilt WASI-importing twin of the example plugin (the `wasi-token`
    /// test guest); default: build it from `--wasi-guest-dir`.
    #[arg(long)]
    wasi_component: Option<PathBuf>,
    /// The test-guest crate holding the `wasi-token` example.
    #[arg(long, default_value = "tests/guests")]
    wasi_guest_dir: PathBuf,
    /// Loads (verify + compile + probe) to time; the median is reported.
    #[arg(long, default_value_t = 5)]
    loads: usize,
    /// Override the engine's `memory_keep_resident` (bytes) to compare settings.
    #[arg(long)]
    keep_resident: Option<usize>,
}

const SECRET: &str = "bench-secret-0123456789abcdef";
const USERS: usize = 1024;
const NOW_MS: u64 = 1_763_856_000_000;

/// Measures every case and prints one JSON report.
pub fn run(args: &Args, samples: usize, seconds: f64) -> Result<(), BenchError> {
    let component = match &args.component {
        Some(path) => read_file(path, "component")?,
        None => build_plugin(&args.plugin_dir, &[])?,
    };
    let key = SigningSecret::generate();
    let policy = TrustPolicy::default().with_anchor("bench", key.verifying_key()).allow("readsCredentials");
    let envelope = envelope_for(&component, &key)?;
    let identity_key = IdentityKey::from_bytes(vec![0x5a; 32]).map_err(|e| fail(e.to_string()))?;
    let mut config = RuntimeConfig::default();
    if let Some(bytes) = args.keep_resident {
        config.engine.memory_keep_resident = bytes;
    }
    let runtime = Runtime::new(config, identity_key.clone()).map_err(|e| fail(e.to_string()))?;
    let settings = vec![("secret".to_owned(), SECRET.to_owned()), ("scopes".to_owned(), "read write".to_owned()), ("team".to_owned(), "bench".to_owned())];
    let options = PluginOptions { settings: settings.clone(), ..PluginOptions::default() };

    let mut load_ms = Vec::new();
    let mut plugin = None;
    for _ in 0..args.loads.max(1) {
        let started = Instant::now();
        let verified = verify(&envelope, component.clone(), &policy, NOW_MS).map_err(|r| fail(format!("bench envelope refused: {}", r.code())))?;
        let loaded = runtime.load(verified, options.clone()).map_err(|e| fail(format!("bench plugin refused: {}", e.code())))?;
        load_ms.push(started.elapsed().as_secs_f64() * 1e3);
        plugin = Some(loaded);
    }
    let plugin = plugin.ok_or_else(|| fail("no plugin loaded"))?;
    load_ms.sort_by(f64::total_cmp);
    let wasi_component = match &args.wasi_component {
        Some(path) => read_file(path, "WASI component")?,
        None => build_wasi_token(&args.wasi_guest_dir)?,
    };
    let wasi_verified =
        verify(&envelope_for(&wasi_component, &key)?, wasi_component, &policy, NOW_MS).map_err(|r| fail(format!("bench envelope refused: {}", r.code())))?;
    let wasi_plugin = runtime.load(wasi_verified, options.clone()).map_err(|e| fail(format!("WASI bench plugin refused: {}", e.code())))?;

    let tokens: Vec<String> = (0..USERS).map(|i| example_token_check::mint(SECRET.as_bytes(), &format!("user{i}"))).collect();
    check_answers(&plugin, &tokens)?;
    check_answers(&wasi_plugin, &tokens)?;
    let token = |i: usize| tokens.get(i % USERS).map(String::as_str).unwrap_or("");
    let cred = |i: usize| Credential { scheme: "bearer", token: token(i) };

    let fresh = latency(2000, samples, 10, |i| drop(plugin.authenticate(cred(i), NOW_MS)));
    let fresh_wasi = latency(2000, samples, 10, |i| drop(wasi_plugin.authenticate(cred(i), NOW_MS)));
    let mut reused_instance = ReusedInstance::new(&plugin).map_err(|r| fail(format!("reused baseline: {}", r.code())))?;
    let reused = latency(2000, samples, 10, |i| drop(reused_instance.authenticate(cred(i), NOW_MS)));
    let claims_policy = ClaimsPolicy::default();
    let native = latency(2000, samples, 10, |i| drop(native_authenticate(token(i), &settings, &claims_policy, &identity_key)));

    let run_for = Duration::from_secs_f64(seconds.max(0.1));
    let fresh_1 = throughput(1, run_for, || |i| drop(plugin.authenticate(cred(i), NOW_MS)));
    let fresh_n = throughput(args.threads, run_for, || |i| drop(plugin.authenticate(cred(i), NOW_MS)));
    let native_1 = throughput(1, run_for, || |i| drop(native_authenticate(token(i), &settings, &claims_policy, &identity_key)));

    let report = json!({
        "plugin": "example-token",
        "memoryKeepResident": args.keep_resident,
        "componentBytes": component.len(),
        "loadMs": { "p50": load_ms.get(load_ms.len() / 2), "min": load_ms.first(), "max": load_ms.last(), "runs": load_ms.len() },
        "perCall": { "freshInstance": fresh, "freshInstanceWasiImports": fresh_wasi, "reusedInstance": reused, "native": native },
        "ratios": {
            "freshOverReusedP50": fresh.p50_us / reused.p50_us,
            "freshOverNativeP50": fresh.p50_us / native.p50_us,
            "wasiOverNoImportsP50": fresh_wasi.p50_us / fresh.p50_us,
        },
        "throughputPerSec": {
            "freshInstance1Thread": fresh_1.round(),
            format!("freshInstance{}Threads", args.threads): fresh_n.round(),
            "native1Thread": native_1.round(),
        },
    });
    println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
    Ok(())
}

fn build_wasi_token(dir: &Path) -> Result<Vec<u8>, BenchError> {
    let toolchain = ward_guest_build::detect().map_err(|e| fail(e.to_string()))?;
    let opts = ward_guest_build::BuildOptions {
        targets: ward_guest_build::Targets::Examples,
        target_dir: Some(PathBuf::from("target/guests")),
        locked: true,
        ..Default::default()
    };
    let built = ward_guest_build::build_with(&toolchain, dir, &opts, false).map_err(|e| fail(e.to_string()))?;
    built.into_iter().find(|b| b.name == "wasi-token").map(|b| b.bytes).ok_or_else(|| fail(format!("{} has no wasi-token example", dir.display())))
}

pub(crate) fn envelope_for(component: &[u8], key: &SigningSecret) -> Result<Vec<u8>, BenchError> {
    let request = SignRequest::auth_provider("example-token", "0.1.0", "bench", &["readsCredentials"]);
    let envelope = sign(&request, component, key).map_err(|e| fail(e.to_string()))?;
    serde_json::to_vec(&envelope).map_err(|e| fail(e.to_string()))
}

/// A benchmark that measures wrong answers is worthless: check first that the
/// sandboxed plugin and the native twin agree on every token and on a forgery.
fn check_answers(plugin: &Plugin, tokens: &[String]) -> Result<(), BenchError> {
    for token in tokens {
        if !plugin.authenticate(Credential { scheme: "bearer", token }, NOW_MS).is_allow() {
            return Err(fail("the plugin denied a valid bench token"));
        }
    }
    let forged = format!("{}x", tokens.first().map(String::as_str).unwrap_or("demo.a.b"));
    if plugin.authenticate(Credential { scheme: "bearer", token: &forged }, NOW_MS).is_allow() {
        return Err(fail("the plugin allowed a forged bench token"));
    }
    Ok(())
}

/// The native ceiling: the same check, then the same sanitizer and identity HMAC.
fn native_authenticate(token: &str, settings: &[(String, String)], policy: &ClaimsPolicy, key: &IdentityKey) -> Option<Identity> {
    let accepted = example_token_check::evaluate(token, settings).ok()?;
    let mut sanitizer = policy.sanitizer();
    sanitizer.subject(accepted.subject).ok()?;
    if let Some(issuer) = accepted.issuer {
        sanitizer.issuer(issuer).ok()?;
    }
    for scope in &accepted.scopes {
        sanitizer.scope(scope).ok()?;
    }
    if let Some(team) = accepted.team {
        sanitizer.label("team", team).ok()?;
    }
    let claims = sanitizer.finish(PrincipalType::User).ok()?;
    Some(Identity::derive(key, "example-token", claims))
}
