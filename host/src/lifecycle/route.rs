//! Which plugin a request belongs to, and the one slice of it that plugin
//! may see. Nothing else of the request (other headers, cookies, the path)
//! reaches a guest.

use http::{HeaderMap, HeaderName};

/// A plugin's route: the header that carries its credential and, for
/// `Authorization`-style headers, the scheme in front of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    header: HeaderName,
    scheme: Option<String>,
    guest_scheme: String,
}

/// What a route found in one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slice<'h> {
    /// Not this route's request (header absent, another scheme, or empty).
    Absent,
    /// This route's header, but unusable: repeated, not visible ASCII.
    /// Ambiguity is refused rather than resolved by guessing which copy counts.
    Malformed,
    /// The credential after the scheme, trimmed.
    Found(&'h str),
}

/// Why a route was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// Not a valid HTTP header name.
    #[error("is not a valid HTTP header name")]
    BadHeader,
    /// `X-Ward-*` headers are ward's answer; the server drops them from requests.
    #[error("X-Ward-* headers are ward's own and are stripped from requests; choose another header")]
    ReservedHeader,
    /// The scheme is empty or holds characters outside an RFC 9110 token.
    #[error("scheme must be an RFC 9110 token such as Bearer")]
    BadScheme,
}

impl Route {
    /// `header` as configured (case does not matter); `scheme` such as `Bearer`.
    pub fn new(header: &str, scheme: Option<&str>) -> Result<Self, RouteError> {
        let header = HeaderName::try_from(header).map_err(|_| RouteError::BadHeader)?;
        if header.as_str().starts_with("x-ward-") {
            return Err(RouteError::ReservedHeader);
        }
        if let Some(scheme) = scheme {
            let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
            if scheme.is_empty() || !scheme.bytes().all(token) {
                return Err(RouteError::BadScheme);
            }
        }
        // A header without a scheme carries a bare key: the `api-key` scheme.
        let guest_scheme = scheme.map_or_else(|| "api-key".to_owned(), str::to_ascii_lowercase);
        Ok(Self { header, scheme: scheme.map(str::to_owned), guest_scheme })
    }

    /// The credential this route would hand its plugin.
    pub fn slice<'h>(&self, headers: &'h HeaderMap) -> Slice<'h> {
        let mut values = headers.get_all(&self.header).iter();
        let (Some(value), None) = (values.next(), values.next()) else {
            return if headers.contains_key(&self.header) { Slice::Malformed } else { Slice::Absent };
        };
        let Ok(text) = value.to_str() else {
            return Slice::Malformed;
        };
        let token = match &self.scheme {
            None => text,
            Some(scheme) => match text.trim_start().split_once(' ') {
                Some((given, rest)) if given.eq_ignore_ascii_case(scheme) => rest,
                _ => return Slice::Absent,
            },
        };
        let token = token.trim_matches([' ', '\t']);
        if token.is_empty() { Slice::Absent } else { Slice::Found(token) }
    }

    /// The lower-case scheme the guest receives: `bearer`, or `api-key` for a bare header.
    pub fn guest_scheme(&self) -> &str {
        &self.guest_scheme
    }

    /// The scheme for `WWW-Authenticate`.
    pub fn challenge(&self) -> &str {
        self.scheme.as_deref().unwrap_or("ApiKey")
    }

    /// The header name, lower case.
    pub fn header(&self) -> &str {
        self.header.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&str, &[u8])]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(HeaderName::try_from(*name).unwrap(), HeaderValue::from_bytes(value).unwrap());
        }
        map
    }

    #[test]
    fn bearer_slices_only_its_scheme() {
        let route = Route::new("Authorization", Some("Bearer")).unwrap();
        assert_eq!(route.slice(&headers(&[("authorization", b"bearer  abc \t")])), Slice::Found("abc"));
        assert_eq!(route.slice(&headers(&[("authorization", b"Basic abc")])), Slice::Absent);
        assert_eq!(route.slice(&headers(&[("authorization", b"Bearer")])), Slice::Absent);
        assert_eq!(route.slice(&headers(&[("authorization", b"Bearer ")])), Slice::Absent);
        assert_eq!(route.slice(&headers(&[])), Slice::Absent);
        assert_eq!(route.guest_scheme(), "bearer");
    }

    #[test]
    fn repeated_or_binary_headers_are_malformed() {
        let route = Route::new("x-api-key", None).unwrap();
        assert_eq!(route.slice(&headers(&[("x-api-key", b"a"), ("x-api-key", b"b")])), Slice::Malformed);
        assert_eq!(route.slice(&headers(&[("x-api-key", b"caf\xc3\xa9")])), Slice::Malformed);
        assert_eq!(route.slice(&headers(&[("x-api-key", b"wk_live_1")])), Slice::Found("wk_live_1"));
        assert_eq!(route.guest_scheme(), "api-key");
    }

    #[test]
    fn bad_routes_are_refused() {
        assert_eq!(Route::new("bad header", None), Err(RouteError::BadHeader));
        assert_eq!(Route::new("X-Ward-Id", None), Err(RouteError::ReservedHeader));
        assert_eq!(Route::new("authorization", Some("Bea rer")), Err(RouteError::BadScheme));
        assert_eq!(Route::new("authorization", Some("")), Err(RouteError::BadScheme));
    }
}
