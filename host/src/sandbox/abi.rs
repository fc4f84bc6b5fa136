//! Host-side mirror of `wit/ward-auth.wit`, written by hand instead of with
//! `bindgen!` so the parameter side can borrow (`&str`, slices): a call
//! copies the credential and settings into the guest without cloning them on
//! the host first. wasmtime type-checks these types against the component's
//! export by name, so a drift from the WIT fails at load, not at call time.
//!
//! The result is lifted into owned values, but never unboundedly: the store's
//! hostcall fuel (`limits::MAX_RESULT_BYTES`) caps how many bytes the host
//! will copy out, and wasmtime checks it against each string's length and
//! each list's count *before* copying. (Lazy `WasmStr`/`WasmList` results
//! are no use here: wasmtime runs the guest's post-return, which frees that
//! memory, before `call` returns.)

use wasmtime::component::{ComponentType, Lift, Lower};

/// The exported interface every plugin must provide, and nothing else.
pub const AUTHENTICATOR_INTERFACE: &str = "ward:auth/authenticator@0.1.0";
/// The same interface in `ward:auth@0.2.0` (`wit/0.2.0/ward-auth.wit`), where
/// it is identical to 0.1.0's: the mirror below lifts both. A plugin built
/// against the `plugin-host-crypto` world exports this one.
pub const AUTHENTICATOR_INTERFACE_0_2: &str = "ward:auth/authenticator@0.2.0";
/// The same interface in `ward:auth@0.3.0` (`wit/0.3.0/ward-auth.wit`),
/// identical again; plugins that look up key material export this one.
pub const AUTHENTICATOR_INTERFACE_0_3: &str = "ward:auth/authenticator@0.3.0";
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

/// Claims as the guest returned them, not yet sanitized.
#[derive(ComponentType, Lift)]
#[component(record)]
pub struct RawClaims {
    pub subject: String,
    pub issuer: Option<String>,
    #[component(name = "principal-type")]
    pub principal_type: PrincipalType,
    pub scopes: Vec<String>,
    pub labels: Vec<(String, String)>,
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
