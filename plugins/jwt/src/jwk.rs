//! The JWKS from key material, and choosing the one key a token may use.
//!
//! A key fits a token when its `kid` matches (if the token names one), its
//! `kty`/`crv` belong to the token's `alg`, its own `alg` (if any) is that
//! same `alg`, `use` (if any) is `sig`, `key_ops` (if any) includes `verify`,
//! and its material is sound: Ed25519 points that decode, P-256 points on
//! the curve, RSA moduli of 2048 to 4096 bits. Keys that do not fit are
//! skipped, never an error, so one odd entry in an IdP's JWKS does not stop
//! the others. Symmetric (`oct`) JWKs are never used: a JWKS is public.

use ward_guest::base64url;

use crate::alg::Alg;
use crate::json::{self, Json, Object};
use crate::refusal::Refusal;
use crate::settings::Hs256Secret;
use crate::verify::VerifyKey;

/// Larger documents are refused as misconfiguration: parsing them on every
/// call would cost more than any real JWKS needs.
const MAX_JWKS_BYTES: usize = 256 * 1024;
const MAX_KEYS: usize = 128;
const MIN_RSA_BITS: usize = 2048;
const MAX_RSA_BITS: usize = 4096;

/// A parsed JWKS: the `keys` array of a strict JSON object, its strings
/// still slices of the key material. No key is decoded until one is chosen.
pub struct Jwks<'a> {
    keys: Vec<Json<'a>>,
}

impl<'a> Jwks<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Refusal> {
        if bytes.len() > MAX_JWKS_BYTES {
            return Err(Refusal::Misconfigured);
        }
        let mut doc = json::parse_object(bytes).ok_or(Refusal::Misconfigured)?;
        match doc.remove("keys") {
            Some(Json::Array(keys)) if keys.len() <= MAX_KEYS => Ok(Self { keys }),
            _ => Err(Refusal::Misconfigured),
        }
    }
}

/// The single key `alg` and `kid` select. None, or more than one (two
/// entries sharing a `kid`, or a token without `kid` that several keys
/// fit), is `UnknownKey`: guessing which key was meant is how confusion
/// attacks start.
pub fn select<'c>(alg: Alg, kid: Option<&str>, jwks: Option<&Jwks<'_>>, hs256: Option<&Hs256Secret<'c>>) -> Result<VerifyKey<'c>, Refusal> {
    if alg == Alg::Hs256 {
        let secret = hs256.ok_or(Refusal::UnknownKey)?;
        return match (kid, secret.kid) {
            (None, _) => Ok(VerifyKey::Hmac(secret.secret)),
            (Some(wanted), Some(own)) if wanted == own => Ok(VerifyKey::Hmac(secret.secret)),
            _ => Err(Refusal::UnknownKey),
        };
    }
    let jwks = jwks.ok_or(Refusal::UnknownKey)?;
    let mut chosen = None;
    for jwk in jwks.keys.iter().filter_map(Json::as_object) {
        if let Some(wanted) = kid
            && !jwk.get("kid").is_some_and(|own| own.is_string(wanted))
        {
            continue;
        }
        let Some(key) = usable(jwk, alg) else { continue };
        if chosen.replace(key).is_some() {
            return Err(Refusal::UnknownKey);
        }
    }
    chosen.ok_or(Refusal::UnknownKey)
}

/// The key if `jwk` may verify `alg` signatures, else `None`.
fn usable(jwk: &Object<'_>, alg: Alg) -> Option<VerifyKey<'static>> {
    if jwk.get("use").is_some_and(|u| !u.is_string("sig")) {
        return None;
    }
    if let Some(ops) = jwk.get("key_ops")
        && !ops.as_array()?.iter().any(|op| op.is_string("verify"))
    {
        return None;
    }
    if jwk.get("alg").is_some_and(|a| !a.is_string(alg.name())) {
        return None;
    }
    let member = |name: &str| jwk.get(name).and_then(Json::as_str);
    let bytes = |name: &str| member(name).and_then(|text| base64url::decode(text).ok());
    match (alg, member("kty")?) {
        #[cfg(not(feature = "host-crypto"))]
        (Alg::EdDsa, "OKP") if member("crv")? == "Ed25519" => {
            let x: [u8; 32] = bytes("x")?.try_into().ok()?;
            ed25519_dalek::VerifyingKey::from_bytes(&x).ok().map(VerifyKey::Ed25519)
        }
        #[cfg(feature = "host-crypto")]
        (Alg::EdDsa, "OKP") if member("crv")? == "Ed25519" => Some(VerifyKey::Ed25519(bytes("x")?.try_into().ok()?)),
        (Alg::Es256, "EC") if member("crv")? == "P-256" => {
            let (x, y) = (bytes("x")?, bytes("y")?);
            // RFC 7518 §6.2.1.2: coordinates are exactly the field size.
            if x.len() != 32 || y.len() != 32 {
                return None;
            }
            let mut sec1 = Vec::with_capacity(65);
            sec1.push(0x04);
            sec1.extend_from_slice(&x);
            sec1.extend_from_slice(&y);
            #[cfg(not(feature = "host-crypto"))]
            return p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1).ok().map(VerifyKey::P256);
            #[cfg(feature = "host-crypto")]
            return sec1.try_into().ok().map(VerifyKey::P256);
        }
        #[cfg(not(feature = "host-crypto"))]
        (Alg::Rs256 | Alg::Ps256, "RSA") => rsa_key(&bytes("n")?, &bytes("e")?).map(VerifyKey::Rsa),
        #[cfg(feature = "host-crypto")]
        (Alg::Rs256 | Alg::Ps256, "RSA") => rsa_key(&bytes("n")?, &bytes("e")?),
        _ => None,
    }
}

/// 2048 to 4096 bits, odd modulus, odd exponent of at least 3.
#[cfg(not(feature = "host-crypto"))]
fn rsa_key(n: &[u8], e: &[u8]) -> Option<rsa::RsaPublicKey> {
    let n = rsa::BigUint::from_bytes_be(n);
    let e = rsa::BigUint::from_bytes_be(e);
    let bits = n.bits();
    let odd = |v: &rsa::BigUint| v.to_bytes_le().first().is_some_and(|b| b & 1 == 1);
    if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) || !odd(&n) || !odd(&e) || e < rsa::BigUint::from(3u8) {
        return None;
    }
    rsa::RsaPublicKey::new_with_max_size(n, e, MAX_RSA_BITS).ok()
}

/// 2048 to 4096 bits, odd modulus, odd exponent from 3 to 2^33-1: the same
/// rules as the in-guest path, on the big-endian bytes the host will take.
#[cfg(feature = "host-crypto")]
fn rsa_key(n: &[u8], e: &[u8]) -> Option<VerifyKey<'static>> {
    fn minimal(bytes: &[u8]) -> &[u8] {
        let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
        bytes.get(start..).unwrap_or_default()
    }
    let (n, e) = (minimal(n), minimal(e));
    let bits = (n.len() * 8).saturating_sub(n.first()?.leading_zeros() as usize);
    let odd = |v: &[u8]| v.last().is_some_and(|b| b & 1 == 1);
    let e_value = e.iter().try_fold(0u64, |acc, b| if acc >> 56 == 0 { Some(acc << 8 | u64::from(*b)) } else { None })?;
    if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) || !odd(n) || !odd(e) || !(3..=(1u64 << 33) - 1).contains(&e_value) {
        return None;
    }
    Some(VerifyKey::Rsa { n: n.to_vec(), e: e.to_vec() })
}
