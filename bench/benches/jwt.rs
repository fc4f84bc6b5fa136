//! Fuel and linear memory the JWT plugin needs per call, by bisection.
//!
//! `cargo bench -p ward-bench --bench jwt` builds `plugins/jwt` twice (plain, and
//! with its `host-crypto` feature; `WARD_JWT_BENCH_FUEL=host` for the
//! host-crypto build only) and, for HS256, EdDSA, ES256, RS256, PS256-3072
//! and RS256-4096, prints the least fuel and the least linear memory with
//! which a valid token is still allowed, found by bisection over `Limits`.
//! Fuel is deterministic: the guest's work per call, instantiation
//! included, free of the VM's noise (host-crypto calls are charged fuel by
//! the host, see `host/src/sandbox/crypto/`). `WARD_JWT_COMPONENT` and
//! `WARD_JWT_HOST_CRYPTO_COMPONENT` name prebuilt components.
//!
//! Timing against native jsonwebtoken is `ward-bench --plugin jwt`
//! (`bench/src/jwt.rs`). Both use the plugin configuration of its tests
//! (`ward_bench::jwt_fixtures`).
// Measurement code, not shipped: a broken assumption should stop it loudly,
// so unwrap, expect, panic and indexing are allowed (as in the tests).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use ward::identity::IdentityKey;
use ward::sandbox::{Credential, Limits, Plugin, PluginOptions, Runtime, RuntimeConfig};
use ward::trust::{SignRequest, SigningSecret, TrustPolicy, sign, verify};
use ward_bench::jwt_fixtures::{self, AUDIENCE, ISSUER};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn vector(name: &str) -> Vec<u8> {
    std::fs::read(root().join("tests/vectors/jwt").join(name)).unwrap()
}

fn build_plugin(features: &[&str]) -> Vec<u8> {
    let var = if features.is_empty() { "WARD_JWT_COMPONENT" } else { "WARD_JWT_HOST_CRYPTO_COMPONENT" };
    if let Ok(path) = std::env::var(var) {
        return std::fs::read(path).unwrap();
    }
    let opts = ward_guest_build::BuildOptions {
        target_dir: Some(root().join("target/guests")),
        locked: true,
        features: features.iter().map(|f| (*f).to_owned()).collect(),
        ..Default::default()
    };
    let built = ward_guest_build::build(&root().join("plugins/jwt"), &opts).unwrap();
    built.into_iter().next().unwrap().bytes
}

/// `None` when the limits are too tight for the load-time probe instance.
fn try_load(component: Vec<u8>, now_ms: u64, identity_key: &IdentityKey, host_crypto: bool, options: PluginOptions) -> Option<Plugin> {
    let key = SigningSecret::generate();
    let capabilities: &[&str] = if host_crypto { &["readsCredentials", "keyLookup", "hostCrypto"] } else { &["readsCredentials", "keyLookup"] };
    let request = SignRequest::auth_provider("jwt", "0.1.0", "bench", capabilities);
    let envelope = serde_json::to_vec(&sign(&request, &component, &key).unwrap()).unwrap();
    let policy = TrustPolicy::default().with_anchor("bench", key.verifying_key()).allow("readsCredentials").allow("keyLookup").allow("hostCrypto");
    let verified = verify(&envelope, component, &policy, now_ms).unwrap();
    let runtime = Runtime::new(RuntimeConfig::default(), identity_key.clone()).unwrap();
    let plugin = runtime.load(verified, options).ok()?;
    assert_eq!(plugin.imports_host_crypto(), host_crypto);
    Some(plugin)
}

/// The least value of `lo..=hi` for which `allowed` holds (it must hold at `hi`).
fn least(mut lo: u64, mut hi: u64, allowed: impl Fn(u64) -> bool) -> u64 {
    assert!(allowed(hi), "not allowed even at {hi}");
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if allowed(mid) { hi = mid } else { lo = mid + 1 }
    }
    hi
}

/// One fuel-mode case: a token and the JWKS it is checked against.
struct CostCase {
    name: &'static str,
    token: String,
    jwks: &'static str,
}

/// Fuel and 64 KiB memory pages a valid token needs per call, per build:
/// the tests' settings (every algorithm accepted, the HS256 secret
/// configured), the JWKS of the timing runs (or, for RSA-4096,
/// `jwks-4096.json`).
fn print_guest_cost(components: &[(&str, &[u8], bool)], cases: &[CostCase], now_ms: u64, identity_key: &IdentityKey) {
    for (build, component, host_crypto) in components {
        for case in cases {
            let allowed = |limits: Limits| {
                let keys = jwt_fixtures::key_material(&vector(case.jwks), vector("hs256.secret")).unwrap();
                let options = keys.options(jwt_fixtures::settings(), limits);
                try_load(component.to_vec(), now_ms, identity_key, *host_crypto, options)
                    .is_some_and(|plugin| plugin.authenticate(Credential { scheme: "bearer", token: &case.token }, now_ms).is_allow())
            };
            // A deadline far beyond any case, so that only fuel or memory decide.
            let roomy = Limits { fuel: 400_000_000, timeout: std::time::Duration::from_secs(30), ..Limits::default() };
            let fuel = least(0, roomy.fuel, |fuel| allowed(Limits { fuel, ..roomy }));
            let pages = least(1, 256, |pages| allowed(Limits { memory_bytes: pages as usize * 65536, ..roomy }));
            println!("{}", json!({ "bench": "jwt-guest-cost", "build": build, "alg": case.name, "fuel": fuel, "memoryPages": pages }));
        }
    }
}

fn main() {
    let now_ms = u64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis()).unwrap();
    let now = (now_ms / 1000) as i64;
    let identity_key = IdentityKey::from_bytes(vec![0x5a; 32]).unwrap();
    let token = |alg: Algorithm, key: &EncodingKey, kid: Option<&str>| {
        let mut header = Header::new(alg);
        header.kid = kid.map(str::to_owned);
        let claims = json!({ "sub": "user0", "iss": ISSUER, "aud": AUDIENCE, "iat": now - 10, "exp": now + 3600, "scope": "read write" });
        jsonwebtoken::encode(&header, &claims, key).unwrap()
    };
    let pem = |name: &str, alg: Algorithm| match alg {
        Algorithm::EdDSA => EncodingKey::from_ed_pem(&vector(name)).unwrap(),
        Algorithm::ES256 => EncodingKey::from_ec_pem(&vector(name)).unwrap(),
        _ => EncodingKey::from_rsa_pem(&vector(name)).unwrap(),
    };
    let mut costs: Vec<CostCase> =
        vec![CostCase { name: "HS256", token: token(Algorithm::HS256, &EncodingKey::from_secret(&vector("hs256.secret")), None), jwks: "jwks.json" }];
    for (name, alg, file, kid, jwks) in [
        ("EdDSA", Algorithm::EdDSA, "ed25519.pem", "ed-1", "jwks.json"),
        ("ES256", Algorithm::ES256, "p256-a.pem", "ec-1", "jwks.json"),
        ("RS256", Algorithm::RS256, "rsa-2048.pem", "rsa-rs256", "jwks.json"),
        ("PS256-3072", Algorithm::PS256, "rsa-3072.pem", "rsa-ps256", "jwks.json"),
        ("RS256-4096", Algorithm::RS256, "rsa-4096.pem", "rsa-4096", "jwks-4096.json"),
    ] {
        costs.push(CostCase { name, token: token(alg, &pem(file, alg), Some(kid)), jwks });
    }
    let host = build_plugin(&["host-crypto"]);
    let mut builds = vec![("host crypto", host.as_slice(), true)];
    let in_guest = if std::env::var("WARD_JWT_BENCH_FUEL").is_ok_and(|v| v == "host") { Vec::new() } else { build_plugin(&[]) };
    if !in_guest.is_empty() {
        builds.insert(0, ("in-guest crypto", in_guest.as_slice(), false));
    }
    print_guest_cost(&builds, &costs, now_ms, &identity_key);
}
