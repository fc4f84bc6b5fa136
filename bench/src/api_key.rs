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
use ward::sandbox::{Credential, KeySet, Plugin, PluginOptions, Runtime, RuntimeConfig};

use crate::load::{build_plugin, load_signed};
use crate::measure::interleaved_latency;
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
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kb| kb.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
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

    // Every size indexed and loaded first, then measured side by side.
    let mut sizes = Vec::new();
    for &n in &args.keys {
        sizes.push(Size::prepare(&runtime, &api_key, n)?);
    }
    let mut example_op = |i: usize| drop(baseline.authenticate(Credential { scheme: "bearer", token: token(i) }, NOW_MS));
    let mut allow_ops: Vec<Box<dyn FnMut(usize) + '_>> = sizes
        .iter()
        .map(|size| {
            Box::new(move |i: usize| drop(size.plugin.authenticate(Credential { scheme: "api-key", token: size.probe(i) }, NOW_MS))) as Box<dyn FnMut(usize)>
        })
        .collect();
    let mut ops: Vec<&mut dyn FnMut(usize)> = vec![&mut example_op];
    ops.extend(allow_ops.iter_mut().map(|op| &mut **op as &mut dyn FnMut(usize)));
    let allow = interleaved_latency(2000, samples, 10, &mut ops);
    let mut deny_ops: Vec<Box<dyn FnMut(usize) + '_>> = sizes
        .iter()
        .map(|size| {
            Box::new(move |_: usize| drop(size.plugin.authenticate(Credential { scheme: "api-key", token: &size.unknown }, NOW_MS))) as Box<dyn FnMut(usize)>
        })
        .collect();
    let mut ops: Vec<&mut dyn FnMut(usize)> = deny_ops.iter_mut().map(|op| &mut **op as &mut dyn FnMut(usize)).collect();
    let deny = interleaved_latency(2000, samples, 10, &mut ops);

    let example_p50 = allow.first().map_or(f64::NAN, |l| l.p50_us);
    let rows: Vec<Value> = sizes
        .iter()
        .zip(allow.iter().skip(1).zip(&deny))
        .map(|(size, (allow, deny))| {
            json!({
                "keys": size.keys,
                "fileMiB": size.file_mib,
                "indexBuildMs": size.build_ms,
                "indexHeapMiB": size.heap_mib,
                "rssMiB": { "beforeIndex": size.rss.0, "peakWhileIndexing": size.rss.1, "afterFileDropped": size.rss.2 },
                "perCall": { "allow": allow, "unknownKey": deny },
                "allowP50OverExampleToken": allow.p50_us / example_p50,
            })
        })
        .collect();
    let p50 = |at: Option<&crate::measure::Latency>| at.map_or(f64::NAN, |l| l.p50_us);
    let report = json!({
        "plugin": "api-key",
        "exampleTokenFreshP50Us": example_p50,
        "sizes": rows,
        "largestOverSmallestP50": p50(allow.last()) / p50(allow.get(1)),
    });
    println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
    Ok(())
}

/// One key-set size, indexed and loaded.
struct Size {
    keys: usize,
    file_mib: f64,
    build_ms: f64,
    heap_mib: f64,
    /// RSS before indexing, its peak while indexing, after the file is dropped (MiB).
    rss: (f64, f64, f64),
    plugin: Plugin,
    /// Listed keys spread over the set, which the latency runs cycle through.
    probes: Vec<String>,
    unknown: String,
}

impl Size {
    fn prepare(runtime: &Runtime, component: &[u8], n: usize) -> Result<Self, BenchError> {
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
        let key_sets = vec![KeySet::new("api-keys", index)];
        let options = PluginOptions { settings: vec![("prefixes".to_owned(), PREFIX.to_owned())], key_sets, ..PluginOptions::default() };
        let plugin = load_signed(runtime, component.to_vec(), "api-key", &["readsCredentials", "keyLookup"], options)?;
        let spread = PROBES.min(n).max(1);
        let probes: Vec<String> = (0..spread).map(|p| key(p * n / spread)).collect();
        // A benchmark of wrong answers is worthless: every probe allows, an unlisted key does not.
        for candidate in &probes {
            if !plugin.authenticate(Credential { scheme: "api-key", token: candidate }, NOW_MS).is_allow() {
                return Err(fail(format!("{n} keys: a listed key was denied")));
            }
        }
        let unknown = key(n + 7);
        if plugin.authenticate(Credential { scheme: "api-key", token: &unknown }, NOW_MS).is_allow() {
            return Err(fail(format!("{n} keys: an unlisted key was allowed")));
        }
        Ok(Self { keys: n, file_mib, build_ms, heap_mib, rss: (rss_before, rss_peak, rss_after), plugin, probes, unknown })
    }

    fn probe(&self, i: usize) -> &str {
        self.probes.get(i % self.probes.len().max(1)).map_or("", String::as_str)
    }
}
