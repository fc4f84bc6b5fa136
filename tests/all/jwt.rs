//! The JWT plugin (`plugins/jwt`) against tokens made by an independent,
//! widely used library (`jsonwebtoken` with its RustCrypto backend), never by
//! ward's code, and against the known JWT attacks. Keys and the JWKS are
//! fixtures made once with openssl (`tests/vectors/jwt/README.md`). Every
//! refusal is asserted by its exact deny code.
//!
//! Every test runs twice (`both`): against `jwt` (RustCrypto in the guest)
//! and against `jwt-host-crypto` (the same source built with its
//! `host-crypto` feature, signatures verified by the host through
//! `ward:auth/crypto`, signed with `hostCrypto: true`). The two must agree
//! on every outcome.

use std::cell::Cell;
use std::sync::OnceLock;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD as B64};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use ward::identity::{ClaimsPolicy, Identity, PrincipalType};
use ward::sandbox::{Decision, Limits, Plugin};
use ward_bench::jwt_fixtures::{self, AUDIENCE, HS256_KID, ISSUER, KeyMaterial, OTHER_AUDIENCE, PRINCIPAL_TYPE_CLAIM};

use crate::support::{NOW_MS, cred, identity_key, load_with_capabilities, runtime};

/// The request time in NumericDate seconds (NOW_MS is a whole second).
const NOW: i64 = (NOW_MS / 1000) as i64;
const LEEWAY: i64 = jwt_fixtures::LEEWAY_SECONDS as i64;

fn vector(name: &str) -> Vec<u8> {
    let path = format!("{}/vectors/jwt/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|err| panic!("{path}: {err}"))
}

/// The JWKS (indexed, as `format: "jwks"`) and the HS256 secret (raw)
/// under the names the settings give them.
fn key_material() -> KeyMaterial {
    jwt_fixtures::key_material(&vector("jwks.json"), vector("hs256.secret")).unwrap()
}

thread_local! {
    /// Which component this test thread is running against (see `both`).
    static HOST_CRYPTO: Cell<bool> = const { Cell::new(false) };
}

/// Runs `body` against the in-guest-crypto component, then against the
/// host-crypto one; a failure says which.
fn both(body: impl Fn()) {
    struct Which(&'static str);
    impl Drop for Which {
        fn drop(&mut self) {
            if std::thread::panicking() {
                eprintln!("(this failure is with the {} component)", self.0);
            }
        }
    }
    for (host, name) in [(false, "jwt (in-guest crypto)"), (true, "jwt-host-crypto")] {
        HOST_CRYPTO.set(host);
        let which = Which(name);
        body();
        drop(which);
    }
}

/// Loads the built plugin through the real trust gate (signed, verified):
/// the component `both` selected, with `hostCrypto` for the host-crypto one.
fn load_plugin(settings: Vec<(String, String)>, keys: KeyMaterial) -> Plugin {
    load_plugin_limited(settings, keys, Limits::default())
}

/// Signed with `keyLookup` (the JWKS is looked up, never parsed in the
/// guest), and `hostCrypto` for the host-crypto build.
fn load_plugin_limited(settings: Vec<(String, String)>, keys: KeyMaterial, limits: Limits) -> Plugin {
    let host = HOST_CRYPTO.get();
    let path = if host { ward_tests::JWT_HOST_CRYPTO } else { ward_tests::JWT };
    let bytes = std::fs::read(path).unwrap_or_else(|err| panic!("the jwt guest {path} was not built: {err}"));
    let capabilities: &[&str] = if host { &["readsCredentials", "keyLookup", "hostCrypto"] } else { &["readsCredentials", "keyLookup"] };
    let plugin = load_with_capabilities(&runtime(), bytes, capabilities, keys.options(settings, limits)).unwrap();
    assert_eq!(plugin.imports_host_crypto(), host);
    assert!(plugin.imports_key_lookup());
    plugin
}

/// The configuration most tests use (`jwt_fixtures::settings`: every
/// algorithm, the JWKS and the HS256 secret under operator-chosen key-material
/// names) with each `(name, value)` replacing that setting, or removing it
/// when `value` is `None`.
fn settings_with(changes: &[(&str, Option<&str>)]) -> Vec<(String, String)> {
    let mut settings = jwt_fixtures::settings();
    for (name, value) in changes {
        settings.retain(|(k, _)| k != name);
        if let Some(value) = value {
            settings.push(((*name).to_owned(), (*value).to_owned()));
        }
    }
    settings
}

fn load_changed(changes: &[(&str, Option<&str>)], keys: KeyMaterial) -> Plugin {
    load_plugin(settings_with(changes), keys)
}

/// One compiled plugin with the fixture settings per component, shared by the tests that need no other.
fn plugin() -> &'static Plugin {
    static PLUGIN: [OnceLock<Plugin>; 2] = [OnceLock::new(), OnceLock::new()];
    PLUGIN[usize::from(HOST_CRYPTO.get())].get_or_init(|| load_changed(&[], key_material()))
}

/// The same without HS256 and without a secret: the usual asymmetric setup.
fn asymmetric_plugin() -> &'static Plugin {
    static PLUGIN: [OnceLock<Plugin>; 2] = [OnceLock::new(), OnceLock::new()];
    PLUGIN[usize::from(HOST_CRYPTO.get())]
        .get_or_init(|| load_changed(&[("algorithms", Some("EdDSA ES256 RS256 PS256")), ("hs256Key", None), ("hs256Kid", None)], key_material()))
}

/// `allow` or the deny code, for one call at `now_ms`.
fn outcome_at(plugin: &Plugin, token: &str, now_ms: u64) -> String {
    match plugin.authenticate(cred(token), now_ms) {
        Decision::Allow(_) => "allow".to_owned(),
        Decision::Deny(reason) => reason.code().to_owned(),
    }
}

fn outcome(token: &str) -> String {
    outcome_at(plugin(), token, NOW_MS)
}

fn allow(plugin: &Plugin, token: &str) -> Identity {
    match plugin.authenticate(cred(token), NOW_MS) {
        Decision::Allow(identity) => identity,
        Decision::Deny(reason) => panic!("expected an allow, got {}", reason.code()),
    }
}

/// The id the host must derive for `subject` at `ISSUER` from the test plugin.
fn expected_id(subject: &str) -> String {
    let policy = ClaimsPolicy::default();
    let mut sanitizer = policy.sanitizer();
    sanitizer.subject(subject).unwrap();
    sanitizer.issuer(ISSUER).unwrap();
    Identity::derive(&identity_key(), "test-plugin", sanitizer.finish(PrincipalType::User).unwrap()).id
}

// Signing keys, straight from the PEM fixtures into jsonwebtoken.

fn ed25519() -> EncodingKey {
    EncodingKey::from_ed_pem(&vector("ed25519.pem")).unwrap()
}
fn p256_a() -> EncodingKey {
    EncodingKey::from_ec_pem(&vector("p256-a.pem")).unwrap()
}
fn p256_b() -> EncodingKey {
    EncodingKey::from_ec_pem(&vector("p256-b.pem")).unwrap()
}
fn rsa_2048() -> EncodingKey {
    EncodingKey::from_rsa_pem(&vector("rsa-2048.pem")).unwrap()
}
fn rsa_3072() -> EncodingKey {
    EncodingKey::from_rsa_pem(&vector("rsa-3072.pem")).unwrap()
}
fn rsa_1024() -> EncodingKey {
    EncodingKey::from_rsa_pem(&vector("rsa-1024.pem")).unwrap()
}
fn hs256() -> EncodingKey {
    EncodingKey::from_secret(&vector("hs256.secret"))
}
fn attacker_ed25519() -> EncodingKey {
    EncodingKey::from_ed_pem(&vector("attacker-ed25519.pem")).unwrap()
}
fn attacker_p256() -> EncodingKey {
    EncodingKey::from_ec_pem(&vector("attacker-p256.pem")).unwrap()
}

/// Claims that pass every check.
fn claims(subject: &str) -> Value {
    json!({ "sub": subject, "iss": ISSUER, "aud": AUDIENCE, "iat": NOW - 60, "exp": NOW + 600 })
}

/// `claims("alice")` with `name` set to `value`, or removed when `value` is null.
fn claims_with(name: &str, value: Value) -> Value {
    let mut claims = claims("alice");
    let object = claims.as_object_mut().unwrap();
    if value.is_null() {
        object.remove(name);
    } else {
        object.insert(name.to_owned(), value);
    }
    claims
}

/// A token made by `jsonwebtoken::encode`.
fn token(alg: Algorithm, key: &EncodingKey, kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

/// An EdDSA token under `ed-1` with `claims`: the plain valid shape.
fn ed_token(claims: &Value) -> String {
    token(Algorithm::EdDSA, &ed25519(), Some("ed-1"), claims)
}

/// A token with a hand-written header and payload (exactly these bytes),
/// signed by `jsonwebtoken::crypto::sign` over the usual signing input.
fn raw_token(header: &str, payload: &str, alg: Algorithm, key: &EncodingKey) -> String {
    signed_segments(&B64.encode(header), &B64.encode(payload.as_bytes()), alg, key)
}

/// `<header>.<payload>.<signature>` for segments spelled exactly as given
/// (valid base64url or not), signed by jsonwebtoken.
fn signed_segments(header: &str, payload: &str, alg: Algorithm, key: &EncodingKey) -> String {
    let input = format!("{header}.{payload}");
    let signature = jsonwebtoken::crypto::sign(input.as_bytes(), key, alg).unwrap();
    format!("{input}.{signature}")
}

fn ed_segments(header: &str, payload: &str) -> String {
    signed_segments(header, payload, Algorithm::EdDSA, &ed25519())
}

fn ed_raw(header: &str, payload: &str) -> String {
    raw_token(header, payload, Algorithm::EdDSA, &ed25519())
}

fn valid_payload() -> String {
    claims("alice").to_string()
}

/// The three segments of a compact token.
fn segments(token: &str) -> [String; 3] {
    let parts: Vec<&str> = token.split('.').collect();
    [parts[0].to_owned(), parts[1].to_owned(), parts[2].to_owned()]
}

#[test]
pub(crate) fn jwt() {
    both(|| {
        // Valid tokens for every algorithm, with and without `kid` where exactly
        // one key fits; identity, scopes and principal type come out right.
        let mut rich = claims("alice");
        let object = rich.as_object_mut().unwrap();
        object.insert("scope".into(), json!("orders:read orders:write"));
        object.insert("scp".into(), json!(["admin:read", "orders:read"]));
        object.insert(PRINCIPAL_TYPE_CLAIM.into(), json!("service"));
        let cases: &[(Algorithm, EncodingKey, Option<&str>)] = &[
            (Algorithm::EdDSA, ed25519(), Some("ed-1")),
            (Algorithm::EdDSA, ed25519(), None),
            (Algorithm::ES256, p256_a(), Some("ec-1")),
            (Algorithm::ES256, p256_b(), Some("ec-2")),
            (Algorithm::RS256, rsa_2048(), Some("rsa-rs256")),
            // Only one RSA key fits RS256: rsa-ps256 is PS256-only, rsa-1024 too
            // weak, rsa-enc an encryption key.
            (Algorithm::RS256, rsa_2048(), None),
            (Algorithm::PS256, rsa_3072(), Some("rsa-ps256")),
            (Algorithm::PS256, rsa_3072(), None),
            (Algorithm::HS256, hs256(), Some(HS256_KID)),
            (Algorithm::HS256, hs256(), None),
        ];
        for (alg, key, kid) in cases {
            let identity = allow(plugin(), &token(*alg, key, *kid, &rich));
            assert_eq!(identity.id, expected_id("alice"), "{alg:?} {kid:?}");
            assert_eq!(identity.scopes, ["orders:read", "orders:write", "admin:read"], "{alg:?} {kid:?}");
            assert_eq!(identity.principal_type, PrincipalType::Service, "{alg:?} {kid:?}");
            assert!(identity.labels.is_empty());
        }
        // The principal type claim: absent is the default (user), else its value.
        assert_eq!(allow(plugin(), &ed_token(&claims("bob"))).principal_type, PrincipalType::User);
        assert_eq!(allow(plugin(), &ed_token(&claims_with(PRINCIPAL_TYPE_CLAIM, json!("agent")))).principal_type, PrincipalType::Agent);
        assert_eq!(allow(plugin(), &ed_token(&claims("bob"))).id, expected_id("bob"));
        // `scp` as a space-separated string (as some IdPs send it), no `scope`.
        assert_eq!(allow(plugin(), &ed_token(&claims_with("scp", json!("a:b c:d")))).scopes, ["a:b", "c:d"]);
        // The asymmetric setup accepts the same asymmetric tokens.
        assert_eq!(allow(asymmetric_plugin(), &token(Algorithm::ES256, &p256_a(), Some("ec-1"), &rich)).id, expected_id("alice"));
    });
}

#[test]
fn alg_none_is_refused_with_and_without_trailing_dot() {
    both(|| {
        let payload = B64.encode(valid_payload());
        for alg in ["none", "None", "NONE", "nOnE"] {
            let header = B64.encode(format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#));
            assert_eq!(outcome(&format!("{header}.{payload}.")), "plugin:bad-signature", "{alg} with dot");
            assert_eq!(outcome(&format!("{header}.{payload}")), "plugin:malformed", "{alg} without dot");
            // A signature segment does not make `none` acceptable either.
            assert_eq!(outcome(&format!("{header}.{payload}.{}", B64.encode([0u8; 64]))), "plugin:bad-signature", "{alg} with signature");
        }
        // `none` with the kid of a real key changes nothing.
        let header = B64.encode(r#"{"alg":"none","kid":"ed-1"}"#);
        assert_eq!(outcome(&format!("{header}.{payload}.")), "plugin:bad-signature");
    });
}

#[test]
fn algorithms_outside_the_accepted_list_are_refused() {
    both(|| {
        let payload = valid_payload();
        // Well-known names this plugin does not implement, and the wrong case.
        for alg in ["RS512", "ES384", "HS512", "rs256", "eddsa", ""] {
            let token = ed_raw(&format!(r#"{{"alg":"{alg}","kid":"ed-1"}}"#), &payload);
            assert_eq!(outcome(&token), "plugin:bad-signature", "{alg:?}");
        }
        // HS256 is refused when the operator did not configure a secret.
        let hs = token(Algorithm::HS256, &hs256(), None, &claims("alice"));
        assert_eq!(outcome_at(asymmetric_plugin(), &hs, NOW_MS), "plugin:bad-signature");
        // `alg` missing or not a string is unreadable, not merely unaccepted.
        assert_eq!(outcome(&ed_raw(r#"{"kid":"ed-1"}"#, &payload)), "plugin:malformed");
        assert_eq!(outcome(&ed_raw(r#"{"alg":null,"kid":"ed-1"}"#, &payload)), "plugin:malformed");
        assert_eq!(outcome(&ed_raw(r#"{"alg":["EdDSA"],"kid":"ed-1"}"#, &payload)), "plugin:malformed");
        assert_eq!(outcome(&ed_raw(r#"{"alg":"EdDSA","kid":7}"#, &payload)), "plugin:malformed");
    });
}

#[test]
fn rs256_to_hs256_key_confusion_is_refused() {
    both(|| {
        // The classic attack: HS256, MACed with the RSA public key the verifier
        // trusts, in the PEM form and as the raw modulus.
        let pem = vector("rsa-2048.pub.pem");
        let jwks: Value = serde_json::from_slice(&vector("jwks.json")).unwrap();
        let rsa_jwk = jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == "rsa-rs256").unwrap();
        let modulus = B64.decode(rsa_jwk["n"].as_str().unwrap()).unwrap();
        let payload = valid_payload();
        for secret in [pem.as_slice(), modulus.as_slice()] {
            let key = EncodingKey::from_secret(secret);
            let named = raw_token(r#"{"alg":"HS256","kid":"rsa-rs256"}"#, &payload, Algorithm::HS256, &key);
            let unnamed = raw_token(r#"{"alg":"HS256"}"#, &payload, Algorithm::HS256, &key);
            // With HS256 configured: the RSA kid is no HS256 key, and the
            // secret is not the RSA key.
            assert_eq!(outcome(&named), "plugin:unknown-key");
            assert_eq!(outcome(&unnamed), "plugin:bad-signature");
            // Without HS256: refused for its algorithm.
            assert_eq!(outcome_at(asymmetric_plugin(), &named, NOW_MS), "plugin:bad-signature");
            assert_eq!(outcome_at(asymmetric_plugin(), &unnamed, NOW_MS), "plugin:bad-signature");
        }
        // The JWKS's symmetric `oct` entry holds the real secret, yet is never
        // used: naming it is naming an unknown key.
        assert_eq!(outcome(&token(Algorithm::HS256, &hs256(), Some("oct-1"), &claims("alice"))), "plugin:unknown-key");
    });
}

#[test]
fn signature_by_another_key_under_a_known_kid_is_refused() {
    both(|| {
        let c = claims("alice");
        assert_eq!(outcome(&token(Algorithm::EdDSA, &attacker_ed25519(), Some("ed-1"), &c)), "plugin:bad-signature");
        assert_eq!(outcome(&token(Algorithm::EdDSA, &attacker_ed25519(), None, &c)), "plugin:bad-signature");
        assert_eq!(outcome(&token(Algorithm::ES256, &attacker_p256(), Some("ec-1"), &c)), "plugin:bad-signature");
        // Another trusted key is still another key.
        assert_eq!(outcome(&token(Algorithm::ES256, &p256_b(), Some("ec-1"), &c)), "plugin:bad-signature");
        assert_eq!(outcome(&token(Algorithm::RS256, &rsa_3072(), Some("rsa-rs256"), &c)), "plugin:bad-signature");
        assert_eq!(outcome(&token(Algorithm::HS256, &EncodingKey::from_secret(&[7; 32]), Some(HS256_KID), &c)), "plugin:bad-signature");
        // A valid token with its claims changed after signing.
        let [header, _, signature] = segments(&ed_token(&c));
        let forged = B64.encode(claims("admin").to_string());
        assert_eq!(outcome(&format!("{header}.{forged}.{signature}")), "plugin:bad-signature");
    });
}

#[test]
fn unknown_kid_is_refused() {
    both(|| {
        let c = claims("alice");
        assert_eq!(outcome(&token(Algorithm::EdDSA, &ed25519(), Some("ed-2"), &c)), "plugin:unknown-key");
        assert_eq!(outcome(&token(Algorithm::EdDSA, &ed25519(), Some(""), &c)), "plugin:unknown-key");
        assert_eq!(outcome(&token(Algorithm::HS256, &hs256(), Some("hs-2"), &c)), "plugin:unknown-key");
    });
}

#[test]
fn a_key_is_used_only_for_its_own_algorithm() {
    both(|| {
        let c = claims("alice");
        // RSA keys with a JWK `alg` serve that algorithm only.
        assert_eq!(outcome(&token(Algorithm::PS256, &rsa_2048(), Some("rsa-rs256"), &c)), "plugin:unknown-key");
        assert_eq!(outcome(&token(Algorithm::RS256, &rsa_3072(), Some("rsa-ps256"), &c)), "plugin:unknown-key");
        // `use: enc` is no signing key, though the material is rsa-rs256's.
        assert_eq!(outcome(&token(Algorithm::RS256, &rsa_2048(), Some("rsa-enc"), &c)), "plugin:unknown-key");
        // kty/crv must belong to alg.
        assert_eq!(outcome(&token(Algorithm::EdDSA, &ed25519(), Some("ec-1"), &c)), "plugin:unknown-key");
        assert_eq!(outcome(&token(Algorithm::ES256, &p256_a(), Some("ed-1"), &c)), "plugin:unknown-key");
        assert_eq!(outcome(&token(Algorithm::RS256, &rsa_2048(), Some("ed-1"), &c)), "plugin:unknown-key");
        // Without kid, two P-256 keys fit ES256: no guessing.
        assert_eq!(outcome(&token(Algorithm::ES256, &p256_a(), None, &c)), "plugin:unknown-key");
    });
}

#[test]
fn rsa_keys_under_2048_bits_are_never_used() {
    both(|| {
        let c = claims("alice");
        assert_eq!(outcome(&token(Algorithm::RS256, &rsa_1024(), Some("rsa-1024"), &c)), "plugin:unknown-key");
        // Without kid the only RS256 key that fits is rsa-rs256, which did not sign it.
        assert_eq!(outcome(&token(Algorithm::RS256, &rsa_1024(), None, &c)), "plugin:bad-signature");
    });
}

#[test]
fn rsa_4096_needs_more_than_the_default_fuel_with_in_guest_crypto_only() {
    // In-guest RSA-4096 costs about 60 million fuel units, above the default
    // 50 million (docs/plugins/jwt.md, "Cost"); through host crypto it is
    // cheap. A generous deadline keeps the outcome a matter of fuel, not of
    // how busy the machine is.
    let keys = || jwt_fixtures::key_material(&vector("jwks-4096.json"), vector("hs256.secret")).unwrap();
    let key = EncodingKey::from_rsa_pem(&vector("rsa-4096.pem")).unwrap();
    let token = token(Algorithm::RS256, &key, Some("rsa-4096"), &claims("alice"));
    let [header, payload, signature] = segments(&token);
    let mut forged = B64.decode(&signature).unwrap();
    forged[100] ^= 1;
    let forged = format!("{header}.{payload}.{}", B64.encode(forged));
    let default_fuel = Limits { timeout: Duration::from_secs(10), ..Limits::default() };
    let raised_fuel = Limits { fuel: 100_000_000, ..default_fuel };
    let expected_at_default = [(false, "fuel-exhausted"), (true, "allow")];
    for (host, at_default) in expected_at_default {
        HOST_CRYPTO.set(host);
        let plugin = load_plugin_limited(settings_with(&[]), keys(), default_fuel);
        assert_eq!(outcome_at(&plugin, &token, NOW_MS), at_default, "host crypto: {host}");
        let raised = load_plugin_limited(settings_with(&[]), keys(), raised_fuel);
        assert_eq!(outcome_at(&raised, &token, NOW_MS), "allow", "host crypto: {host}");
        assert_eq!(outcome_at(&raised, &forged, NOW_MS), "plugin:bad-signature", "host crypto: {host}");
    }
}

#[test]
fn embedded_jwk_and_key_urls_are_ignored() {
    both(|| {
        let attacker: Value = serde_json::from_slice(&vector("attacker-jwks.json")).unwrap();
        let jwk = attacker["keys"][0].to_string();
        let payload = valid_payload();
        let attacker_key = attacker_ed25519();
        // Signed by the attacker's key, which the header carries: never trusted.
        let embedded = raw_token(&format!(r#"{{"alg":"EdDSA","jwk":{jwk}}}"#), &payload, Algorithm::EdDSA, &attacker_key);
        assert_eq!(outcome(&embedded), "plugin:bad-signature");
        let named = raw_token(&format!(r#"{{"alg":"EdDSA","kid":"attacker","jwk":{jwk}}}"#), &payload, Algorithm::EdDSA, &attacker_key);
        assert_eq!(outcome(&named), "plugin:unknown-key");
        let urls = r#""jku":"https://attacker.example/jwks.json","x5u":"https://attacker.example/cert.pem","x5c":["MIIB"]"#;
        let fetched = raw_token(&format!(r#"{{"alg":"EdDSA","kid":"attacker",{urls}}}"#), &payload, Algorithm::EdDSA, &attacker_key);
        assert_eq!(outcome(&fetched), "plugin:unknown-key");
        // Ignored means ignored: a genuine token carrying them still verifies.
        let genuine = ed_raw(&format!(r#"{{"alg":"EdDSA","kid":"ed-1","jwk":{jwk},{urls}}}"#), &payload);
        assert_eq!(outcome(&genuine), "allow");
    });
}

#[test]
fn exp_nbf_and_iat_with_leeway_edges() {
    both(|| {
        let leeway_ms = LEEWAY as u64 * 1000;
        let exp = NOW + 100;
        let expiring = ed_token(&claims_with("exp", json!(exp)));
        // Valid strictly before exp + leeway (RFC 7519 §4.1.4).
        let edge = exp as u64 * 1000 + leeway_ms;
        assert_eq!(outcome_at(plugin(), &expiring, edge - 1000), "allow");
        assert_eq!(outcome_at(plugin(), &expiring, edge - 1), "allow");
        assert_eq!(outcome_at(plugin(), &expiring, edge), "plugin:expired");
        assert_eq!(outcome_at(plugin(), &expiring, edge + 1000), "plugin:expired");
        // At NOW: expired long ago, and just now with the leeway spent.
        assert_eq!(outcome(&ed_token(&claims_with("exp", json!(NOW - 3600)))), "plugin:expired");
        assert_eq!(outcome(&ed_token(&claims_with("exp", json!(NOW - LEEWAY)))), "plugin:expired");
        assert_eq!(outcome(&ed_token(&claims_with("exp", json!(NOW - LEEWAY + 1)))), "allow");

        let nbf = NOW + 100;
        let early = ed_token(&claims_with("nbf", json!(nbf)));
        // Valid from nbf - leeway on (§4.1.5).
        let edge = nbf as u64 * 1000 - leeway_ms;
        assert_eq!(outcome_at(plugin(), &early, edge - 1000), "plugin:not-yet-valid");
        assert_eq!(outcome_at(plugin(), &early, edge - 1), "plugin:not-yet-valid");
        assert_eq!(outcome_at(plugin(), &early, edge), "allow");
        assert_eq!(outcome_at(plugin(), &early, edge + 1000), "allow");

        // An iat in the future beyond the leeway is refused the same way.
        assert_eq!(outcome(&ed_token(&claims_with("iat", json!(NOW + LEEWAY)))), "allow");
        assert_eq!(outcome(&ed_token(&claims_with("iat", json!(NOW + LEEWAY + 1)))), "plugin:not-yet-valid");

        // Fractional NumericDates are numbers too (RFC 7519 §2).
        assert_eq!(outcome(&ed_token(&claims_with("exp", json!(NOW as f64 + 600.5)))), "allow");
        let fractional = ed_token(&claims_with("exp", json!(exp as f64 + 0.5)));
        assert_eq!(outcome_at(plugin(), &fractional, edge_ms(exp, 500) - 1), "allow");
        assert_eq!(outcome_at(plugin(), &fractional, edge_ms(exp, 500)), "plugin:expired");
    });
}

/// `exp` seconds plus `extra_ms`, plus the leeway, in milliseconds.
fn edge_ms(exp: i64, extra_ms: u64) -> u64 {
    (exp + LEEWAY) as u64 * 1000 + extra_ms
}

#[test]
fn leeway_is_configurable() {
    both(|| {
        let strict = load_changed(&[("leewaySeconds", Some("0"))], key_material());
        let token = ed_token(&claims_with("exp", json!(NOW)));
        assert_eq!(outcome_at(&strict, &token, NOW_MS - 1), "allow");
        assert_eq!(outcome_at(&strict, &token, NOW_MS), "plugin:expired");
        // The shared plugin (30 s) still accepts it.
        assert_eq!(outcome_at(plugin(), &token, NOW_MS), "allow");
    });
}

#[test]
fn wrong_issuer_and_audience_are_refused() {
    both(|| {
        assert_eq!(outcome(&ed_token(&claims_with("iss", json!("https://evil.example")))), "plugin:wrong-issuer");
        assert_eq!(outcome(&ed_token(&claims_with("iss", json!(format!("{ISSUER}/"))))), "plugin:wrong-issuer");
        assert_eq!(outcome(&ed_token(&claims_with("iss", Value::Null))), "plugin:wrong-issuer");
        assert_eq!(outcome(&ed_token(&claims_with("aud", json!("evil-api")))), "plugin:wrong-audience");
        assert_eq!(outcome(&ed_token(&claims_with("aud", json!(["evil-api", "other"])))), "plugin:wrong-audience");
        assert_eq!(outcome(&ed_token(&claims_with("aud", json!([])))), "plugin:wrong-audience");
        assert_eq!(outcome(&ed_token(&claims_with("aud", Value::Null))), "plugin:wrong-audience");
        // Any configured audience, as a string or inside an array.
        assert_eq!(outcome(&ed_token(&claims_with("aud", json!(OTHER_AUDIENCE)))), "allow");
        assert_eq!(outcome(&ed_token(&claims_with("aud", json!(["evil-api", AUDIENCE])))), "allow");
    });
}

#[test]
fn claims_of_the_wrong_type_are_malformed() {
    both(|| {
        let malformed = [
            ("exp", Value::Null),
            ("exp", json!((NOW + 600).to_string())),
            ("exp", json!(true)),
            ("exp", json!([NOW + 600])),
            ("exp", json!(1e300)),
            ("exp", json!(u64::MAX)),
            ("exp", json!(-10_000_000_000_000_000i64)),
            ("nbf", json!((NOW - 60).to_string())),
            ("iat", json!((NOW - 60).to_string())),
            ("sub", json!("")),
            ("sub", Value::Null),
            ("sub", json!(42)),
            ("sub", json!(["alice"])),
            ("iss", json!(7)),
            ("aud", json!(7)),
            ("aud", json!([AUDIENCE, 7])),
            ("scope", json!(["a"])),
            ("scp", json!([1])),
            ("scp", json!({ "a": 1 })),
            (PRINCIPAL_TYPE_CLAIM, json!("robot")),
            (PRINCIPAL_TYPE_CLAIM, json!(1)),
        ];
        for (name, value) in malformed {
            let token = ed_token(&claims_with(name, value.clone()));
            assert_eq!(outcome(&token), "plugin:malformed", "{name}: {value}");
        }
    });
}

#[test]
fn segments_must_be_three_strict_base64url_strings() {
    both(|| {
        let valid = ed_token(&claims("alice"));
        assert_eq!(outcome(&valid), "allow");
        let [header, payload, signature] = segments(&valid);
        let mut malformed = vec![
            format!("{header}.{payload}"),
            format!("{header}.{payload}.{signature}.{signature}"),
            format!("{header}.{payload}.{signature}."),
            format!(".{header}.{payload}.{signature}"),
            format!("{header}..{signature}"),
            format!(".{payload}.{signature}"),
            String::new(),
            ".".into(),
            "..".into(),
            // Padding on the signature (86 characters, 2 mod 4, take `==`).
            format!("{header}.{payload}.{signature}=="),
            // Characters outside the base64url alphabet.
            format!("{header}.{payload}.+{}", &signature[1..]),
            format!("{header}.{payload}./{}", &signature[1..]),
            format!("{header}.{payload}.%{}", &signature[1..]),
            format!("{header}.{payload}.{} ", &signature[..signature.len() - 1]),
            format!("{header}.{payload}.{signature}\n"),
            format!(" {header}.{payload}.{signature}"),
            // Non-canonical trailing bits: the last character of a 64-byte
            // signature carries 4 unused bits that must be zero.
            format!("{header}.{payload}.{}", flip_unused_bit(&signature)),
        ];
        // The same defects in header and payload, under a valid signature over
        // exactly those characters: the refusal is the encoding's, not the
        // signature's.
        let header_json = r#"{"alg":"EdDSA","kid":"ed-1"}"#; // 28 bytes: 4 unused bits, `==` padding
        assert_eq!(header_json.len() % 3, 1);
        let good_header = B64.encode(header_json);
        let good_payload = B64.encode(valid_payload());
        assert_eq!(outcome(&ed_segments(&good_header, &good_payload)), "allow");
        let mut spaced = valid_payload();
        while spaced.len().is_multiple_of(3) {
            spaced.push(' ');
        }
        let padded_payload = STANDARD.encode(&spaced);
        assert!(padded_payload.ends_with('='), "{padded_payload}");
        malformed.extend([
            ed_segments(&STANDARD.encode(header_json), &good_payload),
            ed_segments(&good_header, &padded_payload),
            ed_segments(&flip_unused_bit(&good_header), &good_payload),
            ed_segments(&format!("+{}", &good_header[1..]), &good_payload),
            ed_segments(&good_header, &format!("{}/{}", &good_payload[..10], &good_payload[11..])),
            ed_segments(&good_header, &format!("{}=", &good_payload)),
            ed_segments(&good_header, &format!("{}.", &good_payload)),
        ]);
        for token in &malformed {
            assert_eq!(outcome(token), "plugin:malformed", "{token:?}");
        }
    });
}

/// The same string with the lowest bit of its last base64url character set:
/// it decodes to the same bytes under a lax decoder.
fn flip_unused_bit(segment: &str) -> String {
    const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let last = segment.chars().last().unwrap();
    let index = ALPHABET.find(last).unwrap();
    assert_eq!(index & 0b1111, 0, "a canonical 64-byte encoding ends in 4 zero bits");
    let flipped = ALPHABET.chars().nth(index | 1).unwrap();
    format!("{}{flipped}", &segment[..segment.len() - 1])
}

#[test]
fn duplicate_member_names_are_refused() {
    both(|| {
        let payload = valid_payload();
        assert_eq!(outcome(&ed_raw(r#"{"alg":"EdDSA","kid":"ed-1"}"#, &payload)), "allow");
        for header in [
            r#"{"alg":"EdDSA","kid":"ed-1","alg":"EdDSA"}"#,
            r#"{"alg":"none","alg":"EdDSA","kid":"ed-1"}"#,
            r#"{"alg":"EdDSA","kid":"nope","kid":"ed-1"}"#,
            r#"{"alg":"EdDSA","kid":"ed-1","\u0061lg":"EdDSA"}"#,
        ] {
            assert_eq!(outcome(&ed_raw(header, &payload)), "plugin:malformed", "{header}");
        }
        let header = r#"{"alg":"EdDSA","kid":"ed-1"}"#;
        let base = format!(r#""iss":"{ISSUER}","aud":"{AUDIENCE}","exp":{}"#, NOW + 600);
        for payload in [
            format!(r#"{{"sub":"alice","sub":"admin",{base}}}"#),
            format!(r#"{{"sub":"alice",{base},"exp":{}}}"#, NOW + 999_999),
            format!(r#"{{"sub":"alice",{base},"aud":"{AUDIENCE}"}}"#),
            format!(r#"{{"sub":"alice",{base},"ext":{{"a":1,"a":2}}}}"#),
            format!(r#"{{"sub":"alice",{base},"ext":[{{"a":1,"a":2}}]}}"#),
        ] {
            assert_eq!(outcome(&ed_raw(header, &payload)), "plugin:malformed", "{payload}");
        }
        // The same without duplicates is fine.
        assert_eq!(outcome(&ed_raw(header, &format!(r#"{{"sub":"alice",{base},"ext":{{"a":1,"b":[1,2]}}}}"#))), "allow");
    });
}

#[test]
fn non_object_headers_and_payloads_are_malformed() {
    both(|| {
        let header = r#"{"alg":"EdDSA","kid":"ed-1"}"#;
        for payload in ["[]", r#"["sub","alice"]"#, r#""alice""#, "1", "null", "true", "", "not json", "{}x", "{} {}", "\u{feff}{}"] {
            assert_eq!(outcome(&ed_raw(header, payload)), "plugin:malformed", "payload {payload:?}");
        }
        // Invalid UTF-8 inside a string, and a lone surrogate escape.
        let bad_utf8 = format!("{}.{}", B64.encode(header), B64.encode(b"{\"sub\":\"\xff\"}"));
        let signature = jsonwebtoken::crypto::sign(bad_utf8.as_bytes(), &ed25519(), Algorithm::EdDSA).unwrap();
        assert_eq!(outcome(&format!("{bad_utf8}.{signature}")), "plugin:malformed");
        assert_eq!(outcome(&ed_raw(header, &valid_payload().replacen("alice", "\\ud800", 1))), "plugin:malformed");
        // Nesting beyond the plugin's bound (16) is refused, also below
        // serde_json's own limit (128) and far beyond it; never a trap.
        for depth in [17, 100, 2000] {
            let deep = format!(r#"{{"sub":"alice","iss":"{ISSUER}","aud":"{AUDIENCE}","exp":{},"x":{}1{}}}"#, NOW + 600, "[".repeat(depth), "]".repeat(depth));
            assert_eq!(outcome(&ed_raw(header, &deep)), "plugin:malformed", "depth {depth}");
        }
        let nested = format!(r#"{{"sub":"alice","iss":"{ISSUER}","aud":"{AUDIENCE}","exp":{},"x":{}1{}}}"#, NOW + 600, "[".repeat(14), "]".repeat(14));
        assert_eq!(outcome(&ed_raw(header, &nested)), "allow");
        for header in ["[]", r#""EdDSA""#, "null", "{"] {
            assert_eq!(outcome(&ed_raw(header, &valid_payload())), "plugin:malformed", "header {header:?}");
        }
    });
}

#[test]
fn crit_and_b64_headers_are_refused() {
    both(|| {
        let payload = valid_payload();
        for header in [
            r#"{"alg":"EdDSA","kid":"ed-1","crit":["exp"],"exp":1}"#,
            r#"{"alg":"EdDSA","kid":"ed-1","crit":["b64"],"b64":false}"#,
            r#"{"alg":"EdDSA","kid":"ed-1","crit":["b64"],"b64":true}"#,
            r#"{"alg":"EdDSA","kid":"ed-1","crit":[]}"#,
            r#"{"alg":"EdDSA","kid":"ed-1","crit":"x"}"#,
            r#"{"alg":"EdDSA","kid":"ed-1","b64":false}"#,
        ] {
            assert_eq!(outcome(&ed_raw(header, &payload)), "plugin:malformed", "{header}");
        }
    });
}

#[test]
fn der_encoded_ecdsa_signatures_are_refused() {
    both(|| {
        let valid = token(Algorithm::ES256, &p256_a(), Some("ec-1"), &claims("alice"));
        assert_eq!(outcome(&valid), "allow");
        let [header, payload, signature] = segments(&valid);
        let raw = B64.decode(&signature).unwrap();
        assert_eq!(raw.len(), 64);
        // The same r and s, DER-encoded as most non-JOSE ECDSA APIs emit them.
        assert_eq!(outcome(&format!("{header}.{payload}.{}", B64.encode(der(&raw)))), "plugin:bad-signature");
        // Truncated, extended, zero r and s.
        assert_eq!(outcome(&format!("{header}.{payload}.{}", B64.encode(&raw[..63]))), "plugin:bad-signature");
        assert_eq!(outcome(&format!("{header}.{payload}.{}", B64.encode([raw.as_slice(), &[0u8][..]].concat()))), "plugin:bad-signature");
        assert_eq!(outcome(&format!("{header}.{payload}.{}", B64.encode([0u8; 64]))), "plugin:bad-signature");
        // Ed25519 and RSA signatures of the wrong length, likewise.
        let [header, payload, _] = segments(&ed_token(&claims("alice")));
        assert_eq!(outcome(&format!("{header}.{payload}.{}", B64.encode([1u8; 63]))), "plugin:bad-signature");
        let [header, payload, signature] = segments(&token(Algorithm::RS256, &rsa_2048(), Some("rsa-rs256"), &claims("alice")));
        let rsa_signature = B64.decode(&signature).unwrap();
        assert_eq!(outcome(&format!("{header}.{payload}.{}", B64.encode([&[0u8][..], &rsa_signature].concat()))), "plugin:bad-signature");
    });
}

/// `SEQUENCE { INTEGER r, INTEGER s }` for a 64-byte JOSE signature.
fn der(jose: &[u8]) -> Vec<u8> {
    fn integer(bytes: &[u8]) -> Vec<u8> {
        let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len() - 1);
        let mut value = bytes[start..].to_vec();
        if value[0] & 0x80 != 0 {
            value.insert(0, 0);
        }
        [vec![0x02, value.len() as u8], value].concat()
    }
    let body = [integer(&jose[..32]), integer(&jose[32..])].concat();
    [vec![0x30, body.len() as u8], body].concat()
}

#[test]
fn oversized_tokens_are_refused() {
    both(|| {
        // Past the host's 8 KiB credential cap, no guest code runs.
        let huge = ed_token(&claims_with("pad", json!("x".repeat(8 * 1024))));
        assert!(huge.len() > 8 * 1024);
        assert_eq!(outcome(&huge), "oversized");
        // The plugin's own cap, `maxTokenBytes`, at its exact edge.
        let fits = ed_token(&claims_with("pad", json!("x".repeat(500))));
        let over = ed_token(&claims_with("pad", json!("x".repeat(501))));
        assert!(over.len() > fits.len());
        let capped = load_changed(&[("maxTokenBytes", Some(&fits.len().to_string()))], key_material());
        assert_eq!(outcome_at(&capped, &fits, NOW_MS), "allow");
        assert_eq!(outcome_at(&capped, &over, NOW_MS), "plugin:malformed");
    });
}

#[test]
fn only_bearer_credentials_are_read() {
    both(|| {
        let token = ed_token(&claims("alice"));
        let decision = plugin().authenticate(ward::sandbox::Credential { scheme: "basic", token: &token }, NOW_MS);
        match decision {
            Decision::Deny(reason) => assert_eq!(reason.code(), "plugin:missing-credential"),
            Decision::Allow(_) => panic!("a basic credential was accepted"),
        }
    });
}

#[test]
fn misconfiguration_fails_closed() {
    both(|| {
        let token = ed_token(&claims("alice"));
        let only_jwks = || KeyMaterial { raw: Vec::new(), ..key_material() };
        let cases: Vec<(&str, Plugin)> = vec![
            ("no issuer", load_changed(&[("issuer", None)], key_material())),
            ("no audience", load_changed(&[("audience", Some(" "))], key_material())),
            ("alg none listed", load_changed(&[("algorithms", Some("EdDSA none"))], key_material())),
            ("HS256 without a secret", load_changed(&[("hs256Key", None)], only_jwks())),
            ("short HS256 secret", load_changed(&[], jwt_fixtures::key_material(&vector("jwks.json"), vec![1; 31]).unwrap())),
            ("leeway not a number", load_changed(&[("leewaySeconds", Some("+30"))], key_material())),
            ("unknown default principal", load_changed(&[("defaultPrincipalType", Some("robot"))], key_material())),
            ("empty requiredScopes", load_changed(&[("requiredScopes", Some(""))], key_material())),
        ];
        for (what, plugin) in &cases {
            assert_eq!(outcome_at(plugin, &token, NOW_MS), "plugin:denied", "{what}");
            // Whatever the caller sends.
            assert_eq!(outcome_at(plugin, "garbage", NOW_MS), "plugin:denied", "{what}");
        }
        // No JWKS under the configured name: the guest cannot tell a missing
        // set from a missing key, so every asymmetric token names an unknown key.
        let no_jwks = load_changed(&[], KeyMaterial { sets: Vec::new(), ..key_material() });
        assert_eq!(outcome_at(&no_jwks, &token, NOW_MS), "plugin:unknown-key");
    });
}

/// `requiredScopes`: every listed scope must be in the token's `scope` or
/// `scp`, exactly (case-sensitive), or the call is `insufficient-scope`,
/// which `ward serve` answers with 403 (docs/http-api.md). A valid token
/// is checked in full first: an expired one is `expired`, not short of scopes.
#[test]
fn required_scopes_must_all_be_present() {
    both(|| {
        let strict = load_changed(&[("requiredScopes", Some("orders:read, orders:write"))], key_material());
        let with = |scopes: Value| ed_token(&claims_with("scope", scopes));
        assert_eq!(outcome_at(&strict, &with(json!("orders:write orders:read extra")), NOW_MS), "allow");
        let scp = ed_token(&claims_with("scp", json!(["orders:read", "orders:write"])));
        assert_eq!(outcome_at(&strict, &scp, NOW_MS), "allow");
        for short in [json!("orders:read"), json!("Orders:Read orders:write"), json!("orders:read orders:writer"), json!("")] {
            assert_eq!(outcome_at(&strict, &with(short.clone()), NOW_MS), "plugin:insufficient-scope", "{short}");
        }
        assert_eq!(outcome_at(&strict, &ed_token(&claims("alice")), NOW_MS), "plugin:insufficient-scope", "no scope claim at all");
        let expired = ed_token(&json!({ "sub": "a", "iss": ISSUER, "aud": AUDIENCE, "exp": NOW - 3600, "scope": "x" }));
        assert_eq!(outcome_at(&strict, &expired, NOW_MS), "plugin:expired");
        // Without the setting, no scope is required.
        assert_eq!(outcome_at(plugin(), &with(json!("")), NOW_MS), "allow");
    });
}
