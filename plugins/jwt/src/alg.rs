//! The JWS algorithms this plugin implements, by their JOSE names
//! (RFC 7518 §3.1, RFC 8037 §3.1).

use ward_guest::keys;

/// A signature or MAC algorithm. `none` is deliberately not one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    /// Ed25519 (the only `EdDSA` curve accepted).
    EdDsa,
    /// ECDSA over P-256 with SHA-256, 64-byte `r || s` signatures.
    Es256,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PSS with SHA-256, MGF1-SHA-256, 32-byte salt.
    Ps256,
    /// HMAC-SHA-256 with a shared secret from key material.
    Hs256,
}

impl Alg {
    /// Exact, case-sensitive: `none`, `None`, `rs256` and `RS512` are not
    /// algorithms here, so there is no spelling that slips past a check.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "EdDSA" => Some(Self::EdDsa),
            "ES256" => Some(Self::Es256),
            "RS256" => Some(Self::Rs256),
            "PS256" => Some(Self::Ps256),
            "HS256" => Some(Self::Hs256),
            _ => None,
        }
    }

    /// The algorithm as the JWKS index knows it; `None` for HS256, whose
    /// secret is never in a JWKS.
    pub fn jwk(self) -> Option<keys::Alg> {
        match self {
            Self::EdDsa => Some(keys::Alg::EdDsa),
            Self::Es256 => Some(keys::Alg::Es256),
            Self::Rs256 => Some(keys::Alg::Rs256),
            Self::Ps256 => Some(keys::Alg::Ps256),
            Self::Hs256 => None,
        }
    }
}
