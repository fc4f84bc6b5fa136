//! Host-side mirror of `wit/ward-auth.wit`, written by hand instead of with
//! `bindgen!` for one reason: the result side uses [`WasmStr`] and
//! [`WasmList`], which point into guest memory without copying. The host can
//! then check a 10 MiB subject's length, or a million-entry scope list's
//! count, before it allocates anything. wasmtime type-checks these types
//! against the component's export by name, so a drift from the WIT fails at
//! load, not at call time.

use wasmtime::component::{ComponentType, Lift, Lower, WasmList, WasmStr};

/// The exported interface every plugin must provide, and nothing else.
pub const AUTHENTICATOR_INTERFACE: &str = "ward:auth/authenticator@0.1.0";
/// The one function of that interface.
pub const AUTHENTICATE_FUNC: &str = "authenticate";

#[derive(ComponentType, Lower)]
#[component(record)]
pub struct Credential<'a> {
    pub scheme: &'a str,
    pub token: &'a str,
}

#[derive(ComponentType, Lower)]
#[component(record)]
pub struct KeyMaterial<'a> {
    pub name: &'a str,
    pub data: &'a [u8],
}

#[derive(ComponentType, Lower)]
#[component(record)]
pub struct RequestContext<'a> {
    #[component(name = "now-ms")]
    pub now_ms: u64,
    pub settings: &'a [(String, String)],
    pub keys: &'a [KeyMaterial<'a>],
}

// Variants are built by `Lift` from guest values, which rustc cannot see.
#[allow(dead_code)]
#[derive(ComponentType, Lift, Clone, Copy, Debug, PartialEq, Eq)]
#[component(enum)]
#[repr(u8)]
pub enum PrincipalType {
    #[component(name = "user")]
    User,
    #[component(name = "service")]
    Service,
    #[component(name = "agent")]
    Agent,
}

/// Claims as they sit in guest memory: nothing is copied until checked.
#[derive(ComponentType, Lift)]
#[component(record)]
pub struct RawClaims {
    pub subject: WasmStr,
    pub issuer: Option<WasmStr>,
    #[component(name = "principal-type")]
    pub principal_type: PrincipalType,
    pub scopes: WasmList<WasmStr>,
    pub labels: WasmList<(WasmStr, WasmStr)>,
}

#[allow(dead_code)]
#[derive(ComponentType, Lift, Clone, Copy, Debug, PartialEq, Eq)]
#[component(enum)]
#[repr(u8)]
pub enum GuestDeny {
    #[component(name = "missing-credential")]
    MissingCredential,
    #[component(name = "malformed")]
    Malformed,
    #[component(name = "bad-signature")]
    BadSignature,
    #[component(name = "expired")]
    Expired,
    #[component(name = "not-yet-valid")]
    NotYetValid,
    #[component(name = "wrong-issuer")]
    WrongIssuer,
    #[component(name = "wrong-audience")]
    WrongAudience,
    #[component(name = "unknown-key")]
    UnknownKey,
    #[component(name = "revoked")]
    Revoked,
    #[component(name = "insufficient-scope")]
    InsufficientScope,
    #[component(name = "denied")]
    Denied,
}

pub type AuthenticateParams<'a> = (Credential<'a>, RequestContext<'a>);
pub type AuthenticateResults = (Result<RawClaims, GuestDeny>,);
