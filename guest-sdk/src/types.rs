//! Plain-Rust mirrors of the WIT records, so plugin code never names
//! generated types. Conversions move the strings; nothing is copied.

use crate::wit;

/// The credential slice the host cut out of the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// Lower-case scheme: `bearer`, `basic`, `api-key`.
    pub scheme: String,
    /// The credential exactly as received.
    pub token: String,
}

/// Operator-declared key material, fetched by the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// The name the operator gave it.
    pub name: String,
    /// The bytes as fetched.
    pub data: Vec<u8>,
}

/// Everything a plugin may know besides the credential.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    /// The host's clock in Unix milliseconds (the guest has no clock).
    pub now_ms: u64,
    /// The operator's settings for this plugin, in config order.
    pub settings: Vec<(String, String)>,
    /// Key material the operator declared.
    pub keys: Vec<Key>,
}

impl Context {
    /// The first setting called `name`, if any.
    pub fn setting(&self, name: &str) -> Option<&str> {
        self.settings.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The bytes of the first key called `name`, if any.
    pub fn key(&self, name: &str) -> Option<&[u8]> {
        self.keys.iter().find(|k| k.name == name).map(|k| k.data.as_slice())
    }
}

/// What kind of caller a credential belongs to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PrincipalType {
    /// A person.
    #[default]
    User,
    /// A machine or workload.
    Service,
    /// An automated agent acting for someone.
    Agent,
}

/// What the plugin asserts about the caller. The host sanitizes every field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// The caller's stable identifier at the issuer; must be non-empty.
    pub subject: String,
    /// Who vouched for the subject.
    pub issuer: Option<String>,
    /// What kind of caller this is.
    pub principal_type: PrincipalType,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Labels; the host rejects keys outside the operator's allowlist.
    pub labels: Vec<(String, String)>,
}

impl Claims {
    /// Claims for a user called `subject`, with nothing else set.
    pub fn new(subject: impl Into<String>) -> Self {
        Self { subject: subject.into(), issuer: None, principal_type: PrincipalType::User, scopes: Vec::new(), labels: Vec::new() }
    }

    /// Sets the issuer.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Sets the principal type.
    pub fn principal(mut self, principal_type: PrincipalType) -> Self {
        self.principal_type = principal_type;
        self
    }

    /// Adds one scope.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scopes.push(scope.into());
        self
    }

    /// Adds one label.
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.push((key.into(), value.into()));
        self
    }
}

/// Why a plugin refuses a credential. An enum, not text: the host passes on
/// only these codes (`plugin:<kebab-case>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deny {
    /// No credential of the expected scheme was present.
    MissingCredential,
    /// The credential could not be parsed.
    Malformed,
    /// The signature or MAC did not verify.
    BadSignature,
    /// Past its expiry.
    Expired,
    /// Not valid yet.
    NotYetValid,
    /// The issuer is not the configured one.
    WrongIssuer,
    /// The audience is not the configured one.
    WrongAudience,
    /// Names a key the plugin does not have.
    UnknownKey,
    /// The credential or its key has been revoked.
    Revoked,
    /// Known caller, missing a required scope.
    InsufficientScope,
    /// Any other refusal.
    Denied,
}

impl From<wit::Credential> for Credential {
    fn from(c: wit::Credential) -> Self {
        Self { scheme: c.scheme, token: c.token }
    }
}

impl From<wit::RequestContext> for Context {
    fn from(c: wit::RequestContext) -> Self {
        Self { now_ms: c.now_ms, settings: c.settings, keys: c.keys.into_iter().map(|k| Key { name: k.name, data: k.data }).collect() }
    }
}

impl From<PrincipalType> for wit::PrincipalType {
    fn from(p: PrincipalType) -> Self {
        match p {
            PrincipalType::User => Self::User,
            PrincipalType::Service => Self::Service,
            PrincipalType::Agent => Self::Agent,
        }
    }
}

impl From<Claims> for wit::Claims {
    fn from(c: Claims) -> Self {
        Self { subject: c.subject, issuer: c.issuer, principal_type: c.principal_type.into(), scopes: c.scopes, labels: c.labels }
    }
}

impl From<Deny> for wit::DenyReason {
    fn from(d: Deny) -> Self {
        match d {
            Deny::MissingCredential => Self::MissingCredential,
            Deny::Malformed => Self::Malformed,
            Deny::BadSignature => Self::BadSignature,
            Deny::Expired => Self::Expired,
            Deny::NotYetValid => Self::NotYetValid,
            Deny::WrongIssuer => Self::WrongIssuer,
            Deny::WrongAudience => Self::WrongAudience,
            Deny::UnknownKey => Self::UnknownKey,
            Deny::Revoked => Self::Revoked,
            Deny::InsufficientScope => Self::InsufficientScope,
            Deny::Denied => Self::Denied,
        }
    }
}
