//! What a route matches on: the original request's method, host and path,
//! as the proxy forwarded them in headers (`X-Original-URI`, ...), read
//! under the names the operator configured. The `/auth` request's own line
//! is always `/auth` and says nothing about the request being decided.
//!
//! A value that is absent is `None`: routes that depend on it do not match
//! (`matcher.rs`). A value that is present but cannot be read one way only
//! (repeated, not visible ASCII, a path that the upstream could resolve to
//! another path than the one matched) refuses the request as a whole:
//! guessing which reading counts is how a route gets bypassed.

use http::{HeaderMap, HeaderName};
use percent_encoding::percent_decode_str;

/// The headers a proxy forwards the original request in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardedNames {
    /// The method, e.g. `X-Original-Method`.
    pub method: HeaderName,
    /// The request target (path and query), e.g. `X-Original-URI`.
    pub uri: HeaderName,
    /// The host, e.g. `X-Forwarded-Host`.
    pub host: HeaderName,
}

/// ward's own names for the original request, which only ward sets: the gRPC
/// `Check` fills them from Envoy's request attributes after the client's
/// `x-ward-*` headers are dropped. When the path is present here, these
/// three are read and the configured names are not.
pub const TARGET_METHOD: HeaderName = HeaderName::from_static("x-ward-target-method");
/// See [`TARGET_METHOD`].
pub const TARGET_PATH: HeaderName = HeaderName::from_static("x-ward-target-path");
/// See [`TARGET_METHOD`].
pub const TARGET_HOST: HeaderName = HeaderName::from_static("x-ward-target-host");

/// The original request, as far as it was forwarded.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Target {
    /// As sent, e.g. `POST`.
    pub method: Option<String>,
    /// Lower case, without a `:port`.
    pub host: Option<String>,
    /// Percent-decoded, without the query; checked by [`normalized_path`].
    pub path: Option<String>,
}

/// A forwarded value that cannot be read one way only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unroutable;

impl Target {
    /// Reads the original request from `headers`.
    pub fn read(headers: &HeaderMap, names: &ForwardedNames) -> Result<Self, Unroutable> {
        let names = if headers.contains_key(TARGET_PATH) { &ForwardedNames { method: TARGET_METHOD, uri: TARGET_PATH, host: TARGET_HOST } } else { names };
        let method = single(headers, &names.method)?.map(str::to_owned);
        let host = single(headers, &names.host)?.map(host_name).transpose()?;
        let path = single(headers, &names.uri)?.map(normalized_path).transpose()?;
        Ok(Self { method, host, path })
    }
}

/// One visible-ASCII value, `None` when absent or empty.
fn single<'h>(headers: &'h HeaderMap, name: &HeaderName) -> Result<Option<&'h str>, Unroutable> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(Unroutable);
    }
    let text = value.to_str().map_err(|_| Unroutable)?.trim();
    Ok(if text.is_empty() { None } else { Some(text) })
}

/// `Api.Example.com:8443` → `api.example.com`. An IPv6 literal keeps its brackets.
fn host_name(text: &str) -> Result<String, Unroutable> {
    let host = match text.rsplit_once(':') {
        Some((name, port)) if !name.is_empty() && !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) && !name.ends_with(':') => name,
        _ => text,
    };
    if host.is_empty() || !host.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._[]:".contains(&b)) {
        return Err(Unroutable);
    }
    Ok(host.to_ascii_lowercase())
}

/// The path a route is matched against: the request target without its
/// query, percent-decoded once (as nginx does before matching a `location`),
/// and refused unless that reading is the only one. Refused: no leading `/`
/// (an absolute-form target), a bad or encoded-slash escape (`%2F`), a `.` or
/// `..` segment, an empty segment (`//`) other than a trailing slash, a
/// backslash, a control byte, or bytes that are not UTF-8. An upstream that
/// resolves dot segments or merges slashes would otherwise serve a path that
/// no route was matched against.
pub fn normalized_path(target: &str) -> Result<String, Unroutable> {
    let raw = target.split(['?', '#']).next().unwrap_or_default();
    if !raw.starts_with('/') || !valid_escapes(raw) {
        return Err(Unroutable);
    }
    let path = percent_decode_str(raw).decode_utf8().map_err(|_| Unroutable)?;
    if path.bytes().any(|b| b.is_ascii_control() || b == b'\\') {
        return Err(Unroutable);
    }
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let last = segments.len().saturating_sub(1);
    for (i, segment) in segments.iter().enumerate() {
        if *segment == "." || *segment == ".." || (segment.is_empty() && i != last) {
            return Err(Unroutable);
        }
    }
    Ok(path.into_owned())
}

/// Every `%` starts two hex digits, and none encodes `/`: a decoded slash
/// would end a segment the upstream sees as one.
fn valid_escapes(raw: &str) -> bool {
    let bytes = raw.as_bytes();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let (Some(h), Some(l)) = (bytes.get(i + 1), bytes.get(i + 2)) else {
                return false;
            };
            if !h.is_ascii_hexdigit() || !l.is_ascii_hexdigit() || (*h == b'2' && l.eq_ignore_ascii_case(&b'f')) {
                return false;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn nginx() -> ForwardedNames {
        ForwardedNames {
            method: HeaderName::from_static("x-original-method"),
            uri: HeaderName::from_static("x-original-uri"),
            host: HeaderName::from_static("x-forwarded-host"),
        }
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn paths_are_decoded_once_and_refused_when_ambiguous() {
        assert_eq!(normalized_path("/orders/42?x=1").unwrap(), "/orders/42");
        assert_eq!(normalized_path("/a%20b/").unwrap(), "/a b/");
        assert_eq!(normalized_path("/%2541").unwrap(), "/%41", "decoded once only");
        assert_eq!(normalized_path("/").unwrap(), "/");
        for bad in [
            "",
            "orders",
            "http://h/orders",
            "/a/../admin",
            "/a/./b",
            "/a//b",
            "/a%2Fb",
            "/a%2fb",
            "/a/%2e%2e/x",
            "/a/%2E/x",
            "/%2e%2e/admin",
            "/a%",
            "/a%zz",
            "/a\\b",
            "/a%00",
            "/%ff",
        ] {
            assert_eq!(normalized_path(bad), Err(Unroutable), "{bad:?}");
        }
    }

    #[test]
    fn the_configured_names_are_read_and_a_repeated_one_is_refused() {
        let target =
            Target::read(&headers(&[("x-original-method", "POST"), ("x-original-uri", "/orders?a"), ("x-forwarded-host", "Shop.Example:8443")]), &nginx())
                .unwrap();
        assert_eq!(target, Target { method: Some("POST".into()), host: Some("shop.example".into()), path: Some("/orders".into()) });
        assert_eq!(Target::read(&headers(&[]), &nginx()).unwrap(), Target::default());
        assert_eq!(Target::read(&headers(&[("x-original-uri", "/a"), ("x-original-uri", "/b")]), &nginx()), Err(Unroutable));
        assert_eq!(Target::read(&headers(&[("x-forwarded-host", "a b")]), &nginx()), Err(Unroutable));
        assert_eq!(Target::read(&headers(&[("x-forwarded-host", "[::1]:80")]), &nginx()).unwrap().host.as_deref(), Some("[::1]"));
    }

    #[test]
    fn wards_own_target_headers_replace_the_configured_ones() {
        let both = headers(&[("x-original-uri", "/public"), ("x-ward-target-path", "/admin"), ("x-ward-target-method", "GET")]);
        let target = Target::read(&both, &nginx()).unwrap();
        assert_eq!(target.path.as_deref(), Some("/admin"));
        assert_eq!(target.method.as_deref(), Some("GET"));
        assert_eq!(target.host, None);
    }
}
