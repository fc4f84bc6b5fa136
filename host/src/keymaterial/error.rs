//! The key-material room's typed errors.
//!
//! A key-material URL may carry a token in its path or query, and the body
//! may be a secret (an HMAC key, an API-key table), so no variant holds the
//! URL, the body or a response header: only the host name, an address, a
//! status code, a size, or a library's reason (which never quotes the body).

use std::net::IpAddr;

use super::addr::DeniedRange;
use super::index::IndexError;

/// Why key material could not be fetched, read or configured.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyMaterialError {
    /// The URL cannot be used; the reason names the rule, never the URL.
    #[error("key material url is invalid: {reason}")]
    InvalidUrl {
        /// Which rule the URL broke.
        reason: &'static str,
    },
    /// The URL has `user:password@`: credentials in URLs end up in logs.
    #[error("key material url carries userinfo (user:password@); ward refuses credentials in urls")]
    UrlUserinfo,
    /// Plain `http` to a host not in `allowHttpHosts`.
    #[error("plain http to {host} is not allowed; use https or add the host to allowHttpHosts")]
    PlainHttpNotAllowed {
        /// The URL's host.
        host: String,
    },
    /// The host name did not resolve.
    #[error("cannot resolve {host}: {reason}")]
    Resolve {
        /// The URL's host.
        host: String,
        /// The resolver's reason.
        reason: String,
    },
    /// The host name resolved to nothing.
    #[error("{host} resolved to no address")]
    NoAddress {
        /// The URL's host.
        host: String,
    },
    /// One of the host's addresses is in a denied range and no `allowCidrs`
    /// entry covers it. Nothing was connected to.
    #[error("{host} resolves to {addr}, which is {range}; refused (allowCidrs can permit it)")]
    DeniedAddress {
        /// The URL's host.
        host: String,
        /// The first denied address.
        addr: IpAddr,
        /// Its range.
        range: DeniedRange,
    },
    /// No checked address accepted a TCP connection.
    #[error("cannot connect to {host} at {addr}: {reason}")]
    Connect {
        /// The URL's host.
        host: String,
        /// The last address tried.
        addr: IpAddr,
        /// The operating system's reason.
        reason: String,
    },
    /// TCP connect or the TLS handshake took longer than `connectTimeout`.
    #[error("connecting to {host} at {addr} took longer than {timeout_ms} ms")]
    ConnectTimeout {
        /// The URL's host.
        host: String,
        /// The address tried.
        addr: IpAddr,
        /// The limit.
        timeout_ms: u64,
    },
    /// The TLS handshake failed (untrusted certificate, wrong name, alert).
    #[error("tls with {host} failed: {reason}")]
    Tls {
        /// The URL's host.
        host: String,
        /// rustls's reason.
        reason: String,
    },
    /// The HTTP exchange failed (malformed response, connection closed).
    #[error("http exchange with {host} failed: {reason}")]
    Http {
        /// The URL's host.
        host: String,
        /// hyper's reason.
        reason: String,
    },
    /// A 3xx answer. Redirects are never followed: the target would need
    /// the same checks, and the simplest safe rule is to configure the final
    /// URL. The `Location` header is not kept (it may carry a token).
    #[error("{host} answered with a redirect ({status}); redirects are not followed, configure the final url")]
    Redirect {
        /// The URL's host.
        host: String,
        /// The status code.
        status: u16,
    },
    /// Any status other than 200 or 3xx.
    #[error("{host} answered {status}; only 200 is accepted")]
    Status {
        /// The URL's host.
        host: String,
        /// The status code.
        status: u16,
    },
    /// The body (announced or counted) is larger than `maxBytes`.
    #[error("key material is larger than maxBytes ({max_bytes})")]
    TooLarge {
        /// The cap.
        max_bytes: u64,
    },
    /// The whole fetch took longer than `totalTimeout` (a slow-drip body
    /// ends here).
    #[error("fetching from {host} took longer than {timeout_ms} ms")]
    Timeout {
        /// The URL's host.
        host: String,
        /// The limit.
        timeout_ms: u64,
    },
    /// The operator's CA bundle could not be used.
    #[error("ca file {path}: {reason}")]
    CaFile {
        /// The path from config.
        path: String,
        /// What was wrong.
        reason: String,
    },
    /// A key-material file could not be read.
    #[error("cannot read key material: {reason}")]
    Read {
        /// The operating system's reason, or what kind of file it was.
        reason: String,
    },
    /// An option is out of range.
    #[error("invalid key material option {field}: {reason}")]
    InvalidOption {
        /// The config field, as spelled in `ward.json`.
        field: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// The material was read or fetched but does not index as its `format`
    /// (the last good copy, if any, keeps serving).
    #[error(transparent)]
    Index(#[from] IndexError),
    /// The fetcher itself could not be set up or run: the blocking fetch's
    /// runtime or thread, or the TLS provider.
    #[error("cannot set up the key material fetcher: {reason}")]
    Setup {
        /// The operating system's reason.
        reason: String,
    },
}

impl KeyMaterialError {
    /// Stable code for logs, audit lines and tests.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidUrl { .. } => "keymaterial-invalid-url",
            Self::UrlUserinfo => "keymaterial-url-userinfo",
            Self::PlainHttpNotAllowed { .. } => "keymaterial-plain-http",
            Self::Resolve { .. } => "keymaterial-resolve",
            Self::NoAddress { .. } => "keymaterial-no-address",
            Self::DeniedAddress { .. } => "keymaterial-denied-address",
            Self::Connect { .. } => "keymaterial-connect",
            Self::ConnectTimeout { .. } => "keymaterial-connect-timeout",
            Self::Tls { .. } => "keymaterial-tls",
            Self::Http { .. } => "keymaterial-http",
            Self::Redirect { .. } => "keymaterial-redirect",
            Self::Status { .. } => "keymaterial-status",
            Self::TooLarge { .. } => "keymaterial-too-large",
            Self::Timeout { .. } => "keymaterial-timeout",
            Self::CaFile { .. } => "keymaterial-ca-file",
            Self::Read { .. } => "keymaterial-read",
            Self::InvalidOption { .. } => "keymaterial-invalid-option",
            Self::Setup { .. } => "keymaterial-setup",
            Self::Index(err) => err.code(),
        }
    }
}

/// Why [`crate::keymaterial::KeyMaterialSource::current`] has nothing to
/// hand out. The call path turns either into the `key-material-unavailable`
/// deny.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyMaterialUnavailable {
    /// No fetch has succeeded yet.
    #[error("key material has not been fetched successfully yet")]
    NeverFetched,
    /// The last good copy is older than the entry's maximum staleness.
    #[error("the last good key material is older than its maximum staleness")]
    Stale,
}

impl KeyMaterialUnavailable {
    /// Stable code for logs, audit lines and tests.
    pub fn code(self) -> &'static str {
        match self {
            Self::NeverFetched => "keymaterial-never-fetched",
            Self::Stale => "keymaterial-stale",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_formats_and_has_a_distinct_code() {
        let host = || "jwks.example".to_owned();
        let addr: IpAddr = "10.0.0.1".parse().unwrap();
        let all = [
            KeyMaterialError::InvalidUrl { reason: "r" },
            KeyMaterialError::UrlUserinfo,
            KeyMaterialError::PlainHttpNotAllowed { host: host() },
            KeyMaterialError::Resolve { host: host(), reason: "r".into() },
            KeyMaterialError::NoAddress { host: host() },
            KeyMaterialError::DeniedAddress { host: host(), addr, range: DeniedRange::Private },
            KeyMaterialError::Connect { host: host(), addr, reason: "r".into() },
            KeyMaterialError::ConnectTimeout { host: host(), addr, timeout_ms: 1 },
            KeyMaterialError::Tls { host: host(), reason: "r".into() },
            KeyMaterialError::Http { host: host(), reason: "r".into() },
            KeyMaterialError::Redirect { host: host(), status: 302 },
            KeyMaterialError::Status { host: host(), status: 404 },
            KeyMaterialError::TooLarge { max_bytes: 1 },
            KeyMaterialError::Timeout { host: host(), timeout_ms: 1 },
            KeyMaterialError::CaFile { path: "p".into(), reason: "r".into() },
            KeyMaterialError::Read { reason: "r".into() },
            KeyMaterialError::InvalidOption { field: "f", reason: "r".into() },
            KeyMaterialError::Setup { reason: "r".into() },
            KeyMaterialError::Index(IndexError::Jwks { reason: "r".into() }),
            KeyMaterialError::Index(IndexError::ApiKeys { reason: "r".into() }),
            KeyMaterialError::Index(IndexError::DuplicateId { index: 1 }),
            KeyMaterialError::Index(IndexError::TooManyEntries { max: 1 }),
        ];
        let mut codes: Vec<_> = all.iter().map(KeyMaterialError::code).collect();
        for err in &all {
            assert!(!err.to_string().is_empty());
        }
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
        assert_ne!(KeyMaterialUnavailable::NeverFetched.code(), KeyMaterialUnavailable::Stale.code());
    }
}
