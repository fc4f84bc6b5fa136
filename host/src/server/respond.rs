//! The one place that turns an `/auth` outcome into an HTTP answer: status,
//! headers and body. Every path that is not a vouched-for allow is a 401, 403
//! or 503: the server fails closed.

use std::sync::Arc;

use http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Bytes;

use crate::identity::Identity;
use crate::sandbox::{DenyReason, PluginDeny};

use super::encode::{IdentityHeaders, identity_headers};

/// Every response body.
pub(crate) type Body = Full<Bytes>;

pub(crate) const X_WARD_ID: HeaderName = HeaderName::from_static("x-ward-id");
pub(crate) const X_WARD_PROVIDER: HeaderName = HeaderName::from_static("x-ward-provider");
pub(crate) const X_WARD_TYPE: HeaderName = HeaderName::from_static("x-ward-type");
pub(crate) const X_WARD_SCOPES: HeaderName = HeaderName::from_static("x-ward-scopes");
pub(crate) const X_WARD_LABELS: HeaderName = HeaderName::from_static("x-ward-labels");
pub(crate) const X_WARD_DENY: HeaderName = HeaderName::from_static("x-ward-deny");
pub(crate) const X_WARD_ASSERTION: HeaderName = HeaderName::from_static("x-ward-assertion");

/// What the server concluded for one `/auth` request.
pub(crate) enum Outcome {
    /// The gate allowed; the identity still has to be encoded. With the
    /// signed assertion when the route opts in.
    Allow(Identity, Option<Arc<str>>),
    /// The gate denied.
    Deny(DenyReason),
    /// The gate is not ready to serve.
    NotReady,
    /// The server itself could not get an answer.
    Failed(Failure),
}

/// Ways the server fails to obtain a decision; each answers 503.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Failure {
    /// The gate did not answer within `request_timeout`.
    TimedOut,
    /// The gate panicked, or the blocking task was cancelled at shutdown.
    Internal,
}

/// The HTTP class of an outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    Allow,
    Unauthorized,
    Forbidden,
    Unavailable,
}

impl Class {
    /// The `outcome` metrics label.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Unauthorized | Self::Forbidden => "deny",
            Self::Unavailable => "unavailable",
        }
    }
}

/// The status table of `docs/http-api.md`. The match is exhaustive on purpose:
/// a new deny reason does not compile until someone decides its status.
pub(crate) fn classify(reason: DenyReason) -> Class {
    match reason {
        DenyReason::MissingCredential | DenyReason::MalformedCredential | DenyReason::Oversized | DenyReason::InvalidClaims => Class::Unauthorized,
        DenyReason::Plugin(PluginDeny::InsufficientScope | PluginDeny::Denied) => Class::Forbidden,
        // Route policy: nginx's `auth_request` passes only 401 and 403 on.
        DenyReason::InsufficientScope | DenyReason::NoRoute | DenyReason::UnroutableRequest => Class::Forbidden,
        DenyReason::Plugin(
            PluginDeny::MissingCredential
            | PluginDeny::Malformed
            | PluginDeny::BadSignature
            | PluginDeny::Expired
            | PluginDeny::NotYetValid
            | PluginDeny::WrongIssuer
            | PluginDeny::WrongAudience
            | PluginDeny::UnknownKey
            | PluginDeny::Revoked
            | PluginDeny::NotAuthenticated,
        ) => Class::Unauthorized,
        DenyReason::OverCapacity
        | DenyReason::PluginUnavailable
        | DenyReason::PluginsDisabled
        | DenyReason::KeyMaterialUnavailable
        | DenyReason::Timeout
        | DenyReason::FuelExhausted
        | DenyReason::MemoryLimit
        | DenyReason::StackOverflow
        | DenyReason::Trap => Class::Unavailable,
    }
}

/// How a response is shaped beyond the outcome.
pub(crate) struct Shape<'a> {
    /// The auth scheme for `WWW-Authenticate`, as the gate named it.
    pub challenge: Option<&'a Arc<str>>,
    pub retry_after: &'a HeaderValue,
    pub deny_reason_header: bool,
}

/// What the metrics and the log record about one answered `/auth`.
pub(crate) struct Answered {
    pub class: Class,
    /// Empty for an allow.
    pub reason: &'static str,
}

/// What an outcome answers, whatever the protocol that asked: the identity's
/// headers for an allow, or the class and code of a refusal. `/auth` and the
/// gRPC `Check` both start here, so they allow, deny and fail alike.
// One per request, built once and consumed at once: boxing the allow would
// only add an allocation.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Verdict {
    Allow(IdentityHeaders),
    Refuse(Answered),
}

/// An identity that cannot be encoded is an internal failure (503), never
/// an allow with partial headers.
pub(crate) fn verdict(outcome: Outcome) -> Verdict {
    let (class, reason) = match outcome {
        Outcome::Allow(identity, assertion) => match identity_headers(&identity, assertion.as_deref()) {
            Ok(headers) => return Verdict::Allow(headers),
            Err(_) => (Class::Unavailable, "internal"),
        },
        Outcome::Deny(reason) => (classify(reason), reason.code()),
        Outcome::NotReady => (Class::Unavailable, "not-ready"),
        Outcome::Failed(Failure::TimedOut) => (Class::Unavailable, "request-timeout"),
        Outcome::Failed(Failure::Internal) => (Class::Unavailable, "internal"),
    };
    Verdict::Refuse(Answered { class, reason })
}

/// Builds the `/auth` answer.
pub(crate) fn auth(outcome: Outcome, shape: &Shape<'_>) -> (Response<Body>, Answered) {
    match verdict(outcome) {
        Verdict::Allow(identity) => (allow(identity), Answered { class: Class::Allow, reason: "" }),
        Verdict::Refuse(answered) => {
            let (status, body) = refusal_status(answered.class);
            let mut response = text(status, body);
            refusal_headers(&answered, shape, response.headers_mut());
            (response, answered)
        }
    }
}

/// The status and body of a refusal: 401, 403, or 503 for anything else.
pub(crate) fn refusal_status(class: Class) -> (StatusCode, &'static str) {
    match class {
        Class::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized\n"),
        Class::Forbidden => (StatusCode::FORBIDDEN, "forbidden\n"),
        Class::Allow | Class::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable\n"),
    }
}

/// The headers a refusal carries beside its status and body:
/// `WWW-Authenticate` on a 401, `Retry-After` on a 503, `Cache-Control:
/// no-store`, and `X-Ward-Deny` when configured.
pub(crate) fn refusal_headers(answered: &Answered, shape: &Shape<'_>, headers: &mut HeaderMap) {
    match answered.class {
        Class::Unauthorized => {
            headers.insert(WWW_AUTHENTICATE, challenge(shape.challenge));
        }
        Class::Allow | Class::Unavailable => {
            headers.insert(RETRY_AFTER, shape.retry_after.clone());
        }
        Class::Forbidden => {}
    }
    headers.insert(CACHE_CONTROL, NO_STORE);
    if shape.deny_reason_header {
        // Codes are static strings from closed enums, never derived from input.
        headers.insert(X_WARD_DENY, HeaderValue::from_static(answered.reason));
    }
}

/// The identity headers an allow sets, in `X-Ward-Id, -Provider, -Type,
/// -Scopes, -Labels` order, then `X-Ward-Assertion` when the route opts in:
/// on the `/auth` response, or for Envoy to set on the upstream request.
pub(crate) fn identity_fields(identity: IdentityHeaders) -> Vec<(HeaderName, HeaderValue)> {
    let mut fields = vec![
        (X_WARD_ID, identity.id),
        (X_WARD_PROVIDER, identity.provider),
        (X_WARD_TYPE, identity.principal_type),
        (X_WARD_SCOPES, identity.scopes),
        (X_WARD_LABELS, identity.labels),
    ];
    if let Some(assertion) = identity.assertion {
        fields.push((X_WARD_ASSERTION, assertion));
    }
    fields
}

fn allow(identity: IdentityHeaders) -> Response<Body> {
    let mut response = Response::new(Body::default());
    let headers = response.headers_mut();
    for (name, value) in identity_fields(identity) {
        headers.insert(name, value);
    }
    // Always present, empty when the route does not opt in, as the five
    // are: a proxy that copies a header ward's answer lacks may send its own
    // placeholder text instead (Caddy before 2.9).
    headers.entry(X_WARD_ASSERTION).or_insert(HeaderValue::from_static(""));
    no_store(&mut response);
    response
}

/// `<scheme> realm="ward"`. A scheme that is not an RFC 9110 token would make
/// the challenge unparseable, so it falls back to `Bearer`.
fn challenge(scheme: Option<&Arc<str>>) -> HeaderValue {
    const MAX_SCHEME_BYTES: usize = 64;
    let is_tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    let scheme = scheme.map(|s| &**s).filter(|s| !s.is_empty() && s.len() <= MAX_SCHEME_BYTES && s.bytes().all(is_tchar)).unwrap_or("Bearer");
    HeaderValue::try_from(format!("{scheme} realm=\"ward\"")).unwrap_or(HeaderValue::from_static("Bearer realm=\"ward\""))
}

/// A decision is about one request; no cache may replay it for another.
const NO_STORE: HeaderValue = HeaderValue::from_static("no-store");

fn no_store(response: &mut Response<Body>) {
    response.headers_mut().insert(CACHE_CONTROL, NO_STORE);
}

/// A 503 with `Retry-After`.
pub(crate) fn unavailable(retry_after: &HeaderValue) -> Response<Body> {
    let mut response = text(StatusCode::SERVICE_UNAVAILABLE, "unavailable\n");
    response.headers_mut().insert(RETRY_AFTER, retry_after.clone());
    response
}

/// A fixed short text body.
pub(crate) fn text(status: StatusCode, body: &'static str) -> Response<Body> {
    let mut response = Response::new(Body::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_scheme_must_be_a_token() {
        let scheme = |s: &str| challenge(Some(&Arc::from(s)));
        assert_eq!(scheme("ApiKey"), "ApiKey realm=\"ward\"");
        assert_eq!(challenge(None), "Bearer realm=\"ward\"");
        for bad in ["", "Bearer x", "a\"b", "x\r\ny", "é", &"a".repeat(65)] {
            assert_eq!(scheme(bad), "Bearer realm=\"ward\"", "{bad:?}");
        }
    }

    /// Haechi answers a JavaScript plugin's deny 401; a wasm plugin's
    /// `denied` stays 403 (docs/http-api.md).
    #[test]
    fn a_javascript_plugins_deny_is_401_and_a_wasm_plugins_denied_403() {
        assert_eq!(classify(DenyReason::Plugin(PluginDeny::NotAuthenticated)), Class::Unauthorized);
        assert_eq!(classify(DenyReason::Plugin(PluginDeny::Denied)), Class::Forbidden);
    }
}
