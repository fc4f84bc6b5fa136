//! The JWT plugin through ward against the same validation done natively.
//!
//! `cargo bench -p ward --bench jwt` builds `plugins/jwt` into a component
//! (into `target/guests`, like `ward bench`), signs and loads it through the
//! trust gate, and for EdDSA, ES256 and RS256 times, interleaved sample by
//! sample so that the noisy VM treats every case alike:
//! - `ward`: `Plugin::authenticate`, a fresh instance per call, in-guest
//!   crypto, the JWKS parsed by the guest on every call (it keeps no state),
//!   the host's claims sanitizer and identity HMAC included;
//! - `ward+host crypto`: the same plugin built with its `host-crypto`
//!   feature (signed with `hostCrypto: true`): signatures verified by the
//!   host through `ward:auth/crypto` (ring), everything else as `ward`;
//! - `native`: `jsonwebtoken` (RustCrypto backend) with the decoding keys
//!   built once from the JWKS, `kid` looked up per call, the same issuer,
//!   audience, `exp`/`nbf` checks, then the same sanitizer and HMAC;
//! - `native+jwks`: the same, but parsing the JWKS and building the key on
//!   every call, as the plugin must;
//! - where the time goes: the host-crypto plugin on one reused instance (no
//!   instantiation), the host's signature check alone (ring, key and
//!   signature already decoded) and jsonwebtoken's alone
//!   (`jsonwebtoken::crypto::verify`).
//!
//! The order of the sides rotates from one sample to the next, so each
//! follows every other equally often (a call right after in-guest ES256's
//! milliseconds of wasm finds cold caches).
//!
//! Tokens are made by `jsonwebtoken` from the test keys in
//! `tests/vectors/jwt`. Before timing, every token must be allowed by both
//! sides and a forged one denied. Prints one JSON line per algorithm and
//! two tables of medians. `WARD_JWT_BENCH_SAMPLES` sets the samples per
//! case (default 400; 5 under `cargo test --benches`).
//! `WARD_JWT_COMPONENT` and `WARD_JWT_HOST_CRYPTO_COMPONENT` name prebuilt
//! components to time instead of building them;
//! `WARD_JWT_BASELINE_HOST_CRYPTO_COMPONENT` names another host-crypto
//! build to time as one more side of the same rotation (before and after a
//! change to the plugin, under the same noise).
//!
//! With `WARD_JWT_BENCH_FUEL=1` nothing is timed: for both builds (with
//! `=host`, the host-crypto one only) and HS256, EdDSA, ES256, RS256,
//! PS256-3072 and RS256-4096 it prints the least fuel and the least linear
//! memory with which a valid token is still allowed, found by bisection
//! over `Limits`. Fuel is deterministic: the guest's work per call,
//! instantiation included, free of the VM's noise (host-crypto calls are
//! charged fuel by the host, see `host/src/sandbox/crypto.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, missing_docs)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Value, json};
use ward::identity::{ClaimsPolicy, Identity, IdentityKey, PrincipalType};
use ward::sandbox::{Credential, Limits, Plugin, PluginOptions, Runtime, RuntimeConfig};
use ward::trust::{SignRequest, SigningSecret, TrustPolicy, default_core_range, sign, verify};

const ISSUER: &str = "https://issuer.example";
const AUDIENCE: &str = "ward-api";
const TOKENS_PER_ALG: usize = 64;

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

fn load(component: Vec<u8>, now_ms: u64, identity_key: &IdentityKey, host_crypto: bool) -> Plugin {
    let settings = [("algorithms", "EdDSA ES256 RS256"), ("issuer", ISSUER), ("audience", AUDIENCE), ("leewaySeconds", "60")];
    let options = PluginOptions {
        settings: settings.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        keys: vec![("jwks".to_owned(), vector("jwks.json"))],
        ..PluginOptions::default()
    };
    try_load(component, now_ms, identity_key, host_crypto, options).unwrap()
}

/// `None` when the limits are too tight for the load-time probe instance.
fn try_load(component: Vec<u8>, now_ms: u64, identity_key: &IdentityKey, host_crypto: bool, options: PluginOptions) -> Option<Plugin> {
    let key = SigningSecret::generate();
    let mut capabilities: serde_json::Map<String, Value> = [("readsCredentials".to_owned(), json!(true))].into_iter().collect();
    if host_crypto {
        capabilities.insert("hostCrypto".to_owned(), json!(true));
    }
    let request = SignRequest {
        plugin_id: "jwt".into(),
        kind: "authProvider".into(),
        version: "0.1.0".into(),
        capabilities,
        core_version_range: default_core_range(),
        not_before: None,
        not_after: None,
        signer_key_id: "bench".into(),
    };
    let envelope = serde_json::to_vec(&sign(&request, &component, &key).unwrap()).unwrap();
    let policy = TrustPolicy::default().with_anchor("bench", key.verifying_key()).allow("readsCredentials").allow("hostCrypto");
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
/// every algorithm accepted, the HS256 secret configured, the JWKS of the
/// timing runs (or, for RSA-4096, `jwks-4096.json`).
fn print_guest_cost(components: &[(&str, &[u8], bool)], cases: &[CostCase], now_ms: u64, identity_key: &IdentityKey) {
    let settings = [
        ("algorithms", "EdDSA ES256 RS256 PS256 HS256"),
        ("issuer", ISSUER),
        ("audience", AUDIENCE),
        ("leewaySeconds", "60"),
        ("hs256Key", "hs256"),
    ];
    for (build, component, host_crypto) in components {
        for case in cases {
            let allowed = |limits: Limits| {
                let options = PluginOptions {
                    settings: settings.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
                    keys: vec![("jwks".to_owned(), vector(case.jwks)), ("hs256".to_owned(), vector("hs256.secret"))],
                    limits,
                };
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

/// A JWKS key as the host's `ward:auth/crypto` takes it.
enum HostKey {
    Ed25519(Vec<u8>),
    P256(Vec<u8>),
    Rsa { n: Vec<u8>, e: Vec<u8> },
}

impl HostKey {
    fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        use ward::sandbox::crypto;
        match self {
            Self::Ed25519(key) => crypto::verify_ed25519(key, message, signature),
            Self::P256(key) => crypto::verify_ecdsa_p256_sha256(key, message, signature),
            Self::Rsa { n, e } => crypto::verify_rsa_sha256(crypto::RsaPadding::Pkcs1v15, n, e, message, signature),
        }
    }
}

fn host_crypto_key(kid: &str) -> HostKey {
    let jwks: Value = serde_json::from_slice(&vector("jwks.json")).unwrap();
    let jwk = jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == kid).unwrap();
    let member = |name: &str| B64.decode(jwk[name].as_str().unwrap()).unwrap();
    match jwk["kty"].as_str().unwrap() {
        "OKP" => HostKey::Ed25519(member("x")),
        "EC" => HostKey::P256([vec![4], member("x"), member("y")].concat()),
        _ => HostKey::Rsa { n: member("n"), e: member("e") },
    }
}

/// The native side: jsonwebtoken, then the host's sanitizer and identity HMAC.
struct Native {
    /// `kid` → the key and the one algorithm it serves.
    keys: HashMap<String, (DecodingKey, Algorithm)>,
    jwks: Vec<u8>,
    /// One per algorithm, built once. jsonwebtoken wants every algorithm of
    /// a `Validation` to be of the key's family, so there is no shared one.
    validations: Vec<(Algorithm, Validation)>,
    policy: ClaimsPolicy,
    identity_key: IdentityKey,
}

impl Native {
    fn new(identity_key: IdentityKey) -> Self {
        let jwks = vector("jwks.json");
        let set: JwkSet = serde_json::from_slice(&jwks).unwrap();
        let keys = [("ed-1", Algorithm::EdDSA), ("ec-1", Algorithm::ES256), ("rsa-rs256", Algorithm::RS256)]
            .into_iter()
            .map(|(kid, alg)| (kid.to_owned(), (DecodingKey::from_jwk(set.find(kid).unwrap()).unwrap(), alg)))
            .collect();
        let validations = [Algorithm::EdDSA, Algorithm::ES256, Algorithm::RS256].into_iter().map(|alg| (alg, Self::validation(alg))).collect();
        Self { keys, jwks, validations, policy: ClaimsPolicy::default(), identity_key }
    }

    fn validation(alg: Algorithm) -> Validation {
        let mut validation = Validation::new(alg);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
        validation.leeway = 60;
        validation.validate_nbf = true;
        validation
    }

    fn validation_for(&self, alg: Algorithm) -> Option<&Validation> {
        self.validations.iter().find(|(a, _)| *a == alg).map(|(_, v)| v)
    }

    /// Keys built once; `kid` looked up per call; the key's own algorithm.
    fn authenticate(&self, token: &str) -> Option<Identity> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        let (key, alg) = self.keys.get(header.kid.as_deref()?)?;
        let data = jsonwebtoken::decode::<Value>(token, key, self.validation_for(*alg)?).ok()?;
        self.identity(&data.claims)
    }

    /// The JWKS parsed and the key built on every call, as the plugin must;
    /// jsonwebtoken refuses a key whose family is not the header's `alg`'s.
    fn authenticate_parsing_jwks(&self, token: &str) -> Option<Identity> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        let set: JwkSet = serde_json::from_slice(&self.jwks).ok()?;
        let key = DecodingKey::from_jwk(set.find(header.kid.as_deref()?)?).ok()?;
        let data = jsonwebtoken::decode::<Value>(token, &key, self.validation_for(header.alg)?).ok()?;
        self.identity(&data.claims)
    }

    fn identity(&self, claims: &Value) -> Option<Identity> {
        let mut sanitizer = self.policy.sanitizer();
        sanitizer.subject(claims["sub"].as_str().filter(|s| !s.is_empty())?).ok()?;
        sanitizer.issuer(claims["iss"].as_str()?).ok()?;
        for scope in claims["scope"].as_str().unwrap_or("").split(' ').filter(|s| !s.is_empty()) {
            sanitizer.scope(scope).ok()?;
        }
        Some(Identity::derive(&self.identity_key, "jwt", sanitizer.finish(PrincipalType::User).ok()?))
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn p99(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[((values.len() - 1) as f64 * 0.99).round() as usize]
}

fn time_us(op: impl FnOnce() -> bool) -> f64 {
    let started = Instant::now();
    let allowed = op();
    let elapsed = started.elapsed().as_secs_f64() * 1e6;
    assert!(allowed, "a valid bench token was denied while timing");
    elapsed
}

fn main() {
    let is_bench = std::env::args().any(|a| a == "--bench");
    let samples: usize =
        std::env::var("WARD_JWT_BENCH_SAMPLES").ok().and_then(|v| v.parse().ok()).unwrap_or(if is_bench { 400 } else { 5 });
    let now_ms = u64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis()).unwrap();
    let now = (now_ms / 1000) as i64;
    let identity_key = IdentityKey::from_bytes(vec![0x5a; 32]).unwrap();
    let component = build_plugin(&[]);
    let component_bytes = component.len();
    let plugin = load(component, now_ms, &identity_key, false);
    let host_component = build_plugin(&["host-crypto"]);
    let host_component_bytes = host_component.len();
    let host_plugin = load(host_component, now_ms, &identity_key, true);
    // Another host-crypto build to time beside this one (before/after a change).
    let baseline = std::env::var("WARD_JWT_BASELINE_HOST_CRYPTO_COMPONENT")
        .ok()
        .map(|path| load(std::fs::read(path).unwrap(), now_ms, &identity_key, true));
    let cases = [
        ("EdDSA", Algorithm::EdDSA, EncodingKey::from_ed_pem(&vector("ed25519.pem")).unwrap(), "ed-1"),
        ("ES256", Algorithm::ES256, EncodingKey::from_ec_pem(&vector("p256-a.pem")).unwrap(), "ec-1"),
        ("RS256", Algorithm::RS256, EncodingKey::from_rsa_pem(&vector("rsa-2048.pem")).unwrap(), "rsa-rs256"),
    ];
    if std::env::var_os("WARD_JWT_BENCH_FUEL").is_some() {
        let token = |alg: Algorithm, key: &EncodingKey, kid: Option<&str>| {
            let mut header = Header::new(alg);
            header.kid = kid.map(str::to_owned);
            let claims = json!({ "sub": "user0", "iss": ISSUER, "aud": AUDIENCE, "iat": now - 10, "exp": now + 3600, "scope": "read write" });
            jsonwebtoken::encode(&header, &claims, key).unwrap()
        };
        let mut costs: Vec<CostCase> = vec![CostCase {
            name: "HS256",
            token: token(Algorithm::HS256, &EncodingKey::from_secret(&vector("hs256.secret")), None),
            jwks: "jwks.json",
        }];
        costs.extend(cases.iter().map(|(name, alg, key, kid)| CostCase { name, token: token(*alg, key, Some(kid)), jwks: "jwks.json" }));
        let rsa_3072 = EncodingKey::from_rsa_pem(&vector("rsa-3072.pem")).unwrap();
        costs.push(CostCase { name: "PS256-3072", token: token(Algorithm::PS256, &rsa_3072, Some("rsa-ps256")), jwks: "jwks.json" });
        let rsa_4096 = EncodingKey::from_rsa_pem(&vector("rsa-4096.pem")).unwrap();
        costs.push(CostCase { name: "RS256-4096", token: token(Algorithm::RS256, &rsa_4096, Some("rsa-4096")), jwks: "jwks-4096.json" });
        let host = build_plugin(&["host-crypto"]);
        let mut builds = vec![("host crypto", host.as_slice(), true)];
        let in_guest = if std::env::var("WARD_JWT_BENCH_FUEL").is_ok_and(|v| v == "host") { Vec::new() } else { build_plugin(&[]) };
        if !in_guest.is_empty() {
            builds.insert(0, ("in-guest crypto", in_guest.as_slice(), false));
        }
        print_guest_cost(&builds, &costs, now_ms, &identity_key);
        return;
    }
    let native = Native::new(identity_key);
    let mut rows = Vec::new();
    for (name, alg, key, kid) in &cases {
        let mut header = Header::new(*alg);
        header.kid = Some((*kid).to_owned());
        let tokens: Vec<String> = (0..TOKENS_PER_ALG)
            .map(|i| {
                let claims = json!({ "sub": format!("user{i}"), "iss": ISSUER, "aud": AUDIENCE, "iat": now - 10, "exp": now + 3600, "scope": "read write" });
                jsonwebtoken::encode(&header, &claims, key).unwrap()
            })
            .collect();
        // Both sides must give the right answers before anything is timed.
        for token in &tokens {
            let ward_id = plugin.authenticate(Credential { scheme: "bearer", token }, now_ms);
            let ward_id = match ward_id {
                ward::sandbox::Decision::Allow(identity) => identity.id,
                ward::sandbox::Decision::Deny(reason) => panic!("{name}: ward denied a valid token: {}", reason.code()),
            };
            assert_eq!(native.authenticate(token).unwrap().id, ward_id, "{name}: both sides derive the same identity");
            match host_plugin.authenticate(Credential { scheme: "bearer", token }, now_ms) {
                ward::sandbox::Decision::Allow(identity) => assert_eq!(identity.id, ward_id, "{name}: host crypto derives the same identity"),
                ward::sandbox::Decision::Deny(reason) => panic!("{name}: ward+host crypto denied a valid token: {}", reason.code()),
            }
            assert!(native.authenticate_parsing_jwks(token).is_some());
        }
        // The signature's first character changed: six signature bits differ.
        let dot = tokens[0].rfind('.').unwrap() + 1;
        let flipped = if tokens[0][dot..].starts_with('A') { "B" } else { "A" };
        let forged = format!("{}{flipped}{}", &tokens[0][..dot], &tokens[0][dot + 1..]);
        assert!(!plugin.authenticate(Credential { scheme: "bearer", token: &forged }, now_ms).is_allow(), "{name}: ward allowed a forgery");
        assert!(!host_plugin.authenticate(Credential { scheme: "bearer", token: &forged }, now_ms).is_allow(), "{name}: host crypto allowed a forgery");
        assert!(native.authenticate(&forged).is_none(), "{name}: native allowed a forgery");

        // Where the time goes: the signature checks alone, each side's own
        // (ring in the host, jsonwebtoken's RustCrypto natively, key and
        // signature already in hand), and the host-crypto plugin on one
        // reused instance (no instantiation).
        let split: Vec<(&str, Vec<u8>)> =
            tokens.iter().map(|t| t.rsplit_once('.').unwrap()).map(|(input, sig)| (input, B64.decode(sig).unwrap())).collect();
        let host_key = host_crypto_key(kid);
        let (native_key, _) = &native.keys[*kid];
        let mut reused = ward::sandbox::bench_support::ReusedInstance::new(&host_plugin).unwrap();

        // One call per side per sample. The order rotates from sample to
        // sample, so each side follows every other equally often: a call
        // right after in-guest ES256's milliseconds of wasm finds cold caches.
        let mut sides: Vec<Box<dyn FnMut(usize) -> bool + '_>> = vec![
            Box::new(|i| plugin.authenticate(Credential { scheme: "bearer", token: &tokens[i % TOKENS_PER_ALG] }, now_ms).is_allow()),
            Box::new(|i| host_plugin.authenticate(Credential { scheme: "bearer", token: &tokens[i % TOKENS_PER_ALG] }, now_ms).is_allow()),
            Box::new(|i| native.authenticate(&tokens[i % TOKENS_PER_ALG]).is_some()),
            Box::new(|i| native.authenticate_parsing_jwks(&tokens[i % TOKENS_PER_ALG]).is_some()),
            Box::new(|i| reused.authenticate(Credential { scheme: "bearer", token: &tokens[i % TOKENS_PER_ALG] }, now_ms).is_allow()),
            Box::new(|i| {
                let (input, signature) = &split[i % TOKENS_PER_ALG];
                host_key.verify(input.as_bytes(), signature)
            }),
            Box::new(|i| {
                let token = &tokens[i % TOKENS_PER_ALG];
                let input = split[i % TOKENS_PER_ALG].0;
                jsonwebtoken::crypto::verify(&token[input.len() + 1..], input.as_bytes(), native_key, *alg).unwrap()
            }),
        ];
        if let Some(baseline) = &baseline {
            sides.push(Box::new(|i| baseline.authenticate(Credential { scheme: "bearer", token: &tokens[i % TOKENS_PER_ALG] }, now_ms).is_allow()));
        }
        let mut times: Vec<Vec<f64>> = vec![Vec::with_capacity(samples); sides.len()];
        let warmup = samples / 10 + 1;
        for i in 0..samples + warmup {
            for k in 0..sides.len() {
                let side = (i + k) % sides.len();
                let us = time_us(|| sides[side](i));
                if i >= warmup {
                    times[side].push(us);
                }
            }
        }
        drop(sides);
        let baseline_us = times.get(7).cloned();
        times.truncate(7);
        let [ward_us, host_us, native_us, parsing_us, reused_us, ring_us, native_crypto_us]: [Vec<f64>; 7] = times.try_into().unwrap();
        let mut row = json!({
            "bench": "jwt",
            "alg": name,
            "samples": samples,
            "wardP50Us": median(ward_us.clone()),
            "wardP99Us": p99(ward_us),
            "wardHostCryptoP50Us": median(host_us.clone()),
            "wardHostCryptoP99Us": p99(host_us),
            "nativeP50Us": median(native_us.clone()),
            "nativeP99Us": p99(native_us),
            "nativeJwksPerCallP50Us": median(parsing_us.clone()),
            "nativeJwksPerCallP99Us": p99(parsing_us),
            "wardHostCryptoReusedInstanceP50Us": median(reused_us),
            "hostVerifyAloneP50Us": median(ring_us),
            "nativeVerifyAloneP50Us": median(native_crypto_us),
        });
        if let Some(baseline_us) = baseline_us {
            row["baselineHostCryptoP50Us"] = json!(median(baseline_us));
        }
        println!("{row}");
        rows.push(row);
    }
    println!("\ncomponents: in-guest crypto {component_bytes} bytes, host crypto {host_component_bytes} bytes; p50 per call in µs (p99 in parentheses)\n");
    println!("| alg | ward, in-guest crypto | ward, host crypto | native, keys cached | native, JWKS per call | in-guest / native | host crypto / native | host crypto / native+JWKS |");
    println!("|---|---|---|---|---|---|---|---|");
    for row in &rows {
        let f = |k: &str| row[k].as_f64().unwrap();
        println!(
            "| {} | {:.0} ({:.0}) | {:.0} ({:.0}) | {:.0} ({:.0}) | {:.0} ({:.0}) | {:.2} | {:.2} | {:.2} |",
            row["alg"].as_str().unwrap(),
            f("wardP50Us"),
            f("wardP99Us"),
            f("wardHostCryptoP50Us"),
            f("wardHostCryptoP99Us"),
            f("nativeP50Us"),
            f("nativeP99Us"),
            f("nativeJwksPerCallP50Us"),
            f("nativeJwksPerCallP99Us"),
            f("wardP50Us") / f("nativeP50Us"),
            f("wardHostCryptoP50Us") / f("nativeP50Us"),
            f("wardHostCryptoP50Us") / f("nativeJwksPerCallP50Us"),
        );
    }
    println!("\nwhere the time goes, p50 in µs: the host-crypto plugin, the same on one reused instance, the host's signature check alone; native, its signature check alone\n");
    println!("| alg | ward, host crypto | reused instance | host verify alone | native, keys cached | native verify alone |");
    println!("|---|---|---|---|---|---|");
    for row in &rows {
        let f = |k: &str| row[k].as_f64().unwrap();
        println!(
            "| {} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} |",
            row["alg"].as_str().unwrap(),
            f("wardHostCryptoP50Us"),
            f("wardHostCryptoReusedInstanceP50Us"),
            f("hostVerifyAloneP50Us"),
            f("nativeP50Us"),
            f("nativeVerifyAloneP50Us"),
        );
    }
    if baseline.is_some() {
        println!("\nthis host-crypto build against WARD_JWT_BASELINE_HOST_CRYPTO_COMPONENT, timed in the same rotation, p50 in µs\n");
        println!("| alg | this build | baseline | this / native | baseline / native |");
        println!("|---|---|---|---|---|");
        for row in &rows {
            let f = |k: &str| row[k].as_f64().unwrap();
            println!(
                "| {} | {:.0} | {:.0} | {:.2} | {:.2} |",
                row["alg"].as_str().unwrap(),
                f("wardHostCryptoP50Us"),
                f("baselineHostCryptoP50Us"),
                f("wardHostCryptoP50Us") / f("nativeP50Us"),
                f("baselineHostCryptoP50Us") / f("nativeP50Us"),
            );
        }
    }
}
