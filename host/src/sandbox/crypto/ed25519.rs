//! `verify-ed25519`: ed25519-dalek, with decompressed public keys remembered
//! per thread.
//!
//! Why not ring, which serves the other four functions: measured on this
//! project's VM in one binary, ring's Ed25519 check takes 52 µs, dalek's
//! `verify` 42 µs decompressing the key and 38 µs with it already
//! decompressed (docs/host-crypto.md, "Libraries"). ed25519-dalek is the
//! library the trust gate already verifies envelope signatures with, so the
//! host still has one implementation per algorithm.
//!
//! What it accepts is what ring accepted, and less: `S` must be canonical
//! (below the group order), the equation is the cofactorless one, and on
//! top of that a small-order ("weak") public key is refused, since under
//! such a key one signature verifies for many messages.
//!
//! Two memos, neither of which makes an answer depend on history:
//! - decompressed keys: a key's bytes decide its point, the memo only skips
//!   recomputing it;
//! - signatures that verified: Ed25519 verification is deterministic, so a
//!   (key, message, signature) that verified once verifies again. A gateway
//!   sees the same bearer token on every request of its lifetime, and this
//!   makes every check after the first a SHA-256 (~1 µs) instead of a
//!   curve computation (~38 µs). Envoy's `jwt_authn` caches verified tokens
//!   the same way (`jwt_cache_config`). Entries are SHA-256 digests of the
//!   three inputs, so a hit needs the very bytes that verified (finding
//!   another triple with the same digest is a SHA-256 collision); only
//!   successes are stored, so filling the memo takes valid signatures.
//!
//! Both hold public data only (nothing secret, nothing a guest could not
//! compute), are bounded, and are per thread so calls on different threads
//! never wait for each other. The guest is charged the same fuel hit or
//! miss (`mod.rs`), so its budget does not reveal the memo; a hit is faster
//! in wall time, which tells a guest only that a token it already holds
//! was checked on this thread before.

use std::cell::RefCell;

use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use sha2::{Digest as _, Sha256};

/// Keys remembered per thread. A JWKS holds a handful of Ed25519 keys; a
/// guest cycling through more than this only loses the shortcut.
const REMEMBERED_KEYS: usize = 16;

thread_local! {
    static KEYS: RefCell<Remembered> = const { RefCell::new(Remembered { keys: Vec::new(), next: 0 }) };
}

/// Decompressed keys, replaced round-robin once full.
struct Remembered {
    keys: Vec<VerifyingKey>,
    next: usize,
}

impl Remembered {
    fn find(&self, bytes: &[u8; 32]) -> Option<VerifyingKey> {
        self.keys.iter().find(|key| key.as_bytes() == bytes).copied()
    }

    fn remember(&mut self, key: VerifyingKey) {
        if self.keys.len() < REMEMBERED_KEYS {
            self.keys.push(key);
        } else if let Some(slot) = self.keys.get_mut(self.next) {
            *slot = key;
            self.next = (self.next + 1) % REMEMBERED_KEYS;
        }
    }
}

/// Verified signatures remembered per thread: 32 KiB of digests.
const REMEMBERED_SIGNATURES: usize = 1024;

thread_local! {
    static VERIFIED: RefCell<Verified> = const { RefCell::new(Verified { slots: Vec::new() }) };
}

/// Digests of (key, signature, message) that verified, in a direct-mapped
/// table: a new entry replaces whatever shared its slot.
struct Verified {
    slots: Vec<[u8; 32]>,
}

impl Verified {
    fn slot(digest: &[u8; 32]) -> usize {
        let [low, high, ..] = *digest;
        usize::from(u16::from_le_bytes([low, high])) % REMEMBERED_SIGNATURES
    }

    fn contains(&self, digest: &[u8; 32]) -> bool {
        self.slots.get(Self::slot(digest)).is_some_and(|slot| slot == digest)
    }

    fn remember(&mut self, digest: [u8; 32]) {
        if self.slots.is_empty() {
            // All-zero digests are not what SHA-256 gives for any input here.
            self.slots = vec![[0; 32]; REMEMBERED_SIGNATURES];
        }
        if let Some(slot) = self.slots.get_mut(Self::slot(&digest)) {
            *slot = digest;
        }
    }
}

/// The memo's name for one check: every input, length-delimited so no two
/// different triples share a preimage.
fn check_digest(public_key: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> [u8; 32] {
    let mut digest = Sha256::new();
    digest.update(b"ward ed25519 verified\0");
    digest.update(public_key);
    digest.update(signature);
    digest.update((message.len() as u64).to_le_bytes());
    digest.update(message);
    digest.finalize().into()
}

/// Ed25519 (RFC 8032): true only if `signature` is `message`'s signature
/// under `public_key`, which must decode to a point of large order.
pub(super) fn verify(public_key: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
    let digest = check_digest(public_key, message, signature);
    if VERIFIED.try_with(|verified| verified.try_borrow().is_ok_and(|verified| verified.contains(&digest))).unwrap_or(false) {
        return true;
    }
    let verified = key(public_key).is_some_and(|key| key.verify(message, &Signature::from_bytes(signature)).is_ok());
    if verified {
        let _ = VERIFIED.try_with(|memo| memo.try_borrow_mut().map(|mut memo| memo.remember(digest)));
    }
    verified
}

/// The decompressed key, from this thread's memo when it is there. Falls
/// back to decompressing without the memo rather than failing if the memo
/// is unavailable (the thread is exiting).
fn key(bytes: &[u8; 32]) -> Option<VerifyingKey> {
    let remembered = KEYS.try_with(|keys| keys.try_borrow().ok().and_then(|keys| keys.find(bytes))).ok().flatten();
    if remembered.is_some() {
        return remembered;
    }
    // Points that do not decode and weak keys are not remembered: they are
    // refused every time, at the cost of a decompression the caller's fuel
    // already pays for.
    let key = VerifyingKey::from_bytes(bytes).ok().filter(|key| !key.is_weak())?;
    let _ = KEYS.try_with(|keys| keys.try_borrow_mut().map(|mut keys| keys.remember(key)));
    Some(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    #[test]
    fn remembered_keys_give_the_same_answers() {
        let signer = SigningKey::from_bytes(&[7; 32]);
        let public = signer.verifying_key().to_bytes();
        let signature = signer.sign(b"message").to_bytes();
        for _ in 0..3 {
            assert!(verify(&public, b"message", &signature));
            assert!(!verify(&public, b"messagE", &signature));
        }
        // Many other keys push it out of the memo; the answer stays.
        for seed in 0..(REMEMBERED_KEYS as u8 + 3) {
            let other = SigningKey::from_bytes(&[seed.wrapping_add(100); 32]);
            assert!(verify(&other.verifying_key().to_bytes(), b"m", &other.sign(b"m").to_bytes()));
            assert!(!verify(&other.verifying_key().to_bytes(), b"message", &signature));
        }
        assert!(verify(&public, b"message", &signature));
        KEYS.with(|keys| assert_eq!(keys.borrow().keys.len(), REMEMBERED_KEYS));
    }

    /// The signature memo answers only for the exact bytes that verified:
    /// a remembered signature over another message, under another key, or
    /// with one bit changed is checked (and refused) in full; and entries
    /// pushed out of their slot by others still verify, the long way.
    #[test]
    fn remembered_signatures_answer_only_for_the_bytes_that_verified() {
        let signer = SigningKey::from_bytes(&[11; 32]);
        let public = signer.verifying_key().to_bytes();
        let other = SigningKey::from_bytes(&[12; 32]).verifying_key().to_bytes();
        let signature = signer.sign(b"token").to_bytes();
        assert!(verify(&public, b"token", &signature));
        assert!(VERIFIED.with(|memo| memo.borrow().contains(&check_digest(&public, b"token", &signature))));
        assert!(verify(&public, b"token", &signature));
        assert!(!verify(&public, b"tokeN", &signature));
        assert!(!verify(&other, b"token", &signature));
        let mut flipped = signature;
        flipped[63] ^= 1;
        assert!(!verify(&public, b"token", &flipped));
        // A failure is never remembered.
        assert!(!VERIFIED.with(|memo| memo.borrow().contains(&check_digest(&public, b"tokeN", &signature))));
        // Twice the memo's size of other tokens: every answer stays right.
        let tokens: Vec<(Vec<u8>, [u8; 64])> = (0..2 * REMEMBERED_SIGNATURES)
            .map(|i| {
                let message = format!("token-{i}").into_bytes();
                let signature = signer.sign(&message).to_bytes();
                (message, signature)
            })
            .collect();
        for (message, signature) in &tokens {
            assert!(verify(&public, message, signature));
        }
        for (message, signature) in &tokens {
            assert!(verify(&public, message, signature));
            assert!(!verify(&other, message, signature));
        }
        assert!(verify(&public, b"token", &signature));
    }

    #[test]
    fn non_canonical_s_is_refused() {
        // S + l verifies in the group but is not the canonical encoding.
        const ORDER: [u8; 32] =
            [0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10];
        let signer = SigningKey::from_bytes(&[9; 32]);
        let public = signer.verifying_key().to_bytes();
        let mut signature = signer.sign(b"m").to_bytes();
        assert!(verify(&public, b"m", &signature));
        let mut carry = 0u16;
        for (byte, add) in signature[32..].iter_mut().zip(ORDER) {
            let sum = u16::from(*byte) + u16::from(add) + carry;
            *byte = sum as u8;
            carry = sum >> 8;
        }
        assert_eq!(carry, 0, "S + l fits 32 bytes for this key and message");
        assert!(!verify(&public, b"m", &signature));
    }

    #[test]
    fn weak_keys_are_refused_even_with_a_valid_equation() {
        // The identity point (y = 1) is of small order; with R = identity
        // and S = 0, the cofactorless equation [S]B = R + [k]A holds for
        // every message, which is exactly why such keys are refused.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let mut signature = [0u8; 64];
        signature[0] = 1;
        assert!(VerifyingKey::from_bytes(&identity).is_ok_and(|key| key.is_weak()));
        assert!(!verify(&identity, b"any message", &signature));
        assert!(!verify(&identity, b"another", &signature));
    }
}
