//! The signed identity assertion: a short-lived JWT (EdDSA) that the proxy
//! passes to the upstream in `X-Ward-Assertion`, so that the upstream can
//! check who ward vouched for by signature instead of by network position,
//! with the public keys ward serves at `GET /.well-known/jwks.json`.
//!
//! - `jwt.rs`: one assertion: the claims (the host-built identity, never the
//!   plugin's subject) and the signature.
//! - `jwks.rs`: the public keys as a JWK Set.
//!
//! Keys: several may be configured, each with a `kid`; every one is
//! published, and the newest that has a private key (the last of those in
//! the config) signs. A retired key stays published, from its public half
//! only, until the assertions it signed have expired. Private key bytes
//! never leave [`Signer`]: `Debug` redacts them and the JWK Set is built
//! from the public halves.

mod jwks;
mod jwt;

use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::VerifyingKey;

use crate::trust::SigningSecret;

pub use jwt::Binding;

/// The default lifetime of an assertion.
pub const DEFAULT_TTL: Duration = Duration::from_secs(60);
/// The longest lifetime accepted: an assertion is for one request.
pub const MAX_TTL: Duration = Duration::from_secs(3600);
/// The response header that carries it.
pub const HEADER: &str = "x-ward-assertion";

/// One configured key.
#[derive(Debug)]
pub struct AssertionKey {
    /// Its `kid`: 1 to 64 characters of `[A-Za-z0-9._-]`.
    pub kid: String,
    /// The public half, published.
    pub public: VerifyingKey,
    /// The private half, when configured (a retired key has none).
    pub secret: Option<SigningSecret>,
}

/// Why the keys cannot make a signer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AssertionError {
    /// No key has a private half.
    #[error("no key has a keyFile: the newest key with one signs")]
    NoSigningKey,
    /// A `kid` repeats another or is not 1 to 64 of `[A-Za-z0-9._-]`.
    #[error("kid must be 1 to 64 characters of [A-Za-z0-9._-] and unique")]
    BadKid {
        /// The key's index in the config.
        index: usize,
    },
    /// A lifetime of 0 or past [`MAX_TTL`].
    #[error("must be 1 to 3600 seconds")]
    BadTtl,
}

/// Signs assertions with the newest private key and serves the JWK Set.
pub struct Signer {
    kid: String,
    secret: SigningSecret,
    issuer: String,
    ttl_secs: u64,
    jwks: Arc<[u8]>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("kid", &self.kid).field("issuer", &self.issuer).field("ttl_secs", &self.ttl_secs).finish_non_exhaustive()
    }
}

impl Signer {
    /// `keys` in config order; the last with a private half signs.
    pub fn new(keys: Vec<AssertionKey>, issuer: String, ttl: Duration) -> Result<Self, AssertionError> {
        if ttl.is_zero() || ttl > MAX_TTL {
            return Err(AssertionError::BadTtl);
        }
        for (index, key) in keys.iter().enumerate() {
            let taken = keys.iter().take(index).any(|k| k.kid == key.kid);
            if taken || key.kid.is_empty() || key.kid.len() > 64 || !key.kid.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) {
                return Err(AssertionError::BadKid { index });
            }
        }
        let jwks = jwks::document(keys.iter().map(|k| (k.kid.as_str(), &k.public)));
        let (kid, secret) = keys.into_iter().rev().find_map(|k| k.secret.map(|s| (k.kid, s))).ok_or(AssertionError::NoSigningKey)?;
        Ok(Self { kid, secret, issuer, ttl_secs: ttl.as_secs(), jwks: Arc::from(jwks.into_bytes()) })
    }

    /// The JWK Set, as served: public keys only.
    pub fn jwks(&self) -> &Arc<[u8]> {
        &self.jwks
    }

    /// The `kid` that signs.
    pub fn signing_kid(&self) -> &str {
        &self.kid
    }
}
