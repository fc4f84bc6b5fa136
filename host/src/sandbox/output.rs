//! Reading the guest's claims out of its memory under the sanitizer: every
//! length and count is checked in place before anything is copied.

use wasmtime::Store;
use wasmtime::component::WasmStr;

use crate::identity::{ClaimsPolicy, InvalidClaims, PrincipalType, SanitizedClaims};

use super::abi::{self, RawClaims};
use super::call::CallState;

/// Why the guest's output could not be accepted.
pub(crate) enum OutputError {
    /// The claims broke a sanitizer rule.
    Invalid(InvalidClaims),
    /// The guest handed back something that is not readable (bad UTF-8,
    /// out-of-bounds list): malformed output, treated like a trap.
    Unreadable,
}

impl From<InvalidClaims> for OutputError {
    fn from(err: InvalidClaims) -> Self {
        Self::Invalid(err)
    }
}

pub(crate) fn read_claims(store: &mut Store<CallState>, raw: &RawClaims, policy: &ClaimsPolicy) -> Result<SanitizedClaims, OutputError> {
    let mut sanitizer = policy.sanitizer();
    // Counts first: a million-entry list is refused before one entry is read.
    sanitizer.expect_scopes(raw.scopes.len())?;
    sanitizer.expect_labels(raw.labels.len())?;
    with_str(store, &raw.subject, |s| sanitizer.subject(s))?;
    if let Some(issuer) = &raw.issuer {
        with_str(store, issuer, |s| sanitizer.issuer(s))?;
    }
    for index in 0..raw.scopes.len() {
        let scope = raw.scopes.get(&mut *store, index).ok_or(OutputError::Unreadable)?.map_err(|_| OutputError::Unreadable)?;
        with_str(store, &scope, |s| sanitizer.scope(s))?;
    }
    for index in 0..raw.labels.len() {
        let (key, value) = raw.labels.get(&mut *store, index).ok_or(OutputError::Unreadable)?.map_err(|_| OutputError::Unreadable)?;
        let key = key.to_str(&*store).map_err(|_| OutputError::Unreadable)?;
        let value = value.to_str(&*store).map_err(|_| OutputError::Unreadable)?;
        sanitizer.label(&key, &value)?;
    }
    Ok(sanitizer.finish(principal_type(raw.principal_type))?)
}

/// Borrows the string from guest memory (no copy for UTF-8 guests) and hands
/// it to a sanitizer check, which copies it only if it passes.
fn with_str(
    store: &Store<CallState>,
    text: &WasmStr,
    check: impl FnOnce(&str) -> Result<(), InvalidClaims>,
) -> Result<(), OutputError> {
    let text = text.to_str(store).map_err(|_| OutputError::Unreadable)?;
    Ok(check(&text)?)
}

fn principal_type(raw: abi::PrincipalType) -> PrincipalType {
    match raw {
        abi::PrincipalType::User => PrincipalType::User,
        abi::PrincipalType::Service => PrincipalType::Service,
        abi::PrincipalType::Agent => PrincipalType::Agent,
    }
}
