//! The trust gate: a plugin loads only if its signed envelope verifies
//! against the operator's trust anchors and policy.
//!
//! **What the gate guarantees.** [`verify`] returns a [`VerifiedPlugin`]
//! only when, for the exact entry bytes it was given:
//! 1. the envelope is well-formed JSON that JavaScript and Rust read alike
//!    (≤ [`MAX_ENVELOPE_BYTES`], no duplicate keys, no integers beyond ±2^53);
//! 2. `alg` is `ed25519`;
//! 3. `signerKeyId` names an operator trust anchor holding an Ed25519 key (no
//!    key is ever taken from the envelope);
//! 4. that signer is not revoked;
//! 5. sha256(entry) equals the signed `entrySha256` (constant time, before the
//!    signature, so a swapped entry is always `tampered-entry`);
//! 6. that entry hash is not revoked;
//! 7. the Ed25519 signature verifies (strictly) over canonical(payload as
//!    received);
//! 8. now lies within `notBefore`..=`notAfter`;
//! 9. the version is not below the operator's floor for the plugin id;
//! 10. version / entrySha256 / manifestSha256 match the plugin's pin, if any;
//! 11. every capability is a strict boolean, every `true` one allowlisted, and
//!     an `authProvider` declares `readsCredentials: true`;
//! 12. ward's version satisfies `coreVersionRange`.
//!
//! The order is Haechi 1.x's and is part of the contract: the first failing
//! step decides the [`Refusal`] and its [`Refusal::code`]. The envelope
//! format is byte-compatible with Haechi's (see `docs/signing.md`).
//! [`VerifiedPlugin`] has private fields and no constructor outside this
//! module, so code that needs a verified plugin cannot skip the gate.

mod canonical;
mod envelope;
mod keys;
mod policy;
mod refusal;
mod sign;
mod verify;
mod version;
mod window;

pub use canonical::{canonicalize, parse_strict};
pub use envelope::{MAX_ENVELOPE_BYTES, Payload};
pub use keys::{KeyError, MAX_PEM_BYTES, SigningSecret, public_key_from_pem, public_key_to_pem};
pub use policy::{Anchor, Pin, TrustPolicy};
pub use refusal::{ManifestProblem, PinField, REASON_CODES, Refusal};
pub use sign::{SignError, SignRequest, default_core_range, envelope_file_text, sign};
pub use verify::{CORE_VERSION, CoreContract, HAECHI_CONTRACT_VERSION, VerifiedPlugin, verify, verify_for};
pub use window::now_ms;

/// Ed25519 public keys, as anchors hold them.
pub use ed25519_dalek::VerifyingKey;

/// Entry points for `fuzz/`; not part of the API.
#[doc(hidden)]
pub mod fuzzing {
    use super::*;

    /// Runs arbitrary bytes through parse → canonicalize → verify and checks
    /// that canonicalization is a fixed point (canonical text re-parses to
    /// the same canonical text), which is what makes signatures portable.
    pub fn envelope(data: &[u8]) {
        if let Ok(value) = parse_strict(data)
            && let Ok(first) = canonicalize(&value)
        {
            let again = parse_strict(first.as_bytes()).and_then(|v| canonicalize(&v));
            assert_eq!(again.as_deref(), Ok(first.as_str()), "canonical form is not a fixed point");
        }
        let key = SigningSecret::from_seed(&[1; 32]);
        let policy = TrustPolicy::default().with_anchor("fuzz-signer", key.verifying_key()).allow("readsCredentials");
        match verify(data, b"entry".to_vec(), &policy, 1_763_856_000_000) {
            Ok(plugin) => assert_eq!(plugin.entry(), b"entry"),
            Err(refusal) => assert!(REASON_CODES.contains(&refusal.code())),
        }
    }
}
