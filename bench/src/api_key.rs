//! `ward-bench --plugin api-key`: the api-key plugin's call at 10, 10 000
//! and 1 000 000 keys, against the example-token plugin's fresh-instance call
//! in the same run, plus what indexing each keys file costs the host (time,
//! resident memory). The per-call path must cost the same whatever the
//! number of keys (issue 17; docs/performance.md, "Key material index").

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use base64::Engine as _;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use ward::identity::IdentityKey;
use ward::keymaterial::{DEFAULT_MAX_ENTRIES, KeyFormat, KeyIndex};
use ward::sandbox::{Credential, KeySet, PluginOptions, Runtime, RuntimeConfig};

use crate::load::{build_plugin, load_signed};
use crate::measure::latency;
use crate::{BenchError, fail, read_file};

/// `--plugin api-key`: the components to measure and the key-set sizes.
#[derive(clap::Args)]
#[group(id = "api-key-args")]
#[command(next_help_heading = "--plugin api-key")]
pub struct Args {
    /// A prebuilt api-key component; default: build `plugins/api-key`.
    #[arg(long)]
    api_key_component: Option<PathBuf>,
    /// A prebuilt example-token component (the baseline); default: build `plugins/example-token`.
    #[arg(long)]
    example_token_component: Option<PathBuf>,
    /// Key-set sizes, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [10usize, 10_000, 1_000_000])]
    keys: Vec<usize>,
}

const NOW_MS: u64 = 1_763_856_000_000;
const PREFIX: &str = "wk_live_";
/// Keys a latency run cycles through, spread over the whole set.
const PROBES: usize = 1024;

/// A key as `ward apikey new` makes them: the prefix and 32 bytes in base64url.
fn key(i: usize) -> String {
    let secret = Sha256::digest(format!("bench-key-{i}").as_bytes());
    format!("{PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret))
}

/// A keys file of `n` entries laid out exactly as `ward apikey new --subject
/// svc-NNNNNNN --type service` writes them: one entry a line, about 130
/// bytes each (so 10^6 keys are about 130 MB).
fn keys_file(n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n * 132 + 32);
    out.extend_from_slice(b"{\n  \"version\": 1,\n  \"keys\": [\n");
    for i in 0..n {
        let sha: String = Sha256::digest(key(i).as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
        let separator = if i + 1 < n { "," } else { "" };
        let entry = format!("    {{\"sha256\":\"{sha}\",\"subject\":\"svc-{i:07}\",\"type\":\"service\",\"createdMs\":{NOW_MS}}}{separator}\n");
        out.extend_from_slice(entry.as_bytes());
    }
    out.extend_from_slice(b"  ]\n}\n");
    out
}

/// Resident set size and its peak, in MiB (Linux `/proc/self/status`).
fn rss_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status.lines().find_map(|line| line.strip_prefix(name)).and_then(|rest| rest.split_whitespace().next()).and_then(|kb| kb.parse::<f64>().ok()).unwrap_or(f64::NAN)
            / 1024.0
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Resets the peak (`VmHWM`) to the current RSS, so a later reading is the
/// peak of what ran in between (Linux 4.0+; ignored where unsupported).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Measures every size and prints one JSON report.
pub fn run(args: &Args, samples: usize) -> Result<(), BenchError> {
    let identity_key = IdentityKey::from_bytes(vec![0x5a; 32]).map_err(|e| fail(e.to_string()))?;
    let runtime = Runtime::new(RuntimeConfig::default(), identity_key).map_err(|e| fail(e.to_string()))?;
    let api_key = match &args.api_key_component {
        Some(path) => read_file(path, "api-key component")?,
        None => build_plugin(&PathBuf::from("plugins/api-key"), &[])?,
    };
    let example = match &args.example_token_component {
        Some(path) => read_file(path, "example-token component")?,
        None => build_plugin(&PathBuf::from("plugins/example-token"), &[])?,
    };

    // The baseline: example-token's fresh-instance call, in this process.
    let secret = "bench-secret-0123456789abcdef";
    let settings = vec![("secret".to_owned(), secret.to_owned())];
    let baseline = load_signed(&runtime, example, "example-token", &["readsCredentials"], PluginOptions { settings, ..PluginOptions::default() })?;
    let tokens: Vec<String> = (0..PROBES).map(|i| example_token_check::mint(secret.as_bytes(), &format!("user{i}"))).collect();
    let token = |i: usize| tokens.get(i % PROBES).map(String::as_str).unwrap_or("");
    if !baseline.authenticate(Credential { scheme: "bearer", token: token(0) }, NOW_MS).is_allow() {
        return Err(fail("example-token denied a valid bench token"));
    }
    let example_p50 = latency(2000, samples, 10, |i| drop(baseline.authenticate(Credential { scheme: "bearer", token: token(i) }, NOW_MS))).p50_us;

    let mut rows: Vec<Value> = Vec::new();
    for &n in &args.keys {
        let file = keys_file(n);
        reset_peak();
        let (rss_before, _) = rss_mib();
        let started = Instant::now();
        let index = KeyIndex::build(KeyFormat::ApiKeys, &file, DEFAULT_MAX_ENTRIES.max(n as u64)).map_err(|e| fail(format!("{n} keys: {}", e.code())))?;
        let build_ms = started.elapsed().as_secs_f64() * 1e3;
        let (_, rss_peak) = rss_mib();
        let file_mib = file.len() as f64 / (1 << 20) as f64;
        drop(file);
        let (rss_after, _) = rss_mib();

        let index = Arc::new(index);
        let heap_mib = index.heap_bytes() as f64 / (1 << 20) as f64;
        let key_sets = vec![KeySet::new("api-keys", Arc::clone(&index))];
        let options = PluginOptions { settings: vec![("prefixes".to_owned(), PREFIX.to_owned())], key_sets, ..PluginOptions::default() };
        let plugin = load_signed(&runtime, api_key.clone(), "api-key", &["readsCredentials", "keyLookup"], options)?;
        let probes: Vec<String> = (0..PROBES.min(n)).map(|p| key(p * n / PROBES.min(n))).collect();
        let probe = |i: usize| probes.get(i % probes.len()).map(String::as_str).unwrap_or("");
        for candidate in &probes {
            if !plugin.authenticate(Credential { scheme: "api-key", token: candidate }, NOW_MS).is_allow() {
                return Err(fail(format!("{n} keys: a listed key was denied")));
            }
        }
        if plugin.authenticate(Credential { scheme: "api-key", token: &key(n + 1) }, NOW_MS).is_allow() {
            return Err(fail(format!("{n} keys: an unlisted key was allowed")));
        }
        let allow = latency(2000, samples, 10, |i| drop(plugin.authenticate(Credential { scheme: "api-key", token: probe(i) }, NOW_MS)));
        let unknown_key = key(n + 7);
        let deny = latency(2000, samples, 10, |_| drop(plugin.authenticate(Credential { scheme: "api-key", token: &unknown_key }, NOW_MS)));
        rows.push(json!({
            "keys": n,
            "fileMiB": file_mib,
            "indexBuildMs": build_ms,
            "indexHeapMiB": heap_mib,
            "rssMiB": { "beforeIndex": rss_before, "peakWhileIndexing": rss_peak, "afterFileDropped": rss_after },
            "perCall": { "allow": allow, "unknownKey": deny },
            "allowP50OverExampleToken": allow.p50_us / example_p50,
        }));
    }
    let p50 = |row: Option<&Value>| row.and_then(|r| r["perCall"]["allow"]["p50_us"].as_f64()).unwrap_or(f64::NAN);
    let report = json!({
        "plugin": "api-key",
        "exampleTokenFreshP50Us": example_p50,
        "sizes": rows,
        "largestOverSmallestP50": p50(rows.last()) / p50(rows.first()),
    });
    println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
    Ok(())
}
