//! Why a token is refused, and the one place that decides which WIT
//! `deny-reason` each refusal becomes (docs/plugins/jwt.md lists the mapping).

use ward_guest::Deny;

/// One meaning per variant; the variant names what went wrong, not where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The operator's settings or key material are unusable. Every call
    /// fails closed with this until the configuration is fixed.
    Misconfigured,
    /// The credential's scheme is not `bearer`.
    WrongScheme,
    /// Not a JWS compact JWT this plugin can read: size, segments,
    /// base64url, JSON, a claim of the wrong type, a missing required claim,
    /// `crit` or `b64` in the header.
    Malformed,
    /// `alg` is `none`, unknown, or not one the operator accepts.
    AlgorithmNotAccepted,
    /// No usable key fits the token's `kid` and `alg`, or more than one does.
    UnknownKey,
    /// The signature or MAC does not verify under the selected key.
    BadSignature,
    /// `exp` (plus leeway) is not after the request time.
    Expired,
    /// `nbf` or `iat` (minus leeway) is after the request time.
    NotYetValid,
    /// `iss` is missing or not the configured issuer.
    WrongIssuer,
    /// `aud` is missing or names none of the configured audiences.
    WrongAudience,
    /// A valid token for the audience that lacks a scope in
    /// `requiredScopes`: the caller is known, but not allowed (HTTP 403).
    InsufficientScope,
}

impl Refusal {
    /// The WIT reason the host sees as `plugin:<reason>`.
    pub fn deny(self) -> Deny {
        match self {
            Self::Misconfigured => Deny::Denied,
            Self::WrongScheme => Deny::MissingCredential,
            Self::Malformed => Deny::Malformed,
            // An unsigned token, or one signed in a way the operator did not
            // accept, carries no signature this plugin will verify.
            Self::AlgorithmNotAccepted | Self::BadSignature => Deny::BadSignature,
            Self::UnknownKey => Deny::UnknownKey,
            Self::Expired => Deny::Expired,
            Self::NotYetValid => Deny::NotYetValid,
            Self::WrongIssuer => Deny::WrongIssuer,
            Self::WrongAudience => Deny::WrongAudience,
            Self::InsufficientScope => Deny::InsufficientScope,
        }
    }
}
