//! `ward-bench --plugin jwt`: the JWT plugin through ward against the same
//! validation done natively with a mainstream JWT crate, in one run, with the
//! configuration of the plugin's tests (`jwt_fixtures`).
//!
//! For EdDSA, ES256, RS256, PS256 (3072-bit key) and HS256, interleaved sample by sample with the order
//! of the sides rotating (each follows every other equally often; a call
//! right after in-guest ES256's milliseconds of wasm finds cold caches):
//! - ward, in-guest crypto: `plugins/jwt` built plain, a fresh instance per
//!   call, the JWKS parsed by the guest on every call, the host's sanitizer
//!   and identity HMAC included;
//! - ward, host crypto: the same plugin built with its `host-crypto`
//!   feature (signed with `hostCrypto: true`), signatures checked by the
//!   host through `ward:auth/crypto` (ring; Ed25519 by ed25519-dalek);
//! - native: `jsonwebtoken` (RustCrypto backend), keys built once, `kid`
//!   looked up per call, the same issuer, audience and time checks, then
//!   the same sanitizer and HMAC; and the same parsing the JWKS per call;
//! - where the time goes: the host-crypto plugin on one reused instance,
//!   the host's signature check alone and jsonwebtoken's alone.
//!
//! Tokens are made by `jsonwebtoken` from the test keys in
//! `tests/vectors/jwt`; before timing, every side must allow every token
//! with the same identity and deny a forged one.
//! (`cargo bench -p ward-bench --bench jwt` keeps the fuel and memory bisection.)

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Value, json};
use ward::identity::{ClaimsPolicy, Identity, IdentityKey, PrincipalType};
use ward::sandbox::bench_support::ReusedInstance;
use ward::sandbox::{Credential, Decision, Limits, Plugin, Runtime, RuntimeConfig, crypto};
use ward_bench::jwt_fixtures::{self, AUDIENCE, ISSUER, KeyMaterial, OTHER_AUDIENCE};

use crate::load::{build_plugin, load_signed};
use crate::measure::quantile;
use crate::{BenchError, fail, read_file};

const TOKENS_PER_ALG: usize = 64;

/// `--plugin jwt`: where the JWT bench finds its inputs.
#[derive(clap::Args)]
#[group(id = "jwt-args")]
#[command(next_help_heading = "--plugin jwt")]
pub struct Args {
    /// The plugin crate to build (twice: plain and host-crypto).
    #[arg(long, default_value = "plugins/jwt")]
    jwt_dir: PathBuf,
    /// The JWKS and PEM keys the tokens are signed with.
    #[arg(long, default_value = "tests/vectors/jwt")]
    jwt_vectors: PathBuf,
    /// A prebuilt plain (in-guest crypto) jwt component.
    #[arg(long)]
    jwt_component: Option<PathBuf>,
    /// A prebuilt host-crypto jwt component.
    #[arg(long)]
    jwt_host_crypto_component: Option<PathBuf>,
}

/// Runs the comparison, `samples` per side and algorithm, and prints one
/// JSON line per algorithm, then a summary.
pub fn run(inputs: &Args, samples: usize) -> Result<(), BenchError> {
    let vector = |name: &str| read_file(&inputs.jwt_vectors.join(name), "JWT test vector");
    // jsonwebtoken checks `exp` against the real clock, so ward is given it too.
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    let identity_key = IdentityKey::from_bytes(vec![0x5a; 32]).map_err(|e| fail(e.to_string()))?;
    let jwks = vector("jwks.json")?;
    let hs256_secret = vector("hs256.secret")?;
    let plain = component(inputs.jwt_component.as_deref(), &inputs.jwt_dir, &[])?;
    let host = component(inputs.jwt_host_crypto_component.as_deref(), &inputs.jwt_dir, &["host-crypto"])?;
    let sizes = (plain.len(), host.len());
    let keys = jwt_fixtures::key_material(&jwks, hs256_secret.clone()).map_err(|e| fail(format!("jwks.json: {} ({e})", e.code())))?;
    // One runtime each: two plugins in one pool, called in turn, land in
    // each other's warm slots and pay for remapping their memory image on
    // most calls (HS256 21 -> 55 us p50 measured), which is not what this
    // bench compares.
    let runtime = || Runtime::new(RuntimeConfig::default(), identity_key.clone()).map_err(|e| fail(e.to_string()));
    let plugin = load(&runtime()?, plain, false, &keys)?;
    let host_plugin = load(&runtime()?, host, true, &keys)?;
    let native = Native::new(identity_key, jwks, hs256_secret)?;
    let now = (now_ms / 1000) as i64;
    let cases = [
        ("EdDSA", Algorithm::EdDSA, EncodingKey::from_ed_pem(&vector("ed25519.pem")?), Some("ed-1")),
        ("ES256", Algorithm::ES256, EncodingKey::from_ec_pem(&vector("p256-a.pem")?), Some("ec-1")),
        ("RS256", Algorithm::RS256, EncodingKey::from_rsa_pem(&vector("rsa-2048.pem")?), Some("rsa-rs256")),
        ("PS256", Algorithm::PS256, EncodingKey::from_rsa_pem(&vector("rsa-3072.pem")?), Some("rsa-ps256")),
        // The secret is key material of its own, not in the (public) JWKS.
        ("HS256", Algorithm::HS256, Ok(EncodingKey::from_secret(&native.hs256_secret)), None),
    ];
    let mut rows = Vec::new();
    for (name, alg, key, kid) in cases {
        let key = key.map_err(|e| fail(format!("{name} test key: {e}")))?;
        let mut header = Header::new(alg);
        header.kid = kid.map(str::to_owned);
        let mint = |count: usize, prefix: &str| {
            (0..count)
                .map(|i| {
                    let claims =
                        json!({ "sub": format!("{prefix}{i}"), "iss": ISSUER, "aud": AUDIENCE, "iat": now - 10, "exp": now + 3600, "scope": "read write" });
                    jsonwebtoken::encode(&header, &claims, &key).map_err(|e| fail(format!("{name}: minting a token: {e}")))
                })
                .collect::<Result<Vec<String>, BenchError>>()
        };
        let tokens = mint(TOKENS_PER_ALG, "user")?;
        // One never-seen token per timed call: the host's memo of verified
        // signatures (Ed25519) cannot help these.
        let first_seen = mint(samples.max(1) + warmup(samples), "new-user")?;
        check_answers(name, &tokens, &plugin, &host_plugin, &native, now_ms)?;
        let row = time_sides(name, alg, kid, (&tokens, &first_seen), (&plugin, &host_plugin, &native), samples, now_ms)?;
        println!("{row}");
        rows.push(row);
    }
    print_tables(&rows, sizes);
    Ok(())
}

/// The prebuilt component if one was named, else `plugin_dir` built with `features`.
fn component(prebuilt: Option<&Path>, plugin_dir: &Path, features: &[&str]) -> Result<Vec<u8>, BenchError> {
    if let Some(path) = prebuilt {
        return read_file(path, "JWT component");
    }
    build_plugin(plugin_dir, features)
}

/// Signed, verified through the trust gate and loaded, as an operator would.
fn load(runtime: &Runtime, component: Vec<u8>, host_crypto: bool, keys: &KeyMaterial) -> Result<Plugin, BenchError> {
    let capabilities: &[&str] = if host_crypto { &["readsCredentials", "keyLookup", "hostCrypto"] } else { &["readsCredentials", "keyLookup"] };
    let options = keys.clone().options(jwt_fixtures::settings(), Limits::default());
    let plugin = load_signed(runtime, component, "jwt", capabilities, options)?;
    if plugin.imports_host_crypto() != host_crypto {
        return Err(fail("the jwt component's host-crypto import is not what its build asked for"));
    }
    Ok(plugin)
}

fn ward_id(plugin: &Plugin, token: &str, now_ms: u64) -> Option<String> {
    match plugin.authenticate(Credential { scheme: "bearer", token }, now_ms) {
        Decision::Allow(identity) => Some(identity.id),
        Decision::Deny(_) => None,
    }
}

/// A benchmark that measures wrong answers is worthless: every side must
/// allow every token with the same identity and deny a forgery.
fn check_answers(name: &str, tokens: &[String], plugin: &Plugin, host_plugin: &Plugin, native: &Native, now_ms: u64) -> Result<(), BenchError> {
    for token in tokens {
        let expected = native.authenticate(token).map(|identity| identity.id);
        let answers =
            [ward_id(plugin, token, now_ms), ward_id(host_plugin, token, now_ms), native.authenticate_parsing_jwks(token).map(|identity| identity.id)];
        if expected.is_none() || answers.iter().any(|answer| *answer != expected) {
            return Err(fail(format!("{name}: the sides disagree on a valid token")));
        }
    }
    // The signature's first character changed: six signature bits differ.
    let first = tokens.first().ok_or_else(|| fail("no tokens"))?;
    let (input, signature) = first.rsplit_once('.').ok_or_else(|| fail("a token without a signature"))?;
    let flipped = if signature.starts_with('A') { 'B' } else { 'A' };
    let forged = format!("{input}.{flipped}{}", signature.get(1..).unwrap_or_default());
    if ward_id(plugin, &forged, now_ms).is_some() || ward_id(host_plugin, &forged, now_ms).is_some() || native.authenticate(&forged).is_some() {
        return Err(fail(format!("{name}: a forged token was allowed")));
    }
    Ok(())
}

/// A JWKS key as the host's `ward:auth/crypto` takes it.
enum HostKey {
    Ed25519(Vec<u8>),
    P256(Vec<u8>),
    Rsa { n: Vec<u8>, e: Vec<u8>, padding: crypto::RsaPadding },
    Hmac(Vec<u8>),
}

impl HostKey {
    fn new(native: &Native, alg: Algorithm, kid: Option<&str>) -> Option<Self> {
        match kid {
            Some(kid) => Self::from_jwks(&native.jwks, kid, alg),
            None => Some(Self::Hmac(native.hs256_secret.clone())),
        }
    }

    fn from_jwks(jwks: &[u8], kid: &str, alg: Algorithm) -> Option<Self> {
        let set: Value = serde_json::from_slice(jwks).ok()?;
        let jwk = set.get("keys")?.as_array()?.iter().find(|k| k.get("kid").and_then(Value::as_str) == Some(kid))?;
        let member = |name: &str| B64.decode(jwk.get(name)?.as_str()?).ok();
        match jwk.get("kty")?.as_str()? {
            "OKP" => Some(Self::Ed25519(member("x")?)),
            "EC" => Some(Self::P256([vec![4], member("x")?, member("y")?].concat())),
            _ => {
                let padding = if alg == Algorithm::PS256 { crypto::RsaPadding::Pss } else { crypto::RsaPadding::Pkcs1v15 };
                Some(Self::Rsa { n: member("n")?, e: member("e")?, padding })
            }
        }
    }

    fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match self {
            Self::Ed25519(key) => crypto::verify_ed25519(key, message, signature),
            Self::P256(key) => crypto::verify_ecdsa_p256_sha256(key, message, signature),
            Self::Rsa { n, e, padding } => crypto::verify_rsa_sha256(*padding, n, e, message, signature),
            Self::Hmac(secret) => crypto::verify_hmac_sha256(secret, message, signature),
        }
    }
}

/// The native side: jsonwebtoken, then the host's sanitizer and identity HMAC.
struct Native {
    /// `kid` → the key and the one algorithm it serves.
    keys: HashMap<String, (DecodingKey, Algorithm)>,
    /// The HS256 key, for tokens without `kid`.
    hmac: (DecodingKey, Algorithm),
    jwks: Vec<u8>,
    hs256_secret: Vec<u8>,
    /// One per algorithm: jsonwebtoken wants every algorithm of a
    /// `Validation` to be of the key's family.
    validations: Vec<(Algorithm, Validation)>,
    policy: ClaimsPolicy,
    identity_key: IdentityKey,
}

impl Native {
    fn new(identity_key: IdentityKey, jwks: Vec<u8>, hs256_secret: Vec<u8>) -> Result<Self, BenchError> {
        let set: JwkSet = serde_json::from_slice(&jwks).map_err(|e| fail(format!("jwks.json: {e}")))?;
        let mut keys = HashMap::new();
        for (kid, alg) in [("ed-1", Algorithm::EdDSA), ("ec-1", Algorithm::ES256), ("rsa-rs256", Algorithm::RS256), ("rsa-ps256", Algorithm::PS256)] {
            let jwk = set.find(kid).ok_or_else(|| fail(format!("jwks.json has no key {kid}")))?;
            keys.insert(kid.to_owned(), (DecodingKey::from_jwk(jwk).map_err(|e| fail(format!("{kid}: {e}")))?, alg));
        }
        let validations = [Algorithm::EdDSA, Algorithm::ES256, Algorithm::RS256, Algorithm::PS256, Algorithm::HS256]
            .into_iter()
            .map(|alg| (alg, Self::validation(alg)))
            .collect();
        let hmac = (DecodingKey::from_secret(&hs256_secret), Algorithm::HS256);
        Ok(Self { keys, hmac, jwks, hs256_secret, validations, policy: ClaimsPolicy::default(), identity_key })
    }

    fn validation(alg: Algorithm) -> Validation {
        let mut validation = Validation::new(alg);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE, OTHER_AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
        validation.leeway = jwt_fixtures::LEEWAY_SECONDS;
        validation.validate_nbf = true;
        validation
    }

    fn validation_for(&self, alg: Algorithm) -> Option<&Validation> {
        self.validations.iter().find(|(a, _)| *a == alg).map(|(_, v)| v)
    }

    /// The key a token names by `kid`; without one, the HS256 secret.
    fn key_for(&self, kid: Option<&str>) -> Option<&(DecodingKey, Algorithm)> {
        match kid {
            Some(kid) => self.keys.get(kid),
            None => Some(&self.hmac),
        }
    }

    /// Keys built once; `kid` looked up per call; the key's own algorithm.
    fn authenticate(&self, token: &str) -> Option<Identity> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        let (key, alg) = self.key_for(header.kid.as_deref())?;
        let data = jsonwebtoken::decode::<Value>(token, key, self.validation_for(*alg)?).ok()?;
        self.identity(&data.claims)
    }

    /// The JWKS parsed and the key built on every call, as the plugin must.
    fn authenticate_parsing_jwks(&self, token: &str) -> Option<Identity> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        let set: JwkSet = serde_json::from_slice(&self.jwks).ok()?;
        let key = match header.kid.as_deref() {
            Some(kid) => DecodingKey::from_jwk(set.find(kid)?).ok()?,
            None => DecodingKey::from_secret(&self.hs256_secret),
        };
        let data = jsonwebtoken::decode::<Value>(token, &key, self.validation_for(header.alg)?).ok()?;
        self.identity(&data.claims)
    }

    fn identity(&self, claims: &Value) -> Option<Identity> {
        let text = |name: &str| claims.get(name).and_then(Value::as_str);
        let mut sanitizer = self.policy.sanitizer();
        sanitizer.subject(text("sub").filter(|s| !s.is_empty())?).ok()?;
        sanitizer.issuer(text("iss")?).ok()?;
        for scope in text("scope").unwrap_or("").split(' ').filter(|s| !s.is_empty()) {
            sanitizer.scope(scope).ok()?;
        }
        Some(Identity::derive(&self.identity_key, "jwt", sanitizer.finish(PrincipalType::User).ok()?))
    }

    fn verify_alone(&self, kid: Option<&str>, alg: Algorithm, token: &str) -> bool {
        let Some((key, _)) = self.key_for(kid) else { return false };
        let Some((input, signature)) = token.rsplit_once('.') else { return false };
        jsonwebtoken::crypto::verify(signature, input.as_bytes(), key, alg).unwrap_or(false)
    }
}

const SIDES: [&str; 8] = [
    "ward in-guest crypto",
    "ward host crypto",
    "native",
    "native JWKS per call",
    "ward host crypto, reused instance",
    "host verify alone",
    "native verify alone",
    "ward host crypto, first-seen token",
];

/// Untimed rounds before the timed ones.
fn warmup(samples: usize) -> usize {
    samples / 10 + 1
}

/// Times every side, one call per side per sample, the order rotating.
fn time_sides(
    name: &str,
    alg: Algorithm,
    kid: Option<&str>,
    (tokens, first_seen): (&[String], &[String]),
    (plugin, host_plugin, native): (&Plugin, &Plugin, &Native),
    samples: usize,
    now_ms: u64,
) -> Result<Value, BenchError> {
    let token = |i: usize| tokens.get(i % tokens.len().max(1)).map(String::as_str).unwrap_or_default();
    let split: Vec<(&str, Vec<u8>)> =
        tokens.iter().filter_map(|t| t.rsplit_once('.')).map(|(input, signature)| (input, B64.decode(signature).unwrap_or_default())).collect();
    let host_key = HostKey::new(native, alg, kid).ok_or_else(|| fail(format!("{name}: the JWKS key is unreadable")))?;
    let mut reused = ReusedInstance::new(host_plugin).map_err(|r| fail(format!("reused baseline: {}", r.code())))?;
    let mut sides: Vec<Box<dyn FnMut(usize) -> bool + '_>> = vec![
        Box::new(|i| ward_id(plugin, token(i), now_ms).is_some()),
        Box::new(|i| ward_id(host_plugin, token(i), now_ms).is_some()),
        Box::new(|i| native.authenticate(token(i)).is_some()),
        Box::new(|i| native.authenticate_parsing_jwks(token(i)).is_some()),
        Box::new(|i| reused.authenticate(Credential { scheme: "bearer", token: token(i) }, now_ms).is_allow()),
        Box::new(|i| split.get(i % split.len().max(1)).is_some_and(|(input, signature)| host_key.verify(input.as_bytes(), signature))),
        Box::new(|i| native.verify_alone(kid, alg, token(i))),
        Box::new(|i| first_seen.get(i).is_some_and(|token| ward_id(host_plugin, token, now_ms).is_some())),
    ];
    let samples = samples.max(1);
    let mut times: Vec<Vec<f64>> = vec![Vec::with_capacity(samples); sides.len()];
    for i in 0..samples + warmup(samples) {
        for k in 0..sides.len() {
            let index = (i + k) % sides.len();
            let (Some(side), Some(side_times)) = (sides.get_mut(index), times.get_mut(index)) else { continue };
            let started = Instant::now();
            let allowed = side(i);
            let us = started.elapsed().as_secs_f64() * 1e6;
            if !allowed {
                return Err(fail(format!("{name}: {} denied a valid bench token while timing", SIDES.get(index).unwrap_or(&"a side"))));
            }
            if i >= warmup(samples) {
                side_times.push(us);
            }
        }
    }
    drop(sides);
    for side_times in &mut times {
        side_times.sort_by(f64::total_cmp);
    }
    let p50 = |index: usize| times.get(index).map_or(f64::NAN, |t| quantile(t, 0.5));
    let p99 = |index: usize| times.get(index).map_or(f64::NAN, |t| quantile(t, 0.99));
    Ok(json!({
        "bench": "jwt",
        "alg": name,
        "samples": samples,
        "wardP50Us": p50(0),
        "wardP99Us": p99(0),
        "wardHostCryptoP50Us": p50(1),
        "wardHostCryptoP99Us": p99(1),
        "nativeP50Us": p50(2),
        "nativeP99Us": p99(2),
        "nativeJwksPerCallP50Us": p50(3),
        "nativeJwksPerCallP99Us": p99(3),
        "wardHostCryptoReusedInstanceP50Us": p50(4),
        "hostVerifyAloneP50Us": p50(5),
        "nativeVerifyAloneP50Us": p50(6),
        "wardHostCryptoFirstSeenP50Us": p50(7),
        "hostCryptoOverNativeP50": p50(1) / p50(2),
        "hostCryptoFirstSeenOverNativeP50": p50(7) / p50(2),
        "inGuestOverNativeP50": p50(0) / p50(2),
    }))
}

fn print_tables(rows: &[Value], (plain_bytes, host_bytes): (usize, usize)) {
    let f = |row: &Value, key: &str| row.get(key).and_then(Value::as_f64).unwrap_or(f64::NAN);
    let alg = |row: &Value| row.get("alg").and_then(Value::as_str).unwrap_or_default().to_owned();
    println!("\ncomponents: in-guest crypto {plain_bytes} bytes, host crypto {host_bytes} bytes; p50 per call in µs (p99 in parentheses)\n");
    println!(
        "| alg | ward, in-guest crypto | ward, host crypto | native, keys cached | native, JWKS per call | in-guest / native | host crypto / native | host crypto / native+JWKS |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for row in rows {
        println!(
            "| {} | {:.0} ({:.0}) | {:.0} ({:.0}) | {:.0} ({:.0}) | {:.0} ({:.0}) | {:.2} | {:.2} | {:.2} |",
            alg(row),
            f(row, "wardP50Us"),
            f(row, "wardP99Us"),
            f(row, "wardHostCryptoP50Us"),
            f(row, "wardHostCryptoP99Us"),
            f(row, "nativeP50Us"),
            f(row, "nativeP99Us"),
            f(row, "nativeJwksPerCallP50Us"),
            f(row, "nativeJwksPerCallP99Us"),
            f(row, "wardP50Us") / f(row, "nativeP50Us"),
            f(row, "wardHostCryptoP50Us") / f(row, "nativeP50Us"),
            f(row, "wardHostCryptoP50Us") / f(row, "nativeJwksPerCallP50Us"),
        );
    }
    println!("\nwhere the time goes, p50 in µs\n");
    println!("| alg | ward, host crypto | first-seen token | reused instance | host verify alone | native, keys cached | native verify alone |");
    println!("|---|---|---|---|---|---|---|");
    for row in rows {
        println!(
            "| {} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} |",
            alg(row),
            f(row, "wardHostCryptoP50Us"),
            f(row, "wardHostCryptoFirstSeenP50Us"),
            f(row, "wardHostCryptoReusedInstanceP50Us"),
            f(row, "hostVerifyAloneP50Us"),
            f(row, "nativeP50Us"),
            f(row, "nativeVerifyAloneP50Us"),
        );
    }
}
