//! Host-built identity: the only place where a plugin's claims turn into
//! something that leaves the host.
//!
//! Guarantees of this room:
//! - Claims are accepted whole or not at all ([`Sanitizer`]): an allowlist of
//!   fields, size caps, no control characters, label keys from the operator's
//!   allowlist. Anything else is [`InvalidClaims`].
//! - The identity id is `HMAC-SHA256(identity key, domain-separated(plugin id,
//!   issuer, subject))`, computed here with a key that never enters a sandbox.
//! - The raw subject and issuer are private to [`SanitizedClaims`] and are
//!   consumed by [`Identity::derive`]; no accessor, `Debug` or error shows them.

mod derive;
mod key;
mod sanitize;

pub use derive::Identity;
pub use key::{IdentityKey, KeyFileError};
pub use sanitize::{ClaimsPolicy, InvalidClaims, PrincipalType, SanitizedClaims, Sanitizer};
