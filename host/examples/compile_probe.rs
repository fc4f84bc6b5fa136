//! Measurement tool (docs/performance.md, "Compile bounds"): the time and
//! peak RSS of `Runtime::load` for a WAT core module wrapped as a component,
//! with the code limits off (or the defaults with PROBE_DEFAULT_LIMITS=1).
//! Shapes come from `scripts/compile-bombs.py KIND N`. The load ends in
//! `invalid-component` (no authenticator export) after compiling, which is
//! what is timed. Not part of ward; unwraps are fine in a tool.
use ward::identity::IdentityKey;
use ward::sandbox::{CodeLimits, Limits, PluginOptions, Runtime, RuntimeConfig};
use ward::trust::{SignRequest, SigningSecret, TrustPolicy, sign, verify};

fn main() {
    let path = std::env::args().nth(1).unwrap();
    let wat = std::fs::read_to_string(&path).unwrap();
    let core = wat::parse_str(&wat).unwrap();
    let component = wit_component::ComponentEncoder::default().module(&core).unwrap().encode().unwrap();
    println!("component bytes: {}", component.len());
    let key = SigningSecret::from_seed(&[42; 32]);
    let policy = TrustPolicy::default().with_anchor("s", key.verifying_key()).allow("readsCredentials");
    let env = serde_json::to_vec(&sign(&SignRequest::auth_provider("p", "1.0.0", "s", &["readsCredentials"]), &component, &key).unwrap()).unwrap();
    let rt = Runtime::new(RuntimeConfig::default(), IdentityKey::from_bytes(vec![7; 32]).unwrap()).unwrap();
    let verified = verify(&env, component, &policy, 1_763_856_000_000).unwrap();
    let t = std::time::Instant::now();
    let code = if std::env::var("PROBE_DEFAULT_LIMITS").is_ok() { CodeLimits::default() } else { CodeLimits { functions: u32::MAX, function_bytes: u32::MAX, locals: u32::MAX, nesting: u32::MAX, locals_by_blocks: u64::MAX, code_bytes: u64::MAX, data_bytes: u64::MAX } };
    let r = rt.load(verified, PluginOptions { limits: Limits { code, ..Limits::default() }, ..PluginOptions::default() });
    println!("load: {:?} in {:?}", r.map(|_| ()), t.elapsed());
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    for l in status.lines().filter(|l| l.starts_with("VmHWM")) { println!("{l}"); }
}
