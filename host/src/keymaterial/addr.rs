//! The SSRF guard's address classifier (the operator's exceptions to it are
//! in `guard.rs`).
//!
//! A key-material URL is operator config, but the address its name resolves
//! to is decided by whoever controls DNS for that name. The classifier names
//! every range a fetch must not reach unless the operator allowlists it: the
//! host itself, private networks, cloud metadata services, and the IPv6 forms
//! that carry an IPv4 address inside (mapped, translated, compatible, NAT64,
//! 6to4), which are classified by the address they carry.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is refused. Each variant has a stable [`DeniedRange::code`].
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeniedRange {
    /// `0.0.0.0/8` ("this network"; Linux connects `0.0.0.0` to the host
    /// itself) and `::`.
    Unspecified,
    /// `127.0.0.0/8` and `::1`.
    Loopback,
    /// RFC 1918: `10.0.0.0/8`, `172.16.0.0/12`, `192.168.0.0/16`.
    Private,
    /// Carrier-grade NAT, `100.64.0.0/10` (RFC 6598).
    SharedAddressSpace,
    /// `169.254.0.0/16` (which holds the `169.254.169.254` metadata service)
    /// and `fe80::/10`.
    LinkLocal,
    /// `224.0.0.0/4` and `ff00::/8`.
    Multicast,
    /// `255.255.255.255`.
    Broadcast,
    /// `192.0.2.0/24`, `198.51.100.0/24`, `203.0.113.0/24`, `2001:db8::/32`
    /// and `3fff::/20`.
    Documentation,
    /// `198.18.0.0/15` and `2001:2::/48`.
    Benchmarking,
    /// Unique local addresses, `fc00::/7`, and the deprecated site-local
    /// `fec0::/10`.
    UniqueLocal,
    /// Special-purpose space that is not a place to fetch keys from:
    /// `192.0.0.0/24` (IETF protocol assignments), `192.88.99.0/24` (6to4
    /// relay anycast), `240.0.0.0/4`, the deprecated IPv4-compatible
    /// `::/96` when its IPv4 part is public, `64:ff9b:1::/48` (local-use
    /// NAT64, whose embedding is site-defined), `100::/64` (discard-only),
    /// `2001::/32` (Teredo, whose client address is obfuscated rather than
    /// decoded here) and `2001:10::/28` / `2001:20::/28` (ORCHID).
    Reserved,
}

impl DeniedRange {
    /// Stable code for logs, errors and tests.
    pub fn code(self) -> &'static str {
        match self {
            Self::Unspecified => "unspecified",
            Self::Loopback => "loopback",
            Self::Private => "private",
            Self::SharedAddressSpace => "shared-address-space",
            Self::LinkLocal => "link-local",
            Self::Multicast => "multicast",
            Self::Broadcast => "broadcast",
            Self::Documentation => "documentation",
            Self::Benchmarking => "benchmarking",
            Self::UniqueLocal => "unique-local",
            Self::Reserved => "reserved",
        }
    }
}

impl fmt::Display for DeniedRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The range `ip` falls in, or `None` when it is an ordinary public address.
pub fn classify(ip: IpAddr) -> Option<DeniedRange> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<DeniedRange> {
    let [a, b, c, _] = ip.octets();
    let range = match (a, b, c) {
        (0, _, _) => DeniedRange::Unspecified,
        (127, _, _) => DeniedRange::Loopback,
        (10, _, _) | (192, 168, _) => DeniedRange::Private,
        (172, 16..=31, _) => DeniedRange::Private,
        (100, 64..=127, _) => DeniedRange::SharedAddressSpace,
        (169, 254, _) => DeniedRange::LinkLocal,
        (224..=239, _, _) => DeniedRange::Multicast,
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => DeniedRange::Documentation,
        (198, 18..=19, _) => DeniedRange::Benchmarking,
        (192, 0, 0) | (192, 88, 99) => DeniedRange::Reserved,
        _ if ip == Ipv4Addr::BROADCAST => DeniedRange::Broadcast,
        (240..=255, _, _) => DeniedRange::Reserved,
        _ => return None,
    };
    Some(range)
}

fn classify_v6(ip: Ipv6Addr) -> Option<DeniedRange> {
    let [s0, s1, s2, s3, s4, s5, s6, s7] = ip.segments();
    let low_v4 = v4_from_segments(s6, s7);
    if ip.is_unspecified() {
        return Some(DeniedRange::Unspecified);
    }
    if ip.is_loopback() {
        return Some(DeniedRange::Loopback);
    }
    // ::ffff:a.b.c.d (mapped) reaches a.b.c.d through the local dual stack;
    // ::ffff:0:a.b.c.d (SIIT translated) through a translator. Either way the
    // IPv4 address decides.
    if [s0, s1, s2, s3] == [0; 4] && ((s4, s5) == (0, 0xffff) || (s4, s5) == (0xffff, 0)) {
        return classify_v4(low_v4);
    }
    // ::a.b.c.d (IPv4-compatible) is deprecated and never legitimately on the
    // wire: refuse it even when the IPv4 part is public.
    if [s0, s1, s2, s3, s4, s5] == [0; 6] {
        return Some(classify_v4(low_v4).unwrap_or(DeniedRange::Reserved));
    }
    // 64:ff9b::/96, the well-known NAT64 prefix, forwards to the embedded
    // IPv4 address.
    if [s0, s1, s2, s3, s4, s5] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return classify_v4(low_v4);
    }
    if (s0, s1) == (0x64, 0xff9b) && s2 == 1 {
        return Some(DeniedRange::Reserved);
    }
    // 2002:AABB:CCDD::/48 is 6to4 for AA.BB.CC.DD.
    if s0 == 0x2002 {
        return classify_v4(v4_from_segments(s1, s2));
    }
    let range = match (s0, s1) {
        (0x0100, 0) if [s2, s3] == [0, 0] => DeniedRange::Reserved,
        (0x2001, 0) => DeniedRange::Reserved,
        (0x2001, 0x0002) if s2 == 0 => DeniedRange::Benchmarking,
        (0x2001, 0x0010..=0x002f) => DeniedRange::Reserved,
        (0x2001, 0x0db8) => DeniedRange::Documentation,
        (0x3fff, 0x0000..=0x0fff) => DeniedRange::Documentation,
        (0xfc00..=0xfdff, _) => DeniedRange::UniqueLocal,
        (0xfe80..=0xfebf, _) => DeniedRange::LinkLocal,
        (0xfec0..=0xfeff, _) => DeniedRange::UniqueLocal,
        (0xff00..=0xffff, _) => DeniedRange::Multicast,
        _ => return None,
    };
    Some(range)
}

fn v4_from_segments(hi: u16, lo: u16) -> Ipv4Addr {
    let [a, b] = hi.to_be_bytes();
    let [c, d] = lo.to_be_bytes();
    Ipv4Addr::new(a, b, c, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(text: &str) -> Option<DeniedRange> {
        classify(text.parse().unwrap())
    }

    /// Every IPv4 deny range, probed at both ends, and the same addresses in
    /// every IPv6 form that carries an IPv4 address.
    const V4_DENIED: &[(&str, DeniedRange)] = &[
        ("0.0.0.0", DeniedRange::Unspecified),
        ("0.255.255.255", DeniedRange::Unspecified),
        ("127.0.0.1", DeniedRange::Loopback),
        ("127.255.255.254", DeniedRange::Loopback),
        ("10.0.0.0", DeniedRange::Private),
        ("10.0.0.1", DeniedRange::Private),
        ("10.255.255.255", DeniedRange::Private),
        ("172.16.0.0", DeniedRange::Private),
        ("172.31.255.255", DeniedRange::Private),
        ("192.168.0.1", DeniedRange::Private),
        ("192.168.255.255", DeniedRange::Private),
        ("100.64.0.0", DeniedRange::SharedAddressSpace),
        ("100.127.255.255", DeniedRange::SharedAddressSpace),
        ("169.254.0.0", DeniedRange::LinkLocal),
        ("169.254.169.254", DeniedRange::LinkLocal),
        ("169.254.255.255", DeniedRange::LinkLocal),
        ("224.0.0.1", DeniedRange::Multicast),
        ("239.255.255.255", DeniedRange::Multicast),
        ("255.255.255.255", DeniedRange::Broadcast),
        ("240.0.0.0", DeniedRange::Reserved),
        ("255.255.255.254", DeniedRange::Reserved),
        ("192.0.0.0", DeniedRange::Reserved),
        ("192.0.0.255", DeniedRange::Reserved),
        ("192.88.99.1", DeniedRange::Reserved),
        ("192.0.2.1", DeniedRange::Documentation),
        ("198.51.100.7", DeniedRange::Documentation),
        ("203.0.113.255", DeniedRange::Documentation),
        ("198.18.0.0", DeniedRange::Benchmarking),
        ("198.19.255.255", DeniedRange::Benchmarking),
    ];

    const V4_ALLOWED: &[&str] = &[
        "1.1.1.1",
        "8.8.8.8",
        "9.255.255.255",
        "11.0.0.0",
        "100.63.255.255",
        "100.128.0.0",
        "126.255.255.255",
        "128.0.0.0",
        "169.253.255.255",
        "169.255.0.0",
        "172.15.255.255",
        "172.32.0.0",
        "192.0.1.0",
        "192.0.3.0",
        "192.167.255.255",
        "192.169.0.0",
        "198.17.255.255",
        "198.20.0.0",
        "223.255.255.255",
    ];

    fn embedded_forms(v4: Ipv4Addr) -> Vec<Ipv6Addr> {
        let [a, b, c, d] = v4.octets();
        let hi = u16::from_be_bytes([a, b]);
        let lo = u16::from_be_bytes([c, d]);
        vec![
            v4.to_ipv6_mapped(),
            Ipv6Addr::new(0, 0, 0, 0, 0xffff, 0, hi, lo),
            Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, hi, lo),
            Ipv6Addr::new(0x2002, hi, lo, 0, 0, 0, 0, 1),
        ]
    }

    #[test]
    fn every_ipv4_deny_range_and_its_ipv6_forms() {
        for (text, want) in V4_DENIED {
            let v4: Ipv4Addr = text.parse().unwrap();
            assert_eq!(classify(IpAddr::V4(v4)), Some(*want), "{text}");
            for v6 in embedded_forms(v4) {
                assert_eq!(classify(IpAddr::V6(v6)), Some(*want), "{v6} carrying {text}");
            }
        }
    }

    #[test]
    fn public_ipv4_and_its_translated_forms_pass() {
        for text in V4_ALLOWED {
            let v4: Ipv4Addr = text.parse().unwrap();
            assert_eq!(classify(IpAddr::V4(v4)), None, "{text}");
            for v6 in embedded_forms(v4) {
                assert_eq!(classify(IpAddr::V6(v6)), None, "{v6} carrying {text}");
            }
        }
    }

    #[test]
    fn ipv4_compatible_form_is_refused_even_for_public_addresses() {
        assert_eq!(class("::127.0.0.1"), Some(DeniedRange::Loopback));
        assert_eq!(class("::10.0.0.1"), Some(DeniedRange::Private));
        assert_eq!(class("::169.254.169.254"), Some(DeniedRange::LinkLocal));
        assert_eq!(class("::8.8.8.8"), Some(DeniedRange::Reserved));
    }

    #[test]
    fn ipv6_deny_ranges() {
        let cases: &[(&str, DeniedRange)] = &[
            ("::", DeniedRange::Unspecified),
            ("::1", DeniedRange::Loopback),
            ("fe80::1", DeniedRange::LinkLocal),
            ("febf:ffff::1", DeniedRange::LinkLocal),
            ("fc00::1", DeniedRange::UniqueLocal),
            ("fd00::1", DeniedRange::UniqueLocal),
            ("fdff:ffff::1", DeniedRange::UniqueLocal),
            ("fec0::1", DeniedRange::UniqueLocal),
            ("ff02::1", DeniedRange::Multicast),
            ("ff0e::1", DeniedRange::Multicast),
            ("2001:db8::1", DeniedRange::Documentation),
            ("3fff:fff::1", DeniedRange::Documentation),
            ("2001:2::1", DeniedRange::Benchmarking),
            ("2001::1", DeniedRange::Reserved),
            ("2001:10::1", DeniedRange::Reserved),
            ("2001:2f::1", DeniedRange::Reserved),
            ("100::1", DeniedRange::Reserved),
            ("64:ff9b:1::a00:1", DeniedRange::Reserved),
        ];
        for (text, want) in cases {
            assert_eq!(class(text), Some(*want), "{text}");
        }
    }

    #[test]
    fn public_ipv6_passes() {
        for text in [
            "2606:4700:4700::1111",
            "2001:4860:4860::8888",
            "2001:1::1",
            "2001:3::1",
            "2001:db9::1",
            "2001:30::1",
            "3fff:1000::1",
            "fbff::1",
            "101::1",
            "100:0:0:1::1",
            "64:ff9a::808:808",
            "::ffff:1:808:808",
        ] {
            assert_eq!(class(text), None, "{text}");
        }
    }
}
