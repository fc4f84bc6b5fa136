//! Signature and MAC verification done by the host, natively, through the
//! `ward:auth/crypto` import (feature `host-crypto`: `@0.2.0`, or `@0.3.0`
//! when `key-lookup` is on too; the two interfaces are identical).
//!
//! Every function returns `true` only when the signature or tag verifies;
//! anything malformed, the wrong size or over a cap is `false`, never an
//! error or a trap. The host checks the caps below before doing any work.
//! A plugin using this module loads only if its signed envelope declares
//! `hostCrypto: true` and the operator allows that capability
//! (docs/host-crypto.md).

use crate::bindings::ward::auth::crypto as wit;

/// The longest `message` the host verifies.
pub const MAX_MESSAGE_BYTES: usize = 32 << 10;
/// The longest public key, RSA modulus, signature or HMAC key.
pub const MAX_KEY_BYTES: usize = 1024;
/// The longest RSA public exponent.
pub const MAX_EXPONENT_BYTES: usize = 8;

/// Ed25519 (RFC 8032): 32-byte public key, 64-byte signature.
pub fn verify_ed25519(public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    wit::verify_ed25519(public_key, message, signature)
}

/// ECDSA P-256 with SHA-256: uncompressed SEC1 public key (65 bytes,
/// `0x04 || x || y`), signature `r || s` (64 bytes; DER is refused).
pub fn verify_ecdsa_p256_sha256(public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    wit::verify_ecdsa_p256_sha256(public_key, message, signature)
}

/// RSASSA-PKCS1-v1_5 with SHA-256. Big-endian `modulus` (2048 to 8192 bits)
/// and `exponent` (odd, 3 to 2^33-1); the signature is as long as the modulus.
pub fn verify_rsa_pkcs1v15_sha256(modulus: &[u8], exponent: &[u8], message: &[u8], signature: &[u8]) -> bool {
    wit::verify_rsa_pkcs1v15_sha256(modulus, exponent, message, signature)
}

/// RSASSA-PSS with SHA-256, MGF1-SHA-256, 32-byte salt; keys as for
/// [`verify_rsa_pkcs1v15_sha256`].
pub fn verify_rsa_pss_sha256(modulus: &[u8], exponent: &[u8], message: &[u8], signature: &[u8]) -> bool {
    wit::verify_rsa_pss_sha256(modulus, exponent, message, signature)
}

/// HMAC-SHA-256 against the full 32-byte `tag`, compared in constant time.
pub fn verify_hmac_sha256(key: &[u8], message: &[u8], tag: &[u8]) -> bool {
    wit::verify_hmac_sha256(key, message, tag)
}
