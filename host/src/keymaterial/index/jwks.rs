//! `format: "jwks"`: an RFC 7517 JWK Set, parsed with serde_json (no
//! repeated member anywhere) and indexed by `kid`.
//!
//! A key is indexed when a JWS verifier may use it: `kty`/`crv` of a
//! supported algorithm (Ed25519, P-256, RSA of 2048 to 8192 bits with an
//! odd modulus and an odd exponent from 3 to 2^33-1), `use` absent or
//! `sig`, `key_ops` absent or holding `verify`, `alg` absent or one the key
//! type serves, `kid` absent or a string of at most 1024 bytes, and base64url
//! members that decode strictly. Anything else well-formed is skipped and
//! counted: IdPs publish encryption and symmetric keys beside signing keys.
//! A P-256 point is checked when it is used (host crypto and the guest's
//! p256 both refuse points off the curve); an Ed25519 key is decompressed
//! here, and a small-order one skipped.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};
use ward_key_format::jwk::{Alg, KeyRecord, PublicKey};

use super::table::{Refused, Table};
use super::{IndexError, KeyFormat, KeyIndex, MAX_ID_BYTES, too_many};
use crate::unique_keys::UniqueKeys;

/// The derived view of a `jwks` set: `<name>#alg`, keyed by a JOSE
/// algorithm name, holds the one usable key for that algorithm when
/// exactly one key of the set fits it. `#` cannot occur in an entry name.
pub const ALG_VIEW_SUFFIX: &str = "#alg";

pub(super) fn index(bytes: &[u8], max_entries: u64) -> Result<KeyIndex, IndexError> {
    let invalid = |reason: String| IndexError::Jwks { reason };
    // Integers are irrelevant to a JWK Set; the bound only satisfies the reader.
    let UniqueKeys(document) = serde_json::from_slice::<UniqueKeys<{ u64::MAX }>>(bytes).map_err(|err| invalid(position(&err)))?;
    let Value::Object(mut document) = document else { return Err(invalid("the document is not a JSON object".into())) };
    let Some(Value::Array(keys)) = document.remove("keys") else { return Err(invalid("no \"keys\" array".into())) };
    too_many(keys.len(), max_entries)?;
    let mut table = Table::with_capacity(keys.len(), bytes.len().min(keys.len() * 1100));
    let mut for_alg: [(usize, Option<Box<[u8]>>); 4] = Default::default();
    let mut skipped = 0;
    let mut record = Vec::new();
    for (index, key) in keys.iter().enumerate() {
        let Value::Object(key) = key else { return Err(invalid(format!("keys[{index}] is not a JSON object"))) };
        let Some(usable) = Usable::of(key) else {
            skipped += 1;
            continue;
        };
        record.clear();
        let Some(()) = usable.record().encode(&mut record) else {
            skipped += 1;
            continue;
        };
        if let Some(kid) = &usable.kid {
            table.insert(kid.as_bytes(), &record).map_err(|refused| match refused {
                Refused::Duplicate => IndexError::DuplicateId { index },
                Refused::Full => IndexError::TooManyEntries { max: max_entries },
            })?;
        }
        for ((count, only), alg) in for_alg.iter_mut().zip(Alg::ALL) {
            if usable.record().fits(alg) {
                *count += 1;
                *only = Some(record.as_slice().into());
            }
        }
    }
    table.shrink();
    let by_alg = for_alg.map(|(count, only)| if count == 1 { only } else { None });
    Ok(KeyIndex { format: KeyFormat::Jwks, table, by_alg, skipped })
}

/// serde_json's line and column, never the text around them.
fn position(err: &serde_json::Error) -> String {
    let what = if err.to_string().contains(crate::unique_keys::DUPLICATE_KEY) { "a repeated member" } else { "not valid JSON" };
    format!("{what} at line {} column {}", err.line(), err.column())
}

/// A JWK that passed every rule, its members decoded.
struct Usable {
    kid: Option<String>,
    alg: Option<Alg>,
    key: Material,
}

enum Material {
    Ed25519([u8; 32]),
    P256([u8; 65]),
    Rsa { n: Vec<u8>, e: Vec<u8> },
}

impl Usable {
    fn of(jwk: &Map<String, Value>) -> Option<Self> {
        let text = |name: &str| match jwk.get(name) {
            None => Some(None),
            Some(Value::String(text)) => Some(Some(text.as_str())),
            Some(_) => None,
        };
        if text("use")?.is_some_and(|use_| use_ != "sig") {
            return None;
        }
        if let Some(ops) = jwk.get("key_ops") {
            let Value::Array(ops) = ops else { return None };
            if !ops.iter().any(|op| op.as_str() == Some("verify")) {
                return None;
            }
        }
        let alg = match text("alg")? {
            None => None,
            Some(name) => Some(Alg::from_name(name)?),
        };
        let kid = text("kid")?.filter(|kid| kid.len() <= MAX_ID_BYTES);
        if jwk.contains_key("kid") && kid.is_none() {
            return None;
        }
        let bytes = |name: &str| URL_SAFE_NO_PAD.decode(text(name)??).ok();
        let key = match (text("kty")??, text("crv")?) {
            ("OKP", Some("Ed25519")) => {
                let x: [u8; 32] = bytes("x")?.try_into().ok()?;
                let point = ed25519_dalek::VerifyingKey::from_bytes(&x).ok()?;
                if point.is_weak() {
                    return None;
                }
                Material::Ed25519(x)
            }
            ("EC", Some("P-256")) => {
                // RFC 7518 §6.2.1.2: each coordinate is exactly the field size.
                let (x, y): ([u8; 32], [u8; 32]) = (bytes("x")?.try_into().ok()?, bytes("y")?.try_into().ok()?);
                let mut point = [0x04; 65];
                point.get_mut(1..33)?.copy_from_slice(&x);
                point.get_mut(33..)?.copy_from_slice(&y);
                Material::P256(point)
            }
            ("RSA", _) => {
                let (n, e) = (minimal(bytes("n")?), minimal(bytes("e")?));
                rsa_usable(&n, &e).then_some(Material::Rsa { n, e })?
            }
            // `oct` (a JWKS is public; a shared secret there is a leak, not
            // a key), other curves, other key types.
            _ => return None,
        };
        let usable = Self { kid: kid.map(str::to_owned), alg, key };
        // An `alg` the key type cannot serve (`"kty":"EC","alg":"RS256"`).
        if alg.is_some_and(|alg| !usable.record().fits(alg)) {
            return None;
        }
        Some(usable)
    }

    fn record(&self) -> KeyRecord<'_> {
        let key = match &self.key {
            Material::Ed25519(x) => PublicKey::Ed25519(x),
            Material::P256(point) => PublicKey::P256(point),
            Material::Rsa { n, e } => PublicKey::Rsa { n, e },
        };
        KeyRecord { key, alg: self.alg }
    }
}

fn minimal(mut bytes: Vec<u8>) -> Vec<u8> {
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    bytes.drain(..zeros);
    bytes
}

/// 2048 to 8192 bits, odd modulus, odd exponent from 3 to 2^33-1: what
/// ring verifies (host crypto) and no less.
fn rsa_usable(n: &[u8], e: &[u8]) -> bool {
    let bits = n.first().map_or(0, |top| n.len() * 8 - top.leading_zeros() as usize);
    let odd = |v: &[u8]| v.last().is_some_and(|b| b & 1 == 1);
    let exponent = (e.len() <= 8).then(|| e.iter().fold(0u64, |acc, b| acc << 8 | u64::from(*b)));
    (2048..=8192).contains(&bits) && odd(n) && odd(e) && exponent.is_some_and(|e| (3..=(1 << 33) - 1).contains(&e))
}

#[cfg(test)]
mod tests;
