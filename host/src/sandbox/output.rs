//! Turning the guest's lifted result into sanitized claims. The lift itself
//! was already bounded by the store's hostcall fuel (see `abi.rs`).

use crate::identity::{ClaimsPolicy, InvalidClaims, PrincipalType, SanitizedClaims};

use super::abi::{self, RawClaims};

/// Why the guest's output could not be accepted.
pub(crate) enum OutputError {
    /// The claims broke a sanitizer rule.
    Invalid(InvalidClaims),
}

impl From<InvalidClaims> for OutputError {
    fn from(err: InvalidClaims) -> Self {
        Self::Invalid(err)
    }
}

pub(crate) fn read_claims(raw: &RawClaims, policy: &ClaimsPolicy) -> Result<SanitizedClaims, OutputError> {
    let mut sanitizer = policy.sanitizer();
    sanitizer.expect_scopes(raw.scopes.len())?;
    sanitizer.expect_labels(raw.labels.len())?;
    sanitizer.subject(&raw.subject)?;
    if let Some(issuer) = &raw.issuer {
        sanitizer.issuer(issuer)?;
    }
    for scope in &raw.scopes {
        sanitizer.scope(scope)?;
    }
    for (key, value) in &raw.labels {
        sanitizer.label(key, value)?;
    }
    Ok(sanitizer.finish(principal_type(raw.principal_type))?)
}

fn principal_type(raw: abi::PrincipalType) -> PrincipalType {
    match raw {
        abi::PrincipalType::User => PrincipalType::User,
        abi::PrincipalType::Service => PrincipalType::Service,
        abi::PrincipalType::Agent => PrincipalType::Agent,
    }
}
