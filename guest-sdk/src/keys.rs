//! Indexed key material, one entry per lookup, through the
//! `ward:auth/keys@0.3.0` import (feature `key-lookup`).
//!
//! The host parses a `jwks` or `api-keys` key-material entry once, when it
//! reads or fetches it, and indexes it; the plugin asks for the one entry a
//! credential names instead of parsing the whole set on every call. An
//! unknown set or id is `None`, never a trap; there is no way to list a set.
//! Each lookup costs the caller fuel. A plugin using this module loads only
//! if its signed envelope declares `keyLookup: true` and the operator allows
//! that capability (docs/key-material.md).
//!
//! Values per format:
//! - `jwks`: id = the JWK's `kid` as UTF-8; value = a [`KeyRecord`], which
//!   [`jwk`] and [`jwk_for_alg`] decode. The derived set `<name>#alg`, keyed
//!   by the JOSE algorithm name, holds the one key of the set that fits that
//!   algorithm, when exactly one does: for tokens without a `kid`.
//! - `api-keys`: id = SHA-256 of the presented key; value = the entry as
//!   compact JSON (the api-key plugin's `keyfile::record::decode` reads it).

use crate::bindings::ward::auth::keys as wit;

/// The JWK key-record format, so a plugin needs no dependency of its own.
pub use ward_key_format::jwk::{self, Alg, KeyRecord, PublicKey};

/// The host refuses longer ids (`None`), so they are not sent at all.
pub const MAX_ID_BYTES: usize = 1024;

/// The value stored under `id` in the indexed set `set`, or `None`: unknown
/// set or id, a set that is unavailable (never fetched, or stale), an id
/// over [`MAX_ID_BYTES`].
pub fn lookup(set: &str, id: &[u8]) -> Option<Vec<u8>> {
    if id.len() > MAX_ID_BYTES {
        return None;
    }
    wit::lookup(set, id)
}

/// The key whose `kid` is `kid` in the `jwks` set `set`, decoded. `None` if
/// there is none or its value is not a key record. Whether it may verify a
/// token's algorithm is the caller's check: [`Jwk::fits`].
pub fn jwk(set: &str, kid: &str) -> Option<Jwk> {
    Jwk::decode(&lookup(set, kid.as_bytes())?)
}

/// The one key of the `jwks` set `set` that fits `alg`, for a token without
/// a `kid`: `None` when no key or more than one does.
pub fn jwk_for_alg(set: &str, alg: Alg) -> Option<Jwk> {
    Jwk::decode(&lookup(&alg_set(set), alg.name().as_bytes())?)
}

/// The name of the set derived from `set` that is keyed by algorithm name.
pub fn alg_set(set: &str) -> String {
    format!("{set}#alg")
}

/// A looked-up JWK, owning its key bytes. [`Jwk::record`] borrows it as the
/// [`KeyRecord`] it was decoded from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jwk {
    /// The public key.
    pub key: JwkKey,
    /// The JWK's own `alg`, when it names one: the key may then verify only
    /// that algorithm.
    pub alg: Option<Alg>,
}

/// The public key of a [`Jwk`], owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwkKey {
    /// An Ed25519 public key.
    Ed25519([u8; 32]),
    /// A P-256 point, uncompressed SEC1 (`0x04 || x || y`).
    P256([u8; 65]),
    /// An RSA public key: modulus (2048 to 8192 bits) and exponent,
    /// big-endian without leading zeros.
    Rsa {
        /// The modulus.
        n: Vec<u8>,
        /// The exponent.
        e: Vec<u8>,
    },
}

impl Jwk {
    /// Decodes a key record (what a `jwks` lookup returns); `None` for
    /// anything [`KeyRecord::decode`] refuses.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        KeyRecord::decode(bytes).map(Self::from)
    }

    /// The key as the record it was decoded from.
    pub fn record(&self) -> KeyRecord<'_> {
        let key = match &self.key {
            JwkKey::Ed25519(key) => PublicKey::Ed25519(key),
            JwkKey::P256(point) => PublicKey::P256(point),
            JwkKey::Rsa { n, e } => PublicKey::Rsa { n, e },
        };
        KeyRecord { key, alg: self.alg }
    }

    /// Whether this key may verify a token signed with `alg`
    /// ([`KeyRecord::fits`]).
    pub fn fits(&self, alg: Alg) -> bool {
        self.record().fits(alg)
    }
}

impl From<KeyRecord<'_>> for Jwk {
    fn from(record: KeyRecord<'_>) -> Self {
        let key = match record.key {
            PublicKey::Ed25519(key) => JwkKey::Ed25519(*key),
            PublicKey::P256(point) => JwkKey::P256(*point),
            PublicKey::Rsa { n, e } => JwkKey::Rsa { n: n.to_vec(), e: e.to_vec() },
        };
        Self { key, alg: record.alg }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn owned_round_trips_the_record() {
        let n = [0xc5u8; 256];
        let mut point = [9u8; 65];
        point[0] = 4;
        for record in [
            KeyRecord { key: PublicKey::Ed25519(&[7; 32]), alg: Some(Alg::EdDsa) },
            KeyRecord { key: PublicKey::P256(&point), alg: None },
            KeyRecord { key: PublicKey::Rsa { n: &n, e: &[1, 0, 1] }, alg: Some(Alg::Ps256) },
        ] {
            let mut bytes = Vec::new();
            record.encode(&mut bytes).unwrap();
            let jwk = Jwk::decode(&bytes).unwrap();
            assert_eq!(jwk.record(), record);
            assert_eq!(Alg::ALL.map(|alg| jwk.fits(alg)), Alg::ALL.map(|alg| record.fits(alg)));
        }
        assert_eq!(Jwk::decode(&[1, 1, 0]), None);
        assert_eq!(alg_set("jwks"), "jwks#alg");
    }
}
