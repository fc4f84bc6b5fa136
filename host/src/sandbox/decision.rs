//! What a call returns: allow with a host-built identity, or deny with a
//! stable reason. There is no third outcome: every failure inside the host or
//! the guest becomes a deny.

use crate::identity::{Identity, InvalidClaims};

use super::abi::GuestDeny;

/// The outcome of one authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Decision {
    /// The plugin vouched for the caller and the claims passed the sanitizer.
    Allow(Identity),
    /// The credential is refused; the reason says by whom and why.
    Deny(DenyReason),
}

impl Decision {
    /// True for [`Decision::Allow`].
    pub fn is_allow(&self) -> bool {
        matches!(self, Self::Allow(_))
    }
}

/// Why a call denied. `code()` is stable: operators, audit and tests key on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DenyReason {
    /// The request carried no credential for any configured route; no guest code ran.
    MissingCredential,
    /// The credential header is repeated or not visible ASCII; no guest code ran.
    MalformedCredential,
    /// The plugin's circuit breaker is open; no guest code ran.
    PluginUnavailable,
    /// A kill switch disabled this plugin or all plugins; no guest code ran.
    PluginsDisabled,
    /// The plugin's key material could not be fetched and no good copy is left.
    KeyMaterialUnavailable,
    /// The credential is larger than the plugin's `max_credential_bytes`; no guest code ran.
    Oversized,
    /// `max_concurrent` calls were already in flight; refused at once, not queued.
    OverCapacity,
    /// The epoch deadline passed (wall-clock timeout).
    Timeout,
    /// The fuel budget ran out.
    FuelExhausted,
    /// The guest tried to grow memory or tables past the limit.
    MemoryLimit,
    /// The guest exhausted its wasm stack.
    StackOverflow,
    /// Any other trap, or an error inside the host while calling the guest.
    Trap,
    /// The guest's claims failed the sanitizer.
    InvalidClaims,
    /// The plugin itself refused the credential.
    Plugin(PluginDeny),
    /// The plugin allowed, but the identity does not meet the matched
    /// route's `require` (route policy).
    InsufficientScope,
    /// Route policy is configured and no route matches the request; no guest code ran.
    NoRoute,
    /// A forwarded method, URI or host reads two ways (repeated, not visible
    /// ASCII, an ambiguous path); no guest code ran.
    UnroutableRequest,
}

/// The plugin's own refusal: the WIT `deny-reason` enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PluginDeny {
    /// See the WIT documentation of each case.
    MissingCredential,
    #[allow(missing_docs)]
    Malformed,
    #[allow(missing_docs)]
    BadSignature,
    #[allow(missing_docs)]
    Expired,
    #[allow(missing_docs)]
    NotYetValid,
    #[allow(missing_docs)]
    WrongIssuer,
    #[allow(missing_docs)]
    WrongAudience,
    #[allow(missing_docs)]
    UnknownKey,
    #[allow(missing_docs)]
    Revoked,
    #[allow(missing_docs)]
    InsufficientScope,
    #[allow(missing_docs)]
    Denied,
    /// A JavaScript plugin's refusal: Haechi's `{ deny: true }`, a falsy or
    /// non-object reply, a throw or rejection, a reply `JSON.stringify`
    /// refuses, a promise that never settles. Haechi answers each with 401
    /// (not authenticated) where a wasm plugin's `denied` is a 403; ward's
    /// engine returns the WIT `denied` and the host reads it as this for a
    /// plugin loaded as JavaScript (`PluginRuntime::Js`).
    NotAuthenticated,
}

impl DenyReason {
    /// The stable kebab-case code, e.g. `timeout` or `plugin:expired`.
    pub fn code(self) -> &'static str {
        match self {
            Self::MissingCredential => "missing-credential",
            Self::MalformedCredential => "malformed-credential",
            Self::PluginUnavailable => "plugin-unavailable",
            Self::PluginsDisabled => "plugins-disabled",
            Self::KeyMaterialUnavailable => "key-material-unavailable",
            Self::Oversized => "oversized",
            Self::OverCapacity => "over-capacity",
            Self::Timeout => "timeout",
            Self::FuelExhausted => "fuel-exhausted",
            Self::MemoryLimit => "memory-limit",
            Self::StackOverflow => "stack-overflow",
            Self::Trap => "trap",
            Self::InvalidClaims => "invalid-claims",
            Self::Plugin(deny) => deny.code(),
            Self::InsufficientScope => "insufficient-scope",
            Self::NoRoute => "no-route",
            Self::UnroutableRequest => "unroutable-request",
        }
    }

    /// True when the guest misbehaved (as opposed to refusing a credential):
    /// these are the outcomes a circuit breaker counts.
    pub fn is_fault(self) -> bool {
        matches!(self, Self::Timeout | Self::FuelExhausted | Self::MemoryLimit | Self::StackOverflow | Self::Trap)
    }
}

impl PluginDeny {
    /// The stable code, prefixed `plugin:`.
    pub fn code(self) -> &'static str {
        match self {
            Self::MissingCredential => "plugin:missing-credential",
            Self::Malformed => "plugin:malformed",
            Self::BadSignature => "plugin:bad-signature",
            Self::Expired => "plugin:expired",
            Self::NotYetValid => "plugin:not-yet-valid",
            Self::WrongIssuer => "plugin:wrong-issuer",
            Self::WrongAudience => "plugin:wrong-audience",
            Self::UnknownKey => "plugin:unknown-key",
            Self::Revoked => "plugin:revoked",
            Self::InsufficientScope => "plugin:insufficient-scope",
            Self::Denied => "plugin:denied",
            Self::NotAuthenticated => "plugin:not-authenticated",
        }
    }
}

impl From<GuestDeny> for PluginDeny {
    fn from(deny: GuestDeny) -> Self {
        match deny {
            GuestDeny::MissingCredential => Self::MissingCredential,
            GuestDeny::Malformed => Self::Malformed,
            GuestDeny::BadSignature => Self::BadSignature,
            GuestDeny::Expired => Self::Expired,
            GuestDeny::NotYetValid => Self::NotYetValid,
            GuestDeny::WrongIssuer => Self::WrongIssuer,
            GuestDeny::WrongAudience => Self::WrongAudience,
            GuestDeny::UnknownKey => Self::UnknownKey,
            GuestDeny::Revoked => Self::Revoked,
            GuestDeny::InsufficientScope => Self::InsufficientScope,
            GuestDeny::Denied => Self::Denied,
        }
    }
}

impl From<InvalidClaims> for DenyReason {
    fn from(_: InvalidClaims) -> Self {
        Self::InvalidClaims
    }
}
