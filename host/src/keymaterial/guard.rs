//! The operator's CIDR allowlist (`allowCidrs`), and the guard that applies
//! it to the address classifier's verdict (`addr.rs`).

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;

use super::addr::{DeniedRange, classify};
use super::error::KeyMaterialError;

/// An address block, `a.b.c.d/n` or `x:y::/n`, as the operator writes it in
/// `allowCidrs`: `ipnet`'s, parsed strictly (below).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr(IpNet);

impl Cidr {
    /// Whether `ip` is inside the block. An IPv4 block never contains an
    /// IPv6 address and vice versa; the guard compares the IPv4 form of a
    /// mapped address itself.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(&ip)
    }

    /// The network address.
    pub fn network(&self) -> IpAddr {
        self.0.network()
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.0.prefix_len()
    }
}

impl FromStr for Cidr {
    type Err = KeyMaterialError;

    /// Strict: the prefix length is required, written as plain digits, and
    /// the address must be the network itself (`10.0.0.0/8`, not
    /// `10.0.0.1/8`), because a stray host bit usually means the operator
    /// meant a different block.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: &str| KeyMaterialError::InvalidOption { field: "allowCidrs", reason: format!("{:?}: {reason}", truncate(text)) };
        let (addr, prefix) = text.split_once('/').ok_or_else(|| invalid("expected address/prefix"))?;
        let network: IpAddr = addr.parse().map_err(|_| invalid("not an IP address"))?;
        // `u8`'s parser takes a leading `+`, which no operator means.
        let prefix: u8 = prefix.parse().ok().filter(|_| !prefix.starts_with('+')).ok_or_else(|| invalid("prefix length out of range"))?;
        let net = IpNet::new(network, prefix).map_err(|_| invalid("prefix length out of range"))?;
        if net != net.trunc() {
            return Err(invalid("address has bits set beyond the prefix"));
        }
        Ok(Self(net))
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

fn truncate(text: &str) -> &str {
    match text.char_indices().nth(64) {
        Some((at, _)) => text.get(..at).unwrap_or(text),
        None => text,
    }
}

/// The deny list plus the operator's exceptions.
#[derive(Debug, Clone, Default)]
pub(crate) struct AddressGuard {
    allow: Vec<Cidr>,
}

impl AddressGuard {
    pub(crate) fn new(allow: &[Cidr]) -> Self {
        Self { allow: allow.to_vec() }
    }

    /// `None` when `ip` may be connected to. A mapped `::ffff:a.b.c.d` is the
    /// same destination as `a.b.c.d`, so an IPv4 allowlist entry covers it;
    /// NAT64 and 6to4 forms go through a translator to a different host and
    /// must be allowlisted in their IPv6 form.
    pub(crate) fn check(&self, ip: IpAddr) -> Option<DeniedRange> {
        let range = classify(ip)?;
        let canonical = ip.to_canonical();
        if self.allow.iter().any(|cidr| cidr.contains(ip) || cidr.contains(canonical)) {
            return None;
        }
        Some(range)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_parsing_is_strict() {
        for good in ["127.0.0.0/8", "10.1.2.3/32", "0.0.0.0/0", "fd00::/8", "::1/128", "::/0"] {
            let cidr: Cidr = good.parse().unwrap();
            assert_eq!(cidr.to_string(), good);
        }
        for bad in [
            "127.0.0.1",
            "127.0.0.1/8",
            "10.0.0.0/33",
            "10.0.0.0/-1",
            "10.0.0.0/+8",
            "fd00::/129",
            "fd00::1/8",
            "localhost/8",
            "",
            "/8",
            "10.0.0.0/",
            "010.0.0.0/8",
        ] {
            let err = bad.parse::<Cidr>().unwrap_err();
            assert_eq!(err.code(), "keymaterial-invalid-option", "{bad}");
        }
    }

    #[test]
    fn cidr_contains() {
        let v4: Cidr = "127.0.0.0/8".parse().unwrap();
        assert!(v4.contains("127.0.0.1".parse().unwrap()));
        assert!(v4.contains("127.255.255.255".parse().unwrap()));
        assert!(!v4.contains("128.0.0.0".parse().unwrap()));
        assert!(!v4.contains("::ffff:127.0.0.1".parse().unwrap()));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("10.0.0.1".parse().unwrap()));
        let ula: Cidr = "fd00::/8".parse().unwrap();
        assert!(ula.contains("fd12:3456::1".parse().unwrap()));
        assert!(!ula.contains("fc00::1".parse().unwrap()));
        let host: Cidr = "::1/128".parse().unwrap();
        assert!(host.contains("::1".parse().unwrap()));
        assert!(!host.contains("::2".parse().unwrap()));
    }

    #[test]
    fn guard_allowlist_covers_the_mapped_form_but_not_translators() {
        let guard = AddressGuard::new(&["127.0.0.0/8".parse().unwrap()]);
        assert_eq!(guard.check("127.0.0.1".parse().unwrap()), None);
        assert_eq!(guard.check("::ffff:127.0.0.1".parse().unwrap()), None);
        assert_eq!(guard.check("64:ff9b::7f00:1".parse().unwrap()), Some(DeniedRange::Loopback));
        assert_eq!(guard.check("10.0.0.1".parse().unwrap()), Some(DeniedRange::Private));
        assert_eq!(guard.check("::1".parse().unwrap()), Some(DeniedRange::Loopback));
        assert_eq!(guard.check("8.8.8.8".parse().unwrap()), None);
        let empty = AddressGuard::default();
        assert_eq!(empty.check("127.0.0.1".parse().unwrap()), Some(DeniedRange::Loopback));
    }
}
