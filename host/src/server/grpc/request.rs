//! The original request's headers out of a `CheckRequest`, as an
//! `http::HeaderMap` for the decision: the same map `/auth` builds from the
//! request it is sent.
//!
//! Envoy sends them in one of two forms: the `headers` map (repeated names
//! joined with `,`, values as UTF-8), or, with `encode_raw_headers: true`,
//! the `header_map` list (each header on its own, values as bytes). Pseudo
//! headers (`:path`, `:authority`, ...) are not headers of the request and are
//! left out, as HTTP/2 requests to `/auth` have none. The list is bounded
//! like an HTTP/2 header list (`maxHeaderBytes`, each entry counting its name,
//! its value and 32 bytes), so a large request costs no more here than at
//! `/auth`.

use envoy_types::ext_authz::v3::pb::CheckRequest;
use http::{HeaderMap, HeaderName, HeaderValue};

use crate::policy::{TARGET_HOST, TARGET_METHOD, TARGET_PATH};

/// Per-entry overhead in the header-list size, as HTTP/2 counts it
/// (RFC 9113 §6.5.2, `SETTINGS_MAX_HEADER_LIST_SIZE`).
const ENTRY_OVERHEAD_BYTES: usize = 32;

/// Why a `CheckRequest`'s headers cannot be decided on. Either is answered
/// with a gRPC error status, never a decision: Envoy fails closed on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Unreadable {
    /// A name or value that is not a valid HTTP field, or both header forms at once.
    Malformed,
    /// Over `maxHeaderBytes`.
    TooLarge,
}

impl Unreadable {
    /// The stable reason code (metrics, logs, the gRPC status message).
    pub(super) fn code(self) -> &'static str {
        match self {
            Self::Malformed => "request-malformed",
            Self::TooLarge => "request-too-large",
        }
    }
}

/// The original request's headers. A `CheckRequest` without HTTP attributes
/// has none, and is decided as a request without a credential.
pub(super) fn headers(request: &CheckRequest, max_bytes: usize) -> Result<HeaderMap, Unreadable> {
    let Some(http) = request.attributes.as_ref().and_then(|a| a.request.as_ref()).and_then(|r| r.http.as_ref()) else {
        return Ok(HeaderMap::new());
    };
    let raw = http.header_map.as_ref().map(|map| map.headers.as_slice()).unwrap_or_default();
    if !raw.is_empty() && !http.headers.is_empty() {
        return Err(Unreadable::Malformed);
    }
    let mut headers = HeaderMap::new();
    let mut budget = max_bytes;
    if raw.is_empty() {
        for (name, value) in &http.headers {
            add(&mut headers, &mut budget, name.as_bytes(), value.as_bytes())?;
        }
    } else {
        for header in raw {
            // `raw_value` is what Envoy fills; `value` is the older form.
            let value = if header.raw_value.is_empty() { header.value.as_bytes() } else { header.raw_value.as_slice() };
            add(&mut headers, &mut budget, header.key.as_bytes(), value)?;
        }
    }
    Ok(headers)
}

/// The original request's method, path and host from Envoy's attributes,
/// under ward's own `x-ward-target-*` names (`crate::policy::TARGET_PATH`):
/// route policy reads these and not a header a client could have sent.
/// Added after the client's `x-ward-*` headers are dropped; a value that is
/// not a valid header value is left out, so the routes that need it do not match.
pub(super) fn target(request: &CheckRequest) -> Vec<(HeaderName, HeaderValue)> {
    let Some(http) = request.attributes.as_ref().and_then(|a| a.request.as_ref()).and_then(|r| r.http.as_ref()) else {
        return Vec::new();
    };
    [(TARGET_METHOD, &http.method), (TARGET_PATH, &http.path), (TARGET_HOST, &http.host)]
        .into_iter()
        .filter(|(_, value)| !value.is_empty())
        .filter_map(|(name, value)| HeaderValue::try_from(value.as_str()).ok().map(|value| (name, value)))
        .collect()
}

/// Counts one entry against the budget first, so an oversized list is
/// refused before it is all parsed, then adds it (pseudo headers only count).
fn add(headers: &mut HeaderMap, budget: &mut usize, name: &[u8], value: &[u8]) -> Result<(), Unreadable> {
    let cost = name.len().saturating_add(value.len()).saturating_add(ENTRY_OVERHEAD_BYTES);
    *budget = budget.checked_sub(cost).ok_or(Unreadable::TooLarge)?;
    if name.starts_with(b":") {
        return Ok(());
    }
    let name = HeaderName::from_bytes(name).map_err(|_| Unreadable::Malformed)?;
    let value = HeaderValue::from_bytes(value).map_err(|_| Unreadable::Malformed)?;
    headers.append(name, value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use envoy_types::ext_authz::v3::pb::HeaderValue as PbHeader;
    use envoy_types::pb::envoy::config::core::v3::HeaderMap as PbHeaderMap;
    use envoy_types::pb::envoy::service::auth::v3::AttributeContext;
    use envoy_types::pb::envoy::service::auth::v3::attribute_context::{HttpRequest, Request};

    use super::*;

    fn check(http: HttpRequest) -> CheckRequest {
        CheckRequest { attributes: Some(AttributeContext { request: Some(Request { http: Some(http), ..Default::default() }), ..Default::default() }) }
    }

    fn mapped(pairs: &[(&str, &str)]) -> CheckRequest {
        check(HttpRequest { headers: pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(), ..Default::default() })
    }

    fn raw(pairs: &[(&str, &[u8])]) -> CheckRequest {
        let headers = pairs.iter().map(|(k, v)| PbHeader { key: k.to_string(), raw_value: v.to_vec(), ..Default::default() }).collect();
        check(HttpRequest { header_map: Some(PbHeaderMap { headers }), ..Default::default() })
    }

    #[test]
    fn both_forms_give_the_request_headers_without_pseudo_headers() {
        let from_map = headers(&mapped(&[(":path", "/orders"), ("authorization", "Bearer t"), ("x-ward-id", "forged")]), 4096).unwrap();
        assert_eq!(from_map.len(), 2);
        assert_eq!(from_map["authorization"], "Bearer t");
        assert_eq!(from_map["x-ward-id"], "forged", "kept here: the decision drops it, the answer removes it");
        let from_raw = headers(&raw(&[(":authority", b"shop"), ("x-api-key", b"a"), ("x-api-key", b"b")]), 4096).unwrap();
        let keys: Vec<_> = from_raw.get_all("x-api-key").iter().collect();
        assert_eq!(keys, ["a", "b"], "repeated headers stay repeated, as /auth sees them");
        assert!(headers(&CheckRequest::default(), 4096).unwrap().is_empty());
    }

    #[test]
    fn invalid_fields_and_both_forms_at_once_are_malformed() {
        for bad in [mapped(&[("bad name", "v")]), mapped(&[("x", "line\r\nbreak")]), mapped(&[("", "v")]), raw(&[("x", b"\x00")])] {
            assert_eq!(headers(&bad, 4096), Err(Unreadable::Malformed));
        }
        let mut both = mapped(&[("authorization", "Bearer t")]);
        let extra = raw(&[("x-api-key", b"k")]);
        if let (Some(into), Some(from)) = (http_of(&mut both), extra.attributes.and_then(|a| a.request).and_then(|r| r.http)) {
            into.header_map = from.header_map;
        }
        assert_eq!(headers(&both, 4096), Err(Unreadable::Malformed));
    }

    fn http_of(request: &mut CheckRequest) -> Option<&mut HttpRequest> {
        request.attributes.as_mut()?.request.as_mut()?.http.as_mut()
    }

    #[test]
    fn the_header_list_is_bounded_like_http2s() {
        // "authorization" (13) + "Bearer t" (8) + 32 = 53 bytes.
        let one = mapped(&[("authorization", "Bearer t")]);
        assert!(headers(&one, 53).is_ok());
        assert_eq!(headers(&one, 52), Err(Unreadable::TooLarge));
        // Pseudo headers count although they are left out.
        assert_eq!(headers(&mapped(&[(":path", &"/x".repeat(40))]), 100), Err(Unreadable::TooLarge));
        let many: Vec<(String, String)> = (0..2000).map(|i| (format!("h{i}"), String::new())).collect();
        let many: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(headers(&mapped(&many), 32 * 1024), Err(Unreadable::TooLarge), "the count is bounded too");
    }
}
