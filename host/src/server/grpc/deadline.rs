//! How long one gRPC call may take: the caller's `grpc-timeout` when it
//! sends one (Envoy sends its `ext_authz` timeout, 200 ms by default), never
//! more than the server's own bound.

use std::time::Duration;

use http::HeaderMap;

use crate::server::ServerOptions;

/// The server's bound for a whole call: reading the message (as long as a
/// request head may take) and then deciding (`requestTimeout`, which the
/// decision enforces on its own and answers `UNAVAILABLE` for).
pub(super) fn whole_call(options: &ServerOptions) -> Duration {
    options.header_read_timeout.saturating_add(options.request_timeout)
}

/// The bound for one call with these request headers. A `grpc-timeout` that
/// does not parse is ignored, not an error: the server's bound still holds.
pub(super) fn bound(headers: &HeaderMap, options: &ServerOptions) -> Duration {
    let server = whole_call(options);
    headers.get("grpc-timeout").and_then(|value| grpc_timeout(value.as_bytes())).map_or(server, |caller| caller.min(server))
}

/// `TimeoutValue TimeoutUnit`: 1 to 8 ASCII digits, then `H`, `M`, `S`, `m`,
/// `u` or `n` (gRPC over HTTP/2, "Requests").
fn grpc_timeout(value: &[u8]) -> Option<Duration> {
    const MAX_DIGITS: usize = 8;
    let (unit, digits) = value.split_last()?;
    if digits.is_empty() || digits.len() > MAX_DIGITS || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let amount: u64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    match unit {
        b'H' => Some(Duration::from_secs(amount.checked_mul(3600)?)),
        b'M' => Some(Duration::from_secs(amount.checked_mul(60)?)),
        b'S' => Some(Duration::from_secs(amount)),
        b'm' => Some(Duration::from_millis(amount)),
        b'u' => Some(Duration::from_micros(amount)),
        b'n' => Some(Duration::from_nanos(amount)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn every_unit_parses_and_malformed_values_do_not() {
        assert_eq!(grpc_timeout(b"200m"), Some(Duration::from_millis(200)));
        assert_eq!(grpc_timeout(b"1H"), Some(Duration::from_secs(3600)));
        assert_eq!(grpc_timeout(b"2M"), Some(Duration::from_secs(120)));
        assert_eq!(grpc_timeout(b"3S"), Some(Duration::from_secs(3)));
        assert_eq!(grpc_timeout(b"99999999u"), Some(Duration::from_micros(99_999_999)));
        assert_eq!(grpc_timeout(b"5n"), Some(Duration::from_nanos(5)));
        for bad in [&b""[..], b"m", b"100", b"123456789m", b"-1S", b"1.5S", b"1s", b"1 S", b"\xff\xffS"] {
            assert_eq!(grpc_timeout(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_bound_is_the_shorter_of_the_callers_and_the_servers() {
        let options = ServerOptions::default();
        let server = whole_call(&options);
        let mut headers = HeaderMap::new();
        assert_eq!(bound(&headers, &options), server);
        headers.insert("grpc-timeout", HeaderValue::from_static("250m"));
        assert_eq!(bound(&headers, &options), Duration::from_millis(250));
        headers.insert("grpc-timeout", HeaderValue::from_static("99999999H"));
        assert_eq!(bound(&headers, &options), server);
        headers.insert("grpc-timeout", HeaderValue::from_static("soon"));
        assert_eq!(bound(&headers, &options), server);
    }
}
