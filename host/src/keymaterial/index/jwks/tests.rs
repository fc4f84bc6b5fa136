use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
use serde_json::json;
use ward_key_format::jwk::{Alg, KeyRecord, PublicKey};

use super::*;

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn ed25519() -> (serde_json::Value, [u8; 32]) {
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
    let x: [u8; 32] = pair.public_key().as_ref().try_into().unwrap();
    (json!({ "kty": "OKP", "crv": "Ed25519", "x": b64(&x) }), x)
}

fn p256() -> (serde_json::Value, Vec<u8>) {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let point = pair.public_key().as_ref().to_vec();
    (json!({ "kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..]) }), point)
}

/// A 2048-bit odd modulus: the index checks sizes and parity, not primes.
fn rsa(bits_bytes: usize) -> serde_json::Value {
    json!({ "kty": "RSA", "n": b64(&vec![0xc5; bits_bytes]), "e": "AQAB" })
}

fn with(mut jwk: serde_json::Value, member: &str, value: serde_json::Value) -> serde_json::Value {
    jwk[member] = value;
    jwk
}

fn build(keys: Vec<serde_json::Value>) -> Result<KeyIndex, IndexError> {
    KeyIndex::build(KeyFormat::Jwks, json!({ "keys": keys }).to_string().as_bytes(), 1000)
}

#[test]
fn usable_keys_are_indexed_by_kid_as_records() {
    let (ed, x) = ed25519();
    let (ec, point) = p256();
    let index =
        build(vec![with(ed, "kid", json!("ed")), with(with(ec, "kid", json!("ec")), "alg", json!("ES256")), with(rsa(256), "kid", json!("rsa"))]).unwrap();
    assert_eq!((index.len(), index.skipped()), (3, 0));
    let ed = KeyRecord::decode(index.get(b"ed").unwrap()).unwrap();
    assert_eq!(ed, KeyRecord { key: PublicKey::Ed25519(&x), alg: None });
    let ec = KeyRecord::decode(index.get(b"ec").unwrap()).unwrap();
    assert_eq!(ec.key, PublicKey::P256(point.as_slice().try_into().unwrap()));
    assert_eq!(ec.alg, Some(Alg::Es256));
    let rsa = KeyRecord::decode(index.get(b"rsa").unwrap()).unwrap();
    assert!(matches!(rsa.key, PublicKey::Rsa { n, e: [1, 0, 1] } if n.len() == 256));
    assert_eq!(index.get(b"missing"), None);
    assert_eq!(index.get(b"e"), None, "exact ids only, no prefixes");
}

#[test]
fn the_alg_view_holds_a_key_only_when_it_is_the_only_fit() {
    let (ed, _) = ed25519();
    let (ec1, _) = p256();
    let (ec2, _) = p256();
    let index = build(vec![ed, ec1, ec2, with(rsa(256), "alg", json!("PS256"))]).unwrap();
    assert!(index.get_for_alg(b"EdDSA").is_some());
    assert!(index.get_for_alg(b"ES256").is_none(), "two P-256 keys: which one is a guess");
    assert!(index.get_for_alg(b"PS256").is_some());
    assert!(index.get_for_alg(b"RS256").is_none(), "the RSA key is pinned to PS256");
    assert!(index.get_for_alg(b"none").is_none() && index.get_for_alg(b"es256").is_none());
    // Keys without kid are in the view, not the kid table.
    assert_eq!(index.len(), 0);
}

#[test]
fn unusable_keys_are_skipped_and_counted() {
    let (ed, _) = ed25519();
    let (ec, _) = p256();
    let skipped = vec![
        json!({ "kty": "oct", "k": b64(&[1; 32]), "kid": "hmac" }),
        with(ed.clone(), "use", json!("enc")),
        with(ed.clone(), "key_ops", json!(["sign"])),
        with(ed.clone(), "alg", json!("ES256")),
        with(ed.clone(), "alg", json!("HS256")),
        with(ed.clone(), "kid", json!(7)),
        with(ed.clone(), "kid", json!("k".repeat(1025))),
        with(ed.clone(), "crv", json!("Ed448")),
        with(ed.clone(), "x", json!("not+base64")),
        with(ed.clone(), "x", json!(b64(&[0; 32]))),
        with(ec.clone(), "y", json!(b64(&[1; 31]))),
        with(ec, "crv", json!("P-384")),
        rsa(255),
        with(rsa(256), "e", json!("AQ")),
        with(rsa(256), "e", json!("Ag")),
        with(rsa(256), "n", json!(b64(&[0xc4; 256]))),
        with(rsa(1025), "kid", json!("huge")),
        json!({ "kty": "RSA" }),
        json!({}),
    ];
    let count = skipped.len();
    let mut keys = skipped;
    keys.push(with(with(ed, "kid", json!("good")), "key_ops", json!(["verify", "sign"])));
    let index = build(keys).unwrap();
    assert_eq!((index.len(), index.skipped()), (1, count));
    assert!(index.get(b"good").is_some());
}

#[test]
fn malformed_sets_are_refused_without_quoting_them() {
    let marker = "sk_marker_not_in_errors";
    for bad in [
        format!("{{\"keys\": [\"{marker}\"]}}"),
        format!("{{\"keys\": {{\"{marker}\": 1}}}}"),
        format!("{{\"kees\": [], \"x\": \"{marker}\"}}"),
        format!("[\"{marker}\"]"),
        format!("{{\"keys\": [], \"keys\": [\"{marker}\"]}}"),
        format!("{{\"keys\": [{{\"kty\": \"OKP\", \"kty\": \"{marker}\"}}]}}"),
        format!("{{\"keys\": [\"{marker}"),
        String::new(),
    ] {
        let err = KeyIndex::build(KeyFormat::Jwks, bad.as_bytes(), 1000).unwrap_err();
        assert_eq!(err.code(), "keymaterial-jwks-invalid", "{bad}");
        assert!(!err.to_string().contains(marker), "{err}");
    }
}

#[test]
fn duplicate_kids_among_usable_keys_refuse_the_set() {
    let (ed, _) = ed25519();
    let (ec, _) = p256();
    let err = build(vec![with(ed.clone(), "kid", json!("k")), with(ec.clone(), "kid", json!("k"))]).unwrap_err();
    assert_eq!(err, IndexError::DuplicateId { index: 1 });
    // A skipped key cannot be confused with a usable one: it is not in the index.
    let index = build(vec![with(with(ed, "kid", json!("k")), "use", json!("enc")), with(ec, "kid", json!("k"))]).unwrap();
    assert_eq!((index.len(), index.skipped()), (1, 1));
}

#[test]
fn bounded_by_max_entries() {
    let (ed, _) = ed25519();
    let keys: Vec<_> = (0..5).map(|i| with(ed.clone(), "kid", json!(format!("k{i}")))).collect();
    let text = json!({ "keys": keys }).to_string();
    assert_eq!(KeyIndex::build(KeyFormat::Jwks, text.as_bytes(), 4).unwrap_err().code(), "keymaterial-too-many-entries");
    assert_eq!(KeyIndex::build(KeyFormat::Jwks, text.as_bytes(), 5).unwrap().len(), 5);
}
