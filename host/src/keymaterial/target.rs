//! Parsing a key-material URL into what the fetcher needs: scheme, host,
//! port and the request path.
//!
//! Deliberately narrower than RFC 3986: ASCII only, no userinfo (it would
//! put a credential in config files and logs), no fragment, no zone ids, no
//! percent-encoded or internationalized host names (write the punycode).
//! Odd numeric host spellings (`0x7f.1`, `2130706433`) are not parsed here:
//! they go to the resolver, and whatever address comes back meets the guard.

use std::net::IpAddr;
use std::str::FromStr;

use http::uri::PathAndQuery;

use super::error::KeyMaterialError;

/// The longest URL accepted; key-material URLs are short, and the cap keeps
/// a mistaken paste from becoming a request line.
pub const MAX_URL_BYTES: usize = 2048;

/// `http` or `https`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    Http,
    Https,
}

/// The host part: a name to resolve, or an address literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Host {
    Name(String),
    Ip(IpAddr),
}

/// A parsed, checked key-material URL.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) scheme: Scheme,
    pub(crate) host: Host,
    /// The host as errors and the `Host` header show it: lower-case, IPv6 in
    /// brackets, no port.
    pub(crate) host_text: String,
    pub(crate) port: u16,
    pub(crate) path_and_query: PathAndQuery,
}

impl Target {
    pub(crate) fn parse(url: &str) -> Result<Self, KeyMaterialError> {
        let invalid = |reason| KeyMaterialError::InvalidUrl { reason };
        if url.len() > MAX_URL_BYTES {
            return Err(invalid("longer than 2048 bytes"));
        }
        if !url.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(invalid("contains whitespace, control or non-ASCII characters"));
        }
        if url.contains('#') {
            return Err(invalid("has a fragment"));
        }
        let (scheme, rest) = url.split_once("://").ok_or(invalid("missing scheme (https://)"))?;
        let scheme = if scheme.eq_ignore_ascii_case("https") {
            Scheme::Https
        } else if scheme.eq_ignore_ascii_case("http") {
            Scheme::Http
        } else {
            return Err(invalid("scheme must be https (or http for an allowed host)"));
        };
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(split);
        if authority.contains('@') {
            return Err(KeyMaterialError::UrlUserinfo);
        }
        let (host, host_text, port) = parse_authority(authority, scheme)?;
        let path_and_query = match tail {
            "" => Ok(PathAndQuery::from_static("/")),
            t if t.starts_with('?') => PathAndQuery::from_str(&format!("/{t}")),
            t => PathAndQuery::from_str(t),
        }
        .map_err(|_| invalid("path or query has characters http does not allow"))?;
        Ok(Self { scheme, host, host_text, port, path_and_query })
    }

    /// The `Host` header: the port only when it is not the scheme's default.
    pub(crate) fn host_header(&self) -> String {
        if self.port == default_port(self.scheme) { self.host_text.clone() } else { format!("{}:{}", self.host_text, self.port) }
    }
}

fn default_port(scheme: Scheme) -> u16 {
    match scheme {
        Scheme::Http => 80,
        Scheme::Https => 443,
    }
}

fn parse_authority(authority: &str, scheme: Scheme) -> Result<(Host, String, u16), KeyMaterialError> {
    let invalid = |reason| KeyMaterialError::InvalidUrl { reason };
    let (host_part, port_part) = if let Some(inner) = authority.strip_prefix('[') {
        let (v6, after) = inner.split_once(']').ok_or(invalid("unclosed [ in host"))?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or(invalid("junk after ]"))?),
        };
        let ip: std::net::Ipv6Addr = v6.parse().map_err(|_| invalid("bad IPv6 literal"))?;
        (Host::Ip(IpAddr::V6(ip)), port)
    } else {
        let (name, port) = match authority.rsplit_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (authority, None),
        };
        if name.contains(':') {
            return Err(invalid("IPv6 literals need brackets"));
        }
        let name = name.to_ascii_lowercase();
        let host = match name.parse::<std::net::Ipv4Addr>() {
            Ok(v4) => Host::Ip(IpAddr::V4(v4)),
            Err(_) => {
                check_name(&name)?;
                Host::Name(name)
            }
        };
        (host, port)
    };
    let port = match port_part {
        None => default_port(scheme),
        Some(p) if !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => match p.parse::<u16>() {
            Ok(port) if port != 0 => port,
            _ => return Err(invalid("port out of range")),
        },
        Some(_) => return Err(invalid("port is not a number")),
    };
    let host_text = match &host_part {
        Host::Ip(IpAddr::V6(v6)) => format!("[{v6}]"),
        Host::Ip(IpAddr::V4(v4)) => v4.to_string(),
        Host::Name(name) => name.clone(),
    };
    Ok((host_part, host_text, port))
}

fn check_name(name: &str) -> Result<(), KeyMaterialError> {
    let invalid = |reason| KeyMaterialError::InvalidUrl { reason };
    if name.is_empty() {
        return Err(invalid("empty host"));
    }
    if name.len() > 253 {
        return Err(invalid("host name longer than 253 bytes"));
    }
    let labels = name.strip_suffix('.').unwrap_or(name);
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if !labels.split('.').all(label_ok) {
        return Err(invalid("host name has characters or labels DNS does not allow"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_literals_ports_and_paths() {
        let t = Target::parse("https://Login.Example.com/.well-known/jwks.json?x=1").unwrap();
        assert_eq!(t.scheme, Scheme::Https);
        assert_eq!(t.host, Host::Name("login.example.com".into()));
        assert_eq!(t.port, 443);
        assert_eq!(t.path_and_query.as_str(), "/.well-known/jwks.json?x=1");
        assert_eq!(t.host_header(), "login.example.com");

        let t = Target::parse("HTTP://10.1.2.3:8080").unwrap();
        assert_eq!(t.scheme, Scheme::Http);
        assert_eq!(t.host, Host::Ip("10.1.2.3".parse().unwrap()));
        assert_eq!(t.path_and_query.as_str(), "/");
        assert_eq!(t.host_header(), "10.1.2.3:8080");

        let t = Target::parse("https://[::ffff:127.0.0.1]:8443?k").unwrap();
        assert_eq!(t.host, Host::Ip("::ffff:127.0.0.1".parse().unwrap()));
        assert_eq!(t.host_text, "[::ffff:127.0.0.1]");
        assert_eq!(t.port, 8443);
        assert_eq!(t.path_and_query.as_str(), "/?k");
    }

    #[test]
    fn refuses_what_it_should() {
        let cases: &[(&str, &str)] = &[
            ("https://user:pw@example.com/", "keymaterial-url-userinfo"),
            ("https://token@example.com/", "keymaterial-url-userinfo"),
            ("ftp://example.com/", "keymaterial-invalid-url"),
            ("example.com/jwks", "keymaterial-invalid-url"),
            ("https:///jwks", "keymaterial-invalid-url"),
            ("https://example.com:/", "keymaterial-invalid-url"),
            ("https://example.com:0/", "keymaterial-invalid-url"),
            ("https://example.com:65536/", "keymaterial-invalid-url"),
            ("https://example.com:443443/", "keymaterial-invalid-url"),
            ("https://example.com/#frag", "keymaterial-invalid-url"),
            ("https://exa mple.com/", "keymaterial-invalid-url"),
            ("https://exämple.com/", "keymaterial-invalid-url"),
            ("https://ex%41mple.com/", "keymaterial-invalid-url"),
            ("https://::1/", "keymaterial-invalid-url"),
            ("https://[fe80::1%25eth0]/", "keymaterial-invalid-url"),
            ("https://[::1/", "keymaterial-invalid-url"),
            ("https://[::1]x/", "keymaterial-invalid-url"),
            ("https://-a.example/", "keymaterial-invalid-url"),
            ("https://a..example/", "keymaterial-invalid-url"),
        ];
        for (url, code) in cases {
            let err = Target::parse(url).unwrap_err();
            assert_eq!(err.code(), *code, "{url}");
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_BYTES));
        assert_eq!(Target::parse(&long).unwrap_err().code(), "keymaterial-invalid-url");
    }

    #[test]
    fn errors_never_quote_the_url() {
        for url in ["https://u:secret-pw@example.com/", "https://example.com:99999/?token=secret-tok"] {
            let text = Target::parse(url).unwrap_err().to_string();
            assert!(!text.contains("secret"), "{text}");
        }
    }
}
