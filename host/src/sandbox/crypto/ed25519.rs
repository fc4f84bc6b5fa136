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
//! The memo makes no answer depend on history: a key's bytes decide its
//! point, the memo only skips recomputing it. It holds public keys only
//! (nothing secret, nothing a guest could not compute), is bounded, and is
//! per thread so calls on different threads never wait for each other.

use std::cell::RefCell;

use ed25519_dalek::{Signature, Verifier, VerifyingKey};

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

/// Ed25519 (RFC 8032): true only if `signature` is `message`'s signature
/// under `public_key`, which must decode to a point of large order.
pub(super) fn verify(public_key: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
    key(public_key).is_some_and(|key| key.verify(message, &Signature::from_bytes(signature)).is_ok())
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
