//! Signature and MAC verification, one strict path per algorithm.

#[cfg(not(feature = "host-crypto"))]
use hmac::{Hmac, Mac};
#[cfg(not(feature = "host-crypto"))]
use p256::ecdsa::signature::Verifier;
#[cfg(not(feature = "host-crypto"))]
use rsa::traits::PublicKeyParts;
#[cfg(not(feature = "host-crypto"))]
use sha2::Sha256;
#[cfg(feature = "host-crypto")]
use ward_guest::keys::JwkKey;

use crate::alg::Alg;
use crate::refusal::Refusal;

/// A key from the JWKS index that fits the token's algorithm (`jwk.rs`), or
/// the HS256 secret from settings, already typed for exactly one family of
/// algorithms.
#[cfg(not(feature = "host-crypto"))]
pub enum VerifyKey<'c> {
    Ed25519(ed25519_dalek::VerifyingKey),
    P256(p256::ecdsa::VerifyingKey),
    Rsa(rsa::RsaPublicKey),
    Hmac(&'c [u8]),
}

/// With host crypto, keys stay the bytes of their key record: the host
/// parses and checks them (points on the curve, modulus size) when it
/// verifies.
#[cfg(feature = "host-crypto")]
pub enum VerifyKey<'c> {
    Public(JwkKey),
    Hmac(&'c [u8]),
}

/// Proof that the signature verified. Only [`verify`] makes one, and the
/// claims check takes it by value, so claims cannot be read from an
/// unverified token by mistake.
pub struct SignatureValid {
    _sealed: (),
}

/// Verifies `signature` over `signing_input` with `key` under `alg`.
#[cfg(not(feature = "host-crypto"))]
pub fn verify(alg: Alg, key: VerifyKey<'_>, signing_input: &[u8], signature: &[u8]) -> Result<SignatureValid, Refusal> {
    let verified = match (alg, key) {
        (Alg::EdDsa, VerifyKey::Ed25519(key)) => {
            let bytes: &[u8; 64] = signature.try_into().map_err(|_| Refusal::BadSignature)?;
            // Strict: refuses small-order keys and R, and non-canonical S,
            // which plain `verify` lets through.
            key.verify_strict(signing_input, &ed25519_dalek::Signature::from_bytes(bytes)).is_ok()
        }
        (Alg::Es256, VerifyKey::P256(key)) => {
            // JOSE (RFC 7518 §3.4) fixes 64 bytes, r || s. A DER signature
            // (70-72 bytes) is refused, not converted.
            let signature = p256::ecdsa::Signature::from_slice(signature).map_err(|_| Refusal::BadSignature)?;
            key.verify(signing_input, &signature).is_ok()
        }
        (Alg::Rs256, VerifyKey::Rsa(key)) => {
            check_rsa_length(&key, signature)?;
            let signature = rsa::pkcs1v15::Signature::try_from(signature).map_err(|_| Refusal::BadSignature)?;
            rsa::pkcs1v15::VerifyingKey::<Sha256>::new(key).verify(signing_input, &signature).is_ok()
        }
        (Alg::Ps256, VerifyKey::Rsa(key)) => {
            check_rsa_length(&key, signature)?;
            let signature = rsa::pss::Signature::try_from(signature).map_err(|_| Refusal::BadSignature)?;
            // Salt length fixed to the hash length (RFC 7518 §3.5).
            rsa::pss::VerifyingKey::<Sha256>::new(key).verify(signing_input, &signature).is_ok()
        }
        (Alg::Hs256, VerifyKey::Hmac(secret)) => {
            let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else { return Err(Refusal::Misconfigured) };
            mac.update(signing_input);
            // Constant time, and only a full 32-byte tag: no truncated MACs.
            mac.verify_slice(signature).is_ok()
        }
        // Key selection never pairs an algorithm with another family's key;
        // if it ever did, refuse rather than verify under the wrong rules.
        _ => false,
    };
    if verified { Ok(SignatureValid { _sealed: () }) } else { Err(Refusal::BadSignature) }
}

/// An RSA signature is exactly as long as the modulus (RFC 8017 §8.2.2).
#[cfg(not(feature = "host-crypto"))]
fn check_rsa_length(key: &rsa::RsaPublicKey, signature: &[u8]) -> Result<(), Refusal> {
    if signature.len() == key.size() { Ok(()) } else { Err(Refusal::BadSignature) }
}

/// Verifies `signature` over `signing_input` with `key` under `alg`, in the
/// host (`ward:auth/crypto`). Same rules as the in-guest path: exact lengths,
/// JOSE `r || s` for ES256, full 32-byte HMAC tags.
#[cfg(feature = "host-crypto")]
pub fn verify(alg: Alg, key: VerifyKey<'_>, signing_input: &[u8], signature: &[u8]) -> Result<SignatureValid, Refusal> {
    use ward_guest::crypto;
    if signing_input.len() > crypto::MAX_MESSAGE_BYTES {
        return Err(Refusal::Malformed);
    }
    let verified = match (alg, key) {
        // The host refuses non-canonical S and small-order keys
        // (docs/host-crypto.md compares it with verify_strict).
        (Alg::EdDsa, VerifyKey::Public(JwkKey::Ed25519(key))) => crypto::verify_ed25519(&key, signing_input, signature),
        (Alg::Es256, VerifyKey::Public(JwkKey::P256(key))) => crypto::verify_ecdsa_p256_sha256(&key, signing_input, signature),
        (Alg::Rs256, VerifyKey::Public(JwkKey::Rsa { n, e })) => {
            signature.len() == n.len() && crypto::verify_rsa_pkcs1v15_sha256(&n, &e, signing_input, signature)
        }
        (Alg::Ps256, VerifyKey::Public(JwkKey::Rsa { n, e })) => signature.len() == n.len() && crypto::verify_rsa_pss_sha256(&n, &e, signing_input, signature),
        (Alg::Hs256, VerifyKey::Hmac(secret)) => {
            if secret.len() > crypto::MAX_KEY_BYTES {
                return Err(Refusal::Misconfigured);
            }
            crypto::verify_hmac_sha256(secret, signing_input, signature)
        }
        _ => false,
    };
    if verified { Ok(SignatureValid { _sealed: () }) } else { Err(Refusal::BadSignature) }
}
