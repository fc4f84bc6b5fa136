//! Choosing the one key a token may use, from the host's index of the
//! operator's JWKS (`"format": "jwks"`, looked up through `ward:auth/keys`).
//!
//! The host decides once per fetch which JWKs a verifier may use at all
//! (`kty`/`crv`, sizes, `use`, `key_ops`; `oct` keys never) and writes each
//! as a key record. A token with a `kid` gets the key indexed under that
//! `kid`; a token without one gets the key the derived set `<jwksKey>#alg`
//! holds for its `alg`, which exists only when exactly one key of the set
//! fits that algorithm: guessing between several is how confusion attacks
//! start. Either way the key must fit the token's `alg` (its family, and its
//! own `alg` if the JWK names one), or the token is `UnknownKey`.

use ward_guest::keys::{self, KeyRecord};

use crate::alg::Alg;
use crate::refusal::Refusal;
use crate::settings::Settings;
use crate::verify::VerifyKey;

/// In the guest, RSA-4096 already costs about 60 M fuel, above the default
/// budget (operators raise it for such keys); larger keys would cost more
/// still, so they are refused before any arithmetic.
#[cfg(not(feature = "host-crypto"))]
const MAX_RSA_BITS: usize = 4096;

/// The single key `alg` and `kid` select. `lookup(set, id)` is
/// `ward_guest::keys::lookup` in the guest: one lookup per call, at most.
pub fn select<'c>(alg: Alg, kid: Option<&str>, settings: &Settings<'c>, lookup: impl FnOnce(&str, &[u8]) -> Option<Vec<u8>>) -> Result<VerifyKey<'c>, Refusal> {
    if alg == Alg::Hs256 {
        let secret = settings.hs256.as_ref().ok_or(Refusal::UnknownKey)?;
        return match (kid, secret.kid) {
            (None, _) => Ok(VerifyKey::Hmac(secret.secret)),
            (Some(wanted), Some(own)) if wanted == own => Ok(VerifyKey::Hmac(secret.secret)),
            _ => Err(Refusal::UnknownKey),
        };
    }
    let (Some(set), Some(jose)) = (settings.jwks, alg.jwk()) else { return Err(Refusal::UnknownKey) };
    let value = match kid {
        Some(kid) => lookup(set, kid.as_bytes()),
        None => lookup(&keys::alg_set(set), jose.name().as_bytes()),
    };
    let value = value.ok_or(Refusal::UnknownKey)?;
    let record = KeyRecord::decode(&value).filter(|record| record.fits(jose)).ok_or(Refusal::UnknownKey)?;
    verify_key(record).ok_or(Refusal::UnknownKey)
}

/// The record's key, ready to verify: parsed and checked by RustCrypto
/// (points on the curve, 2048 to 4096-bit moduli).
#[cfg(not(feature = "host-crypto"))]
fn verify_key(record: KeyRecord<'_>) -> Option<VerifyKey<'static>> {
    match record.key {
        keys::PublicKey::Ed25519(x) => ed25519_dalek::VerifyingKey::from_bytes(x).ok().map(VerifyKey::Ed25519),
        keys::PublicKey::P256(point) => p256::ecdsa::VerifyingKey::from_sec1_bytes(point).ok().map(VerifyKey::P256),
        // Refuses moduli over the cap, even moduli, and exponents that are
        // even or outside 3 to 2^33-1.
        keys::PublicKey::Rsa { n, e } => {
            rsa::RsaPublicKey::new_with_max_size(rsa::BigUint::from_bytes_be(n), rsa::BigUint::from_bytes_be(e), MAX_RSA_BITS).ok().map(VerifyKey::Rsa)
        }
    }
}

/// The record's key as bytes: the host parses and checks it when it
/// verifies (points on the curve, 2048 to 8192-bit moduli).
#[cfg(feature = "host-crypto")]
fn verify_key(record: KeyRecord<'_>) -> Option<VerifyKey<'static>> {
    if let keys::PublicKey::Rsa { n, e } = record.key
        && !rsa_sound(n, e)
    {
        return None;
    }
    Some(VerifyKey::Public(keys::Jwk::from(record).key))
}

/// An odd modulus and an odd exponent from 3 to 2^33-1, on the record's
/// minimal big-endian bytes, as the in-guest build's `rsa` crate checks: a
/// key no RSA verifier should use is `UnknownKey` in both builds, not a
/// signature that fails to verify.
#[cfg(feature = "host-crypto")]
fn rsa_sound(n: &[u8], e: &[u8]) -> bool {
    let odd = |v: &[u8]| v.last().is_some_and(|b| b & 1 == 1);
    let e_value = e.iter().try_fold(0u64, |acc, b| if acc >> 56 == 0 { Some(acc << 8 | u64::from(*b)) } else { None });
    odd(n) && odd(e) && e_value.is_some_and(|e| (3..=(1u64 << 33) - 1).contains(&e))
}

#[cfg(test)]
mod tests {
    use ward_guest::keys::{Alg as JoseAlg, PublicKey};

    use super::*;
    use crate::settings;
    use crate::test_support::{Index, context, ed25519, ed25519_record, record};

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn pick(index: &Index, alg: Alg, kid: Option<&str>) -> Result<(), Refusal> {
        let ctx = context(&[("issuer", "i"), ("audience", "a"), ("algorithms", "EdDSA ES256 RS256 PS256")], 0);
        let settings = settings::from_context(&ctx)?;
        select(alg, kid, &settings, index.lookup()).map(|key| assert!(!matches!(key, VerifyKey::Hmac(_)), "an HMAC key from the JWKS"))
    }

    fn rsa_record(n: &[u8], e: &[u8], alg: Option<JoseAlg>) -> Vec<u8> {
        record(PublicKey::Rsa { n, e }, alg)
    }

    /// A modulus of `bytes` bytes, odd, top byte set: the index only checks
    /// sizes, and neither build checks primality.
    fn modulus(bytes: usize) -> Vec<u8> {
        let mut n = vec![0xc5; bytes];
        n[0] = 0xd1;
        n
    }

    #[test]
    fn a_kid_is_looked_up_in_the_jwks_set() {
        let index = Index::default().with("jwks", "ed-1", ed25519_record(&ed25519(7)));
        assert!(pick(&index, Alg::EdDsa, Some("ed-1")).is_ok());
        assert_eq!(index.asked(), [("jwks".to_owned(), "ed-1".to_owned())]);
    }

    #[test]
    fn no_kid_asks_the_alg_set_for_the_tokens_alg() {
        let index = Index::default().with("jwks#alg", "EdDSA", ed25519_record(&ed25519(7)));
        assert!(pick(&index, Alg::EdDsa, None).is_ok());
        assert_eq!(pick(&index, Alg::Es256, None).err(), Some(Refusal::UnknownKey));
        assert_eq!(index.asked(), [("jwks#alg".to_owned(), "EdDSA".to_owned()), ("jwks#alg".to_owned(), "ES256".to_owned())]);
    }

    #[test]
    fn unknown_unfitting_or_undecodable_is_unknown_key() {
        let n = modulus(256);
        let index = Index::default()
            .with("jwks", "ed", ed25519_record(&ed25519(7)))
            .with("jwks", "rs256-only", rsa_record(&n, &[1, 0, 1], Some(JoseAlg::Rs256)))
            .with("jwks", "garbage", b"{\"kty\":\"OKP\"}".to_vec())
            .with("jwks", "truncated", ed25519_record(&ed25519(7))[..20].to_vec());
        for (alg, kid) in [
            (Alg::EdDsa, "missing"),
            // A kid that names a key of another family.
            (Alg::Es256, "ed"),
            (Alg::Rs256, "ed"),
            // A JWK whose own alg is another algorithm of its family.
            (Alg::Ps256, "rs256-only"),
            (Alg::EdDsa, "garbage"),
            (Alg::EdDsa, "truncated"),
        ] {
            assert_eq!(pick(&index, alg, Some(kid)).err(), Some(Refusal::UnknownKey), "{alg:?} {kid}");
        }
        assert!(pick(&index, Alg::Rs256, Some("rs256-only")).is_ok());
    }

    #[test]
    fn rsa_keys_no_verifier_should_use_are_unknown() {
        let n = modulus(256);
        let mut even = n.clone();
        even[255] = 0xc4;
        let index = Index::default()
            .with("jwks", "ok", rsa_record(&n, &[1, 0, 1], None))
            .with("jwks", "even-n", rsa_record(&even, &[1, 0, 1], None))
            .with("jwks", "e-1", rsa_record(&n, &[1], None))
            .with("jwks", "even-e", rsa_record(&n, &[1, 0, 0], None))
            .with("jwks", "e-over-2^33", rsa_record(&n, &[2, 0, 0, 0, 1], None));
        assert!(pick(&index, Alg::Ps256, Some("ok")).is_ok());
        for kid in ["even-n", "e-1", "even-e", "e-over-2^33"] {
            assert_eq!(pick(&index, Alg::Rs256, Some(kid)).err(), Some(Refusal::UnknownKey), "{kid}");
        }
    }

    /// In the guest, RSA stops at 4096 bits (the arithmetic would exceed
    /// the default fuel); the host verifies up to the index's 8192.
    #[test]
    fn rsa_size_cap_per_build() {
        let index = Index::default().with("jwks", "4096", rsa_record(&modulus(512), &[3], None)).with("jwks", "4104", rsa_record(&modulus(513), &[3], None));
        assert!(pick(&index, Alg::Rs256, Some("4096")).is_ok());
        let bigger = pick(&index, Alg::Rs256, Some("4104"));
        if cfg!(feature = "host-crypto") {
            assert!(bigger.is_ok());
        } else {
            assert_eq!(bigger.err(), Some(Refusal::UnknownKey));
        }
    }

    #[cfg(not(feature = "host-crypto"))]
    #[test]
    fn a_p256_point_off_the_curve_is_unknown() {
        let mut point = [7u8; 65];
        point[0] = 4;
        let index = Index::default().with("jwks", "off", record(PublicKey::P256(&point), None));
        assert_eq!(pick(&index, Alg::Es256, Some("off")).err(), Some(Refusal::UnknownKey));
    }

    #[test]
    fn hs256_uses_the_secret_and_never_the_index() {
        let ctx = crate::test_support::with_raw_key(
            context(&[("issuer", "i"), ("audience", "a"), ("algorithms", "HS256"), ("hs256Key", "secret"), ("hs256Kid", "h1")], 0),
            "secret",
            SECRET.as_bytes(),
        );
        let settings = settings::from_context(&ctx).unwrap();
        let never = |_: &str, _: &[u8]| -> Option<Vec<u8>> { panic!("looked up") };
        assert!(matches!(select(Alg::Hs256, None, &settings, never), Ok(VerifyKey::Hmac(s)) if s == SECRET.as_bytes()));
        assert!(matches!(select(Alg::Hs256, Some("h1"), &settings, never), Ok(VerifyKey::Hmac(_))));
        assert_eq!(select(Alg::Hs256, Some("h2"), &settings, never).err(), Some(Refusal::UnknownKey));
        // No JWKS is configured when only HS256 is accepted.
        assert_eq!(select(Alg::EdDsa, Some("h1"), &settings, never).err(), Some(Refusal::UnknownKey));
    }
}
