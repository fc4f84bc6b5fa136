//! `ward:auth/crypto@0.2.0`: signature and MAC verification done natively by
//! the host (ring; Ed25519 by ed25519-dalek, `ed25519.rs`) for plugins whose
//! signed envelope declares `hostCrypto`.
//!
//! Guarantees of this file:
//! - Linked only into the linker of components that import the interface
//!   and are allowed to (`imports.rs`, `runtime.rs`); other plugins cannot
//!   see it.
//! - Pure: no host keys, nothing the guest could not compute itself, no
//!   answer that depends on earlier calls (the memos of decompressed
//!   Ed25519 public keys and of Ed25519 checks that passed only save
//!   recomputing them, `ed25519.rs`; fuel is charged the same). Every function
//!   returns `false` for anything but a signature or tag that verifies, and
//!   never panics or traps on any input.
//! - Bounded: arguments are read in place from guest memory (`WasmList`, no
//!   copy, no host allocation proportional to input), every length is
//!   checked against its cap before any cryptographic work, and each call
//!   that does work is charged to the guest's fuel, so a guest looping over
//!   host calls still runs out of budget (host work itself is not metered by
//!   wasmtime).

mod ed25519;

use ring::{hmac, signature};
use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, WasmList};

use super::fuel::charge_fuel;

/// The imported interface, exactly as a component names it: 0.2.0's, and
/// 0.3.0's, which is identical.
pub const CRYPTO_INTERFACE: &str = "ward:auth/crypto@0.2.0";
/// The same interface in `ward:auth@0.3.0`.
pub const CRYPTO_INTERFACE_0_3: &str = "ward:auth/crypto@0.3.0";

/// The longest message any function accepts. A JWT signing input is far
/// smaller (ward's default credential cap is 8 KiB).
pub const MAX_MESSAGE_BYTES: usize = 32 << 10;
/// The longest public key, modulus, signature or HMAC key: an 8192-bit modulus.
pub const MAX_KEY_BYTES: usize = 1024;
/// The longest RSA public exponent (ring accepts up to 2^33 - 1).
pub const MAX_EXPONENT_BYTES: usize = 8;
/// RSA moduli outside this range of bits are refused.
pub const RSA_BITS: std::ops::RangeInclusive<usize> = 2048..=8192;

/// Fuel charged per call that reaches the cryptography, per algorithm, on
/// top of [`FUEL_PER_MESSAGE_BYTE`]: about the fuel the guest would burn
/// in the time the host spends (a fuel unit is roughly one wasm instruction).
const FUEL_ED25519: u64 = 100_000;
const FUEL_ECDSA_P256: u64 = 200_000;
/// Per 256 bytes of modulus: verification cost grows with its square, this
/// charges linearly but generously.
const FUEL_RSA_PER_256_BYTES: u64 = 100_000;
const FUEL_HMAC: u64 = 2_000;
const FUEL_PER_MESSAGE_BYTE: u64 = 4;

/// Ed25519 (RFC 8032): 32-byte key of large order, 64-byte signature with
/// canonical `S`.
pub fn verify_ed25519(public_key: &[u8], message: &[u8], sig: &[u8]) -> bool {
    let (Ok(public_key), Ok(sig)) = (<&[u8; 32]>::try_from(public_key), <&[u8; 64]>::try_from(sig)) else { return false };
    message.len() <= MAX_MESSAGE_BYTES && ed25519::verify(public_key, message, sig)
}

/// ECDSA P-256 SHA-256: uncompressed SEC1 key (65 bytes), `r || s` (64 bytes).
pub fn verify_ecdsa_p256_sha256(public_key: &[u8], message: &[u8], sig: &[u8]) -> bool {
    if public_key.len() != 65 || sig.len() != 64 || message.len() > MAX_MESSAGE_BYTES {
        return false;
    }
    signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, public_key).verify(message, sig).is_ok()
}

/// Which RSA padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RsaPadding {
    /// RSASSA-PKCS1-v1_5.
    Pkcs1v15,
    /// RSASSA-PSS, MGF1-SHA-256, salt as long as the hash.
    Pss,
}

/// RSA with SHA-256: big-endian modulus and exponent (leading zeros allowed),
/// 2048 to 8192 bits, a signature exactly as long as the modulus.
pub fn verify_rsa_sha256(padding: RsaPadding, modulus: &[u8], exponent: &[u8], message: &[u8], sig: &[u8]) -> bool {
    if modulus.len() > MAX_KEY_BYTES || exponent.len() > MAX_EXPONENT_BYTES || sig.len() > MAX_KEY_BYTES || message.len() > MAX_MESSAGE_BYTES {
        return false;
    }
    // ring wants minimal encodings; leading zeros do not change the number.
    let n = strip_leading_zeros(modulus);
    let e = strip_leading_zeros(exponent);
    // ring itself rounds the lower bound up to whole bytes; ward's is exact.
    if !RSA_BITS.contains(&bit_length(n)) || sig.len() != n.len() {
        return false;
    }
    let params = match padding {
        RsaPadding::Pkcs1v15 => &signature::RSA_PKCS1_2048_8192_SHA256,
        RsaPadding::Pss => &signature::RSA_PSS_2048_8192_SHA256,
    };
    signature::RsaPublicKeyComponents { n, e }.verify(params, message, sig).is_ok()
}

/// HMAC-SHA-256 against a full 32-byte tag, in constant time.
pub fn verify_hmac_sha256(key: &[u8], message: &[u8], tag: &[u8]) -> bool {
    if key.is_empty() || key.len() > MAX_KEY_BYTES || tag.len() != 32 || message.len() > MAX_MESSAGE_BYTES {
        return false;
    }
    hmac::verify(&hmac::Key::new(hmac::HMAC_SHA256, key), message, tag).is_ok()
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or_default()
}

/// Bits of a big-endian number without leading zero bytes.
fn bit_length(minimal: &[u8]) -> usize {
    match minimal.first() {
        None => 0,
        Some(top) => (minimal.len() - 1) * 8 + (8 - top.leading_zeros() as usize),
    }
}

fn message_fuel(message: usize) -> u64 {
    (message.min(MAX_MESSAGE_BYTES) as u64).saturating_mul(FUEL_PER_MESSAGE_BYTE)
}

type Lists3 = (WasmList<u8>, WasmList<u8>, WasmList<u8>);
type Lists4 = (WasmList<u8>, WasmList<u8>, WasmList<u8>, WasmList<u8>);

/// A check over (key, message, signature or tag), all read in place.
type VerifyThree = fn(&[u8], &[u8], &[u8]) -> bool;

/// Links the five functions under [`CRYPTO_INTERFACE`] and
/// [`CRYPTO_INTERFACE_0_3`]. Called only for the linkers that serve
/// components allowed to import them.
pub(crate) fn add_host_crypto<T: 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    add_host_crypto_as(linker, CRYPTO_INTERFACE)?;
    add_host_crypto_as(linker, CRYPTO_INTERFACE_0_3)
}

fn add_host_crypto_as<T: 'static>(linker: &mut Linker<T>, interface: &str) -> wasmtime::Result<()> {
    let mut instance = linker.instance(interface)?;
    let three_lists: [(&str, VerifyThree, u64); 3] = [
        ("verify-ed25519", verify_ed25519, FUEL_ED25519),
        ("verify-ecdsa-p256-sha256", verify_ecdsa_p256_sha256, FUEL_ECDSA_P256),
        ("verify-hmac-sha256", verify_hmac_sha256, FUEL_HMAC),
    ];
    for (name, verify, fuel) in three_lists {
        instance.func_wrap(name, move |mut cx: StoreContextMut<'_, T>, (key, message, sig): Lists3| {
            let ok = verify(key.as_le_slice(&cx), message.as_le_slice(&cx), sig.as_le_slice(&cx));
            charge_fuel(&mut cx, fuel + message_fuel(message.len()));
            Ok((ok,))
        })?;
    }
    for (name, padding) in [("verify-rsa-pkcs1v15-sha256", RsaPadding::Pkcs1v15), ("verify-rsa-pss-sha256", RsaPadding::Pss)] {
        instance.func_wrap(name, move |mut cx: StoreContextMut<'_, T>, (n, e, message, sig): Lists4| {
            let ok = verify_rsa_sha256(padding, n.as_le_slice(&cx), e.as_le_slice(&cx), message.as_le_slice(&cx), sig.as_le_slice(&cx));
            let blocks = (n.len().min(MAX_KEY_BYTES) as u64).div_ceil(256).max(1);
            charge_fuel(&mut cx, FUEL_RSA_PER_256_BYTES * blocks + message_fuel(message.len()));
            Ok((ok,))
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair};

    #[test]
    fn ed25519_verifies_only_the_signed_message_under_its_key() {
        let rng = SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let sig = pair.sign(b"hello");
        let key = pair.public_key().as_ref();
        assert!(verify_ed25519(key, b"hello", sig.as_ref()));
        assert!(!verify_ed25519(key, b"hellO", sig.as_ref()));
        let mut bad = sig.as_ref().to_vec();
        bad[3] ^= 1;
        assert!(!verify_ed25519(key, b"hello", &bad));
        assert!(!verify_ed25519(&key[..31], b"hello", sig.as_ref()));
        assert!(!verify_ed25519(key, b"hello", &sig.as_ref()[..63]));
        assert!(!verify_ed25519(&[0; 32], b"hello", &[0; 64]));
    }

    #[test]
    fn ecdsa_takes_fixed_signatures_only() {
        let rng = SystemRandom::new();
        let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap();
        let sig = pair.sign(&rng, b"msg").unwrap();
        let key = pair.public_key().as_ref();
        assert_eq!(key.len(), 65);
        assert!(verify_ecdsa_p256_sha256(key, b"msg", sig.as_ref()));
        assert!(!verify_ecdsa_p256_sha256(key, b"msG", sig.as_ref()));
        assert!(!verify_ecdsa_p256_sha256(key, b"msg", &[0; 64]));
        // DER (longer than 64 bytes) is refused by length before any work.
        assert!(!verify_ecdsa_p256_sha256(key, b"msg", &[0x30; 71]));
        // A point off the curve.
        let mut off = key.to_vec();
        off[64] ^= 1;
        assert!(!verify_ecdsa_p256_sha256(&off, b"msg", sig.as_ref()));
    }

    #[test]
    fn hmac_needs_the_full_tag_and_the_key() {
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"secret-key");
        let tag = hmac::sign(&key, b"data");
        assert!(verify_hmac_sha256(b"secret-key", b"data", tag.as_ref()));
        assert!(!verify_hmac_sha256(b"secret-kex", b"data", tag.as_ref()));
        assert!(!verify_hmac_sha256(b"secret-key", b"data", &tag.as_ref()[..16]));
        assert!(!verify_hmac_sha256(b"", b"data", tag.as_ref()));
        assert!(!verify_hmac_sha256(&[1; MAX_KEY_BYTES + 1], b"data", tag.as_ref()));
    }

    #[test]
    fn caps_refuse_before_any_work() {
        let big = vec![0u8; MAX_MESSAGE_BYTES + 1];
        assert!(!verify_ed25519(&[0; 32], &big, &[0; 64]));
        assert!(!verify_ecdsa_p256_sha256(&[4; 65], &big, &[0; 64]));
        assert!(!verify_hmac_sha256(b"k", &big, &[0; 32]));
        let n = vec![0xff; 256];
        assert!(!verify_rsa_sha256(RsaPadding::Pkcs1v15, &n, &[1, 0, 1], &big, &[0; 256]));
        // Moduli: too long, too short by one bit, empty; exponent too long.
        assert!(!verify_rsa_sha256(RsaPadding::Pkcs1v15, &[0xff; MAX_KEY_BYTES + 1], &[3], b"m", &[0; 1025]));
        let mut short = vec![0xff; 256];
        short[0] = 0x7f;
        assert!(!verify_rsa_sha256(RsaPadding::Pss, &short, &[3], b"m", &[0; 256]));
        assert!(!verify_rsa_sha256(RsaPadding::Pss, &[], &[3], b"m", &[]));
        assert!(!verify_rsa_sha256(RsaPadding::Pss, &n, &[1; 9], b"m", &[0; 256]));
        assert_eq!(bit_length(strip_leading_zeros(&[0, 0, 1, 0])), 9);
        assert_eq!(bit_length(strip_leading_zeros(&[0, 0])), 0);
    }

    #[test]
    fn nothing_panics_on_arbitrary_lengths() {
        for len in [0usize, 1, 31, 32, 33, 63, 64, 65, 255, 256, 257, 1024] {
            let bytes = vec![0xa5; len];
            let _ = verify_ed25519(&bytes, &bytes, &bytes);
            let _ = verify_ecdsa_p256_sha256(&bytes, &bytes, &bytes);
            let _ = verify_rsa_sha256(RsaPadding::Pkcs1v15, &bytes, &bytes, &bytes, &bytes);
            let _ = verify_rsa_sha256(RsaPadding::Pss, &bytes, &[1, 0, 1], &bytes, &bytes);
            let _ = verify_hmac_sha256(&bytes, &bytes, &bytes);
        }
    }
}
