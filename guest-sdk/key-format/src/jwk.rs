//! A usable JWK as a key record: what a `jwks` lookup returns.
//!
//! The host decides, once per fetch, which JWKs a verifier may use at all
//! (`kty`/`crv`, sizes, `use`, `key_ops`, `alg`), decodes their base64url
//! members and writes each usable one as a record:
//!
//! ```text
//! byte 0   format version, 1
//! byte 1   key type: 1 Ed25519, 2 P-256, 3 RSA
//! byte 2   the JWK's `alg`: 0 none, 1 EdDSA, 2 ES256, 3 RS256, 4 PS256
//! then     Ed25519: the 32-byte public key
//!          P-256:   the 65-byte uncompressed SEC1 point (0x04 || x || y)
//!          RSA:     n's length (2 bytes, big-endian), n, then e; both
//!                   big-endian without leading zeros
//! ```
//!
//! [`KeyRecord::decode`] accepts exactly what [`KeyRecord::encode`] writes
//! for a key within the bounds below, and nothing else.

/// The only record version.
pub const VERSION: u8 = 1;
/// RSA moduli the host indexes, in bytes of a minimal encoding: 2048 to
/// 8192 bits, the range ward's host crypto verifies.
pub const RSA_MODULUS_BYTES: core::ops::RangeInclusive<usize> = 256..=1024;
/// The longest RSA exponent: ring accepts up to 2^33 - 1.
pub const MAX_RSA_EXPONENT_BYTES: usize = 8;

/// A JWS algorithm a JWK key record can serve (RFC 7518 §3.1, RFC 8037).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alg {
    /// Ed25519.
    EdDsa,
    /// ECDSA P-256 with SHA-256.
    Es256,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PSS with SHA-256.
    Ps256,
}

impl Alg {
    /// Every algorithm, in record-code order.
    pub const ALL: [Alg; 4] = [Alg::EdDsa, Alg::Es256, Alg::Rs256, Alg::Ps256];

    /// The JOSE name, exactly (case-sensitive).
    pub fn name(self) -> &'static str {
        match self {
            Self::EdDsa => "EdDSA",
            Self::Es256 => "ES256",
            Self::Rs256 => "RS256",
            Self::Ps256 => "PS256",
        }
    }

    /// From the JOSE name, exactly.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|alg| alg.name() == name)
    }

    fn code(self) -> u8 {
        match self {
            Self::EdDsa => 1,
            Self::Es256 => 2,
            Self::Rs256 => 3,
            Self::Ps256 => 4,
        }
    }

    fn from_code(code: u8) -> Option<Option<Self>> {
        match code {
            0 => Some(None),
            _ => Self::ALL.into_iter().find(|alg| alg.code() == code).map(Some),
        }
    }
}

/// The public key of a record, borrowed from the record's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicKey<'a> {
    /// An Ed25519 public key.
    Ed25519(&'a [u8; 32]),
    /// A P-256 point, uncompressed SEC1 (`0x04 || x || y`).
    P256(&'a [u8; 65]),
    /// An RSA public key: modulus and exponent, big-endian, minimal.
    Rsa {
        /// The modulus, 256 to 1024 bytes, first byte non-zero.
        n: &'a [u8],
        /// The exponent, 1 to 8 bytes, first byte non-zero.
        e: &'a [u8],
    },
}

/// One usable JWK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRecord<'a> {
    /// The key.
    pub key: PublicKey<'a>,
    /// The JWK's own `alg`, when it names one: the key may then verify only
    /// that algorithm.
    pub alg: Option<Alg>,
}

const ED25519: u8 = 1;
const P256: u8 = 2;
const RSA: u8 = 3;

impl<'a> KeyRecord<'a> {
    /// Whether this key may verify a token signed with `alg`: the key type
    /// serves it, and the JWK's own `alg`, if any, is that algorithm.
    pub fn fits(&self, alg: Alg) -> bool {
        let family = match self.key {
            PublicKey::Ed25519(_) => alg == Alg::EdDsa,
            PublicKey::P256(_) => alg == Alg::Es256,
            PublicKey::Rsa { .. } => matches!(alg, Alg::Rs256 | Alg::Ps256),
        };
        family && self.alg.is_none_or(|own| own == alg)
    }

    /// Appends the record to `out`. `None` if the key is outside the bounds
    /// [`KeyRecord::decode`] accepts (an RSA modulus or exponent of the
    /// wrong size or with a leading zero), so nothing unreadable is written.
    pub fn encode(&self, out: &mut Vec<u8>) -> Option<()> {
        let alg = self.alg.map_or(0, Alg::code);
        match self.key {
            PublicKey::Ed25519(key) => {
                out.extend_from_slice(&[VERSION, ED25519, alg]);
                out.extend_from_slice(key);
            }
            PublicKey::P256(point) => {
                if point.first() != Some(&0x04) {
                    return None;
                }
                out.extend_from_slice(&[VERSION, P256, alg]);
                out.extend_from_slice(point);
            }
            PublicKey::Rsa { n, e } => {
                if !rsa_bounds(n, e) {
                    return None;
                }
                let n_len = u16::try_from(n.len()).ok()?.to_be_bytes();
                out.extend_from_slice(&[VERSION, RSA, alg]);
                out.extend_from_slice(&n_len);
                out.extend_from_slice(n);
                out.extend_from_slice(e);
            }
        }
        Some(())
    }

    /// Reads a record; `None` for anything [`KeyRecord::encode`] would not
    /// have written.
    pub fn decode(bytes: &'a [u8]) -> Option<Self> {
        let [version, kind, alg, body @ ..] = bytes else { return None };
        if *version != VERSION {
            return None;
        }
        let alg = Alg::from_code(*alg)?;
        let key = match *kind {
            ED25519 => PublicKey::Ed25519(body.try_into().ok()?),
            P256 => {
                let point: &[u8; 65] = body.try_into().ok()?;
                if point.first() != Some(&0x04) {
                    return None;
                }
                PublicKey::P256(point)
            }
            RSA => {
                let [high, low, rest @ ..] = body else { return None };
                let n_len = usize::from(u16::from_be_bytes([*high, *low]));
                let (n, e) = (rest.get(..n_len)?, rest.get(n_len..)?);
                if !rsa_bounds(n, e) {
                    return None;
                }
                PublicKey::Rsa { n, e }
            }
            _ => return None,
        };
        Some(Self { key, alg })
    }
}

/// Minimal encodings of a 2048- to 8192-bit modulus and a 1- to 8-byte
/// exponent.
fn rsa_bounds(n: &[u8], e: &[u8]) -> bool {
    RSA_MODULUS_BYTES.contains(&n.len())
        && n.first().is_some_and(|b| *b != 0)
        && (1..=MAX_RSA_EXPONENT_BYTES).contains(&e.len())
        && e.first().is_some_and(|b| *b != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(record: KeyRecord<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        record.encode(&mut out).unwrap();
        assert_eq!(KeyRecord::decode(&out), Some(record));
        out
    }

    #[test]
    fn every_key_type_round_trips() {
        let ed = [7u8; 32];
        let bytes = round_trip(KeyRecord { key: PublicKey::Ed25519(&ed), alg: Some(Alg::EdDsa) });
        assert_eq!(&bytes[..3], &[1, 1, 1]);
        let mut point = [9u8; 65];
        point[0] = 4;
        round_trip(KeyRecord { key: PublicKey::P256(&point), alg: None });
        let n = [0xc5u8; 256];
        let bytes = round_trip(KeyRecord { key: PublicKey::Rsa { n: &n, e: &[1, 0, 1] }, alg: Some(Alg::Ps256) });
        assert_eq!(bytes.len(), 3 + 2 + 256 + 3);
    }

    #[test]
    fn fits_by_family_and_own_alg() {
        let n = [0xc5u8; 256];
        let rsa = KeyRecord { key: PublicKey::Rsa { n: &n, e: &[3] }, alg: None };
        assert!(rsa.fits(Alg::Rs256) && rsa.fits(Alg::Ps256) && !rsa.fits(Alg::Es256));
        let pinned = KeyRecord { alg: Some(Alg::Rs256), ..rsa };
        assert!(pinned.fits(Alg::Rs256) && !pinned.fits(Alg::Ps256));
        let ed = KeyRecord { key: PublicKey::Ed25519(&[1; 32]), alg: None };
        assert!(ed.fits(Alg::EdDsa) && !ed.fits(Alg::Es256));
        for alg in Alg::ALL {
            assert_eq!(Alg::from_name(alg.name()), Some(alg));
        }
        assert_eq!(Alg::from_name("none"), None);
        assert_eq!(Alg::from_name("rs256"), None);
    }

    #[test]
    fn refuses_anything_else() {
        let n = [0xc5u8; 256];
        let mut out = Vec::new();
        assert!(KeyRecord { key: PublicKey::Rsa { n: &n[..255], e: &[3] }, alg: None }.encode(&mut out).is_none());
        assert!(KeyRecord { key: PublicKey::Rsa { n: &n, e: &[0, 3] }, alg: None }.encode(&mut out).is_none());
        assert!(KeyRecord { key: PublicKey::P256(&[0; 65]), alg: None }.encode(&mut out).is_none());
        assert!(out.is_empty());
        let good = round_trip(KeyRecord { key: PublicKey::Ed25519(&[1; 32]), alg: None });
        for bad in [&[][..], &good[..34], &[2, 1, 0], &[1, 9, 0], &[1, 1, 5]] {
            assert_eq!(KeyRecord::decode(bad), None, "{bad:?}");
        }
        let mut longer = good.clone();
        longer.push(0);
        assert_eq!(KeyRecord::decode(&longer), None);
        // Every truncation of an RSA record that cuts into the modulus.
        let rsa = round_trip(KeyRecord { key: PublicKey::Rsa { n: &n, e: &[1, 0, 1] }, alg: None });
        for len in 0..3 + 2 + 256 {
            assert_eq!(KeyRecord::decode(&rsa[..len]), None, "{len}");
        }
        let mut zero_e = rsa.clone();
        let last = zero_e.len() - 3;
        zero_e[last] = 0;
        assert_eq!(KeyRecord::decode(&zero_e), None);
    }
}
