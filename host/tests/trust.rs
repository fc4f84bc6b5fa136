//! The trust gate through the library: one test per refusal reason, the
//! check order, Haechi's fixed vectors, and properties of canonical JSON.
// Test code: a broken assumption should stop the test loudly, so unwrap,
// expect, panic and indexing are allowed (clippy.toml does the same for
// `#[cfg(test)]` modules).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use proptest::prelude::*;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use ward::trust::{
    Anchor, MAX_ENVELOPE_BYTES, ManifestProblem, Pin, Refusal, SignRequest, SigningSecret, TrustPolicy, canonicalize, envelope_file_text, parse_strict,
    public_key_from_pem, sign, verify,
};

const NOW: u64 = 1_795_392_000_000; // 2026-11-23
const ENTRY: &[u8] = b"\0asm component bytes";
const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors");

fn key() -> SigningSecret {
    SigningSecret::from_seed(&[9; 32])
}

fn policy() -> TrustPolicy {
    TrustPolicy::default().with_anchor("acme-signer", key().verifying_key()).allow("readsCredentials")
}

fn payload() -> Value {
    json!({
        "pluginId": "acme-auth", "kind": "authProvider", "version": "1.2.0",
        "capabilities": { "readsCredentials": true },
        "coreVersionRange": ">=0.1.0 <0.2.0",
        "entrySha256": hex::encode(Sha256::digest(ENTRY)),
        "notBefore": null, "notAfter": null
    })
}

/// Signs `payload` as given (any shape) with `key` under `key_id`.
fn envelope_with(payload: Value, key: &SigningSecret, key_id: &str) -> Value {
    let canonical = canonicalize(&payload).unwrap_or_default();
    json!({ "payload": payload, "signerKeyId": key_id, "alg": "ed25519", "signature": STANDARD.encode(key.sign(canonical.as_bytes())) })
}

fn signed(edit: impl FnOnce(&mut Value)) -> Value {
    let mut p = payload();
    edit(&mut p);
    envelope_with(p, &key(), "acme-signer")
}

fn check(envelope: &Value, policy: &TrustPolicy) -> Result<ward::trust::VerifiedPlugin, Refusal> {
    verify(envelope.to_string().as_bytes(), ENTRY.to_vec(), policy, NOW)
}

fn code(envelope: &Value, policy: &TrustPolicy) -> &'static str {
    match check(envelope, policy) {
        Ok(_) => "valid",
        Err(refusal) => refusal.code(),
    }
}

fn raw_code(bytes: &[u8]) -> &'static str {
    match verify(bytes, ENTRY.to_vec(), &policy(), NOW) {
        Ok(_) => "valid",
        Err(refusal) => refusal.code(),
    }
}

#[test]
fn a_good_envelope_verifies_and_hands_out_the_hashed_bytes() -> Result<(), Refusal> {
    let envelope = signed(|_| {});
    let plugin = check(&envelope, &policy())?;
    assert_eq!(plugin.entry(), ENTRY);
    assert_eq!(plugin.entry_sha256(), hex::encode(Sha256::digest(ENTRY)));
    assert_eq!(plugin.signer_key_id(), "acme-signer");
    let canonical = canonicalize(&payload()).unwrap_or_default();
    assert_eq!(plugin.manifest_sha256(), hex::encode(Sha256::digest(canonical.as_bytes())));
    let p = plugin.payload();
    assert_eq!((p.plugin_id(), p.kind(), p.version(), p.core_version_range()), ("acme-auth", "authProvider", "1.2.0", ">=0.1.0 <0.2.0"));
    assert_eq!(p.capabilities(), [("readsCredentials".to_owned(), true)]);
    assert_eq!((p.not_before(), p.not_after()), (None, None));
    Ok(())
}

// ---- one test per reason ----

#[test]
fn manifest_invalid() {
    let p = policy();
    assert_eq!(raw_code(b"not json"), "manifest-invalid");
    assert_eq!(raw_code(b"[]"), "manifest-invalid");
    assert_eq!(raw_code(&vec![b' '; MAX_ENVELOPE_BYTES + 1]), "manifest-invalid");
    assert!(matches!(verify(&vec![b' '; MAX_ENVELOPE_BYTES + 1], vec![], &p, NOW), Err(Refusal::EnvelopeTooLarge { .. })));
    let good = signed(|_| {}).to_string();
    let dup = good.replacen("\"alg\":", "\"alg\":\"ed25519\",\"alg\":", 1);
    assert!(matches!(verify(dup.as_bytes(), ENTRY.to_vec(), &p, NOW), Err(Refusal::ManifestInvalid(ManifestProblem::DuplicateKey))));
    let unsafe_int = good.replacen("\"notBefore\":null", "\"notBefore\":9007199254740993", 1);
    assert!(matches!(verify(unsafe_int.as_bytes(), ENTRY.to_vec(), &p, NOW), Err(Refusal::ManifestInvalid(ManifestProblem::UnsafeInteger))));
    assert_eq!(raw_code(good.replacen("\"notBefore\":null", "\"notBefore\":1e400", 1).as_bytes()), "manifest-invalid");
    assert_eq!(raw_code(good.replacen("\"version\":\"1.2.0\"", "\"version\":\"\\ud800\"", 1).as_bytes()), "manifest-invalid");
    for field in ["pluginId", "kind", "version", "coreVersionRange", "entrySha256"] {
        assert_eq!(code(&signed(|v| v[field] = json!(7)), &p), "manifest-invalid", "{field}");
        assert_eq!(code(&signed(|v| v[field] = json!("")), &p), "manifest-invalid", "{field}");
    }
    assert_eq!(code(&signed(|v| v["capabilities"] = json!([])), &p), "manifest-invalid");
    let mut no_sig = signed(|_| {});
    no_sig["signature"] = json!("");
    assert_eq!(code(&no_sig, &p), "manifest-invalid");
    let mut no_signer = signed(|_| {});
    no_signer["signerKeyId"] = json!(null);
    assert_eq!(code(&no_signer, &p), "manifest-invalid");
    // Checked after the signature, as Haechi does: signed but unusable.
    assert_eq!(code(&signed(|v| v["notBefore"] = json!("tomorrow")), &p), "manifest-invalid");
    assert_eq!(code(&signed(|v| v["notAfter"] = json!(true)), &p), "manifest-invalid");
    assert_eq!(code(&signed(|v| v["capabilities"]["readsCredentials"] = json!("true")), &p), "manifest-invalid");
    assert_eq!(code(&signed(|v| v["coreVersionRange"] = json!("^0.1.0")), &p), "manifest-invalid");
    assert!(matches!(
        check(&signed(|v| v["coreVersionRange"] = json!(">=1.0.0 <2.0.0")), &p),
        Err(Refusal::ManifestInvalid(ManifestProblem::CoreVersionOutOfRange { .. }))
    ));
}

#[test]
fn alg_not_ed25519() {
    for alg in [json!("RS256"), json!("ED25519"), json!(null)] {
        let mut e = signed(|_| {});
        e["alg"] = alg;
        assert_eq!(code(&e, &policy()), "alg-not-ed25519");
    }
    let mut e = signed(|_| {});
    e.as_object_mut().map(|o| o.remove("alg"));
    assert_eq!(code(&e, &policy()), "alg-not-ed25519");
}

#[test]
fn unknown_signer() {
    let envelope = envelope_with(payload(), &key(), "someone-else");
    assert_eq!(code(&envelope, &policy()), "unknown-signer");
    // An anchor that is not an Ed25519 public key refuses too.
    let mut p = policy();
    p.anchors.insert("acme-signer".into(), Anchor::from_pem("-----BEGIN RSA PUBLIC KEY-----\nAA==\n-----END RSA PUBLIC KEY-----\n"));
    assert!(matches!(check(&signed(|_| {}), &p), Err(Refusal::AnchorUnusable { .. })));
    assert_eq!(code(&signed(|_| {}), &p), "unknown-signer");
}

#[test]
fn revoked() {
    let mut p = policy();
    p.revoked_signer_key_ids.insert("acme-signer".into());
    assert!(matches!(check(&signed(|_| {}), &p), Err(Refusal::RevokedSigner { .. })));
    let mut p = policy();
    p.revoked_entry_sha256.insert(hex::encode(Sha256::digest(ENTRY)).to_uppercase());
    assert!(matches!(check(&signed(|_| {}), &p), Err(Refusal::RevokedEntry { .. })));
    assert_eq!(code(&signed(|_| {}), &p), "revoked");
}

#[test]
fn tampered_entry() {
    let envelope = signed(|_| {});
    let refusal = verify(envelope.to_string().as_bytes(), b"\0asm component bytez".to_vec(), &policy(), NOW).err();
    assert_eq!(refusal.map(|r| r.code()), Some("tampered-entry"));
    // Uppercase hex is not the hash Haechi computes either.
    let upper = signed(|v| v["entrySha256"] = json!(hex::encode(Sha256::digest(ENTRY)).to_uppercase()));
    assert_eq!(code(&upper, &policy()), "tampered-entry");
}

#[test]
fn invalid_signature() {
    let wrong_key = envelope_with(payload(), &SigningSecret::from_seed(&[1; 32]), "acme-signer");
    assert_eq!(code(&wrong_key, &policy()), "invalid-signature");
    let mut edited = signed(|_| {});
    edited["payload"]["version"] = json!("9.9.9");
    assert_eq!(code(&edited, &policy()), "invalid-signature");
    for bad in ["!!!", "AAAA", "c2lnbmF0dXJl"] {
        let mut e = signed(|_| {});
        e["signature"] = json!(bad);
        assert_eq!(code(&e, &policy()), "invalid-signature", "{bad}");
    }
}

#[test]
fn unknown_payload_fields_are_signed_too() {
    let envelope = signed(|v| v["extra"] = json!({ "b": 1, "a": [true, 1.5] }));
    assert_eq!(code(&envelope, &policy()), "valid");
    let mut edited = envelope.clone();
    edited["payload"]["extra"]["b"] = json!(2);
    assert_eq!(code(&edited, &policy()), "invalid-signature");
}

#[test]
fn expired_window() {
    let p = policy();
    assert_eq!(code(&signed(|v| v["notBefore"] = json!(NOW + 1)), &p), "expired-window");
    assert_eq!(code(&signed(|v| v["notAfter"] = json!(NOW - 1)), &p), "expired-window");
    assert_eq!(code(&signed(|v| v["notAfter"] = json!("2026-11-22T00:00:00Z")), &p), "expired-window");
    // Bounds are inclusive.
    assert_eq!(
        code(
            &signed(|v| {
                v["notBefore"] = json!(NOW);
                v["notAfter"] = json!(NOW)
            }),
            &p
        ),
        "valid"
    );
    assert_eq!(code(&signed(|v| v["notBefore"] = json!("2026-11-23")), &p), "valid");
}

#[test]
fn below_version_floor() {
    let mut p = policy();
    p.version_floor.insert("acme-auth".into(), "1.10.0".into());
    assert_eq!(code(&signed(|_| {}), &p), "below-version-floor");
    p.version_floor.insert("acme-auth".into(), "1.2".into());
    assert_eq!(code(&signed(|_| {}), &p), "valid");
    p.version_floor.insert("other-plugin".into(), "9.0.0".into());
    assert_eq!(code(&signed(|_| {}), &p), "valid");
}

#[test]
fn pin_mismatch() -> Result<(), Refusal> {
    let envelope = signed(|_| {});
    let good = check(&envelope, &policy())?;
    let pins = [
        Pin { version: Some("1.2.1".into()), ..Pin::default() },
        Pin { entry_sha256: Some("0".repeat(64)), ..Pin::default() },
        Pin { manifest_sha256: Some("0".repeat(64)), ..Pin::default() },
    ];
    for pin in pins {
        let mut p = policy();
        p.pins.insert("acme-auth".into(), pin);
        assert_eq!(code(&envelope, &p), "pin-mismatch");
    }
    let mut p = policy();
    p.pins.insert(
        "acme-auth".into(),
        Pin { version: Some("1.2.0".into()), entry_sha256: Some(good.entry_sha256().to_uppercase()), manifest_sha256: Some(good.manifest_sha256().into()) },
    );
    assert_eq!(code(&envelope, &p), "valid");
    Ok(())
}

#[test]
fn capability_not_allowlisted() {
    let envelope = signed(|_| {});
    assert_eq!(code(&envelope, &TrustPolicy::default().with_anchor("acme-signer", key().verifying_key())), "capability-not-allowlisted");
    assert_eq!(code(&signed(|v| v["capabilities"]["network"] = json!(true)), &policy()), "capability-not-allowlisted");
    assert_eq!(code(&signed(|v| v["capabilities"]["network"] = json!(false)), &policy()), "valid");
    assert!(matches!(
        check(&signed(|v| v["capabilities"] = json!({ "readsCredentials": false })), &policy()),
        Err(Refusal::AuthProviderWithoutReadsCredentials)
    ));
    assert_eq!(
        code(
            &signed(|v| {
                v["kind"] = json!("filter");
                v["capabilities"] = json!({})
            }),
            &policy()
        ),
        "valid"
    );
}

// ---- order ----

#[test]
fn order_tampered_entry_beats_bad_signature() {
    let mut e = signed(|_| {});
    e["payload"]["entrySha256"] = json!("0".repeat(64));
    assert_eq!(code(&e, &policy()), "tampered-entry");
}

#[test]
fn order_revoked_signer_beats_bad_signature_and_tamper() {
    let mut p = policy();
    p.revoked_signer_key_ids.insert("acme-signer".into());
    let mut e = signed(|_| {});
    e["signature"] = json!("AAAA");
    e["payload"]["entrySha256"] = json!("0".repeat(64));
    assert_eq!(code(&e, &p), "revoked");
}

#[test]
fn order_each_step_wins_over_every_later_one() {
    // Every fault at once; removing them front to back must walk the reasons
    // in the documented order.
    let mut p = policy();
    p.allow_capabilities.clear();
    p.revoked_signer_key_ids.insert("acme-signer".into());
    p.revoked_entry_sha256.insert(hex::encode(Sha256::digest(ENTRY)));
    p.version_floor.insert("acme-auth".into(), "2.0.0".into());
    p.pins.insert("acme-auth".into(), Pin { version: Some("1.0.0".into()), ..Pin::default() });
    let late = |v: &mut Value| {
        v["notAfter"] = json!(1);
        v["coreVersionRange"] = json!(">=5.0.0 <6.0.0");
    };
    let mut e = signed(late);
    e["alg"] = json!("none");
    e["signerKeyId"] = json!("stranger");
    e["payload"]["entrySha256"] = json!("0".repeat(64));
    e["signature"] = json!("AAAA");
    let structure_broken = json!({ "payload": 1 });
    assert_eq!(code(&structure_broken, &p), "manifest-invalid");
    assert_eq!(code(&e, &p), "alg-not-ed25519");
    e["alg"] = json!("ed25519");
    assert_eq!(code(&e, &p), "unknown-signer");
    e["signerKeyId"] = json!("acme-signer");
    assert_eq!(code(&e, &p), "revoked");
    p.revoked_signer_key_ids.clear();
    assert_eq!(code(&e, &p), "tampered-entry");
    e["payload"]["entrySha256"] = json!(hex::encode(Sha256::digest(ENTRY)));
    assert_eq!(code(&e, &p), "revoked");
    p.revoked_entry_sha256.clear();
    assert_eq!(code(&e, &p), "invalid-signature");
    let mut e = signed(late);
    assert_eq!(code(&e, &p), "expired-window");
    e = signed(|v| v["coreVersionRange"] = json!(">=5.0.0 <6.0.0"));
    assert_eq!(code(&e, &p), "below-version-floor");
    p.version_floor.clear();
    assert_eq!(code(&e, &p), "pin-mismatch");
    p.pins.clear();
    assert_eq!(code(&e, &p), "capability-not-allowlisted");
    p.allow_capabilities.insert("readsCredentials".into());
    assert_eq!(code(&e, &p), "manifest-invalid");
    assert_eq!(code(&signed(|_| {}), &p), "valid");
}

// ---- Haechi vectors ----

fn read_vector(name: &str) -> Vec<u8> {
    std::fs::read(format!("{VECTORS}/{name}")).unwrap_or_default()
}

fn vector_key() -> SigningSecret {
    let pem = String::from_utf8(read_vector("test-signer.key")).unwrap_or_default();
    SigningSecret::from_pkcs8_pem(&pem).unwrap_or_else(|_| SigningSecret::from_seed(&[0; 32]))
}

#[test]
fn haechi_canonical_vectors() -> Result<(), ManifestProblem> {
    let file = parse_strict(&read_vector("canonical-vectors.json"))?;
    let vectors = file["vectors"].as_array().cloned().unwrap_or_default();
    assert_eq!(vectors.len(), 5);
    let key = vector_key();
    let anchor = public_key_from_pem(&String::from_utf8(read_vector("test-signer.pub")).unwrap_or_default());
    assert_eq!(anchor.as_ref().ok(), Some(&key.verifying_key()));
    for v in vectors {
        let name = v["name"].as_str().unwrap_or_default();
        let canonical = canonicalize(&v["payload"])?;
        assert_eq!(Some(canonical.as_str()), v["canonical"].as_str(), "{name}");
        assert_eq!(Some(STANDARD.encode(key.sign(canonical.as_bytes())).as_str()), v["signature"].as_str(), "{name}");
        assert_eq!(Some(hex::encode(Sha256::digest(canonical.as_bytes())).as_str()), v["manifestSha256"].as_str(), "{name}");
        let envelope = json!({ "payload": v["payload"], "signerKeyId": "ward-test-signer", "alg": "ed25519", "signature": v["signature"] });
        let policy = TrustPolicy::default().with_anchor("ward-test-signer", key.verifying_key()).allow("readsCredentials");
        let refusal = verify(envelope.to_string().as_bytes(), read_vector("entry.bin"), &policy, NOW).err();
        assert_eq!(refusal, None, "{name}");
    }
    Ok(())
}

#[test]
fn haechi_plugin_sign_output_verifies_and_ward_sign_reproduces_it_byte_for_byte() -> Result<(), ward::trust::SignError> {
    let haechi = read_vector("haechi-plugin-sign.signed.json");
    let policy = TrustPolicy::default().with_anchor("ward-test-signer", vector_key().verifying_key()).allow("readsCredentials");
    assert_eq!(verify(&haechi, read_vector("entry.bin"), &policy, NOW).err(), None);
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("readsCredentials".into(), json!(true));
    let request = SignRequest {
        plugin_id: "acme-auth".into(),
        kind: "authProvider".into(),
        version: "1.0.0".into(),
        capabilities,
        core_version_range: ">=0.1.0 <0.2.0".into(),
        not_before: Some(1_763_856_000_000),
        not_after: None,
        signer_key_id: "ward-test-signer".into(),
    };
    let ours = envelope_file_text(&sign(&request, &read_vector("entry.bin"), &vector_key())?)?;
    assert_eq!(ours.as_bytes(), haechi.as_slice());
    Ok(())
}

// ---- canonical JSON properties ----

/// Characters that stress UTF-16 ordering and escaping.
fn tricky_char() -> impl Strategy<Value = char> {
    prop_oneof![
        (0u32..0x80).prop_filter_map("ascii", char::from_u32),
        Just('\u{7f}'),
        Just('\u{2028}'),
        Just('\u{2029}'),
        (0xE000u32..=0xFFFF).prop_filter_map("bmp-high", char::from_u32),
        (0x80u32..0xD800).prop_filter_map("bmp", char::from_u32),
        (0x10000u32..=0x10FFFF).prop_filter_map("astral", char::from_u32),
    ]
}

fn tricky_string() -> impl Strategy<Value = String> {
    proptest::collection::vec(tricky_char(), 0..8).prop_map(|c| c.into_iter().collect())
}

proptest! {
    #[test]
    fn keys_come_out_in_utf16_order_and_canonical_is_a_fixed_point(keys in proptest::collection::btree_set(tricky_string(), 0..12)) {
        let map: serde_json::Map<String, Value> = keys.iter().enumerate().map(|(i, k)| (k.clone(), json!(i))).collect();
        let canonical = canonicalize(&Value::Object(map)).unwrap_or_default();
        let reparsed = parse_strict(canonical.as_bytes()).unwrap_or(Value::Null);
        let out_keys: Vec<&String> = reparsed.as_object().map(|m| m.keys().collect()).unwrap_or_default();
        prop_assert_eq!(out_keys.len(), keys.len());
        for pair in out_keys.windows(2) {
            if let [a, b] = pair {
                prop_assert!(a.encode_utf16().lt(b.encode_utf16()), "{:?} before {:?}", a, b);
            }
        }
        prop_assert_eq!(canonicalize(&reparsed).unwrap_or_default(), canonical);
    }

    #[test]
    fn strings_escape_exactly_as_json_stringify(s in tricky_string()) {
        // serde_json escapes strings by the same rules as JSON.stringify
        // (short escapes, lowercase \u00xx for other C0 controls, U+2028/9 raw).
        let canonical = canonicalize(&json!(s)).unwrap_or_default();
        prop_assert_eq!(&canonical, &serde_json::to_string(&s).unwrap_or_default());
        prop_assert!(!canonical.chars().any(|c| (c as u32) < 0x20));
        prop_assert_eq!(parse_strict(canonical.as_bytes()).ok(), Some(json!(s)));
    }

    #[test]
    fn safe_integers_print_plainly_and_unsafe_ones_are_refused(i in proptest::num::i64::ANY) {
        let result = parse_strict(i.to_string().as_bytes()).and_then(|v| canonicalize(&v));
        if i.unsigned_abs() <= 1 << 53 {
            prop_assert_eq!(result, Ok(i.to_string()));
        } else {
            prop_assert_eq!(result, Err(ManifestProblem::UnsafeInteger));
        }
    }

    #[test]
    fn finite_floats_round_trip(f in proptest::num::f64::NORMAL | proptest::num::f64::SUBNORMAL | proptest::num::f64::ZERO) {
        let canonical = canonicalize(&json!(f)).unwrap_or_default();
        let back: f64 = canonical.parse().unwrap_or(f64::NAN);
        prop_assert!(back == f, "{} -> {}", f, canonical);
        if f.fract() == 0.0 && f.abs() < 1e21 {
            prop_assert!(!canonical.contains(['.', 'e']), "{}", canonical);
        }
    }
}

#[test]
fn fuzz_seed_corpus_runs_through_the_fuzz_entry() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/corpus/envelope");
    let seeds: Vec<_> = std::fs::read_dir(dir).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default();
    assert!(seeds.len() >= 4, "seed corpus missing at {dir}");
    for seed in seeds {
        ward::trust::fuzzing::envelope(&std::fs::read(&seed).unwrap_or_default());
    }
}

/// Haechi's manifest file (`{ "haechiPlugin": { …, "signed": envelope } }`,
/// as its test fixtures and docs write it) is an envelope source: the
/// envelope inside is verified exactly as a bare one, whether it sits in
/// `signed` or in the flat `signedPayload`/`signerKeyId`/`alg`/`signature`
/// fields (Haechi's `envelopeFromManifest`); the unsigned mirrors are not
/// read, so editing them changes nothing and cannot change who the plugin is.
#[test]
fn a_haechi_manifest_wrapper_is_read_as_haechi_reads_it() {
    let envelope = signed(|_| {});
    let mirrors = json!({ "id": "someone-else", "version": "9.9.9", "kind": "authProvider", "runtime": "node-process", "entrypoint": "./entry.mjs" });
    let wrap = |extra: Value| {
        let mut manifest = mirrors.clone();
        for (k, v) in extra.as_object().cloned().unwrap_or_default() {
            manifest[k] = v;
        }
        json!({ "haechiPlugin": manifest })
    };
    let nested = wrap(json!({ "signed": envelope }));
    let verified = check(&nested, &policy()).map(|plugin| plugin.payload().plugin_id().to_owned());
    assert_eq!(verified.as_deref(), Ok("acme-auth"));
    let flat = wrap(json!({ "signedPayload": envelope["payload"], "signerKeyId": envelope["signerKeyId"], "signature": envelope["signature"] }));
    assert_eq!(code(&flat, &policy()), "valid");
    let null_alg =
        wrap(json!({ "signedPayload": envelope["payload"], "signerKeyId": envelope["signerKeyId"], "signature": envelope["signature"], "alg": null }));
    assert_eq!(code(&null_alg, &policy()), "valid");

    // The envelope inside is checked as any other.
    let mut forged = envelope.clone();
    forged["payload"]["version"] = json!("1.2.1");
    assert_eq!(code(&wrap(json!({ "signed": forged })), &policy()), "invalid-signature");
    assert_eq!(code(&wrap(json!({ "signed": signed(|_| {}), "alg": "rsa" })), &policy()), "valid", "a mirror beside `signed` is not read");
    assert_eq!(
        code(
            &wrap(json!({ "signedPayload": envelope["payload"], "signerKeyId": envelope["signerKeyId"], "signature": envelope["signature"], "alg": "rsa" })),
            &policy()
        ),
        "alg-not-ed25519"
    );
    // Unsigned (Haechi's `unsigned` fixture), not an object, or both readings in one file.
    assert_eq!(code(&wrap(json!({})), &policy()), "manifest-invalid");
    assert_eq!(code(&json!({ "haechiPlugin": "x" }), &policy()), "manifest-invalid");
    let mut both = nested.clone();
    both["payload"] = envelope["payload"].clone();
    assert_eq!(code(&both, &policy()), "manifest-invalid");
}
