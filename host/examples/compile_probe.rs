//! Measurement tool (docs/performance.md, "Compile bounds"): the time and
//! peak RSS of `Runtime::load` for a WAT core module wrapped as a component,
//! with the code limits off (or the defaults with PROBE_DEFAULT_LIMITS=1).
//! Shapes come from `scripts/compile-bombs.py KIND N`. The load ends in
//! `invalid-component` (no authenticator export) after compiling, which is
//! what is timed. Not part of ward; unwraps are fine in a tool.
// Measurement code, not shipped: a broken assumption should stop it loudly,
// so unwrap, expect, panic and indexing are allowed (as in the tests).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
use ward::identity::IdentityKey;
use ward::sandbox::{CodeLimits, Limits, PluginOptions, Runtime, RuntimeConfig};
use ward::trust::{SignRequest, SigningSecret, TrustPolicy, sign, verify};

fn main() {
    let path = std::env::args().nth(1).unwrap();
    // A `.wasm` is a core module built elsewhere (e.g. QuickJS compiled by
    // clang for wasm32-wasi), wrapped with the WASI reactor adapter named
    // by PROBE_ADAPTER; anything else is WAT from compile-bombs.py.
    let core = if path.ends_with(".wasm") { std::fs::read(&path).unwrap() } else { wat::parse_str(std::fs::read_to_string(&path).unwrap()).unwrap() };
    if wasmparser::Parser::is_component(&core) {
        // A built plugin or test guest: only its shape is of interest.
        print_shape(&core);
        return;
    }
    let mut encoder = wit_component::ComponentEncoder::default().module(&core).unwrap();
    if let Ok(adapter) = std::env::var("PROBE_ADAPTER") {
        encoder = encoder.adapter("wasi_snapshot_preview1", &std::fs::read(adapter).unwrap()).unwrap();
    }
    let component = encoder.encode().unwrap();
    print_shape(&component);
    println!("component bytes: {}", component.len());
    let key = SigningSecret::from_seed(&[42; 32]);
    let policy = TrustPolicy::default().with_anchor("s", key.verifying_key()).allow("readsCredentials");
    let env = serde_json::to_vec(&sign(&SignRequest::auth_provider("p", "1.0.0", "s", &["readsCredentials"]), &component, &key).unwrap()).unwrap();
    let rt = Runtime::new(RuntimeConfig::default(), IdentityKey::from_bytes(vec![7; 32]).unwrap()).unwrap();
    let verified = verify(&env, component, &policy, 1_763_856_000_000).unwrap();
    let t = std::time::Instant::now();
    let code = if std::env::var("PROBE_DEFAULT_LIMITS").is_ok() {
        CodeLimits::default()
    } else {
        CodeLimits {
            functions: u32::MAX,
            function_bytes: u32::MAX,
            locals: u32::MAX,
            nesting: u32::MAX,
            locals_by_blocks: u64::MAX,
            locals_by_blocks_total: u64::MAX,
            code_bytes: u64::MAX,
            data_bytes: u64::MAX,
        }
    };
    let r = rt.load(verified, PluginOptions { limits: Limits { code, ..Limits::default() }, ..PluginOptions::default() });
    println!("load: {:?} in {:?}", r.map(|_| ()), t.elapsed());
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    for l in status.lines().filter(|l| l.starts_with("VmHWM")) {
        println!("{l}");
    }
    // CPU time of every thread (parallel compilation included): less
    // sensitive than wall time to what else the machine runs.
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap().split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    println!("cpu: {:.2} s", ticks as f64 / 100.0);
}

/// What the code limits measure, summed and at their largest over the
/// component's functions, to compare a real plugin with the bombs.
fn print_shape(component: &[u8]) {
    use wasmparser::{Operator, Parser, Payload};
    let (mut functions, mut max_locals, mut max_product, mut sum_product, mut max_bytes) = (0u64, 0u64, 0u64, 0u64, 0u64);
    for payload in Parser::new(0).parse_all(component) {
        if let Ok(Payload::CodeSectionEntry(body)) = payload {
            functions += 1;
            max_bytes = max_bytes.max(body.range().len() as u64);
            let locals: u64 = body.get_locals_reader().unwrap().into_iter().map(|g| u64::from(g.unwrap().0)).sum();
            let mut blocks = 0u64;
            let mut ops = body.get_operators_reader().unwrap();
            while !ops.eof() {
                if matches!(
                    ops.read().unwrap(),
                    Operator::Block { .. } | Operator::Loop { .. } | Operator::If { .. } | Operator::Else | Operator::TryTable { .. }
                ) {
                    blocks += 1;
                }
            }
            max_locals = max_locals.max(locals);
            max_product = max_product.max(locals * blocks);
            sum_product += locals * blocks;
        }
    }
    println!("functions {functions}, largest body {max_bytes} B, most locals {max_locals}, locals x blocks: largest {max_product}, sum {sum_product}");
}
